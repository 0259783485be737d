//! Classification metrics for `eval`, with scikit-learn's conventions, in
//! memory that grows with the number of classes C (not C²) unless the full
//! confusion matrix is asked for.
//!
//! Notation: for class c, `tp` counts rows of class c predicted c, `fp`
//! rows of another class predicted c, `fn` rows of class c predicted as
//! another, `support = tp + fn` and `predicted = tp + fp`.
//!
//! - precision `tp / (tp + fp)`, recall `tp / (tp + fn)`,
//!   F1 `2·tp / (2·tp + fp + fn)` (the harmonic mean of the two when both
//!   are defined). A zero denominator gives 0, as scikit-learn's
//!   `precision_recall_fscore_support` with its default `zero_division`
//!   ("warn", which acts as 0): a class never predicted has precision 0.
//! - the macro average is the unweighted mean of the per-class values, and
//!   the weighted average their mean weighted by support, both over the
//!   classes that occur in the labels or the predictions: scikit-learn's
//!   default `labels=None` (`unique_labels(y_true, y_pred)`). A class with
//!   neither has no rows to be right or wrong about and is left out.
//! - ROC-AUC ([`roc_auc`]) and top-k accuracy ([`top_k_accuracy`]) follow
//!   `roc_auc_score` and `top_k_accuracy_score`; see each.

use crate::limits;
use crate::{Error, Result};
use ndarray::{ArrayView1, ArrayView2};
use std::io::Write;

/// The most cells (classes²) of a confusion matrix written as CSV:
/// 2²⁷ ≈ 134 million, enough for 11,585 classes; at least two bytes a cell,
/// so a file of at least 256 MiB.
pub const MAX_CONFUSION_CELLS: u64 = 1 << 27;

/// The most classes for which `eval` prints the confusion matrix and a
/// row per class; above it prints a summary (averages and the worst
/// classes), and the matrix only goes to a file on request.
pub const MAX_PRINTED_CLASSES: usize = 20;

/// How many of the worst classes `eval` lists above [`MAX_PRINTED_CLASSES`].
pub const WORST_CLASSES_SHOWN: usize = 10;

/// Precision, recall and F1 of one class or an average of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The per-class counts a confusion matrix sums to, in O(C) memory: its
/// diagonal, its row sums and its column sums.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassCounts {
    /// `tp[c]`: rows of class c predicted c.
    pub true_positives: Vec<u64>,
    /// `support[c]`: rows whose true class is c.
    pub support: Vec<u64>,
    /// `predicted[c]`: rows predicted c.
    pub predicted: Vec<u64>,
}

impl ClassCounts {
    /// Counts `labels` (true classes) against `predicted`, both class ids
    /// below `classes`, one per row.
    pub fn new(classes: usize, labels: &[u32], predicted: &[u32]) -> Result<ClassCounts> {
        check_pairs(classes, labels, predicted)?;
        let mut counts = ClassCounts {
            true_positives: vec![0; classes],
            support: vec![0; classes],
            predicted: vec![0; classes],
        };
        for (&l, &p) in labels.iter().zip(predicted) {
            counts.support[l as usize] += 1;
            counts.predicted[p as usize] += 1;
            if l == p {
                counts.true_positives[l as usize] += 1;
            }
        }
        Ok(counts)
    }

    /// Number of classes C.
    pub fn classes(&self) -> usize {
        self.support.len()
    }

    /// Number of rows counted.
    pub fn rows(&self) -> u64 {
        self.support.iter().sum()
    }

    /// Rows predicted right.
    pub fn hits(&self) -> u64 {
        self.true_positives.iter().sum()
    }

    /// `Σ tp / N`; 0 without rows.
    pub fn accuracy(&self) -> f64 {
        ratio(self.hits(), self.rows())
    }

    /// Whether class c occurs in the labels or the predictions, so that it
    /// counts in the averages.
    pub fn is_present(&self, class: usize) -> bool {
        self.support[class] > 0 || self.predicted[class] > 0
    }

