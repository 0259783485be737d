//! The estimator's parameters, read from the dict Python passes
//! (`LinearClassifier.get_params()` resolved to plain values), checked,
//! and turned into the library's [`TrainConfig`].
//!
//! Every value is checked here or by [`TrainConfig::validate`], so a bad
//! one is a `ValueError` naming the parameter.

use crate::errors::invalid;
use lintrain::regularizer::SklearnPenalty;
use lintrain::{
    BackendChoice, BatchSize, EarlyStopping, Init, LbfgsOptions, Loss, LrSchedule, Monitor,
    Optimizer, Regularizer, Sampling, Schedule, Solver, TrainConfig,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};

/// How the regularization strength was given: scikit-learn's
/// `SGDClassifier(alpha=…)` or `LogisticRegression(C=…)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strength {
    Alpha(f64),
    C(f64),
}

/// Softmax class weights as given: scikit-learn's "balanced", or one
/// weight per class (Python resolves a dict to this, 1 for a class it
/// does not name).
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeight {
    Balanced,
    PerClass(Vec<f32>),
}

/// The estimator's parameters, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub loss: Loss,
    pub penalty: SklearnPenalty,
    pub strength: Strength,
    pub solver: SolverName,
    pub optimizer: Optimizer,
    pub learning_rate: f32,
    pub schedule: LrSchedule,
    pub batch_size: BatchSize,
    /// Epochs (sgd) or iterations (lbfgs) at most.
    pub max_iter: usize,
    pub tol: Option<f64>,
    pub n_iter_no_change: usize,
    pub early_stopping: bool,
    pub validation_fraction: f32,
    pub class_weight: Option<ClassWeight>,
    pub seed: u64,
    pub backend: BackendChoice,
    pub shuffle: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolverName {
    Sgd,
    Lbfgs,
}

/// scikit-learn's default `max_iter`: `SGDClassifier`'s 1000 epochs, or
/// `LogisticRegression`'s 100 L-BFGS iterations.
const SGD_MAX_ITER: usize = 1000;

/// One entry of the parameter dict.
fn item<'py>(params: &Bound<'py, PyDict>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    params
        .get_item(name)?
        .ok_or_else(|| invalid(format!("the parameter {name} is missing")))
}

fn extract<'py, T: FromPyObjectOwned<'py>>(
    params: &Bound<'py, PyDict>,
    name: &str,
    expected: &str,
) -> PyResult<T> {
    let value = item(params, name)?;
    value.extract::<T>().map_err(|_| {
        invalid(format!(
            "{name} must be {expected}, got {}",
            value
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_else(|_| "an unprintable value".into())
        ))
    })
}

fn optional<'py, T: FromPyObjectOwned<'py>>(
    params: &Bound<'py, PyDict>,
    name: &str,
    expected: &str,
) -> PyResult<Option<T>> {
    if item(params, name)?.is_none() {
        Ok(None)
    } else {
        extract(params, name, expected).map(Some)
    }
}

/// An integer parameter; `True` and `False` are refused, though Python
/// counts them as integers.
fn integer(params: &Bound<'_, PyDict>, name: &str, expected: &str) -> PyResult<i64> {
    if item(params, name)?.is_instance_of::<PyBool>() {
        let value = item(params, name)?;
        return Err(invalid(format!("{name} must be {expected}, got {value}")));
    }
    extract(params, name, expected)
}

/// A string parameter that must be one of `choices`.
fn choice<'py>(params: &Bound<'py, PyDict>, name: &str, choices: &[&str]) -> PyResult<String> {
    let expected = format!("one of {}", quoted(choices));
    let value: String = extract(params, name, &expected)?;
    if choices.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(invalid(format!("{name} must be {expected}, got {value:?}")))
    }
}

