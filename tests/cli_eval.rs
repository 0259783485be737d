//! `lintrain eval` end to end (issue 11): model files that load but used to
//! break the command, reproducible model files from `train`, output that
//! does not grow with the classes, the new metrics checked against
//! independent computations, `--top-k` and `--confusion`; scoring in
//! bounded memory, no non-finite results, and `predict` alongside.

mod common;

use common::cli::*;
use common::files::{f32_bytes, npy};
use lintrain::data::Standardizer;
use lintrain::limits::{MAX_OUTPUT_CELLS, MAX_SCORES_PER_CHUNK};
use lintrain::metrics::{MAX_CONFUSION_CELLS, MAX_PRINTED_CLASSES, WORST_CLASSES_SHOWN};
use lintrain::model_file::SavedModel;
use lintrain::{Loss, Model};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn close(what: &str, got: f64, expected: f64) {
    assert!(
        (got - expected).abs() <= 1e-12,
        "{what}: {got} vs {expected}"
    );
}

/// Gaussian blobs in `features` dimensions, one per class, as CSV with a
/// header and the label (`c<class>`) last; returns the labels.
fn write_blobs(path: &Path, rows: usize, classes: usize, features: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text: String = (0..features).map(|j| format!("f{j},")).collect();
    text.push_str("label\n");
    let mut labels = Vec::new();
    for i in 0..rows {
        let class = (i * 7919) % classes;
        for j in 0..features {
            let centre = ((class * (j + 3)) % 5) as f32 - 2.0 + (class % 3) as f32 * 0.5;
            let value = centre + rng.random_range(-1.2f32..1.2);
            text.push_str(&format!("{value},"));
        }
        text.push_str(&format!("c{class}\n"));
        labels.push(class as u32);
    }
    std::fs::write(path, text).unwrap();
    labels
}

/// A model with `classes` classes named `c<i>` and seeded weights.
fn hand_model(path: &Path, classes: usize, features: usize, seed: u64) -> SavedModel {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = Model {
        weights: Array2::from_shape_simple_fn((features, classes), || rng.random_range(-1.0..1.0)),
        bias: Array1::from_shape_simple_fn(classes, || rng.random_range(-0.5..0.5)),
        loss: Loss::softmax(),
        classes,
    };
    let saved = SavedModel::new(
        model,
        None,
        (0..classes).map(|c| format!("c{c}")).collect(),
        (0..features).map(|j| format!("f{j}")).collect(),
    );
    saved.save(path).unwrap();
    saved
}

/// The features of a data file written by `write_blobs`, prepared for the
/// model, and the model's class scores and predictions, from the library.
fn library_scores(saved: &SavedModel, data: &Path) -> (Array2<f32>, Vec<u32>) {
    let table = lintrain::data::load_table(
        data,
        &lintrain::data::LoadOptions {
            expected_features: Some(saved.model.features()),
            ..Default::default()
        },
    )
    .unwrap();
    let x = saved.prepare(table.features.view()).unwrap();
    (
        saved.model.class_scores(x.view()).unwrap(),
        saved.model.predict(x.view()).unwrap(),
    )
}

/// scikit-learn's macro and weighted F1 from a dense confusion matrix:
/// per class `2·tp / (2·tp + fp + fn)`, averaged over the classes that
/// occur in the labels or the predictions.
fn dense_f1(classes: usize, labels: &[u32], predicted: &[u32]) -> (f64, f64, Vec<Vec<u64>>) {
    let mut m = vec![vec![0u64; classes]; classes];
    for (&l, &p) in labels.iter().zip(predicted) {
        m[l as usize][p as usize] += 1;
    }
    let (mut sum, mut present, mut weighted) = (0.0, 0, 0.0);
    for c in 0..classes {
        let tp = m[c][c] as f64;
        let row: f64 = m[c].iter().map(|&v| v as f64).sum();
        let col: f64 = m.iter().map(|r| r[c] as f64).sum();
        if row + col == 0.0 {
            continue;
        }
        let f1 = 2.0 * tp / (row + col);
        sum += f1;
        present += 1;
        weighted += row * f1;
    }
    (sum / present as f64, weighted / labels.len() as f64, m)
}

