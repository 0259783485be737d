//! The rows a session's steps read, split by split: resident on the
//! backend and read through an order, or passed through a
//! [`DeviceRing`] block by block (rows streamed from disk, or host rows
//! larger than the device budget).
//!
//! Either way a pass is a sequence of steps of `batch` rows (the last one
//! shorter) over the pass's rows in the pass's order, and step `s` writes
//! its stats to slot `s`: the same steps, rows and slots, so the same bits.

use super::resident::Uploaded;
use super::step_plan::StepPlan;
use crate::Result;
use crate::backend::ring::{BlockFeed, DeviceRing, FeedOrder};
use crate::backend::{Backend, LinearStep, ResidentTargets};
use crate::config::TrainConfig;
use crate::loss::Loss;
use std::rc::Rc;

/// Whether `rows` rows of `features` f32 features take more than the
/// run's device budget, and so pass through a device ring.
pub(super) fn beyond_device_budget(config: &TrainConfig, rows: usize, features: usize) -> bool {
    config.device_budget.is_some_and(|budget| {
        (rows as u64)
            .saturating_mul(features as u64)
            .saturating_mul(4)
            > budget
    })
}

/// Bytes of one ring block for a run of `config`: a quarter of the device
/// budget (the ring has two slots, and a block is uploaded beside the one
/// that trains), at most 32 MiB, which keeps uploads large and the ring
/// small.
pub(super) fn ring_block_bytes(config: &TrainConfig) -> u64 {
    const MAX_BLOCK_BYTES: u64 = 32 << 20;
    config
        .device_budget
        .map_or(MAX_BLOCK_BYTES, |budget| (budget / 4).min(MAX_BLOCK_BYTES))
}

/// What every step reads besides its rows and the members' weights.
pub(super) struct StepModel<'a, B: Backend> {
    pub loss: &'a Loss,
    pub outputs: usize,
    pub class_weights: Option<&'a B::Buffer>,
}

/// Rows `order[first..first + rows]`, written to stats slot `slot`.
#[derive(Clone, Copy, Debug)]
pub(super) struct StepRows {
    pub first: usize,
    pub rows: usize,
    pub slot: usize,
}

/// The rows one step reads from: the rows, their targets, and the order.
pub(super) struct StepData<'a, B: Backend> {
    pub x: &'a B::Rows,
    pub labels: Option<&'a B::Indices>,
    pub values: Option<&'a B::Rows>,
    pub order: &'a B::Indices,
}

/// Records one step of a pass: its rows, the stats buffer, where it reads
/// and writes.
pub(super) type OnStep<'f, B> =
    dyn FnMut(&StepData<'_, B>, &mut <B as Backend>::Buffer, StepRows) -> Result<()> + 'f;

/// Records a fused step over `at` of `data` for every member in `params`,
/// with the gradient of the batch's mean data loss written to `grads` when
/// given (training steps). One member takes the single-model step, so that
/// a one-member session is exactly the single-model run.
pub(super) fn record_step<B: Backend>(
    backend: &B,
    model: &StepModel<'_, B>,
    data: &StepData<'_, B>,
    stats: &mut B::Buffer,
    at: StepRows,
    params: &[B::Buffer],
    grads: Option<&mut [B::Buffer]>,
) -> Result<()> {
    let targets = match (data.labels, data.values) {
        (Some(labels), _) => ResidentTargets::Classes {
            labels,
            class_weights: model.class_weights,
        },
        (None, Some(values)) => ResidentTargets::Values(values),
        (None, None) => unreachable!("a split has labels or values"),
    };
    let step = LinearStep {
        loss: model.loss,
        x: data.x,
        targets,
        indices: data.order,
        first: at.first,
        rows: at.rows,
        outputs: model.outputs,
    };
    match (params, grads) {
        ([params], Some([grads])) => backend.linear_step(step, params, Some(grads), stats, at.slot),
        ([params], None) => backend.linear_step(step, params, None, stats, at.slot),
        (params, grads) => backend.linear_step_members(step, params, grads, stats, at.slot),
    }
}

/// A split resident on the backend: its rows `subset` (all when `None`)
/// of the uploaded matrix, which the other split may read too.
pub(super) struct ResidentSplit<B: Backend> {
    pub data: Rc<Uploaded<B>>,
    pub subset: Option<Vec<u32>>,
    /// The rows the steps read, in order, as indices into the uploaded
    /// matrix: the epoch's order for training, every row of the split in
    /// turn for validation.
    pub order: B::Indices,
}

/// A split passed through a ring of device buffers: rows held on the host
/// ([`crate::backend::ring::HostFeed`]) or streamed from disk.
pub(super) struct RingSplit<'c, B: Backend> {
    pub ring: DeviceRing<B>,
    pub feed: Box<dyn BlockFeed + 'c>,
}

