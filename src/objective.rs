//! The full-batch objective of the linear model, evaluated by a backend in
//! one pass over the whole resident training set: what the quasi-Newton
//! solvers minimize (see [`crate::solver`]), and what a regularization
//! sweep or a distributed run evaluates.
//!
//! With parameters `θ = [W (D×C, row-major) | b (C)]`, P = (D + 1)·C:
//!
//! ```text
//! f(θ) = (1/N)·Σ_{i<N} ℓ(x_i·W + b, y_i) + λ₂·Σ W²
//! ∇f(θ) = [ (1/N)·Σ_i x_iᵀ·ds_i + 2λ₂·W | (1/N)·Σ_i ds_i ]
//! ```
//!
//! with ℓ the row loss of [`Loss`] (class weights included, as its rustdoc
//! states: the weighted rows are still divided by N) and `ds_i` its
//! gradient with respect to the row's scores. The bias is never penalized,
//! and an L1 term is not part of this objective: OWL-QN handles it.
//!
//! # One pass
//! The N rows are read in place, in chunks of
//! [`Backend::preferred_step_rows`] rows (the largest that runs the
//! backend's fused step; the last chunk holds the rest), through one
//! resident index buffer `0..N`. Chunk k has `n_k` rows and runs one
//! [`Backend::linear_step`], which writes the gradient `g_k` of the chunk's
//! mean loss and, into its own stats slot, the chunk's mean loss and
//! correct count. On the device, [`Backend::axpby`] folds the gradients
//! into one accumulator in chunk order:
//!
//! ```text
//! a = g_0,   a ← (n_k / n_0)·g_k + a   for k = 1, 2, …
//! ```
//!
//! so that `(n_0 / N)·a = (1/N)·Σ_k n_k·g_k` is the data gradient; every
//! full chunk adds with factor 1. The accumulator and the stats share one
//! buffer, read back once per evaluation, and the host combines them in
//! f64 in chunk order: the data loss `Σ_k (n_k/N)·mean_k`, the scale
//! `n_0/N`, and the penalty and its gradient from the f64 parameters.
//! Nothing is summed with atomics, so an evaluation is bitwise repeatable.
//!
//! # Across ranks
//! In a data-parallel run ([`crate::distributed`]) each rank holds `n_r`
//! of the N rows and evaluates its own share as above, without the
//! penalty. The ranks then add `[(n_r/N)·∇_data f_r | (n_r/N)·loss_r |
//! correct_r]` in rank order ([`Collective::ordered_sum`]), and every rank
//! adds the penalty to the same sum: one reduction of P + 2 values per
//! evaluation, and the same value, bit for bit, on every rank.
//!
//! On the GPU a pass records every chunk into the pending submission (one
//! submission for up to ~2000 chunks), and after the first evaluation
//! allocates nothing where the fused step runs (at most 16 outputs; the
//! unfused composition allocates its scratch on every step).

use crate::backend::ring::{BlockFeed, DeviceRing, FeedOrder, block_rows_for};
use crate::backend::{Backend, LinearStep, ResidentTargets, checks};
use crate::distributed::Collective;
use crate::loss::Loss;
use crate::solver::Objective;
use crate::{Error, Result};

/// The data of a full-batch objective: the resident dataset (N rows of D
/// features), what its rows are compared against, the loss, and the
/// number of score columns C (for class labels,
/// [`Loss::outputs_for_classes`]).
pub struct FullBatch<'a, B: Backend + ?Sized> {
    pub loss: Loss,
    pub x: &'a B::Rows,
    pub targets: ResidentTargets<'a, B>,
    pub outputs: usize,
}

/// The rows a pass reads.
enum PassRows<'a, B: Backend> {
    /// The resident dataset, read through `every_row = 0..N`.
    Resident {
        x: &'a B::Rows,
        targets: ResidentTargets<'a, B>,
        every_row: B::Indices,
    },
    /// Rows passed through a ring of device buffers, block by block, in
    /// stored order; each block is a whole number of chunks.
    Ring {
        ring: DeviceRing<B>,
        feed: Box<dyn BlockFeed + 'a>,
        class_weights: Option<&'a B::Buffer>,
    },
}

