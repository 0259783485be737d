//! Bad input turned into typed errors (never panics) by `fit`,
//! `Trainer::fit_with_validation` and `Trainer::fit_regression`, on the CPU
//! backend and, for a few cases, on the software GPU adapter: data, labels,
//! configurations, validation data, regression targets, and the inputs that
//! once panicked or trained silently.

mod common;

use lintrain::{
    BackendChoice, BatchSize, EarlyStopping, Error, Init, Loss, LrSchedule, Monitor, Optimizer,
    Regularizer, Schedule, TrainConfig, Trainer, fit,
};
use ndarray::{Array1, Array2, array};
use std::panic::{AssertUnwindSafe, catch_unwind};

// ---------------------------------------------------------------------------
// Bad input → typed errors
// ---------------------------------------------------------------------------

/// 9 rows, 2 features, 3 classes (3 rows each), every value finite.
fn data() -> (Array2<f32>, Array1<u32>) {
    let x = array![
        [0.0f32, 1.0],
        [0.5, -1.0],
        [1.0, 0.25],
        [-0.5, 0.75],
        [2.0, -0.5],
        [1.5, 1.5],
        [-1.0, -2.0],
        [0.25, 0.5],
        [-2.0, 1.0],
    ];
    let y = array![0u32, 1, 2, 0, 1, 2, 0, 1, 2];
    (x, y)
}

/// A valid, quick CPU configuration; each case below changes one thing.
fn cpu_config() -> TrainConfig {
    TrainConfig {
        backend: BackendChoice::Cpu,
        epochs: 2,
        batch_size: BatchSize::Rows(4),
        ..TrainConfig::default()
    }
}

/// Runs `fit` and returns its error; fails (naming `case`) when it panics
/// or succeeds.
#[track_caller]
fn fit_err(case: &str, x: &Array2<f32>, y: &Array1<u32>, config: &TrainConfig) -> Error {
    let result = catch_unwind(AssertUnwindSafe(|| fit(x.view(), y.view(), config)));
    match result {
        Err(_) => panic!("{case}: fit panicked instead of returning an error"),
        Ok(Ok(_)) => panic!("{case}: fit succeeded, expected an error"),
        Ok(Err(e)) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "{case}: empty Display for {e:?}"
            );
            e
        }
    }
}

/// The same through `Trainer::fit_regression`.
#[track_caller]
fn regression_err(
    case: &str,
    x: &Array2<f32>,
    targets: &Array2<f32>,
    config: &TrainConfig,
) -> Error {
    let result = catch_unwind(AssertUnwindSafe(|| {
        Trainer::new(config.clone()).fit_regression(x.view(), targets.view())
    }));
    match result {
        Err(_) => panic!("{case}: fit_regression panicked instead of returning an error"),
        Ok(Ok(_)) => panic!("{case}: fit_regression succeeded, expected an error"),
        Ok(Err(e)) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "{case}: empty Display for {e:?}"
            );
            e
        }
    }
}

#[track_caller]
fn assert_mentions(case: &str, e: &Error, needles: &[&str]) {
    let text = e.to_string();
    for needle in needles {
        assert!(
            text.contains(needle),
            "{case}: the message should mention {needle:?}, got: {text}"
        );
    }
}

#[test]
fn the_baseline_configuration_trains() {
    // Every error case below differs from this in one thing only.
    let (x, y) = data();
    let (model, history) = fit(x.view(), y.view(), &cpu_config()).expect("baseline trains");
    assert_eq!(history.epochs.len(), 2);
    assert_eq!(model.features(), 2);

    let targets = x.column(0).to_owned().insert_axis(ndarray::Axis(1));
    let regression = TrainConfig {
        loss: Loss::MeanSquaredError,
        learning_rate: 0.01,
        ..cpu_config()
    };
    Trainer::new(regression)
        .fit_regression(x.view(), targets.view())
        .expect("baseline regression trains");
}

