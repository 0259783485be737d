//! The `lintrain` binary end to end: every command, its output formats, the
//! train → save → eval/predict round trip, and one-line errors for bad input.

mod common;

use common::cli::*;
use common::in_ci;
use lintrain::data::{LoadOptions, load_table};
use lintrain::model_file::SavedModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

const CLASSES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Three seeded Gaussian blobs in 4 features with string labels, as CSV
/// with a header; returns the labels written.
fn write_blobs(path: &Path, rows: usize, seed: u64, with_labels: bool) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from(if with_labels {
        "f0,f1,f2,f3,kind\n"
    } else {
        "f0,f1,f2,f3\n"
    });
    let mut labels = Vec::new();
    for i in 0..rows {
        let class = i % 3;
        let centre = [class as f32 * 2.0, -(class as f32), 1.0, 0.5 * class as f32];
        let values: Vec<String> = centre
            .iter()
            .map(|c| format!("{:.4}", c + rng.random_range(-1.2f32..1.2)))
            .collect();
        text.push_str(&values.join(","));
        if with_labels {
            text.push(',');
            text.push_str(CLASSES[class]);
        }
        text.push('\n');
        labels.push(CLASSES[class].to_string());
    }
    std::fs::write(path, text).expect("write the CSV");
    labels
}

#[test]
fn default_train_prints_final_accuracy() {
    let run = succeed(&["train", "--epochs", "5", "--backend", "cpu"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("final training accuracy:"))
        .unwrap_or_else(|| panic!("no accuracy line: {}", run.describe()));
    let percent: f64 = line
        .trim_start_matches("final training accuracy:")
        .trim()
        .trim_end_matches('%')
        .parse()
        .expect("a percentage");
    // Five epochs of softmax on standardized Iris beat the 33% of chance.
    assert!(percent > 50.0 && percent <= 100.0, "{line}");
    assert!(run.stderr.contains("setosa, versicolor, virginica"));
    // Not a terminal: one progress line per epoch here (every max(1, 5/10)),
    // on stderr with the other log lines.
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("epoch"))
            .count(),
        5
    );
}

#[test]
fn train_json_has_the_schema_with_nulls_for_missing_splits() {
    let run = succeed(&["train", "--epochs", "4", "--backend", "cpu", "--json"]);
    let report = json(&run);
    assert_eq!(
        keys(&report),
        sorted(&["backend", "adapter", "history", "final", "seconds"])
    );
    assert_eq!(report["backend"], "cpu");
    assert!(report["adapter"].is_string());
    assert!(number(&report["seconds"], "seconds") >= 0.0);
    let history = report["history"].as_array().expect("history array");
    assert_eq!(history.len(), 4);
    for (i, epoch) in history.iter().enumerate() {
        assert_eq!(
            keys(epoch),
            sorted(&[
                "epoch",
                "train_loss",
                "train_acc",
                "val_loss",
                "val_acc",
                "lr",
                "seconds"
            ])
        );
        assert_eq!(epoch["epoch"], i as u64 + 1);
        assert!(number(&epoch["train_loss"], "train_loss").is_finite());
        let acc = number(&epoch["train_acc"], "train_acc");
        assert!((0.0..=1.0).contains(&acc));
        assert!((number(&epoch["lr"], "lr") - 0.1).abs() < 1e-6);
        assert!(epoch["val_loss"].is_null() && epoch["val_acc"].is_null());
    }
    let last = &report["final"];
    assert_eq!(
        keys(last),
        sorted(&[
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "test_loss",
            "test_acc"
        ])
    );
    assert!(number(&last["train_loss"], "final train_loss") > 0.0);
    assert!((0.0..=1.0).contains(&number(&last["train_acc"], "final train_acc")));
    for key in ["val_loss", "val_acc", "test_loss", "test_acc"] {
        assert!(last[key].is_null(), "{key} should be null: {last}");
    }
}

/// train (validation, test, save, plots) → eval and predict on the saved
/// model reproduce the run's numbers and the library's predictions.
#[test]
fn train_save_eval_predict_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let train_csv = dir.path().join("train.csv");
    let test_csv = dir.path().join("test.csv");
    let unlabelled_csv = dir.path().join("unlabelled.csv");
    let model = dir.path().join("model.safetensors");
    let svg = dir.path().join("curves.svg");
    let png = dir.path().join("curves.png");
    write_blobs(&train_csv, 120, 1, true);
    let test_labels = write_blobs(&test_csv, 45, 2, true);
    write_blobs(&unlabelled_csv, 45, 2, false);

    let run = succeed(&[
        "train",
        "--data",
        s(&train_csv),
        "--test",
        s(&test_csv),
        "--val-fraction",
        "0.25",
        "--epochs",
        "15",
        "--backend",
        "cpu",
        "--save",
        s(&model),
        "--plot",
        s(&svg),
        "--json",
    ]);
    let report = json(&run);
    let history = report["history"].as_array().expect("history");
    assert_eq!(history.len(), 15);
    assert!(
        history
            .iter()
            .all(|e| e["val_loss"].is_number() && e["val_acc"].is_number())
    );
    let last = &report["final"];
    for key in [
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "test_loss",
        "test_acc",
    ] {
        assert!(last[key].is_number(), "{key} missing: {last}");
    }
    let test_acc = number(&last["test_acc"], "test_acc");
    assert!(test_acc > 0.6, "the blobs are separable enough: {last}");

    let svg_text = std::fs::read_to_string(&svg).expect("the SVG plot exists");
    assert!(svg_text.starts_with("<svg") || svg_text.starts_with("<?xml"));
    assert!(svg_text.contains("<text"), "the SVG has axis labels");
    succeed(&[
        "train",
        "--data",
        s(&train_csv),
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--plot",
        s(&png),
    ]);
    let png_bytes = std::fs::read(&png).expect("the PNG plot exists");
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");

    // eval reproduces the test metrics of the training run.
    let eval = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--json",
    ]));
    let eval_keys = keys(&eval);
    for key in ["loss", "accuracy", "n"] {
        assert!(
            eval_keys.contains(&key.to_string()),
            "eval --json lacks {key}: {eval}"
        );
    }
    assert_eq!(eval["n"], 45);
    assert_eq!(number(&eval["accuracy"], "accuracy"), test_acc);
    let test_loss = number(&last["test_loss"], "test_loss");
    assert!((number(&eval["loss"], "loss") - test_loss).abs() <= 1e-9 * test_loss.abs().max(1.0));

    // Text eval names the classes in a confusion matrix and per-class table.
    let text = succeed(&["eval", "--model", s(&model), "--data", s(&test_csv)]);
    assert!(text.stdout.contains("confusion matrix"));
    assert!(text.stdout.contains("precision") && text.stdout.contains("recall"));
    for class in CLASSES {
        assert!(text.stdout.contains(class), "{}", text.stdout);
    }

    // predict, with and without the label column, matches the library.
    let with_labels = succeed(&["predict", "--model", s(&model), "--data", s(&test_csv)]);
    let without = succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&unlabelled_csv),
    ]);
    assert_eq!(with_labels.stdout, without.stdout);
    let predicted: Vec<&str> = with_labels.stdout.lines().collect();
    let saved = SavedModel::load(&model).expect("the saved model loads");
    let table = load_table(
        &unlabelled_csv,
        &LoadOptions {
            labels_required: false,
            expected_features: Some(saved.model.features()),
            ..LoadOptions::default()
        },
    )
    .expect("load");
    let x = saved.prepare(table.features.view()).expect("prepare");
    let expected: Vec<&str> = saved
        .model
        .predict(x.view())
        .expect("predict")
        .iter()
        .map(|&c| saved.class_names[c as usize].as_str())
        .collect();
    assert_eq!(predicted, expected);
    let hits = predicted
        .iter()
        .zip(&test_labels)
        .filter(|(p, l)| **p == l.as_str())
        .count();
    assert_eq!(hits as f64 / test_labels.len() as f64, test_acc);

    // --proba: a header of class names, rows that sum to 1, argmax = predict.
    let out = dir.path().join("proba.csv");
    let proba_stdout = succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--proba",
    ]);
    succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&test_csv),
        "--proba",
        "--out",
        s(&out),
    ]);
    let written = std::fs::read_to_string(&out).expect("--out file");
    assert_eq!(written, proba_stdout.stdout);
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("alpha,beta,gamma"));
    let mut rows = 0;
    for (line, name) in lines.zip(&predicted) {
        let p: Vec<f64> = line
            .split(',')
            .map(|v| v.parse().expect("a probability"))
            .collect();
        assert_eq!(p.len(), 3);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{line}");
        let best = (0..3)
            .max_by(|&a, &b| p[a].total_cmp(&p[b]))
            .expect("3 columns");
        assert_eq!(CLASSES[best], *name);
        rows += 1;
    }
    assert_eq!(rows, 45);
}

