//! Analytic gradients checked against numerical ones, and the initial-loss
//! sanity check.

use crate::backend::{Backend, LinearStep, ResidentTargets};
use crate::cpu::reference::{RowTargets, loss_rows};
use crate::dataset::{check_features, check_labels};
use crate::{Error, Loss, Model, Regularizer, Result, TrainConfig};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

/// How to run a gradient check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheckOptions {
    /// Step of the centered difference `(f(θ + h) − f(θ − h)) / 2h`.
    pub h: f64,
    /// Check this many seeded coordinates instead of all of them.
    pub sample: Option<usize>,
    pub seed: u64,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        Self {
            h: 1e-5,
            sample: None,
            seed: 0,
        }
    }
}

/// The worst coordinate of a gradient check.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    /// max over checked coordinates of `|a − n| / max(|a| + |n|, 1e-12)`.
    pub max_relative_error: f64,
    /// Index into the packed `[W | b]` parameters of the worst coordinate.
    pub worst_index: usize,
    pub analytic: f64,
    pub numerical: f64,
    pub checked: usize,
}

/// Full objective `L(W, b) = mean data loss + R(W)` and its analytic
/// gradient, in f64 on the CPU reference. `params` is `[W (D×C) | b (C)]`.
pub fn objective_and_gradient(
    x: ArrayView2<'_, f64>,
    labels: &[u32],
    params: &[f64],
    outputs: usize,
    loss: &Loss,
    regularizer: &Regularizer,
) -> (f64, Vec<f64>) {
    let d = x.ncols();
    let w = ArrayView2::from_shape((d, outputs), &params[..d * outputs]).expect("packed params");
    let b = ArrayView1::from(&params[d * outputs..d * outputs + outputs]);
    let scores = x.dot(&w) + b;
    let result = loss_rows(
        loss,
        scores.view(),
        &RowTargets::Classes {
            labels,
            class_weights: None,
        },
    );
    let (l1, l2) = regularizer.coefficients();
    let (l1, l2) = (l1 as f64, l2 as f64);
    let mut value = result.row_loss.mean().unwrap_or(0.0);
    let dw: Array2<f64> = x.t().dot(&result.dscores);
    let db = result.dscores.sum_axis(ndarray::Axis(0));
    let mut gradient: Vec<f64> = dw.iter().copied().collect();
    for (g, &wi) in gradient.iter_mut().zip(&params[..d * outputs]) {
        value += l1 * wi.abs() + l2 * wi * wi;
        *g += l1 * wi.signum() * (wi != 0.0) as u8 as f64 + 2.0 * l2 * wi;
    }
    gradient.extend(db.iter().copied());
    (value, gradient)
}

/// Checks the analytic gradient of the full objective at `params` against a
/// centered numerical difference, in f64.
pub fn gradient_check(
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    params: &[f32],
    outputs: usize,
    loss: &Loss,
    regularizer: &Regularizer,
    options: &GradCheckOptions,
) -> Result<GradCheckReport> {
    check_features(&x, "features")?;
    check_labels(&labels, x.nrows(), Some(outputs.max(2)))?;
    // It copies the data to f64 and evaluates the whole objective twice
    // per coordinate: bounded before anything is copied.
    crate::limits::check_product(
        "the gradient check's rows × (features + outputs)",
        x.nrows() as u64,
        (x.ncols() + outputs) as u64,
        crate::limits::MAX_GRADCHECK_SCORES,
    )?;
    let expected = x.ncols() * outputs + outputs;
    if params.len() != expected {
        return Err(Error::ShapeMismatch {
            op: "gradient_check",
            detail: format!("{} parameters, expected {expected}", params.len()),
        });
    }
    if !(options.h.is_finite() && options.h > 0.0) {
        return Err(Error::InvalidConfig(format!(
            "h must be > 0, got {}",
            options.h
        )));
    }
    let x = x.mapv(|v| v as f64);
    let labels = labels.to_vec();
    let mut theta: Vec<f64> = params.iter().map(|&p| p as f64).collect();
    let (_, analytic) =
        objective_and_gradient(x.view(), &labels, &theta, outputs, loss, regularizer);
    let coordinates: Vec<usize> = match options.sample {
        Some(k) if k < theta.len() => {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            let mut picked = sample(&mut rng, theta.len(), k).into_vec();
            picked.sort_unstable();
            picked
        }
        _ => (0..theta.len()).collect(),
    };
    let mut report = GradCheckReport {
        max_relative_error: 0.0,
        worst_index: 0,
        analytic: 0.0,
        numerical: 0.0,
        checked: coordinates.len(),
    };
    for &i in &coordinates {
        let original = theta[i];
        theta[i] = original + options.h;
        let (plus, _) =
            objective_and_gradient(x.view(), &labels, &theta, outputs, loss, regularizer);
        theta[i] = original - options.h;
        let (minus, _) =
            objective_and_gradient(x.view(), &labels, &theta, outputs, loss, regularizer);
        theta[i] = original;
        let numerical = (plus - minus) / (2.0 * options.h);
        let a = analytic[i];
        let error = (a - numerical).abs() / (a.abs() + numerical.abs()).max(1e-12);
        if error > report.max_relative_error || report.checked == 0 {
            report.max_relative_error = error;
            report.worst_index = i;
            report.analytic = a;
            report.numerical = numerical;
        }
    }
    Ok(report)
}

