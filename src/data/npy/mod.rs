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

pub(crate) mod header;

use super::format::NPY_MAGIC;
use super::labels::{IntegerLabels, LabelsError, RawLabels, TextLabels, too_many};
use super::{alloc_error, format_error, try_vec};
use crate::limits::{self, MAX_TABLE_VALUES};
use crate::{Error, Result};
use half::f16;
use header::{Header, parse_header};
use ndarray::Array2;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
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

/// A 2-D array as an N×D feature matrix, in C order whatever the file's.
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
                    "has shape {}; features must be a 2-D array, rows × features",
                    tuple(&array.shape)
                ),
            ));
        }
    };
    // Refused before anything is built for it: an empty table with a huge
    // other dimension would otherwise get a feature name per column.
    if rows == 0 || cols == 0 {
        return Err(Error::EmptyData(format!(
            "{} has {rows} rows and {cols} features",
            path.display()
        )));
    }
    let values = array.to_f32(path, rows, cols)?;
    let features = Array2::from_shape_vec((rows, cols), values)
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
                    "has shape {}; labels must be a 1-D array with one label per row",
                    tuple(&array.shape)
                ),
            ));
        }
    }
    match array.kind {
        Kind::Unicode | Kind::Bytes => array.to_labels_from_text(path),
        _ => array.to_integer_labels(path),
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
    let Header {
        descr,
        fortran_order,
        shape,
    } = parse_header(&header)
        .map_err(|what| format_error(path, format!("has a bad .npy header: {what}")))?;
    let (kind, item_size, big_endian) = parse_descr(path, &descr)?;

    for (axis, &size) in shape.iter().enumerate() {
        limits::check(
            format!(
                "dimension {axis} of {} (shape {})",
                path.display(),
                tuple(&shape)
            ),
            size as u64,
            MAX_TABLE_VALUES,
        )?;
    }
    // Zero-length dimensions left out: an empty array whose other
    // dimensions multiply past the limit is refused too.
    let values = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d.max(1) as u64))
        .unwrap_or(u64::MAX);
    limits::check(
        format!(
            "the number of values in {} (shape {})",
            path.display(),
            tuple(&shape)
        ),
        values,
        MAX_TABLE_VALUES,
    )?;
    let values = if shape.contains(&0) { 0 } else { values };
    let data = &bytes[header_end..];
    let expected = values
        .checked_mul(item_size as u64)
        .ok_or_else(|| format_error(path, "has a bad .npy header: the shape is too large"))?;
    if data.len() as u64 != expected {
        let state = if (data.len() as u64) < expected {
            "is truncated"
        } else {
            "has trailing bytes"
        };
        return Err(format_error(
            path,
            format!(
                "{state}: shape {} of {item_size}-byte values needs {expected} data bytes, \
                 found {}",
                tuple(&shape),
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

/// A shape as Python writes the tuple: `(3,)`, `(0, 5)`.
pub(crate) fn tuple(shape: &[usize]) -> String {
    match shape {
        [size] => format!("({size},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Kind, item size in bytes and whether the items are big-endian.
pub(crate) fn parse_descr(path: &Path, descr: &str) -> Result<(Kind, usize, bool)> {
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

    /// The values as f32 in C order, each dtype converted straight to f32
    /// (integers were widened to i64 first, which took twice the memory of
    /// the result again), into one buffer reserved up front.
    fn to_f32(&self, path: &Path, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let count = rows * cols;
        let mut values = try_vec(path, count, &format!("its {rows} × {cols} values as f32"))?;
        match (self.kind, self.item_size) {
            (Kind::Float, 2) => {
                self.fill(&mut values, rows, cols, |b| f16::from_le_bytes(b).to_f32())
            }
            (Kind::Float, 4) => self.fill(&mut values, rows, cols, f32::from_le_bytes),
            (Kind::Float, 8) => {
                self.fill(&mut values, rows, cols, |b| f64::from_le_bytes(b) as f32)
            }
            // NumPy reads any non-zero byte as True.
            (Kind::Bool, 1) => self.fill(&mut values, rows, cols, |[b]: [u8; 1]| {
                f32::from(u8::from(b != 0))
            }),
            (Kind::Unsigned, 1) => self.fill(&mut values, rows, cols, |[b]: [u8; 1]| f32::from(b)),
            (Kind::Signed, 1) => {
                self.fill(&mut values, rows, cols, |[b]: [u8; 1]| f32::from(b as i8))
            }
            (Kind::Signed, 2) => self.fill(&mut values, rows, cols, |b| {
                f32::from(i16::from_le_bytes(b))
            }),
            (Kind::Unsigned, 2) => self.fill(&mut values, rows, cols, |b| {
                f32::from(u16::from_le_bytes(b))
            }),
            (Kind::Signed, 4) => {
                self.fill(&mut values, rows, cols, |b| i32::from_le_bytes(b) as f32)
            }
            (Kind::Unsigned, 4) => {
                self.fill(&mut values, rows, cols, |b| u32::from_le_bytes(b) as f32)
            }
            (Kind::Signed, 8) => {
                self.fill(&mut values, rows, cols, |b| i64::from_le_bytes(b) as f32)
            }
            (Kind::Unsigned, 8) => {
                self.fill(&mut values, rows, cols, |b| u64::from_le_bytes(b) as f32)
            }
            (Kind::Unicode | Kind::Bytes, _) => {
                return Err(format_error(
                    path,
                    "holds strings; features must be numbers (strings are read as labels only)",
                ));
            }
            (kind, size) => {
                return Err(format_error(
                    path,
                    format!("unsupported element type {kind:?} of {size} bytes"),
                ));
            }
        }
        Ok(values)
    }

    /// Appends the `rows × cols` items of `N` bytes to `out` in C order,
    /// converted by `convert`: in file order for a C-order array,
    /// transposed on the fly for a Fortran-order one (which has each
    /// column's values together), so no second copy is made.
    fn fill<const N: usize>(
        &self,
        out: &mut Vec<f32>,
        rows: usize,
        cols: usize,
        convert: impl Fn([u8; N]) -> f32,
    ) {
        if !self.fortran_order {
            out.extend(self.items::<N>().map(convert));
            return;
        }
        for row in 0..rows {
            out.extend((0..cols).map(|col| {
                let at = (col * rows + row) * N;
                let mut item = [0u8; N];
                item.copy_from_slice(&self.data[at..at + N]);
                if self.big_endian {
                    item.reverse();
                }
                convert(item)
            }));
        }
    }

    /// Integer labels (a 1-D array, or an N×1 one, whose order does not
    /// matter), one distinct value at a time, without an intermediate
    /// `Vec<i64>`. Floats must be whole numbers.
    fn to_integer_labels(&self, path: &Path) -> Result<RawLabels> {
        let count = self.data.len() / self.item_size.max(1);
        let mut labels = IntegerLabels::default();
        labels
            .try_reserve(count)
            .map_err(|()| alloc_error(path, count as u64 * 4, "the labels"))?;
        let mut push = |value: i64| {
            labels
                .push(value)
                .map_err(|count| too_many(count, Some(path)))
        };
        let whole = |index: usize, value: f64| {
            if value.is_finite() && value.fract() == 0.0 && value.abs() <= (1u64 << 53) as f64 {
                Ok(value as i64)
            } else {
                Err(format_error(
                    path,
                    format!("value {value} at index {index} is not a whole number"),
                ))
            }
        };
        match (self.kind, self.item_size) {
            (Kind::Bool, 1) => self
                .data
                .iter()
                .try_for_each(|&b| push(i64::from(b != 0)))?,
            (Kind::Unsigned, 1) => self.data.iter().try_for_each(|&b| push(i64::from(b)))?,
            (Kind::Signed, 1) => self
                .data
                .iter()
                .try_for_each(|&b| push(i64::from(b as i8)))?,
            (Kind::Signed, 2) => self
                .items::<2>()
                .try_for_each(|b| push(i64::from(i16::from_le_bytes(b))))?,
            (Kind::Unsigned, 2) => self
                .items::<2>()
                .try_for_each(|b| push(i64::from(u16::from_le_bytes(b))))?,
            (Kind::Signed, 4) => self
                .items::<4>()
                .try_for_each(|b| push(i64::from(i32::from_le_bytes(b))))?,
            (Kind::Unsigned, 4) => self
                .items::<4>()
                .try_for_each(|b| push(i64::from(u32::from_le_bytes(b))))?,
            (Kind::Signed, 8) => self
                .items::<8>()
                .try_for_each(|b| push(i64::from_le_bytes(b)))?,
            (Kind::Unsigned, 8) => {
                for (i, b) in self.items::<8>().enumerate() {
                    let v = u64::from_le_bytes(b);
                    push(i64::try_from(v).map_err(|_| {
                        format_error(path, format!("value {v} at index {i} is too large"))
                    })?)?;
                }
            }
            (Kind::Float, 2) => {
                for (i, b) in self.items::<2>().enumerate() {
                    push(whole(i, f16::from_le_bytes(b).to_f64())?)?;
                }
            }
            (Kind::Float, 4) => {
                for (i, b) in self.items::<4>().enumerate() {
                    push(whole(i, f64::from(f32::from_le_bytes(b)))?)?;
                }
            }
            (Kind::Float, 8) => {
                for (i, b) in self.items::<8>().enumerate() {
                    push(whole(i, f64::from_le_bytes(b))?)?;
                }
            }
            (kind, size) => {
                return Err(format_error(
                    path,
                    format!("unsupported element type {kind:?} of {size} bytes"),
                ));
            }
        }
        Ok(labels.finish())
    }

    /// Fixed-width strings without NumPy's trailing NUL padding, decided
    /// as a text column is (integers when all are whole numbers).
    fn to_labels_from_text(&self, path: &Path) -> Result<RawLabels> {
        let count = self.data.len() / self.item_size.max(1);
        let mut labels = TextLabels::default();
        labels
            .try_reserve(count)
            .map_err(|()| alloc_error(path, count as u64 * 4, "the labels"))?;
        let mut text = String::new();
        for (i, item) in self.data.chunks_exact(self.item_size).enumerate() {
            text.clear();
            match self.kind {
                Kind::Unicode => {
                    for c in items_le::<4>(item, self.big_endian)
                        .map(u32::from_le_bytes)
                        .take_while(|&c| c != 0)
                    {
                        text.push(char::from_u32(c).ok_or_else(|| {
                            format_error(
                                path,
                                format!("string at index {i} has an invalid code point {c:#x}"),
                            )
                        })?);
                    }
                }
                _ => {
                    let end = item.iter().rposition(|&b| b != 0).map_or(0, |e| e + 1);
                    text.push_str(&String::from_utf8_lossy(&item[..end]));
                }
            }
            labels
                .push(&text, i as u64)
                .map_err(|count| too_many(count, Some(path)))?;
        }
        labels.finish().map_err(|e| match e {
            LabelsError::TooMany(count) => too_many(count, Some(path)),
            LabelsError::NotWhole { value, origin } => format_error(
                path,
                format!(
                    "at index {origin}: {}",
                    LabelsError::not_whole_reason(&value)
                ),
            ),
        })
    }
}
