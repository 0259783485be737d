//! Early stopping: what it needs in order to run, and the watch it keeps
//! over the epochs.

use super::prepare::TargetKind;
use crate::config::{EarlyStopping, Monitor};
use crate::history::EpochRecord;
use crate::{Error, Result};

impl EarlyStopping {
    /// Whether this rule can watch a run whose validation rows have targets
    /// of `validation` kind (`None`: the run has no validation rows). It
    /// watches the validation set, and accuracy needs class labels.
    pub fn check_watchable(&self, validation: Option<TargetKind>) -> Result<()> {
        match validation {
            None => Err(Error::InvalidConfig(
                "early stopping needs a validation set (validation_fraction > 0 or validation data)"
                    .into(),
            )),
            Some(TargetKind::Values) if self.monitor == Monitor::ValidationAccuracy => {
                Err(Error::InvalidConfig(
                    "early stopping on accuracy needs class labels; real-valued targets have none (monitor the loss)".into(),
                ))
            }
            Some(_) => Ok(()),
        }
    }
}

/// The epoch with the best score so far, and its weights.
pub(super) struct BestEpoch {
    /// Lower is better: the validation loss, or minus the accuracy.
    score: f64,
    pub epoch: usize,
    /// Its `[W | b]`.
    pub params: Vec<f32>,
}

/// Whether the run goes on after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Continue,
    Stop,
}

/// Keeps the best epoch and stops after `patience` epochs without an
/// improvement on it.
pub(super) struct EarlyStopper {
    rule: EarlyStopping,
    best: Option<BestEpoch>,
    epochs_since_best: usize,
}

impl EarlyStopper {
    pub fn new(rule: EarlyStopping) -> Self {
        Self {
            rule,
            best: None,
            epochs_since_best: 0,
        }
    }

    /// Scores a finished epoch whose weights are `params`, keeping them
    /// when the score is strictly better than the best so far.
    pub fn observe(&mut self, record: &EpochRecord, params: &[f32]) -> Result<Verdict> {
        let score = match self.rule.monitor {
            Monitor::ValidationLoss => record.val_loss,
            Monitor::ValidationAccuracy => record.val_accuracy.map(|a| -a),
        };
        // check_watchable ran before training; this guards a record without
        // the metric all the same.
        let Some(score) = score else {
            return Err(Error::InvalidConfig(
                "early stopping needs a validation set (validation_fraction > 0)".into(),
            ));
        };
        if self.best.as_ref().is_none_or(|best| score < best.score) {
            self.best = Some(BestEpoch {
                score,
                epoch: record.epoch,
                params: params.to_vec(),
            });
            self.epochs_since_best = 0;
        } else {
            self.epochs_since_best += 1;
        }
        Ok(if self.epochs_since_best >= self.rule.patience {
            Verdict::Stop
        } else {
            Verdict::Continue
        })
    }

    /// The best epoch seen, if any was.
    pub fn into_best(self) -> Option<BestEpoch> {
        self.best
    }
}
