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

/// scikit-learn's `penalty` parameter, with its `l1_ratio` for elastic
/// net: the penalty whose strength `C` ([`Regularizer::from_sklearn_c`]) or
/// `alpha` ([`Regularizer::from_sklearn_alpha`]) sets. Its shape is
/// scikit-learn's `R(w) = r·‖w‖₁ + (1 − r)/2·‖w‖²` (r = 0 for `l2`, 1 for
/// `l1`), with the ½ on the squared norm that lintrain's L2 does not have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SklearnPenalty {
    /// `penalty=None`: no penalty, whatever the strength.
    None,
    /// `penalty="l2"`: `R = ½‖w‖²`.
    L2,
    /// `penalty="l1"`: `R = ‖w‖₁`.
    L1,
    /// `penalty="elasticnet"`: `R = r·‖w‖₁ + (1 − r)/2·‖w‖²`, r = `l1_ratio`
    /// in [0, 1] (scikit-learn's meaning, not [`Regularizer::ElasticNet`]'s).
    ElasticNet { l1_ratio: f64 },
}

impl Regularizer {
    /// The regularizer of scikit-learn's `LogisticRegression(C=c,
    /// penalty=…)` trained on `n_train` rows (after any validation split).
    ///
    /// scikit-learn minimizes `C·Σᵢℓᵢ + R(w)` ([`SklearnPenalty`]);
    /// divided by `C·n` that is lintrain's mean data loss plus
    /// `R(w)/(C·n)`, so with `κ = 1/(C·n)`:
    ///
    /// | penalty | lintrain |
    /// |---|---|
    /// | `l2` | `L2 { λ = 1/(2·C·n) }` |
    /// | `l1` | `L1 { λ = 1/(C·n) }` |
    /// | `elasticnet`, r | `ElasticNet { λ = (1 + r)/(2·C·n), l1_ratio = 2r/(1 + r) }` |
    ///
    /// the last because `λ·r' = r/(C·n)` and `λ·(1 − r') = (1 − r)/(2·C·n)`.
    /// Both objectives have the same minimizer; the bias is penalized by
    /// neither. `c` must be finite and > 0, `n_train` ≥ 1, and λ must fit
    /// in f32.
    pub fn from_sklearn_c(
        penalty: SklearnPenalty,
        c: f64,
        n_train: usize,
    ) -> crate::Result<Regularizer> {
        if !(c.is_finite() && c > 0.0) {
            return Err(crate::Error::InvalidConfig(format!(
                "C must be finite and > 0, got {c}"
            )));
        }
        if n_train == 0 {
            return Err(crate::Error::InvalidConfig(
                "C scales the penalty by the training rows, and there are none".into(),
            ));
        }
        Self::from_sklearn_scale(penalty, 1.0 / (c * n_train as f64)).map_err(|reason| {
            crate::Error::InvalidConfig(format!("C = {c} with {n_train} training rows: {reason}"))
        })
    }

