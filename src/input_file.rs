//! Reading an input file whole, safely: only regular files (a device such
//! as `/dev/zero`, a FIFO or a directory would be read without bound or not
//! at all), never more than [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES),
//! and never more than the size the file had when it was opened, so a file
//! that grows while it is read cannot grow the allocation.

use crate::limits::{self, MAX_FILE_BYTES};
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The whole content of the regular file at `path` (symbolic links are
/// followed). Errors are [`Error::File`] naming the path, or
/// [`Error::TooLarge`] for a file over the limit.
pub fn read_whole(path: &Path) -> Result<Vec<u8>> {
    let file_error = |reason: String| Error::File {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
    // The type is taken from the opened file, not the path, so a path
    // swapped after the check cannot slip a device in.
    let metadata = file.metadata().map_err(|e| file_error(e.to_string()))?;
    if !metadata.is_file() {
        return Err(file_error(format!(
            "is not a regular file ({}); give a data or model file",
            kind_of(&metadata)
        )));
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
}
