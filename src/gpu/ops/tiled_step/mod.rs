//! The tiled linear step (`Backend::linear_step`) for wide models, on any
//! adapter: scores = X[idx]·W + b and dW = X[idx]ᵀ·dS as register-tiled
//! shared-memory GEMMs that gather the batch's rows through the step's
//! indices as they load them (shaders/tiled_gemm.wgsl, with vec4 loads
//! where D and C are multiples of 4), the loss with a workgroup per row
//! (tiled_loss.wgsl, its rows reduced with subgroup operations where the
//! device has them, else in workgroup memory: [`TiledLoss`]), and dW summed
//! from per-split partials in split order with db the column sums of dS in
//! row order (tiled_reduce.wgsl). No float atomics, and no sum whose order
//! depends on scheduling, so that a step gives the same bits on every run;
//! scratch is pooled ([`TiledScratch`]), so a warm step allocates nothing.

pub(crate) mod plan;
mod scratch;

use plan::{MAX_LOSS_WORKGROUP, Plan};
pub(crate) use scratch::TiledScratch;

use super::DeviceHandles;
use super::gather;
use super::loss_codes::loss_code;
use crate::Result;
use crate::backend::{LinearStep, ResidentTargets};
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, TiledLoss, u32_of};
use crate::gpu::shader_modules;
use bytemuck::{Pod, Zeroable};

/// `TiledParams` of shaders/tiled_common.wgsl, shared by every kernel of
/// the step.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct TiledParams {
    pub(crate) rows: u32,
    pub(crate) d: u32,
    pub(crate) c: u32,
    pub(crate) first: u32,
    pub(crate) chunk_rows: u32,
    pub(crate) flags: u32,
    pub(crate) slot: u32,
    pub(crate) splits: u32,
    pub(crate) split_rows: u32,
    pub(crate) reduce_from: u32,
    pub(crate) margin: f32,
    pub(crate) smoothing: f32,
    pub(crate) inv_rows: f32,
    pub(crate) pad0: u32,
    pub(crate) pad1: u32,
    pub(crate) pad2: u32,
}

/// Bits of `TiledParams::flags` (the same names in tiled_common.wgsl).
pub(crate) const HAS_CLASS_WEIGHTS: u32 = 1;
/// The targets are real values, gathered into scratch before the loss.
pub(crate) const REAL_TARGETS: u32 = 2;
/// The batch's rows were gathered into scratch first: the dataset spans
/// more chunk buffers than the kernels bind.
pub(crate) const GATHERED: u32 = 4;

/// Chunk buffers of the dataset the GEMM kernels bind (`chunk0` to `chunk3`).
pub(crate) const CHUNKS: usize = 4;

const CHUNK_BINDINGS: [(u32, Access); CHUNKS] = [
    (1, Access::Read),
    (2, Access::Read),
    (3, Access::Read),
    (4, Access::Read),
];

const SCORES_BINDINGS: &[(u32, Access)] = &[
    CHUNK_BINDINGS[0],
    CHUNK_BINDINGS[1],
    CHUNK_BINDINGS[2],
    CHUNK_BINDINGS[3],
    (5, Access::Read),
    (7, Access::Read),
    (8, Access::ReadWrite),
];
const WEIGHT_GRAD_BINDINGS: &[(u32, Access)] = &[
    CHUNK_BINDINGS[0],
    CHUNK_BINDINGS[1],
    CHUNK_BINDINGS[2],
    CHUNK_BINDINGS[3],
    (5, Access::Read),
    (15, Access::Read),
    (16, Access::ReadWrite),
];

