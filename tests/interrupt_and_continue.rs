//! What the Python package needs of a run: an [`Interrupt`] that ends it
//! from outside (Ctrl-C) with `Error::Interrupted` before the next step or
//! evaluation, keeping the last finite model; and `Trainer::continue_from`,
//! which trains more epochs from a checkpoint on any rows of the model's
//! shape (scikit-learn's `partial_fit` and `warm_start`), carrying on the
//! weights, the optimizer state and the step count, so that a run cut into
//! pieces is the whole run bit for bit.

mod common;

use common::files::{npy, write};
use lintrain::config::Sampling;
use lintrain::data::stream::ShardSet;
use lintrain::train::StreamedData;
use lintrain::{
    BackendChoice, BatchSize, Checkpoint, EarlyStopping, Error, Init, Interrupt, LbfgsOptions,
    LrSchedule, Monitor, Optimizer, Outcome, Regularizer, Schedule, Solver, TrainConfig, Trainer,
};
use ndarray::{Array1, Array2, s};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

/// Features in [-1, 1) and labels from the first three features, with
/// label noise: learnable, never separable.
fn problem(rows: usize, features: usize, classes: usize, seed: u64) -> (Array2<f32>, Array1<u32>) {
    let mut rng = common::rng(seed);
    let x = Array2::from_shape_fn((rows, features), |_| rng.random_range(-1.0f32..1.0));
    let labels = x
        .rows()
        .into_iter()
        .map(|row| {
            let s: f32 = row.iter().take(3).sum::<f32>() + rng.random_range(-0.5f32..0.5);
            ((s + 3.0) / 6.0 * classes as f32).clamp(0.0, classes as f32 - 1.0) as u32
        })
        .collect();
    (x, labels)
}

/// The CPU, and lavapipe (or the adapter there is) when one opens: a
/// failure under CI when none does.
fn backends() -> Vec<BackendChoice> {
    let mut backends = vec![BackendChoice::Cpu];
    if common::gpu().is_some() {
        backends.push(BackendChoice::Software);
    }
    backends
}

fn minibatch(optimizer: Optimizer, backend: BackendChoice) -> TrainConfig {
    TrainConfig {
        optimizer,
        learning_rate: 0.05,
        regularizer: Regularizer::L2 { strength: 1e-3 },
        batch_size: BatchSize::Rows(16),
        sampling: Sampling::Sequential,
        seed: 3,
        backend,
        ..TrainConfig::default()
    }
}

fn lbfgs(backend: BackendChoice) -> TrainConfig {
    TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions {
            // Far more than the runs below take before their interrupt,
            // and a tolerance they cannot reach by then.
            max_iterations: 1000,
            gradient_tolerance: 1e-12,
            objective_tolerance: 0.0,
            ..LbfgsOptions::default()
        }),
        regularizer: Regularizer::L2 { strength: 1e-4 },
        backend,
        ..TrainConfig::default()
    }
}

/// Fits `config` with an interrupt that the epoch callback sets when it
/// sees epoch `at`; returns the result, the epochs the callback saw, and
/// the trainer's last finite model.
fn interrupted_at(
    config: TrainConfig,
    at: usize,
    fit: impl FnOnce(&mut Trainer) -> lintrain::Result<Outcome>,
) -> (lintrain::Result<Outcome>, usize, Option<lintrain::Model>) {
    let handle = Interrupt::new();
    let setter = handle.clone();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let mut trainer = Trainer::new(config)
        .interrupt_on(handle)
        .on_epoch(move |record| {
            counter.fetch_add(1, Ordering::Relaxed);
            if record.epoch == at {
                setter.interrupt();
            }
        });
    let result = fit(&mut trainer);
    (
        result,
        seen.load(Ordering::Relaxed),
        trainer.last_finite_model().cloned(),
    )
}

