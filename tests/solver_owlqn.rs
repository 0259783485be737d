//! Issue 13's OWL-QN through the public API: under L1 it reaches the
//! solution of a proximal coordinate descent written here, with exact
//! zeros where that solution has them; the bias is never penalized; pairs
//! without positive curvature (possible under its backtracking search) are
//! skipped and not used.

use lintrain::solver::{IterationRecord, L1Penalty, LineSearchKind, Solution, minimize};
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

/// OWL-QN's sufficient decrease on every step, and an objective that never
/// rises (near the optimum a step may lower it by less than rounding).
fn assert_sufficient_decrease(f0: f64, records: &[IterationRecord], c1: f64) {
    let mut previous = f0;
    for record in records {
        let trace = &record.line_search;
        assert_eq!(trace.kind, LineSearchKind::OrthantBacktracking);
        assert_eq!(trace.initial_value, previous);
        assert!(trace.linear_change < 0.0, "{record:?}");
        assert!(
            trace.value <= trace.initial_value + c1 * trace.linear_change,
            "{record:?}"
        );
        assert!(record.objective <= previous);
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
        assert_sufficient_decrease(f0, &records, options.c1);
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
    assert_sufficient_decrease(0.2f64.cos() + 0.2 * lambda, &records, options.c1);
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
