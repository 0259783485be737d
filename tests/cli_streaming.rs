//! `lintrain train` on `.npy` shards: held in memory within
//! `--memory-budget`, streamed from disk beyond it, with the same model
//! when shuffling is off (CPU and lavapipe); `--device-budget` passes
//! resident rows through the device ring with the same model; bad shards
//! and budgets are one-line errors; `sweep` refuses data beyond the budget.

mod common;

use common::cli::{fail_with, s, succeed};
use common::files::{npy, npz, write};
use lintrain::data::stream::is_validation_row;
use rand::Rng;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use zip::CompressionMethod;

/// 3 shards (7000, 1, 12999 rows) of 24 features and their label shards,
/// a noisy linear teacher's 5 classes.
fn shards(dir: &TempDir) -> (PathBuf, PathBuf) {
    let mut rng = common::rng(8);
    let (features, classes) = (24, 5);
    let teacher: Vec<f32> = (0..features * classes)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    for (k, rows) in [7000usize, 1, 12999].into_iter().enumerate() {
        let x: Vec<f32> = (0..rows * features)
            .map(|i| rng.random_range(-1.0f32..1.0) * (1.0 + (i % features) as f32) + 2.0)
            .collect();
        let labels: Vec<i64> = x
            .chunks(features)
            .map(|row| {
                (0..classes)
                    .map(|c| {
                        let s: f32 = row
                            .iter()
                            .enumerate()
                            .map(|(j, v)| v * teacher[j * classes + c])
                            .sum();
                        (c, s + rng.random_range(-0.5f32..0.5))
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap()
                    .0 as i64
            })
            .collect();
        let x_bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let y_bytes: Vec<u8> = labels.iter().flat_map(|v| v.to_le_bytes()).collect();
        write(
            dir,
            &format!("x_{k}.npy"),
            npy("<f4", &[rows, features], &x_bytes),
        );
        write(dir, &format!("y_{k}.npy"), npy("<i8", &[rows], &y_bytes));
    }
    (dir.path().join("x_*.npy"), dir.path().join("y_*.npy"))
}

fn train(data: &Path, labels: &Path, extra: &[&str], save: &Path) -> String {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--labels",
        s(labels),
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--save",
        s(save),
    ];
    args.extend_from_slice(extra);
    succeed(&args).stderr
}

#[test]
fn streamed_and_resident_runs_save_the_same_model_when_shuffling_is_off() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    let backends: &[&str] = if common::gpu().is_some() {
        &["cpu", "gpu"]
    } else {
        &["cpu"]
    };
    for &backend in backends {
        let (streamed, resident) = (
            dir.path().join(format!("streamed_{backend}.safetensors")),
            dir.path().join(format!("resident_{backend}.safetensors")),
        );
        let common = ["--no-shuffle", "--backend", backend];
        let log = train(
            &x,
            &y,
            &[&common[..], &["--memory-budget", "1MiB"]].concat(),
            &streamed,
        );
        assert!(log.contains("streamed from disk"), "{log}");
        assert!(log.contains("one streamed pass"), "{log}");
        let log = train(&x, &y, &common, &resident);
        assert!(log.contains("held in memory"), "{log}");
        assert_eq!(
            std::fs::read(&streamed).unwrap(),
            std::fs::read(&resident).unwrap(),
            "{backend}: the streamed run's model differs"
        );
    }
}

