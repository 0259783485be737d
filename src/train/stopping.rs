//! When a minibatch run stops before its last epoch: early stopping (what
//! it needs in order to run, and the watch it keeps over the epochs, best
//! weights included) and the tolerance rule (convergence of the monitored
//! loss, scikit-learn's `tol` and `n_iter_no_change`).

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

/// scikit-learn's `SGDClassifier` convergence test (`tol`,
/// `n_iter_no_change`), applied after every epoch to the monitored loss
/// `L`: the validation loss when the run has validation rows, else the
/// epoch's training loss (both the full objective, penalty included).
/// With `best` the lowest `L` so far (+∞ at first) and `count` the epochs
/// without improvement (0 at first):
///
/// ```text
/// if L > best − tol { count += 1 } else { count = 0 }
/// best = min(best, L)
/// stop when count ≥ n_iter_no_change
/// ```
///
/// exactly `_sgd_fast.pyx`'s order (so with `tol = 0` an epoch that only
/// equals the best resets the count). Unlike early stopping it keeps the
/// last epoch's weights, as scikit-learn does without `early_stopping`.
pub(super) struct ToleranceWatch {
    tolerance: f64,
    n_iter_no_change: usize,
    best_loss: f64,
    epochs_without_improvement: usize,
}

impl ToleranceWatch {
    pub fn new(tolerance: f64, n_iter_no_change: usize) -> Self {
        Self {
            tolerance,
            n_iter_no_change,
            best_loss: f64::INFINITY,
            epochs_without_improvement: 0,
        }
    }

    /// Applies the rule to a finished epoch.
    pub fn observe(&mut self, record: &EpochRecord) -> Verdict {
        self.observe_loss(record.val_loss.unwrap_or(record.train_loss))
    }

    fn observe_loss(&mut self, loss: f64) -> Verdict {
        if loss > self.best_loss - self.tolerance {
            self.epochs_without_improvement += 1;
        } else {
            self.epochs_without_improvement = 0;
        }
        if loss < self.best_loss {
            self.best_loss = loss;
        }
        if self.epochs_without_improvement >= self.n_iter_no_change {
            Verdict::Stop
        } else {
            Verdict::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1-based epoch the rule stops at, or `None`.
    fn stops_at(tolerance: f64, n_iter_no_change: usize, losses: &[f64]) -> Option<usize> {
        let mut watch = ToleranceWatch::new(tolerance, n_iter_no_change);
        losses
            .iter()
            .position(|&loss| watch.observe_loss(loss) == Verdict::Stop)
            .map(|i| i + 1)
    }

    #[test]
    fn the_tolerance_rule_counts_epochs_that_miss_the_best_by_less_than_tol() {
        // Improvements of 1 each: never within tol = 0.5 of the best.
        assert_eq!(stops_at(0.5, 2, &[10.0, 9.0, 8.0, 7.0, 6.0]), None);
        // From the third epoch on, improvements of 0.1 < tol: two in a row stop.
        assert_eq!(stops_at(0.5, 2, &[10.0, 9.0, 8.9, 8.8, 8.7]), Some(4));
        // A real improvement in between resets the count.
        assert_eq!(
            stops_at(0.5, 2, &[10.0, 9.9, 9.0, 8.95, 8.0, 7.99, 7.98]),
            Some(7)
        );
        // The first epoch is measured against +∞: never counted.
        assert_eq!(stops_at(1e9, 1, &[5.0, 5.0]), Some(2));
        // A worse epoch counts, and the best stays the best seen.
        assert_eq!(
            stops_at(0.0, 3, &[1.0, 2.0, 3.0, 0.5, 0.6, 0.7, 0.8]),
            Some(7)
        );
    }

    #[test]
    fn with_tol_zero_an_equal_loss_resets_the_count_as_in_scikit_learn() {
        // `L > best − 0` is false for L = best.
        assert_eq!(stops_at(0.0, 1, &[1.0, 1.0, 1.0]), None);
        assert_eq!(stops_at(0.0, 1, &[1.0, 1.0, 1.0 + 1e-12]), Some(3));
    }

    #[test]
    fn the_validation_loss_is_monitored_when_there_is_one() {
        let record = |train_loss: f64, val_loss: Option<f64>| EpochRecord {
            epoch: 1,
            train_loss,
            train_accuracy: None,
            val_loss,
            val_accuracy: None,
            learning_rate: 0.1,
            seconds: 0.0,
            samples_per_second: 0.0,
            gradient_max: None,
            step_length: None,
        };
        // The training loss falls, the validation loss does not.
        let mut watch = ToleranceWatch::new(0.0, 2);
        assert_eq!(watch.observe(&record(3.0, Some(1.0))), Verdict::Continue);
        assert_eq!(watch.observe(&record(2.0, Some(1.5))), Verdict::Continue);
        assert_eq!(watch.observe(&record(1.0, Some(2.0))), Verdict::Stop);
        // Without validation rows, the training loss.
        let mut watch = ToleranceWatch::new(0.0, 2);
        for train_loss in [3.0, 2.0, 1.0] {
            assert_eq!(watch.observe(&record(train_loss, None)), Verdict::Continue);
        }
    }
}
