//! Which loader reads a file: by magic number, then by extension (of the
//! name without `.gz`: a gzip file is decompressed before it is looked at).

use super::format_error;
use crate::Result;
use std::path::Path;

/// The supported data formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Delimited text (`.csv`, `.tsv`, `.txt`).
    Csv,
    /// NumPy array (`.npy`, magic `\x93NUMPY`).
    Npy,
    /// NumPy archive of arrays (`.npz`, a zip file: magic `PK\x03\x04`).
    Npz,
    /// MNIST IDX image file (magic `00 00 08 03`).
    Idx,
    /// CIFAR-10 binary batch (`.bin`, records of 1 + 3072 bytes).
    Cifar,
}

pub(crate) const NPY_MAGIC: &[u8] = b"\x93NUMPY";
pub(crate) const IDX_IMAGES_MAGIC: [u8; 4] = [0, 0, 8, 3];
pub(crate) const IDX_LABELS_MAGIC: [u8; 4] = [0, 0, 8, 1];
const ZIP_MAGICS: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];

const SUPPORTED: &str = "supported: CSV/TSV/whitespace-separated text (.csv, .tsv, .txt, .dat), \
NumPy arrays (.npy) and archives (.npz), MNIST IDX images (e.g. train-images-idx3-ubyte), \
CIFAR-10 binary batches (.bin), and any of these gzip-compressed (.gz)";

impl Format {
    /// "a CSV file", "an MNIST IDX image file", … for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Csv => "a text (CSV) file",
            Format::Npy => "a .npy file",
            Format::Npz => "an .npz archive",
            Format::Idx => "an MNIST IDX image file",
            Format::Cifar => "a CIFAR-10 batch",
        }
    }

    /// The format of `path` whose (decompressed) content starts with `bytes`.
    pub fn detect(path: impl AsRef<Path>, bytes: &[u8]) -> Result<Format> {
        let path = path.as_ref();
        let full_name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let name = full_name.strip_suffix(".gz").unwrap_or(&full_name);
        let extension = Path::new(name)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        if bytes.starts_with(NPY_MAGIC) {
            return Ok(Format::Npy);
        }
        if ZIP_MAGICS.iter().any(|magic| bytes.starts_with(magic)) {
            return Ok(Format::Npz);
        }
        if bytes.starts_with(&IDX_IMAGES_MAGIC) {
            return Ok(Format::Idx);
        }
        if bytes.starts_with(&IDX_LABELS_MAGIC) {
            return Err(format_error(
                path,
                "is an IDX label file; give the image file (…-images-idx3-ubyte) as data \
                 and this file as the labels file",
            ));
        }
        match extension.as_str() {
            "csv" | "tsv" | "txt" | "dat" => return Ok(Format::Csv),
            "bin" => return Ok(Format::Cifar),
            "npy" => return Err(format_error(path, "is not a NumPy .npy file (bad magic)")),
            "npz" => {
                return Err(format_error(
                    path,
                    "is not a NumPy .npz archive (bad magic; expected a zip file)",
                ));
            }
            _ => {}
        }
        if name.contains("idx") && name.contains("ubyte") {
            return Err(format_error(
                path,
                "is not an MNIST IDX image file (bad magic; expected 00 00 08 03)",
            ));
        }
        Err(format_error(
            path,
            format!("unknown data format (extension {extension:?}); {SUPPORTED}"),
        ))
    }
}
