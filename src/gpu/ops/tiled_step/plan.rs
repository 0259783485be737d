//! The shape of one tiled step: how the weight gradient is split along the
//! batch, how many invocations reduce a loss row, and the workgroup counts
//! of each dispatch, checked against the adapter before anything records.

use crate::{Error, Result};

/// Rows per split of the weight gradient before the split count is capped.
pub(crate) const SPLIT_ROWS: usize = 256;
/// The most splits of the weight gradient.
pub(crate) const MAX_SPLITS: usize = 16;
/// The most values all splits' partial gradients may hold (16 MiB of f32),
/// so that a wide model takes fewer splits rather than more memory.
pub(crate) const PARTIAL_VALUES: usize = 1 << 22;
/// Invocations per side of a GEMM workgroup (`SIDE` in tiled_gemm.wgsl).
pub(crate) const GEMM_SIDE: u32 = 16;
/// Outputs per invocation along each side (`PER`).
pub(crate) const PER: usize = 4;
/// Output rows and columns of one GEMM workgroup (`TILE` in tiled_gemm.wgsl).
pub(crate) const TILE: usize = GEMM_SIDE as usize * PER;
/// Invocations per workgroup of `tiled_reduce_grads` (its `REDUCE_WG`).
pub(crate) const REDUCE_WORKGROUP: u32 = 256;
/// Invocations of `tiled_stats`, and the most of `tiled_loss` (`MAX_WG`).
pub(crate) const MAX_LOSS_WORKGROUP: u32 = 256;
/// The fewest invocations of `tiled_loss`.
const MIN_LOSS_WORKGROUP: u32 = 64;

/// How the batch of `rows` rows is split for the weight gradient: `splits`
/// runs of `split_rows` rows (the last may be shorter, none is empty).
///
/// A function of the step's shape alone, never of the device, so that the
/// gradient, a sum of the splits' partials in split order, is the same
/// everywhere: `⌈rows / SPLIT_ROWS⌉` splits, at most [`MAX_SPLITS`] and at
/// most as many D×C partials as [`PARTIAL_VALUES`] holds (at least one).
pub(crate) fn weight_splits(rows: usize, d: usize, c: usize) -> (usize, usize) {
    let by_memory = (PARTIAL_VALUES / (d * c).max(1)).max(1);
    let wanted = rows
        .div_ceil(SPLIT_ROWS)
        .clamp(1, MAX_SPLITS.min(by_memory));
    let split_rows = rows.div_ceil(wanted).max(1);
    (rows.div_ceil(split_rows).max(1), split_rows)
}

/// Invocations reducing one loss row of `c` outputs: the smallest power of
/// two holding the row, between 64 and 256.
pub(crate) fn loss_workgroup(c: usize) -> u32 {
    let wanted = u32::try_from(c.next_power_of_two()).unwrap_or(u32::MAX);
    wanted.clamp(MIN_LOSS_WORKGROUP, MAX_LOSS_WORKGROUP)
}

/// Workgroup counts of the step's dispatches.
pub(crate) struct Plan {
    pub(crate) splits: usize,
    pub(crate) split_rows: usize,
    pub(crate) loss_workgroup: u32,
    pub(crate) scores: [u32; 3],
    pub(crate) loss: [u32; 3],
    pub(crate) weight_grad: [u32; 3],
    /// With one split the weight-gradient kernel writes dW itself and the
    /// reduction writes db only, from this value on.
    pub(crate) reduce_from: usize,
    pub(crate) reduce: [u32; 3],
}

impl Plan {
    /// The plan of a step of `rows` rows, `d` features and `c` outputs, or
    /// the error naming the dispatch that exceeds `max_per_dimension`
    /// workgroups.
    pub(crate) fn new(rows: usize, d: usize, c: usize, max_per_dimension: u32) -> Result<Self> {
        let (splits, split_rows) = weight_splits(rows, d, c);
        let max = max_per_dimension as usize;
        let count = |what: &str, n: usize| -> Result<u32> {
            if n > max {
                return Err(Error::ShapeMismatch {
                    op: "linear_step",
                    detail: format!(
                        "{what} needs {n} workgroups, the adapter allows {max} per dimension"
                    ),
                });
            }
            Ok(n as u32)
        };
        let columns = count("the score columns", c.div_ceil(TILE))?;
        let reduce_from = if splits > 1 { 0 } else { d * c };
        let reduced = (d * c + c - reduce_from).div_ceil(REDUCE_WORKGROUP as usize);
        Ok(Self {
            splits,
            split_rows,
            loss_workgroup: loss_workgroup(c),
            scores: [columns, count("the score rows", rows.div_ceil(TILE))?, 1],
            // Both kernels loop over what one dispatch cannot cover.
            loss: [rows.min(max) as u32, 1, 1],
            weight_grad: [
                columns,
                count("the features", d.div_ceil(TILE))?,
                count("the splits", splits)?,
            ],
            reduce_from,
            reduce: [reduced.min(max) as u32, 1, 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_the_batch_without_an_empty_one() {
        for &(d, c) in &[(1, 1), (7, 10), (768, 100), (768, 1000), (4097, 1003)] {
            for rows in [1, 2, 7, 65, 255, 256, 257, 1000, 4096, 5000, 100_000] {
                let (splits, split_rows) = weight_splits(rows, d, c);
                assert!((1..=MAX_SPLITS).contains(&splits), "{rows} rows: {splits}");
                assert!(splits * split_rows >= rows, "{rows} rows uncovered");
                assert!((splits - 1) * split_rows < rows, "{rows} rows: empty split");
                if splits > 1 {
                    assert!(splits * d * c <= PARTIAL_VALUES, "{rows} rows: partials");
                }
            }
        }
    }

    #[test]
    fn splits_follow_the_rows() {
        assert_eq!(weight_splits(256, 768, 100), (1, 256));
        assert_eq!(weight_splits(257, 768, 100), (2, 129));
        assert_eq!(weight_splits(1000, 768, 100), (4, 250));
        // 768 × 1000 partials: at most 5 fit the budget.
        assert_eq!(weight_splits(4096, 768, 1000).0, 5);
        // A partial as large as the budget: one split, written directly.
        assert_eq!(weight_splits(4096, 4097, 1003), (1, 4096));
    }

    #[test]
    fn loss_workgroups_are_powers_of_two_from_64_to_256() {
        assert_eq!(loss_workgroup(1), 64);
        assert_eq!(loss_workgroup(100), 128);
        assert_eq!(loss_workgroup(129), 256);
        assert_eq!(loss_workgroup(1003), 256);
    }
}
