//! `mpirun -n K lintrain train --distributed` end to end (issue 18):
//!
//! - L-BFGS and full-batch gradient descent on 2 and 3 ranks give the
//!   one-process model, with and without a validation split, from a CSV
//!   file and from `.npy` features with a labels file;
//! - `--distributed` without `mpirun` (a world of one rank) gives the plain
//!   run's model bit for bit;
//! - minibatch SGD on 2 ranks reaches the one-process accuracy;
//! - the shares are uneven when N is not divisible by K (⌊rN/K⌋
//!   boundaries), and `{rank}` files of different lengths train as their
//!   concatenation;
//! - a rank that fails on bad input ends the job quickly with its message;
//! - only rank 0 writes files and prints.
//!
//! **Model comparison.** Models are compared tensor by tensor (`weight`,
//! `bias`, `mean`, `std` of the safetensors file), the one-process model
//! `b` being the reference: `max_i |a_i − b_i| ≤ 1e-5 · max_i |b_i|`. On
//! this data a different summation order (the rows of the file shuffled)
//! moves one-process L-BFGS and full-batch models by at most 1.2e-6 of that
//! scale (10 seeds), while L-BFGS stopped at `--tol 1e-6` instead of
//! `1e-8` is already 2e-5 to 6e-5 away: the tolerance leaves rounding room and
//! little else.
//!
//! The ranks run under `mpirun --allow-run-as-root --oversubscribe
//! --bind-to none --timeout 120` (root in containers, 3 ranks on 2 CPUs,
//! any cpuset; the timeout ends a job that hangs) with the threads lintrain
//! chooses. The tests take turns (a lock): K ranks of one test already
//! share a small machine's CPUs. Without `mpirun` a test says so and
//! returns; with `CI=true` that is a failure.
#![cfg(feature = "mpi")]

mod common;

use common::cli::{Run, fail_with, json, number, s, succeed};
use common::files::{f32_bytes, i64_bytes, npy};
use common::in_ci;
use rand::Rng;
use rand_distr::StandardNormal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Rows of the shared data: divisible by neither 2 nor 3.
const ROWS: usize = 1001;
const FEATURES: usize = 20;
const CLASSES: usize = 5;
const NAMES: [&str; CLASSES] = ["alder", "birch", "cedar", "larch", "maple"];
/// Relative tolerance of the model comparison (see the module's comment).
const RELATIVE: f32 = 1e-5;
/// `mpirun --timeout`, in seconds.
const MPIRUN_TIMEOUT: &str = "120";
/// A failing rank ends the job well within this (the job itself takes
/// about a second); a job that hangs until `mpirun --timeout` exceeds it.
const FAILS_WITHIN: Duration = Duration::from_secs(60);

/// L-BFGS to a tight tolerance, so that the comparison is with the
/// optimum and not with where a loose tolerance happened to stop (on this
/// data `--tol 1e-6` and `1e-9` stop 2e-5 to 6e-5 apart, `1e-8` and `1e-9` 3e-7).
const LBFGS: &[&str] = &[
    "--solver",
    "lbfgs",
    "--tol",
    "1e-8",
    "--reg-strength",
    "1e-2",
    "--backend",
    "cpu",
];
/// [`LBFGS`] with the strength as scikit-learn's C, which is converted
/// with the number of training rows (λ = 1/(2·C·n), about 1.2e-2 here):
/// every rank's, not one rank's.
const LBFGS_C: &[&str] = &[
    "--solver",
    "lbfgs",
    "--tol",
    "1e-8",
    "--C",
    "0.05",
    "--backend",
    "cpu",
];
/// Full-batch gradient descent: one step per epoch on the whole gradient.
const FULL_BATCH: &[&str] = &[
    "--batch-size",
    "full",
    "--optimizer",
    "sgd",
    "--lr",
    "0.5",
    "--epochs",
    "200",
    "--reg-strength",
    "1e-3",
    "--backend",
    "cpu",
];
/// Minibatch SGD: Adam on batches of 32.
const ADAM: &[&str] = &[
    "--optimizer",
    "adam",
    "--lr",
    "0.01",
    "--batch-size",
    "32",
    "--epochs",
    "30",
    "--backend",
    "cpu",
];

// ---------------------------------------------------------------- data

/// Five classes around seeded centres, 0.6 apart per feature in units of
/// the unit noise, feature j then scaled by 10^(j mod 3) and shifted by j
/// so that standardization matters. Overlapping: L-BFGS reaches about 89%
/// training accuracy, not 100%.
struct Problem {
    x: Vec<f32>,
    y: Vec<usize>,
}

