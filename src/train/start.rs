//! Where a run starts: fresh weights, or a [`Checkpoint`] that it resumes
//! (the same run, continued on the same data) or continues (more epochs,
//! on any data of the model's shape: scikit-learn's `partial_fit`).

use super::Checkpoint;
use super::step_plan::StepPlan;
use crate::config::{Init, TrainConfig};
use crate::optimizer::STATE_SLOTS;
use crate::{Error, Model, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A run that starts from a checkpoint, and how it counts its epochs.
#[derive(Clone, Debug)]
pub(super) enum Start {
    /// [`crate::Trainer::resume_from`]: the rest of the run that wrote the
    /// checkpoint, up to `config.epochs` in all, on the same data (its step
    /// count must be the one this data gives after its epochs).
    Resume(Checkpoint),
    /// [`crate::Trainer::continue_from`]: `config.epochs` more epochs on
    /// any rows, the step count carried on whatever this data's epochs are.
    Continue(Checkpoint),
}

impl Start {
    pub fn checkpoint(&self) -> &Checkpoint {
        match self {
            Start::Resume(checkpoint) | Start::Continue(checkpoint) => checkpoint,
        }
    }
}

/// The number of a run's last epoch: `config.epochs` for a fresh or a
/// resumed run (epochs count over the whole run), the checkpoint's epochs
/// plus `config.epochs` for a continued one.
pub(super) fn final_epoch(start: Option<&Start>, config: &TrainConfig) -> usize {
    match start {
        Some(Start::Continue(checkpoint)) => checkpoint.epochs_done.saturating_add(config.epochs),
        _ => config.epochs,
    }
}

/// The weights a minibatch run over `plan` starts from, after checking the
/// checkpoint it starts from, if any, against the model's shape
/// (`features` × `outputs`) and the configured optimizer. A continued run's
/// schedule spans the checkpoint's steps and this run's: `plan.total_steps`
/// becomes their sum, so that the learning rate at global step `t` is the
/// one a single run of that length would take there.
pub(super) fn start_params(
    start: Option<&Start>,
    config: &TrainConfig,
    features: usize,
    outputs: usize,
    plan: &mut StepPlan,
) -> Result<Vec<f32>> {
    let Some(start) = start else {
        return Ok(initial_params(config, features, outputs));
    };
    let checkpoint = start.checkpoint();
    check_state(checkpoint, config, features, outputs)?;
    match start {
        Start::Resume(_) => check_step_count(checkpoint, plan)?,
        Start::Continue(_) => {
            plan.total_steps = plan.total_steps.saturating_add(checkpoint.steps_taken);
        }
    }
    Ok(checkpoint.model.params())
}

/// Whether `model` (`what` it is, in the error) has the shape the data
/// needs: `features × outputs`.
pub(super) fn check_model_shape(
    model: &Model,
    what: &str,
    features: usize,
    outputs: usize,
) -> Result<()> {
    if model.features() != features || model.outputs() != outputs {
        return Err(Error::ShapeMismatch {
            op: "resume",
            detail: format!(
                "{what} is {}×{}, the data needs {features}×{outputs}",
                model.features(),
                model.outputs()
            ),
        });
    }
    Ok(())
}

/// Whether `checkpoint` can start a run of this model: its shape, and an
/// optimizer state of the configured optimizer and the model's size.
fn check_state(
    checkpoint: &Checkpoint,
    config: &TrainConfig,
    features: usize,
    outputs: usize,
) -> Result<()> {
    check_model_shape(&checkpoint.model, "checkpoint", features, outputs)?;
    if checkpoint.optimizer_state.len() != STATE_SLOTS * (features * outputs + outputs) {
        return Err(Error::ShapeMismatch {
            op: "resume",
            detail: "optimizer state does not match the model".into(),
        });
    }
    config
        .optimizer
        .check_state(&checkpoint.optimizer_state)
        .map_err(|reason| Error::InvalidConfig(format!("the checkpoint's {reason}")))
}

/// Whether a resumed checkpoint's step count is the one this data and
/// batch size give after its epochs: the schedule and the bias corrections
/// continue from it, as if the run had not stopped.
fn check_step_count(checkpoint: &Checkpoint, plan: &StepPlan) -> Result<()> {
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

impl Checkpoint {
    /// A checkpoint holding only weights: the optimizer state all zeros
    /// ([`STATE_SLOTS`] × (D·C + C) values, the state every optimizer
    /// starts from), no step taken, no epoch done. Passed to
    /// [`crate::Trainer::continue_from`], it starts a run from `model`'s
    /// weights exactly as a fresh run starts from its initial ones
    /// (scikit-learn's `warm_start=True`); any optimizer takes it.
    pub fn from_model(model: Model) -> Self {
        let params = model.features() * model.outputs() + model.outputs();
        Self {
            model,
            optimizer_state: vec![0.0; STATE_SLOTS * params],
            steps_taken: 0,
            epochs_done: 0,
        }
    }
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