/// The repro: metadata `loss=svm` (or squared-hinge, or softmax),
/// one weight column, two classes. `eval` used to panic (exit 101) or, for
/// softmax, report a loss of 0; now the file does not load.
#[test]
fn a_model_whose_loss_needs_more_columns_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "a,b,y\n1,2,no\n-1,0.5,yes\n").unwrap();
    for loss in [
        "svm(margin=1)",
        "squared-hinge(margin=1)",
        "softmax(label_smoothing=0)",
    ] {
        let weight: Vec<u8> = [0.5f32, -0.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bias: Vec<u8> = 0.1f32.to_le_bytes().to_vec();
        let views = vec![
            (
                "weight",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 1], &weight)
                    .unwrap(),
            ),
            (
                "bias",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &bias)
                    .unwrap(),
            ),
        ];
        let metadata = std::collections::HashMap::from([
            ("format".to_string(), "lintrain-linear".to_string()),
            ("loss".to_string(), loss.to_string()),
            ("classes".to_string(), "[\"no\", \"yes\"]".to_string()),
            ("feature_names".to_string(), "[\"a\", \"b\"]".to_string()),
            ("num_classes".to_string(), "2".to_string()),
            ("lintrain_version".to_string(), "0.1.0".to_string()),
        ]);
        let model = dir.path().join("one_column.safetensors");
        std::fs::write(
            &model,
            safetensors::serialize(views, Some(metadata)).unwrap(),
        )
        .unwrap();
        for command in [
            vec!["eval", "--model", s(&model), "--data", s(&data)],
            vec!["eval", "--model", s(&model), "--data", s(&data), "--json"],
            vec!["predict", "--model", s(&model), "--data", s(&data)],
        ] {
            fail_with_exit(
                &command,
                1,
                &[
                    "one_column.safetensors",
                    "2 classes do not fit 1 output columns",
                ],
            );
        }
    }
}