/// scores = X[idx]·W + b, with scalar loads.
pub(crate) const SCORES: EntryPoint = EntryPoint {
    module: shader_modules::TILED_GEMM,
    entry: "tiled_scores",
    storage: SCORES_BINDINGS,
};
/// The same with vec4 loads, for D and C multiples of 4.
pub(crate) const SCORES_VEC4: EntryPoint = EntryPoint {
    module: shader_modules::TILED_GEMM_VEC4,
    ..SCORES
};
/// dS, each row's loss and correct flag, a workgroup per row reduced in
/// workgroup memory.
pub(crate) const LOSS: EntryPoint = EntryPoint {
    module: shader_modules::TILED_LOSS,
    entry: "tiled_loss",
    storage: &[
        (5, Access::Read),
        (6, Access::Read),
        (9, Access::Read),
        (10, Access::Read),
        (11, Access::ReadWrite),
        (12, Access::ReadWrite),
    ],
};
/// The same, each row reduced with subgroup operations.
pub(crate) const LOSS_SUBGROUP: EntryPoint = EntryPoint {
    module: shader_modules::TILED_LOSS_SUBGROUP,
    ..LOSS
};
/// The batch's mean loss and correct count into the stats slot.
pub(crate) const STATS: EntryPoint = EntryPoint {
    module: shader_modules::TILED_LOSS,
    entry: "tiled_stats",
    storage: &[(13, Access::Read), (14, Access::ReadWrite)],
};
/// Each split's partial X[idx]ᵀ·dS (or dW itself with one split), with
/// scalar loads.
pub(crate) const WEIGHT_GRAD: EntryPoint = EntryPoint {
    module: shader_modules::TILED_GEMM,
    entry: "tiled_weight_grad",
    storage: WEIGHT_GRAD_BINDINGS,
};
/// The same with vec4 loads, for D and C multiples of 4.
pub(crate) const WEIGHT_GRAD_VEC4: EntryPoint = EntryPoint {
    module: shader_modules::TILED_GEMM_VEC4,
    ..WEIGHT_GRAD
};
/// dW from the partials in split order, db from dS in row order.
pub(crate) const REDUCE_GRADS: EntryPoint = EntryPoint {
    module: shader_modules::TILED_LOSS,
    entry: "tiled_reduce_grads",
    storage: &[
        (15, Access::Read),
        (17, Access::Read),
        (18, Access::ReadWrite),
    ],
};

