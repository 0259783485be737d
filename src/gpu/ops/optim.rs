//! The fused optimizer update (shaders/optim.wgsl): one pass adds the
//! regularizer's gradient (W only), updates the optimizer state and the
//! parameter, for every parameter. The formulas are stated on
//! [`Optimizer`]; per-step scalars come from [`UpdateStep::scalars`].

use crate::Result;
use crate::backend::check_extent;
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, u32_of};
use crate::gpu::shader_modules;
use crate::optimizer::{Optimizer, STATE_SLOTS, UpdateStep};
use bytemuck::{Pod, Zeroable};

/// `UpdateParams` of shaders/optim.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct UpdateParams {
    pub(crate) len: u32,
    pub(crate) weight_len: u32,
    pub(crate) first_step: u32,
    pub(crate) flags: u32,
    pub(crate) lr: f32,
    pub(crate) step_size: f32,
    pub(crate) bias_correction2_sqrt: f32,
    pub(crate) decay_factor: f32,
    pub(crate) momentum: f32,
    pub(crate) dampening: f32,
    pub(crate) alpha: f32,
    pub(crate) eps: f32,
    pub(crate) beta1: f32,
    pub(crate) beta2: f32,
    pub(crate) l1: f32,
    pub(crate) l2: f32,
}

/// Bits of `UpdateParams::flags` (the same names in optim.wgsl): RMSprop
/// centered, Adam's AMSGrad, AdamW's decoupled decay.
pub(crate) const CENTERED: u32 = 1;
pub(crate) const AMSGRAD: u32 = 2;
pub(crate) const DECOUPLED_DECAY: u32 = 4;

/// Values of the `KIND` override (the same names in optim.wgsl).
pub(crate) const SGD: u32 = 0;
pub(crate) const MOMENTUM: u32 = 1;
pub(crate) const NESTEROV: u32 = 2;
pub(crate) const ADAGRAD: u32 = 3;
pub(crate) const RMSPROP: u32 = 4;
/// Adam and AdamW (by [`DECOUPLED_DECAY`]).
pub(crate) const ADAM: u32 = 5;

/// Invocations per workgroup (the `WG` override), one parameter each.
pub(crate) const WORKGROUP: u32 = 256;

pub(crate) const UPDATE: EntryPoint = EntryPoint {
    module: shader_modules::OPTIM,
    entry: "update",
    storage: &[
        (1, Access::ReadWrite),
        (2, Access::Read),
        (3, Access::ReadWrite),
    ],
};

/// The `KIND` code of `optimizer`, with its hyperparameters and flags
/// written into `uniform`.
fn kind_of(optimizer: &Optimizer, uniform: &mut UpdateParams) -> u32 {
    match *optimizer {
        Optimizer::Sgd => SGD,
        Optimizer::Momentum {
            momentum,
            dampening,
        } => {
            uniform.momentum = momentum;
            uniform.dampening = dampening;
            MOMENTUM
        }
        Optimizer::Nesterov { momentum } => {
            uniform.momentum = momentum;
            NESTEROV
        }
        Optimizer::Adagrad { eps, .. } => {
            uniform.eps = eps;
            ADAGRAD
        }
        Optimizer::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        } => {
            uniform.alpha = alpha;
            uniform.eps = eps;
            uniform.momentum = momentum;
            uniform.flags = if centered { CENTERED } else { 0 };
            RMSPROP
        }
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            amsgrad,
        } => {
            uniform.beta1 = beta1;
            uniform.beta2 = beta2;
            uniform.eps = eps;
            uniform.flags = if amsgrad { AMSGRAD } else { 0 };
            ADAM
        }
        Optimizer::AdamW {
            beta1,
            beta2,
            eps,
            amsgrad,
            ..
        } => {
            uniform.beta1 = beta1;
            uniform.beta2 = beta2;
            uniform.eps = eps;
            uniform.flags = (if amsgrad { AMSGRAD } else { 0 }) | DECOUPLED_DECAY;
            ADAM
        }
    }
}

/// Records one update of every parameter and its state (`state` holds
/// [`STATE_SLOTS`] × len values), with the regularizer's gradient added for
/// the first `step.weight_len` entries.
pub(crate) fn call_update(
    device: &Device,
    params: &GpuBuffer,
    grads: &GpuBuffer,
    state: &GpuBuffer,
    step: &UpdateStep,
) -> Result<()> {
    let op = "update";
    let len = params.len;
    check_extent(op, "gradients", 0, len, grads.len)?;
    check_extent(op, "optimizer state", 0, STATE_SLOTS * len, state.len)?;
    check_extent(op, "weights", 0, step.weight_len, len)?;
    let scalars = step.scalars();
    let (l1, l2) = step.regularizer.coefficients();
    let mut uniform = UpdateParams {
        len: u32_of(op, "parameters", len)?,
        weight_len: step.weight_len as u32,
        first_step: (step.step <= 1) as u32,
        flags: 0,
        lr: step.learning_rate,
        step_size: scalars.step_size,
        bias_correction2_sqrt: scalars.bias_correction2_sqrt,
        decay_factor: scalars.decay_factor,
        momentum: 0.0,
        dampening: 0.0,
        alpha: 0.0,
        eps: 0.0,
        beta1: 0.0,
        beta2: 0.0,
        l1,
        l2,
    };
    let kind = kind_of(&step.optimizer, &mut uniform);
    let max = device.limits().max_compute_workgroups_per_dimension;
    let groups = (len as u32).div_ceil(WORKGROUP);
    let workgroups = if groups > max {
        [max, groups.div_ceil(max), 1]
    } else {
        [groups, 1, 1]
    };
    device.dispatch(
        &UPDATE,
        &[("KIND", kind), ("WG", WORKGROUP)],
        &uniform,
        &[&params.buffer, &grads.buffer, &state.buffer],
        workgroups,
    )
}