impl Problem {
    fn new(rows: usize, seed: u64) -> Problem {
        let mut rng = common::rng(seed);
        let centres: Vec<f32> = (0..CLASSES * FEATURES)
            .map(|_| 0.6 * rng.sample::<f32, _>(StandardNormal))
            .collect();
        let mut x = Vec::with_capacity(rows * FEATURES);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let class = rng.random_range(0..CLASSES);
            for j in 0..FEATURES {
                let value = centres[class * FEATURES + j] + rng.sample::<f32, _>(StandardNormal);
                x.push(value * 10f32.powi(j as i32 % 3) + j as f32);
            }
            y.push(class);
        }
        Problem { x, y }
    }

    /// The given rows as CSV: a header `f0,…,f19,label`, class names as
    /// labels in the last column.
    fn write_csv(&self, path: &Path, rows: Range<usize>) {
        let mut text: String = (0..FEATURES).map(|j| format!("f{j},")).collect();
        text.push_str("label\n");
        for i in rows {
            for value in &self.x[i * FEATURES..(i + 1) * FEATURES] {
                text.push_str(&format!("{value},"));
            }
            text.push_str(NAMES[self.y[i]]);
            text.push('\n');
        }
        std::fs::write(path, text).unwrap();
    }

    /// The given rows as an f4 `.npy` of features and an i8 `.npy` of
    /// integer labels.
    fn write_npy(&self, features: &Path, labels: &Path, rows: Range<usize>) {
        let n = rows.len();
        let x = &self.x[rows.start * FEATURES..rows.end * FEATURES];
        std::fs::write(features, npy("<f4", &[n, FEATURES], &f32_bytes(x))).unwrap();
        let y: Vec<i64> = self.y[rows].iter().map(|&c| c as i64).collect();
        std::fs::write(labels, npy("<i8", &[n], &i64_bytes(&y))).unwrap();
    }
}

/// Rank r's share of n rows among k ranks: rows ⌊rn/k⌋ up to ⌊(r+1)n/k⌋.
fn shares(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|r| (r + 1) * n / k - r * n / k).collect()
}

// --------------------------------------------------------------- models

/// A model file's tensors (name → shape, values) and metadata.
struct Model {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: BTreeMap<String, String>,
}

fn read_model(path: &Path) -> Model {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap_or_else(|e| panic!("{} is not a safetensors file: {e:?}", path.display()));
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        assert_eq!(
            view.dtype(),
            safetensors::Dtype::F32,
            "{}: tensor `{name}`",
            path.display()
        );
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap_or_default();
    Model {
        tensors,
        metadata: metadata.into_iter().collect(),
    }
}

/// Every tensor of `actual` within [`RELATIVE`] of the reference's scale,
/// `max_i |a_i − b_i| ≤ 1e-5 · max_i |b_i|` with `b` the reference, and
/// the same metadata (class and feature names in order, loss, regularizer
/// and its λ, which `--C` converts with the global row count).
#[track_caller]
fn assert_models_close(what: &str, actual: &Path, reference: &Path) {
    let a = read_model(actual);
    let b = read_model(reference);
    let names = |m: &Model| m.tensors.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{what}: tensors");
    assert!(b.tensors.contains_key("weight"), "{what}: no weight tensor");
    for (name, (shape, expected)) in &b.tensors {
        let (actual_shape, got) = &a.tensors[name];
        assert_eq!(actual_shape, shape, "{what}: shape of `{name}`");
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (index, diff) = got
            .iter()
            .zip(expected)
            .map(|(g, e)| (g - e).abs())
            .enumerate()
            .fold(
                (0, 0f32),
                |(i, m), (j, d)| {
                    if d > m || d.is_nan() { (j, d) } else { (i, m) }
                },
            );
        assert!(
            diff <= RELATIVE * scale,
            "{what}: tensor `{name}` index {index}: got {}, expected {} (one process): \
             |diff| {diff:e} > {RELATIVE:e} · max|expected| ({scale})",
            got[index],
            expected[index]
        );
    }
    assert_eq!(a.metadata, b.metadata, "{what}: metadata");
}

/// The same tensors, bit for bit, and the same metadata.
#[track_caller]
fn assert_models_identical(what: &str, actual: &Path, reference: &Path) {
    let a = read_model(actual);
    let b = read_model(reference);
    let names = |m: &Model| m.tensors.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{what}: tensors");
    for (name, (shape, expected)) in &b.tensors {
        let (actual_shape, got) = &a.tensors[name];
        assert_eq!(actual_shape, shape, "{what}: shape of `{name}`");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(
                g.to_bits() == e.to_bits(),
                "{what}: tensor `{name}` index {i}: got {g:e}, expected {e:e} (bits {:#010x} against {:#010x})",
                g.to_bits(),
                e.to_bits()
            );
        }
    }
    assert_eq!(a.metadata, b.metadata, "{what}: metadata");
}

/// The JSON's `final` metrics of a distributed run against one process's:
/// losses within 1e-4 relative, accuracies within two rows of the part
/// (`rows` training rows, `val_rows` validation rows), both null or
/// neither.
#[track_caller]
fn assert_final_close(what: &str, actual: &Value, reference: &Value, rows: usize, val_rows: usize) {
    let (a, b) = (&actual["final"], &reference["final"]);
    for (key, rows) in [
        ("train_loss", 0),
        ("train_acc", rows),
        ("val_loss", 0),
        ("val_acc", val_rows),
    ] {
        if b[key].is_null() {
            assert!(
                a[key].is_null(),
                "{what}: final.{key}: {} against null",
                a[key]
            );
            continue;
        }
        let got = number(&a[key], key);
        let expected = number(&b[key], key);
        let tolerance = if rows == 0 {
            1e-4 * expected.abs()
        } else {
            2.0 / rows as f64
        };
        assert!(
            (got - expected).abs() <= tolerance,
            "{what}: final.{key}: got {got}, expected {expected} (one process), tolerance {tolerance}"
        );
    }
}

