//! One run on one backend: the data and the model resident there, and the
//! epochs that step over them.
//!
//! Per step: one fused linear step over the minibatch, read in place by
//! index (scores = X·W + b, the loss and correct count into a stats slot,
//! and the gradient [dW | db]), then the fused optimizer update.
//! On the GPU a whole epoch is recorded before anything is submitted; the
//! stats, the validation stats and the weights are read once per epoch.

use super::Checkpoint;
use super::prepare::{CheckedTargets, Prepared};
use super::resident::Uploaded;
use crate::backend::{Backend, LinearStep};
use crate::config::{BatchSize, Init, Sampling, TrainConfig};
use crate::history::EpochRecord;
use crate::loss::Loss;
use crate::optimizer::{STATE_SLOTS, UpdateStep};
use crate::{Error, Model, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::time::Instant;

/// The model's dimensions.
#[derive(Clone, Copy, Debug)]
struct ModelShape {
    features: usize,
    /// Score columns.
    outputs: usize,
    /// Classes named by the labels; 0 for real-valued targets.
    classes: usize,
}

impl ModelShape {
    /// D·C: the weights, which the regularizer sees.
    fn weight_len(&self) -> usize {
        self.features * self.outputs
    }

    /// D·C + C: the weights and the bias.
    fn param_len(&self) -> usize {
        self.weight_len() + self.outputs
    }

    fn model(&self, params: &[f32], loss: Loss) -> Model {
        Model::from_params(params, self.features, self.outputs, loss, self.classes)
    }
}

/// How an epoch divides into steps.
#[derive(Clone, Copy, Debug)]
struct StepPlan {
    sampling: Sampling,
    /// Rows a step reads (the last step of an epoch without replacement
    /// may read fewer).
    batch: usize,
    steps_per_epoch: usize,
    /// Over the whole run, resumed epochs included: the schedule's length.
    total_steps: u64,
    /// Training rows.
    rows: usize,
}

impl StepPlan {
    fn new(config: &TrainConfig, rows: usize) -> Self {
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
        }
    }

    /// Entries of an epoch's order: a row per step position.
    fn order_len(&self) -> usize {
        match self.sampling {
            Sampling::WithReplacement => self.steps_per_epoch * self.batch,
            _ => self.rows,
        }
    }

    /// The rows visited in `epoch`, in order, from the run's seed.
    fn epoch_order(&self, seed: u64, epoch: usize) -> Vec<u32> {
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

    /// Rows read by training step `step` of an epoch.
    fn rows_of_step(&self, step: usize) -> usize {
        match self.sampling {
            Sampling::WithReplacement => self.batch,
            _ => self.batch.min(self.rows - step * self.batch),
        }
    }
}

/// Where a run stands: what a checkpoint records.
#[derive(Clone, Copy, Debug)]
struct RunPosition {
    steps_taken: u64,
    epochs_done: usize,
}

/// A resident split and the buffers its steps reuse.
struct ResidentSplit<B: Backend> {
    data: Uploaded<B>,
    /// The rows the steps read, in order: the epoch's order for training,
    /// every row in turn for validation.
    order: B::Indices,
    /// Step `s` writes its mean loss to `[2s]` and its correct count to `[2s + 1]`.
    stats: B::Buffer,
}

/// What every step reads besides its split.
struct StepModel<'a, B: Backend> {
    loss: &'a Loss,
    outputs: usize,
    params: &'a B::Buffer,
    class_weights: Option<&'a B::Buffer>,
}

/// Rows `order[first..first + rows]`, written to stats slot `slot`.
#[derive(Clone, Copy, Debug)]
struct StepRows {
    first: usize,
    rows: usize,
    slot: usize,
}

impl<B: Backend> ResidentSplit<B> {
    /// Records a fused step over `at`, with the gradient of the batch's mean
    /// data loss written to `grads` when given (training steps).
    fn record_step(
        &mut self,
        backend: &B,
        model: &StepModel<'_, B>,
        at: StepRows,
        grads: Option<&mut B::Buffer>,
    ) -> Result<()> {
        let step = LinearStep {
            loss: model.loss,
            x: &self.data.x,
            targets: self.data.targets(model.class_weights),
            indices: &self.order,
            first: at.first,
            rows: at.rows,
            outputs: model.outputs,
        };
        backend.linear_step(step, model.params, grads, &mut self.stats, at.slot)
    }