/// Records the step. The caller has made the checks every backend makes
/// ([`crate::backend::checks::linear_step`]), which bound every index and
/// label the kernels read; the kernels keep wgpu's bounds checks besides.
pub(crate) fn call_tiled_step<B: DeviceHandles + ?Sized>(
    device: &Device,
    scratch: &mut TiledScratch,
    step: &LinearStep<'_, B>,
    params: &GpuBuffer,
    grads: Option<&mut GpuBuffer>,
    stats: &GpuBuffer,
    slot: usize,
) -> Result<()> {
    let op = "linear_step";
    let (d, c, rows) = (step.x.cols, step.outputs, step.rows);
    u32_of(op, "first", step.first + rows)?;
    u32_of(op, "gradient values", d * c + c)?;
    let plan = Plan::new(
        rows,
        d,
        c,
        device.limits().max_compute_workgroups_per_dimension,
    )?;
    let mut flags = 0;

    // The dataset's rows, read in place from up to CHUNKS chunk buffers.
    let gathered = step.x.chunks.len() > CHUNKS;
    let chunks: [wgpu::Buffer; CHUNKS] = if gathered {
        flags |= GATHERED;
        let batch = scratch
            .batch
            .at_least(device, "tiled step rows", rows * d)?;
        gather::call_gather(
            device,
            step.x,
            None,
            step.indices,
            (step.first, rows),
            batch,
        )?;
        std::array::from_fn(|_| batch.buffer.clone())
    } else {
        let chunks = &step.x.chunks;
        std::array::from_fn(|i| chunks.get(i).unwrap_or(&chunks[0]).clone())
    };
    let chunk_rows = if gathered { rows } else { step.x.chunk_rows };

    let (labels, aux) = match &step.targets {
        ResidentTargets::Classes {
            labels,
            class_weights,
        } => {
            let aux = match class_weights {
                Some(weights) => {
                    flags |= HAS_CLASS_WEIGHTS;
                    weights.buffer.clone()
                }
                None => device.unused_input().clone(),
            };
            (labels.buffer.clone(), aux)
        }
        ResidentTargets::Values(values) => {
            flags |= REAL_TARGETS;
            let targets = scratch
                .targets
                .at_least(device, "tiled step targets", rows * c)?;
            gather::call_gather(
                device,
                values,
                None,
                step.indices,
                (step.first, rows),
                targets,
            )?;
            (device.unused_input().clone(), targets.buffer.clone())
        }
    };

    let scores = scratch
        .scores
        .at_least(device, "tiled step scores", rows * c)?
        .buffer
        .clone();
    let dscores = scratch
        .dscores
        .at_least(device, "tiled step dscores", rows * c)?
        .buffer
        .clone();
    let row_stats = scratch
        .row_stats
        .at_least(device, "tiled step row stats", 2 * rows)?
        .buffer
        .clone();
    let (loss_kind, margin, smoothing) = loss_code(step.loss);
    let uniform = TiledParams {
        rows: u32_of(op, "rows", rows)?,
        d: u32_of(op, "features", d)?,
        c: u32_of(op, "outputs", c)?,
        first: u32_of(op, "first", step.first)?,
        chunk_rows: u32_of(op, "chunk rows", chunk_rows)?,
        flags,
        slot: u32_of(op, "slot", slot)?,
        splits: plan.splits as u32,
        split_rows: u32_of(op, "split rows", plan.split_rows)?,
        reduce_from: plan.reduce_from as u32,
        margin,
        smoothing,
        inv_rows: 1.0 / rows as f32,
        pad0: 0,
        pad1: 0,
        pad2: 0,
    };
    let indices = &step.indices.buffer;
    let [x0, x1, x2, x3] = &chunks;
    // Rows of X, W and dS all start on 16-byte boundaries.
    let (scores_entry, weight_grad_entry) = if d % 4 == 0 && c % 4 == 0 {
        (&SCORES_VEC4, &WEIGHT_GRAD_VEC4)
    } else {
        (&SCORES, &WEIGHT_GRAD)
    };
    device.dispatch(
        scores_entry,
        &[],
        &uniform,
        &[x0, x1, x2, x3, indices, &params.buffer, &scores],
        plan.scores,
    )?;
    let loss_entry = match device.context().tiled_loss() {
        TiledLoss::Subgroup => &LOSS_SUBGROUP,
        TiledLoss::Workgroup => &LOSS,
    };
    device.dispatch(
        loss_entry,
        &[("LOSS", loss_kind), ("WG", plan.loss_workgroup)],
        &uniform,
        &[indices, &labels, &scores, &aux, &dscores, &row_stats],
        plan.loss,
    )?;
    device.dispatch(
        &STATS,
        &[("WG", MAX_LOSS_WORKGROUP)],
        &uniform,
        &[&row_stats, &stats.buffer],
        [1, 1, 1],
    )?;
    if let Some(grads) = grads {
        let partials = if plan.splits > 1 {
            let values = plan.splits * d * c;
            Some(
                scratch
                    .partials
                    .at_least(device, "tiled step partial gradients", values)?
                    .buffer
                    .clone(),
            )
        } else {
            None
        };
        let weight_out = partials.as_ref().unwrap_or(&grads.buffer);
        device.dispatch(
            weight_grad_entry,
            &[],
            &uniform,
            &[x0, x1, x2, x3, indices, &dscores, weight_out],
            plan.weight_grad,
        )?;
        let partials = partials.as_ref().unwrap_or(device.unused_input());
        device.dispatch(
            &REDUCE_GRADS,
            &[],
            &uniform,
            &[&dscores, partials, &grads.buffer],
            plan.reduce,
        )?;
    }
    device.recorder().counters.tiled_steps += 1;
    Ok(())
}
