//! Output paths, checked before any work starts: each must be writable, and
//! none may be an input or another output of the same command. "The same"
//! means the same file after following symbolic links, or the same inode
//! through a hard link, or, for outputs that do not exist yet, the same
//! location once the directory is resolved.

use super::{CliError, CliResult};
use std::path::{Path, PathBuf};

/// A file a command reads or writes, with the flag that named it.
#[derive(Clone, Copy)]
pub struct Named<'a> {
    pub flag: &'static str,
    pub path: &'a Path,
}

impl<'a> Named<'a> {
    pub fn new(flag: &'static str, path: &'a Path) -> Self {
        Self { flag, path }
    }

    /// `Some` for a flag that was given.
    pub fn given(flag: &'static str, path: Option<&'a PathBuf>) -> Option<Self> {
        path.map(|p| Self::new(flag, p))
    }
}

/// What identifies a file: its device and inode when it exists, else its
/// resolved location.
#[derive(PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Location(PathBuf),
}

fn identity(path: &Path) -> Option<Identity> {
    match std::fs::metadata(path) {
        Ok(metadata) => inode_of(&metadata).or_else(|| location(path)),
        Err(_) => location(path),
    }
}

#[cfg(unix)]
fn inode_of(metadata: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    Some(Identity::Inode(metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn inode_of(_: &std::fs::Metadata) -> Option<Identity> {
    None
}

/// The path with its directory resolved: where a new file would be created.
fn location(path: &Path) -> Option<Identity> {
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return Some(Identity::Location(resolved));
    }
    let directory = std::fs::canonicalize(parent_dir(path)).ok()?;
    Some(Identity::Location(directory.join(path.file_name()?)))
}

/// Refuses, with one line, any output that is not writable, is an input,
/// or is another output; `inputs` that do not exist are left for the
/// reader to report.
pub fn check_outputs(inputs: &[Named<'_>], outputs: &[Named<'_>]) -> CliResult {
    for output in outputs {
        check_writable(output.path, output.flag)?;
    }
    check_outputs_spare_inputs(inputs, outputs)
}

/// [`check_outputs`] without creating anything: refuses an output that is
/// an input or another output, and leaves whether it can be written to
/// the process that writes it (rank 0 of a distributed run, where the
/// others only check their own inputs).
pub fn check_outputs_spare_inputs(inputs: &[Named<'_>], outputs: &[Named<'_>]) -> CliResult {
    let inputs: Vec<_> = inputs
        .iter()
        .filter_map(|input| std::fs::metadata(input.path).ok().map(|_| input))
        .filter_map(|input| identity(input.path).map(|id| (input, id)))
        .collect();
    let mut seen_outputs: Vec<(&Named<'_>, Identity)> = Vec::new();
    for output in outputs {
        let Some(id) = identity(output.path) else {
            continue;
        };
        if let Some((input, _)) = inputs.iter().find(|(_, input_id)| *input_id == id) {
            return Err(CliError::new(format!(
                "{} {}: is the same file as {} {}; an output never replaces an input",
                output.flag,
                output.path.display(),
                input.flag,
                input.path.display()
            )));
        }
        if let Some((other, _)) = seen_outputs.iter().find(|(_, other_id)| *other_id == id) {
            return Err(CliError::new(format!(
                "{} {}: is the same file as {} {}; give each output its own path",
                output.flag,
                output.path.display(),
                other.flag,
                other.path.display()
            )));
        }
        seen_outputs.push((output, id));
    }
    Ok(())
}

/// Fails now, rather than after a long run, when `path` cannot be written:
/// the path is not empty or a directory, its directory exists, and a file
/// can be created in it.
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
    // Most file systems allow 255 bytes a name; the probe below would not
    // notice a longer one, since its own name is short.
    if let Some(name) = path.file_name()
        && name.len() > 255
    {
        return Err(CliError::new(format!(
            "{flag}: the file name is {} bytes long, more than the 255 a file system allows",
            name.len()
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
    if let Ok(existing) = std::fs::metadata(path)
        && !existing.is_file()
    {
        return Err(CliError::new(format!(
            "{flag} {}: exists and is not a regular file",
            path.display()
        )));
    }
    // The file is written through a temporary file in the same directory
    // and renamed into place, so creating one there is the real test (a
    // read-only file system or directory fails here, even for root).
    tempfile::Builder::new()
        .prefix(".lintrain-probe.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            // The OS reason alone: tempfile's message names its probe file.
            let text = e.to_string();
            let reason = text.split(" at path ").next().unwrap_or(&text);
            CliError::new(format!(
                "{flag} {}: cannot write in the directory {}: {reason}",
                path.display(),
                dir.display()
            ))
        })
}

pub use lintrain::atomic_file::parent_dir;
