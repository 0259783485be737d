use super::dot_step::{self, DotScratch};
use super::lane_tree_sum;
use super::members_step;
use super::reference::{RowTarget, argmax, is_correct, loss_row};
use super::rows::CpuRows;
use super::simd::Isa;
use super::step_input::{FusedStep, StepParams, StepTargets, grown};
use super::tile_step::{self, TileScratch, WIDE_FROM};
use crate::backend::checks::LabelBound;
use crate::backend::{
    Backend, BackendInfo, BackendKind, LinearStep, LossOutputs, MatmulSpec, ResidentTargets,
    SharedRows, Targets, check_extent, check_rows_fit, checks, unfused_linear_step,
    unfused_members_step, unfused_step_rows,
};
use crate::loss::Loss;
use crate::optimizer::UpdateStep;
use crate::{Error, Result};
use ndarray::{
    Array2, ArrayView1, ArrayView2, ArrayViewMut2, CowArray, Ix2, linalg::general_mat_mul,
};
use rayon::prelude::*;
use std::sync::Mutex;

/// Rows per task of a parallel loss.
const LOSS_CHUNK: usize = 2048;

/// How [`Backend::linear_step`] computes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKernels {
    /// This backend's own fused kernels, each row read from the dataset
    /// once: [`StepKernels::FusedDots`] for a few outputs,
    /// [`StepKernels::FusedTiles`] from a few dozen.
    Fused,
    /// Dot products of a tile of rows against groups of W's columns along D,
    /// then the weight gradient block by block: the fastest for a handful
    /// of outputs (the CS231n shape, C = 10).
    FusedDots,
    /// The rows gathered once, then scores and weight gradient as
    /// register-tiled products (AVX-512, AVX2 or portable tiles): the
    /// fastest for wide models (linear probes, C in the hundreds).
    FusedTiles,
    /// Gather, matrix products on matrixmultiply and the loss, one after
    /// another: faster than the fused kernels when they cannot use AVX2,
    /// since matrixmultiply picks its own SIMD kernels at run time.
    Unfused,
}

/// Both fused steps' buffers, reused from step to step (boxed: they would
/// make every `CpuBackend` value a few hundred bytes).
#[derive(Debug, Default)]
struct StepScratch {
    dots: DotScratch,
    tiles: TileScratch,
    /// A sweep step's members' biases side by side (K·C; W's panels are
    /// packed straight from the members), the wide gradient
    /// [dW (D × K·C) | db], and each member's (mean loss, correct rows).
    members_params: Vec<f32>,
    members_grads: Vec<f32>,
    members_stats: Vec<(f32, usize)>,
}

/// The ndarray backend. Matrix products use ndarray's (matrixmultiply's)
/// threaded GEMM; the fused step has its own SIMD kernels, run on rayon's
/// threads with results that do not depend on the thread count.
#[derive(Debug)]
pub struct CpuBackend {
    isa: Isa,
    step_kernels: StepKernels,
    /// Reused by [`Backend::linear_step`]; a step holds it while it runs.
    scratch: Mutex<Box<StepScratch>>,
}

impl CpuBackend {
    /// A backend using the best instruction set of this CPU.
    pub fn new() -> Self {
        Self::for_isa(Isa::detect())
    }

    /// A backend whose kernels run on `isa` (to check and measure each
    /// instruction set's kernels on a CPU that has a better one), or
    /// [`Error::InvalidConfig`] when this CPU does not support it.
    pub fn with_isa(isa: Isa) -> Result<Self> {
        if isa.is_supported() {
            Ok(Self::for_isa(isa))
        } else {
            Err(Error::InvalidConfig(format!(
                "this CPU does not support the {isa:?} kernels"
            )))
        }
    }

    /// A backend whose kernels are plain Rust whatever the CPU, as a CPU
    /// without AVX2 runs it, to check the SIMD kernels against and to
    /// measure what they gain.
    pub fn portable() -> Self {
        Self::for_isa(Isa::Portable)
    }