/// A split's rows on a backend, and the stats its steps write: step `s`
/// writes member `k`'s mean loss to `[2(s·K + k)]` and its correct count
/// to `[2(s·K + k) + 1]`, with K the members stepping.
pub(super) struct SplitRows<'c, B: Backend> {
    pub rows: SplitSource<'c, B>,
    pub stats: B::Buffer,
    /// Rows in a pass.
    pub len: usize,
}

pub(super) enum SplitSource<'c, B: Backend> {
    Resident(ResidentSplit<B>),
    Ring(RingSplit<'c, B>),
}

/// How a pass orders its rows.
#[derive(Clone, Debug)]
pub(super) enum PassOrder {
    /// The rows in this order (indices into the split), as a resident
    /// epoch reads them; `None` keeps the order a resident split holds
    /// (every row in turn, for validation).
    Given(Option<Vec<u32>>),
    /// A streamed split's own order for this epoch (`None`: file order).
    Streamed { epoch: Option<usize> },
}

impl<B: Backend> SplitRows<'_, B> {
    /// The order of training epoch `epoch` (1-based): the plan's, or a
    /// streamed split's own.
    pub fn epoch_order(&self, plan: StepPlan, seed: u64, epoch: usize) -> PassOrder {
        match &self.rows {
            SplitSource::Ring(ring) if ring.feed.orders_epochs() => {
                PassOrder::Streamed { epoch: Some(epoch) }
            }
            _ => PassOrder::Given(Some(plan.epoch_order(seed, epoch))),
        }
    }

    /// Whether the targets are class indices.
    pub fn has_classes(&self) -> bool {
        match &self.rows {
            SplitSource::Resident(split) => split.data.has_classes(),
            SplitSource::Ring(_) => true,
        }
    }

    /// One pass in steps of `batch` rows: `on_step` records each step.
    /// Returns the rows of each step.
    pub fn pass(
        &mut self,
        backend: &B,
        order: PassOrder,
        batch: usize,
        on_step: &mut OnStep<'_, B>,
    ) -> Result<Vec<usize>> {
        let stats = &mut self.stats;
        let mut rows_per_step = Vec::new();
        match &mut self.rows {
            SplitSource::Resident(split) => {
                let len = match order {
                    PassOrder::Given(Some(mut order)) => {
                        if let Some(subset) = &split.subset {
                            for row in &mut order {
                                *row = subset[*row as usize];
                            }
                        }
                        backend.write_indices(&mut split.order, &order)?;
                        order.len()
                    }
                    _ => self.len,
                };
                let (labels, values) = split.data.targets_parts();
                let data = StepData {
                    x: &split.data.x,
                    labels,
                    values,
                    order: &split.order,
                };
                let mut first = 0;
                while first < len {
                    let rows = batch.min(len - first);
                    let at = StepRows {
                        first,
                        rows,
                        slot: rows_per_step.len(),
                    };
                    on_step(&data, stats, at)?;
                    rows_per_step.push(rows);
                    first += rows;
                }
            }
            SplitSource::Ring(RingSplit { ring, feed }) => {
                let mut visit = |block: crate::backend::ring::DeviceBlock<'_, B>| {
                    let data = StepData {
                        x: block.x,
                        labels: Some(block.labels),
                        values: None,
                        order: block.order,
                    };
                    let mut first = 0;
                    while first < block.rows {
                        let rows = batch.min(block.rows - first);
                        let at = StepRows {
                            first,
                            rows,
                            slot: rows_per_step.len(),
                        };
                        on_step(&data, stats, at)?;
                        rows_per_step.push(rows);
                        first += rows;
                    }
                    Ok(())
                };
                let order = match order {
                    PassOrder::Given(Some(order)) => FeedOrder::Rows(order),
                    PassOrder::Streamed { epoch: Some(epoch) } => FeedOrder::Epoch(epoch),
                    PassOrder::Given(None) | PassOrder::Streamed { epoch: None } => {
                        FeedOrder::Sequential
                    }
                };
                let mut source = feed.blocks(order, ring.block_rows())?;
                ring.pass(backend, source.as_mut(), feed.labels(), &mut visit)?;
            }
        }
        Ok(rows_per_step)
    }
}
