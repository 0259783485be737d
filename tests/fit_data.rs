//! `Trainer::fit_data`, the one entry that trains on class or real-valued
//! targets with optional validation rows; `RowSplit`, the split that a
//! validation fraction makes; the backend a `BackendChoice` opens; and a
//! trainer moved to a worker thread.

mod common;

use common::{gpu, rng, teacher_data};
use lintrain::train::{TargetKind, UntrainedClass};
use lintrain::{
    BackendChoice, BackendKind, BatchSize, CpuBackend, EarlyStopping, Error, Examples, History,
    Loss, Monitor, OpenedBackend, Optimizer, Regularizer, RowSplit, TrainConfig, TrainData,
    Trainer,
};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;

/// Features, three classes from a linear teacher, and real-valued targets
/// (a linear map plus noise) for the same rows.
fn data(rows: usize, seed: u64) -> (Array2<f32>, Array1<u32>, Array2<f32>) {
    teacher_data(rows, 5, seed)
}

fn cpu_config() -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.02,
        epochs: 6,
        batch_size: BatchSize::Rows(16),
        seed: 5,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    }
}

/// Every epoch's metrics, bit for bit (the timings aside).
fn assert_same_history(what: &str, a: &History, b: &History) {
    assert_eq!(a.epochs.len(), b.epochs.len(), "{what}: epochs");
    for (a, b) in a.epochs.iter().zip(&b.epochs) {
        let metrics = |r: &lintrain::EpochRecord| {
            (
                r.train_loss.to_bits(),
                r.train_accuracy.map(f64::to_bits),
                r.val_loss.map(f64::to_bits),
                r.val_accuracy.map(f64::to_bits),
            )
        };
        assert_eq!(metrics(a), metrics(b), "{what}: epoch {}", a.epoch);
    }
    assert_eq!(a.best_epoch, b.best_epoch, "{what}: best epoch");
    assert_eq!(a.stopped_early, b.stopped_early, "{what}: stopped early");
}

#[test]
fn validation_rows_given_train_exactly_as_the_fraction_that_holds_them_out() {
    let (x, labels, values) = data(120, 1);
    let rows = |rows: &[usize]| x.select(Axis(0), rows);
    let watched = TrainConfig {
        validation_fraction: 0.25,
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationLoss,
        }),
        ..cpu_config()
    };
    let given = TrainConfig {
        validation_fraction: 0.0,
        ..watched.clone()
    };

    let by_fraction = Trainer::new(watched.clone())
        .fit(x.view(), labels.view())
        .unwrap();
    let split = RowSplit::stratified(labels.as_slice().unwrap(), 0.25, watched.seed);
    assert!((28..=32).contains(&split.validation.len()), "{split:?}");
    let (train_labels, validation_labels) = (
        labels.select(Axis(0), &split.train),
        labels.select(Axis(0), &split.validation),
    );
    let (train_x, validation_x) = (rows(&split.train), rows(&split.validation));
    let data =
        TrainData::new(Examples::classes(train_x.view(), train_labels.view())).with_validation(
            Examples::classes(validation_x.view(), validation_labels.view()),
        );
    let explicit = Trainer::new(given.clone()).fit_data(data).unwrap();
    assert_same_history("classes", &by_fraction.history, &explicit.history);
    assert_eq!(by_fraction.model, explicit.model, "classes: model");
    assert!(explicit.history.epochs[0].val_accuracy.is_some());

    let regression = |config: &TrainConfig| TrainConfig {
        loss: Loss::MeanSquaredError,
        regularizer: Regularizer::None,
        ..config.clone()
    };
    let by_fraction = Trainer::new(regression(&watched))
        .fit_regression(x.view(), values.view())
        .unwrap();
    let split = RowSplit::random(x.nrows(), 0.25, watched.seed);
    let (train_values, validation_values) = (
        values.select(Axis(0), &split.train),
        values.select(Axis(0), &split.validation),
    );
    let (train_x, validation_x) = (rows(&split.train), rows(&split.validation));
    let data = TrainData {
        train: Examples::values(train_x.view(), train_values.view()),
        validation: Some(Examples::values(
            validation_x.view(),
            validation_values.view(),
        )),
        split: None,
    };
    let explicit = Trainer::new(regression(&given)).fit_data(data).unwrap();
    assert_same_history("values", &by_fraction.history, &explicit.history);
    assert_eq!(by_fraction.model, explicit.model, "values: model");
}

/// MSE of `model` on rows `x` against `targets`, in f64: the mean over rows
/// of `Σ_j (s_j − t_j)²`.
fn mean_squared_error(model: &lintrain::Model, x: &Array2<f32>, targets: &Array2<f32>) -> f64 {
    let scores = model.decision_function(x.view()).unwrap();
    let total: f64 = scores
        .iter()
        .zip(targets)
        .map(|(&s, &t)| (s as f64 - t as f64).powi(2))
        .sum();
    total / x.nrows() as f64
}