fn expect_interrupted(result: lintrain::Result<Outcome>, what: &str) {
    match result {
        Err(error @ Error::Interrupted) => {
            assert_eq!(error.to_string(), "training was interrupted")
        }
        Err(other) => panic!("{what}: expected Interrupted, got {other}"),
        Ok(outcome) => panic!(
            "{what}: the run was not interrupted; it ran {} epochs",
            outcome.history.epochs.len()
        ),
    }
}

#[test]
fn an_interrupt_ends_a_minibatch_run_within_the_epoch_and_keeps_the_last_model() {
    let (x, y) = problem(200, 7, 3, 1);
    for backend in backends() {
        let config = TrainConfig {
            epochs: 1000,
            ..minibatch(Optimizer::adam(), backend)
        };
        let (result, seen, last) = interrupted_at(config.clone(), 2, |t| t.fit(x.view(), y.view()));
        expect_interrupted(result, &format!("{backend:?}"));
        assert_eq!(seen, 2, "{backend:?}: epochs after the interrupt ran");
        // The last finite model is the one after epoch 2: a two-epoch run's
        // (the schedule is constant, so the run's length does not matter).
        let two = Trainer::new(TrainConfig {
            epochs: 2,
            ..config
        })
        .fit(x.view(), y.view())
        .unwrap();
        assert_eq!(last.as_ref(), Some(&two.model), "{backend:?}");
    }
}

#[test]
fn an_interrupt_ends_an_lbfgs_run_before_its_next_evaluation() {
    let (x, y) = problem(300, 9, 4, 2);
    for backend in backends() {
        let (result, seen, last) = interrupted_at(lbfgs(backend), 2, |t| t.fit(x.view(), y.view()));
        expect_interrupted(result, &format!("{backend:?} L-BFGS"));
        assert_eq!(seen, 2, "{backend:?}: iterations after the interrupt ran");
        let last = last.expect("the iterate of iteration 2");
        let two = Trainer::new(TrainConfig {
            solver: Solver::Lbfgs(LbfgsOptions {
                max_iterations: 2,
                ..LbfgsOptions::default()
            }),
            ..lbfgs(backend)
        })
        .fit(x.view(), y.view())
        .unwrap();
        assert_eq!(two.history.epochs.len(), 2);
        assert_eq!(last, two.model, "{backend:?}");
    }
}

#[test]
fn a_handle_set_before_fit_ends_it_before_the_first_step_with_the_initial_model() {
    let (x, y) = problem(100, 5, 3, 3);
    let handle = Interrupt::new();
    handle.interrupt();
    assert!(handle.is_set());
    let random = Init::Random { scale: 0.5 };
    for backend in backends() {
        for config in [
            minibatch(Optimizer::Sgd, backend),
            lbfgs(backend),
            TrainConfig {
                validation_fraction: 0.2,
                device_budget: Some(1024),
                ..minibatch(Optimizer::momentum(), backend)
            },
        ] {
            let config = TrainConfig {
                init: random,
                ..config
            };
            let mut trainer = Trainer::new(config.clone()).interrupt_on(handle.clone());
            expect_interrupted(trainer.fit(x.view(), y.view()), &format!("{config:?}"));
            // The weights a run starts from: a minibatch run stopped before
            // its first epoch starts from the same (L-BFGS takes no epoch
            // limit).
            let mut initial = Trainer::new(TrainConfig {
                solver: Solver::default(),
                ..config.clone()
            })
            .stop_after_epoch(0)
            .fit(x.view(), y.view())
            .unwrap()
            .model;
            // L-BFGS starts from them in the symmetric parametrization:
            // the softmax's weights and bias centred over the classes.
            if matches!(config.solver, Solver::Lbfgs(_)) {
                centre_over_classes(&mut initial);
            }
            assert_eq!(trainer.last_finite_model(), Some(&initial));
        }
    }
    // Cleared, the handle lets the next run through.
    handle.clear();
    assert!(!handle.is_set());
    Trainer::new(minibatch(Optimizer::Sgd, BackendChoice::Cpu))
        .interrupt_on(handle)
        .fit(x.view(), y.view())
        .expect("a cleared handle does not interrupt");
}