#[test]
fn non_finite_features_name_their_row_and_column() {
    let (x, y) = data();
    let config = cpu_config();
    for (row, column, value) in [
        (4usize, 1usize, f32::NAN),
        (0, 0, f32::INFINITY),
        (8, 1, f32::NEG_INFINITY),
    ] {
        let mut bad = x.clone();
        bad[[row, column]] = value;
        let case = format!("feature {value} at ({row}, {column})");
        let e = fit_err(&case, &bad, &y, &config);
        assert!(
            matches!(
                e,
                Error::NonFinite { what: "features", row: r, column: c, value: v }
                    if r == row && c == column && (v == value || (v.is_nan() && value.is_nan()))
            ),
            "{case}: got {e:?}: {e}"
        );
        assert_mentions(
            &case,
            &e,
            &[
                &value.to_string(),
                &format!("row {row}"),
                &format!("column {column}"),
            ],
        );
    }

    // The first bad value in row order is the one reported.
    let mut bad = x.clone();
    bad[[6, 0]] = f32::NAN;
    bad[[2, 1]] = f32::INFINITY;
    let e = fit_err("two bad values", &bad, &y, &config);
    assert!(
        matches!(
            e,
            Error::NonFinite {
                row: 2,
                column: 1,
                ..
            }
        ),
        "two bad values: got {e:?}: {e}"
    );
}

#[test]
fn label_out_of_range_names_its_row() {
    let (x, mut y) = data();
    y[5] = 3;
    let config = TrainConfig {
        classes: Some(3),
        ..cpu_config()
    };
    let e = fit_err("label 3 with 3 classes", &x, &y, &config);
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                row: 5,
                label: 3,
                classes: 3
            }
        ),
        "label 3 with 3 classes: got {e:?}: {e}"
    );
    assert_mentions(
        "label 3 with 3 classes",
        &e,
        &["label 3", "row 5", "3 classes"],
    );

    // A far-out label too.
    y[5] = 1;
    y[1] = 1000;
    let e = fit_err("label 1000 with 3 classes", &x, &y, &config);
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                row: 1,
                label: 1000,
                classes: 3
            }
        ),
        "label 1000 with 3 classes: got {e:?}: {e}"
    );
}

#[test]
fn shape_mismatch_and_empty_data() {
    let (x, y) = data();
    let config = cpu_config();

    let short = y.slice(ndarray::s![..7]).to_owned();
    let e = fit_err("9 rows, 7 labels", &x, &short, &config);
    assert!(
        matches!(e, Error::ShapeMismatch { .. }),
        "9 rows, 7 labels: got {e:?}: {e}"
    );
    assert_mentions("9 rows, 7 labels", &e, &["9", "7"]);

    let long = Array1::from_iter((0..12).map(|i| (i % 3) as u32));
    let e = fit_err("9 rows, 12 labels", &x, &long, &config);
    assert!(
        matches!(e, Error::ShapeMismatch { .. }),
        "9 rows, 12 labels: got {e:?}: {e}"
    );

    let empty_x = Array2::<f32>::zeros((0, 2));
    let empty_y = Array1::<u32>::zeros(0);
    let e = fit_err("0 rows", &empty_x, &empty_y, &config);
    assert!(matches!(e, Error::EmptyData(_)), "0 rows: got {e:?}: {e}");

    let no_columns = Array2::<f32>::zeros((9, 0));
    let e = fit_err("0 columns", &no_columns, &y, &config);
    assert!(
        matches!(e, Error::EmptyData(_)),
        "0 columns: got {e:?}: {e}"
    );

    // 0 rows but labels present: either error is fine, never a panic.
    let e = fit_err("0 rows, 9 labels", &empty_x, &y, &config);
    assert!(
        matches!(e, Error::EmptyData(_) | Error::ShapeMismatch { .. }),
        "0 rows, 9 labels: got {e:?}: {e}"
    );
}