#[test]
fn eval_on_the_training_file_matches_the_final_training_accuracy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data.csv");
    let model = dir.path().join("m.safetensors");
    write_blobs(&data, 60, 3, true);
    for loss in ["svm", "mse", "logistic"] {
        let report = json(&succeed(&[
            "train",
            "--data",
            s(&data),
            "--loss",
            loss,
            "--epochs",
            "8",
            "--backend",
            "cpu",
            "--save",
            s(&model),
            "--json",
        ]));
        let eval = json(&succeed(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--json",
        ]));
        assert_eq!(eval["accuracy"], report["final"]["train_acc"], "{loss}");
        assert_eq!(eval["n"], 60);
    }
    // Binary logistic: one output column, two probability columns.
    let binary = dir.path().join("binary.csv");
    let text = std::fs::read_to_string(&data).expect("read");
    let kept: Vec<&str> = text.lines().filter(|l| !l.ends_with(",gamma")).collect();
    std::fs::write(&binary, kept.join("\n") + "\n").expect("write");
    let report = json(&succeed(&[
        "train",
        "--data",
        s(&binary),
        "--loss",
        "logistic",
        "--epochs",
        "8",
        "--backend",
        "cpu",
        "--save",
        s(&model),
        "--json",
    ]));
    let eval = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&binary),
        "--json",
    ]));
    assert_eq!(eval["accuracy"], report["final"]["train_acc"]);
    assert_eq!(eval["n"], 40);
    let proba = succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&binary),
        "--proba",
    ]);
    assert_eq!(proba.stdout.lines().next(), Some("alpha,beta"));
    assert_eq!(proba.stdout.lines().count(), 41);
}

#[test]
fn mse_trains_on_class_labels_with_validation() {
    let report = json(&succeed(&[
        "train",
        "--loss",
        "mse",
        "--val-fraction",
        "0.2",
        "--epochs",
        "30",
        "--backend",
        "cpu",
        "--json",
    ]));
    let last = &report["final"];
    assert!(number(&last["train_acc"], "train_acc") > 0.6, "{last}");
    assert!(last["val_acc"].is_number() && last["val_loss"].is_number());
    let history = report["history"].as_array().expect("history");
    let first = number(&history[0]["train_loss"], "first loss");
    let final_loss = number(&history[29]["train_loss"], "last loss");
    assert!(final_loss < first, "MSE decreases: {first} → {final_loss}");
    // A classification loss like the others: accuracy every epoch.
    for record in history {
        let accuracy = number(&record["train_acc"], "train_acc");
        assert!((0.0..=1.0).contains(&accuracy), "{record}");
        assert!(record["val_acc"].is_number(), "{record}");
    }
}

/// The `sweep` case times one step and one epoch of K = 1, 8 and 32
/// members on both backends, for both of its shapes.
#[test]
fn bench_quick_sweep_case_times_steps_and_training() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("bench.json");
    let run = lintrain(&[
        "bench",
        "--quick",
        "--cases",
        "sweep",
        "--epochs",
        "2",
        "--json",
        s(&out),
    ]);
    assert!(run.ok(), "{}", run.describe());
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("JSON array");
    let gpu_ran = !run.stderr.contains("no GPU column");
    assert!(
        gpu_ran || !in_ci(),
        "CI=true needs the GPU column: {}",
        run.describe()
    );
    for case in ["sweep_step", "sweep_train"] {
        for shape in ["200x64x10", "256x64x100"] {
            for members in [1, 8, 32] {
                for backend in ["cpu", "gpu"].iter().take(if gpu_ran { 2 } else { 1 }) {
                    let label = format!("{shape} K {members}");
                    let record = records
                        .iter()
                        .find(|r| {
                            r["case"] == case && r["shape"] == label && r["backend"] == *backend
                        })
                        .unwrap_or_else(|| panic!("no {case} {label} record for {backend}"));
                    let median = record["median"].as_f64().unwrap();
                    assert!(median.is_finite() && median > 0.0, "{record}");
                }
            }
        }
    }
}

