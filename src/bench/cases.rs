//! The benchmark cases, each written once over [`Backend`] so the CPU and
//! GPU columns measure the same work. Every timed run ends with a host
//! read, which waits for the device, so GPU time is never just submit time.

use super::timing::{Budget, Timing, measure};
use crate::backend::{Backend, LinearStep, LossOutputs, MatmulSpec, ResidentTargets, Targets};
use crate::optimizer::STATE_SLOTS;
use crate::{
    BatchSize, Loss, Optimizer, Regularizer, Result, Sampling, TrainConfig, Trainer, UpdateStep,
};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn random_labels(len: usize, classes: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| rng.random_range(0..classes as u32))
        .collect()
}

/// Waits for everything recorded so far by reading one value back.
fn wait<B: Backend>(backend: &B, probe: &B::Buffer) -> Result<()> {
    backend.read(probe).map(|_| ())
}

/// Seconds per `op(...)` of an M×K·K×N product (A transposed when asked).
pub fn matmul<B: Backend>(
    backend: &B,
    (m, k, n): (usize, usize, usize),
    transpose_a: bool,
    budget: &Budget,
) -> Result<Timing> {
    let a = backend.upload(&random(m * k, 1))?;
    let b = backend.upload(&random(k * n, 2))?;
    let mut out = backend.zeros(m * n)?;
    let probe = backend.zeros(1)?;
    let spec = MatmulSpec {
        transpose_a,
        ..MatmulSpec::new(m, k, n)
    };
    measure(budget, |repeats| {
        for _ in 0..repeats {
            backend.matmul(&a, &b, &mut out, &spec)?;
        }
        wait(backend, &probe)
    })
}

/// Seconds per fused loss over `rows × classes` scores.
pub fn loss<B: Backend>(
    backend: &B,
    loss: &Loss,
    rows: usize,
    classes: usize,
    budget: &Budget,
) -> Result<Timing> {
    let scores = backend.upload(&random(rows * classes, 3))?;
    let labels = backend.upload_indices(&random_labels(rows, classes, 4))?;
    let mut dscores = backend.zeros(rows * classes)?;
    let mut row_loss = backend.zeros(rows)?;
    let mut stats = backend.zeros(2)?;
    measure(budget, |repeats| {
        for _ in 0..repeats {
            backend.loss(
                loss,
                &scores,
                Targets::Classes {
                    labels: &labels,
                    class_weights: None,
                },
                rows,
                classes,
                LossOutputs {
                    dscores: &mut dscores,
                    row_loss: &mut row_loss,
                    stats: &mut stats,
                    slot: 0,
                },
            )?;
        }
        wait(backend, &stats)
    })
}

/// Seconds per Adam update of `len` parameters (L2 on all but the last 10).
pub fn adam_step<B: Backend>(backend: &B, len: usize, budget: &Budget) -> Result<Timing> {
    let mut params = backend.upload(&random(len, 5))?;
    let grads = backend.upload(&random(len, 6))?;
    let mut state = backend.zeros(STATE_SLOTS * len)?;
    let probe = backend.zeros(1)?;
    let mut step = 0u64;
    measure(budget, |repeats| {
        for _ in 0..repeats {
            step += 1;
            backend.update(
                &mut params,
                &grads,
                &mut state,
                &UpdateStep {
                    optimizer: Optimizer::adam(),
                    regularizer: Regularizer::L2 { strength: 1e-4 },
                    learning_rate: 1e-3,
                    step,
                    weight_len: len.saturating_sub(10),
                },
            )?;
        }
        wait(backend, &probe)
    })
}

/// A resident training set and the per-step buffers of a minibatch SGD
/// (or [`StepBench::with_optimizer`]) step, for timing the step itself.
pub struct StepBench<'a, B: Backend> {
    backend: &'a B,
    x: B::Rows,
    labels: B::Indices,
    indices: B::Indices,
    params: B::Buffer,
    grads: B::Buffer,
    state: B::Buffer,
    stats: B::Buffer,
    // Buffers of the unfused path, allocated once.
    batch_x: B::Buffer,
    batch_labels: B::Indices,
    scores: B::Buffer,
    dscores: B::Buffer,
    row_loss: B::Buffer,
    features: usize,
    classes: usize,
    batch: usize,
    steps: usize,
    taken: u64,
    optimizer: Optimizer,
}

impl<'a, B: Backend> StepBench<'a, B> {
    /// Uploads the data and `steps` batches of indices drawn with
    /// replacement, as the peers' CS231n loop draws them.
    pub fn new(
        backend: &'a B,
        x: &Array2<f32>,
        labels: &Array1<u32>,
        classes: usize,
        batch: usize,
        steps: usize,
    ) -> Result<Self> {
        let (n, d) = x.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let indices: Vec<u32> = (0..steps * batch)
            .map(|_| rng.random_range(0..n as u32))
            .collect();
        let mut params = random(d * classes + classes, 8);
        params.iter_mut().for_each(|p| *p *= 1e-3);
        Ok(Self {
            backend,
            x: backend.upload_rows(x.view())?,
            labels: backend.upload_indices(labels.as_slice().expect("contiguous labels"))?,
            indices: backend.upload_indices(&indices)?,
            params: backend.upload(&params)?,
            grads: backend.zeros(params.len())?,
            state: backend.zeros(STATE_SLOTS * params.len())?,
            stats: backend.zeros(2 * steps)?,
            batch_x: backend.zeros(batch * d)?,
            batch_labels: backend.upload_indices(&vec![0; batch])?,
            scores: backend.zeros(batch * classes)?,
            dscores: backend.zeros(batch * classes)?,
            row_loss: backend.zeros(batch)?,
            features: d,
            classes,
            batch,
            steps,
            taken: 0,
            optimizer: Optimizer::Sgd,
        })
    }

