//! A trained linear classifier: `scores = X·W + b`, W stored D×C.
//!
//! The fields are public, so a model can be built by hand with fields that
//! do not fit together. [`Model::check`] states every invariant between the
//! loss, the outputs (weight columns), the bias and the classes in one place;
//! every scoring function calls it first, and the model file loader applies
//! the same rules (through [`Model::check_parts`], to the shapes a file's
//! header declares, before anything is allocated). An inconsistent model is
//! therefore a typed [`Error`], never a panic or a meaningless number.

use crate::cpu::reference::{RowTarget, argmax, loss_row};
use crate::limits::{self, MAX_CLASSES, MAX_PARAMETERS};
use crate::{Error, Loss, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Weights, bias and the loss they were trained for.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// D×C.
    pub weights: Array2<f32>,
    /// C.
    pub bias: Array1<f32>,
    pub loss: Loss,
    /// Number of classes (2 for a binary model with one output column); 0
    /// for a model trained on real-valued targets
    /// ([`Trainer::fit_regression`](crate::Trainer::fit_regression)).
    pub classes: usize,
}

/// What [`Model::evaluate`] computes from one product `X·W + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean data loss, as [`Model::data_loss`] computes it.
    pub loss: f64,
    /// The predicted class of each row, as [`Model::predict`] gives it.
    pub predicted: Vec<u32>,
    /// N × classes, as [`Model::class_scores`] gives them.
    pub class_scores: Array2<f32>,
}

impl Model {
    /// Number of input features D.
    pub fn features(&self) -> usize {
        self.weights.nrows()
    }
    /// Number of output columns C.
    pub fn outputs(&self) -> usize {
        self.weights.ncols()
    }

    /// Checks every invariant between the fields (see
    /// [`Model::check_parts`]). Every scoring function calls it first.
    pub fn check(&self) -> Result<()> {
        Self::check_parts(
            &self.loss,
            self.features(),
            self.outputs(),
            self.bias.len(),
            self.classes,
        )
    }

    /// The invariants of a model with these parts, checked without any of
    /// its values (so that a file's header can be checked before its
    /// tensors are read):
    ///
    /// - the loss parameters are in range (label smoothing in [0, 1), margin
    ///   finite and ≥ 0);
    /// - there is at least one output, and the bias has one value per output;
    /// - at most [`MAX_CLASSES`] classes and at most [`MAX_PARAMETERS`]
    ///   parameters `(D + 1)·C` (an [`Error::TooLarge`]);
    /// - `classes` is 0 (a model for real-valued targets, which only the MSE
    ///   and logistic losses train) or at least 2: one class cannot be
    ///   told apart from anything;
    /// - a classifier has one output per class, or one output for two
    ///   classes with the losses that read a single 0/1 target
    ///   ([`Loss::fits_outputs`]).
    ///
    /// Every other failure is an [`Error::InvalidConfig`] starting with
    /// "inconsistent model".
    pub fn check_parts(
        loss: &Loss,
        features: usize,
        outputs: usize,
        bias_len: usize,
        classes: usize,
    ) -> Result<()> {
        let inconsistent = |reason: String| {
            Err(Error::InvalidConfig(format!(
                "inconsistent model: {reason}"
            )))
        };
        loss.validate()
            .map_err(|e| Error::InvalidConfig(format!("inconsistent model: {e}")))?;
        limits::check("the number of classes", classes as u64, MAX_CLASSES)?;
        limits::check_product(
            format!("the number of parameters (D + 1)·C of a {features}×{outputs} model"),
            (features as u64).saturating_add(1),
            outputs as u64,
            MAX_PARAMETERS,
        )?;
        if outputs == 0 {
            return inconsistent("the weight has no output columns".into());
        }
        if bias_len != outputs {
            return inconsistent(format!(
                "the bias has {bias_len} values for {outputs} output columns"
            ));
        }
        match classes {
            0 if matches!(loss, Loss::MeanSquaredError | Loss::Logistic) => Ok(()),
            0 => inconsistent(format!(
                "0 classes (a model for real-valued targets) with the {} loss, which needs class labels",
                loss.name()
            )),
            1 => inconsistent("1 class; a classifier needs at least 2".into()),
            _ if loss.fits_outputs(classes, outputs) => Ok(()),
            _ => inconsistent(format!(
                "{classes} classes do not fit {outputs} output columns with the {} loss \
                 (expected {classes} columns{})",
                loss.name(),
                if classes == 2 && *loss != Loss::MeanSquaredError && *loss != Loss::Logistic {
                    "; one column for 2 classes fits only the logistic and mse losses"
                } else if classes == 2 {
                    ", or 1"
                } else {
                    ""
                }
            )),
        }
    }