/// The objective at one point, as one evaluation found it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectiveValue {
    /// `data_loss + penalty`.
    pub objective: f64,
    /// `(1/N)·Σ ℓ`, the mean (class-weighted) data loss.
    pub data_loss: f64,
    /// `λ₂·Σ W²`.
    pub penalty: f64,
    /// Rows classified correctly (0 for real-valued targets): see
    /// [`crate::backend::LossOutputs`] for when a row counts.
    pub correct: usize,
}

/// [`Objective`] over a [`Backend`]: `f(θ)` and `∇f(θ)` of the module's
/// formula, one pass over the resident dataset per evaluation.
pub struct FullBatchObjective<'a, B: Backend> {
    backend: &'a B,
    source: PassRows<'a, B>,
    loss: Loss,
    outputs: usize,
    l2: f64,
    rows: usize,
    features: usize,
    chunk_rows: usize,
    /// θ in f32, written each evaluation.
    params: B::Buffer,
    /// The gradient of one chunk's mean loss.
    chunk_gradient: B::Buffer,
    /// `[a (P) | padding to even | (mean loss, correct) per chunk]`.
    accumulator: B::Buffer,
    /// θ as f32 on the host, reused.
    params_f32: Vec<f32>,
    last: Option<(Vec<f64>, ObjectiveValue)>,
    /// The other ranks of a data-parallel run, and N, the rows of all.
    across: Option<(&'a dyn Collective, usize)>,
}

impl<'a, B: Backend> FullBatchObjective<'a, B> {
    /// The objective of `data` with the penalty `l2·ΣW²`, stepping through
    /// the dataset in chunks of [`Backend::preferred_step_rows`] rows.
    pub fn new(backend: &'a B, data: FullBatch<'a, B>, l2: f64) -> Result<Self> {
        let chunk_rows = backend.preferred_step_rows(data.x, data.outputs);
        Self::with_chunk_rows(backend, data, l2, chunk_rows)
    }

    /// The same with chunks of `chunk_rows` rows (the last one shorter), to
    /// test the chunking or measure another size. Allocates the resident
    /// buffers and makes every check a step makes, over all the rows: a
    /// label out of range or targets of the wrong shape fail here.
    pub fn with_chunk_rows(
        backend: &'a B,
        data: FullBatch<'a, B>,
        l2: f64,
        chunk_rows: usize,
    ) -> Result<Self> {
        Self::build(backend, data, l2, chunk_rows, None)
    }

    /// The objective of the rows `rows` of `data` alone (indices into its
    /// matrix, in the order a pass reads them): a split of a matrix read
    /// in place. The chunks are [`FullBatchObjective::new`]'s.
    pub fn over_rows(
        backend: &'a B,
        data: FullBatch<'a, B>,
        l2: f64,
        rows: Vec<u32>,
    ) -> Result<Self> {
        let chunk_rows = backend.preferred_step_rows(data.x, data.outputs);
        Self::build(backend, data, l2, chunk_rows, Some(rows))
    }

    fn build(
        backend: &'a B,
        data: FullBatch<'a, B>,
        l2: f64,
        chunk_rows: usize,
        subset: Option<Vec<u32>>,
    ) -> Result<Self> {
        data.loss.validate()?;
        check_l2(l2)?;
        let (rows, features) = backend.rows_shape(data.x);
        let rows = subset.as_ref().map_or(rows, Vec::len);
        if rows == 0 || chunk_rows == 0 {
            return Err(Error::InvalidConfig(format!(
                "a full-batch objective needs rows and chunks of at least one row, \
                 got {rows} rows in chunks of {chunk_rows}"
            )));
        }
        // Chunk 0 is a full chunk: the scale n_0/N and the factors n_k/n_0 rely on it.
        let chunk_rows = chunk_rows.min(rows);
        let rows_u32 = u32::try_from(rows).map_err(|_| Error::ShapeMismatch {
            op: "full-batch objective",
            detail: format!("{rows} rows do not fit u32 row indices"),
        })?;
        let parameters = (features + 1) * data.outputs;
        let chunks = rows.div_ceil(chunk_rows);
        let every_row = match subset {
            Some(subset) => backend.upload_indices(&subset)?,
            None => backend.upload_indices(&(0..rows_u32).collect::<Vec<_>>())?,
        };
        let params = backend.zeros(parameters)?;
        let chunk_gradient = backend.zeros(parameters)?;
        let accumulator = backend.zeros(stats_offset(parameters) + 2 * chunks)?;
        let objective = Self {
            backend,
            source: PassRows::Resident {
                x: data.x,
                targets: data.targets,
                every_row,
            },
            loss: data.loss,
            outputs: data.outputs,
            l2,
            rows,
            features,
            chunk_rows,
            params,
            chunk_gradient,
            accumulator,
            params_f32: vec![0.0; parameters],
            last: None,
            across: None,
        };
        let PassRows::Resident {
            x,
            targets,
            every_row,
        } = &objective.source
        else {
            unreachable!("built resident above");
        };
        let whole = LinearStep {
            loss: &objective.loss,
            x: *x,
            targets: *targets,
            indices: every_row,
            first: 0,
            rows,
            outputs: objective.outputs,
        };
        checks::linear_step(
            backend,
            &whole,
            &objective.params,
            Some(&objective.chunk_gradient),
            &objective.accumulator,
            objective.stats_slot(chunks - 1),
        )?;
        Ok(objective)
    }

