//! NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0): little-endian
//! floats (f4, f8), integers (i1–i8, u1–u8) and booleans, in C or Fortran
//! order. The header is a small Python dict literal, parsed here by hand.

use super::format::NPY_MAGIC;
use super::format_error;
use crate::Result;
use ndarray::{Array2, ShapeBuilder};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

/// A parsed `.npy` file whose data borrows from the file's bytes.
struct NpyArray<'a> {
    kind: Kind,
    item_size: usize,
    shape: Vec<usize>,
    fortran_order: bool,
    data: &'a [u8],
}

/// A 2-D array as an N×D feature matrix.
pub(crate) fn read_features(path: &Path, bytes: &[u8]) -> Result<Array2<f32>> {
    let array = parse(path, bytes)?;
    let (rows, cols) = match array.shape[..] {
        [rows, cols] => (rows, cols),
        [rows] => {
            return Err(format_error(
                path,
                format!(
                    "is a 1-D array (shape ({rows},)); features must be 2-D, rows × features \
                     (for one feature save x.reshape(-1, 1))"
                ),
            ));
        }
        _ => {
            return Err(format_error(
                path,
                format!(
                    "has shape {:?}; features must be a 2-D array, rows × features",
                    array.shape
                ),
            ));
        }
    };
    let values = array.to_f32(path)?;
    let features = if array.fortran_order {
        Array2::from_shape_vec((rows, cols).f(), values)
            .map(|a| a.as_standard_layout().into_owned())
    } else {
        Array2::from_shape_vec((rows, cols), values)
    }
    .map_err(|e| format_error(path, e.to_string()))?;
    if let Some(((row, column), value)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(format_error(
            path,
            format!("non-finite value {value} at row {row}, column {column} (0-based)"),
        ));
    }
    Ok(features)
}

/// A 1-D (or N×1) integer array as labels; floats are accepted when every
/// value is a whole number.
pub(crate) fn read_labels(path: &Path, bytes: &[u8]) -> Result<Vec<i64>> {
    let array = parse(path, bytes)?;
    match array.shape[..] {
        [_] | [_, 1] => {}
        _ => {
            return Err(format_error(
                path,
                format!(
                    "has shape {:?}; labels must be a 1-D array with one label per row",
                    array.shape
                ),
            ));
        }
    }
    array.to_i64(path)
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<NpyArray<'a>> {
    if !bytes.starts_with(NPY_MAGIC) {
        return Err(format_error(path, "is not a NumPy .npy file (bad magic)"));
    }
    let truncated = || format_error(path, "is a truncated .npy file (header cut short)");
    let major = *bytes.get(6).ok_or_else(truncated)?;
    let (header_start, header_len) = match major {
        1 => {
            let len = bytes.get(8..10).ok_or_else(truncated)?;
            (10, u16::from_le_bytes([len[0], len[1]]) as usize)
        }
        2 | 3 => {
            let len = bytes.get(8..12).ok_or_else(truncated)?;
            (
                12,
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
            )
        }
        _ => {
            return Err(format_error(
                path,
                format!("has .npy format version {major}, supported are 1, 2 and 3"),
            ));
        }
    };
    let header = bytes
        .get(header_start..header_start + header_len)
        .ok_or_else(truncated)?;
    let header = String::from_utf8_lossy(header);
    let bad_header = |what: &str| format_error(path, format!("has a bad .npy header: {what}"));

    let descr = dict_value(&header, "descr").ok_or_else(|| bad_header("no 'descr'"))?;
    let descr = quoted(descr).ok_or_else(|| bad_header("'descr' is not a simple type string"))?;
    let (kind, item_size) = parse_descr(path, descr)?;

    let fortran =
        dict_value(&header, "fortran_order").ok_or_else(|| bad_header("no 'fortran_order'"))?;
    let fortran_order = if fortran.starts_with("True") {
        true
    } else if fortran.starts_with("False") {
        false
    } else {
        return Err(bad_header("'fortran_order' is neither True nor False"));
    };

    let shape = dict_value(&header, "shape").ok_or_else(|| bad_header("no 'shape'"))?;
    let shape = parse_shape(shape).ok_or_else(|| bad_header("'shape' is not a tuple of sizes"))?;

    let data = &bytes[header_start + header_len..];
    let expected = shape
        .iter()
        .try_fold(item_size, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad_header("the shape is too large"))?;
    if data.len() != expected {
        let state = if data.len() < expected {
            "is truncated"
        } else {
            "has trailing bytes"
        };
        return Err(format_error(
            path,
            format!(
                "{state}: shape {shape:?} of {item_size}-byte values needs {expected} data bytes, \
                 found {}",
                data.len()
            ),
        ));
    }
    Ok(NpyArray {
        kind,
        item_size,
        shape,
        fortran_order,
        data,
    })
}