#[test]
fn a_streamed_run_validates_on_hashed_rows_and_learns() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    let run = succeed(&[
        "train",
        "--data",
        s(&x),
        "--labels",
        s(&y),
        "--memory-budget",
        "1.5MiB",
        "--val-fraction",
        "0.2",
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert!(run.stderr.contains("by a seeded hash"), "{}", run.stderr);
    let report = common::cli::json(&run);
    let val = common::cli::number(&report["final"]["val_acc"], "val_acc");
    let train = common::cli::number(&report["final"]["train_acc"], "train_acc");
    assert!(val > 0.8 && train > 0.8, "val {val}, train {train}");
}

#[test]
fn a_device_budget_below_the_data_trains_the_same_model() {
    if common::gpu().is_none() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    let (ring, whole) = (
        dir.path().join("ring.safetensors"),
        dir.path().join("whole.safetensors"),
    );
    let common = ["--backend", "gpu", "--val-fraction", "0.1"];
    train(
        &x,
        &y,
        &[&common[..], &["--device-budget", "64KiB"]].concat(),
        &ring,
    );
    train(&x, &y, &common, &whole);
    assert_eq!(
        std::fs::read(&ring).unwrap(),
        std::fs::read(&whole).unwrap()
    );
}

#[test]
fn bad_shards_and_budgets_are_one_line_errors() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    let base = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["train", "--data", s(&x), "--memory-budget", "1MiB"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let run = |args: Vec<String>, fragments: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fail_with(&args, fragments);
    };
    // A labels shard missing.
    let one_label = dir.path().join("y_0.npy");
    run(base(&["--labels", s(&one_label)]), &["y_0.npy"]);
    // A shuffle window larger than the budget.
    run(
        base(&["--labels", s(&y), "--shuffle-buffer", "20000"]),
        &["--shuffle-buffer 20000", "--memory-budget"],
    );
    // The validation rows pass through a ring of their own, two more
    // blocks: a window that fits beside the training ring's blocks alone
    // does not fit beside both.
    let window = |extra: &[&str]| {
        let mut args = base(&[
            "--labels",
            s(&y),
            "--shuffle-buffer",
            "1000",
            "--epochs",
            "1",
        ]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let args = window(&[]);
    succeed(&args.iter().map(String::as_str).collect::<Vec<_>>());
    run(
        window(&["--val-fraction", "0.2"]),
        &["--memory-budget 1 MiB"],
    );
    // A budget too small to stream at all names the budget, not a
    // shuffle buffer the command line did not give.
    let small = fail_with(
        &[
            "train",
            "--data",
            s(&x),
            "--labels",
            s(&y),
            "--memory-budget",
            "64KiB",
        ],
        &["--memory-budget 64 KiB", "raise --memory-budget"],
    );
    assert!(
        !small.stderr.contains("--shuffle-buffer"),
        "{}",
        small.stderr
    );
    // A block holds at least one step: steps larger than the budget allows
    // for the blocks are refused, not loaded several times over.
    run(
        base(&["--labels", s(&y), "--batch-size", "full"]),
        &["--batch-size full", "--memory-budget", "--solver lbfgs"],
    );
    run(
        base(&["--labels", s(&y), "--batch-size", "5000"]),
        &["--batch-size 5000", "--memory-budget"],
    );
    // A shard of another width.
    write(&dir, "x_3.npy", npy("<f4", &[2, 3], &[0u8; 24]));
    write(&dir, "y_3.npy", npy("<i8", &[2], &[0u8; 16]));
    run(base(&["--labels", s(&y)]), &["x_3.npy", "3 features"]);
    std::fs::remove_file(dir.path().join("x_3.npy")).unwrap();
    std::fs::remove_file(dir.path().join("y_3.npy")).unwrap();
    // A truncated shard.
    let shard = dir.path().join("x_1.npy");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 4]).unwrap();
    run(base(&["--labels", s(&y)]), &["x_1.npy"]);
    // An output onto a shard.
    std::fs::write(&shard, &bytes).unwrap();
    run(
        base(&["--labels", s(&y), "--save", s(&shard)]),
        &["--save", "x_1.npy"],
    );
    // No file matches.
    run(
        vec![
            "train".into(),
            "--data".into(),
            s(&dir.path().join("none_*.npy")).into(),
        ],
        &["none_*.npy"],
    );
}

#[test]
fn sweep_refuses_data_beyond_the_memory_budget() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    fail_with(
        &[
            "sweep",
            "--data",
            s(&x),
            "--labels",
            s(&y),
            "--memory-budget",
            "1MiB",
            "--lr",
            "0.1,0.01",
            "--val-fraction",
            "0.2",
        ],
        &["--memory-budget", "lintrain train"],
    );
}

