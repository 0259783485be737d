//! Data loaders on files written into temporary directories: CSV/TSV, NumPy
//! `.npy`, MNIST IDX, CIFAR-10 batches, labels files, the class map and the
//! standardizer.

mod common;

use common::files::*;
use lintrain::Error;
use lintrain::data::{ClassMap, LabelColumn, LoadOptions, Standardizer, load_table, load_tables};
use lintrain::dataset::feature_moments;
use ndarray::{Array2, array};
use std::path::Path;
use tempfile::TempDir;

fn with_label(label: LabelColumn) -> LoadOptions {
    LoadOptions {
        label,
        ..LoadOptions::default()
    }
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_with_header_and_string_labels() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "iris.csv",
        "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n",
    );
    let table = load(&path).unwrap();
    assert_eq!(table.feature_names, ["sepal", "petal"]);
    assert_eq!(
        table.features,
        array![[5.1f32, 1.4], [7.0, 4.7], [6.3, 6.0], [4.9, 1.4]]
    );
    let labels = table.labels.unwrap();
    assert_eq!(
        labels,
        strs(&["setosa", "versicolor", "virginica", "setosa"])
    );
    let classes = ClassMap::fit(&labels);
    assert_eq!(classes.names(), ["setosa", "versicolor", "virginica"]);
    let ids = classes.encode(&labels).unwrap();
    assert_eq!(ids, [0, 1, 2, 0]);
    let decoded: Vec<&str> = ids.iter().map(|&id| classes.name(id)).collect();
    assert_eq!(decoded, ["setosa", "versicolor", "virginica", "setosa"]);
}

#[test]
fn csv_without_header_gets_numbered_feature_names() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "plain.csv", "1,2,3,0\n4,5,6,1\n");
    let table = load(&path).unwrap();
    assert_eq!(table.feature_names, ["x0", "x1", "x2"]);
    assert_eq!(table.features, array![[1f32, 2., 3.], [4., 5., 6.]]);
    assert_eq!(table.labels, Some(ints(&[0, 1])));
}

#[test]
fn csv_label_by_name_and_by_index() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "named.csv", "class,a,b\n2,0.5,1.5\n1,2.5,3.5\n");
    let by_name = load_table(&path, &with_label("class".parse().unwrap())).unwrap();
    let by_index = load_table(&path, &with_label("0".parse().unwrap())).unwrap();
    assert_eq!(by_name, by_index);
    assert_eq!(by_name.feature_names, ["a", "b"]);
    assert_eq!(by_name.features, array![[0.5f32, 1.5], [2.5, 3.5]]);
    assert_eq!(by_name.labels, Some(ints(&[2, 1])));

    let middle = load_table(&path, &with_label(LabelColumn::Index(1))).unwrap();
    assert_eq!(middle.feature_names, ["class", "b"]);
    assert_eq!(middle.features, array![[2f32, 1.5], [1., 3.5]]);
    assert_eq!(middle.labels, Some(strs(&["0.5", "2.5"])));
}

#[test]
fn label_column_parses_digits_as_index_else_name() {
    assert_eq!("3".parse::<LabelColumn>().unwrap(), LabelColumn::Index(3));
    assert_eq!(
        "label".parse::<LabelColumn>().unwrap(),
        LabelColumn::Name("label".into())
    );
    assert_eq!(
        "x1".parse::<LabelColumn>().unwrap(),
        LabelColumn::Name("x1".into())
    );
    assert!("".parse::<LabelColumn>().is_err());
    assert_eq!(LabelColumn::default(), LabelColumn::Last);
}

#[test]
fn integer_labels_sort_numerically() {
    let dir = TempDir::new().unwrap();
    let rows: String = [10, 9, 2, 10, 100]
        .iter()
        .enumerate()
        .map(|(i, label)| format!("{i}.5,{label}\n"))
        .collect();
    let path = write(&dir, "ints.csv", rows);
    let labels = load(&path).unwrap().labels.unwrap();
    let classes = ClassMap::fit(&labels);
    assert_eq!(classes.names(), ["2", "9", "10", "100"]);
    assert_eq!(classes.encode(&labels).unwrap(), [2, 1, 0, 2, 3]);
}

#[test]
fn unknown_label_names_row_label_and_classes() {
    let classes = ClassMap::from_names(vec!["cat".into(), "dog".into()]);
    let labels = strs(&["dog", "cat", "bird"]);
    let error = classes.encode(&labels).unwrap_err();
    match &error {
        Error::UnknownLabel { row, label, .. } => {
            assert_eq!((*row, label.as_str()), (3, "bird"));
        }
        other => panic!("expected UnknownLabel, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("\"cat\", \"dog\""), "{message}");
}

