//! OWL-QN, L-BFGS for `F(x) = f(x) + λ₁·Σ_{i∈P}|x_i|` with f smooth
//! (Andrew & Gao 2007, "Scalable training of L1-regularized log-linear
//! models", ICML, §3). P is the set of penalized coordinates
//! ([`L1Penalty::penalized`]); lintrain's bias is never in it.
//!
//! F is not differentiable where a penalized `x_i = 0`; OWL-QN works with
//! its pseudo-gradient ◇F (the formula is on
//! [`L1Penalty::pseudo_gradient`]), whose negative is the steepest-descent
//! direction of F, and keeps each iteration inside one orthant, where F is
//! smooth:
//!
//! 1. Direction: `d = −H·◇F(x_k)`, H from the two-loop recursion over pairs
//!    of the *smooth* gradient, `y = ∇f(x_{k+1}) − ∇f(x_k)` (see
//!    [`super::history`]); then, for i ∈ P, `d_i ← 0` where
//!    `sign(d_i) ≠ sign(−◇_i F)`, i.e. where `d_i·◇_i F ≥ 0` (A&G's
//!    `p = π(d; −◇F)`). If the result is not a descent direction
//!    (`◇Fᵀd ≥ 0`, possible through the unpenalized coordinates), the pairs
//!    are dropped and `d = −◇F`.
//! 2. Orthant: `ξ_i = sign(x_i)` where `x_i ≠ 0`, else `sign(−◇_i F)`
//!    (0 when `◇_i F = 0`).
//! 3. Projected trial points: `x(α) = π(x_k + α·d; ξ)`, where for i ∈ P,
//!    `π(z; ξ)_i = z_i` if `sign(z_i) = ξ_i` and 0 otherwise: a coordinate
//!    that would cross zero stops at exactly 0, which is how OWL-QN
//!    produces exact zeros.
//! 4. Backtracking from the trial step (1, or `1/‖d‖₂` without pairs),
//!    halving α until the sufficient decrease of A&G §3.2 holds:
//!    `F(x(α)) ≤ F(x_k) + c1·◇F(x_k)ᵀ(x(α) − x_k)` (c1 = `LbfgsOptions::c1`),
//!    at most `max_line_search_evaluations` evaluations. A non-finite F
//!    fails the test, so it halves α too. There is no curvature condition,
//!    so a pair may have `sᵀy ≤ 0`; [`super::history`]'s rule skips it.
//! 5. Noise: when that test fails but F(x(α)) is within the noise band of
//!    [`super::acceptance`], `F(x(α)) ≤ F(x_k) + ε_f·|F(x_k)|`, the step is
//!    accepted by the approximate sufficient decrease of Hager & Zhang
//!    applied to `φ(t) = F(x_k + t·s)`, `s = x(α) − x_k`, t ∈ [0, 1]. The
//!    segment stays in the closed orthant, where F is smooth and equals
//!    `f(x) + λ₁·Σ_{i∈P} ξ_i·x_i`, so
//!
//!    ```text
//!    φ'(0) = (∇f(x_k) + λ₁·ξ)ᵀs = ◇F(x_k)ᵀs        (< 0)
//!    φ'(1) = (∇f(x(α)) + λ₁·ξ)ᵀs                     (ξ_i = 0 off P)
//!    accept when  φ'(1) ≤ (2·c1 − 1)·φ'(0)
//!    ```
//!
//!    (φ'(0) is ◇F's because ξ was chosen from its signs, and `s_i = 0`
//!    where `ξ_i = 0`). It is the Armijo test on the quadratic that φ'(0)
//!    and φ'(1) define, which the accurate gradient decides where the
//!    values' decrease is lost in their rounding. With ε_f = 0 only the
//!    exact test accepts.

use std::ops::Range;

use super::acceptance::{Acceptance, NoiseBand, approximate_sufficient_decrease};
use super::line_search::{SearchOutcome, Trials};
use super::vector::{difference, dot, moved};
use super::{LbfgsOptions, Objective};
use crate::{Error, Result};

/// The factor by which the backtracking search shrinks α.
const BACKTRACKING_FACTOR: f64 = 0.5;

/// An L1 term `λ₁·Σ_{i∈P}|x_i|` added to an [`Objective`], which turns
/// L-BFGS into OWL-QN.
#[derive(Clone, Debug, PartialEq)]
pub struct L1Penalty {
    /// λ₁ ≥ 0; 0 means plain L-BFGS.
    pub strength: f64,
    /// P, the penalized coordinates; the others carry no L1 term.
    pub penalized: Range<usize>,
}

