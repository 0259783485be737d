//! Data as users have it (issue 11, §8 and §5's readers): pandas headers,
//! `\r\n` line endings, whitespace-separated text, gzip, float16 and
//! big-endian `.npy`, `.npz` archives, feature-count mismatches, and files
//! that must be refused before anything is allocated for them.

mod common;

use common::files::*;
use half::f16;
use lintrain::Error;
use lintrain::data::{ClassMap, Delimiter, HeaderMode, LoadOptions, RawLabels, load_table};
use ndarray::{Array2, array};
use std::path::Path;
use tempfile::TempDir;
use zip::CompressionMethod;

fn features_3x2() -> Array2<f32> {
    array![[0.5f32, -1.25], [2.0, 3.5], [-4.0, 0.0]]
}

fn features_3x2_npy() -> Vec<u8> {
    npy(
        "<f4",
        &[3, 2],
        &f32_bytes(&[0.5, -1.25, 2.0, 3.5, -4.0, 0.0]),
    )
}

fn labels_3_npy() -> Vec<u8> {
    npy("<i8", &[3], &i64_bytes(&[1, 0, 1]))
}

// ------------------------------------------------------------ text: header

#[test]
fn pandas_header_with_string_labels_is_a_header() {
    let dir = TempDir::new().unwrap();
    // pd.DataFrame(X).assign(label=y).to_csv(index=False)
    let path = write(
        &dir,
        "cancer.csv",
        "0,1,2,label\n0.1,0.2,0.3,benign\n1.1,1.2,1.3,malignant\n0.2,0.1,0.0,benign\n",
    );
    let table = load(&path).unwrap();
    assert_eq!(table.feature_names, ["0", "1", "2"]);
    assert_eq!(table.features.nrows(), 3);
    let classes = ClassMap::fit(&table.labels.unwrap());
    assert_eq!(classes.names(), ["benign", "malignant"]);

    // All-numeric pandas header (np.c_[X, y] saved as a DataFrame).
    let numeric = write(
        &dir,
        "numeric.csv",
        "0,1,2,3\n0.5,1.5,2.5,1\n0.1,0.2,0.3,0\n",
    );
    let table = load(&numeric).unwrap();
    assert_eq!(table.feature_names, ["0", "1", "2"]);
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![1, 0])));
}

#[test]
fn header_flag_overrides_the_guess() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "counts.csv", "0,1,2,3\n5,6,7,1\n");
    let header = |header| LoadOptions {
        header,
        ..LoadOptions::default()
    };
    assert_eq!(load(&path).unwrap().features.nrows(), 1);
    let no = load_table(&path, &header(HeaderMode::No)).unwrap();
    assert_eq!(no.features, array![[0f32, 1., 2.], [5., 6., 7.]]);
    assert_eq!(no.labels, Some(RawLabels::Integers(vec![3, 1])));
    assert_eq!(no.feature_names, ["x0", "x1", "x2"]);

    let plain = write(&dir, "plain.csv", "1,2,0\n3,4,1\n");
    let yes = load_table(&plain, &header(HeaderMode::Yes)).unwrap();
    assert_eq!(yes.feature_names, ["1", "2"]);
    assert_eq!(yes.features, array![[3f32, 4.]]);

    // A label column named on the command line marks its header row.
    let named = write(&dir, "named.csv", "a,b,kind\n1,2,x\n3,4,y\n");
    let by_name = LoadOptions {
        label: "kind".parse().unwrap(),
        ..LoadOptions::default()
    };
    assert_eq!(load_table(&named, &by_name).unwrap().features.nrows(), 2);
}

// ------------------------------------------------------------ text: lines

#[test]
fn crlf_files_report_the_line_an_editor_shows() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "crlf.csv", "a,b,y\r\n1,2,0\r\n3,x,1\r\n");
    let (line, column, _) = parse_error(load(&path));
    assert_eq!((line, column), (3, 2));

    let ragged = write(&dir, "ragged.csv", "1,2,0\r\n3,4,1\r\n\r\n5,6\r\n");
    let (line, _, reason) = parse_error(load(&ragged));
    assert_eq!(line, 4, "{reason}");
    assert!(reason.contains("as on line 1"), "{reason}");

    // A quoted label spanning two lines moves the next record down two.
    let quoted = write(&dir, "quoted.csv", "1,2,\"a\r\nb\"\r\n3,bad,c\r\n");
    let (line, column, _) = parse_error(load(&quoted));
    assert_eq!((line, column), (3, 2));
}

