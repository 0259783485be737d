//! The stream's reader alone: passes of a [`BlockStream`] over a `.npy`
//! file (or shard spec) whose consumer only receives and recycles blocks,
//! timed, so the figures are the reader thread's own cost, free of the
//! trainer's. Each pass prints its wall time, rows/s, GB/s of stored bytes
//! and the process's CPU seconds per GB (the consumer only waits, so that is
//! the reader's CPU per GB; on a shared machine it varies less than the
//! wall time).
//!
//! ```text
//! cargo bench --bench stream_reader -- FILE [--passes N] [--chunk-rows R]
//!     [--buffer-rows B] [--block-rows K] [--raw] [--in-order]
//! ```
//!
//! The defaults are those `lintrain train --memory-budget 512MiB --batch-size
//! 256` chooses for `benches/streaming/make_embeddings.py`'s 2,000,000 × 768
//! f32 file: chunks of 4 MiB, a shuffle buffer of 50,467 rows, blocks of
//! 10,752 rows, and a standardizer (`--raw` leaves it out; its mean and std
//! are fixed made-up values: the work is the same whatever they are).
//!
//! Under `cargo test --all-targets` (an unoptimized build, no `--bench`) it
//! streams a small file of its own and checks every row arrives once, with
//! the values standardized as `Standardizer::apply` gives them.

use lintrain::data::Standardizer;
use lintrain::data::stream::{BlockStream, RowFilter, ShardSet, Shuffle, StreamOptions};
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

struct Args {
    spec: PathBuf,
    passes: usize,
    chunk_rows: Option<usize>,
    buffer_rows: usize,
    block_rows: usize,
    standardize: bool,
    shuffle: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        spec: PathBuf::new(),
        passes: 3,
        chunk_rows: None,
        buffer_rows: 50_467,
        block_rows: 10_752,
        standardize: true,
        shuffle: true,
    };
    let number = |flag: &str, value: Option<String>| -> Result<usize, String> {
        value
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--passes" => parsed.passes = number("--passes", args.next())?,
            "--chunk-rows" => parsed.chunk_rows = Some(number("--chunk-rows", args.next())?),
            "--buffer-rows" => parsed.buffer_rows = number("--buffer-rows", args.next())?,
            "--block-rows" => parsed.block_rows = number("--block-rows", args.next())?,
            "--raw" => parsed.standardize = false,
            "--in-order" => parsed.shuffle = false,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            spec => parsed.spec = PathBuf::from(spec),
        }
    }
    if parsed.spec.as_os_str().is_empty() {
        return Err("give the data: a .npy file, a glob or a directory of shards".into());
    }
    Ok(parsed)
}

/// A standardizer of made-up moments for `features` columns.
fn made_up_standardizer(features: usize) -> Standardizer {
    Standardizer {
        mean: Array1::from_iter((0..features).map(|j| 0.01 * (j % 17) as f32 - 0.05)),
        std: Array1::from_iter((0..features).map(|j| 0.75 + 0.02 * (j % 23) as f32)),
    }
}

fn options(args: &Args, shards: &ShardSet, epoch: usize) -> StreamOptions {
    let row_bytes = shards.features() * shards.item_size();
    let chunk_rows = args
        .chunk_rows
        .unwrap_or(((4 << 20) / row_bytes.max(1)).clamp(1, shards.rows().max(1)));
    StreamOptions {
        chunk_rows,
        shuffle: args.shuffle.then_some(Shuffle {
            seed: 7,
            epoch,
            buffer_rows: args.buffer_rows.min(shards.rows()),
        }),
        block_rows: args.block_rows,
        filter: RowFilter::All,
        standardizer: args
            .standardize
            .then(|| Arc::new(made_up_standardizer(shards.features()))),
    }
}

/// The process's user and system CPU seconds (all threads), from
/// `/proc/self/stat`, or 0 where there is none.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is
    // field 3, utime 14 and stime 15, in clock ticks (100 per second on
    // Linux).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => 0.0,
    }
}