/// `lintrain bench --quick` measures both backends and writes the issue's
/// JSON records; the GPU step counters come from the engine itself, and
/// they show the design: few dispatches, no readback or allocation.
#[test]
fn bench_quick_writes_records_and_engine_counts() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("bench.json");
    let run = lintrain(&[
        "bench",
        "--quick",
        "--cases",
        "matmul,softmax-xent,hinge,adam-step,step",
        "--rows",
        "600",
        "--json",
        s(&out),
    ]);
    assert!(run.ok(), "{}", run.describe());
    assert!(
        run.stdout.contains("| case | shape | unit |"),
        "{}",
        run.describe()
    );
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("JSON array");
    let gpu_ran = !run.stderr.contains("no GPU column");
    assert!(
        gpu_ran || !in_ci(),
        "CI=true needs the GPU column: {}",
        run.describe()
    );
    for case in [
        "matmul",
        "softmax_xent",
        "hinge",
        "adam_step",
        "step_fused_softmax",
    ] {
        for backend in ["cpu", "gpu"].iter().take(if gpu_ran { 2 } else { 1 }) {
            let record = records
                .iter()
                .find(|r| r["case"] == case && r["backend"] == *backend)
                .unwrap_or_else(|| panic!("no {case} record for {backend}"));
            assert_eq!(
                keys(record),
                sorted(&["case", "backend", "shape", "unit", "median", "min", "max"])
            );
            let (median, min, max) = (
                number(&record["median"], "median"),
                number(&record["min"], "min"),
                number(&record["max"], "max"),
            );
            assert!(0.0 < min && min <= median && median <= max, "{record}");
        }
    }
    assert!(
        records
            .iter()
            .any(|r| r["case"] == "matmul" && r["shape"] == "200x3073x10")
    );
    if gpu_ran {
        let counts = records
            .iter()
            .find(|r| r["case"] == "train_step_counts")
            .expect("train_step_counts record");
        assert!(
            number(&counts["dispatches_per_step"], "dispatches") <= 6.0,
            "{counts}"
        );
        assert_eq!(
            number(&counts["readbacks_per_step"], "readbacks"),
            0.0,
            "{counts}"
        );
        assert_eq!(
            number(&counts["allocations_per_step"], "allocations"),
            0.0,
            "{counts}"
        );
        let submissions = number(&counts["submissions_per_epoch"], "submissions");
        assert!((1.0..=4.0).contains(&submissions), "{counts}");
    }
}

#[test]
fn early_stopping_with_validation_runs_and_without_fails() {
    let report = json(&succeed(&[
        "train",
        "--val-fraction",
        "0.3",
        "--early-stopping",
        "2",
        "--lr",
        "5",
        "--epochs",
        "200",
        "--backend",
        "cpu",
        "--json",
    ]));
    // lr 5 overshoots: the seeded run stops long before 200 epochs.
    let epochs = report["history"].as_array().expect("history").len();
    assert!((1..200).contains(&epochs), "{epochs} epochs");
    fail_with(
        &["train", "--early-stopping", "3", "--backend", "cpu"],
        &["--early-stopping", "--val-fraction"],
    );
}

#[test]
fn gradcheck_passes_for_each_loss_and_regularizer() {
    for loss in ["softmax", "svm", "mse", "logistic"] {
        for reg in ["l2", "l1", "elastic"] {
            let run = succeed(&[
                "gradcheck",
                "--loss",
                loss,
                "--reg",
                reg,
                "--reg-strength",
                "0.01",
            ]);
            assert!(
                run.stdout.contains("max relative error"),
                "{}",
                run.describe()
            );
            assert!(!run.stdout.contains("FAIL"), "{}", run.describe());
        }
    }
}

#[test]
fn gradcheck_on_a_data_file_and_a_failing_threshold() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data.csv");
    write_blobs(&data, 40, 4, true);
    let run = succeed(&["gradcheck", "--data", s(&data), "--loss", "svm"]);
    assert!(
        run.stdout.contains("40 rows × 4 features, 3 classes"),
        "{}",
        run.describe()
    );
    // No analytic gradient equals its numerical estimate to the last bit.
    let run = fail_with(
        &["gradcheck", "--threshold", "0"],
        &["gradient check failed", "--threshold"],
    );
    assert!(run.stdout.contains("FAIL"));
}

#[test]
fn info_lists_adapters_and_the_auto_choice() {
    let run = succeed(&["info"]);
    assert!(
        run.stdout.contains("backend auto picks:"),
        "{}",
        run.describe()
    );
}

#[test]
fn help_shows_every_default() {
    let run = succeed(&["train", "--help"]);
    for expected in [
        "[default: softmax]",
        "[default: 0.1]",
        "[default: 100]",
        "[default: 32]",
        "[default: auto]",
        "[default: none]",
        "[default: the last column]",
        "[default: off]",
        "[default: not saved]",
    ] {
        assert!(
            run.stdout.contains(expected),
            "train --help lacks {expected}"
        );
    }
    for command in ["eval", "predict", "gradcheck"] {
        let run = succeed(&[command, "--help"]);
        assert!(
            run.stdout.contains("[default:"),
            "{command} --help shows defaults"
        );
    }
}

/// The GPU path through the software adapter. Under CI a missing adapter
/// fails; elsewhere the test says loudly that it did not run.
#[test]
fn train_and_gradcheck_on_the_software_adapter() {
    let run = lintrain(&["train", "--backend", "software", "--epochs", "3", "--json"]);
    if !run.ok() && run.stderr.contains("no GPU adapter") && !in_ci() {
        eprintln!(
            "NOT RUN ON GPU: no software adapter ({})",
            run.stderr.trim()
        );
        return;
    }
    assert!(run.ok(), "{}", run.describe());
    let report = json(&run);
    assert_eq!(report["backend"], "gpu");
    assert_eq!(report["history"].as_array().map(Vec::len), Some(3));
    let cpu = json(&succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "3",
        "--json",
    ]));
    let gpu_acc = number(&report["final"]["train_acc"], "gpu train_acc");
    let cpu_acc = number(&cpu["final"]["train_acc"], "cpu train_acc");
    // Same seed and data: f32 rounding may move a row or two, not more.
    assert!(
        (gpu_acc - cpu_acc).abs() <= 2.0 / 150.0 + 1e-12,
        "{gpu_acc} vs {cpu_acc}"
    );
    let run = succeed(&["gradcheck", "--backend", "software", "--loss", "softmax"]);
    assert!(run.stdout.contains("gpu ("), "{}", run.describe());
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let ragged = write("ragged.csv", "a,b,y\n1,2,x\n3,4\n5,6,y\n");
    let nan = write("nan.csv", "a,b,y\n1,2,x\n3,nan,y\n");
    let inf = write("inf.csv", "a,b,y\n1,2,x\n3,inf,y\n");
    let text = write("text.csv", "a,b,y\n1,2,x\n3,oops,y\n");
    let not_model = write("model.safetensors", "this is not a model");
    let good = dir.path().join("good.csv");
    write_blobs(&good, 30, 5, true);
    let model = dir.path().join("good.safetensors");
    succeed(&[
        "train",
        "--data",
        s(&good),
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let unknown = write("unknown.csv", "f0,f1,f2,f3,kind\n1,2,3,4,delta\n");
    let missing = dir.path().join("missing.csv");
    let no_dir = dir.path().join("nope").join("m.safetensors");

    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["train", "--data", s(&missing)], vec!["missing.csv"]),
        (
            vec!["train", "--data", s(&ragged)],
            vec!["ragged.csv", "line 3"],
        ),
        (
            vec!["train", "--data", s(&nan)],
            vec!["nan.csv", "line 3", "column 2"],
        ),
        (
            vec!["train", "--data", s(&inf)],
            vec!["inf.csv", "line 3", "column 2"],
        ),
        (
            vec!["train", "--data", s(&text)],
            vec!["text.csv", "line 3", "oops"],
        ),
        (
            vec!["train", "--data", s(&good), "--label", "nope"],
            vec!["nope"],
        ),
        (vec!["train", "--data", s(&good), "--label", "7"], vec!["7"]),
        (
            vec!["eval", "--model", s(&not_model), "--data", s(&good)],
            vec!["model.safetensors"],
        ),
        (
            vec!["eval", "--model", s(&model), "--data", s(&unknown)],
            vec!["delta", "unknown.csv"],
        ),
        (
            vec!["predict", "--model", s(&missing), "--data", s(&good)],
            vec!["missing.csv"],
        ),
        (vec!["train", "--lr=-0.5"], vec!["--lr"]),
        (vec!["train", "--lr", "0"], vec!["--lr"]),
        (vec!["train", "--val-fraction", "1"], vec!["--val-fraction"]),
        (vec!["train", "--val-fraction=-0.1"], vec!["--val-fraction"]),
        (vec!["train", "--batch-size", "0"], vec!["--batch-size"]),
        (vec!["train", "--epochs", "0"], vec!["--epochs"]),
        (vec!["train", "--loss", "hinge2"], vec!["--loss", "hinge2"]),
        (vec!["train", "--optimizer", "lbfgs"], vec!["--optimizer"]),
        (
            vec!["train", "--plot", "curves.jpg"],
            vec!["--plot", "curves.jpg"],
        ),
        (
            vec!["train", "--save", s(&no_dir)],
            vec!["--save", "does not exist"],
        ),
        (
            vec!["train", "--test", s(&unknown), "--data", s(&good)],
            vec!["delta"],
        ),
        (vec!["gradcheck", "--threshold=-1"], vec!["--threshold"]),
    ];
    for (args, fragments) in &cases {
        fail_with(args, fragments);
    }
}

