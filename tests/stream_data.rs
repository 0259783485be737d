//! Issue 16, the data layer of streaming: the order a pass emits rows in
//! against a plain in-memory reference of the rules (odd chunk, block and
//! buffer sizes, shard boundaries at odd rows, filters), the values against
//! the resident loader bit for bit for every dtype, labels from shards and
//! archives, streamed moments, and dropping a stream mid-pass.

mod common;

use common::files::*;
use half::f16;
use lintrain::data::stream::{
    Block, BlockStream, Moments, RowFilter, ShardSet, Shuffle, StreamOptions, is_validation_row,
    read_label_shards,
};
use lintrain::data::{LoadOptions, Standardizer, load_table};
use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use zip::CompressionMethod;

/// The value of feature `j` of global row `r` in the test tables: whole
/// numbers, exact in every dtype, that say which row they came from.
fn value(r: usize, j: usize) -> f32 {
    (r * 4 + j) as f32 - 300.0
}

/// `values` as the data of a `.npy` of dtype `descr`.
fn encode(values: &[f32], descr: &str) -> Vec<u8> {
    let big = descr.starts_with('>');
    let bytes = |b: &[u8]| {
        let mut b = b.to_vec();
        if big {
            b.reverse();
        }
        b
    };
    values
        .iter()
        .flat_map(|&v| match &descr[1..] {
            "f4" => bytes(&v.to_le_bytes()),
            "f2" => bytes(&f16::from_f32(v).to_le_bytes()),
            "f8" => bytes(&f64::from(v).to_le_bytes()),
            "i2" => bytes(&(v as i16).to_le_bytes()),
            "u1" => vec![v as u8],
            other => panic!("no encoding for {other}"),
        })
        .collect()
}

/// Shards `x_0.npy`, `x_1.npy`, … of the given row counts, `features`
/// wide, holding [`value`] of their global rows.
fn write_shards(dir: &TempDir, sizes: &[usize], features: usize, descr: &str) -> PathBuf {
    let mut first = 0;
    for (s, &rows) in sizes.iter().enumerate() {
        let values: Vec<f32> = (first..first + rows)
            .flat_map(|r| (0..features).map(move |j| value(r, j)))
            .collect();
        write(
            dir,
            &format!("x_{s}.npy"),
            npy(descr, &[rows, features], &encode(&values, descr)),
        );
        first += rows;
    }
    dir.path().join("x_*.npy")
}

fn options(chunk_rows: usize, shuffle: Option<Shuffle>, block_rows: usize) -> StreamOptions {
    StreamOptions {
        chunk_rows,
        shuffle,
        block_rows,
        filter: RowFilter::All,
        standardizer: None,
    }
}

/// Every block of one pass, recycling each after copying it.
fn pass(set: &Arc<ShardSet>, options: StreamOptions) -> Vec<Block> {
    let mut stream = BlockStream::start(Arc::clone(set), options).unwrap();
    let mut blocks = Vec::new();
    while let Some(block) = stream.next_block() {
        let block = block.unwrap();
        blocks.push(block.clone());
        stream.recycle(block);
    }
    assert!(
        stream.next_block().is_none(),
        "a finished stream stays finished"
    );
    blocks
}

/// The order the rules on `StreamOptions` and `Shuffle` define, computed
/// directly on the row indices.
fn reference_order(
    rows: usize,
    chunk_rows: usize,
    shuffle: Option<Shuffle>,
    filter: RowFilter,
) -> Vec<u32> {
    let selected = |r: &u32| filter.selects(u64::from(*r));
    let Some(shuffle) = shuffle else {
        return (0..rows as u32).filter(selected).collect();
    };
    let epoch_seed = shuffle.seed ^ (shuffle.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let chunks = rows.div_ceil(chunk_rows);
    let mut order: Vec<u32> = (0..chunks as u32).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(
        epoch_seed ^ 0xC0FF_EE00_C4A2_C0DE,
    ));
    let per_window = if shuffle.buffer_rows >= rows {
        chunks
    } else {
        (shuffle.buffer_rows / chunk_rows).max(1)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed);
    let mut emitted = Vec::new();
    for window in order.chunks(per_window) {
        let mut list: Vec<u32> = window
            .iter()
            .flat_map(|&c| {
                let start = c as usize * chunk_rows;
                start as u32..(start + chunk_rows).min(rows) as u32
            })
            .filter(selected)
            .collect();
        list.sort_unstable();
        let mut p: Vec<u32> = (0..list.len() as u32).collect();
        p.shuffle(&mut rng);
        emitted.extend(p.iter().map(|&i| list[i as usize]));
    }
    emitted
}

