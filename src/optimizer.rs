//! Optimizers with PyTorch's (`torch.optim`) formulas and defaults.
//!
//! Notation: `p` a parameter, `g` its gradient (data gradient plus the
//! regularizer's gradient, for W only), `lr` the scheduled learning rate and
//! `t` the step count, starting at 1. All state starts at zero.

/// Number of f32 state slots kept per parameter by the fused update.
pub const STATE_SLOTS: usize = 3;

/// Which of the [`STATE_SLOTS`] per-parameter slots an optimizer keeps as
/// a running mean of squares (never negative): the slot-major state holds
/// slot `k` of parameter `i` at `k·P + i`.
fn squared_slots(optimizer: &Optimizer) -> &'static [usize] {
    match optimizer {
        Optimizer::Adagrad { .. } | Optimizer::RmsProp { .. } => &[0],
        Optimizer::Adam { .. } | Optimizer::AdamW { .. } => &[1, 2],
        Optimizer::Sgd | Optimizer::Momentum { .. } | Optimizer::Nesterov { .. } => &[],
    }
}

/// An optimizer and its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Optimizer {
    /// Plain SGD: `p ← p − lr·g`.
    #[default]
    Sgd,
    /// SGD with momentum μ (default 0.9) and dampening τ (default 0):
    /// `b₁ = g`, `b_t = μ·b_{t−1} + (1 − τ)·g`, `p ← p − lr·b_t`.
    Momentum { momentum: f32, dampening: f32 },
    /// Nesterov momentum: the buffer as in [`Optimizer::Momentum`] (τ = 0),
    /// then `p ← p − lr·(g + μ·b_t)`.
    Nesterov { momentum: f32 },
    /// AdaGrad (eps 1e-10, lr_decay 0, initial accumulator 0):
    /// `clr = lr / (1 + (t − 1)·lr_decay)`, `G ← G + g²`,
    /// `p ← p − clr·g / (√G + eps)`.
    Adagrad { lr_decay: f32, eps: f32 },
    /// RMSProp (α 0.99, eps 1e-8 outside the square root):
    /// `v ← α·v + (1 − α)·g²`; centered: `ḡ ← α·ḡ + (1 − α)·g`,
    /// `a = √(v − ḡ²) + eps`, else `a = √v + eps`; with momentum μ > 0:
    /// `b ← μ·b + g/a`, `p ← p − lr·b`, else `p ← p − lr·g/a`.
    RmsProp {
        alpha: f32,
        eps: f32,
        momentum: f32,
        centered: bool,
    },
    /// Adam (β₁ 0.9, β₂ 0.999, eps 1e-8 added after bias correction):
    /// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`,
    /// AMSGrad: `v̂ ← max(v̂, v)` and v̂ replaces v below;
    /// `p ← p − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + eps)`.
    Adam {
        beta1: f32,
        beta2: f32,
        eps: f32,
        amsgrad: bool,
    },
    /// AdamW: first the decoupled decay `W ← W·(1 − lr·weight_decay)`
    /// (default 1e-2; applied to W, not to b), then the Adam step.
    AdamW {
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        amsgrad: bool,
    },
}