// ------------------------------------------------------------ processes

static TURNS: Mutex<()> = Mutex::new(());

/// The lock the tests take turns with (a failed test does not poison it
/// for the others).
fn turn() -> MutexGuard<'static, ()> {
    TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Open MPI's `mpirun`, held with the test's turn.
struct Mpi {
    _turn: MutexGuard<'static, ()>,
}

/// What one `mpirun` did, and how long it took.
struct Job {
    run: Run,
    elapsed: Duration,
    command: String,
}

impl Job {
    fn describe(&self) -> String {
        format!(
            "{}\n(after {:.1} s) {}",
            self.command,
            self.elapsed.as_secs_f64(),
            self.run.describe()
        )
    }
}

/// `mpirun`, or None outside CI when it cannot be run; under `CI=true`
/// a missing `mpirun` fails the test.
fn mpi() -> Option<Mpi> {
    let turn = turn();
    let why = match Command::new("mpirun").arg("--version").output() {
        Ok(output) if output.status.success() => return Some(Mpi { _turn: turn }),
        Ok(output) => format!(
            "`mpirun --version` exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => format!("`mpirun` cannot be run ({e})"),
    };
    assert!(
        !in_ci(),
        "CI=true but {why}; install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev, as .ci/run does)"
    );
    eprintln!(
        "NOT RUN: {why}; install Open MPI (Debian: openmpi-bin libopenmpi-dev) to run the distributed tests"
    );
    None
}

fn lintrain_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lintrain")
}

impl Mpi {
    /// `mpirun` with the options every job takes; `global` go before the
    /// application contexts.
    fn command(&self, global: &[&str]) -> Command {
        let mut command = Command::new("mpirun");
        command
            .args([
                "--allow-run-as-root",
                "--oversubscribe",
                "--bind-to",
                "none",
                "--timeout",
                MPIRUN_TIMEOUT,
            ])
            .args(global)
            .env_remove("RUST_BACKTRACE");
        command
    }

    fn job(&self, mut command: Command) -> Job {
        let line = format!(
            "{} {}",
            command.get_program().to_string_lossy(),
            command
                .get_args()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let start = Instant::now();
        let output = command.output().expect("mpirun runs");
        Job {
            run: Run {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            },
            elapsed: start.elapsed(),
            command: line,
        }
    }

    /// `mpirun -n RANKS lintrain train --distributed ARGS`.
    fn train(&self, ranks: usize, args: &[&str]) -> Job {
        let mut command = self.command(&[]);
        command
            .args([
                "-n",
                &ranks.to_string(),
                lintrain_bin(),
                "train",
                "--distributed",
            ])
            .args(args);
        self.job(command)
    }

    /// Open MPI's MPMD form: one rank per entry of `ranks`, rank r running
    /// `lintrain train --distributed ranks[r].args` in the working
    /// directory `ranks[r].wdir` when it is given.
    fn per_rank(&self, global: &[&str], ranks: &[RankContext<'_>]) -> Command {
        let mut command = self.command(global);
        for (i, rank) in ranks.iter().enumerate() {
            if i > 0 {
                command.arg(":");
            }
            command.args(["-n", "1"]);
            if let Some(wdir) = rank.wdir {
                command.args(["-wdir", s(wdir)]);
            }
            command
                .args([lintrain_bin(), "train", "--distributed"])
                .args(&rank.args);
        }
        command
    }

    /// [`Mpi::train`], which must succeed.
    #[track_caller]
    fn succeed(&self, ranks: usize, args: &[&str]) -> Run {
        let job = self.train(ranks, args);
        assert!(job.run.ok(), "{}", job.describe());
        job.run
    }
}

/// One rank of [`Mpi::per_rank`]: its working directory and its flags.
struct RankContext<'a> {
    wdir: Option<&'a Path>,
    args: Vec<&'a str>,
}

/// `["train", base…, more…]` for the one-process run.
fn train_args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    std::iter::once("train")
        .chain(base.iter().copied())
        .chain(more.iter().copied())
        .collect()
}

/// `base…, more…` for the distributed run (`train --distributed` is added).
fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

