//! Sweeps (`lintrain::sweep`): every member is the model its own run
//! trains, with the same seed and split, on the CPU (one shared pass over
//! each minibatch) and on the GPU; a diverging member does not touch the
//! others; early stopping is per member; a warm-started L-BFGS path reaches
//! the cold fits' optima; k-fold selection refits the best setting; members
//! that would not fit are refused before training.

mod common;

use common::{assert_close, rng};
use lintrain::config::EarlyStopping;
use lintrain::sweep::{
    Grid, MemberStatus, Selection, SelectionMetric, SweepConfig, SweepOutcome, Sweeper,
    SweptParameter,
};
use lintrain::{
    Backend, CpuBackend, Error, Examples, LbfgsOptions, Loss, Model, Monitor, Optimizer,
    Regularizer, Solver, TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2};
use rand::Rng;
use rand_distr::StandardNormal;

/// A learnable, seeded problem: a noisy linear teacher's labels.
fn problem(rows: usize, features: usize, classes: usize, seed: u64) -> (Array2<f32>, Array1<u32>) {
    let mut rng = rng(seed);
    let x = Array2::from_shape_fn((rows, features), |_| rng.sample::<f32, _>(StandardNormal));
    let teacher = Array2::from_shape_fn((features, classes), |_| {
        rng.sample::<f32, _>(StandardNormal)
    });
    let scores = x.dot(&teacher);
    let labels = scores
        .rows()
        .into_iter()
        .map(|row| {
            let noisy: Vec<f32> = row
                .iter()
                .map(|s| s + 2.0 * rng.sample::<f32, _>(StandardNormal))
                .collect();
            (0..classes)
                .max_by(|&a, &b| noisy[a].total_cmp(&noisy[b]))
                .unwrap() as u32
        })
        .collect();
    (x, labels)
}

fn base(optimizer: Optimizer, loss: Loss) -> TrainConfig {
    TrainConfig {
        loss,
        optimizer,
        regularizer: Regularizer::L2 { strength: 1e-3 },
        learning_rate: 0.05,
        epochs: 4,
        batch_size: lintrain::BatchSize::Rows(32),
        validation_fraction: 0.25,
        seed: 7,
        ..TrainConfig::default()
    }
}

fn sweep_on<B: Backend>(
    backend: &B,
    config: SweepConfig,
    x: &Array2<f32>,
    y: &Array1<u32>,
) -> SweepOutcome {
    Sweeper::new(config)
        .fit_data_on(
            backend,
            TrainData::new(Examples::classes(x.view(), y.view())),
        )
        .unwrap_or_else(|e| panic!("sweep: {e}"))
}

/// The model `Trainer` trains alone with `config` (the same data, seed and
/// split), and its history.
fn own_run<B: Backend>(
    backend: &B,
    config: &TrainConfig,
    x: &Array2<f32>,
    y: &Array1<u32>,
) -> lintrain::Result<lintrain::Outcome> {
    Trainer::new(config.clone()).fit_on(backend, x.view(), y.view())
}

fn assert_models_close(what: &str, got: &Model, want: &Model, rtol: f32, atol: f32) {
    assert_close(what, &got.params(), &want.params(), rtol, atol);
}

/// Each trained member against its own run: weights, and every epoch's
/// losses and accuracies.
fn check_members_equal_own_runs<B: Backend>(
    what: &str,
    backend: &B,
    outcome: &SweepOutcome,
    x: &Array2<f32>,
    y: &Array1<u32>,
    rtol: f32,
) {
    for (k, member) in outcome.members.iter().enumerate() {
        let run = &member.runs[0];
        let who = format!("{what}: member {k} ({})", member.setting);
        if let MemberStatus::Diverged { .. } = run.status {
            assert!(
                matches!(
                    own_run(backend, &run.config, x, y),
                    Err(Error::Diverged { .. })
                ),
                "{who}: diverged in the sweep but not alone"
            );
            continue;
        }
        let own = own_run(backend, &run.config, x, y).unwrap_or_else(|e| panic!("{who}: {e}"));
        assert_models_close(&who, &run.model, &own.model, rtol, 1e-5);
        assert_eq!(
            run.history.epochs.len(),
            own.history.epochs.len(),
            "{who}: epochs run"
        );
        assert_eq!(
            run.history.best_epoch, own.history.best_epoch,
            "{who}: best epoch"
        );
        for (got, want) in run.history.epochs.iter().zip(&own.history.epochs) {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs().max(1e-3);
            assert!(
                close(got.train_loss, want.train_loss),
                "{who}: epoch {} train loss {} vs alone {}",
                got.epoch,
                got.train_loss,
                want.train_loss
            );
            assert!(
                close(got.val_loss.unwrap(), want.val_loss.unwrap()),
                "{who}: epoch {} val loss {:?} vs alone {:?}",
                got.epoch,
                got.val_loss,
                want.val_loss
            );
        }
    }
}

