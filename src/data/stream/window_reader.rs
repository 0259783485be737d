//! The body of a stream's reader thread: for each window of the pass, read
//! its chunks into the one window buffer (raw file bytes, large sequential
//! reads), then gather the window's rows in the pass's order into block
//! buffers, converting, checking and standardizing each row on the way,
//! and send the full blocks.
//!
//! Memory: the window buffer (at most w·R rows of stored bytes), three
//! `u32` per window row of indices, the blocks in flight, and a row of
//! scratch. The blocks are the only f32 copies; the window buffer is
//! reused from window to window.

use super::super::try_vec;
use super::block::Block;
use super::convert::first_non_finite;
use super::pass_order::{PassPlan, StreamOptions};
use super::row_kernels::RowKernels;
use super::shard_reader::ShardReader;
use super::shard_set::ShardSet;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

/// Most bytes in one read: a window is read in pieces of at most this, so
/// that a stream being dropped stops within one piece's time.
const MAX_READ_BYTES: usize = 64 << 20;

/// What the reader thread sends.
pub(super) enum Message {
    /// The next full block, or the last one, partly filled.
    Block(Block),
    /// The pass failed; nothing follows.
    Failed(Error),
    /// The pass is complete; nothing follows.
    End,
}

/// Why the pass ended early.
enum Halt {
    Failed(Error),
    /// The consumer dropped the stream.
    Stopped,
}

impl From<Error> for Halt {
    fn from(error: Error) -> Halt {
        Halt::Failed(error)
    }
}

/// The reader thread's ends of the channels.
pub(super) struct ReaderChannels {
    pub(super) blocks: SyncSender<Message>,
    pub(super) recycled: Receiver<Block>,
    pub(super) stop: Arc<AtomicBool>,
}

/// Runs one pass, sending its blocks and then [`Message::End`] (or
/// [`Message::Failed`]); returns early, quietly, when the stream is dropped.
pub(super) fn run_pass(set: &ShardSet, options: &StreamOptions, channels: ReaderChannels) {
    let mut reader = WindowReader::new(set, options, &channels);
    let message = match reader.run() {
        Ok(()) => Message::End,
        Err(Halt::Failed(error)) => Message::Failed(error),
        Err(Halt::Stopped) => return,
    };
    // A consumer gone by now needs neither.
    let _ = channels.blocks.send(message);
}

struct WindowReader<'a> {
    set: &'a ShardSet,
    options: &'a StreamOptions,
    channels: &'a ReaderChannels,
    files: ShardReader<'a>,
    /// The standardizer's mean and std, when there is one.
    scale: Option<(Vec<f32>, Vec<f32>)>,
    half_bits: Vec<u16>,
    kernels: RowKernels,
    /// A row of values, for the rare row whose results are not all finite.
    check_scratch: Vec<f32>,
    /// The block being filled.
    block: Option<Block>,
}