/// Rank 0's `distributed: K ranks …` line, which must be the only one.
#[track_caller]
fn distributed_line(run: &Run, ranks: usize) -> String {
    let prefix = format!("distributed: {ranks} ranks");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("distributed:"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one `distributed:` line (rank 0's) expected: {}",
        run.describe()
    );
    assert!(
        lines[0].trim_start().starts_with(&prefix),
        "the line does not start with {prefix:?}: {}",
        lines[0]
    );
    lines[0].trim_start().to_string()
}

/// The line lists the training rows of each rank in rank order: the
/// integers after `distributed: K ranks` hold `expected` as a subsequence
/// (so `…: 333, 334, 334` and `rank 0: 333 rows, rank 1: 334 …` both read
/// as [333, 334, 334], and `334, 334, 333` does not).
#[track_caller]
fn assert_lists_shares(run: &Run, ranks: usize, expected: &[usize]) {
    let line = distributed_line(run, ranks);
    let rest = &line[format!("distributed: {ranks} ranks").len()..];
    let numbers: Vec<usize> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect();
    let mut wanted = expected.iter().peekable();
    for n in &numbers {
        if wanted.peek() == Some(&n) {
            wanted.next();
        }
    }
    assert!(
        wanted.peek().is_none(),
        "the `distributed:` line should list the training rows per rank {expected:?} in rank order; \
         its numbers are {numbers:?}: {line}"
    );
}

/// The job failed quickly, and one of the `failing` ranks of `ranks`
/// printed `lintrain: rank R of K: error: MESSAGE`, MESSAGE being the
/// one-process run's error (without its `lintrain: error: `); no line
/// lacks the rank, and nothing panicked.
#[track_caller]
fn assert_rank_failed(job: &Job, ranks: usize, failing: &[usize], message: &str) {
    assert!(!job.run.ok(), "the job should fail: {}", job.describe());
    assert!(
        job.elapsed < FAILS_WITHIN,
        "the failing job took {:.1} s (a hang ended by mpirun --timeout {MPIRUN_TIMEOUT}?): {}",
        job.elapsed.as_secs_f64(),
        job.describe()
    );
    let expected: Vec<String> = failing
        .iter()
        .map(|r| format!("lintrain: rank {r} of {ranks}: error: {message}"))
        .collect();
    assert!(
        job.run
            .stderr
            .lines()
            .any(|l| expected.iter().any(|e| l.trim_end() == e)),
        "stderr lacks the line {}: {}",
        expected.join(" or "),
        job.describe()
    );
    for forbidden in ["panicked", "RUST_BACKTRACE", "lintrain: error:"] {
        assert!(
            !job.run.stderr.contains(forbidden),
            "stderr has {forbidden:?}: {}",
            job.describe()
        );
    }
}

/// The message of the one-process run's `lintrain: error: …` line.
#[track_caller]
fn one_process_error(args: &[&str], fragment: &str) -> String {
    let run = fail_with(args, &[fragment]);
    run.stderr
        .trim()
        .strip_prefix("lintrain: error: ")
        .unwrap()
        .to_string()
}

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------- tests

/// L-BFGS on 2 and 3 ranks of one CSV file is the one-process model, and
/// with `--val-fraction 0.2` too: the split is the one-process run's rows.
/// Rank 0's JSON reports the global metrics.
#[test]
fn lbfgs_on_two_and_three_ranks_is_the_one_process_model() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 1).write_csv(&data, 0..ROWS);
    for val in ["0", "0.2"] {
        let reference = dir.path().join(format!("one-{val}.safetensors"));
        let one = json(&succeed(&train_args(
            LBFGS,
            &[
                "--data",
                s(&data),
                "--val-fraction",
                val,
                "--save",
                s(&reference),
                "--json",
            ],
        )));
        let val_rows = (ROWS as f64 * val.parse::<f64>().unwrap()) as usize;
        for ranks in [2, 3] {
            let model = dir.path().join(format!("{ranks}-{val}.safetensors"));
            let run = mpi.succeed(
                ranks,
                &args(
                    LBFGS,
                    &[
                        "--data",
                        s(&data),
                        "--val-fraction",
                        val,
                        "--save",
                        s(&model),
                        "--json",
                    ],
                ),
            );
            let what = format!("L-BFGS on {ranks} ranks, --val-fraction {val}");
            assert_models_close(&what, &model, &reference);
            assert_final_close(&what, &json(&run), &one, ROWS - val_rows, val_rows);
        }
    }
}

/// The same from `.npy` features and an `.npy` of integer labels
/// (`--labels`), on 3 ranks with a validation split, the strength given as
/// `--C`.
#[test]
fn lbfgs_on_npy_features_and_labels_is_the_one_process_model() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    Problem::new(ROWS, 2).write_npy(&x, &y, 0..ROWS);
    let data = ["--data", s(&x), "--labels", s(&y), "--val-fraction", "0.2"];
    let reference = dir.path().join("one.safetensors");
    succeed(&train_args(
        LBFGS_C,
        &args(&data, &["--save", s(&reference)]),
    ));
    let model = dir.path().join("three.safetensors");
    mpi.succeed(3, &args(LBFGS_C, &args(&data, &["--save", s(&model)])));
    assert_models_close("L-BFGS with --C on 3 ranks from .npy", &model, &reference);
}

/// Full-batch gradient descent (`--batch-size full`) on 2 and 3 ranks is
/// the one-process model: from a CSV file with a validation split, and
/// from `.npy` features and labels on 2 ranks.
#[test]
fn full_batch_descent_on_two_and_three_ranks_is_the_one_process_model() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let problem = Problem::new(ROWS, 3);
    let csv = dir.path().join("data.csv");
    problem.write_csv(&csv, 0..ROWS);
    let csv_args = ["--data", s(&csv), "--val-fraction", "0.2"];
    let reference = dir.path().join("one.safetensors");
    let one = json(&succeed(&train_args(
        FULL_BATCH,
        &args(&csv_args, &["--save", s(&reference), "--json"]),
    )));
    for ranks in [2, 3] {
        let model = dir.path().join(format!("{ranks}.safetensors"));
        let run = mpi.succeed(
            ranks,
            &args(
                FULL_BATCH,
                &args(&csv_args, &["--save", s(&model), "--json"]),
            ),
        );
        let what = format!("full-batch descent on {ranks} ranks");
        assert_models_close(&what, &model, &reference);
        let (report, reference_report) = (json(&run), &one);
        assert_eq!(
            report["history"].as_array().map(Vec::len),
            Some(200),
            "{what}: one record per epoch"
        );
        assert_final_close(&what, &report, reference_report, ROWS - 200, 200);
    }

    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    problem.write_npy(&x, &y, 0..ROWS);
    let npy_args = ["--data", s(&x), "--labels", s(&y)];
    let reference = dir.path().join("one-npy.safetensors");
    succeed(&train_args(
        FULL_BATCH,
        &args(&npy_args, &["--save", s(&reference)]),
    ));
    let model = dir.path().join("two-npy.safetensors");
    mpi.succeed(
        2,
        &args(FULL_BATCH, &args(&npy_args, &["--save", s(&model)])),
    );
    assert_models_close(
        "full-batch descent on 2 ranks from .npy",
        &model,
        &reference,
    );
}

