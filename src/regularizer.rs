//! Regularization of the weights W (never of the bias b).

/// Penalty added to the data loss, with its gradient folded into the
/// optimizer update.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Regularizer {
    /// No penalty.
    #[default]
    None,
    /// `R = λ·ΣW²`, `∂R/∂W = 2λW` (CS231n's convention).
    L2 { strength: f32 },
    /// `R = λ·Σ|W|`, `∂R/∂W = λ·sign(W)` with sign(0) = 0.
    L1 { strength: f32 },
    /// `R = λ·(r·Σ|W| + (1 − r)·ΣW²)`,
    /// `∂R/∂W = λ·(r·sign(W) + 2(1 − r)·W)`, r = `l1_ratio` in [0, 1].
    ElasticNet { strength: f32, l1_ratio: f32 },
}

impl Regularizer {
    /// `(λ_l1, λ_l2)` so that `R = λ_l1·Σ|W| + λ_l2·ΣW²`.
    pub fn coefficients(&self) -> (f32, f32) {
        match *self {
            Regularizer::None => (0.0, 0.0),
            Regularizer::L2 { strength } => (0.0, strength),
            Regularizer::L1 { strength } => (strength, 0.0),
            Regularizer::ElasticNet { strength, l1_ratio } => {
                (strength * l1_ratio, strength * (1.0 - l1_ratio))
            }
        }
    }

    /// The penalty `R(W)`, accumulated in f64.
    pub fn penalty(&self, weights: &[f32]) -> f64 {
        let (l1, l2) = self.coefficients();
        if l1 == 0.0 && l2 == 0.0 {
            return 0.0;
        }
        let (abs, sq) = weights.iter().fold((0.0f64, 0.0f64), |(a, s), &w| {
            let w = w as f64;
            (a + w.abs(), s + w * w)
        });
        l1 as f64 * abs + l2 as f64 * sq
    }

    /// Short name used in the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Regularizer::None => "none",
            Regularizer::L2 { .. } => "l2",
            Regularizer::L1 { .. } => "l1",
            Regularizer::ElasticNet { .. } => "elastic",
        }
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let (strength, ratio) = match *self {
            Regularizer::None => return Ok(()),
            Regularizer::L2 { strength } | Regularizer::L1 { strength } => (strength, 0.0),
            Regularizer::ElasticNet { strength, l1_ratio } => (strength, l1_ratio),
        };
        if !strength.is_finite() || strength < 0.0 {
            return Err(crate::Error::InvalidConfig(format!(
                "regularization strength must be finite and ≥ 0, got {strength}"
            )));
        }
        if !(0.0..=1.0).contains(&ratio) {
            return Err(crate::Error::InvalidConfig(format!(
                "l1_ratio must be in [0, 1], got {ratio}"
            )));
        }
        Ok(())
    }
}
