//! Issue 13's solver, through the public API, on f64 objectives written
//! in the tests: L-BFGS reaches an optimum computed independently (Newton's
//! method on a small softmax regression), and every accepted step meets the
//! conditions that accepted it, the strong Wolfe conditions or, where the
//! values are within their noise, the approximate Wolfe conditions
//! (checked from the evaluations the objective saw, not from what the
//! solver says); with noisy values (f32 rounding, pseudo-noise) the run
//! still reaches the optimum. The stopping rule is tested in
//! tests/solver_stopping.rs, OWL-QN in tests/solver_owlqn.rs.

mod solver_common;

use lintrain::{LbfgsOptions, StopReason};
use solver_common::*;

#[test]
fn softmax_regression_reaches_the_newton_optimum() {
    let problem = Softmax::seeded(30, 3, 3, 0.01, 13);
    let reference = problem.newton();
    let options = LbfgsOptions {
        gradient_tolerance: 1e-9,
        objective_tolerance: 0.0,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(problem.dimension(), |x: &[f64], g: &mut [f64]| {
        problem.value_and_gradient(x, g)
    });
    let x0 = vec![0.0; problem.dimension()];
    let (solution, records) = solve(&mut objective, &x0, &options);
    assert_eq!(solution.report.reason, StopReason::GradientTolerance);
    assert!(solution.report.converged);

    let mut gradient = vec![0.0; problem.dimension()];
    let f = problem.value_and_gradient(&solution.params, &mut gradient);
    assert!(
        max_abs(&gradient) <= 1e-9 * f.abs().max(1.0),
        "{gradient:?}"
    );
    assert_eq!(f, solution.report.objective);

    let (found, expected) = (
        identifiable(&problem, &solution.params),
        identifiable(&problem, &reference),
    );
    let scale = max_abs(&expected);
    for (i, (a, b)) in found.iter().zip(&expected).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * scale,
            "parameter {i}: {a} vs Newton's {b} (scale {scale})"
        );
    }
    let (x0_value, x0_gradient) = (&objective.evaluations[0].1, &objective.evaluations[0].2);
    assert_stopping_rule(
        *x0_value,
        max_abs(x0_gradient),
        &records,
        &solution,
        &options,
    );
    assert_accepted_steps(&objective.evaluations, &records, &options);
    assert_monotone(*x0_value, &records, &options);
    assert_eq!(
        solution.report.function_evaluations,
        objective.evaluations.len()
    );
}

