//! The training loop, written once over [`Backend`].
//!
//! Per step: one fused linear step over the minibatch, read in place by
//! index (scores = X·W + b, the loss and correct count into a stats slot,
//! and the gradient [dW | db]), then the fused optimizer update.
//! On the GPU a whole epoch is recorded before anything is submitted; the
//! stats, the validation stats and the weights are read once per epoch.

use crate::backend::{Backend, LinearStep, ResidentTargets};
use crate::config::{BackendChoice, BatchSize, Init, Monitor, Sampling, TrainConfig};
use crate::dataset::{
    check_features, check_label_range, check_labels, random_split, select_labels, select_rows,
    stratified_split,
};
use crate::history::{EpochRecord, History};
use crate::optimizer::{STATE_SLOTS, UpdateStep};
use crate::{AdapterChoice, CpuBackend, Error, GpuBackend, GpuContext, Model, Result};
use ndarray::{ArrayView1, ArrayView2, CowArray, Ix2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::sync::Arc;
use std::time::Instant;

/// Largest model trained: (D + 1)·C parameters.
const MAX_PARAMETERS: usize = crate::limits::MAX_PARAMETERS as usize;

/// Everything needed to continue a run exactly where it stopped: the
/// weights, the optimizer's state (Adam's moments, momentum buffers, …),
/// and the schedule's position.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: Model,
    /// [`STATE_SLOTS`] × (D·C + C) values.
    pub optimizer_state: Vec<f32>,
    pub steps_taken: u64,
    pub epochs_done: usize,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The trained model (with early stopping, the best epoch's weights).
    pub model: Model,
    pub history: History,
    /// The state after the last epoch, to resume from.
    pub checkpoint: Checkpoint,
}

/// What a loss is trained against.
enum TargetData<'a> {
    Classes {
        labels: CowArray<'a, u32, ndarray::Ix1>,
        classes: usize,
    },
    Values(CowArray<'a, f32, Ix2>),
}

struct Split<'a> {
    x: CowArray<'a, f32, Ix2>,
    targets: TargetData<'a>,
}

/// Progress callback, called with each finished epoch.
type EpochCallback = Box<dyn FnMut(&EpochRecord)>;

/// Trains a model; keeps the last finite model when training diverges.
pub struct Trainer {
    config: TrainConfig,
    resume: Option<Checkpoint>,
    epoch_limit: Option<usize>,
    last_finite: Option<Model>,
    on_epoch: Option<EpochCallback>,
}

/// Trains with `config` and returns the model and its history.
pub fn fit(
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    config: &TrainConfig,
) -> Result<(Model, History)> {
    let outcome = Trainer::new(config.clone()).fit(x, labels)?;
    Ok((outcome.model, outcome.history))
}

impl Trainer {
    pub fn new(config: TrainConfig) -> Self {
        Self {
            config,
            resume: None,
            epoch_limit: None,
            last_finite: None,
            on_epoch: None,
        }
    }

    /// Continues from a checkpoint: its weights, optimizer state and schedule
    /// position. `config.epochs` stays the total length of the run.
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Stops after this epoch (1-based, of `config.epochs`), e.g. to
    /// checkpoint a run part-way with its schedule unchanged.
    pub fn stop_after_epoch(mut self, epoch: usize) -> Self {
        self.epoch_limit = Some(epoch);
        self
    }

