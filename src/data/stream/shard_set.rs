//! The shards of one dataset on disk, checked from their headers alone:
//! one `.npy` file, a glob or directory of `.npy` shards, or one stored
//! member of an `.npz` archive. Rows are numbered 0..N across the shards
//! in their sorted order.

use super::super::format::NPY_MAGIC;
use super::super::format_error;
use super::convert::ElementType;
use super::npy_layout::{NpyLayout, read_layout};
use super::npz_archive::NpzArchive;
use super::shard_spec::{SpecFiles, resolve};
use crate::{Error, Result};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The checked shards of one dataset on disk: `.npy` files (f32, f16 or
/// f64, and the integer and boolean types the resident loader reads, in
/// either byte order, C order, 2-D) or one uncompressed member of an
/// `.npz`.
///
/// Every shard has the same feature count D and the same dtype; shard `s`
/// holds the global rows `first_row .. first_row + rows`. Opening reads only
/// the headers; each shard's size, modification time and identity are
/// kept, so a reader can tell a shard that changed during the run.
#[derive(Debug)]
pub struct ShardSet {
    pub(super) shards: Vec<ShardInfo>,
    pub(super) files: Vec<ShardFile>,
    pub(super) features: usize,
    pub(super) element: ElementType,
    pub(super) rows: usize,
    /// The features member's key when the set is one array of an `.npz`.
    pub(super) npz_key: Option<String>,
}

/// One shard: its file, and the global rows it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    /// The `.npy` file, or the `.npz` archive holding the array.
    pub path: PathBuf,
    /// The global index of its first row.
    pub first_row: usize,
    /// Its rows.
    pub rows: usize,
}

/// Where a shard's data lies, and what its file looked like when opened.
#[derive(Clone, Debug)]
pub(super) struct ShardFile {
    /// How errors name it: the path, or `archive.npz (array "x")`.
    pub(super) name: PathBuf,
    /// Byte offset of row 0 in the file.
    pub(super) data_offset: u64,
    pub(super) identity: FileIdentity,
}

/// What can tell that a file changed: its size and modification time, and
/// on Unix the device and inode (a file replaced by another of the same
/// size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FileIdentity {
    pub(super) len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    device_inode: (u64, u64),
}

impl FileIdentity {
    pub(super) fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            device_inode: (metadata.dev(), metadata.ino()),
        }
    }

    /// How `now` differs from `self` (as seen when the set was opened), in
    /// words, or `None` when it does not.
    pub(super) fn change(&self, now: &FileIdentity) -> Option<String> {
        if now.len != self.len {
            return Some(format!(
                "changed size during the run ({} bytes when opened, {} now)",
                self.len, now.len
            ));
        }
        if now.modified != self.modified {
            return Some("was modified during the run (its modification time changed)".into());
        }
        #[cfg(unix)]
        if now.device_inode != self.device_inode {
            return Some("was replaced by another file during the run".into());
        }
        None
    }
}

/// A shard's header, read and checked on its own.
struct OpenedShard {
    name: PathBuf,
    path: PathBuf,
    layout: NpyLayout,
    element: ElementType,
    rows: usize,
    features: usize,
    data_offset: u64,
    identity: FileIdentity,
}

impl ShardSet {
    /// `spec`: a `.npy` file, a glob such as `emb/x_*.npy` (matched files
    /// in sorted order), a directory (its `*.npy` files in sorted order),
    /// or an `.npz` (the member `x_key` names, else the only 2-D array; the
    /// member must be stored, not deflated: a `numpy.savez_compressed`
    /// archive cannot be read in chunks, so that is a clear error saying to
    /// use `numpy.savez` or `.npy`). Reads only headers.
    ///
    /// Each check is one [`Error::Format`] (or [`Error::File`] from the
    /// system) naming the shard: feature counts or dtypes that differ from
    /// the first shard's, Fortran order, an array that is not 2-D, a file
    /// shorter or longer than its header says, a gzip file; an empty set is
    /// [`Error::EmptyData`]. More than 2³² − 1 rows in all is
    /// [`Error::TooLarge`] (rows are numbered by `u32`).
    pub fn open(spec: &Path, x_key: Option<&str>) -> Result<ShardSet> {
        let (opened, npz_key) = match resolve(spec)? {
            SpecFiles::One(path) => {
                let magic = read_magic(&path)?;
                if is_zip(&magic) {
                    let (shard, key) = open_npz_member(&path, x_key)?;
                    (vec![shard], Some(key))
                } else {
                    refuse_key(&path, x_key)?;
                    (vec![open_npy(&path, &magic)?], None)
                }
            }
            SpecFiles::Set(paths) => {
                refuse_key(spec, x_key)?;
                let mut shards = Vec::with_capacity(paths.len());
                for path in &paths {
                    let magic = read_magic(path)?;
                    if is_zip(&magic) {
                        return Err(format_error(
                            path,
                            "is an .npz archive; a glob or directory of shards takes .npy \
                             files (give one .npz on its own)",
                        ));
                    }
                    shards.push(open_npy(path, &magic)?);
                }
                (shards, None)
            }
        };
        ShardSet::from_shards(spec, opened, npz_key)
    }