fn lr_by_strength() -> Grid {
    Grid::new(vec![
        (SweptParameter::LearningRate, vec![0.1, 0.02]),
        (SweptParameter::RegStrength, vec![1e-4, 1e-2, 0.3]),
    ])
    .unwrap()
}

#[test]
fn every_member_equals_its_own_run_on_the_cpu() {
    // Ten classes and six members: a 60-column wide step, the tile kernels.
    let (x, y) = problem(300, 23, 10, 1);
    let cpu = CpuBackend::new();
    for (optimizer, loss) in [
        (Optimizer::Sgd, Loss::default()),
        (Optimizer::adam(), Loss::default()),
        (Optimizer::momentum(), Loss::Hinge { margin: 1.0 }),
    ] {
        let config = SweepConfig::new(base(optimizer, loss), lr_by_strength());
        let outcome = sweep_on(&cpu, config, &x, &y);
        assert_eq!(outcome.members.len(), 6);
        check_members_equal_own_runs(
            &format!("cpu, {} / {}", optimizer.name(), loss.name()),
            &cpu,
            &outcome,
            &x,
            &y,
            1e-3,
        );
    }
}

#[test]
fn momentum_and_l1_ratio_are_each_members_own() {
    let (x, y) = problem(240, 9, 3, 2);
    let cpu = CpuBackend::new();
    let grid = Grid::new(vec![
        (SweptParameter::Momentum, vec![0.3, 0.6, 0.9]),
        (SweptParameter::L1Ratio, vec![0.0, 1.0]),
    ])
    .unwrap();
    let config = TrainConfig {
        regularizer: Regularizer::ElasticNet {
            strength: 1e-2,
            l1_ratio: 0.5,
        },
        ..base(Optimizer::nesterov(), Loss::default())
    };
    let outcome = sweep_on(&cpu, SweepConfig::new(config, grid), &x, &y);
    let mu = |k: usize| match outcome.members[k].runs[0].config.optimizer {
        Optimizer::Nesterov { momentum } => momentum,
        other => panic!("member {k}: {other:?}"),
    };
    assert_eq!((mu(0), mu(2), mu(4)), (0.3, 0.6, 0.9));
    check_members_equal_own_runs("nesterov × elastic", &cpu, &outcome, &x, &y, 1e-3);
}

#[test]
fn every_member_equals_its_own_run_on_the_gpu() {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let (x, y) = problem(200, 17, 10, 3);
    for optimizer in [Optimizer::Sgd, Optimizer::adamw()] {
        let config = SweepConfig::new(base(optimizer, Loss::default()), lr_by_strength());
        let outcome = sweep_on(&gpu, config, &x, &y);
        check_members_equal_own_runs(
            &format!("gpu, {}", optimizer.name()),
            &gpu,
            &outcome,
            &x,
            &y,
            1e-4,
        );
        // And the GPU's members are the CPU's.
        let cpu = sweep_on(
            &CpuBackend::new(),
            SweepConfig::new(base(optimizer, Loss::default()), lr_by_strength()),
            &x,
            &y,
        );
        for (k, (g, c)) in outcome.members.iter().zip(&cpu.members).enumerate() {
            assert_models_close(
                &format!("gpu vs cpu, {}, member {k}", optimizer.name()),
                &g.runs[0].model,
                &c.runs[0].model,
                2e-3,
                1e-4,
            );
        }
    }
}

