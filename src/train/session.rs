//! One run on one backend: the data and the model resident there, and the
//! epochs that step over them.
//!
//! Per step: one fused linear step over the minibatch, read in place by
//! index (scores = X·W + b, the loss and correct count into a stats slot,
//! and the gradient [dW | db]), then the fused optimizer update.
//! On the GPU a whole epoch is recorded before anything is submitted; the
//! stats, the validation stats and the weights are read once per epoch.

use super::Checkpoint;
use super::across::Across;
use super::interrupt::{self, Interrupt};
use super::prepare::{CheckedExamples, CheckedTargets, Prepared};
use super::resident::Uploaded;
use super::split_rows::{
    PassOrder, ResidentSplit, RingSplit, SplitRows, SplitSource, StepModel, beyond_device_budget,
    record_step, ring_block_bytes,
};
use super::start::{Start, start_params};
use super::step_plan::StepPlan;
use super::streamed::{DiskFeed, StreamedData, StreamedSplit};
use crate::backend::Backend;
use crate::backend::ring::{DeviceRing, HostFeed, block_rows_for};
use crate::config::TrainConfig;
use crate::history::EpochRecord;
use crate::loss::Loss;
use crate::optimizer::{STATE_SLOTS, UpdateStep};
use crate::{Error, Model, Result};
use std::rc::Rc;
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

/// Where a run stands: what a checkpoint records.
#[derive(Clone, Copy, Debug)]
struct RunPosition {
    steps_taken: u64,
    epochs_done: usize,
}

/// The members still training, on the backend: member `ids[i]`'s
/// `[W (D×C) | b]`, gradient and [`STATE_SLOTS`] × parameters of optimizer
/// state are `params[i]`, `grads[i]` and `states[i]` (side by side, as
/// [`Backend::linear_step_members`] takes them).
struct ActiveMembers<B: Backend> {
    ids: Vec<usize>,
    params: Vec<B::Buffer>,
    grads: Vec<B::Buffer>,
    states: Vec<B::Buffer>,
}

/// A member that stopped training: its final buffers and where it stopped.
struct RetiredMember<B: Backend> {
    state: B::Buffer,
    position: RunPosition,
}

/// A member's weights after its last finished epoch, read back.
struct HostWeights {
    params: Vec<f32>,
    model: Model,
}

/// One run on one backend of one model or of several (the members of a
/// sweep): the resident training and validation rows, each member's
/// buffers, and where the run stands. Members share the rows, the order and
/// the initial weights; each has its own configuration (learning rate,
/// regularizer, optimizer hyperparameters) and optimizer state.
pub(super) struct Session<'c, B: Backend> {
    backend: &'c B,
    configs: &'c [TrainConfig],
    shape: ModelShape,
    plan: StepPlan,
    position: RunPosition,
    train: SplitRows<'c, B>,
    validation: Option<SplitRows<'c, B>>,
    active: ActiveMembers<B>,
    retired: Vec<Option<RetiredMember<B>>>,
    class_weights: Option<B::Buffer>,
    latest: Vec<HostWeights>,
    /// Read before every training step; `None` for a sweep's members.
    interrupt: Option<Interrupt>,
    /// The other ranks of a data-parallel run.
    across: Option<&'c Across<'c>>,
}

