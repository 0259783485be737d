//! `SharedRows`: a matrix in memory the library does not own (here a
//! `Vec<f32>` behind an `Arc`, as a numpy array would be behind the Python
//! binding's reference) trains in place, exactly as the same data given as
//! an `Array2` trains, with or without a validation split, on the CPU and
//! on the GPU; the backend keeps the memory's owner alive while it trains
//! and lets it go after.

mod common;

use common::{gpu, teacher_data};
use lintrain::{
    Backend, BackendChoice, BatchSize, CpuBackend, Examples, History, LbfgsOptions, Loss,
    Optimizer, Outcome, Regularizer, SharedRows, Solver, TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2};
use std::sync::{Arc, Mutex, Weak};

/// Row-major features in a plain vector, three classes from a linear
/// teacher, and real-valued targets for the same rows.
fn data(rows: usize, features: usize, seed: u64) -> (Vec<f32>, Array1<u32>, Array2<f32>) {
    let (x, labels, values) = teacher_data(rows, features, seed);
    (x.into_raw_vec_and_offset().0, labels, values)
}

/// `owner`'s values as a rows × features matrix, read in place.
fn shared(owner: &Arc<Vec<f32>>, rows: usize, features: usize) -> SharedRows {
    assert_eq!(owner.len(), rows * features);
    // SAFETY: `owner` holds rows·features f32, row after row; it is the
    // owner, and behind an `Arc` nobody writes it.
    unsafe { SharedRows::from_raw_parts(owner.as_ptr(), rows, features, owner.clone()) }
}

fn config(validation_fraction: f32) -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.02,
        epochs: 4,
        batch_size: BatchSize::Rows(16),
        seed: 7,
        validation_fraction,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    }
}

/// Parameters and every epoch's metrics, bit for bit.
fn assert_same(what: &str, a: &Outcome, b: &Outcome) {
    assert_eq!(a.model.params(), b.model.params(), "{what}: parameters");
    let metrics = |h: &History| {
        h.epochs
            .iter()
            .map(|r| {
                (
                    r.train_loss.to_bits(),
                    r.train_accuracy.map(f64::to_bits),
                    r.val_loss.map(f64::to_bits),
                    r.val_accuracy.map(f64::to_bits),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(metrics(&a.history), metrics(&b.history), "{what}: history");
    assert_eq!(a.history.best_epoch, b.history.best_epoch, "{what}: best");
}

/// Trains `config` on the same rows given both ways (shared from raw
/// parts, and as a borrowed `Array2` view) on `backend`; the shared fit's
/// owner is checked to be held while it trains and released after.
fn both_ways<B: Backend>(
    backend: &B,
    config: &TrainConfig,
    values: bool,
) -> (Outcome, Outcome, usize) {
    let (rows, features) = (301, 7);
    let (raw, labels, targets) = data(rows, features, 11);
    let array = Array2::from_shape_vec((rows, features), raw.clone()).unwrap();
    let owner = Arc::new(raw);
    let x = shared(&owner, rows, features);
    // Only a weak handle is left here: during the fit the owner lives
    // through `x` and the backend's clone of it.
    let weak: Weak<Vec<f32>> = Arc::downgrade(&owner);
    drop(owner);
    let during = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&during);
    let watch = weak.clone();
    let mut trainer = Trainer::new(config.clone())
        .on_epoch(move |_| seen.lock().unwrap().push(watch.strong_count()));
    let examples = if values {
        Examples::shared_values(&x, targets.view())
    } else {
        Examples::shared_classes(&x, labels.view())
    };
    let in_place = trainer
        .fit_data_on(backend, TrainData::new(examples))
        .unwrap();
    let held = *during.lock().unwrap().iter().min().unwrap();
    drop(trainer);
    assert_eq!(weak.strong_count(), 1, "after the fit only `x` holds it");
    drop(x);
    assert_eq!(weak.strong_count(), 0, "the owner is released");
    let examples = if values {
        Examples::values(array.view(), targets.view())
    } else {
        Examples::classes(array.view(), labels.view())
    };
    let copied = Trainer::new(config.clone())
        .fit_data_on(backend, TrainData::new(examples))
        .unwrap();
    (in_place, copied, held)
}

#[test]
fn raw_parts_train_exactly_as_an_array_on_the_cpu() {
    let cpu = CpuBackend::new();
    for validation_fraction in [0.0, 0.25] {
        let what = format!("classes, validation fraction {validation_fraction}");
        let (in_place, copied, held) = both_ways(&cpu, &config(validation_fraction), false);
        assert_same(&what, &in_place, &copied);
        assert_eq!(
            in_place.history.epochs[0].val_loss.is_some(),
            validation_fraction > 0.0,
            "{what}: validation rows"
        );
        // `x` and the CPU backend's rows, which read the same memory.
        assert_eq!(
            held, 2,
            "{what}: the backend holds the owner while it trains"
        );
    }
}

#[test]
fn shared_real_valued_targets_train_exactly_as_an_array_on_the_cpu() {
    let cpu = CpuBackend::new();
    for validation_fraction in [0.0, 0.2] {
        let config = TrainConfig {
            loss: Loss::MeanSquaredError,
            ..config(validation_fraction)
        };
        let (in_place, copied, held) = both_ways(&cpu, &config, true);
        assert_same(
            &format!("values, validation fraction {validation_fraction}"),
            &in_place,
            &copied,
        );
        assert_eq!(held, 2);
    }
}

#[test]
fn shared_rows_train_exactly_as_an_array_with_lbfgs() {
    let config = TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions {
            max_iterations: 20,
            ..LbfgsOptions::default()
        }),
        regularizer: Regularizer::L2 { strength: 1e-3 },
        ..config(0.25)
    };
    let (in_place, copied, _) = both_ways(&CpuBackend::new(), &config, false);
    assert_same("L-BFGS, validation fraction 0.25", &in_place, &copied);
    assert!(in_place.solver_report.is_some());
}

#[test]
fn shared_rows_are_uploaded_on_the_gpu_and_train_as_an_array() {
    let Some(gpu) = gpu() else { return };
    let (in_place, copied, held) = both_ways(&gpu, &config(0.25), false);
    assert_same("GPU, validation fraction 0.25", &in_place, &copied);
    // The GPU copies the rows to the device and keeps no hold on them.
    assert_eq!(held, 1);
}
