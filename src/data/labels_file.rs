//! A separate labels file: a NumPy `.npy` 1-D array (integers, whole floats
//! or strings), an IDX label file, or text with one label per line (integers
//! or names); each also gzip-compressed.

use super::format::{IDX_LABELS_MAGIC, NPY_MAGIC};
use super::labels::RawLabels;
use super::{idx, npy, read_file};
use crate::{Error, Result};
use std::path::Path;

/// The labels in `path`, detected by magic number (NumPy, IDX), else text.
pub fn read_labels_file(path: &Path) -> Result<RawLabels> {
    let bytes = read_file(path)?;
    if bytes.starts_with(NPY_MAGIC) {
        return npy::read_labels(path, &bytes);
    }
    if bytes.starts_with(&IDX_LABELS_MAGIC) {
        return Ok(RawLabels::Integers(idx::read_labels(path, &bytes)?));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!(
            "is neither a .npy array, an IDX label file nor UTF-8 text with one label per line ({e})"
        ),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    if lines.is_empty() {
        return Err(Error::EmptyData(format!(
            "labels file {} has no labels",
            path.display()
        )));
    }
    if let Some(blank) = lines.iter().position(|l| l.is_empty()) {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: blank + 1,
            column: 1,
            reason: "empty line; expected one label per line".into(),
        });
    }
    Ok(RawLabels::from_strings(
        lines.into_iter().map(String::from).collect(),
    ))
}