    fn from_shards(
        spec: &Path,
        opened: Vec<OpenedShard>,
        npz_key: Option<String>,
    ) -> Result<ShardSet> {
        let first = &opened[0];
        let (features, element) = (first.features, first.element);
        let mut shards = Vec::with_capacity(opened.len());
        let mut files = Vec::with_capacity(opened.len());
        let mut rows = 0usize;
        for shard in &opened {
            if shard.features != features {
                return Err(format_error(
                    &shard.name,
                    format!(
                        "has {} features (shape {}) but the first shard {} has {features}; \
                         every shard must have the same features",
                        shard.features,
                        shard.layout.shape_text(),
                        first.name.display()
                    ),
                ));
            }
            if shard.element != element {
                return Err(format_error(
                    &shard.name,
                    format!(
                        "has dtype {:?} ({}) but the first shard {} has {:?} ({}); every shard \
                         must have the same dtype",
                        shard.layout.descr,
                        shard.element.describe(),
                        first.name.display(),
                        first.layout.descr,
                        element.describe()
                    ),
                ));
            }
            shards.push(ShardInfo {
                path: shard.path.clone(),
                first_row: rows,
                rows: shard.rows,
            });
            files.push(ShardFile {
                name: shard.name.clone(),
                data_offset: shard.data_offset,
                identity: shard.identity.clone(),
            });
            rows = rows.saturating_add(shard.rows);
        }
        if rows == 0 {
            return Err(Error::EmptyData(format!(
                "{} has no rows ({} shards of 0 rows)",
                spec.display(),
                shards.len()
            )));
        }
        crate::limits::check(
            format!(
                "the number of rows of {} (row indices are u32)",
                spec.display()
            ),
            rows as u64,
            u32::MAX as u64,
        )?;
        Ok(ShardSet {
            shards,
            files,
            features,
            element,
            rows,
            npz_key,
        })
    }

    /// N, the rows of all shards together.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// D, the values per row.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The shards in order, each with its first global row.
    pub fn shards(&self) -> &[ShardInfo] {
        &self.shards
    }

    /// Bytes per stored value (4 for f32, 2 for f16, 8 for f64).
    pub fn item_size(&self) -> usize {
        self.element.size()
    }

    /// Bytes of the whole table as f32: rows × features × 4.
    pub fn f32_bytes(&self) -> u64 {
        (self.rows as u64)
            .saturating_mul(self.features as u64)
            .saturating_mul(4)
    }

    /// A one-line description: `3 shards, 2,000,000 × 768 f32`,
    /// `1 file, 60,000 × 784 u8`, `array "x" of an .npz, 1,000 × 10 f16`.
    pub fn describe(&self) -> String {
        let what = match (&self.npz_key, self.shards.len()) {
            (Some(key), _) => format!("array {key:?} of an .npz"),
            (None, 1) => "1 file".to_string(),
            (None, count) => format!("{} shards", thousands(count as u64)),
        };
        format!(
            "{what}, {} × {} {}",
            thousands(self.rows as u64),
            thousands(self.features as u64),
            self.element.describe()
        )
    }

    /// The shard holding global row `row` (< N).
    pub(super) fn shard_of(&self, row: usize) -> usize {
        self.shards.partition_point(|s| s.first_row + s.rows <= row)
    }

    /// The error for a non-finite `value` at global row `row`, column
    /// `column`, naming the shard and the row in it.
    pub(super) fn non_finite(&self, row: usize, column: usize, value: f32) -> Error {
        let shard = self.shard_of(row);
        let in_shard = row - self.shards[shard].first_row;
        format_error(
            &self.files[shard].name,
            format!(
                "non-finite value {value} at row {in_shard} of this shard (row {row} of the \
                 data), column {column} (0-based)"
            ),
        )
    }