/// What a session is built from: the model's shape, the step plan, the
/// initial weights, and each part's rows with their number.
struct SessionParts<'c, B: Backend> {
    shape: ModelShape,
    plan: StepPlan,
    initial: Vec<f32>,
    train: (SplitSource<'c, B>, usize),
    validation: Option<(SplitSource<'c, B>, usize)>,
}

/// One member's epoch: its record, or the [`Error::Diverged`] that ends it.
pub(super) type MemberEpoch = (usize, Result<EpochRecord>);

impl<'c, B: Backend> Session<'c, B> {
    /// Uploads the data and the initial (or the checkpoint's) model.
    pub fn new(
        backend: &'c B,
        config: &'c TrainConfig,
        prepared: &'c Prepared<'_>,
        start: Option<&Start>,
    ) -> Result<Self> {
        Self::build(backend, std::slice::from_ref(config), prepared, start, None)
    }

    /// [`Session::new`] for one rank of a data-parallel run: its steps
    /// average the gradient over every rank's batch ([`super::across`]).
    pub fn across(
        backend: &'c B,
        config: &'c TrainConfig,
        prepared: &'c Prepared<'_>,
        start: Option<&Start>,
        across: &'c Across<'c>,
    ) -> Result<Self> {
        let configs = std::slice::from_ref(config);
        Self::build(backend, configs, prepared, start, Some(across))
    }

    /// Uploads the data and one copy of the initial model per member
    /// (`configs`, which share everything [`super::members`] requires).
    pub fn with_members(
        backend: &'c B,
        configs: &'c [TrainConfig],
        prepared: &'c Prepared<'_>,
    ) -> Result<Self> {
        Self::build(backend, configs, prepared, None, None)
    }

    fn build(
        backend: &'c B,
        configs: &'c [TrainConfig],
        prepared: &'c Prepared<'_>,
        start: Option<&Start>,
        across: Option<&'c Across<'c>>,
    ) -> Result<Self> {
        let config = &configs[0];
        let train = &prepared.train;
        let (n, features) = (train.len(), train.x.ncols());
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
        let mut plan = StepPlan::new(config, n);
        if let Some(across) = across {
            across.spread(&mut plan, config.epochs);
        }
        let initial = start_params(start, config, features, outputs, &mut plan)?;
        let validation_rows = prepared.validation.as_ref().map_or(0, |v| v.len());
        let on_ring = beyond_device_budget(config, prepared.uploaded_rows(), features);
        let (train_rows, validation) = if on_ring {
            let block_rows = ring_block_rows(config, plan, features);
            let train_rows = ring_split(backend, train, block_rows)?;
            let validation = match &prepared.validation {
                Some(examples) => Some(ring_split(backend, examples, block_rows)?),
                None => None,
            };
            (train_rows, validation)
        } else {
            // A fixed upload order: when two buffers are too large for the
            // device, the error always names the same one.
            let data = Rc::new(Uploaded::new(backend, train)?);
            let order = backend.upload_indices(&vec![0; plan.order_len()])?;
            let validation = match &prepared.validation {
                Some(examples) => {
                    // The other part of one split reads the same upload.
                    let data = if examples.same_data(train) {
                        Rc::clone(&data)
                    } else {
                        Rc::new(Uploaded::new(backend, examples)?)
                    };
                    let order = backend.upload_indices(&examples.row_indices())?;
                    Some(SplitSource::Resident(ResidentSplit {
                        data,
                        subset: None,
                        order,
                    }))
                }
                None => None,
            };
            let train_rows = SplitSource::Resident(ResidentSplit {
                data,
                subset: train.rows.clone(),
                order,
            });
            (train_rows, validation)
        };
        let parts = SessionParts {
            shape,
            plan,
            initial,
            train: (train_rows, n),
            validation: validation.map(|rows| (rows, validation_rows)),
        };
        let mut session = Self::assemble(backend, configs, parts, start)?;
        session.across = across;
        Ok(session)
    }

    /// A session over data streamed from disk ([`super::streamed`]): both
    /// parts of the split pass through device rings every epoch.
    pub fn streamed(
        backend: &'c B,
        configs: &'c [TrainConfig],
        data: &'c StreamedData,
        classes: usize,
        split: StreamedSplit,
        start: Option<&Start>,
    ) -> Result<Self> {
        let config = &configs[0];
        let features = data.shards.features();
        let shape = ModelShape {
            features,
            outputs: config.loss.outputs_for_classes(classes),
            classes,
        };
        let mut plan = StepPlan::new(config, split.train);
        let initial = start_params(start, config, features, shape.outputs, &mut plan)?;
        let block_rows = block_rows_for(
            plan.batch,
            features,
            ring_block_bytes(config).min(data.block_bytes),
        );
        let ring = |feed: DiskFeed<'c>| -> Result<SplitSource<'c, B>> {
            Ok(SplitSource::Ring(RingSplit {
                ring: DeviceRing::new(backend, block_rows, features)?,
                feed: Box::new(feed),
            }))
        };
        let train = ring(DiskFeed::train(data, config, split))?;
        let validation = match DiskFeed::validation(data, config, split) {
            Some(feed) => Some((ring(feed)?, split.validation)),
            None => None,
        };
        let parts = SessionParts {
            shape,
            plan,
            initial,
            train: (train, split.train),
            validation,
        };
        Self::assemble(backend, configs, parts, start)
    }

    /// The session over its parts: each member's buffers, the stats, and
    /// the position (the checkpoint's when resuming).
    fn assemble(
        backend: &'c B,
        configs: &'c [TrainConfig],
        parts: SessionParts<'c, B>,
        start: Option<&Start>,
    ) -> Result<Self> {
        let resume = start.map(Start::checkpoint);
        let SessionParts {
            shape,
            plan,
            initial,
            train: (train_rows, n),
            validation,
        } = parts;
        let config = &configs[0];
        let members = configs.len();
        let validation = match validation {
            Some((rows, len)) => Some(SplitRows {
                rows,
                stats: backend.zeros(2 * members * len.div_ceil(plan.batch))?,
                len,
            }),
            None => None,
        };
        let mut active = ActiveMembers {
            ids: (0..members).collect(),
            params: Vec::with_capacity(members),
            grads: Vec::with_capacity(members),
            states: Vec::with_capacity(members),
        };
        for _ in 0..members {
            active.params.push(backend.upload(&initial)?);
            active.grads.push(backend.zeros(shape.param_len())?);
            active.states.push(match resume {
                Some(checkpoint) => backend.upload(&checkpoint.optimizer_state)?,
                None => backend.zeros(STATE_SLOTS * shape.param_len())?,
            });
        }
        let class_weights = config
            .class_weights
            .as_ref()
            .map(|w| backend.upload(w))
            .transpose()?;
        let stats = backend.zeros(2 * members * plan.steps_per_epoch)?;
        let first_model = HostWeights {
            model: shape.model(&initial, config.loss),
            params: initial,
        };
        let latest = (0..members)
            .map(|_| HostWeights {
                model: first_model.model.clone(),
                params: first_model.params.clone(),
            })
            .collect();
        Ok(Self {
            backend,
            configs,
            shape,
            plan,
            position: RunPosition {
                steps_taken: resume.map_or(0, |c| c.steps_taken),
                epochs_done: resume.map_or(0, |c| c.epochs_done),
            },
            train: SplitRows {
                rows: train_rows,
                stats,
                len: n,
            },
            validation,
            active,
            retired: (0..members).map(|_| None).collect(),
            class_weights,
            latest,
            interrupt: None,
            across: None,
        })
    }

    /// Ends the run with [`Error::Interrupted`] before the first training
    /// step after `handle` is set.
    pub fn interrupt_on(&mut self, handle: Option<Interrupt>) {
        self.interrupt = handle;
    }

    /// Epochs finished, resumed ones included.
    pub fn epochs_done(&self) -> usize {
        self.position.epochs_done
    }

    /// Members still training.
    pub fn active_members(&self) -> usize {
        self.active.ids.len()
    }

    /// The model after the last finished epoch (at first, the initial one).
    pub fn latest_model(&self) -> &Model {
        self.member_model(0)
    }

    /// Its `[W | b]`.
    pub fn latest_params(&self) -> &[f32] {
        self.member_params(0)
    }

    /// Member `k`'s model after its last finished epoch.
    pub fn member_model(&self, k: usize) -> &Model {
        &self.latest[k].model
    }

    /// Member `k`'s `[W | b]` after its last finished epoch.
    pub fn member_params(&self, k: usize) -> &[f32] {
        &self.latest[k].params
    }

    /// A model of this run's shape and member `k`'s loss with the weights
    /// `params`.
    pub fn model_with(&self, params: &[f32], k: usize) -> Model {
        self.shape.model(params, self.configs[k].loss)
    }

    /// Stops training member `k` (it diverged, or its early stopping or
    /// tolerance rule ended it); the others go on. Its buffers stay for
    /// its checkpoint.
    pub fn retire(&mut self, k: usize) {
        let Some(i) = self.active.ids.iter().position(|&id| id == k) else {
            return;
        };
        self.active.ids.remove(i);
        self.active.params.remove(i);
        self.active.grads.remove(i);
        let state = self.active.states.remove(i);
        self.retired[k] = Some(RetiredMember {
            state,
            position: self.position,
        });
    }

    /// Runs epoch `epoch` (1-based) of the single model and reports it.
    pub fn epoch(&mut self, epoch: usize) -> Result<EpochRecord> {
        let mut reports = self.epoch_members(epoch)?;
        match reports.pop() {
            Some((_, report)) => report,
            None => Err(Error::InvalidConfig("no model is left to train".into())),
        }
    }

    /// Runs epoch `epoch` (1-based) of every active member: each step reads
    /// its rows once for all of them, then each takes its own update.
    /// Reports each member's record, or the divergence that ends it, in
    /// member order; a diverged member is not retired here.
    pub fn epoch_members(&mut self, epoch: usize) -> Result<Vec<MemberEpoch>> {
        let started = Instant::now();
        let members = self.active.ids.len();
        // The members' update table: each step sets its learning rates and
        // step count.
        let mut updates: Vec<UpdateStep> = self
            .active
            .ids
            .iter()
            .map(|&k| UpdateStep {
                optimizer: self.configs[k].optimizer,
                regularizer: self.configs[k].regularizer,
                learning_rate: 0.0,
                step: 0,
                weight_len: self.shape.weight_len(),
            })
            .collect();
        let model = StepModel {
            loss: &self.configs[0].loss,
            outputs: self.shape.outputs,
            class_weights: self.class_weights.as_ref(),
        };
        let seed = match self.across {
            Some(across) => across.seed(self.configs[0].seed),
            None => self.configs[0].seed,
        };
        let order = self.train.epoch_order(self.plan, seed, epoch);
        let (backend, configs, plan, across) = (self.backend, self.configs, self.plan, self.across);
        let (active, position) = (&mut self.active, &mut self.position);
        let interrupt = self.interrupt.as_ref();
        let mut step = 0;
        let rows_per_step =
            self.train
                .pass(backend, order, plan.batch, &mut |data, stats, at| {
                    interrupt::check(interrupt)?;
                    record_step(
                        backend,
                        &model,
                        data,
                        stats,
                        at,
                        &active.params,
                        Some(&mut active.grads),
                    )?;
                    if let Some(across) = across {
                        for grads in &mut active.grads {
                            across.average_gradient(backend, grads, true, step)?;
                        }
                    }
                    step += 1;
                    update_members(backend, configs, plan, active, position, &mut updates)
                })?;
        if rows_per_step.len() != plan.local_steps {
            return Err(Error::InvalidConfig(format!(
                "epoch {epoch} took {} steps, {} were planned (the data changed during the run?)",
                rows_per_step.len(),
                plan.local_steps
            )));
        }
        // A rank whose share ran out still steps with the others.
        if let Some(across) = across {
            for step in plan.local_steps..plan.steps_per_epoch {
                interrupt::check(interrupt)?;
                for grads in &mut active.grads {
                    across.average_gradient(backend, grads, false, step)?;
                }
                update_members(backend, configs, plan, active, position, &mut updates)?;
            }
        }
        let stats = self.backend.read(&self.train.stats)?;
        let mut seen: usize = rows_per_step.iter().sum();
        if let Some(across) = across {
            let mut all = [seen as f64];
            across.sum(&mut all)?;
            seen = all[0] as usize;
        }
        let mut trained = Vec::with_capacity(members);
        for i in 0..members {
            trained.push(self.member_training(epoch, i, &stats, &rows_per_step, seen)?);
        }
        let penalties: Vec<f64> = trained
            .iter()
            .map(|t| t.as_ref().map_or(0.0, |t| t.penalty))
            .collect();
        let validation = self.validate(&penalties)?;
        self.position.epochs_done = epoch;
        let seconds = started.elapsed().as_secs_f64();
        let mut reports = Vec::with_capacity(members);
        for (i, trained) in trained.into_iter().enumerate() {
            let k = self.active.ids[i];
            let report = trained.map(|trained| {
                let validation = validation.as_ref().map(|v| v[i]);
                let record = EpochRecord {
                    epoch,
                    train_loss: trained.mean_loss + trained.penalty,
                    train_accuracy: trained.accuracy,
                    val_loss: validation.map(|v| v.loss),
                    val_accuracy: validation.and_then(|v| v.accuracy),
                    // The epoch's last step's.
                    learning_rate: updates[i].learning_rate,
                    seconds,
                    samples_per_second: seen as f64 / seconds.max(1e-12),
                    gradient_max: None,
                    step_length: None,
                };
                self.latest[k] = HostWeights {
                    model: self.shape.model(&trained.params, self.configs[k].loss),
                    params: trained.params,
                };
                record
            });
            reports.push((k, report));
        }
        Ok(reports)
    }

    /// Active member `i`'s epoch from the stats (laid out as
    /// [`ResidentSplit::stats`] says) and its weights, read back; its
    /// divergence when a loss or a weight is not finite. `seen` is the
    /// epoch's training rows (every rank's, in a data-parallel run).
    fn member_training(
        &self,
        epoch: usize,
        i: usize,
        stats: &[f32],
        rows_per_step: &[usize],
        seen: usize,
    ) -> Result<Result<MemberTraining>> {
        let members = self.active.ids.len();
        let mut loss_sum = 0.0f64;
        let mut correct = 0.0f64;
        let mut first_bad = None;
        for (step, &rows) in rows_per_step.iter().enumerate() {
            let slot = 2 * (step * members + i);
            let loss = stats[slot];
            if !loss.is_finite() && first_bad.is_none() {
                first_bad = Some((step + 1, loss));
            }
            loss_sum += loss as f64 * rows as f64;
            correct += stats[slot + 1] as f64;
        }
        if let Some(across) = self.across {
            // Every rank learns of a divergence on any rank.
            let mut all = [loss_sum, correct, f64::from(first_bad.is_some())];
            across.sum(&mut all)?;
            [loss_sum, correct] = [all[0], all[1]];
            if all[2] > 0.0 && first_bad.is_none() {
                first_bad = Some((self.plan.steps_per_epoch, f32::NAN));
            }
        }
        if let Some((step, loss)) = first_bad {
            return Ok(Err(Error::Diverged { epoch, step, loss }));
        }
        let params = self.backend.read(&self.active.params[i])?;
        if let Some(across) = self.across {
            across.check_same_weights(&params, epoch)?;
        }
        if let Some(&bad) = params.iter().find(|p| !p.is_finite()) {
            return Ok(Err(Error::Diverged {
                epoch,
                step: self.plan.steps_per_epoch,
                loss: bad,
            }));
        }
        let config = &self.configs[self.active.ids[i]];
        Ok(Ok(MemberTraining {
            penalty: config
                .regularizer
                .penalty(&params[..self.shape.weight_len()]),
            mean_loss: loss_sum / seen as f64,
            accuracy: self.train.has_classes().then(|| correct / seen as f64),
            params,
        }))
    }

    /// Scores the validation rows with every active member's current
    /// weights, in batches of the training batch size; `None` without
    /// validation rows. `penalties[i]` is active member `i`'s penalty.
    fn validate(&mut self, penalties: &[f64]) -> Result<Option<Vec<ValidationScore>>> {
        let Some(validation) = self.validation.as_mut() else {
            return Ok(None);
        };
        let members = self.active.ids.len();
        let rows = validation.len;
        let model = StepModel {
            loss: &self.configs[0].loss,
            outputs: self.shape.outputs,
            class_weights: self.class_weights.as_ref(),
        };
        let (backend, params) = (self.backend, &self.active.params);
        let rows_per_step = validation.pass(
            backend,
            PassOrder::Streamed { epoch: None },
            self.plan.batch,
            &mut |data, stats, at| record_step(backend, &model, data, stats, at, params, None),
        )?;
        let stats = self.backend.read(&validation.stats)?;
        let has_classes = self.train.has_classes();
        // Per member: its loss sum and correct count; then the rows.
        let mut sums = Vec::with_capacity(2 * members + 1);
        for i in 0..members {
            let mut loss_sum = 0.0f64;
            let mut correct = 0.0f64;
            for (step, &step_rows) in rows_per_step.iter().enumerate() {
                let slot = 2 * (step * members + i);
                loss_sum += stats[slot] as f64 * step_rows as f64;
                correct += stats[slot + 1] as f64;
            }
            sums.extend([loss_sum, correct]);
        }
        sums.push(rows as f64);
        if let Some(across) = self.across {
            across.sum(&mut sums)?;
        }
        let rows = sums[2 * members];
        let scores = (0..members)
            .map(|i| ValidationScore {
                loss: sums[2 * i] / rows + penalties[i],
                accuracy: has_classes.then(|| sums[2 * i + 1] / rows),
            })
            .collect();
        Ok(Some(scores))
    }

    /// The state to resume from: the latest model, the optimizer state and
    /// the position.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        self.member_checkpoint(0)
    }

    /// Member `k`'s state to resume from: its latest model, its optimizer
    /// state, and where it stopped.
    pub fn member_checkpoint(&self, k: usize) -> Result<Checkpoint> {
        let (state, position) = match &self.retired[k] {
            Some(retired) => (&retired.state, retired.position),
            None => {
                let i = self
                    .active
                    .ids
                    .iter()
                    .position(|&id| id == k)
                    .ok_or_else(|| Error::InvalidConfig(format!("no member {k}")))?;
                (&self.active.states[i], self.position)
            }
        };
        Ok(Checkpoint {
            model: self.latest[k].model.clone(),
            optimizer_state: self.backend.read(state)?,
            steps_taken: position.steps_taken,
            epochs_done: position.epochs_done,
        })
    }
}

