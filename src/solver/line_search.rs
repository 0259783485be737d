//! The strong-Wolfe line search of L-BFGS: Nocedal & Wright 2006,
//! *Numerical Optimization*, 2nd ed., §3.5, Algorithm 3.5 (bracketing) and
//! Algorithm 3.6 (zoom), with safeguarded cubic interpolation (§3.5,
//! eq. 3.59), made robust to noise in the objective's values by Hager &
//! Zhang's approximate Wolfe conditions and bracket updates (see
//! [`super::acceptance`]).
//!
//! Along a descent direction d from x, `φ(α) = f(x + α·d)` and
//! `φ'(α) = ∇f(x + α·d)ᵀd`, with `φ'(0) < 0`. A step α is accepted when it
//! satisfies the strong Wolfe conditions (N&W eq. 3.7), `0 < c1 < c2 < 1`:
//!
//! ```text
//! sufficient decrease:  φ(α) ≤ φ(0) + c1·α·φ'(0)
//! curvature:            |φ'(α)| ≤ c2·|φ'(0)|
//! ```
//!
//! or, failing that, when φ(α) is in the noise band
//! `φ(α) ≤ φ(0) + ε_f·|φ(0)|` and the approximate Wolfe conditions hold
//! (`φ'(α) ≤ (2·c1 − 1)·φ'(0)` and the same curvature condition; see
//! [`super::acceptance`], ε_f = [`LbfgsOptions::objective_noise`]).
//!
//! Bracketing tries α₁ (the caller's initial step) and then larger steps
//! until a trial *rises* (violates sufficient decrease, or is no lower than
//! the previous trial) or has `φ' ≥ 0`; the bracket is then narrowed by
//! zoom. Zoom keeps a `low` end, from which φ descends towards the other
//! end `high` (`φ'(low)·(high − low) < 0`), and replaces one end by each
//! trial c: N&W's rule makes c the new `high` when it rises (above φ(0)'s
//! sufficient-decrease line, or not below φ(low)), else the new `low` (and
//! the old `low` the new `high` when φ'(c) points back to it). A rise
//! within the noise band is no evidence, so there Hager & Zhang's rule
//! (their update U1–U2) decides by the sign of the derivative alone:
//!
//! ```text
//! φ(c) within the band and φ'(c)·(high − low) < 0  →  low ← c   (still descending)
//! φ(c) within the band and φ'(c)·(high − low) ≥ 0  →  high ← c
//! ```
//!
//! and likewise a rising bracketing trial that is within the band and
//! still descends (`φ'(α) < 0`) extends the search instead of ending it.
//! Zoom's trials are the minimizer of the cubic matching φ and φ' at both
//! ends of the bracket (N&W eq. 3.59):
//!
//! ```text
//! d₁ = φ'(a) + φ'(b) − 3·(φ(a) − φ(b)) / (a − b)
//! d₂ = sign(b − a)·√(d₁² − φ'(a)·φ'(b))
//! α  = b − (b − a)·(φ'(b) + d₂ − d₁) / (φ'(b) − φ'(a) + 2·d₂)
//! ```
//!
//! except when both ends are within the band, where the values are noise
//! and the trial is the zero of the secant of φ' (Hager & Zhang's secant
//! step), `α = a − φ'(a)·(b − a) / (φ'(b) − φ'(a))`, provided φ' increases
//! from a to b (else there is no such minimizer). Extrapolation uses the
//! same interpolation through the last two trials.
//!
//! Safeguards: a zoom trial is kept at least a tenth of the bracket's width
//! from either end, and is the midpoint when the interpolation has no
//! minimizer or an end's value is not finite; an extrapolation trial lies in
//! `[α_i + 1.1·(α_i − α_{i−1}), α_i + 4·(α_i − α_{i−1})]` (the bounds of
//! Moré & Thuente 1994). A non-finite φ(α) (or gradient) counts as +∞: the
//! trial fails sufficient decrease, is outside the band, and becomes the
//! bracket's upper end, so the step shrinks instead of the run aborting.
//! The search fails when it has used its evaluations, or when the bracket
//! is narrower than rounding can split. With ε_f = 0 the band is empty and
//! the search is N&W's Algorithms 3.5 and 3.6 as they stand.

use super::acceptance::{Acceptance, NoiseBand, approximate_sufficient_decrease};
use super::vector::{dot, moved};
use super::{LbfgsOptions, Objective};
use crate::Result;

