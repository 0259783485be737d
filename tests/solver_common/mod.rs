//! The objectives and checks that tests/solver.rs and
//! tests/solver_stopping.rs share: a logging objective, Rosenbrock, a
//! seeded softmax regression with its Newton reference, deterministic
//! pseudo-noise, and the checks of the strong Wolfe and approximate Wolfe
//! conditions and of the stopping rule.

#![allow(dead_code)]

use lintrain::solver::{Acceptance, IterationRecord, LineSearchKind, Solution, minimize};
use lintrain::{LbfgsOptions, Objective, Result, StopReason};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An objective from a closure `(x, gradient) -> f`, with every evaluation
/// logged: `(x, f, ∇f)`.
pub struct Logged<F> {
    pub dimension: usize,
    pub function: F,
    pub evaluations: Vec<(Vec<f64>, f64, Vec<f64>)>,
}

pub fn logged<F: FnMut(&[f64], &mut [f64]) -> f64>(dimension: usize, function: F) -> Logged<F> {
    Logged {
        dimension,
        function,
        evaluations: Vec::new(),
    }
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Objective for Logged<F> {
    fn dimension(&self) -> usize {
        self.dimension
    }

    fn value_and_gradient(&mut self, params: &[f64], gradient: &mut [f64]) -> Result<f64> {
        let value = (self.function)(params, gradient);
        self.evaluations
            .push((params.to_vec(), value, gradient.to_vec()));
        Ok(value)
    }
}

/// Runs `minimize` without L1 and returns the solution and the records.
pub fn solve(
    objective: &mut dyn Objective,
    x0: &[f64],
    options: &LbfgsOptions,
) -> (Solution, Vec<IterationRecord>) {
    let mut records = Vec::new();
    let solution =
        minimize(objective, x0, None, options, &mut |r, _| records.push(*r)).expect("minimize");
    (solution, records)
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m: f64, v| m.max(v.abs()))
}

pub fn rosenbrock(x: &[f64], gradient: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    gradient[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
    gradient[1] = 200.0 * (b - a * a);
    (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
}

/// A logged step x_k → x_{k+1}: the record and, from the evaluations the
/// objective saw (each iteration's last one is its accepted point),
/// `f_k`, `f_{k+1}`, `s = x_{k+1} − x_k`, `g_kᵀs`, `g_{k+1}ᵀs`, and the
/// relative error that rounding in s may put on the slopes.
struct LoggedStep<'a> {
    record: &'a IterationRecord,
    f: f64,
    f_next: f64,
    slope: f64,
    slope_next: f64,
    g_next_max: f64,
    s: Vec<f64>,
    rounding: f64,
}

fn logged_steps<'a>(
    evaluations: &[(Vec<f64>, f64, Vec<f64>)],
    records: &'a [IterationRecord],
) -> Vec<LoggedStep<'a>> {
    let mut at = 0;
    records
        .iter()
        .map(|record| {
            let next = record.function_evaluations - 1;
            let (x, f, g) = &evaluations[at];
            let (x_next, f_next, g_next) = &evaluations[next];
            let s: Vec<f64> = x_next.iter().zip(x).map(|(a, b)| a - b).collect();
            at = next;
            // s = x_{k+1} − x_k carries the rounding of x, relatively
            // large when the step is short; its effect on the slopes is
            // bounded by `rounding`.
            let rounding = 64.0 * f64::EPSILON * max_abs(x_next) / max_abs(&s);
            LoggedStep {
                record,
                f: *f,
                f_next: *f_next,
                slope: dot(g, &s),
                slope_next: dot(g_next, &s),
                g_next_max: max_abs(g_next),
                s,
                rounding,
            }
        })
        .collect()
}

