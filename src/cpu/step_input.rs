//! What both fused CPU steps ([`super::dot_step`], [`super::tile_step`])
//! take: the validated step, its targets, and scratch that grows without
//! aborting.

use super::reference::RowTarget;
use super::simd::Isa;
use crate::loss::Loss;
use crate::{Error, Result};

/// The first `len` values of `buffer`, grown when shorter; a growth the
/// allocator refuses is an [`Error::OutOfMemory`] instead of an abort.
pub(crate) fn grown<'b>(
    buffer: &'b mut Vec<f32>,
    len: usize,
    what: &'static str,
) -> Result<&'b mut [f32]> {
    if buffer.len() < len {
        buffer
            .try_reserve_exact(len - buffer.len())
            .map_err(|_| Error::OutOfMemory {
                what,
                bytes: (len as u64).saturating_mul(4),
            })?;
        buffer.resize(len, 0.0);
    }
    Ok(&mut buffer[..len])
}

/// What the step's rows are compared against, indexed by dataset row.
#[derive(Clone, Copy)]
pub(crate) enum StepTargets<'a> {
    Classes {
        labels: &'a [u32],
        class_weights: Option<&'a [f32]>,
    },
    Values(&'a [f32]),
}

/// A validated step: `x` is the whole dataset (rows × `features`), `indices`
/// the step's rows (all in range), `params` = [W | b].
pub(crate) struct FusedStep<'a> {
    pub isa: Isa,
    pub loss: &'a Loss,
    pub x: &'a [f32],
    pub features: usize,
    pub outputs: usize,
    pub indices: &'a [u32],
    pub targets: StepTargets<'a>,
    pub params: StepParams<'a>,
    /// The outputs are this many blocks of `outputs / members` columns,
    /// the models of a sweep side by side, each block its own loss (1 for
    /// one model; only the tile step takes more).
    pub members: usize,
}

/// Where a step's weights and bias are.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StepParams<'a> {
    /// `[W (D×C) | b (C)]` of one model.
    Joined(&'a [f32]),
    /// The members of a sweep, member k's `[W_k (D×C_k) | b_k]` in
    /// `members[k]` (every C_k = C / K), and their biases side by side
    /// (`bias`, C values): the tile step packs W's panels straight from
    /// the members, with no side-by-side copy of W.
    Members {
        members: &'a [Vec<f32>],
        bias: &'a [f32],
    },
}

impl<'a> StepParams<'a> {
    /// The bias of the C outputs.
    pub fn bias(&self, d: usize, c: usize) -> &'a [f32] {
        match *self {
            StepParams::Joined(params) => &params[d * c..d * c + c],
            StepParams::Members { bias, .. } => &bias[..c],
        }
    }

    /// Values `columns` of W's row `row` (C columns in all), copied to
    /// `out` (as long as the range): for members, from each member's own
    /// row, block by block.
    pub fn copy_row(&self, row: usize, c: usize, columns: std::ops::Range<usize>, out: &mut [f32]) {
        match *self {
            StepParams::Joined(params) => {
                out.copy_from_slice(&params[row * c + columns.start..row * c + columns.end]);
            }
            StepParams::Members { members, .. } => {
                let block = c / members.len();
                let mut j = columns.start;
                while j < columns.end {
                    let (k, at) = (j / block, j % block);
                    let n = (block - at).min(columns.end - j);
                    let from = row * block + at;
                    out[j - columns.start..j - columns.start + n]
                        .copy_from_slice(&members[k][from..from + n]);
                    j += n;
                }
            }
        }
    }
}

/// What dataset row `row` is compared against.
pub(crate) fn row_target(targets: StepTargets<'_>, row: usize, c: usize) -> RowTarget<'_, f32> {
    match targets {
        StepTargets::Classes {
            labels,
            class_weights,
        } => {
            let label = labels[row];
            RowTarget::Class {
                label,
                weight: class_weights
                    .and_then(|w| w.get(label as usize).copied())
                    .unwrap_or(1.0),
            }
        }
        StepTargets::Values(values) => RowTarget::Values(&values[row * c..(row + 1) * c]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_the_allocator_refuses_is_an_error_not_an_abort() {
        let mut buffer = vec![1.0f32; 3];
        match grown(&mut buffer, usize::MAX / 2, "a test buffer") {
            Err(Error::OutOfMemory { what, .. }) => assert_eq!(what, "a test buffer"),
            other => panic!("expected OutOfMemory, got {:?}", other.map(|b| b.len())),
        }
        assert_eq!(grown(&mut buffer, 5, "a test buffer").unwrap().len(), 5);
    }
}