    /// The objective of the class-labelled rows of `feed`, passed through
    /// a ring of device buffers in blocks of about `block_bytes` (rows
    /// that are not resident on the backend: streamed from disk, or larger
    /// than the device budget). Chunks are the backend's preferred step
    /// size on a ring slot, and a block is a whole number of chunks, so
    /// where a resident pass takes the same chunk size the two give the
    /// same bits.
    pub(crate) fn through_ring(
        backend: &'a B,
        loss: Loss,
        outputs: usize,
        class_weights: Option<&'a B::Buffer>,
        feed: Box<dyn BlockFeed + 'a>,
        l2: f64,
        block_bytes: u64,
    ) -> Result<Self> {
        loss.validate()?;
        check_l2(l2)?;
        let (rows, features) = (feed.rows(), feed.features());
        if rows == 0 {
            return Err(Error::InvalidConfig(
                "a full-batch objective needs rows, the data has none".into(),
            ));
        }
        let target_rows = block_rows_for(1, features, block_bytes).min(rows);
        let mut ring = DeviceRing::new(backend, target_rows, features)?;
        let chunk_rows = backend
            .preferred_step_rows(ring.slot_rows(), outputs)
            .clamp(1, target_rows);
        let block_rows = target_rows / chunk_rows * chunk_rows;
        if block_rows != target_rows {
            ring = DeviceRing::new(backend, block_rows, features)?;
        }
        let parameters = (features + 1) * outputs;
        let chunks = rows.div_ceil(chunk_rows);
        Ok(Self {
            backend,
            source: PassRows::Ring {
                ring,
                feed,
                class_weights,
            },
            loss,
            outputs,
            l2,
            rows,
            features,
            chunk_rows,
            params: backend.zeros(parameters)?,
            chunk_gradient: backend.zeros(parameters)?,
            accumulator: backend.zeros(stats_offset(parameters) + 2 * chunks)?,
            params_f32: vec![0.0; parameters],
            last: None,
            across: None,
        })
    }

    /// Makes this the share of one rank of a data-parallel run over
    /// `total_rows` rows in all: every evaluation adds the ranks' shares
    /// through `collective` (see the module's "Across ranks"), so every
    /// rank must evaluate at the same points, with or without the
    /// gradient alike.
    pub fn across(&mut self, collective: &'a dyn Collective, total_rows: usize) -> Result<()> {
        if total_rows < self.rows {
            return Err(Error::Distributed(format!(
                "this rank holds {} rows, more than the {total_rows} of every rank",
                self.rows
            )));
        }
        self.across = Some((collective, total_rows));
        self.last = None;
        Ok(())
    }

    /// N, the rows of the dataset (of every rank's share, in a
    /// data-parallel run).
    pub fn rows(&self) -> usize {
        self.across.map_or(self.rows, |(_, total)| total)
    }

    /// Rows per chunk (the last chunk holds the rest; at most N).
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Steps per pass.
    pub fn chunks(&self) -> usize {
        self.rows.div_ceil(self.chunk_rows)
    }

    /// λ₂, the coefficient of `ΣW²`.
    pub fn l2(&self) -> f64 {
        self.l2
    }

