//! The reader against the previous one's behaviour on bad values: the
//! first non-finite row in pass order fails the pass after exactly the
//! blocks before it, and a result only standardizing made non-finite passes.

use super::super::block_stream::BlockStream;
use super::super::pass_order::Shuffle;
use super::super::row_split::RowFilter;
use super::super::test_files::npy_bytes;
use super::*;
use crate::data::Standardizer;
use half::f16;
use ndarray::Array1;
use std::path::Path;

const ROWS: usize = 203;
const FEATURES: usize = 19;

fn value(r: usize, j: usize) -> f32 {
    ((r * 31 + j * 17) % 97) as f32 * 0.375 - 11.0
}

/// A one-shard file of dtype `descr` holding [`value`], except the
/// (row, column, value) in `bad`.
fn write_table(path: &Path, descr: &str, bad: &[(usize, usize, f64)]) -> ShardSet {
    let mut values: Vec<f64> = (0..ROWS * FEATURES)
        .map(|i| f64::from(value(i / FEATURES, i % FEATURES)))
        .collect();
    for &(r, j, v) in bad {
        values[r * FEATURES + j] = v;
    }
    let big = descr.starts_with('>');
    let data: Vec<u8> = values
        .iter()
        .flat_map(|&v| {
            let mut bytes = match &descr[1..] {
                "f4" => (v as f32).to_le_bytes().to_vec(),
                "f2" => f16::from_f64(v).to_le_bytes().to_vec(),
                "f8" => v.to_le_bytes().to_vec(),
                other => panic!("no encoding for {other}"),
            };
            if big {
                bytes.reverse();
            }
            bytes
        })
        .collect();
    std::fs::write(path, npy_bytes(descr, &[ROWS, FEATURES], false, &data)).unwrap();
    ShardSet::open(path, None).unwrap()
}

fn options(standardizer: Option<Standardizer>) -> StreamOptions {
    StreamOptions {
        chunk_rows: 7,
        shuffle: Some(Shuffle {
            seed: 5,
            epoch: 2,
            buffer_rows: 45,
        }),
        block_rows: 11,
        filter: RowFilter::Train {
            seed: 3,
            fraction: 0.1,
        },
        standardizer: standardizer.map(Arc::new),
    }
}

/// The blocks of a pass up to its end or its error.
fn pass(set: ShardSet, options: StreamOptions) -> (Vec<Block>, Option<Error>) {
    let mut stream = BlockStream::start(Arc::new(set), options).unwrap();
    let mut blocks = Vec::new();
    while let Some(block) = stream.next_block() {
        match block {
            Ok(block) => {
                blocks.push(block.clone());
                stream.recycle(block);
            }
            Err(error) => {
                assert!(stream.next_block().is_none(), "an error ends the pass");
                return (blocks, Some(error));
            }
        }
    }
    (blocks, None)
}

fn filled(block: &Block) -> Vec<u32> {
    let rows = block.x.slice(ndarray::s![..block.rows, ..]);
    rows.iter().map(|v| v.to_bits()).collect()
}

fn made_up_standardizer() -> Standardizer {
    Standardizer {
        mean: Array1::from_iter((0..FEATURES).map(|j| j as f32 * 0.3 - 2.0)),
        std: Array1::from_iter((0..FEATURES).map(|j| 0.6 + j as f32 * 0.07)),
    }
}

#[test]
fn the_first_non_finite_row_in_pass_order_fails_after_the_blocks_before_it() {
    let dir = tempfile::tempdir().unwrap();
    for descr in ["<f4", ">f4", "<f2", "<f8"] {
        for standardizer in [None, Some(made_up_standardizer())] {
            let clean = dir.path().join(format!("clean{}.npy", &descr[1..]));
            let (expected, none) = pass(
                write_table(&clean, descr, &[]),
                options(standardizer.clone()),
            );
            assert!(none.is_none());
            let order: Vec<u32> = expected.iter().flat_map(|b| b.row_ids.clone()).collect();
            // Three bad rows; the one the pass reaches first (at 60) is
            // not the first in the file, and its first bad column is
            // not its only one.
            let first = order[60] as usize;
            let earlier_in_file = *order[61..].iter().find(|&&r| (r as usize) < first).unwrap();
            let bad_rows = [first, earlier_in_file as usize, order[120] as usize];
            let huge = if descr == "<f8" { 1e300 } else { f64::INFINITY };
            let mut bad = vec![];
            for &r in &bad_rows {
                bad.push((r, 13, f64::NAN));
                bad.push((r, 4, huge));
            }
            let path = dir.path().join(format!("bad{}.npy", &descr[1..]));
            let (blocks, error) = pass(
                write_table(&path, descr, &bad),
                options(standardizer.clone()),
            );
            let case = format!("{descr}, standardized: {}", standardizer.is_some());
            assert_eq!(blocks.len(), 60 / 11, "{case}: the full blocks before it");
            for (got, want) in blocks.iter().zip(&expected) {
                assert_eq!(got.row_ids, want.row_ids, "{case}");
                assert_eq!(filled(got), filled(want), "{case}");
            }
            let message = error
                .expect("a non-finite value fails the pass")
                .to_string();
            assert!(
                message.contains(&path.display().to_string())
                    && message.contains("non-finite value inf")
                    && message.contains(&format!("row {first} of the data"))
                    && message.contains("column 4"),
                "{case}: {message}"
            );
        }
    }
}

#[test]
fn a_result_that_only_standardizing_made_infinite_passes_as_resident_data_would() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let mut standardizer = made_up_standardizer();
    standardizer.std[3] = 1e-38;
    let (blocks, error) = pass(
        write_table(&path, "<f4", &[]),
        options(Some(standardizer.clone())),
    );
    assert!(error.is_none(), "{error:?}");
    let mut rows = 0;
    for block in &blocks {
        for (k, &id) in block.row_ids.iter().enumerate() {
            for j in 0..FEATURES {
                let want = (value(id as usize, j) - standardizer.mean[j]) / standardizer.std[j];
                assert_eq!(block.x[[k, j]].to_bits(), want.to_bits(), "row {id}");
            }
            rows += 1;
        }
    }
    assert!(rows > 150, "{rows} rows");
    assert!(blocks[0].x.column(3).iter().any(|v| v.is_infinite()));
}

#[test]
fn a_pass_makes_no_more_blocks_than_the_memory_bound_counts() {
    let dir = tempfile::tempdir().unwrap();
    // Windows of 6 chunks of 7 rows (42 rows), blocks of 11 rows.
    let mut options = options(Some(made_up_standardizer()));
    options.filter = RowFilter::All;
    for (descr, bound) in [("<f4", (42usize + 11 - 1).div_ceil(11) + 2), ("<f2", 4)] {
        let path = dir.path().join(format!("x{}.npy", &descr[1..]));
        let set = Arc::new(write_table(&path, descr, &[]));
        for epoch in 1..4 {
            if let Some(shuffle) = &mut options.shuffle {
                shuffle.epoch = epoch;
            }
            let mut stream = BlockStream::start(Arc::clone(&set), options.clone()).unwrap();
            let mut buffers = std::collections::HashSet::new();
            let mut rows = 0;
            while let Some(block) = stream.next_block() {
                let block = block.unwrap();
                buffers.insert(block.x.as_ptr() as usize);
                rows += block.rows;
                stream.recycle(block);
            }
            assert_eq!(rows, ROWS);
            assert!(buffers.len() <= bound, "{descr}: {} blocks", buffers.len());
        }
    }
}
