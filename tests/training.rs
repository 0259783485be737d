//! The training engine end to end, on the CPU and the GPU backend.

mod common;

use common::*;
use lintrain::gradcheck::{GradCheckOptions, backend_data_gradient, gradient_check, sanity_check};
use lintrain::{
    BackendChoice, BatchSize, CpuBackend, EarlyStopping, Init, Loss, LrSchedule, Monitor,
    Optimizer, Regularizer, Sampling, Schedule, TrainConfig, Trainer, fit,
};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;

fn iris() -> (Array2<f32>, Array1<u32>) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/data/iris.csv")).unwrap();
    let species = ["setosa", "versicolor", "virginica"];
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        values.extend(fields[..4].iter().map(|v| v.parse::<f32>().unwrap()));
        labels.push(species.iter().position(|s| *s == fields[4]).unwrap() as u32);
    }
    let mut x = Array2::from_shape_vec((labels.len(), 4), values).unwrap();
    let mean = x.mean_axis(Axis(0)).unwrap();
    let std = x.std_axis(Axis(0), 0.0);
    x -= &mean;
    x /= &std;
    (x, Array1::from(labels))
}

/// Gaussian features and labels from a random linear teacher plus noise.
fn synthetic(
    rows: usize,
    features: usize,
    classes: usize,
    noise: f32,
    seed: u64,
) -> (Array2<f32>, Array1<u32>) {
    let mut rng = rng(seed);
    let x = Array2::from_shape_simple_fn((rows, features), || rng.sample::<f32, _>(StandardNormal));
    let teacher =
        Array2::from_shape_simple_fn((features, classes), || rng.sample::<f32, _>(StandardNormal));
    let scores = x.dot(&teacher);
    let labels = scores
        .outer_iter()
        .map(|row| {
            let noisy: Vec<f32> = row
                .iter()
                .map(|s| s + noise * rng.sample::<f32, _>(StandardNormal))
                .collect();
            (0..classes)
                .max_by(|&a, &b| noisy[a].total_cmp(&noisy[b]))
                .unwrap() as u32
        })
        .collect();
    (x, labels)
}

fn with_backend(config: &TrainConfig, backend: BackendChoice) -> TrainConfig {
    TrainConfig {
        backend,
        ..config.clone()
    }
}

/// The backends every training test runs on: the CPU, and the GPU when an
/// adapter exists (a failure under CI when it does not).
fn backends() -> Vec<BackendChoice> {
    let mut backends = vec![BackendChoice::Cpu];
    if gpu().is_some() {
        backends.push(BackendChoice::Software);
    }
    backends
}

#[test]
fn iris_softmax_and_svm_reach_95_percent() {
    let (x, y) = iris();
    for backend in backends() {
        for loss in [Loss::softmax(), Loss::hinge()] {
            let config = TrainConfig {
                loss,
                learning_rate: 0.1,
                epochs: 200,
                batch_size: BatchSize::Rows(32),
                regularizer: Regularizer::L2 { strength: 1e-4 },
                backend,
                ..TrainConfig::default()
            };
            let (model, history) = fit(x.view(), y.view(), &config).unwrap();
            let accuracy = model.accuracy(x.view(), y.view()).unwrap();
            assert!(
                accuracy >= 0.95,
                "{backend:?} {loss:?}: Iris train accuracy {accuracy}"
            );
            let last = history.epochs.last().unwrap();
            assert!(
                last.train_loss < history.epochs[0].train_loss,
                "{backend:?} {loss:?}: loss did not fall"
            );
        }
    }
}