#[test]
fn a_single_class_is_rejected() {
    let (x, _) = data();
    let zeros = Array1::<u32>::zeros(9);
    let e = fit_err("all labels 0", &x, &zeros, &cpu_config());
    assert!(
        matches!(e, Error::InvalidConfig(_)),
        "all labels 0: got {e:?}: {e}"
    );

    let config = TrainConfig {
        classes: Some(1),
        ..cpu_config()
    };
    let e = fit_err("classes = Some(1)", &x, &zeros, &config);
    assert!(
        matches!(e, Error::InvalidConfig(_)),
        "classes = Some(1): got {e:?}: {e}"
    );
}

/// One changed setting of [`cpu_config`], and what its message must mention.
struct BadConfig {
    case: &'static str,
    config: TrainConfig,
    mentions: &'static [&'static str],
}

fn bad(case: &'static str, mentions: &'static [&'static str], config: TrainConfig) -> BadConfig {
    BadConfig {
        case,
        config,
        mentions,
    }
}

fn bad_configs() -> Vec<BadConfig> {
    let base = cpu_config;
    let adam = |beta1: f32, beta2: f32, eps: f32| Optimizer::Adam {
        beta1,
        beta2,
        eps,
        amsgrad: false,
    };
    vec![
        bad(
            "batch size 0",
            &["batch size"],
            TrainConfig {
                batch_size: BatchSize::Rows(0),
                ..base()
            },
        ),
        bad(
            "learning rate 0",
            &["learning rate", "0"],
            TrainConfig {
                learning_rate: 0.0,
                ..base()
            },
        ),
        bad(
            "learning rate -0.5",
            &["learning rate", "-0.5"],
            TrainConfig {
                learning_rate: -0.5,
                ..base()
            },
        ),
        bad(
            "learning rate NaN",
            &["learning rate", "NaN"],
            TrainConfig {
                learning_rate: f32::NAN,
                ..base()
            },
        ),
        bad(
            "learning rate inf",
            &["learning rate", "inf"],
            TrainConfig {
                learning_rate: f32::INFINITY,
                ..base()
            },
        ),
        bad(
            "learning rate -inf",
            &["learning rate", "-inf"],
            TrainConfig {
                learning_rate: f32::NEG_INFINITY,
                ..base()
            },
        ),
        bad(
            "epochs 0",
            &["epochs"],
            TrainConfig {
                epochs: 0,
                ..base()
            },
        ),
        bad(
            "adam beta1 NaN",
            &["beta1", "NaN"],
            TrainConfig {
                optimizer: adam(f32::NAN, 0.999, 1e-8),
                ..base()
            },
        ),
        bad(
            "adam beta2 1.0",
            &["beta2", "1"],
            TrainConfig {
                optimizer: adam(0.9, 1.0, 1e-8),
                ..base()
            },
        ),
        bad(
            "adam eps inf",
            &["eps", "inf"],
            TrainConfig {
                optimizer: adam(0.9, 0.999, f32::INFINITY),
                ..base()
            },
        ),
        bad(
            "adamw weight_decay NaN",
            &["weight_decay", "NaN"],
            TrainConfig {
                optimizer: Optimizer::AdamW {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: f32::NAN,
                    amsgrad: true,
                },
                ..base()
            },
        ),
        bad(
            "momentum inf",
            &["momentum", "inf"],
            TrainConfig {
                optimizer: Optimizer::Momentum {
                    momentum: f32::INFINITY,
                    dampening: 0.0,
                },
                ..base()
            },
        ),
        bad(
            "momentum dampening NaN",
            &["dampening", "NaN"],
            TrainConfig {
                optimizer: Optimizer::Momentum {
                    momentum: 0.9,
                    dampening: f32::NAN,
                },
                ..base()
            },
        ),
        bad(
            "nesterov momentum NaN",
            &["momentum", "NaN"],
            TrainConfig {
                optimizer: Optimizer::Nesterov { momentum: f32::NAN },
                ..base()
            },
        ),
        bad(
            "adagrad eps -inf",
            &["eps", "-inf"],
            TrainConfig {
                optimizer: Optimizer::Adagrad {
                    lr_decay: 0.0,
                    eps: f32::NEG_INFINITY,
                },
                ..base()
            },
        ),
        bad(
            "rmsprop alpha NaN",
            &["alpha", "NaN"],
            TrainConfig {
                optimizer: Optimizer::RmsProp {
                    alpha: f32::NAN,
                    eps: 1e-8,
                    momentum: 0.0,
                    centered: false,
                },
                ..base()
            },
        ),
        bad(
            "validation fraction -0.1",
            &["validation fraction", "-0.1"],
            TrainConfig {
                validation_fraction: -0.1,
                ..base()
            },
        ),
        bad(
            "validation fraction 1.0",
            &["validation fraction", "1"],
            TrainConfig {
                validation_fraction: 1.0,
                ..base()
            },
        ),
        bad(
            "validation fraction NaN",
            &["validation fraction", "NaN"],
            TrainConfig {
                validation_fraction: f32::NAN,
                ..base()
            },
        ),
        bad(
            "validation fraction inf",
            &["validation fraction", "inf"],
            TrainConfig {
                validation_fraction: f32::INFINITY,
                ..base()
            },
        ),
        bad(
            "L2 strength -1",
            &["strength", "-1"],
            TrainConfig {
                regularizer: Regularizer::L2 { strength: -1.0 },
                ..base()
            },
        ),
        bad(
            "L2 strength NaN",
            &["strength", "NaN"],
            TrainConfig {
                regularizer: Regularizer::L2 { strength: f32::NAN },
                ..base()
            },
        ),
        bad(
            "L1 strength inf",
            &["strength", "inf"],
            TrainConfig {
                regularizer: Regularizer::L1 {
                    strength: f32::INFINITY,
                },
                ..base()
            },
        ),
        bad(
            "elastic net l1_ratio 1.5",
            &["l1_ratio", "1.5"],
            TrainConfig {
                regularizer: Regularizer::ElasticNet {
                    strength: 1e-3,
                    l1_ratio: 1.5,
                },
                ..base()
            },
        ),
        bad(
            "elastic net l1_ratio NaN",
            &["l1_ratio", "NaN"],
            TrainConfig {
                regularizer: Regularizer::ElasticNet {
                    strength: 1e-3,
                    l1_ratio: f32::NAN,
                },
                ..base()
            },
        ),
        bad(
            "elastic net l1_ratio -0.25",
            &["l1_ratio", "-0.25"],
            TrainConfig {
                regularizer: Regularizer::ElasticNet {
                    strength: 1e-3,
                    l1_ratio: -0.25,
                },
                ..base()
            },
        ),
        bad(
            "label smoothing 1.0",
            &["label smoothing", "1"],
            TrainConfig {
                loss: Loss::SoftmaxCrossEntropy {
                    label_smoothing: 1.0,
                },
                ..base()
            },
        ),
        bad(
            "label smoothing NaN",
            &["label smoothing", "NaN"],
            TrainConfig {
                loss: Loss::SoftmaxCrossEntropy {
                    label_smoothing: f32::NAN,
                },
                ..base()
            },
        ),
        bad(
            "label smoothing -0.1",
            &["label smoothing", "-0.1"],
            TrainConfig {
                loss: Loss::SoftmaxCrossEntropy {
                    label_smoothing: -0.1,
                },
                ..base()
            },
        ),
        bad(
            "hinge margin -1",
            &["margin", "-1"],
            TrainConfig {
                loss: Loss::Hinge { margin: -1.0 },
                ..base()
            },
        ),
        bad(
            "squared hinge margin NaN",
            &["margin", "NaN"],
            TrainConfig {
                loss: Loss::SquaredHinge { margin: f32::NAN },
                ..base()
            },
        ),
        bad(
            "class weights of length 2 for 3 classes",
            &["2 class weights", "3 classes"],
            TrainConfig {
                class_weights: Some(vec![1.0, 2.0]),
                ..base()
            },
        ),
        bad(
            "class weights of length 4 for 3 classes",
            &["4 class weights", "3 classes"],
            TrainConfig {
                class_weights: Some(vec![1.0, 2.0, 1.0, 1.0]),
                ..base()
            },
        ),
        bad(
            "class weight NaN",
            &["class weights", "NaN"],
            TrainConfig {
                class_weights: Some(vec![1.0, f32::NAN, 1.0]),
                ..base()
            },
        ),
        bad(
            "class weight -1",
            &["class weights", "-1"],
            TrainConfig {
                class_weights: Some(vec![1.0, -1.0, 1.0]),
                ..base()
            },
        ),
        bad(
            "class weights with the hinge loss",
            &["class weights", "softmax"],
            TrainConfig {
                loss: Loss::hinge(),
                class_weights: Some(vec![1.0, 1.0, 1.0]),
                ..base()
            },
        ),
        bad(
            "early stopping without a validation set",
            &["early stopping", "validation"],
            TrainConfig {
                early_stopping: Some(EarlyStopping {
                    patience: 2,
                    monitor: Monitor::ValidationLoss,
                }),
                ..base()
            },
        ),
        bad(
            "early stopping on accuracy without a validation set",
            &["early stopping", "validation"],
            TrainConfig {
                early_stopping: Some(EarlyStopping {
                    patience: 2,
                    monitor: Monitor::ValidationAccuracy,
                }),
                ..base()
            },
        ),
        bad(
            "early-stopping patience 0",
            &["patience"],
            TrainConfig {
                validation_fraction: 0.3,
                early_stopping: Some(EarlyStopping {
                    patience: 0,
                    monitor: Monitor::ValidationLoss,
                }),
                ..base()
            },
        ),
        bad(
            "init scale NaN",
            &["init scale", "NaN"],
            TrainConfig {
                init: Init::Random { scale: f32::NAN },
                ..base()
            },
        ),
        bad(
            "step schedule step_size 0",
            &["step_size"],
            TrainConfig {
                schedule: LrSchedule {
                    schedule: Schedule::Step {
                        step_size: 0,
                        gamma: 0.5,
                    },
                    warmup_steps: 0,
                },
                ..base()
            },
        ),
        bad(
            "step schedule gamma NaN",
            &["gamma", "NaN"],
            TrainConfig {
                schedule: LrSchedule {
                    schedule: Schedule::Step {
                        step_size: 2,
                        gamma: f32::NAN,
                    },
                    warmup_steps: 0,
                },
                ..base()
            },
        ),
        bad(
            "exponential schedule gamma 0",
            &["gamma", "0"],
            TrainConfig {
                schedule: LrSchedule {
                    schedule: Schedule::Exponential { gamma: 0.0 },
                    warmup_steps: 2,
                },
                ..base()
            },
        ),
        bad(
            "cosine min_lr -0.01",
            &["min_lr", "-0.01"],
            TrainConfig {
                schedule: LrSchedule {
                    schedule: Schedule::Cosine { min_lr: -0.01 },
                    warmup_steps: 0,
                },
                ..base()
            },
        ),
        bad(
            "linear min_lr inf",
            &["min_lr", "inf"],
            TrainConfig {
                schedule: LrSchedule {
                    schedule: Schedule::Linear {
                        min_lr: f32::INFINITY,
                    },
                    warmup_steps: 0,
                },
                ..base()
            },
        ),
    ]
}

#[test]
fn bad_configurations_are_invalid_config_errors() {
    let (x, y) = data();
    for BadConfig {
        case,
        config,
        mentions,
    } in bad_configs()
    {
        let e = fit_err(case, &x, &y, &config);
        assert!(
            matches!(e, Error::InvalidConfig(_)),
            "{case}: expected InvalidConfig, got {e:?}: {e}"
        );
        assert_mentions(case, &e, mentions);
    }
}

#[test]
fn bad_configurations_are_caught_by_validate_alone() {
    // Everything that does not depend on the data is rejected by
    // TrainConfig::validate() before any training.
    let data_dependent = [
        "class weights of length 2 for 3 classes",
        "class weights of length 4 for 3 classes",
        "mse loss through the classification API",
        "early stopping without a validation set",
        "early stopping on accuracy without a validation set",
    ];
    for BadConfig { case, config, .. } in bad_configs() {
        if data_dependent.contains(&case) {
            continue;
        }
        match config.validate() {
            Err(Error::InvalidConfig(_)) => {}
            other => panic!("{case}: validate() returned {other:?}"),
        }
    }
    cpu_config().validate().expect("the baseline is valid");
}

#[test]
fn validation_data_is_checked_like_training_data() {
    let (x, y) = data();
    let config = cpu_config();
    let run = |case: &str, vx: &Array2<f32>, vy: &Array1<u32>| match catch_unwind(AssertUnwindSafe(
        || {
            Trainer::new(config.clone()).fit_with_validation(
                x.view(),
                y.view(),
                Some((vx.view(), vy.view())),
            )
        },
    )) {
        Err(_) => panic!("{case}: panicked"),
        Ok(Ok(_)) => panic!("{case}: succeeded, expected an error"),
        Ok(Err(e)) => e,
    };

    let mut vx = x.slice(ndarray::s![..4, ..]).to_owned();
    let vy = y.slice(ndarray::s![..4]).to_owned();
    vx[[3, 0]] = f32::NAN;
    let e = run("NaN in validation features", &vx, &vy);
    assert!(
        matches!(
            e,
            Error::NonFinite {
                what: "validation features",
                row: 3,
                column: 0,
                ..
            }
        ),
        "NaN in validation features: got {e:?}: {e}"
    );

    let vx = x.slice(ndarray::s![..4, ..]).to_owned();
    let mut bad_vy = vy.clone();
    bad_vy[2] = 7;
    let e = run("validation label 7 of 3 classes", &vx, &bad_vy);
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                row: 2,
                label: 7,
                classes: 3
            }
        ),
        "validation label 7 of 3 classes: got {e:?}: {e}"
    );

    let wide = Array2::<f32>::zeros((4, 3));
    let e = run("validation with 3 features", &wide, &vy);
    assert!(
        matches!(e, Error::ShapeMismatch { .. }),
        "validation with 3 features: got {e:?}: {e}"
    );

    let short_vy = vy.slice(ndarray::s![..3]).to_owned();
    let e = run("4 validation rows, 3 labels", &vx, &short_vy);
    assert!(
        matches!(e, Error::ShapeMismatch { .. }),
        "4 validation rows, 3 labels: got {e:?}: {e}"
    );
}

