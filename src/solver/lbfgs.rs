//! The quasi-Newton driver: L-BFGS (Nocedal & Wright 2006, *Numerical
//! Optimization*, 2nd ed., ch. 6–7, Algorithm 7.5) with the strong-Wolfe
//! search of [`super::line_search`], or OWL-QN ([`super::owlqn`]) when an
//! L1 term is on. Everything runs in f64 on the host; the objective is
//! evaluated through [`Objective`], once per trial step. Both searches
//! tolerate noise in the objective's values (see [`super::acceptance`]).

use super::acceptance::Acceptance;
use super::history::CorrectionHistory;
use super::line_search::{Sample, SearchOutcome, strong_wolfe};
use super::owlqn::{L1Penalty, orthant_backtracking};
use super::vector::{difference, dot, max_abs, negated, norm};
use super::{LbfgsOptions, Objective, SolverReport, StopReason};
use crate::{Error, Result};

/// Which line search produced a step, and so which conditions it meets
/// when [`Acceptance::Exact`] accepted it (for
/// [`Acceptance::ApproximateWolfe`], see [`LineSearchTrace::accepted_by`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSearchKind {
    /// L-BFGS: the strong Wolfe conditions,
    /// `φ(α) ≤ φ(0) + c1·α·φ'(0)` and `|φ'(α)| ≤ c2·|φ'(0)|`.
    StrongWolfe,
    /// OWL-QN: sufficient decrease only,
    /// `φ(α) ≤ φ(0) + c1·◇F(x_k)ᵀ(x_{k+1} − x_k)`.
    OrthantBacktracking,
}

/// The accepted step of one iteration along its direction d, in terms of
/// `φ(α) = F(x_k + α·d)` (under OWL-QN, of the projected point), enough
/// to check the line search's conditions from outside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSearchTrace {
    pub kind: LineSearchKind,
    /// Which conditions accepted the step. [`Acceptance::Exact`]: those
    /// of `kind`. [`Acceptance::ApproximateWolfe`] (only with
    /// `objective_noise` ε_f > 0): in the fields below,
    /// `value ≤ initial_value + ε_f·|initial_value|` and
    /// `final_change ≤ (2·c1 − 1)·linear_change`, and for
    /// [`LineSearchKind::StrongWolfe`] also the curvature condition
    /// `|slope| ≤ c2·|initial_slope|` (see [`super::acceptance`]).
    pub accepted_by: Acceptance,
    /// φ(0) = F(x_k).
    pub initial_value: f64,
    /// φ'(0) = gᵀd, g the (pseudo-)gradient at x_k: negative.
    pub initial_slope: f64,
    /// φ(α) = F(x_{k+1}).
    pub value: f64,
    /// φ'(α) = g(x_{k+1})ᵀd.
    pub slope: f64,
    /// The first-order change that sufficient decrease scales by c1:
    /// α·φ'(0) for [`LineSearchKind::StrongWolfe`],
    /// `◇F(x_k)ᵀ(x_{k+1} − x_k)` for [`LineSearchKind::OrthantBacktracking`].
    pub linear_change: f64,
    /// The same first-order change measured at the end of the step, which
    /// the approximate Wolfe conditions compare with `linear_change`:
    /// α·φ'(α) for [`LineSearchKind::StrongWolfe`];
    /// `(∇f(x_{k+1}) + λ₁·ξ)ᵀ(x_{k+1} − x_k)` for
    /// [`LineSearchKind::OrthantBacktracking`], the derivative of F
    /// restricted to the step's orthant ξ (see [`super::owlqn`], step 5).
    pub final_change: f64,
    /// Objective evaluations of this search (a failed search that was
    /// retried from the steepest-descent direction not included).
    pub evaluations: usize,
}

/// What [`minimize`] reports after each accepted iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterationRecord {
    /// 1-based.
    pub iteration: usize,
    /// F(x_{k+1}), the L1 term included.
    pub objective: f64,
    /// `‖g(x_{k+1})‖∞`, g the (pseudo-)gradient.
    pub gradient_max: f64,
    /// The accepted step length α.
    pub step_length: f64,
    /// Objective evaluations so far, the one at x₀ included.
    pub function_evaluations: usize,
    /// `sᵀy` of this iteration's pair (smooth gradients).
    pub curvature: f64,
    /// Whether the pair was skipped (`sᵀy ≤ ε·yᵀy`, see
    /// [`super::history`]) rather than stored.
    pub pair_skipped: bool,
    /// Pairs stored after this iteration.
    pub stored_pairs: usize,
    /// Whether the pairs were dropped before this step (a direction that
    /// did not descend, or a failed line search retried from −g).
    pub history_reset: bool,
    pub line_search: LineSearchTrace,
}

