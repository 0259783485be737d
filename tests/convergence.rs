//! Issue 13 without the full-batch solver: the minibatch optimizers'
//! tolerance stopping (scikit-learn's `tol` and `n_iter_no_change`), the
//! conversion of scikit-learn's `C` and `alpha` to lintrain's λ, and the
//! configurations the library refuses (bad tolerances, the hinge loss with
//! L-BFGS).

use lintrain::data::Standardizer;
use lintrain::dataset::iris;
use lintrain::regularizer::SklearnPenalty;
use lintrain::{
    BackendChoice, BatchSize, EarlyStopping, Error, History, Init, LbfgsOptions, Loss, LrSchedule,
    Monitor, Optimizer, Regularizer, Sampling, Schedule, Solver, TrainConfig, Trainer,
};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Iris, standardized.
fn standardized_iris() -> (Array2<f32>, Array1<u32>) {
    let (x, labels, _) = iris();
    let x = Standardizer::fit(x.view()).apply(x.view()).unwrap();
    (x, labels)
}

/// Deterministic full-batch gradient descent on the CPU: one step per
/// epoch over every row in order, from zero weights.
fn full_batch_config(schedule: Schedule, epochs: usize) -> TrainConfig {
    TrainConfig {
        loss: Loss::softmax(),
        regularizer: Regularizer::L2 { strength: 1e-3 },
        optimizer: Optimizer::Sgd,
        learning_rate: 0.5,
        schedule: LrSchedule {
            schedule,
            warmup_steps: 0,
        },
        epochs,
        batch_size: BatchSize::Full,
        sampling: Sampling::Sequential,
        init: Init::Zeros,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    }
}

fn train(config: &TrainConfig) -> History {
    let (x, labels) = standardized_iris();
    Trainer::new(config.clone())
        .fit(x.view(), labels.view())
        .expect("training")
        .history
}

fn train_losses(history: &History) -> Vec<f64> {
    history.epochs.iter().map(|r| r.train_loss).collect()
}

/// Whether each of the epochs `epochs` (1-based) improved on the best loss
/// before it by at least `tol`.
fn each_improves_by(losses: &[f64], epochs: std::ops::RangeInclusive<usize>, tol: f64) -> bool {
    epochs.into_iter().all(|e| {
        let best_before = losses[..e - 1]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        losses[e - 1] <= best_before - tol
    })
}

// ---------------------------------------------------------------------------
// Tolerance stopping of the minibatch optimizers
// ---------------------------------------------------------------------------

#[test]
fn tolerance_stops_n_epochs_into_a_plateau_and_not_before() {
    // The step schedule divides the rate by 1e30 after K steps (one per
    // epoch at full batch): from epoch K + 1 on the weights stay W_K, and
    // every epoch's loss is the same.
    const K: u64 = 8;
    let (tol, n_iter_no_change) = (1e-4, 3);
    let schedule = Schedule::Step {
        step_size: K,
        gamma: 1e-30,
    };
    let reference = train(&full_batch_config(schedule, 40));
    let losses = train_losses(&reference);
    let plateau = K as usize + 1;
    assert!(
        each_improves_by(&losses, 2..=plateau, tol),
        "the run should improve by more than tol up to epoch {plateau}: {losses:?}"
    );
    assert!(
        losses[plateau..].iter().all(|&l| l == losses[plateau - 1]),
        "the losses should be flat from epoch {plateau} on: {losses:?}"
    );
    assert!(!reference.stopped_by_tolerance && reference.epochs.len() == 40);

    let config = TrainConfig {
        tolerance: Some(tol),
        n_iter_no_change,
        ..full_batch_config(schedule, 40)
    };
    let stopped = train(&config);
    // The plateau's first epoch improved; the n after it did not.
    assert_eq!(stopped.epochs.len(), plateau + n_iter_no_change);
    assert!(stopped.stopped_by_tolerance);
    assert!(!stopped.stopped_early && stopped.best_epoch.is_none());
    assert_eq!(train_losses(&stopped), losses[..plateau + n_iter_no_change]);
}