/// An output is never written onto a data or labels shard, however its
/// path is spelled and whether the shards are streamed or held in memory:
/// a glob names its files only once resolved.
#[test]
fn outputs_never_replace_a_data_or_labels_shard() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    // `dir/./x_0.npy` is the shard `dir/x_0.npy` spelled another way.
    let data_shard = dir.path().join(".").join("x_0.npy");
    let label_shard = dir.path().join("y_2.npy");
    let read = || [&data_shard, &label_shard].map(|p| std::fs::read(p).unwrap());
    let before = read();
    for budget in ["1MiB", "1GiB"] {
        for (flag, shard, input) in [
            ("--save", &data_shard, "--data"),
            ("--save-checkpoint", &label_shard, "--labels"),
        ] {
            fail_with(
                &[
                    "train",
                    "--data",
                    s(&x),
                    "--labels",
                    s(&y),
                    "--memory-budget",
                    budget,
                    "--epochs",
                    "1",
                    flag,
                    s(shard),
                ],
                &[flag, input, "an output never replaces an input"],
            );
        }
    }
    assert!(read() == before, "a shard was overwritten");
}

/// The hashed split is checked before the streamed moments pass, and a
/// class it leaves without training rows is named as the labels name it,
/// with the flag to change.
#[test]
fn a_hashed_split_that_leaves_a_class_untrained_names_the_class_and_the_flag() {
    let dir = TempDir::new().unwrap();
    let (x, y) = shards(&dir);
    // One more row, of its own class 7, as global row 20000.
    write(&dir, "x_3.npy", npy("<f4", &[1, 24], &[0u8; 96]));
    write(&dir, "y_3.npy", npy("<i8", &[1], &7i64.to_le_bytes()));
    let fraction = ["0.2", "0.3", "0.4", "0.5", "0.6"]
        .into_iter()
        .find(|f| is_validation_row(0, f.parse().unwrap(), 20_000))
        .expect("a fraction that holds row 20000 out");
    let run = fail_with(
        &[
            "train",
            "--data",
            s(&x),
            "--labels",
            s(&y),
            "--memory-budget",
            "1MiB",
            "--val-fraction",
            fraction,
        ],
        &[&format!("--val-fraction {fraction}"), "class \"7\""],
    );
    assert!(!run.stderr.contains("class 5"), "{}", run.stderr);
}

/// Data within the memory budget but with more values than a table held in
/// memory may have (2³² as f32) is streamed, not refused: a 16 GiB file
/// under a 20 GiB budget. The file is sparse (a header and a length), and
/// the run stops at its first check after choosing, the size of a step.
#[cfg(unix)]
#[test]
fn data_beyond_the_in_memory_table_limit_is_streamed() {
    let dir = TempDir::new().unwrap();
    let (rows, features) = (1usize << 16, (1usize << 16) + 1);
    let header = npy("<f2", &[rows, features], &[]);
    let x = write(&dir, "x.npy", &header);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&x)
        .unwrap()
        .set_len((header.len() + rows * features * 2) as u64)
        .unwrap();
    let labels: Vec<u8> = (0..rows)
        .flat_map(|r| i64::from(r == 0).to_le_bytes())
        .collect();
    let y = write(&dir, "y.npy", npy("<i8", &[rows], &labels));
    fail_with(
        &[
            "train",
            "--data",
            s(&x),
            "--labels",
            s(&y),
            "--memory-budget",
            "20GiB",
            "--batch-size",
            "full",
        ],
        &["--batch-size full"],
    );
}

/// A `.npy` or `.npz` that cannot be streamed (here deflated by
/// `numpy.savez_compressed`) is loaded whole, and the run says so and why
/// instead of passing over --memory-budget in silence.
#[test]
fn data_that_cannot_stream_says_it_is_loaded_whole() {
    let dir = TempDir::new().unwrap();
    let x: Vec<u8> = (0..40)
        .flat_map(|i| (i as f32 * 0.1 - 2.0).to_le_bytes())
        .collect();
    let y: Vec<u8> = (0..20)
        .flat_map(|i| i64::from(i >= 10).to_le_bytes())
        .collect();
    let archive = write(
        &dir,
        "data.npz",
        npz(
            &[
                ("x", npy("<f4", &[20, 2], &x)),
                ("y", npy("<i8", &[20], &y)),
            ],
            CompressionMethod::Deflated,
        ),
    );
    let run = succeed(&[
        "train",
        "--data",
        s(&archive),
        "--memory-budget",
        "64",
        "--epochs",
        "1",
    ]);
    assert!(
        run.stderr.contains("loaded whole") && run.stderr.contains("compressed"),
        "{}",
        run.stderr
    );
}