#[test]
fn a_diverging_member_is_dropped_and_the_others_train_on() {
    let (x, y) = problem(300, 23, 10, 4);
    let grid = Grid::new(vec![(SweptParameter::LearningRate, vec![0.1, 1e30, 0.03])]).unwrap();
    let config = TrainConfig {
        epochs: 3,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let cpu = CpuBackend::new();
    let outcome = sweep_on(&cpu, SweepConfig::new(config.clone(), grid), &x, &y);
    assert!(
        matches!(
            outcome.members[1].runs[0].status,
            MemberStatus::Diverged { epoch: 1, .. }
        ),
        "{:?}",
        outcome.members[1].runs[0].status
    );
    assert!(outcome.members[1].scores.is_none());
    for k in [0, 2] {
        assert_eq!(outcome.members[k].runs[0].status, MemberStatus::Trained);
        assert_eq!(outcome.members[k].runs[0].history.epochs.len(), 3);
    }
    assert_ne!(outcome.best, Some(1));
    check_members_equal_own_runs("diverging member", &cpu, &outcome, &x, &y, 1e-3);
    // The survivors are the members of a sweep without it.
    let without = sweep_on(
        &cpu,
        SweepConfig::new(
            config,
            Grid::new(vec![(SweptParameter::LearningRate, vec![0.1, 0.03])]).unwrap(),
        ),
        &x,
        &y,
    );
    for (k, j) in [(0, 0), (2, 1)] {
        assert_models_close(
            &format!("member {k} with and without the diverging one"),
            &outcome.members[k].runs[0].model,
            &without.members[j].runs[0].model,
            1e-4,
            1e-6,
        );
    }
}

#[test]
fn early_stopping_is_per_member() {
    let (x, y) = problem(300, 23, 10, 5);
    let grid = Grid::new(vec![(SweptParameter::LearningRate, vec![3.0, 0.01])]).unwrap();
    let config = TrainConfig {
        epochs: 12,
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationLoss,
        }),
        ..base(Optimizer::Sgd, Loss::default())
    };
    let cpu = CpuBackend::new();
    let outcome = sweep_on(&cpu, SweepConfig::new(config, grid), &x, &y);
    let epochs: Vec<usize> = outcome
        .members
        .iter()
        .map(|m| m.runs[0].history.epochs.len())
        .collect();
    assert!(
        outcome.members[0].runs[0].history.stopped_early,
        "the large step should stop early: {epochs:?}"
    );
    assert!(
        !outcome.members[1].runs[0].history.stopped_early && epochs[1] == 12,
        "the small step should run every epoch: {epochs:?}"
    );
    check_members_equal_own_runs("early stopping", &cpu, &outcome, &x, &y, 1e-3);
}

fn lbfgs(max_iterations: usize) -> Solver {
    Solver::Lbfgs(LbfgsOptions {
        max_iterations,
        gradient_tolerance: 1e-6,
        ..LbfgsOptions::default()
    })
}

#[test]
fn a_warm_started_lbfgs_path_reaches_the_cold_fits_optima_in_fewer_iterations() {
    let (x, y) = problem(400, 12, 4, 6);
    let grid = Grid::new(vec![(
        SweptParameter::C,
        lintrain::sweep::parse_values(SweptParameter::C, "logspace(-2,2,5)").unwrap(),
    )])
    .unwrap();
    let config = TrainConfig {
        solver: lbfgs(500),
        ..base(Optimizer::Sgd, Loss::default())
    };
    let cpu = CpuBackend::new();
    let outcome = sweep_on(&cpu, SweepConfig::new(config, grid), &x, &y);
    let (mut warm_iterations, mut cold_iterations) = (0, 0);
    for (k, member) in outcome.members.iter().enumerate() {
        let run = &member.runs[0];
        let report = run.solver_report.as_ref().unwrap();
        assert!(report.converged, "member {k}: {report:?}");
        let cold = own_run(&cpu, &run.config, &x, &y).unwrap();
        let cold_report = cold.solver_report.unwrap();
        assert!(cold_report.converged, "member {k} alone: {cold_report:?}");
        // Both at the optimum of a strictly convex objective: the same
        // value, and the same weights to the solver's tolerance (the weakly
        // regularized end is flat, so its weights agree less closely).
        let gap = (report.objective - cold_report.objective).abs();
        assert!(
            gap <= 1e-6 * cold_report.objective.abs(),
            "member {k} ({}): objective {} on the path, {} cold",
            member.setting,
            report.objective,
            cold_report.objective
        );
        assert_models_close(
            &format!("member {k} ({}) warm vs cold", member.setting),
            &run.model,
            &cold.model,
            1e-2,
            1e-3,
        );
        warm_iterations += report.iterations;
        cold_iterations += cold_report.iterations;
    }
    assert!(
        warm_iterations < cold_iterations,
        "the path took {warm_iterations} iterations, the cold fits {cold_iterations}"
    );
}

