//! `lintrain sweep` end to end (issue 15): every member is the model a
//! separate `lintrain train` with the same flags gives (CPU and lavapipe),
//! k-fold selection and the saved best model, the table and the JSON, a
//! diverging member beside trained ones, the plot, and one-line errors for
//! bad grids.

mod common;

use common::cli::*;
use common::in_ci;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;

/// Gaussian blobs in 3 features, one per class, as CSV with a header and
/// the label (`c<class>`) last; they overlap, so that accuracies and losses
/// differ between settings.
fn write_blobs(path: &Path, rows: usize, classes: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from("f0,f1,f2,label\n");
    for i in 0..rows {
        let class = i % classes;
        let centre = [class as f32, -0.5 * class as f32, 0.25];
        let values: Vec<String> = centre
            .iter()
            .map(|c| format!("{:.4}", c + rng.random_range(-1.5f32..1.5)))
            .collect();
        text.push_str(&format!("{},c{class}\n", values.join(",")));
    }
    std::fs::write(path, text).expect("write the CSV");
}

fn results(report: &Value) -> &Vec<Value> {
    report["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {report}"))
}

/// |a − b| ≤ 1e-4·max(|a|, |b|, 1e-12): the f32 tolerance of one run
/// against another.
fn assert_close(what: &str, sweep: f64, train: f64) {
    let scale = sweep.abs().max(train.abs()).max(1e-12);
    assert!(
        (sweep - train).abs() <= 1e-4 * scale,
        "{what}: the sweep's member has {sweep}, the separate train run {train}"
    );
}

/// Runs `sweep` with `common` (which must give `--json`) and lists
/// `swept` (flag, values), then `train` with every setting's values and
/// `common`, and checks that each member's final train loss and accuracy
/// and validation loss and accuracy are the train run's. The grid is the
/// product in the order given, the first flag slowest.
fn members_equal_separate_runs(common: &[&str], swept: &[(&str, &[&str])]) {
    members_equal_separate_runs_with(common, &[], swept)
}

/// [`members_equal_separate_runs`] with flags only the sweep takes.
fn members_equal_separate_runs_with(
    common: &[&str],
    sweep_only: &[&str],
    swept: &[(&str, &[&str])],
) {
    let mut sweep: Vec<&str> = vec!["sweep"];
    sweep.extend(sweep_only);
    let lists: Vec<String> = swept.iter().map(|(_, values)| values.join(",")).collect();
    for ((flag, _), list) in swept.iter().zip(&lists) {
        sweep.extend([*flag, list.as_str()]);
    }
    sweep.extend(common);
    let report = json(&succeed(&sweep));
    let members = results(&report);
    let expected: usize = swept.iter().map(|(_, v)| v.len()).product();
    assert_eq!(members.len(), expected, "{report}");
    for (k, member) in members.iter().enumerate() {
        // Member k's values: the mixed-radix digits of k, the last flag fastest.
        let mut rest = k;
        let mut setting: Vec<(&str, &str)> = Vec::new();
        for (flag, values) in swept.iter().rev() {
            setting.push((flag, values[rest % values.len()]));
            rest /= values.len();
        }
        setting.reverse();
        let mut train: Vec<&str> = vec!["train"];
        for (flag, value) in &setting {
            train.extend([*flag, *value]);
        }
        train.extend(common);
        let run = json(&succeed(&train));
        let last = &run["final"];
        for (flag, value) in &setting {
            let key = match *flag {
                "--reg-strength" => "reg_strength",
                "--C" => "C",
                "--alpha" => "alpha",
                "--lr" => "lr",
                "--l1-ratio" => "l1_ratio",
                "--momentum" => "momentum",
                other => panic!("not a swept flag: {other}"),
            };
            let parsed: f64 = value.parse().expect("a number");
            assert_eq!(number(&member[key], key), parsed, "member {k}: {member}");
        }
        assert_eq!(member["status"], "trained", "member {k}: {member}");
        for key in ["train_loss", "train_acc", "val_loss", "val_acc"] {
            assert_close(
                &format!("member {k} {setting:?} {key}"),
                number(&member[key], key),
                number(&last[key], key),
            );
        }
    }
}

