//! Issue 13's solver, through the public API: the stopping rule of
//! `lintrain::solver::minimize` holds exactly (converged start, iteration
//! limit, both tolerances, the relative-decrease test only on decreases the
//! values vouch for), non-finite values and objective errors are handled
//! as documented, and a failed line search ends at the best point.

mod solver_common;

use lintrain::solver::{Acceptance, minimize};
use lintrain::{Error, LbfgsOptions, Objective, Result, StopReason};
use solver_common::*;

#[test]
fn a_converged_start_takes_no_iteration() {
    let problem = Softmax::seeded(30, 3, 3, 0.01, 5);
    let options = LbfgsOptions {
        gradient_tolerance: 1e-8,
        objective_tolerance: 0.0,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(problem.dimension(), |x: &[f64], g: &mut [f64]| {
        problem.value_and_gradient(x, g)
    });
    let (first, _) = solve(&mut objective, &vec![0.0; problem.dimension()], &options);
    assert_eq!(first.report.reason, StopReason::GradientTolerance);

    let mut objective = logged(problem.dimension(), |x: &[f64], g: &mut [f64]| {
        problem.value_and_gradient(x, g)
    });
    let (warm, records) = solve(&mut objective, &first.params, &options);
    assert!(records.is_empty());
    assert_eq!(warm.report.iterations, 0);
    assert!(warm.report.converged);
    assert_eq!(warm.report.reason, StopReason::GradientTolerance);
    assert_eq!(warm.report.function_evaluations, 1);
    assert_eq!(warm.params, first.params);
    assert_eq!(warm.report.objective, first.report.objective);
}

#[test]
fn the_iteration_limit_stops_unconverged() {
    let options = LbfgsOptions {
        max_iterations: 3,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(2, rosenbrock);
    let (solution, records) = solve(&mut objective, &[-1.2, 1.0], &options);
    assert_eq!(solution.report.reason, StopReason::IterationLimit);
    assert!(!solution.report.converged);
    assert_eq!(solution.report.iterations, 3);
    assert_eq!(
        records.iter().map(|r| r.iteration).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_stopping_rule(24.2, 215.6, &records, &solution, &options);
    // The result is the third iterate.
    let last = &objective.evaluations[records[2].function_evaluations - 1];
    assert_eq!(solution.params, last.0);

    let none = LbfgsOptions {
        max_iterations: 0,
        ..LbfgsOptions::default()
    };
    // No iteration at all is refused, as `TrainConfig::validate` refuses it
    // (one check: `LbfgsOptions::check`).
    let refused = minimize(
        &mut logged(2, rosenbrock),
        &[-1.2, 1.0],
        None,
        &none,
        &mut |_, _| {},
    );
    match refused {
        Err(Error::InvalidConfig(message)) => {
            assert!(message.contains("max_iterations"), "{message}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn a_looser_gradient_tolerance_stops_sooner_and_each_rule_holds_exactly() {
    let problem = Softmax::seeded(30, 3, 3, 0.001, 7);
    let x0 = vec![0.0; problem.dimension()];
    let mut iterations = Vec::new();
    for (gradient_tolerance, objective_tolerance) in [
        (1e-2, 0.0),
        (1e-4, 0.0),
        (1e-9, 0.0),
        (0.0, 1e-3),
        (0.0, 1e-8),
    ] {
        let options = LbfgsOptions {
            gradient_tolerance,
            objective_tolerance,
            ..LbfgsOptions::default()
        };
        let mut objective = logged(problem.dimension(), |x: &[f64], g: &mut [f64]| {
            problem.value_and_gradient(x, g)
        });
        let (solution, records) = solve(&mut objective, &x0, &options);
        let (f0, g0) = (&objective.evaluations[0].1, &objective.evaluations[0].2);
        assert_stopping_rule(*f0, max_abs(g0), &records, &solution, &options);
        assert_monotone(*f0, &records, &options);
        let expected = if gradient_tolerance > 0.0 {
            StopReason::GradientTolerance
        } else {
            StopReason::ObjectiveTolerance
        };
        assert_eq!(solution.report.reason, expected, "{options:?}");
        iterations.push(solution.report.iterations);
    }
    assert!(
        iterations[0] < iterations[1] && iterations[1] < iterations[2],
        "{iterations:?}"
    );
    assert!(iterations[3] < iterations[4], "{iterations:?}");
}

/// With values noisy at 1e-7 relative, an approximate-Wolfe step's change
/// of f is noise, often an increase: the relative-decrease test, here with
/// a tolerance (1e-9) below that noise, must not take it for convergence,
/// and the run goes on to the gradient tolerance.
#[test]
fn a_decrease_within_the_noise_is_not_taken_for_convergence() {
    let problem = Softmax::seeded(60, 4, 3, 0.005, 34);
    let noisy = |x: &[f64], g: &mut [f64]| {
        let f = problem.value_and_gradient(x, g);
        f * (1.0 + 1e-7 * pseudo_noise(x, 0))
    };
    let options = LbfgsOptions {
        gradient_tolerance: 1e-7,
        objective_tolerance: 1e-9,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(problem.dimension(), noisy);
    let (solution, records) = solve(&mut objective, &vec![0.0; problem.dimension()], &options);
    let (f0, g0) = (&objective.evaluations[0].1, &objective.evaluations[0].2);
    assert_stopping_rule(*f0, max_abs(g0), &records, &solution, &options);
    assert_eq!(
        solution.report.reason,
        StopReason::GradientTolerance,
        "{:?}",
        solution.report
    );
    // The exception was needed: some approximate step lowered f by less
    // than the relative-decrease test's floor.
    let mut previous = *f0;
    let mut below_the_floor = 0;
    for record in &records {
        let f = record.objective;
        let floor = options.objective_tolerance * previous.abs().max(f.abs()).max(1.0);
        if record.line_search.accepted_by == Acceptance::ApproximateWolfe && previous - f <= floor {
            below_the_floor += 1;
        }
        previous = f;
    }
    assert!(below_the_floor >= 1, "the test covers too little");
}

#[test]
fn non_finite_trial_values_shrink_the_step() {
    // f = 100·(x − 0.99)² for x < 0.995, NaN beyond: the first trial,
    // 1/‖g‖ along −g from 0, lands on x = 1.
    let function = |x: &[f64], g: &mut [f64]| {
        if x[0] >= 0.995 {
            g[0] = f64::NAN;
            return f64::NAN;
        }
        g[0] = 200.0 * (x[0] - 0.99);
        100.0 * (x[0] - 0.99).powi(2)
    };
    let options = LbfgsOptions {
        gradient_tolerance: 1e-12,
        objective_tolerance: 0.0,
        ..LbfgsOptions::default()
    };
    let mut objective = logged(1, function);
    let (solution, records) = solve(&mut objective, &[0.0], &options);
    assert!(
        objective.evaluations[1].1.is_nan(),
        "the first trial should hit the NaN region"
    );
    assert!(solution.report.converged, "{:?}", solution.report);
    assert!((solution.params[0] - 0.99).abs() < 1e-12);
    assert_accepted_steps(&objective.evaluations, &records, &options);
}

#[test]
fn a_non_finite_start_is_an_error_and_objective_errors_propagate() {
    let options = LbfgsOptions::default();
    let nan_value = &mut logged(1, |_: &[f64], g: &mut [f64]| {
        g[0] = 0.0;
        f64::NAN
    });
    let result = minimize(nan_value, &[1.0], None, &options, &mut |_, _| {});
    assert!(
        matches!(
            result,
            Err(Error::Diverged {
                epoch: 0,
                step: 0,
                ..
            })
        ),
        "{result:?}"
    );
    let nan_gradient = &mut logged(1, |_: &[f64], g: &mut [f64]| {
        g[0] = f64::INFINITY;
        1.0
    });
    let result = minimize(nan_gradient, &[1.0], None, &options, &mut |_, _| {});
    assert!(matches!(result, Err(Error::Diverged { .. })), "{result:?}");

    /// Rosenbrock whose fifth evaluation fails like a lost device.
    struct FailsAtFive(usize);
    impl Objective for FailsAtFive {
        fn dimension(&self) -> usize {
            2
        }
        fn value_and_gradient(&mut self, x: &[f64], g: &mut [f64]) -> Result<f64> {
            self.0 += 1;
            if self.0 == 5 {
                return Err(Error::Gpu("device lost".into()));
            }
            Ok(rosenbrock(x, g))
        }
    }
    let result = minimize(
        &mut FailsAtFive(0),
        &[-1.2, 1.0],
        None,
        &options,
        &mut |_, _| {},
    );
    assert!(
        matches!(result, Err(Error::Gpu(ref m)) if m == "device lost"),
        "{result:?}"
    );
}

#[test]
fn invalid_inputs_are_refused() {
    let run = |x0: &[f64], options: LbfgsOptions| {
        minimize(
            &mut logged(2, rosenbrock),
            x0,
            None,
            &options,
            &mut |_, _| {},
        )
    };
    let defaults = LbfgsOptions::default();
    assert!(matches!(
        run(&[1.0], defaults),
        Err(Error::ShapeMismatch { .. })
    ));
    for options in [
        LbfgsOptions {
            c1: 0.9,
            c2: 0.5,
            ..defaults
        },
        LbfgsOptions {
            c1: 0.0,
            ..defaults
        },
        LbfgsOptions {
            c2: 1.0,
            ..defaults
        },
        LbfgsOptions {
            gradient_tolerance: -1.0,
            ..defaults
        },
        LbfgsOptions {
            objective_tolerance: f64::NAN,
            ..defaults
        },
        LbfgsOptions {
            max_line_search_evaluations: 0,
            ..defaults
        },
    ] {
        let result = run(&[0.0, 0.0], options);
        assert!(
            matches!(result, Err(Error::InvalidConfig(_))),
            "{options:?}: {result:?}"
        );
    }
}

/// A gradient that lies: after `honest` evaluations it is negated, so −g
/// climbs and no step decreases f. The search fails, the pairs are dropped
/// and the step retried from −g, which fails too: LineSearchFailed, at a
/// point no higher than the last iterate.
#[test]
fn a_failed_line_search_stops_at_the_best_point_found() {
    for honest in [0, 12] {
        let mut count = 0;
        let mut objective = logged(2, |x: &[f64], g: &mut [f64]| {
            count += 1;
            let f = rosenbrock(x, g);
            if count > honest {
                g.iter_mut().for_each(|v| *v = -*v);
            }
            f
        });
        let options = LbfgsOptions::default();
        let (solution, records) = solve(&mut objective, &[-1.2, 1.0], &options);
        assert_eq!(solution.report.reason, StopReason::LineSearchFailed);
        assert!(!solution.report.converged);
        let last_value = records.last().map_or(24.2, |r| r.objective);
        assert!(solution.report.objective <= last_value);
        let mut check = [0.0; 2];
        assert_eq!(
            rosenbrock(&solution.params, &mut check),
            solution.report.objective
        );
        if honest == 0 {
            assert!(records.is_empty());
            assert_eq!(solution.history_resets, 0, "no pairs to drop");
            assert_eq!(solution.params, [-1.2, 1.0]);
            assert_eq!(
                solution.report.function_evaluations,
                1 + options.max_line_search_evaluations
            );
        } else {
            assert!(!records.is_empty());
            assert!(
                solution.history_resets >= 1,
                "a failure with pairs retries from −g"
            );
        }
    }
}