/// What every accepted L-BFGS step shares, whichever condition accepted
/// it: a descent step, a trace that matches the logs, and the curvature
/// condition `|g_{k+1}ᵀs| ≤ c2·|g_kᵀs|` (both conditions are invariant
/// to scaling d).
fn assert_common(step: &LoggedStep, options: &LbfgsOptions) {
    let (record, k) = (step.record, step.record.iteration);
    let (slope, slope_next) = (step.slope, step.slope_next);
    assert!(
        slope < 0.0,
        "iteration {k}: not a descent step, gᵀs = {slope}"
    );
    assert!(
        slope_next.abs() <= options.c2 * slope.abs() * (1.0 + 1e-12 + step.rounding),
        "iteration {k}: curvature fails: |{slope_next}| > {}·|{slope}|",
        options.c2
    );
    let trace = &record.line_search;
    assert_eq!(trace.kind, LineSearchKind::StrongWolfe);
    assert_eq!((trace.initial_value, trace.value), (step.f, step.f_next));
    assert_eq!(record.objective, step.f_next);
    assert_eq!(record.gradient_max, step.g_next_max);
    let ratio = trace.slope / trace.initial_slope;
    assert!(
        (ratio - slope_next / slope).abs() <= (1e-9 + step.rounding) * (1.0 + ratio.abs()),
        "iteration {k}: trace ratio {ratio} vs {} from s = {:?}",
        slope_next / slope,
        step.s
    );
    assert!(trace.slope.abs() <= options.c2 * trace.initial_slope.abs());
    assert_eq!(
        trace.linear_change,
        record.step_length * trace.initial_slope
    );
    assert_eq!(trace.final_change, record.step_length * trace.slope);
}

/// Checks, for every step accepted by the exact conditions
/// ([`Acceptance::Exact`]), the strong Wolfe conditions from the logged
/// values and gradients: `f_{k+1} ≤ f_k + c1·g_kᵀs` and
/// `|g_{k+1}ᵀs| ≤ c2·|g_kᵀs|`; and that the records' traces say the same.
/// With `objective_noise = 0` every step must be such a step. Returns the
/// number of steps checked.
pub fn assert_strong_wolfe(
    evaluations: &[(Vec<f64>, f64, Vec<f64>)],
    records: &[IterationRecord],
    options: &LbfgsOptions,
) -> usize {
    let mut checked = 0;
    for step in logged_steps(evaluations, records) {
        let trace = &step.record.line_search;
        if options.objective_noise == 0.0 {
            assert_eq!(
                trace.accepted_by,
                Acceptance::Exact,
                "iteration {}: without a noise allowance only exact steps are accepted",
                step.record.iteration
            );
        }
        if trace.accepted_by != Acceptance::Exact {
            continue;
        }
        assert_common(&step, options);
        let (f, f_next, slope) = (step.f, step.f_next, step.slope);
        let rounding = 4.0 * f64::EPSILON * f.abs();
        assert!(
            f_next <= f + options.c1 * slope + rounding,
            "iteration {}: sufficient decrease fails: {f_next} > {f} + {}·{slope}",
            step.record.iteration,
            options.c1
        );
        assert!(trace.value <= trace.initial_value + options.c1 * trace.linear_change);
        checked += 1;
    }
    checked
}

/// Checks, for every step accepted by the approximate Wolfe conditions
/// ([`Acceptance::ApproximateWolfe`]), those conditions from the logged
/// values and gradients (lintrain::solver::acceptance, ε_f =
/// `objective_noise`): `f_{k+1} ≤ f_k + ε_f·|f_k|`,
/// `g_{k+1}ᵀs ≤ (2·c1 − 1)·g_kᵀs` and `|g_{k+1}ᵀs| ≤ c2·|g_kᵀs|`; that the
/// exact sufficient decrease did fail (else the step would be exact); and
/// that the records' traces say the same. Returns the number of steps
/// checked.
pub fn assert_approximate_wolfe(
    evaluations: &[(Vec<f64>, f64, Vec<f64>)],
    records: &[IterationRecord],
    options: &LbfgsOptions,
) -> usize {
    let mut checked = 0;
    for step in logged_steps(evaluations, records) {
        let trace = &step.record.line_search;
        if trace.accepted_by != Acceptance::ApproximateWolfe {
            continue;
        }
        let k = step.record.iteration;
        assert!(options.objective_noise > 0.0);
        assert_common(&step, options);
        let (f, f_next, slope, slope_next) = (step.f, step.f_next, step.slope, step.slope_next);
        assert!(
            f_next <= f + options.objective_noise * f.abs(),
            "iteration {k}: {f_next} is above the noise band of {f}"
        );
        let factor = 2.0 * options.c1 - 1.0;
        assert!(
            slope_next <= factor * slope + (1e-12 + step.rounding) * slope.abs(),
            "iteration {k}: approximate sufficient decrease fails: {slope_next} > {factor}·{slope}"
        );
        assert!(
            trace.value > trace.initial_value + options.c1 * trace.linear_change,
            "iteration {k}: exact sufficient decrease holds, so the step is exact"
        );
        assert!(trace.value <= trace.initial_value + options.objective_noise * f.abs());
        assert!(trace.final_change <= factor * trace.linear_change);
        checked += 1;
    }
    checked
}