/// `train --distributed` without `mpirun` is a world of one rank: the
/// plain run's model bit for bit, and the same history and final metrics
/// (all but the timings), for L-BFGS, full-batch descent and minibatch Adam,
/// each with a validation split.
#[test]
fn one_rank_without_mpirun_is_the_plain_run_bit_for_bit() {
    let _turn = turn();
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 4).write_csv(&data, 0..ROWS);
    for (name, solver) in [("lbfgs", LBFGS), ("full-batch", FULL_BATCH), ("adam", ADAM)] {
        let mut reports = Vec::new();
        for distributed in [false, true] {
            let model = dir.path().join(format!("{name}-{distributed}.safetensors"));
            let mut run_args = train_args(
                solver,
                &[
                    "--data",
                    s(&data),
                    "--val-fraction",
                    "0.2",
                    "--save",
                    s(&model),
                    "--json",
                ],
            );
            if distributed {
                run_args.insert(1, "--distributed");
            }
            let mut report = json(&succeed(&run_args));
            report.as_object_mut().unwrap().remove("seconds");
            for record in report["history"].as_array_mut().unwrap() {
                record.as_object_mut().unwrap().remove("seconds");
            }
            reports.push((model, report));
        }
        let what = format!("{name}: --distributed on one rank");
        assert_models_identical(&what, &reports[1].0, &reports[0].0);
        assert_eq!(
            reports[1].1, reports[0].1,
            "{what}: the JSON report (without timings)"
        );
    }
}

/// Minibatch Adam (batch 32 per rank) on 2 ranks reaches the one-process
/// run's training accuracy within 0.02 (20 of 1001 rows; on this data one
/// process reaches 0.925–0.927 with batches of 32 and 0.921–0.922 with
/// batches of 64, over `--seed` 0–3; the optimum, by L-BFGS, 0.930), and
/// the accuracy rank 0 reports is the model's on every row (`lintrain
/// eval` of the saved model on the whole file, within 2 rows).
#[test]
fn adam_on_two_ranks_reaches_the_one_process_accuracy() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 5).write_csv(&data, 0..ROWS);
    let one = json(&succeed(&train_args(ADAM, &["--data", s(&data), "--json"])));
    let model = dir.path().join("two.safetensors");
    let two = json(&mpi.succeed(
        2,
        &args(ADAM, &["--data", s(&data), "--save", s(&model), "--json"]),
    ));
    let accuracy = |report: &Value| number(&report["final"]["train_acc"], "final.train_acc");
    let (one_acc, two_acc) = (accuracy(&one), accuracy(&two));
    assert!(
        one_acc > 0.85,
        "the one-process run should learn this data: accuracy {one_acc}"
    );
    assert!(
        (two_acc - one_acc).abs() <= 0.02,
        "Adam on 2 ranks: training accuracy {two_acc}, one process {one_acc} (margin 0.02)"
    );
    let eval = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
    ]));
    let eval_acc = number(&eval["accuracy"], "accuracy");
    assert!(
        (eval_acc - two_acc).abs() <= 2.0 / ROWS as f64,
        "rank 0 reported training accuracy {two_acc}, but the saved model scores {eval_acc} on every row"
    );
}

/// N = 1001 rows of one file: 2 ranks hold 500 and 501 rows, 3 ranks 333,
/// 334 and 334 (⌊rN/K⌋ boundaries), as rank 0's `distributed:` line says;
/// stdout holds one summary, not one per rank.
#[test]
fn shares_of_one_file_are_uneven_when_n_is_not_divisible_by_k() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 6).write_csv(&data, 0..ROWS);
    assert_eq!(shares(ROWS, 2), [500, 501]);
    assert_eq!(shares(ROWS, 3), [333, 334, 334]);
    for ranks in [2, 3] {
        let run = mpi.succeed(
            ranks,
            &["--data", s(&data), "--epochs", "1", "--backend", "cpu"],
        );
        assert_lists_shares(&run, ranks, &shares(ROWS, ranks));
        let summaries = run.stdout.matches("final training accuracy").count();
        assert_eq!(summaries, 1, "one summary on stdout: {}", run.describe());
    }
}

