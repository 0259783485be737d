//! A full-batch run: L-BFGS on the whole training objective (OWL-QN when
//! the regularizer has an L1 part), each evaluation one pass of the backend
//! over the resident training rows ([`FullBatchObjective`]).
//!
//! The objective is `F(θ) = (1/N)·Σ ℓ_i + λ₂·ΣW² + λ₁·Σ|W|` with
//! `(λ₁, λ₂) = Regularizer::coefficients()`: the smooth part is the
//! backend's objective, the L1 part the solver's ([`L1Penalty`] over the
//! weights only; the bias is never penalized). The history has one record
//! per accepted iteration: `epoch` the iteration, `train_loss` F at the new
//! point, `learning_rate` the accepted step length, `seconds` the
//! iteration's wall time; validation rows, when there are any, are scored
//! at every iterate with the same objective.

use super::across::Across;
use super::interrupt::{self, Interrupt};
use super::prepare::{CheckedExamples, CheckedTargets, Prepared};
use super::resident::Uploaded;
use super::split_rows::{beyond_device_budget, ring_block_bytes};
use super::start::{check_model_shape, initial_params};
use super::streamed::{DiskFeed, StreamedData, StreamedSplit};
use super::symmetric::centre_over_classes;
use super::{Checkpoint, Outcome};
use crate::backend::Backend;
use crate::backend::ring::HostFeed;
use crate::config::TrainConfig;
use crate::history::{EpochRecord, History};
use crate::objective::{FullBatch, FullBatchObjective, ObjectiveValue};
use crate::optimizer::STATE_SLOTS;
use crate::solver::{L1Penalty, LbfgsOptions, Objective, minimize};
use crate::{Error, Model, Result};
use std::cell::RefCell;
use std::time::Instant;

/// The full-batch objective over the rows `rows` (all when `None`) of an
/// uploaded matrix.
fn objective_of<'a, B: Backend>(
    data: &'a Uploaded<B>,
    rows: Option<&[u32]>,
    backend: &'a B,
    config: &TrainConfig,
    outputs: usize,
    class_weights: Option<&'a B::Buffer>,
    l2: f64,
) -> Result<FullBatchObjective<'a, B>> {
    let batch = FullBatch {
        loss: config.loss,
        x: &data.x,
        targets: data.targets(class_weights),
        outputs,
    };
    match rows {
        Some(rows) => FullBatchObjective::over_rows(backend, batch, l2, rows.to_vec()),
        None => FullBatchObjective::new(backend, batch, l2),
    }
}

/// The full-batch objective of a split: over its rows uploaded as `data`,
/// or, without an upload (rows beyond the device budget), passed through
/// a device ring; the ring takes class targets only.
fn split_objective<'a, B: Backend>(
    backend: &'a B,
    config: &TrainConfig,
    examples: &'a CheckedExamples<'_>,
    data: Option<&'a Uploaded<B>>,
    outputs: usize,
    class_weights: Option<&'a B::Buffer>,
    l2: f64,
) -> Result<FullBatchObjective<'a, B>> {
    if let Some(data) = data {
        let rows = examples.rows.as_deref();
        return objective_of(data, rows, backend, config, outputs, class_weights, l2);
    }
    let CheckedTargets::Classes { labels, .. } = &examples.targets else {
        return Err(Error::InvalidConfig(
            "real-valued targets are uploaded whole; a device budget below the data's size \
             needs class labels"
                .into(),
        ));
    };
    let feed = HostFeed {
        x: examples.x.view(),
        labels: labels.view(),
        subset: examples.rows.clone(),
    };
    FullBatchObjective::through_ring(
        backend,
        config.loss,
        outputs,
        class_weights,
        Box::new(feed),
        l2,
        ring_block_bytes(config),
    )
}

/// The training objective as the solver sees it, shared through a
/// `RefCell` with the per-iteration callback, which reads the correct
/// count at the accepted point (usually the last point evaluated). Each
/// evaluation first reads the run's interrupt, if it has one: the solver
/// passes the error on, so the run ends before the pass.
struct Shared<'o, 'a, B: Backend> {
    objective: &'o RefCell<FullBatchObjective<'a, B>>,
    interrupt: Option<&'o Interrupt>,
    /// Set when scoring an iterate failed: the run ends at the next
    /// evaluation rather than going on without its scores (in a
    /// data-parallel run, out of step with the other ranks).
    failure: &'o RefCell<Option<Error>>,
}

impl<B: Backend> Objective for Shared<'_, '_, B> {
    fn dimension(&self) -> usize {
        self.objective.borrow().dimension()
    }
    fn value_and_gradient(&mut self, params: &[f64], gradient: &mut [f64]) -> Result<f64> {
        interrupt::check(self.interrupt)?;
        if self.failure.borrow().is_some() {
            return Err(Error::InvalidConfig(
                "the run ended after scoring an iterate failed".into(),
            ));
        }
        self.objective
            .borrow_mut()
            .value_and_gradient(params, gradient)
    }
}