/// Takes the optimizer step of every active member with the gradients in
/// `active.grads`: the step count and each member's scheduled learning
/// rate advance first.
fn update_members<B: Backend>(
    backend: &B,
    configs: &[TrainConfig],
    plan: StepPlan,
    active: &mut ActiveMembers<B>,
    position: &mut RunPosition,
    updates: &mut [UpdateStep],
) -> Result<()> {
    position.steps_taken += 1;
    for (update, &k) in updates.iter_mut().zip(&active.ids) {
        let config = &configs[k];
        update.learning_rate = config.schedule.learning_rate(
            config.learning_rate,
            position.steps_taken - 1,
            plan.total_steps,
        );
        update.step = position.steps_taken;
    }
    backend.update_members(
        &mut active.params,
        &active.grads,
        &mut active.states,
        updates,
    )
}

/// An active member's epoch of training, before validation.
struct MemberTraining {
    mean_loss: f64,
    penalty: f64,
    accuracy: Option<f64>,
    params: Vec<f32>,
}

/// An epoch's validation metrics: the full objective, and the accuracy
/// (`None` for real-valued targets).
#[derive(Clone, Copy, Debug)]
struct ValidationScore {
    loss: f64,
    accuracy: Option<f64>,
}

/// Rows per ring block for a run of `config`: whole steps of about
/// [`ring_block_bytes`].
fn ring_block_rows(config: &TrainConfig, plan: StepPlan, features: usize) -> usize {
    block_rows_for(plan.batch, features, ring_block_bytes(config))
}

/// A host split that passes through a device ring of `block_rows`-row
/// blocks; only class targets can (a ring slot holds class indices).
fn ring_split<'c, B: Backend>(
    backend: &B,
    examples: &'c CheckedExamples<'_>,
    block_rows: usize,
) -> Result<SplitSource<'c, B>> {
    let CheckedTargets::Classes { labels, .. } = &examples.targets else {
        return Err(Error::InvalidConfig(
            "real-valued targets are uploaded whole; a device budget below the data's size \
             needs class labels"
                .into(),
        ));
    };
    let ring = DeviceRing::new(backend, block_rows, examples.x.ncols())?;
    Ok(SplitSource::Ring(RingSplit {
        ring,
        feed: Box::new(HostFeed {
            x: examples.x.view(),
            labels: labels.view(),
            subset: examples.rows.clone(),
        }),
    }))
}