#[test]
fn a_failing_run_leaves_an_existing_model_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let before = std::fs::read(&model).expect("model written");
    // Passes the --save checks, then diverges during training.
    fail_with(
        &[
            "train",
            "--epochs",
            "50",
            "--loss",
            "mse",
            "--lr",
            "1e6",
            "--reg",
            "none",
            "--backend",
            "cpu",
            "--save",
            s(&model),
        ],
        &["diverged"],
    );
    assert_eq!(std::fs::read(&model).expect("still there"), before);
    SavedModel::load(&model).expect("still loadable");
}

/// Runs with the environment of a headless machine: no XDG_RUNTIME_DIR.
fn lintrain_without_runtime_dir(args: &[&str]) -> Run {
    lintrain_with_env(args, &["XDG_RUNTIME_DIR"])
}

#[test]
fn outputs_that_are_inputs_or_each_other_are_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 60, 41, true);
    let original = std::fs::read(&data).unwrap();
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "--data",
        s(&data),
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let model_bytes = std::fs::read(&model).unwrap();
    let symlink = dir.path().join("link.csv");
    let hardlink = dir.path().join("hard.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&data, &symlink).unwrap();
    std::fs::hard_link(&data, &hardlink).unwrap();
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "a\n").unwrap();
    let fresh = dir.path().join("new.svg");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["train", "--data", s(&data), "--save", s(&data)],
            vec!["--save", "same file as --data"],
        ),
        (
            vec!["train", "--data", s(&data), "--save", s(&symlink)],
            vec!["--save", "same file as --data"],
        ),
        (
            vec!["train", "--data", s(&data), "--save", s(&hardlink)],
            vec!["same file as --data"],
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--test",
                s(&hardlink),
                "--plot",
                s(&fresh),
                "--save",
                s(&fresh),
            ],
            vec!["--plot", "same file as --save"],
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--test",
                s(&model),
                "--save",
                s(&model),
            ],
            vec!["same file as --test"],
        ),
        (
            vec![
                "train",
                "--data",
                s(&data),
                "--labels",
                s(&labels),
                "--save",
                s(&labels),
            ],
            vec!["same file as --labels"],
        ),
        (
            vec!["train", "--data", s(&data), "--save-checkpoint", s(&data)],
            vec!["--save-checkpoint", "same file as --data"],
        ),
        (
            vec![
                "predict",
                "--model",
                s(&model),
                "--data",
                s(&data),
                "--out",
                s(&model),
            ],
            vec!["--out", "same file as --model"],
        ),
        (
            vec![
                "predict",
                "--model",
                s(&model),
                "--data",
                s(&data),
                "--out",
                s(&symlink),
            ],
            vec!["--out", "same file as --data"],
        ),
    ];
    for (args, fragments) in &cases {
        fail_with(args, fragments);
        assert_eq!(
            std::fs::read(&data).unwrap(),
            original,
            "{args:?} changed the data"
        );
        assert_eq!(
            std::fs::read(&model).unwrap(),
            model_bytes,
            "{args:?} changed the model"
        );
        assert!(!fresh.exists(), "{args:?} wrote an output");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_output_directory_fails_before_training() {
    // /proc/self exists and no file can be created in it, even by root
    // (for whom permission bits would not stop the write).
    for (flag, name) in [("--save", "m.safetensors"), ("--plot", "p.svg")] {
        let path = format!("/proc/self/{name}");
        let run = lintrain(&["train", "--epochs", "2", "--backend", "cpu", flag, &path]);
        assert_eq!(run.code, Some(1), "{}", run.describe());
        // One line: the error, and no log line of a training run before it.
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{}",
            run.describe()
        );
        assert!(
            run.stderr.contains(&format!(
                "{flag} {path}: cannot write in the directory /proc/self"
            )),
            "{}",
            run.describe()
        );
        assert!(run.stdout.is_empty(), "{}", run.describe());
    }
}

#[test]
fn divergence_keeps_the_old_model_and_writes_the_last_finite_one_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let before = std::fs::read(&model).unwrap();
    let diverge = ["train", "--lr", "1e30", "--epochs", "5", "--backend", "cpu"];
    let with_save: Vec<&str> = diverge
        .iter()
        .copied()
        .chain(["--save", s(&model)])
        .collect();
    let sibling = dir.path().join("m.last-finite.safetensors");
    let run = fail_with(&with_save, &["diverged", "was left as it was", s(&sibling)]);
    assert_eq!(
        std::fs::read(&model).unwrap(),
        before,
        "the existing model changed"
    );
    let kept = SavedModel::load(&sibling).expect("the last finite model loads");
    assert!(kept.model.weights.iter().all(|w| w.is_finite()));
    // A second divergence never replaces the first one's file.
    let second = dir.path().join("m.last-finite-2.safetensors");
    fail_with(&with_save, &[s(&second)]);
    assert!(second.exists(), "{}", run.describe());

    // Without --save no model is promised.
    let run = fail_with(&diverge, &["diverged", "no model was saved"]);
    assert!(!run.stderr.contains("kept"), "{}", run.describe());
}