/// The value at `params`: the last evaluation's when it was there,
/// otherwise a new pass without the gradient.
fn value_at<B: Backend>(
    objective: &mut FullBatchObjective<'_, B>,
    params: &[f64],
) -> Result<ObjectiveValue> {
    match objective.last_evaluation() {
        Some((at, value)) if at == params => Ok(value),
        _ => objective.evaluate(params, None),
    }
}

fn to_f32(params: &[f64]) -> Vec<f32> {
    params.iter().map(|&p| p as f32).collect()
}

/// Runs L-BFGS on resident data from the checkpoint's model (a warm
/// start) or the configured initial weights, calling `on_iteration` with
/// each record and `on_model` with each iterate's model; ends with
/// [`Error::Interrupted`] at the first evaluation after `interrupt` is set.
/// With `across`, the data is one rank's share of a data-parallel run, and
/// every evaluation is of every rank's rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<B: Backend>(
    backend: &B,
    config: &TrainConfig,
    options: &LbfgsOptions,
    prepared: &Prepared<'_>,
    across: Option<&Across<'_>>,
    resume: Option<&Checkpoint>,
    interrupt: Option<&Interrupt>,
    on_iteration: &mut dyn FnMut(&EpochRecord),
    on_model: &mut dyn FnMut(Model),
) -> Result<Outcome> {
    let train = &prepared.train;
    let features = train.x.ncols();
    let (classes, outputs) = match &train.targets {
        CheckedTargets::Classes { classes, .. } => {
            (*classes, config.loss.outputs_for_classes(*classes))
        }
        CheckedTargets::Values(values) => (0, values.ncols()),
    };
    let l2 = config.regularizer.coefficients().1 as f64;
    let class_weights = config
        .class_weights
        .as_ref()
        .map(|w| backend.upload(w))
        .transpose()?;
    let on_ring = beyond_device_budget(config, prepared.uploaded_rows(), features);
    let train_data = (!on_ring)
        .then(|| Uploaded::new(backend, train))
        .transpose()?;
    // The other part of one split reads the same upload.
    let validation_data = match &prepared.validation {
        Some(examples) if !on_ring && !examples.same_data(train) => {
            Some(Uploaded::new(backend, examples)?)
        }
        _ => None,
    };
    let weights = class_weights.as_ref();
    let objective = RefCell::new(split_objective(
        backend,
        config,
        train,
        train_data.as_ref(),
        outputs,
        weights,
        l2,
    )?);
    let mut validation = match &prepared.validation {
        Some(examples) => Some(split_objective(
            backend,
            config,
            examples,
            validation_data.as_ref().or(train_data.as_ref()),
            outputs,
            weights,
            l2,
        )?),
        None => None,
    };
    if let Some(across) = across {
        objective
            .borrow_mut()
            .across(across.collective, across.train.total())?;
        if let (Some(objective), Some(shares)) = (validation.as_mut(), &across.validation) {
            objective.across(across.collective, shares.total())?;
        }
    }
    let shape = Shape {
        rows: objective.borrow().rows(),
        features,
        classes,
        outputs,
    };
    solve(
        backend,
        config,
        options,
        shape,
        objective,
        validation,
        resume,
        interrupt,
        on_iteration,
        on_model,
    )
}

/// Runs L-BFGS on data streamed from disk: each evaluation of the
/// training objective (and of the validation rows' at each iterate) is one
/// streamed pass through a device ring.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_streamed<B: Backend>(
    backend: &B,
    config: &TrainConfig,
    options: &LbfgsOptions,
    data: &StreamedData,
    classes: usize,
    split: StreamedSplit,
    resume: Option<&Checkpoint>,
    interrupt: Option<&Interrupt>,
    on_iteration: &mut dyn FnMut(&EpochRecord),
    on_model: &mut dyn FnMut(Model),
) -> Result<Outcome> {
    let outputs = config.loss.outputs_for_classes(classes);
    let class_weights = config
        .class_weights
        .as_ref()
        .map(|w| backend.upload(w))
        .transpose()?;
    let weights = class_weights.as_ref();
    let objective = RefCell::new(streamed_objective(
        backend,
        config,
        DiskFeed::train(data, config, split),
        data.block_bytes,
        outputs,
        weights,
    )?);
    let validation = match DiskFeed::validation(data, config, split) {
        Some(feed) => Some(streamed_objective(
            backend,
            config,
            feed,
            data.block_bytes,
            outputs,
            weights,
        )?),
        None => None,
    };
    let shape = Shape {
        rows: split.train,
        features: data.shards.features(),
        classes,
        outputs,
    };
    solve(
        backend,
        config,
        options,
        shape,
        objective,
        validation,
        resume,
        interrupt,
        on_iteration,
        on_model,
    )
}

/// The full-batch objective of one part of streamed data.
fn streamed_objective<'a, B: Backend>(
    backend: &'a B,
    config: &TrainConfig,
    feed: DiskFeed<'a>,
    block_bytes: u64,
    outputs: usize,
    class_weights: Option<&'a B::Buffer>,
) -> Result<FullBatchObjective<'a, B>> {
    FullBatchObjective::through_ring(
        backend,
        config.loss,
        outputs,
        class_weights,
        Box::new(feed),
        config.regularizer.coefficients().1 as f64,
        ring_block_bytes(config).min(block_bytes),
    )
}