    /// Fused steps where the fused kernels have SIMD, unfused otherwise.
    fn for_isa(isa: Isa) -> Self {
        let step_kernels = match isa {
            Isa::Avx512 | Isa::Avx2Fma => StepKernels::Fused,
            Isa::Portable => StepKernels::Unfused,
        };
        Self {
            isa,
            step_kernels,
            scratch: Mutex::default(),
        }
    }

    /// The same backend computing steps with `step_kernels` (to test and
    /// measure the path this CPU does not choose).
    pub fn with_step_kernels(mut self, step_kernels: StepKernels) -> Self {
        self.step_kernels = step_kernels;
        self
    }

    /// The instruction set the kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// How a linear step is computed.
    pub fn step_kernels(&self) -> StepKernels {
        self.step_kernels
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for CpuBackend {
    fn clone(&self) -> Self {
        Self::for_isa(self.isa).with_step_kernels(self.step_kernels)
    }
}

/// Indices (labels, row indices, predictions) on the host, with their
/// maximum cached for range checks.
#[derive(Clone, Debug)]
pub struct CpuIndices {
    data: Vec<u32>,
    max: Option<u32>,
}

impl CpuIndices {
    fn new(data: Vec<u32>) -> Self {
        let max = data.iter().copied().max();
        Self { data, max }
    }
    pub fn as_slice(&self) -> &[u32] {
        &self.data
    }
}

impl Backend for CpuBackend {
    type Buffer = Vec<f32>;
    type Indices = CpuIndices;
    type Rows = CpuRows;

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Cpu,
            adapter: "cpu".into(),
            api: "ndarray".into(),
            device_type: "Host".into(),
        }
    }