impl L1Penalty {
    pub fn new(strength: f64, penalized: Range<usize>) -> Self {
        Self {
            strength,
            penalized,
        }
    }

    /// λ₁ on the weights of lintrain's parameter layout
    /// `[W (features × classes, row-major) | b (classes)]`: P is the first
    /// `features · classes` coordinates, and the bias is never penalized.
    pub fn on_weights(strength: f64, features: usize, classes: usize) -> Self {
        Self::new(strength, 0..features * classes)
    }

    /// `λ₁·Σ_{i∈P}|x_i|`.
    pub fn value(&self, x: &[f64]) -> f64 {
        self.strength
            * x[self.penalized.clone()]
                .iter()
                .map(|v| v.abs())
                .sum::<f64>()
    }

    /// The pseudo-gradient of `F = f + λ₁·Σ_{i∈P}|x_i|` (Andrew & Gao 2007,
    /// §3.1) from `gradient = ∇f(x)`:
    ///
    /// ```text
    /// ◇_i F = ∂_i f                  for i ∉ P
    /// ◇_i F = ∂_i f + λ₁·sign(x_i)   for i ∈ P, x_i ≠ 0
    /// ◇_i F = ∂_i f + λ₁             for i ∈ P, x_i = 0, ∂_i f + λ₁ < 0
    /// ◇_i F = ∂_i f − λ₁             for i ∈ P, x_i = 0, ∂_i f − λ₁ > 0
    /// ◇_i F = 0                      for i ∈ P, x_i = 0, |∂_i f| ≤ λ₁
    /// ```
    ///
    /// It is the directional derivative's minimizer: `−◇F` is the
    /// steepest-descent direction of F, and `◇F = 0` exactly at a minimum
    /// of a convex F (the subgradient optimality condition).
    pub fn pseudo_gradient(&self, x: &[f64], gradient: &[f64]) -> Vec<f64> {
        let lambda = self.strength;
        let mut pseudo = gradient.to_vec();
        for i in self.penalized.clone() {
            let g = gradient[i];
            pseudo[i] = if x[i] > 0.0 {
                g + lambda
            } else if x[i] < 0.0 {
                g - lambda
            } else if g + lambda < 0.0 {
                g + lambda
            } else if g - lambda > 0.0 {
                g - lambda
            } else {
                0.0
            };
        }
        pseudo
    }

    /// Whether the term is there at all (λ₁ > 0 on a non-empty P).
    pub(crate) fn is_active(&self) -> bool {
        self.strength > 0.0 && !self.penalized.is_empty()
    }

    pub(crate) fn validate(&self, dimension: usize) -> Result<()> {
        if !self.strength.is_finite() || self.strength < 0.0 {
            return Err(Error::InvalidConfig(format!(
                "the L1 strength must be finite and ≥ 0, got {}",
                self.strength
            )));
        }
        if self.penalized.start > self.penalized.end || self.penalized.end > dimension {
            return Err(Error::InvalidConfig(format!(
                "the L1-penalized coordinates {:?} are not a range within the {dimension} parameters",
                self.penalized
            )));
        }
        Ok(())
    }

    /// Step 1's constraint: `d_i ← 0` for i ∈ P where `d_i·◇_i F ≥ 0`.
    pub(crate) fn constrain_direction(&self, direction: &mut [f64], pseudo_gradient: &[f64]) {
        for i in self.penalized.clone() {
            if direction[i] * pseudo_gradient[i] >= 0.0 {
                direction[i] = 0.0;
            }
        }
    }

    /// Step 2's orthant ξ over P (entry j is coordinate `P.start + j`).
    fn orthant(&self, x: &[f64], pseudo_gradient: &[f64]) -> Vec<f64> {
        self.penalized
            .clone()
            .map(|i| match x[i] {
                v if v != 0.0 => v.signum(),
                _ if pseudo_gradient[i] != 0.0 => -pseudo_gradient[i].signum(),
                _ => 0.0,
            })
            .collect()
    }