#[test]
fn a_run_that_improves_by_more_than_tol_every_epoch_runs_every_epoch() {
    let epochs = 12;
    let tol = 1e-4;
    let reference = train(&full_batch_config(Schedule::Constant, epochs));
    let losses = train_losses(&reference);
    assert!(
        each_improves_by(&losses, 2..=epochs, tol),
        "every epoch should improve by more than tol: {losses:?}"
    );
    for n_iter_no_change in [1, 5] {
        let history = train(&TrainConfig {
            tolerance: Some(tol),
            n_iter_no_change,
            ..full_batch_config(Schedule::Constant, epochs)
        });
        assert_eq!(
            history.epochs.len(),
            epochs,
            "n_iter_no_change {n_iter_no_change}"
        );
        assert!(!history.stopped_by_tolerance);
        assert_eq!(train_losses(&history), losses);
    }
}

#[test]
fn the_first_epoch_never_counts_and_a_huge_tol_stops_after_n_more() {
    // Against +∞ the first epoch always improves; with tol = 1e9 no later
    // epoch does, so the run is 1 + n_iter_no_change epochs long.
    for n_iter_no_change in [1, 2, 4] {
        let history = train(&TrainConfig {
            tolerance: Some(1e9),
            n_iter_no_change,
            ..full_batch_config(Schedule::Constant, 30)
        });
        assert_eq!(history.epochs.len(), 1 + n_iter_no_change);
        assert!(history.stopped_by_tolerance);
    }
}

#[test]
fn without_tol_a_plateau_runs_every_epoch_as_before() {
    let schedule = Schedule::Step {
        step_size: 3,
        gamma: 1e-30,
    };
    let history = train(&full_batch_config(schedule, 25));
    assert_eq!(TrainConfig::default().tolerance, None);
    assert_eq!(history.epochs.len(), 25);
    assert!(!history.stopped_by_tolerance);
}

#[test]
fn with_validation_rows_the_validation_loss_is_monitored() {
    // The validation rows are the training rows with every label shifted to
    // the next class: the better the model learns, the worse it scores
    // there, while its training loss falls.
    let (x, labels) = standardized_iris();
    let shifted = labels.mapv(|y| (y + 1) % 3);
    let fit = |config: &TrainConfig| {
        Trainer::new(config.clone())
            .fit_with_validation(x.view(), labels.view(), Some((x.view(), shifted.view())))
            .expect("training")
            .history
    };
    let reference = fit(&full_batch_config(Schedule::Constant, 10));
    let val: Vec<f64> = reference
        .epochs
        .iter()
        .map(|r| r.val_loss.unwrap())
        .collect();
    assert!(
        val.windows(2).take(3).all(|w| w[1] > w[0]),
        "the validation loss should rise: {val:?}"
    );
    assert!(each_improves_by(&train_losses(&reference), 2..=10, 0.0));

    let history = fit(&TrainConfig {
        tolerance: Some(0.0),
        n_iter_no_change: 2,
        ..full_batch_config(Schedule::Constant, 10)
    });
    assert_eq!(history.epochs.len(), 3);
    assert!(history.stopped_by_tolerance);
}

#[test]
fn tolerance_and_early_stopping_each_say_which_one_stopped() {
    let (x, labels) = standardized_iris();
    let config = TrainConfig {
        validation_fraction: 0.2,
        early_stopping: Some(EarlyStopping {
            patience: 1000,
            monitor: Monitor::ValidationLoss,
        }),
        tolerance: Some(1e9),
        n_iter_no_change: 2,
        ..full_batch_config(Schedule::Constant, 30)
    };
    let history = Trainer::new(config)
        .fit(x.view(), labels.view())
        .unwrap()
        .history;
    assert_eq!(history.epochs.len(), 3);
    assert!(history.stopped_by_tolerance);
    assert!(!history.stopped_early);
    // Early stopping still returns its best epoch's weights.
    assert!(history.best_epoch.is_some());
}

