//! Which loader reads a file: by magic number, then by extension.

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
    /// MNIST IDX image file (magic `00 00 08 03`).
    Idx,
    /// CIFAR-10 binary batch (`.bin`, records of 1 + 3072 bytes).
    Cifar,
}

pub(crate) const NPY_MAGIC: &[u8] = b"\x93NUMPY";
pub(crate) const IDX_IMAGES_MAGIC: [u8; 4] = [0, 0, 8, 3];
pub(crate) const IDX_LABELS_MAGIC: [u8; 4] = [0, 0, 8, 1];
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

const SUPPORTED: &str = "supported: CSV/TSV text (.csv, .tsv, .txt), NumPy arrays (.npy), \
MNIST IDX images (e.g. train-images-idx3-ubyte), CIFAR-10 binary batches (.bin)";

impl Format {
    /// The format of `path` whose content starts with `bytes`.
    pub fn detect(path: &Path, bytes: &[u8]) -> Result<Format> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if bytes.starts_with(GZIP_MAGIC) {
            return Err(format_error(
                path,
                format!(
                    "is gzip-compressed; decompress it first (`gunzip {}`)",
                    path.display()
                ),
            ));
        }
        if bytes.starts_with(NPY_MAGIC) {
            return Ok(Format::Npy);
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
            "csv" | "tsv" | "txt" => return Ok(Format::Csv),
            "bin" => return Ok(Format::Cifar),
            "npy" => return Err(format_error(path, "is not a NumPy .npy file (bad magic)")),
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