/// Checks the blocks of a pass: sizes, ids in `expected` order, values.
fn check_blocks(
    blocks: &[Block],
    expected: &[u32],
    block_rows: usize,
    features: usize,
    case: &str,
) {
    let ids: Vec<u32> = blocks.iter().flat_map(|b| b.row_ids.clone()).collect();
    assert_eq!(ids, expected, "{case}");
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block.x.dim(), (block_rows, features), "{case}");
        assert_eq!(block.row_ids.len(), block.rows, "{case}");
        if i + 1 < blocks.len() {
            assert_eq!(block.rows, block_rows, "{case}: block {i}");
        } else {
            assert!((1..=block_rows).contains(&block.rows), "{case}: last block");
        }
        for (k, &id) in block.row_ids.iter().enumerate() {
            for j in 0..features {
                assert_eq!(block.x[[k, j]], value(id as usize, j), "{case}: row {id}");
            }
        }
    }
}

#[test]
fn passes_emit_the_reference_order_for_odd_chunks_blocks_buffers_and_filters() {
    let features = 3;
    // Shard boundaries at odd rows, and an empty shard between two.
    for sizes in [&[5usize, 1, 11][..], &[77, 1, 122], &[4, 0, 9]] {
        let dir = TempDir::new().unwrap();
        let spec = write_shards(&dir, sizes, features, "<f4");
        let set = Arc::new(ShardSet::open(&spec, None).unwrap());
        let n: usize = sizes.iter().sum();
        assert_eq!((set.rows(), set.features(), set.shards().len()), (n, 3, 3));
        for chunk_rows in [1, 7, 63, n - 1, n, n + 5] {
            for buffer_rows in [
                None,
                Some(1),
                Some(8),
                Some(3 * chunk_rows + 1),
                Some(n),
                Some(10 * n),
            ] {
                for (block_rows, filter) in [
                    (1, RowFilter::All),
                    (
                        4,
                        RowFilter::Train {
                            seed: 5,
                            fraction: 0.3,
                        },
                    ),
                    (
                        n,
                        RowFilter::Validation {
                            seed: 5,
                            fraction: 0.3,
                        },
                    ),
                    (n + 3, RowFilter::All),
                    (
                        13,
                        RowFilter::Validation {
                            seed: 1,
                            fraction: 0.0,
                        },
                    ),
                ] {
                    let shuffle = buffer_rows.map(|buffer_rows| Shuffle {
                        seed: 42,
                        epoch: 3,
                        buffer_rows,
                    });
                    let expected = reference_order(n, chunk_rows, shuffle, filter);
                    let mut opts = options(chunk_rows, shuffle, block_rows);
                    opts.filter = filter;
                    let blocks = pass(&set, opts);
                    let case = format!(
                        "N {n}, chunk {chunk_rows}, buffer {buffer_rows:?}, block {block_rows}, \
                         {filter:?}"
                    );
                    check_blocks(&blocks, &expected, block_rows, features, &case);
                    if expected.is_empty() {
                        assert!(blocks.is_empty(), "{case}");
                    }
                }
            }
        }
    }
}

