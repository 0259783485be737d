//! The binary on data as users have it (issue 11, §8): `--header`,
//! `--delimiter`, `--x-key`/`--y-key`, gzip and `.npz` input, and the
//! errors for a `--test` file of the wrong width and for missing labels;
//! and on hostile input: FIFOs, labels that are not classes, a table too
//! big for the memory.

mod common;

use common::cli::*;
use common::files::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use zip::CompressionMethod;

/// Two well-separated classes in three features, row by row.
fn rows() -> Vec<([f32; 3], &'static str)> {
    (0..24)
        .map(|i| {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            let jitter = (i as f32) * 0.01;
            (
                [sign * 2.0 + jitter, sign * 1.5 - jitter, jitter],
                if i % 2 == 0 { "malignant" } else { "benign" },
            )
        })
        .collect()
}

fn train(data: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--epochs",
        "3",
        "--backend",
        "cpu",
    ];
    args.extend(extra);
    succeed(&args)
}

fn features_npy() -> Vec<u8> {
    let values: Vec<u8> = rows()
        .iter()
        .flat_map(|(x, _)| x.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    npy("<f4", &[rows().len(), 3], &values)
}

fn labels_npy() -> Vec<u8> {
    let values: Vec<u8> = rows()
        .iter()
        .flat_map(|(_, y)| i64::from(*y == "malignant").to_le_bytes())
        .collect();
    npy("<i8", &[rows().len()], &values)
}

#[test]
fn pandas_header_gives_the_classes_without_label() {
    let dir = TempDir::new().unwrap();
    let mut csv = String::from("0,1,2,label\n");
    for (x, y) in rows() {
        csv.push_str(&format!("{},{},{},{y}\n", x[0], x[1], x[2]));
    }
    let path = write(&dir, "cancer.csv", csv);
    let run = train(&path, &[]);
    assert!(
        run.stderr.contains("2 classes: benign, malignant"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains("label, malignant"),
        "{}",
        run.describe()
    );

    // --header no reads the header row as data: its label becomes a class.
    let run = train(&path, &["--header", "no"]);
    assert!(
        run.stderr.contains("3 classes: benign, label, malignant"),
        "{}",
        run.describe()
    );
}

#[test]
fn whitespace_text_and_the_delimiter_flag() {
    let dir = TempDir::new().unwrap();
    let mut spaced = String::new();
    let mut piped = String::new();
    for (x, y) in rows() {
        let label = f32::from(y == "malignant");
        spaced.push_str(&format!(
            "{:.18e} {:.18e} {:.18e} {label:.18e}\n",
            x[0], x[1], x[2]
        ));
        piped.push_str(&format!("{}|{}|{}|{y}\n", x[0], x[1], x[2]));
    }
    let spaced = write(&dir, "savetxt.txt", spaced);
    let model = dir.path().join("model.safetensors");
    let run = train(&spaced, &["--save", s(&model)]);
    assert!(run.stderr.contains("2 classes: 0, 1"), "{}", run.describe());

    let piped = write(&dir, "piped.csv", piped);
    fail_with(
        &[
            "train",
            "--data",
            s(&piped),
            "--epochs",
            "1",
            "--backend",
            "cpu",
        ],
        &[s(&piped)],
    );
    train(&piped, &["--delimiter", "|"]);
    fail_with(
        &["train", "--data", s(&piped), "--delimiter", "ab"],
        &["delimiter"],
    );

    // eval and predict take the flags too.
    let eval = succeed(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&spaced),
        "--delimiter",
        "space",
        "--json",
    ]);
    assert!(eval.stdout.contains("\"accuracy\""), "{}", eval.describe());
    let unlabelled = write(&dir, "unlabelled.txt", "1|2|3\n-1|-2|-3\n");
    let predict = succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&unlabelled),
        "--delimiter",
        "|",
        "--header",
        "no",
    ]);
    assert_eq!(predict.stdout.lines().count(), 2, "{}", predict.describe());
}

#[test]
fn gzip_and_npz_data() {
    let dir = TempDir::new().unwrap();
    let mut csv = String::from("a,b,c,y\n");
    for (x, y) in rows() {
        csv.push_str(&format!("{},{},{},{y}\n", x[0], x[1], x[2]));
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(csv.as_bytes()).unwrap();
    let gz = write(&dir, "data.csv.gz", encoder.finish().unwrap());
    let run = train(&gz, &[]);
    assert!(
        run.stderr.contains("benign, malignant"),
        "{}",
        run.describe()
    );

    let pair = write(
        &dir,
        "pair.npz",
        npz(
            &[("X", features_npy()), ("y", labels_npy())],
            CompressionMethod::Deflated,
        ),
    );
    train(&pair, &[]);

    let three = write(
        &dir,
        "three.npz",
        npz(
            &[
                ("emb", features_npy()),
                ("target", labels_npy()),
                ("ids", labels_npy()),
            ],
            CompressionMethod::Deflated,
        ),
    );
    fail_with(
        &["train", "--data", s(&three), "--backend", "cpu"],
        &[s(&three), "--x-key", "--y-key"],
    );
    let model = dir.path().join("m.safetensors");
    train(
        &three,
        &["--x-key", "emb", "--y-key", "target", "--save", s(&model)],
    );
    let predict = succeed(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&three),
        "--x-key",
        "emb",
    ]);
    assert_eq!(predict.stdout.lines().count(), rows().len());
}

