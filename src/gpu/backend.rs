//! [`Backend`] on wgpu: buffer handling through the device layer, and every
//! operation delegated to its kernel family in `gpu::ops`, which records
//! one or more dispatches into the pending encoder; reads submit and wait.

use super::device::{
    Device, GpuBuffer, GpuContext, GpuCounters, GpuIndices, GpuRows, StepVariant, lock,
    upload_rows, write_rows,
};
use super::ops::fused_step::{self, FusedScratch};
use super::ops::matmul::{self, PackedScratch};
use super::ops::tiled_step::{self, TiledScratch};
use super::ops::{gather, loss, optim, reduce, vector};
use crate::Result;
use crate::backend::{
    Backend, BackendInfo, BackendKind, LinearStep, LossOutputs, MatmulSpec, Targets, check_extent,
    checks, step_each_member, unfused_linear_step, unfused_members_step, unfused_step_rows,
};
use crate::loss::Loss;
use crate::optimizer::UpdateStep;
use ndarray::ArrayView2;
use std::sync::{Arc, Mutex};

/// The GPU backend: the device layer, and the scratch state of the ops
/// that keep some between calls. `Send + Sync`, so training can run on a
/// worker thread and one backend can serve several threads; each operation
/// holds a lock while it records (scratch first, then the recorder), so
/// operations from different threads interleave whole.
pub struct GpuBackend {
    device: Device,
    /// Scratch buffers and bind groups of the fused step, reused across steps.
    fused: Mutex<FusedScratch>,
    /// Pooled scratch of the tiled step, reused across steps.
    tiled: Mutex<TiledScratch>,
    /// Packed operand textures of the register-tiled matmul.
    packed: Mutex<PackedScratch>,
}

// What the doc above promises, checked at compile time, with the handles
// that travel with the backend.
const _: fn() = || {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<GpuBackend>();
    send_and_sync::<GpuContext>();
    send_and_sync::<GpuBuffer>();
    send_and_sync::<GpuIndices>();
    send_and_sync::<GpuRows>();
};

impl GpuBackend {
    pub fn new(context: Arc<GpuContext>) -> Self {
        Self {
            device: Device::new(context),
            fused: Mutex::new(FusedScratch::default()),
            tiled: Mutex::new(TiledScratch::default()),
            packed: Mutex::new(PackedScratch::default()),
        }
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        self.device.context()
    }

    /// Dispatches, submissions, readbacks and buffer allocations so far.
    pub fn counters(&self) -> GpuCounters {
        self.device.counters()
    }
}

impl Backend for GpuBackend {
    type Buffer = GpuBuffer;
    type Indices = GpuIndices;
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