/// Both checks above: every accepted step meets the conditions that
/// accepted it. Returns (exact, approximate) step counts.
pub fn assert_accepted_steps(
    evaluations: &[(Vec<f64>, f64, Vec<f64>)],
    records: &[IterationRecord],
    options: &LbfgsOptions,
) -> (usize, usize) {
    let exact = assert_strong_wolfe(evaluations, records, options);
    let approximate = assert_approximate_wolfe(evaluations, records, options);
    assert_eq!(exact + approximate, records.len());
    (exact, approximate)
}

/// Checks the stopping rule of `minimize` on a finished run: no record
/// before the last meets a stopping condition, and the last one meets the
/// reported reason's (f₀ and ‖g₀‖∞ are those at x₀).
pub fn assert_stopping_rule(
    f0: f64,
    g0_max: f64,
    records: &[IterationRecord],
    solution: &Solution,
    options: &LbfgsOptions,
) {
    let gradient_stops =
        |f: f64, g_max: f64| g_max <= options.gradient_tolerance * f.abs().max(1.0);
    // The relative-decrease test applies to decreases the values vouch
    // for: exact steps, or a decrease beyond the noise level.
    let objective_stops = |previous: f64, f: f64, by: Acceptance| {
        let vouched_for =
            by == Acceptance::Exact || previous - f > options.objective_noise * previous.abs();
        vouched_for
            && previous - f <= options.objective_tolerance * previous.abs().max(f.abs()).max(1.0)
    };
    let report = &solution.report;
    assert_eq!(report.iterations, records.len());
    assert_eq!(report.converged, report.reason.converged());
    if records.is_empty() {
        assert_eq!(report.reason, StopReason::GradientTolerance);
        assert!(gradient_stops(f0, g0_max));
        return;
    }
    assert!(!gradient_stops(f0, g0_max), "should have stopped at x0");
    let mut previous = f0;
    for (i, record) in records.iter().enumerate() {
        let gradient = gradient_stops(record.objective, record.gradient_max);
        let objective = objective_stops(previous, record.objective, record.line_search.accepted_by);
        if i + 1 < records.len() {
            assert!(
                !gradient && !objective,
                "iteration {} meets a stopping condition but the run went on",
                record.iteration
            );
            previous = record.objective;
            continue;
        }
        match report.reason {
            StopReason::GradientTolerance => assert!(gradient),
            StopReason::ObjectiveTolerance => assert!(!gradient && objective),
            StopReason::IterationLimit => {
                assert!(!gradient && !objective);
                assert_eq!(records.len(), options.max_iterations);
            }
            other => panic!("unexpected stop: {other:?}"),
        }
        assert_eq!(report.objective, record.objective);
        assert_eq!(report.gradient_max, record.gradient_max);
    }
}

