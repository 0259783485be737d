//! Training configuration, with defaults.

use crate::schedule::LrSchedule;
use crate::solver::Solver;
use crate::{Error, Loss, Optimizer, Regularizer, Result};

/// How many rows one optimizer step sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    /// Minibatches of this many rows (the last of an epoch may be smaller).
    Rows(usize),
    /// Full-batch gradient descent: one step per epoch over every row.
    Full,
}

/// How minibatch rows are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sampling {
    /// A seeded permutation per epoch: every row once per epoch.
    #[default]
    Shuffle,
    /// Rows in their stored order.
    Sequential,
    /// CS231n's `np.random.choice(N, B)`: rows drawn with replacement.
    WithReplacement,
}

/// Initial weights (the bias always starts at 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    /// `W = scale·N(0, 1)`, seeded (CS231n's `0.001 * randn`).
    Random {
        scale: f32,
    },
}

impl Default for Init {
    fn default() -> Self {
        Init::Random { scale: 1e-3 }
    }
}

/// Which backend trains; [`BackendChoice::open`] opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// A hardware GPU when there is one, otherwise the CPU backend (the
    /// software adapter is never picked automatically: correct but slow).
    #[default]
    Auto,
    /// The CPU backend.
    Cpu,
    /// A GPU adapter, hardware preferred; an error when there is none.
    Gpu,
    /// The software adapter (lavapipe).
    Software,
    /// Hardware GPU number `n` (modulo their number; see
    /// [`crate::AdapterChoice::HardwareNumber`]): each rank of a
    /// data-parallel run picks its own by its local rank. An error when no
    /// adapter opens.
    GpuNumber(usize),
}

/// What early stopping watches on the validation set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Monitor {
    #[default]
    ValidationLoss,
    ValidationAccuracy,
}

/// Stop when the monitored metric has not improved for `patience` epochs,
/// and restore the weights of the best epoch. It needs validation rows
/// ([`EarlyStopping::check_watchable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyStopping {
    pub patience: usize,
    pub monitor: Monitor,
}

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub loss: Loss,
    pub regularizer: Regularizer,
    pub optimizer: Optimizer,
    /// Base learning rate `lr₀`.
    pub learning_rate: f32,
    pub schedule: LrSchedule,
    pub epochs: usize,
    pub batch_size: BatchSize,
    pub sampling: Sampling,
    pub seed: u64,
    pub init: Init,
    pub backend: BackendChoice,
    /// Share of the rows held out for validation (stratified, seeded), in [0, 1).
    pub validation_fraction: f32,
    pub early_stopping: Option<EarlyStopping>,
    /// Number of classes; `None` means the largest label + 1.
    pub classes: Option<usize>,
    /// Softmax class weights (length = classes).
    pub class_weights: Option<Vec<f32>>,
    /// How the parameters are fit: minibatch first-order training (the
    /// default) or full-batch L-BFGS.
    pub solver: Solver,
    /// Convergence-based stopping of the minibatch optimizers, scikit-learn's
    /// `SGDClassifier` semantics: stop when the monitored loss (validation
    /// loss with a validation split, else the epoch's training loss) has
    /// not improved on the best so far by at least `tol` for
    /// `n_iter_no_change` epochs in a row; `epochs` is then the maximum.
    /// `None` (the default) runs every epoch, as before. The exact rule is
    /// `ToleranceWatch`'s in `train/stopping.rs`; a run that it ends has
    /// [`History::stopped_by_tolerance`](crate::History::stopped_by_tolerance)
    /// set. A resumed run counts its epochs without improvement afresh.
    /// [`Solver::Lbfgs`] has its own tolerances ([`LbfgsOptions`](crate::LbfgsOptions)) and
    /// ignores this one.
    pub tolerance: Option<f64>,
    /// Epochs without an improvement of at least `tolerance` before
    /// stopping (default 5, scikit-learn's).
    pub n_iter_no_change: usize,
    /// Bytes of device memory the training and validation rows may take
    /// (as f32). Rows beyond it are not uploaded whole but pass through a
    /// ring of two device buffers, block by block, every epoch; the steps
    /// and their results are the same. `None` uploads them whole. Rows
    /// streamed from disk always pass through the ring.
    pub device_budget: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            loss: Loss::default(),
            regularizer: Regularizer::L2 { strength: 1e-4 },
            optimizer: Optimizer::Sgd,
            learning_rate: 0.1,
            schedule: LrSchedule::default(),
            epochs: 20,
            batch_size: BatchSize::Rows(200),
            sampling: Sampling::Shuffle,
            seed: 0,
            init: Init::default(),
            backend: BackendChoice::Auto,
            validation_fraction: 0.0,
            early_stopping: None,
            classes: None,
            class_weights: None,
            solver: Solver::default(),
            tolerance: None,
            n_iter_no_change: 5,
            device_budget: None,
        }
    }
}