#[test]
fn an_interrupt_from_another_thread_ends_the_run() {
    let (x, y) = problem(400, 8, 3, 4);
    let epochs = 300;
    for backend in backends() {
        let handle = Interrupt::new();
        let (sender, receiver) = mpsc::channel();
        let setter = handle.clone();
        // Sets the flag once training is under way, as a Ctrl-C handler
        // would, from a thread that is not the one training.
        let thread = std::thread::spawn(move || {
            receiver.recv().unwrap();
            setter.interrupt();
        });
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        let mut trainer = Trainer::new(TrainConfig {
            epochs,
            ..minibatch(Optimizer::Sgd, backend)
        })
        .interrupt_on(handle)
        .on_epoch(move |_| {
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                let _ = sender.send(());
            }
        });
        expect_interrupted(trainer.fit(x.view(), y.view()), &format!("{backend:?}"));
        thread.join().unwrap();
        assert!(seen.load(Ordering::Relaxed) < epochs);
        assert!(trainer.last_finite_model().is_some());
    }
}

/// Writes `x` as two .npy shards and streams them with `labels`.
fn streamed(x: &Array2<f32>, labels: &Array1<u32>) -> (tempfile::TempDir, StreamedData) {
    let dir = tempfile::TempDir::new().unwrap();
    let half = x.nrows() / 2;
    for (k, part) in [x.slice(s![..half, ..]), x.slice(s![half.., ..])]
        .into_iter()
        .enumerate()
    {
        let bytes: Vec<u8> = part.iter().flat_map(|v| v.to_le_bytes()).collect();
        write(
            &dir,
            &format!("x_{k}.npy"),
            npy("<f4", &[part.nrows(), x.ncols()], &bytes),
        );
    }
    let shards = Arc::new(ShardSet::open(&dir.path().join("x_*.npy"), None).unwrap());
    let mut data = StreamedData::new(shards, labels.to_vec(), 64);
    data.chunk_rows = 37;
    (dir, data)
}

#[test]
fn an_interrupt_ends_a_streamed_run_of_either_solver() {
    let (x, y) = problem(240, 6, 3, 5);
    let (_dir, data) = streamed(&x, &y);
    for backend in backends() {
        let sgd = TrainConfig {
            epochs: 1000,
            ..minibatch(Optimizer::Sgd, backend)
        };
        for (config, what) in [(sgd, "SGD"), (lbfgs(backend), "L-BFGS")] {
            let (result, seen, last) = interrupted_at(config, 2, |t| t.fit_streamed(&data));
            expect_interrupted(result, &format!("{backend:?} streamed {what}"));
            assert_eq!(seen, 2, "{backend:?} streamed {what}");
            assert!(last.is_some());
        }
    }
}

/// One epoch at a time from `start`, `pieces` times, each continuing the
/// last one's checkpoint.
fn in_pieces(
    config: &TrainConfig,
    start: Checkpoint,
    pieces: usize,
    x: &Array2<f32>,
    y: &Array1<u32>,
) -> Vec<Outcome> {
    let mut checkpoint = start;
    let mut outcomes = Vec::new();
    for _ in 0..pieces {
        let outcome = Trainer::new(TrainConfig {
            epochs: 1,
            ..config.clone()
        })
        .continue_from(checkpoint)
        .fit(x.view(), y.view())
        .unwrap();
        checkpoint = outcome.checkpoint.clone();
        outcomes.push(outcome);
    }
    outcomes
}