const FIVE_EPOCHS_ON_CPU: [&str; 7] = [
    "--val-fraction",
    "0.2",
    "--epochs",
    "5",
    "--json",
    "--backend",
    "cpu",
];

#[test]
fn every_member_is_the_train_run_with_its_learning_rate_and_strength() {
    members_equal_separate_runs(
        &FIVE_EPOCHS_ON_CPU,
        &[
            ("--lr", &["0.1", "0.05"]),
            ("--reg-strength", &["1e-4", "1e-2"]),
        ],
    );
}

#[test]
fn every_member_is_the_train_run_with_its_c_even_for_a_two_class_softmax() {
    // C becomes λ on the member's training rows (after the split), and a
    // softmax on two classes doubles the l2 part, exactly as train does.
    members_equal_separate_runs(&FIVE_EPOCHS_ON_CPU, &[("--C", &["0.01", "1", "100"])]);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("two.csv");
    write_blobs(&data, 90, 2, 3);
    let mut common: Vec<&str> = vec!["--data", s(&data), "--reg", "elastic"];
    common.extend(FIVE_EPOCHS_ON_CPU);
    members_equal_separate_runs(
        &common,
        &[("--l1-ratio", &["0.2", "0.7"]), ("--C", &["0.05", "5"])],
    );
    // One value of C is still converted per member, not taken as λ.
    members_equal_separate_runs(&common, &[("--C", &["0.5"])]);
}

#[test]
fn a_small_c_is_judged_on_the_training_rows_as_train_judges_it() {
    // λ = 1/(2·C·n): C = 1e-39 is beyond f32 on one row, but within it on
    // Iris's 120 training rows, where train accepts it (a tiny learning
    // rate keeps the huge penalty stable).
    let mut sweep: Vec<&str> = vec!["sweep", "--C", "1e-39,1", "--lr", "1e-37"];
    sweep.extend(FIVE_EPOCHS_ON_CPU);
    let report = json(&succeed(&sweep));
    let member = &results(&report)[0];
    assert_eq!(member["status"], "trained", "{report}");
    let mut train: Vec<&str> = vec!["train", "--C", "1e-39", "--lr", "1e-37"];
    train.extend(FIVE_EPOCHS_ON_CPU);
    let last = &json(&succeed(&train))["final"];
    for key in ["train_loss", "val_loss", "val_acc"] {
        assert_close(key, number(&member[key], key), number(&last[key], key));
    }
    // Beyond f32 on the real rows too: the error counts them.
    fail_with(
        &["sweep", "--C", "1e-300,1", "--val-fraction", "0.2"],
        &["--C 1e-300", "120 training rows", "beyond f32"],
    );
}

#[test]
fn the_largest_counts_are_typed_errors_or_run_as_train_runs_them() {
    // The progress over the folds multiplies the parts by the iterations:
    // L-BFGS with the largest --max-iter converges as train's does.
    let max = usize::MAX.to_string();
    succeed(&[
        "sweep",
        "--solver",
        "lbfgs",
        "--max-iter",
        &max,
        "--folds",
        "3",
        "--C",
        "1,2",
        "--backend",
        "cpu",
        "--json",
    ]);
    fail_with(
        &[
            "sweep",
            "--epochs",
            &max,
            "--folds",
            "2",
            "--lr",
            "0.1,0.2",
            "--backend",
            "cpu",
        ],
        &["epochs overflow the step counter"],
    );
    fail_with(
        &[
            "sweep",
            "--folds",
            &max,
            "--lr",
            "0.1,0.2",
            "--backend",
            "cpu",
        ],
        &["folds need at least", "150"],
    );
}

#[test]
fn every_member_is_the_train_run_with_its_momentum_and_alpha() {
    let mut common: Vec<&str> = vec!["--optimizer", "nesterov"];
    common.extend(FIVE_EPOCHS_ON_CPU);
    members_equal_separate_runs(
        &common,
        &[
            ("--alpha", &["1e-4", "1e-2"]),
            ("--momentum", &["0.5", "0.9"]),
        ],
    );
}

