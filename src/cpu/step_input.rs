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
    pub params: &'a [f32],
    /// The outputs are this many blocks of `outputs / members` columns,
    /// the models of a sweep side by side, each block its own loss (1 for
    /// one model; only the tile step takes more).
    pub members: usize,
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
