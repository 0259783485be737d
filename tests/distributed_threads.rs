//! Data-parallel training semantics without MPI: K ranks as threads of
//! one process ([`ThreadGroup`]), each holding its contiguous share of the
//! rows (`⌊rN/K⌋..⌊(r+1)N/K⌋`, uneven when K does not divide N), against
//! one process on all the rows. The mpirun tests (`tests/distributed.rs`)
//! run the same comparisons through the command line.
//!
//! Models are compared by `max|a − b| ≤ 1e-5 · max|b|` over `[W | b]`.

mod common;

use common::teacher_data;
use lintrain::distributed::{Collective, Solo, ThreadGroup, share_of};
use lintrain::{
    BackendChoice, BatchSize, Examples, LbfgsOptions, Optimizer, Outcome, RowSplit, Solver,
    TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2, s};

const ROWS: usize = 1001;
const FEATURES: usize = 12;

fn data() -> (Array2<f32>, Array1<u32>) {
    let (x, labels, _) = teacher_data(ROWS, FEATURES, 18);
    (x, labels)
}

fn lbfgs() -> TrainConfig {
    TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions {
            gradient_tolerance: 1e-7,
            max_iterations: 200,
            ..LbfgsOptions::default()
        }),
        backend: BackendChoice::Cpu,
        classes: Some(3),
        ..TrainConfig::default()
    }
}

fn full_batch_gd() -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::Sgd,
        learning_rate: 0.5,
        batch_size: BatchSize::Full,
        epochs: 40,
        backend: BackendChoice::Cpu,
        classes: Some(3),
        ..TrainConfig::default()
    }
}

fn one_process(config: &TrainConfig, split: Option<&RowSplit>) -> Outcome {
    let (x, labels) = data();
    let examples = Examples::classes(x.view(), labels.view());
    let data = match split {
        Some(split) => TrainData::split(examples, split),
        None => TrainData::new(examples),
    };
    Trainer::new(config.clone())
        .fit_data(data)
        .expect("one process")
}

/// Each rank's outcome, trained on its share (and its rows of `split`,
/// a split of all the rows).
fn ranks(config: &TrainConfig, size: usize, split: Option<&RowSplit>) -> Vec<Outcome> {
    let (x, labels) = data();
    ranks_split(config, size, split, &x, &labels)
}

/// [`ranks`] on the rows `x` with `labels`, without a split.
fn ranks_on(
    config: &TrainConfig,
    size: usize,
    x: &Array2<f32>,
    labels: &Array1<u32>,
) -> Vec<Outcome> {
    ranks_split(config, size, None, x, labels)
}

