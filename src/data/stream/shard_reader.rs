//! Reading runs of rows from a [`ShardSet`]'s files: one positioned read
//! per shard a run touches, each after checking (one `fstat` of the open
//! handle) that the shard is still the file the set was opened on.

use super::shard_set::{FileIdentity, ShardSet};
use crate::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Most shard files held open at once: enough for the chunks of a window
/// to come from several shards without reopening them, few enough for
/// thousands of shards to stay far below the process's file limit.
const OPEN_FILES: usize = 16;

/// Reads raw rows of a [`ShardSet`], keeping a few shard files open.
pub(super) struct ShardReader<'a> {
    set: &'a ShardSet,
    /// (shard index, handle), the most recently used last.
    open: Vec<(usize, File)>,
}

impl<'a> ShardReader<'a> {
    pub(super) fn new(set: &'a ShardSet) -> ShardReader<'a> {
        ShardReader {
            set,
            open: Vec::new(),
        }
    }

    /// Reads the stored bytes of global rows `first .. first + n` into
    /// `out`, where `out.len() == n × D × item size`: one read per shard
    /// the rows span.
    pub(super) fn read_rows(&mut self, first: usize, out: &mut [u8]) -> Result<()> {
        let row_bytes = self.set.row_bytes();
        debug_assert_eq!(out.len() % row_bytes, 0);
        let end = first + out.len() / row_bytes;
        let mut row = first;
        let mut at = 0;
        while row < end {
            let shard = self.set.shard_of(row);
            let info = &self.set.shards[shard];
            let piece_end = end.min(info.first_row + info.rows);
            let bytes = (piece_end - row) * row_bytes;
            let in_shard = (row - info.first_row) as u64;
            self.read_piece(shard, in_shard, &mut out[at..at + bytes])?;
            at += bytes;
            row = piece_end;
        }
        Ok(())
    }

    /// Reads `out.len()` bytes of shard `shard` from its row `in_shard`.
    fn read_piece(&mut self, shard: usize, in_shard: u64, out: &mut [u8]) -> Result<()> {
        let set = self.set;
        let record = &set.files[shard];
        let offset = record.data_offset + in_shard * set.row_bytes() as u64;
        let mut file = self.file(shard)?;
        let changed = |reason: String| {
            Error::file(
                &record.name,
                format!("{reason}; a shard must not change while it is read"),
            )
        };
        let now = file.metadata().map_err(|e| Error::io(&record.name, e))?;
        if let Some(change) = record.identity.change(&FileIdentity::of(&now)) {
            return Err(changed(change));
        }
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(out))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    changed("ended before its data did (it was cut short during the run)".into())
                }
                _ => Error::io(&record.name, e),
            })
    }

    /// The open handle of shard `shard`, opening it (and checking it is
    /// the file the set saw) when it is not among the open ones.
    fn file(&mut self, shard: usize) -> Result<&File> {
        if let Some(at) = self.open.iter().position(|(s, _)| *s == shard) {
            let entry = self.open.remove(at);
            self.open.push(entry);
        } else {
            let record = &self.set.files[shard];
            let path = &self.set.shards[shard].path;
            let file = File::open(path).map_err(|e| Error::io(&record.name, e))?;
            if self.open.len() == OPEN_FILES {
                self.open.remove(0);
            }
            self.open.push((shard, file));
        }
        Ok(&self.open.last().expect("just pushed").1)
    }
}