/// The metadata used to be serialized from a `HashMap` in random order:
/// the same seed gave the same weights in a different file.
#[test]
fn training_twice_with_one_seed_writes_identical_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    write_blobs(&data, 90, 3, 4, 3);
    let files: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let model = dir.path().join(format!("m{i}.safetensors"));
            succeed(&[
                "train",
                "--data",
                s(&data),
                "--epochs",
                "4",
                "--backend",
                "cpu",
                "--seed",
                "17",
                "--save",
                s(&model),
                "--json",
            ]);
            std::fs::read(&model).unwrap()
        })
        .collect();
    assert!(
        files[0] == files[1] && files[1] == files[2],
        "the model files differ"
    );
    let header_len = u64::from_le_bytes(files[0][..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&files[0][8..8 + header_len]);
    let keys = [
        "classes",
        "feature_names",
        "format",
        "lintrain_version",
        "loss",
        "num_classes",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| header.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{header}");
}

/// Up to the threshold: the matrix and a row per class, as before, and the
/// JSON keeps its keys and adds the summary, each value recomputed here.
#[test]
fn few_classes_print_the_matrix_and_json_adds_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let labels = write_blobs(&data, 120, 4, 3, 8);
    let model = dir.path().join("m.safetensors");
    succeed(&[
        "train",
        "--data",
        s(&data),
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--save",
        s(&model),
    ]);
    let text = succeed(&["eval", "--model", s(&model), "--data", s(&data)]).stdout;
    assert!(text.contains("confusion matrix"), "{text}");
    for needle in [
        "precision",
        "recall",
        "f1",
        "support",
        "macro avg",
        "weighted avg",
    ] {
        assert!(text.contains(needle), "lacks {needle}: {text}");
    }
    for class in ["c0", "c1", "c2", "c3"] {
        assert!(text.lines().any(|l| l.starts_with(class)), "{text}");
    }
    assert!(
        !text.contains("ROC-AUC"),
        "ROC-AUC is for two classes: {text}"
    );

    let report = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
        "--top-k",
        "2",
    ]));
    let saved = SavedModel::load(&model).unwrap();
    let (scores, predicted) = library_scores(&saved, &data);
    let (macro_f1, weighted_f1, _) = dense_f1(4, &labels, &predicted);
    let hits = labels
        .iter()
        .zip(&predicted)
        .filter(|(l, p)| l == p)
        .count();
    assert_eq!(report["n"], 120);
    assert_eq!(report["classes"], 4);
    close(
        "accuracy",
        number(&report["accuracy"], "accuracy"),
        hits as f64 / 120.0,
    );
    number(&report["loss"], "loss");
    close(
        "macro_f1",
        number(&report["macro_f1"], "macro_f1"),
        macro_f1,
    );
    close(
        "weighted_f1",
        number(&report["weighted_f1"], "weighted_f1"),
        weighted_f1,
    );
    // Support-weighted recall is the accuracy.
    close(
        "weighted_recall",
        number(&report["weighted_recall"], "weighted_recall"),
        hits as f64 / 120.0,
    );
    for key in ["macro_precision", "macro_recall", "weighted_precision"] {
        let v = number(&report[key], key);
        assert!((0.0..=1.0).contains(&v), "{key} {v}");
    }
    assert_eq!(report["roc_auc"], Value::Null);
    assert_eq!(report["top_k"], 2);
    // Top-2 by sorting each row of scores.
    let top2 = scores
        .outer_iter()
        .zip(&labels)
        .filter(|(row, l)| {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            order[..2].contains(&(**l as usize))
        })
        .count();
    close(
        "top_k_accuracy",
        number(&report["top_k_accuracy"], "top_k_accuracy"),
        top2 as f64 / 120.0,
    );
    let plain = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
    ]));
    assert_eq!(plain["top_k"], Value::Null);
    assert_eq!(plain["top_k_accuracy"], Value::Null);
    assert_eq!(plain["accuracy"], report["accuracy"]);
}