/// `{rank}` in `--data` (and `--labels`): each rank reads its own file,
/// here of different lengths (CSV: 300, 450, 251 rows on 3 ranks; `.npy`
/// with labels: 400 and 601 rows on 2), the `distributed:` line lists
/// them, and L-BFGS gives the one-process model of their concatenation.
#[test]
fn rank_files_of_different_lengths_train_as_their_concatenation() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let problem = Problem::new(ROWS, 7);
    let whole = dir.path().join("whole.csv");
    problem.write_csv(&whole, 0..ROWS);

    let lengths = [300, 450, 251];
    let mut start = 0;
    for (rank, length) in lengths.iter().enumerate() {
        let part = dir.path().join(format!("part{rank}.csv"));
        problem.write_csv(&part, start..start + length);
        start += length;
    }
    assert_eq!(start, ROWS);
    let pattern = dir.path().join("part{rank}.csv");
    let reference = dir.path().join("one.safetensors");
    succeed(&train_args(
        LBFGS,
        &["--data", s(&whole), "--save", s(&reference), "--quiet"],
    ));
    let model = dir.path().join("three.safetensors");
    let run = mpi.succeed(
        3,
        &args(LBFGS, &["--data", s(&pattern), "--save", s(&model)]),
    );
    assert_lists_shares(&run, 3, &lengths);
    assert_models_close("L-BFGS on 3 {rank} CSV files", &model, &reference);

    let lengths = [400, 601];
    let mut start = 0;
    for (rank, length) in lengths.iter().enumerate() {
        problem.write_npy(
            &dir.path().join(format!("x{rank}.npy")),
            &dir.path().join(format!("y{rank}.npy")),
            start..start + length,
        );
        start += length;
    }
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    problem.write_npy(&x, &y, 0..ROWS);
    let reference = dir.path().join("one-npy.safetensors");
    succeed(&train_args(
        LBFGS,
        &[
            "--data",
            s(&x),
            "--labels",
            s(&y),
            "--save",
            s(&reference),
            "--quiet",
        ],
    ));
    let (x_pattern, y_pattern) = (
        dir.path().join("x{rank}.npy"),
        dir.path().join("y{rank}.npy"),
    );
    let model = dir.path().join("two-npy.safetensors");
    let run = mpi.succeed(
        2,
        &args(
            LBFGS,
            &[
                "--data",
                s(&x_pattern),
                "--labels",
                s(&y_pattern),
                "--save",
                s(&model),
            ],
        ),
    );
    assert_lists_shares(&run, 2, &lengths);
    assert_models_close("L-BFGS on 2 {rank} .npy files", &model, &reference);
}

/// Per-rank files where only rank 1's is bad: a NaN, an empty label, or
/// (`.npy`) a labels file one label short. The job ends well within the
/// timeout with a non-zero exit and rank 1's line `lintrain: rank 1 of 2:
/// error: …`, the message being the one a single process gives for that
/// file; rank 0, whose file is fine, reports no error.
#[test]
fn a_rank_that_fails_on_its_own_file_ends_the_job_with_its_message() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let problem = Problem::new(ROWS, 8);
    let good = dir.path().join("good0.csv");
    problem.write_csv(&good, 0..500);

    // Rank 1's CSV: line 7 (the 6th row), column 4 (f3) is "nan".
    let nan = dir.path().join("nan1.csv");
    problem.write_csv(&nan, 500..ROWS);
    let text = std::fs::read_to_string(&nan).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[6].split(',').collect();
    fields[3] = "nan";
    lines[6] = fields.join(",");
    std::fs::write(&nan, lines.join("\n") + "\n").unwrap();
    std::fs::copy(&good, dir.path().join("nan0.csv")).unwrap();

    // Rank 1's CSV: line 9 has an empty label.
    let unlabelled = dir.path().join("unlabelled1.csv");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let cut = lines[8].rfind(',').unwrap();
    lines[8].truncate(cut + 1);
    std::fs::write(&unlabelled, lines.join("\n") + "\n").unwrap();
    std::fs::copy(&good, dir.path().join("unlabelled0.csv")).unwrap();

    // Rank 1's .npy: 501 rows of features, 500 labels.
    let (x0, y0) = (dir.path().join("x0.npy"), dir.path().join("y0.npy"));
    let (x1, y1) = (dir.path().join("x1.npy"), dir.path().join("y1.npy"));
    problem.write_npy(&x0, &y0, 0..500);
    problem.write_npy(&x1, &y1, 500..ROWS);
    let short = dir.path().join("short.npy");
    problem.write_npy(&dir.path().join("unused.npy"), &short, 500..ROWS - 1);
    std::fs::rename(&short, &y1).unwrap();

    let cases: [(&str, Vec<&str>, Vec<String>, &str); 3] = [
        (
            "a NaN",
            vec![s(&nan)],
            vec![dir.path().join("nan{rank}.csv").display().to_string()],
            "non-finite value",
        ),
        (
            "an empty label",
            vec![s(&unlabelled)],
            vec![
                dir.path()
                    .join("unlabelled{rank}.csv")
                    .display()
                    .to_string(),
            ],
            "empty label",
        ),
        (
            "a labels file one label short",
            vec![s(&x1), "--labels", s(&y1)],
            vec![
                dir.path().join("x{rank}.npy").display().to_string(),
                "--labels".to_string(),
                dir.path().join("y{rank}.npy").display().to_string(),
            ],
            "500 labels",
        ),
    ];
    for (what, rank1_data, pattern, fragment) in &cases {
        let mut single = vec!["train", "--backend", "cpu", "--data"];
        single.extend(rank1_data);
        let message = one_process_error(&single, fragment);
        let mut distributed = vec!["--backend", "cpu", "--quiet", "--data"];
        distributed.extend(pattern.iter().map(String::as_str));
        let job = mpi.train(2, &distributed);
        assert_rank_failed(&job, 2, &[1], &message);
        assert!(
            !job.run.stderr.contains("rank 0 of 2: error"),
            "{what}: rank 0's file is fine: {}",
            job.describe()
        );
    }
}