    /// Called after every epoch (progress display).
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochRecord) + 'static) -> Self {
        self.on_epoch = Some(Box::new(callback));
        self
    }

    /// The model at the end of the last epoch whose losses were all finite
    /// (after a [`Error::Diverged`], the model to keep).
    pub fn last_finite_model(&self) -> Option<&Model> {
        self.last_finite.as_ref()
    }

    /// Trains a classifier on class-index labels; a validation set is held
    /// out when `config.validation_fraction > 0`.
    pub fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, u32>) -> Result<Outcome> {
        self.fit_with_validation(x, labels, None)
    }

    /// Trains a classifier, scoring the given validation data each epoch.
    pub fn fit_with_validation(
        &mut self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
        validation: Option<(ArrayView2<'_, f32>, ArrayView1<'_, u32>)>,
    ) -> Result<Outcome> {
        let (train, val) = self.prepare_classification(x, labels, validation)?;
        self.run(train, val)
    }

    /// Checks classification inputs and splits off the validation set.
    fn prepare_classification<'a>(
        &self,
        x: ArrayView2<'a, f32>,
        labels: ArrayView1<'a, u32>,
        validation: Option<(ArrayView2<'a, f32>, ArrayView1<'a, u32>)>,
    ) -> Result<(Split<'a>, Option<Split<'a>>)> {
        self.config.validate()?;
        check_features(&x, "features")?;
        let classes = check_labels(&labels, x.nrows(), self.config.classes)?;
        // Refused before training, not when the trained model is saved.
        crate::limits::check(
            "the number of classes",
            classes as u64,
            crate::limits::MAX_CLASSES,
        )?;
        if let Some(weights) = &self.config.class_weights
            && weights.len() != classes
        {
            return Err(Error::InvalidConfig(format!(
                "{} class weights for {classes} classes",
                weights.len()
            )));
        }
        let (train, val) = match validation {
            Some((vx, vy)) => {
                check_features(&vx, "validation features")?;
                if vx.ncols() != x.ncols() {
                    return Err(Error::ShapeMismatch {
                        op: "fit",
                        detail: format!(
                            "validation has {} features, training {}",
                            vx.ncols(),
                            x.ncols()
                        ),
                    });
                }
                check_label_range(&vy, vx.nrows(), Some(classes))?;
                (
                    Split {
                        x: CowArray::from(x),
                        targets: TargetData::Classes {
                            labels: CowArray::from(labels),
                            classes,
                        },
                    },
                    Some(Split {
                        x: CowArray::from(vx),
                        targets: TargetData::Classes {
                            labels: CowArray::from(vy),
                            classes,
                        },
                    }),
                )
            }
            None if self.config.validation_fraction > 0.0 => {
                let (train_rows, val_rows) = stratified_split(
                    &labels.to_vec(),
                    self.config.validation_fraction,
                    self.config.seed,
                );
                if train_rows.is_empty() || val_rows.is_empty() {
                    return Err(Error::EmptyData(format!(
                        "a validation fraction of {} leaves {} training and {} validation rows",
                        self.config.validation_fraction,
                        train_rows.len(),
                        val_rows.len()
                    )));
                }
                let part = |rows: &[usize]| Split {
                    x: CowArray::from(select_rows(&x, rows)),
                    targets: TargetData::Classes {
                        labels: CowArray::from(select_labels(&labels, rows)),
                        classes,
                    },
                };
                (part(&train_rows), Some(part(&val_rows)))
            }
            None => (
                Split {
                    x: CowArray::from(x),
                    targets: TargetData::Classes {
                        labels: CowArray::from(labels),
                        classes,
                    },
                },
                None,
            ),
        };
        self.check_run(x.ncols(), classes, train.x.nrows(), val.is_some(), true)?;
        Ok((train, val))
    }

    /// Trains on real-valued targets (N × outputs), with the MSE or logistic loss.
    pub fn fit_regression(
        &mut self,
        x: ArrayView2<'_, f32>,
        targets: ArrayView2<'_, f32>,
    ) -> Result<Outcome> {
        self.config.validate()?;
        if !self.config.loss.takes_real_targets() {
            return Err(Error::InvalidConfig(format!(
                "the {} loss needs class labels; real-valued targets train with mse or logistic",
                self.config.loss.name()
            )));
        }
        check_features(&x, "features")?;
        check_features(&targets, "targets")?;
        if targets.nrows() != x.nrows() {
            return Err(Error::ShapeMismatch {
                op: "fit",
                detail: format!(
                    "{} feature rows but {} target rows",
                    x.nrows(),
                    targets.nrows()
                ),
            });
        }
        let (train, val) = if self.config.validation_fraction > 0.0 {
            let (train_rows, val_rows) =
                random_split(x.nrows(), self.config.validation_fraction, self.config.seed);
            if train_rows.is_empty() || val_rows.is_empty() {
                return Err(Error::EmptyData(
                    "the validation split leaves an empty part".into(),
                ));
            }
            let part = |rows: &[usize]| Split {
                x: CowArray::from(select_rows(&x, rows)),
                targets: TargetData::Values(CowArray::from(select_rows(&targets, rows))),
            };
            (part(&train_rows), Some(part(&val_rows)))
        } else {
            (
                Split {
                    x: CowArray::from(x),
                    targets: TargetData::Values(CowArray::from(targets)),
                },
                None,
            )
        };
        self.check_run(
            x.ncols(),
            targets.ncols(),
            train.x.nrows(),
            val.is_some(),
            false,
        )?;
        self.run(train, val)
    }

    /// Checks made before anything trains: early stopping has something to
    /// watch, and the run's sizes fit in memory and in the step counter.
    fn check_run(
        &self,
        features: usize,
        outputs: usize,
        rows: usize,
        has_validation: bool,
        has_classes: bool,
    ) -> Result<()> {
        // A step keeps the batch's scores and their gradient: refused here
        // rather than by the allocator in the middle of the first step.
        let batch = match self.config.batch_size {
            BatchSize::Rows(b) => b.min(rows),
            BatchSize::Full => rows,
        };
        crate::limits::check_product(
            "one step's scores (batch rows × outputs; lower the batch size)",
            batch as u64,
            outputs as u64,
            crate::limits::MAX_BATCH_SCORES,
        )?;
        if let Some(stopping) = self.config.early_stopping {
            if !has_validation {
                return Err(Error::InvalidConfig(
                    "early stopping needs a validation set (validation_fraction > 0 or validation data)".into(),
                ));
            }
            if stopping.monitor == Monitor::ValidationAccuracy && !has_classes {
                return Err(Error::InvalidConfig(
                    "early stopping on accuracy needs class labels; real-valued targets have none (monitor the loss)".into(),
                ));
            }
        }
        let params = features
            .checked_add(1)
            .and_then(|rows| rows.checked_mul(outputs))
            .filter(|&p| p <= MAX_PARAMETERS);
        if params.is_none() {
            return Err(Error::InvalidConfig(format!(
                "{features} features × {outputs} outputs is more than {MAX_PARAMETERS} parameters"
            )));
        }
        if (self.config.epochs as u64)
            .checked_mul(u32::MAX as u64)
            .is_none()
        {
            return Err(Error::InvalidConfig(format!(
                "{} epochs overflow the step counter",
                self.config.epochs
            )));
        }
        Ok(())
    }

    fn run(&mut self, train: Split<'_>, val: Option<Split<'_>>) -> Result<Outcome> {
        match self.config.backend {
            BackendChoice::Cpu => self.run_on(&CpuBackend::new(), &train, val.as_ref()),
            BackendChoice::Auto => {
                if crate::gpu::hardware_adapter_available() {
                    let gpu =
                        GpuBackend::new(Arc::new(GpuContext::new(AdapterChoice::PreferHardware)?));
                    self.run_on(&gpu, &train, val.as_ref())
                } else {
                    self.run_on(&CpuBackend::new(), &train, val.as_ref())
                }
            }
            BackendChoice::Gpu | BackendChoice::Software => {
                let choice = if self.config.backend == BackendChoice::Gpu {
                    AdapterChoice::PreferHardware
                } else {
                    AdapterChoice::Software
                };
                let gpu = GpuBackend::new(Arc::new(GpuContext::new(choice)?));
                self.run_on(&gpu, &train, val.as_ref())
            }
        }
    }

    /// Runs on a backend the caller opened (so tests and benchmarks can
    /// choose the adapter and kernel variant).
    pub fn fit_on<B: Backend>(
        &mut self,
        backend: &B,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
    ) -> Result<Outcome> {
        let (train, val) = self.prepare_classification(x, labels, None)?;
        self.run_on(backend, &train, val.as_ref())
    }

    fn run_on<B: Backend>(
        &mut self,
        backend: &B,
        train: &Split<'_>,
        val: Option<&Split<'_>>,
    ) -> Result<Outcome> {
        let mut session = Session::new(backend, &self.config, train, val, self.resume.as_ref())?;
        self.last_finite = Some(session.current_model.clone());
        let total_epochs = self.config.epochs;
        let last_epoch = self
            .epoch_limit
            .map_or(total_epochs, |l| l.min(total_epochs));
        let mut records = Vec::new();
        let mut best: Option<(f64, usize, Vec<f32>)> = None;
        let mut stale = 0;
        let mut stopped_early = false;
        for epoch in session.epochs_done + 1..=last_epoch {
            let record = session.epoch(epoch)?;
            self.last_finite = Some(session.current_model.clone());
            if let Some(callback) = self.on_epoch.as_mut() {
                callback(&record);
            }
            if let Some(stopping) = self.config.early_stopping {
                let score = match stopping.monitor {
                    Monitor::ValidationLoss => record.val_loss,
                    Monitor::ValidationAccuracy => record.val_accuracy.map(|a| -a),
                };
                let Some(score) = score else {
                    return Err(Error::InvalidConfig(
                        "early stopping needs a validation set (validation_fraction > 0)".into(),
                    ));
                };
                if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                    best = Some((score, epoch, session.params_host.clone()));
                    stale = 0;
                } else {
                    stale += 1;
                }
                records.push(record);
                if stale >= stopping.patience {
                    stopped_early = true;
                    break;
                }
            } else {
                records.push(record);
            }
        }
        let checkpoint = session.checkpoint()?;
        let (model, best_epoch) = match best {
            Some((_, epoch, params)) => (session.model_from(&params), Some(epoch)),
            None => (checkpoint.model.clone(), None),
        };
        Ok(Outcome {
            model,
            history: History {
                epochs: records,
                backend: backend.info(),
                best_epoch,
                stopped_early,
            },
            checkpoint,
        })
    }
}

