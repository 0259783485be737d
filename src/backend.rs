//! The one seam between the training code and the hardware: every operation
//! training needs, implemented by [`crate::cpu::CpuBackend`] and
//! [`crate::gpu::GpuBackend`]. Tests and the training loop are written once
//! against this trait.
//!
//! Buffers are flat, row-major f32 (or u32) vectors. Operations record work;
//! on the GPU nothing runs until a read or [`Backend::flush`], so a whole
//! epoch of steps goes into one submission. Every operation checks its shapes
//! and offsets on the host and returns [`crate::Error::ShapeMismatch`] rather
//! than reaching the device with a bad index.

use crate::loss::Loss;
use crate::optimizer::UpdateStep;
use crate::{Error, Result};
use ndarray::{Array2, ArrayView2};

pub use shared_rows::SharedRows;

/// Which kind of device runs a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

/// What ran: reported in the training history and by `lintrain info`.
#[derive(Clone, Debug)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// Adapter name on the GPU ("llvmpipe (LLVM 15, 256 bits)"), "cpu" otherwise.
    pub adapter: String,
    /// Graphics API ("Vulkan") on the GPU, "ndarray" on the CPU.
    pub api: String,
    /// wgpu's device type ("Cpu", "DiscreteGpu", …), or "Host".
    pub device_type: String,
}

/// `out[out_offset..][M×N] = op(A)·B (+ bias)`, all row-major.
///
/// `A` is read at `a_offset`: M×K, or with `transpose_a` a K×M matrix used
/// as its transpose. `B` is K×N at `b_offset`. With `bias_offset`, a row
/// vector of N values read from the B buffer at that offset is added to every
/// row (so W and b can live in one parameter buffer).
#[derive(Clone, Copy, Debug, Default)]
pub struct MatmulSpec {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub transpose_a: bool,
    pub a_offset: usize,
    pub b_offset: usize,
    pub out_offset: usize,
    pub bias_offset: Option<usize>,
}

impl MatmulSpec {
    /// Plain `C = A·B` for contiguous matrices.
    pub fn new(m: usize, k: usize, n: usize) -> Self {
        Self {
            m,
            k,
            n,
            ..Self::default()
        }
    }
}

/// What a loss compares the scores against.
pub enum Targets<'a, B: Backend + ?Sized> {
    /// One class index per row, and optional per-class weights (length C).
    Classes {
        labels: &'a B::Indices,
        class_weights: Option<&'a B::Buffer>,
    },
    /// Real-valued targets, one per score (rows × C).
    Values(&'a B::Buffer),
}

// Shared references only: copied, whatever the backend's buffer types are
// (a derive would ask `B: Copy`).
impl<B: Backend + ?Sized> Clone for Targets<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend + ?Sized> Copy for Targets<'_, B> {}

/// Where a loss writes: `dscores` (rows × C), the per-row loss (rows), and
/// into `stats[2·slot]` the batch's mean data loss and into
/// `stats[2·slot + 1]` its number of correct predictions (0 for real
/// targets). A row is correct when its argmax (first maximum) equals the
/// label; with C = 1 when the score is above 0 (logistic) or 0.5 (MSE)
/// exactly when the label is 1.
pub struct LossOutputs<'a, B: Backend + ?Sized> {
    pub dscores: &'a mut B::Buffer,
    pub row_loss: &'a mut B::Buffer,
    pub stats: &'a mut B::Buffer,
    pub slot: usize,
}

/// What a fused step compares its rows against, read in place through the
/// step's indices: the resident dataset's labels, or its real-valued targets.
pub enum ResidentTargets<'a, B: Backend + ?Sized> {
    /// One class index per dataset row, and optional per-class weights (length C).
    Classes {
        labels: &'a B::Indices,
        class_weights: Option<&'a B::Buffer>,
    },
    /// Real-valued targets, a row of C per dataset row.
    Values(&'a B::Rows),
}

// By hand: a derive would ask for `B: Clone`, and only references are copied.
impl<B: Backend + ?Sized> Clone for ResidentTargets<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend + ?Sized> Copy for ResidentTargets<'_, B> {}

