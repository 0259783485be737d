//! The `lbfgs` case: full-batch L-BFGS to convergence on the problem of the
//! scikit-learn peer (`peers/sklearn_lbfgs.py`), one run per backend, with
//! the figures scikit-learn's `LogisticRegression(solver="lbfgs")` is
//! compared on: wall time, iterations, objective evaluations, the final
//! objective and, given scikit-learn's final objective as a target, the
//! time at which lintrain's objective first reached it.
//!
//! The objective is scikit-learn's for C: `F = (1/N)·Σ softmax
//! cross-entropy + λ·ΣW²` with `λ = 1/(2·C·N)`, the bias not penalized,
//! started from zero weights, as `LogisticRegression` starts.

use super::probe_data;
use crate::{
    Backend, Init, LbfgsOptions, Loss, Model, Regularizer, Result, Solver, TrainConfig, Trainer,
};
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Stops when `‖g‖∞ ≤ TOLERANCE · max(1, |F|)`: the peer's `tol`.
pub const TOLERANCE: f64 = 1e-6;
/// Iterations at most: the peer's `max_iter`, so a run that does not
/// converge still ends.
pub const MAX_ITERATIONS: usize = 1000;
/// scikit-learn's inverse regularization strength of the peer.
pub const C: f64 = 1.0;
/// The peer's problem: rows, features, classes and seed.
pub const FULL_SHAPE: (usize, usize, usize) = (20_000, 256, 20);
/// `--quick`: a problem that converges in well under a second.
pub const QUICK_SHAPE: (usize, usize, usize) = (2000, 32, 5);
const SEED: u64 = 256;

/// The rows one run fits, and where they came from.
pub struct Problem {
    pub x: Array2<f32>,
    pub labels: Array1<u32>,
    pub classes: usize,
    /// `"generated"`, or the directory the peer's `.npy` files were read from.
    pub source: String,
}

impl Problem {
    /// The peer's recipe at `(rows, features, classes)`, seeded.
    pub fn generated((rows, features, classes): (usize, usize, usize)) -> Self {
        let (x, labels) = probe_data::class_means(rows, features, classes, SEED);
        Self::new(x, labels, "generated".into())
    }

    /// The peer's own rows, `dir/x.npy` and `dir/y.npy`.
    pub fn load(dir: &Path) -> Result<Self> {
        let (x, labels) = probe_data::load_dir(dir)?;
        Ok(Self::new(x, labels, dir.display().to_string()))
    }

    fn new(x: Array2<f32>, labels: Array1<u32>, source: String) -> Self {
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        Self {
            x,
            labels,
            classes,
            source,
        }
    }

    pub fn shape(&self) -> String {
        format!("{}x{}x{}", self.x.nrows(), self.x.ncols(), self.classes)
    }

    /// `λ = 1/(2·C·N)`.
    pub fn lambda(&self) -> f64 {
        1.0 / (2.0 * C * self.x.nrows() as f64)
    }
}

/// One backend's run to convergence. Seconds are wall time from the start
/// of `Trainer::fit_on` (data checks and upload included, as scikit-learn's
/// `fit` includes its own).
#[derive(Clone, Debug, Serialize)]
pub struct LbfgsRun {
    pub backend: &'static str,
    pub shape: String,
    /// `"generated"` or the directory of the peer's `.npy` files.
    pub data: String,
    pub lambda: f64,
    pub tolerance: f64,
    /// Until the solver stopped, whatever the reason.
    pub seconds: f64,
    pub iterations: usize,
    pub function_evaluations: usize,
    /// The solver's final objective, as the backend computes it (f32
    /// products, f64 sums).
    pub objective: f64,
    /// The final model's objective recomputed on the host with every
    /// product and sum in f64, as the peer computes scikit-learn's: the
    /// figure to hold against its objective.
    pub objective_f64: f64,
    pub gradient_max: f64,
    pub converged: bool,
    /// The solver's [`crate::StopReason`], by name.
    pub reason: String,
    /// The objective to reach (`--lbfgs-target`: scikit-learn's final one).
    pub target_objective: Option<f64>,
    /// When the first iteration whose objective is ≤ the target ended;
    /// `None` when there is no target or it was never reached.
    pub seconds_to_target: Option<f64>,
    pub iterations_to_target: Option<usize>,
}

/// The case's configuration: softmax, L2 with `λ = 1/(2·C·N)`, zero start,
/// L-BFGS with the peer's tolerance and iteration limit.
pub fn config(problem: &Problem, max_iterations: usize) -> TrainConfig {
    TrainConfig {
        loss: Loss::softmax(),
        regularizer: Regularizer::L2 {
            strength: problem.lambda() as f32,
        },
        init: Init::Zeros,
        classes: Some(problem.classes),
        solver: Solver::Lbfgs(LbfgsOptions {
            gradient_tolerance: TOLERANCE,
            max_iterations,
            ..LbfgsOptions::default()
        }),
        ..TrainConfig::default()
    }
}

/// The first iteration (1-based) whose objective is ≤ `target`, and the
/// seconds at which it ended, from `(objective, seconds)` per iteration.
pub fn time_to_target(iterations: &[(f64, f64)], target: f64) -> Option<(usize, f64)> {
    iterations
        .iter()
        .position(|&(objective, _)| objective <= target)
        .map(|i| (i + 1, iterations[i].1))
}