/// A resident dataset and the buffers its steps reuse.
struct Resident<B: Backend> {
    x: B::Rows,
    labels: Option<B::Labels>,
    values: Option<B::Rows>,
    rows: usize,
}

struct Session<'c, B: Backend> {
    backend: &'c B,
    config: &'c TrainConfig,
    features: usize,
    outputs: usize,
    classes: usize,
    batch: usize,
    steps_per_epoch: usize,
    total_steps: u64,
    steps_taken: u64,
    epochs_done: usize,
    train: Resident<B>,
    train_rows: usize,
    val: Option<(Resident<B>, B::Labels, B::Buffer)>,
    params: B::Buffer,
    params_host: Vec<f32>,
    current_model: Model,
    grads: B::Buffer,
    state: B::Buffer,
    indices: B::Labels,
    class_weights: Option<B::Buffer>,
    stats: B::Buffer,
}

fn upload_split<B: Backend>(backend: &B, split: &Split<'_>) -> Result<Resident<B>> {
    let x = backend.upload_rows(split.x.view())?;
    let (labels, values) = match &split.targets {
        TargetData::Classes { labels, .. } => {
            (Some(backend.upload_labels(&labels.to_vec())?), None)
        }
        TargetData::Values(values) => (None, Some(backend.upload_rows(values.view())?)),
    };
    Ok(Resident {
        x,
        labels,
        values,
        rows: split.x.nrows(),
    })
}