/// One shared CSV file with a NaN in rank 1's share (row 800 of 1001,
/// line 802) ends the job the same way, with the message a single process
/// gives (the file's line and column), from whichever rank reads the row.
#[test]
fn a_bad_row_in_a_shared_file_ends_the_job_with_its_message() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 9).write_csv(&data, 0..ROWS);
    let text = std::fs::read_to_string(&data).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[801].split(',').collect();
    fields[2] = "NaN";
    lines[801] = fields.join(",");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();

    let message = one_process_error(
        &["train", "--backend", "cpu", "--data", s(&data)],
        "line 802, column 3",
    );
    let job = mpi.train(2, &["--backend", "cpu", "--quiet", "--data", s(&data)]);
    assert_rank_failed(&job, 2, &[0, 1], &message);
}

/// Open MPI's MPMD form runs rank 0 and rank 1 in different working
/// directories with the same relative outputs (`--save`, `--plot`,
/// `--save-checkpoint`) and `--json`: rank 0's directory has every output,
/// rank 1's stays empty, and stdout holds one JSON document. Per-rank
/// output files (`mpirun --output-filename`) show that rank 1 printed
/// nothing at all and rank 0 printed the log and the JSON.
#[test]
fn only_rank_zero_writes_and_prints() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 10).write_csv(&data, 0..ROWS);
    let (dir0, dir1, streams) = (
        dir.path().join("rank0"),
        dir.path().join("rank1"),
        dir.path().join("streams"),
    );
    std::fs::create_dir(&dir0).unwrap();
    std::fs::create_dir(&dir1).unwrap();
    let train = [
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--backend",
        "cpu",
        "--data",
        s(&data),
        "--epochs",
        "3",
        "--val-fraction",
        "0.2",
        "--save",
        "model.safetensors",
        "--plot",
        "curves.svg",
        "--save-checkpoint",
        "checkpoint.safetensors",
        "--json",
    ];
    let contexts: Vec<RankContext<'_>> = [&dir0, &dir1]
        .into_iter()
        .map(|wdir| RankContext {
            wdir: Some(wdir),
            args: train.to_vec(),
        })
        .collect();
    let job = mpi.job(mpi.per_rank(&["--output-filename", s(&streams)], &contexts));
    assert!(job.run.ok(), "{}", job.describe());

    let listing = |d: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        listing(&dir0),
        ["checkpoint.safetensors", "curves.svg", "model.safetensors"],
        "rank 0's directory: {}",
        job.describe()
    );
    assert!(
        listing(&dir1).is_empty(),
        "rank 1 wrote {:?}: {}",
        listing(&dir1),
        job.describe()
    );
    read_model(&dir0.join("model.safetensors"));
    let report = json(&job.run);
    assert_eq!(
        report["history"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    distributed_line(&job.run, 2);

    let stream = |rank: usize, name: &str| -> Option<String> {
        find_stream(&streams, rank, name).map(|p| std::fs::read_to_string(p).unwrap())
    };
    let rank0_stdout = stream(0, "stdout").unwrap_or_else(|| {
        panic!(
            "no rank.0/stdout under mpirun --output-filename {}: {:?}",
            streams.display(),
            walk(&streams)
        )
    });
    assert_eq!(
        serde_json::from_str::<Value>(rank0_stdout.trim())
            .ok()
            .as_ref(),
        Some(&report),
        "rank 0's stdout is the JSON: {rank0_stdout}"
    );
    for name in ["stdout", "stderr"] {
        let printed = stream(1, name).unwrap_or_default();
        assert!(
            printed.is_empty(),
            "rank 1 printed on {name}: {printed}\n{}",
            job.describe()
        );
    }
}

/// Every file under `root`.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// `mpirun --output-filename ROOT` writes rank r's streams to
/// `ROOT/<job>/rank.<r>/{stdout,stderr}` (Open MPI 4).
fn find_stream(root: &Path, rank: usize, name: &str) -> Option<PathBuf> {
    let dir = format!("rank.{rank}");
    walk(root).into_iter().find(|p| {
        p.file_name().is_some_and(|f| f == name)
            && p.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d.to_string_lossy() == dir)
    })
}

