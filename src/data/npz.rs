//! NumPy `.npz` archives (`numpy.savez`, stored, and `numpy.savez_compressed`,
//! deflated): a zip file of `.npy` arrays, one per key. The features are the
//! array [`LoadOptions::x_key`] and the labels [`LoadOptions::y_key`]; without
//! keys, an archive of one array is the features, and one of two arrays is
//! split by shape: the 1-D (or N×1 beside N×D) array is the labels.

use super::labels::RawLabels;
use super::{LoadOptions, Table, format_error, npy, numbered_names};
use crate::limits::{self, MAX_FILE_BYTES};
use crate::{Error, Result};
use std::borrow::Cow;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use zip::{CompressionMethod, ZipArchive};

/// One array of the archive.
struct Member {
    /// The key: the member's name without `.npy`.
    key: String,
    index: usize,
}

pub(crate) fn load(path: &Path, bytes: &[u8], options: &LoadOptions) -> Result<Table> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format_error(path, format!("is not a readable .npz (zip) archive: {e}")))?;
    let members: Vec<Member> = (0..archive.len())
        .filter_map(|index| {
            let name = archive.name_for_index(index)?;
            let key = name.strip_suffix(".npy").unwrap_or(name);
            (!name.ends_with('/')).then(|| Member {
                key: key.to_string(),
                index,
            })
        })
        .collect();
    if members.is_empty() {
        return Err(Error::EmptyData(format!(
            "{} is an .npz archive without arrays",
            path.display()
        )));
    }
    let listing = members
        .iter()
        .map(|m| format!("{:?}", m.key))
        .collect::<Vec<_>>()
        .join(", ");
    let find = |key: &str, flag: &str| {
        let key = key.strip_suffix(".npy").unwrap_or(key);
        members.iter().position(|m| m.key == key).ok_or_else(|| {
            format_error(
                path,
                format!("has no array {key:?} ({flag}); its arrays are {listing}"),
            )
        })
    };
    let given_x = options
        .x_key
        .as_deref()
        .map(|k| find(k, "--x-key"))
        .transpose()?;
    let wants_labels = options.labels_file.is_none();
    let given_y = match (&options.y_key, wants_labels) {
        (Some(key), true) => Some(find(key, "--y-key")?),
        _ => None,
    };
    let rest: Vec<usize> = (0..members.len())
        .filter(|&i| Some(i) != given_x && Some(i) != given_y)
        .collect();
    let choose = || {
        format_error(
            path,
            format!(
                "has {} arrays ({listing}); choose the features with --x-key and the labels \
                 with --y-key",
                members.len()
            ),
        )
    };

    let mut reader = MemberReader {
        path,
        bytes,
        archive: &mut archive,
        read: Vec::new(),
    };
    let (x, y) = match (given_x, given_y) {
        (Some(x), Some(y)) => (x, Some(y)),
        (Some(x), None) if !wants_labels => (x, None),
        (Some(x), None) => match rest[..] {
            [] => (x, None),
            [y] => (x, Some(y)),
            // Predicting needs no labels: the other arrays are left alone.
            _ if !options.labels_required => (x, None),
            _ => return Err(choose()),
        },
        (None, y) if y.is_some() || !wants_labels => match rest[..] {
            [x] => (x, y),
            [a, b] if y.is_none() => {
                // A labels file is given: the features are the 2-D array.
                let (a_shape, b_shape) = (reader.shape(&members[a])?, reader.shape(&members[b])?);
                match split_by_shape(&a_shape, &b_shape) {
                    Some(true) => (a, None),
                    Some(false) => (b, None),
                    None => return Err(choose()),
                }
            }
            _ => return Err(choose()),
        },
        (None, _) => match rest[..] {
            [x] => (x, None),
            [a, b] => {
                let (a_shape, b_shape) = (reader.shape(&members[a])?, reader.shape(&members[b])?);
                match split_by_shape(&a_shape, &b_shape) {
                    Some(true) => (a, Some(b)),
                    Some(false) => (b, Some(a)),
                    None => return Err(choose()),
                }
            }
            _ => return Err(choose()),
        },
    };

    let x_path = member_path(path, &members[x].key);
    let features = npy::read_features(&x_path, &reader.bytes(&members[x])?)?;
    let labels: Option<RawLabels> = match y {
        Some(y) => {
            let y_path = member_path(path, &members[y].key);
            Some(npy::read_labels(&y_path, &reader.bytes(&members[y])?)?)
        }
        None => None,
    };
    let feature_names = numbered_names("x", features.ncols());
    Ok(Table {
        features,
        labels,
        feature_names,
    })
}

