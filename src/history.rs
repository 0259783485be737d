//! What a training run reports, epoch by epoch.

use crate::backend::BackendInfo;

/// One epoch's metrics. Losses are the full objective: mean data loss plus
/// the regularization penalty at the epoch's final weights. The train loss
/// and accuracy are averaged over the epoch's minibatches, each scored
/// before its update; validation is scored after the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    /// `None` for real-valued targets.
    pub train_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f32,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
    /// Training rows processed per second.
    pub samples_per_second: f64,
    /// Full-batch solvers: `‖g‖∞` of the (pseudo-)gradient at the
    /// iteration's result; `None` for minibatch epochs.
    pub gradient_max: Option<f64>,
    /// Full-batch solvers: the step length the line search accepted;
    /// `None` for minibatch epochs.
    pub step_length: Option<f64>,
}

/// The per-epoch records and which backend produced them.
#[derive(Clone, Debug)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
    pub backend: BackendInfo,
    /// Epoch (1-based) whose weights were returned, when early stopping ran.
    pub best_epoch: Option<usize>,
    /// Early stopping ([`crate::EarlyStopping`]) ended the run: its patience
    /// ran out before the last epoch.
    pub stopped_early: bool,
    /// The tolerance rule ([`crate::TrainConfig::tolerance`]) ended the run:
    /// the monitored loss stopped improving before the last epoch. The
    /// returned weights are the last epoch's.
    pub stopped_by_tolerance: bool,
}