#[test]
fn a_validation_split_that_leaves_nothing_to_train_on_is_empty_data() {
    let (x, y) = data();
    // 3 rows per class: 0.9 holds out round(2.7) = 3 of each.
    let config = TrainConfig {
        validation_fraction: 0.9,
        ..cpu_config()
    };
    let e = fit_err("validation fraction 0.9 of 9 rows", &x, &y, &config);
    assert!(
        matches!(e, Error::EmptyData(_)),
        "validation fraction 0.9 of 9 rows: got {e:?}: {e}"
    );
    assert_mentions("validation fraction 0.9 of 9 rows", &e, &["0.9"]);
}

#[test]
fn regression_bad_input_is_typed() {
    let (x, _) = data();
    let targets = x.column(0).to_owned().insert_axis(ndarray::Axis(1)) * 2.0 - 1.0;
    let config = TrainConfig {
        loss: Loss::MeanSquaredError,
        learning_rate: 0.01,
        ..cpu_config()
    };

    let mut bad = x.clone();
    bad[[3, 1]] = f32::NAN;
    let e = regression_err("NaN feature", &bad, &targets, &config);
    assert!(
        matches!(
            e,
            Error::NonFinite {
                what: "features",
                row: 3,
                column: 1,
                ..
            }
        ),
        "NaN feature: got {e:?}: {e}"
    );

    let mut bad_targets = targets.clone();
    bad_targets[[7, 0]] = f32::INFINITY;
    let e = regression_err("+inf target", &x, &bad_targets, &config);
    assert!(
        matches!(
            e,
            Error::NonFinite {
                what: "targets",
                row: 7,
                column: 0,
                value
            } if value == f32::INFINITY
        ),
        "+inf target: got {e:?}: {e}"
    );
    assert_mentions("+inf target", &e, &["inf", "targets", "row 7", "column 0"]);

    let short = targets.slice(ndarray::s![..5, ..]).to_owned();
    let e = regression_err("9 rows, 5 targets", &x, &short, &config);
    assert!(
        matches!(e, Error::ShapeMismatch { .. }),
        "9 rows, 5 targets: got {e:?}: {e}"
    );
    assert_mentions("9 rows, 5 targets", &e, &["9", "5"]);

    let e = regression_err(
        "0 rows",
        &Array2::zeros((0, 2)),
        &Array2::zeros((0, 1)),
        &config,
    );
    assert!(matches!(e, Error::EmptyData(_)), "0 rows: got {e:?}: {e}");

    let e = regression_err("0 target columns", &x, &Array2::zeros((9, 0)), &config);
    assert!(
        matches!(e, Error::EmptyData(_)),
        "0 target columns: got {e:?}: {e}"
    );

    // A classification loss with real-valued targets.
    for loss in [Loss::softmax(), Loss::hinge()] {
        let case = format!("{} loss with fit_regression", loss.name());
        let e = regression_err(
            &case,
            &x,
            &targets,
            &TrainConfig {
                loss,
                ..config.clone()
            },
        );
        assert!(
            matches!(e, Error::InvalidConfig(_)),
            "{case}: got {e:?}: {e}"
        );
        assert_mentions(&case, &e, &[loss.name()]);
    }

    // Config errors surface through fit_regression as well.
    for (case, changed) in [
        (
            "learning rate 0",
            TrainConfig {
                learning_rate: 0.0,
                ..config.clone()
            },
        ),
        (
            "learning rate NaN",
            TrainConfig {
                learning_rate: f32::NAN,
                ..config.clone()
            },
        ),
        (
            "epochs 0",
            TrainConfig {
                epochs: 0,
                ..config.clone()
            },
        ),
        (
            "batch size 0",
            TrainConfig {
                batch_size: BatchSize::Rows(0),
                ..config.clone()
            },
        ),
        (
            "validation fraction 1.0",
            TrainConfig {
                validation_fraction: 1.0,
                ..config.clone()
            },
        ),
        (
            "adam beta1 NaN",
            TrainConfig {
                optimizer: Optimizer::Adam {
                    beta1: f32::NAN,
                    beta2: 0.999,
                    eps: 1e-8,
                    amsgrad: false,
                },
                ..config.clone()
            },
        ),
        (
            "L2 strength -1",
            TrainConfig {
                regularizer: Regularizer::L2 { strength: -1.0 },
                ..config.clone()
            },
        ),
        (
            "early stopping without a validation set",
            TrainConfig {
                early_stopping: Some(EarlyStopping {
                    patience: 1,
                    monitor: Monitor::ValidationLoss,
                }),
                ..config.clone()
            },
        ),
    ] {
        let e = regression_err(case, &x, &targets, &changed);
        assert!(
            matches!(e, Error::InvalidConfig(_)),
            "{case}: got {e:?}: {e}"
        );
    }
}