/// The largest step ever tried: extrapolation stops here.
const MAX_STEP: f64 = 1e20;

/// One evaluated trial point `x + α·d` (or, under OWL-QN, its projection).
pub(crate) struct Sample {
    pub(crate) step: f64,
    pub(crate) point: Vec<f64>,
    /// The objective at `point`; +∞ where it was not finite.
    pub(crate) value: f64,
    /// The gradient of the smooth part at `point`.
    pub(crate) gradient: Vec<f64>,
}

impl Sample {
    pub(crate) fn is_finite(&self) -> bool {
        self.value.is_finite()
    }
}

/// How a line search ended.
pub(crate) enum SearchOutcome {
    /// The step satisfies the search's conditions, exactly or
    /// approximately.
    Accepted {
        sample: Sample,
        by: Acceptance,
        /// The first-order change at the end of the step, which the
        /// approximate conditions test: `α·φ'(α)` (see
        /// [`super::LineSearchTrace::final_change`]).
        final_change: f64,
    },
    /// No step did within the evaluations; `lowest` is the lowest trial
    /// strictly below φ(0), if any.
    Failed { lowest: Option<Sample> },
}

/// The trials of one line search: counts evaluations and keeps the lowest
/// trial below `value_at_zero` that was not accepted.
pub(crate) struct Trials<'a> {
    pub(crate) objective: &'a mut dyn Objective,
    pub(crate) evaluations: usize,
    pub(crate) value_at_zero: f64,
    pub(crate) lowest: Option<Sample>,
}

impl<'a> Trials<'a> {
    pub(crate) fn new(objective: &'a mut dyn Objective, value_at_zero: f64) -> Self {
        Self {
            objective,
            evaluations: 0,
            value_at_zero,
            lowest: None,
        }
    }

    /// The trial at `point` (step α): `f(point) + penalty` and
    /// `∇f(point)`, the value +∞ where either is not finite.
    pub(crate) fn evaluate(&mut self, step: f64, point: Vec<f64>, penalty: f64) -> Result<Sample> {
        let mut gradient = vec![0.0; point.len()];
        let value = self.objective.value_and_gradient(&point, &mut gradient)? + penalty;
        self.evaluations += 1;
        let finite = value.is_finite() && gradient.iter().all(|g| g.is_finite());
        let sample = Sample {
            step,
            point,
            value: if finite { value } else { f64::INFINITY },
            gradient,
        };
        Ok(sample)
    }

    /// Keeps a trial that was not accepted if it is the lowest so far
    /// below φ(0).
    pub(crate) fn keep_if_lowest(&mut self, sample: Sample) {
        let lowest_value = self.lowest.as_ref().map_or(self.value_at_zero, |s| s.value);
        if sample.value < lowest_value {
            self.lowest = Some(sample);
        }
    }
}

/// A bracket end: α, φ(α), φ'(α).
#[derive(Clone, Copy)]
struct End {
    step: f64,
    value: f64,
    slope: f64,
}

/// The search of the module doc from `x` along `direction`, with
/// `φ(0) = value`, `φ'(0) = slope < 0`, first trial `initial_step`.
/// Returns the outcome and the evaluations it used.
pub(crate) fn strong_wolfe(
    objective: &mut dyn Objective,
    x: &[f64],
    value: f64,
    slope: f64,
    direction: &[f64],
    initial_step: f64,
    options: &LbfgsOptions,
) -> Result<(SearchOutcome, usize)> {
    debug_assert!(slope < 0.0);
    let mut search = WolfeSearch {
        trials: Trials::new(objective, value),
        x,
        direction,
        origin: End {
            step: 0.0,
            value,
            slope,
        },
        band: NoiseBand::new(value, options.objective_noise),
        options,
    };
    let outcome = search.run(initial_step)?;
    Ok((outcome, search.trials.evaluations))
}

struct WolfeSearch<'a, 'o> {
    trials: Trials<'o>,
    x: &'a [f64],
    direction: &'a [f64],
    origin: End,
    band: NoiseBand,
    options: &'a LbfgsOptions,
}

/// What one trial gave: its bracket end, or the accepted outcome.
enum Trial {
    Accepted(SearchOutcome),
    Evaluated(End),
}

impl WolfeSearch<'_, '_> {
    fn out_of_evaluations(&self) -> bool {
        self.trials.evaluations >= self.options.max_line_search_evaluations
    }

    fn failed(&mut self) -> SearchOutcome {
        SearchOutcome::Failed {
            lowest: self.trials.lowest.take(),
        }
    }