/// P(positive scores above negative), ties one half, over every pair.
fn brute_force_auc(scores: &[f64], labels: &[u32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &a) in labels.iter().enumerate() {
        for (j, &b) in labels.iter().enumerate() {
            if a == 1 && b == 0 {
                pairs += 1.0;
                wins += if scores[i] > scores[j] {
                    1.0
                } else if scores[i] == scores[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

/// Two classes: ROC-AUC of the class-1 margin, for a one-output logistic
/// model (the score itself) and a two-output softmax model (s₁ − s₀).
#[test]
fn two_classes_report_roc_auc() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let labels = write_blobs(&data, 80, 2, 3, 21);
    for loss in ["logistic", "softmax", "mse"] {
        let model = dir.path().join(format!("{loss}.safetensors"));
        succeed(&[
            "train",
            "--data",
            s(&data),
            "--epochs",
            "2",
            "--backend",
            "cpu",
            "--loss",
            loss,
            "--save",
            s(&model),
        ]);
        let saved = SavedModel::load(&model).unwrap();
        let outputs = if loss == "logistic" { 1 } else { 2 };
        assert_eq!(saved.model.outputs(), outputs, "{loss}");
        let (scores, _) = library_scores(&saved, &data);
        let x = {
            let table = lintrain::data::load_table(&data, &Default::default()).unwrap();
            saved.prepare(table.features.view()).unwrap()
        };
        let raw = saved.model.decision_function(x.view()).unwrap();
        let margin: Vec<f64> = raw
            .outer_iter()
            .map(|r| {
                if outputs == 1 {
                    r[0] as f64
                } else {
                    r[1] as f64 - r[0] as f64
                }
            })
            .collect();
        assert_eq!(scores.ncols(), 2);
        let report = json(&succeed(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--json",
        ]));
        close(
            &format!("{loss} roc_auc"),
            number(&report["roc_auc"], "roc_auc"),
            brute_force_auc(&margin, &labels),
        );
        let text = succeed(&["eval", "--model", s(&model), "--data", s(&data)]).stdout;
        assert!(text.contains("ROC-AUC (class \"c1\" positive)"), "{text}");
    }
}

/// Above the threshold: a summary whose size does not depend on the
/// classes. 10,000 classes used to print a 10⁸-cell matrix (900 MB).
#[test]
fn many_classes_print_a_summary_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    for classes in [MAX_PRINTED_CLASSES + 1, 10_000] {
        let model = dir.path().join(format!("m{classes}.safetensors"));
        let saved = hand_model(&model, classes, 3, classes as u64);
        let data = dir.path().join(format!("d{classes}.csv"));
        let labels = write_blobs(&data, 60, classes, 3, 4);
        let run = succeed(&["eval", "--model", s(&model), "--data", s(&data)]);
        let text = &run.stdout;
        assert!(!text.contains("confusion matrix ("), "{}", run.describe());
        assert!(text.contains("--confusion FILE"), "{}", run.describe());
        for needle in ["macro avg", "weighted avg", "lowest F1"] {
            assert!(text.contains(needle), "lacks {needle}: {}", run.describe());
        }
        let class_rows = text
            .lines()
            .filter(|l| {
                let first = l.split_whitespace().next().unwrap_or_default();
                first
                    .strip_prefix('c')
                    .is_some_and(|n| n.parse::<usize>().is_ok())
            })
            .count();
        assert!(
            class_rows <= WORST_CLASSES_SHOWN,
            "{class_rows} class rows: {}",
            run.describe()
        );
        assert!(
            text.len() < 4096,
            "{} bytes: {}",
            text.len(),
            run.describe()
        );
        // The worst classes listed have the lowest F1 of those present.
        let (_, predicted) = library_scores(&saved, &data);
        let (macro_f1, _, m) = dense_f1(classes, &labels, &predicted);
        let report = json(&succeed(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--json",
            "--top-k",
            "5",
        ]));
        close(
            "macro_f1",
            number(&report["macro_f1"], "macro_f1"),
            macro_f1,
        );
        let top5 = number(&report["top_k_accuracy"], "top_k_accuracy");
        assert!(top5 >= number(&report["accuracy"], "accuracy"), "{report}");
        let f1_of = |c: usize| {
            let row: u64 = m[c].iter().sum();
            let col: u64 = m.iter().map(|r| r[c]).sum();
            (row + col > 0).then(|| 2.0 * m[c][c] as f64 / (row + col) as f64)
        };
        let listed: Vec<usize> = text
            .lines()
            .skip_while(|l| !l.contains("lowest F1"))
            .filter_map(|l| l.split_whitespace().next()?.strip_prefix('c')?.parse().ok())
            .collect();
        let worst_listed = listed
            .iter()
            .filter_map(|&c| f1_of(c))
            .fold(f64::MIN, f64::max);
        let unlisted_min = (0..classes)
            .filter(|c| !listed.contains(c))
            .filter_map(f1_of)
            .fold(f64::MAX, f64::min);
        assert!(worst_listed <= unlisted_min, "{listed:?}: {text}");
    }
}

#[test]
fn the_confusion_csv_is_the_full_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let classes = MAX_PRINTED_CLASSES + 5;
    let model = dir.path().join("m.safetensors");
    let saved = hand_model(&model, classes, 3, 2);
    let data = dir.path().join("d.csv");
    let labels = write_blobs(&data, 150, classes, 3, 6);
    let out = dir.path().join("confusion.csv");
    let run = succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--confusion",
        s(&out),
    ]);
    assert!(
        run.stdout.contains("confusion matrix written to"),
        "{}",
        run.describe()
    );
    let (_, predicted) = library_scores(&saved, &data);
    let (_, _, m) = dense_f1(classes, &labels, &predicted);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&out)
        .unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), classes + 1);
    assert_eq!(&records[0][0], "true\\predicted");
    for c in 0..classes {
        assert_eq!(records[0][c + 1], format!("c{c}"));
        assert_eq!(records[c + 1][0], format!("c{c}"));
        let row: Vec<u64> = records[c + 1]
            .iter()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(row, m[c], "row c{c}");
    }
    // Written atomically: no temporary file is left beside it.
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["confusion.csv", "d.csv", "m.safetensors"]);
    // With --json the file is written too, and stdout stays one object.
    std::fs::remove_file(&out).unwrap();
    let run = succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--confusion",
        s(&out),
        "--json",
    ]);
    json(&run);
    assert!(out.exists());
}