/// `Some(true)` when `a` is the features and `b` the labels, `Some(false)`
/// for the other way round, `None` when the shapes do not say.
fn split_by_shape(a: &[usize], b: &[usize]) -> Option<bool> {
    let labels_rank = |s: &[usize]| match s {
        [_] => Some(1),
        [_, 1] => Some(2),
        _ => None,
    };
    match (a.len(), b.len(), labels_rank(a), labels_rank(b)) {
        // N×D beside N (or N×1): the 2-D one is the features.
        (2, _, None, Some(_)) => Some(true),
        (_, 2, Some(_), None) => Some(false),
        // N×1 beside N: one feature and its labels.
        (2, 1, Some(2), Some(1)) => Some(true),
        (1, 2, Some(1), Some(2)) => Some(false),
        _ => None,
    }
}

/// How errors name an array of the archive.
pub(crate) fn member_path(archive: &Path, key: &str) -> PathBuf {
    PathBuf::from(format!("{} (array {key:?})", archive.display()))
}

struct MemberReader<'a, 'b> {
    path: &'a Path,
    bytes: &'a [u8],
    archive: &'b mut ZipArchive<Cursor<&'a [u8]>>,
    /// Members read for their shape, kept so they are not decompressed twice.
    read: Vec<(usize, Cow<'a, [u8]>)>,
}

impl<'a> MemberReader<'a, '_> {
    /// The `.npy` bytes of `member`: borrowed from the archive when stored
    /// (`numpy.savez`), decompressed when deflated (`savez_compressed`), the
    /// declared size checked against [`MAX_FILE_BYTES`] before anything is
    /// allocated and the bytes read bounded by it.
    fn bytes(&mut self, member: &Member) -> Result<Cow<'a, [u8]>> {
        if let Some(at) = self.read.iter().position(|(i, _)| *i == member.index) {
            return Ok(self.read.swap_remove(at).1);
        }
        let path = member_path(self.path, &member.key);
        let zip_error =
            |e: zip::result::ZipError| format_error(&path, format!("cannot be read: {e}"));
        let mut file = self.archive.by_index(member.index).map_err(zip_error)?;
        let size = limits::check(
            format!("the size in bytes of {}", path.display()),
            file.size(),
            MAX_FILE_BYTES,
        )?;
        if file.compression() == CompressionMethod::Stored
            && let Some(start) = file.data_start()
        {
            let stored = usize::try_from(start)
                .ok()
                .and_then(|start| Some(start..start.checked_add(size as usize)?))
                .and_then(|range| self.bytes.get(range));
            return match stored {
                Some(stored) => Ok(Cow::Borrowed(stored)),
                None => Err(format_error(
                    &path,
                    "is cut short: the archive ends before its data (a truncated download?)",
                )),
            };
        }
        let mut data = Vec::new();
        data.try_reserve_exact(size as usize).map_err(|_| {
            Error::file(
                path.clone(),
                format!("cannot allocate {size} bytes to decompress it"),
            )
        })?;
        // The declared size bounds the read whatever the compressed stream
        // holds; one byte more tells a lying size apart.
        (&mut file)
            .take(size.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| format_error(&path, format!("cannot be decompressed: {e}")))?;
        if data.len() as u64 != size {
            return Err(format_error(
                &path,
                format!(
                    "decompresses to {} bytes, not the {size} its zip entry declares",
                    data.len()
                ),
            ));
        }
        Ok(Cow::Owned(data))
    }

    fn shape(&mut self, member: &Member) -> Result<Vec<usize>> {
        let path = member_path(self.path, &member.key);
        let bytes = self.bytes(member)?;
        let shape = npy::shape(&path, &bytes)?;
        self.read.push((member.index, bytes));
        Ok(shape)
    }
}
