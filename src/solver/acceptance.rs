//! The conditions a line search accepts a step by: exactly (the strong
//! Wolfe conditions for L-BFGS, sufficient decrease for OWL-QN), or, where
//! the objective's values are within their noise of the start, by Hager &
//! Zhang's approximate Wolfe conditions (Hager & Zhang 2005, "A new
//! conjugate gradient method with guaranteed descent and an efficient line
//! search", SIAM J. Optim. 16(1), §4; Hager & Zhang 2006, "Algorithm 851:
//! CG_DESCENT", ACM TOMS 32(1)).
//!
//! Along a descent direction, `φ(α)` is the objective at the trial and
//! `φ'(α)` its derivative, `φ'(0) < 0`. The exact sufficient decrease
//! `φ(α) ≤ φ(0) + c1·α·φ'(0)` compares two values; near the optimum the
//! decrease it asks for is below their rounding (lintrain's backends
//! compute in f32: a relative noise of about 1e-7 on f), so the test
//! decides by noise and the search fails although the gradient, accurate
//! to a much smaller absolute error, still shows the way. Hager & Zhang
//! apply the test to the quadratic interpolant q of φ on `[0, α]`
//! (`q(0) = φ(0)`, `q'(0) = φ'(0)`, `q'(α) = φ'(α)`) instead:
//!
//! ```text
//! q(α) − q(0) = α·(φ'(0) + φ'(α))/2 ≤ c1·α·φ'(0)   ⟺   φ'(α) ≤ (2·c1 − 1)·φ'(0)
//! ```
//!
//! a test of derivatives only (its error is that of the quadratic model,
//! O(α³), not the values' noise). With ε_f =
//! [`LbfgsOptions::objective_noise`](super::LbfgsOptions::objective_noise),
//! a step is accepted by the *approximate Wolfe conditions* when
//!
//! ```text
//! noise band:                        φ(α) ≤ φ(0) + ε_f·|φ(0)|
//! approximate sufficient decrease:   φ'(α) ≤ (2·c1 − 1)·φ'(0)
//! curvature (L-BFGS only):           |φ'(α)| ≤ c2·|φ'(0)|
//! ```
//!
//! The curvature half is the strong Wolfe one, unchanged (Hager & Zhang
//! ask only `φ'(α) ≥ c2·φ'(0)`; the strong form also bounds the overshoot,
//! and still gives `sᵀy ≥ (1 − c2)·α·|φ'(0)| > 0`). With the defaults
//! (c1 = 1e-4, c2 = 0.9) the curvature half implies the approximate
//! sufficient decrease, which binds only when `c1 > (1 − c2)/2`. OWL-QN
//! has no curvature condition; its φ is F along the projected step, smooth
//! inside the orthant (see [`super::owlqn`]). The exact conditions are
//! tried first, so [`Acceptance`] says which one accepted a step. ε_f = 0
//! empties the noise band: only exact steps are accepted.

/// Which conditions accepted a line search's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// The search's own conditions hold exactly: strong Wolfe for
    /// L-BFGS, sufficient decrease of F for OWL-QN.
    Exact,
    /// Only the approximate Wolfe conditions of the module doc hold: φ(α)
    /// is within the noise band, and the derivatives show the decrease.
    ApproximateWolfe,
}

/// The values within noise of a line search's start:
/// `φ ≤ φ(0) + ε_f·|φ(0)|`, or none when ε_f = 0.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoiseBand {
    /// `φ(0) + ε_f·|φ(0)|`; None when there is no allowance.
    upper: Option<f64>,
}

impl NoiseBand {
    pub(crate) fn new(value_at_zero: f64, relative_noise: f64) -> Self {
        Self {
            upper: (relative_noise > 0.0)
                .then(|| value_at_zero + relative_noise * value_at_zero.abs()),
        }
    }

    /// Whether `value` (finite) is within the band.
    pub(crate) fn contains(&self, value: f64) -> bool {
        self.upper.is_some_and(|upper| value <= upper)
    }
}

/// The approximate sufficient decrease of the module doc,
/// `φ'(α) ≤ (2·c1 − 1)·φ'(0)`. Both derivatives may be scaled by the same
/// positive factor (the step length, say); false when either is NaN.
pub(crate) fn approximate_sufficient_decrease(
    c1: f64,
    initial_slope: f64,
    final_slope: f64,
) -> bool {
    final_slope <= (2.0 * c1 - 1.0) * initial_slope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_is_relative_to_the_start_and_empty_without_noise() {
        let band = NoiseBand::new(-2.0, 1e-3);
        assert!(band.contains(-2.0) && band.contains(-1.998));
        assert!(!band.contains(-1.997) && !band.contains(f64::INFINITY));
        assert!(!NoiseBand::new(-2.0, 0.0).contains(-3.0));
    }

    #[test]
    fn approximate_sufficient_decrease_is_armijo_on_the_quadratic_model() {
        // φ(α) = (α − 1)², φ'(0) = −2: Armijo with c1 = 0.25 holds for
        // α ≤ 1.5, where φ'(α) = 2(α − 1) ≤ (2·0.25 − 1)·(−2) = 1.
        let slope = |a: f64| 2.0 * (a - 1.0);
        assert!(approximate_sufficient_decrease(0.25, -2.0, slope(1.5)));
        assert!(!approximate_sufficient_decrease(0.25, -2.0, slope(1.51)));
        assert!(!approximate_sufficient_decrease(0.25, -2.0, f64::NAN));
    }
}
