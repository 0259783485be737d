//! A device budget below the data's size: the training and validation rows
//! pass through a ring of two device buffers, block by block, every epoch,
//! and the run is bit for bit the run with the rows resident, on the CPU
//! and on the GPU (each step kernel forced, on lavapipe too).

mod common;

use common::gpu_with_options;
use lintrain::config::{EarlyStopping, Sampling};
use lintrain::gpu::{GpuOptions, StepVariant};
use lintrain::{
    AdapterChoice, Backend, BatchSize, CpuBackend, Examples, Init, LbfgsOptions, Loss, Monitor,
    Optimizer, Outcome, Regularizer, Solver, TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2};
use rand::Rng;

fn problem(rows: usize, features: usize, classes: usize) -> (Array2<f32>, Array1<u32>) {
    let mut rng = common::rng(11);
    let x = Array2::from_shape_fn((rows, features), |_| rng.random_range(-1.0f32..1.0));
    let labels = x
        .rows()
        .into_iter()
        .map(|row| {
            let s: f32 = row.iter().take(3).sum::<f32>() + rng.random_range(-0.3f32..0.3);
            ((s + 3.0) / 6.0 * classes as f32).clamp(0.0, classes as f32 - 1.0) as u32
        })
        .collect();
    (x, labels)
}

fn config(optimizer: Optimizer, sampling: Sampling, loss: Loss) -> TrainConfig {
    TrainConfig {
        loss,
        optimizer,
        regularizer: Regularizer::ElasticNet {
            strength: 1e-3,
            l1_ratio: 0.3,
        },
        learning_rate: 0.05,
        epochs: 3,
        batch_size: BatchSize::Rows(29),
        sampling,
        validation_fraction: 0.2,
        seed: 5,
        early_stopping: Some(EarlyStopping {
            monitor: Monitor::ValidationLoss,
            patience: 10,
        }),
        ..TrainConfig::default()
    }
}

fn fit<B: Backend>(backend: &B, config: TrainConfig, x: &Array2<f32>, y: &Array1<u32>) -> Outcome {
    Trainer::new(config)
        .fit_on(backend, x.view(), y.view())
        .expect("training")
}

/// Same weights, same losses and accuracies every epoch.
fn assert_same_run(what: &str, ring: &Outcome, resident: &Outcome) {
    assert_eq!(
        ring.model.params(),
        resident.model.params(),
        "{what}: the weights differ"
    );
    assert_eq!(ring.history.epochs.len(), resident.history.epochs.len());
    for (a, b) in ring.history.epochs.iter().zip(&resident.history.epochs) {
        assert_eq!(
            (a.train_loss, a.train_accuracy, a.val_loss, a.val_accuracy),
            (b.train_loss, b.train_accuracy, b.val_loss, b.val_accuracy),
            "{what}: epoch {}",
            a.epoch
        );
    }
    assert_eq!(ring.checkpoint, resident.checkpoint, "{what}: checkpoint");
}

/// 413 rows of 37 features: with a budget of 4 KiB a block is one 29-row
/// step, so every epoch passes 12 training blocks (the last partial).
const TINY_BUDGET: u64 = 4 << 10;

fn check_on<B: Backend>(what: &str, backend: &B, classes: usize, loss: Loss) {
    let (x, y) = problem(413, 37, classes);
    for optimizer in [Optimizer::Sgd, Optimizer::adam()] {
        for sampling in [
            Sampling::Shuffle,
            Sampling::Sequential,
            Sampling::WithReplacement,
        ] {
            let resident = fit(backend, config(optimizer, sampling, loss), &x, &y);
            for budget in [TINY_BUDGET, 64 << 10] {
                let ring = fit(
                    backend,
                    TrainConfig {
                        device_budget: Some(budget),
                        ..config(optimizer, sampling, loss)
                    },
                    &x,
                    &y,
                );
                assert_same_run(
                    &format!(
                        "{what}, {}, {sampling:?}, budget {budget}",
                        optimizer.name()
                    ),
                    &ring,
                    &resident,
                );
            }
        }
    }
}

#[test]
fn the_cpu_ring_trains_exactly_as_resident_rows() {
    check_on("cpu", &CpuBackend::new(), 4, Loss::softmax());
    check_on(
        "cpu, 40 classes",
        &CpuBackend::new(),
        40,
        Loss::Hinge { margin: 1.0 },
    );
}

#[test]
fn the_gpu_ring_trains_exactly_as_resident_rows_with_every_step_kernel() {
    for step in [
        StepVariant::Fused8,
        StepVariant::Tiled,
        StepVariant::Unfused,
    ] {
        let Some(gpu) = gpu_with_options(GpuOptions {
            adapter: AdapterChoice::PreferHardware,
            matmul: None,
            step: Some(step),
            tiled_loss: None,
            max_binding_bytes: None,
            max_chunk_rows: None,
        }) else {
            return;
        };
        check_on(&format!("gpu {step:?}"), &gpu, 4, Loss::softmax());
    }
}

#[test]
fn real_valued_targets_beyond_the_device_budget_are_refused() {
    let (x, _) = problem(50, 4, 2);
    let targets = Array2::from_shape_fn((50, 2), |(i, j)| (i + j) as f32 / 50.0);
    let error = Trainer::new(TrainConfig {
        loss: Loss::MeanSquaredError,
        device_budget: Some(64),
        ..TrainConfig::default()
    })
    .fit_data_on(
        &CpuBackend::new(),
        TrainData::new(Examples::values(x.view(), targets.view())),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(error.contains("device budget"), "{error}");
}

fn lbfgs(device_budget: Option<u64>) -> TrainConfig {
    TrainConfig {
        loss: Loss::softmax(),
        regularizer: Regularizer::L2 { strength: 1e-3 },
        solver: Solver::Lbfgs(LbfgsOptions {
            gradient_tolerance: 1e-6,
            max_iterations: 30,
            ..LbfgsOptions::default()
        }),
        init: Init::Zeros,
        validation_fraction: 0.1,
        device_budget,
        ..TrainConfig::default()
    }
}

/// Each L-BFGS evaluation is one pass through the ring. On the CPU, with
/// blocks of a whole number of its 1600-row chunks (10,000 rows of 8
/// features, 2048-row blocks under a 256 KiB budget) the chunks are the
/// resident pass's and the run is the same bit for bit; with smaller
/// blocks (and on lavapipe, whose preferred chunk is larger than a block)
/// the chunks differ and the run agrees to rounding.
fn check_lbfgs_on<B: Backend>(what: &str, backend: &B, exact_at_256k: bool) {
    let (x, y) = problem(10_000, 8, 3);
    let resident = fit(backend, lbfgs(None), &x, &y);
    for budget in [256 << 10, 16 << 10] {
        let ring = fit(backend, lbfgs(Some(budget)), &x, &y);
        let what = format!("{what}, l-bfgs, budget {budget}");
        if exact_at_256k && budget == 256 << 10 {
            assert_same_run(&what, &ring, &resident);
            continue;
        }
        let (a, b) = (ring.model.params(), resident.model.params());
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            assert!(
                (p - q).abs() <= 1e-4 * scale,
                "{what}: parameter {i}: {p} vs {q}"
            );
        }
        let report = ring.solver_report.expect("an L-BFGS report");
        assert!(report.converged, "{what}: {report:?}");
    }
}

#[test]
fn lbfgs_evaluations_pass_through_the_ring_on_the_cpu_and_the_gpu() {
    check_lbfgs_on("cpu", &CpuBackend::new(), true);
    if let Some(gpu) = common::gpu() {
        check_lbfgs_on("gpu", &gpu, false);
    }
}