/// MSE on class labels regresses one-hot targets (CS231n's least-squares
/// classifier): it learns Iris and reports accuracy like the other losses.
#[test]
fn mse_on_class_labels_learns_iris_with_accuracy() {
    let (x, y) = iris();
    for backend in backends() {
        let config = TrainConfig {
            loss: Loss::MeanSquaredError,
            learning_rate: 0.05,
            epochs: 200,
            batch_size: BatchSize::Rows(32),
            regularizer: Regularizer::None,
            backend,
            ..TrainConfig::default()
        };
        let (model, history) = fit(x.view(), y.view(), &config).unwrap();
        assert_eq!(model.outputs(), 3, "{backend:?}: one output per class");
        let accuracy = model.accuracy(x.view(), y.view()).unwrap();
        // Least squares on one-hot targets is weaker than softmax on Iris
        // (versicolor is not linearly separable from the others by it).
        assert!(accuracy >= 0.8, "{backend:?}: MSE Iris accuracy {accuracy}");
        let last = history.epochs.last().unwrap();
        let reported = last
            .train_accuracy
            .expect("classification reports accuracy");
        assert!(
            (0.0..=1.0).contains(&reported) && reported >= 0.7,
            "{backend:?}: reported training accuracy {reported}"
        );
        assert!(last.train_loss < history.epochs[0].train_loss);
    }
}

#[test]
fn separable_blobs_reach_100_percent() {
    let mut rng = rng(11);
    let centers = [(-6.0f32, 0.0f32), (6.0, 0.0), (0.0, 8.0), (0.0, -8.0)];
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (class, (cx, cy)) in centers.iter().enumerate() {
        for _ in 0..63 {
            values.push(cx + rng.random_range(-1.0f32..1.0));
            values.push(cy + rng.random_range(-1.0f32..1.0));
            labels.push(class as u32);
        }
    }
    let x = Array2::from_shape_vec((labels.len(), 2), values).unwrap();
    let y = Array1::from(labels);
    for backend in backends() {
        for loss in [
            Loss::softmax(),
            Loss::hinge(),
            Loss::SquaredHinge { margin: 1.0 },
            Loss::Logistic,
        ] {
            let config = TrainConfig {
                loss,
                optimizer: Optimizer::adam(),
                learning_rate: 0.05,
                epochs: 60,
                batch_size: BatchSize::Rows(16),
                backend,
                ..TrainConfig::default()
            };
            let (model, _) = fit(x.view(), y.view(), &config).unwrap();
            let accuracy = model.accuracy(x.view(), y.view()).unwrap();
            assert_eq!(
                accuracy, 1.0,
                "{backend:?} {loss:?}: blobs accuracy {accuracy}"
            );
        }
    }
}

#[test]
fn cpu_and_gpu_agree_on_loss_curves_and_weights() {
    if gpu().is_none() {
        return;
    }
    let (x, y) = synthetic(257, 65, 7, 0.5, 12);
    let cases = [
        (
            Loss::softmax(),
            Optimizer::adam(),
            Regularizer::L2 { strength: 1e-3 },
            Sampling::Shuffle,
        ),
        (
            Loss::hinge(),
            Optimizer::momentum(),
            Regularizer::L1 { strength: 1e-3 },
            Sampling::WithReplacement,
        ),
        (
            Loss::Logistic,
            Optimizer::rmsprop(),
            Regularizer::ElasticNet {
                strength: 1e-3,
                l1_ratio: 0.5,
            },
            Sampling::Sequential,
        ),
        (
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            Optimizer::adamw(),
            Regularizer::None,
            Sampling::Shuffle,
        ),
    ];
    for (loss, optimizer, regularizer, sampling) in cases {
        let config = TrainConfig {
            loss,
            optimizer,
            regularizer,
            sampling,
            learning_rate: 0.01,
            schedule: LrSchedule {
                schedule: Schedule::Cosine { min_lr: 1e-4 },
                warmup_steps: 3,
            },
            epochs: 4,
            batch_size: BatchSize::Rows(63),
            validation_fraction: 0.2,
            ..TrainConfig::default()
        };
        let what = format!("{loss:?} {optimizer:?} {regularizer:?}");
        let (cpu_model, cpu_history) = fit(
            x.view(),
            y.view(),
            &with_backend(&config, BackendChoice::Cpu),
        )
        .unwrap();
        let (gpu_model, gpu_history) = fit(
            x.view(),
            y.view(),
            &with_backend(&config, BackendChoice::Software),
        )
        .unwrap();
        assert_eq!(gpu_history.backend.kind, lintrain::BackendKind::Gpu);
        for (c, g) in cpu_history.epochs.iter().zip(&gpu_history.epochs) {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 + 1e-3 * b.abs();
            assert!(
                close(g.train_loss, c.train_loss),
                "{what} epoch {}: train loss gpu {} cpu {}",
                c.epoch,
                g.train_loss,
                c.train_loss
            );
            assert!(
                close(g.val_loss.unwrap(), c.val_loss.unwrap()),
                "{what} epoch {}: val loss",
                c.epoch
            );
            assert_eq!(g.learning_rate, c.learning_rate, "{what}: learning rate");
        }
        assert_close(
            &format!("{what} final weights"),
            gpu_model.weights.as_slice().unwrap(),
            cpu_model.weights.as_slice().unwrap(),
            1e-3,
            1e-4,
        );
        assert_close(
            &format!("{what} final bias"),
            gpu_model.bias.as_slice().unwrap(),
            cpu_model.bias.as_slice().unwrap(),
            1e-3,
            1e-4,
        );
    }
}