/// `--confusion` naming an input, however spelled, is refused before
/// anything is written, and the input is left as it was.
#[test]
fn the_confusion_file_is_never_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = trained_on_blobs(&dir);
    // The same rows with the labels in their own file.
    let features = dir.path().join("x.csv");
    let labels_file = dir.path().join("y.txt");
    let text = std::fs::read_to_string(&data).unwrap();
    let mut x = String::new();
    let mut y = String::new();
    for line in text.lines() {
        let (values, label) = line.rsplit_once(',').unwrap();
        x.push_str(values);
        x.push('\n');
        if label != "label" {
            y.push_str(label);
            y.push('\n');
        }
    }
    std::fs::write(&features, x).unwrap();
    std::fs::write(&labels_file, y).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let dotted = sub.join("..").join("m.safetensors");
    let mut spellings: Vec<(PathBuf, &str)> = vec![
        (model.clone(), "--model"),
        (dotted, "--model"),
        (features.clone(), "--data"),
        (labels_file.clone(), "--labels"),
    ];
    #[cfg(unix)]
    {
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&model, &link).unwrap();
        spellings.push((link, "--model"));
    }
    let hard = dir.path().join("hard.safetensors");
    if std::fs::hard_link(&model, &hard).is_ok() {
        spellings.push((hard, "--model"));
    }
    let before: Vec<Vec<u8>> = [&model, &features, &labels_file]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for (out, flag) in &spellings {
        fail_with_exit(
            &[
                "eval",
                "--model",
                s(&model),
                "--data",
                s(&features),
                "--labels",
                s(&labels_file),
                "--confusion",
                s(out),
            ],
            1,
            &["--confusion", "is the same file as", flag],
        );
    }
    let after: Vec<Vec<u8>> = [&model, &features, &labels_file]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(before == after, "an input changed");
    // A fresh path beside them is fine.
    let fresh = dir.path().join("fresh.csv");
    succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&features),
        "--labels",
        s(&labels_file),
        "--confusion",
        s(&fresh),
    ]);
    assert!(fresh.exists());
    fail_with_exit(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--confusion",
            s(&dir.path().join("nope").join("c.csv")),
        ],
        1,
        &["--confusion", "does not exist"],
    );
}

/// A matrix over the stated limit is refused before the data is read.
#[test]
fn a_confusion_matrix_over_the_limit_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let classes = (MAX_CONFUSION_CELLS as f64).sqrt() as usize + 1;
    let model = dir.path().join("wide.safetensors");
    hand_model(&model, classes, 1, 1);
    let missing = dir.path().join("missing.csv");
    let out = dir.path().join("c.csv");
    fail_with_exit(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&missing),
            "--confusion",
            s(&out),
        ],
        1,
        &["--confusion", &MAX_CONFUSION_CELLS.to_string()],
    );
    assert!(!out.exists());
}

