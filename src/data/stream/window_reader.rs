//! The body of a stream's reader thread: for each window of the pass, read
//! its chunks (large sequential reads) and write its rows, in the pass's
//! order, into block buffers, converting, standardizing and checking each
//! row on the way ([`RowWriter`]), and send the full blocks.
//!
//! Two ways to get a window's rows into its blocks, the same rows in the
//! same order either way:
//!
//! - **Scatter** (values stored in 4 bytes or more: f32, f64, 32- and
//!   64-bit integers), in `scatter`: each chunk is read through a small
//!   staging buffer that stays in the CPU's cache and each of its rows is
//!   written straight to its place in the window's blocks. A row crosses
//!   main memory once (read from the page cache, written to its block).
//! - **Gather** (values of 1 or 2 bytes): the window's chunks are read into
//!   one window buffer of stored bytes, then its rows are gathered in order
//!   into blocks. A row crosses main memory twice more (written to the
//!   window buffer and read back from it, at random, for the gather), but
//!   the window holds a row in fewer bytes than a block does, which keeps
//!   a shuffle buffer of f16 or u8 rows as small as its stored bytes.
//!
//! Memory: see [`BlockStream::memory_bytes`](super::BlockStream::memory_bytes),
//! which bounds both.

use super::super::try_vec;
use super::block::Block;
use super::pass_order::{PassPlan, StreamOptions};
use super::row_writer::RowWriter;
use super::shard_reader::ShardReader;
use super::shard_set::ShardSet;
use crate::{Error, Result};
use rand::seq::SliceRandom;
pub(super) use scatter::{SCATTER_QUEUED_BLOCKS, scatters};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

/// Most bytes in one read of the gathering path: a window is read in
/// pieces of at most this, so that a stream being dropped stops within one
/// piece's time.
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

/// One window's selected rows: `runs`, the global rows `start..end` of
/// adjacent chunks that hold them, ascending, each with the window-buffer
/// row `at` it is read to on the gathering path, and `selected`, how many
/// rows the window has.
#[derive(Default)]
struct WindowRows {
    runs: Vec<(usize, usize, usize)>,
    selected: usize,
    /// The gathering path only: the selected rows in ascending order (the
    /// list L of [`Shuffle`](super::Shuffle)), and the window-buffer row
    /// each is in.
    rows: Vec<u32>,
    slots: Vec<u32>,
}

struct WindowReader<'a> {
    set: &'a ShardSet,
    options: &'a StreamOptions,
    channels: &'a ReaderChannels,
    files: ShardReader<'a>,
    writer: RowWriter,
    /// The block being filled.
    block: Option<Block>,
}

impl<'a> WindowReader<'a> {
    fn new(
        set: &'a ShardSet,
        options: &'a StreamOptions,
        channels: &'a ReaderChannels,
    ) -> WindowReader<'a> {
        WindowReader {
            set,
            options,
            channels,
            files: ShardReader::new(set),
            writer: RowWriter::new(set, options.standardizer.as_deref()),
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
        let scatter = scatters(set, self.options);
        // The scattering path's staging buffer, or the gathering path's
        // window buffer.
        let (buffer_rows, what) = if scatter {
            (scatter::staging_rows(set, &plan), "staging buffer")
        } else {
            (plan.max_window_rows(), "window")
        };
        let buffer_bytes = buffer_rows * set.row_bytes();
        let mut buffer: Vec<u8> = try_vec(
            &set.shards[0].path,
            buffer_bytes,
            &format!("the stream's {what} of {buffer_rows} rows"),
        )?;
        buffer.resize(buffer_bytes, 0);
        let mut row_rng = self.options.shuffle.map(|s| s.row_rng());
        let mut window = WindowRows::default();
        // p of `Shuffle`; the scattering path turns it into its inverse.
        let mut permutation: Vec<u32> = Vec::new();
        for chunks in plan.windows() {
            self.stopped()?;
            self.select(&plan, chunks, &mut window, !scatter);
            let order = match &mut row_rng {
                None => None,
                Some(rng) => {
                    permutation.clear();
                    permutation.extend(0..window.selected as u32);
                    permutation.shuffle(rng);
                    Some(permutation.as_mut_slice())
                }
            };
            if scatter {
                let places = order.map(|order| {
                    scatter::invert_in_place(order);
                    &*order
                });
                self.scatter_window(&window, places, &mut buffer)?;
            } else {
                for &run in &window.runs {
                    self.read_run(run, &mut buffer)?;
                }
                self.gather_window(&buffer, &window, order.as_deref())?;
            }
        }
        if let Some(block) = self.block.take()
            && block.rows > 0
        {
            self.send(block)?;
        }
        Ok(())
    }

