//! Writing a file so that readers see the old contents or the new, never a
//! half-written file: a temporary file in the same directory, fsync, rename.

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// The directory a path's file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically. An existing file keeps its
/// permissions; a new one is readable by all (temporary files are created
/// owner-only). On any failure an existing file is left untouched.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_error = |e: std::io::Error| Error::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let name = path.file_name().ok_or_else(|| Error::File {
        path: path.to_path_buf(),
        reason: "not a file path".into(),
    })?;
    let directory = parent_dir(path);
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(io_error)?;
    file.write_all(bytes).map_err(io_error)?;
    file.as_file().sync_all().map_err(io_error)?;
    publish_permissions(file.path(), path).map_err(io_error)?;
    // On failure the returned temporary file is dropped, which deletes it.
    file.persist(path).map_err(|e| io_error(e.error))?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Gives the temporary file `temporary` the permissions `target` has, or
/// 0644 when there is no target yet.
pub fn publish_permissions(temporary: &Path, target: &Path) -> std::io::Result<()> {
    match std::fs::metadata(target) {
        Ok(existing) if existing.is_file() => {
            std::fs::set_permissions(temporary, existing.permissions())
        }
        _ => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(temporary, std::fs::Permissions::from_mode(0o644))
            }
            #[cfg(not(unix))]
            Ok(())
        }
    }
}