/// f falls at every exact step (sufficient decrease asks
/// `f_{k+1} ≤ f_k + c1·α·φ'(0) < f_k`), and rises at most by the noise
/// allowance `objective_noise·|f_k|` at an approximate one.
pub fn assert_monotone(f0: f64, records: &[IterationRecord], options: &LbfgsOptions) {
    let mut previous = f0;
    for record in records {
        let k = record.iteration;
        let f = record.objective;
        match record.line_search.accepted_by {
            Acceptance::Exact => {
                assert!(f < previous, "iteration {k}: f went from {previous} to {f}")
            }
            Acceptance::ApproximateWolfe => assert!(
                f <= previous + options.objective_noise * previous.abs(),
                "iteration {k}: f went from {previous} to {f}, beyond the noise allowance"
            ),
        }
        previous = f;
    }
}

/// A deterministic pseudo-random number in [−1, 1) from `x`'s bits and a
/// `salt` (splitmix64): noise that is the same at the same point, as the
/// backends' rounding is.
pub fn pseudo_noise(x: &[f64], salt: u64) -> f64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hash = x
        .iter()
        .fold(mix(salt.wrapping_add(0x9e37_79b9_7f4a_7c15)), |h, v| {
            mix(h ^ v.to_bits()).wrapping_add(0x9e37_79b9_7f4a_7c15)
        });
    (hash >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// A seeded softmax regression: `f(W, b) = (1/n)·Σ_i −log p_{i,y_i} +
/// λ·ΣW²`, `p_i = softmax(x_iᵀW + b)`, parameters `[W (D×C row-major) | b]`.
/// Labels are drawn from a random true model's probabilities, so the
/// classes overlap.
pub struct Softmax {
    pub rows: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    pub features: usize,
    pub classes: usize,
    pub l2: f64,
}

impl Softmax {
    pub fn seeded(rows: usize, features: usize, classes: usize, l2: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let truth: Vec<f64> = (0..(features + 1) * classes)
            .map(|_| rng.random_range(-1.5..1.5))
            .collect();
        let mut problem = Softmax {
            rows: Vec::new(),
            labels: Vec::new(),
            features,
            classes,
            l2,
        };
        for _ in 0..rows {
            let row: Vec<f64> = (0..features).map(|_| rng.random_range(-2.0..2.0)).collect();
            let p = problem.probabilities(&truth, &row);
            let u: f64 = rng.random();
            let mut label = 0;
            let mut cumulative = p[0];
            while u > cumulative && label + 1 < classes {
                label += 1;
                cumulative += p[label];
            }
            problem.rows.push(row);
            problem.labels.push(label);
        }
        problem
    }

    pub fn dimension(&self) -> usize {
        (self.features + 1) * self.classes
    }

    /// Entry (d, c) of the augmented matrix [W; b]: d = D is the bias.
    pub fn index(&self, d: usize, c: usize) -> usize {
        d * self.classes + c
    }

    /// The row with a trailing 1 for the bias.
    pub fn augmented(&self, row: &[f64]) -> Vec<f64> {
        row.iter().copied().chain([1.0]).collect()
    }

    pub fn probabilities(&self, params: &[f64], row: &[f64]) -> Vec<f64> {
        let row = self.augmented(row);
        let scores: Vec<f64> = (0..self.classes)
            .map(|c| {
                (0..=self.features)
                    .map(|d| row[d] * params[self.index(d, c)])
                    .sum()
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }

    pub fn value_and_gradient(&self, params: &[f64], gradient: &mut [f64]) -> f64 {
        let n = self.rows.len() as f64;
        gradient.fill(0.0);
        let mut loss = 0.0;
        for (row, &label) in self.rows.iter().zip(&self.labels) {
            let p = self.probabilities(params, row);
            loss -= p[label].ln() / n;
            let row = self.augmented(row);
            for c in 0..self.classes {
                let dscore = (p[c] - f64::from(c == label)) / n;
                for d in 0..=self.features {
                    gradient[self.index(d, c)] += row[d] * dscore;
                }
            }
        }
        for i in 0..self.features * self.classes {
            loss += self.l2 * params[i] * params[i];
            gradient[i] += 2.0 * self.l2 * params[i];
        }
        loss
    }

    /// `∇²f = (1/n)·Σ_i (diag(p_i) − p_i·p_iᵀ) ⊗ x̃_i·x̃_iᵀ + 2λ·I_W`.
    pub fn hessian(&self, params: &[f64]) -> Vec<Vec<f64>> {
        let size = self.dimension();
        let n = self.rows.len() as f64;
        let mut hessian = vec![vec![0.0; size]; size];
        for row in &self.rows {
            let p = self.probabilities(params, row);
            let row = self.augmented(row);
            for (d, e) in (0..=self.features).flat_map(|d| (0..=self.features).map(move |e| (d, e)))
            {
                for c in 0..self.classes {
                    for k in 0..self.classes {
                        let curvature = p[c] * (f64::from(c == k) - p[k]);
                        hessian[self.index(d, c)][self.index(e, k)] +=
                            row[d] * row[e] * curvature / n;
                    }
                }
            }
        }
        for (i, row) in hessian
            .iter_mut()
            .enumerate()
            .take(self.features * self.classes)
        {
            row[i] += 2.0 * self.l2;
        }
        hessian
    }

    /// The reference optimum: Newton's method from 0, in f64. The bias is
    /// not penalized, so ∇²f is singular along `u` = (b all ones)/√C, along
    /// which f is constant and ∇f has no component; solving with
    /// `∇²f + u·uᵀ` gives the step orthogonal to u.
    pub fn newton(&self) -> Vec<f64> {
        let size = self.dimension();
        let mut x = vec![0.0; size];
        let mut gradient = vec![0.0; size];
        for _ in 0..50 {
            let f = self.value_and_gradient(&x, &mut gradient);
            if max_abs(&gradient) < 1e-15 {
                break;
            }
            let mut hessian = self.hessian(&x);
            let bias = self.features * self.classes..size;
            for i in bias.clone() {
                for j in bias.clone() {
                    hessian[i][j] += 1.0 / self.classes as f64;
                }
            }
            let step = solve_linear(hessian, gradient.clone());
            // Halving keeps Newton monotone (up to f's rounding); near the
            // optimum t = 1.
            let mut t = 1.0;
            let mut scratch = vec![0.0; size];
            loop {
                let trial: Vec<f64> = x.iter().zip(&step).map(|(x, s)| x - t * s).collect();
                let rounding = 1e-14 * f.abs();
                if self.value_and_gradient(&trial, &mut scratch) <= f + rounding || t < 1e-10 {
                    x = trial;
                    break;
                }
                t *= 0.5;
            }
        }
        self.value_and_gradient(&x, &mut gradient);
        assert!(
            max_abs(&gradient) < 1e-13,
            "Newton did not converge: {gradient:?}"
        );
        x
    }
}

/// Solves `A·z = r` by Gaussian elimination with partial pivoting.
pub fn solve_linear(mut a: Vec<Vec<f64>>, mut r: Vec<f64>) -> Vec<f64> {
    let n = r.len();
    for column in 0..n {
        let pivot = (column..n)
            .max_by(|&i, &j| a[i][column].abs().total_cmp(&a[j][column].abs()))
            .unwrap();
        a.swap(column, pivot);
        r.swap(column, pivot);
        assert!(a[column][column].abs() > 1e-12, "singular system");
        let (upper, lower) = a.split_at_mut(column + 1);
        let pivot_row = &upper[column];
        for (offset, row) in lower.iter_mut().enumerate() {
            let factor = row[column] / pivot_row[column];
            for (entry, pivot_entry) in row[column..].iter_mut().zip(&pivot_row[column..]) {
                *entry -= factor * pivot_entry;
            }
            r[column + 1 + offset] -= factor * r[column];
        }
    }
    let mut z = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * z[k]).sum();
        z[row] = (r[row] - tail) / a[row][row];
    }
    z
}

/// W as it is and b centred (f is invariant to adding a constant to b).
pub fn identifiable(problem: &Softmax, params: &[f64]) -> Vec<f64> {
    let weights = problem.features * problem.classes;
    let mean = params[weights..].iter().sum::<f64>() / problem.classes as f64;
    params[..weights]
        .iter()
        .copied()
        .chain(params[weights..].iter().map(|b| b - mean))
        .collect()
}