    fn zeros(&self, len: usize) -> Result<Vec<f32>> {
        Ok(vec![0.0; len])
    }
    fn upload(&self, data: &[f32]) -> Result<Vec<f32>> {
        Ok(data.to_vec())
    }
    fn write(&self, dst: &mut Vec<f32>, data: &[f32]) -> Result<()> {
        check_extent("write", "data", 0, data.len(), dst.len())?;
        dst[..data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read(&self, src: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(src.clone())
    }
    fn len(&self, buffer: &Vec<f32>) -> usize {
        buffer.len()
    }

    fn upload_indices(&self, data: &[u32]) -> Result<CpuIndices> {
        Ok(CpuIndices::new(data.to_vec()))
    }
    fn write_indices(&self, dst: &mut CpuIndices, data: &[u32]) -> Result<()> {
        check_extent("write_labels", "data", 0, data.len(), dst.data.len())?;
        dst.data[..data.len()].copy_from_slice(data);
        dst.max = dst.data.iter().copied().max();
        Ok(())
    }
    fn read_indices(&self, src: &CpuIndices) -> Result<Vec<u32>> {
        Ok(src.data.clone())
    }
    fn indices_len(&self, labels: &CpuIndices) -> usize {
        labels.data.len()
    }
    fn indices_max(&self, labels: &CpuIndices) -> Option<u32> {
        labels.max
    }

    fn upload_rows(&self, x: ArrayView2<'_, f32>) -> Result<CpuRows> {
        Ok(CpuRows::Owned(x.as_standard_layout().into_owned()))
    }
    /// Shares the caller's matrix (row-major by construction): no copy.
    fn share_rows(&self, x: &SharedRows) -> Result<CpuRows> {
        Ok(CpuRows::Shared(x.clone()))
    }
    fn rows_shape(&self, rows: &CpuRows) -> (usize, usize) {
        rows.dim()
    }
    fn write_rows(&self, dst: &mut CpuRows, x: ArrayView2<'_, f32>) -> Result<()> {
        check_rows_fit(dst.dim(), x.dim())?;
        dst.to_mut()
            .slice_mut(ndarray::s![..x.nrows(), ..])
            .assign(&x);
        Ok(())
    }
    /// Swaps the block in: no copy.
    fn replace_rows(&self, dst: &mut CpuRows, x: Array2<f32>) -> Result<Array2<f32>> {
        match dst {
            CpuRows::Owned(owned) if owned.dim() == x.dim() => Ok(std::mem::replace(owned, x)),
            _ => {
                self.write_rows(dst, x.view())?;
                Ok(x)
            }
        }
    }

    fn gather(
        &self,
        src: &CpuRows,
        labels: Option<(&CpuIndices, &mut CpuIndices)>,
        indices: &CpuIndices,
        first: usize,
        count: usize,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let (rows, cols) = src.dim();
        checks::batch_indices("gather", self, indices, first, count, rows)?;
        check_extent("gather", "output", 0, count * cols, out.len())?;
        let indices = &indices.data[first..first + count];
        let source = src.as_standard_layout();
        let source = row_major_slice("gather", "the source rows", &source)?;
        for (r, &index) in indices.iter().enumerate() {
            let from = index as usize * cols;
            out[r * cols..(r + 1) * cols].copy_from_slice(&source[from..from + cols]);
        }
        if let Some((source_labels, out_labels)) = labels {
            check_extent("gather", "labels", 0, rows, source_labels.data.len())?;
            check_extent("gather", "output labels", 0, count, out_labels.data.len())?;
            for (r, &index) in indices.iter().enumerate() {
                out_labels.data[r] = source_labels.data[index as usize];
            }
            out_labels.max = out_labels.data.iter().copied().max();
        }
        Ok(())
    }

    fn matmul(
        &self,
        a: &Vec<f32>,
        b: &Vec<f32>,
        out: &mut Vec<f32>,
        spec: &MatmulSpec,
    ) -> Result<()> {
        checks::matmul(spec, a.len(), b.len(), out.len())?;
        let MatmulSpec { m, k, n, .. } = *spec;
        let a_slice = &a[spec.a_offset..spec.a_offset + m * k];
        let a_view = if spec.transpose_a {
            ArrayView2::from_shape((k, m), a_slice)
                .expect("checked")
                .reversed_axes()
        } else {
            ArrayView2::from_shape((m, k), a_slice).expect("checked")
        };
        let b_view = ArrayView2::from_shape((k, n), &b[spec.b_offset..spec.b_offset + k * n])
            .expect("checked");
        let mut c =
            ArrayViewMut2::from_shape((m, n), &mut out[spec.out_offset..spec.out_offset + m * n])
                .expect("checked");
        general_mat_mul(1.0, &a_view, &b_view, 0.0, &mut c);
        if let Some(bias) = spec.bias_offset {
            let bias = ArrayView1::from(&b[bias..bias + n]);
            c += &bias;
        }
        Ok(())
    }

    fn column_sums(
        &self,
        a: &Vec<f32>,
        rows: usize,
        cols: usize,
        out: &mut Vec<f32>,
        out_offset: usize,
    ) -> Result<()> {
        check_extent("column_sums", "input", 0, rows * cols, a.len())?;
        check_extent("column_sums", "output", out_offset, cols, out.len())?;
        for j in 0..cols {
            let mut sum = 0.0f32;
            for i in 0..rows {
                sum += a[i * cols + j];
            }
            out[out_offset + j] = sum;
        }
        Ok(())
    }

    fn loss(
        &self,
        loss: &Loss,
        scores: &Vec<f32>,
        targets: Targets<'_, Self>,
        rows: usize,
        cols: usize,
        out: LossOutputs<'_, Self>,
    ) -> Result<()> {
        let read_labels = || match &targets {
            Targets::Classes { labels, .. } => Ok(labels.data.clone()),
            Targets::Values(_) => Ok(Vec::new()),
        };
        let shape_of_targets = match &targets {
            Targets::Classes {
                labels,
                class_weights,
            } => (
                Some(LabelBound {
                    len: labels.data.len(),
                    max: labels.max,
                    read: &read_labels,
                }),
                class_weights.map(|w| w.len()),
                None,
            ),
            Targets::Values(values) => (None, None, Some(values.len())),
        };
        checks::loss(
            loss,
            rows,
            cols,
            scores.len(),
            shape_of_targets,
            out.dscores.len(),
            out.row_loss.len(),
            out.stats.len(),
            out.slot,
        )?;
        if matches!(targets, Targets::Values(_)) && !loss.takes_real_targets() {
            return Err(Error::InvalidConfig(format!(
                "the {} loss needs class labels, not real-valued targets",
                loss.name()
            )));
        }
        let inv_n = 1.0 / rows as f32;
        let (labels, class_weights, values) = match targets {
            Targets::Classes {
                labels,
                class_weights,
            } => (
                Some(&labels.data[..rows]),
                class_weights.map(|w| &w[..cols]),
                None,
            ),
            Targets::Values(values) => (None, None, Some(&values[..rows * cols])),
        };
        let scores = &scores[..rows * cols];
        let row_loss = &mut out.row_loss[..rows];
        // Rows are independent, so chunks give the same bits on any thread.
        let correct: usize = out.dscores[..rows * cols]
            .par_chunks_mut(LOSS_CHUNK * cols)
            .zip(row_loss.par_chunks_mut(LOSS_CHUNK))
            .enumerate()
            .map(|(chunk, (dscores, row_loss))| {
                let mut correct = 0;
                for (r, loss_out) in row_loss.iter_mut().enumerate() {
                    let i = chunk * LOSS_CHUNK + r;
                    let s = &scores[i * cols..(i + 1) * cols];
                    let target = match (labels, values) {
                        (Some(labels), _) => RowTarget::Class {
                            label: labels[i],
                            weight: class_weights
                                .and_then(|w| w.get(labels[i] as usize).copied())
                                .unwrap_or(1.0),
                        },
                        (None, Some(values)) => {
                            RowTarget::Values(&values[i * cols..(i + 1) * cols])
                        }
                        (None, None) => unreachable!("targets are labels or values"),
                    };
                    let ds = &mut dscores[r * cols..(r + 1) * cols];
                    *loss_out = loss_row(loss, s, target, ds, inv_n);
                    if let RowTarget::Class { label, .. } = target
                        && is_correct(loss, s, label)
                    {
                        correct += 1;
                    }
                }
                correct
            })
            .sum();
        out.stats[2 * out.slot] = lane_tree_sum(row_loss.iter().copied()) * inv_n;
        out.stats[2 * out.slot + 1] = correct as f32;
        Ok(())
    }

    fn sum(
        &self,
        x: &Vec<f32>,
        len: usize,
        mean: bool,
        out: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        check_extent("sum", "input", 0, len, x.len())?;
        check_extent("sum", "output", slot, 1, out.len())?;
        let total = lane_tree_sum(x[..len].iter().copied());
        out[slot] = if mean && len > 0 {
            total * (1.0 / len as f32)
        } else {
            total
        };
        Ok(())
    }

    fn axpby(
        &self,
        alpha: f32,
        x: &Vec<f32>,
        beta: f32,
        y: &mut Vec<f32>,
        len: usize,
    ) -> Result<()> {
        check_extent("axpby", "x", 0, len, x.len())?;
        check_extent("axpby", "y", 0, len, y.len())?;
        let pairs = y[..len].iter_mut().zip(&x[..len]);
        if beta == 0.0 {
            pairs.for_each(|(y, &x)| *y = alpha * x);
        } else {
            pairs.for_each(|(y, &x)| *y = alpha * x + beta * *y);
        }
        Ok(())
    }

    fn argmax_rows(
        &self,
        x: &Vec<f32>,
        rows: usize,
        cols: usize,
        out: &mut CpuIndices,
    ) -> Result<()> {
        if cols == 0 {
            return Err(Error::ShapeMismatch {
                op: "argmax",
                detail: "zero columns".into(),
            });
        }
        check_extent("argmax", "input", 0, rows * cols, x.len())?;
        check_extent("argmax", "output", 0, rows, out.data.len())?;
        for i in 0..rows {
            out.data[i] = argmax(ArrayView1::from(&x[i * cols..(i + 1) * cols])) as u32;
        }
        out.max = out.data.iter().copied().max();
        Ok(())
    }

    fn accuracy(
        &self,
        predicted: &CpuIndices,
        labels: &CpuIndices,
        n: usize,
        out: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        check_extent("accuracy", "predictions", 0, n, predicted.data.len())?;
        check_extent("accuracy", "labels", 0, n, labels.data.len())?;
        check_extent("accuracy", "output", slot, 1, out.len())?;
        let hits = lane_tree_sum(
            predicted.data[..n]
                .iter()
                .zip(&labels.data[..n])
                .map(|(p, l)| if p == l { 1.0 } else { 0.0 }),
        );
        out[slot] = if n == 0 { 0.0 } else { hits / n as f32 };
        Ok(())
    }

    fn update(
        &self,
        params: &mut Vec<f32>,
        grads: &Vec<f32>,
        state: &mut Vec<f32>,
        step: &UpdateStep,
    ) -> Result<()> {
        self.update_members(
            std::slice::from_mut(params),
            std::slice::from_ref(grads),
            std::slice::from_mut(state),
            std::slice::from_ref(step),
        )
    }

    /// Every member's chunks in one run of the pool: one hand-off for the
    /// sweep's update instead of one per member.
    fn update_members(
        &self,
        params: &mut [Vec<f32>],
        grads: &[Vec<f32>],
        states: &mut [Vec<f32>],
        steps: &[UpdateStep],
    ) -> Result<()> {
        super::members_update::update_members(params, grads, states, steps)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn preferred_step_rows(&self, x: &CpuRows, outputs: usize) -> usize {
        let (rows, features) = x.dim();
        let preferred = match self.step_kernels {
            StepKernels::Fused | StepKernels::FusedDots | StepKernels::FusedTiles => {
                dot_step::PREFERRED_ROWS
            }
            StepKernels::Unfused => unfused_step_rows(features, outputs),
        };
        preferred.min(rows.max(1))
    }

    fn linear_step(
        &self,
        step: LinearStep<'_, Self>,
        params: &Vec<f32>,
        grads: Option<&mut Vec<f32>>,
        stats: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        if self.step_kernels == StepKernels::Unfused {
            return unfused_linear_step(self, step, params, grads, stats, slot);
        }
        checks::linear_step(self, &step, params, grads.as_deref(), stats, slot)?;
        let c = step.outputs;
        let tiles = match self.step_kernels {
            StepKernels::FusedTiles => true,
            StepKernels::FusedDots => false,
            _ => c >= WIDE_FROM,
        };
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let grads = grads.map(|g| g.as_mut_slice());
        let joined = StepParams::Joined(params);
        let (mean_loss, correct) = with_fused_step(self.isa, &step, joined, 1, |fused| {
            if tiles {
                let mut member = [(0.0, 0)];
                tile_step::run(fused, &mut scratch.tiles, grads, &mut member)?;
                Ok(member[0])
            } else {
                dot_step::run(fused, &mut scratch.dots, grads)
            }
        })?;
        stats[2 * slot] = mean_loss;
        stats[2 * slot + 1] = correct as f32;
        Ok(())
    }

    /// One pass for every member: the tile step over them as one wide model
    /// (D × K·C; W's panels packed straight from the members' buffers, the
    /// biases side by side), with a loss per block of C scores, and each
    /// member's block of the gradient copied back out.
    fn linear_step_members(
        &self,
        step: LinearStep<'_, Self>,
        params: &[Vec<f32>],
        grads: Option<&mut [Vec<f32>]>,
        stats: &mut Vec<f32>,
        slot: usize,
    ) -> Result<()> {
        if self.step_kernels == StepKernels::Unfused {
            return unfused_members_step(self, step, params, grads, stats, slot);
        }
        let members = checks::members_step(self, &step, params, grads.as_deref(), stats, slot)?;
        let slot_of = |k: usize| checks::member_slot(slot, members, k);
        let (d, c) = (step.x.ncols(), step.outputs);
        let wide = members * c;
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let StepScratch {
            tiles,
            members_params,
            members_grads,
            members_stats,
            ..
        } = &mut **scratch;
        // W's panels are packed straight from the members; only their
        // biases go side by side.
        let bias = members_step::biases_side_by_side(params, d, c, members_params)?;
        let side_by_side = StepParams::Members {
            members: params,
            bias,
        };
        let mut wide_grads = match grads.is_some() {
            true => Some(grown(
                members_grads,
                d * wide + wide,
                "the members' gradients",
            )?),
            false => None,
        };
        members_stats.resize(members, (0.0, 0));
        let wide_step = LinearStep {
            outputs: wide,
            ..step
        };
        with_fused_step(self.isa, &wide_step, side_by_side, members, |fused| {
            tile_step::run(fused, tiles, wide_grads.as_deref_mut(), members_stats)
        })?;
        if let (Some(grads), Some(wide_grads)) = (grads, wide_grads) {
            members_step::gradients_out(grads, wide_grads, d, c);
        }
        for (k, &(mean_loss, correct)) in members_stats.iter().enumerate() {
            stats[2 * slot_of(k)] = mean_loss;
            stats[2 * slot_of(k) + 1] = correct as f32;
        }
        Ok(())
    }
}

/// Calls `run` with `step` as the fused kernels take it: row-major slices
/// of the dataset and targets, the step's indices, and `params`.
fn with_fused_step<R>(
    isa: Isa,
    step: &LinearStep<'_, CpuBackend>,
    params: StepParams<'_>,
    members: usize,
    run: impl FnOnce(&FusedStep<'_>) -> Result<R>,
) -> Result<R> {
    let op = "linear_step";
    let (d, c, rows) = (step.x.ncols(), step.outputs, step.rows);
    let indices = &step.indices.data[step.first..step.first + rows];
    let x = step.x.as_standard_layout();
    let values_layout;
    let block = c / members;
    let targets = match step.targets {
        ResidentTargets::Classes {
            labels,
            class_weights,
        } => StepTargets::Classes {
            labels: &labels.data,
            class_weights: class_weights.map(|w| &w[..block]),
        },
        ResidentTargets::Values(values) => {
            values_layout = values.as_standard_layout();
            StepTargets::Values(row_major_slice(op, "the targets", &values_layout)?)
        }
    };
    run(&FusedStep {
        isa,
        loss: step.loss,
        x: row_major_slice(op, "the rows", &x)?,
        features: d,
        outputs: c,
        indices,
        targets,
        params,
        members,
    })
}

/// The row-major values of a matrix that went through
/// `as_standard_layout`. `Rows` is a public enum around an `Array2`, so a caller can hand in
/// any layout (Fortran order, a transposed or strided view made owned):
/// `as_standard_layout` borrows a row-major one as it is and copies any
/// other, so every layout is accepted. The error is for an invariant break
/// in ndarray only, never expected.
fn row_major_slice<'a>(
    op: &'static str,
    what: &str,
    matrix: &'a CowArray<'_, f32, Ix2>,
) -> Result<&'a [f32]> {
    matrix.as_slice().ok_or_else(|| Error::ShapeMismatch {
        op,
        detail: format!("{what} are not contiguous in row-major order"),
    })
}