    /// `α·φ'(0)`, the change sufficient decrease scales by c1.
    fn linear_change(&self, end: &End) -> f64 {
        end.step * self.origin.slope
    }

    fn sufficient_decrease(&self, end: &End) -> bool {
        end.value <= self.origin.value + self.options.c1 * self.linear_change(end)
    }

    fn curvature(&self, end: &End) -> bool {
        end.slope.abs() <= self.options.c2 * self.origin.slope.abs()
    }

    fn within_noise(&self, end: &End) -> bool {
        self.band.contains(end.value)
    }

    /// The conditions that accept a trial, the exact ones first; None
    /// when neither holds.
    fn acceptance(&self, end: &End) -> Option<Acceptance> {
        if !end.value.is_finite() || !self.curvature(end) {
            return None;
        }
        if self.sufficient_decrease(end) {
            return Some(Acceptance::Exact);
        }
        // Both slopes scaled by α, as the trace reports them.
        let (linear_change, final_change) = (self.linear_change(end), end.step * end.slope);
        (self.within_noise(end)
            && approximate_sufficient_decrease(self.options.c1, linear_change, final_change))
        .then_some(Acceptance::ApproximateWolfe)
    }

    /// N&W's test that a trial rises: above the sufficient-decrease line,
    /// or not below `reference` (the previous trial, or zoom's `low`).
    fn rises(&self, end: &End, reference: Option<&End>) -> bool {
        !self.sufficient_decrease(end) || reference.is_some_and(|r| end.value >= r.value)
    }

    /// Whether a rise is within the noise band while φ' still descends
    /// in the direction `towards` (its sign): no evidence against going on.
    fn descends_within_noise(&self, end: &End, towards: f64) -> bool {
        self.within_noise(end) && end.slope * towards < 0.0
    }

    /// Evaluates α and accepts it if [`Self::acceptance`] says so.
    fn try_step(&mut self, step: f64) -> Result<Trial> {
        let sample = self
            .trials
            .evaluate(step, moved(self.x, step, self.direction), 0.0)?;
        let end = End {
            step,
            value: sample.value,
            slope: if sample.is_finite() {
                dot(&sample.gradient, self.direction)
            } else {
                f64::NAN
            },
        };
        if let Some(by) = self.acceptance(&end) {
            return Ok(Trial::Accepted(SearchOutcome::Accepted {
                sample,
                by,
                final_change: step * end.slope,
            }));
        }
        self.trials.keep_if_lowest(sample);
        Ok(Trial::Evaluated(end))
    }

    /// The interpolated step between two ends: the zero of φ''s secant
    /// when both are within the noise band, else the cubic's minimizer
    /// (module doc); NaN when there is none.
    fn interpolate(&self, a: &End, b: &End) -> f64 {
        if self.within_noise(a) && self.within_noise(b) {
            secant_zero(a, b)
        } else {
            cubic_minimizer(a, b)
        }
    }

    /// N&W Algorithm 3.5, with the noise band's exception.
    fn run(&mut self, initial_step: f64) -> Result<SearchOutcome> {
        let mut previous = self.origin;
        let mut step = initial_step.min(MAX_STEP);
        loop {
            let current = match self.try_step(step)? {
                Trial::Accepted(outcome) => return Ok(outcome),
                Trial::Evaluated(end) => end,
            };
            let first = previous.step == 0.0;
            let rises = self.rises(&current, (!first).then_some(&previous));
            if rises && !self.descends_within_noise(&current, 1.0) {
                return self.zoom(previous, current);
            }
            // Sufficient decrease holds (or fails only within the noise
            // band, φ' < 0), and curvature does not.
            if current.slope >= 0.0 {
                return self.zoom(current, previous);
            }
            if self.out_of_evaluations() || step >= MAX_STEP {
                return Ok(self.failed());
            }
            let width = current.step - previous.step;
            let lower = current.step + 1.1 * width;
            let upper = current.step + 4.0 * width;
            let interpolated = self.interpolate(&previous, &current);
            step = if interpolated.is_finite() {
                interpolated.clamp(lower, upper)
            } else {
                upper
            }
            .min(MAX_STEP);
            previous = current;
        }
    }