/// The result of [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// The parameters at the result: the last accepted iterate, or, after
    /// a failed line search, the lowest trial of that search if it is
    /// lower (never a point above it).
    pub params: Vec<f64>,
    pub report: SolverReport,
    /// Pairs skipped by the curvature rule.
    pub skipped_pairs: usize,
    /// Times the pairs were dropped and the step retried from −g.
    pub history_resets: usize,
}

/// Minimizes `F(x) = f(x) + λ₁·Σ_{i∈P}|x_i|` from `x0`: f is `objective`,
/// the L1 term is `l1` (None, or λ₁ = 0, or an empty P: plain L-BFGS;
/// otherwise OWL-QN). Warm start is `x0` = a previous solution.
///
/// Each iteration computes `d = −H·g` (g = ∇F, or the pseudo-gradient ◇F
/// under L1; H from the newest `options.history` pairs by the two-loop
/// recursion, see [`super::history`]), searches along d (the strong Wolfe
/// conditions with `options.c1`, `options.c2` for L-BFGS, see
/// [`super::line_search`]; OWL-QN's projected backtracking, see
/// [`super::owlqn`]; in both, where the values are within
/// `options.objective_noise` of the start, Hager & Zhang's approximate
/// Wolfe conditions, see [`super::acceptance`]), at most
/// `options.max_line_search_evaluations` evaluations, and stores the pair
/// `(s, y)` unless its curvature is too small. The first trial step is 1, except `1/‖d‖₂` while no pair is
/// stored (the first iteration, after a reset, or when every pair so far
/// was skipped), where d = −g is unscaled (scipy's L-BFGS-B does the same).
///
/// # Stopping rule
///
/// With `f_k = F(x_k)` and `g_k` the (pseudo-)gradient at x_k, checked in
/// this order:
/// 1. at x₀, before any iteration: `‖g_0‖∞ ≤ gradient_tolerance·max(1, |f_0|)`
///    → [`StopReason::GradientTolerance`] with 0 iterations (a converged
///    warm start costs one evaluation);
/// 2. before iteration k+1: `k = max_iterations` → [`StopReason::IterationLimit`];
/// 3. after each accepted iteration:
///    `‖g_{k+1}‖∞ ≤ gradient_tolerance·max(1, |f_{k+1}|)`
///    → [`StopReason::GradientTolerance`], else, if the decrease is one the
///    values vouch for, that is, the step was accepted by the exact
///    conditions ([`Acceptance::Exact`]: `f_{k+1} ≤ f_k + c1·ℓ_k`, ℓ_k < 0
///    the trace's `linear_change`) or `f_k − f_{k+1} > objective_noise·|f_k|`:
///    `f_k − f_{k+1} ≤ objective_tolerance·max(|f_k|, |f_{k+1}|, 1)`
///    → [`StopReason::ObjectiveTolerance`]. After a step accepted only by
///    the approximate Wolfe conditions whose decrease is within the noise
///    level, the values' change is noise (it may even be an increase of up
///    to `objective_noise·|f_k|`), so it is no sign of convergence and the
///    run goes on. An exact step can leave f unchanged only when `c1·ℓ_k`
///    is below f64's rounding of f_k, where the gradient itself says that
///    the decrease left, about `|ℓ_k|/2`, is negligible: stopping is right;
/// 4. a failed line search drops the pairs and retries from −g, as scipy's
///    L-BFGS-B does; a failure with no pairs stored →
///    [`StopReason::LineSearchFailed`], the result being the lowest trial
///    of the failed searches when it is below f_k, else x_k.
///
/// The first two reasons mean converged. scikit-learn's
/// `LogisticRegression(solver="lbfgs", tol=tol)` calls scipy's L-BFGS-B
/// with `gtol = tol` and `ftol = 64·ε`, which stops when
/// `max_i |proj g_i| ≤ gtol` (absolute, no `max(1, |f|)` factor; the same
/// where |f| ≤ 1, and scikit-learn scales its loss by 1/n so that f is
/// usually below 1) or when `(f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ ftol`
/// (the rule of step 3, without its noise exception: scipy's search
/// accepts exact decreases only); [`LbfgsOptions::default`] has those
/// values.
///
/// `on_iteration` sees every accepted iteration, with its point x_{k+1}.
///
/// # Errors
///
/// An invalid `options` or `l1`, or an `x0` whose length is not the
/// objective's dimension: [`Error::InvalidConfig`] /
/// [`Error::ShapeMismatch`]. A non-finite `F(x0)` or gradient there:
/// [`Error::Diverged`] with epoch 0, step 0 and the offending value. Any
/// error of the objective, as it is. Not converging is not an error: the
/// report says so. (Non-finite values at trial steps only shrink the step.)
pub fn minimize(
    objective: &mut dyn Objective,
    x0: &[f64],
    l1: Option<&L1Penalty>,
    options: &LbfgsOptions,
    on_iteration: &mut dyn FnMut(&IterationRecord, &[f64]),
) -> Result<Solution> {
    validate(objective.dimension(), x0, l1, options)?;
    let l1 = l1.filter(|penalty| penalty.is_active());
    let mut gradient = vec![0.0; x0.len()];
    let smooth = objective.value_and_gradient(x0, &mut gradient)?;
    let value = smooth + l1.map_or(0.0, |penalty| penalty.value(x0));
    if !value.is_finite() {
        return Err(diverged_at_start(value));
    }
    if let Some(&bad) = gradient.iter().find(|g| !g.is_finite()) {
        return Err(diverged_at_start(bad));
    }
    let mut run = Run {
        objective,
        l1,
        options,
        history: CorrectionHistory::new(options.history),
        current: Iterate::new(x0.to_vec(), value, gradient, l1),
        iterations: 0,
        evaluations: 1,
        skipped_pairs: 0,
        history_resets: 0,
    };
    let reason = run.iterate(on_iteration)?;
    let Run { current, .. } = run;
    Ok(Solution {
        report: SolverReport {
            converged: reason.converged(),
            reason,
            iterations: run.iterations,
            function_evaluations: run.evaluations,
            objective: current.value,
            gradient_max: max_abs(&current.descent_gradient),
        },
        params: current.x,
        skipped_pairs: run.skipped_pairs,
        history_resets: run.history_resets,
    })
}