    /// Changes λ₂ (a regularization path refits with the same data).
    pub fn set_l2(&mut self, l2: f64) -> Result<()> {
        check_l2(l2)?;
        self.l2 = l2;
        self.last = None;
        Ok(())
    }

    /// The last evaluation: its parameters and what it found. A solver's
    /// line search may evaluate trial points after the one it accepts, so
    /// compare the parameters before reusing the value.
    pub fn last_evaluation(&self) -> Option<(&[f64], ObjectiveValue)> {
        self.last
            .as_ref()
            .map(|(params, value)| (&params[..], *value))
    }

    /// Evaluates the objective at `params` (`[W | b]`, P values), writing
    /// `∇f` into `gradient` when given (P values). One pass and one
    /// readback.
    pub fn evaluate(
        &mut self,
        params: &[f64],
        gradient: Option<&mut [f64]>,
    ) -> Result<ObjectiveValue> {
        let parameters = self.dimension();
        check_length("parameters", params.len(), parameters)?;
        if let Some(gradient) = &gradient {
            check_length("gradient", gradient.len(), parameters)?;
        }
        for (to, &from) in self.params_f32.iter_mut().zip(params) {
            *to = from as f32;
        }
        self.backend.write(&mut self.params, &self.params_f32)?;
        let with_gradient = gradient.is_some();
        self.record_pass(with_gradient)?;
        let accumulated = self.backend.read(&self.accumulator)?;
        let value = self.combine(params, &accumulated, gradient)?;
        match &mut self.last {
            Some((last_params, last_value)) => {
                last_params.copy_from_slice(params);
                *last_value = value;
            }
            None => self.last = Some((params.to_vec(), value)),
        }
        Ok(value)
    }

    /// Records every chunk's step of one pass and, with the gradient, its
    /// share of the accumulator.
    fn record_pass(&mut self, with_gradient: bool) -> Result<()> {
        let chunks = self.chunks();
        let mut sink = ChunkSink {
            backend: self.backend,
            params: &self.params,
            chunk_gradient: &mut self.chunk_gradient,
            accumulator: &mut self.accumulator,
            with_gradient: with_gradient.then_some(self.chunk_rows),
            stats_base: stats_offset(self.params_f32.len()) / 2,
            chunk: 0,
        };
        match &mut self.source {
            PassRows::Resident {
                x,
                targets,
                every_row,
            } => {
                for chunk in 0..chunks {
                    let first = chunk * self.chunk_rows;
                    let rows = self.chunk_rows.min(self.rows - first);
                    sink.record(LinearStep {
                        loss: &self.loss,
                        x,
                        targets: *targets,
                        indices: every_row,
                        first,
                        rows,
                        outputs: self.outputs,
                    })?;
                }
            }
            PassRows::Ring {
                ring,
                feed,
                class_weights,
            } => {
                let (loss, outputs, chunk_rows) = (&self.loss, self.outputs, self.chunk_rows);
                let mut source = feed.blocks(FeedOrder::Sequential, ring.block_rows())?;
                ring.pass(self.backend, source.as_mut(), feed.labels(), &mut |block| {
                    let mut first = 0;
                    while first < block.rows {
                        let rows = chunk_rows.min(block.rows - first);
                        sink.record(LinearStep {
                            loss,
                            x: block.x,
                            targets: ResidentTargets::Classes {
                                labels: block.labels,
                                class_weights: *class_weights,
                            },
                            indices: block.order,
                            first,
                            rows,
                            outputs,
                        })?;
                        first += rows;
                    }
                    Ok(())
                })?;
            }
        }
        if sink.chunk != chunks {
            return Err(Error::InvalidConfig(format!(
                "a pass took {} chunks, {chunks} were planned (the data changed during the run?)",
                sink.chunk
            )));
        }
        Ok(())
    }

    /// The stats slot of chunk `chunk` in the accumulator.
    fn stats_slot(&self, chunk: usize) -> usize {
        stats_offset(self.dimension()) / 2 + chunk
    }

