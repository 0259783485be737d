//! Issue 13's OWL-QN through the public API: under L1 it reaches the
//! solution of a proximal coordinate descent written here, with exact
//! zeros where that solution has them, also when the smooth part's values
//! are noisy (the approximate sufficient decrease); the bias is never
//! penalized; pairs without positive curvature (possible under its
//! backtracking search) are skipped and not used.

use lintrain::solver::{
    Acceptance, IterationRecord, L1Penalty, LineSearchKind, Solution, minimize,
};
use lintrain::{LbfgsOptions, Objective, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An objective from a closure `(x, gradient) -> f`.
struct Function<F> {
    dimension: usize,
    function: F,
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Objective for Function<F> {
    fn dimension(&self) -> usize {
        self.dimension
    }

    fn value_and_gradient(&mut self, params: &[f64], gradient: &mut [f64]) -> Result<f64> {
        Ok((self.function)(params, gradient))
    }
}

fn solve(
    dimension: usize,
    function: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    l1: &L1Penalty,
    options: &LbfgsOptions,
) -> (Solution, Vec<IterationRecord>) {
    let mut objective = Function {
        dimension,
        function,
    };
    let mut records = Vec::new();
    let solution = minimize(&mut objective, x0, Some(l1), options, &mut |r, _| {
        records.push(*r)
    })
    .expect("minimize");
    (solution, records)
}

/// Every step meets the condition that accepted it, from the trace:
/// OWL-QN's exact sufficient decrease, or (only with a noise allowance ε_f)
/// the approximate one, `F(x_{k+1}) ≤ F(x_k) + ε_f·|F(x_k)|` and
/// `final_change ≤ (2·c1 − 1)·linear_change` with the exact test failing;
/// F never rises at an exact step (near the optimum a step may lower it
/// by less than rounding), and at most by ε_f·|F| at an approximate one.
fn assert_sufficient_decrease(f0: f64, records: &[IterationRecord], options: &LbfgsOptions) {
    let (c1, noise) = (options.c1, options.objective_noise);
    let mut previous = f0;
    for record in records {
        let trace = &record.line_search;
        assert_eq!(trace.kind, LineSearchKind::OrthantBacktracking);
        assert_eq!(trace.initial_value, previous);
        assert!(trace.linear_change < 0.0, "{record:?}");
        let exact = trace.value <= trace.initial_value + c1 * trace.linear_change;
        match trace.accepted_by {
            Acceptance::Exact => {
                assert!(exact, "{record:?}");
                assert!(record.objective <= previous);
            }
            Acceptance::ApproximateWolfe => {
                assert!(!exact && noise > 0.0, "{record:?}");
                assert!(trace.value <= trace.initial_value + noise * previous.abs());
                assert!(
                    trace.final_change <= (2.0 * c1 - 1.0) * trace.linear_change,
                    "{record:?}"
                );
            }
        }
        previous = record.objective;
    }
}

/// `F(w, b) = 1/(2n)·‖X·w + b − y‖² + λ·‖w‖₁`: the lasso with an
/// unpenalized intercept, parameters `[w | b]`.
struct Lasso {
    rows: Vec<Vec<f64>>,
    targets: Vec<f64>,
}

impl Lasso {
    /// y = X·w_true + 3 + noise with a sparse w_true.
    fn seeded(rows: usize, seed: u64) -> Self {
        let truth = [2.0, -1.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.0];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut problem = Lasso {
            rows: Vec::new(),
            targets: Vec::new(),
        };
        for _ in 0..rows {
            let row: Vec<f64> = truth.iter().map(|_| rng.random_range(-1.0..1.0)).collect();
            let noise: f64 = rng.random_range(-0.5..0.5);
            let y = row.iter().zip(&truth).map(|(x, w)| x * w).sum::<f64>() + 3.0 + noise;
            problem.rows.push(row);
            problem.targets.push(y);
        }
        problem
    }

    fn features(&self) -> usize {
        self.rows[0].len()
    }

    fn residuals(&self, params: &[f64]) -> Vec<f64> {
        let (w, b) = params.split_at(self.features());
        self.rows
            .iter()
            .zip(&self.targets)
            .map(|(row, y)| row.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + b[0] - y)
            .collect()
    }

    /// The smooth part `1/(2n)·‖r‖²` and its gradient.
    fn smooth(&self, params: &[f64], gradient: &mut [f64]) -> f64 {
        let n = self.rows.len() as f64;
        let residuals = self.residuals(params);
        gradient.fill(0.0);
        for (row, r) in self.rows.iter().zip(&residuals) {
            for (g, x) in gradient.iter_mut().zip(row) {
                *g += x * r / n;
            }
            gradient[self.features()] += r / n;
        }
        residuals.iter().map(|r| r * r).sum::<f64>() / (2.0 * n)
    }

    /// The reference: cyclic proximal coordinate descent, `w_j ←
    /// S(x_jᵀ(r + x_j·w_j)/n, λ) / (‖x_j‖²/n)` with `S(z, λ) =
    /// sign(z)·max(|z| − λ, 0)`, then `b ← mean(y − X·w)`, until no
    /// coordinate moves by more than 1e-13.
    fn coordinate_descent(&self, lambda: f64) -> Vec<f64> {
        let (n, features) = (self.rows.len() as f64, self.features());
        let mut params = vec![0.0; features + 1];
        let column_norms: Vec<f64> = (0..features)
            .map(|j| self.rows.iter().map(|row| row[j] * row[j]).sum::<f64>() / n)
            .collect();
        for _ in 0..100_000 {
            let mut largest_change: f64 = 0.0;
            for j in 0..features {
                let residuals = self.residuals(&params);
                let z = self
                    .rows
                    .iter()
                    .zip(&residuals)
                    .map(|(row, r)| row[j] * (row[j] * params[j] - r))
                    .sum::<f64>()
                    / n;
                let updated = z.signum() * (z.abs() - lambda).max(0.0) / column_norms[j];
                largest_change = largest_change.max((updated - params[j]).abs());
                params[j] = updated;
            }
            let residuals = self.residuals(&params);
            let shift = residuals.iter().sum::<f64>() / n;
            params[features] -= shift;
            largest_change = largest_change.max(shift.abs());
            if largest_change < 1e-13 {
                return params;
            }
        }
        panic!("coordinate descent did not converge");
    }
}

/// Tolerances at f64's limit: ftol = 0 stops only on an iteration that
/// does not lower F at all (rounding), gtol at the first ‖◇F‖∞ ≤ 1e-9.
fn tight() -> LbfgsOptions {
    LbfgsOptions {
        gradient_tolerance: 1e-9,
        objective_tolerance: 0.0,
        max_iterations: 1000,
        ..LbfgsOptions::default()
    }
}

#[test]
fn owlqn_matches_coordinate_descent_with_exact_zeros() {
    let problem = Lasso::seeded(50, 13);
    let features = problem.features();
    for lambda in [0.05, 0.2] {
        let reference = problem.coordinate_descent(lambda);
        let zeros = reference[..features].iter().filter(|w| **w == 0.0).count();
        assert!(
            (3..features - 1).contains(&zeros),
            "λ = {lambda}: the reference has {zeros} zeros, too few or too many to test"
        );
        let l1 = L1Penalty::new(lambda, 0..features);
        let options = tight();
        let (solution, records) = solve(
            features + 1,
            |x: &[f64], g: &mut [f64]| problem.smooth(x, g),
            &vec![0.0; features + 1],
            &l1,
            &options,
        );
        assert!(
            solution.report.converged,
            "λ = {lambda}: {:?}",
            solution.report
        );
        for (j, (found, expected)) in solution.params.iter().zip(&reference).enumerate() {
            if j < features && *expected == 0.0 {
                assert_eq!(*found, 0.0, "λ = {lambda}: w_{j} should be exactly zero");
            } else {
                assert!(
                    (found - expected).abs() <= 1e-8 * expected.abs().max(1.0),
                    "λ = {lambda}, parameter {j}: {found} vs coordinate descent's {expected}"
                );
            }
        }
        // The pseudo-gradient at the result, from scratch.
        let mut gradient = vec![0.0; features + 1];
        let smooth = problem.smooth(&solution.params, &mut gradient);
        let objective = smooth + l1.value(&solution.params);
        assert!((objective - solution.report.objective).abs() <= 1e-15 * objective);
        let pseudo = l1.pseudo_gradient(&solution.params, &gradient);
        let largest = pseudo.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(largest <= 1e-9 * objective.max(1.0), "‖◇F‖∞ = {largest}");
        assert_eq!(largest, solution.report.gradient_max);
        let mut initial = vec![0.0; features + 1];
        let f0 = problem.smooth(&vec![0.0; features + 1], &mut initial);
        assert_sufficient_decrease(f0, &records, &options);
    }
}

#[test]
fn the_bias_is_never_penalized() {
    let problem = Lasso::seeded(50, 3);
    let features = problem.features();
    let mean = problem.targets.iter().sum::<f64>() / problem.targets.len() as f64;
    assert!(mean > 2.0, "the intercept should be far from 0: {mean}");
    // λ far above every |∂f/∂w_j| at w = 0: every weight is zero and the
    // bias is the mean of y, as without any penalty.
    let l1 = L1Penalty::new(100.0, 0..features);
    let (solution, _) = solve(
        features + 1,
        |x: &[f64], g: &mut [f64]| problem.smooth(x, g),
        &vec![0.5; features + 1],
        &l1,
        &tight(),
    );
    assert!(solution.report.converged);
    assert_eq!(&solution.params[..features], &vec![0.0; features][..]);
    assert!(
        (solution.params[features] - mean).abs() < 1e-7,
        "{:?} vs the mean {mean}",
        solution.params
    );
    let variance = problem
        .targets
        .iter()
        .map(|y| (y - mean).powi(2))
        .sum::<f64>()
        / (2.0 * problem.targets.len() as f64);
    assert!((solution.report.objective - variance).abs() < 1e-12);

    // lintrain's layout: P is W only.
    let on_weights = L1Penalty::on_weights(0.5, 4, 3);
    assert_eq!(on_weights.penalized, 0..12);
    let x: Vec<f64> = (0..15).map(|i| i as f64 - 7.0).collect();
    let expected = 0.5 * x[..12].iter().map(|v| v.abs()).sum::<f64>();
    assert_eq!(on_weights.value(&x), expected);
    let pseudo = on_weights.pseudo_gradient(&x, &[0.25; 15]);
    assert_eq!(
        &pseudo[12..],
        &[0.25; 3],
        "the bias's pseudo-gradient is ∂f"
    );
}

/// `F(x) = cos(x) + λ·|x|` from x = 0.2: the first step (one unit along
/// −◇F) crosses the concave part, so `sᵀy < 0`; the pair is skipped, the
/// next step starts again from −◇F without a reset, and F keeps falling to
/// a minimum, where `sin(x) = λ`.
#[test]
fn a_pair_without_positive_curvature_is_skipped_not_used() {
    let lambda = 0.01;
    let l1 = L1Penalty::new(lambda, 0..1);
    let cosine = |x: &[f64], g: &mut [f64]| {
        g[0] = -x[0].sin();
        x[0].cos()
    };
    let options = tight();
    let (solution, records) = solve(1, cosine, &[0.2], &l1, &options);
    let first = &records[0];
    assert!(first.curvature < 0.0, "{first:?}");
    assert!(first.pair_skipped);
    assert_eq!(first.stored_pairs, 0);
    assert!(
        !records[1].history_reset,
        "nothing was stored, so nothing to drop"
    );
    assert!(solution.skipped_pairs >= 1);
    assert_eq!(
        solution.skipped_pairs,
        records.iter().filter(|r| r.pair_skipped).count()
    );
    for record in &records {
        assert_eq!(record.pair_skipped, record.curvature <= 0.0, "{record:?}");
    }
    assert!(solution.report.converged, "{:?}", solution.report);
    // A minimum of cos(x) + λ·x for x > 0: sin(x) = λ with cos(x) < 0.
    let x = solution.params[0];
    assert!(
        x > 0.0 && x.cos() < 0.0 && (x.sin() - lambda).abs() < 1e-9,
        "{x}"
    );
    assert_sufficient_decrease(0.2f64.cos() + 0.2 * lambda, &records, &options);
}

/// A deterministic pseudo-random number in [−1, 1) from `x`'s bits and a
/// `salt` (splitmix64).
fn pseudo_noise(x: &[f64], salt: u64) -> f64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hash = x.iter().fold(mix(salt), |h, v| mix(h ^ v.to_bits()));
    (hash >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// The smooth part with a relative noise of 1e-7 on its value and an
/// absolute one of 1e-8 on its gradient (the L1 term is exact, as lintrain
/// adds it on the host): OWL-QN still reaches ‖◇F‖∞ ≤ 1e-6 and the
/// coordinate-descent solution with its exact zeros, accepting the last
/// steps by the approximate sufficient decrease, whose `final_change` is
/// checked here from the evaluations; without the allowance it does not.
#[test]
fn under_value_noise_owlqn_still_reaches_the_solution() {
    let problem = Lasso::seeded(50, 13);
    let features = problem.features();
    let lambda = 0.05;
    let reference = problem.coordinate_descent(lambda);
    let l1 = L1Penalty::new(lambda, 0..features);
    let noisy = |x: &[f64], g: &mut [f64]| {
        let f = problem.smooth(x, g);
        for (i, v) in g.iter_mut().enumerate() {
            *v += 1e-8 * pseudo_noise(x, 1 + i as u64);
        }
        f * (1.0 + 1e-7 * pseudo_noise(x, 0))
    };
    let options = LbfgsOptions {
        gradient_tolerance: 1e-6,
        ..LbfgsOptions::default()
    };
    let x0 = vec![0.0; features + 1];
    let mut evaluations = Vec::new();
    let logged = |x: &[f64], g: &mut [f64]| {
        let f = noisy(x, g);
        evaluations.push((x.to_vec(), f, g.to_vec()));
        f
    };
    let (solution, records) = solve(features + 1, logged, &x0, &l1, &options);
    assert_eq!(
        solution.report.reason,
        lintrain::StopReason::GradientTolerance,
        "{:?}",
        solution.report
    );
    let f0 = evaluations[0].1 + l1.value(&x0);
    assert_sufficient_decrease(f0, &records, &options);
    let mut approximate = 0;
    let mut at = 0;
    for record in &records {
        let next = record.function_evaluations - 1;
        let (x, _, _) = &evaluations[at];
        let (x_next, _, g_next) = &evaluations[next];
        at = next;
        if record.line_search.accepted_by != Acceptance::ApproximateWolfe {
            continue;
        }
        approximate += 1;
        // φ'(1) = (∇f(x_{k+1}) + λ·ξ)ᵀs: on P, ξ_i·s_i is sign(x_{k+1,i})·s_i
        // where x_{k+1,i} ≠ 0, and −|s_i| where the step stopped at 0.
        let expected: f64 = (0..=features)
            .map(|i| {
                let s = x_next[i] - x[i];
                let penalty = match (i < features, x_next[i]) {
                    (false, _) => 0.0,
                    (true, v) if v != 0.0 => lambda * v.signum() * s,
                    (true, _) => -lambda * s.abs(),
                };
                g_next[i] * s + penalty
            })
            .sum();
        let final_change = record.line_search.final_change;
        assert!(
            (final_change - expected).abs() <= 1e-9 * expected.abs().max(1e-12),
            "iteration {}: final change {final_change} vs {expected}",
            record.iteration
        );
    }
    assert!(
        approximate >= 1,
        "no approximate step: the test covers too little"
    );
    eprintln!(
        "{} iterations ({approximate} approximate), {} evaluations, ‖◇F‖∞ = {:.2e}",
        records.len(),
        solution.report.function_evaluations,
        solution.report.gradient_max
    );
    for (j, (found, expected)) in solution.params.iter().zip(&reference).enumerate() {
        if j < features && *expected == 0.0 {
            assert_eq!(*found, 0.0, "w_{j} should be exactly zero");
        } else {
            assert!(
                (found - expected).abs() <= 1e-5 * expected.abs().max(1.0),
                "parameter {j}: {found} vs coordinate descent's {expected}"
            );
        }
    }

    let exact_only = LbfgsOptions {
        objective_noise: 0.0,
        ..options
    };
    let (solution, records) = solve(features + 1, noisy, &x0, &l1, &exact_only);
    assert_ne!(
        solution.report.reason,
        lintrain::StopReason::GradientTolerance,
        "{:?}",
        solution.report
    );
    assert!(
        records
            .iter()
            .all(|r| r.line_search.accepted_by == Acceptance::Exact)
    );
}

/// A zero strength, or an empty P, is plain L-BFGS with its Wolfe search.
#[test]
fn an_inactive_penalty_is_plain_lbfgs() {
    let quadratic = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * (x[0] - 1.0);
        g[1] = 8.0 * (x[1] + 2.0);
        (x[0] - 1.0).powi(2) + 4.0 * (x[1] + 2.0).powi(2)
    };
    for l1 in [L1Penalty::new(0.0, 0..2), L1Penalty::new(5.0, 1..1)] {
        let (solution, records) = solve(2, quadratic, &[0.0, 0.0], &l1, &tight());
        assert!(solution.report.converged);
        assert!((solution.params[0] - 1.0).abs() < 1e-9 && (solution.params[1] + 2.0).abs() < 1e-9);
        assert!(
            records
                .iter()
                .all(|r| r.line_search.kind == LineSearchKind::StrongWolfe)
        );
    }
}

#[test]
fn an_invalid_penalty_is_refused() {
    let quadratic = |x: &[f64], g: &mut [f64]| {
        g.copy_from_slice(x);
        x.iter().map(|v| v * v / 2.0).sum()
    };
    for l1 in [
        L1Penalty::new(-1.0, 0..2),
        L1Penalty::new(f64::NAN, 0..2),
        L1Penalty::new(1.0, 0..3),
    ] {
        let mut objective = Function {
            dimension: 2,
            function: quadratic,
        };
        let result = minimize(
            &mut objective,
            &[1.0, 1.0],
            Some(&l1),
            &LbfgsOptions::default(),
            &mut |_, _| {},
        );
        assert!(
            matches!(result, Err(lintrain::Error::InvalidConfig(_))),
            "{l1:?}: {result:?}"
        );
    }
}