fn quoted(choices: &[&str]) -> String {
    choices
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A finite number, `> 0` when `positive`, else `≥ 0`.
fn number(name: &str, value: f64, positive: bool) -> PyResult<f64> {
    let ok = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
    if ok {
        Ok(value)
    } else {
        let bound = if positive { "> 0" } else { "≥ 0" };
        Err(invalid(format!(
            "{name} must be a finite number {bound}, got {value}"
        )))
    }
}

/// A count `≥ 1`.
fn count(name: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| invalid(format!("{name} must be an integer ≥ 1, got {value}")))
}

impl Settings {
    /// Reads and checks every parameter.
    pub fn from_dict(params: &Bound<'_, PyDict>) -> PyResult<Settings> {
        let loss = match choice(
            params,
            "loss",
            &["softmax", "svm", "squared_hinge", "logistic", "mse"],
        )?
        .as_str()
        {
            "softmax" => Loss::softmax(),
            "svm" => Loss::hinge(),
            "squared_hinge" => Loss::SquaredHinge { margin: 1.0 },
            "logistic" => Loss::Logistic,
            _ => Loss::MeanSquaredError,
        };
        let l1_ratio = number(
            "l1_ratio",
            extract(params, "l1_ratio", "a number in [0, 1]")?,
            false,
        )?;
        if l1_ratio > 1.0 {
            return Err(invalid(format!(
                "l1_ratio must be in [0, 1], got {l1_ratio}"
            )));
        }
        let penalty =
            match optional::<String>(params, "penalty", "\"l2\", \"l1\", \"elasticnet\" or None")?
                .as_deref()
            {
                None => SklearnPenalty::None,
                Some("l2") => SklearnPenalty::L2,
                Some("l1") => SklearnPenalty::L1,
                // Rounded to f32 first, as the command line's `--l1-ratio` is,
                // so that the same value gives the same λ.
                Some("elasticnet") => SklearnPenalty::ElasticNet {
                    l1_ratio: l1_ratio as f32 as f64,
                },
                Some(other) => {
                    return Err(invalid(format!(
                        "penalty must be \"l2\", \"l1\", \"elasticnet\" or None, got {other:?}"
                    )));
                }
            };
        let strength = match optional::<f64>(params, "C", "a number > 0 or None")? {
            Some(c) => Strength::C(number("C", c, true)?),
            None => Strength::Alpha(number(
                "alpha",
                extract(params, "alpha", "a number ≥ 0")?,
                false,
            )?),
        };
        let solver = match choice(params, "solver", &["sgd", "lbfgs"])?.as_str() {
            "sgd" => SolverName::Sgd,
            _ => SolverName::Lbfgs,
        };
        // The optimizers' hyperparameters, with the command line's
        // defaults (PyTorch's); the library checks their ranges.
        let momentum = optional::<f64>(params, "momentum", "a number in [0, 1) or None")?;
        let epsilon = optional::<f64>(params, "epsilon", "a number > 0 or None")?;
        let beta1: f64 = extract(params, "beta_1", "a number in [0, 1)")?;
        let beta2: f64 = extract(params, "beta_2", "a number in [0, 1)")?;
        let weight_decay: f64 = extract(params, "weight_decay", "a number ≥ 0")?;
        let (momentum_or, epsilon_or) = (
            |default: f32| momentum.map_or(default, |m| m as f32),
            |default: f32| epsilon.map_or(default, |e| e as f32),
        );
        let optimizer = match choice(
            params,
            "optimizer",
            &[
                "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
            ],
        )?
        .as_str()
        {
            "sgd" => Optimizer::Sgd,
            "momentum" => Optimizer::Momentum {
                momentum: momentum_or(0.9),
                dampening: 0.0,
            },
            "nesterov" => Optimizer::Nesterov {
                momentum: momentum_or(0.9),
            },
            "adagrad" => Optimizer::Adagrad {
                lr_decay: 0.0,
                eps: epsilon_or(1e-10),
            },
            "rmsprop" => Optimizer::RmsProp {
                alpha: 0.99,
                eps: epsilon_or(1e-8),
                momentum: momentum_or(0.0),
                centered: false,
            },
            "adam" => Optimizer::Adam {
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: epsilon_or(1e-8),
                amsgrad: false,
            },
            _ => Optimizer::AdamW {
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                eps: epsilon_or(1e-8),
                weight_decay: weight_decay as f32,
                amsgrad: false,
            },
        };
        let learning_rate = number(
            "learning_rate",
            extract(params, "learning_rate", "a number > 0")?,
            true,
        )? as f32;
        let warmup_steps = u64::try_from(integer(params, "warmup_steps", "an integer ≥ 0")?)
            .map_err(|_| invalid("warmup_steps must be an integer ≥ 0"))?;
        let step_size = u64::try_from(integer(params, "step_size", "an integer ≥ 1")?)
            .ok()
            .filter(|&v| v >= 1)
            .ok_or_else(|| invalid("step_size must be an integer ≥ 1"))?;
        let gamma: f64 = extract(params, "gamma", "a number in (0, 1]")?;
        let min_lr: f64 = extract(params, "min_lr", "a number ≥ 0")?;
        let schedule = LrSchedule {
            schedule: match choice(
                params,
                "schedule",
                &[
                    "constant",
                    "step",
                    "exponential",
                    "cosine",
                    "linear",
                    "invsqrt",
                ],
            )?
            .as_str()
            {
                "constant" => Schedule::Constant,
                "step" => Schedule::Step {
                    step_size,
                    gamma: gamma as f32,
                },
                "exponential" => Schedule::Exponential {
                    gamma: gamma as f32,
                },
                "cosine" => Schedule::Cosine {
                    min_lr: min_lr as f32,
                },
                "linear" => Schedule::Linear {
                    min_lr: min_lr as f32,
                },
                _ => Schedule::InverseSqrt,
            },
            warmup_steps,
        };
        let batch_size = {
            let value = item(params, "batch_size")?;
            if let Ok(text) = value.extract::<String>() {
                if text != "full" {
                    return Err(invalid(format!(
                        "batch_size must be an integer ≥ 1 or \"full\", got {text:?}"
                    )));
                }
                BatchSize::Full
            } else {
                BatchSize::Rows(count(
                    "batch_size",
                    integer(params, "batch_size", "an integer ≥ 1 or \"full\"")?,
                )?)
            }
        };
        let max_iter = match optional::<i64>(params, "max_iter", "an integer ≥ 1 or None")? {
            Some(_) => count(
                "max_iter",
                integer(params, "max_iter", "an integer ≥ 1 or None")?,
            )?,
            None => match solver {
                SolverName::Sgd => SGD_MAX_ITER,
                SolverName::Lbfgs => LbfgsOptions::default().max_iterations,
            },
        };
        let tol = optional::<f64>(params, "tol", "a number ≥ 0 or None")?
            .map(|t| number("tol", t, false))
            .transpose()?;
        let n_iter_no_change = count(
            "n_iter_no_change",
            integer(params, "n_iter_no_change", "an integer ≥ 1")?,
        )?;
        let early_stopping: bool = extract(params, "early_stopping", "True or False")?;
        let validation_fraction: f64 =
            extract(params, "validation_fraction", "a number in (0, 1)")?;
        if early_stopping && !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(invalid(format!(
                "validation_fraction must be in (0, 1) with early_stopping=True, got {validation_fraction}"
            )));
        }
        if solver == SolverName::Lbfgs && loss == Loss::hinge() {
            return Err(invalid(
                "loss=\"svm\" (the hinge) has no gradient at its kink, so L-BFGS cannot fit it; use loss=\"squared_hinge\" or solver=\"sgd\"",
            ));
        }
        if early_stopping && solver == SolverName::Lbfgs {
            return Err(invalid(
                "early_stopping applies to solver=\"sgd\" only: lbfgs fits the whole training set until tol or max_iter",
            ));
        }
        let class_weight = {
            let value = item(params, "class_weight")?;
            if value.is_none() {
                None
            } else if let Ok(text) = value.extract::<String>() {
                if text != "balanced" {
                    return Err(invalid(format!(
                        "class_weight must be None, \"balanced\" or a dict, got {text:?}"
                    )));
                }
                Some(ClassWeight::Balanced)
            } else {
                Some(ClassWeight::PerClass(extract(
                    params,
                    "class_weight",
                    "None, \"balanced\" or a dict",
                )?))
            }
        };
        let seed: u64 = extract(params, "seed", "an integer ≥ 0")?;
        let backend = match choice(params, "device", &["auto", "cpu", "gpu", "software"])?.as_str()
        {
            "auto" => BackendChoice::Auto,
            "cpu" => BackendChoice::Cpu,
            "gpu" => BackendChoice::Gpu,
            _ => BackendChoice::Software,
        };
        let shuffle: bool = extract(params, "shuffle", "True or False")?;
        Ok(Settings {
            loss,
            penalty,
            strength,
            solver,
            optimizer,
            learning_rate,
            schedule,
            batch_size,
            max_iter,
            tol,
            n_iter_no_change,
            early_stopping,
            validation_fraction: validation_fraction as f32,
            class_weight,
            seed,
            backend,
            shuffle,
        })
    }

    /// The regularizer for `n_train` training rows of `classes` classes:
    /// scikit-learn's `alpha` or `C` converted as the command line's
    /// `--alpha` and `--C` are (`Regularizer::from_sklearn_alpha`,
    /// `Regularizer::from_sklearn_c`), the l2 part doubled for a two-class
    /// softmax, whose two columns stand for scikit-learn's one vector.
    pub fn regularizer(&self, n_train: usize, classes: usize) -> lintrain::Result<Regularizer> {
        let converted = match self.strength {
            Strength::Alpha(alpha) => Regularizer::from_sklearn_alpha(self.penalty, alpha),
            Strength::C(c) => Regularizer::from_sklearn_c(self.penalty, c, n_train),
        }?;
        if matches!(self.loss, Loss::SoftmaxCrossEntropy { .. }) && classes == 2 {
            converted.for_two_class_softmax()
        } else {
            Ok(converted)
        }
    }

    /// The library's configuration for `classes` classes, with the
    /// regularizer and class weights the caller computed on the training
    /// rows; `epochs` overrides `max_iter` for `partial_fit`'s one epoch.
    pub fn config(
        &self,
        classes: usize,
        regularizer: Regularizer,
        class_weights: Option<Vec<f32>>,
        epochs: Option<usize>,
    ) -> TrainConfig {
        let solver = match self.solver {
            SolverName::Sgd => Solver::Minibatch,
            SolverName::Lbfgs => {
                let defaults = LbfgsOptions::default();
                Solver::Lbfgs(LbfgsOptions {
                    max_iterations: self.max_iter,
                    gradient_tolerance: self.tol.unwrap_or(defaults.gradient_tolerance),
                    ..defaults
                })
            }
        };
        let minibatch = self.solver == SolverName::Sgd;
        TrainConfig {
            loss: self.loss,
            regularizer,
            optimizer: self.optimizer,
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            // L-BFGS counts iterations (`max_iter` above), not epochs.
            epochs: if minibatch {
                epochs.unwrap_or(self.max_iter)
            } else {
                1
            },
            batch_size: self.batch_size,
            sampling: if self.shuffle {
                Sampling::Shuffle
            } else {
                Sampling::Sequential
            },
            seed: self.seed,
            // L-BFGS starts from zeros, as scikit-learn's solvers do: its
            // result is then the same whatever the seed. Minibatch
            // training starts from CS231n's small random weights.
            init: if minibatch {
                Init::default()
            } else {
                Init::Zeros
            },
            backend: self.backend,
            // The split is made by the binding (as by the command line), so
            // that "balanced" weights and C count the training rows.
            validation_fraction: 0.0,
            early_stopping: (minibatch && self.early_stopping).then_some(EarlyStopping {
                patience: self.n_iter_no_change,
                monitor: Monitor::ValidationLoss,
            }),
            classes: Some(classes),
            class_weights,
            solver,
            tolerance: if minibatch { self.tol } else { None },
            n_iter_no_change: self.n_iter_no_change,
            device_budget: None,
        }
    }
}