/// One fused step of the linear model over the rows
/// `indices[first..first + rows]` of a resident dataset with `outputs`
/// score columns.
pub struct LinearStep<'a, B: Backend + ?Sized> {
    pub loss: &'a Loss,
    pub x: &'a B::Rows,
    pub targets: ResidentTargets<'a, B>,
    pub indices: &'a B::Indices,
    pub first: usize,
    pub rows: usize,
    pub outputs: usize,
}

// By hand, as for `ResidentTargets`: only references are copied.
impl<B: Backend + ?Sized> Clone for LinearStep<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend + ?Sized> Copy for LinearStep<'_, B> {}

/// The operations training needs.
pub trait Backend {
    /// A flat f32 buffer.
    type Buffer;
    /// A flat u32 buffer of indices: class labels (indices into the
    /// classes), the rows a step reads (indices into the dataset), or
    /// predicted classes.
    type Indices;
    /// A resident row-major matrix (the dataset), possibly split over several
    /// device buffers.
    type Rows;

    fn info(&self) -> BackendInfo;

    fn zeros(&self, len: usize) -> Result<Self::Buffer>;
    fn upload(&self, data: &[f32]) -> Result<Self::Buffer>;
    /// Overwrites the start of `dst` with `data`.
    fn write(&self, dst: &mut Self::Buffer, data: &[f32]) -> Result<()>;
    fn read(&self, src: &Self::Buffer) -> Result<Vec<f32>>;
    fn len(&self, buffer: &Self::Buffer) -> usize;

    fn upload_indices(&self, data: &[u32]) -> Result<Self::Indices>;
    fn write_indices(&self, dst: &mut Self::Indices, data: &[u32]) -> Result<()>;
    fn read_indices(&self, src: &Self::Indices) -> Result<Vec<u32>>;
    fn indices_len(&self, indices: &Self::Indices) -> usize;
    /// The largest value in the buffer, known on the host without a readback.
    fn indices_max(&self, indices: &Self::Indices) -> Option<u32>;

