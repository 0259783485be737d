//! The input checks both backends make before anything is recorded, so
//! that they reject the same inputs with the same errors. Ranges of labels
//! and indices are checked against the maximum the host tracks; only when
//! that bound fails are the values read, to name the offending row.

use super::{Backend, LinearStep, MatmulSpec, ResidentTargets, check_extent};
use crate::loss::Loss;
use crate::{Error, Result};

/// A label buffer as the loss check sees it: its length, the largest value
/// the host tracks for it (an upper bound: a gather on the device keeps its
/// source's), and a way to read it when that bound fails, to find the
/// first offending row or to learn that none of the checked rows offends.
pub struct LabelBound<'a> {
    pub len: usize,
    pub max: Option<u32>,
    pub read: &'a dyn Fn() -> Result<Vec<u32>>,
}

/// Lengths of a loss's targets: labels, class weights, real-valued targets.
pub type TargetLens<'a> = (Option<LabelBound<'a>>, Option<usize>, Option<usize>);

pub fn matmul(spec: &MatmulSpec, a_len: usize, b_len: usize, out_len: usize) -> Result<()> {
    let MatmulSpec { m, k, n, .. } = *spec;
    if m == 0 || k == 0 || n == 0 {
        return Err(Error::ShapeMismatch {
            op: "matmul",
            detail: format!("empty dimension in {m}×{k} · {k}×{n}"),
        });
    }
    check_extent("matmul", "A", spec.a_offset, m * k, a_len)?;
    check_extent("matmul", "B", spec.b_offset, k * n, b_len)?;
    check_extent("matmul", "output", spec.out_offset, m * n, out_len)?;
    if let Some(bias) = spec.bias_offset {
        check_extent("matmul", "bias", bias, n, b_len)?;
    }
    Ok(())
}