    /// N&W Algorithm 3.6 with Hager & Zhang's update in the noise band:
    /// φ descends from `low` towards `high`, `φ'(low)·(high − low) < 0`,
    /// and `low` satisfies sufficient decrease or is within the band, so
    /// the bracket holds a step satisfying the conditions.
    fn zoom(&mut self, mut low: End, mut high: End) -> Result<SearchOutcome> {
        loop {
            if self.out_of_evaluations() {
                return Ok(self.failed());
            }
            let (left, right) = (low.step.min(high.step), low.step.max(high.step));
            let width = right - left;
            if width <= f64::EPSILON * right {
                return Ok(self.failed());
            }
            let midpoint = left + 0.5 * width;
            let step = if high.value.is_finite() {
                let interpolated = self.interpolate(&low, &high);
                if interpolated.is_finite() {
                    interpolated.clamp(left + 0.1 * width, right - 0.1 * width)
                } else {
                    midpoint
                }
            } else {
                midpoint
            };
            let trial = match self.try_step(step)? {
                Trial::Accepted(outcome) => return Ok(outcome),
                Trial::Evaluated(end) => end,
            };
            let towards_high = high.step - low.step;
            if self.rises(&trial, Some(&low)) && !self.descends_within_noise(&trial, towards_high) {
                high = trial;
            } else {
                if trial.slope * towards_high >= 0.0 {
                    high = low;
                }
                low = trial;
            }
        }
    }
}

/// The zero of the secant of φ' through `(a, φ'(a))` and `(b, φ'(b))`,
/// `a − φ'(a)·(b − a) / (φ'(b) − φ'(a))`; NaN unless φ' increases from a
/// to b (along `b − a`), where the zero is the minimizer of the quadratic
/// the two slopes define.
fn secant_zero(a: &End, b: &End) -> f64 {
    let rise = b.slope - a.slope;
    if rise * (b.step - a.step) > 0.0 {
        a.step - a.slope * (b.step - a.step) / rise
    } else {
        f64::NAN
    }
}

/// The minimizer of the cubic through `(a, φ(a), φ'(a))` and
/// `(b, φ(b), φ'(b))` (the module doc's formula); NaN when it has none.
fn cubic_minimizer(a: &End, b: &End) -> f64 {
    let d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
    let radicand = d1 * d1 - a.slope * b.slope;
    if radicand.is_nan() || radicand < 0.0 {
        return f64::NAN;
    }
    let d2 = (b.step - a.step).signum() * radicand.sqrt();
    b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(step: f64, value: f64, slope: f64) -> End {
        End { step, value, slope }
    }

    #[test]
    fn the_cubic_minimizer_is_exact_on_cubics_and_quadratics() {
        // φ(α) = (α − 2)² + 1: minimum at 2, from either side.
        let quadratic = |s: f64| end(s, (s - 2.0).powi(2) + 1.0, 2.0 * (s - 2.0));
        for (a, b) in [(0.0, 5.0), (5.0, 0.5), (1.0, 1.5)] {
            let step = cubic_minimizer(&quadratic(a), &quadratic(b));
            assert!((step - 2.0).abs() < 1e-12, "{a}, {b}: {step}");
        }
        // φ(α) = α³ − 3α: local minimum at 1.
        let cubic = |s: f64| end(s, s.powi(3) - 3.0 * s, 3.0 * s * s - 3.0);
        let step = cubic_minimizer(&cubic(0.0), &cubic(3.0));
        assert!((step - 1.0).abs() < 1e-12, "{step}");
        // φ(α) = −α³ − α: no stationary point, so no minimizer.
        let falling = |s: f64| end(s, -s.powi(3) - s, -3.0 * s * s - 1.0);
        assert!(cubic_minimizer(&falling(0.5), &falling(1.0)).is_nan());
    }

    #[test]
    fn the_secant_zero_is_the_quadratic_minimizer_from_slopes_alone() {
        // φ'(α) = 2(α − 2), whatever the values (noise).
        let noisy = |s: f64, value: f64| end(s, value, 2.0 * (s - 2.0));
        for (a, b) in [(0.0, 5.0), (5.0, 0.5), (1.0, 1.5)] {
            let step = secant_zero(&noisy(a, 7.0), &noisy(b, -3.0));
            assert!((step - 2.0).abs() < 1e-12, "{a}, {b}: {step}");
        }
        // φ' falling along the secant: no minimizer.
        assert!(secant_zero(&end(0.0, 0.0, -1.0), &end(1.0, 0.0, -2.0)).is_nan());
        assert!(secant_zero(&end(0.0, 0.0, -1.0), &end(1.0, 0.0, -1.0)).is_nan());
    }
}