#[test]
fn epochs_continued_one_at_a_time_are_the_whole_run_bit_for_bit() {
    let (x, y) = problem(150, 10, 4, 6);
    // The schedules that depend on the step alone see the global step;
    // Adam's bias corrections too, and the shuffles their epoch's number.
    let cases = [
        (Optimizer::Sgd, Sampling::Sequential, Schedule::Constant),
        (Optimizer::adam(), Sampling::Sequential, Schedule::Constant),
        (
            Optimizer::adam(),
            Sampling::Shuffle,
            Schedule::Exponential { gamma: 0.97 },
        ),
        (
            Optimizer::momentum(),
            Sampling::WithReplacement,
            Schedule::InverseSqrt,
        ),
    ];
    for backend in backends() {
        for (optimizer, sampling, schedule) in cases {
            let config = TrainConfig {
                sampling,
                schedule: LrSchedule {
                    schedule,
                    warmup_steps: 3,
                },
                validation_fraction: 0.2,
                ..minibatch(optimizer, backend)
            };
            let what = format!("{backend:?} {optimizer:?} {sampling:?} {schedule:?}");
            let whole = Trainer::new(TrainConfig {
                epochs: 3,
                ..config.clone()
            })
            .fit(x.view(), y.view())
            .unwrap();
            let first = Trainer::new(TrainConfig {
                epochs: 1,
                ..config.clone()
            })
            .fit(x.view(), y.view())
            .unwrap();
            let pieces = in_pieces(&config, first.checkpoint, 2, &x, &y);
            let last = pieces.last().unwrap();
            assert_eq!(last.model, whole.model, "{what}: weights differ");
            assert_eq!(last.checkpoint, whole.checkpoint, "{what}: state differs");
            assert_eq!(last.checkpoint.epochs_done, 3);
            assert_eq!(last.checkpoint.steps_taken, 3 * 8, "{what}");
            for (k, piece) in pieces.iter().enumerate() {
                let record = &piece.history.epochs[0];
                let whole_record = &whole.history.epochs[k + 1];
                assert_eq!(record.epoch, k + 2, "{what}: epochs are numbered on");
                assert_eq!(record.train_loss, whole_record.train_loss, "{what}");
                assert_eq!(record.val_loss, whole_record.val_loss, "{what}");
                assert_eq!(record.learning_rate, whole_record.learning_rate, "{what}");
            }
        }
    }
}

#[test]
fn from_model_starts_every_optimizer_as_a_fresh_run_from_those_weights() {
    let (x, y) = problem(130, 6, 3, 7);
    let optimizers = [
        Optimizer::Sgd,
        Optimizer::momentum(),
        Optimizer::nesterov(),
        Optimizer::adagrad(),
        Optimizer::RmsProp {
            alpha: 0.9,
            eps: 1e-8,
            momentum: 0.5,
            centered: true,
        },
        Optimizer::adam(),
        Optimizer::adamw(),
    ];
    for backend in backends() {
        for optimizer in optimizers {
            // The cosine schedule spans the run: a continued run from no
            // steps spans only its own.
            let config = TrainConfig {
                init: Init::Random { scale: 0.3 },
                sampling: Sampling::Shuffle,
                schedule: LrSchedule {
                    schedule: Schedule::Cosine { min_lr: 0.0 },
                    warmup_steps: 0,
                },
                learning_rate: 0.01,
                epochs: 2,
                ..minibatch(optimizer, backend)
            };
            let fresh = Trainer::new(config.clone())
                .fit(x.view(), y.view())
                .unwrap();
            let initial = Trainer::new(config.clone())
                .stop_after_epoch(0)
                .fit(x.view(), y.view())
                .unwrap()
                .model;
            let start = Checkpoint::from_model(initial);
            assert!(start.optimizer_state.iter().all(|&v| v == 0.0));
            let warm = Trainer::new(config)
                .continue_from(start)
                .fit(x.view(), y.view())
                .unwrap();
            assert_eq!(warm.model, fresh.model, "{backend:?} {optimizer:?}");
            assert_eq!(
                warm.checkpoint, fresh.checkpoint,
                "{backend:?} {optimizer:?}"
            );
        }
    }
}