/// The text right after `'key':` in the header dict.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let start = [format!("'{key}'"), format!("\"{key}\"")]
        .iter()
        .find_map(|quoted_key| {
            header
                .find(quoted_key.as_str())
                .map(|i| i + quoted_key.len())
        })?;
    let rest = header[start..].trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// The content of a leading `'…'` or `"…"` string.
fn quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    rest.find(quote).map(|end| &rest[..end])
}

fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.trim_end_matches('L').parse().ok())
        .collect()
}

fn parse_descr(path: &Path, descr: &str) -> Result<(Kind, usize)> {
    let unsupported = || {
        format_error(
            path,
            format!(
                "has dtype {descr:?}; supported are little-endian floats (<f4, <f8), \
                 integers (<i1…<i8, <u1…<u8) and booleans"
            ),
        )
    };
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let kind = match chars.next().ok_or_else(unsupported)? {
        'f' => Kind::Float,
        'i' => Kind::Signed,
        'u' => Kind::Unsigned,
        'b' => Kind::Bool,
        _ => return Err(unsupported()),
    };
    let item_size: usize = chars.as_str().parse().map_err(|_| unsupported())?;
    let supported_size = match kind {
        Kind::Float => matches!(item_size, 4 | 8),
        Kind::Signed | Kind::Unsigned => matches!(item_size, 1 | 2 | 4 | 8),
        Kind::Bool => item_size == 1,
    };
    let little_endian = match order {
        '<' => true,
        '|' => item_size == 1,
        '=' => cfg!(target_endian = "little"),
        _ => false,
    };
    if !supported_size || !little_endian {
        return Err(unsupported());
    }
    Ok((kind, item_size))
}

impl NpyArray<'_> {
    fn to_f32(&self, path: &Path) -> Result<Vec<f32>> {
        let chunks = self.data.chunks_exact(self.item_size);
        Ok(match (self.kind, self.item_size) {
            (Kind::Float, 4) => chunks
                .map(|c| f32::from_le_bytes(c.try_into().expect("chunk of 4")))
                .collect(),
            (Kind::Float, 8) => chunks
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32)
                .collect(),
            _ => self.to_i64(path)?.into_iter().map(|v| v as f32).collect(),
        })
    }

    fn to_i64(&self, path: &Path) -> Result<Vec<i64>> {
        let chunks = self.data.chunks_exact(self.item_size);
        let values: Vec<i64> = match (self.kind, self.item_size) {
            (Kind::Bool | Kind::Unsigned, 1) => chunks.map(|c| c[0] as i64).collect(),
            (Kind::Signed, 1) => chunks.map(|c| c[0] as i8 as i64).collect(),
            (Kind::Signed, 2) => chunks
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
            (Kind::Unsigned, 2) => chunks
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
            (Kind::Signed, 4) => chunks
                .map(|c| i32::from_le_bytes(c.try_into().expect("chunk of 4")) as i64)
                .collect(),
            (Kind::Unsigned, 4) => chunks
                .map(|c| u32::from_le_bytes(c.try_into().expect("chunk of 4")) as i64)
                .collect(),
            (Kind::Signed, 8) => chunks
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")))
                .collect(),
            (Kind::Unsigned, 8) => {
                let mut values = Vec::with_capacity(self.data.len() / 8);
                for (i, c) in chunks.enumerate() {
                    let v = u64::from_le_bytes(c.try_into().expect("chunk of 8"));
                    values.push(i64::try_from(v).map_err(|_| {
                        format_error(path, format!("value {v} at index {i} is too large"))
                    })?);
                }
                values
            }
            (Kind::Float, _) => {
                let floats = self.to_f32(path)?;
                let mut values = Vec::with_capacity(floats.len());
                for (i, v) in floats.into_iter().enumerate() {
                    if !v.is_finite() || v.fract() != 0.0 {
                        return Err(format_error(
                            path,
                            format!("value {v} at index {i} is not a whole number"),
                        ));
                    }
                    values.push(v as i64);
                }
                values
            }
            (kind, size) => {
                return Err(format_error(
                    path,
                    format!("unsupported element type {kind:?} of {size} bytes"),
                ));
            }
        };
        Ok(values)
    }
}