#[test]
fn software_gpu_backend_returns_the_same_typed_errors() {
    // gpu() panics under CI=true when there is no adapter and prints loudly
    // otherwise, so this never skips silently.
    if common::gpu().is_none() {
        return;
    }
    let (x, y) = data();
    let software = |config: TrainConfig| TrainConfig {
        backend: BackendChoice::Software,
        ..config
    };

    // The software adapter trains the baseline.
    let (_, history) =
        fit(x.view(), y.view(), &software(cpu_config())).expect("baseline trains on lavapipe");
    assert_eq!(history.epochs.len(), 2);

    let mut nan_x = x.clone();
    nan_x[[4, 1]] = f32::NAN;
    let mut bad_y = y.clone();
    bad_y[5] = 3;
    let early = TrainConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationLoss,
        }),
        ..cpu_config()
    };
    let classes3 = TrainConfig {
        classes: Some(3),
        ..cpu_config()
    };
    let lr_nan = TrainConfig {
        learning_rate: f32::NAN,
        ..cpu_config()
    };
    let cases: [(&str, &Array2<f32>, &Array1<u32>, TrainConfig); 4] = [
        ("NaN feature", &nan_x, &y, cpu_config()),
        ("label 3 of 3 classes", &x, &bad_y, classes3),
        ("learning rate NaN", &x, &y, lr_nan),
        // This one trains an epoch on the GPU before it is detected.
        ("early stopping without a validation set", &x, &y, early),
    ];
    for (case, cx, cy, config) in cases {
        let cpu = fit_err(case, cx, cy, &config);
        let gpu = fit_err(case, cx, cy, &software(config));
        assert_eq!(
            std::mem::discriminant(&cpu),
            std::mem::discriminant(&gpu),
            "{case}: CPU gave {cpu:?}, software GPU gave {gpu:?}"
        );
        assert_eq!(
            cpu.to_string(),
            gpu.to_string(),
            "{case}: the two backends' messages differ"
        );
    }
    let gpu = fit_err("NaN feature", &nan_x, &y, &software(cpu_config()));
    assert!(
        matches!(
            gpu,
            Error::NonFinite {
                what: "features",
                row: 4,
                column: 1,
                ..
            }
        ),
        "NaN feature on the software GPU: got {gpu:?}: {gpu}"
    );
}

