//! [`Backend`] on wgpu: each operation records one or more dispatches into
//! the pending encoder; reads submit and wait.

use super::device::{
    Device, EntryPoint, GpuBuffer, GpuContext, GpuCounters, GpuLabels, GpuRows, MatmulVariant,
    u32_of, upload_rows,
};
use super::fused::FusedScratch;
use super::kernels;
use super::packed_matmul::PackedScratch;
use crate::backend::{
    Backend, BackendInfo, BackendKind, LinearStep, LossOutputs, MatmulSpec, Targets, check_extent,
    checks, unfused_linear_step,
};
use crate::loss::Loss;
use crate::optimizer::{Optimizer, STATE_SLOTS, UpdateStep};
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};
use ndarray::ArrayView2;
use std::cell::RefCell;
use std::sync::Arc;

/// Register tile and workgroup shape of the register-tiled matmul.
const REGISTER_TILE: (u32, u32) = (4, 4);
const REGISTER_WORKGROUP: (u32, u32) = (8, 4);
const SHARED_TILE: u32 = 16;
const GATHER_CHUNKS_PER_DISPATCH: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    k: u32,
    n: u32,
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    bias_offset: u32,
    has_bias: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LossParams {
    rows: u32,
    cols: u32,
    slot: u32,
    flags: u32,
    margin: f32,
    smoothing: f32,
    inv_rows: f32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceParams {
    len: u32,
    cols: u32,
    slot: u32,
    pad: u32,
    scale: f32,
    pad1: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct UpdateParams {
    len: u32,
    weight_len: u32,
    first_step: u32,
    flags: u32,
    lr: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    decay_factor: f32,
    momentum: f32,
    dampening: f32,
    alpha: f32,
    eps: f32,
    beta1: f32,
    beta2: f32,
    l1: f32,
    l2: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GatherParams {
    count: u32,
    cols: u32,
    first: u32,
    chunk_rows: u32,
    group_start: u32,
    group_end: u32,
    copy_labels: u32,
    out_row_offset: u32,
}

/// The GPU backend: the device layer and the scratch state of the ops
/// that keep some between calls.
pub struct GpuBackend {
    device: Device,
    /// Scratch buffers and bind groups of the fused step, reused across steps.
    fused: RefCell<FusedScratch>,
    /// Packed operand textures of the register-tiled matmul.
    packed: RefCell<PackedScratch>,
}

impl GpuBackend {
    pub fn new(context: Arc<GpuContext>) -> Self {
        Self {
            device: Device::new(context),
            fused: RefCell::new(FusedScratch::default()),
            packed: RefCell::new(PackedScratch::default()),
        }
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        self.device.context()
    }

    /// Dispatches, submissions, readbacks and buffer allocations so far.
    pub fn counters(&self) -> GpuCounters {
        self.device.counters()
    }

    fn loss_entry(loss: &Loss) -> EntryPoint {
        let (module, entry) = match loss {
            Loss::SoftmaxCrossEntropy { .. } => (kernels::SOFTMAX_XENT, "softmax_cross_entropy"),
            Loss::Hinge { .. } | Loss::SquaredHinge { .. } => (kernels::HINGE, "hinge"),
            Loss::MeanSquaredError => (kernels::REGRESSION, "mean_squared_error"),
            Loss::Logistic => (kernels::REGRESSION, "logistic"),
        };
        EntryPoint {
            module,
            entry,
            storage: kernels::LOSS_BINDINGS,
        }
    }
}

impl Backend for GpuBackend {
    type Buffer = GpuBuffer;
    type Labels = GpuLabels;
    type Rows = GpuRows;

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Gpu,
            adapter: self.device.context().info.name.clone(),
            api: format!("{:?}", self.device.context().info.backend),
            device_type: format!("{:?}", self.device.context().info.device_type),
        }
    }

    fn zeros(&self, len: usize) -> Result<GpuBuffer> {
        // New wgpu buffers are zero-initialized.
        Ok(GpuBuffer {
            buffer: self.device.create_storage("f32 buffer", len)?,
            len,
        })
    }
    fn upload(&self, data: &[f32]) -> Result<GpuBuffer> {
        Ok(GpuBuffer {
            buffer: self
                .device
                .create_storage_init("f32 buffer", bytemuck::cast_slice(data))?,
            len: data.len(),
        })
    }
    fn write(&self, dst: &mut GpuBuffer, data: &[f32]) -> Result<()> {
        check_extent("write", "data", 0, data.len(), dst.len)?;
        self.device
            .write_bytes(&dst.buffer, bytemuck::cast_slice(data))
    }
    fn read(&self, src: &GpuBuffer) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.device.read_bytes(&src.buffer, src.len)?,
        ))
    }
    fn len(&self, buffer: &GpuBuffer) -> usize {
        buffer.len
    }

    fn upload_labels(&self, data: &[u32]) -> Result<GpuLabels> {
        Ok(GpuLabels {
            buffer: self
                .device
                .create_storage_init("u32 buffer", bytemuck::cast_slice(data))?,
            len: data.len(),
            max: data.iter().copied().max(),
        })
    }
    fn write_labels(&self, dst: &mut GpuLabels, data: &[u32]) -> Result<()> {
        check_extent("write_labels", "data", 0, data.len(), dst.len)?;
        self.device
            .write_bytes(&dst.buffer, bytemuck::cast_slice(data))?;
        let written = data.iter().copied().max();
        // Elements past `data` keep their old values, so keep the old bound too.
        dst.max = if data.len() == dst.len {
            written
        } else {
            written.max(dst.max)
        };
        Ok(())
    }
    fn read_labels(&self, src: &GpuLabels) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.device.read_bytes(&src.buffer, src.len)?,
        ))
    }
    fn labels_len(&self, labels: &GpuLabels) -> usize {
        labels.len
    }
    fn labels_max(&self, labels: &GpuLabels) -> Option<u32> {
        labels.max
    }

    fn upload_rows(&self, x: ArrayView2<'_, f32>) -> Result<GpuRows> {
        upload_rows(&self.device, x)
    }
    fn rows_shape(&self, rows: &GpuRows) -> (usize, usize) {
        (rows.rows, rows.cols)
    }

    fn gather(
        &self,
        src: &GpuRows,
        labels: Option<(&GpuLabels, &mut GpuLabels)>,
        indices: &GpuLabels,
        first: usize,
        count: usize,
        out: &mut GpuBuffer,
    ) -> Result<()> {
        checks::gather(
            src.rows,
            src.cols,
            indices.len,
            indices.max,
            first,
            count,
            out.len,
        )?;
        let op = "gather";
        if let Some((source, destination)) = &labels {
            check_extent(op, "labels", 0, src.rows, source.len)?;
            check_extent(op, "output labels", 0, count, destination.len)?;
        }
        if count == 0 || src.cols == 0 {
            return Ok(());
        }
        let max_rows = self.device.limits().max_compute_workgroups_per_dimension as usize;
        let column_groups = src.cols.div_ceil(64) as u32;
        let (label_source, label_out) = match &labels {
            Some((source, destination)) => (&source.buffer, &destination.buffer),
            None => (self.device.unused_input(), self.device.unused_output()),
        };
        for (group, chunks) in src.chunks.chunks(GATHER_CHUNKS_PER_DISPATCH).enumerate() {
            let group_start = group * GATHER_CHUNKS_PER_DISPATCH * src.chunk_rows;
            let group_end = (group_start + chunks.len() * src.chunk_rows).min(src.rows);
            let bound: Vec<&wgpu::Buffer> = (0..GATHER_CHUNKS_PER_DISPATCH)
                .map(|c| chunks.get(c).unwrap_or(&chunks[0]))
                .collect();
            for slice_start in (0..count).step_by(max_rows) {
                let slice_rows = (count - slice_start).min(max_rows);
                let params = GatherParams {
                    count: u32_of(op, "count", count)?,
                    cols: u32_of(op, "cols", src.cols)?,
                    first: u32_of(op, "first", first)?,
                    chunk_rows: u32_of(op, "chunk rows", src.chunk_rows)?,
                    group_start: u32_of(op, "group start", group_start)?,
                    group_end: u32_of(op, "group end", group_end)?,
                    copy_labels: (labels.is_some() && group == 0) as u32,
                    out_row_offset: slice_start as u32,
                };
                self.device.dispatch(
                    &kernels::GATHER_ROWS,
                    &[],
                    &params,
                    &[
                        bound[0],
                        bound[1],
                        bound[2],
                        bound[3],
                        &indices.buffer,
                        label_source,
                        &out.buffer,
                        label_out,
                    ],
                    [column_groups, slice_rows as u32, 1],
                )?;
            }
        }
        if let Some((source, destination)) = labels {
            destination.max = source.max;
        }
        Ok(())
    }

    fn matmul(
        &self,
        a: &GpuBuffer,
        b: &GpuBuffer,
        out: &mut GpuBuffer,
        spec: &MatmulSpec,
    ) -> Result<()> {
        checks::matmul(spec, a.len, b.len, out.len)?;
        let op = "matmul";
        let params = MatmulParams {
            m: u32_of(op, "M", spec.m)?,
            k: u32_of(op, "K", spec.k)?,
            n: u32_of(op, "N", spec.n)?,
            a_offset: u32_of(op, "A offset", spec.a_offset)?,
            b_offset: u32_of(op, "B offset", spec.b_offset)?,
            c_offset: u32_of(op, "output offset", spec.out_offset)?,
            bias_offset: u32_of(op, "bias offset", spec.bias_offset.unwrap_or(0))?,
            has_bias: spec.bias_offset.is_some() as u32,
        };
        let transpose = ("TRANSPOSE_A", spec.transpose_a as u32);
        let (m, n) = (spec.m as u32, spec.n as u32);
        let bindings = [&a.buffer, &b.buffer, &out.buffer];
        match self.device.context().matmul {
            variant @ (MatmulVariant::RegisterTiled | MatmulVariant::RegisterTiledBuffers) => {
                if variant == MatmulVariant::RegisterTiled
                    && self.packed.borrow_mut().matmul(
                        &self.device,
                        (a, b, out),
                        spec,
                        bytemuck::bytes_of(&params),
                    )?
                {
                    return Ok(());
                }
                let (tile_m, tile_n) = REGISTER_TILE;
                let (wg_x, wg_y) = REGISTER_WORKGROUP;
                let constants = [
                    transpose,
                    ("TILE_M", tile_m),
                    ("TILE_N", tile_n),
                    ("WG_X", wg_x),
                    ("WG_Y", wg_y),
                ];
                let entry = EntryPoint {
                    module: kernels::MATMUL_REGISTER,
                    entry: "matmul",
                    storage: kernels::MATMUL_BINDINGS,
                };
                let groups = [
                    n.div_ceil(tile_n).div_ceil(wg_x),
                    m.div_ceil(tile_m).div_ceil(wg_y),
                    1,
                ];
                self.device
                    .dispatch(&entry, &constants, &params, &bindings, groups)
            }
            MatmulVariant::SharedTiled => {
                let entry = EntryPoint {
                    module: kernels::MATMUL_TILED,
                    entry: "matmul",
                    storage: kernels::MATMUL_BINDINGS,
                };
                let groups = [n.div_ceil(SHARED_TILE), m.div_ceil(SHARED_TILE), 1];
                self.device
                    .dispatch(&entry, &[transpose], &params, &bindings, groups)
            }
        }
    }

    fn column_sums(
        &self,
        a: &GpuBuffer,
        rows: usize,
        cols: usize,
        out: &mut GpuBuffer,
        out_offset: usize,
    ) -> Result<()> {
        let op = "column_sums";
        check_extent(op, "input", 0, rows * cols, a.len)?;
        check_extent(op, "output", out_offset, cols, out.len)?;
        let params = ReduceParams {
            len: u32_of(op, "rows", rows)?,
            cols: u32_of(op, "cols", cols)?,
            slot: u32_of(op, "output offset", out_offset)?,
            pad: 0,
            scale: 1.0,
            pad1: [0; 3],
        };
        let groups = (cols as u32).div_ceil(64);
        self.device.dispatch(
            &kernels::COLUMN_SUMS,
            &[],
            &params,
            &[&a.buffer, &out.buffer],
            [groups, 1, 1],
        )
    }

    fn loss(
        &self,
        loss: &Loss,
        scores: &GpuBuffer,
        targets: Targets<'_, Self>,
        rows: usize,
        cols: usize,
        out: LossOutputs<'_, Self>,
    ) -> Result<()> {
        let shape_of_targets = match &targets {
            Targets::Classes {
                labels,
                class_weights,
            } => (
                Some((labels.len, labels.max)),
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
            } => (&labels.buffer, &weights.buffer, 1u32),
            Targets::Classes { labels, .. } => (&labels.buffer, self.device.unused_input(), 0),
            Targets::Values(values) => {
                if !loss.takes_real_targets() {
                    return Err(Error::InvalidConfig(format!(
                        "the {} loss needs class labels, not real-valued targets",
                        loss.name()
                    )));
                }
                (self.device.unused_input(), &values.buffer, 2)
            }
        };
        let (margin, smoothing) = match *loss {
            Loss::SoftmaxCrossEntropy { label_smoothing } => (0.0, label_smoothing),
            Loss::Hinge { margin } => (margin, 0.0),
            Loss::SquaredHinge { margin } => {
                flags |= 4;
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
        self.device.dispatch(
            &Self::loss_entry(loss),
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

    fn sum(
        &self,
        x: &GpuBuffer,
        len: usize,
        mean: bool,
        out: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        let op = "sum";
        check_extent(op, "input", 0, len, x.len)?;
        check_extent(op, "output", slot, 1, out.len)?;
        let params = ReduceParams {
            len: u32_of(op, "len", len)?,
            cols: 1,
            slot: u32_of(op, "slot", slot)?,
            pad: 0,
            scale: if mean && len > 0 {
                1.0 / len as f32
            } else {
                1.0
            },
            pad1: [0; 3],
        };
        self.device.dispatch(
            &kernels::SUM,
            &[],
            &params,
            &[&x.buffer, &out.buffer],
            [1, 1, 1],
        )
    }

    fn argmax_rows(
        &self,
        x: &GpuBuffer,
        rows: usize,
        cols: usize,
        out: &mut GpuLabels,
    ) -> Result<()> {
        let op = "argmax";
        if cols == 0 {
            return Err(Error::ShapeMismatch {
                op,
                detail: "zero columns".into(),
            });
        }
        check_extent(op, "input", 0, rows * cols, x.len)?;
        check_extent(op, "output", 0, rows, out.len)?;
        let params = ReduceParams {
            len: u32_of(op, "rows", rows)?,
            cols: u32_of(op, "cols", cols)?,
            slot: 0,
            pad: 0,
            scale: 1.0,
            pad1: [0; 3],
        };
        let groups = (rows as u32).div_ceil(64);
        self.device.dispatch(
            &kernels::ARGMAX_ROWS,
            &[],
            &params,
            &[&x.buffer, &out.buffer],
            [groups, 1, 1],
        )?;
        out.max = Some((cols - 1) as u32).max(if rows < out.len { out.max } else { None });
        Ok(())
    }

    fn accuracy(
        &self,
        predicted: &GpuLabels,
        labels: &GpuLabels,
        n: usize,
        out: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        let op = "accuracy";
        check_extent(op, "predictions", 0, n, predicted.len)?;
        check_extent(op, "labels", 0, n, labels.len)?;
        check_extent(op, "output", slot, 1, out.len)?;
        let params = ReduceParams {
            len: u32_of(op, "n", n)?,
            cols: 1,
            slot: u32_of(op, "slot", slot)?,
            pad: 0,
            scale: if n == 0 { 0.0 } else { 1.0 / n as f32 },
            pad1: [0; 3],
        };
        self.device.dispatch(
            &kernels::ACCURACY,
            &[],
            &params,
            &[&predicted.buffer, &labels.buffer, &out.buffer],
            [1, 1, 1],
        )
    }

    fn update(
        &self,
        params: &mut GpuBuffer,
        grads: &GpuBuffer,
        state: &mut GpuBuffer,
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
        let kind = match step.optimizer {
            Optimizer::Sgd => 0,
            Optimizer::Momentum {
                momentum,
                dampening,
            } => {
                uniform.momentum = momentum;
                uniform.dampening = dampening;
                1
            }
            Optimizer::Nesterov { momentum } => {
                uniform.momentum = momentum;
                2
            }
            Optimizer::Adagrad { eps, .. } => {
                uniform.eps = eps;
                3
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
                uniform.flags = centered as u32;
                4
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
                uniform.flags = (amsgrad as u32) << 1;
                5
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
                uniform.flags = ((amsgrad as u32) << 1) | 4;
                5
            }
        };
        let max = self.device.limits().max_compute_workgroups_per_dimension;
        let groups = (len as u32).div_ceil(256);
        let workgroups = if groups > max {
            [max, groups.div_ceil(max), 1]
        } else {
            [groups, 1, 1]
        };
        self.device.dispatch(
            &kernels::UPDATE,
            &[("KIND", kind)],
            &uniform,
            &[&params.buffer, &grads.buffer, &state.buffer],
            workgroups,
        )
    }

    fn flush(&self) -> Result<()> {
        self.device.flush()
    }

    fn linear_step(
        &self,
        step: LinearStep<'_, Self>,
        params: &GpuBuffer,
        grads: Option<&mut GpuBuffer>,
        stats: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        if !super::fused::fits(&self.device, &step) {
            return unfused_linear_step(self, step, params, grads, stats, slot);
        }
        super::fused::check(&step, params, grads.as_deref(), stats, slot)?;
        let mut scratch = self.fused.borrow_mut();
        scratch.record(&self.device, &step, params, grads, stats, slot)
    }
}
