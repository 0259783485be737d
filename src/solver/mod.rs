//! Full-batch quasi-Newton solvers, in f64 on the host: L-BFGS for smooth
//! objectives and OWL-QN (Andrew & Gao 2007) when an L1 term is on. The
//! objective itself (one pass over the whole training set on a backend) is
//! behind the [`Objective`] trait, so the same solver serves the CPU, the
//! GPU, a regularization sweep and a distributed run.
//!
//! [`minimize`] is the entry point (its rustdoc states the stopping rule);
//! [`history`] holds the correction pairs and the two-loop recursion,
//! [`line_search`] the strong-Wolfe search, [`acceptance`] the conditions
//! a step is accepted by (exact, or Hager & Zhang's approximate Wolfe
//! conditions where the objective's values drown in noise), [`owlqn`] the
//! L1 term ([`L1Penalty`]), its pseudo-gradient and the orthant-projected
//! search, and [`lbfgs`] the driver and what it reports per iteration.

pub mod acceptance;
pub mod history;
pub mod lbfgs;
pub mod line_search;
pub mod owlqn;
mod vector;

pub use acceptance::Acceptance;
pub use lbfgs::{IterationRecord, LineSearchKind, LineSearchTrace, Solution, minimize};
pub use owlqn::L1Penalty;

use crate::Result;

/// How a run fits the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Solver {
    /// Minibatch first-order training with the configured
    /// [`crate::Optimizer`], learning rate and schedule, for at most
    /// `epochs` epochs (today's behaviour, and the default).
    #[default]
    Minibatch,
    /// Full-batch L-BFGS on the whole objective (OWL-QN when the
    /// regularizer has an L1 part).
    Lbfgs(LbfgsOptions),
}

/// The options of [`Solver::Lbfgs`], with their defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsOptions {
    /// Correction pairs kept, m (default 10).
    pub history: usize,
    /// Iterations at most (default 100, scikit-learn's `max_iter`).
    pub max_iterations: usize,
    /// Stops when `‖g‖∞ ≤ gradient_tolerance · max(1, |f|)` (default 1e-4,
    /// scikit-learn's `tol`), g the (pseudo-)gradient.
    pub gradient_tolerance: f64,
    /// Stops when an iteration lowers f by at most
    /// `objective_tolerance · max(|f_k|, |f_{k+1}|, 1)` (default 64·ε of
    /// f64, scipy's `ftol` as scikit-learn sets it). The test applies only
    /// to a decrease the values can vouch for: a step accepted by the exact
    /// conditions ([`Acceptance::Exact`]), or one that lowered f by more
    /// than the noise level, `f_k − f_{k+1} > objective_noise·|f_k|`; see
    /// [`minimize`]'s stopping rule.
    pub objective_tolerance: f64,
    /// ε_f, the relative noise level of the objective's values (default
    /// 1e-6, CG_DESCENT's `eps`): a value within `ε_f·|φ(0)|` above the
    /// line search's start, `φ(α) ≤ φ(0) + ε_f·|φ(0)|`, is not taken as
    /// evidence that α failed to decrease f. There the line searches accept
    /// a step by Hager & Zhang's approximate Wolfe conditions, which only
    /// the (more accurate) gradient decides, and bracket by the sign of
    /// φ'; see [`acceptance`]. lintrain's backends compute in f32, so their
    /// values carry a relative rounding noise of about 1e-7, under which
    /// the sufficient-decrease test cannot see the decreases left near the
    /// optimum. 0 turns the allowance off: every step then meets the exact
    /// strong Wolfe conditions (OWL-QN: exact sufficient decrease) and the
    /// search is Nocedal & Wright's Algorithms 3.5/3.6 as they stand.
    pub objective_noise: f64,
    /// Objective evaluations per line search at most (default 25).
    pub max_line_search_evaluations: usize,
    /// Sufficient-decrease constant of the strong Wolfe conditions (1e-4).
    pub c1: f64,
    /// Curvature constant of the strong Wolfe conditions (0.9).
    pub c2: f64,
}

impl LbfgsOptions {
    /// The options of [`Solver::Lbfgs`] that can run: at least one correction
    /// pair, iteration and line-search evaluation; tolerances finite and ≥ 0;
    /// the Wolfe constants `0 < c1 < c2 < 1`. The reason when not.
    pub fn check(&self) -> std::result::Result<(), String> {
        let LbfgsOptions {
            history,
            max_iterations,
            gradient_tolerance,
            objective_tolerance,
            max_line_search_evaluations,
            c1,
            c2,
            objective_noise,
        } = *self;
        for (name, value) in [
            ("history size", history),
            ("max_iterations", max_iterations),
            ("max_line_search_evaluations", max_line_search_evaluations),
        ] {
            if value == 0 {
                return Err(format!("L-BFGS {name} must be ≥ 1, got 0"));
            }
        }
        for (name, value) in [
            ("gradient tolerance", gradient_tolerance),
            ("objective tolerance", objective_tolerance),
            ("objective noise", objective_noise),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("L-BFGS {name} must be finite and ≥ 0, got {value}"));
            }
        }
        if !(0.0 < c1 && c1 < c2 && c2 < 1.0) {
            return Err(format!(
                "L-BFGS line search needs 0 < c1 < c2 < 1, got c1 = {c1}, c2 = {c2}"
            ));
        }
        Ok(())
    }
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self {
            history: 10,
            max_iterations: 100,
            gradient_tolerance: 1e-4,
            objective_tolerance: 64.0 * f64::EPSILON,
            objective_noise: 1e-6,
            max_line_search_evaluations: 25,
            c1: 1e-4,
            c2: 0.9,
        }
    }
}

/// Why a solver stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// `‖g‖∞ ≤ tol · max(1, |f|)`: converged.
    GradientTolerance,
    /// The relative decrease of f fell below its tolerance: converged.
    ObjectiveTolerance,
    /// The iteration limit: not converged.
    IterationLimit,
    /// No step satisfying the line search's conditions (exact or
    /// approximate, see [`acceptance`]) was found within its evaluation
    /// limit, even from the steepest-descent direction (noise beyond
    /// [`LbfgsOptions::objective_noise`], or a gradient inconsistent with
    /// the values): not converged.
    LineSearchFailed,
}

impl StopReason {
    /// The reason in words, for logs and warnings.
    pub fn description(self) -> &'static str {
        match self {
            StopReason::GradientTolerance => "the gradient tolerance was met",
            StopReason::ObjectiveTolerance => "the objective stopped decreasing",
            StopReason::IterationLimit => "the iteration limit",
            StopReason::LineSearchFailed => {
                "the line search found no step that lowers the objective enough"
            }
        }
    }

    /// Whether stopping for this reason means the optimum was reached.
    pub fn converged(self) -> bool {
        matches!(
            self,
            StopReason::GradientTolerance | StopReason::ObjectiveTolerance
        )
    }
}

/// What a solver run reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolverReport {
    pub converged: bool,
    pub reason: StopReason,
    /// Accepted iterations.
    pub iterations: usize,
    /// Objective evaluations, line searches included.
    pub function_evaluations: usize,
    /// The objective at the result (the L1 term included).
    pub objective: f64,
    /// `‖g‖∞` at the result ((pseudo-)gradient).
    pub gradient_max: f64,
}

/// A differentiable objective of f64 parameters.
pub trait Objective {
    /// Number of parameters.
    fn dimension(&self) -> usize;
    /// `f(x)`, with `∇f(x)` written into `gradient` (length
    /// [`Objective::dimension`]).
    fn value_and_gradient(&mut self, params: &[f64], gradient: &mut [f64]) -> Result<f64>;
}
