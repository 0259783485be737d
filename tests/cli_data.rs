//! The binary on data as users have it (issue 11, §8): `--header`,
//! `--delimiter`, `--x-key`/`--y-key`, gzip and `.npz` input, and the
//! errors for a `--test` file of the wrong width and for missing labels.

mod common;

use common::cli::*;
use common::files::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;
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