fn diverged_at_start(value: f64) -> Error {
    Error::Diverged {
        epoch: 0,
        step: 0,
        loss: value as f32,
    }
}

fn validate(
    dimension: usize,
    x0: &[f64],
    l1: Option<&L1Penalty>,
    options: &LbfgsOptions,
) -> Result<()> {
    if x0.len() != dimension {
        return Err(Error::ShapeMismatch {
            op: "minimize",
            detail: format!(
                "x0 has {} entries, the objective {dimension} parameters",
                x0.len()
            ),
        });
    }
    options.check().map_err(Error::InvalidConfig)?;
    l1.map_or(Ok(()), |penalty| penalty.validate(dimension))
}

/// An iterate: x, F(x), the smooth gradient ∇f(x) (for the pairs) and the
/// gradient that directions and stopping use (◇F under L1, else ∇f).
struct Iterate {
    x: Vec<f64>,
    value: f64,
    gradient: Vec<f64>,
    descent_gradient: Vec<f64>,
}

impl Iterate {
    fn new(x: Vec<f64>, value: f64, gradient: Vec<f64>, l1: Option<&L1Penalty>) -> Self {
        let descent_gradient = match l1 {
            Some(penalty) => penalty.pseudo_gradient(&x, &gradient),
            None => gradient.clone(),
        };
        Self {
            x,
            value,
            gradient,
            descent_gradient,
        }
    }

    fn gradient_converged(&self, tolerance: f64) -> bool {
        max_abs(&self.descent_gradient) <= tolerance * self.value.abs().max(1.0)
    }
}

struct Run<'a> {
    objective: &'a mut dyn Objective,
    l1: Option<&'a L1Penalty>,
    options: &'a LbfgsOptions,
    history: CorrectionHistory,
    current: Iterate,
    iterations: usize,
    evaluations: usize,
    skipped_pairs: usize,
    history_resets: usize,
}