#[test]
fn rosenbrock_converges_from_the_classic_start() {
    let options = LbfgsOptions {
        gradient_tolerance: 1e-10,
        objective_tolerance: 0.0,
        max_iterations: 200,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(2, rosenbrock);
    let (solution, records) = solve(&mut objective, &[-1.2, 1.0], &options);
    assert_eq!(solution.report.reason, StopReason::GradientTolerance);
    for x in &solution.params {
        assert!((x - 1.0).abs() < 1e-8, "{:?}", solution.params);
    }
    assert!(solution.report.objective < 1e-16);
    assert_stopping_rule(24.2, 215.6, &records, &solution, &options);
    assert_accepted_steps(&objective.evaluations, &records, &options);
    assert_monotone(24.2, &records, &options);
    assert!(
        records.iter().any(|r| r.line_search.evaluations > 1),
        "the line search never went past its first trial: the test covers too little"
    );
}

/// With c2 = 0.1 the curvature condition rejects most first trials on
/// Rosenbrock, so bracketing and zoom do the work. Without a noise
/// allowance (`objective_noise = 0`) every accepted step meets the exact
/// strong Wolfe conditions; with the default one, every step meets the
/// conditions that accepted it.
#[test]
fn every_accepted_step_meets_the_strong_wolfe_conditions_with_a_tight_c2() {
    let (c1s_c2s, noises) = (
        [(1e-4, 0.1), (0.3, 0.4), (1e-4, 0.9)],
        [0.0, LbfgsOptions::default().objective_noise],
    );
    for ((c1, c2), objective_noise) in c1s_c2s
        .into_iter()
        .flat_map(|c| noises.into_iter().map(move |n| (c, n)))
    {
        let options = LbfgsOptions {
            c1,
            c2,
            gradient_tolerance: 1e-8,
            objective_tolerance: 0.0,
            objective_noise,
            max_iterations: 500,
            ..LbfgsOptions::default()
        };
        for x0 in [[-1.2, 1.0], [2.0, -1.0], [0.0, 3.0]] {
            let mut objective = logged(2, rosenbrock);
            let (solution, records) = solve(&mut objective, &x0, &options);
            assert!(
                solution.report.converged,
                "c2 = {c2}, from {x0:?}: {:?}",
                solution.report
            );
            let (exact, _) = assert_accepted_steps(&objective.evaluations, &records, &options);
            if objective_noise == 0.0 {
                assert_eq!(exact, records.len(), "every step exact without noise");
            }
            let zoomed = records
                .iter()
                .filter(|r| r.line_search.evaluations > 1)
                .count();
            if c2 == 0.1 {
                assert!(
                    zoomed >= 3,
                    "from {x0:?}: only {zoomed} searches went past one trial"
                );
            }
        }
    }
}

/// On a nonconvex function, plain L-BFGS never has to skip a pair: a
/// strong-Wolfe step gives `sᵀy ≥ (1 − c2)·|g_kᵀs| > 0`.
#[test]
fn strong_wolfe_steps_have_positive_curvature_on_a_nonconvex_function() {
    // A tilted double well in x plus a valley in y: concave around x = 0.
    let function = |x: &[f64], g: &mut [f64]| {
        g[0] = x[0].powi(3) - x[0] + 0.1 - 2.0 * (x[1] - x[0]);
        g[1] = 2.0 * (x[1] - x[0]);
        x[0].powi(4) / 4.0 - x[0].powi(2) / 2.0 + 0.1 * x[0] + (x[1] - x[0]).powi(2)
    };
    let options = LbfgsOptions {
        gradient_tolerance: 1e-10,
        objective_tolerance: 0.0,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(2, function);
    let (solution, records) = solve(&mut objective, &[0.05, 0.0], &options);
    assert!(solution.report.converged, "{solution:?}\n{records:#?}");
    assert_eq!(solution.skipped_pairs, 0);
    for record in &records {
        assert!(!record.pair_skipped && record.curvature > 0.0, "{record:?}");
    }
    assert_accepted_steps(&objective.evaluations, &records, &options);
}

/// The backends compute in f32: with values and gradients rounded to f32
/// the default tolerance converges, and so does tol 1e-6, where the
/// decreases left are below the values' rounding (about 6e-8·|f|) and the
/// approximate Wolfe conditions accept the steps; the result is Newton's
/// optimum to the accuracy the gradient test promises. A tolerance below
/// what f32 gradients can show ends without an error, at a point no higher
/// than any iterate, still at the optimum to f32 precision.
#[test]
fn f32_noise_converges_and_a_tolerance_below_it_ends_cleanly() {
    let problem = Softmax::seeded(30, 3, 3, 0.01, 21);
    let rounded = |x: &[f64], g: &mut [f64]| {
        let f = problem.value_and_gradient(x, g);
        g.iter_mut().for_each(|v| *v = *v as f32 as f64);
        f as f32 as f64
    };
    let reference = identifiable(&problem, &problem.newton());
    let x0 = vec![0.0; problem.dimension()];
    for gradient_tolerance in [1e-4, 1e-6] {
        let options = LbfgsOptions {
            gradient_tolerance,
            ..LbfgsOptions::default()
        };
        let mut objective = logged(problem.dimension(), rounded);
        let (solution, records) = solve(&mut objective, &x0, &options);
        assert_eq!(
            solution.report.reason,
            StopReason::GradientTolerance,
            "tol {gradient_tolerance}: {:?}",
            solution.report
        );
        assert_accepted_steps(&objective.evaluations, &records, &options);
        let found = identifiable(&problem, &solution.params);
        if gradient_tolerance == 1e-6 {
            assert!(relative_difference(&found, &reference) <= 1e-5);
        }
    }

    let options = LbfgsOptions {
        gradient_tolerance: 1e-12,
        objective_tolerance: 0.0,
        max_iterations: 1000,
        ..LbfgsOptions::default()
    };
    let (solution, records) = solve(&mut logged(problem.dimension(), rounded), &x0, &options);
    assert_ne!(solution.report.reason, StopReason::IterationLimit);
    let lowest = records
        .iter()
        .map(|r| r.objective)
        .fold(f64::INFINITY, f64::min);
    assert!(solution.report.objective <= lowest);
    let found = identifiable(&problem, &solution.params);
    assert!(relative_difference(&found, &reference) < 1e-6);
}

/// Values with a deterministic relative noise of 1e-7 (as the f32
/// backends have) and gradients with an absolute noise of 1e-7: the
/// approximate Wolfe conditions carry the run to ‖g‖∞ ≤ 1e-6 and Newton's
/// optimum, where the exact sufficient-decrease test alone stops early
/// because it cannot see the decreases.
#[test]
fn noisy_values_reach_the_gradient_tolerance_by_approximate_wolfe_steps() {
    let problem = Softmax::seeded(60, 4, 3, 0.005, 34);
    let reference = identifiable(&problem, &problem.newton());
    let noisy = |x: &[f64], g: &mut [f64]| {
        let f = problem.value_and_gradient(x, g);
        for (i, v) in g.iter_mut().enumerate() {
            *v += 1e-7 * pseudo_noise(x, 1 + i as u64);
        }
        f * (1.0 + 1e-7 * pseudo_noise(x, 0))
    };
    let x0 = vec![0.0; problem.dimension()];
    let options = LbfgsOptions {
        gradient_tolerance: 1e-6,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(problem.dimension(), noisy);
    let (solution, records) = solve(&mut objective, &x0, &options);
    assert_eq!(
        solution.report.reason,
        StopReason::GradientTolerance,
        "{:?}",
        solution.report
    );
    assert!(solution.report.gradient_max <= 1e-6);
    let (exact, approximate) = assert_accepted_steps(&objective.evaluations, &records, &options);
    assert!(
        approximate >= 1 && exact >= 1,
        "{exact} exact and {approximate} approximate steps: the test covers too little"
    );
    assert_monotone(objective.evaluations[0].1, &records, &options);
    let mut gradient = vec![0.0; problem.dimension()];
    problem.value_and_gradient(&solution.params, &mut gradient);
    assert!(max_abs(&gradient) <= 1.2e-6, "{}", max_abs(&gradient));
    let found = identifiable(&problem, &solution.params);
    let difference = relative_difference(&found, &reference);
    assert!(difference <= 1e-5, "vs Newton: {difference:e}");

    // Without the allowance, the same run does not get there.
    let exact_only = LbfgsOptions {
        objective_noise: 0.0,
        ..options
    };
    let mut objective = logged(problem.dimension(), noisy);
    let (solution, records) = solve(&mut objective, &x0, &exact_only);
    assert_ne!(
        solution.report.reason,
        StopReason::GradientTolerance,
        "{:?}",
        solution.report
    );
    assert_eq!(
        assert_strong_wolfe(&objective.evaluations, &records, &exact_only),
        records.len()
    );
}

/// max |a − b| / max |b|.
fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    let worst = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    worst / max_abs(b)
}