#[test]
fn sizes_from_flags_beyond_the_limits_are_typed_errors_not_aborts() {
    fail_with(
        &["gradcheck", "--classes", "1000000000"],
        &["--classes", "1000000000", "limit"],
    );
    fail_with(
        &["gradcheck", "--rows", "1000000000000"],
        &["--rows", "3000000000000", "limit"],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    #[cfg(unix)]
    {
        fail_with(
            &["train", "--data", "/dev/zero"],
            &["/dev/zero", "not a regular file"],
        );
        fail_with(
            &["eval", "--model", "/dev/zero", "--data", s(&model)],
            &["/dev/zero", "not a regular file"],
        );
    }
}

#[test]
fn logs_and_progress_go_to_stderr_results_to_stdout_and_quiet_silences_logs() {
    let run = succeed(&["train", "--epochs", "3", "--backend", "cpu"]);
    assert!(run.stderr.contains("epoch    1"), "{}", run.describe());
    assert!(
        run.stderr.contains("training softmax"),
        "{}",
        run.describe()
    );
    assert!(!run.stdout.contains("epoch "), "{}", run.describe());
    assert!(
        run.stdout.contains("final training accuracy"),
        "{}",
        run.describe()
    );

    let quiet = succeed(&["train", "-q", "--epochs", "3", "--backend", "cpu"]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.describe());
    assert_eq!(quiet.stdout, run.stdout, "results do not depend on --quiet");

    let json_run = succeed(&[
        "train",
        "--json",
        "--quiet",
        "--epochs",
        "2",
        "--backend",
        "cpu",
    ]);
    assert!(json_run.stderr.is_empty(), "{}", json_run.describe());
    json(&json_run);
}

#[test]
fn a_headless_machine_hears_nothing_from_the_vulkan_driver() {
    for args in [&["info"][..], &["train", "--epochs", "1", "-q"][..]] {
        let run = lintrain_without_runtime_dir(args);
        assert!(run.ok(), "{}", run.describe());
        assert!(
            !run.stderr.contains("XDG_RUNTIME_DIR"),
            "{args:?}: {}",
            run.describe()
        );
    }
    if in_ci() {
        // The software adapter loads Mesa's Wayland client, which is what
        // prints the line; make sure this test ran with a driver present.
        let info = lintrain_without_runtime_dir(&["info"]);
        assert!(info.stdout.contains("Vulkan"), "{}", info.describe());
    }
}

/// The class names predicted for each row of `data` by `model`.
fn predictions(model: &Path, data: &Path) -> Vec<String> {
    let run = succeed(&["predict", "--model", s(model), "--data", s(data)]);
    run.stdout.lines().map(str::to_string).collect()
}

#[test]
fn library_training_options_are_reachable_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 90, 43, true);
    let model = |name: &str| dir.path().join(name);
    let base = [
        "train",
        "-q",
        "--data",
        s(&data),
        "--epochs",
        "10",
        "--backend",
        "cpu",
        "--lr",
        "0.05",
    ];
    let train = |extra: &[&str], out: &Path| {
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .chain(["--save", s(out)])
            .collect();
        succeed(&args);
        std::fs::read(out).unwrap()
    };
    let plain = train(&[], &model("plain.safetensors"));

    // A class weighted 50× is predicted at least as often, and the model differs.
    let weights = dir.path().join("weights.csv");
    std::fs::write(&weights, "# class,weight\nalpha,1\nbeta 50\ngamma\t1\n").unwrap();
    let weighted = train(
        &["--class-weight", s(&weights)],
        &model("weighted.safetensors"),
    );
    assert_ne!(weighted, plain, "--class-weight changed nothing");
    let count = |m: &str| {
        predictions(&model(m), &data)
            .iter()
            .filter(|p| *p == "beta")
            .count()
    };
    assert!(count("weighted.safetensors") > count("plain.safetensors"));
    train(
        &["--class-weight", "balanced"],
        &model("balanced.safetensors"),
    );
    // Balanced classes (30 rows each) weigh 1 each: the plain model, up to
    // the rounding of another summation order on the weighted path.
    let load = |m: &str| SavedModel::load(model(m)).expect("loads").model;
    let (balanced, unweighted) = (load("balanced.safetensors"), load("plain.safetensors"));
    for (b, p) in balanced.weights.iter().zip(&unweighted.weights) {
        assert!(
            (b - p).abs() <= 1e-4 * (1.0 + p.abs()),
            "balanced {b} vs plain {p}"
        );
    }
    for (extra, name) in [
        (vec!["--label-smoothing", "0.2"], "smooth"),
        (vec!["--optimizer", "adam", "--amsgrad"], "amsgrad"),
        (vec!["--optimizer", "rmsprop", "--centered"], "centered"),
    ] {
        let file = model(&format!("{name}.safetensors"));
        let with = train(&extra, &file);
        let without: Vec<&str> = extra
            .iter()
            .copied()
            .filter(|a| !matches!(*a, "--amsgrad" | "--centered"))
            .collect();
        let without = if name == "smooth" {
            plain.clone()
        } else {
            train(&without, &model("without.safetensors"))
        };
        assert_ne!(with, without, "{extra:?} changed nothing");
    }

    let accuracy = succeed(&[
        "train",
        "-q",
        "--data",
        s(&data),
        "--epochs",
        "40",
        "--backend",
        "cpu",
        "--val-fraction",
        "0.3",
        "--early-stopping",
        "2",
        "--early-stopping-metric",
        "accuracy",
    ]);
    assert!(
        accuracy.stdout.contains("early stopping: kept epoch"),
        "{}",
        accuracy.describe()
    );

    let bad_weights = dir.path().join("bad.csv");
    std::fs::write(&bad_weights, "alpha,1\nbeta,1\n").unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![
                "train",
                "--class-weight",
                s(&bad_weights),
                "--data",
                s(&data),
            ],
            vec!["no weight for class gamma"],
        ),
        (
            vec!["train", "--class-weight", "balanced", "--loss", "svm"],
            vec!["--class-weight", "softmax"],
        ),
        (
            vec!["train", "--label-smoothing", "0.1", "--loss", "svm"],
            vec!["--label-smoothing", "softmax"],
        ),
        (
            vec!["train", "--label-smoothing", "1"],
            vec!["--label-smoothing"],
        ),
        (vec!["train", "--amsgrad"], vec!["--amsgrad", "adam"]),
        (
            vec!["train", "--centered", "--optimizer", "adam"],
            vec!["--centered", "rmsprop"],
        ),
        (
            vec!["train", "--early-stopping-metric", "accuracy"],
            vec!["--early-stopping"],
        ),
    ];
    for (args, fragments) in &cases {
        fail_with(args, fragments);
    }
    std::fs::write(&bad_weights, "alpha,1\nbeta,1\ngamma,1\ndelta,2\n").unwrap();
    fail_with(
        &[
            "train",
            "--class-weight",
            s(&bad_weights),
            "--data",
            s(&data),
        ],
        &["line 4", "unknown class \"delta\""],
    );
}