#[test]
fn a_cold_lbfgs_sweep_is_each_own_fit() {
    let (x, y) = problem(400, 12, 4, 6);
    let grid = Grid::new(vec![(SweptParameter::C, vec![100.0, 0.1, 3.0])]).unwrap();
    let config = TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions::default()),
        ..base(Optimizer::Sgd, Loss::default())
    };
    let cpu = CpuBackend::new();
    let sweep = SweepConfig {
        warm_start: false,
        ..SweepConfig::new(config, grid)
    };
    let outcome = sweep_on(&cpu, sweep, &x, &y);
    for (k, member) in outcome.members.iter().enumerate() {
        let run = &member.runs[0];
        let own = own_run(&cpu, &run.config, &x, &y).unwrap();
        assert_models_close(&format!("member {k}"), &run.model, &own.model, 1e-6, 1e-7);
        assert_eq!(
            run.solver_report.as_ref().unwrap().iterations,
            own.solver_report.unwrap().iterations,
            "member {k}"
        );
    }
}

#[test]
fn k_fold_selection_averages_the_folds_and_refits_the_best_on_every_row() {
    let (x, y) = problem(300, 9, 3, 8);
    let grid = Grid::new(vec![(SweptParameter::RegStrength, vec![1e-4, 0.1, 3.0])]).unwrap();
    let config = TrainConfig {
        validation_fraction: 0.0,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let sweep = SweepConfig {
        selection: Selection::Folds(3),
        metric: SelectionMetric::Loss,
        ..SweepConfig::new(config, grid)
    };
    let cpu = CpuBackend::new();
    let outcome = sweep_on(&cpu, sweep, &x, &y);
    for member in &outcome.members {
        assert_eq!(member.runs.len(), 3);
        let scores = member.scores.unwrap();
        let mean = member
            .runs
            .iter()
            .map(|r| r.scores.unwrap().val_loss.unwrap())
            .sum::<f64>()
            / 3.0;
        assert!((scores.val_loss.unwrap() - mean).abs() < 1e-12);
    }
    let best = outcome.best.unwrap();
    let lowest = (0..3)
        .min_by(|&a, &b| {
            let loss = |k: usize| outcome.members[k].scores.unwrap().val_loss.unwrap();
            loss(a).total_cmp(&loss(b))
        })
        .unwrap();
    assert_eq!(best, lowest);
    let refit = outcome.refit.as_ref().unwrap();
    let alone = own_run(&cpu, &refit.config, &x, &y).unwrap();
    assert_models_close(
        "refit",
        outcome.best_model.as_ref().unwrap(),
        &alone.model,
        1e-5,
        1e-7,
    );
}

#[test]
fn selection_follows_the_metric() {
    let (x, y) = problem(300, 9, 3, 9);
    let grid = Grid::new(vec![(SweptParameter::RegStrength, vec![1e-4, 1.0, 30.0])]).unwrap();
    let cpu = CpuBackend::new();
    for metric in [SelectionMetric::Accuracy, SelectionMetric::Loss] {
        let outcome = sweep_on(
            &cpu,
            SweepConfig {
                metric,
                ..SweepConfig::new(base(Optimizer::Sgd, Loss::default()), grid.clone())
            },
            &x,
            &y,
        );
        let best = outcome.best.unwrap();
        let scores: Vec<_> = outcome.members.iter().map(|m| m.scores.unwrap()).collect();
        for (k, s) in scores.iter().enumerate() {
            match metric {
                SelectionMetric::Accuracy => assert!(
                    s.val_accuracy <= scores[best].val_accuracy,
                    "member {k} beats the best {best} on accuracy: {scores:?}"
                ),
                SelectionMetric::Loss => assert!(
                    s.val_loss >= scores[best].val_loss,
                    "member {k} beats the best {best} on loss: {scores:?}"
                ),
            }
        }
        assert_eq!(
            outcome.best_model.as_ref().unwrap().params(),
            outcome.members[best].runs[0].model.params()
        );
    }
}

#[test]
fn a_grid_too_large_for_the_members_to_fit_says_how_many_would() {
    let x = Array2::<f32>::zeros((4, 20_000));
    let y = Array1::from(vec![0u32, 1, 2, 3]);
    let grid = Grid::new(vec![(
        SweptParameter::RegStrength,
        (0..4000).map(|i| i as f64).collect(),
    )])
    .unwrap();
    let config = TrainConfig {
        classes: Some(20_000),
        ..base(Optimizer::Sgd, Loss::default())
    };
    let error = Sweeper::new(SweepConfig::new(config, grid))
        .fit_data_on(
            &CpuBackend::new(),
            TrainData::new(Examples::classes(x.view(), y.view())),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("at most 2 members of this shape fit"),
        "{error}"
    );
}

#[test]
fn a_sweep_without_rows_to_select_on_is_refused() {
    let (x, y) = problem(60, 4, 3, 10);
    let config = TrainConfig {
        validation_fraction: 0.0,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let error = Sweeper::new(SweepConfig::new(config, lr_by_strength()))
        .fit_data_on(
            &CpuBackend::new(),
            TrainData::new(Examples::classes(x.view(), y.view())),
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("held-out rows"), "{error}");
}

#[test]
fn a_fold_left_with_one_class_to_train_on_is_named() {
    // Two classes, one of a single row: the fold that validates that row
    // trains on the other class alone.
    let (x, _) = problem(12, 3, 2, 11);
    let mut labels = vec![0u32; 12];
    labels[5] = 1;
    let y = Array1::from(labels);
    let config = TrainConfig {
        validation_fraction: 0.0,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let error = Sweeper::new(SweepConfig {
        selection: Selection::Folds(3),
        ..SweepConfig::new(config, lr_by_strength())
    })
    .fit_data_on(
        &CpuBackend::new(),
        TrainData::new(Examples::classes(x.view(), y.view())),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("3-fold")
            && error.contains("class 0 alone")
            && error.contains("fewer folds"),
        "{error}"
    );
}

#[test]
fn every_members_early_stopping_is_checked_before_training() {
    // Real-valued targets have no accuracy to watch: refused for the
    // second member as for the first, before any epoch, with the reason.
    let (x, _) = problem(60, 4, 3, 12);
    let targets = Array2::from_shape_fn((60, 2), |(i, j)| (i * (j + 1)) as f32 / 60.0);
    let plain = TrainConfig {
        loss: Loss::MeanSquaredError,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let watching = TrainConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            monitor: Monitor::ValidationAccuracy,
        }),
        ..plain.clone()
    };
    let mut epochs = 0;
    let error = lintrain::train::fit_members_on(
        &CpuBackend::new(),
        TrainData::new(Examples::values(x.view(), targets.view())),
        &[plain, watching],
        true,
        &mut |_, _| epochs += 1,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("accuracy needs class labels"), "{error}");
    assert_eq!(epochs, 0, "{error}");
}

#[test]
fn a_split_that_holds_out_a_whole_class_is_refused_as_train_refuses_it() {
    // Class 2 has one row, which a fraction of 0.6 holds out.
    let (x, _) = problem(20, 3, 3, 13);
    let mut labels: Vec<u32> = (0..20).map(|i| i % 2).collect();
    labels[7] = 2;
    let y = Array1::from(labels);
    let config = TrainConfig {
        validation_fraction: 0.6,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let cpu = CpuBackend::new();
    let alone = own_run(&cpu, &config, &x, &y).unwrap_err().to_string();
    let error = Sweeper::new(SweepConfig::new(config, lr_by_strength()))
        .fit_data_on(&cpu, TrainData::new(Examples::classes(x.view(), y.view())))
        .map(|outcome| format!("trained, best {:?}", outcome.best))
        .unwrap_or_else(|e| e.to_string());
    assert_eq!(error, alone);
}

#[test]
fn a_setting_the_configuration_rejects_is_named() {
    let setting = Grid::new(vec![(SweptParameter::Momentum, vec![0.0])])
        .unwrap()
        .setting(0);
    let message = setting
        .apply(&base(Optimizer::nesterov(), Loss::default()), 100, 3)
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("--momentum 0: "), "{message}");
    assert!(message.contains("nesterov"), "{message}");
}

#[test]
fn swept_values_round_to_f32_as_train_parses_them() {
    // The shortest decimal of the f64 midpoint of two f32s: parsed straight
    // to f32 (as `train --lr` parses its text) it rounds up; through f64 it
    // would round to even, down.
    let text = "1.0000000596046448";
    let as_train: f32 = text.parse().unwrap();
    let value: f64 = text.parse().unwrap();
    assert_ne!(as_train, value as f32, "the case must round differently");
    let config = TrainConfig {
        regularizer: Regularizer::ElasticNet {
            strength: 0.5,
            l1_ratio: 0.5,
        },
        ..base(Optimizer::Sgd, Loss::default())
    };
    for parameter in [SweptParameter::LearningRate, SweptParameter::RegStrength] {
        let applied = Grid::new(vec![(parameter, vec![value])])
            .unwrap()
            .setting(0)
            .apply(&config, 100, 3)
            .unwrap();
        let got = match parameter {
            SweptParameter::LearningRate => applied.learning_rate,
            _ => applied.regularizer.coefficients().0 / 0.5,
        };
        assert_eq!(got, as_train, "{parameter:?}");
    }
}

#[test]
fn settings_that_do_not_apply_are_named() {
    let grid = |p: SweptParameter, v: f64| Grid::new(vec![(p, vec![v])]).unwrap().setting(0);
    let adam = base(Optimizer::adam(), Loss::default());
    let message = grid(SweptParameter::Momentum, 0.5)
        .apply(&adam, 100, 3)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("--momentum 0.5: the optimizer adam has no momentum"),
        "{message}"
    );
    let message = grid(SweptParameter::L1Ratio, 0.5)
        .apply(&adam, 100, 3)
        .unwrap_err()
        .to_string();
    assert!(message.contains("choose --reg elastic"), "{message}");
    let none = TrainConfig {
        regularizer: Regularizer::None,
        ..adam.clone()
    };
    let message = grid(SweptParameter::RegStrength, 0.5)
        .apply(&none, 100, 3)
        .unwrap_err()
        .to_string();
    assert!(message.contains("no penalty"), "{message}");
    // Nor has it a strength for C or alpha to set (train refuses --C with
    // --reg none): every member would train without a penalty.
    for parameter in [SweptParameter::C, SweptParameter::Alpha] {
        let message = grid(parameter, 0.5)
            .apply(&none, 100, 3)
            .map(|config| format!("{:?}", config.regularizer))
            .unwrap_or_else(|e| e.to_string());
        assert!(
            message.starts_with(&format!("{} 0.5: ", parameter.flag()))
                && message.contains("no penalty"),
            "{message}"
        );
    }
    // C as `train --C` converts it: 1/(2·C·n) for l2, doubled for a
    // two-class softmax.
    let c = grid(SweptParameter::C, 4.0);
    assert_eq!(
        c.apply(&adam, 100, 3).unwrap().regularizer,
        Regularizer::L2 {
            strength: (1.0 / 800.0) as f32
        }
    );
    assert_eq!(
        c.apply(&adam, 100, 2).unwrap().regularizer,
        Regularizer::L2 {
            strength: (1.0 / 400.0) as f32
        }
    );
    let message = grid(SweptParameter::C, 1e-60)
        .apply(&adam, 100, 3)
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("--C 1e-60: "), "{message}");
}

#[test]
fn fit_members_on_refuses_members_that_would_not_fit() {
    let x = Array2::<f32>::zeros((4, 20_000));
    let y = Array1::from(vec![0u32, 1, 2, 3]);
    let config = TrainConfig {
        classes: Some(20_000),
        validation_fraction: 0.0,
        ..base(Optimizer::Sgd, Loss::default())
    };
    let configs = vec![config; 4000];
    let error = lintrain::train::fit_members_on(
        &CpuBackend::new(),
        TrainData::new(Examples::classes(x.view(), y.view())),
        &configs,
        true,
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("at most 2 members of this shape fit"),
        "{error}"
    );
}