    fn has_classes(&self) -> bool {
        self.data.has_classes()
    }
}

/// The model on the backend.
struct DeviceModel<B: Backend> {
    /// `[W (D×C) | b]`.
    params: B::Buffer,
    grads: B::Buffer,
    /// [`STATE_SLOTS`] × the parameters.
    optimizer_state: B::Buffer,
    class_weights: Option<B::Buffer>,
}

/// The weights after the last finished epoch, read back.
struct HostWeights {
    params: Vec<f32>,
    model: Model,
}

/// One run on one backend: the resident training and validation rows, the
/// model's buffers, and where the run stands.
pub(super) struct Session<'c, B: Backend> {
    backend: &'c B,
    config: &'c TrainConfig,
    shape: ModelShape,
    plan: StepPlan,
    position: RunPosition,
    train: ResidentSplit<B>,
    validation: Option<ResidentSplit<B>>,
    device: DeviceModel<B>,
    latest: HostWeights,
}

impl<'c, B: Backend> Session<'c, B> {
    /// Uploads the data and the initial (or the checkpoint's) model.
    pub fn new(
        backend: &'c B,
        config: &'c TrainConfig,
        prepared: &Prepared<'_>,
        resume: Option<&Checkpoint>,
    ) -> Result<Self> {
        let train = &prepared.train;
        let (n, features) = train.x.dim();
        let (classes, outputs) = match &train.targets {
            CheckedTargets::Classes { classes, .. } => {
                (*classes, config.loss.outputs_for_classes(*classes))
            }
            CheckedTargets::Values(v) => (0, v.ncols()),
        };
        let shape = ModelShape {
            features,
            outputs,
            classes,
        };
        let plan = StepPlan::new(config, n);
        let initial = match resume {
            Some(checkpoint) => {
                check_resume(checkpoint, config, shape, plan)?;
                checkpoint.model.params()
            }
            None => initial_params(config, features, outputs),
        };
        let optimizer_state = match resume {
            Some(checkpoint) => backend.upload(&checkpoint.optimizer_state)?,
            None => backend.zeros(STATE_SLOTS * shape.param_len())?,
        };
        // A fixed upload order: when two buffers are too large for the
        // device, the error always names the same one.
        let train_data = Uploaded::new(backend, train)?;
        let validation = match &prepared.validation {
            Some(examples) => {
                let data = Uploaded::new(backend, examples)?;
                let every_row: Vec<u32> = (0..data.rows as u32).collect();
                let order = backend.upload_indices(&every_row)?;
                let stats = backend.zeros(2 * data.rows.div_ceil(plan.batch))?;
                Some(ResidentSplit { data, order, stats })
            }
            None => None,
        };
        let params = backend.upload(&initial)?;
        let grads = backend.zeros(shape.param_len())?;
        let order = backend.upload_indices(&vec![0; plan.order_len()])?;
        let class_weights = config
            .class_weights
            .as_ref()
            .map(|w| backend.upload(w))
            .transpose()?;
        let stats = backend.zeros(2 * plan.steps_per_epoch)?;
        Ok(Self {
            backend,
            config,
            shape,
            plan,
            position: RunPosition {
                steps_taken: resume.map_or(0, |c| c.steps_taken),
                epochs_done: resume.map_or(0, |c| c.epochs_done),
            },
            train: ResidentSplit {
                data: train_data,
                order,
                stats,
            },
            validation,
            device: DeviceModel {
                params,
                grads,
                optimizer_state,
                class_weights,
            },
            latest: HostWeights {
                model: shape.model(&initial, config.loss),
                params: initial,
            },
        })
    }

    /// Epochs finished, resumed ones included.
    pub fn epochs_done(&self) -> usize {
        self.position.epochs_done
    }