fn ranks_split(
    config: &TrainConfig,
    size: usize,
    split: Option<&RowSplit>,
    x: &Array2<f32>,
    labels: &Array1<u32>,
) -> Vec<Outcome> {
    let rows = x.nrows();
    let group = ThreadGroup::new(size);
    std::thread::scope(|scope| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|member| {
                scope.spawn(move || {
                    let share = share_of(rows, member.rank(), size);
                    let x = x.slice(s![share.clone(), ..]).to_owned();
                    let labels = labels.slice(s![share.clone()]).to_owned();
                    let local_split = split.map(|split| local_rows(split, share.clone()));
                    let examples = Examples::classes(x.view(), labels.view());
                    let data = match &local_split {
                        Some(split) => TrainData::split(examples, split),
                        None => TrainData::new(examples),
                    };
                    Trainer::new(config.clone())
                        .fit_data_across(data, &member)
                        .expect("a rank's run")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The rows of `split` within `share`, as indices into the share.
fn local_rows(split: &RowSplit, share: std::ops::Range<usize>) -> RowSplit {
    let local = |rows: &[usize]| {
        rows.iter()
            .filter(|r| share.contains(r))
            .map(|r| r - share.start)
            .collect()
    };
    RowSplit {
        train: local(&split.train),
        validation: local(&split.validation),
    }
}

#[track_caller]
fn assert_same_model(what: &str, actual: &Outcome, expected: &Outcome) {
    let (a, e) = (actual.model.params(), expected.model.params());
    assert_eq!(a.len(), e.len(), "{what}: parameter counts");
    let scale = e.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (at, diff) = a
        .iter()
        .zip(&e)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (i, d)| if d > best.1 { (i, d) } else { best },
        );
    assert!(
        diff <= 1e-5 * scale,
        "{what}: parameter {at} is {} against one process's {} (max|diff| {diff:e}, max|w| {scale})",
        a[at],
        e[at]
    );
}

#[test]
fn every_rank_returns_the_same_model() {
    for config in [lbfgs(), full_batch_gd()] {
        let outcomes = ranks(&config, 3, None);
        for (rank, outcome) in outcomes.iter().enumerate().skip(1) {
            assert_eq!(
                outcome.model.params(),
                outcomes[0].model.params(),
                "rank {rank} and rank 0 ended with different weights"
            );
        }
    }
}

#[test]
fn lbfgs_on_two_and_three_ranks_is_the_one_process_model() {
    let config = lbfgs();
    let expected = one_process(&config, None);
    for size in [2, 3] {
        let outcome = &ranks(&config, size, None)[0];
        assert_same_model(&format!("L-BFGS on {size} ranks"), outcome, &expected);
        let (report, one) = (
            outcome.solver_report.as_ref().unwrap(),
            expected.solver_report.as_ref().unwrap(),
        );
        assert!(report.converged && one.converged, "{report:?} / {one:?}");
    }
}

#[test]
fn lbfgs_with_a_global_validation_split_matches_one_process() {
    let config = lbfgs();
    let (_, labels) = data();
    let split = RowSplit::stratified(labels.as_slice().unwrap(), 0.2, 7);
    let expected = one_process(&config, Some(&split));
    for size in [2, 3] {
        let outcome = &ranks(&config, size, Some(&split))[0];
        assert_same_model(
            &format!("L-BFGS with validation, {size} ranks"),
            outcome,
            &expected,
        );
        let last = outcome.history.epochs.last().unwrap();
        let one = expected.history.epochs.last().unwrap();
        let (val, val_one) = (last.val_loss.unwrap(), one.val_loss.unwrap());
        assert!(
            (val - val_one).abs() <= 1e-5 * val_one.abs(),
            "{size} ranks: validation loss {val} against {val_one}"
        );
        assert_eq!(last.val_accuracy, one.val_accuracy, "{size} ranks");
        assert_eq!(last.train_accuracy, one.train_accuracy, "{size} ranks");
    }
}

#[test]
fn full_batch_gradient_descent_on_two_and_three_ranks_is_the_one_process_model() {
    let config = full_batch_gd();
    let expected = one_process(&config, None);
    for size in [2, 3] {
        let outcome = &ranks(&config, size, None)[0];
        assert_same_model(
            &format!("full-batch GD on {size} ranks"),
            outcome,
            &expected,
        );
        for (record, one) in outcome.history.epochs.iter().zip(&expected.history.epochs) {
            assert!(
                (record.train_loss - one.train_loss).abs() <= 1e-5 * one.train_loss,
                "{size} ranks, epoch {}: loss {} against {}",
                record.epoch,
                record.train_loss,
                one.train_loss
            );
        }
    }
}

#[test]
fn one_rank_is_the_plain_run_bit_for_bit() {
    let (x, labels) = data();
    for config in [
        lbfgs(),
        full_batch_gd(),
        TrainConfig {
            backend: BackendChoice::Cpu,
            ..TrainConfig::default()
        },
    ] {
        let expected = one_process(&config, None);
        let examples = Examples::classes(x.view(), labels.view());
        let outcome = Trainer::new(config.clone())
            .fit_data_across(TrainData::new(examples), &Solo)
            .unwrap();
        assert_eq!(outcome.model.params(), expected.model.params());
        let losses = |o: &Outcome| {
            o.history
                .epochs
                .iter()
                .map(|r| r.train_loss)
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&outcome), losses(&expected));
    }
}

#[test]
fn minibatch_sgd_on_two_ranks_reaches_the_one_process_accuracy() {
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.01,
        batch_size: BatchSize::Rows(16),
        epochs: 15,
        backend: BackendChoice::Cpu,
        classes: Some(3),
        ..TrainConfig::default()
    };
    let expected = one_process(&config, None);
    let outcomes = ranks(&config, 2, None);
    assert_eq!(outcomes[0].model.params(), outcomes[1].model.params());
    let accuracy = |o: &Outcome| o.history.epochs.last().unwrap().train_accuracy.unwrap();
    let (two, one) = (accuracy(&outcomes[0]), accuracy(&expected));
    assert!(one > 0.9, "one process reached only {one}");
    assert!(
        (two - one).abs() <= 0.02,
        "two ranks: accuracy {two}, one process {one}"
    );
    // Half the steps: each step's batch is both ranks' 16 rows.
    assert_eq!(
        outcomes[0].checkpoint.steps_taken,
        15 * (ROWS / 2 + 1).div_ceil(16) as u64
    );
}

/// Noisy classes with weak regularization (λ = 1e-4) from the random
/// start: the bias, which the softmax loss fixes only up to a common
/// constant, drifts along that flat direction by however the rounding of
/// the sums falls, and one process and the ranks' paths differ there by
/// up to 1e-4 relative; the symmetric parametrization of L-BFGS's models
/// removes it.
#[test]
fn weakly_regularized_lbfgs_agrees_across_ranks_in_every_direction() {
    let config = TrainConfig {
        regularizer: lintrain::Regularizer::L2 { strength: 1e-4 },
        classes: Some(4),
        ..lbfgs()
    };
    for seed in [3, 4, 5] {
        let (x, labels) = noisy(seed);
        let expected = Trainer::new(config.clone())
            .fit(x.view(), labels.view())
            .unwrap();
        for size in [2, 3] {
            let outcome = &ranks_on(&config, size, &x, &labels)[0];
            assert_same_model(&format!("seed {seed}, {size} ranks"), outcome, &expected);
            let (bias, one) = (outcome.model.bias.to_vec(), expected.model.bias.to_vec());
            let scale = one.iter().fold(0.0f32, |m, b| m.max(b.abs()));
            for (c, (b, o)) in bias.iter().zip(&one).enumerate() {
                assert!(
                    (b - o).abs() <= 1e-5 * scale,
                    "seed {seed}, {size} ranks: bias {c} is {b} against {o}"
                );
            }
        }
    }
}

/// 600 rows of 6 features at scales 0.3 to 3, 4 classes from a noisy
/// linear teacher: overlapping, so the optimum is interior.
fn noisy(seed: u64) -> (Array2<f32>, Array1<u32>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (rows, features, classes) = (600, 6, 4);
    let x = Array2::from_shape_fn((rows, features), |(_, j)| {
        (0.3 + 0.5 * j as f32) * rng.random_range(-1.0f32..1.0)
    });
    let teacher = Array2::from_shape_fn((features, classes), |_| rng.random_range(-1.0f32..1.0));
    let scores = x.dot(&teacher);
    let labels = scores
        .outer_iter()
        .map(|row| {
            (0..classes)
                .max_by(|&a, &b| {
                    (row[a] + 2.0 * rng.random_range(-1.0f32..1.0))
                        .total_cmp(&(row[b] + 2.0 * rng.random_range(-1.0f32..1.0)))
                })
                .unwrap() as u32
        })
        .collect();
    (x, labels)
}

/// Each rank takes the minibatch update on its own device: ranks whose
/// updates differ (here a misconfigured learning rate on rank 1; in
/// practice devices with other arithmetic) would drift apart silently.
/// After each epoch the ranks compare their weights, and both stop with
/// the same error.
#[test]
fn ranks_whose_weights_drift_apart_stop_together() {
    let (x, labels) = data();
    let group = ThreadGroup::new(2);
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|member| {
                let (x, labels) = (&x, &labels);
                scope.spawn(move || {
                    let share = share_of(ROWS, member.rank(), 2);
                    let config = TrainConfig {
                        learning_rate: if member.rank() == 0 { 0.1 } else { 0.2 },
                        ..full_batch_gd()
                    };
                    let x = x.slice(s![share.clone(), ..]);
                    let labels = labels.slice(s![share]);
                    Trainer::new(config)
                        .fit_data_across(TrainData::new(Examples::classes(x, labels)), &member)
                        .map(|_| ())
                        .unwrap_err()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for error in &errors {
        assert!(
            error.contains("after epoch 1 rank 1's weights differ from rank 0's"),
            "{errors:?}"
        );
    }
}
