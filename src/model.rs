//! A trained linear classifier: `scores = X·W + b`, W stored D×C.
//!
//! The fields are public, so a model can be built by hand with fields that
//! do not fit together. [`Model::check`] states every invariant between the
//! loss, the outputs (weight columns), the bias and the classes in one place;
//! every scoring function calls it first, and the model file loader applies
//! the same rules (through [`Model::check_parts`], to the shapes a file's
//! header declares, before anything is allocated). An inconsistent model is
//! therefore a typed [`Error`], never a panic or a meaningless number.
//!
//! Scoring works through the rows in chunks of at most
//! [`MAX_SCORES_PER_CHUNK`] scores ([`Model::for_each_score_chunk`]), so
//! that predictions, the loss and the metrics' inputs take O(N + C) memory
//! beyond one chunk, however large N × C is; the whole N × C scores or
//! probabilities are built only where a function returns them, up to
//! [`MAX_OUTPUT_CELLS`]. Each score is one dot product whatever the chunk,
//! so chunking changes no result. A score that is not finite (finite but
//! huge weights, or data blown up by standardization) is an
//! [`Error::NonFinite`] naming its row: no function returns NaN or an
//! infinity computed from a model that passed [`Model::check`].

use crate::cpu::reference::{RowTarget, argmax, loss_row};
use crate::limits::{self, MAX_CLASSES, MAX_OUTPUT_CELLS, MAX_PARAMETERS, MAX_SCORES_PER_CHUNK};
use crate::metrics::label_rank;
use crate::{Error, Loss, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2, s};

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

/// What [`Model::evaluate`] computes from one pass over the scores
/// `X·W + b`: O(N) values, whatever the number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean data loss, as [`Model::data_loss`] computes it; finite.
    pub loss: f64,
    /// The predicted class of each row, as [`Model::predict`] gives it.
    pub predicted: Vec<u32>,
    /// Per row, how many classes rank above its label in its row of
    /// [`Model::class_scores`]: those that score higher, or the same with a
    /// lower class id (the order in which the prediction takes the first
    /// maximum). 0 exactly when the row is predicted right; the label is
    /// among the k best classes when its rank is below k
    /// ([`metrics::top_k_accuracy_of_ranks`](crate::metrics::top_k_accuracy_of_ranks)).
    pub label_ranks: Vec<u32>,
    /// For a two-class model, per row the margin `s₁ − s₀` of its class
    /// scores, in f64 (exact for f32 scores), which ROC-AUC ranks; `None`
    /// for more classes.
    pub margins: Option<Vec<f64>>,
}

/// The per-row losses of labelled data, added chunk by chunk.
struct RowLosses<'m> {
    model: &'m Model,
    /// `Lᵢ` of the rows added so far.
    rows: Vec<f64>,
    /// `1/N`, which [`loss_row`] scales the gradient by.
    inv_n: f64,
    /// One row's scores in f64.
    scores: Vec<f64>,
    /// The gradient [`loss_row`] computes alongside; not needed here.
    gradient: Vec<f64>,
}

impl<'m> RowLosses<'m> {
    fn new(model: &'m Model, rows: usize) -> Self {
        Self {
            model,
            rows: Vec::with_capacity(rows),
            inv_n: 1.0 / rows as f64,
            scores: vec![0.0; model.outputs()],
            gradient: vec![0.0; model.outputs()],
        }
    }

    /// Adds the losses of the rows `first..` whose scores are `scores`.
    /// The caller has checked the model and the labels, so every label
    /// indexes a score column or is the 0/1 target of a one-column model.
    fn add(
        &mut self,
        first: usize,
        scores: ArrayView2<'_, f32>,
        labels: &ArrayView1<'_, u32>,
    ) -> Result<()> {
        for (i, row) in scores.outer_iter().enumerate() {
            for (target, &v) in self.scores.iter_mut().zip(row.iter()) {
                *target = v as f64;
            }
            let label = labels[first + i];
            let target = RowTarget::Class { label, weight: 1.0 };
            let loss = loss_row(
                &self.model.loss,
                &self.scores,
                target,
                &mut self.gradient,
                self.inv_n,
            );
            if !loss.is_finite() {
                return Err(Error::NonFinite {
                    what: "loss",
                    row: first + i,
                    column: label as usize,
                    value: loss as f32,
                });
            }
            self.rows.push(loss);
        }
        Ok(())
    }

