//! Data losses. Every loss is the mean over the rows of a batch (CS231n's
//! convention: no division by the number of classes C).
//!
//! Notation: `s` is a row of scores (length C), `y` its class index, `N` the
//! number of rows in the batch.

/// Which data loss to train.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Loss {
    /// Softmax cross-entropy.
    ///
    /// `p = softmax(s - max(s))`, target `q = (1 - ε)·onehot(y) + ε/C`
    /// (ε = `label_smoothing`, 0 by default),
    /// row loss `w_y · (−Σ_j q_j · log p_j)` with optional class weights `w`
    /// (1 when absent), data loss = (1/N)·Σ rows, `dS = w_y · (p − q) / N`.
    SoftmaxCrossEntropy { label_smoothing: f32 },
    /// Weston–Watkins multiclass SVM hinge:
    /// row loss `Σ_{j≠y} max(0, s_j − s_y + Δ)` (Δ = `margin`, default 1),
    /// `dS_j = 1[m_j > 0]/N` for j ≠ y, `dS_y = −Σ_{j≠y} 1[m_j > 0]/N`.
    Hinge { margin: f32 },
    /// Squared hinge: row loss `Σ_{j≠y} max(0, s_j − s_y + Δ)²`,
    /// `dS_j = 2·m_j⁺/N`, `dS_y = −Σ_{j≠y} 2·m_j⁺/N`.
    SquaredHinge { margin: f32 },
    /// Mean squared error: row loss `Σ_j (s_j − t_j)²`, `dS = 2·(s − t)/N`.
    /// Targets `t` are real values, or for class labels `onehot(y)` (C > 1)
    /// or `y` itself (C = 1).
    MeanSquaredError,
    /// Binary logistic (BCE with logits) in the stable form
    /// `ℓ(s, t) = max(s, 0) − s·t + log(1 + exp(−|s|))`, summed over the
    /// outputs of a row; `dS = (σ(s) − t)/N`. With C = 1 the target is the
    /// label (0 or 1); with C > 1 it is one-vs-rest on `onehot(y)`.
    Logistic,
}

impl Default for Loss {
    fn default() -> Self {
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.0,
        }
    }
}

impl Loss {
    /// Plain softmax cross-entropy.
    pub fn softmax() -> Self {
        Self::default()
    }

    /// Multiclass SVM hinge with the CS231n margin Δ = 1.
    pub fn hinge() -> Self {
        Loss::Hinge { margin: 1.0 }
    }

    /// Whether the loss trains a classifier, whose model predicts classes:
    /// every loss but MSE. (Logistic is one, and also takes real targets
    /// in [0, 1]: see [`Loss::takes_real_targets`].)
    pub fn is_classification(&self) -> bool {
        !matches!(self, Loss::MeanSquaredError)
    }

    /// Whether the loss trains on real-valued targets as well as on class
    /// labels: MSE (any real target) and logistic (targets in [0, 1]). The
    /// others compare a class's score with the rest and need labels.
    pub fn takes_real_targets(&self) -> bool {
        matches!(self, Loss::MeanSquaredError | Loss::Logistic)
    }

    /// Short name used in model files and the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::SoftmaxCrossEntropy { .. } => "softmax",
            Loss::Hinge { .. } => "svm",
            Loss::SquaredHinge { .. } => "squared-hinge",
            Loss::MeanSquaredError => "mse",
            Loss::Logistic => "logistic",
        }
    }

    /// The number of output columns training gives a classifier for
    /// `classes` classes: one column for a two-class logistic model (the
    /// score of class 1), one column per class otherwise.
    pub fn outputs_for_classes(&self, classes: usize) -> usize {
        if *self == Loss::Logistic && classes == 2 {
            1
        } else {
            classes
        }
    }

    /// Whether a row's loss is unchanged when one constant is added to
    /// every score of the row: softmax (`softmax(s + c) = softmax(s)`) and
    /// the multiclass hinges (which compare scores with each other). The
    /// bias is then determined only up to a constant across classes, and
    /// without an L2 penalty so is each feature's row of weights:
    /// scikit-learn's "symmetric parametrization" removes that freedom
    /// (coefficients summing to 0 over the classes).
    pub fn ignores_a_common_shift(&self) -> bool {
        matches!(
            self,
            Loss::SoftmaxCrossEntropy { .. } | Loss::Hinge { .. } | Loss::SquaredHinge { .. }
        )
    }

    /// Whether a classifier with `classes` classes (at least 2) can score
    /// with `outputs` columns under this loss. One column per class always
    /// fits. One column for two classes fits only the losses that read a
    /// single 0/1 target (logistic: `σ(s)` is P(class 1); MSE: the target is
    /// the label itself, class 1 above 0.5). Softmax and the hinges compare
    /// the true class's score with the others', so they need one column per
    /// class: with one column the softmax loss is identically 0 and the
    /// hinge would index a column that does not exist.
    pub fn fits_outputs(&self, classes: usize, outputs: usize) -> bool {
        outputs == classes
            || (outputs == 1
                && classes == 2
                && matches!(self, Loss::Logistic | Loss::MeanSquaredError))
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str, v: f32| {
            Err(crate::Error::InvalidConfig(format!(
                "{what} must be finite and in range, got {v}"
            )))
        };
        match *self {
            Loss::SoftmaxCrossEntropy { label_smoothing } => {
                if !(0.0..1.0).contains(&label_smoothing) {
                    return bad("label smoothing (in [0, 1))", label_smoothing);
                }
            }
            Loss::Hinge { margin } | Loss::SquaredHinge { margin } => {
                if !margin.is_finite() || margin < 0.0 {
                    return bad("margin (≥ 0)", margin);
                }
            }
            Loss::MeanSquaredError | Loss::Logistic => {}
        }
        Ok(())
    }
}