    /// Bytes of one stored row: D × item size.
    pub(super) fn row_bytes(&self) -> usize {
        self.features * self.element.size()
    }
}

/// `1234567` as `1,234,567`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn is_zip(magic: &[u8]) -> bool {
    magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06")
}

fn refuse_key(path: &Path, x_key: Option<&str>) -> Result<()> {
    match x_key {
        Some(key) => Err(format_error(
            path,
            format!(
                "--x-key {key:?} chooses an array of an .npz archive, but this is not one; \
                 leave --x-key out"
            ),
        )),
        None => Ok(()),
    }
}

/// The first bytes of `path` (fewer when the file is shorter), refusing
/// anything but a regular file.
fn read_magic(path: &Path) -> Result<Vec<u8>> {
    let file = open_regular(path)?.0;
    let mut magic = Vec::with_capacity(8);
    file.take(8)
        .read_to_end(&mut magic)
        .map_err(|e| Error::io(path, e))?;
    Ok(magic)
}

/// `path` opened for reading, and what it is, refusing anything but a
/// regular file (a FIFO or device could not be read by offset).
fn open_regular(path: &Path) -> Result<(File, FileIdentity)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let metadata = file.metadata().map_err(|e| Error::io(path, e))?;
    if !metadata.is_file() {
        return Err(Error::file(
            path,
            "is not a regular file; give .npy files, a glob of them or their directory",
        ));
    }
    Ok((file, FileIdentity::of(&metadata)))
}

fn open_npy(path: &Path, magic: &[u8]) -> Result<OpenedShard> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        return Err(format_error(
            path,
            "is gzip-compressed, which cannot be read in chunks; decompress it first (gunzip)",
        ));
    }
    if !magic.starts_with(NPY_MAGIC) {
        return Err(format_error(
            path,
            "is not a NumPy .npy file (bad magic); streamed data must be .npy files or a \
             stored .npz",
        ));
    }
    let (mut file, identity) = open_regular(path)?;
    let layout = read_layout(&mut file, path)?;
    layout.check_size(path, identity.len)?;
    checked_shard(path, path, layout, 0, identity)
}

fn open_npz_member(path: &Path, x_key: Option<&str>) -> Result<(OpenedShard, String)> {
    let identity = open_regular(path)?.1;
    let archive = NpzArchive::open(path)?;
    let member = archive.features_member(x_key)?;
    let name = member.name(path);
    if !member.stored {
        return Err(format_error(
            &name,
            "is compressed (numpy.savez_compressed), which cannot be read in chunks; save the \
             arrays with numpy.savez (stored) or as .npy files",
        ));
    }
    member.layout.check_size(&name, member.size)?;
    let shard = checked_shard(&name, path, member.layout.clone(), member.start, identity)?;
    Ok((shard, member.key.clone()))
}

/// The shard of a checked layout, if its shape and dtype can be streamed.
fn checked_shard(
    name: &Path,
    path: &Path,
    layout: NpyLayout,
    array_start: u64,
    identity: FileIdentity,
) -> Result<OpenedShard> {
    let (rows, features) = match layout.shape[..] {
        [rows, features] => (rows, features),
        _ => {
            return Err(format_error(
                name,
                format!(
                    "has shape {}; features must be a 2-D array, rows × features{}",
                    layout.shape_text(),
                    if layout.shape.len() == 1 {
                        " (for one feature save x.reshape(-1, 1))"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };
    if layout.fortran_order {
        return Err(format_error(
            name,
            "is in Fortran (column-major) order, which cannot be read a row at a time; save \
             it in C order (numpy.ascontiguousarray)",
        ));
    }
    if features == 0 {
        return Err(Error::EmptyData(format!(
            "{} has {rows} rows and 0 features",
            name.display()
        )));
    }
    let element = ElementType::from_descr(layout.kind, layout.item_size, layout.big_endian)
        .ok_or_else(|| {
            format_error(
                name,
                format!(
                    "has dtype {:?}, strings; features must be numbers",
                    layout.descr
                ),
            )
        })?;
    Ok(OpenedShard {
        name: name.to_path_buf(),
        path: path.to_path_buf(),
        data_offset: array_start + layout.header_bytes,
        layout,
        element,
        rows,
        features,
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_counts_are_written_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