    /// Precision, recall and F1 of one class (0 for a zero denominator).
    pub fn scores(&self, class: usize) -> Scores {
        let tp = self.true_positives[class];
        let fp = self.predicted[class] - tp;
        let fn_ = self.support[class] - tp;
        Scores {
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
        }
    }

    /// The unweighted mean of the present classes' scores (scikit-learn's
    /// `average="macro"`); zeros when no class is present.
    pub fn macro_average(&self) -> Scores {
        self.average(|_| 1.0)
    }

    /// The support-weighted mean of the present classes' scores
    /// (scikit-learn's `average="weighted"`); zeros without rows.
    pub fn weighted_average(&self) -> Scores {
        self.average(|c| self.support[c] as f64)
    }

    fn average(&self, weight: impl Fn(usize) -> f64) -> Scores {
        let mut sum = Scores {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
        };
        let mut total = 0.0;
        for c in (0..self.classes()).filter(|&c| self.is_present(c)) {
            let (w, s) = (weight(c), self.scores(c));
            sum.precision += w * s.precision;
            sum.recall += w * s.recall;
            sum.f1 += w * s.f1;
            total += w;
        }
        if total > 0.0 {
            sum.precision /= total;
            sum.recall /= total;
            sum.f1 /= total;
        }
        sum
    }

    /// Up to `count` present classes with the lowest F1, worst first; among
    /// equal F1 the one with more rows first (it costs more), then the
    /// lower class id. O(C log C) time, O(C) memory.
    pub fn worst_classes(&self, count: usize) -> Vec<usize> {
        let mut present: Vec<(usize, f64)> = (0..self.classes())
            .filter(|&c| self.is_present(c))
            .map(|c| (c, self.scores(c).f1))
            .collect();
        present.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(self.support[b.0].cmp(&self.support[a.0]))
                .then(a.0.cmp(&b.0))
        });
        present.into_iter().take(count).map(|(c, _)| c).collect()
    }
}

/// The nonzero cells of the confusion matrix (rows: true class, columns:
/// predicted class), sorted by (true, predicted): at most one per row of
/// data, so O(min(N, C²)) memory however many classes there are.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseConfusion {
    classes: usize,
    cells: Vec<(u32, u32, u64)>,
}

impl SparseConfusion {
    /// Counts `labels` (true classes) against `predicted`, both class ids
    /// below `classes`, one per row.
    pub fn new(classes: usize, labels: &[u32], predicted: &[u32]) -> Result<SparseConfusion> {
        check_pairs(classes, labels, predicted)?;
        let mut pairs: Vec<(u32, u32)> = labels
            .iter()
            .copied()
            .zip(predicted.iter().copied())
            .collect();
        pairs.sort_unstable();
        let mut cells: Vec<(u32, u32, u64)> = Vec::new();
        for (t, p) in pairs {
            match cells.last_mut() {
                Some(last) if (last.0, last.1) == (t, p) => last.2 += 1,
                _ => cells.push((t, p, 1)),
            }
        }
        Ok(SparseConfusion { classes, cells })
    }

    /// Number of classes C.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The nonzero cells `(true, predicted, count)`, sorted.
    pub fn cells(&self) -> &[(u32, u32, u64)] {
        &self.cells
    }

    /// The count of rows of class `truth` predicted `predicted`.
    pub fn get(&self, truth: u32, predicted: u32) -> u64 {
        self.cells
            .binary_search_by(|cell| (cell.0, cell.1).cmp(&(truth, predicted)))
            .map_or(0, |i| self.cells[i].2)
    }

    /// The counts of the true class `truth`, one per predicted class.
    fn row(&self, truth: u32, out: &mut [u64]) {
        out.fill(0);
        let start = self.cells.partition_point(|cell| cell.0 < truth);
        for &(_, p, count) in self.cells[start..]
            .iter()
            .take_while(|cell| cell.0 == truth)
        {
            out[p as usize] = count;
        }
    }