#[test]
fn a_continued_schedule_spans_the_steps_taken_and_this_runs() {
    let (x, y) = problem(96, 4, 3, 8);
    let config = TrainConfig {
        schedule: LrSchedule {
            schedule: Schedule::Linear { min_lr: 0.0 },
            warmup_steps: 0,
        },
        learning_rate: 0.1,
        epochs: 4,
        ..minibatch(Optimizer::Sgd, BackendChoice::Cpu)
    };
    let first = Trainer::new(config.clone())
        .fit(x.view(), y.view())
        .unwrap();
    assert_eq!(first.checkpoint.steps_taken, 24);
    // Two more epochs of 6 steps: the last step is global step 36 of 36,
    // s' = 35 of T' = 36.
    let more = Trainer::new(TrainConfig {
        epochs: 2,
        ..config
    })
    .continue_from(first.checkpoint)
    .fit(x.view(), y.view())
    .unwrap();
    let last = more.history.epochs.last().unwrap();
    assert_eq!(last.epoch, 6);
    let expected = 0.1 * (1.0 - 35.0 / 36.0);
    assert!(
        (last.learning_rate as f64 - expected).abs() < 1e-7,
        "{} vs {expected}",
        last.learning_rate
    );
    assert_eq!(more.checkpoint.steps_taken, 36);
}

#[test]
fn continue_from_trains_on_rows_of_another_count_where_resume_from_is_refused() {
    let (x, y) = problem(150, 6, 3, 9);
    let (other_x, other_y) = problem(90, 6, 3, 10);
    for backend in backends() {
        for optimizer in [Optimizer::adam(), Optimizer::momentum()] {
            let config = TrainConfig {
                sampling: Sampling::Shuffle,
                epochs: 3,
                ..minibatch(optimizer, backend)
            };
            let first = Trainer::new(config.clone())
                .fit(x.view(), y.view())
                .unwrap();
            assert_eq!(first.checkpoint.steps_taken, 3 * 10);
            let refused = Trainer::new(config.clone())
                .resume_from(first.checkpoint.clone())
                .fit(other_x.view(), other_y.view());
            assert!(
                matches!(refused, Err(Error::InvalidConfig(_))),
                "resume_from on other rows: {refused:?}"
            );
            let more = Trainer::new(TrainConfig {
                epochs: 2,
                ..config
            })
            .continue_from(first.checkpoint)
            .fit(other_x.view(), other_y.view())
            .unwrap();
            let epochs: Vec<usize> = more.history.epochs.iter().map(|r| r.epoch).collect();
            assert_eq!(epochs, [4, 5], "{backend:?} {optimizer:?}");
            assert_eq!(more.checkpoint.epochs_done, 5);
            assert_eq!(more.checkpoint.steps_taken, 30 + 2 * 6);
            assert!(more.model.weights.iter().all(|w| w.is_finite()));
        }
    }
}

#[test]
fn early_stopping_and_the_tolerance_watch_the_continued_run_only() {
    let (x, y) = problem(200, 6, 3, 11);
    let config = TrainConfig {
        epochs: 30,
        validation_fraction: 0.25,
        ..minibatch(Optimizer::Sgd, BackendChoice::Cpu)
    };
    let first = Trainer::new(config.clone())
        .fit(x.view(), y.view())
        .unwrap();
    // The continued run's first epoch has nothing before it to compare
    // with: the best epoch is one of the continued run's.
    let stopping = TrainConfig {
        early_stopping: Some(EarlyStopping {
            monitor: Monitor::ValidationLoss,
            patience: 1,
        }),
        ..config.clone()
    };
    let more = Trainer::new(stopping)
        .continue_from(first.checkpoint.clone())
        .fit(x.view(), y.view())
        .unwrap();
    let best = more.history.best_epoch.expect("a best epoch");
    assert_eq!(more.history.epochs[0].epoch, 31);
    assert!(best > 30, "the best epoch is a continued one: {best}");
    let best_record = more.history.epochs.iter().find(|r| r.epoch == best);
    assert!(
        best_record.is_some(),
        "best epoch {best} is not in the history"
    );
    // An unreachable tolerance stops after n_iter_no_change + 1 epochs of
    // the continued run.
    let tolerant = TrainConfig {
        tolerance: Some(1e9),
        n_iter_no_change: 2,
        ..config
    };
    let more = Trainer::new(tolerant)
        .continue_from(first.checkpoint)
        .fit(x.view(), y.view())
        .unwrap();
    assert!(more.history.stopped_by_tolerance);
    let epochs: Vec<usize> = more.history.epochs.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [31, 32, 33]);
}