#[test]
fn a_resumed_run_ends_where_the_uninterrupted_run_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 90, 45, true);
    let path = |name: &str| dir.path().join(name);
    let (straight, first, checkpoint, resumed) = (
        path("straight.safetensors"),
        path("first.safetensors"),
        path("run.ckpt"),
        path("resumed.safetensors"),
    );
    // Adam (moments to carry over), a validation split and minibatches (a
    // shuffle per epoch to continue), a warmup (a schedule position).
    let train = |overrides: &[(&str, &str)], extra: &[&str]| -> Vec<String> {
        let mut flags = vec![
            ("--data", s(&data).to_string()),
            ("--backend", "cpu".into()),
            ("--optimizer", "adam".into()),
            ("--lr", "0.05".into()),
            ("--warmup-steps", "20".into()),
            ("--val-fraction", "0.2".into()),
            ("--batch-size", "16".into()),
            ("--epochs", "6".into()),
        ];
        for (flag, value) in overrides {
            match flags.iter_mut().find(|(f, _)| f == flag) {
                Some(slot) => slot.1 = value.to_string(),
                None => flags.push((flag, value.to_string())),
            }
        }
        let mut args = vec!["train".to_string(), "-q".to_string()];
        for (flag, value) in flags {
            args.push(flag.to_string());
            args.push(value);
        }
        args.extend(extra.iter().map(|e| e.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        succeed(&args)
    };
    run(train(&[("--save", s(&straight))], &[]));
    run(train(
        &[
            ("--epochs", "3"),
            ("--save", s(&first)),
            ("--save-checkpoint", s(&checkpoint)),
        ],
        &[],
    ));
    run(train(
        &[("--resume", s(&checkpoint)), ("--save", s(&resumed))],
        &[],
    ));
    let bytes = |p: &Path| std::fs::read(p).expect("written");
    assert_eq!(
        bytes(&resumed),
        bytes(&straight),
        "3 epochs and 3 resumed differ from 6 in one run"
    );
    assert_ne!(
        bytes(&first),
        bytes(&straight),
        "the first half is not the whole"
    );

    // What cannot continue is refused, naming why.
    let resume = ("--resume", s(&checkpoint));
    // (flags replaced or added, flags appended, fragments of the error)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [&'a str], Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![resume, ("--optimizer", "sgd")],
            &[],
            vec!["--resume", "optimizer"],
        ),
        (
            vec![resume, ("--beta1", "0.8")],
            &[],
            vec!["optimizer", "beta1: 0.8"],
        ),
        (
            vec![resume, ("--epochs", "3")],
            &[],
            vec!["--resume", "3 epochs", "give more"],
        ),
        (
            vec![resume],
            &["--no-standardize"],
            vec!["drop --no-standardize"],
        ),
        (vec![resume, ("--loss", "svm")], &[], vec!["loss"]),
        (
            vec![resume, ("--label-smoothing", "0.3")],
            &[],
            vec!["label_smoothing=0.3"],
        ),
        (
            vec![resume, ("--batch-size", "7")],
            &[],
            vec!["--resume", "run.ckpt", "--batch-size"],
        ),
        (
            vec![("--resume", s(&straight))],
            &[],
            vec!["not a lintrain checkpoint file"],
        ),
    ];
    for (overrides, extra, fragments) in cases {
        let args = train(&overrides, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).skip(2).collect();
        let args: Vec<&str> = std::iter::once("train").chain(args).collect();
        fail_with(&args, &fragments);
    }
}

#[test]
fn bench_checks_its_flags_and_output_before_measuring() {
    for (args, fragments) in [
        (vec!["bench", "--rows", "0"], vec!["--rows", "200..="]),
        (
            vec!["bench", "--rows", "18446744073709551615"],
            vec!["--rows"],
        ),
        (vec!["bench", "--epochs", "0"], vec!["--epochs", "1..=1000"]),
        (
            vec!["bench", "--json", "/nonexistent-dir/b.json"],
            vec!["--json", "does not exist"],
        ),
    ] {
        let run = fail_with(&args, &fragments);
        assert!(
            run.stdout.is_empty(),
            "measured before failing: {}",
            run.describe()
        );
    }
    let quiet = succeed(&[
        "bench",
        "-q",
        "--quick",
        "--backend",
        "cpu",
        "--cases",
        "adam-step",
    ]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.describe());
    assert!(
        quiet.stdout.contains("| case | shape | unit |"),
        "{}",
        quiet.describe()
    );
}

#[test]
fn settings_that_leave_nothing_to_learn_or_check_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 30, 47, true);
    let zeros = dir.path().join("zeros.csv");
    std::fs::write(&zeros, "alpha,0\nbeta,0\ngamma,0\n").unwrap();
    fail_with(
        &["train", "--data", s(&data), "--class-weight", s(&zeros)],
        &["--class-weight", "the largest is 0e0", "too small"],
    );
    let tiny = dir.path().join("tiny.csv");
    std::fs::write(&tiny, "alpha,1e-45\nbeta,1e-30\ngamma,0\n").unwrap();
    fail_with(
        &["train", "--data", s(&data), "--class-weight", s(&tiny)],
        &["--class-weight", "too small"],
    );
    let huge = dir.path().join("huge.csv");
    std::fs::write(&huge, "alpha,1\nbeta,1e38\ngamma,1\n").unwrap();
    fail_with(
        &["train", "--data", s(&data), "--class-weight", s(&huge)],
        &["--class-weight", "got 1e38 for class 1", "overflow"],
    );
    // The JSON of a benchmark: a name no file system takes is refused
    // before measuring, and a symbolic link is replaced, not written through.
    let long = dir.path().join(format!("{}.json", "a".repeat(300)));
    let run = fail_with(&["bench", "--json", s(&long)], &["--json", "255"]);
    assert!(run.stdout.is_empty(), "{}", run.describe());
    #[cfg(unix)]
    {
        let link = dir.path().join("bench.json");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let before = std::fs::read(&data).unwrap();
        succeed(&[
            "bench",
            "-q",
            "--quick",
            "--backend",
            "cpu",
            "--cases",
            "adam-step",
            "--json",
            s(&link),
        ]);
        assert_eq!(
            std::fs::read(&data).unwrap(),
            before,
            "written through the link"
        );
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    fail_with(
        &["gradcheck", "--data", s(&data), "--classes", "5"],
        &["--classes", "--data"],
    );
}

#[test]
fn a_validation_split_of_one_class_scores_and_a_resume_names_the_differing_feature() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Class y has one row, which stays in training; validation is all x.
    let data = dir.path().join("one.csv");
    std::fs::write(&data, "a,b,label\n1,2,x\n2,1,y\n3,3,x\n1,0,x\n5,5,x\n").unwrap();
    let checkpoint = dir.path().join("run.ckpt");
    let run = succeed(&[
        "train",
        "-q",
        "--data",
        s(&data),
        "--val-fraction",
        "0.4",
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save-checkpoint",
        s(&checkpoint),
    ]);
    assert!(
        run.stdout.contains("validation accuracy"),
        "{}",
        run.describe()
    );
    let renamed = dir.path().join("renamed.csv");
    std::fs::write(&renamed, "a,c,label\n1,2,x\n2,1,y\n3,3,x\n1,0,x\n5,5,x\n").unwrap();
    fail_with(
        &[
            "train",
            "--data",
            s(&renamed),
            "--val-fraction",
            "0.4",
            "--epochs",
            "4",
            "--backend",
            "cpu",
            "--resume",
            s(&checkpoint),
        ],
        &["column 1", "\"b\" in the checkpoint", "\"c\" in the data"],
    );
}

