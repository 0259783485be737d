//! MNIST IDX files: images (magic `00 00 08 03`, unsigned bytes,
//! N × rows × cols, big-endian sizes) and labels (magic `00 00 08 01`).
//! Pixels stay 0..255; scaling is left to standardization. The files may be
//! gzip-compressed, as MNIST and Fashion-MNIST are distributed (`*-ubyte.gz`).

use super::format::{IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
use super::labels::{IntegerLabels, RawLabels, too_many};
use super::{alloc_error, format_error, read_file, try_vec};
use crate::limits::{self, MAX_TABLE_VALUES};
use crate::{Error, Result};
use ndarray::Array2;
use std::path::{Path, PathBuf};

/// The images as an N × (rows·cols) matrix, pixels row-major.
pub(crate) fn read_images(path: &Path, bytes: &[u8]) -> Result<Array2<f32>> {
    if !bytes.starts_with(&IDX_IMAGES_MAGIC) {
        return Err(bad_magic(path, bytes, "image", IDX_IMAGES_MAGIC));
    }
    let dims = read_dims(path, bytes, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    let pixels = rows
        .checked_mul(cols)
        .ok_or_else(|| format_error(path, "image size overflows"))?;
    limits::check_product(
        format!(
            "the number of pixels in {} ({count} images of {rows}×{cols})",
            path.display()
        ),
        count as u64,
        pixels as u64,
        MAX_TABLE_VALUES,
    )?;
    let data = body(path, bytes, 3, count.checked_mul(pixels))?;
    // Refused before anything is built for it (a feature name per pixel).
    if count == 0 || pixels == 0 {
        return Err(Error::EmptyData(format!(
            "{} has {count} rows and {pixels} features",
            path.display()
        )));
    }
    let mut values = try_vec(
        path,
        data.len(),
        &format!("{count} images of {rows}×{cols} pixels as f32"),
    )?;
    values.extend(data.iter().map(|&b| f32::from(b)));
    Array2::from_shape_vec((count, pixels), values).map_err(|e| format_error(path, e.to_string()))
}

/// The labels of an IDX label file.
pub(crate) fn read_labels(path: &Path, bytes: &[u8]) -> Result<RawLabels> {
    if !bytes.starts_with(&IDX_LABELS_MAGIC) {
        return Err(bad_magic(path, bytes, "label", IDX_LABELS_MAGIC));
    }
    let count = read_dims(path, bytes, 1)?[0];
    let data = body(path, bytes, 1, Some(count))?;
    let mut labels = IntegerLabels::default();
    labels
        .try_reserve(data.len())
        .map_err(|()| alloc_error(path, data.len() as u64 * 4, "the labels"))?;
    for &label in data {
        labels
            .push(i64::from(label))
            .map_err(|count| too_many(count, Some(path)))?;
    }
    Ok(labels.finish())
}

/// The label file next to an image file by the standard MNIST names
/// (`train-images-idx3-ubyte` → `train-labels-idx1-ubyte`, also with
/// `.idx3-ubyte`, each with or without `.gz`), with the path it was found at. Missing is an error only
/// when labels are required.
pub(crate) fn companion_labels(
    images: &Path,
    required: bool,
) -> Result<Option<(PathBuf, RawLabels)>> {
    let candidates = companion_candidates(images);
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        let bytes = read_file(found)?;
        let labels = read_labels(found, &bytes)?;
        return Ok(Some((found.clone(), labels)));
    }
    if !required {
        return Ok(None);
    }
    let tried = candidates
        .iter()
        .map(|c| c.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let tried = if tried.is_empty() {
        "the file name has no `images` part to derive one from".to_string()
    } else {
        format!("looked for {tried}")
    };
    Err(format_error(
        images,
        format!("no IDX label file found ({tried}); give the labels file explicitly"),
    ))
}

fn companion_candidates(images: &Path) -> Vec<PathBuf> {
    let Some(name) = images.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains("images") {
        return Vec::new();
    }
    let labels = name
        .replacen("images", "labels", 1)
        .replacen("idx3", "idx1", 1);
    let mut names = vec![labels.clone()];
    // Both separators occur in the wild: `-idx1-ubyte` and `.idx1-ubyte`.
    for (from, to) in [("-idx1", ".idx1"), (".idx1", "-idx1")] {
        if labels.contains(from) {
            names.push(labels.replacen(from, to, 1));
        }
    }
    // The same compression as the images first, then the other.
    let toggled: Vec<String> = names
        .iter()
        .map(|n| match n.strip_suffix(".gz") {
            Some(plain) => plain.to_string(),
            None => format!("{n}.gz"),
        })
        .collect();
    names
        .into_iter()
        .chain(toggled)
        .map(|n| images.with_file_name(n))
        .collect()
}

fn bad_magic(path: &Path, bytes: &[u8], what: &str, expected: [u8; 4]) -> crate::Error {
    let found: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let expected: Vec<String> = expected.iter().map(|b| format!("{b:02x}")).collect();
    format_error(
        path,
        format!(
            "is not an IDX {what} file: magic {} (expected {})",
            found.join(" "),
            expected.join(" ")
        ),
    )
}

/// The `count` big-endian u32 sizes after the magic.
fn read_dims(path: &Path, bytes: &[u8], count: usize) -> Result<Vec<usize>> {
    let header = bytes.get(4..4 + 4 * count).ok_or_else(|| {
        format_error(
            path,
            format!("is truncated: the IDX header needs {} bytes", 4 + 4 * count),
        )
    })?;
    Ok(header
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect())
}

/// The data after a header of `dims` sizes, which must be exactly `len` bytes.
fn body<'a>(path: &Path, bytes: &'a [u8], dims: usize, len: Option<usize>) -> Result<&'a [u8]> {
    let data = &bytes[4 + 4 * dims..];
    let len = len.ok_or_else(|| format_error(path, "the IDX sizes overflow"))?;
    if data.len() != len {
        let state = if data.len() < len {
            "is truncated"
        } else {
            "has trailing bytes"
        };
        return Err(format_error(
            path,
            format!(
                "{state}: the IDX header announces {len} data bytes, found {}",
                data.len()
            ),
        ));
    }
    Ok(data)
}