    /// Builds a model from the packed parameter vector `[W (row-major) | b]`.
    pub(crate) fn from_params(
        params: &[f32],
        features: usize,
        outputs: usize,
        loss: Loss,
        classes: usize,
    ) -> Self {
        let weights =
            Array2::from_shape_vec((features, outputs), params[..features * outputs].to_vec())
                .expect("parameter length checked by the caller");
        let bias = Array1::from(params[features * outputs..features * outputs + outputs].to_vec());
        Self {
            weights,
            bias,
            loss,
            classes,
        }
    }

    /// The packed parameter vector `[W (row-major) | b]`.
    pub fn params(&self) -> Vec<f32> {
        let mut params: Vec<f32> = self.weights.iter().copied().collect();
        params.extend(self.bias.iter().copied());
        params
    }

    fn check_features(&self, x: &ArrayView2<'_, f32>) -> Result<()> {
        if x.ncols() != self.features() {
            return Err(Error::ShapeMismatch {
                op: "predict",
                detail: format!(
                    "data has {} features, the model expects {}",
                    x.ncols(),
                    self.features()
                ),
            });
        }
        Ok(())
    }

    /// Scores `X·W + b` (N×C).
    pub fn decision_function(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check()?;
        self.check_features(&x)?;
        Ok(x.dot(&self.weights) + &self.bias)
    }

    /// The score above which a one-output model predicts class 1: 0.5 for
    /// MSE (whose target is the label 0 or 1), 0 otherwise (the logit).
    fn threshold(&self) -> f32 {
        if self.loss == Loss::MeanSquaredError {
            0.5
        } else {
            0.0
        }
    }

    /// Predicted class per row: the first maximum score, or for one output
    /// column the score above 0 (0.5 for MSE).
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<u32>> {
        let scores = self.decision_function(x)?;
        Ok(scores.outer_iter().map(|row| self.class_of(row)).collect())
    }

    fn class_of(&self, row: ArrayView1<'_, f32>) -> u32 {
        if row.len() == 1 {
            (row[0] > self.threshold()) as u32
        } else {
            argmax(row) as u32
        }
    }

    /// One score per class and row (N × classes) whose first maximum is the
    /// predicted class: the scores themselves, or for a one-output
    /// two-class model `[t, s]` with `t` the threshold (0; 0.5 for MSE), so
    /// that class 1 wins exactly when `s > t`. These are what ranking
    /// metrics (top-k accuracy, ROC-AUC) read.
    pub fn class_scores(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let scores = self.decision_function(x)?;
        Ok(self.expand_scores(scores))
    }

    fn expand_scores(&self, scores: Array2<f32>) -> Array2<f32> {
        if scores.ncols() == 1 && self.classes == 2 {
            let threshold = self.threshold();
            let mut expanded = Array2::from_elem((scores.nrows(), 2), threshold);
            expanded.column_mut(1).assign(&scores.column(0));
            expanded
        } else {
            scores
        }
    }