    /// The dense C×C matrix (rows: true class); for printing a few classes.
    pub fn dense(&self) -> Vec<Vec<u64>> {
        let mut rows = vec![vec![0; self.classes]; self.classes];
        for &(t, p, count) in &self.cells {
            rows[t as usize][p as usize] = count;
        }
        rows
    }

    /// Checks that the dense matrix is within [`MAX_CONFUSION_CELLS`].
    pub fn check_csv_size(classes: usize) -> Result<()> {
        limits::check_product(
            format!("the number of cells of a {classes}×{classes} confusion matrix"),
            classes as u64,
            classes as u64,
            MAX_CONFUSION_CELLS,
        )
        .map(|_| ())
    }

    /// Writes the full matrix as CSV, one row at a time (O(C) memory beyond
    /// the cells): a header `true\predicted,<class names>`, then per true
    /// class its name and one count per predicted class. Names are quoted
    /// as CSV needs. Refused beyond [`MAX_CONFUSION_CELLS`].
    pub fn write_csv<W: Write>(&self, names: &[String], out: W) -> Result<()> {
        Self::check_csv_size(self.classes)?;
        if names.len() != self.classes {
            return Err(Error::ShapeMismatch {
                op: "confusion matrix",
                detail: format!("{} names for {} classes", names.len(), self.classes),
            });
        }
        let csv_error =
            |e: csv::Error| Error::InvalidConfig(format!("writing the confusion matrix: {e}"));
        let mut writer = csv::Writer::from_writer(out);
        writer
            .write_record(
                std::iter::once("true\\predicted").chain(names.iter().map(String::as_str)),
            )
            .map_err(csv_error)?;
        let mut row = vec![0u64; self.classes];
        // One buffer for every count, rather than a String per cell.
        let mut field: Vec<u8> = Vec::with_capacity(20);
        for (t, name) in names.iter().enumerate() {
            self.row(t as u32, &mut row);
            writer.write_field(name).map_err(csv_error)?;
            for &count in &row {
                field.clear();
                write!(field, "{count}").expect("writing to a Vec cannot fail");
                writer.write_field(&field).map_err(csv_error)?;
            }
            writer.write_record(None::<&[u8]>).map_err(csv_error)?;
        }
        writer.flush().map_err(|e| csv_error(e.into()))?;
        Ok(())
    }
}

/// Labels and predictions pair up and are classes of the model.
fn check_pairs(classes: usize, labels: &[u32], predicted: &[u32]) -> Result<()> {
    if labels.len() != predicted.len() {
        return Err(Error::ShapeMismatch {
            op: "confusion counts",
            detail: format!(
                "{} labels but {} predictions",
                labels.len(),
                predicted.len()
            ),
        });
    }
    for (name, values) in [("label", labels), ("prediction", predicted)] {
        if let Some((row, &value)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| **v as usize >= classes)
        {
            return Err(match name {
                "label" => Error::LabelOutOfRange {
                    row,
                    label: value as usize,
                    classes,
                },
                _ => Error::InvalidConfig(format!(
                    "prediction {value} at row {row} is not one of the {classes} classes"
                )),
            });
        }
    }
    Ok(())
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Area under the ROC curve of `scores` (higher: more likely positive)
/// against `positive`, by the Mann–Whitney rank formula
///
/// `AUC = (R₊ − n₊·(n₊ + 1)/2) / (n₊·n₋)`,
///
/// where `R₊` sums the ranks (1 = lowest score) of the positive rows and
/// tied scores share the mean of their ranks. It is the probability that a
/// random positive row scores above a random negative one, a tie counting
/// one half, and equals scikit-learn's `roc_auc_score` (whose trapezoidal
/// curve takes tied scores as one step). `None` when either class has no
/// row (scikit-learn raises an error); scores are ordered by
/// `f64::total_cmp`, so a NaN ranks above every number rather than
/// panicking. O(N log N) time, O(N) memory.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Result<Option<f64>> {
    if scores.len() != positive.len() {
        return Err(Error::ShapeMismatch {
            op: "ROC-AUC",
            detail: format!("{} scores but {} labels", scores.len(), positive.len()),
        });
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return Ok(None);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| scores[i].total_cmp(&score).is_eq())
                .count();
        // Ranks start..end (0-based) share their mean, (start + 1 + end) / 2.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let positives = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += mean_rank * positives as f64;
        start = end;
    }
    Ok(Some(
        (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg),
    ))
}