impl<'c, B: Backend> Session<'c, B> {
    fn new(
        backend: &'c B,
        config: &'c TrainConfig,
        train: &Split<'_>,
        val: Option<&Split<'_>>,
        resume: Option<&Checkpoint>,
    ) -> Result<Self> {
        let (n, features) = train.x.dim();
        let (classes, outputs) = match &train.targets {
            TargetData::Classes { classes, .. } => {
                (*classes, config.loss.outputs_for_classes(*classes))
            }
            TargetData::Values(v) => (0, v.ncols()),
        };
        let batch = match config.batch_size {
            BatchSize::Rows(b) => b.min(n).max(1),
            BatchSize::Full => n,
        };
        let steps_per_epoch = n.div_ceil(batch);
        let index_len = match config.sampling {
            Sampling::WithReplacement => steps_per_epoch * batch,
            _ => n,
        };
        let param_len = features * outputs + outputs;
        let initial = match resume {
            Some(checkpoint) => {
                let model = &checkpoint.model;
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
                if checkpoint.optimizer_state.len() != STATE_SLOTS * param_len {
                    return Err(Error::ShapeMismatch {
                        op: "resume",
                        detail: "optimizer state does not match the model".into(),
                    });
                }
                config
                    .optimizer
                    .check_state(&checkpoint.optimizer_state)
                    .map_err(|reason| Error::InvalidConfig(format!("the checkpoint's {reason}")))?;
                // The schedule and the bias corrections continue from the
                // step count, which must be the one this data and batch
                // size give after the checkpoint's epochs.
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
                model.params()
            }
            None => initial_params(config, features, outputs),
        };
        let state = match resume {
            Some(checkpoint) => backend.upload(&checkpoint.optimizer_state)?,
            None => backend.zeros(STATE_SLOTS * param_len)?,
        };
        let resident = upload_split(backend, train)?;
        let val = match val {
            Some(split) => {
                let resident = upload_split(backend, split)?;
                let identity: Vec<u32> = (0..resident.rows as u32).collect();
                let indices = backend.upload_labels(&identity)?;
                let stats = backend.zeros(2 * resident.rows.div_ceil(batch))?;
                Some((resident, indices, stats))
            }
            None => None,
        };
        let loss = config.loss;
        let session = Self {
            backend,
            config,
            features,
            outputs,
            classes,
            batch,
            steps_per_epoch,
            total_steps: (config.epochs as u64).saturating_mul(steps_per_epoch as u64),
            steps_taken: resume.map_or(0, |c| c.steps_taken),
            epochs_done: resume.map_or(0, |c| c.epochs_done),
            train_rows: n,
            params: backend.upload(&initial)?,
            current_model: Model::from_params(&initial, features, outputs, loss, classes),
            params_host: initial,
            grads: backend.zeros(param_len)?,
            state,
            indices: backend.upload_labels(&vec![0; index_len])?,
            class_weights: config
                .class_weights
                .as_ref()
                .map(|w| backend.upload(w))
                .transpose()?,
            stats: backend.zeros(2 * steps_per_epoch)?,
            train: resident,
            val,
        };
        Ok(session)
    }