#[test]
fn long_csv_keeps_row_order_and_reports_the_first_bad_row() {
    let dir = TempDir::new().unwrap();
    let rows = 5000;
    let mut lines: Vec<String> = (0..rows)
        .map(|i| format!("{},{},{}", i, i as f32 * 0.5, i % 3))
        .collect();
    let path = write(&dir, "long.csv", lines.join("\n"));
    let table = load(&path).unwrap();
    assert_eq!(table.features.dim(), (rows, 2));
    for i in [0, 2047, 2048, 4095, 4999] {
        assert_eq!(table.features[(i, 0)], i as f32);
        assert_eq!(table.features[(i, 1)], i as f32 * 0.5);
    }
    let labels = table.labels.unwrap();
    assert_eq!(labels.text(4999).as_deref(), Some("1"));

    // Two bad rows far apart, the later one ragged: the earlier is named.
    lines[4500] = "1,2".into();
    lines[3000] = "1,x,2".into();
    let path = write(&dir, "bad_long.csv", lines.join("\n"));
    let (line, column, _) = parse_error(load(&path));
    assert_eq!((line, column), (3001, 2));
}

#[test]
fn tab_separated_files() {
    let dir = TempDir::new().unwrap();
    let content = "a\tb\ty\n1.5\t-2\tno\n3\t4e-1\tyes\n";
    for name in ["data.tsv", "data.txt"] {
        let table = load(&write(&dir, name, content)).unwrap();
        assert_eq!(table.feature_names, ["a", "b"]);
        assert_eq!(table.features, array![[1.5f32, -2.], [3., 0.4]]);
        assert_eq!(table.labels, Some(strs(&["no", "yes"])));
    }
}

#[test]
fn semicolons_spaces_and_blank_lines() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "semi.csv", "\u{feff}1; 2;0\n\n3 ;4; 1\n");
    let table = load(&path).unwrap();
    assert_eq!(table.features, array![[1f32, 2.], [3., 4.]]);
    assert_eq!(table.labels, Some(ints(&[0, 1])));
}

#[test]
fn ragged_line_is_named() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "ragged.csv", "a,b,y\n1,2,0\n3,4,1\n5,1\n");
    let (line, _, reason) = parse_error(load(&path));
    assert_eq!(line, 4);
    assert!(reason.contains("2 fields, expected 3"), "{reason}");
    message_naming(load(&path), &path);
}

#[test]
fn non_numeric_cell_names_line_and_column() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "bad.csv", "a,b,y\n1,2,0\n3,four,1\n");
    let (line, column, reason) = parse_error(load(&path));
    assert_eq!((line, column), (3, 2));
    assert!(
        reason.contains("\"four\"") && reason.contains("\"b\""),
        "{reason}"
    );
    let message = message_naming(load(&path), &path);
    assert!(message.contains("line 3, column 2"), "{message}");
}

#[test]
fn non_finite_and_empty_cells_are_errors() {
    let dir = TempDir::new().unwrap();
    for (name, content, line, column) in [
        ("nan.csv", "1,2,0\n3,NaN,1\n", 2, 2),
        ("nan_lower.csv", "1,nan,0\n3,2,1\n", 1, 2),
        ("inf.csv", "1,2,0\n3,4,1\n-inf,1,0\n", 3, 1),
        ("empty_cell.csv", "1,2,0\n,4,1\n", 2, 1),
    ] {
        let path = write(&dir, name, content);
        let (got_line, got_column, reason) = parse_error(load(&path));
        assert_eq!((got_line, got_column), (line, column), "{name}: {reason}");
    }
}

#[test]
fn unknown_label_column_lists_header() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "h.csv", "alpha,beta,gamma\n1,2,3\n");
    let message = message_naming(
        load_table(&path, &with_label(LabelColumn::Name("delta".into()))),
        &path,
    );
    assert!(
        message.contains("\"alpha\", \"beta\", \"gamma\""),
        "{message}"
    );

    let message = message_naming(load_table(&path, &with_label(LabelColumn::Index(3))), &path);
    assert!(message.contains("out of range"), "{message}");

    let no_header = write(&dir, "n.csv", "1,2,3\n4,5,6\n");
    let message = message_naming(
        load_table(&no_header, &with_label(LabelColumn::Name("gamma".into()))),
        &no_header,
    );
    assert!(message.contains("no header"), "{message}");
}