#[test]
fn lbfgs_continues_from_the_checkpoint_model_on_other_rows() {
    let (x, y) = problem(200, 5, 3, 12);
    let (other_x, other_y) = problem(120, 5, 3, 13);
    let config = TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions::default()),
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let first = Trainer::new(config.clone())
        .fit(x.view(), y.view())
        .unwrap();
    let cold = Trainer::new(config.clone())
        .fit(other_x.view(), other_y.view())
        .unwrap();
    let warm = Trainer::new(config.clone())
        .continue_from(first.checkpoint.clone())
        .fit(other_x.view(), other_y.view())
        .unwrap();
    // A warm start from a model of the same problem starts nearer its
    // optimum than the zeros do.
    let first_loss = |outcome: &Outcome| outcome.history.epochs[0].train_loss;
    assert!(
        first_loss(&warm) < first_loss(&cold),
        "{} vs {}",
        first_loss(&warm),
        first_loss(&cold)
    );
    // The optimizer state is not read: a checkpoint of weights alone does
    // the same.
    let weights_only = Trainer::new(config)
        .continue_from(Checkpoint::from_model(first.checkpoint.model))
        .fit(other_x.view(), other_y.view())
        .unwrap();
    assert_eq!(weights_only.model, warm.model);
}

#[test]
fn a_checkpoint_of_another_shape_is_refused() {
    let (x, y) = problem(100, 6, 3, 14);
    let (wide_x, wide_y) = problem(100, 7, 3, 15);
    let first = Trainer::new(minibatch(Optimizer::adam(), BackendChoice::Cpu))
        .fit(x.view(), y.view())
        .unwrap();
    let shape_error = |result: lintrain::Result<Outcome>| match result {
        Err(Error::ShapeMismatch { op, detail }) => format!("{op}: {detail}"),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    };
    for config in [
        minibatch(Optimizer::adam(), BackendChoice::Cpu),
        lbfgs(BackendChoice::Cpu),
    ] {
        // More features than the checkpoint's.
        let error = shape_error(
            Trainer::new(config.clone())
                .continue_from(first.checkpoint.clone())
                .fit(wide_x.view(), wide_y.view()),
        );
        assert!(error.contains("6×3"), "{error}");
        // Four classes where the checkpoint has three outputs.
        let mut four = y.clone();
        four[0] = 3;
        shape_error(
            Trainer::new(config)
                .continue_from(first.checkpoint.clone())
                .fit(x.view(), four.view()),
        );
    }
    // An optimizer state of another length.
    let mut short = first.checkpoint.clone();
    short.optimizer_state.pop();
    let error = shape_error(
        Trainer::new(minibatch(Optimizer::adam(), BackendChoice::Cpu))
            .continue_from(short)
            .fit(x.view(), y.view()),
    );
    assert!(error.contains("optimizer state"), "{error}");
}

/// Subtracts each feature's mean over the classes from its weights, and
/// the bias's mean from the bias (in f64, as the solver does).
fn centre_over_classes(model: &mut lintrain::Model) {
    let centre = |values: &mut [f32]| {
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        for value in values {
            *value = (*value as f64 - mean) as f32;
        }
    };
    for mut row in model.weights.rows_mut() {
        centre(row.as_slice_mut().expect("a C-order row"));
    }
    centre(model.bias.as_slice_mut().expect("a contiguous bias"));
}
