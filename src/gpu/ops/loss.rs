//! The unfused loss kernels (shaders/loss_common.wgsl with
//! softmax_xent.wgsl, hinge.wgsl or regression.wgsl): one workgroup writes
//! dScores and the row losses and reduces the batch's mean loss and correct
//! count. See [`Loss`] for the formulas.

use super::DeviceHandles;
use crate::backend::checks::{self, LabelBound};
use crate::backend::{LossOutputs, Targets};
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, u32_of};
use crate::gpu::shader_modules;
use crate::loss::Loss;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// `LossParams` of shaders/loss_common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct LossParams {
    pub(crate) rows: u32,
    pub(crate) cols: u32,
    pub(crate) slot: u32,
    pub(crate) flags: u32,
    pub(crate) margin: f32,
    pub(crate) smoothing: f32,
    pub(crate) inv_rows: f32,
    pub(crate) pad: u32,
}

/// Bits of `LossParams::flags` (the same names in loss_common.wgsl).
pub(crate) const HAS_CLASS_WEIGHTS: u32 = 1;
/// `aux` holds real-valued targets, not class weights.
pub(crate) const REAL_TARGETS: u32 = 2;
/// The hinge is squared.
pub(crate) const SQUARED: u32 = 4;

const BINDINGS: &[(u32, Access)] = &[
    (1, Access::Read),
    (2, Access::Read),
    (3, Access::Read),
    (4, Access::ReadWrite),
    (5, Access::ReadWrite),
    (6, Access::ReadWrite),
];

pub(crate) const SOFTMAX_CROSS_ENTROPY: EntryPoint = EntryPoint {
    module: shader_modules::SOFTMAX_XENT,
    entry: "softmax_cross_entropy",
    storage: BINDINGS,
};
/// Hinge and squared hinge (by [`SQUARED`]).
pub(crate) const HINGE: EntryPoint = EntryPoint {
    module: shader_modules::HINGE,
    entry: "hinge",
    storage: BINDINGS,
};
pub(crate) const MEAN_SQUARED_ERROR: EntryPoint = EntryPoint {
    module: shader_modules::REGRESSION,
    entry: "mean_squared_error",
    storage: BINDINGS,
};
pub(crate) const LOGISTIC: EntryPoint = EntryPoint {
    module: shader_modules::REGRESSION,
    entry: "logistic",
    storage: BINDINGS,
};

fn entry_point(loss: &Loss) -> &'static EntryPoint {
    match loss {
        Loss::SoftmaxCrossEntropy { .. } => &SOFTMAX_CROSS_ENTROPY,
        Loss::Hinge { .. } | Loss::SquaredHinge { .. } => &HINGE,
        Loss::MeanSquaredError => &MEAN_SQUARED_ERROR,
        Loss::Logistic => &LOGISTIC,
    }
}

/// Records the loss of `scores` (rows × cols) against `targets` into `out`,
/// after checking every length and label bound.
pub(crate) fn call_loss<B: DeviceHandles + ?Sized>(
    device: &Device,
    loss: &Loss,
    scores: &GpuBuffer,
    targets: Targets<'_, B>,
    (rows, cols): (usize, usize),
    out: LossOutputs<'_, B>,
) -> Result<()> {
    let read_labels = || match &targets {
        Targets::Classes { labels, .. } => Ok(bytemuck::pod_collect_to_vec(
            &device.read_bytes(&labels.buffer, labels.len)?,
        )),
        Targets::Values(_) => Ok(Vec::new()),
    };
    let shape_of_targets = match &targets {
        Targets::Classes {
            labels,
            class_weights,
        } => (
            Some(LabelBound {
                len: labels.len,
                max: labels.max,
                read: &read_labels,
            }),
            class_weights.map(|w| w.len),
            None,
        ),
        Targets::Values(values) => (None, None, Some(values.len)),
    };
    checks::loss(
        loss,
        rows,
        cols,
        scores.len,
        shape_of_targets,
        out.dscores.len,
        out.row_loss.len,
        out.stats.len,
        out.slot,
    )?;
    let op = "loss";
    let (labels, aux, mut flags) = match targets {
        Targets::Classes {
            labels,
            class_weights: Some(weights),
        } => (&labels.buffer, &weights.buffer, HAS_CLASS_WEIGHTS),
        Targets::Classes { labels, .. } => (&labels.buffer, device.unused_input(), 0),
        Targets::Values(values) => {
            if !loss.takes_real_targets() {
                return Err(Error::InvalidConfig(format!(
                    "the {} loss needs class labels, not real-valued targets",
                    loss.name()
                )));
            }
            (device.unused_input(), &values.buffer, REAL_TARGETS)
        }
    };
    let (margin, smoothing) = match *loss {
        Loss::SoftmaxCrossEntropy { label_smoothing } => (0.0, label_smoothing),
        Loss::Hinge { margin } => (margin, 0.0),
        Loss::SquaredHinge { margin } => {
            flags |= SQUARED;
            (margin, 0.0)
        }
        Loss::MeanSquaredError | Loss::Logistic => (0.0, 0.0),
    };
    let params = LossParams {
        rows: u32_of(op, "rows", rows)?,
        cols: u32_of(op, "cols", cols)?,
        slot: u32_of(op, "slot", out.slot)?,
        flags,
        margin,
        smoothing,
        inv_rows: 1.0 / rows as f32,
        pad: 0,
    };
    device.dispatch(
        entry_point(loss),
        &[],
        &params,
        &[
            &scores.buffer,
            labels,
            aux,
            &out.dscores.buffer,
            &out.row_loss.buffer,
            &out.stats.buffer,
        ],
        [1, 1, 1],
    )
}
