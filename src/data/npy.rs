//! NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0): floats (f2, f4,
//! f8), integers (i1–i8, u1–u8) and booleans in either byte order, in C or
//! Fortran order; for labels also fixed-width strings (`U`, `S`). The header
//! is a small Python dict literal, parsed here by hand.
//!
//! Hand-written rather than on the `npyz` crate: npyz allocates the header
//! text by the size the file declares (up to 4 GiB) before reading it, and
//! reads element by element through `io::Read`; here the file is already in
//! memory, so every declared size is checked against the bytes present and
//! against [`MAX_TABLE_VALUES`] before anything is allocated, and the data
//! is converted in one pass over a borrowed slice.

use super::format::NPY_MAGIC;
use super::format_error;
use super::labels::RawLabels;
use crate::Result;
use crate::limits::{self, MAX_TABLE_VALUES};
use half::f16;
use ndarray::{Array2, ShapeBuilder};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
    /// `U`: UTF-32 code points, 4 bytes each.
    Unicode,
    /// `S`: bytes.
    Bytes,
}

/// A parsed `.npy` file whose data borrows from the file's bytes.
struct NpyArray<'a> {
    kind: Kind,
    item_size: usize,
    big_endian: bool,
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

/// The shape of a `.npy` file, its header checked but its data not read.
pub(crate) fn shape(path: &Path, bytes: &[u8]) -> Result<Vec<usize>> {
    Ok(parse(path, bytes)?.shape)
}