    /// The model after the last finished epoch (at first, the initial one).
    pub fn latest_model(&self) -> &Model {
        &self.latest.model
    }

    /// Its `[W | b]`.
    pub fn latest_params(&self) -> &[f32] {
        &self.latest.params
    }

    /// A model of this run's shape with the weights `params`.
    pub fn model_with(&self, params: &[f32]) -> Model {
        self.shape.model(params, self.config.loss)
    }

    /// Runs epoch `epoch` (1-based) and reports it.
    pub fn epoch(&mut self, epoch: usize) -> Result<EpochRecord> {
        let started = Instant::now();
        let order = self.plan.epoch_order(self.config.seed, epoch);
        self.backend.write_indices(&mut self.train.order, &order)?;
        let mut learning_rate = self.config.learning_rate;
        let mut rows_per_step = Vec::with_capacity(self.plan.steps_per_epoch);
        for step in 0..self.plan.steps_per_epoch {
            let rows = self.plan.rows_of_step(step);
            rows_per_step.push(rows);
            let model = StepModel {
                loss: &self.config.loss,
                outputs: self.shape.outputs,
                params: &self.device.params,
                class_weights: self.device.class_weights.as_ref(),
            };
            let at = StepRows {
                first: step * self.plan.batch,
                rows,
                slot: step,
            };
            self.train
                .record_step(self.backend, &model, at, Some(&mut self.device.grads))?;
            learning_rate = self.config.schedule.learning_rate(
                self.config.learning_rate,
                self.position.steps_taken,
                self.plan.total_steps,
            );
            self.position.steps_taken += 1;
            let update = UpdateStep {
                optimizer: self.config.optimizer,
                regularizer: self.config.regularizer,
                learning_rate,
                step: self.position.steps_taken,
                weight_len: self.shape.weight_len(),
            };
            self.backend.update(
                &mut self.device.params,
                &self.device.grads,
                &mut self.device.optimizer_state,
                &update,
            )?;
        }
        let stats = self.backend.read(&self.train.stats)?;
        let mut loss_sum = 0.0f64;
        let mut correct = 0.0f64;
        for (step, &rows) in rows_per_step.iter().enumerate() {
            let loss = stats[2 * step];
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    step: step + 1,
                    loss,
                });
            }
            loss_sum += loss as f64 * rows as f64;
            correct += stats[2 * step + 1] as f64;
        }
        let params = self.backend.read(&self.device.params)?;
        if let Some(&bad) = params.iter().find(|p| !p.is_finite()) {
            return Err(Error::Diverged {
                epoch,
                step: self.plan.steps_per_epoch,
                loss: bad,
            });
        }
        let penalty = self
            .config
            .regularizer
            .penalty(&params[..self.shape.weight_len()]);
        let seen: usize = rows_per_step.iter().sum();
        let validation = self.validate(penalty)?;
        self.latest = HostWeights {
            model: self.model_with(&params),
            params,
        };
        self.position.epochs_done = epoch;
        let seconds = started.elapsed().as_secs_f64();
        Ok(EpochRecord {
            epoch,
            train_loss: loss_sum / seen as f64 + penalty,
            train_accuracy: self.train.has_classes().then(|| correct / seen as f64),
            val_loss: validation.map(|v| v.loss),
            val_accuracy: validation.and_then(|v| v.accuracy),
            learning_rate,
            seconds,
            samples_per_second: seen as f64 / seconds.max(1e-12),
            gradient_max: None,
            step_length: None,
        })
    }

    /// Scores the validation rows with the current weights, in batches of
    /// the training batch size; `None` without validation rows.
    fn validate(&mut self, penalty: f64) -> Result<Option<ValidationScore>> {
        let Some(validation) = self.validation.as_mut() else {
            return Ok(None);
        };
        let batch = self.plan.batch;
        let rows = validation.data.rows;
        let steps = rows.div_ceil(batch);
        let model = StepModel {
            loss: &self.config.loss,
            outputs: self.shape.outputs,
            params: &self.device.params,
            class_weights: self.device.class_weights.as_ref(),
        };
        for step in 0..steps {
            let first = step * batch;
            let at = StepRows {
                first,
                rows: batch.min(rows - first),
                slot: step,
            };
            validation.record_step(self.backend, &model, at, None)?;
        }
        let stats = self.backend.read(&validation.stats)?;
        let mut loss_sum = 0.0f64;
        let mut correct = 0.0f64;
        for step in 0..steps {
            let first = step * batch;
            loss_sum += stats[2 * step] as f64 * batch.min(rows - first) as f64;
            correct += stats[2 * step + 1] as f64;
        }
        Ok(Some(ValidationScore {
            loss: loss_sum / rows as f64 + penalty,
            accuracy: self.train.has_classes().then(|| correct / rows as f64),
        }))
    }

    /// The state to resume from: the latest model, the optimizer state and
    /// the position.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            model: self.latest.model.clone(),
            optimizer_state: self.backend.read(&self.device.optimizer_state)?,
            steps_taken: self.position.steps_taken,
            epochs_done: self.position.epochs_done,
        })
    }
}

