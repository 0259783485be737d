//! What one rank of a data-parallel run knows of the others: each rank's
//! training and validation rows, gathered once when the run starts, and
//! the collective that joins their steps ([`crate::distributed`]).
//!
//! Full-batch runs (L-BFGS, and minibatch runs whose batch is every row)
//! evaluate the same objective as one process over all the rows. A
//! minibatch run is synchronous data-parallel SGD: at step s of an epoch
//! rank r reads its own batch of `b_r(s)` rows (sampled from its share,
//! seeded by its rank), and every rank updates with
//!
//! ```text
//! g(s) = Σ_r (b_r(s) / Σ_q b_q(s)) · g_r(s)
//! ```
//!
//! the mean gradient over the global batch of about K × the batch size,
//! added in rank order. An epoch has as many steps as the rank with the
//! most: a rank whose share ran out takes part with an empty batch.

use super::prepare::Prepared;
use super::step_plan::StepPlan;
use crate::backend::{Backend, BackendKind};
use crate::config::{BatchSize, Sampling, TrainConfig};
use crate::distributed::{Collective, Shares, gather_u64, same_on_every_rank};
use crate::{Error, Result};

/// One rank's view of a data-parallel run.
pub(super) struct Across<'c> {
    pub collective: &'c dyn Collective,
    pub train: Shares,
    /// `None` when no rank holds validation rows.
    pub validation: Option<Shares>,
    /// Each rank's rows per step (its batch: the batch size, or its share
    /// when that is smaller or the batch is every row).
    batches: Vec<usize>,
    sampling: Sampling,
}

impl<'c> Across<'c> {
    /// Gathers every rank's rows and checks that the ranks can train
    /// together: the same features and score columns, rows of every part
    /// on every rank, and the same kind of backend (a minibatch step is
    /// taken on every rank's own device, and a CPU's and a GPU's arithmetic
    /// would set the ranks' weights apart).
    pub fn gather(
        collective: &'c dyn Collective,
        config: &TrainConfig,
        prepared: &Prepared<'_>,
        outputs: usize,
        backend: BackendKind,
    ) -> Result<Self> {
        let features = prepared.train.x.ncols();
        same_on_every_rank(collective, "features", features as u64)?;
        same_on_every_rank(collective, "score columns (classes)", outputs as u64)?;
        let kinds = gather_u64(collective, matches!(backend, BackendKind::Gpu) as u64)?;
        if let Some(rank) = kinds.iter().position(|&k| k != kinds[0]) {
            let name = |k: u64| if k == 1 { "a GPU" } else { "the CPU" };
            return Err(Error::Distributed(format!(
                "rank 0 trains on {} and rank {rank} on {}: give every rank the same --backend",
                name(kinds[0]),
                name(kinds[rank])
            )));
        }
        let train = Shares::gather(collective, prepared.train.len())?;
        train.require_rows("training")?;
        let validation = Shares::gather(
            collective,
            prepared.validation.as_ref().map_or(0, |v| v.len()),
        )?;
        let validation = if validation.total() == 0 {
            None
        } else {
            validation.require_rows("validation")?;
            Some(validation)
        };
        let batches = train
            .rows
            .iter()
            .map(|&rows| match config.batch_size {
                BatchSize::Rows(b) => b.min(rows).max(1),
                BatchSize::Full => rows,
            })
            .collect();
        Ok(Self {
            collective,
            train,
            validation,
            batches,
            sampling: config.sampling,
        })
    }

    /// Steps per epoch: those of the rank that takes the most.
    pub fn steps_per_epoch(&self) -> usize {
        (0..self.batches.len())
            .map(|r| self.train.rows[r].div_ceil(self.batches[r]))
            .max()
            .unwrap_or(0)
    }

    /// Makes `plan` (this rank's) step with every rank: the epoch's steps
    /// are [`Across::steps_per_epoch`], and the schedule runs over them.
    pub fn spread(&self, plan: &mut StepPlan, epochs: usize) {
        plan.spread_over(self.steps_per_epoch(), epochs);
    }

    /// Rank `rank`'s rows at step `step` (0-based) of an epoch.
    fn step_rows(&self, rank: usize, step: usize) -> usize {
        let batch = self.batches[rank];
        match self.sampling {
            Sampling::WithReplacement => batch,
            _ => batch.min(self.train.rows[rank].saturating_sub(step * batch)),
        }
    }

    /// This rank's weight in step `step`'s mean gradient, `b_r / Σ_q b_q`.
    pub fn step_weight(&self, step: usize) -> f64 {
        let all: usize = (0..self.batches.len())
            .map(|r| self.step_rows(r, step))
            .sum();
        self.step_rows(self.train.rank, step) as f64 / all.max(1) as f64
    }

    /// Replaces the gradient in `grads` (this rank's, of its batch's mean
    /// loss; `None` when this rank's share has no rows left at this step)
    /// by the global batch's mean gradient of step `step`.
    pub fn average_gradient<B: Backend>(
        &self,
        backend: &B,
        grads: &mut B::Buffer,
        local: bool,
        step: usize,
    ) -> Result<()> {
        let mut values: Vec<f64> = if local {
            let weight = self.step_weight(step);
            backend
                .read(grads)?
                .iter()
                .map(|&g| weight * g as f64)
                .collect()
        } else {
            vec![0.0; backend.len(grads)]
        };
        self.collective.ordered_sum(&mut values)?;
        let averaged: Vec<f32> = values.iter().map(|&g| g as f32).collect();
        backend.write(grads, &averaged)
    }

    /// An error unless every rank holds the same weights `params` after
    /// epoch `epoch` (one 64-bit hash of their bits gathered): each rank
    /// takes the update on its own device, and devices whose arithmetic
    /// differs (GPUs of different makes, say) would drift apart silently.
    pub fn check_same_weights(&self, params: &[f32], epoch: usize) -> Result<()> {
        // FNV-1a over the bits: any difference in any weight shows.
        let hash = params.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
            (h ^ u64::from(p.to_bits())).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let all = gather_u64(self.collective, hash)?;
        match all.iter().position(|&h| h != all[0]) {
            Some(rank) => Err(Error::Distributed(format!(
                "after epoch {epoch} rank {rank}'s weights differ from rank 0's: the ranks' \
                 devices compute the update differently; train every rank on the same kind of \
                 device (or --backend cpu)"
            ))),
            None => Ok(()),
        }
    }

    /// `values` added over the ranks in rank order.
    pub fn sum(&self, values: &mut [f64]) -> Result<()> {
        self.collective.ordered_sum(values)
    }

    /// The seed of this rank's sampling: the run's own on rank 0 (so that
    /// one rank samples as one process does), mixed with the rank on the
    /// others.
    pub fn seed(&self, seed: u64) -> u64 {
        rank_seed(seed, self.train.rank)
    }
}

/// `seed` for rank 0, a distinct seed derived from it for every other rank.
pub(super) fn rank_seed(seed: u64, rank: usize) -> u64 {
    if rank == 0 {
        seed
    } else {
        // SplitMix64's finalizer: ranks 1, 2, … get unrelated streams.
        let mut z = seed ^ (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
