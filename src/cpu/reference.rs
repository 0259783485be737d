//! The losses written plainly, generic over the float type so the same code
//! serves the f32 CPU backend and the f64 gradient check.

use crate::loss::Loss;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use num_traits::Float;

/// What a row's loss is compared against.
pub enum RowTargets<'a, F> {
    Classes {
        labels: &'a [u32],
        class_weights: Option<ArrayView1<'a, F>>,
    },
    Values(ArrayView2<'a, F>),
}

/// Per-row losses, the score gradient (already divided by N) and the number
/// of correct rows.
pub struct LossResult<F> {
    pub row_loss: Array1<F>,
    pub dscores: Array2<F>,
    pub correct: usize,
}

fn cast<F: Float>(v: f64) -> F {
    F::from(v).expect("finite constant")
}

/// First index of the maximum (NaN never wins).
pub fn argmax<F: Float>(row: ArrayView1<'_, F>) -> usize {
    let mut iter = row.iter().enumerate();
    let Some((_, &first)) = iter.next() else {
        return 0;
    };
    // The best value kept beside its index: a thousand-class row would
    // otherwise index the view (with its bounds check) at every column.
    let (mut best, mut best_value) = (0, first);
    for (j, &v) in iter {
        if v > best_value {
            (best, best_value) = (j, v);
        }
    }
    best
}

/// Target value for output j of a row with class label y.
fn class_target<F: Float>(label: u32, j: usize, cols: usize) -> F {
    if cols == 1 {
        cast(label as f64)
    } else if j == label as usize {
        F::one()
    } else {
        F::zero()
    }
}

/// Whether a row counts as correct (see [`crate::backend::LossOutputs`]).
pub fn is_correct<F: Float>(loss: &Loss, row: &[F], label: u32) -> bool {
    if row.len() == 1 {
        let threshold = if matches!(loss, Loss::MeanSquaredError) {
            cast(0.5)
        } else {
            F::zero()
        };
        (row[0] > threshold) == (label == 1)
    } else {
        argmax(ArrayView1::from(row)) == label as usize
    }
}

/// Stable softplus `log(1 + exp(x))`.
fn softplus<F: Float>(x: F) -> F {
    x.max(F::zero()) + (-x.abs()).exp().ln_1p()
}

fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// What one row's loss is compared against: its class label and that
/// class's weight (1 without class weights), or a row of real targets.
#[derive(Clone, Copy)]
pub enum RowTarget<'a, F> {
    Class { label: u32, weight: F },
    Values(&'a [F]),
}

/// One row's loss, with its score gradient (already multiplied by `inv_n`)
/// written over `ds`. Softmax and the hinges need a class label.
pub fn loss_row<F: Float>(
    loss: &Loss,
    s: &[F],
    target: RowTarget<'_, F>,
    ds: &mut [F],
    inv_n: F,
) -> F {
    let cols = s.len();
    let label = match target {
        RowTarget::Class { label, .. } => Some(label),
        RowTarget::Values(_) => None,
    };
    let target_of = |j: usize| -> F {
        match target {
            RowTarget::Class { label, .. } => class_target(label, j, cols),
            RowTarget::Values(t) => t[j],
        }
    };
    match *loss {
        Loss::SoftmaxCrossEntropy { label_smoothing } => {
            let y = label.expect("softmax needs class labels") as usize;
            let weight = match target {
                RowTarget::Class { weight, .. } => weight,
                RowTarget::Values(_) => F::one(),
            };
            let eps: F = cast(label_smoothing as f64);
            let max = s.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
            // ds holds exp(s − max) until the second loop: one exp per class.
            let mut sum = F::zero();
            for (e, &v) in ds.iter_mut().zip(s) {
                *e = (v - max).exp();
                sum = sum + *e;
            }
            let log_sum = sum.ln();
            let inv_sum = F::one() / sum;
            let uniform = eps / cast(cols as f64);
            let mut l = F::zero();
            for j in 0..cols {
                let log_p = s[j] - max - log_sum;
                let q = uniform + if j == y { F::one() - eps } else { F::zero() };
                l = l - q * log_p;
                ds[j] = weight * (ds[j] * inv_sum - q) * inv_n;
            }
            weight * l
        }
        Loss::Hinge { margin } | Loss::SquaredHinge { margin } => {
            let squared = matches!(loss, Loss::SquaredHinge { .. });
            let y = label.expect("hinge needs class labels") as usize;
            let delta: F = cast(margin as f64);
            let mut l = F::zero();
            let mut dy = F::zero();
            for j in 0..cols {
                ds[j] = F::zero();
                if j == y {
                    continue;
                }
                let m = s[j] - s[y] + delta;
                if m > F::zero() {
                    let (term, grad) = if squared {
                        (m * m, cast::<F>(2.0) * m)
                    } else {
                        (m, F::one())
                    };
                    l = l + term;
                    ds[j] = grad * inv_n;
                    dy = dy - grad;
                }
            }
            ds[y] = dy * inv_n;
            l
        }
        Loss::MeanSquaredError => {
            let mut l = F::zero();
            for j in 0..cols {
                let d = s[j] - target_of(j);
                l = l + d * d;
                ds[j] = cast::<F>(2.0) * d * inv_n;
            }
            l
        }
        Loss::Logistic => {
            let mut l = F::zero();
            for j in 0..cols {
                let t = target_of(j);
                l = l + softplus(s[j]) - s[j] * t;
                ds[j] = (sigmoid(s[j]) - t) * inv_n;
            }
            l
        }
    }
}

/// Computes a data loss row by row. Rows are independent; the result is
/// exact in the sense of following the documented formulas term by term.
pub fn loss_rows<F: Float>(
    loss: &Loss,
    scores: ArrayView2<'_, F>,
    targets: &RowTargets<'_, F>,
) -> LossResult<F> {
    let (rows, cols) = scores.dim();
    let inv_n = F::one() / cast(rows as f64);
    let scores = scores.as_standard_layout();
    let values = match targets {
        RowTargets::Values(t) => Some(t.as_standard_layout()),
        RowTargets::Classes { .. } => None,
    };
    let mut row_loss = Array1::zeros(rows);
    let mut dscores = Array2::zeros((rows, cols));
    let mut correct = 0;
    for i in 0..rows {
        let s = &scores.as_slice().expect("standard layout")[i * cols..(i + 1) * cols];
        let ds = &mut dscores.as_slice_mut().expect("standard layout")[i * cols..(i + 1) * cols];
        let target = match (targets, &values) {
            (
                RowTargets::Classes {
                    labels,
                    class_weights,
                },
                _,
            ) => RowTarget::Class {
                label: labels[i],
                weight: class_weights
                    .and_then(|w| w.get(labels[i] as usize).copied())
                    .unwrap_or(F::one()),
            },
            (RowTargets::Values(_), Some(t)) => {
                RowTarget::Values(&t.as_slice().expect("standard layout")[i * cols..(i + 1) * cols])
            }
            (RowTargets::Values(_), None) => unreachable!("values are laid out above"),
        };
        row_loss[i] = loss_row(loss, s, target, ds, inv_n);
        if let RowTarget::Class { label, .. } = target
            && is_correct(loss, s, label)
        {
            correct += 1;
        }
    }
    LossResult {
        row_loss,
        dscores,
        correct,
    }
}