#[test]
fn top_k_is_validated_against_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = trained_on_blobs(&dir);
    for k in ["0", "4", "18446744073709551615"] {
        fail_with_exit(
            &[
                "eval",
                "--model",
                s(&model),
                "--data",
                s(&data),
                "--top-k",
                k,
            ],
            1,
            &[
                &format!("--top-k {k}"),
                "between 1 and the model's 3 classes",
            ],
        );
    }
    fail_with_exit(
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--top-k",
            "two",
        ],
        2,
        &["--top-k"],
    );
    let report = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--top-k",
        "3",
        "--json",
    ]));
    assert_eq!(number(&report["top_k_accuracy"], "top_k_accuracy"), 1.0);
    let report = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--top-k",
        "1",
        "--json",
    ]));
    assert_eq!(report["top_k_accuracy"], report["accuracy"]);
}

/// The bad-input contract with exit status `code`.
fn fail_with_exit(args: &[&str], code: i32, fragments: &[&str]) -> Run {
    fail_with_code(args, Some(code), fragments)
}

// ------------------------------------------- scoring in bounded memory

/// 2¹⁶ classes: 2,000 rows have 2¹⁷·10³ scores, 500 MiB as one f32 array.
const MANY: usize = 1 << 16;

/// Runs the binary with at most `kib` KiB of address space (`ulimit -v`),
/// so that an allocation that grows with rows × classes fails, as the red
/// team's 41 GB one did. One malloc arena: glibc reserves 64 MiB of
/// address space for each further one, as threads happen to allocate.
#[cfg(target_os = "linux")]
fn lintrain_within(kib: u64, args: &[&str]) -> Run {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_lintrain"))
        .arg("--quiet")
        .args(args)
        .env("MALLOC_ARENA_MAX", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("sh runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The data file of the memory tests: one feature, `rows` rows, labels
/// spread over the classes.
fn write_ramp(path: &Path, rows: usize, classes: usize) -> Vec<u32> {
    let mut text = String::from("f0,label\n");
    let labels: Vec<u32> = (0..rows).map(|i| ((i * 7919) % classes) as u32).collect();
    for (i, label) in labels.iter().enumerate() {
        text.push_str(&format!("{},c{label}\n", i as f32 * 0.001 - 1.0));
    }
    std::fs::write(path, text).unwrap();
    labels
}

/// The red team's repro, scaled down: `eval` and `predict` built the N × C
/// scores whole and aborted allocating them. Within 100 MiB of address
/// space, where 500 MiB of scores cannot exist, both now finish, with the
/// library's results (which `model::tests` shows equal to those of one
/// product over all rows).
#[cfg(target_os = "linux")]
#[test]
fn eval_and_predict_score_many_classes_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let saved = hand_model(&model, MANY, 1, 3);
    let data = dir.path().join("d.csv");
    let labels = write_ramp(&data, 2000, MANY);
    // The scores whole are 5 times the address space; a chunk, 16 MiB.
    const { assert!(2000 * MANY as u64 * 4 >= 5 * (100 << 20) && MAX_SCORES_PER_CHUNK * 4 <= 16 << 20) };
    let run = lintrain_within(
        100 << 10,
        &[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--json",
            "--top-k",
            "50",
        ],
    );
    assert!(run.ok(), "{}", run.describe());
    let report = json(&run);
    let x = ndarray::Array2::from_shape_fn((2000, 1), |(i, _)| i as f32 * 0.001 - 1.0);
    let expected = saved
        .model
        .evaluate(x.view(), Array1::from(labels.clone()).view())
        .unwrap();
    assert_eq!(number(&report["loss"], "loss"), expected.loss);
    let hits = expected.label_ranks.iter().filter(|&&r| r == 0).count();
    assert_eq!(
        number(&report["accuracy"], "accuracy"),
        hits as f64 / 2000.0
    );
    let top = expected.label_ranks.iter().filter(|&&r| r < 50).count();
    assert_eq!(
        number(&report["top_k_accuracy"], "top_k_accuracy"),
        top as f64 / 2000.0
    );
    assert!(top > hits, "the test should rank labels below the top");

    let run = lintrain_within(
        100 << 10,
        &["predict", "--model", s(&model), "--data", s(&data)],
    );
    assert!(run.ok(), "{}", run.describe());
    let names: Vec<String> = expected
        .predicted
        .iter()
        .map(|&c| format!("c{c}"))
        .collect();
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), names);
}