    /// Class probabilities (N × classes): the max-subtracted softmax of the
    /// scores, or for one output column `[1 − σ(s − t), σ(s − t)]` with `t`
    /// the prediction threshold (0, or 0.5 for MSE), so that the larger
    /// probability is always the predicted class. Only for the softmax and
    /// logistic losses are these probabilities the model was fitted for;
    /// for SVM and MSE models they are normalized scores.
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let scores = self.decision_function(x)?;
        if scores.ncols() == 1 {
            let threshold = self.threshold();
            let mut proba = Array2::zeros((scores.nrows(), 2));
            for (i, s) in scores.column(0).iter().enumerate() {
                let p = 1.0 / (1.0 + (threshold - s).exp());
                proba[(i, 0)] = 1.0 - p;
                proba[(i, 1)] = p;
            }
            return Ok(proba);
        }
        let mut proba = scores;
        for mut row in proba.axis_iter_mut(Axis(0)) {
            let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        Ok(proba)
    }

    /// Share of rows whose prediction equals the label.
    pub fn accuracy(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, u32>) -> Result<f32> {
        if labels.len() != x.nrows() {
            return Err(Error::ShapeMismatch {
                op: "accuracy",
                detail: format!("{} rows but {} labels", x.nrows(), labels.len()),
            });
        }
        if labels.is_empty() {
            return Err(Error::EmptyData("no rows to score".into()));
        }
        let predicted = self.predict(x)?;
        let hits = predicted
            .iter()
            .zip(labels.iter())
            .filter(|(p, l)| p == l)
            .count();
        Ok(hits as f32 / labels.len() as f32)
    }

    /// Mean data loss (no regularization) on labelled data, computed in f64.
    pub fn data_loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, u32>) -> Result<f64> {
        self.check_labels(&x, &labels)?;
        let scores = self.decision_function(x)?;
        Ok(self.mean_loss(scores.view(), &labels))
    }

    /// The loss, the predictions and the class scores of labelled data from
    /// one product `X·W + b`: what [`Model::data_loss`],
    /// [`Model::predict`] and [`Model::class_scores`] give, for the cost of
    /// one of them.
    pub fn evaluate(
        &self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
    ) -> Result<Evaluation> {
        self.check_labels(&x, &labels)?;
        let scores = self.decision_function(x)?;
        let loss = self.mean_loss(scores.view(), &labels);
        let predicted = scores.outer_iter().map(|row| self.class_of(row)).collect();
        Ok(Evaluation {
            loss,
            predicted,
            class_scores: self.expand_scores(scores),
        })
    }

    /// Labels to score: one per row, at least one, each a class of the model.
    fn check_labels(&self, x: &ArrayView2<'_, f32>, labels: &ArrayView1<'_, u32>) -> Result<()> {
        if labels.len() != x.nrows() || labels.is_empty() {
            return Err(Error::ShapeMismatch {
                op: "loss",
                detail: format!("{} rows but {} labels", x.nrows(), labels.len()),
            });
        }
        self.check()?;
        if self.classes == 0 {
            return Err(Error::InvalidConfig(
                "the model was trained on real-valued targets and has no classes to score labels against".into(),
            ));
        }
        if let Some((row, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= self.classes)
        {
            return Err(Error::LabelOutOfRange {
                row,
                label: label as usize,
                classes: self.classes,
            });
        }
        Ok(())
    }

    /// `(1/N)·Σ` row loss, each row in f64 by the loss's documented formula.
    /// The caller has checked the model and the labels, so every label
    /// indexes a score column or is the 0/1 target of a one-column model.
    fn mean_loss(&self, scores: ArrayView2<'_, f32>, labels: &ArrayView1<'_, u32>) -> f64 {
        let outputs = scores.ncols();
        let inv_n = 1.0 / scores.nrows() as f64;
        let mut s = vec![0.0f64; outputs];
        // The gradient is computed alongside and not needed here.
        let mut ds = vec![0.0f64; outputs];
        let row_loss: Array1<f64> = scores
            .outer_iter()
            .zip(labels.iter())
            .map(|(row, &label)| {
                for (target, &v) in s.iter_mut().zip(row.iter()) {
                    *target = v as f64;
                }
                let target = RowTarget::Class { label, weight: 1.0 };
                loss_row(&self.loss, &s, target, &mut ds, inv_n)
            })
            .collect();
        row_loss.mean().unwrap_or(0.0)
    }
}