#[test]
fn empty_and_header_only_files() {
    let dir = TempDir::new().unwrap();
    for (name, content) in [("empty.csv", ""), ("header.csv", "a,b,label\n")] {
        let path = write(&dir, name, content);
        match load(&path) {
            Err(error @ Error::EmptyData(_)) => {
                assert!(error.to_string().contains(name), "{error}")
            }
            other => panic!("{name}: expected EmptyData, got {other:?}"),
        }
    }
}

#[test]
fn missing_file_reports_os_reason() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("absent.csv");
    match load(&path) {
        Err(error @ Error::File { .. }) => {
            let Error::File {
                path: p, reason, ..
            } = &error
            else {
                unreachable!()
            };
            assert_eq!(p, &path);
            assert!(!reason.is_empty());
            // The OS error stays the source, for callers to match on.
            assert_eq!(error.io_kind(), Some(std::io::ErrorKind::NotFound));
            assert!(std::error::Error::source(&error).is_some());
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn expected_features_drop_or_keep_the_label_column() {
    let dir = TempDir::new().unwrap();
    let with_labels = write(&dir, "l.csv", "a,b,y\n1,2,x\n3,4,z\n");
    let without = write(&dir, "u.csv", "a,b\n1,2\n3,4\n");
    let predict = LoadOptions {
        labels_required: false,
        expected_features: Some(2),
        ..LoadOptions::default()
    };
    let labelled = load_table(&with_labels, &predict).unwrap();
    assert_eq!(labelled.features, array![[1f32, 2.], [3., 4.]]);
    assert_eq!(labelled.labels, Some(strs(&["x", "z"])));
    let unlabelled = load_table(&without, &predict).unwrap();
    assert_eq!(unlabelled.features, labelled.features);
    assert_eq!(unlabelled.labels, None);

    let label_first = write(&dir, "f.csv", "y,a,b\n0,1,2\n1,3,4\n");
    let first_column = LoadOptions {
        label: LabelColumn::Index(0),
        ..predict.clone()
    };
    let table = load_table(&label_first, &first_column).unwrap();
    assert_eq!(table.feature_names, ["a", "b"]);
    assert_eq!(table.features, labelled.features);
    assert_eq!(table.labels, Some(ints(&[0, 1])));

    let eval = LoadOptions {
        labels_required: true,
        ..predict.clone()
    };
    let message = message_naming(load_table(&without, &eval), &without);
    assert!(
        message.contains("feature counts differ") && message.contains("3 columns"),
        "{message}"
    );

    let three = LoadOptions {
        expected_features: Some(3),
        ..predict
    };
    let message = message_naming(load_table(&without, &three), &without);
    assert!(message.contains("model has 3 features"), "{message}");
}

// ---------------------------------------------------------------- NumPy

fn with_labels_file(path: &Path) -> LoadOptions {
    LoadOptions {
        labels_file: Some(path.to_path_buf()),
        ..LoadOptions::default()
    }
}

#[test]
fn npy_f32_and_f64_round_trip_with_npy_labels() {
    let dir = TempDir::new().unwrap();
    let expected = Array2::from_shape_fn((3, 4), |(i, j)| i as f32 * 10.0 - j as f32 * 0.25);
    let values: Vec<f32> = expected.iter().copied().collect();
    let labels = write(
        &dir,
        "y.npy",
        npy_file("<i8", &[3], false, &i64_bytes(&[7, -1, 7]), 1),
    );
    let options = with_labels_file(&labels);

    let f4 = write(
        &dir,
        "x4.npy",
        npy_file("<f4", &[3, 4], false, &f32_bytes(&values), 1),
    );
    let table = load_table(&f4, &options).unwrap();
    assert_eq!(table.features, expected);
    assert_eq!(table.feature_names, ["x0", "x1", "x2", "x3"]);
    assert_eq!(table.labels, Some(ints(&[7, -1, 7])));

    let doubles: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let f8 = write(
        &dir,
        "x8.npy",
        npy_file("<f8", &[3, 4], false, &f64_bytes(&doubles), 2),
    );
    assert_eq!(load_table(&f8, &options).unwrap(), table);

    // Fortran order stores columns one after another.
    let by_column: Vec<f32> = expected.t().iter().copied().collect();
    let fortran = write(
        &dir,
        "xf.npy",
        npy_file("<f4", &[3, 4], true, &f32_bytes(&by_column), 1),
    );
    assert_eq!(load_table(&fortran, &options).unwrap().features, expected);

    let bytes: Vec<u8> = values.iter().map(|&v| v.abs() as u8).collect();
    let u1 = write(&dir, "xu.npy", npy_file("|u1", &[3, 4], false, &bytes, 1));
    assert_eq!(
        load_table(&u1, &options).unwrap().features,
        expected.mapv(|v| v.abs().trunc())
    );
}

#[test]
fn npy_with_text_labels_file() {
    let dir = TempDir::new().unwrap();
    let x = write(
        &dir,
        "x.npy",
        npy_file("<f4", &[2, 1], false, &f32_bytes(&[0.5, 1.5]), 1),
    );
    let labels = write(&dir, "labels.txt", "spam\nham\n\n");
    let table = load_table(&x, &with_labels_file(&labels)).unwrap();
    assert_eq!(table.features, array![[0.5f32], [1.5]]);
    assert_eq!(table.labels, Some(strs(&["spam", "ham"])));
}

#[test]
fn npy_labels_are_required_unless_predicting() {
    let dir = TempDir::new().unwrap();
    let x = write(
        &dir,
        "x.npy",
        npy_file("<f4", &[2, 1], false, &f32_bytes(&[0.5, 1.5]), 1),
    );
    let message = message_naming(load(&x), &x);
    assert!(message.contains("no labels"), "{message}");
    let predict = LoadOptions {
        labels_required: false,
        ..LoadOptions::default()
    };
    assert_eq!(load_table(&x, &predict).unwrap().labels, None);
}

#[test]
fn npy_label_count_must_match_rows() {
    let dir = TempDir::new().unwrap();
    let x = write(
        &dir,
        "x.npy",
        npy_file("<f4", &[2, 1], false, &f32_bytes(&[0.5, 1.5]), 1),
    );
    let labels = write(&dir, "y.txt", "1\n2\n3\n");
    let message = message_naming(load_table(&x, &with_labels_file(&labels)), &labels);
    assert!(
        message.contains("3 labels") && message.contains("2 rows"),
        "{message}"
    );
}

#[test]
fn npy_bad_files_are_errors() {
    let dir = TempDir::new().unwrap();
    let bad_magic = write(&dir, "bad.npy", b"NUMPY\x01\x00garbage");
    let message = message_naming(load(&bad_magic), &bad_magic);
    assert!(message.contains("bad magic"), "{message}");

    let mut short = npy_file("<f4", &[2, 2], false, &f32_bytes(&[1.0, 2.0, 3.0, 4.0]), 1);
    short.truncate(short.len() - 3);
    let truncated = write(&dir, "short.npy", short);
    let message = message_naming(load(&truncated), &truncated);
    assert!(message.contains("truncated"), "{message}");

    let one_d = write(
        &dir,
        "flat.npy",
        npy_file("<f4", &[2], false, &f32_bytes(&[1.0, 2.0]), 1),
    );
    let message = message_naming(load(&one_d), &one_d);
    assert!(message.contains("1-D"), "{message}");

    let complex = write(&dir, "c.npy", npy_file("<c8", &[1, 1], false, &[0; 8], 1));
    let message = message_naming(load(&complex), &complex);
    assert!(message.contains("\"<c8\""), "{message}");

    let nan = write(
        &dir,
        "nan.npy",
        npy_file(
            "<f4",
            &[2, 2],
            false,
            &f32_bytes(&[1.0, 2.0, f32::NAN, 4.0]),
            1,
        ),
    );
    let message = message_naming(load(&nan), &nan);
    assert!(message.contains("row 1, column 0"), "{message}");

    let x = write(
        &dir,
        "x.npy",
        npy_file("<f4", &[1, 1], false, &f32_bytes(&[1.0]), 1),
    );
    let float_labels = write(
        &dir,
        "fl.npy",
        npy_file("<f4", &[1], false, &f32_bytes(&[0.5]), 1),
    );
    let message = message_naming(
        load_table(&x, &with_labels_file(&float_labels)),
        &float_labels,
    );
    assert!(message.contains("whole number"), "{message}");
}

// ---------------------------------------------------------------- IDX

fn idx_images(images: &[[u8; 6]]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for dim in [images.len() as u32, 2, 3] {
        bytes.extend(dim.to_be_bytes());
    }
    for image in images {
        bytes.extend(image);
    }
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend((labels.len() as u32).to_be_bytes());
    bytes.extend(labels);
    bytes
}

const IMAGES: [[u8; 6]; 3] = [
    [0, 1, 2, 3, 4, 5],
    [255, 0, 255, 0, 255, 0],
    [9, 9, 9, 9, 9, 7],
];

fn expected_pixels() -> Array2<f32> {
    Array2::from_shape_fn((3, 6), |(i, j)| IMAGES[i][j] as f32)
}

#[test]
fn idx_with_explicit_labels_file() {
    let dir = TempDir::new().unwrap();
    let images = write(&dir, "digits.idx3", idx_images(&IMAGES));
    let labels = write(&dir, "digits-y.idx1", idx_labels(&[3, 1, 4]));
    let table = load_table(&images, &with_labels_file(&labels)).unwrap();
    assert_eq!(table.features, expected_pixels());
    assert_eq!(table.feature_names.len(), 6);
    assert_eq!(table.feature_names[5], "p5");
    assert_eq!(table.labels, Some(ints(&[3, 1, 4])));
}

#[test]
fn idx_finds_labels_by_standard_names() {
    for (images_name, labels_name) in [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"),
        ("t10k-images.idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ] {
        let dir = TempDir::new().unwrap();
        let images = write(&dir, images_name, idx_images(&IMAGES));
        write(&dir, labels_name, idx_labels(&[0, 9, 5]));
        let table = load(&images).unwrap();
        assert_eq!(table.features, expected_pixels());
        assert_eq!(table.labels, Some(ints(&[0, 9, 5])), "{labels_name}");
    }
}

#[test]
fn idx_without_labels_file_names_what_was_looked_for() {
    let dir = TempDir::new().unwrap();
    let images = write(&dir, "train-images-idx3-ubyte", idx_images(&IMAGES));
    let message = message_naming(load(&images), &images);
    assert!(message.contains("train-labels-idx1-ubyte"), "{message}");
    let predict = LoadOptions {
        labels_required: false,
        ..LoadOptions::default()
    };
    assert_eq!(load_table(&images, &predict).unwrap().labels, None);
}

#[test]
fn idx_bad_magic_and_truncation() {
    let dir = TempDir::new().unwrap();
    let mut wrong = idx_images(&IMAGES);
    wrong[3] = 4;
    let bad = write(&dir, "x-images-idx3-ubyte", wrong);
    let message = message_naming(load(&bad), &bad);
    assert!(message.contains("bad magic"), "{message}");

    let mut short = idx_images(&IMAGES);
    short.pop();
    let truncated = write(&dir, "short-images-idx3-ubyte", short);
    write(&dir, "short-labels-idx1-ubyte", idx_labels(&[1, 2, 3]));
    let message = message_naming(load(&truncated), &truncated);
    assert!(message.contains("truncated"), "{message}");

    let images = write(&dir, "ok-images-idx3-ubyte", idx_images(&IMAGES));
    let labels = write(&dir, "ok-labels-idx1-ubyte", idx_labels(&[1, 2]));
    let message = message_naming(load(&images), &labels);
    assert!(message.contains("2 labels"), "{message}");

    let labels_as_data = write(&dir, "y-labels-idx1-ubyte", idx_labels(&[1]));
    let message = message_naming(load(&labels_as_data), &labels_as_data);
    assert!(message.contains("label file"), "{message}");
}

// ---------------------------------------------------------------- CIFAR-10

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut record = vec![label];
    record.extend((0..3072u32).map(|i| (i as u8).wrapping_mul(seed)));
    record
}

#[test]
fn cifar_batch_loads_labels_and_planes() {
    let dir = TempDir::new().unwrap();
    let mut bytes = cifar_record(7, 3);
    bytes.extend(cifar_record(0, 5));
    let path = write(&dir, "data_batch_1.bin", &bytes);
    let table = load(&path).unwrap();
    assert_eq!(table.features.dim(), (2, 3072));
    assert_eq!(table.labels, Some(ints(&[7, 0])));
    for (row, seed) in [(0, 3u8), (1, 5)] {
        for column in [0, 1, 1023, 1024, 3071] {
            let pixel = (column as u32 as u8).wrapping_mul(seed) as f32;
            assert_eq!(
                table.features[(row, column)],
                pixel,
                "row {row}, column {column}"
            );
        }
    }
    assert_eq!(table.feature_names[0], "r0");
    assert_eq!(table.feature_names[1024], "g0");
    assert_eq!(table.feature_names[3071], "b1023");

    let second = write(&dir, "test_batch.bin", cifar_record(9, 1));
    let both = load_tables(&[path.clone(), second], &LoadOptions::default()).unwrap();
    assert_eq!(both.features.nrows(), 3);
    assert_eq!(both.labels, Some(ints(&[7, 0, 9])));
}

#[test]
fn stacked_text_files_decide_their_labels_as_one_column() {
    let dir = TempDir::new().unwrap();
    let a = write(&dir, "a.csv", "x,label\n1,0\n2,1\n");
    let b = write(&dir, "b.csv", "x,label\n3,1.0\n4,2\n");
    let names = write(&dir, "n.csv", "x,label\n5,dog\n");
    let halves = write(&dir, "h.csv", "x,label\n6,0.5\n7,2.5\n");
    let options = LoadOptions::default();
    let table = load_tables(&[a.clone(), b.clone()], &options).unwrap();
    assert_eq!(table.features, array![[1f32], [2.], [3.], [4.]]);
    assert_eq!(table.labels, Some(ints(&[0, 1, 1, 2])));
    // Integers beside names: names, as one file of them would be.
    let table = load_tables(&[a.clone(), names], &options).unwrap();
    assert_eq!(table.labels, Some(strs(&["0", "1", "dog"])));
    // Fractions alone are names, beside integers an error naming the file
    // and row they are in.
    let message = message_naming(load_tables(&[a, b, halves.clone()], &options), &halves);
    assert!(
        message.contains("data row 1") && message.contains("\"0.5\" is not a whole number"),
        "{message}"
    );
}

#[test]
fn cifar_wrong_size_or_label_is_an_error() {
    let dir = TempDir::new().unwrap();
    let mut bytes = cifar_record(1, 1);
    bytes.pop();
    let path = write(&dir, "data_batch_2.bin", bytes);
    let message = message_naming(load(&path), &path);
    assert!(message.contains("3073"), "{message}");

    let path = write(&dir, "data_batch_3.bin", cifar_record(10, 1));
    let message = message_naming(load(&path), &path);
    assert!(message.contains("label 10"), "{message}");
}

#[test]
fn unknown_format_lists_supported_ones() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "data.parquet", "PAR1");
    let message = message_naming(load(&path), &path);
    assert!(
        message.contains(".csv") && message.contains(".npy"),
        "{message}"
    );

    // A gzip file cut short in its header: an error naming it, not a panic.
    let gz = write(&dir, "train-images-idx3-ubyte.gz", [0x1f, 0x8b, 8, 0]);
    let message = message_naming(load(&gz), &gz);
    assert!(message.contains("not a valid gzip file"), "{message}");
}