/// How many classes a label may name with `cols` score columns: one per
/// column for softmax and the hinge losses (which need at least two),
/// two for a single-output MSE or logistic model.
pub fn label_classes(loss: &Loss, cols: usize) -> Result<usize> {
    match loss {
        Loss::MeanSquaredError | Loss::Logistic => Ok(cols.max(2)),
        _ if cols < 2 => Err(Error::ShapeMismatch {
            op: "loss",
            detail: format!(
                "the {} loss needs at least 2 score columns, got {cols}",
                loss.name()
            ),
        }),
        _ => Ok(cols),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn loss(
    loss: &Loss,
    rows: usize,
    cols: usize,
    scores_len: usize,
    targets: TargetLens,
    dscores_len: usize,
    row_loss_len: usize,
    stats_len: usize,
    slot: usize,
) -> Result<()> {
    let op = "loss";
    if rows == 0 || cols == 0 {
        return Err(Error::ShapeMismatch {
            op,
            detail: format!("empty scores {rows}×{cols}"),
        });
    }
    check_extent(op, "scores", 0, rows * cols, scores_len)?;
    check_extent(op, "dscores", 0, rows * cols, dscores_len)?;
    check_extent(op, "row loss", 0, rows, row_loss_len)?;
    check_extent(op, "stats", slot.saturating_mul(2), 2, stats_len)?;
    let (labels, weights, values) = targets;
    if let Some(labels) = labels {
        check_extent(op, "labels", 0, rows, labels.len)?;
        let classes = label_classes(loss, cols)?;
        if !within(labels.max, classes) {
            let values = (labels.read)()?;
            if let Some((row, label)) = first_at_or_above(&values[..rows], classes) {
                return Err(Error::LabelOutOfRange {
                    row,
                    label: label as usize,
                    classes,
                });
            }
        }
    }
    if let Some(len) = weights {
        check_extent(op, "class weights", 0, cols, len)?;
    }
    if let Some(len) = values {
        check_extent(op, "targets", 0, rows * cols, len)?;
    }
    Ok(())
}

/// The checks of [`Backend::linear_step`], made by every backend (and by
/// [`super::unfused_linear_step`]) before any work: a non-empty step; room
/// for the parameters, the gradient and the stats slot; the step's indices
/// `indices[first..first + rows]` inside the index buffer and each naming a
/// dataset row; and the targets those rows read: each label below the
/// classes the loss can name with `outputs` columns (with class weights for
/// every column), or real-valued targets of the dataset's shape for a loss
/// that takes them.
///
/// Only the step's own indices and labels are checked, and an error names
/// the real place: [`Error::IndexOutOfRange`] the position in the index
/// buffer, [`Error::LabelOutOfRange`] the dataset row whose label it is.
pub fn linear_step<B: Backend + ?Sized>(
    backend: &B,
    step: &LinearStep<'_, B>,
    params: &B::Buffer,
    grads: Option<&B::Buffer>,
    stats: &B::Buffer,
    slot: usize,
) -> Result<()> {
    let op = "linear_step";
    let (dataset_rows, d) = backend.rows_shape(step.x);
    let (rows, c) = (step.rows, step.outputs);
    if rows == 0 || c == 0 || d == 0 {
        return Err(Error::ShapeMismatch {
            op,
            detail: format!("empty step of {rows} rows × {d} features × {c} outputs"),
        });
    }
    step_buffers(backend, step, params, grads, stats, slot)?;
    batch_indices(op, backend, step.indices, step.first, rows, dataset_rows)?;
    match &step.targets {
        ResidentTargets::Classes {
            labels,
            class_weights,
        } => {
            check_extent(op, "labels", 0, dataset_rows, backend.indices_len(labels))?;
            if let Some(weights) = class_weights {
                check_extent(op, "class weights", 0, c, backend.len(weights))?;
            }
            let classes = label_classes(step.loss, c)?;
            batch_labels(backend, labels, step.indices, step.first, rows, classes)
        }
        ResidentTargets::Values(values) => {
            if !step.loss.takes_real_targets() {
                return Err(Error::InvalidConfig(format!(
                    "the {} loss needs class labels, not real-valued targets",
                    step.loss.name()
                )));
            }
            let (value_rows, value_cols) = backend.rows_shape(values);
            if (value_rows, value_cols) != (dataset_rows, c) {
                return Err(Error::ShapeMismatch {
                    op,
                    detail: format!(
                        "targets are {value_rows}×{value_cols} but the step needs {dataset_rows}×{c}"
                    ),
                });
            }
            Ok(())
        }
    }
}

/// Room for a step's parameters `[W | b]`, its gradient and its stats
/// slot: what [`linear_step`] checks of the model's own buffers, and all
/// that differs between the members of a sweep step over the same rows.
pub fn step_buffers<B: Backend + ?Sized>(
    backend: &B,
    step: &LinearStep<'_, B>,
    params: &B::Buffer,
    grads: Option<&B::Buffer>,
    stats: &B::Buffer,
    slot: usize,
) -> Result<()> {
    let op = "linear_step";
    let (d, c) = (backend.rows_shape(step.x).1, step.outputs);
    check_extent(op, "params", 0, d * c + c, backend.len(params))?;
    if let Some(grads) = grads {
        check_extent(op, "gradients", 0, d * c + c, backend.len(grads))?;
    }
    // Saturated: a slot past any buffer is refused, not an overflow.
    check_extent(op, "stats", slot.saturating_mul(2), 2, backend.len(stats))
}

/// A sweep step's member count: at least one member, and one gradient
/// buffer per member when gradients are asked for.
pub fn members(params: usize, grads: Option<usize>) -> Result<usize> {
    if params == 0 {
        return Err(Error::ShapeMismatch {
            op: "linear_step_members",
            detail: "a sweep step needs at least one member".into(),
        });
    }
    match grads {
        Some(grads) if grads != params => Err(Error::ShapeMismatch {
            op: "linear_step_members",
            detail: format!("{params} members' parameters but {grads} gradient buffers"),
        }),
        _ => Ok(params),
    }
}

/// Member `k`'s stats slot in a members step at slot `slot` of `members`:
/// `slot·K + k`, saturated, so that a slot past any stats buffer is
/// refused as out of it rather than overflowing.
pub fn member_slot(slot: usize, members: usize, k: usize) -> usize {
    slot.saturating_mul(members).saturating_add(k)
}

/// The checks of [`Backend::linear_step_members`] before any work: the
/// member count ([`members`]); the rows, indices and labels once, as member
/// 0's [`linear_step`] checks them; then what differs per member, its
/// buffers and stats slot ([`step_buffers`]). The member count.
pub fn members_step<B: Backend + ?Sized>(
    backend: &B,
    step: &LinearStep<'_, B>,
    params: &[B::Buffer],
    grads: Option<&[B::Buffer]>,
    stats: &B::Buffer,
    slot: usize,
) -> Result<usize> {
    let members = members(params.len(), grads.map(|g| g.len()))?;
    let grads_of = |k: usize| grads.map(|g| &g[k]);
    let slot_of = |k: usize| member_slot(slot, members, k);
    linear_step(backend, step, &params[0], grads_of(0), stats, slot_of(0))?;
    for (k, params) in params.iter().enumerate().skip(1) {
        step_buffers(backend, step, params, grads_of(k), stats, slot_of(k))?;
    }
    Ok(members)
}

/// One parameter, gradient and state buffer and one update step per member
/// of [`Backend::update_members`]; the member count.
pub fn member_updates(params: usize, grads: usize, states: usize, steps: usize) -> Result<usize> {
    if params == grads && params == states && params == steps {
        Ok(params)
    } else {
        Err(Error::ShapeMismatch {
            op: "update_members",
            detail: format!(
                "{params} members' parameters, {grads} gradients, {states} optimizer states and {steps} update steps"
            ),
        })
    }
}

/// `indices[first..first + count]` lies inside the index buffer and each of
/// those indices names one of `source_rows` rows. Indices outside that
/// range are not looked at.
pub fn batch_indices<B: Backend + ?Sized>(
    op: &'static str,
    backend: &B,
    indices: &B::Indices,
    first: usize,
    count: usize,
    source_rows: usize,
) -> Result<()> {
    check_extent(op, "indices", first, count, backend.indices_len(indices))?;
    if within(backend.indices_max(indices), source_rows) {
        return Ok(());
    }
    let values = backend.read_indices(indices)?;
    match first_at_or_above(&values[first..first + count], source_rows) {
        Some((offset, index)) => Err(Error::IndexOutOfRange {
            position: first + offset,
            index: index as usize,
            rows: source_rows,
        }),
        None => Ok(()),
    }
}

/// Each label the step reads, `labels[indices[first + r]]` for r < `count`,
/// is below `classes`. Expects [`batch_indices`] to have passed.
fn batch_labels<B: Backend + ?Sized>(
    backend: &B,
    labels: &B::Indices,
    indices: &B::Indices,
    first: usize,
    count: usize,
    classes: usize,
) -> Result<()> {
    if within(backend.indices_max(labels), classes) {
        return Ok(());
    }
    let (labels, indices) = (
        backend.read_indices(labels)?,
        backend.read_indices(indices)?,
    );
    let bad = indices[first..first + count]
        .iter()
        .map(|&row| (row as usize, labels[row as usize]))
        .find(|&(_, label)| label as usize >= classes);
    match bad {
        Some((row, label)) => Err(Error::LabelOutOfRange {
            row,
            label: label as usize,
            classes,
        }),
        None => Ok(()),
    }
}

/// Whether a buffer whose largest value is at most `max` holds only values
/// below `limit` (an empty buffer does).
fn within(max: Option<u32>, limit: usize) -> bool {
    max.is_none_or(|max| (max as usize) < limit)
}

/// The first value at or above `limit`, with its offset.
fn first_at_or_above(values: &[u32], limit: usize) -> Option<(usize, u32)> {
    values
        .iter()
        .copied()
        .enumerate()
        .find(|&(_, value)| value as usize >= limit)
}