    /// The update's optimizer instead of plain SGD (the `probe` case's
    /// Adam); learning rate 1e-3 and L2 1e-4 on the weights either way.
    pub fn with_optimizer(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }

    fn update(&mut self) -> Result<()> {
        self.taken += 1;
        let step = UpdateStep {
            optimizer: self.optimizer,
            regularizer: Regularizer::L2 { strength: 1e-4 },
            learning_rate: 1e-3,
            step: self.taken,
            weight_len: self.features * self.classes,
        };
        self.backend
            .update(&mut self.params, &self.grads, &mut self.state, &step)
    }

    /// Records one fused step (linear_step + update) with batch number `i`.
    pub fn record_fused(&mut self, loss: &Loss, i: usize) -> Result<()> {
        let slot = i % self.steps;
        let step = LinearStep {
            loss,
            x: &self.x,
            targets: ResidentTargets::Classes {
                labels: &self.labels,
                class_weights: None,
            },
            indices: &self.indices,
            first: slot * self.batch,
            rows: self.batch,
            outputs: self.classes,
        };
        self.backend.linear_step(
            step,
            &self.params,
            Some(&mut self.grads),
            &mut self.stats,
            slot,
        )?;
        self.update()
    }

    /// Records the same step as separate kernels into preallocated buffers:
    /// gather, X·W + b, loss, Xᵀ·dS, column sums, update.
    pub fn record_unfused(&mut self, loss: &Loss, i: usize) -> Result<()> {
        let slot = i % self.steps;
        let b = self.backend;
        let (d, c, rows) = (self.features, self.classes, self.batch);
        b.gather(
            &self.x,
            Some((&self.labels, &mut self.batch_labels)),
            &self.indices,
            slot * rows,
            rows,
            &mut self.batch_x,
        )?;
        let forward = MatmulSpec {
            bias_offset: Some(d * c),
            ..MatmulSpec::new(rows, d, c)
        };
        b.matmul(&self.batch_x, &self.params, &mut self.scores, &forward)?;
        b.loss(
            loss,
            &self.scores,
            Targets::Classes {
                labels: &self.batch_labels,
                class_weights: None,
            },
            rows,
            c,
            LossOutputs {
                dscores: &mut self.dscores,
                row_loss: &mut self.row_loss,
                stats: &mut self.stats,
                slot,
            },
        )?;
        let weight_grad = MatmulSpec {
            transpose_a: true,
            ..MatmulSpec::new(d, rows, c)
        };
        b.matmul(&self.batch_x, &self.dscores, &mut self.grads, &weight_grad)?;
        b.column_sums(&self.dscores, rows, c, &mut self.grads, d * c)?;
        self.update()
    }

    /// Seconds per step, fused or not.
    pub fn time(&mut self, loss: &Loss, fused: bool, budget: &Budget) -> Result<Timing> {
        let mut i = 0;
        let probe = self.backend.zeros(1)?;
        measure(budget, |repeats| {
            for _ in 0..repeats {
                if fused {
                    self.record_fused(loss, i)?;
                } else {
                    self.record_unfused(loss, i)?;
                }
                i += 1;
            }
            wait(self.backend, &probe)
        })
    }
}

/// Per-epoch seconds of end-to-end training after the first epoch (which
/// may compile GPU pipelines), and the epochs' sizes.
pub struct TrainTiming {
    pub epochs: Timing,
    pub samples_per_epoch: usize,
    pub final_loss: f64,
}

/// The configuration of the end-to-end cases: the peers' CS231n loop
/// (plain SGD, L2 1e-4, batch rows drawn with replacement).
pub fn train_config(loss: Loss, epochs: usize, batch: usize) -> TrainConfig {
    TrainConfig {
        loss,
        regularizer: Regularizer::L2 { strength: 1e-4 },
        optimizer: Optimizer::Sgd,
        learning_rate: match loss {
            Loss::SoftmaxCrossEntropy { .. } => 0.5,
            _ => 0.05,
        },
        epochs,
        batch_size: BatchSize::Rows(batch),
        sampling: Sampling::WithReplacement,
        seed: 1,
        ..TrainConfig::default()
    }
}

/// Trains with `Trainer::fit_on` and times each epoch.
pub fn train<B: Backend>(
    backend: &B,
    x: &Array2<f32>,
    labels: &Array1<u32>,
    config: TrainConfig,
) -> Result<TrainTiming> {
    // With replacement every step draws a full batch.
    let batch = match config.batch_size {
        BatchSize::Rows(b) => b.min(x.nrows()),
        BatchSize::Full => x.nrows(),
    };
    let samples_per_epoch = x.nrows().div_ceil(batch) * batch;
    let seconds = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seconds);
    let mut trainer = Trainer::new(config).on_epoch(move |record| {
        sink.lock()
            .expect("epoch timings")
            .push((record.seconds, record.train_loss))
    });
    trainer.fit_on(backend, x.view(), labels.view())?;
    let epochs = seconds.lock().expect("epoch timings").clone();
    let steady: Vec<f64> = epochs.iter().skip(1).map(|&(s, _)| s).collect();
    let steady = if steady.is_empty() {
        vec![epochs[0].0]
    } else {
        steady
    };
    Ok(TrainTiming {
        epochs: Timing::from_seconds(steady),
        samples_per_epoch,
        final_loss: epochs.last().map_or(f64::NAN, |&(_, l)| l),
    })
}