    /// Step 5's `φ'(1)`: the derivative along `step` of F restricted to
    /// the orthant ξ, at the point whose smooth gradient is `gradient`:
    /// `∇fᵀs + λ₁·Σ_{i∈P} ξ_i·s_i`.
    fn orthant_slope(&self, gradient: &[f64], orthant: &[f64], step: &[f64]) -> f64 {
        let penalized = self.penalized.clone();
        let l1: f64 = step[penalized]
            .iter()
            .zip(orthant)
            .map(|(s, sign)| s * sign)
            .sum();
        dot(gradient, step) + self.strength * l1
    }

    /// Step 3's projection π(z; ξ): a penalized coordinate whose sign is
    /// not ξ_i becomes exactly 0.
    fn project(&self, z: &mut [f64], orthant: &[f64]) {
        for (i, &sign) in self.penalized.clone().zip(orthant) {
            if z[i] * sign <= 0.0 {
                z[i] = 0.0;
            }
        }
    }
}

/// Steps 4 and 5's backtracking search from `x` (with `F(x) = value`)
/// along the constrained `direction`. Returns the outcome and the
/// evaluations used.
#[allow(clippy::too_many_arguments)]
pub(crate) fn orthant_backtracking(
    objective: &mut dyn Objective,
    penalty: &L1Penalty,
    x: &[f64],
    value: f64,
    pseudo_gradient: &[f64],
    direction: &[f64],
    initial_step: f64,
    options: &LbfgsOptions,
) -> Result<(SearchOutcome, usize)> {
    let orthant = penalty.orthant(x, pseudo_gradient);
    let band = NoiseBand::new(value, options.objective_noise);
    let mut trials = Trials::new(objective, value);
    let mut step = initial_step;
    while trials.evaluations < options.max_line_search_evaluations {
        let mut point = moved(x, step, direction);
        penalty.project(&mut point, &orthant);
        let s = difference(&point, x);
        let linear_change = dot(pseudo_gradient, &s);
        let l1_value = penalty.value(&point);
        let sample = trials.evaluate(step, point, l1_value)?;
        if sample.is_finite() {
            let final_change = penalty.orthant_slope(&sample.gradient, &orthant, &s);
            let accepted = if sample.value <= value + options.c1 * linear_change {
                Some(Acceptance::Exact)
            } else {
                (linear_change < 0.0
                    && band.contains(sample.value)
                    && approximate_sufficient_decrease(options.c1, linear_change, final_change))
                .then_some(Acceptance::ApproximateWolfe)
            };
            if let Some(by) = accepted {
                let evaluations = trials.evaluations;
                let outcome = SearchOutcome::Accepted {
                    sample,
                    by,
                    final_change,
                };
                return Ok((outcome, evaluations));
            }
        }
        trials.keep_if_lowest(sample);
        step *= BACKTRACKING_FACTOR;
    }
    let evaluations = trials.evaluations;
    Ok((
        SearchOutcome::Failed {
            lowest: trials.lowest,
        },
        evaluations,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_gradient_follows_each_case() {
        let penalty = L1Penalty::new(1.0, 0..5);
        let x = [2.0, -2.0, 0.0, 0.0, 0.0, 0.0];
        let gradient = [0.5, 0.5, -3.0, 3.0, 0.25, 7.0];
        assert_eq!(
            penalty.pseudo_gradient(&x, &gradient),
            vec![1.5, -0.5, -2.0, 2.0, 0.0, 7.0],
            "x>0, x<0, zero with ∂f+λ<0, zero with ∂f−λ>0, zero inside [−λ, λ], unpenalized"
        );
    }

    #[test]
    fn the_constraint_and_projection_keep_the_orthant() {
        let penalty = L1Penalty::new(1.0, 0..4);
        let pseudo = [1.0, -1.0, 0.0, 2.0, 5.0];
        let mut direction = [-1.0, -1.0, 3.0, 1.0, 5.0];
        penalty.constrain_direction(&mut direction, &pseudo);
        assert_eq!(direction, [-1.0, 0.0, 0.0, 0.0, 5.0]);

        let x = [1.0, 0.0, 0.0, -1.0, 1.0];
        let orthant = penalty.orthant(&x, &pseudo);
        assert_eq!(orthant, vec![1.0, 1.0, 0.0, -1.0]);
        let mut z = [-0.5, 0.5, 0.5, -2.0, -3.0];
        penalty.project(&mut z, &orthant);
        assert_eq!(z, [0.0, 0.5, 0.0, -2.0, -3.0]);
    }
}
