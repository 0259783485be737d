//! Writing a file so that readers see the old contents or the new, never a
//! half-written file: a temporary file in the same directory, fsync, rename.

use crate::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

/// The directory a path's file lives in (`.` for a bare file name).
pub fn parent_dir<P: AsRef<Path> + ?Sized>(path: &P) -> &Path {
    match path.as_ref().parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically. An existing file keeps its
/// permissions; a new one is readable by all (temporary files are created
/// owner-only). On any failure an existing file is left untouched.
pub fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    write_atomically_with(path, |out| {
        out.write_all(bytes).map_err(|e| io_error(path, e))
    })
}

/// Writes to `path` atomically what `write` writes to the writer it is
/// given, as [`write_atomically`] writes bytes: through a [`BufWriter`]
/// into a temporary file in the same directory, which is synced and
/// renamed over `path` once `write` has succeeded, so that output of any
/// size is streamed rather than held in memory. When `write` fails, its
/// error is returned and the temporary file is removed: `path` is left as
/// it was. `write` maps the errors of its writes itself (as
/// [`io_error`] does, or to its own type); the temporary file's own
/// failures are [`Error::File`] naming `path`.
pub fn write_atomically_with<E: From<Error>>(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let path = path.as_ref();
    let name = path
        .file_name()
        .ok_or_else(|| Error::file(path, "not a file path"))?;
    // A device, a FIFO or a socket at `path` would be replaced by a
    // regular file by the rename below: `/dev/null` for one.
    if let Ok(existing) = std::fs::metadata(path)
        && !existing.is_file()
    {
        let what = if existing.is_dir() {
            "is a directory, expected a file path"
        } else {
            "exists and is not a regular file; it is not replaced"
        };
        return Err(Error::file(path, what).into());
    }
    let directory = parent_dir(path);
    let file = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(|e| io_error(path, without_temporary_name(e)))?;
    let mut out = BufWriter::new(file);
    // On any failure below the temporary file is dropped, which deletes it.
    write(&mut out)?;
    let file = out
        .into_inner()
        .map_err(|e| io_error(path, e.into_error()))?;
    file.as_file().sync_all().map_err(|e| io_error(path, e))?;
    publish_permissions(file.path(), path).map_err(|e| io_error(path, e))?;
    file.persist(path).map_err(|e| io_error(path, e.error))?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The OS error of creating the temporary file, without the temporary
/// file's name that `tempfile` appends (`… at path "/d/.m.x1y2.tmp"`): the
/// error names the file the user asked for.
fn without_temporary_name(error: std::io::Error) -> std::io::Error {
    let text = error.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => std::io::Error::new(error.kind(), reason.to_string()),
        None => error,
    }
}

/// A failure to write `path`, as an [`Error::File`] naming it.
pub fn io_error(path: impl AsRef<Path>, error: std::io::Error) -> Error {
    Error::io(path.as_ref(), error)
}

/// Gives the temporary file `temporary` the permissions `target` has, or
/// 0644 when there is no target yet.
pub fn publish_permissions(
    temporary: impl AsRef<Path>,
    target: impl AsRef<Path>,
) -> std::io::Result<()> {
    let (temporary, target) = (temporary.as_ref(), target.as_ref());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_is_not_a_regular_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        // A socket node stands for a device or a FIFO: not a regular file.
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let e = write_atomically(&socket, b"model").unwrap_err();
        assert!(
            e.to_string().contains("exists and is not a regular file"),
            "{e}"
        );
        assert!(!std::fs::metadata(&socket).unwrap().is_file(), "replaced");
        let e = write_atomically(dir.path(), b"model").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn a_missing_directory_is_named_without_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("model.safetensors");
        let e = write_atomically(&path, b"model").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(
            !text.contains(" at path "),
            "names the temporary file: {text}"
        );
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
    }
}