    /// The objective from the accumulator read back, in f64 and in chunk
    /// order (then in rank order across ranks), with `∇f` written into
    /// `gradient` when given.
    fn combine(
        &self,
        params: &[f64],
        accumulated: &[f32],
        mut gradient: Option<&mut [f64]>,
    ) -> Result<ObjectiveValue> {
        let n = self.rows as f64;
        let stats = &accumulated[stats_offset(self.dimension())..];
        let mut data_loss = 0.0;
        let mut correct = 0.0;
        for chunk in 0..self.chunks() {
            let first = chunk * self.chunk_rows;
            let rows = self.chunk_rows.min(self.rows - first) as f64;
            data_loss += rows / n * stats[2 * chunk] as f64;
            correct += stats[2 * chunk + 1] as f64;
        }
        if let Some(gradient) = gradient.as_deref_mut() {
            let scale = self.chunk_rows as f64 / n;
            for (g, &a) in gradient.iter_mut().zip(accumulated) {
                *g = scale * a as f64;
            }
        }
        if let Some((collective, total)) = self.across {
            let weight = n / total as f64;
            let mut shared: Vec<f64> = gradient.as_deref().unwrap_or(&[]).to_vec();
            for g in &mut shared {
                *g *= weight;
            }
            shared.extend([weight * data_loss, correct]);
            collective.ordered_sum(&mut shared)?;
            correct = shared.pop().expect("pushed above");
            data_loss = shared.pop().expect("pushed above");
            if let Some(gradient) = gradient.as_deref_mut() {
                gradient.copy_from_slice(&shared);
            }
        }
        let weights = &params[..self.features * self.outputs];
        let penalty = self.l2 * weights.iter().map(|w| w * w).sum::<f64>();
        if let Some(gradient) = gradient {
            for (g, &w) in gradient.iter_mut().zip(weights) {
                *g += 2.0 * self.l2 * w;
            }
        }
        Ok(ObjectiveValue {
            objective: data_loss + penalty,
            data_loss,
            penalty,
            correct: correct as usize,
        })
    }
}

impl<B: Backend> Objective for FullBatchObjective<'_, B> {
    fn dimension(&self) -> usize {
        (self.features + 1) * self.outputs
    }

    fn value_and_gradient(&mut self, params: &[f64], gradient: &mut [f64]) -> Result<f64> {
        Ok(self.evaluate(params, Some(gradient))?.objective)
    }
}

/// Where a pass's chunk steps go: chunk k writes its stats to slot
/// `stats_base + k` and, with the gradient, folds `(n_k / n_0)·g_k` into
/// the accumulator (chunk 0 starts it).
struct ChunkSink<'s, B: Backend> {
    backend: &'s B,
    params: &'s B::Buffer,
    chunk_gradient: &'s mut B::Buffer,
    accumulator: &'s mut B::Buffer,
    /// `Some(n_0)`, the rows of a full chunk, when the gradient is wanted.
    with_gradient: Option<usize>,
    stats_base: usize,
    chunk: usize,
}

impl<B: Backend> ChunkSink<'_, B> {
    fn record(&mut self, step: LinearStep<'_, B>) -> Result<()> {
        let slot = self.stats_base + self.chunk;
        let chunk = self.chunk;
        self.chunk += 1;
        let Some(full_rows) = self.with_gradient else {
            return self
                .backend
                .linear_step(step, self.params, None, self.accumulator, slot);
        };
        let rows = step.rows;
        self.backend.linear_step(
            step,
            self.params,
            Some(self.chunk_gradient),
            self.accumulator,
            slot,
        )?;
        // Chunk 0 starts the sum (β = 0: whatever the accumulator held is
        // not read); full chunks add with factor 1.
        let factor = (rows as f64 / full_rows as f64) as f32;
        let keep = if chunk == 0 { 0.0 } else { 1.0 };
        let parameters = self.backend.len(self.chunk_gradient);
        self.backend.axpby(
            factor,
            self.chunk_gradient,
            keep,
            self.accumulator,
            parameters,
        )
    }
}

/// Where the stats start in the accumulator: after the P gradient values,
/// at an even index so that stats slots (pairs) can name it.
fn stats_offset(parameters: usize) -> usize {
    parameters.next_multiple_of(2)
}

fn check_l2(l2: f64) -> Result<()> {
    if l2.is_finite() && l2 >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "the L2 coefficient must be finite and ≥ 0, got {l2}"
        )))
    }
}

fn check_length(what: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op: "full-batch objective",
            detail: format!("{len} {what} values, expected (D + 1)·C = {expected}"),
        })
    }
}