#[test]
fn gradient_check_passes_for_every_loss_and_regularizer() {
    let (x, y) = synthetic(7, 5, 4, 0.5, 13);
    let binary = y.mapv(|l| l % 2);
    let regularizers = [
        Regularizer::None,
        Regularizer::L2 { strength: 0.1 },
        Regularizer::L1 { strength: 0.1 },
        Regularizer::ElasticNet {
            strength: 0.1,
            l1_ratio: 0.3,
        },
    ];
    let losses: [(Loss, usize, &Array1<u32>); 7] = [
        (Loss::softmax(), 4, &y),
        (
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.2,
            },
            4,
            &y,
        ),
        (Loss::hinge(), 4, &y),
        (Loss::SquaredHinge { margin: 1.0 }, 4, &y),
        (Loss::MeanSquaredError, 4, &y),
        (Loss::Logistic, 4, &y),
        (Loss::Logistic, 1, &binary),
    ];
    let mut rng = rng(14);
    for (loss, outputs, labels) in losses {
        for regularizer in regularizers {
            let params = random_vec(&mut rng, 5 * outputs + outputs, 0.5);
            let report = gradient_check(
                x.view(),
                labels.view(),
                &params,
                outputs,
                &loss,
                &regularizer,
                &GradCheckOptions::default(),
            )
            .unwrap();
            assert!(
                report.max_relative_error < 1e-6,
                "{loss:?} {regularizer:?}: relative error {} at {} (analytic {}, numerical {})",
                report.max_relative_error,
                report.worst_index,
                report.analytic,
                report.numerical
            );
            assert_eq!(report.checked, params.len());
        }
    }
    // A sampled check looks at the requested number of coordinates.
    let params = random_vec(&mut rng, 24, 0.5);
    let options = GradCheckOptions {
        sample: Some(5),
        ..Default::default()
    };
    let report = gradient_check(
        x.view(),
        y.view(),
        &params,
        4,
        &Loss::softmax(),
        &Regularizer::None,
        &options,
    )
    .unwrap();
    assert_eq!(report.checked, 5);
}

#[test]
fn gradient_check_catches_a_wrong_gradient() {
    // Perturbing the objective's evaluation point by a non-infinitesimal h
    // must show up as a large error, or the check could never fail.
    let (x, y) = synthetic(7, 5, 4, 0.5, 15);
    let params = random_vec(&mut rng(16), 24, 0.5);
    let options = GradCheckOptions {
        h: 0.5,
        ..Default::default()
    };
    let report = gradient_check(
        x.view(),
        y.view(),
        &params,
        4,
        &Loss::hinge(),
        &Regularizer::L1 { strength: 1.0 },
        &options,
    )
    .unwrap();
    assert!(
        report.max_relative_error > 1e-3,
        "coarse differences should disagree, got {}",
        report.max_relative_error
    );
}