#[test]
fn out_of_range_tolerances_are_refused() {
    let invalid = |config: TrainConfig, fragment: &str| match config.validate() {
        Err(Error::InvalidConfig(message)) => {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}")
        }
        other => panic!("expected InvalidConfig({fragment:?}), got {other:?}"),
    };
    for tol in [-1e-3, f64::NAN, f64::INFINITY] {
        invalid(
            TrainConfig {
                tolerance: Some(tol),
                ..TrainConfig::default()
            },
            "tolerance",
        );
    }
    invalid(
        TrainConfig {
            tolerance: Some(1e-3),
            n_iter_no_change: 0,
            ..TrainConfig::default()
        },
        "n_iter_no_change",
    );
    assert!(
        TrainConfig {
            tolerance: Some(0.0),
            n_iter_no_change: 1,
            ..TrainConfig::default()
        }
        .validate()
        .is_ok()
    );
}

// ---------------------------------------------------------------------------
// The hinge loss and the options of L-BFGS
// ---------------------------------------------------------------------------

#[test]
fn the_hinge_loss_with_lbfgs_is_refused_and_the_squared_hinge_suggested() {
    let config = TrainConfig {
        loss: Loss::hinge(),
        solver: Solver::Lbfgs(LbfgsOptions::default()),
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    match config.validate() {
        Err(Error::InvalidConfig(message)) => assert!(message.contains("squared"), "{message}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    // Training refuses it too, before anything runs.
    let (x, labels) = standardized_iris();
    let result = Trainer::new(config).fit(x.view(), labels.view());
    assert!(matches!(result, Err(Error::InvalidConfig(_))), "{result:?}");
    for loss in [
        Loss::softmax(),
        Loss::SquaredHinge { margin: 1.0 },
        Loss::MeanSquaredError,
        Loss::Logistic,
    ] {
        let smooth = TrainConfig {
            loss,
            solver: Solver::Lbfgs(LbfgsOptions::default()),
            ..TrainConfig::default()
        };
        assert!(smooth.validate().is_ok(), "{loss:?}");
    }
}

#[test]
fn lbfgs_options_that_cannot_run_are_refused() {
    let defaults = LbfgsOptions::default();
    for (options, fragment) in [
        (
            LbfgsOptions {
                history: 0,
                ..defaults
            },
            "history",
        ),
        (
            LbfgsOptions {
                max_iterations: 0,
                ..defaults
            },
            "max_iterations",
        ),
        (
            LbfgsOptions {
                gradient_tolerance: -1.0,
                ..defaults
            },
            "gradient tolerance",
        ),
        (
            LbfgsOptions {
                objective_tolerance: f64::NAN,
                ..defaults
            },
            "objective tolerance",
        ),
        (
            LbfgsOptions {
                c1: 0.95,
                ..defaults
            },
            "c1",
        ),
    ] {
        let config = TrainConfig {
            solver: Solver::Lbfgs(options),
            ..TrainConfig::default()
        };
        match config.validate() {
            Err(Error::InvalidConfig(message)) => {
                assert!(message.contains(fragment), "{message:?} lacks {fragment:?}")
            }
            other => panic!("expected InvalidConfig({fragment:?}), got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// scikit-learn's C and alpha
// ---------------------------------------------------------------------------

/// scikit-learn's penalty `r·‖w‖₁ + (1 − r)/2·‖w‖²`, in f64.
fn sklearn_penalty(weights: &[f32], l1_ratio: f64) -> f64 {
    let l1: f64 = weights.iter().map(|&w| (w as f64).abs()).sum();
    let l2: f64 = weights.iter().map(|&w| (w as f64) * (w as f64)).sum();
    l1_ratio * l1 + (1.0 - l1_ratio) / 2.0 * l2
}

fn assert_relative(what: &str, actual: f64, expected: f64, rtol: f64) {
    assert!(
        (actual - expected).abs() <= rtol * expected.abs(),
        "{what}: {actual:e}, expected {expected:e}"
    );
}

#[test]
fn c_and_alpha_give_lintrain_the_scikit_learn_objective() {
    // lintrain's objective (mean loss + R_λ(W)) equals scikit-learn's
    // divided by C·n (LogisticRegression) or as it is (SGDClassifier, mean
    // loss + α·R(w)) exactly when R_λ(W) = R(W)/(C·n), resp. α·R(W).
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let weights: Vec<f32> = (0..40).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    let (c, n, alpha) = (0.7, 137, 2e-3);
    for (penalty, r) in [
        (SklearnPenalty::L2, 0.0),
        (SklearnPenalty::L1, 1.0),
        (SklearnPenalty::ElasticNet { l1_ratio: 0.3 }, 0.3),
        (SklearnPenalty::ElasticNet { l1_ratio: 0.15 }, 0.15),
    ] {
        let from_c = Regularizer::from_sklearn_c(penalty, c, n).unwrap();
        assert_relative(
            &format!("{penalty:?} from C"),
            from_c.penalty(&weights),
            sklearn_penalty(&weights, r) / (c * n as f64),
            1e-6,
        );
        let from_alpha = Regularizer::from_sklearn_alpha(penalty, alpha).unwrap();
        assert_relative(
            &format!("{penalty:?} from alpha"),
            from_alpha.penalty(&weights),
            alpha * sklearn_penalty(&weights, r),
            1e-6,
        );
    }
}

#[test]
fn the_table_of_c_and_alpha() {
    let strength = |regularizer: Regularizer| match regularizer {
        Regularizer::L2 { strength } | Regularizer::L1 { strength } => (strength as f64, None),
        Regularizer::ElasticNet { strength, l1_ratio } => (strength as f64, Some(l1_ratio as f64)),
        other => panic!("unexpected {other:?}"),
    };
    let (c, n) = (2.0, 150);
    let cn = c * n as f64;
    let check = |regularizer: Regularizer, lambda: f64, ratio: Option<f64>| {
        let (actual, actual_ratio) = strength(regularizer);
        assert_relative("λ", actual, lambda, 1e-6);
        match (actual_ratio, ratio) {
            (Some(a), Some(e)) => assert_relative("l1_ratio", a, e, 1e-6),
            (None, None) => {}
            other => panic!("l1 ratio {other:?}"),
        }
    };
    let r = 0.4;
    let elastic = SklearnPenalty::ElasticNet { l1_ratio: r };
    check(
        Regularizer::from_sklearn_c(SklearnPenalty::L2, c, n).unwrap(),
        1.0 / (2.0 * cn),
        None,
    );
    check(
        Regularizer::from_sklearn_c(SklearnPenalty::L1, c, n).unwrap(),
        1.0 / cn,
        None,
    );
    check(
        Regularizer::from_sklearn_c(elastic, c, n).unwrap(),
        (1.0 + r) / (2.0 * cn),
        Some(2.0 * r / (1.0 + r)),
    );
    let alpha = 1e-4;
    check(
        Regularizer::from_sklearn_alpha(SklearnPenalty::L2, alpha).unwrap(),
        alpha / 2.0,
        None,
    );
    check(
        Regularizer::from_sklearn_alpha(SklearnPenalty::L1, alpha).unwrap(),
        alpha,
        None,
    );
    check(
        Regularizer::from_sklearn_alpha(elastic, alpha).unwrap(),
        alpha * (1.0 + r) / 2.0,
        Some(2.0 * r / (1.0 + r)),
    );
    // alpha = 0 is no penalty, with the ratio still defined.
    check(
        Regularizer::from_sklearn_alpha(elastic, 0.0).unwrap(),
        0.0,
        Some(2.0 * r / (1.0 + r)),
    );
}

/// The minibatch tolerance rule is not L-BFGS's: an L-BFGS run ignores
/// `config.tolerance` and stops by its own rule, reported in
/// `solver_report`, never as `stopped_by_tolerance`.
#[test]
fn lbfgs_ignores_the_minibatch_tolerance() {
    let x = ndarray::Array2::from_shape_fn((60, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let labels: ndarray::Array1<u32> = (0..60).map(|i| (i % 3) as u32).collect();
    let config = lintrain::TrainConfig {
        solver: lintrain::Solver::Lbfgs(lintrain::LbfgsOptions::default()),
        tolerance: Some(1e9),
        n_iter_no_change: 1,
        backend: lintrain::BackendChoice::Cpu,
        ..lintrain::TrainConfig::default()
    };
    let outcome = lintrain::Trainer::new(config)
        .fit(x.view(), labels.view())
        .unwrap();
    assert!(!outcome.history.stopped_by_tolerance);
    let report = outcome.solver_report.expect("an L-BFGS report");
    assert!(report.iterations > 1, "{report:?}");
}