impl<'a> WindowReader<'a> {
    fn new(
        set: &'a ShardSet,
        options: &'a StreamOptions,
        channels: &'a ReaderChannels,
    ) -> WindowReader<'a> {
        let scale = options
            .standardizer
            .as_ref()
            .map(|s| (s.mean.to_vec(), s.std.to_vec()));
        WindowReader {
            set,
            options,
            channels,
            files: ShardReader::new(set),
            scale,
            half_bits: Vec::new(),
            kernels: RowKernels::detect(),
            check_scratch: Vec::new(),
            block: None,
        }
    }

    fn stopped(&self) -> Result<(), Halt> {
        if self.channels.stop.load(Ordering::Relaxed) {
            Err(Halt::Stopped)
        } else {
            Ok(())
        }
    }

    fn run(&mut self) -> Result<(), Halt> {
        let set = self.set;
        let plan = PassPlan::new(set.rows, self.options);
        let row_bytes = set.row_bytes();
        let window_bytes = plan.max_window_rows() * row_bytes;
        let mut window: Vec<u8> = try_vec(
            &set.shards[0].path,
            window_bytes,
            &format!("the stream's window of {} rows", plan.max_window_rows()),
        )?;
        window.resize(window_bytes, 0);
        let mut row_rng = self.options.shuffle.map(|s| s.row_rng());
        // L: the selected rows of the window in ascending order, and where
        // each lies in the window buffer.
        let mut rows: Vec<u32> = Vec::new();
        let mut slots: Vec<u32> = Vec::new();
        let mut permutation: Vec<u32> = Vec::new();
        for chunks in plan.windows() {
            self.stopped()?;
            self.load_window(&plan, chunks, &mut window, &mut rows, &mut slots)?;
            let order = match &mut row_rng {
                None => None,
                Some(rng) => {
                    permutation.clear();
                    permutation.extend(0..rows.len() as u32);
                    permutation.shuffle(rng);
                    Some(permutation.as_slice())
                }
            };
            self.emit_window(&window, &rows, &slots, order)?;
        }
        if let Some(block) = self.block.take()
            && block.rows > 0
        {
            self.send(block)?;
        }
        Ok(())
    }

    /// Reads the chunks `chunks` of a window into the buffer `window`, in
    /// ascending order, and lists their selected rows in ascending order
    /// (`rows`) with the window row each is in (`slots`). Chunks without a
    /// selected row are not read; adjacent ones are read together.
    fn load_window(
        &mut self,
        plan: &PassPlan,
        chunks: &[u32],
        window: &mut [u8],
        rows: &mut Vec<u32>,
        slots: &mut Vec<u32>,
    ) -> Result<(), Halt> {
        let filter = self.options.filter;
        let mut sorted = chunks.to_vec();
        sorted.sort_unstable();
        rows.clear();
        slots.clear();
        let mut filled = 0usize;
        // The pending read: global rows start..end, to window row `at`.
        let mut run: Option<(usize, usize, usize)> = None;
        for chunk in sorted {
            let range = plan.chunk_range(chunk);
            let before = rows.len();
            for row in range.clone() {
                if filter.selects(row as u64) {
                    rows.push(row as u32);
                    slots.push((filled + row - range.start) as u32);
                }
            }
            if rows.len() == before {
                continue;
            }
            run = match run {
                Some((start, end, at)) if end == range.start => Some((start, range.end, at)),
                Some(previous) => {
                    self.read_run(previous, window)?;
                    Some((range.start, range.end, filled))
                }
                None => Some((range.start, range.end, filled)),
            };
            filled += range.len();
        }
        match run {
            Some(last) => self.read_run(last, window),
            None => Ok(()),
        }
    }

    /// Reads the global rows `start..end` into the window buffer from its
    /// row `at`, in pieces of at most [`MAX_READ_BYTES`].
    fn read_run(
        &mut self,
        (start, end, at): (usize, usize, usize),
        window: &mut [u8],
    ) -> Result<(), Halt> {
        let row_bytes = self.set.row_bytes();
        let piece_rows = (MAX_READ_BYTES / row_bytes).max(1);
        let mut row = start;
        while row < end {
            self.stopped()?;
            let rows = piece_rows.min(end - row);
            let offset = (at + row - start) * row_bytes;
            self.files
                .read_rows(row, &mut window[offset..offset + rows * row_bytes])?;
            row += rows;
        }
        Ok(())
    }

    /// Emits the window's rows in order: the `i`-th is `rows[k]` in window
    /// slot `slots[k]`, with `k = order[i]`, or `k = i` without an order.
    /// Fills blocks a run of rows at a time and sends each full one.
    fn emit_window(
        &mut self,
        window: &[u8],
        rows: &[u32],
        slots: &[u32],
        order: Option<&[u32]>,
    ) -> Result<(), Halt> {
        let mut next = 0;
        while next < rows.len() {
            let mut block = match self.block.take() {
                Some(block) => block,
                None => self.fresh_block()?,
            };
            let take = (self.options.block_rows - block.rows).min(rows.len() - next);
            for i in next..next + take {
                let k = order.map_or(i, |order| order[i] as usize);
                self.emit(&mut block, window, slots[k], rows[k])?;
            }
            next += take;
            if block.rows == self.options.block_rows {
                self.send(block)?;
            } else {
                self.block = Some(block);
            }
        }
        Ok(())
    }

    /// Converts the row in window slot `slot` (global row `row`) into the
    /// next row of `block`, standardized when the pass is, checking that
    /// its values are finite: one pass over the row
    /// ([`RowKernels`]), and a second look only at a row whose results are
    /// not all finite.
    fn emit(&mut self, block: &mut Block, window: &[u8], slot: u32, row: u32) -> Result<(), Halt> {
        let element = self.set.element;
        let row_bytes = self.set.row_bytes();
        let raw = &window[slot as usize * row_bytes..][..row_bytes];
        let values = block.row_mut(block.rows);
        let kernels = self.kernels;
        let scale = self
            .scale
            .as_ref()
            .map(|(m, s)| (m.as_slice(), s.as_slice()));
        let finite = match (element.is_native_f32(), scale) {
            (true, None) => kernels.copy_native_f32(raw, values),
            (true, Some(scale)) => kernels.standardize_native_f32(raw, scale, values),
            (false, None) => {
                element.convert(raw, values, &mut self.half_bits);
                kernels.all_finite(values)
            }
            (false, Some(scale)) => {
                element.convert(raw, values, &mut self.half_bits);
                kernels.standardize_in_place(values, scale)
            }
        };
        if !finite {
            self.check_stored_values(raw, row)?;
        }
        block.rows += 1;
        block.row_ids.push(row);
        Ok(())
    }

    /// The error for the first non-finite stored value of global row `row`
    /// (stored bytes `raw`), as converted to f32. None when every one is
    /// finite: then standardizing made the non-finite result (a tiny std),
    /// which a pass passes on as standardizing a resident copy would.
    fn check_stored_values(&mut self, raw: &[u8], row: u32) -> Result<(), Halt> {
        let values = &mut self.check_scratch;
        values.resize(self.set.features, 0.0);
        self.set.element.convert(raw, values, &mut self.half_bits);
        match first_non_finite(values) {
            Some(column) => Err(Halt::Failed(self.set.non_finite(
                row as usize,
                column,
                values[column],
            ))),
            None => Ok(()),
        }
    }

    /// A block handed back by the consumer, else a new one.
    fn fresh_block(&mut self) -> Result<Block> {
        let (capacity, features) = (self.options.block_rows, self.set.features);
        while let Ok(mut block) = self.channels.recycled.try_recv() {
            if block.fits(capacity, features) {
                block.clear();
                return Ok(block);
            }
        }
        Block::new(capacity, features, &self.set.shards[0].path)
    }

    fn send(&self, block: Block) -> Result<(), Halt> {
        self.channels
            .blocks
            .send(Message::Block(block))
            .map_err(|_| Halt::Stopped)
    }
}

#[cfg(test)]
mod tests {
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
}