#[test]
fn gpu_analytic_gradient_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let (x, y) = synthetic(257, 63, 7, 0.5, 17);
    let binary = y.mapv(|l| l % 2);
    let mut rng = rng(18);
    for (loss, outputs, labels) in [
        (Loss::softmax(), 7, &y),
        (Loss::hinge(), 7, &y),
        (Loss::SquaredHinge { margin: 0.5 }, 7, &y),
        (Loss::MeanSquaredError, 7, &y),
        (Loss::Logistic, 1, &binary),
    ] {
        let params = random_vec(&mut rng, 63 * outputs + outputs, 0.1);
        let cpu = backend_data_gradient(
            &CpuBackend::new(),
            x.view(),
            labels.view(),
            &params,
            outputs,
            &loss,
        )
        .unwrap();
        let gpu_grad =
            backend_data_gradient(&gpu, x.view(), labels.view(), &params, outputs, &loss).unwrap();
        assert_close(&format!("{loss:?} gradient"), &gpu_grad, &cpu, 1e-4, 1e-6);
    }
}

#[test]
fn initial_losses_are_near_their_theoretical_values() {
    let (x, y) = synthetic(500, 20, 10, 0.5, 19);
    let softmax = sanity_check(x.view(), y.view(), &TrainConfig::default()).unwrap();
    assert!((softmax.expected - 10f64.ln()).abs() < 1e-12);
    assert!(
        softmax.passes(0.01),
        "softmax initial loss {} vs ln 10",
        softmax.initial_loss
    );
    let svm_config = TrainConfig {
        loss: Loss::hinge(),
        ..TrainConfig::default()
    };
    let svm = sanity_check(x.view(), y.view(), &svm_config).unwrap();
    assert_eq!(svm.expected, 9.0);
    assert!(
        svm.passes(0.01),
        "SVM initial loss {} vs 9",
        svm.initial_loss
    );
    // Large initial weights fail the check.
    let big = TrainConfig {
        init: Init::Random { scale: 10.0 },
        ..TrainConfig::default()
    };
    assert!(!sanity_check(x.view(), y.view(), &big).unwrap().passes(0.01));
}

