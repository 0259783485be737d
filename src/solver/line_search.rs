//! The strong-Wolfe line search of L-BFGS: Nocedal & Wright 2006,
//! *Numerical Optimization*, 2nd ed., §3.5, Algorithm 3.5 (bracketing) and
//! Algorithm 3.6 (zoom), with safeguarded cubic interpolation (§3.5,
//! eq. 3.59).
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
//! Bracketing tries α₁ (the caller's initial step) and then larger steps
//! until a trial violates sufficient decrease, is no lower than the previous
//! trial, or has `φ' ≥ 0`; the bracket is then narrowed by zoom, whose
//! trials are the minimizer of the cubic matching φ and φ' at both ends of
//! the bracket (N&W eq. 3.59):
//!
//! ```text
//! d₁ = φ'(a) + φ'(b) − 3·(φ(a) − φ(b)) / (a − b)
//! d₂ = sign(b − a)·√(d₁² − φ'(a)·φ'(b))
//! α  = b − (b − a)·(φ'(b) + d₂ − d₁) / (φ'(b) − φ'(a) + 2·d₂)
//! ```
//!
//! Safeguards: a zoom trial is kept at least a tenth of the bracket's width
//! from either end, and is the midpoint when the cubic has no minimizer or
//! an end's value is not finite; an extrapolation trial lies in
//! `[α_i + 1.1·(α_i − α_{i−1}), α_i + 4·(α_i − α_{i−1})]` (the bounds of
//! Moré & Thuente 1994). A non-finite φ(α) (or gradient) counts as +∞: the
//! trial fails sufficient decrease and becomes the bracket's upper end, so
//! the step shrinks instead of the run aborting. The search fails when it
//! has used its evaluations, or when the bracket is narrower than rounding
//! can split.

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
    /// The step satisfies the search's conditions.
    Accepted(Sample),
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

/// The strong-Wolfe search of the module doc from `x` along `direction`,
/// with `φ(0) = value`, `φ'(0) = slope < 0`, first trial `initial_step`.
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
    options: &'a LbfgsOptions,
}

/// What one trial gave: its bracket end, or acceptance.
enum Trial {
    Accepted(Sample),
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

    fn sufficient_decrease(&self, end: &End) -> bool {
        end.value <= self.origin.value + self.options.c1 * end.step * self.origin.slope
    }

    fn curvature(&self, end: &End) -> bool {
        end.slope.abs() <= self.options.c2 * self.origin.slope.abs()
    }

    /// Evaluates α and accepts it if it satisfies both conditions.
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
        if sample.is_finite() && self.sufficient_decrease(&end) && self.curvature(&end) {
            return Ok(Trial::Accepted(sample));
        }
        self.trials.keep_if_lowest(sample);
        Ok(Trial::Evaluated(end))
    }

    /// N&W Algorithm 3.5.
    fn run(&mut self, initial_step: f64) -> Result<SearchOutcome> {
        let mut previous = self.origin;
        let mut step = initial_step.min(MAX_STEP);
        loop {
            let current = match self.try_step(step)? {
                Trial::Accepted(sample) => return Ok(SearchOutcome::Accepted(sample)),
                Trial::Evaluated(end) => end,
            };
            let first = previous.step == 0.0;
            if !self.sufficient_decrease(&current) || (!first && current.value >= previous.value) {
                return self.zoom(previous, current);
            }
            // Sufficient decrease holds and curvature does not.
            if current.slope >= 0.0 {
                return self.zoom(current, previous);
            }
            if self.out_of_evaluations() || step >= MAX_STEP {
                return Ok(self.failed());
            }
            let width = current.step - previous.step;
            let lower = current.step + 1.1 * width;
            let upper = current.step + 4.0 * width;
            let cubic = cubic_minimizer(&previous, &current);
            step = if cubic.is_finite() {
                cubic.clamp(lower, upper)
            } else {
                upper
            }
            .min(MAX_STEP);
            previous = current;
        }
    }

    /// N&W Algorithm 3.6: `low` satisfies sufficient decrease and is the
    /// lowest trial so far, and `φ'(low)·(high − low) < 0`, so the bracket
    /// holds a step satisfying both conditions.
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
                let cubic = cubic_minimizer(&low, &high);
                if cubic.is_finite() {
                    cubic.clamp(left + 0.1 * width, right - 0.1 * width)
                } else {
                    midpoint
                }
            } else {
                midpoint
            };
            let trial = match self.try_step(step)? {
                Trial::Accepted(sample) => return Ok(SearchOutcome::Accepted(sample)),
                Trial::Evaluated(end) => end,
            };
            if !self.sufficient_decrease(&trial) || trial.value >= low.value {
                high = trial;
            } else {
                if trial.slope * (high.step - low.step) >= 0.0 {
                    high = low;
                }
                low = trial;
            }
        }
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
}