/// `F(W, b) = (1/N)·Σᵢ [log Σ_c exp(sᵢc) − sᵢyᵢ] + λ·ΣW²` with
/// `sᵢ = xᵢ·W + b`, every product and sum in f64 (rows summed in order).
pub fn objective_f64(problem: &Problem, model: &Model) -> f64 {
    let w: Vec<f64> = model.weights.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = model.bias.iter().map(|&v| v as f64).collect();
    let classes = b.len();
    let row_losses: Vec<f64> = (0..problem.x.nrows())
        .into_par_iter()
        .map(|i| {
            let mut s = b.clone();
            for (&x, w_row) in problem.x.row(i).iter().zip(w.chunks_exact(classes)) {
                for (s, &w) in s.iter_mut().zip(w_row) {
                    *s += x as f64 * w;
                }
            }
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = s.iter().map(|&v| (v - max).exp()).sum::<f64>().ln() + max;
            log_sum - s[problem.labels[i] as usize]
        })
        .collect();
    let data = row_losses.iter().sum::<f64>() / problem.x.nrows() as f64;
    data + problem.lambda() * w.iter().map(|v| v * v).sum::<f64>()
}

/// Fits the problem on `backend` after an untimed one-iteration fit (which
/// compiles a GPU backend's pipelines and sizes its buffers), timing each
/// iteration's end from the start of the fit.
pub fn run<B: Backend>(
    backend: &B,
    name: &'static str,
    problem: &Problem,
    target: Option<f64>,
) -> Result<LbfgsRun> {
    Trainer::new(config(problem, 1)).fit_on(backend, problem.x.view(), problem.labels.view())?;

    let ends = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&ends);
    let started = Instant::now();
    let mut trainer = Trainer::new(config(problem, MAX_ITERATIONS)).on_epoch(move |record| {
        let at = started.elapsed().as_secs_f64();
        sink.lock()
            .expect("iteration ends")
            .push((record.train_loss, at));
    });
    let outcome = trainer.fit_on(backend, problem.x.view(), problem.labels.view())?;
    let seconds = started.elapsed().as_secs_f64();
    let report = outcome
        .solver_report
        .expect("an L-BFGS run reports its solver");
    let ends = ends.lock().expect("iteration ends").clone();
    let reached = target.and_then(|t| time_to_target(&ends, t));
    Ok(LbfgsRun {
        backend: name,
        shape: problem.shape(),
        data: problem.source.clone(),
        lambda: problem.lambda(),
        tolerance: TOLERANCE,
        seconds,
        iterations: report.iterations,
        function_evaluations: report.function_evaluations,
        objective: report.objective,
        objective_f64: objective_f64(problem, &outcome.model),
        gradient_max: report.gradient_max,
        converged: report.converged,
        reason: format!("{:?}", report.reason),
        target_objective: target,
        seconds_to_target: reached.map(|(_, s)| s),
        iterations_to_target: reached.map(|(i, _)| i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_reached_at_the_first_iteration_at_or_below_it() {
        let ends = [(2.0, 0.5), (1.5, 1.0), (1.2, 1.5), (1.2, 2.0), (1.1, 2.5)];
        assert_eq!(time_to_target(&ends, 1.2), Some((3, 1.5)));
        assert_eq!(time_to_target(&ends, 1.3), Some((3, 1.5)));
        assert_eq!(time_to_target(&ends, 5.0), Some((1, 0.5)));
        assert_eq!(time_to_target(&ends, 1.1), Some((5, 2.5)));
        assert_eq!(time_to_target(&ends, 1.0), None);
        assert_eq!(time_to_target(&[], 1.0), None);
    }

    /// The quick problem on the CPU: the report is the solver's, and a
    /// target above the final objective is reached, one below it is not.
    /// Nothing about speed.
    #[test]
    fn a_quick_cpu_run_reports_what_the_solver_did() {
        let problem = Problem::generated(QUICK_SHAPE);
        let cpu = crate::CpuBackend::new();
        let free = run(&cpu, "cpu", &problem, None).unwrap();
        assert_eq!(free.shape, "2000x32x5");
        assert!(free.iterations >= 1 && free.function_evaluations > free.iterations);
        assert!(free.objective.is_finite() && free.objective < (5.0f64).ln());
        assert!(free.seconds > 0.0);
        // The backend's objective and the f64 one agree to f32 accuracy.
        let gap = (free.objective - free.objective_f64).abs();
        assert!(gap < 1e-5 * free.objective_f64, "{free:?}");
        assert_eq!(free.seconds_to_target, None);

        let above = run(&cpu, "cpu", &problem, Some(free.objective + 1e-3)).unwrap();
        let (k, s) = (
            above.iterations_to_target.unwrap(),
            above.seconds_to_target.unwrap(),
        );
        assert!(k <= above.iterations && s <= above.seconds, "{above:?}");
        let below = run(&cpu, "cpu", &problem, Some(free.objective - 1.0)).unwrap();
        assert_eq!(below.seconds_to_target, None);
        assert_eq!(below.iterations_to_target, None);
    }
}