    /// Lists the runs to read the selected rows of the chunks `chunks` of a
    /// window by (chunks without a selected row are not read, adjacent ones
    /// are read together, in ascending order) and counts the rows; with
    /// `list_rows`, lists them and their window-buffer rows too.
    fn select(&self, plan: &PassPlan, chunks: &[u32], window: &mut WindowRows, list_rows: bool) {
        let filter = self.options.filter;
        let mut sorted = chunks.to_vec();
        sorted.sort_unstable();
        window.runs.clear();
        window.selected = 0;
        window.rows.clear();
        window.slots.clear();
        let mut filled = 0usize;
        for chunk in sorted {
            let range = plan.chunk_range(chunk);
            let before = window.selected;
            for row in range.clone() {
                if filter.selects(row as u64) {
                    window.selected += 1;
                    if list_rows {
                        window.rows.push(row as u32);
                        window.slots.push((filled + row - range.start) as u32);
                    }
                }
            }
            if window.selected == before {
                continue;
            }
            match window.runs.last_mut() {
                Some((_, end, _)) if *end == range.start => *end = range.end,
                _ => window.runs.push((range.start, range.end, filled)),
            }
            filled += range.len();
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

    /// The gathering path: emits the window's rows, read into `buffer`, in
    /// order (the `i`-th is `L[order[i]]`, or `L[i]` without an order), into
    /// blocks, sending each full one.
    fn gather_window(
        &mut self,
        buffer: &[u8],
        window: &WindowRows,
        order: Option<&[u32]>,
    ) -> Result<(), Halt> {
        let set = self.set;
        let row_bytes = set.row_bytes();
        let mut next = 0;
        while next < window.rows.len() {
            let mut block = self.take_block()?;
            let take = (self.options.block_rows - block.rows).min(window.rows.len() - next);
            for i in next..next + take {
                let k = order.map_or(i, |order| order[i] as usize);
                let raw = &buffer[window.slots[k] as usize * row_bytes..][..row_bytes];
                let row = window.rows[k];
                self.writer
                    .write(set, raw, row, block.row_mut(block.rows))?;
                block.rows += 1;
                block.row_ids.push(row);
            }
            next += take;
            self.pass_on(block)?;
        }
        Ok(())
    }

    /// The block being filled, else a block handed back by the consumer,
    /// else a new one.
    fn take_block(&mut self) -> Result<Block> {
        if let Some(block) = self.block.take() {
            return Ok(block);
        }
        let (capacity, features) = (self.options.block_rows, self.set.features);
        while let Ok(mut block) = self.channels.recycled.try_recv() {
            if block.fits(capacity, features) {
                block.clear();
                return Ok(block);
            }
        }
        Block::new(capacity, features, &self.set.shards[0].path)
    }

    /// Sends `block` when full, else keeps it as the block being filled.
    fn pass_on(&mut self, block: Block) -> Result<(), Halt> {
        if block.rows == self.options.block_rows {
            self.send(block)
        } else {
            self.block = Some(block);
            Ok(())
        }
    }

    fn send(&self, block: Block) -> Result<(), Halt> {
        self.writer.finish_stores();
        self.channels
            .blocks
            .send(Message::Block(block))
            .map_err(|_| Halt::Stopped)
    }
}

mod scatter;
#[cfg(test)]
mod tests;