#[test]
fn long_crlf_file_names_the_right_line_past_a_batch() {
    let dir = TempDir::new().unwrap();
    let mut lines: Vec<String> = (0..3000).map(|i| format!("{i},{i},0")).collect();
    lines[2500] = "1,oops,0".into();
    let path = write(&dir, "long.csv", lines.join("\r\n"));
    let (line, column, _) = parse_error(load(&path));
    assert_eq!((line, column), (2501, 2));
}

// ------------------------------------------------------------ text: whitespace

#[test]
fn savetxt_whitespace_text_is_detected() {
    let dir = TempDir::new().unwrap();
    // np.savetxt("x.txt", np.c_[X, y]): '%.18e', one space.
    let content = "5.000000000000000000e-01 -1.250000000000000000e+00 1.000000000000000000e+00\n\
                   2.000000000000000000e+00 3.500000000000000000e+00 0.000000000000000000e+00\n\
                   -4.000000000000000000e+00 0.000000000000000000e+00 1.000000000000000000e+00\n";
    let path = write(&dir, "x.txt", content);
    let table = load(&path).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.feature_names, ["x0", "x1"]);
    // Labels written as floats are whole numbers: classes 0 and 1.
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![1, 0, 1])));

    // Aligned columns, a savetxt header comment, leading spaces, a blank line.
    let aligned = write(
        &dir,
        "aligned.dat",
        "# a b y\n  0.5  -1.25  1\n  2    3.5    0\n\n -4    0      1\n",
    );
    let table = load(&aligned).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![1, 0, 1])));

    // A comment says nothing of the delimiter, commas in it or not.
    let commented = write(
        &dir,
        "commented.txt",
        "# made by numpy, 3 rows\n0.5 -1.25 1\n2 3.5 0\n-4 0 1\n",
    );
    assert_eq!(load(&commented).unwrap().features, features_3x2());

    let bad = write(&dir, "bad.txt", "1 2 0\n3 4\n");
    let (line, _, reason) = parse_error(load(&bad));
    assert_eq!(line, 2);
    assert!(reason.contains("2 fields, expected 3"), "{reason}");
}

#[test]
fn delimiter_option_overrides_sniffing() {
    let dir = TempDir::new().unwrap();
    let with = |delimiter| LoadOptions {
        delimiter: Some(delimiter),
        ..LoadOptions::default()
    };
    let pipes = write(&dir, "pipes.csv", "a|b|y\n0.5|-1.25|1\n2|3.5|0\n-4|0|1\n");
    let table = load_table(&pipes, &with(Delimiter::Byte(b'|'))).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.feature_names, ["a", "b"]);

    // One space-separated column of text labels with commas in them would
    // be sniffed as comma-separated; the flag says otherwise.
    let spaced = write(&dir, "s.txt", "0.5 -1.25 a,b\n2 3.5 c\n-4 0 a,b\n");
    let table = load_table(&spaced, &with("space".parse().unwrap())).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(ClassMap::fit(&table.labels.unwrap()).names(), ["a,b", "c"]);
}

// ------------------------------------------------------------ gzip

#[test]
fn gzip_files_are_read_transparently() {
    let dir = TempDir::new().unwrap();
    let csv = "a,b,y\n0.5,-1.25,1\n2,3.5,0\n-4,0,1\n";
    let plain = load(&write(&dir, "d.csv", csv)).unwrap();
    let gz = load(&write(&dir, "d.csv.gz", gzip(csv.as_bytes()))).unwrap();
    assert_eq!(gz, plain);

    let labels = write(&dir, "y.npy.gz", gzip(&labels_3_npy()));
    let x = write(&dir, "x.npy.gz", gzip(&features_3x2_npy()));
    let table = load_table(
        &x,
        &LoadOptions {
            labels_file: Some(labels),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![1, 0, 1])));
}

#[test]
fn gzip_mnist_finds_its_gzip_labels() {
    let dir = TempDir::new().unwrap();
    let mut images = vec![0, 0, 8, 3];
    for dim in [2u32, 2, 2] {
        images.extend(dim.to_be_bytes());
    }
    images.extend([0, 64, 128, 255, 1, 2, 3, 4]);
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(2u32.to_be_bytes());
    labels.extend([7, 3]);
    let images = write(&dir, "train-images-idx3-ubyte.gz", gzip(&images));
    write(&dir, "train-labels-idx1-ubyte.gz", gzip(&labels));
    let table = load(&images).unwrap();
    assert_eq!(
        table.features,
        array![[0f32, 64., 128., 255.], [1., 2., 3., 4.]]
    );
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![7, 3])));
}

#[test]
fn gzip_inside_gzip_is_refused() {
    let dir = TempDir::new().unwrap();
    let twice = write(&dir, "x.csv.gz", gzip(&gzip(b"1,2,0\n")));
    let message = message_naming(load(&twice), &twice);
    assert!(message.contains("twice"), "{message}");
}