    fn model_from(&self, params: &[f32]) -> Model {
        Model::from_params(
            params,
            self.features,
            self.outputs,
            self.config.loss,
            self.classes,
        )
    }

    /// The rows visited this epoch, in order.
    fn epoch_order(&self, epoch: usize) -> Vec<u32> {
        let n = self.train_rows as u32;
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        match self.config.sampling {
            Sampling::Sequential => (0..n).collect(),
            Sampling::Shuffle => {
                let mut order: Vec<u32> = (0..n).collect();
                order.shuffle(&mut rng);
                order
            }
            Sampling::WithReplacement => (0..self.steps_per_epoch * self.batch)
                .map(|_| rng.random_range(0..n))
                .collect(),
        }
    }

    fn rows_of_step(&self, step: usize) -> usize {
        match self.config.sampling {
            Sampling::WithReplacement => self.batch,
            _ => self.batch.min(self.train_rows - step * self.batch),
        }
    }

    /// Records a fused step over `rows` rows from `first` in the epoch's
    /// order into stats slot `slot`, with the gradient into `grads` when
    /// training (validation passes `false`).
    fn record_step(
        &mut self,
        on_validation: bool,
        first: usize,
        rows: usize,
        slot: usize,
    ) -> Result<()> {
        let (resident, indices, stats) = match (on_validation, self.val.as_mut()) {
            (true, Some((resident, indices, stats))) => (&*resident, &*indices, stats),
            _ => (&self.train, &self.indices, &mut self.stats),
        };
        let targets = match (&resident.labels, &resident.values) {
            (Some(labels), _) => ResidentTargets::Classes {
                labels,
                class_weights: self.class_weights.as_ref(),
            },
            (None, Some(values)) => ResidentTargets::Values(values),
            (None, None) => unreachable!("a resident split has labels or values"),
        };
        let step = LinearStep {
            loss: &self.config.loss,
            x: &resident.x,
            targets,
            indices,
            first,
            rows,
            outputs: self.outputs,
        };
        let grads = (!on_validation).then_some(&mut self.grads);
        self.backend
            .linear_step(step, &self.params, grads, stats, slot)
    }