impl Run<'_> {
    /// The loop of [`minimize`], up to its stopping rule.
    fn iterate(
        &mut self,
        on_iteration: &mut dyn FnMut(&IterationRecord, &[f64]),
    ) -> Result<StopReason> {
        let options = self.options;
        if self.current.gradient_converged(options.gradient_tolerance) {
            return Ok(StopReason::GradientTolerance);
        }
        // The lowest trial of failed searches from the current iterate.
        let mut lowest_failed = None;
        let mut reset = false;
        loop {
            if self.iterations >= options.max_iterations {
                return Ok(StopReason::IterationLimit);
            }
            let Some((direction, slope)) = self.direction(&mut reset) else {
                return Ok(StopReason::LineSearchFailed);
            };
            let initial_step = if self.history.is_empty() {
                1.0 / norm(&direction)
            } else {
                1.0
            };
            let current = &self.current;
            let (outcome, evaluations) = match self.l1 {
                None => strong_wolfe(
                    self.objective,
                    &current.x,
                    current.value,
                    slope,
                    &direction,
                    initial_step,
                    options,
                )?,
                Some(penalty) => orthant_backtracking(
                    self.objective,
                    penalty,
                    &current.x,
                    current.value,
                    &current.descent_gradient,
                    &direction,
                    initial_step,
                    options,
                )?,
            };
            self.evaluations += evaluations;
            let (sample, accepted_by, final_change) = match outcome {
                SearchOutcome::Accepted {
                    sample,
                    by,
                    final_change,
                } => (sample, by, final_change),
                SearchOutcome::Failed { lowest } => {
                    lowest_failed = lower(lowest_failed, lowest);
                    if self.history.is_empty() {
                        if let Some(lowest) = lowest_failed {
                            self.current =
                                Iterate::new(lowest.point, lowest.value, lowest.gradient, self.l1);
                        }
                        return Ok(StopReason::LineSearchFailed);
                    }
                    self.history.clear();
                    self.history_resets += 1;
                    reset = true;
                    continue;
                }
            };
            lowest_failed = None;
            let next = Iterate::new(sample.point, sample.value, sample.gradient, self.l1);
            let s = difference(&next.x, &self.current.x);
            let y = difference(&next.gradient, &self.current.gradient);
            let curvature = dot(&s, &y);
            let linear_change = match self.l1 {
                None => sample.step * slope,
                Some(_) => dot(&self.current.descent_gradient, &s),
            };
            let stored = self.history.push(s, y);
            self.skipped_pairs += usize::from(!stored);
            self.iterations += 1;
            on_iteration(
                &IterationRecord {
                    iteration: self.iterations,
                    objective: next.value,
                    gradient_max: max_abs(&next.descent_gradient),
                    step_length: sample.step,
                    function_evaluations: self.evaluations,
                    curvature,
                    pair_skipped: !stored,
                    stored_pairs: self.history.len(),
                    history_reset: std::mem::take(&mut reset),
                    line_search: LineSearchTrace {
                        kind: match self.l1 {
                            None => LineSearchKind::StrongWolfe,
                            Some(_) => LineSearchKind::OrthantBacktracking,
                        },
                        accepted_by,
                        initial_value: self.current.value,
                        initial_slope: slope,
                        value: next.value,
                        slope: dot(&next.descent_gradient, &direction),
                        linear_change,
                        final_change,
                        evaluations,
                    },
                },
                &next.x,
            );
            let previous = std::mem::replace(&mut self.current, next);
            let value = self.current.value;
            if self.current.gradient_converged(options.gradient_tolerance) {
                return Ok(StopReason::GradientTolerance);
            }
            let decrease = previous.value - value;
            let vouched_for = accepted_by == Acceptance::Exact
                || decrease > options.objective_noise * previous.value.abs();
            let decrease_floor =
                options.objective_tolerance * previous.value.abs().max(value.abs()).max(1.0);
            if vouched_for && decrease <= decrease_floor {
                return Ok(StopReason::ObjectiveTolerance);
            }
        }
    }

    /// `d = −H·g` (constrained to the orthant under L1) and `φ'(0) = gᵀd`,
    /// falling back to `d = −g` with the pairs dropped when d does not
    /// descend. None when not even −g descends (g has no finite nonzero
    /// entry, which the gradient test normally stops before).
    fn direction(&mut self, reset: &mut bool) -> Option<(Vec<f64>, f64)> {
        let g = &self.current.descent_gradient;
        let mut direction = negated(&self.history.apply_inverse_hessian(g));
        if let Some(penalty) = self.l1 {
            penalty.constrain_direction(&mut direction, g);
        }
        let slope = dot(g, &direction);
        if slope < 0.0 {
            return Some((direction, slope));
        }
        if self.history.is_empty() {
            return None;
        }
        self.history.clear();
        self.history_resets += 1;
        *reset = true;
        let direction = negated(g);
        let slope = dot(g, &direction);
        (slope < 0.0).then_some((direction, slope))
    }
}

/// The lower of two optional trials.
fn lower(a: Option<Sample>, b: Option<Sample>) -> Option<Sample> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.value < a.value { b } else { a }),
        (a, b) => a.or(b),
    }
}