/// The analytic gradient of the mean data loss computed by a backend's
/// fused [`Backend::linear_step`], as `[dW | db]`. The regularizer's
/// gradient is not included: the update kernel folds it in.
pub fn backend_data_gradient<B: Backend>(
    backend: &B,
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    params: &[f32],
    outputs: usize,
    loss: &Loss,
) -> Result<Vec<f32>> {
    let (n, d) = x.dim();
    check_features(&x, "features")?;
    check_labels(&labels, n, Some(outputs.max(2)))?;
    let rows = backend.upload_rows(x)?;
    let label_buffer = backend.upload_indices(&labels.to_vec())?;
    let identity: Vec<u32> = (0..n as u32).collect();
    let indices = backend.upload_indices(&identity)?;
    let params = backend.upload(params)?;
    let mut stats = backend.zeros(2)?;
    let mut grads = backend.zeros(d * outputs + outputs)?;
    let step = LinearStep {
        loss,
        x: &rows,
        targets: ResidentTargets::Classes {
            labels: &label_buffer,
            class_weights: None,
        },
        indices: &indices,
        first: 0,
        rows: n,
        outputs,
    };
    backend.linear_step(step, &params, Some(&mut grads), &mut stats, 0)?;
    backend.read(&grads)
}

/// The initial data loss with small random weights, and what theory expects.
#[derive(Clone, Debug)]
pub struct SanityReport {
    pub initial_loss: f64,
    /// ln C for softmax, (C − 1)·Δ for the hinge, C·ln 2 for logistic (one-vs-rest), or ln 2 for binary.
    pub expected: f64,
}

impl SanityReport {
    /// Whether the initial loss is within `relative` of the expectation.
    pub fn passes(&self, relative: f64) -> bool {
        (self.initial_loss - self.expected).abs() <= relative * self.expected.abs()
    }
}

/// CS231n's first check: with small random W (the configured initialization)
/// the loss should be near ln C (softmax) or (C − 1)·Δ (SVM).
pub fn sanity_check(
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    config: &TrainConfig,
) -> Result<SanityReport> {
    config.validate()?;
    check_features(&x, "features")?;
    let classes = check_labels(&labels, x.nrows(), config.classes)?;
    let outputs = config.loss.outputs_for_classes(classes);
    let expected = match config.loss {
        Loss::SoftmaxCrossEntropy { .. } => (classes as f64).ln(),
        Loss::Hinge { margin } => (classes as f64 - 1.0) * margin as f64,
        Loss::SquaredHinge { margin } => (classes as f64 - 1.0) * (margin as f64).powi(2),
        Loss::Logistic => outputs as f64 * std::f64::consts::LN_2,
        Loss::MeanSquaredError => {
            return Err(Error::InvalidConfig(
                "the sanity check applies to classification losses".into(),
            ));
        }
    };
    let model: Model = crate::train::initial_model(config, x.ncols(), outputs, classes);
    Ok(SanityReport {
        initial_loss: model.data_loss(x, labels)?,
        expected,
    })
}