/// `predict --proba` held every probability and then the whole CSV in
/// memory; the rows now go to the file as they are computed: 110 rows of
/// 2¹⁶ probabilities, more than 100 MiB of CSV, within 100 MiB.
#[cfg(target_os = "linux")]
#[test]
fn predict_proba_streams_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let saved = hand_model(&model, MANY, 1, 5);
    let data = dir.path().join("d.csv");
    write_ramp(&data, 110, MANY);
    let out = dir.path().join("p.csv");
    let run = lintrain_within(
        100 << 10,
        &[
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--proba",
            "--out",
            s(&out),
        ],
    );
    assert!(run.ok(), "{}", run.describe());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.len() > 100 << 20, "{} bytes", written.len());
    let x = ndarray::Array2::from_shape_fn((110, 1), |(i, _)| i as f32 * 0.001 - 1.0);
    let proba = saved.model.predict_proba(x.view()).unwrap();
    let mut lines = written.lines();
    assert_eq!(lines.next().unwrap().split(',').count(), MANY);
    let mut rows = 0;
    for (line, expected) in lines.zip(proba.outer_iter()) {
        let values: Vec<f32> = line.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(values, expected.to_vec(), "row {rows}");
        rows += 1;
    }
    assert_eq!(rows, 110);
}

/// N · C probabilities beyond the stated limit are refused before any is
/// computed, naming `--proba`: 4097 rows × 2¹⁶ classes is just over 2²⁸.
#[test]
fn predict_proba_refuses_more_cells_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    hand_model(&model, MANY, 1, 3);
    let rows = (MAX_OUTPUT_CELLS as usize).div_ceil(MANY) + 1;
    assert_eq!(rows, 4097);
    let data = dir.path().join("d.csv");
    write_ramp(&data, rows, MANY);
    let out = dir.path().join("p.csv");
    let run = fail_with_code(
        &[
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--proba",
            "--out",
            s(&out),
        ],
        Some(1),
        &[
            "--proba",
            &format!("is {}", rows * MANY),
            &format!("limit of {MAX_OUTPUT_CELLS}"),
            s(&data),
        ],
    );
    assert!(run.stdout.is_empty(), "{}", run.describe());
    assert!(!out.exists());
    // Class names, one per row, are not limited.
    succeed(&["predict", "--model", s(&model), "--data", s(&data)]);
}

// ------------------------------------------------ no non-finite results

/// Weights of 3.4e38 are finite, so the model loads; its scores overflow.
/// `eval --json` printed `"loss":null` and `predict --proba` rows of NaN,
/// with exit 0. Now every command fails naming both files and the first
/// data row whose scores overflow, and prints or writes no result.
#[test]
fn scores_that_overflow_f32_are_an_error_not_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("huge.safetensors");
    let saved = SavedModel::new(
        Model {
            weights: Array2::from_elem((2, 3), 3.4e38),
            bias: Array1::zeros(3),
            loss: Loss::softmax(),
            classes: 3,
        },
        None,
        vec!["a".into(), "b".into(), "c".into()],
        vec!["x".into(), "y".into()],
    );
    saved.save(&model).unwrap();
    let data = dir.path().join("d.csv");
    // Data row 3 is the first whose scores, 3.4e38 · (1 + 1), overflow.
    std::fs::write(&data, "x,y,label\n0.5,0.25,a\n-0.5,0.75,b\n1,1,c\n0,0,a\n").unwrap();
    let out = dir.path().join("out.csv");
    for args in [
        vec!["eval", "--json"],
        vec!["eval", "--top-k", "2"],
        vec!["predict", "--proba"],
        vec!["predict"],
        vec!["predict", "--proba", "--out", s(&out)],
    ] {
        let mut args = args;
        args.extend(["--model", s(&model), "--data", s(&data)]);
        let run = fail_with_code(
            &args,
            Some(1),
            &[s(&model), s(&data), "non-finite scores", "data row 3"],
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.describe());
    }
    assert!(!out.exists(), "a partial --out file was left");
    // The rows before it score.
    std::fs::write(&data, "x,y,label\n0.5,0.25,a\n-0.5,0.75,b\n").unwrap();
    let report = json(&succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
    ]));
    assert!(number(&report["loss"], "loss").is_finite(), "{report}");
}

