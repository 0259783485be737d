//! Learning-rate schedules. A schedule advances once per optimizer step.
//!
//! Notation: `lr₀` the base learning rate, `s` the number of optimizer steps
//! already taken (0 for the first), `T` the total steps of the run, `W` the
//! warmup steps, `s' = s − W` and `T' = max(T − W, 1)` after warmup.

/// How the learning rate decays after warmup.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Schedule {
    /// `lr = lr₀`.
    #[default]
    Constant,
    /// `lr = lr₀·γ^⌊s'/step_size⌋` (PyTorch's StepLR).
    Step { step_size: u64, gamma: f32 },
    /// `lr = lr₀·γ^s'` (PyTorch's ExponentialLR).
    Exponential { gamma: f32 },
    /// `lr = min_lr + (lr₀ − min_lr)·(1 + cos(π·p))/2` with
    /// `p = min(s'/T', 1)`: PyTorch's CosineAnnealingLR with T_max = T',
    /// except that the rate stays at min_lr past the end instead of rising.
    Cosine { min_lr: f32 },
    /// `lr = min_lr + (lr₀ − min_lr)·(1 − min(s'/T', 1))`: held at min_lr past the end.
    Linear { min_lr: f32 },
    /// `lr = lr₀ / √(1 + s')`.
    InverseSqrt,
}

/// A schedule with optional linear warmup: during the first `W` steps
/// `lr = lr₀·s/W`, rising from 0.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct LrSchedule {
    pub schedule: Schedule,
    pub warmup_steps: u64,
}

impl LrSchedule {
    /// The learning rate of the step taken after `steps_taken` steps.
    pub fn learning_rate(&self, base: f32, steps_taken: u64, total_steps: u64) -> f32 {
        let base = base as f64;
        let warmup = self.warmup_steps;
        if steps_taken < warmup {
            return (base * steps_taken as f64 / warmup as f64) as f32;
        }
        let s = (steps_taken - warmup) as f64;
        let span = total_steps.saturating_sub(warmup).max(1) as f64;
        let progress = (s / span).min(1.0);
        let lr = match self.schedule {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => {
                base * (gamma as f64).powf((s as u64 / step_size.max(1)) as f64)
            }
            Schedule::Exponential { gamma } => base * (gamma as f64).powf(s),
            Schedule::Cosine { min_lr } => {
                let min = min_lr as f64;
                min + (base - min) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
            Schedule::Linear { min_lr } => {
                let min = min_lr as f64;
                min + (base - min) * (1.0 - progress)
            }
            Schedule::InverseSqrt => base / (1.0 + s).sqrt(),
        };
        lr as f32
    }

    /// Short name used in the CLI.
    pub fn name(&self) -> &'static str {
        match self.schedule {
            Schedule::Constant => "constant",
            Schedule::Step { .. } => "step",
            Schedule::Exponential { .. } => "exponential",
            Schedule::Cosine { .. } => "cosine",
            Schedule::Linear { .. } => "linear",
            Schedule::InverseSqrt => "inv-sqrt",
        }
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |what: String| Err(crate::Error::InvalidConfig(what));
        match self.schedule {
            Schedule::Step { step_size, gamma } => {
                if step_size == 0 {
                    return bad("step schedule: step_size must be ≥ 1".into());
                }
                if !gamma.is_finite() || gamma <= 0.0 {
                    return bad(format!(
                        "step schedule: gamma must be finite and > 0, got {gamma}"
                    ));
                }
            }
            Schedule::Exponential { gamma } => {
                if !gamma.is_finite() || gamma <= 0.0 {
                    return bad(format!(
                        "exponential schedule: gamma must be finite and > 0, got {gamma}"
                    ));
                }
            }
            Schedule::Cosine { min_lr } | Schedule::Linear { min_lr } => {
                if !min_lr.is_finite() || min_lr < 0.0 {
                    return bad(format!("min_lr must be finite and ≥ 0, got {min_lr}"));
                }
            }
            Schedule::Constant | Schedule::InverseSqrt => {}
        }
        Ok(())
    }
}
