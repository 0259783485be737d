//! `lintrain train --solver lbfgs` end to end: the JSON history has one
//! record per iteration and `final` says whether it converged, a run that
//! does not converge warns like scikit-learn's ConvergenceWarning, progress
//! shows the iteration's objective, ‖g‖∞ and step, and `--C` means
//! scikit-learn's C for a two-class softmax as for the logistic loss.

mod common;

use common::cli::{json, number, s, succeed};
use std::path::Path;

#[test]
fn lbfgs_json_has_one_record_per_iteration_and_a_converged_final() {
    let run = succeed(&["train", "--solver", "lbfgs", "--backend", "cpu", "--json"]);
    let report = json(&run);
    let history = report["history"].as_array().expect("history");
    assert!(!history.is_empty(), "{}", run.stdout);
    for (i, record) in history.iter().enumerate() {
        assert_eq!(record["epoch"], i + 1, "record {i}: {record}");
        assert!(number(&record["lr"], "lr") > 0.0, "record {i}: {record}");
    }
    let last = &report["final"];
    assert_eq!(last["converged"], true, "{last}");
    assert_eq!(last["iterations"], history.len());
    let objective = number(&last["objective"], "objective");
    let last_loss = number(&history.last().unwrap()["train_loss"], "train_loss");
    assert!(
        (objective - last_loss).abs() <= 1e-9 * objective.abs().max(1.0),
        "final objective {objective} vs the last record's {last_loss}"
    );
}

#[test]
fn lbfgs_that_does_not_converge_warns_in_one_line_even_when_quiet() {
    let run = succeed(&[
        "train",
        "--solver",
        "lbfgs",
        "--max-iter",
        "2",
        "--tol",
        "0",
        "--quiet",
        "--backend",
        "cpu",
    ]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.describe());
    assert!(
        lines[0].starts_with("lintrain: warning: L-BFGS did not converge in 2 iterations"),
        "{}",
        lines[0]
    );
}

#[test]
fn lbfgs_progress_shows_objective_gradient_and_step() {
    let run = succeed(&["train", "--solver", "lbfgs", "--backend", "cpu"]);
    let progress: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("iteration"))
        .collect();
    assert!(!progress.is_empty(), "{}", run.describe());
    for line in progress {
        assert!(
            line.contains("‖g‖∞") && line.contains("step"),
            "progress line: {line}"
        );
    }
}

/// Iris without setosa: versicolor against virginica, which overlap.
fn two_class_iris(dir: &Path) -> std::path::PathBuf {
    let iris =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/data/iris.csv")).unwrap();
    let kept: Vec<&str> = iris
        .lines()
        .enumerate()
        .filter(|(i, line)| *i == 0 || !line.ends_with("setosa"))
        .map(|(_, line)| line)
        .collect();
    let path = dir.join("two_class.csv");
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    path
}

fn probabilities(csv: &str) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .flat_map(|line| line.split(',').map(|v| v.parse::<f64>().unwrap()))
        .collect()
}

/// scikit-learn fits one weight vector on two classes; a two-column softmax
/// splits it in two, so `--C` doubles its L2 part and both losses reach the
/// same probabilities.
#[test]
fn c_on_two_classes_gives_softmax_and_logistic_the_same_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let data = two_class_iris(dir.path());
    let mut predictions = Vec::new();
    for loss in ["softmax", "logistic"] {
        let model = dir.path().join(format!("{loss}.safetensors"));
        succeed(&[
            "train",
            "--data",
            s(&data),
            "--loss",
            loss,
            "--solver",
            "lbfgs",
            "--C",
            "0.5",
            "--tol",
            "1e-6",
            "--backend",
            "cpu",
            "--quiet",
            "--save",
            s(&model),
        ]);
        let run = succeed(&[
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--proba",
        ]);
        predictions.push(probabilities(&run.stdout));
    }
    assert_eq!(predictions[0].len(), predictions[1].len());
    assert_eq!(predictions[0].len(), 200);
    let worst = predictions[0]
        .iter()
        .zip(&predictions[1])
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst < 2e-3,
        "softmax and logistic probabilities differ by {worst}"
    );
}

/// A run stores at most min(m, iterations) correction pairs: a huge
/// `--history-size` is not allocated up front (it aborted the process).
#[test]
fn a_huge_history_size_is_not_allocated_up_front() {
    succeed(&[
        "train",
        "--solver",
        "lbfgs",
        "--history-size",
        "1000000000",
        "--backend",
        "cpu",
        "--quiet",
    ]);
}

/// The lbfgs case reads DIR/x.npy and DIR/y.npy: `--json` may not replace
/// them (it did, with the JSON records).
#[test]
fn bench_json_never_replaces_the_lbfgs_data() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    std::fs::write(&x, b"not really an array").unwrap();
    std::fs::write(dir.path().join("y.npy"), b"nor this").unwrap();
    common::cli::fail_with(
        &[
            "bench",
            "--cases",
            "lbfgs",
            "--quick",
            "--backend",
            "cpu",
            "--lbfgs-data",
            s(dir.path()),
            "--json",
            s(&x),
        ],
        &["--json", "is the same file as --lbfgs-data"],
    );
    assert_eq!(std::fs::read(&x).unwrap(), b"not really an array");
}

/// L-BFGS shrinks steps whose objective is not finite, so it can only fail
/// where it starts; the message says that, without SGD's advice.
#[test]
fn lbfgs_that_cannot_start_says_so_in_its_own_terms() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("huge.csv");
    let rows: String = (0..20)
        .map(|i| format!("{}e37,{}e37,{}\n", 1 + i % 7, 3 + i % 5, i % 2))
        .collect();
    std::fs::write(&data, format!("a,b,label\n{rows}")).unwrap();
    let run = common::cli::fail_with(
        &[
            "train",
            "--data",
            s(&data),
            "--solver",
            "lbfgs",
            "--loss",
            "mse",
            "--no-standardize",
            "--backend",
            "cpu",
        ],
        &["L-BFGS cannot start", "no model was saved"],
    );
    assert!(!run.stderr.contains("--lr"), "{}", run.stderr);
}

/// With `--tol`, the JSON's `final` says whether its rule ended the run.
#[test]
fn sgd_tol_json_says_the_rule_stopped_the_run() {
    let run = succeed(&[
        "train",
        "--backend",
        "cpu",
        "--tol",
        "0",
        "--n-iter-no-change",
        "1",
        "--epochs",
        "1000",
        "--json",
    ]);
    let report = json(&run);
    assert_eq!(
        report["final"]["stopped_by_tolerance"], true,
        "{}",
        report["final"]
    );
    assert!(report["history"].as_array().unwrap().len() < 1000);
    let plain = json(&succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "2",
        "--json",
    ]));
    assert!(plain["final"].get("stopped_by_tolerance").is_none());
}