#[test]
fn a_step_too_large_for_the_adapter_says_what_to_change() {
    // 40,000 rows × 1,000 classes of full-batch scores: 160 MB, more than
    // lavapipe's 128 MiB storage binding.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("wide.csv");
    let mut text = String::from("x,label\n");
    for i in 0..40_000 {
        text.push_str(&format!("{}.5,c{}\n", i % 7, i % 1000));
    }
    std::fs::write(&data, text).unwrap();
    let args = [
        "train",
        "--data",
        s(&data),
        "--backend",
        "software",
        "--batch-size",
        "full",
        "--epochs",
        "1",
    ];
    if common::gpu().is_none() {
        return; // `gpu()` has said loudly that no adapter ran (and fails under CI).
    }
    fail_with(
        &args,
        &[
            "max_storage_buffer_binding_size",
            "--backend cpu",
            "--batch-size",
        ],
    );
}

#[cfg(target_os = "linux")]
#[test]
fn an_output_stream_that_cannot_be_written_is_an_error_not_a_crash() {
    use std::process::Stdio;
    let full = || {
        Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    for args in [
        &["-q", "train", "--epochs", "1", "--backend", "cpu"][..],
        &["-q", "train", "--epochs", "1", "--backend", "cpu", "--json"][..],
        &["info"][..],
        &["gradcheck"][..],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lintrain"))
            .args(args)
            .stdout(full())
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            "lintrain: error: writing to stdout: No space left on device (os error 28)",
            "{args:?}"
        );
    }
    // With stderr unwritable the error cannot be said, but the exit
    // status still tells, and nothing aborts.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lintrain"))
        .args(["-q", "train", "--data", "/nonexistent/data.csv"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    // Logs to an unwritable stderr do not stop a run.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lintrain"))
        .args(["train", "--epochs", "2", "--backend", "cpu"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("final training accuracy"));
}

#[test]
fn eval_and_predict_refuse_renamed_or_reordered_columns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 30, 49, true);
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "-q",
        "--data",
        s(&data),
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let text = std::fs::read_to_string(&data).unwrap();
    let reordered = dir.path().join("reordered.csv");
    std::fs::write(
        &reordered,
        text.replacen("f0,f1,f2,f3,kind", "f1,f0,f2,f3,kind", 1),
    )
    .unwrap();
    for command in ["eval", "predict"] {
        fail_with(
            &[command, "--model", s(&model), "--data", s(&reordered)],
            &[
                "reordered.csv",
                "feature names differ",
                "column 0",
                "\"f1\"",
                "\"f0\"",
            ],
        );
    }
    // A file without names (here without its header) is taken by position.
    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, text.split_once('\n').unwrap().1).unwrap();
    succeed(&["eval", "--model", s(&model), "--data", s(&headless)]);
}

// ---------------------------------------------------------------------------
// Issue 13: --C and --alpha, --tol, and the solver flags
// ---------------------------------------------------------------------------

/// The regularizer a saved model records: (name, λ, l1 ratio).
fn recorded_regularizer(path: &Path) -> lintrain::Regularizer {
    SavedModel::load(path)
        .expect("the saved model loads")
        .regularizer
        .expect("the model file records its regularizer")
}

/// λ and the l1 ratio (for elastic net) of a regularizer.
fn strength(regularizer: lintrain::Regularizer) -> (f64, Option<f64>) {
    match regularizer {
        lintrain::Regularizer::L2 { strength } | lintrain::Regularizer::L1 { strength } => {
            (strength as f64, None)
        }
        lintrain::Regularizer::ElasticNet { strength, l1_ratio } => {
            (strength as f64, Some(l1_ratio as f64))
        }
        other => panic!("unexpected regularizer {other:?}"),
    }
}

fn assert_relative(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-6 * expected.abs(),
        "{what}: {actual:e}, expected {expected:e}"
    );
}

/// The training rows `train` reports in its log line `(N rows: T train, …`.
fn logged_training_rows(run: &Run) -> usize {
    let (_, after) = run
        .stderr
        .split_once(" rows: ")
        .unwrap_or_else(|| panic!("no row counts: {}", run.describe()));
    after
        .split(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no training rows: {}", run.describe()))
}

#[test]
fn c_and_alpha_train_with_the_lambda_of_the_table_and_the_model_records_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let model = dir.path().join("m.safetensors");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--backend",
            "cpu",
            "--epochs",
            "2",
            "--save",
            s(&model),
        ];
        args.extend_from_slice(extra);
        let run = succeed(&args);
        (run, recorded_regularizer(&model))
    };
    // LogisticRegression's C on all 150 Iris rows: λ = 1/(2·C·n).
    let (_, regularizer) = train(&["--C", "2"]);
    assert!(matches!(regularizer, lintrain::Regularizer::L2 { .. }));
    assert_relative(
        "l2 from C",
        strength(regularizer).0,
        1.0 / (2.0 * 2.0 * 150.0),
    );
    // n is the training rows after the validation split; L1: λ = 1/(C·n).
    let (run, regularizer) = train(&["--C", "0.5", "--reg", "l1", "--val-fraction", "0.2"]);
    let n = logged_training_rows(&run);
    assert_eq!(n, 120, "{}", run.describe());
    assert!(matches!(regularizer, lintrain::Regularizer::L1 { .. }));
    assert_relative("l1 from C", strength(regularizer).0, 1.0 / (0.5 * n as f64));
    assert!(
        run.stderr.contains("from --C 0.5 on 120 training rows"),
        "{}",
        run.describe()
    );
    // Elastic net, scikit-learn's l1_ratio r: λ = (1 + r)/(2·C·n), r' = 2r/(1 + r).
    let r = 0.15;
    let (_, regularizer) = train(&["--C", "4", "--reg", "elastic", "--l1-ratio", "0.15"]);
    let (lambda, ratio) = strength(regularizer);
    assert_relative("elastic from C", lambda, (1.0 + r) / (2.0 * 4.0 * 150.0));
    assert_relative("l1 ratio from C", ratio.unwrap(), 2.0 * r / (1.0 + r));
    // SGDClassifier's alpha: λ = α/2 (l2), α (l1), α(1 + r)/2 (elastic).
    let (_, regularizer) = train(&["--alpha", "1e-3"]);
    assert_relative("l2 from alpha", strength(regularizer).0, 5e-4);
    let (_, regularizer) = train(&["--alpha", "1e-3", "--reg", "l1", "--val-fraction", "0.2"]);
    assert_relative("l1 from alpha", strength(regularizer).0, 1e-3);
    let (_, regularizer) = train(&["--alpha", "1e-3", "--reg", "elastic", "--l1-ratio", "0.15"]);
    let (lambda, ratio) = strength(regularizer);
    assert_relative("elastic from alpha", lambda, 1e-3 * (1.0 + r) / 2.0);
    assert_relative("l1 ratio from alpha", ratio.unwrap(), 2.0 * r / (1.0 + r));
    // Without them the model records --reg-strength as given.
    let (_, regularizer) = train(&[
        "--reg-strength",
        "0.01",
        "--reg",
        "elastic",
        "--l1-ratio",
        "0.25",
    ]);
    assert_eq!(
        regularizer,
        lintrain::Regularizer::ElasticNet {
            strength: 0.01,
            l1_ratio: 0.25
        }
    );
}