#[test]
fn same_seed_gives_identical_models_and_different_seeds_differ() {
    let (x, y) = synthetic(200, 30, 5, 0.5, 20);
    for backend in backends() {
        let config = TrainConfig {
            optimizer: Optimizer::adam(),
            learning_rate: 0.01,
            epochs: 3,
            batch_size: BatchSize::Rows(32),
            validation_fraction: 0.1,
            backend,
            ..TrainConfig::default()
        };
        let (a, history_a) = fit(x.view(), y.view(), &config).unwrap();
        let (b, history_b) = fit(x.view(), y.view(), &config).unwrap();
        assert_eq!(a, b, "{backend:?}: same seed, different models");
        let losses =
            |h: &lintrain::History| h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
        assert_eq!(losses(&history_a), losses(&history_b));
        let (c, _) = fit(x.view(), y.view(), &TrainConfig { seed: 1, ..config }).unwrap();
        assert_ne!(a, c, "{backend:?}: a different seed gave the same model");
    }
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // Noise labels on few rows: validation loss soon rises as the model overfits.
    let mut rng = rng(21);
    let x = Array2::from_shape_simple_fn((40, 60), || rng.sample::<f32, _>(StandardNormal));
    let y = Array1::from_shape_simple_fn(40, || rng.random_range(0..3u32));
    let vx = Array2::from_shape_simple_fn((40, 60), || rng.sample::<f32, _>(StandardNormal));
    let vy = Array1::from_shape_simple_fn(40, || rng.random_range(0..3u32));
    for backend in backends() {
        let config = TrainConfig {
            optimizer: Optimizer::adam(),
            learning_rate: 0.05,
            regularizer: Regularizer::None,
            epochs: 300,
            batch_size: BatchSize::Rows(8),
            early_stopping: Some(EarlyStopping {
                patience: 3,
                monitor: Monitor::ValidationLoss,
            }),
            backend,
            ..TrainConfig::default()
        };
        let outcome = Trainer::new(config)
            .fit_with_validation(x.view(), y.view(), Some((vx.view(), vy.view())))
            .unwrap();
        let history = &outcome.history;
        assert!(history.stopped_early, "{backend:?}: did not stop early");
        assert!(history.epochs.len() < 300);
        let best = history.best_epoch.unwrap();
        let best_loss = history.epochs[best - 1].val_loss.unwrap();
        let min = history
            .epochs
            .iter()
            .map(|e| e.val_loss.unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(best_loss, min, "{backend:?}: best epoch is not the minimum");
        assert_eq!(
            history.epochs.len(),
            best + 3,
            "{backend:?}: patience not honoured"
        );
        let restored = outcome.model.data_loss(vx.view(), vy.view()).unwrap();
        assert!(
            (restored - best_loss).abs() < 1e-4,
            "{backend:?}: returned weights give val loss {restored}, best was {best_loss}"
        );
        assert_ne!(
            outcome.model, outcome.checkpoint.model,
            "{backend:?}: best weights were not restored"
        );
    }
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let (x, y) = synthetic(150, 20, 4, 0.5, 22);
    for backend in backends() {
        let config = TrainConfig {
            optimizer: Optimizer::adam(),
            learning_rate: 0.02,
            schedule: LrSchedule {
                schedule: Schedule::Cosine { min_lr: 0.0 },
                warmup_steps: 4,
            },
            epochs: 4,
            batch_size: BatchSize::Rows(32),
            backend,
            ..TrainConfig::default()
        };
        let whole = Trainer::new(config.clone())
            .fit(x.view(), y.view())
            .unwrap();
        let first = Trainer::new(config.clone())
            .stop_after_epoch(2)
            .fit(x.view(), y.view())
            .unwrap();
        assert_eq!(first.checkpoint.epochs_done, 2);
        assert_eq!(first.history.epochs.len(), 2);
        let resumed = Trainer::new(config)
            .resume_from(first.checkpoint)
            .fit(x.view(), y.view())
            .unwrap();
        assert_eq!(resumed.history.epochs.len(), 2);
        assert_eq!(resumed.history.epochs[1].epoch, 4);
        assert_eq!(
            resumed.model, whole.model,
            "{backend:?}: resumed run differs"
        );
        assert_eq!(
            resumed.checkpoint, whole.checkpoint,
            "{backend:?}: optimizer state differs"
        );
    }
}

#[test]
fn divergence_stops_with_epoch_and_step_and_keeps_the_last_finite_model() {
    let (x, y) = synthetic(100, 10, 3, 0.5, 23);
    for backend in backends() {
        let config = TrainConfig {
            loss: Loss::MeanSquaredError,
            learning_rate: 1e3,
            regularizer: Regularizer::None,
            epochs: 50,
            batch_size: BatchSize::Rows(10),
            backend,
            ..TrainConfig::default()
        };
        let targets = Array2::from_shape_fn((100, 3), |(i, j)| (y[i] as usize == j) as u8 as f32);
        let mut trainer = Trainer::new(config);
        let err = trainer
            .fit_regression(x.view(), targets.view())
            .unwrap_err();
        match err {
            lintrain::Error::Diverged { epoch, step, .. } => {
                assert!(
                    epoch >= 1 && step >= 1,
                    "{backend:?}: epoch {epoch} step {step}"
                );
                assert!(err.to_string().contains(&format!("epoch {epoch}")));
            }
            other => panic!("{backend:?}: expected Diverged, got {other}"),
        }
        let model = trainer.last_finite_model().expect("a last finite model");
        assert!(model.weights.iter().all(|w| w.is_finite()));
    }
}

#[test]
fn regression_on_real_targets_fits_a_linear_map() {
    let mut rng = rng(24);
    let x = Array2::from_shape_simple_fn((257, 7), || rng.sample::<f32, _>(StandardNormal));
    let truth = Array2::from_shape_simple_fn((7, 3), || rng.sample::<f32, _>(StandardNormal));
    let targets = x.dot(&truth) + 0.5;
    let mut finals = Vec::new();
    for backend in backends() {
        let config = TrainConfig {
            loss: Loss::MeanSquaredError,
            optimizer: Optimizer::adam(),
            learning_rate: 0.05,
            regularizer: Regularizer::None,
            epochs: 80,
            batch_size: BatchSize::Rows(64),
            backend,
            ..TrainConfig::default()
        };
        let outcome = Trainer::new(config)
            .fit_regression(x.view(), targets.view())
            .unwrap();
        let last = outcome.history.epochs.last().unwrap();
        assert!(
            last.train_loss < 1e-3,
            "{backend:?}: MSE {}",
            last.train_loss
        );
        assert!(last.train_accuracy.is_none());
        assert_close(
            &format!("{backend:?} bias"),
            outcome.model.bias.as_slice().unwrap(),
            &[0.5; 3],
            0.0,
            0.02,
        );
        finals.push(outcome.model);
    }
    if finals.len() == 2 {
        assert_close(
            "cpu vs gpu regression weights",
            finals[1].weights.as_slice().unwrap(),
            finals[0].weights.as_slice().unwrap(),
            1e-3,
            1e-3,
        );
    }
}

#[test]
fn a_dataset_split_over_many_device_buffers_trains_like_the_cpu() {
    let options = lintrain::gpu::GpuOptions {
        max_chunk_rows: Some(17),
        ..Default::default()
    };
    let Some(gpu) = gpu_with_options(options) else {
        return;
    };
    let (x, y) = synthetic(257, 33, 5, 0.5, 25);
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.01,
        epochs: 3,
        batch_size: BatchSize::Rows(50),
        ..TrainConfig::default()
    };
    let on_gpu = Trainer::new(config.clone())
        .fit_on(&gpu, x.view(), y.view())
        .unwrap();
    let on_cpu = Trainer::new(config)
        .fit_on(&CpuBackend::new(), x.view(), y.view())
        .unwrap();
    assert_close(
        "chunked dataset weights",
        on_gpu.model.weights.as_slice().unwrap(),
        on_cpu.model.weights.as_slice().unwrap(),
        1e-3,
        1e-4,
    );
}