    /// Runs one epoch and reports it.
    fn epoch(&mut self, epoch: usize) -> Result<EpochRecord> {
        let started = Instant::now();
        let order = self.epoch_order(epoch);
        self.backend.write_labels(&mut self.indices, &order)?;
        let (d, c) = (self.features, self.outputs);
        let mut learning_rate = self.config.learning_rate;
        let mut rows_per_step = Vec::with_capacity(self.steps_per_epoch);
        for step in 0..self.steps_per_epoch {
            let rows = self.rows_of_step(step);
            rows_per_step.push(rows);
            self.record_step(false, step * self.batch, rows, step)?;
            learning_rate = self.config.schedule.learning_rate(
                self.config.learning_rate,
                self.steps_taken,
                self.total_steps,
            );
            self.steps_taken += 1;
            let update = UpdateStep {
                optimizer: self.config.optimizer,
                regularizer: self.config.regularizer,
                learning_rate,
                step: self.steps_taken,
                weight_len: d * c,
            };
            self.backend
                .update(&mut self.params, &self.grads, &mut self.state, &update)?;
        }
        let stats = self.backend.read(&self.stats)?;
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
        let params = self.backend.read(&self.params)?;
        if let Some(&bad) = params.iter().find(|p| !p.is_finite()) {
            return Err(Error::Diverged {
                epoch,
                step: self.steps_per_epoch,
                loss: bad,
            });
        }
        let penalty = self.config.regularizer.penalty(&params[..d * c]);
        let seen: usize = rows_per_step.iter().sum();
        let is_classes = self.train.labels.is_some();
        let (val_loss, val_accuracy) = self.validate(penalty)?;
        self.params_host = params;
        self.current_model = self.model_from(&self.params_host);
        self.epochs_done = epoch;
        let seconds = started.elapsed().as_secs_f64();
        Ok(EpochRecord {
            epoch,
            train_loss: loss_sum / seen as f64 + penalty,
            train_accuracy: is_classes.then(|| correct / seen as f64),
            val_loss,
            val_accuracy,
            learning_rate,
            seconds,
            samples_per_second: seen as f64 / seconds.max(1e-12),
        })
    }

    fn validate(&mut self, penalty: f64) -> Result<(Option<f64>, Option<f64>)> {
        let Some((resident, _, _)) = &self.val else {
            return Ok((None, None));
        };
        let rows = resident.rows;
        let steps = rows.div_ceil(self.batch);
        for step in 0..steps {
            let first = step * self.batch;
            self.record_step(true, first, self.batch.min(rows - first), step)?;
        }
        let stats = self.backend.read(&self.val.as_ref().expect("checked").2)?;
        let mut loss_sum = 0.0f64;
        let mut correct = 0.0f64;
        for step in 0..steps {
            let first = step * self.batch;
            loss_sum += stats[2 * step] as f64 * self.batch.min(rows - first) as f64;
            correct += stats[2 * step + 1] as f64;
        }
        let is_classes = self.train.labels.is_some();
        Ok((
            Some(loss_sum / rows as f64 + penalty),
            is_classes.then(|| correct / rows as f64),
        ))
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint {
            model: self.current_model.clone(),
            optimizer_state: self.backend.read(&self.state)?,
            steps_taken: self.steps_taken,
            epochs_done: self.epochs_done,
        })
    }
}

/// Zeros, or `scale·N(0, 1)` from the seed; the bias starts at 0.
fn initial_params(config: &TrainConfig, features: usize, outputs: usize) -> Vec<f32> {
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