    /// The regularizer of scikit-learn's `SGDClassifier(alpha=alpha,
    /// penalty=…)`, which minimizes the mean data loss plus `α·R(w)`
    /// ([`SklearnPenalty`]), so with `κ = α`:
    ///
    /// | penalty | lintrain |
    /// |---|---|
    /// | `l2` | `L2 { λ = α/2 }` |
    /// | `l1` | `L1 { λ = α }` |
    /// | `elasticnet`, r | `ElasticNet { λ = α·(1 + r)/2, l1_ratio = 2r/(1 + r) }` |
    ///
    /// `alpha` must be finite and ≥ 0, and λ must fit in f32.
    pub fn from_sklearn_alpha(penalty: SklearnPenalty, alpha: f64) -> crate::Result<Regularizer> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(crate::Error::InvalidConfig(format!(
                "alpha must be finite and ≥ 0, got {alpha}"
            )));
        }
        Self::from_sklearn_scale(penalty, alpha)
            .map_err(|reason| crate::Error::InvalidConfig(format!("alpha = {alpha}: {reason}")))
    }

    /// lintrain's form of `κ·(r·‖w‖₁ + (1 − r)/2·‖w‖²)`: `λ_l1 = κ·r`,
    /// `λ_l2 = κ·(1 − r)/2`.
    fn from_sklearn_scale(
        penalty: SklearnPenalty,
        scale: f64,
    ) -> std::result::Result<Regularizer, String> {
        let strength = |lambda: f64| {
            let narrowed = lambda as f32;
            if narrowed.is_finite() {
                Ok(narrowed)
            } else {
                Err(format!(
                    "the strength λ = {lambda:e} is beyond f32 (at most {:e})",
                    f32::MAX
                ))
            }
        };
        Ok(match penalty {
            SklearnPenalty::None => Regularizer::None,
            SklearnPenalty::L2 => Regularizer::L2 {
                strength: strength(scale / 2.0)?,
            },
            SklearnPenalty::L1 => Regularizer::L1 {
                strength: strength(scale)?,
            },
            SklearnPenalty::ElasticNet { l1_ratio } => {
                if !(0.0..=1.0).contains(&l1_ratio) {
                    return Err(format!("l1_ratio must be in [0, 1], got {l1_ratio}"));
                }
                Regularizer::ElasticNet {
                    strength: strength(scale * (1.0 + l1_ratio) / 2.0)?,
                    l1_ratio: (2.0 * l1_ratio / (1.0 + l1_ratio)) as f32,
                }
            }
        })
    }

    /// The penalty with which a two-class softmax (two weight columns W₀,
    /// W₁) fits the model scikit-learn fits for two classes (one vector
    /// `w`) under the penalty `self` was converted for: the L2 coefficient
    /// doubled.
    ///
    /// The two-class softmax depends on its columns only through
    /// `w = W₁ − W₀`, and for a given `w` both `Σ|W|` (then `‖w‖₁`) and `ΣW²`
    /// (then `½‖w‖²`) are least at `W₀ = −w/2, W₁ = w/2`; so its optimum has
    /// opposite columns and the penalty `λ_l1‖w‖₁ + ½λ_l2‖w‖²`, which is
    /// the one-vector penalty `λ_l1‖w‖₁ + λ_l2‖w‖²` when `λ_l2` is doubled.
    /// From scikit-learn's C that gives `l2`: `λ = 1/(C·n)`, and `elastic`:
    /// `λ = 1/(C·n)` with scikit-learn's `l1_ratio` as it is. An error when
    /// the doubled strength is beyond f32.
    pub fn for_two_class_softmax(self) -> crate::Result<Regularizer> {
        let (l1, l2) = self.coefficients();
        let (l1, l2) = (l1 as f64, 2.0 * l2 as f64);
        let narrowed = |lambda: f64| {
            let strength = lambda as f32;
            if strength.is_finite() {
                Ok(strength)
            } else {
                Err(crate::Error::InvalidConfig(format!(
                    "the two-class softmax's strength λ = {lambda:e} is beyond f32"
                )))
            }
        };
        Ok(match self {
            Regularizer::L2 { .. } => Regularizer::L2 {
                strength: narrowed(l2)?,
            },
            Regularizer::ElasticNet { .. } if l1 + l2 > 0.0 => Regularizer::ElasticNet {
                strength: narrowed(l1 + l2)?,
                l1_ratio: (l1 / (l1 + l2)) as f32,
            },
            other => other,
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `(λ_l1, λ_l2)` in f64, to compare with a penalty's coefficients.
    fn coefficients(regularizer: Regularizer) -> (f64, f64) {
        let (l1, l2) = regularizer.coefficients();
        (l1 as f64, l2 as f64)
    }

    fn assert_relative(what: &str, actual: f64, expected: f64) {
        let error = (actual - expected).abs() / expected.abs().max(1e-300);
        assert!(
            error <= 1e-6 || actual == expected,
            "{what}: {actual:e}, expected {expected:e}"
        );
    }

    #[test]
    fn c_and_alpha_give_the_penalty_of_the_scikit_learn_objective() {
        // scikit-learn's penalty R(w) = r‖w‖₁ + (1 − r)/2‖w‖², times 1/(C·n)
        // or α, is λ_l1‖w‖₁ + λ_l2‖w‖² with λ_l1 = κr and λ_l2 = κ(1 − r)/2.
        let (c, n, alpha) = (0.5, 120, 3e-3);
        for (penalty, r) in [
            (SklearnPenalty::L2, 0.0),
            (SklearnPenalty::L1, 1.0),
            (SklearnPenalty::ElasticNet { l1_ratio: 0.15 }, 0.15),
            (SklearnPenalty::ElasticNet { l1_ratio: 0.0 }, 0.0),
            (SklearnPenalty::ElasticNet { l1_ratio: 1.0 }, 1.0),
        ] {
            for (kappa, regularizer) in [
                (
                    1.0 / (c * n as f64),
                    Regularizer::from_sklearn_c(penalty, c, n).unwrap(),
                ),
                (
                    alpha,
                    Regularizer::from_sklearn_alpha(penalty, alpha).unwrap(),
                ),
            ] {
                let (l1, l2) = coefficients(regularizer);
                assert_relative(&format!("{penalty:?} λ_l1"), l1, kappa * r);
                assert_relative(&format!("{penalty:?} λ_l2"), l2, kappa * (1.0 - r) / 2.0);
            }
        }
        assert_eq!(
            Regularizer::from_sklearn_c(SklearnPenalty::L2, 1.0, 100).unwrap(),
            Regularizer::L2 { strength: 0.005 }
        );
        assert_eq!(
            Regularizer::from_sklearn_alpha(SklearnPenalty::L1, 1e-4).unwrap(),
            Regularizer::L1 { strength: 1e-4 }
        );
        assert_eq!(
            Regularizer::from_sklearn_c(SklearnPenalty::None, 1.0, 10).unwrap(),
            Regularizer::None
        );
    }

    #[test]
    fn a_two_class_softmax_with_opposite_columns_has_the_one_vector_penalty() {
        // W₀ = −w/2, W₁ = w/2: lintrain's penalty of the two columns under
        // the converted regularizer equals scikit-learn's κ·R(w).
        let w = [0.75f64, -1.5, 0.25, 2.0];
        let columns: Vec<f32> = w
            .iter()
            .flat_map(|&v| [(-v / 2.0) as f32, (v / 2.0) as f32])
            .collect();
        let (c, n) = (0.25, 40);
        let kappa = 1.0 / (c * n as f64);
        for (penalty, r) in [
            (SklearnPenalty::L2, 0.0),
            (SklearnPenalty::L1, 1.0),
            (SklearnPenalty::ElasticNet { l1_ratio: 0.3 }, 0.3),
        ] {
            let regularizer = Regularizer::from_sklearn_c(penalty, c, n)
                .unwrap()
                .for_two_class_softmax()
                .unwrap();
            let l1: f64 = w.iter().map(|v| v.abs()).sum();
            let l2: f64 = w.iter().map(|v| v * v).sum();
            assert_relative(
                &format!("{penalty:?}"),
                regularizer.penalty(&columns),
                kappa * (r * l1 + (1.0 - r) / 2.0 * l2),
            );
        }
        assert_eq!(
            Regularizer::from_sklearn_c(SklearnPenalty::L2, 1.0, 100)
                .unwrap()
                .for_two_class_softmax()
                .unwrap(),
            Regularizer::L2 { strength: 0.01 }
        );
        assert_eq!(
            Regularizer::None.for_two_class_softmax().unwrap(),
            Regularizer::None
        );
    }

    #[test]
    fn out_of_range_c_alpha_and_strengths_are_refused() {
        let refused = |result: crate::Result<Regularizer>, fragment: &str| match result {
            Err(crate::Error::InvalidConfig(message)) => {
                assert!(message.contains(fragment), "{message}")
            }
            other => panic!("expected InvalidConfig with {fragment:?}, got {other:?}"),
        };
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            refused(
                Regularizer::from_sklearn_c(SklearnPenalty::L2, c, 10),
                "C must be",
            );
        }
        refused(
            Regularizer::from_sklearn_c(SklearnPenalty::L2, 1.0, 0),
            "no",
        );
        for alpha in [-1e-9, f64::NAN, f64::INFINITY] {
            refused(
                Regularizer::from_sklearn_alpha(SklearnPenalty::L2, alpha),
                "alpha must be",
            );
        }
        refused(
            Regularizer::from_sklearn_c(SklearnPenalty::L1, 1e-60, 1),
            "beyond f32",
        );
        refused(
            Regularizer::from_sklearn_alpha(SklearnPenalty::ElasticNet { l1_ratio: 1.5 }, 1.0),
            "l1_ratio",
        );
    }
}
