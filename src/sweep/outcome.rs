//! What a sweep returns: each member's runs (one, or one per fold), their
//! scores, and the member selected.

use super::grid::Setting;
use crate::{History, Model, SolverReport, TrainConfig};

/// How a member's run ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MemberStatus {
    /// It trained to its last epoch, or early stopping or the tolerance
    /// rule ended it (its [`History`] says which).
    Trained,
    /// Its loss or a weight became non-finite at this epoch and step
    /// ([`crate::Error::Diverged`]'s fields); it was dropped there and the
    /// other members went on. Its model is the last finite one.
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },
}

/// A model scored on its training and validation rows: the mean data loss
/// (without the penalty, as `lintrain eval` reports it) and the accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// `None` without validation rows.
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
}

/// One training of one member: on the whole training split, or on one
/// fold's training rows.
#[derive(Clone, Debug)]
pub struct MemberRun {
    /// Exactly the configuration `lintrain train` would have trained with.
    pub config: TrainConfig,
    pub status: MemberStatus,
    /// The trained model (with early stopping, its best epoch's weights);
    /// after a divergence, the last finite one.
    pub model: Model,
    pub history: History,
    /// With L-BFGS, the solver's report; `None` for minibatch runs.
    pub solver_report: Option<SolverReport>,
    /// `model` scored on the run's rows; `None` for a diverged run.
    pub scores: Option<Scores>,
}

/// One setting of the grid and what training it gave.
#[derive(Clone, Debug)]
pub struct MemberResult {
    pub setting: Setting,
    /// One run with a validation split, one per fold with k-fold selection.
    pub runs: Vec<MemberRun>,
    /// The runs' scores averaged over the folds (the one run's scores with
    /// a validation split); `None` when any run diverged.
    pub scores: Option<Scores>,
}

impl MemberResult {
    /// Whether any of its runs diverged.
    pub fn diverged(&self) -> bool {
        self.runs
            .iter()
            .any(|r| matches!(r.status, MemberStatus::Diverged { .. }))
    }
}

/// A finished sweep.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// Every member, in grid order.
    pub members: Vec<MemberResult>,
    /// The selected member; `None` when every member diverged.
    pub best: Option<usize>,
    /// The selected member's model: its run's model with a validation
    /// split, its refit on every training row with k-fold selection.
    pub best_model: Option<Model>,
    /// With k-fold selection, the refit of the selected setting on every
    /// training row.
    pub refit: Option<MemberRun>,
    /// With [`SweepConfig::standardize`](super::SweepConfig::standardize),
    /// the moments `best_model`'s training rows were standardized with.
    pub standardizer: Option<crate::data::Standardizer>,
    /// Wall-clock seconds of the training (folds and refit included).
    pub seconds: f64,
}
