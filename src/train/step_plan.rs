//! How an epoch divides into steps, and the rows each step reads: the
//! plan every member of a session shares.

use crate::config::{BatchSize, Sampling, TrainConfig};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How an epoch divides into steps.
#[derive(Clone, Copy, Debug)]
pub(super) struct StepPlan {
    pub sampling: Sampling,
    /// Rows a step reads (the last step of an epoch without replacement
    /// may read fewer).
    pub batch: usize,
    pub steps_per_epoch: usize,
    /// Over the whole run, resumed epochs included: the schedule's length.
    pub total_steps: u64,
    /// Training rows.
    pub rows: usize,
    /// Steps this process takes per epoch: `steps_per_epoch`, except on a
    /// rank of a data-parallel run whose share runs out before another's.
    pub local_steps: usize,
}

impl StepPlan {
    pub(super) fn new(config: &TrainConfig, rows: usize) -> Self {
        let batch = match config.batch_size {
            BatchSize::Rows(b) => b.min(rows).max(1),
            BatchSize::Full => rows,
        };
        let steps_per_epoch = rows.div_ceil(batch);
        Self {
            sampling: config.sampling,
            batch,
            steps_per_epoch,
            total_steps: (config.epochs as u64).saturating_mul(steps_per_epoch as u64),
            rows,
            local_steps: steps_per_epoch,
        }
    }

    /// The plan of one rank of a data-parallel run whose epochs take
    /// `steps` steps (those of the rank that takes the most): an epoch
    /// sampled with replacement draws that many batches; otherwise this
    /// rank's share ends after its own steps.
    pub(super) fn spread_over(&mut self, steps: usize, epochs: usize) {
        self.steps_per_epoch = steps;
        self.total_steps = (epochs as u64).saturating_mul(steps as u64);
        if self.sampling == Sampling::WithReplacement {
            self.local_steps = steps;
        }
    }

    /// Entries of an epoch's order: a row per step position.
    pub(super) fn order_len(&self) -> usize {
        match self.sampling {
            Sampling::WithReplacement => self.steps_per_epoch * self.batch,
            _ => self.rows,
        }
    }

    /// The rows visited in `epoch`, in order, from the run's seed.
    pub(super) fn epoch_order(&self, seed: u64, epoch: usize) -> Vec<u32> {
        let n = self.rows as u32;
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match self.sampling {
            Sampling::Sequential => (0..n).collect(),
            Sampling::Shuffle => {
                let mut order: Vec<u32> = (0..n).collect();
                order.shuffle(&mut rng);
                order
            }
            Sampling::WithReplacement => (0..self.order_len())
                .map(|_| rng.random_range(0..n))
                .collect(),
        }
    }
}