#[test]
fn real_valued_validation_rows_are_scored_and_early_stopping_keeps_the_best_epoch() {
    let (x, _, values) = data(160, 2);
    let (validation_x, _, validation_values) = data(48, 3);
    let config = TrainConfig {
        loss: Loss::MeanSquaredError,
        regularizer: Regularizer::None,
        // Steps too large to settle: the validation loss turns back up.
        learning_rate: 0.5,
        epochs: 60,
        early_stopping: Some(EarlyStopping {
            patience: 3,
            monitor: Monitor::ValidationLoss,
        }),
        ..cpu_config()
    };
    let data = TrainData::new(Examples::values(x.view(), values.view())).with_validation(
        Examples::values(validation_x.view(), validation_values.view()),
    );
    let outcome = Trainer::new(config).fit_data(data).unwrap();
    let history = &outcome.history;
    assert!(
        history.epochs.iter().all(|e| e.val_loss.is_some()
            && e.val_accuracy.is_none()
            && e.train_accuracy.is_none()),
        "{:?}",
        history.epochs
    );
    assert!(history.stopped_early, "{} epochs", history.epochs.len());
    let best = history.best_epoch.expect("early stopping ran");
    assert_ne!(
        outcome.model, outcome.checkpoint.model,
        "the best epoch's weights are not the last epoch's"
    );
    let best_loss = history.epochs[best - 1].val_loss.unwrap();
    let lowest = history
        .epochs
        .iter()
        .filter_map(|e| e.val_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best_loss, lowest);
    let restored = mean_squared_error(&outcome.model, &validation_x, &validation_values);
    assert!(
        (restored - best_loss).abs() <= 1e-4 * best_loss.max(1.0),
        "the returned model's validation MSE is {restored}, the best epoch's {best_loss}"
    );
}

#[test]
fn validation_targets_must_be_of_the_training_kind_and_width() {
    let (x, labels, values) = data(40, 4);
    let mse = TrainConfig {
        loss: Loss::MeanSquaredError,
        ..cpu_config()
    };
    let classes_then_values = TrainData::new(Examples::classes(x.view(), labels.view()))
        .with_validation(Examples::values(x.view(), values.view()));
    let err = Trainer::new(mse.clone())
        .fit_data(classes_then_values)
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("class labels") && m.contains("real values")),
        "{err}"
    );
    let values_then_classes = TrainData::new(Examples::values(x.view(), values.view()))
        .with_validation(Examples::classes(x.view(), labels.view()));
    let err = Trainer::new(mse.clone())
        .fit_data(values_then_classes)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");

    let narrow = values.slice(ndarray::s![.., ..2]).to_owned();
    let narrower = TrainData::new(Examples::values(x.view(), values.view()))
        .with_validation(Examples::values(x.view(), narrow.view()));
    let err = Trainer::new(mse.clone()).fit_data(narrower).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    let short = values.slice(ndarray::s![..30, ..]).to_owned();
    let fewer_rows = TrainData::new(Examples::values(x.view(), values.view()))
        .with_validation(Examples::values(x.view(), short.view()));
    let err = Trainer::new(mse.clone()).fit_data(fewer_rows).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    let mut infinite = values.clone();
    infinite[[3, 1]] = f32::INFINITY;
    let non_finite = TrainData::new(Examples::values(x.view(), values.view()))
        .with_validation(Examples::values(x.view(), infinite.view()));
    let err = Trainer::new(mse.clone()).fit_data(non_finite).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "validation targets",
                row: 3,
                column: 1,
                ..
            }
        ),
        "{err}"
    );

    // Real-valued validation rows have no accuracy to watch.
    let on_accuracy = TrainConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationAccuracy,
        }),
        ..mse
    };
    let watched = TrainData::new(Examples::values(x.view(), values.view()))
        .with_validation(Examples::values(x.view(), values.view()));
    let err = Trainer::new(on_accuracy).fit_data(watched).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("accuracy")),
        "{err}"
    );
}

#[test]
fn early_stopping_names_what_it_needs() {
    let rule = |monitor| EarlyStopping {
        patience: 1,
        monitor,
    };
    let loss = rule(Monitor::ValidationLoss);
    let accuracy = rule(Monitor::ValidationAccuracy);
    assert!(loss.check_watchable(None).is_err());
    assert!(accuracy.check_watchable(None).is_err());
    assert!(loss.check_watchable(Some(TargetKind::Values)).is_ok());
    assert!(accuracy.check_watchable(Some(TargetKind::Values)).is_err());
    assert!(loss.check_watchable(Some(TargetKind::Classes)).is_ok());
    assert!(accuracy.check_watchable(Some(TargetKind::Classes)).is_ok());
}

#[test]
fn a_row_split_holds_out_each_class_and_finds_a_class_left_untrained() {
    let labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
    let split = RowSplit::stratified(&labels, 0.5, 9);
    assert_eq!(split.validation.len(), 5);
    let mut all: Vec<usize> = split
        .train
        .iter()
        .chain(&split.validation)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert!(!split.has_empty_part());
    assert_eq!(split.untrained_class(&labels, 3), None);
    // A fourth class with no rows trains on none of them.
    assert_eq!(
        split.untrained_class(&labels, 4),
        Some(UntrainedClass { class: 3, rows: 0 })
    );
    // Held out at 0.75, both rows of class 2 (round(1.5) = 2) validate.
    let most = RowSplit::stratified(&labels, 0.75, 9);
    assert_eq!(
        most.untrained_class(&labels, 3),
        Some(UntrainedClass { class: 2, rows: 2 })
    );

    let none = RowSplit::stratified(&labels, 0.0, 9);
    assert_eq!(none.train, (0..10).collect::<Vec<_>>());
    assert!(none.validation.is_empty() && none.has_empty_part());
    assert_eq!(
        RowSplit::random(7, 0.0, 1).train,
        (0..7).collect::<Vec<_>>()
    );
}