/// A standard deviation of 1e-45 is positive and finite, so the model
/// loaded; standardizing divided by it and `eval` printed a null loss.
/// Every std must now be a normal f32, and the model does not load.
#[test]
fn a_subnormal_standard_deviation_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny_std.safetensors");
    let saved = SavedModel::new(
        Model {
            weights: Array2::from_elem((2, 3), 0.5),
            bias: Array1::zeros(3),
            loss: Loss::softmax(),
            classes: 3,
        },
        Some(Standardizer {
            mean: Array1::zeros(2),
            std: Array1::from(vec![1.0, 1.0]),
        }),
        vec!["a".into(), "b".into(), "c".into()],
        vec!["x".into(), "y".into()],
    );
    saved.save(&model).unwrap();
    // The saver refuses such a model, so patch the file's `std` tensor.
    let mut bytes = std::fs::read(&model).unwrap();
    let (header_len, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let (start, end) = header.info("std").unwrap().data_offsets;
    let at = 8 + header_len + start;
    bytes[at..8 + header_len + end].copy_from_slice(&f32_bytes(&[1.0, 1e-45]));
    std::fs::write(&model, bytes).unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "x,y,label\n1,2,a\n3,4,b\n5,6,c\n").unwrap();
    for command in [
        vec!["eval", "--json"],
        vec!["predict", "--proba"],
        vec!["predict"],
    ] {
        let mut args = command;
        args.extend(["--model", s(&model), "--data", s(&data)]);
        let run = fail_with_code(
            &args,
            Some(1),
            &[
                s(&model),
                "tensor `std` has the value 1e-45 at index 1",
                "normal positive f32",
            ],
        );
        assert!(run.stdout.is_empty(), "{}", run.describe());
    }
}

// ----------------------------------------------------------- messages

/// A `.npy` file as wide as no model: the message named neither file nor
/// flag ("shape mismatch in prepare data for the model"); it now names the
/// data file and both feature counts, as for a CSV.
#[test]
fn a_binary_data_file_of_the_wrong_width_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    hand_model(&model, 3, 4, 1);
    let data = dir.path().join("X16.npy");
    let values: Vec<f32> = (0..5 * 16).map(|v| v as f32 * 0.1).collect();
    std::fs::write(&data, npy("<f4", &[5, 16], &f32_bytes(&values))).unwrap();
    let labels = dir.path().join("y.txt");
    std::fs::write(&labels, "c0\nc1\nc2\nc0\nc1\n").unwrap();
    let fragments = [
        s(&data),
        "the feature counts differ",
        "the data has 16 features",
        "has 4",
    ];
    for args in [
        vec!["predict", "--model", s(&model), "--data", s(&data)],
        vec![
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--labels",
            s(&labels),
        ],
    ] {
        let run = fail_with_code(&args, Some(1), &fragments);
        assert!(!run.stderr.contains("shape mismatch"), "{}", run.describe());
    }
    // As wide as the model, the same file scores.
    let values: Vec<f32> = (0..5 * 4).map(|v| v as f32 * 0.1).collect();
    std::fs::write(&data, npy("<f4", &[5, 4], &f32_bytes(&values))).unwrap();
    succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--labels",
        s(&labels),
    ]);
}

/// Three blobs of 30 rows in `dir` and a model trained on them for two
/// epochs: (data, model).
fn trained_on_blobs(dir: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let data = dir.path().join("d.csv");
    write_blobs(&data, 30, 3, 2, 1);
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
    (data, model)
}
