//! The header of a `.npy` array read from the front of a stream (a file or
//! an archive member), without reading its data: dtype, order, shape and
//! where the data starts. The header text is parsed by the resident
//! loader's parser, so both read the same files the same way.

use super::super::npy::header::{Header, parse_header};
use super::super::npy::{Kind, parse_descr, tuple};
use super::super::{format::NPY_MAGIC, format_error};
use crate::Result;
use std::io::Read;
use std::path::Path;

/// Most bytes of header text accepted: NumPy itself refuses more than
/// 10,000 unless told otherwise; a larger one is a damaged file, and this
/// bound keeps a crafted length from allocating gigabytes.
const MAX_HEADER_BYTES: usize = 1 << 20;

/// What the header of a `.npy` array says.
#[derive(Clone, Debug)]
pub(super) struct NpyLayout {
    /// The dtype as written (`<f4`), for messages.
    pub(super) descr: String,
    pub(super) kind: Kind,
    /// Bytes per value.
    pub(super) item_size: usize,
    pub(super) big_endian: bool,
    pub(super) fortran_order: bool,
    pub(super) shape: Vec<usize>,
    /// Bytes from the start of the array to its data: magic, version,
    /// length and header text.
    pub(super) header_bytes: u64,
}

impl NpyLayout {
    /// Bytes of data the shape and dtype need, `None` past `u64`.
    pub(super) fn data_bytes(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(self.item_size as u64, |acc, &d| acc.checked_mul(d as u64))
    }

    /// The shape as Python writes it: `(3, 4)`.
    pub(super) fn shape_text(&self) -> String {
        tuple(&self.shape)
    }

    /// Checks that `available` bytes (after the start of the array) hold
    /// exactly the header and the data: fewer is a truncated file, more
    /// is trailing bytes, as the resident loader says.
    pub(super) fn check_size(&self, name: &Path, available: u64) -> Result<()> {
        let data = self
            .data_bytes()
            .ok_or_else(|| format_error(name, "has a bad .npy header: the shape is too large"))?;
        let found = available.saturating_sub(self.header_bytes);
        if found == data {
            return Ok(());
        }
        let state = if found < data {
            "is truncated"
        } else {
            "has trailing bytes"
        };
        Err(format_error(
            name,
            format!(
                "{state}: shape {} of {}-byte values needs {data} data bytes, found {found}",
                self.shape_text(),
                self.item_size
            ),
        ))
    }
}

/// The layout of the `.npy` array at the front of `reader`, which is left
/// at the start of the data. Errors name `name`.
pub(super) fn read_layout(reader: &mut impl Read, name: &Path) -> Result<NpyLayout> {
    let truncated = || format_error(name, "is a truncated .npy file (header cut short)");
    let mut prefix = [0u8; 10];
    reader.read_exact(&mut prefix).map_err(|_| truncated())?;
    if !prefix.starts_with(NPY_MAGIC) {
        return Err(format_error(name, "is not a NumPy .npy file (bad magic)"));
    }
    let (header_len, prefix_len) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
        2 | 3 => {
            let mut rest = [0u8; 2];
            reader.read_exact(&mut rest).map_err(|_| truncated())?;
            let len = u32::from_le_bytes([prefix[8], prefix[9], rest[0], rest[1]]);
            (len as usize, 12)
        }
        major => {
            return Err(format_error(
                name,
                format!("has .npy format version {major}, supported are 1, 2 and 3"),
            ));
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format_error(
            name,
            format!(
                "has a bad .npy header: it declares {header_len} bytes of header text, more \
                 than {MAX_HEADER_BYTES}"
            ),
        ));
    }
    let mut text = vec![0u8; header_len];
    reader.read_exact(&mut text).map_err(|_| truncated())?;
    let Header {
        descr,
        fortran_order,
        shape,
    } = parse_header(&String::from_utf8_lossy(&text))
        .map_err(|what| format_error(name, format!("has a bad .npy header: {what}")))?;
    let (kind, item_size, big_endian) = parse_descr(name, &descr)?;
    Ok(NpyLayout {
        descr,
        kind,
        item_size,
        big_endian,
        fortran_order,
        shape,
        header_bytes: (prefix_len + header_len) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_files::npy_bytes;
    use super::*;

    #[test]
    fn a_header_is_read_without_the_data() {
        let bytes = npy_bytes(">f8", &[3, 2], false, &[0u8; 48]);
        let mut reader = &bytes[..];
        let layout = read_layout(&mut reader, Path::new("a.npy")).unwrap();
        assert_eq!(layout.shape, [3, 2]);
        assert_eq!((layout.kind, layout.item_size), (Kind::Float, 8));
        assert!(layout.big_endian && !layout.fortran_order);
        assert_eq!(layout.header_bytes as usize, bytes.len() - 48);
        assert_eq!(reader.len(), 48, "left at the start of the data");
        assert_eq!(layout.data_bytes(), Some(48));
        layout
            .check_size(Path::new("a.npy"), bytes.len() as u64)
            .unwrap();
        let short = layout
            .check_size(Path::new("a.npy"), bytes.len() as u64 - 1)
            .unwrap_err()
            .to_string();
        assert!(short.contains("a.npy: is truncated"), "{short}");
        let long = layout
            .check_size(Path::new("a.npy"), bytes.len() as u64 + 8)
            .unwrap_err()
            .to_string();
        assert!(long.contains("trailing bytes"), "{long}");

        let cut = &bytes[..20];
        let error = read_layout(&mut &cut[..], Path::new("cut.npy"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cut.npy") && error.contains("header cut short"));
        let error = read_layout(&mut &b"PK\x03\x04 not npy"[..], Path::new("z.npy"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("bad magic"), "{error}");
    }
}
