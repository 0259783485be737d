//! Reading data for a command and checking output paths before work starts.

use super::args::ReadArgs;
use super::{CliError, CliResult};
use lintrain::data::{LabelColumn, LoadOptions, Table, load_table};
use std::path::{Path, PathBuf};

/// Reads a data file whose labels are required.
pub fn labelled(
    path: &Path,
    label: Option<&LabelColumn>,
    labels_file: Option<&PathBuf>,
    expected_features: Option<usize>,
    read: &ReadArgs,
) -> CliResult<Table> {
    let options = read.apply(LoadOptions {
        label: label.cloned().unwrap_or_default(),
        labels_file: labels_file.cloned(),
        labels_required: true,
        expected_features,
        ..LoadOptions::default()
    });
    Ok(load_table(path, &options)?)
}

/// Writes through a temporary file in the same directory and renames it
/// into place, so a failure never leaves a half-written file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> CliResult {
    lintrain::atomic_file::write_atomically(path, contents)
        .map_err(|e| CliError::new(format!("cannot write {e}")))
}
