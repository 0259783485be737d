//! The arrays of an `.npz` archive as streaming sees them: where each
//! stored member's data lies in the archive file, read from the zip
//! directory and each member's `.npy` header only.
//!
//! Only a stored member (`numpy.savez`) can be read in chunks, by offset;
//! a deflated one (`numpy.savez_compressed`) can only be decompressed from
//! its start, so it is refused as features (labels, small, are read whole
//! either way).

use super::super::npz::member_path;
use super::super::{format_error, try_vec};
use super::npy_layout::{NpyLayout, read_layout};
use crate::limits::{self, MAX_FILE_BYTES};
use crate::{Error, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use zip::{CompressionMethod, ZipArchive};

/// One array of the archive.
#[derive(Clone, Debug)]
pub(super) struct Member {
    /// The key: the member's name without `.npy`.
    pub(super) key: String,
    index: usize,
    /// Stored uncompressed, so its data can be read by offset.
    pub(super) stored: bool,
    /// Where the member's bytes (the `.npy` file) start in the archive.
    pub(super) start: u64,
    /// The member's size uncompressed, in bytes.
    pub(super) size: u64,
    pub(super) layout: NpyLayout,
}

impl Member {
    /// `archive.npz (array "x")`, as the resident loader names a member.
    pub(super) fn name(&self, archive: &Path) -> PathBuf {
        member_path(archive, &self.key)
    }
}

/// An open `.npz` archive and its members' layouts.
pub(super) struct NpzArchive {
    path: PathBuf,
    zip: ZipArchive<BufReader<File>>,
    pub(super) members: Vec<Member>,
}

impl NpzArchive {
    /// Reads the zip directory and each member's `.npy` header.
    pub(super) fn open(path: &Path) -> Result<NpzArchive> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
            format_error(path, format!("is not a readable .npz (zip) archive: {e}"))
        })?;
        let mut members = Vec::new();
        for index in 0..zip.len() {
            let Some(name) = zip.name_for_index(index) else {
                continue;
            };
            if name.ends_with('/') {
                continue;
            }
            let key = name.strip_suffix(".npy").unwrap_or(name).to_string();
            let shown = member_path(path, &key);
            let mut entry = zip
                .by_index(index)
                .map_err(|e| format_error(&shown, format!("cannot be read: {e}")))?;
            let stored = entry.compression() == CompressionMethod::Stored;
            let size = entry.size();
            let layout = read_layout(&mut entry, &shown)?;
            let start = entry.data_start().unwrap_or(u64::MAX);
            if stored && start.checked_add(size).is_none_or(|end| end > file_len) {
                return Err(format_error(
                    &shown,
                    "is cut short: the archive ends before its data (a truncated download?)",
                ));
            }
            members.push(Member {
                key,
                index,
                stored,
                start,
                size,
                layout,
            });
        }
        if members.is_empty() {
            return Err(Error::EmptyData(format!(
                "{} is an .npz archive without arrays",
                path.display()
            )));
        }
        Ok(NpzArchive {
            path: path.to_path_buf(),
            zip,
            members,
        })
    }

    fn listing(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{:?}", m.key))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn find(&self, key: &str, flag: &str) -> Result<&Member> {
        let key = key.strip_suffix(".npy").unwrap_or(key);
        self.members.iter().find(|m| m.key == key).ok_or_else(|| {
            format_error(
                &self.path,
                format!(
                    "has no array {key:?} ({flag}); its arrays are {}",
                    self.listing()
                ),
            )
        })
    }

    /// The features: the member `x_key` names, else the only 2-D array.
    pub(super) fn features_member(&self, x_key: Option<&str>) -> Result<&Member> {
        if let Some(key) = x_key {
            return self.find(key, "--x-key");
        }
        let mut two_d = self.members.iter().filter(|m| m.layout.shape.len() == 2);
        match (two_d.next(), two_d.next()) {
            (Some(member), None) => Ok(member),
            (None, _) => Err(format_error(
                &self.path,
                format!(
                    "has no 2-D array (rows × features) among its arrays {}",
                    self.listing()
                ),
            )),
            (Some(_), Some(_)) => Err(format_error(
                &self.path,
                format!(
                    "has several 2-D arrays ({}); choose the features with --x-key",
                    self.listing()
                ),
            )),
        }
    }

    /// The labels: the member `y_key` names, else the only 1-D array (or,
    /// without one, the only N×1 array) other than the features `x_key`.
    pub(super) fn labels_member(&self, y_key: Option<&str>, x_key: &str) -> Result<&Member> {
        if let Some(key) = y_key {
            return self.find(key, "--y-key");
        }
        let others = || self.members.iter().filter(|m| m.key != x_key);
        let one_d: Vec<&Member> = others().filter(|m| m.layout.shape.len() == 1).collect();
        let column: Vec<&Member> = others()
            .filter(|m| matches!(m.layout.shape[..], [_, 1]))
            .collect();
        match (&one_d[..], &column[..]) {
            ([member], _) | ([], [member]) => Ok(member),
            ([], []) => Err(format_error(
                &self.path,
                format!(
                    "no labels: the archive has no 1-D array beside the features {x_key:?} \
                     (its arrays are {}); name the labels array with --y-key or give a labels \
                     file with --labels",
                    self.listing()
                ),
            )),
            _ => Err(format_error(
                &self.path,
                format!(
                    "has several arrays that could be the labels ({}); choose one with --y-key",
                    self.listing()
                ),
            )),
        }
    }

    /// The whole `.npy` bytes of `member` (decompressed when deflated),
    /// its size checked against [`MAX_FILE_BYTES`] and reserved fallibly
    /// before reading.
    pub(super) fn read_member(&mut self, member: &Member) -> Result<Vec<u8>> {
        let shown = member.name(&self.path);
        let size = limits::check(
            format!("the size in bytes of {}", shown.display()),
            member.size,
            MAX_FILE_BYTES,
        )?;
        let mut bytes: Vec<u8> = try_vec(&shown, size as usize, "its bytes")?;
        let entry = self
            .zip
            .by_index(member.index)
            .map_err(|e| format_error(&shown, format!("cannot be read: {e}")))?;
        // One byte more than declared tells a lying size apart.
        entry
            .take(size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| format_error(&shown, format!("cannot be read: {e}")))?;
        if bytes.len() as u64 != size {
            return Err(format_error(
                &shown,
                format!(
                    "holds {} bytes, not the {size} its zip entry declares",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }
}