#[test]
fn a_test_file_one_feature_short_says_the_feature_counts_differ() {
    let dir = TempDir::new().unwrap();
    let mut train_csv = String::from("a,b,c,label\n");
    let mut test_csv = String::from("a,b,label\n");
    for (x, y) in rows() {
        train_csv.push_str(&format!("{},{},{},{y}\n", x[0], x[1], x[2]));
        test_csv.push_str(&format!("{},{},{y}\n", x[0], x[1]));
    }
    let train_csv = write(&dir, "train.csv", train_csv);
    let test_csv = write(&dir, "test.csv", test_csv);
    fail_with(
        &[
            "train",
            "--data",
            s(&train_csv),
            "--test",
            s(&test_csv),
            "--epochs",
            "1",
            "--backend",
            "cpu",
        ],
        &[
            s(&test_csv),
            "feature counts differ",
            "model has 3 features",
        ],
    );
}

#[test]
fn missing_labels_name_the_flag_and_devices_are_refused() {
    let dir = TempDir::new().unwrap();
    let x = write(&dir, "x.npy", features_npy());
    fail_with(
        &["train", "--data", s(&x), "--backend", "cpu"],
        &[s(&x), "no labels", "--labels"],
    );
    #[cfg(unix)]
    fail_with(
        &["train", "--data", s(&x), "--labels", "/dev/zero"],
        &["/dev/zero", "not a regular file"],
    );
    let y = write(&dir, "y.npy", labels_npy());
    train(&x, &["--labels", s(&y)]);
}