    fn upload_rows(&self, x: ArrayView2<'_, f32>) -> Result<Self::Rows>;
    /// The caller's matrix as resident rows: [`Backend::upload_rows`] of
    /// it by default, read in place without a copy where the backend reads
    /// host memory (the CPU), which then holds a clone of `x` (keeping its
    /// owner alive) for as long as the rows live.
    fn share_rows(&self, x: &SharedRows) -> Result<Self::Rows> {
        self.upload_rows(x.view())
    }
    /// (rows, columns) of a resident matrix.
    fn rows_shape(&self, rows: &Self::Rows) -> (usize, usize);

    /// Overwrites the first `x.nrows()` rows of `dst` (which has as many
    /// columns) with `x`: a ring slot of streamed rows takes its next
    /// block. Work recorded before the write still reads the old rows.
    fn write_rows(&self, dst: &mut Self::Rows, x: ArrayView2<'_, f32>) -> Result<()>;

    /// [`Backend::write_rows`] of a block the caller owns, returning a
    /// buffer of the same shape for the caller to fill next: the old rows
    /// on the CPU, which swaps the two without copying, `x` itself where
    /// the rows are copied to a device.
    fn replace_rows(&self, dst: &mut Self::Rows, x: Array2<f32>) -> Result<Array2<f32>> {
        self.write_rows(dst, x.view())?;
        Ok(x)
    }

    /// Waits until at most `in_flight` submitted batches of work are still
    /// running: a stream of uploads then holds a bounded amount of staging
    /// memory however far the host runs ahead. A no-op where work runs when
    /// it is recorded (the CPU).
    fn settle(&self, in_flight: usize) -> Result<()> {
        let _ = in_flight;
        Ok(())
    }

    /// Minibatch gather: `out[r] = src[indices[first + r]]` for r < `count`,
    /// and the same for `labels` when given (`(source, destination)`).
    fn gather(
        &self,
        src: &Self::Rows,
        labels: Option<(&Self::Indices, &mut Self::Indices)>,
        indices: &Self::Indices,
        first: usize,
        count: usize,
        out: &mut Self::Buffer,
    ) -> Result<()>;

    /// See [`MatmulSpec`].
    fn matmul(
        &self,
        a: &Self::Buffer,
        b: &Self::Buffer,
        out: &mut Self::Buffer,
        spec: &MatmulSpec,
    ) -> Result<()>;

    /// Bias gradient: `out[out_offset + j] = Σ_i a[i·cols + j]`, summed in row order.
    fn column_sums(
        &self,
        a: &Self::Buffer,
        rows: usize,
        cols: usize,
        out: &mut Self::Buffer,
        out_offset: usize,
    ) -> Result<()>;

    /// Fused loss: see [`Loss`] for the formulas and [`LossOutputs`] for what is written.
    fn loss(
        &self,
        loss: &Loss,
        scores: &Self::Buffer,
        targets: Targets<'_, Self>,
        rows: usize,
        cols: usize,
        out: LossOutputs<'_, Self>,
    ) -> Result<()>;

    /// `out[slot] = Σ x[..len]` (or the mean), in a fixed order.
    fn sum(
        &self,
        x: &Self::Buffer,
        len: usize,
        mean: bool,
        out: &mut Self::Buffer,
        slot: usize,
    ) -> Result<()>;

    /// `y[i] = α·x[i] + β·y[i]` for i < `len` (BLAS's axpby), in f32, each
    /// element on its own. With β = 0, y is only written, never read:
    /// `y[i] = α·x[i]` even where y held NaN or ∞.
    fn axpby(
        &self,
        alpha: f32,
        x: &Self::Buffer,
        beta: f32,
        y: &mut Self::Buffer,
        len: usize,
    ) -> Result<()>;

    /// `out[i] = argmax_j x[i·cols + j]`, the first index of the maximum.
    fn argmax_rows(
        &self,
        x: &Self::Buffer,
        rows: usize,
        cols: usize,
        out: &mut Self::Indices,
    ) -> Result<()>;

    /// `out[slot] = (1/n)·#{i < n : predicted[i] = labels[i]}`.
    fn accuracy(
        &self,
        predicted: &Self::Indices,
        labels: &Self::Indices,
        n: usize,
        out: &mut Self::Buffer,
        slot: usize,
    ) -> Result<()>;

    /// One fused optimizer update of every parameter and its state
    /// (`state` holds [`crate::optimizer::STATE_SLOTS`] × len values), with
    /// the regularizer's gradient added for the first `weight_len` entries.
    fn update(
        &self,
        params: &mut Self::Buffer,
        grads: &Self::Buffer,
        state: &mut Self::Buffer,
        step: &UpdateStep,
    ) -> Result<()>;

    /// The fused optimizer update of every member of a sweep: member k's
    /// `params[k]`, `grads[k]` and `states[k]` as [`Backend::update`] takes
    /// them, with its own `steps[k]` (its learning rate, regularizer and
    /// optimizer hyperparameters: the per-member table, built on the host).
    /// The default updates each member in turn: on the GPU each update is
    /// one dispatch whose hyperparameters are recorded into the epoch's
    /// parameter arena, uploaded once per submission, not per step. The
    /// CPU backend runs every member's chunks in one parallel pass.
    fn update_members(
        &self,
        params: &mut [Self::Buffer],
        grads: &[Self::Buffer],
        states: &mut [Self::Buffer],
        steps: &[UpdateStep],
    ) -> Result<()> {
        checks::member_updates(params.len(), grads.len(), states.len(), steps.len())?;
        for (((params, grads), state), step) in params.iter_mut().zip(grads).zip(states).zip(steps)
        {
            self.update(params, grads, state, step)?;
        }
        Ok(())
    }

    /// Submits everything recorded so far (a no-op on the CPU).
    fn flush(&self) -> Result<()>;

    /// The most rows one [`Backend::linear_step`] over the dataset `x`
    /// with `outputs` score columns should take, so that it runs this
    /// backend's fast path; a pass over the whole dataset (the full-batch
    /// objective) steps through it in chunks of this many rows.
    ///
    /// This default suits the unfused composition: see
    /// [`unfused_step_rows`].
    fn preferred_step_rows(&self, x: &Self::Rows, outputs: usize) -> usize {
        let (rows, features) = self.rows_shape(x);
        unfused_step_rows(features, outputs).min(rows.max(1))
    }

    /// Fused forward, loss and gradient of the linear model over a minibatch
    /// read in place: `scores = x[idx]·W + b` with `params = [W (D×C) | b]`,
    /// the loss's mean and correct count into `stats[2·slot]` and
    /// `stats[2·slot + 1]` (as [`Backend::loss`] writes them), and, when
    /// `grads` is given, the gradient of the batch's mean data loss
    /// `[dW | db]` written over its first D·C + C values.
    ///
    /// This default composes the unfused operations and allocates its
    /// scratch on every call; backends override it with a single pass.
    /// [`Backend::linear_step`] for the models of a sweep over the same
    /// rows: member k has `params[k] = [W_k (D×C) | b_k]` with C =
    /// `step.outputs`; its loss mean and correct count go to
    /// `stats[2·(slot·K + k)]` and `stats[2·(slot·K + k) + 1]` (K =
    /// `params.len()`), and, when `grads` is given, its gradient `[dW_k |
    /// db_k]` over the start of `grads[k]`. Each member's results are those
    /// of its own `linear_step`, up to f32 rounding.
    ///
    /// This default runs one step per member, each reading the rows again.
    /// The CPU backend overrides it with one pass whose row reads and
    /// products serve every member (the members side by side as one wide
    /// model, each block of C scores its own loss); the GPU backend, where
    /// its step runs unfused, gathers the rows once for every member
    /// ([`unfused_members_step`]).
    fn linear_step_members(
        &self,
        step: LinearStep<'_, Self>,
        params: &[Self::Buffer],
        grads: Option<&mut [Self::Buffer]>,
        stats: &mut Self::Buffer,
        slot: usize,
    ) -> Result<()> {
        step_each_member(self, step, params, grads, stats, slot)
    }

    fn linear_step(
        &self,
        step: LinearStep<'_, Self>,
        params: &Self::Buffer,
        grads: Option<&mut Self::Buffer>,
        stats: &mut Self::Buffer,
        slot: usize,
    ) -> Result<()> {
        unfused_linear_step(self, step, params, grads, stats, slot)
    }
}

/// [`Backend::linear_step`] as separate operations: gather, forward matmul
/// with bias, loss, Xᵀ·dS and column sums, after the checks every fused
/// step makes first, so that it rejects what a fused step rejects, with the
/// same errors.
/// Kept public so that tests and the benchmark can compare a backend's
/// fused step against it.
pub fn unfused_linear_step<B: Backend + ?Sized>(
    backend: &B,
    step: LinearStep<'_, B>,
    params: &B::Buffer,
    grads: Option<&mut B::Buffer>,
    stats: &mut B::Buffer,
    slot: usize,
) -> Result<()> {
    unfused_members_step(
        backend,
        step,
        std::slice::from_ref(params),
        grads.map(std::slice::from_mut),
        stats,
        slot,
    )
}

/// [`Backend::linear_step_members`] as the unfused composition with the
/// rows gathered once for every member: one gather of the batch's rows and
/// targets, then per member its forward matmul with bias, loss (stats slot
/// `slot·K + k`), `Xᵀ·dS` and column sums, reusing the same scratch. What
/// a backend whose members step unfused runs instead of one
/// [`unfused_linear_step`] per member, which would gather again for each.
pub fn unfused_members_step<B: Backend + ?Sized>(
    backend: &B,
    step: LinearStep<'_, B>,
    params: &[B::Buffer],
    grads: Option<&mut [B::Buffer]>,
    stats: &mut B::Buffer,
    slot: usize,
) -> Result<()> {
    let members = checks::members_step(backend, &step, params, grads.as_deref(), stats, slot)?;
    let slot_of = |k: usize| checks::member_slot(slot, members, k);
    let (_, d) = backend.rows_shape(step.x);
    let (rows, c) = (step.rows, step.outputs);
    let mut batch_x = backend.zeros(rows * d)?;
    let mut scores = backend.zeros(rows * c)?;
    let mut dscores = backend.zeros(rows * c)?;
    let mut row_loss = backend.zeros(rows)?;
    let mut batch_labels;
    let batch_values;
    let targets = match step.targets {
        ResidentTargets::Classes {
            labels,
            class_weights,
        } => {
            batch_labels = backend.upload_indices(&vec![0; rows])?;
            backend.gather(
                step.x,
                Some((labels, &mut batch_labels)),
                step.indices,
                step.first,
                rows,
                &mut batch_x,
            )?;
            Targets::Classes {
                labels: &batch_labels,
                class_weights,
            }
        }
        ResidentTargets::Values(values) => {
            backend.gather(step.x, None, step.indices, step.first, rows, &mut batch_x)?;
            let mut gathered = backend.zeros(rows * c)?;
            backend.gather(values, None, step.indices, step.first, rows, &mut gathered)?;
            batch_values = gathered;
            Targets::Values(&batch_values)
        }
    };
    let forward = MatmulSpec {
        bias_offset: Some(d * c),
        ..MatmulSpec::new(rows, d, c)
    };
    let weight_grad = MatmulSpec {
        transpose_a: true,
        ..MatmulSpec::new(d, rows, c)
    };
    let mut grads = grads;
    for (k, params) in params.iter().enumerate() {
        backend.matmul(&batch_x, params, &mut scores, &forward)?;
        backend.loss(
            step.loss,
            &scores,
            targets,
            rows,
            c,
            LossOutputs {
                dscores: &mut dscores,
                row_loss: &mut row_loss,
                stats,
                slot: slot_of(k),
            },
        )?;
        if let Some(grads) = grads.as_deref_mut() {
            backend.matmul(&batch_x, &dscores, &mut grads[k], &weight_grad)?;
            backend.column_sums(&dscores, rows, c, &mut grads[k], d * c)?;
        }
    }
    Ok(())
}

/// [`Backend::linear_step_members`] as one [`Backend::linear_step`] per
/// member (each reads the rows again): the trait's default, and what a
/// backend falls back to where it has no shared pass.
pub fn step_each_member<B: Backend + ?Sized>(
    backend: &B,
    step: LinearStep<'_, B>,
    params: &[B::Buffer],
    grads: Option<&mut [B::Buffer]>,
    stats: &mut B::Buffer,
    slot: usize,
) -> Result<()> {
    let members = checks::members(params.len(), grads.as_ref().map(|g| g.len()))?;
    // Each member's own step checks its slot.
    let slot_of = |k: usize| checks::member_slot(slot, members, k);
    match grads {
        Some(grads) => {
            for (k, (params, grads)) in params.iter().zip(grads).enumerate() {
                backend.linear_step(step, params, Some(grads), stats, slot_of(k))?;
            }
        }
        None => {
            for (k, params) in params.iter().enumerate() {
                backend.linear_step(step, params, None, stats, slot_of(k))?;
            }
        }
    }
    Ok(())
}

/// Values of scratch a step of the unfused composition may hold at most
/// (16 MiB of f32): its gathered rows and its scores, score gradients and
/// targets, which it allocates on every call.
const UNFUSED_STEP_VALUES: usize = 1 << 22;

/// The most rows for one step of [`unfused_linear_step`] with `features`
/// columns and `outputs` scores: `rows·(features + 3·outputs + 1) ≤ 2²²`,
/// and at least one row.
pub fn unfused_step_rows(features: usize, outputs: usize) -> usize {
    let per_row = features + 3 * outputs + 1;
    (UNFUSED_STEP_VALUES / per_row).max(1)
}

/// Checks `offset + len ≤ capacity` for an operand of an op.
pub(crate) fn check_extent(
    op: &'static str,
    operand: &str,
    offset: usize,
    len: usize,
    capacity: usize,
) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= capacity => Ok(()),
        _ => Err(Error::ShapeMismatch {
            op,
            detail: format!(
                "{operand} needs elements {offset}..{} but its buffer holds {capacity}",
                offset.saturating_add(len)
            ),
        }),
    }
}

/// Shape checks shared by both backends, so that they reject the same inputs.
pub(crate) mod checks;
pub(crate) mod ring;
mod shared_rows;

/// Rows of `x` (rows, columns) fit a ring slot of `slot` (rows, columns):
/// as many columns, no more rows.
pub(crate) fn check_rows_fit(slot: (usize, usize), x: (usize, usize)) -> Result<()> {
    if x.1 == slot.1 && x.0 <= slot.0 {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: "write_rows",
        detail: format!(
            "{}×{} rows do not fit a {}×{} slot",
            x.0, x.1, slot.0, slot.1
        ),
    })
}