    /// `(1/N)·Σᵢ Lᵢ`, summed as `ndarray`'s `mean` sums.
    fn mean(self) -> f64 {
        Array1::from(self.rows).mean().unwrap_or(0.0)
    }
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
            0 if loss.takes_real_targets() => Ok(()),
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

    /// Refuses an N×`columns` result beyond [`MAX_OUTPUT_CELLS`] before it
    /// is allocated.
    fn check_output(&self, what: &str, rows: usize, columns: usize) -> Result<()> {
        limits::check_product(
            format!("the number of {what} (rows × columns) of {rows} rows and {columns} columns"),
            rows as u64,
            columns as u64,
            MAX_OUTPUT_CELLS,
        )
        .map(|_| ())
    }

    /// Calls `visit(first_row, scores)` for consecutive chunks of rows of
    /// `X`, in order, with the chunk's scores `X·W + b`, of at most
    /// [`MAX_SCORES_PER_CHUNK`] scores (one row at least): the
    /// working memory of scoring stays bounded however large N × C is.
    /// Every score is checked to be finite before it is visited: a score
    /// that overflows f32 (huge weights, or data that a tiny standard
    /// deviation blew up) is an [`Error::NonFinite`] with `what` =
    /// "scores", the row (counted from 0 over all of `X`) and the output
    /// column. The chunks give exactly the scores of one product over all
    /// rows: each score is the same dot product whatever the chunk.
    /// Stops at the first error of `visit`.
    pub fn for_each_score_chunk<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f32>,
        visit: impl FnMut(usize, ArrayView2<'_, f32>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.score_chunks(x, MAX_SCORES_PER_CHUNK, visit)
    }

