//! Training on data streamed from disk (`Trainer::fit_streamed`): with
//! shuffling off, or a shuffle buffer that holds every row, a streamed run
//! takes exactly the resident run's steps over the same rows, so on the CPU
//! the two give the same bits, whatever the chunk size and the shard
//! boundaries; the validation rows are the hashed split's; standardizing on
//! the fly equals standardizing a resident copy; the GPU's ring of device
//! buffers trains as the resident GPU run; L-BFGS streams one pass per
//! evaluation.

mod common;

use common::files::{npy, write};
use lintrain::config::{EarlyStopping, Monitor, Sampling};
use lintrain::data::stream::{ShardSet, is_validation_row};
use lintrain::train::{StreamedData, fit_streamed_standardizer};
use lintrain::{
    Backend, BatchSize, CpuBackend, Examples, Init, LbfgsOptions, Loss, Optimizer, Outcome,
    Regularizer, RowSplit, Solver, TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2, s};
use rand::Rng;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tempfile::TempDir;

/// A learnable problem with an offset and uneven scales (so that
/// standardizing matters), written as shards of the given sizes.
struct Problem {
    x: Array2<f32>,
    labels: Array1<u32>,
    _dir: TempDir,
    spec: PathBuf,
}

fn problem(shard_rows: &[usize], features: usize, classes: usize) -> Problem {
    let rows: usize = shard_rows.iter().sum();
    let mut rng = common::rng(21);
    let x = Array2::from_shape_fn((rows, features), |(_, j)| {
        rng.random_range(-1.0f32..1.0) * (1.0 + j as f32) + 3.0
    });
    let labels: Array1<u32> = x
        .rows()
        .into_iter()
        .map(|row| {
            let s = row[0] - 3.0 + (row[1] - 3.0) / 2.0;
            ((s + 1.5) / 3.0 * classes as f32).clamp(0.0, classes as f32 - 1.0) as u32
        })
        .collect();
    let dir = TempDir::new().unwrap();
    let mut first = 0;
    for (k, &n) in shard_rows.iter().enumerate() {
        let part = x.slice(s![first..first + n, ..]);
        let bytes: Vec<u8> = part.iter().flat_map(|v| v.to_le_bytes()).collect();
        write(
            &dir,
            &format!("x_{k}.npy"),
            npy("<f4", &[n, features], &bytes),
        );
        first += n;
    }
    let spec = dir.path().join("x_*.npy");
    Problem {
        x,
        labels,
        _dir: dir,
        spec,
    }
}

fn streamed(problem: &Problem, chunk_rows: usize, shuffle_buffer: usize) -> StreamedData {
    let shards = Arc::new(ShardSet::open(&problem.spec, None).unwrap());
    let mut data = StreamedData::new(shards, problem.labels.to_vec(), shuffle_buffer);
    data.chunk_rows = chunk_rows;
    data
}

fn config(optimizer: Optimizer, sampling: Sampling, validation_fraction: f32) -> TrainConfig {
    TrainConfig {
        loss: Loss::softmax(),
        optimizer,
        regularizer: Regularizer::L2 { strength: 1e-3 },
        learning_rate: 0.05,
        epochs: 3,
        batch_size: BatchSize::Rows(23),
        sampling,
        validation_fraction,
        seed: 4,
        ..TrainConfig::default()
    }
}

/// The hashed split a streamed run makes, as a resident split.
fn hashed_split(rows: usize, config: &TrainConfig) -> RowSplit {
    let held = |r: usize| is_validation_row(config.seed, config.validation_fraction, r as u64);
    RowSplit {
        train: (0..rows).filter(|&r| !held(r)).collect(),
        validation: (0..rows).filter(|&r| held(r)).collect(),
    }
}

/// The resident run over the rows a streamed run of `config` trains and
/// validates on.
fn resident<B: Backend>(
    backend: &B,
    x: &Array2<f32>,
    y: &Array1<u32>,
    config: &TrainConfig,
) -> Outcome {
    let split = hashed_split(x.nrows(), config);
    let resident_config = TrainConfig {
        validation_fraction: 0.0,
        ..config.clone()
    };
    Trainer::new(resident_config)
        .fit_data_on(
            backend,
            TrainData::split(Examples::classes(x.view(), y.view()), &split),
        )
        .expect("resident training")
}