/// Runs the binary (quietly) with a deadline, and checks the contract for
/// bad input: exit 1, one `lintrain: error:` line naming each fragment.
/// Bad input must end a run quickly: a FIFO opened for reading blocks
/// until a writer comes, so a reader that opens one hangs for ever.
fn fails_within(seconds: u64, args: &[&str], fragments: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lintrain"))
        .arg("--quiet")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lintrain binary runs");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("lintrain {args:?} still ran after {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, Some(1), "lintrain {args:?}: {}", run.describe());
    let stderr = run.stderr.trim_end();
    assert!(
        stderr.lines().count() == 1 && stderr.starts_with("lintrain: error: "),
        "lintrain {args:?}: {}",
        run.describe()
    );
    for fragment in fragments {
        assert!(stderr.contains(fragment), "lintrain {args:?}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn fifo_inputs_are_refused_without_blocking() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("f.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let f = s(&fifo);
    let mut csv = String::from("a,b,c,label\n");
    for (x, y) in rows() {
        csv.push_str(&format!("{},{},{},{y}\n", x[0], x[1], x[2]));
    }
    let data = write(&dir, "g.csv", csv);
    let g = s(&data);
    let model = dir.path().join("m.safetensors");
    train(&data, &["--save", s(&model)]);
    let m = s(&model);
    let features = write(&dir, "x.npy", features_npy());
    let x = s(&features);
    let refused = [f, "not a regular file (a FIFO or pipe)"];
    let cpu = ["--backend", "cpu", "--epochs", "1"];
    for args in [
        vec!["train", "--data", f],
        vec!["train", "--data", g, "--test", f],
        vec!["train", "--data", x, "--labels", f],
        vec!["train", "--data", g, "--class-weight", f],
        vec!["train", "--data", g, "--resume", f],
    ] {
        let args: Vec<&str> = args.iter().chain(&cpu).copied().collect();
        fails_within(10, &args, &refused);
    }
    fails_within(10, &["gradcheck", "--data", f], &refused);
    fails_within(10, &["eval", "--model", f, "--data", g], &refused);
    fails_within(
        10,
        &["eval", "--model", m, "--data", x, "--labels", f],
        &refused,
    );
    fails_within(10, &["predict", "--model", f, "--data", g], &refused);
    fails_within(10, &["predict", "--model", m, "--data", f], &refused);

    // MNIST images whose label file next to them is a FIFO: it is not a
    // label file, and looking for one does not open it.
    let mut images = vec![0, 0, 8, 3];
    for dim in [2u32, 1, 2] {
        images.extend(dim.to_be_bytes());
    }
    images.extend([0, 255, 255, 0]);
    let images = write(&dir, "train-images-idx3-ubyte", images);
    let labels = dir.path().join("train-labels-idx1-ubyte");
    assert!(
        Command::new("mkfifo")
            .arg(&labels)
            .status()
            .unwrap()
            .success()
    );
    fails_within(
        10,
        &["train", "--data", s(&images), "--backend", "cpu"],
        &[s(&images), "no IDX label file found"],
    );
}

#[test]
fn labels_that_are_not_classes_are_refused() {
    let dir = TempDir::new().unwrap();
    let cpu = ["--backend", "cpu", "--epochs", "1"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(&cpu)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    let fail = |args: &[&str], fragments: &[&str]| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fail_with(&args, fragments);
    };
    for bad in ["nan", "inf", "0.5", "1e400"] {
        let path = write(
            &dir,
            "bad.csv",
            format!("a,b,label\n1,2,{bad}\n3,4,1\n5,6,0\n"),
        );
        fail(
            &["train", "--data", s(&path)],
            &[
                "bad.csv, line 2, column 3",
                &format!("label {bad:?} is not a whole number"),
                "the other labels are integers",
            ],
        );
    }

    let x = write(&dir, "X.npy", npy("<f4", &[4, 2], &f32_bytes(&[0.5; 8])));
    let nan = write(&dir, "y.txt", "nan\n1\n0\n1\n");
    fail(
        &["train", "--data", s(&x), "--labels", s(&nan)],
        &["y.txt, line 1", "\"nan\" is not a whole number"],
    );
    // pandas' to_csv header: skipped, so three labels for four rows.
    let header = write(&dir, "yh.txt", "label\n0\n1\n0\n");
    fail(
        &["train", "--data", s(&x), "--labels", s(&header)],
        &["yh.txt", "has 3 labels", "4 rows"],
    );
    let header = write(&dir, "yh4.txt", "label\n0\n1\n0\n1\n");
    let run = succeed(
        &with(&["train", "--data", s(&x), "--labels", s(&header)])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(run.stderr.contains("2 classes: 0, 1"), "{}", run.describe());

    let dup = write(&dir, "dup.csv", "label,a,label\n1,2,0\n3,4,1\n5,6,0\n");
    fail(
        &["train", "--data", s(&dup), "--label", "label"],
        &[
            "dup.csv",
            "appears in columns 1 and 3",
            "--label as a 0-based index",
        ],
    );

    // An explicit label column for predict must be in the file.
    let four = write(
        &dir,
        "g.csv",
        "a,b,c,d,label\n1,2,3,4,0\n3,4,5,6,1\n5,6,7,8,2\n7,1,1,1,0\n",
    );
    let model = dir.path().join("m.safetensors");
    succeed(
        &with(&["train", "--data", s(&four), "--save", s(&model)])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let unlabelled = write(&dir, "u.csv", "a,b,c,d\n1,2,3,4\n");
    let predict = ["predict", "--model", s(&model), "--data", s(&unlabelled)];
    succeed(&predict);
    let mut bad_index = predict.to_vec();
    bad_index.extend(["--label", "9"]);
    fail_with(
        &bad_index,
        &["u.csv", "label column index 9 is out of range"],
    );

    // Keys of an .npz archive for a CSV file.
    fail(
        &["train", "--data", s(&four), "--x-key", "X"],
        &["g.csv", "--x-key \"X\"", ".npz archive"],
    );
}

#[test]
fn messages_for_an_impossible_shape_and_a_wrong_delimiter() {
    let dir = TempDir::new().unwrap();
    let z = write(&dir, "z.npy", npy("<f4", &[0, usize::MAX], &[]));
    let y = write(&dir, "y.txt", "0\n1\n");
    fail_with(
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            s(&z),
            "--labels",
            s(&y),
        ],
        &["z.npy", "dimension 1", "18446744073709551615", "limit"],
    );
    let g = write(&dir, "g.csv", "a,b,label\n1,2,0\n3,4,1\n");
    let run = fail_with(
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            s(&g),
            "--delimiter",
            ";",
        ],
        &["g.csv", "--delimiter ';'", "one field", "check --delimiter"],
    );
    assert!(!run.stderr.contains("0 features"), "{}", run.describe());
}

/// A table whose f32 values the memory cannot hold is refused with an
/// error naming the file and the size, not aborted: here a 128 MiB
/// boolean `.npy` (a sparse file) whose 512 MiB of f32 values do not fit
/// a 512 MiB address space.
#[cfg(target_os = "linux")]
#[test]
fn a_table_too_big_for_the_memory_is_an_error_not_an_abort() {
    let dir = TempDir::new().unwrap();
    let (rows, cols) = (8192usize, 16384usize);
    let header = npy("|b1", &[rows, cols], &[]);
    let path = write(&dir, "big.npy", &header);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((header.len() + rows * cols) as u64).unwrap();
    drop(file);
    // One label per row: the labels are read (and checked) before the
    // table is allocated.
    let y = write(&dir, "y.txt", "0\n1\n".repeat(rows / 2));
    let script = "ulimit -v 524288 && exec \"$0\" \"$@\"";
    let output = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_lintrain")])
        .args([
            "-q",
            "train",
            "--backend",
            "cpu",
            "--data",
            s(&path),
            "--labels",
            s(&y),
        ])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.trim_end().lines().count() == 1
            && stderr.starts_with("lintrain: error: ")
            && stderr.contains("big.npy")
            && stderr.contains(&format!("cannot allocate {} bytes", 4 * rows * cols)),
        "{stderr}"
    );
}
