//! A member's training configuration: the sweep's base configuration with
//! the member's [`Setting`] in place, converted exactly as `lintrain train`
//! converts the same flags, so that a member is the model `train` would
//! produce with that setting.

use super::grid::{Setting, SweptParameter};
use crate::regularizer::SklearnPenalty;
use crate::{Error, Loss, Optimizer, Regularizer, Result, TrainConfig};

impl Setting {
    /// `base` with this setting's values in place, for a run on
    /// `train_rows` training rows (after any validation split) of `classes`
    /// classes.
    ///
    /// - `lr` sets the base learning rate; `momentum` the μ of the momentum,
    ///   Nesterov and RMSProp optimizers (an error for the others).
    /// - `l1_ratio` sets the elastic net's ratio (an error for another
    ///   penalty); `reg_strength` sets λ of `base.regularizer` (an error
    ///   for no penalty).
    /// - `C` and `alpha` are scikit-learn's strengths of the penalty
    ///   `base.regularizer` names (`L2`, `L1`, or `ElasticNet` whose
    ///   `l1_ratio` is then scikit-learn's `l1_ratio`; an error for no penalty), converted by
    ///   [`Regularizer::from_sklearn_c`] (which counts `train_rows`) or
    ///   [`Regularizer::from_sklearn_alpha`], and for a softmax over two
    ///   classes by [`Regularizer::for_two_class_softmax`]: what
    ///   `lintrain train --C …` does. They apply after `l1_ratio`.
    ///
    /// Errors are [`Error::InvalidGrid`] naming the flag and the value, also
    /// where the configuration with the values in place is not valid
    /// ([`TrainConfig::validate`]).
    pub fn apply(
        &self,
        base: &TrainConfig,
        train_rows: usize,
        classes: usize,
    ) -> Result<TrainConfig> {
        let mut config = base.clone();
        for (parameter, value) in self.iter() {
            let invalid = |reason: String| Error::InvalidGrid {
                flag: format!("{} {}", parameter.flag(), super::grid::format_value(value)),
                reason,
            };
            match parameter {
                SweptParameter::LearningRate => {
                    config.learning_rate = narrow(value).map_err(invalid)?;
                }
                SweptParameter::Momentum => {
                    let mu = narrow(value).map_err(invalid)?;
                    config.optimizer = with_momentum(config.optimizer, mu).map_err(invalid)?;
                }
                SweptParameter::L1Ratio => {
                    let Regularizer::ElasticNet { strength, .. } = config.regularizer else {
                        return Err(invalid(format!(
                            "the l1 ratio belongs to the elastic net, and the penalty is {}; choose --reg elastic",
                            config.regularizer.name()
                        )));
                    };
                    config.regularizer = Regularizer::ElasticNet {
                        strength,
                        l1_ratio: narrow(value).map_err(invalid)?,
                    };
                }
                SweptParameter::RegStrength => {
                    let strength = narrow(value).map_err(invalid)?;
                    config.regularizer =
                        with_strength(config.regularizer, strength).map_err(invalid)?;
                }
                // Converted below, once l1_ratio is in place.
                SweptParameter::C | SweptParameter::Alpha => {}
            }
        }
        for (parameter, value) in self.iter() {
            let sklearn = matches!(parameter, SweptParameter::C | SweptParameter::Alpha);
            if sklearn && penalty_of(config.regularizer) == SklearnPenalty::None {
                // Converted, they would give no penalty at all: every
                // member the same model, whatever its value.
                return Err(Error::InvalidGrid {
                    flag: format!("{} {}", parameter.flag(), super::grid::format_value(value)),
                    reason:
                        "there is no penalty to scale (--reg none); choose --reg l2, l1 or elastic"
                            .into(),
                });
            }
            let converted = match parameter {
                SweptParameter::C => {
                    Regularizer::from_sklearn_c(penalty_of(config.regularizer), value, train_rows)
                }
                SweptParameter::Alpha => {
                    Regularizer::from_sklearn_alpha(penalty_of(config.regularizer), value)
                }
                _ => continue,
            };
            let two_class_softmax =
                matches!(config.loss, Loss::SoftmaxCrossEntropy { .. }) && classes == 2;
            let regularizer = match converted {
                Ok(r) if two_class_softmax => r.for_two_class_softmax(),
                other => other,
            };
            config.regularizer = regularizer.map_err(|e| Error::InvalidGrid {
                flag: format!("{} {}", parameter.flag(), super::grid::format_value(value)),
                reason: match e {
                    Error::InvalidConfig(reason) => reason,
                    other => other.to_string(),
                },
            })?;
        }
        // A value in the parameter's range may still not suit the rest of
        // the configuration (Nesterov needs μ > 0).
        config.validate().map_err(|e| Error::InvalidGrid {
            flag: self
                .iter()
                .map(|(p, v)| format!("{} {}", p.flag(), super::grid::format_value(v)))
                .collect::<Vec<_>>()
                .join(" "),
            reason: match e {
                Error::InvalidConfig(reason) => reason,
                other => other.to_string(),
            },
        })?;
        Ok(config)
    }
}

/// A value as the f32 the engine trains with; an error beyond f32.
fn narrow(value: f64) -> std::result::Result<f32, String> {
    // From the number's shortest decimal, as `train` parses the flag's text
    // straight to f32: `value as f32` rounds twice (decimal to f64 to f32),
    // which for a value near the midpoint of two f32s (1.0000000596046448)
    // gives the other neighbour.
    let narrowed = super::grid::format_value(value)
        .parse::<f32>()
        .unwrap_or(value as f32);
    if narrowed.is_finite() {
        Ok(narrowed)
    } else {
        Err(format!("{value:e} is beyond f32 (at most {:e})", f32::MAX))
    }
}

/// `optimizer` with μ = `momentum`, for the optimizers that have one.
fn with_momentum(optimizer: Optimizer, momentum: f32) -> std::result::Result<Optimizer, String> {
    Ok(match optimizer {
        Optimizer::Momentum { dampening, .. } => Optimizer::Momentum {
            momentum,
            dampening,
        },
        Optimizer::Nesterov { .. } => Optimizer::Nesterov { momentum },
        Optimizer::RmsProp {
            alpha,
            eps,
            centered,
            ..
        } => Optimizer::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        },
        other => {
            return Err(format!(
                "the optimizer {} has no momentum; choose --optimizer momentum, nesterov or rmsprop",
                other.name()
            ));
        }
    })
}

/// `regularizer` with λ = `strength`.
fn with_strength(
    regularizer: Regularizer,
    strength: f32,
) -> std::result::Result<Regularizer, String> {
    Ok(match regularizer {
        Regularizer::L2 { .. } => Regularizer::L2 { strength },
        Regularizer::L1 { .. } => Regularizer::L1 { strength },
        Regularizer::ElasticNet { l1_ratio, .. } => Regularizer::ElasticNet { strength, l1_ratio },
        _ => {
            return Err(
                "there is no penalty to scale (--reg none); choose --reg l2, l1 or elastic".into(),
            );
        }
    })
}

/// The scikit-learn penalty of the kind `regularizer` is: its `l1_ratio`,
/// for the elastic net, read as scikit-learn's.
fn penalty_of(regularizer: Regularizer) -> SklearnPenalty {
    match regularizer {
        Regularizer::L2 { .. } => SklearnPenalty::L2,
        Regularizer::L1 { .. } => SklearnPenalty::L1,
        Regularizer::ElasticNet { l1_ratio, .. } => SklearnPenalty::ElasticNet {
            l1_ratio: l1_ratio as f64,
        },
        _ => SklearnPenalty::None,
    }
}
