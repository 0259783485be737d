//! A [`ShardSet`] loaded whole into one f32 array, for data that fits the
//! memory budget: the file's bytes go straight into the array (f32 in this
//! machine's byte order) or through a scratch buffer of a few MiB (any
//! other dtype), never through a copy of the file.

use super::super::try_vec;
use super::convert::first_non_finite;
use super::shard_reader::ShardReader;
use super::shard_set::ShardSet;
use crate::Result;
use crate::limits::{self, MAX_TABLE_VALUES};
use ndarray::Array2;

/// Bytes per read (and of the scratch buffer for converted dtypes): large
/// enough for sequential reads at full speed, small enough to stay in
/// cache between the read and the finiteness check.
const PIECE_BYTES: usize = 4 << 20;

impl ShardSet {
    /// The whole table as one C-order f32 array, read without any
    /// intermediate copy of the file: f32 little-endian data is read
    /// straight into the array's memory, other dtypes are converted
    /// through a bounded scratch buffer (4 MiB). Reserved
    /// fallibly: memory the machine refuses is an error naming the file
    /// and the size. Non-finite values are an error naming the shard, the
    /// row (global and in the shard) and the column. Peak memory: the
    /// array plus O(MiB).
    ///
    /// At most [`MAX_TABLE_VALUES`] values (rows × features), the limit of
    /// every in-memory table; more is [`crate::Error::TooLarge`].
    pub fn load_resident(&self) -> Result<Array2<f32>> {
        self.load_rows(0..self.rows)
    }

    /// The rows `rows` of the table (global indices, across shards) as one
    /// C-order f32 array, read as [`ShardSet::load_resident`] reads the
    /// whole table: one rank's share of a data-parallel run. A range
    /// beyond the table is [`crate::Error::IndexOutOfRange`].
    pub fn load_rows(&self, range: std::ops::Range<usize>) -> Result<Array2<f32>> {
        if range.start > range.end || range.end > self.rows {
            return Err(crate::Error::IndexOutOfRange {
                position: 0,
                index: range.end,
                rows: self.rows,
            });
        }
        let first_row = range.start;
        let (rows, features) = (range.len(), self.features);
        let first = &self.shards[0].path;
        limits::check_product(
            format!(
                "the number of values (rows × features) of {}",
                first.display()
            ),
            rows as u64,
            features as u64,
            MAX_TABLE_VALUES,
        )?;
        let total = rows * features;
        let mut values: Vec<f32> = try_vec(
            first,
            total,
            &format!("its {rows} × {features} values as f32"),
        )?;
        let mut reader = ShardReader::new(self);
        let row_bytes = self.row_bytes();
        let piece_rows = (PIECE_BYTES / row_bytes).max(1);
        let native = self.element.is_native_f32();
        let mut scratch: Vec<u8> = Vec::new();
        let mut half_bits: Vec<u16> = Vec::new();
        let mut row = 0;
        while row < rows {
            let count = piece_rows.min(rows - row);
            let at_row = first_row + row;
            let start = values.len();
            // Zeroing a piece that the read then overwrites costs a pass
            // over cache-warm memory; reading into uninitialised memory
            // would need `unsafe`.
            values.resize(start + count * features, 0.0);
            let piece = &mut values[start..];
            if native {
                reader.read_rows(at_row, bytemuck::cast_slice_mut(piece))?;
            } else {
                scratch.resize(count * row_bytes, 0);
                reader.read_rows(at_row, &mut scratch)?;
                self.element.convert(&scratch, piece, &mut half_bits);
            }
            if let Some(at) = first_non_finite(piece) {
                let global = at_row + at / features;
                return Err(self.non_finite(global, at % features, piece[at]));
            }
            row += count;
        }
        Ok(Array2::from_shape_vec((rows, features), values)
            .expect("rows × features values were read"))
    }
}