#[test]
fn early_stopping_stops_each_member_as_its_train_run_stops() {
    // lr 2 stops early on Iris; the others run every epoch.
    members_equal_separate_runs(
        &[
            "--early-stopping",
            "2",
            "--epochs",
            "40",
            "--val-fraction",
            "0.3",
            "--json",
            "--backend",
            "cpu",
        ],
        &[("--lr", &["2", "0.5", "0.05"])],
    );
    let run = succeed(&[
        "sweep",
        "--lr",
        "2,0.05",
        "--early-stopping",
        "2",
        "--epochs",
        "40",
        "--val-fraction",
        "0.3",
        "--backend",
        "cpu",
    ]);
    assert!(
        run.stdout.contains("early stop @ epoch"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_lbfgs_path_reaches_the_cold_train_runs_optima() {
    // Warm starts change the iterates, not the optimum: at a tight
    // tolerance each member is the cold fit.
    members_equal_separate_runs(
        &[
            "--solver",
            "lbfgs",
            "--tol",
            "1e-7",
            "--max-iter",
            "1000",
            "--val-fraction",
            "0.2",
            "--json",
            "--backend",
            "cpu",
        ],
        &[("--C", &["0.01", "1", "100"])],
    );
}

#[test]
fn a_cold_lbfgs_sweep_is_each_train_run_at_the_default_tolerance() {
    // Without the warm-started path every member starts where train does.
    members_equal_separate_runs_with(
        &[
            "--solver",
            "lbfgs",
            "--val-fraction",
            "0.2",
            "--json",
            "--backend",
            "cpu",
        ],
        &["--cold-path"],
        &[("--C", &["0.01", "1", "100"])],
    );
}

/// The GPU path through the software adapter. Under CI a missing adapter
/// fails; elsewhere the test says loudly that it did not run.
#[test]
fn every_member_is_the_train_run_on_the_software_adapter() {
    let probe = lintrain(&["train", "--backend", "software", "--epochs", "1", "--json"]);
    if !probe.ok() && probe.stderr.contains("no GPU adapter") && !in_ci() {
        eprintln!(
            "NOT RUN ON GPU: no software adapter ({})",
            probe.stderr.trim()
        );
        return;
    }
    assert!(probe.ok(), "{}", probe.describe());
    let report = json(&succeed(&[
        "sweep",
        "--lr",
        "0.1,0.2",
        "--val-fraction",
        "0.2",
        "--epochs",
        "1",
        "--json",
        "--backend",
        "software",
    ]));
    assert_eq!(report["backend"], "gpu", "{report}");
    members_equal_separate_runs(
        &[
            "--val-fraction",
            "0.2",
            "--epochs",
            "4",
            "--json",
            "--backend",
            "software",
        ],
        &[("--lr", &["0.1", "0.03"]), ("--C", &["0.1", "10"])],
    );
}

#[test]
fn k_fold_selection_refits_the_best_and_saves_a_model_eval_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    let model = dir.path().join("best.safetensors");
    write_blobs(&data, 120, 3, 7);
    let report = json(&succeed(&[
        "sweep",
        "--data",
        s(&data),
        "--C",
        "logspace(-3,1,3)",
        "--lr",
        "0.1,0.01",
        "--folds",
        "3",
        "--epochs",
        "8",
        "--backend",
        "cpu",
        "--save",
        s(&model),
        "--json",
        "--quiet",
    ]));
    let members = results(&report);
    assert_eq!(members.len(), 6);
    // logspace(-3,1,3) is 1e-3, 0.1, 10; C is the first flag, so slowest.
    let cs: Vec<f64> = members.iter().map(|m| number(&m["C"], "C")).collect();
    assert_eq!(cs, [1e-3, 1e-3, 0.1, 0.1, 10.0, 10.0]);
    let best = &report["best"];
    assert!(best.is_object(), "{report}");
    // The best is the highest mean validation accuracy (ties: lower loss).
    let key = |m: &Value| {
        (
            number(&m["val_acc"], "val_acc"),
            -number(&m["val_loss"], "val_loss"),
        )
    };
    let top = members
        .iter()
        .max_by(|a, b| key(a).partial_cmp(&key(b)).expect("finite"))
        .expect("members");
    assert_eq!(key(best), key(top), "{report}");
    assert!(number(&report["seconds"], "seconds") > 0.0);

    let eval = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
    ]));
    let accuracy = number(&eval["accuracy"], "accuracy");
    assert!(accuracy > 0.5, "the refit separates the blobs: {eval}");
    assert_eq!(eval["n"], 120);
}