fn assert_same_run(what: &str, a: &Outcome, b: &Outcome) {
    assert_eq!(a.model.params(), b.model.params(), "{what}: weights");
    assert_eq!(a.history.epochs.len(), b.history.epochs.len(), "{what}");
    for (x, y) in a.history.epochs.iter().zip(&b.history.epochs) {
        assert_eq!(
            (x.train_loss, x.train_accuracy, x.val_loss, x.val_accuracy),
            (y.train_loss, y.train_accuracy, y.val_loss, y.val_accuracy),
            "{what}: epoch {}",
            x.epoch
        );
    }
}

#[test]
fn streamed_training_equals_resident_training_bit_for_bit_on_the_cpu() {
    let p = problem(&[211, 5, 397], 13, 4);
    let n = p.x.nrows();
    let cpu = CpuBackend::new();
    for optimizer in [Optimizer::Sgd, Optimizer::adam()] {
        for fraction in [0.0, 0.2] {
            // Shuffling off, over odd chunk sizes that straddle the shard
            // boundaries and the steps.
            let config = config(optimizer, Sampling::Sequential, fraction);
            let expected = resident(&cpu, &p.x, &p.labels, &config);
            for chunk_rows in [1, 7, 64, n - 1, n + 5] {
                let got = Trainer::new(config.clone())
                    .fit_streamed_on(&cpu, &streamed(&p, chunk_rows, n))
                    .unwrap();
                assert_same_run(
                    &format!(
                        "{}, fraction {fraction}, in order, chunks of {chunk_rows}",
                        optimizer.name()
                    ),
                    &got,
                    &expected,
                );
            }
            // A shuffle buffer that covers every row: the full permutation.
            let config = self::config(optimizer, Sampling::Shuffle, fraction);
            let expected = resident(&cpu, &p.x, &p.labels, &config);
            for (chunk_rows, buffer) in [(7, n), (64, n + 100), (n, 10 * n)] {
                let got = Trainer::new(config.clone())
                    .fit_streamed_on(&cpu, &streamed(&p, chunk_rows, buffer))
                    .unwrap();
                assert_same_run(
                    &format!(
                        "{}, fraction {fraction}, shuffled, chunks of {chunk_rows}, buffer {buffer}",
                        optimizer.name()
                    ),
                    &got,
                    &expected,
                );
            }
        }
    }
}

#[test]
fn a_smaller_shuffle_buffer_visits_every_row_once_and_still_learns() {
    let p = problem(&[600, 400], 6, 3);
    let cpu = CpuBackend::new();
    let config = TrainConfig {
        epochs: 8,
        learning_rate: 0.2,
        ..config(Optimizer::Sgd, Sampling::Shuffle, 0.25)
    };
    let mut data = streamed(&p, 50, 200);
    let standardizer =
        fit_streamed_standardizer(&data, config.validation_fraction, config.seed).unwrap();
    let mut standardized = p.x.clone();
    standardizer.apply_in_place(&mut standardized).unwrap();
    data.standardizer = Some(Arc::new(standardizer));
    let full = resident(&cpu, &standardized, &p.labels, &config);
    let windowed = Trainer::new(config.clone())
        .fit_streamed_on(&cpu, &data)
        .unwrap();
    // Another order: not the full permutation's run.
    assert_ne!(windowed.model.params(), full.model.params());
    let (a, b) = (
        windowed
            .history
            .epochs
            .last()
            .unwrap()
            .val_accuracy
            .unwrap(),
        full.history.epochs.last().unwrap().val_accuracy.unwrap(),
    );
    assert!(a > 0.7 && (a - b).abs() < 0.1, "windowed {a}, full {b}");
}