    fn upload_indices(&self, data: &[u32]) -> Result<GpuIndices> {
        Ok(GpuIndices {
            buffer: self
                .device
                .create_storage_init("u32 buffer", bytemuck::cast_slice(data))?,
            len: data.len(),
            max: data.iter().copied().max(),
        })
    }
    fn write_indices(&self, dst: &mut GpuIndices, data: &[u32]) -> Result<()> {
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
    fn read_indices(&self, src: &GpuIndices) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.device.read_bytes(&src.buffer, src.len)?,
        ))
    }
    fn indices_len(&self, labels: &GpuIndices) -> usize {
        labels.len
    }
    fn indices_max(&self, labels: &GpuIndices) -> Option<u32> {
        labels.max
    }

    fn upload_rows(&self, x: ArrayView2<'_, f32>) -> Result<GpuRows> {
        upload_rows(&self.device, x)
    }
    fn rows_shape(&self, rows: &GpuRows) -> (usize, usize) {
        (rows.rows, rows.cols)
    }
    fn write_rows(&self, dst: &mut GpuRows, x: ArrayView2<'_, f32>) -> Result<()> {
        write_rows(&self.device, dst, x)
    }
    fn settle(&self, in_flight: usize) -> Result<()> {
        self.device.settle(in_flight)
    }

    fn gather(
        &self,
        src: &GpuRows,
        labels: Option<(&GpuIndices, &mut GpuIndices)>,
        indices: &GpuIndices,
        first: usize,
        count: usize,
        out: &mut GpuBuffer,
    ) -> Result<()> {
        checks::batch_indices("gather", self, indices, first, count, src.rows)?;
        gather::call_gather(&self.device, src, labels, indices, (first, count), out)
    }

    fn matmul(
        &self,
        a: &GpuBuffer,
        b: &GpuBuffer,
        out: &mut GpuBuffer,
        spec: &MatmulSpec,
    ) -> Result<()> {
        let mut packed = lock(&self.packed);
        matmul::call_matmul(&self.device, &mut packed, (a, b, out), spec)
    }

    fn column_sums(
        &self,
        a: &GpuBuffer,
        rows: usize,
        cols: usize,
        out: &mut GpuBuffer,
        out_offset: usize,
    ) -> Result<()> {
        reduce::call_column_sums(&self.device, a, (rows, cols), out, out_offset)
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
        loss::call_loss(&self.device, loss, scores, targets, (rows, cols), out)
    }

    fn sum(
        &self,
        x: &GpuBuffer,
        len: usize,
        mean: bool,
        out: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        reduce::call_sum(&self.device, x, len, mean, out, slot)
    }

    fn axpby(
        &self,
        alpha: f32,
        x: &GpuBuffer,
        beta: f32,
        y: &mut GpuBuffer,
        len: usize,
    ) -> Result<()> {
        vector::call_axpby(&self.device, alpha, x, beta, y, len)
    }

    fn argmax_rows(
        &self,
        x: &GpuBuffer,
        rows: usize,
        cols: usize,
        out: &mut GpuIndices,
    ) -> Result<()> {
        reduce::call_argmax_rows(&self.device, x, (rows, cols), out)
    }

    fn accuracy(
        &self,
        predicted: &GpuIndices,
        labels: &GpuIndices,
        n: usize,
        out: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        reduce::call_accuracy(&self.device, predicted, labels, n, out, slot)
    }

    fn update(
        &self,
        params: &mut GpuBuffer,
        grads: &GpuBuffer,
        state: &mut GpuBuffer,
        step: &UpdateStep,
    ) -> Result<()> {
        optim::call_update(&self.device, params, grads, state, step)
    }

    fn flush(&self) -> Result<()> {
        self.device.flush()
    }

    fn preferred_step_rows(&self, x: &GpuRows, outputs: usize) -> usize {
        let fused = fused_step::max_rows(&self.device, x, outputs);
        let preferred = match (self.context().step_variant(fused.is_some()), fused) {
            (StepVariant::Fused8, Some(most)) => most,
            // The tiled step's scratch per row is the unfused step's:
            // scores, dS and targets, and the rows where it gathers them.
            _ => unfused_step_rows(x.cols, outputs),
        };
        preferred.min(x.rows.max(1))
    }

    /// Where this step runs unfused (lavapipe for more than 16 outputs, or
    /// forced), the rows are gathered once for every member
    /// ([`unfused_members_step`]); the fused and tiled kernels gather rows
    /// as they load them, so there each member takes its own step.
    fn linear_step_members(
        &self,
        step: LinearStep<'_, Self>,
        params: &[GpuBuffer],
        grads: Option<&mut [GpuBuffer]>,
        stats: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        let fits = fused_step::fits(&self.device, &step);
        match self.context().step_variant(fits) {
            StepVariant::Unfused => unfused_members_step(self, step, params, grads, stats, slot),
            _ => step_each_member(self, step, params, grads, stats, slot),
        }
    }

    fn linear_step(
        &self,
        step: LinearStep<'_, Self>,
        params: &GpuBuffer,
        grads: Option<&mut GpuBuffer>,
        stats: &mut GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        let fits = fused_step::fits(&self.device, &step);
        let variant = self.context().step_variant(fits);
        if variant == StepVariant::Unfused {
            return unfused_linear_step(self, step, params, grads, stats, slot);
        }
        checks::linear_step(self, &step, params, grads.as_deref(), stats, slot)?;
        if variant == StepVariant::Tiled {
            let mut scratch = lock(&self.tiled);
            return tiled_step::call_tiled_step(
                &self.device,
                &mut scratch,
                &step,
                params,
                grads,
                stats,
                slot,
            );
        }
        let mut scratch = lock(&self.fused);
        fused_step::call_fused_step(
            &self.device,
            &mut scratch,
            &step,
            params,
            grads,
            stats,
            slot,
        )
    }
}