/// A 1-D (or N×1) array as labels: integers, floats that are whole numbers,
/// booleans, or strings.
pub(crate) fn read_labels(path: &Path, bytes: &[u8]) -> Result<RawLabels> {
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
    match array.kind {
        Kind::Unicode | Kind::Bytes => Ok(RawLabels::from_strings(array.to_strings(path)?)),
        _ => Ok(RawLabels::Integers(array.to_i64(path)?)),
    }
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<NpyArray<'a>> {
    if !bytes.starts_with(NPY_MAGIC) {
        return Err(format_error(path, "is not a NumPy .npy file (bad magic)"));
    }
    let truncated = || format_error(path, "is a truncated .npy file (header cut short)");
    let major = *bytes.get(6).ok_or_else(truncated)?;
    let (header_start, header_len): (usize, usize) = match major {
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
    // The declared header length is checked against the bytes present by
    // slicing; nothing is allocated for it.
    let header_end = header_start.checked_add(header_len).ok_or_else(truncated)?;
    let header = bytes.get(header_start..header_end).ok_or_else(truncated)?;
    let header = String::from_utf8_lossy(header);
    let bad_header = |what: &str| format_error(path, format!("has a bad .npy header: {what}"));

    let descr = dict_value(&header, "descr").ok_or_else(|| bad_header("no 'descr'"))?;
    let descr = quoted(descr).ok_or_else(|| {
        bad_header("'descr' is not a simple type string (structured arrays are not supported)")
    })?;
    let (kind, item_size, big_endian) = parse_descr(path, descr)?;

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

    let values = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    limits::check(
        format!(
            "the number of values in {} (shape {shape:?})",
            path.display()
        ),
        values,
        MAX_TABLE_VALUES,
    )?;
    let data = &bytes[header_end..];
    let expected = values
        .checked_mul(item_size as u64)
        .ok_or_else(|| bad_header("the shape is too large"))?;
    if data.len() as u64 != expected {
        let state = if (data.len() as u64) < expected {
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
        big_endian,
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

/// Kind, item size in bytes and whether the items are big-endian.
fn parse_descr(path: &Path, descr: &str) -> Result<(Kind, usize, bool)> {
    let unsupported = || {
        format_error(
            path,
            format!(
                "has dtype {descr:?}; supported are floats (f2, f4, f8), integers (i1…i8, \
                 u1…u8) and booleans in either byte order (< or >), and for labels strings \
                 (U, S)"
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
        'U' => Kind::Unicode,
        'S' | 'a' => Kind::Bytes,
        _ => return Err(unsupported()),
    };
    let count: usize = chars.as_str().parse().map_err(|_| unsupported())?;
    let item_size = match kind {
        Kind::Float if matches!(count, 2 | 4 | 8) => count,
        Kind::Signed | Kind::Unsigned if matches!(count, 1 | 2 | 4 | 8) => count,
        Kind::Bool if count == 1 => 1,
        Kind::Unicode if count >= 1 => count.checked_mul(4).ok_or_else(unsupported)?,
        Kind::Bytes if count >= 1 => count,
        _ => return Err(unsupported()),
    };
    let big_endian = match order {
        '<' => false,
        '>' => true,
        '|' if item_size == 1 || kind == Kind::Bytes => false,
        '=' => cfg!(target_endian = "big"),
        _ => return Err(unsupported()),
    };
    Ok((kind, item_size, big_endian))
}

/// The `N`-byte items of `data` in little-endian byte order.
fn items_le<const N: usize>(data: &[u8], big_endian: bool) -> impl Iterator<Item = [u8; N]> + '_ {
    data.chunks_exact(N).map(move |chunk| {
        let mut item: [u8; N] = chunk.try_into().expect("chunks_exact(N) yields N bytes");
        if big_endian {
            item.reverse();
        }
        item
    })
}

impl NpyArray<'_> {
    fn items<const N: usize>(&self) -> impl Iterator<Item = [u8; N]> + '_ {
        items_le::<N>(self.data, self.big_endian)
    }

    fn to_f32(&self, path: &Path) -> Result<Vec<f32>> {
        Ok(match (self.kind, self.item_size) {
            (Kind::Float, 2) => self
                .items::<2>()
                .map(|b| f16::from_le_bytes(b).to_f32())
                .collect(),
            (Kind::Float, 4) => self.items::<4>().map(f32::from_le_bytes).collect(),
            (Kind::Float, 8) => self
                .items::<8>()
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
            (Kind::Unicode | Kind::Bytes, _) => {
                return Err(format_error(
                    path,
                    "holds strings; features must be numbers (strings are read as labels only)",
                ));
            }
            _ => self.to_i64(path)?.into_iter().map(|v| v as f32).collect(),
        })
    }

    fn to_i64(&self, path: &Path) -> Result<Vec<i64>> {
        let values: Vec<i64> = match (self.kind, self.item_size) {
            (Kind::Bool | Kind::Unsigned, 1) => self.data.iter().map(|&b| b as i64).collect(),
            (Kind::Signed, 1) => self.data.iter().map(|&b| b as i8 as i64).collect(),
            (Kind::Signed, 2) => self
                .items::<2>()
                .map(|b| i16::from_le_bytes(b) as i64)
                .collect(),
            (Kind::Unsigned, 2) => self
                .items::<2>()
                .map(|b| u16::from_le_bytes(b) as i64)
                .collect(),
            (Kind::Signed, 4) => self
                .items::<4>()
                .map(|b| i32::from_le_bytes(b) as i64)
                .collect(),
            (Kind::Unsigned, 4) => self
                .items::<4>()
                .map(|b| u32::from_le_bytes(b) as i64)
                .collect(),
            (Kind::Signed, 8) => self.items::<8>().map(i64::from_le_bytes).collect(),
            (Kind::Unsigned, 8) => {
                let mut values = Vec::with_capacity(self.data.len() / 8);
                for (i, b) in self.items::<8>().enumerate() {
                    let v = u64::from_le_bytes(b);
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

    /// Fixed-width strings without NumPy's trailing NUL padding.
    fn to_strings(&self, path: &Path) -> Result<Vec<String>> {
        let mut strings = Vec::with_capacity(self.data.len() / self.item_size.max(1));
        for (i, item) in self.data.chunks_exact(self.item_size).enumerate() {
            let text = match self.kind {
                Kind::Unicode => items_le::<4>(item, self.big_endian)
                    .map(u32::from_le_bytes)
                    .take_while(|&c| c != 0)
                    .map(|c| {
                        char::from_u32(c).ok_or_else(|| {
                            format_error(
                                path,
                                format!("string at index {i} has an invalid code point {c:#x}"),
                            )
                        })
                    })
                    .collect::<Result<String>>()?,
                _ => {
                    let end = item.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
                    String::from_utf8_lossy(&item[..end]).into_owned()
                }
            };
            strings.push(text);
        }
        Ok(strings)
    }
}