#[test]
fn a_backend_choice_opens_the_backend_it_names() {
    match BackendChoice::Cpu.open().unwrap() {
        OpenedBackend::Cpu(_) => {}
        OpenedBackend::Gpu(_) => panic!("--backend cpu opened a GPU"),
    }
    let auto = BackendChoice::Auto.open().unwrap();
    let hardware = lintrain::gpu::hardware_adapter_available();
    assert_eq!(
        matches!(auto, OpenedBackend::Gpu(_)),
        hardware,
        "auto opens a GPU exactly when a hardware adapter is listed"
    );
    if gpu().is_some() {
        let software = BackendChoice::Software.open().unwrap();
        assert_eq!(software.info().kind, BackendKind::Gpu);
        assert_eq!(software.info().device_type, "Cpu", "{:?}", software.info());
    }
}

#[test]
fn a_trainer_trains_on_another_thread() {
    let (x, labels, _) = data(64, 6);
    let (sender, epochs) = std::sync::mpsc::channel();
    let mut trainer = Trainer::new(cpu_config()).on_epoch(move |record| {
        sender.send(record.epoch).expect("the test thread listens");
    });
    let outcome = std::thread::spawn(move || trainer.fit(x.view(), labels.view()))
        .join()
        .expect("the training thread")
        .unwrap();
    assert_eq!(
        epochs.iter().collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    let same_on_this_thread = {
        let (x, labels, _) = data(64, 6);
        Trainer::new(cpu_config())
            .fit_data_on(
                &CpuBackend::new(),
                TrainData::new(Examples::classes(x.view(), labels.view())),
            )
            .unwrap()
    };
    assert_eq!(outcome.model, same_on_this_thread.model);
}

/// A validation fraction that holds out every row of a class is refused
/// before training (the command line refuses it too): the run would
/// otherwise return a model that never saw that class.
#[test]
fn a_fraction_that_holds_out_a_whole_class_is_refused() {
    let (x, _, _) = data(10, 4);
    let labels = Array1::from(vec![0u32, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
    let config = TrainConfig {
        validation_fraction: 0.75,
        epochs: 1,
        ..cpu_config()
    };
    match Trainer::new(config.clone()).fit(x.view(), labels.view()) {
        Err(Error::EmptyData(message)) => assert!(
            message.contains("class 2") && message.contains("2 rows"),
            "{message}"
        ),
        other => panic!("expected an untrained-class error, got {other:?}"),
    }
    // At 0.5 every class keeps training rows.
    let config = TrainConfig {
        validation_fraction: 0.5,
        ..config
    };
    Trainer::new(config).fit(x.view(), labels.view()).unwrap();
}

/// A split given by row index trains exactly as the same rows copied
/// apart, and a shared matrix trains in place on the CPU.
#[test]
fn a_split_by_index_of_a_shared_matrix_trains_as_its_rows_copied_apart() {
    use lintrain::{CpuBackend, RowSplit, SharedRows};
    use std::sync::Arc;
    let mut rng = rng(3);
    let x = Array2::from_shape_fn((301, 9), |_| rng.random_range(-1.0f32..1.0));
    let labels: Array1<u32> = (0..301).map(|i| (i % 4) as u32).collect();
    let split = RowSplit::stratified(labels.as_slice().unwrap(), 0.3, 9);
    let config = TrainConfig {
        epochs: 3,
        batch_size: lintrain::BatchSize::Rows(17),
        ..TrainConfig::default()
    };
    let copied = {
        let part = |rows: &[usize]| (x.select(Axis(0), rows), labels.select(Axis(0), rows));
        let ((tx, ty), (vx, vy)) = (part(&split.train), part(&split.validation));
        Trainer::new(config.clone())
            .fit_data_on(
                &CpuBackend::new(),
                TrainData::new(Examples::classes(tx.view(), ty.view()))
                    .with_validation(Examples::classes(vx.view(), vy.view())),
            )
            .unwrap()
    };
    let owner = Arc::new(x.clone());
    let shared = SharedRows::from(Arc::clone(&owner));
    let in_place = Trainer::new(config)
        .fit_data_on(
            &CpuBackend::new(),
            TrainData::split(Examples::shared_classes(&shared, labels.view()), &split),
        )
        .unwrap();
    drop(shared);
    assert_eq!(in_place.model.params(), copied.model.params());
    assert_same_history("split by index", &in_place.history, &copied.history);
    // Nothing kept a handle on the shared matrix after training.
    assert_eq!(Arc::strong_count(&owner), 1);
}