    /// [`Model::for_each_score_chunk`] with chunks of at most
    /// `max_scores` scores, so that tests can force many small chunks.
    pub(crate) fn score_chunks<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f32>,
        max_scores: u64,
        mut visit: impl FnMut(usize, ArrayView2<'_, f32>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.check()?;
        self.check_features(&x)?;
        let outputs = self.outputs();
        // One row at least, so that a chunk exists for any C.
        let rows = usize::try_from(max_scores / outputs as u64)
            .unwrap_or(usize::MAX)
            .max(1);
        let mut buffer = Array2::<f32>::zeros((rows.min(x.nrows()), outputs));
        for (k, chunk) in x.axis_chunks_iter(Axis(0), rows).enumerate() {
            let first = k * rows;
            let mut scores = buffer.slice_mut(s![..chunk.nrows(), ..]);
            // The product `x.dot(&w)` computes, written into the buffer.
            general_mat_mul(1.0, &chunk, &self.weights, 0.0, &mut scores);
            scores += &self.bias;
            let flat = scores.as_slice().expect("rows of a standard-layout buffer");
            if let Some(at) = flat.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: "scores",
                    row: first + at / outputs,
                    column: at % outputs,
                    value: flat[at],
                }
                .into());
            }
            visit(first, scores.view())?;
        }
        Ok(())
    }

    /// Scores `X·W + b` (N×C), checked finite as by
    /// [`Model::for_each_score_chunk`]. The whole array is refused beyond
    /// [`MAX_OUTPUT_CELLS`] values (an [`Error::TooLarge`]); larger data
    /// goes through [`Model::for_each_score_chunk`].
    pub fn decision_function(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check()?;
        self.check_output("scores", x.nrows(), self.outputs())?;
        let mut all = Array2::zeros((x.nrows(), self.outputs()));
        self.for_each_score_chunk(x, |first, scores| {
            all.slice_mut(s![first..first + scores.nrows(), ..])
                .assign(&scores);
            Ok::<(), Error>(())
        })?;
        Ok(all)
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
    /// column the score above 0 (0.5 for MSE). Scored in chunks
    /// ([`Model::for_each_score_chunk`]): memory O(N) beyond them.
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<u32>> {
        let mut predicted = Vec::with_capacity(x.nrows());
        self.for_each_prediction_chunk(x, |_, classes| {
            predicted.extend_from_slice(classes);
            Ok::<(), Error>(())
        })?;
        Ok(predicted)
    }

    /// [`Model::predict`] chunk by chunk: calls `visit(first_row,
    /// classes)` for the chunks of [`Model::for_each_score_chunk`], in
    /// order, so that predictions can be written out as they are made.
    pub fn for_each_prediction_chunk<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f32>,
        mut visit: impl FnMut(usize, &[u32]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut classes = Vec::new();
        self.for_each_score_chunk(x, |first, scores| {
            classes.clear();
            classes.extend(scores.outer_iter().map(|row| self.class_of(row)));
            visit(first, &classes)
        })
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
    /// metrics (top-k accuracy, ROC-AUC) read. Refused beyond
    /// [`MAX_OUTPUT_CELLS`] values, as [`Model::decision_function`].
    pub fn class_scores(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check()?;
        let columns = self.class_columns();
        self.check_output("class scores", x.nrows(), columns)?;
        let mut all = Array2::zeros((x.nrows(), columns));
        self.score_chunks(x, MAX_SCORES_PER_CHUNK, |first, scores| {
            let expanded = self.expand_scores(scores);
            all.slice_mut(s![first..first + scores.nrows(), ..])
                .assign(&expanded);
            Ok::<(), Error>(())
        })?;
        Ok(all)
    }

    /// Columns of the class scores and probabilities: 2 for one output
    /// column, else one per output.
    fn class_columns(&self) -> usize {
        if self.outputs() == 1 {
            2
        } else {
            self.outputs()
        }
    }

    /// The class scores of one chunk of scores (see [`Model::class_scores`]).
    fn expand_scores<'a>(&self, scores: ArrayView2<'a, f32>) -> CowArray<'a, f32, Ix2> {
        if scores.ncols() == 1 && self.classes == 2 {
            let threshold = self.threshold();
            let mut expanded = Array2::from_elem((scores.nrows(), 2), threshold);
            expanded.column_mut(1).assign(&scores.column(0));
            CowArray::from(expanded)
        } else {
            CowArray::from(scores)
        }
    }

    /// Class probabilities (N × classes): the max-subtracted softmax of the
    /// scores, or for one output column `[1 − σ(s − t), σ(s − t)]` with `t`
    /// the prediction threshold (0, or 0.5 for MSE), so that the larger
    /// probability is always the predicted class. Only for the softmax and
    /// logistic losses are these probabilities the model was fitted for;
    /// for SVM and MSE models they are normalized scores. Finite scores
    /// give finite probabilities. Refused beyond [`MAX_OUTPUT_CELLS`]
    /// values, as [`Model::decision_function`]; larger data goes through
    /// [`Model::for_each_proba_chunk`].
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check()?;
        let columns = self.class_columns();
        self.check_output("probabilities", x.nrows(), columns)?;
        let mut all = Array2::zeros((x.nrows(), columns));
        self.for_each_proba_chunk(x, |first, proba| {
            all.slice_mut(s![first..first + proba.nrows(), ..])
                .assign(&proba);
            Ok::<(), Error>(())
        })?;
        Ok(all)
    }

    /// [`Model::predict_proba`] chunk by chunk: calls `visit(first_row,
    /// probabilities)` for the chunks of [`Model::for_each_score_chunk`],
    /// in order, so that probabilities can be written out as they are
    /// computed.
    pub fn for_each_proba_chunk<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f32>,
        visit: impl FnMut(usize, ArrayView2<'_, f32>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.proba_chunks(x, MAX_SCORES_PER_CHUNK, visit)
    }

    pub(crate) fn proba_chunks<E: From<Error>>(
        &self,
        x: ArrayView2<'_, f32>,
        max_scores: u64,
        mut visit: impl FnMut(usize, ArrayView2<'_, f32>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.score_chunks(x, max_scores, |first, scores| {
            visit(first, self.probabilities(scores).view())
        })
    }

    /// The probabilities of one chunk of scores (see [`Model::predict_proba`]).
    fn probabilities(&self, scores: ArrayView2<'_, f32>) -> Array2<f32> {
        if scores.ncols() == 1 {
            let threshold = self.threshold();
            let mut proba = Array2::zeros((scores.nrows(), 2));
            for (i, s) in scores.column(0).iter().enumerate() {
                let p = 1.0 / (1.0 + (threshold - s).exp());
                proba[(i, 0)] = 1.0 - p;
                proba[(i, 1)] = p;
            }
            return proba;
        }
        let mut proba = scores.to_owned();
        for mut row in proba.axis_iter_mut(Axis(0)) {
            let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        proba
    }

    /// Share of rows whose prediction equals the label. Scored in chunks
    /// ([`Model::for_each_score_chunk`]).
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
        let mut hits = 0usize;
        self.for_each_score_chunk(x, |first, scores| {
            hits += scores
                .outer_iter()
                .zip(labels.slice(s![first..first + scores.nrows()]))
                .filter(|(row, label)| self.class_of(row.view()) == **label)
                .count();
            Ok::<(), Error>(())
        })?;
        Ok(hits as f32 / labels.len() as f32)
    }

    /// Mean data loss (no regularization) on labelled data, computed in
    /// f64 (see [`Model::evaluate`]). Scored in chunks
    /// ([`Model::for_each_score_chunk`]); a non-finite loss is an error.
    pub fn data_loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, u32>) -> Result<f64> {
        self.check_labels(&x, &labels)?;
        let mut losses = RowLosses::new(self, x.nrows());
        self.for_each_score_chunk(x, |first, scores| losses.add(first, scores, &labels))?;
        Ok(losses.mean())
    }

    /// The loss, the predictions and what the ranking metrics read from
    /// the class scores of labelled data, from one pass over the scores
    /// `X·W + b` in chunks ([`Model::for_each_score_chunk`]): memory
    /// O(N + C) beyond a chunk, however many classes there are.
    ///
    /// The loss is `(1/N)·Σᵢ Lᵢ`, each row's `Lᵢ` in f64 by the loss's
    /// documented formula ([`Loss`]); it is [`Model::data_loss`]. A row
    /// whose loss is not finite is an [`Error::NonFinite`] (`what` = "loss",
    /// the row, the label as the column), so the loss reported is finite.
    pub fn evaluate(
        &self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
    ) -> Result<Evaluation> {
        self.evaluate_in_chunks(x, labels, MAX_SCORES_PER_CHUNK)
    }

    pub(crate) fn evaluate_in_chunks(
        &self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
        max_scores: u64,
    ) -> Result<Evaluation> {
        self.check_labels(&x, &labels)?;
        let n = x.nrows();
        let mut losses = RowLosses::new(self, n);
        let mut predicted = Vec::with_capacity(n);
        let mut label_ranks = Vec::with_capacity(n);
        let mut margins = (self.classes == 2).then(|| Vec::with_capacity(n));
        self.score_chunks(x, max_scores, |first, scores| {
            losses.add(first, scores, &labels)?;
            predicted.extend(scores.outer_iter().map(|row| self.class_of(row)));
            let class_scores = self.expand_scores(scores);
            for (row, &label) in class_scores
                .outer_iter()
                .zip(labels.slice(s![first..first + scores.nrows()]))
            {
                // At most C − 1 ≤ MAX_CLASSES classes rank above a label.
                label_ranks.push(label_rank(row, label as usize) as u32);
                if let Some(margins) = &mut margins {
                    // s₁ − s₀ in f64: the margin of class 1, ranked exactly.
                    margins.push(row[1] as f64 - row[0] as f64);
                }
            }
            Ok::<(), Error>(())
        })?;
        Ok(Evaluation {
            loss: losses.mean(),
            predicted,
            label_ranks,
            margins,
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
}

#[cfg(test)]
mod tests;
