//! Issue 16, bad input to streaming: each of these is one error naming the
//! shard (or the pattern, or the directory): feature counts or dtypes that
//! differ, Fortran order, not 2-D, truncated, a file that changes during
//! the run, a labels shard count or row count that does not match, an
//! empty glob, a directory without `.npy` files, a compressed `.npz`, a
//! gzip file, and a non-finite value with its row and column.

mod common;

use common::files::*;
use lintrain::Error;
use lintrain::data::stream::{BlockStream, RowFilter, ShardSet, StreamOptions, read_label_shards};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tempfile::TempDir;
use zip::CompressionMethod;

fn f32_npy(rows: usize, features: usize) -> Vec<u8> {
    let values: Vec<f32> = (0..rows * features).map(|i| i as f32).collect();
    npy("<f4", &[rows, features], &f32_bytes(&values))
}

/// The message of `result`'s error, asserting that it names `path`.
fn error_naming<T>(result: lintrain::Result<T>, path: &Path) -> String {
    let message = match result {
        Ok(_) => panic!("expected an error naming {}", path.display()),
        Err(error) => error.to_string(),
    };
    assert!(
        message.contains(&path.display().to_string()),
        "does not name {}: {message}",
        path.display()
    );
    assert!(!message.contains('\n'), "not one line: {message}");
    message
}

fn open(spec: &Path) -> lintrain::Result<ShardSet> {
    ShardSet::open(spec, None)
}

fn options() -> StreamOptions {
    StreamOptions {
        chunk_rows: 3,
        shuffle: None,
        block_rows: 2,
        filter: RowFilter::All,
        standardizer: None,
    }
}

/// The first error of a pass over `set`.
fn pass_error(set: ShardSet) -> Error {
    let mut stream = BlockStream::start(Arc::new(set), options()).unwrap();
    loop {
        match stream.next_block() {
            Some(Ok(block)) => stream.recycle(block),
            Some(Err(error)) => {
                assert!(stream.next_block().is_none(), "an error ends the stream");
                return error;
            }
            None => panic!("the pass ended without an error"),
        }
    }
}

#[test]
fn shards_that_disagree_with_the_first_are_named() {
    let dir = TempDir::new().unwrap();
    write(&dir, "a_0.npy", f32_npy(4, 3));
    let wide = write(&dir, "a_1.npy", f32_npy(2, 4));
    let message = error_naming(open(&dir.path().join("a_*.npy")), &wide);
    assert!(
        message.contains("has 4 features") && message.contains("a_0.npy"),
        "{message}"
    );

    write(&dir, "b_0.npy", f32_npy(4, 3));
    let half = write(&dir, "b_1.npy", npy("<f2", &[1, 3], &[0u8; 6]));
    let message = error_naming(open(&dir.path().join("b_*.npy")), &half);
    assert!(
        message.contains("dtype") && message.contains("f16"),
        "{message}"
    );

    // Byte order is part of the dtype.
    write(&dir, "c_0.npy", f32_npy(1, 3));
    let big = write(&dir, "c_1.npy", npy(">f4", &[1, 3], &[0u8; 12]));
    let message = error_naming(open(&dir.path().join("c_*.npy")), &big);
    assert!(message.contains("big-endian"), "{message}");
}

#[test]
fn shapes_orders_and_sizes_that_cannot_stream_are_named() {
    let dir = TempDir::new().unwrap();
    let fortran = write(&dir, "f.npy", npy_file("<f4", &[2, 3], true, &[0u8; 24], 1));
    let message = error_naming(open(&fortran), &fortran);
    assert!(message.contains("Fortran"), "{message}");

    let one_d = write(&dir, "v.npy", npy("<f4", &[5], &[0u8; 20]));
    let message = error_naming(open(&one_d), &one_d);
    assert!(
        message.contains("2-D") && message.contains("reshape"),
        "{message}"
    );
    let three_d = write(&dir, "t.npy", npy("<f4", &[1, 2, 2], &[0u8; 16]));
    error_naming(open(&three_d), &three_d);

    let mut cut = f32_npy(4, 3);
    cut.truncate(cut.len() - 5);
    let truncated = write(&dir, "cut.npy", cut);
    let message = error_naming(open(&truncated), &truncated);
    assert!(message.contains("truncated"), "{message}");
    let mut long = f32_npy(4, 3);
    long.extend([0u8; 4]);
    let long = write(&dir, "long.npy", long);
    let message = error_naming(open(&long), &long);
    assert!(message.contains("trailing bytes"), "{message}");

    let text = write(&dir, "s.npy", npy("<U3", &[2, 1], &[0u8; 24]));
    let message = error_naming(open(&text), &text);
    assert!(message.contains("strings"), "{message}");
    let gzipped = write(&dir, "g.npy", gzip(&f32_npy(2, 2)));
    let message = error_naming(open(&gzipped), &gzipped);
    assert!(message.contains("gunzip"), "{message}");
    let missing = dir.path().join("missing.npy");
    let error = open(&missing).unwrap_err();
    assert_eq!(error.io_kind(), Some(std::io::ErrorKind::NotFound));
    error_naming(Err::<(), _>(error), &missing);
    let key = write(&dir, "k.npy", f32_npy(2, 2));
    let message = error_naming(ShardSet::open(&key, Some("x")), &key);
    assert!(message.contains("--x-key"), "{message}");
}

