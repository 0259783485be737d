//! Reading an input file whole, safely: only regular files (a device such
//! as `/dev/zero`, a FIFO or a directory would be read without bound or not
//! at all), never more than [`MAX_FILE_BYTES`],
//! and never more than the size the file had when it was opened, so a file
//! that grows while it is read cannot grow the allocation.

use crate::limits::{self, MAX_FILE_BYTES};
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The whole content of the regular file at `path` (symbolic links are
/// followed). Errors are [`Error::File`] naming the path, or
/// [`Error::TooLarge`] for a file over the limit.
pub fn read_whole(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    read_whole_at(path.as_ref())
}

fn read_whole_at(path: &Path) -> Result<Vec<u8>> {
    let file_error = |reason: String| Error::file(path, reason);
    let os_error = |error: std::io::Error| Error::io(path, error);
    let not_regular = |metadata: &std::fs::Metadata| {
        file_error(format!(
            "is not a regular file ({}); give a data or model file",
            kind_of(metadata)
        ))
    };
    // The path's type is checked before opening: opening a FIFO for reading
    // blocks until a writer opens it (forever, for a FIFO nobody writes),
    // and opening some devices has side effects. `metadata` follows
    // symbolic links, as `open` does.
    let metadata = std::fs::metadata(path).map_err(os_error)?;
    if !metadata.is_file() {
        return Err(not_regular(&metadata));
    }
    let file = std::fs::File::open(path).map_err(os_error)?;
    // Checked again on the opened file: its type, not the path's, is what
    // is read, so a path swapped after the first check cannot slip a device
    // in (only a FIFO swapped in between the two could still block the open).
    let metadata = file.metadata().map_err(os_error)?;
    if !metadata.is_file() {
        return Err(not_regular(&metadata));
    }
    let size = limits::check(
        format!("the size in bytes of {}", path.display()),
        metadata.len(),
        MAX_FILE_BYTES,
    )?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|_| file_error(format!("cannot allocate {size} bytes to read it")))?;
    file.take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(e.to_string()))?;
    Ok(bytes)
}

fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO or pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a plain file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, b"1,2\n3,4\n").unwrap();
        assert_eq!(read_whole(&path).unwrap(), b"1,2\n3,4\n");
    }

    #[test]
    fn devices_and_directories_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_whole(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("not a regular file (a directory)"),
            "{error}"
        );
        #[cfg(unix)]
        {
            let error = read_whole(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(error.contains("a character device"), "{error}");
        }
    }

    /// Opening a FIFO for reading blocks until a writer comes: the type
    /// must be refused from the path, before the open. The read runs in a
    /// thread so that a regression fails here within seconds instead of
    /// hanging the test run.
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        use std::sync::mpsc;
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f.csv");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for path in [fifo.clone(), link] {
            let (send, receive) = mpsc::channel();
            let reading = path.clone();
            std::thread::spawn(move || send.send(read_whole(&reading).map_err(|e| e.to_string())));
            let result = receive.recv_timeout(Duration::from_secs(10));
            if result.is_err() {
                // Unblock the reader so that the test process can exit.
                let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            }
            let error = result
                .unwrap_or_else(|_| panic!("reading {} blocked", path.display()))
                .unwrap_err();
            assert!(
                error.contains("not a regular file (a FIFO or pipe)")
                    && error.contains(&path.display().to_string()),
                "{error}"
            );
        }
    }
}