#[test]
fn the_table_lists_every_setting_marks_the_best_and_names_it() {
    let run = succeed(&[
        "sweep",
        "--reg-strength",
        "0,1e-3",
        "--lr",
        "linspace(0.05,0.15,3)",
        "--val-fraction",
        "0.2",
        "--epochs",
        "3",
        "--backend",
        "cpu",
    ]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // A header, six settings, the best's line.
    assert_eq!(lines.len(), 8, "{}", run.describe());
    for column in [
        "reg_strength",
        "lr",
        "train loss",
        "train acc",
        "val loss",
        "val acc",
        "status",
    ] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    let marked: Vec<&&str> = lines[1..7]
        .iter()
        .filter(|l| l.trim_start().starts_with('*'))
        .collect();
    assert_eq!(marked.len(), 1, "{}", run.describe());
    assert!(lines[1..7].iter().all(|l| l.ends_with("trained")));
    assert!(lines[7].starts_with("best: reg_strength="), "{}", lines[7]);
    assert!(lines[7].contains("val acc"), "{}", lines[7]);
    // The log goes to stderr.
    assert!(run.stderr.contains("sweeping 6 settings"), "{}", run.stderr);
    let quiet = succeed(&[
        "--quiet",
        "sweep",
        "--lr",
        "0.1,0.2",
        "--val-fraction",
        "0.2",
        "--epochs",
        "2",
        "--backend",
        "cpu",
    ]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.describe());
}

#[test]
fn a_diverging_member_is_dropped_and_the_others_train_as_alone() {
    let report = json(&succeed(&[
        "sweep",
        "--lr",
        "0.1,1e30",
        "--val-fraction",
        "0.2",
        "--epochs",
        "5",
        "--json",
        "--backend",
        "cpu",
    ]));
    let members = results(&report);
    assert_eq!(members[0]["status"], "trained", "{report}");
    assert_eq!(members[1]["status"], "diverged", "{report}");
    assert!(members[1]["val_acc"].is_null(), "{report}");
    assert_eq!(number(&report["best"]["lr"], "best lr"), 0.1);
    let alone = json(&succeed(&[
        "train",
        "--lr",
        "0.1",
        "--val-fraction",
        "0.2",
        "--epochs",
        "5",
        "--json",
        "--backend",
        "cpu",
    ]));
    for key in ["train_loss", "val_loss", "val_acc"] {
        assert_close(
            key,
            number(&members[0][key], key),
            number(&alone["final"][key], key),
        );
    }
    let table = succeed(&[
        "sweep",
        "--lr",
        "0.1,1e30",
        "--val-fraction",
        "0.2",
        "--epochs",
        "5",
        "--backend",
        "cpu",
    ]);
    assert!(
        table.stdout.contains("diverged at epoch 1"),
        "{}",
        table.describe()
    );
    // Nothing to select: an error, after the table.
    fail_with(
        &[
            "sweep",
            "--lr",
            "1e30",
            "--val-fraction",
            "0.2",
            "--epochs",
            "2",
            "--backend",
            "cpu",
        ],
        &["every setting diverged"],
    );
}

#[test]
fn plot_draws_accuracy_against_the_strength() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["sweep.svg", "sweep.png"] {
        let plot = dir.path().join(name);
        succeed(&[
            "sweep",
            "--C",
            "0.01,1,100",
            "--lr",
            "0.1,0.02",
            "--val-fraction",
            "0.2",
            "--epochs",
            "3",
            "--backend",
            "cpu",
            "--plot",
            s(&plot),
            "--quiet",
        ]);
        let bytes = std::fs::read(&plot).expect("the plot exists");
        if name.ends_with(".svg") {
            let text = String::from_utf8(bytes).expect("utf-8 SVG");
            assert!(text.contains("<svg"), "an SVG");
            assert!(text.contains("--C"), "the x axis names the flag");
            assert!(text.contains("lr=0.02"), "a line per learning rate");
        } else {
            assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        }
    }
}