/// A full-batch run's training rows and model shape.
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    features: usize,
    /// 0 for real-valued targets.
    classes: usize,
    outputs: usize,
}

/// The solver's loop over the training objective, scoring the validation
/// objective at each iterate.
#[allow(clippy::too_many_arguments)]
fn solve<B: Backend>(
    backend: &B,
    config: &TrainConfig,
    options: &LbfgsOptions,
    shape: Shape,
    objective: RefCell<FullBatchObjective<'_, B>>,
    mut validation: Option<FullBatchObjective<'_, B>>,
    resume: Option<&Checkpoint>,
    interrupt: Option<&Interrupt>,
    on_iteration: &mut dyn FnMut(&EpochRecord),
    on_model: &mut dyn FnMut(Model),
) -> Result<Outcome> {
    let Shape {
        rows: n,
        features,
        classes,
        outputs,
    } = shape;
    let model_of =
        |params: &[f32]| Model::from_params(params, features, outputs, config.loss, classes);
    let initial = match resume {
        Some(checkpoint) => {
            check_model_shape(&checkpoint.model, "the starting model", features, outputs)?;
            checkpoint.model.params()
        }
        None => initial_params(config, features, outputs),
    };
    let l1 = config.regularizer.coefficients().0 as f64;
    let penalty = (l1 > 0.0).then(|| L1Penalty::on_weights(l1, features, outputs));
    let l1_value = |params: &[f64]| penalty.as_ref().map_or(0.0, |p| p.value(params));
    // The symmetric parametrization (see `symmetric`; the weights too
    // unless an L1 penalty prefers others): the run starts from the
    // configured weights centred, and every model it hands out (each
    // iterate's, the result) is centred again, without the rounding that
    // drifted along the flat directions.
    let symmetric =
        (classes > 0 && config.loss.ignores_a_common_shift()).then_some(penalty.is_none());
    let centre = |params: &mut [f64]| {
        if let Some(weights) = symmetric {
            centre_over_classes(params, outputs, weights);
        }
    };

    let has_classes = classes > 0;

    let mut x0: Vec<f64> = initial.iter().map(|&p| p as f64).collect();
    centre(&mut x0);
    on_model(model_of(&to_f32(&x0)));
    let mut records = Vec::new();
    let failure = RefCell::new(None);
    let mut started = Instant::now();
    let mut evaluations_before = 0;
    let solution = minimize(
        &mut Shared {
            objective: &objective,
            interrupt,
            failure: &failure,
        },
        &x0,
        penalty.as_ref(),
        options,
        &mut |record, params| {
            if failure.borrow().is_some() {
                return;
            }
            let scored = (|| -> Result<EpochRecord> {
                let value = value_at(&mut objective.borrow_mut(), params)?;
                let (val_loss, val_accuracy) = match &mut validation {
                    Some(objective) => {
                        let value = objective.evaluate(params, None)?;
                        (
                            Some(value.objective + l1_value(params)),
                            has_classes.then(|| value.correct as f64 / objective.rows() as f64),
                        )
                    }
                    None => (None, None),
                };
                let seconds = started.elapsed().as_secs_f64();
                let evaluations = record.function_evaluations - evaluations_before;
                Ok(EpochRecord {
                    epoch: record.iteration,
                    train_loss: record.objective,
                    train_accuracy: has_classes.then(|| value.correct as f64 / n as f64),
                    val_loss,
                    val_accuracy,
                    learning_rate: record.step_length as f32,
                    seconds,
                    samples_per_second: (evaluations * n) as f64 / seconds.max(1e-9),
                    gradient_max: Some(record.gradient_max),
                    step_length: Some(record.step_length),
                })
            })();
            match scored {
                Ok(epoch_record) => {
                    on_iteration(&epoch_record);
                    let mut iterate = params.to_vec();
                    centre(&mut iterate);
                    on_model(model_of(&to_f32(&iterate)));
                    records.push(epoch_record);
                }
                Err(error) => *failure.borrow_mut() = Some(error),
            }
            evaluations_before = record.function_evaluations;
            started = Instant::now();
        },
    );
    if let Some(error) = failure.into_inner() {
        return Err(error);
    }
    let solution = solution?;
    let mut solution_params = solution.params;
    centre(&mut solution_params);
    let params = to_f32(&solution_params);
    let model = model_of(&params);
    Ok(Outcome {
        model: model.clone(),
        history: History {
            epochs: records,
            backend: backend.info(),
            best_epoch: None,
            stopped_early: false,
            // `config.tolerance` is the minibatch rule; L-BFGS stops by
            // its own (`LbfgsOptions`), reported in `solver_report`.
            stopped_by_tolerance: false,
        },
        checkpoint: Checkpoint {
            model,
            // L-BFGS keeps no per-parameter state between runs; a minibatch
            // run resumed from this checkpoint starts its optimizer afresh.
            optimizer_state: vec![0.0; STATE_SLOTS * params.len()],
            steps_taken: 0,
            epochs_done: 0,
        },
        solver_report: Some(solution.report),
    })
}