#[test]
fn full_batch_and_predict_api() {
    let (x, y) = iris();
    let config = TrainConfig {
        batch_size: BatchSize::Full,
        learning_rate: 0.5,
        epochs: 300,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let (model, history) = fit(x.view(), y.view(), &config).unwrap();
    assert_eq!(history.epochs.len(), 300);
    assert!(model.accuracy(x.view(), y.view()).unwrap() >= 0.95);
    let proba = model.predict_proba(x.view()).unwrap();
    for row in proba.outer_iter() {
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
    let predicted = model.predict(x.view()).unwrap();
    let from_proba: Vec<u32> = proba
        .outer_iter()
        .map(|r| (0..3).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap() as u32)
        .collect();
    assert_eq!(predicted, from_proba);
    let scores = model.decision_function(x.view()).unwrap();
    assert_eq!(scores.dim(), (150, 3));
}

#[test]
fn more_classes_than_the_limit_are_refused_before_training() {
    let x = Array2::from_shape_vec((2, 1), vec![0.0f32, 1.0]).unwrap();
    let labels = Array1::from(vec![0u32, lintrain::limits::MAX_CLASSES as u32]);
    let config = TrainConfig {
        epochs: 1,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    match Trainer::new(config).fit(x.view(), labels.view()) {
        Err(lintrain::Error::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), (limit + 1, lintrain::limits::MAX_CLASSES));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_checkpoint_that_cannot_continue_this_run_is_refused_before_training() {
    let (x, y) = iris();
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        epochs: 4,
        batch_size: BatchSize::Rows(50),
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let first = Trainer::new(config.clone())
        .stop_after_epoch(2)
        .fit(x.view(), y.view())
        .expect("trains");
    let good = first.checkpoint;
    assert_eq!(good.steps_taken, 6, "2 epochs of 3 steps");
    let resume = |checkpoint: lintrain::Checkpoint, config: &TrainConfig| {
        Trainer::new(config.clone())
            .resume_from(checkpoint)
            .fit(x.view(), y.view())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // A step count no run of this data and batch size reaches, including
    // one the step counter would overflow on.
    for steps in [u64::MAX, 5, 0] {
        let crafted = lintrain::Checkpoint {
            steps_taken: steps,
            ..good.clone()
        };
        let error = resume(crafted, &config);
        assert!(
            error.contains(&format!("taken {steps} steps in 2 epochs")),
            "{error}"
        );
    }
    // The same checkpoint with another batch size would continue the
    // schedule from the wrong step.
    let other_batch = TrainConfig {
        batch_size: BatchSize::Rows(30),
        ..config.clone()
    };
    let error = resume(good.clone(), &other_batch);
    assert!(
        error.contains("5 steps (this data and batch size)"),
        "{error}"
    );
    // Negative second moments would make Adam's step divide by NaN.
    let params = good.optimizer_state.len() / lintrain::optimizer::STATE_SLOTS;
    let mut state = good.optimizer_state.clone();
    state[params + 3] = -1.0;
    let crafted = lintrain::Checkpoint {
        optimizer_state: state,
        ..good.clone()
    };
    let error = resume(crafted, &config);
    assert!(error.contains("negative mean of squares -1"), "{error}");
    // And the untouched checkpoint continues.
    Trainer::new(config)
        .resume_from(good)
        .fit(x.view(), y.view())
        .expect("resumes");
}

#[test]
fn a_step_whose_scores_exceed_the_limit_is_refused_before_training() {
    // A full batch of 2¹⁶ rows over 2¹⁵ classes: 2³¹ scores per step.
    let rows = 1 << 16;
    let classes = 1u32 << 15;
    let x = Array2::from_shape_fn((rows, 1), |(i, _)| (i % 7) as f32);
    let labels = Array1::from_iter((0..rows as u32).map(|i| i % classes));
    for batch_size in [BatchSize::Full, BatchSize::Rows(1 << 20)] {
        let config = TrainConfig {
            epochs: 1,
            batch_size,
            backend: BackendChoice::Cpu,
            ..TrainConfig::default()
        };
        match Trainer::new(config).fit(x.view(), labels.view()) {
            Err(lintrain::Error::TooLarge { what, size, limit }) => {
                assert_eq!(size, 1 << 31);
                assert_eq!(limit, lintrain::limits::MAX_BATCH_SCORES);
                assert!(what.contains("batch size"), "{what}");
            }
            other => panic!("{batch_size:?}: expected TooLarge, got {other:?}"),
        }
    }
}

#[test]
fn a_gradient_check_beyond_its_limit_is_refused_before_copying_the_data() {
    let side = 1 << 12;
    let x = Array2::<f32>::zeros((side, side));
    let labels = Array1::from_iter((0..side as u32).map(|i| i % 2));
    let params = vec![0.0f32; side * 2 + 2];
    let result = gradient_check(
        x.view(),
        labels.view(),
        &params,
        2,
        &Loss::softmax(),
        &Regularizer::None,
        &GradCheckOptions::default(),
    );
    match result {
        Err(lintrain::Error::TooLarge { size, limit, .. }) => {
            assert_eq!(size, (side * (side + 2)) as u64);
            assert_eq!(limit, lintrain::limits::MAX_GRADCHECK_SCORES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn centered_rmsprop_state_with_a_negative_variance_is_refused() {
    let centered = Optimizer::RmsProp {
        alpha: 0.99,
        eps: 1e-8,
        momentum: 0.0,
        centered: true,
    };
    // Slots: v (mean of squares), ḡ (mean), momentum; two parameters.
    let good = [4.0f32, 1.0, 1.0, 1.0, 0.0, 0.0];
    assert!(centered.check_state(&good).is_ok());
    let negative_variance = [4.0f32, 0.0, 1.0, 10.0, 0.0, 0.0];
    let error = centered.check_state(&negative_variance).unwrap_err();
    assert!(
        error.contains("negative variance") && error.contains("parameter 1"),
        "{error}"
    );
    // Uncentered RMSProp keeps no mean: the same state is fine there.
    let plain = Optimizer::RmsProp {
        alpha: 0.99,
        eps: 1e-8,
        momentum: 0.0,
        centered: false,
    };
    assert!(plain.check_state(&negative_variance).is_ok());
}