#[test]
fn bad_grids_and_selections_are_one_line_errors() {
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec!["sweep", "--epochs", "2", "--backend", "cpu"];
        args.extend(extra);
        args
    };
    fail_with(
        &with(&["--lr", "", "--val-fraction", "0.2"]),
        &["--lr", "empty"],
    );
    fail_with(
        &with(&["--reg-strength=1e-3,-1", "--val-fraction", "0.2"]),
        &["--reg-strength", "≥ 0", "-1"],
    );
    fail_with(
        &with(&["--C", "logspace(-3,1,0)", "--val-fraction", "0.2"]),
        &["--C", "n must be ≥ 1"],
    );
    fail_with(
        &with(&["--beta1", "0.9,0.99", "--val-fraction", "0.2"]),
        &["--beta1", "cannot be swept", "--lr", "--momentum"],
    );
    fail_with(
        &with(&["--lr", "0.1,0.2", "--folds", "3", "--val-fraction", "0.2"]),
        &["--folds", "--val-fraction"],
    );
    fail_with(&with(&["--lr", "0.1,0.2"]), &["--val-fraction", "--folds"]);
    fail_with(
        &with(&[
            "--lr",
            "logspace(-3,0,100)",
            "--C",
            "logspace(-3,0,100)",
            "--val-fraction",
            "0.2",
        ]),
        &["10000", "4096"],
    );
    fail_with(
        &with(&["--momentum", "0.5,0.9", "--val-fraction", "0.2"]),
        &["--momentum", "no momentum"],
    );
    fail_with(
        &with(&["--lr", "0.1,0.2", "--val-fraction", "0.2", "--resume", "x"]),
        &["--resume"],
    );
    fail_with(
        &with(&["--lr", "0.1,0.2", "--val-fraction", "0.2", "--cold-path"]),
        &["--cold-path", "lbfgs"],
    );
}

#[test]
fn save_never_replaces_the_input_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("blobs.csv");
    write_blobs(&data, 60, 3, 1);
    let before = std::fs::read(&data).expect("read");
    fail_with(
        &[
            "sweep",
            "--data",
            s(&data),
            "--lr",
            "0.1,0.2",
            "--val-fraction",
            "0.2",
            "--epochs",
            "2",
            "--backend",
            "cpu",
            "--save",
            s(&data),
        ],
        &["--save", "--data", "never replaces an input"],
    );
    assert_eq!(std::fs::read(&data).expect("read"), before);
}

#[test]
fn json_has_the_schema_and_metric_loss_selects_the_lowest_validation_loss() {
    let report = json(&succeed(&[
        "sweep",
        "--lr",
        "0.3,0.1,0.01",
        "--val-fraction",
        "0.2",
        "--epochs",
        "4",
        "--metric",
        "loss",
        "--json",
        "--backend",
        "cpu",
    ]));
    let mut keys: Vec<&String> = report.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["adapter", "backend", "best", "results", "seconds"]);
    let members = results(&report);
    for member in members {
        let mut keys: Vec<&String> = member.as_object().expect("an object").keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "lr",
                "status",
                "train_acc",
                "train_loss",
                "val_acc",
                "val_loss"
            ]
        );
    }
    let lowest = members
        .iter()
        .map(|m| number(&m["val_loss"], "val_loss"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(number(&report["best"]["val_loss"], "best val_loss"), lowest);
}

#[test]
fn a_distributed_sweep_is_refused_naming_train() {
    fail_with(
        &[
            "sweep",
            "--distributed",
            "--backend",
            "cpu",
            "--lr",
            "0.1,0.01",
        ],
        &["--distributed", "lintrain train --distributed"],
    );
}