// ---------------------------------------------------------------------------
// Inputs that once panicked or trained silently: regressions
// ---------------------------------------------------------------------------

#[test]
fn huge_epoch_counts_are_a_typed_error_not_an_overflow_panic() {
    let (x, y) = data();
    let config = TrainConfig {
        epochs: usize::MAX,
        ..cpu_config()
    };
    let e = fit_err("epochs usize::MAX", &x, &y, &config);
    assert!(
        matches!(e, Error::InvalidConfig(_)),
        "epochs usize::MAX: got {e:?}: {e}"
    );
}

#[test]
fn huge_class_counts_are_a_typed_error_not_an_overflow_panic() {
    let (x, y) = data();
    let config = TrainConfig {
        classes: Some(usize::MAX),
        ..cpu_config()
    };
    let e = fit_err("classes usize::MAX", &x, &y, &config);
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == lintrain::limits::MAX_CLASSES),
        "classes usize::MAX: got {e:?}: {e}"
    );
}

#[test]
fn one_class_present_trains_when_the_classes_are_stated() {
    // A partial_fit batch continuing a three-class model may hold rows of
    // one class only: with the classes stated, it trains.
    let (x, _) = data();
    let ones = Array1::from_elem(9, 1u32);
    let config = TrainConfig {
        classes: Some(3),
        ..cpu_config()
    };
    let outcome = Trainer::new(config)
        .fit(x.view(), ones.view())
        .expect("one class present of three stated");
    assert_eq!(outcome.model.outputs(), 3);
    let predicted = outcome.model.predict(x.view()).unwrap();
    assert!(
        predicted.iter().all(|&c| c == 1),
        "trained on class 1 only, predicted {predicted:?}"
    );
}

#[test]
fn only_one_class_present_is_rejected_even_when_it_is_not_class_0() {
    let (x, _) = data();
    let ones = Array1::from_elem(9, 1u32);
    let e = fit_err("all labels 1", &x, &ones, &cpu_config());
    assert!(
        matches!(e, Error::InvalidConfig(_)),
        "all labels 1: got {e:?}: {e}"
    );
}