#[test]
fn an_empty_glob_or_directory_is_named() {
    let dir = TempDir::new().unwrap();
    let pattern = dir.path().join("x_*.npy");
    let error = open(&pattern).unwrap_err();
    assert!(matches!(error, Error::EmptyData(_)), "{error:?}");
    let message = error_naming(Err::<(), _>(error), &pattern);
    assert!(message.contains("no files match"), "{message}");
    write(&dir, "notes.txt", "not data");
    let message = error_naming(open(dir.path()), dir.path());
    assert!(message.contains("no .npy files"), "{message}");
    // Shards of no rows at all are no data.
    write(&dir, "e_0.npy", npy("<f4", &[0, 3], &[]));
    let message = open(&dir.path().join("e_*.npy")).unwrap_err().to_string();
    assert!(message.contains("no rows"), "{message}");
    // An archive among shards.
    write(&dir, "z_0.npy", f32_npy(1, 1));
    let archive = write(
        &dir,
        "z_1.npy",
        npz(&[("x", f32_npy(1, 1))], CompressionMethod::Stored),
    );
    error_naming(open(&dir.path().join("z_*.npy")), &archive);
}

#[test]
fn a_compressed_npz_says_to_use_savez_or_npy() {
    let dir = TempDir::new().unwrap();
    let labels = npy("<i8", &[4], &i64_bytes(&[0, 1, 0, 1]));
    let path = write(
        &dir,
        "c.npz",
        npz(
            &[("x", f32_npy(4, 2)), ("y", labels.clone())],
            CompressionMethod::Deflated,
        ),
    );
    let message = error_naming(open(&path), &path);
    assert!(
        message.contains("savez_compressed") && message.contains("numpy.savez"),
        "{message}"
    );
    let two = write(
        &dir,
        "two.npz",
        npz(
            &[("a", f32_npy(4, 2)), ("b", f32_npy(4, 2))],
            CompressionMethod::Stored,
        ),
    );
    let message = error_naming(open(&two), &two);
    assert!(message.contains("--x-key"), "{message}");
    let message = error_naming(ShardSet::open(&two, Some("c")), &two);
    assert!(message.contains("no array \"c\""), "{message}");
    // Two 1-D arrays beside the features: the labels must be named.
    let ambiguous = write(
        &dir,
        "three.npz",
        npz(
            &[("x", f32_npy(4, 2)), ("y", labels.clone()), ("w", labels)],
            CompressionMethod::Stored,
        ),
    );
    let set = open(&ambiguous).unwrap();
    let message = error_naming(read_label_shards(None, None, &set), &ambiguous);
    assert!(message.contains("--y-key"), "{message}");
    assert_eq!(read_label_shards(None, Some("w"), &set).unwrap().len(), 4);
}

#[test]
fn label_shards_that_do_not_match_name_both_shards_and_counts() {
    let dir = TempDir::new().unwrap();
    write(&dir, "x_0.npy", f32_npy(2, 2));
    let data_1 = write(&dir, "x_1.npy", f32_npy(3, 2));
    let set = open(&dir.path().join("x_*.npy")).unwrap();
    write(&dir, "y_0.npy", npy("<i8", &[2], &i64_bytes(&[0, 1])));
    let labels_1 = write(&dir, "y_1.npy", npy("<i8", &[2], &i64_bytes(&[0, 1])));
    let message = error_naming(
        read_label_shards(Some(&dir.path().join("y_*.npy")), None, &set),
        &labels_1,
    );
    assert!(
        message.contains(&data_1.display().to_string())
            && message.contains("2 labels")
            && message.contains("3 rows"),
        "{message}"
    );
    // One labels shard for two data shards.
    let pattern = dir.path().join("y_0*.npy");
    let message = error_naming(read_label_shards(Some(&pattern), None, &set), &pattern);
    assert!(
        message.contains("1 labels file matches") && message.contains("2 shards"),
        "{message}"
    );
    // One labels file for every row, of the wrong length.
    let short = write(&dir, "all.txt", "0\n1\n");
    let message = error_naming(read_label_shards(Some(&short), None, &set), &short);
    assert!(
        message.contains("2 labels") && message.contains("5 rows"),
        "{message}"
    );
    // No labels at all, and a key for an archive the data is not.
    let first = dir.path().join("x_0.npy");
    let message = error_naming(read_label_shards(None, None, &set), &first);
    assert!(message.contains("--labels"), "{message}");
    let message = error_naming(read_label_shards(Some(&short), Some("y"), &set), &first);
    assert!(message.contains("--y-key"), "{message}");
}