/// Checks `1 ≤ k ≤ classes` for a top-k accuracy.
pub fn check_top_k(k: usize, classes: usize) -> Result<()> {
    if k == 0 || k > classes {
        return Err(Error::InvalidConfig(format!(
            "top-k accuracy: k must be between 1 and the number of classes, {classes}; got {k}"
        )));
    }
    Ok(())
}

/// How many classes rank above class `label` in one row of class scores:
/// those that score higher than it, or the same with a lower class id
/// (the order in which [`Model::predict`](crate::Model::predict) takes the
/// first maximum). 0 exactly when `label` is the predicted class; `label`
/// is among the `k` best classes when its rank is below `k`. O(C) time.
/// `label` must index `scores`.
pub fn label_rank(scores: ArrayView1<'_, f32>, label: usize) -> usize {
    let s_y = scores[label];
    scores
        .iter()
        .enumerate()
        .filter(|&(j, &s)| s > s_y || (s == s_y && j < label))
        .count()
}

/// Share of rows whose true class is among the `k` highest of its row of
/// `scores` (N × C, one column per class): scikit-learn's
/// `top_k_accuracy_score` on multiclass scores. A class ranks above the
/// true class y when it scores higher than y, or the same with a lower
/// class id ([`label_rank`]): the order in which
/// [`Model::predict`](crate::Model::predict) takes the first maximum, so
/// k = 1 is the accuracy of the predictions. (scikit-learn's stable sort
/// ranks the higher id first among ties; the two agree whenever scores are
/// distinct.) k = C is 1. O(N·C) time, O(1) extra memory. Errors: `k`
/// outside `1..=C` ([`check_top_k`]), labels that do not pair with rows or
/// are not classes, no rows.
pub fn top_k_accuracy(scores: ArrayView2<'_, f32>, labels: &[u32], k: usize) -> Result<f64> {
    let (rows, classes) = scores.dim();
    check_top_k(k, classes)?;
    if labels.len() != rows {
        return Err(Error::ShapeMismatch {
            op: "top-k accuracy",
            detail: format!("{rows} rows of scores but {} labels", labels.len()),
        });
    }
    if rows == 0 {
        return Err(Error::EmptyData("no rows to score".into()));
    }
    let mut hits = 0u64;
    for (row, (scores, &label)) in scores.outer_iter().zip(labels).enumerate() {
        let y = label as usize;
        if y >= classes {
            return Err(Error::LabelOutOfRange {
                row,
                label: y,
                classes,
            });
        }
        if label_rank(scores, y) < k {
            hits += 1;
        }
    }
    Ok(hits as f64 / rows as f64)
}

/// [`top_k_accuracy`] from each row's [`label_rank`] (as
/// [`Evaluation::label_ranks`](crate::Evaluation::label_ranks) holds
/// them), without the N × C scores: the share of rows whose rank is below
/// `k`. Errors: `k` outside `1..=classes` ([`check_top_k`]), no rows, a
/// rank that is not below `classes` (no label has C classes above it).
pub fn top_k_accuracy_of_ranks(ranks: &[u32], classes: usize, k: usize) -> Result<f64> {
    check_top_k(k, classes)?;
    if ranks.is_empty() {
        return Err(Error::EmptyData("no rows to score".into()));
    }
    if let Some((row, &rank)) = ranks
        .iter()
        .enumerate()
        .find(|&(_, &r)| r as usize >= classes)
    {
        return Err(Error::InvalidConfig(format!(
            "top-k accuracy: rank {rank} at row {row} is not below the {classes} classes"
        )));
    }
    let hits = ranks.iter().filter(|&&r| (r as usize) < k).count();
    Ok(hits as f64 / ranks.len() as f64)
}
