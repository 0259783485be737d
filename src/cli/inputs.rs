//! Reading data for a command and checking output paths before work starts.

use super::{CliError, CliResult};
use lintrain::data::{LabelColumn, LoadOptions, Table, load_table};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Reads a data file whose labels are required.
pub fn labelled(
    path: &Path,
    label: Option<&LabelColumn>,
    labels_file: Option<&PathBuf>,
    expected_features: Option<usize>,
) -> CliResult<Table> {
    let options = LoadOptions {
        label: label.cloned().unwrap_or_default(),
        labels_file: labels_file.cloned(),
        labels_required: true,
        expected_features,
    };
    Ok(load_table(path, &options)?)
}

/// Fails now, rather than after a long run, when `path` cannot be written:
/// its directory must exist and the path must not be a directory.
pub fn check_writable(path: &Path, flag: &str) -> CliResult {
    if path.as_os_str().is_empty() {
        return Err(CliError::new(format!("{flag}: the path is empty")));
    }
    if path.is_dir() {
        return Err(CliError::new(format!(
            "{flag} {}: is a directory, expected a file path",
            path.display()
        )));
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(CliError::new(format!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes through a temporary file in the same directory and renames it
/// into place, so a failure never leaves a half-written file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> CliResult {
    let fail = |e: std::io::Error| CliError::new(format!("{}: cannot write: {e}", path.display()));
    let mut file = tempfile::NamedTempFile::new_in(parent_dir(path)).map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    make_readable(file.path()).map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Temporary files are created owner-only; an output file is for sharing.
pub fn make_readable(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