/// One timed pass: (rows, seconds, CPU seconds).
fn pass(shards: &Arc<ShardSet>, options: StreamOptions) -> lintrain::Result<(usize, f64, f64)> {
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let mut stream = BlockStream::start(Arc::clone(shards), options)?;
    let mut rows = 0;
    while let Some(block) = stream.next_block() {
        let block = block?;
        rows += block.rows;
        stream.recycle(block);
    }
    Ok((
        rows,
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start,
    ))
}

fn run(args: &Args) -> lintrain::Result<()> {
    let shards = Arc::new(ShardSet::open(&args.spec, None)?);
    let probe = options(args, &shards, 1);
    println!(
        "{}: chunks of {} rows, shuffle {}, blocks of {} rows, {}",
        shards.describe(),
        probe.chunk_rows,
        probe.shuffle.map_or("off".to_string(), |s| format!(
            "buffer {} rows",
            s.buffer_rows
        )),
        probe.block_rows,
        if args.standardize {
            "standardized"
        } else {
            "raw"
        }
    );
    let stored = (shards.features() * shards.item_size()) as f64;
    for epoch in 1..=args.passes {
        let (rows, seconds, cpu) = pass(&shards, options(args, &shards, epoch))?;
        let gb = rows as f64 * stored / 1e9;
        println!(
            "pass {epoch}: {rows} rows in {seconds:.3} s: {:.0} rows/s, {:.2} GB/s, {:.3} CPU s/GB",
            rows as f64 / seconds,
            gb / seconds,
            cpu / gb
        );
    }
    Ok(())
}

/// The `cargo test` run: a small file of odd sizes, every row once, the
/// values those of standardizing the whole array.
fn smoke() -> lintrain::Result<()> {
    let (rows, features) = (1_001, 37);
    let x = Array2::from_shape_fn((rows, features), |(i, j)| {
        ((i * 31 + j * 7) % 101) as f32 * 0.25 - 9.0
    });
    let dir = tempfile::tempdir().map_err(|e| lintrain::Error::io(Path::new("tempdir"), e))?;
    let path = dir.path().join("x.npy");
    write_npy_f32(&path, &x)?;
    let args = Args {
        spec: path,
        passes: 1,
        chunk_rows: Some(23),
        buffer_rows: 200,
        block_rows: 64,
        standardize: true,
        shuffle: true,
    };
    let shards = Arc::new(ShardSet::open(&args.spec, None)?);
    let standardized = made_up_standardizer(features).apply(x.view())?;
    let mut stream = BlockStream::start(Arc::clone(&shards), options(&args, &shards, 1))?;
    let mut seen = vec![false; rows];
    while let Some(block) = stream.next_block() {
        let block = block?;
        for (i, &row) in block.row_ids.iter().enumerate() {
            let row = row as usize;
            assert!(!seen[row], "row {row} came twice");
            seen[row] = true;
            assert_eq!(block.x.row(i), standardized.row(row), "row {row}");
        }
        stream.recycle(block);
    }
    assert!(seen.iter().all(|&s| s), "a row never came");
    println!("stream_reader: {rows} rows streamed once each, standardized exactly");
    Ok(())
}

/// `x` as a version 1.0 little-endian f32 `.npy`.
fn write_npy_f32(path: &Path, x: &Array2<f32>) -> lintrain::Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        x.nrows(),
        x.ncols()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in x.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| lintrain::Error::io(path, e))
}

fn main() -> ExitCode {
    // `cargo test --all-targets` runs this target unoptimized and without
    // `--bench`: timings of such a build mean nothing, so it checks instead.
    let under_cargo_test = cfg!(debug_assertions) && !std::env::args().any(|a| a == "--bench");
    let result = if under_cargo_test {
        smoke()
    } else {
        match parse_args(std::env::args().skip(1)) {
            Ok(args) => run(&args),
            Err(message) => {
                eprintln!("stream_reader: {message}");
                return ExitCode::FAILURE;
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream_reader: error: {e}");
            ExitCode::FAILURE
        }
    }
}
