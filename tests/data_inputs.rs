//! Data as users have it (issue 11, §8 and §5's readers): pandas headers,
//! `\r\n` line endings, whitespace-separated text, gzip, float16 and
//! big-endian `.npy`, `.npz` archives, feature-count mismatches, files
//! that must be refused before anything is allocated for them, and how
//! much the loaders allocate for a file (measured by a counting allocator).

mod common;

use common::files::*;
use half::f16;
use lintrain::Error;
use lintrain::data::{ClassMap, Delimiter, HeaderMode, LoadOptions, load_table};
use ndarray::{Array2, array};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use tempfile::TempDir;
use zip::CompressionMethod;

/// The system allocator, counting the bytes the current thread holds and
/// the most it held, so that a test can measure what one load allocates
/// (tests run in parallel threads; each measures its own thread only).
struct Counting;

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn count(added: usize, removed: usize) {
    // `try_with`: a thread being torn down has no counters left.
    let _ = HELD.try_with(|held| {
        let now = (held.get() + added).saturating_sub(removed);
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            count(layout.size(), 0);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        count(0, layout.size());
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(layout.size(), 0);
        }
        pointer
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            // A move holds both blocks for a moment.
            count(new_size, 0);
            count(0, layout.size());
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The result of `work` and the most bytes this thread held above what it
/// held before, while it ran.
fn peak_bytes<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = work();
    (result, PEAK.with(Cell::get) - before)
}

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
    assert_eq!(table.labels, Some(ints(&[1, 0])));
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
    assert_eq!(no.labels, Some(ints(&[3, 1])));
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
    assert_eq!(table.labels, Some(ints(&[1, 0, 1])));

    // Aligned columns, a savetxt header comment, leading spaces, a blank line.
    let aligned = write(
        &dir,
        "aligned.dat",
        "# a b y\n  0.5  -1.25  1\n  2    3.5    0\n\n -4    0      1\n",
    );
    let table = load(&aligned).unwrap();
    assert_eq!(table.features, features_3x2());
    assert_eq!(table.labels, Some(ints(&[1, 0, 1])));

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
    assert_eq!(table.labels, Some(ints(&[1, 0, 1])));
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
    assert_eq!(table.labels, Some(ints(&[7, 3])));
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
        assert_eq!(table.labels, Some(ints(&[1, 0, 1])), "{name}");
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
    assert_eq!(table.labels, Some(strs(&["cat", "dog", "ca"])));
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
        assert_eq!(table.labels, Some(ints(&[1, 0, 1])), "{name}");
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
    assert_eq!(table.labels, Some(ints(&[1, 0, 1])));

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

// ------------------------------------------------------------ memory

/// 2 MiB for what a load holds besides its result and the file: the CSV
/// reader's buffers, a batch of 2048 records and their results, feature
/// names, hash maps.
const SLACK: usize = 2 << 20;

#[test]
fn a_csv_label_column_takes_four_bytes_a_row() {
    let dir = TempDir::new().unwrap();
    let rows = 200_000;
    let mut text = String::from("a,label\n");
    for i in 0..rows {
        text.push_str(if i % 2 == 0 { "0.5,0\n" } else { "1.5,1\n" });
    }
    let path = write(&dir, "many.csv", &text);
    let (table, peak) = peak_bytes(|| load(&path).unwrap());
    // The file, one f32 feature and one u32 label code per row. A String
    // per label took 24 bytes a row before its text.
    let bound = text.len() + rows * (4 + 4) + SLACK;
    assert!(peak < bound, "loading held {peak} bytes, more than {bound}");
    let labels = table.labels.unwrap();
    assert_eq!(labels.len(), rows);
    assert_eq!(labels.distinct(), 2);
    assert_eq!(labels.text(rows - 1).as_deref(), Some("1"));
    let classes = ClassMap::fit(&labels);
    assert_eq!(classes.encode(&labels).unwrap()[..3], [0, 1, 0]);
}

#[test]
fn npy_integers_and_booleans_convert_straight_to_f32() {
    let dir = TempDir::new().unwrap();
    // Every integer dtype and bool, C and Fortran order: the same table.
    let expected = array![[-3f32, 0.0, 7.0], [1.0, 100.0, -128.0]];
    let c_order: Vec<i64> = expected.iter().map(|&v| v as i64).collect();
    let f_order: Vec<i64> = expected.t().iter().map(|&v| v as i64).collect();
    for (descr, size) in [("|i1", 1), ("<i2", 2), ("<i4", 4), ("<i8", 8), (">i4", 4)] {
        for (fortran, values) in [(false, &c_order), (true, &f_order)] {
            let data: Vec<u8> = values
                .iter()
                .flat_map(|&v| {
                    let bytes = v.to_le_bytes();
                    let mut item = bytes[..size].to_vec();
                    if descr.starts_with('>') {
                        item.reverse();
                    }
                    item
                })
                .collect();
            let path = write(
                &dir,
                "ints.npy",
                npy_file(descr, &[2, 3], fortran, &data, 1),
            );
            let table = load_table(&path, &unlabelled()).unwrap();
            assert_eq!(table.features, expected, "{descr}, fortran {fortran}");
        }
    }
    let unsigned = write(
        &dir,
        "u.npy",
        npy(
            "<u8",
            &[1, 2],
            &[u64::MAX.to_le_bytes(), 5u64.to_le_bytes()].concat(),
        ),
    );
    let table = load_table(&unsigned, &unlabelled()).unwrap();
    assert_eq!(table.features, array![[u64::MAX as f32, 5.0]]);
    // NumPy reads every non-zero byte of a bool as True.
    let bools = write(&dir, "b.npy", npy("|b1", &[2, 2], &[0, 1, 2, 0]));
    let table = load_table(&bools, &unlabelled()).unwrap();
    assert_eq!(table.features, array![[0f32, 1.0], [1.0, 0.0]]);

    // A million booleans: the file and an f32 per value, nothing more (an
    // i64 per value came first before, twice the size of the result).
    let n = 1000 * 1000;
    let mut data = vec![0u8; n];
    data.iter_mut().step_by(1001).for_each(|b| *b = 1);
    let big = write(&dir, "big.npy", npy("|b1", &[1000, 1000], &data));
    let (table, peak) = peak_bytes(|| load_table(&big, &unlabelled()).unwrap());
    let bound = n + 4 * n + SLACK;
    assert!(peak < bound, "loading held {peak} bytes, more than {bound}");
    assert_eq!(table.features.diag().sum(), 1000.0);

    // Fortran order is transposed while converting, not copied afterwards.
    let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let fortran = write(
        &dir,
        "f.npy",
        npy_file("<f4", &[1000, 1000], true, &f32_bytes(&values), 1),
    );
    let (table, peak) = peak_bytes(|| load_table(&fortran, &unlabelled()).unwrap());
    let bound = 4 * n + 4 * n + SLACK;
    assert!(peak < bound, "loading held {peak} bytes, more than {bound}");
    assert_eq!(table.features[(2, 1)], 1002.0);
}

fn unlabelled() -> LoadOptions {
    LoadOptions {
        labels_required: false,
        ..LoadOptions::default()
    }
}

#[test]
fn an_empty_array_with_a_huge_dimension_is_refused_before_allocating() {
    let dir = TempDir::new().unwrap();
    // numpy.empty((0, 2**64 - 1)): no values, a dimension past any limit.
    let huge = write(&dir, "z.npy", npy("<f4", &[0, usize::MAX], &[]));
    match load(&huge) {
        Err(Error::TooLarge { what, size, limit }) => {
            assert!(
                what.contains("z.npy") && what.contains("dimension 1"),
                "{what}"
            );
            assert_eq!(
                (size, limit),
                (u64::MAX, lintrain::limits::MAX_TABLE_VALUES)
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Zero rows of 2^24 features: empty, without a name for each feature.
    let wide = write(&dir, "w.npy", npy("<f4", &[0, 1 << 24], &[]));
    let (result, peak) = peak_bytes(|| load(&wide));
    let message = message_naming(result, &wide);
    assert!(
        message.contains("0 rows and 16777216 features"),
        "{message}"
    );
    assert!(peak < SLACK, "refusing it held {peak} bytes");
    // The same from IDX: no images of 4096×4096 pixels.
    let mut idx = vec![0, 0, 8, 3];
    for dim in [0u32, 4096, 4096] {
        idx.extend(dim.to_be_bytes());
    }
    let images = write(&dir, "none-images-idx3-ubyte", idx);
    let (result, peak) = peak_bytes(|| load_table(&images, &unlabelled()));
    let message = message_naming(result, &images);
    assert!(message.contains("0 rows"), "{message}");
    assert!(peak < SLACK, "refusing it held {peak} bytes");
}

// ------------------------------------------------------------ bad labels

#[test]
fn integer_labels_beside_a_number_that_is_not_whole_are_refused() {
    let dir = TempDir::new().unwrap();
    for bad in ["nan", "inf", "-inf", "1e400", "0.5", "NaN"] {
        let path = write(
            &dir,
            "bad.csv",
            format!("a,b,label\n1,2,0\n3,4,1\n5,6,{bad}\n7,8,{bad}\n"),
        );
        let (line, column, reason) = parse_error(load(&path));
        assert_eq!((line, column), (4, 3), "{bad}");
        assert!(
            reason.contains(&format!("label {bad:?} is not a whole number"))
                && reason.contains("the other labels are integers")
                && reason.contains("column \"label\""),
            "{bad}: {reason}"
        );
    }
    // Whole numbers too large for a float to be exact.
    let path = write(&dir, "big.csv", "a,label\n1,1e20\n2,0\n");
    let (line, _, reason) = parse_error(load(&path));
    assert_eq!(line, 2);
    assert!(reason.contains("too large to be exact"), "{reason}");

    // Whole floats are integers; words (even beside "nan") are names; a
    // column of fractions only is names too. (In a labels file a first line
    // that is not a number above integers and "nan" would be a header.)
    let cases: [(&str, RawCase); 4] = [
        ("1.0\n2.000\n1\n", RawCase::Ints(&[1, 2, 1])),
        ("1.000000000000000000e+00\n0.0\n", RawCase::Ints(&[1, 0])),
        (
            "cat\nnan\n1\ndog\n",
            RawCase::Strs(&["cat", "nan", "1", "dog"]),
        ),
        ("0.5\n2.5\n0.5\n", RawCase::Strs(&["0.5", "2.5", "0.5"])),
    ];
    for (labels, expected) in cases {
        let rows = labels.lines().count();
        let features: String = (0..rows).map(|i| format!("{i}\n")).collect();
        let csv: String = features
            .lines()
            .zip(labels.lines())
            .map(|(x, y)| format!("{x},{y}\n"))
            .collect();
        let path = write(&dir, "ok.csv", format!("x,label\n{csv}"));
        assert_eq!(
            load(&path).unwrap().labels,
            Some(expected.labels()),
            "{labels:?}"
        );
        // The same rule for a labels file.
        let x = write(&dir, "x.csv", &features);
        let y = write(&dir, "y.txt", labels);
        let table = load_table(&x, &labels_file(&y)).unwrap();
        assert_eq!(table.labels, Some(expected.labels()), "{labels:?}");
    }

    let x = write(&dir, "x.csv", "1\n2\n3\n4\n");
    let y = write(&dir, "y.txt", "nan\n1\n0\n1\n");
    let (line, column, reason) = parse_error(load_table(&x, &labels_file(&y)));
    assert_eq!((line, column), (1, 1));
    assert!(reason.contains("\"nan\" is not a whole number"), "{reason}");
}

enum RawCase {
    Ints(&'static [i64]),
    Strs(&'static [&'static str]),
}

impl RawCase {
    fn labels(&self) -> lintrain::data::RawLabels {
        match self {
            RawCase::Ints(values) => ints(values),
            RawCase::Strs(values) => strs(values),
        }
    }
}

fn labels_file(path: &Path) -> LoadOptions {
    LoadOptions {
        labels_file: Some(path.to_path_buf()),
        ..LoadOptions::default()
    }
}

#[test]
fn a_labels_file_may_start_with_a_header_line() {
    let dir = TempDir::new().unwrap();
    let x = write(&dir, "x.csv", "1\n2\n3\n");
    // pandas: y.to_csv("y.txt", index=False).
    let y = write(&dir, "y.txt", "label\n0\n1\n0\n");
    let table = load_table(&x, &labels_file(&y)).unwrap();
    assert_eq!(table.labels, Some(ints(&[0, 1, 0])));
    // A header line does not count as a label: one short of the rows.
    let short = write(&dir, "short.txt", "label\n0\n1\n");
    let message = message_naming(load_table(&x, &labels_file(&short)), &short);
    assert!(message.contains("has 2 labels"), "{message}");
    // Beside names, a first line that is not a number is a name like them.
    let names = write(&dir, "names.txt", "cat\ndog\ncat\n");
    let table = load_table(&x, &labels_file(&names)).unwrap();
    assert_eq!(table.labels, Some(strs(&["cat", "dog", "cat"])));
    // A header above integers and a bad number: the bad number is named.
    let bad = write(&dir, "bad.txt", "label\n0\ninf\n1\n");
    let (line, _, reason) = parse_error(load_table(&x, &labels_file(&bad)));
    assert_eq!(line, 3);
    assert!(reason.contains("\"inf\""), "{reason}");
}

#[test]
fn a_label_name_twice_in_the_header_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "dup.csv", "label,a,label\n1,2,0\n3,4,1\n5,6,0\n");
    let options = LoadOptions {
        label: "label".parse().unwrap(),
        ..LoadOptions::default()
    };
    let message = message_naming(load_table(&path, &options), &path);
    assert!(
        message.contains("\"label\" appears in columns 1 and 3")
            && message.contains("--label as a 0-based index"),
        "{message}"
    );
    // By index either column is fine.
    let options = LoadOptions {
        label: "2".parse().unwrap(),
        ..LoadOptions::default()
    };
    let table = load_table(&path, &options).unwrap();
    assert_eq!(table.labels, Some(ints(&[0, 1, 0])));
}

#[test]
fn an_explicit_label_column_must_be_in_a_file_to_predict_from() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "four.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n");
    let predict = |label: &str| LoadOptions {
        label: label.parse().unwrap(),
        labels_required: false,
        expected_features: Some(4),
        ..LoadOptions::default()
    };
    // The default (the last column) is absent from a file as wide as the
    // model; an index or a name given is not.
    let table = load_table(
        &path,
        &LoadOptions {
            labels_required: false,
            expected_features: Some(4),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(table.features.ncols(), 4);
    let message = message_naming(load_table(&path, &predict("9")), &path);
    assert!(
        message.contains("label column index 9 is out of range"),
        "{message}"
    );
    let message = message_naming(load_table(&path, &predict("label")), &path);
    assert!(message.contains("no column named \"label\""), "{message}");
    // Present, it would leave three features for a four-feature model.
    let message = message_naming(load_table(&path, &predict("d")), &path);
    assert!(
        message.contains("feature counts differ") && message.contains("leaves 3 features"),
        "{message}"
    );
    // With one column more, the named column is the label column.
    let labelled = write(&dir, "five.csv", "y,a,b,c,d\n0,1,2,3,4\n1,5,6,7,8\n");
    let table = load_table(&labelled, &predict("y")).unwrap();
    assert_eq!(table.labels, Some(ints(&[0, 1])));
}

#[test]
fn npz_keys_for_another_format_are_refused() {
    let dir = TempDir::new().unwrap();
    let csv = write(&dir, "d.csv", "a,label\n1,0\n2,1\n");
    let npy_x = write(&dir, "x.npy", features_3x2_npy());
    for (path, options, flag) in [
        (
            &csv,
            LoadOptions {
                x_key: Some("X".into()),
                ..LoadOptions::default()
            },
            "--x-key \"X\"",
        ),
        (
            &npy_x,
            LoadOptions {
                y_key: Some("y".into()),
                labels_required: false,
                ..LoadOptions::default()
            },
            "--y-key \"y\"",
        ),
    ] {
        let message = message_naming(load_table(path, &options), path);
        assert!(
            message.contains(flag) && message.contains(".npz archive"),
            "{message}"
        );
    }
}

#[test]
fn damaged_npy_headers_are_refused() {
    let dir = TempDir::new().unwrap();
    let data = f32_bytes(&[1.0, 2.0]);
    for (header, expected) in [
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), ",
            "no closing '}'",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), 'shape': (2, 1)}",
            "'shape' appears twice",
        ),
        (
            "{'descr': '<f4', 'fortran_order': True, 'fortran_order': False, 'shape': (1, 2)}",
            "'fortran_order' appears twice",
        ),
    ] {
        let mut text = header.to_string();
        while (10 + text.len() + 1) % 64 != 0 {
            text.push(' ');
        }
        text.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(&data);
        let path = write(&dir, "bad.npy", bytes);
        let message = message_naming(load(&path), &path);
        assert!(
            message.contains("bad .npy header") && message.contains(expected),
            "{header}: {message}"
        );
    }
}

#[test]
fn a_wrong_delimiter_names_the_flag() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "g.csv", "a,b,label\n1,2,0\n3,4,1\n");
    let options = LoadOptions {
        delimiter: Some(Delimiter::Byte(b';')),
        ..LoadOptions::default()
    };
    let message = message_naming(load_table(&path, &options), &path);
    assert!(
        message.contains("with --delimiter ';' every line has one field")
            && message.contains("check --delimiter")
            && !message.contains("0 features"),
        "{message}"
    );
    // One column sniffed: the labels alone.
    let labels_only = write(&dir, "y.csv", "label\n0\n1\n");
    let message = message_naming(load(&labels_only), &labels_only);
    assert!(message.contains("every line has one field"), "{message}");
}