#[test]
fn a_shard_that_changes_during_the_run_is_named() {
    let dir = TempDir::new().unwrap();
    write(&dir, "x_0.npy", f32_npy(4, 2));
    let grows = write(&dir, "x_1.npy", f32_npy(4, 2));
    let set = open(&dir.path().join("x_*.npy")).unwrap();
    let mut bytes = std::fs::read(&grows).unwrap();
    bytes.extend([0u8; 8]);
    std::fs::write(&grows, bytes).unwrap();
    let message = error_naming(Err::<(), _>(pass_error(set)), &grows);
    assert!(message.contains("changed size"), "{message}");

    // The same size, rewritten in place: the modification time tells.
    let touched = write(&dir, "y_0.npy", f32_npy(4, 2));
    let set = open(&touched).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&touched)
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let message = error_naming(Err::<(), _>(pass_error(set)), &touched);
    assert!(message.contains("modified"), "{message}");

    // Cut short: noticed before the read, by its size.
    let shrinks = write(&dir, "z_0.npy", f32_npy(4, 2));
    let set = open(&shrinks).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&shrinks)
        .unwrap();
    file.set_len(100).unwrap();
    drop(file);
    error_naming(Err::<(), _>(pass_error(set)), &shrinks);
    // load_resident checks too.
    let set = open(&write(&dir, "w_0.npy", f32_npy(4, 2))).unwrap();
    std::fs::write(dir.path().join("w_0.npy"), f32_npy(5, 2)).unwrap();
    error_naming(set.load_resident(), &dir.path().join("w_0.npy"));
}

#[test]
fn a_non_finite_value_names_its_shard_row_and_column() {
    let dir = TempDir::new().unwrap();
    write(&dir, "x_0.npy", f32_npy(4, 3));
    let mut values: Vec<f32> = (0..15).map(|i| i as f32).collect();
    values[2 * 3 + 1] = f32::NAN;
    let bad = write(&dir, "x_1.npy", npy("<f4", &[5, 3], &f32_bytes(&values)));
    let spec = dir.path().join("x_*.npy");
    for result in [
        Err::<(), _>(pass_error(open(&spec).unwrap())),
        open(&spec).unwrap().load_resident().map(drop),
    ] {
        let message = error_naming(result, &bad);
        assert!(
            message.contains("NaN")
                && message.contains("row 2 of this shard")
                && message.contains("row 6 of the data")
                && message.contains("column 1"),
            "{message}"
        );
    }
    // f64 beyond f32's range becomes infinite, as the resident loader says.
    let huge = write(
        &dir,
        "h.npy",
        npy("<f8", &[1, 2], &f64_bytes(&[1.0, 1e300])),
    );
    let message = error_naming(open(&huge).unwrap().load_resident(), &huge);
    assert!(
        message.contains("inf") && message.contains("column 1"),
        "{message}"
    );
}

#[test]
fn bad_options_are_refused_before_the_thread_starts() {
    let dir = TempDir::new().unwrap();
    let set = Arc::new(open(&write(&dir, "x.npy", f32_npy(3, 2))).unwrap());
    for (chunk_rows, block_rows) in [(0, 1), (1, 0)] {
        let mut opts = options();
        opts.chunk_rows = chunk_rows;
        opts.block_rows = block_rows;
        let error = BlockStream::start(Arc::clone(&set), opts).err().unwrap();
        assert!(matches!(error, Error::InvalidConfig(_)), "{error:?}");
    }
    let mut opts = options();
    opts.standardizer = Some(Arc::new(lintrain::data::Standardizer {
        mean: ndarray::Array1::zeros(3),
        std: ndarray::Array1::ones(3),
    }));
    let error = BlockStream::start(set, opts).err().unwrap();
    assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
}
