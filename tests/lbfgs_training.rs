//! Full-batch L-BFGS through `Trainer` on both backends: the result is the
//! optimum of the stated objective (an independent f64 Newton solution of
//! the same problem), CPU and GPU agree, OWL-QN gives exact zeros, and the
//! history has one record per iteration.

mod common;
mod solver_common;

use lintrain::{
    BackendChoice, CpuBackend, Init, LbfgsOptions, Loss, Regularizer, Solver, StopReason,
    TrainConfig, Trainer,
};
use ndarray::{Array1, Array2};
use solver_common::{Softmax, identifiable, max_abs};

/// The seeded problem as lintrain's f32 inputs.
fn inputs(problem: &Softmax) -> (Array2<f32>, Array1<u32>) {
    let rows = problem.rows.len();
    let x = Array2::from_shape_fn((rows, problem.features), |(i, j)| problem.rows[i][j] as f32);
    let labels = problem.labels.iter().map(|&l| l as u32).collect();
    (x, labels)
}

fn lbfgs_config(l2: f32, tolerance: f64) -> TrainConfig {
    TrainConfig {
        loss: Loss::softmax(),
        regularizer: Regularizer::L2 { strength: l2 },
        solver: Solver::Lbfgs(LbfgsOptions {
            gradient_tolerance: tolerance,
            max_iterations: 500,
            ..LbfgsOptions::default()
        }),
        init: Init::Zeros,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    }
}

/// Relative agreement of two parameter vectors: max |a − b| / max |b|.
fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    let worst = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    worst / max_abs(b).max(1e-12)
}

fn params_f64(model: &lintrain::Model) -> Vec<f64> {
    model.params().iter().map(|&p| p as f64).collect()
}

#[test]
fn lbfgs_reaches_the_f64_newton_optimum_on_cpu_and_gpu() {
    // l2 = 0.005 is exactly representable neither in f32 nor in f64: the
    // reference uses the f32 value lintrain trains with.
    let l2 = 0.005f32;
    let problem = Softmax::seeded(300, 5, 4, l2 as f64, 21);
    let reference = identifiable(&problem, &problem.newton());
    let (x, labels) = inputs(&problem);
    let config = lbfgs_config(l2, 1e-6);

    let cpu = Trainer::new(config.clone())
        .fit_on(&CpuBackend::new(), x.view(), labels.view())
        .unwrap();
    let report = cpu.solver_report.expect("an L-BFGS run reports");
    assert!(report.converged, "{report:?}");
    assert_eq!(report.reason, StopReason::GradientTolerance, "{report:?}");
    assert_eq!(cpu.history.epochs.len(), report.iterations);
    let found = params_f64(&cpu.model);
    let mut gradient = vec![0.0; problem.dimension()];
    let f = problem.value_and_gradient(&found, &mut gradient);
    assert!(
        max_abs(&gradient) <= 2e-6 * f.abs().max(1.0),
        "f64 gradient at the result: {}",
        max_abs(&gradient)
    );
    let difference = relative_difference(&identifiable(&problem, &found), &reference);
    assert!(difference <= 1e-5, "CPU vs Newton: {difference:e}");
    // The history's last objective is the objective of the result.
    let last = cpu.history.epochs.last().unwrap();
    assert!(
        (last.train_loss - f).abs() <= 1e-6 * f,
        "{} vs {f}",
        last.train_loss
    );

    if let Some(gpu) = common::gpu() {
        let outcome = Trainer::new(config)
            .fit_on(&gpu, x.view(), labels.view())
            .unwrap();
        let report = outcome.solver_report.unwrap();
        assert!(report.converged, "gpu: {report:?}");
        let on_gpu = identifiable(&problem, &params_f64(&outcome.model));
        let difference = relative_difference(&on_gpu, &reference);
        assert!(difference <= 1e-5, "GPU vs Newton: {difference:e}");
        let cpu_vs_gpu = relative_difference(&on_gpu, &identifiable(&problem, &found));
        assert!(cpu_vs_gpu <= 1e-5, "GPU vs CPU: {cpu_vs_gpu:e}");
    }
}

#[test]
fn owlqn_gives_exact_zeros_under_strong_l1_and_never_penalizes_the_bias() {
    let problem = Softmax::seeded(200, 6, 3, 0.0, 5);
    let (x, labels) = inputs(&problem);
    let config = TrainConfig {
        regularizer: Regularizer::L1 { strength: 0.05 },
        ..lbfgs_config(0.0, 1e-6)
    };
    let outcome = Trainer::new(config).fit(x.view(), labels.view()).unwrap();
    let weights = outcome.model.weights;
    let zeros = weights.iter().filter(|&&w| w == 0.0).count();
    assert!(
        zeros > 0 && zeros < weights.len(),
        "expected some exact zeros among {} weights, got {zeros}",
        weights.len()
    );
    assert!(outcome.model.bias.iter().any(|&b| b != 0.0));
    // A much stronger penalty zeroes every weight; the bias still fits the
    // class frequencies (softmax of b = the label distribution).
    let config = TrainConfig {
        regularizer: Regularizer::L1 { strength: 10.0 },
        ..lbfgs_config(0.0, 1e-7)
    };
    let outcome = Trainer::new(config).fit(x.view(), labels.view()).unwrap();
    assert!(outcome.model.weights.iter().all(|&w| w == 0.0));
    let bias = outcome.model.bias;
    let total: f64 = bias.iter().map(|&b| (b as f64).exp()).sum();
    for class in 0..3 {
        let share = problem.labels.iter().filter(|&&l| l == class).count() as f64 / 200.0;
        let fitted = (bias[class] as f64).exp() / total;
        assert!(
            (fitted - share).abs() < 1e-4,
            "class {class}: {fitted} vs {share}"
        );
    }
}

#[test]
fn a_warm_start_from_the_optimum_takes_no_iteration() {
    let problem = Softmax::seeded(120, 4, 3, 0.01, 8);
    let (x, labels) = inputs(&problem);
    let config = lbfgs_config(0.01, 1e-5);
    let first = Trainer::new(config.clone())
        .fit(x.view(), labels.view())
        .unwrap();
    assert!(first.solver_report.unwrap().converged);
    let again = Trainer::new(config)
        .resume_from(first.checkpoint.clone())
        .fit(x.view(), labels.view())
        .unwrap();
    let report = again.solver_report.unwrap();
    assert_eq!(report.iterations, 0, "{report:?}");
    assert!(report.converged);
    assert_eq!(again.model.params(), first.model.params());
}

#[test]
fn iteration_limit_is_reported_not_an_error() {
    let problem = Softmax::seeded(120, 4, 3, 0.001, 3);
    let (x, labels) = inputs(&problem);
    let mut config = lbfgs_config(0.001, 1e-12);
    config.solver = Solver::Lbfgs(LbfgsOptions {
        max_iterations: 2,
        gradient_tolerance: 1e-12,
        ..LbfgsOptions::default()
    });
    let outcome = Trainer::new(config).fit(x.view(), labels.view()).unwrap();
    let report = outcome.solver_report.unwrap();
    assert_eq!(report.reason, StopReason::IterationLimit);
    assert!(!report.converged);
    assert_eq!(outcome.history.epochs.len(), 2);
    assert_eq!(outcome.history.epochs[0].epoch, 1);
}