#[test]
fn one_window_over_every_row_is_the_resident_permutation() {
    let dir = TempDir::new().unwrap();
    let spec = write_shards(&dir, &[40, 3, 58], 2, "<f4");
    let set = Arc::new(ShardSet::open(&spec, None).unwrap());
    for (seed, epoch) in [(0u64, 0usize), (7, 1), (123, 9)] {
        let mut expected: Vec<u32> = (0..101).collect();
        expected.shuffle(&mut ChaCha8Rng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        for chunk_rows in [1, 10, 33, 101] {
            let shuffle = Shuffle {
                seed,
                epoch,
                buffer_rows: 101,
            };
            let blocks = pass(&set, options(chunk_rows, Some(shuffle), 16));
            let ids: Vec<u32> = blocks.iter().flat_map(|b| b.row_ids.clone()).collect();
            assert_eq!(
                ids, expected,
                "seed {seed}, epoch {epoch}, chunk {chunk_rows}"
            );
        }
    }
}

#[test]
fn the_validation_split_does_not_depend_on_the_chunking() {
    let dir = TempDir::new().unwrap();
    let spec = write_shards(&dir, &[300, 1, 699], 1, "<f4");
    let set = Arc::new(ShardSet::open(&spec, None).unwrap());
    let filter = RowFilter::Validation {
        seed: 11,
        fraction: 0.2,
    };
    let expected: Vec<u32> = (0..1000u32)
        .filter(|&r| is_validation_row(11, 0.2, u64::from(r)))
        .collect();
    assert!((150..250).contains(&expected.len()), "{}", expected.len());
    assert_eq!(filter.count(1000), expected.len());
    for chunk_rows in [1, 7, 64, 999, 1000, 5000] {
        let mut opts = options(chunk_rows, None, 32);
        opts.filter = filter;
        let ids: Vec<u32> = pass(&set, opts)
            .iter()
            .flat_map(|b| b.row_ids.clone())
            .collect();
        assert_eq!(ids, expected, "chunk {chunk_rows}");
    }
}

/// A 37 × 5 table of uneven values, finite in every dtype, and the same
/// values as `descr` stores them.
fn uneven_values(descr: &str) -> Vec<f32> {
    (0..37 * 5)
        .map(|i| {
            let v = ((i * 7919) % 1013) as f32 / 37.0 - 11.0 + (i % 5) as f32 * 3.0;
            match &descr[1..] {
                "f2" => f16::from_f32(v).to_f32(),
                "i2" => v.round(),
                "u1" => v.abs().round(),
                _ => v,
            }
        })
        .collect()
}

#[test]
fn streamed_rows_equal_resident_standardized_rows_bit_for_bit() {
    let dir = TempDir::new().unwrap();
    for descr in ["<f4", ">f4", "<f2", ">f2", "<f8", ">f8", "<i2", "|u1"] {
        let order = if descr.starts_with('>') {
            "big"
        } else {
            "little"
        };
        let name = format!("{}_{order}.npy", &descr[1..]);
        let values = uneven_values(descr);
        let path = write(&dir, &name, {
            let data = if descr == ">f8" || descr == "<f8" {
                // f64 values that are not f32s, so the rounding is tested.
                let wide: Vec<f64> = values.iter().map(|&v| f64::from(v) + 1e-9).collect();
                let mut bytes = Vec::new();
                for v in wide {
                    if descr.starts_with('>') {
                        bytes.extend(v.to_be_bytes());
                    } else {
                        bytes.extend(v.to_le_bytes());
                    }
                }
                bytes
            } else {
                encode(&values, descr)
            };
            npy(descr, &[37, 5], &data)
        });
        let options_no_labels = LoadOptions {
            labels_required: false,
            ..LoadOptions::default()
        };
        let resident = load_table(&path, &options_no_labels).unwrap().features;
        let set = Arc::new(ShardSet::open(&path, None).unwrap());
        let loaded = set.load_resident().unwrap();
        assert_eq!(
            loaded.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            resident.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{descr}: load_resident"
        );

        let standardizer = Standardizer::fit(resident.view());
        let mut expected = resident.clone();
        standardizer.apply_in_place(&mut expected).unwrap();
        let mut opts = options(
            6,
            Some(Shuffle {
                seed: 3,
                epoch: 0,
                buffer_rows: 13,
            }),
            8,
        );
        opts.standardizer = Some(Arc::new(standardizer));
        let mut seen = 0;
        for block in pass(&set, opts) {
            for (k, &id) in block.row_ids.iter().enumerate() {
                let got = block.x.row(k);
                let want = expected.row(id as usize);
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{descr}: row {id}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 37, "{descr}");
    }
}

#[test]
fn streamed_moments_match_two_passes_in_f64() {
    let dir = TempDir::new().unwrap();
    // Mean about 1e4 and std about 1: the case one-pass sums get wrong.
    let (rows, features) = (3001usize, 4usize);
    let values: Vec<f32> = (0..rows * features)
        .map(|i| 1e4 + ((i * 7919) % 2003) as f32 / 577.0 - 1.7)
        .collect();
    let path = write(
        &dir,
        "x.npy",
        npy("<f4", &[rows, features], &encode(&values, "<f4")),
    );
    let set = Arc::new(ShardSet::open(&path, None).unwrap());
    let filter = RowFilter::Train {
        seed: 2,
        fraction: 0.25,
    };
    let mut opts = options(97, None, 64);
    opts.filter = filter;
    let mut moments = Moments::new(features);
    let mut halves = [Moments::new(features), Moments::new(features)];
    let mut chosen = Vec::new();
    for block in pass(&set, opts) {
        for (k, &id) in block.row_ids.iter().enumerate() {
            let row = block.x.row(k).to_vec();
            moments.add_row(&row);
            halves[usize::from(chosen.len() % 3 == 0)].add_row(&row);
            chosen.push(id as usize);
        }
    }
    assert_eq!(chosen.len(), filter.count(rows));
    let x = Array2::from_shape_vec((rows, features), values).unwrap();
    let n = chosen.len() as f64;
    let mut merged = halves[0].clone();
    merged.merge(&halves[1]);
    for j in 0..features {
        let mean = chosen.iter().map(|&r| f64::from(x[[r, j]])).sum::<f64>() / n;
        let variance = chosen
            .iter()
            .map(|&r| (f64::from(x[[r, j]]) - mean).powi(2))
            .sum::<f64>()
            / n;
        for (what, m) in [("streamed", &moments), ("merged", &merged)] {
            assert_eq!(m.count(), chosen.len() as u64);
            let mean_error = (m.mean()[j] - mean).abs() / mean.abs();
            let variance_error = (m.variance()[j] - variance).abs() / variance;
            assert!(mean_error <= 1e-12, "{what} mean {j}: {mean_error:e}");
            assert!(
                variance_error <= 1e-12,
                "{what} variance {j}: {variance_error:e}"
            );
        }
    }
    let fitted = Standardizer::fit_rows(x.view(), &chosen).unwrap();
    let streamed = Standardizer::from_moments(&moments);
    for j in 0..features {
        assert!(
            (fitted.mean[j] - streamed.mean[j]).abs() <= 1e-3,
            "mean {j}"
        );
        assert!(
            (fitted.std[j] / streamed.std[j] - 1.0).abs() <= 1e-5,
            "std {j}"
        );
    }
}

#[test]
fn a_stored_npz_member_streams_and_its_labels_are_read_alone() {
    let dir = TempDir::new().unwrap();
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
    let x = npy("<f4", &[4, 3], &encode(&values, "<f4"));
    let y = npy("<i8", &[4], &i64_bytes(&[3, 1, 3, 2]));
    let path = write(
        &dir,
        "data.npz",
        npz(
            &[("features", x.clone()), ("y", y.clone())],
            CompressionMethod::Stored,
        ),
    );
    let set = Arc::new(ShardSet::open(&path, None).unwrap());
    assert_eq!(set.describe(), "array \"features\" of an .npz, 4 × 3 f32");
    assert_eq!(set.shards()[0].path, path);
    assert_eq!(
        set.load_resident().unwrap(),
        Array2::from_shape_vec((4, 3), values).unwrap()
    );
    let labels = read_label_shards(None, None, &set).unwrap();
    assert_eq!(labels, ints(&[3, 1, 3, 2]));
    let by_key = read_label_shards(None, Some("y"), &set).unwrap();
    assert_eq!(by_key, labels);
    // A labels file takes precedence over the archive's labels.
    let other = write(&dir, "other.txt", "a\nb\na\nb\n");
    assert_eq!(
        read_label_shards(Some(&other), None, &set).unwrap(),
        strs(&["a", "b", "a", "b"])
    );
    // The features member may be named, with or without `.npy`.
    let named = ShardSet::open(&path, Some("features.npy")).unwrap();
    assert_eq!(named.rows(), 4);
    // The labels may be deflated: they are read whole.
    let mixed = write(&dir, "mixed.npz", {
        use std::io::Write;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored =
            zip::write::SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let deflated = stored.compression_method(CompressionMethod::Deflated);
        writer.start_file("x.npy", stored).unwrap();
        writer.write_all(&x).unwrap();
        writer.start_file("labels.npy", deflated).unwrap();
        writer.write_all(&y).unwrap();
        writer.finish().unwrap().into_inner()
    });
    let set = ShardSet::open(&mixed, None).unwrap();
    assert_eq!(
        read_label_shards(None, None, &set).unwrap(),
        ints(&[3, 1, 3, 2])
    );
}

#[test]
fn label_shards_match_data_shards_in_sorted_order() {
    let dir = TempDir::new().unwrap();
    let spec = write_shards(&dir, &[2, 3, 1], 2, "<f2");
    for (s, labels) in [&[0i64, 1][..], &[1, 1, 0], &[2]].iter().enumerate() {
        write(
            &dir,
            &format!("y_{s}.npy"),
            npy("<i8", &[labels.len()], &i64_bytes(labels)),
        );
    }
    let set = ShardSet::open(&spec, None).unwrap();
    assert_eq!(set.describe(), "3 shards, 6 × 2 f16");
    assert_eq!(set.f32_bytes(), 48);
    assert_eq!(
        set.shards()
            .iter()
            .map(|s| (s.first_row, s.rows))
            .collect::<Vec<_>>(),
        [(0, 2), (2, 3), (5, 1)]
    );
    let expected = ints(&[0, 1, 1, 1, 0, 2]);
    let glob = dir.path().join("y_*.npy");
    assert_eq!(
        read_label_shards(Some(&glob), None, &set).unwrap(),
        expected
    );
    // One file for every row works too.
    let one = write(&dir, "all_labels.txt", "0\n1\n1\n1\n0\n2\n");
    assert_eq!(read_label_shards(Some(&one), None, &set).unwrap(), expected);
    // So does a directory of label shards.
    let labels_dir = dir.path().join("labels");
    std::fs::create_dir(&labels_dir).unwrap();
    for s in 0..3 {
        std::fs::copy(
            dir.path().join(format!("y_{s}.npy")),
            labels_dir.join(format!("y_{s}.npy")),
        )
        .unwrap();
    }
    assert_eq!(
        read_label_shards(Some(&labels_dir), None, &set).unwrap(),
        expected
    );
}

#[test]
fn dropping_a_stream_mid_pass_does_not_hang() {
    let dir = TempDir::new().unwrap();
    let spec = write_shards(&dir, &[500, 700], 16, "<f4");
    let set = Arc::new(ShardSet::open(&spec, None).unwrap());
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        for taken in [0, 1, 3] {
            for shuffle in [
                None,
                Some(Shuffle {
                    seed: 1,
                    epoch: 0,
                    buffer_rows: 256,
                }),
            ] {
                let mut stream =
                    BlockStream::start(Arc::clone(&set), options(64, shuffle, 2)).unwrap();
                for _ in 0..taken {
                    // Dropped, not recycled: the reader allocates anew.
                    let _block = stream.next_block().unwrap().unwrap();
                }
                // The reader is blocked on a full channel by now, or reading.
                std::thread::sleep(Duration::from_millis(20));
                drop(stream);
            }
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("dropping a stream mid-pass hung");
    worker.join().unwrap();
}

#[test]
fn the_memory_bound_counts_the_window_and_the_blocks_in_flight() {
    let unshuffled = options(1000, None, 256);
    let d = 768u64;
    let expected = 1000 * (d * 2 + 12) + 4 * 256 * (4 * d + 4) + 2 * d;
    assert_eq!(BlockStream::memory_bytes(&unshuffled, 768, 2), expected);
    let shuffled = options(
        1000,
        Some(Shuffle {
            seed: 0,
            epoch: 0,
            buffer_rows: 10_500,
        }),
        256,
    );
    // At most 10 chunks of 1000 rows, or every row when N ≤ 10,500.
    let window = 10_500 * (d * 4 + 12);
    assert_eq!(
        BlockStream::memory_bytes(&shuffled, 768, 4),
        window + 4 * 256 * (4 * d + 4) + 2 * d
    );
}