/// An epoch's validation metrics: the full objective, and the accuracy
/// (`None` for real-valued targets).
#[derive(Clone, Copy, Debug)]
struct ValidationScore {
    loss: f64,
    accuracy: Option<f64>,
}

/// Whether `checkpoint` continues this run: the model's shape, an
/// optimizer state of the configured optimizer and the model's size, and
/// the step count this data and batch size give after its epochs.
fn check_resume(
    checkpoint: &Checkpoint,
    config: &TrainConfig,
    shape: ModelShape,
    plan: StepPlan,
) -> Result<()> {
    let model = &checkpoint.model;
    let ModelShape {
        features, outputs, ..
    } = shape;
    if model.features() != features || model.outputs() != outputs {
        return Err(Error::ShapeMismatch {
            op: "resume",
            detail: format!(
                "checkpoint is {}×{}, the data needs {features}×{outputs}",
                model.features(),
                model.outputs()
            ),
        });
    }
    if checkpoint.optimizer_state.len() != STATE_SLOTS * shape.param_len() {
        return Err(Error::ShapeMismatch {
            op: "resume",
            detail: "optimizer state does not match the model".into(),
        });
    }
    config
        .optimizer
        .check_state(&checkpoint.optimizer_state)
        .map_err(|reason| Error::InvalidConfig(format!("the checkpoint's {reason}")))?;
    // The schedule and the bias corrections continue from the step count,
    // which must be the one this data and batch size give after the
    // checkpoint's epochs.
    let steps_per_epoch = plan.steps_per_epoch;
    let expected = (checkpoint.epochs_done as u64)
        .checked_mul(steps_per_epoch as u64)
        .filter(|&steps| steps == checkpoint.steps_taken);
    if expected.is_none() {
        return Err(Error::InvalidConfig(format!(
            "the checkpoint has taken {} steps in {} epochs, but {} epochs of {steps_per_epoch} steps (this data and batch size) are {}",
            checkpoint.steps_taken,
            checkpoint.epochs_done,
            checkpoint.epochs_done,
            (checkpoint.epochs_done as u128) * steps_per_epoch as u128
        )));
    }
    Ok(())
}

/// Zeros, or `scale·N(0, 1)` from the seed; the bias starts at 0.
pub(super) fn initial_params(config: &TrainConfig, features: usize, outputs: usize) -> Vec<f32> {
    let mut params = vec![0.0f32; features * outputs + outputs];
    if let Init::Random { scale } = config.init {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        for w in &mut params[..features * outputs] {
            let z: f32 = rng.sample(StandardNormal);
            *w = scale * z;
        }
    }
    params
}

/// A model with the weights `fit` would start from (for the sanity check).
pub(crate) fn initial_model(
    config: &TrainConfig,
    features: usize,
    outputs: usize,
    classes: usize,
) -> Model {
    let params = initial_params(config, features, outputs);
    Model::from_params(&params, features, outputs, config.loss, classes)
}
