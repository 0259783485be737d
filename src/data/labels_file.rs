//! A separate labels file: a NumPy `.npy` 1-D array (integers, whole floats
//! or strings), an IDX label file, or text with one label per line (integers
//! or names); each also gzip-compressed.
//!
//! A text file whose first line is not a number while every other line is
//! an integer has a header on its first line, which is skipped: that is what
//! pandas writes for `y.to_csv("y.txt", index=False)` (`label`, then the
//! labels). Labels that are integers except some number that is not whole
//! (`nan`, `inf`, `0.5`) are refused, naming the line.

use super::format::{IDX_LABELS_MAGIC, NPY_MAGIC};
use super::labels::{LabelsError, RawLabels, TextLabels, too_many};
use super::{alloc_error, idx, npy, read_file};
use crate::{Error, Result};
use std::path::Path;

/// The labels in `path`, detected by magic number (NumPy, IDX), else text.
pub fn read_labels_file(path: impl AsRef<Path>) -> Result<RawLabels> {
    read_labels_at(path.as_ref())
}

fn read_labels_at(path: &Path) -> Result<RawLabels> {
    let bytes = read_file(path)?;
    if bytes.starts_with(NPY_MAGIC) {
        return npy::read_labels(path, &bytes);
    }
    if bytes.starts_with(&IDX_LABELS_MAGIC) {
        return idx::read_labels(path, &bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!(
            "is neither a .npy array, an IDX label file nor UTF-8 text with one label per line ({e})"
        ),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or_default().trim();
    let maybe_header = !first.is_empty() && first.parse::<f64>().is_err();
    if maybe_header {
        match read_lines(path, text, 1) {
            Ok(labels) if labels.is_integers() => return Ok(labels),
            // Integers beside a bad number are refused whatever the first
            // line is.
            Err(error @ Error::Parse { .. }) => return Err(error),
            // Other lines that are not numbers either: the first line is a
            // label like them.
            _ => {}
        }
    }
    read_lines(path, text, 0)
}

/// The labels on the lines of `text` after the first `skip`.
fn read_lines(path: &Path, text: &str, skip: usize) -> Result<RawLabels> {
    let mut labels = TextLabels::default();
    let lines = text.lines().count();
    labels
        .try_reserve(lines)
        .map_err(|()| alloc_error(path, lines as u64 * 4, "the labels"))?;
    // A blank line is an error only before another label: trailing ones
    // are the end of the file.
    let mut blank = None;
    for (index, line) in text.lines().enumerate().skip(skip) {
        let line = line.trim();
        if line.is_empty() {
            blank.get_or_insert(index + 1);
            continue;
        }
        if let Some(blank) = blank {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: blank,
                column: 1,
                reason: "empty line; expected one label per line".into(),
            });
        }
        labels
            .push(line, index as u64 + 1)
            .map_err(|count| too_many(count, Some(path)))?;
    }
    if labels.len() == 0 {
        return Err(Error::EmptyData(format!(
            "labels file {} has no labels",
            path.display()
        )));
    }
    labels.finish().map_err(|e| match e {
        LabelsError::TooMany(count) => too_many(count, Some(path)),
        LabelsError::NotWhole { value, origin } => Error::Parse {
            path: path.to_path_buf(),
            line: origin as usize,
            column: 1,
            reason: LabelsError::not_whole_reason(&value),
        },
    })
}