impl Optimizer {
    /// SGD with PyTorch's usual momentum 0.9.
    pub fn momentum() -> Self {
        Optimizer::Momentum {
            momentum: 0.9,
            dampening: 0.0,
        }
    }
    /// Nesterov with momentum 0.9.
    pub fn nesterov() -> Self {
        Optimizer::Nesterov { momentum: 0.9 }
    }
    /// AdaGrad with PyTorch's defaults.
    pub fn adagrad() -> Self {
        Optimizer::Adagrad {
            lr_decay: 0.0,
            eps: 1e-10,
        }
    }
    /// RMSProp with PyTorch's defaults.
    pub fn rmsprop() -> Self {
        Optimizer::RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        }
    }
    /// Adam with PyTorch's defaults.
    pub fn adam() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
        }
    }
    /// AdamW with PyTorch's defaults.
    pub fn adamw() -> Self {
        Optimizer::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }

    /// PyTorch's default learning rate for this optimizer.
    pub fn default_learning_rate(&self) -> f32 {
        match self {
            Optimizer::Sgd | Optimizer::Momentum { .. } | Optimizer::Nesterov { .. } => 1e-3,
            Optimizer::Adagrad { .. } | Optimizer::RmsProp { .. } => 1e-2,
            Optimizer::Adam { .. } | Optimizer::AdamW { .. } => 1e-3,
        }
    }

    /// Short name used in the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Momentum { .. } => "momentum",
            Optimizer::Nesterov { .. } => "nesterov",
            Optimizer::Adagrad { .. } => "adagrad",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::Adam { .. } => "adam",
            Optimizer::AdamW { .. } => "adamw",
        }
    }

    /// Whether `state` ([`STATE_SLOTS`] × P values, slot-major) can be this
    /// optimizer's state: every value finite, and the running means of
    /// squares (AdaGrad's and RMSProp's `v`, Adam's `v` and `v̂`) never
    /// negative, since their square roots divide the step. The reason
    /// when not.
    pub fn check_state(&self, state: &[f32]) -> Result<(), String> {
        if !state.len().is_multiple_of(STATE_SLOTS) {
            return Err(format!(
                "optimizer state has {} values, not a multiple of {STATE_SLOTS} slots",
                state.len()
            ));
        }
        let params = state.len() / STATE_SLOTS;
        if let Some((i, v)) = state.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(format!("optimizer state holds {v} at {i}"));
        }
        for &slot in squared_slots(self) {
            let values = &state[slot * params..(slot + 1) * params];
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0) {
                return Err(format!(
                    "optimizer state holds the negative mean of squares {v} (slot {slot}, parameter {i})"
                ));
            }
        }
        // Centered RMSProp divides by √(v − ḡ²), a variance: never negative.
        if let Optimizer::RmsProp { centered: true, .. } = self {
            let (squares, means) = (&state[..params], &state[params..2 * params]);
            if let Some((i, (v, g))) = squares
                .iter()
                .zip(means)
                .enumerate()
                .find(|(_, (v, g))| **v - **g * **g < 0.0)
            {
                return Err(format!(
                    "optimizer state holds a negative variance: v = {v} < ḡ² = {} (parameter {i})",
                    g * g
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let check = |name: &str, v: f32, ok: bool| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(crate::Error::InvalidConfig(format!(
                    "{} {name} is out of range: {v}",
                    self.name()
                )))
            }
        };
        match *self {
            Optimizer::Sgd => Ok(()),
            Optimizer::Momentum {
                momentum,
                dampening,
            } => {
                check("momentum", momentum, momentum >= 0.0)?;
                check("dampening", dampening, (0.0..=1.0).contains(&dampening))
            }
            Optimizer::Nesterov { momentum } => check("momentum", momentum, momentum > 0.0),
            Optimizer::Adagrad { lr_decay, eps } => {
                check("lr_decay", lr_decay, lr_decay >= 0.0)?;
                check("eps", eps, eps >= 0.0)
            }
            Optimizer::RmsProp {
                alpha,
                eps,
                momentum,
                ..
            } => {
                check("alpha", alpha, (0.0..=1.0).contains(&alpha))?;
                check("eps", eps, eps >= 0.0)?;
                check("momentum", momentum, momentum >= 0.0)
            }
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => {
                check("beta1", beta1, (0.0..1.0).contains(&beta1))?;
                check("beta2", beta2, (0.0..1.0).contains(&beta2))?;
                check("eps", eps, eps >= 0.0)
            }
            Optimizer::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                check("beta1", beta1, (0.0..1.0).contains(&beta1))?;
                check("beta2", beta2, (0.0..1.0).contains(&beta2))?;
                check("eps", eps, eps >= 0.0)?;
                check("weight_decay", weight_decay, weight_decay >= 0.0)
            }
        }
    }
}

/// One fused update, fully resolved on the host: the step's learning rate and
/// step count, and which leading part of the parameter vector is W (the part
/// that is regularized and decayed).
#[derive(Clone, Copy, Debug)]
pub struct UpdateStep {
    pub optimizer: Optimizer,
    pub regularizer: crate::Regularizer,
    pub learning_rate: f32,
    /// Step count `t`, starting at 1.
    pub step: u64,
    /// Number of leading parameters (W) that get the regularizer and decay.
    pub weight_len: usize,
}

/// Per-step scalars derived on the host in f64, as `torch.optim` does.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StepScalars {
    /// Learning rate actually applied (Adam: lr / (1 − β₁ᵗ); AdaGrad: clr).
    pub step_size: f32,
    /// √(1 − β₂ᵗ) for Adam, 1 otherwise.
    pub bias_correction2_sqrt: f32,
    /// `1 − lr·weight_decay` for AdamW, 1 otherwise.
    pub decay_factor: f32,
}

impl UpdateStep {
    pub(crate) fn scalars(&self) -> StepScalars {
        let lr = self.learning_rate as f64;
        let t = self.step.max(1) as f64;
        let (step_size, bc2, decay) = match self.optimizer {
            Optimizer::Adagrad { lr_decay, .. } => {
                (lr / (1.0 + (t - 1.0) * lr_decay as f64), 1.0, 1.0)
            }
            Optimizer::Adam { beta1, beta2, .. } => (
                lr / (1.0 - (beta1 as f64).powf(t)),
                (1.0 - (beta2 as f64).powf(t)).sqrt(),
                1.0,
            ),
            Optimizer::AdamW {
                beta1,
                beta2,
                weight_decay,
                ..
            } => (
                lr / (1.0 - (beta1 as f64).powf(t)),
                (1.0 - (beta2 as f64).powf(t)).sqrt(),
                1.0 - lr * weight_decay as f64,
            ),
            _ => (lr, 1.0, 1.0),
        };
        StepScalars {
            step_size: step_size as f32,
            bias_correction2_sqrt: bc2 as f32,
            decay_factor: decay as f32,
        }
    }
}