#[test]
fn c_and_alpha_exclude_reg_strength_each_other_and_reg_none() {
    fail_with_code(
        &["train", "--C", "1", "--reg-strength", "0.1"],
        Some(2),
        &["--C", "--reg-strength"],
    );
    fail_with_code(
        &["train", "--alpha", "1", "--reg-strength", "0.1"],
        Some(2),
        &["--alpha", "--reg-strength"],
    );
    fail_with_code(
        &["train", "--C", "1", "--alpha", "0.1"],
        Some(2),
        &["--C", "--alpha"],
    );
    fail_with(&["train", "--C", "1", "--reg", "none"], &["--reg none"]);
    fail_with_code(&["train", "--C", "0"], Some(2), &["--C", "> 0"]);
    fail_with_code(&["train", "--C", "nan"], Some(2), &["--C"]);
    fail_with_code(&["train", "--alpha", "-1"], Some(2), &["--alpha", "≥ 0"]);
    // A C so small that λ leaves f32 is named.
    fail_with(
        &["train", "--backend", "cpu", "--C", "1e-60"],
        &["--C", "beyond f32"],
    );
}

#[test]
fn tol_ends_an_sgd_run_that_stops_improving() {
    // Against +∞ the first epoch always improves; with --tol 1e9 no later
    // epoch does: 1 + --n-iter-no-change epochs of the 50.
    let run = succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "50",
        "--tol",
        "1e9",
        "--n-iter-no-change",
        "2",
        "--json",
    ]);
    let report = json(&run);
    assert_eq!(report["history"].as_array().expect("history").len(), 3);
    let run = succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "50",
        "--tol",
        "1e9",
        "--n-iter-no-change",
        "2",
    ]);
    assert!(
        run.stdout
            .contains("converged: stopped after epoch 3 of 50"),
        "{}",
        run.describe()
    );
    // Five (the default) without improvement.
    let run = succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "50",
        "--tol",
        "1e9",
        "--json",
    ]);
    assert_eq!(json(&run)["history"].as_array().unwrap().len(), 6);
    // A run that keeps improving by more than --tol runs every epoch.
    let run = succeed(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "4",
        "--tol",
        "0",
        "--json",
    ]);
    assert_eq!(json(&run)["history"].as_array().unwrap().len(), 4);
}

#[test]
fn flags_of_the_other_solver_are_refused() {
    for (flag, value) in [
        ("--lr", "0.5"),
        ("--epochs", "100"),
        ("--batch-size", "full"),
        ("--optimizer", "adam"),
        ("--schedule", "cosine"),
        ("--early-stopping", "3"),
        ("--n-iter-no-change", "3"),
    ] {
        fail_with(
            &["train", "--solver", "lbfgs", flag, value],
            &[flag, "--solver sgd"],
        );
    }
    fail_with(
        &["train", "--solver", "lbfgs", "--no-shuffle"],
        &["--no-shuffle"],
    );
    for (flag, value) in [("--max-iter", "10"), ("--history-size", "5")] {
        fail_with(&["train", flag, value], &[flag, "--solver lbfgs"]);
        fail_with(&["train", "--solver", "sgd", flag, value], &[flag]);
    }
    fail_with(
        &["train", "--n-iter-no-change", "3"],
        &["--n-iter-no-change", "--tol"],
    );
    fail_with_code(&["train", "--tol", "-1"], Some(2), &["--tol"]);
    fail_with_code(
        &["train", "--solver", "lbfgs", "--max-iter", "0"],
        Some(2),
        &["--max-iter"],
    );
    fail_with_code(&["train", "--solver", "newton"], Some(2), &["newton"]);
}

#[test]
fn svm_with_lbfgs_is_refused_suggesting_the_squared_hinge() {
    fail_with(
        &["train", "--solver", "lbfgs", "--loss", "svm"],
        &["L-BFGS", "squared-hinge"],
    );
}

#[test]
fn help_states_the_solver_defaults() {
    let run = succeed(&["train", "--help"]);
    for text in [
        "--solver",
        "[default: sgd]",
        "--tol",
        "[default: off, every epoch runs]",
        "[default: 1e-4]",
        "--max-iter",
        "[default: 100]",
        "--history-size",
        "[default: 10]",
        "--n-iter-no-change",
        "[default: 5]",
        "--C",
        "--alpha",
    ] {
        assert!(run.stdout.contains(text), "help lacks {text:?}");
    }
}

#[test]
fn c_on_two_classes_with_softmax_doubles_the_l2_part() {
    // scikit-learn's binary model has one weight vector w = W₁ − W₀.
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("two.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..40 {
        let class = i % 2;
        text.push_str(&format!(
            "{},{},{}\n",
            class as f32 + (i as f32 * 0.37).sin(),
            (i as f32 * 0.91).cos(),
            ["no", "yes"][class]
        ));
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.path().join("m.safetensors");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--backend",
            "cpu",
            "--epochs",
            "2",
            "--data",
            s(&data),
            "--save",
            s(&model),
        ];
        args.extend_from_slice(extra);
        succeed(&args);
        recorded_regularizer(&model)
    };
    assert_eq!(
        strength(train(&["--C", "0.5"])).0,
        (1.0f64 / (0.5 * 40.0)) as f32 as f64
    );
    // The logistic loss has one output: the table as it stands.
    assert_relative(
        "logistic",
        strength(train(&["--C", "0.5", "--loss", "logistic"])).0,
        1.0 / (2.0 * 0.5 * 40.0),
    );
    // Elastic net: λ = 1/(C·n) and scikit-learn's l1_ratio as it is.
    let (lambda, ratio) = strength(train(&[
        "--C",
        "0.5",
        "--reg",
        "elastic",
        "--l1-ratio",
        "0.3",
    ]));
    assert_relative("elastic", lambda, 1.0 / (0.5 * 40.0));
    assert_relative("elastic ratio", ratio.unwrap(), 0.3);
    // --reg-strength is lintrain's λ, whatever the classes.
    assert_eq!(strength(train(&["--reg-strength", "0.125"])).0, 0.125);
}

/// Without the `mpi` feature, `--distributed` names the feature and how to
/// build with it rather than training alone (under mpirun, K copies would
/// each write the outputs).
#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_without_the_mpi_feature_says_how_to_build_it() {
    fail_with(
        &["train", "--distributed", "--backend", "cpu"],
        &["--distributed", "--features mpi", "openmpi-bin"],
    );
}