#[test]
fn streamed_standardization_equals_standardizing_a_resident_copy() {
    let p = problem(&[100, 250, 51], 9, 3);
    let config = config(Optimizer::Sgd, Sampling::Shuffle, 0.2);
    let mut data = streamed(&p, 33, p.x.nrows());
    let standardizer =
        fit_streamed_standardizer(&data, config.validation_fraction, config.seed).unwrap();
    // The moments are the training rows'.
    let split = hashed_split(p.x.nrows(), &config);
    let train_rows = p.x.select(ndarray::Axis(0), &split.train);
    for j in 0..9 {
        let column = train_rows.column(j);
        let mean = column.iter().map(|&v| v as f64).sum::<f64>() / column.len() as f64;
        assert!(
            (standardizer.mean[j] as f64 - mean).abs() <= 1e-6 * mean.abs(),
            "feature {j}: {} vs {mean}",
            standardizer.mean[j]
        );
    }
    let mut standardized = p.x.clone();
    standardizer.apply_in_place(&mut standardized).unwrap();
    data.standardizer = Some(Arc::new(standardizer));
    let cpu = CpuBackend::new();
    let got = Trainer::new(config.clone())
        .fit_streamed_on(&cpu, &data)
        .unwrap();
    let expected = resident(&cpu, &standardized, &p.labels, &config);
    assert_same_run("standardized on the fly", &got, &expected);
}

#[test]
fn the_gpu_streams_through_its_ring_as_it_trains_resident_rows() {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let p = problem(&[300, 211], 10, 4);
    let n = p.x.nrows();
    for sampling in [Sampling::Sequential, Sampling::Shuffle] {
        let config = TrainConfig {
            // Blocks of one step: many ring turns per epoch.
            device_budget: Some(4 << 10),
            ..config(Optimizer::adam(), sampling, 0.2)
        };
        let expected = resident(&gpu, &p.x, &p.labels, &config);
        let got = Trainer::new(config.clone())
            .fit_streamed_on(&gpu, &streamed(&p, 17, n))
            .unwrap();
        assert_same_run(&format!("gpu, {sampling:?}"), &got, &expected);
    }
}

#[test]
fn lbfgs_streams_one_pass_per_evaluation() {
    let p = problem(&[2500, 2600], 8, 3);
    let config = TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions {
            gradient_tolerance: 1e-6,
            max_iterations: 300,
            ..LbfgsOptions::default()
        }),
        init: Init::Zeros,
        ..config(Optimizer::Sgd, Sampling::Shuffle, 0.1)
    };
    let cpu = CpuBackend::new();
    let expected = resident(&cpu, &p.x, &p.labels, &config);
    let got = Trainer::new(config.clone())
        .fit_streamed_on(&cpu, &streamed(&p, 333, 100))
        .unwrap();
    assert_same_run("l-bfgs", &got, &expected);
    assert!(got.solver_report.unwrap().converged);
}

#[test]
fn streamed_runs_refuse_what_needs_the_rows_in_memory_or_does_not_match() {
    let p = problem(&[40, 30], 4, 2);
    let cpu = CpuBackend::new();
    let fit = |config: TrainConfig, data: &StreamedData| {
        Trainer::new(config)
            .fit_streamed_on(&cpu, data)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let data = streamed(&p, 8, 70);
    let error = fit(
        config(Optimizer::Sgd, Sampling::WithReplacement, 0.0),
        &data,
    );
    assert!(error.contains("with replacement"), "{error}");
    let mut short = data.clone();
    short.labels = Arc::new(p.labels.to_vec()[..69].to_vec());
    let error = fit(config(Optimizer::Sgd, Sampling::Shuffle, 0.0), &short);
    assert!(
        error.contains("70 rows") && error.contains("69 labels"),
        "{error}"
    );
    let error = fit(config(Optimizer::Sgd, Sampling::Shuffle, 0.999), &data);
    assert!(error.contains("leaves"), "{error}");
    // Early stopping without validation rows is refused before the first
    // epoch, as for rows held in memory, not after a pass over the data.
    let epochs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&epochs);
    let error = Trainer::new(TrainConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationLoss,
        }),
        ..config(Optimizer::Sgd, Sampling::Shuffle, 0.0)
    })
    .on_epoch(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    })
    .fit_streamed_on(&cpu, &data)
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(error.contains("validation"), "{error}");
    assert_eq!(epochs.load(Ordering::SeqCst), 0, "an epoch ran first");
}