/// Failures every rank meets alike (a flag, a divergence) are reported
/// once, by rank 0, in the one-process form, and end every rank without
/// `MPI_Abort`; a divergence still leaves rank 0's last finite model
/// (written while the others wait for it, not killed mid-write).
#[test]
fn failures_every_rank_meets_are_reported_once_by_rank_zero() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 21).write_csv(&data, 0..ROWS);
    let once = |job: &Job, message: &str| {
        assert!(!job.run.ok(), "the job should fail: {}", job.describe());
        let lines: Vec<&str> = job
            .run
            .stderr
            .lines()
            .filter(|l| l.contains("error:"))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one error line expected: {}",
            job.describe()
        );
        assert!(
            lines[0].starts_with("lintrain: error: ") && lines[0].contains(message),
            "{message:?} in the one-process form expected: {}",
            job.describe()
        );
        assert!(
            !job.run.stderr.contains("MPI_ABORT"),
            "the ranks aborted: {}",
            job.describe()
        );
    };
    let job = mpi.train(
        3,
        &[
            "--backend",
            "cpu",
            "--data",
            s(&data),
            "--early-stopping",
            "2",
        ],
    );
    once(&job, "--early-stopping needs a validation set");

    let model = dir.path().join("model.safetensors");
    let last = dir.path().join("model.last-finite.safetensors");
    for attempt in 0..3 {
        let _ = std::fs::remove_file(&last);
        let job = mpi.train(
            2,
            &[
                "--backend",
                "cpu",
                "--data",
                s(&data),
                "--no-standardize",
                "--lr",
                "1e30",
                "--epochs",
                "3",
                "--save",
                s(&model),
            ],
        );
        once(&job, "training diverged");
        assert!(
            last.exists(),
            "attempt {attempt}: no {}: {}",
            last.display(),
            job.describe()
        );
        read_model(&last);
        assert!(!model.exists(), "a diverged run saved {}", model.display());
    }
}

/// `{rank}` files whose columns differ (names or order), or whose labels
/// one rank reads as integers and another as text, cannot train one
/// model: the job ends with a message naming both ranks' readings.
#[test]
fn rank_files_that_disagree_are_refused() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let header: String = (0..3).map(|j| format!("f{j},")).collect::<String>() + "label\n";
    let swapped = "f1,f0,f2,label\n";
    let rows = |labels: [&str; 4]| -> String {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{i}.5,{}.25,-{i},{l}\n", 3 - i))
            .collect()
    };
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write("cols_0.csv", header.clone() + &rows(["a", "b", "a", "b"]));
    write(
        "cols_1.csv",
        swapped.to_string() + &rows(["b", "a", "b", "a"]),
    );
    write("kind_0.csv", header.clone() + &rows(["1", "2", "1", "2"]));
    write("kind_1.csv", header.clone() + &rows(["1", "x", "1", "x"]));
    for (pattern, fragments) in [
        (
            "cols_{rank}.csv",
            [
                "the ranks' columns differ",
                "\"f0\" on rank 0 and \"f1\" on rank 1",
            ],
        ),
        (
            "kind_{rank}.csv",
            [
                "the ranks' labels differ in kind",
                "rank 0's are integers and rank 1's are text",
            ],
        ),
    ] {
        let path = dir.path().join(pattern);
        let job = mpi.train(2, &["--backend", "cpu", "--data", s(&path)]);
        assert!(
            !job.run.ok(),
            "{pattern}: the job should fail: {}",
            job.describe()
        );
        for fragment in fragments {
            assert!(
                job.run.stderr.contains(fragment),
                "{pattern}: {fragment:?}: {}",
                job.describe()
            );
        }
    }
}

/// Only rank 0 checks that the outputs can be written: on a cluster the
/// output directory need exist on rank 0's machine only (here, each rank's
/// working directory stands for its machine).
#[test]
fn only_rank_zero_needs_the_output_directory() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 22).write_csv(&data, 0..ROWS);
    let (dir0, dir1) = (dir.path().join("host0"), dir.path().join("host1"));
    std::fs::create_dir_all(dir0.join("out")).unwrap();
    std::fs::create_dir(&dir1).unwrap();
    let contexts: Vec<RankContext<'_>> = [&dir0, &dir1]
        .into_iter()
        .map(|wdir| RankContext {
            wdir: Some(wdir),
            args: vec![
                "--backend",
                "cpu",
                "--data",
                s(&data),
                "--epochs",
                "2",
                "--save",
                "out/model.safetensors",
                "--save-checkpoint",
                "out/ck.safetensors",
            ],
        })
        .collect();
    let job = mpi.job(mpi.per_rank(&[], &contexts));
    assert!(job.run.ok(), "{}", job.describe());
    read_model(&dir0.join("out/model.safetensors"));
    assert!(
        std::fs::read_dir(&dir1).unwrap().next().is_none(),
        "rank 1 created something in its directory: {}",
        job.describe()
    );
}

/// Ranks on different kinds of backend (one on the CPU, one on a GPU: here
/// lavapipe) would compute the minibatch update differently: refused.
#[test]
fn ranks_on_different_backends_are_refused() {
    let Some(mpi) = mpi() else { return };
    let dir = tempdir();
    let data = dir.path().join("data.csv");
    Problem::new(ROWS, 23).write_csv(&data, 0..ROWS);
    let contexts: Vec<RankContext<'_>> = ["cpu", "software"]
        .into_iter()
        .map(|backend| RankContext {
            wdir: None,
            args: vec!["--backend", backend, "--data", s(&data), "--epochs", "1"],
        })
        .collect();
    let job = mpi.job(mpi.per_rank(&[], &contexts));
    assert!(!job.run.ok(), "the job should fail: {}", job.describe());
    assert!(
        job.run.stderr.contains(
            "lintrain: error: distributed run: rank 0 trains on the CPU and rank 1 on a GPU: give every rank the same --backend"
        ),
        "{}",
        job.describe()
    );
}
