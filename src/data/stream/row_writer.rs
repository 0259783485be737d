//! One stored row into one row of a block: converted to f32, standardized
//! when the pass is, and checked for non-finite values, in one pass over
//! the row where the stored type allows ([`RowKernels`]).

use super::convert::{ElementType, first_non_finite};
use super::row_kernels::RowKernels;
use super::shard_set::ShardSet;
use crate::Result;
use crate::data::Standardizer;

/// Writes stored rows of one [`ShardSet`] as f32 block rows.
pub(super) struct RowWriter {
    element: ElementType,
    kernels: RowKernels,
    /// The standardizer's mean and std, when there is one.
    scale: Option<(Vec<f32>, Vec<f32>)>,
    /// Scratch for half precision, grown to a row once.
    half_bits: Vec<u16>,
    /// A row of values, for the rare row whose results are not all finite.
    check_scratch: Vec<f32>,
}

impl RowWriter {
    pub(super) fn new(set: &ShardSet, standardizer: Option<&Standardizer>) -> RowWriter {
        RowWriter {
            element: set.element,
            kernels: RowKernels::detect(),
            scale: standardizer.map(|s| (s.mean.to_vec(), s.std.to_vec())),
            half_bits: Vec::new(),
            check_scratch: Vec::new(),
        }
    }

    /// Writes the stored row `raw` (global row `row` of `set`) into `out`:
    /// `out[j] = (x_j − mean[j]) / std[j]` with a standardizer (the
    /// expression of [`Standardizer::apply_in_place`], so the bits of a
    /// standardized resident copy), else `x_j`, where `x_j` is the stored
    /// value as the resident loader converts it.
    ///
    /// Errors: the first non-finite stored value of the row, named by
    /// shard, row and column ([`ShardSet::non_finite`]). A result that only
    /// standardizing made non-finite (a finite value over a tiny std) is
    /// written as it is, as standardizing resident data would.
    pub(super) fn write(
        &mut self,
        set: &ShardSet,
        raw: &[u8],
        row: u32,
        out: &mut [f32],
    ) -> Result<()> {
        let kernels = self.kernels;
        let scale = self
            .scale
            .as_ref()
            .map(|(m, s)| (m.as_slice(), s.as_slice()));
        let finite = match (self.element.is_native_f32(), scale) {
            (true, None) => kernels.copy_native_f32(raw, out),
            (true, Some(scale)) => kernels.standardize_native_f32(raw, scale, out),
            (false, None) => {
                self.element.convert(raw, out, &mut self.half_bits);
                kernels.all_finite(out)
            }
            (false, Some(scale)) => {
                self.element.convert(raw, out, &mut self.half_bits);
                kernels.standardize_in_place(out, scale)
            }
        };
        if finite {
            Ok(())
        } else {
            self.check_stored_values(set, raw, row)
        }
    }

    /// Makes the rows written so far visible to another thread: call before
    /// handing their block over.
    pub(super) fn finish_stores(&self) {
        self.kernels.finish_stores();
    }

    /// The error for the first non-finite stored value of the row `raw`
    /// (global row `row`), as converted to f32; `Ok` when every one is
    /// finite.
    fn check_stored_values(&mut self, set: &ShardSet, raw: &[u8], row: u32) -> Result<()> {
        let values = &mut self.check_scratch;
        values.resize(set.features, 0.0);
        self.element.convert(raw, values, &mut self.half_bits);
        match first_non_finite(values) {
            Some(column) => Err(set.non_finite(row as usize, column, values[column])),
            None => Ok(()),
        }
    }
}