/// Largest class weight. The data loss is the mean of `w_y·ℓ` over the
/// rows (scikit-learn's `class_weight`, which scales each sample's loss),
/// so a weight scales the loss and the step: beyond this the loss
/// overflows f32.
pub const MAX_CLASS_WEIGHT: f32 = 1e6;
/// Smallest largest class weight: below it the loss, and so every step, is
/// too small to learn anything.
pub const MIN_LARGEST_CLASS_WEIGHT: f32 = 1e-6;

/// Class weights that can train: each finite, in `[0, MAX_CLASS_WEIGHT]`,
/// and the largest at least [`MIN_LARGEST_CLASS_WEIGHT`]. The reason when
/// not.
pub fn check_class_weights(weights: &[f32]) -> std::result::Result<(), String> {
    if let Some((class, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && (0.0..=MAX_CLASS_WEIGHT).contains(*w)))
    {
        return Err(format!(
            "class weights must be numbers in [0, {MAX_CLASS_WEIGHT:e}], got {w:e} for class {class}: weights scale the loss, which would overflow"
        ));
    }
    let largest = weights.iter().copied().fold(0.0f32, f32::max);
    if largest < MIN_LARGEST_CLASS_WEIGHT {
        return Err(format!(
            "class weights must not all be below {MIN_LARGEST_CLASS_WEIGHT:e}; the largest is {largest:e}, too small for any step to learn anything"
        ));
    }
    Ok(())
}

/// scikit-learn's `class_weight="balanced"`: `w_c = n / (k·n_c)` for `n`
/// training labels of `k` classes, `n_c` of class `c`, in class-id order.
/// The class without training rows when there is one (its weight would be
/// infinite).
pub fn balanced_class_weights(
    train_labels: &[u32],
    classes: usize,
) -> std::result::Result<Vec<f32>, usize> {
    let mut counts = vec![0usize; classes];
    for &label in train_labels {
        if let Some(count) = counts.get_mut(label as usize) {
            *count += 1;
        }
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        return Err(empty);
    }
    let (n, k) = (train_labels.len() as f64, classes as f64);
    Ok(counts
        .iter()
        .map(|&c| (n / (k * c as f64)) as f32)
        .collect())
}

impl TrainConfig {
    /// Checks every hyperparameter; the first problem is the error.
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| Err(Error::InvalidConfig(m));
        if !self.learning_rate.is_finite() || self.learning_rate <= 0.0 {
            return invalid(format!(
                "learning rate must be finite and > 0, got {}",
                self.learning_rate
            ));
        }
        if self.epochs == 0 {
            return invalid(format!("epochs must be ≥ 1, got {}", self.epochs));
        }
        if self.batch_size == BatchSize::Rows(0) {
            return invalid("batch size must be ≥ 1, got 0".into());
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return invalid(format!(
                "validation fraction must be in [0, 1), got {}",
                self.validation_fraction
            ));
        }
        if let Init::Random { scale } = self.init
            && (!scale.is_finite() || scale < 0.0)
        {
            return invalid(format!("init scale must be finite and ≥ 0, got {scale}"));
        }
        if let Some(stopping) = &self.early_stopping
            && stopping.patience == 0
        {
            return invalid("early-stopping patience must be ≥ 1, got 0".into());
        }
        if let Some(tolerance) = self.tolerance
            && !(tolerance.is_finite() && tolerance >= 0.0)
        {
            return invalid(format!("tolerance must be finite and ≥ 0, got {tolerance}"));
        }
        if self.n_iter_no_change == 0 {
            return invalid("n_iter_no_change must be ≥ 1, got 0".into());
        }
        if let Solver::Lbfgs(options) = &self.solver {
            if let Loss::Hinge { .. } = self.loss {
                return invalid(
                    "the hinge loss (svm) has no gradient at its kink, so L-BFGS cannot fit it; use the squared hinge (Loss::SquaredHinge, `--loss squared-hinge`) or the minibatch solver".into(),
                );
            }
            options.check().map_err(Error::InvalidConfig)?;
        }
        if let Some(weights) = &self.class_weights {
            if !matches!(self.loss, Loss::SoftmaxCrossEntropy { .. }) {
                return invalid("class weights apply to the softmax loss only".into());
            }
            check_class_weights(weights).map_err(Error::InvalidConfig)?;
        }
        self.loss.validate()?;
        self.regularizer.validate()?;
        self.optimizer.validate()?;
        self.schedule.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::balanced_class_weights;

    #[test]
    fn balanced_weights_are_n_over_k_times_the_class_count() {
        // 6 labels of 3 classes, counted 3, 2 and 1.
        let weights = balanced_class_weights(&[0, 0, 0, 1, 1, 2], 3).unwrap();
        assert_eq!(weights, vec![6.0 / 9.0, 6.0 / 6.0, 6.0 / 3.0]);
    }

    #[test]
    fn a_class_without_training_rows_is_named() {
        assert_eq!(balanced_class_weights(&[0, 2, 2], 3), Err(1));
    }
}