// ------------------------------------------------------------ .npy dtypes

#[test]
fn npy_float16_and_big_endian_are_read() {
    let dir = TempDir::new().unwrap();
    let values = [0.5f32, -1.25, 2.0, 3.5, -4.0, 0.0];
    let f2: Vec<u8> = values
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    let be_f4: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let be_f2: Vec<u8> = values
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_be_bytes())
        .collect();
    let be_f8: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as f64).to_be_bytes())
        .collect();
    let labels = write(
        &dir,
        "y.npy",
        npy(">i4", &[3], &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
    );
    let options = LoadOptions {
        labels_file: Some(labels),
        ..LoadOptions::default()
    };
    for (name, descr, data) in [
        ("f2.npy", "<f2", f2),
        ("be4.npy", ">f4", be_f4),
        ("be2.npy", ">f2", be_f2),
        ("be8.npy", ">f8", be_f8),
    ] {
        let path = write(&dir, name, npy(descr, &[3, 2], &data));
        let table = load_table(&path, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(table.features, features_3x2(), "{name}");
        assert_eq!(
            table.labels,
            Some(RawLabels::Integers(vec![1, 0, 1])),
            "{name}"
        );
    }
}

#[test]
fn npy_string_labels_are_read() {
    let dir = TempDir::new().unwrap();
    let x = write(&dir, "x.npy", features_3x2_npy());
    // np.array(["cat", "dog", "cat"]) is '<U3': UTF-32, NUL-padded.
    let unicode: Vec<u8> = ["cat", "dog", "ca"]
        .iter()
        .flat_map(|s| {
            let mut chars: Vec<u32> = s.chars().map(u32::from).collect();
            chars.resize(3, 0);
            chars.into_iter().flat_map(u32::to_le_bytes)
        })
        .collect();
    let labels = write(&dir, "y.npy", npy("<U3", &[3], &unicode));
    let table = load_table(
        &x,
        &LoadOptions {
            labels_file: Some(labels),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        table.labels,
        Some(RawLabels::Strings(vec![
            "cat".into(),
            "dog".into(),
            "ca".into()
        ]))
    );
}

#[test]
fn npy_without_labels_names_the_labels_flag() {
    let dir = TempDir::new().unwrap();
    let x = write(&dir, "x.npy", features_3x2_npy());
    let message = message_naming(load(&x), &x);
    assert!(message.contains("--labels"), "{message}");
}

// ------------------------------------------------------------ .npz

#[test]
fn npz_with_two_arrays_splits_features_and_labels_by_shape() {
    let dir = TempDir::new().unwrap();
    for (name, method) in [
        ("savez.npz", CompressionMethod::Stored),
        ("compressed.npz", CompressionMethod::Deflated),
    ] {
        // Labels first, as a dict can order them.
        let archive = npz(&[("y", labels_3_npy()), ("x", features_3x2_npy())], method);
        let path = write(&dir, name, archive);
        let table = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(table.features, features_3x2(), "{name}");
        assert_eq!(
            table.labels,
            Some(RawLabels::Integers(vec![1, 0, 1])),
            "{name}"
        );
        assert_eq!(table.feature_names, ["x0", "x1"]);
    }
    // numpy.savez(f, X, y) names them arr_0 and arr_1.
    let positional = write(
        &dir,
        "positional.npz",
        npz(
            &[("arr_0", features_3x2_npy()), ("arr_1", labels_3_npy())],
            CompressionMethod::Stored,
        ),
    );
    assert_eq!(load(&positional).unwrap().features, features_3x2());
}

#[test]
fn npz_keys_choose_the_arrays() {
    let dir = TempDir::new().unwrap();
    let other = npy("<f4", &[3, 1], &f32_bytes(&[9.0, 9.0, 9.0]));
    let path = write(
        &dir,
        "three.npz",
        npz(
            &[
                ("emb", features_3x2_npy()),
                ("target", labels_3_npy()),
                ("extra", other),
            ],
            CompressionMethod::Deflated,
        ),
    );
    let message = message_naming(load(&path), &path);
    assert!(
        message.contains("--x-key") && message.contains("\"emb\", \"target\", \"extra\""),
        "{message}"
    );
    let keys = LoadOptions {
        x_key: Some("emb".into()),
        y_key: Some("target.npy".into()),
        ..LoadOptions::default()
    };
    let table = load_table(&path, &keys).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.labels, Some(RawLabels::Integers(vec![1, 0, 1])));

    // Predicting needs only the features: the other arrays are left alone.
    let predict = LoadOptions {
        x_key: Some("emb".into()),
        labels_required: false,
        ..LoadOptions::default()
    };
    let table = load_table(&path, &predict).unwrap();
    assert_eq!((table.features, table.labels), (features_3x2(), None));

    let missing = LoadOptions {
        x_key: Some("X".into()),
        ..keys
    };
    let message = message_naming(load_table(&path, &missing), &path);
    assert!(
        message.contains("no array \"X\"") && message.contains("\"emb\""),
        "{message}"
    );
}

#[test]
fn npz_of_one_array_needs_labels() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "x.npz",
        npz(&[("x", features_3x2_npy())], CompressionMethod::Stored),
    );
    let message = message_naming(load(&path), &path);
    assert!(
        message.contains("--labels") && message.contains("--y-key"),
        "{message}"
    );
    let labels = write(&dir, "y.txt", "a\nb\na\n");
    let table = load_table(
        &path,
        &LoadOptions {
            labels_file: Some(labels),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(table.features, features_3x2());
}

#[test]
fn npz_member_errors_name_the_archive_and_the_array() {
    let dir = TempDir::new().unwrap();
    let flat = npy("<f4", &[2], &f32_bytes(&[1.0, 2.0]));
    let path = write(
        &dir,
        "flat.npz",
        npz(&[("only", flat)], CompressionMethod::Deflated),
    );
    let message = message_naming(load(&path), &path);
    assert!(
        message.contains("array \"only\"") && message.contains("1-D"),
        "{message}"
    );

    let mut cut = npz(&[("x", features_3x2_npy())], CompressionMethod::Stored);
    cut.truncate(cut.len() / 2);
    let cut = write(&dir, "cut.npz", cut);
    message_naming(load(&cut), &cut);
}

// ------------------------------------------------------------ feature counts

#[test]
fn a_labelled_file_with_fewer_features_than_the_model_says_so() {
    let dir = TempDir::new().unwrap();
    // Two features and a label, for a model of three features.
    let path = write(&dir, "test.csv", "a,b,label\n1,2,x\n3,4,y\n");
    let eval = LoadOptions {
        expected_features: Some(3),
        ..LoadOptions::default()
    };
    let message = message_naming(load_table(&path, &eval), &path);
    assert!(
        message.contains("feature counts differ")
            && message.contains("2 features")
            && message.contains("model has 3 features"),
        "{message}"
    );
    assert!(!message.contains("cannot parse"), "{message}");

    // Predicting: three columns fit a three-feature model, but the label
    // column does not parse; the error says why.
    let predict = LoadOptions {
        labels_required: false,
        ..eval
    };
    let (line, column, reason) = parse_error(load_table(&path, &predict));
    assert_eq!((line, column), (2, 3));
    assert!(
        reason.contains("feature counts differ") && reason.contains("2 features"),
        "{reason}"
    );
}

// ------------------------------------------------------------ bounded reading

#[cfg(unix)]
#[test]
fn devices_are_refused_as_data_and_labels() {
    let zero = Path::new("/dev/zero");
    let message = message_naming(load(zero), zero);
    assert!(message.contains("not a regular file"), "{message}");

    let dir = TempDir::new().unwrap();
    let x = write(&dir, "x.npy", features_3x2_npy());
    let options = LoadOptions {
        labels_file: Some(zero.to_path_buf()),
        ..LoadOptions::default()
    };
    let message = message_naming(load_table(&x, &options), zero);
    assert!(message.contains("not a regular file"), "{message}");
}

#[test]
fn header_sizes_beyond_the_limits_are_refused_before_allocating() {
    let dir = TempDir::new().unwrap();
    // A 16-byte .npy declaring 2^40 × 2^40 values.
    let huge = write(&dir, "huge.npy", npy("<f4", &[1 << 40, 1 << 40], &[0; 16]));
    match load(&huge) {
        Err(Error::TooLarge { what, limit, .. }) => {
            assert!(what.contains("huge.npy"), "{what}");
            assert_eq!(limit, lintrain::limits::MAX_TABLE_VALUES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Within the limit but far beyond the bytes present: truncated.
    let short = write(&dir, "short.npy", npy("<f4", &[1 << 20, 1 << 10], &[0; 16]));
    let message = message_naming(load(&short), &short);
    assert!(message.contains("truncated"), "{message}");

    // IDX dimensions of 2^32 − 1 each.
    let mut idx = vec![0, 0, 8, 3];
    for _ in 0..3 {
        idx.extend(u32::MAX.to_be_bytes());
    }
    let idx = write(&dir, "big-images-idx3-ubyte", idx);
    match load(&idx) {
        Err(Error::TooLarge { what, .. }) => assert!(what.contains("big-images"), "{what}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}
