//! The unit a stream hands over: a fixed-size buffer of rows, converted to
//! f32 (and standardized) by the reader thread, reused across blocks.

use super::super::try_vec;
use crate::Result;
use ndarray::Array2;
use std::path::Path;

/// A block of rows: `x` has `block_rows` rows (capacity) × features; its
/// first `rows` rows are filled (the rest hold whatever an earlier use
/// left); `row_ids[i]` is the global row index of row `i` (to look up
/// labels), so `row_ids.len() == rows`.
#[derive(Clone, Debug)]
pub struct Block {
    /// block_rows × D, C order; rows `rows..` are stale.
    pub x: Array2<f32>,
    /// The filled rows.
    pub rows: usize,
    /// The global row index of each filled row.
    pub row_ids: Vec<u32>,
}

impl Block {
    /// An empty block of `capacity` rows of `features` values, reserved
    /// fallibly (an error naming `path`, the data, when refused).
    pub(super) fn new(capacity: usize, features: usize, path: &Path) -> Result<Block> {
        let values = capacity.saturating_mul(features);
        let mut buffer = try_vec::<f32>(path, values, "a block of the stream")?;
        buffer.resize(values, 0.0);
        let x = Array2::from_shape_vec((capacity, features), buffer)
            .expect("the buffer has capacity × features values");
        Ok(Block {
            x,
            rows: 0,
            row_ids: try_vec(path, capacity, "the row indices of a block of the stream")?,
        })
    }

    /// Whether the block has the shape a stream of `capacity`-row blocks of
    /// `features` values hands out, so it can be reused.
    pub(super) fn fits(&self, capacity: usize, features: usize) -> bool {
        self.x.dim() == (capacity, features) && self.x.is_standard_layout()
    }

    /// Emptied for reuse.
    pub(super) fn clear(&mut self) {
        self.rows = 0;
        self.row_ids.clear();
    }

    /// The values of filled or next row `row`.
    pub(super) fn row_mut(&mut self, row: usize) -> &mut [f32] {
        let features = self.x.ncols();
        let values = self
            .x
            .as_slice_mut()
            .expect("a block's array is in standard layout");
        &mut values[row * features..(row + 1) * features]
    }
}