// ---------------------------------------------------------------- Standardizer

#[test]
fn standardizer_constant_feature_gives_zeros() {
    let x = array![[1f32, 5.0], [3.0, 5.0], [8.0, 5.0]];
    let standardizer = Standardizer::fit(x.view());
    let z = standardizer.apply(x.view()).unwrap();
    assert!(z.iter().all(|v| v.is_finite()), "{z:?}");
    assert!(z.column(1).iter().all(|&v| v == 0.0), "{z:?}");
    let mean = z.column(0).sum() / 3.0;
    let variance = z.column(0).mapv(|v| (v - mean) * (v - mean)).sum() / 3.0;
    assert!(
        mean.abs() < 1e-6 && (variance - 1.0).abs() < 1e-5,
        "{mean} {variance}"
    );
}

#[test]
fn standardizer_matches_feature_moments() {
    let x = Array2::from_shape_fn((7, 3), |(i, j)| {
        ((i * 31 + j * 17) % 11) as f32 - 2.5 * j as f32
    });
    let standardizer = Standardizer::fit(x.view());
    let (mean, std) = feature_moments(&x.view());
    assert_eq!(standardizer.mean, mean);
    assert_eq!(standardizer.std, std);
    let z = standardizer.apply(x.view()).unwrap();
    for ((i, j), &v) in z.indexed_iter() {
        let expected = (x[(i, j)] - mean[j]) / std[j];
        assert!(
            (v - expected).abs() <= 1e-6,
            "[{i}, {j}]: {v} vs {expected}"
        );
    }
    let wrong = Array2::<f32>::zeros((2, 4));
    assert!(matches!(
        standardizer.apply(wrong.view()),
        Err(Error::ShapeMismatch { .. })
    ));
}
