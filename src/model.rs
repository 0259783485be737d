//! A trained linear classifier: `scores = X·W + b`, W stored D×C.

use crate::cpu::reference::{RowTargets, argmax, loss_rows};
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
    /// Number of classes (2 for a binary model with one output column).
    pub classes: usize,
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
        self.check_features(&x)?;
        Ok(x.dot(&self.weights) + &self.bias)
    }

    /// Predicted class per row: the first maximum score, or for one output
    /// column the score above 0 (0.5 for MSE).
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<u32>> {
        let scores = self.decision_function(x)?;
        Ok(scores.outer_iter().map(|row| self.class_of(row)).collect())
    }

    fn class_of(&self, row: ArrayView1<'_, f32>) -> u32 {
        if row.len() == 1 {
            let threshold = if self.loss == Loss::MeanSquaredError {
                0.5
            } else {
                0.0
            };
            (row[0] > threshold) as u32
        } else {
            argmax(row) as u32
        }
    }

    /// Class probabilities (N × classes): the max-subtracted softmax of the
    /// scores, or for a binary logistic model `[1 − σ(s), σ(s)]`. For SVM and
    /// MSE models these are normalized scores, not calibrated probabilities.
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let scores = self.decision_function(x)?;
        if scores.ncols() == 1 {
            let mut proba = Array2::zeros((scores.nrows(), 2));
            for (i, s) in scores.column(0).iter().enumerate() {
                let p = 1.0 / (1.0 + (-s).exp());
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
        if labels.len() != x.nrows() || labels.is_empty() {
            return Err(Error::ShapeMismatch {
                op: "loss",
                detail: format!("{} rows but {} labels", x.nrows(), labels.len()),
            });
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
        let scores = self.decision_function(x)?.mapv(|v| v as f64);
        let labels = labels.to_vec();
        let result = loss_rows(
            &self.loss,
            scores.view(),
            &RowTargets::Classes {
                labels: &labels,
                class_weights: None,
            },
        );
        Ok(result.row_loss.mean().unwrap_or(0.0))
    }
}
