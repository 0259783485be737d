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
            match &mut row_rng {
                None => {
                    for (&row, &slot) in rows.iter().zip(&slots) {
                        self.emit(&window, slot, row)?;
                    }
                }
                Some(rng) => {
                    permutation.clear();
                    permutation.extend(0..rows.len() as u32);
                    permutation.shuffle(rng);
                    for &k in &permutation {
                        self.emit(&window, slots[k as usize], rows[k as usize])?;
                    }
                }
            }
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

    /// Converts the row in window slot `slot` (global row `row`) into the
    /// next row of the block being filled, sending the block when full.
    fn emit(&mut self, window: &[u8], slot: u32, row: u32) -> Result<(), Halt> {
        let set = self.set;
        let row_bytes = set.row_bytes();
        let raw = &window[slot as usize * row_bytes..(slot as usize + 1) * row_bytes];
        let mut block = match self.block.take() {
            Some(block) => block,
            None => self.fresh_block()?,
        };
        let filled = block.rows;
        let values = block.row_mut(filled);
        set.element.convert(raw, values, &mut self.half_bits);
        if let Some(column) = first_non_finite(values) {
            return Err(Halt::Failed(set.non_finite(
                row as usize,
                column,
                values[column],
            )));
        }
        if let Some((mean, std)) = &self.scale {
            // The expression of Standardizer::apply_in_place, so the bits
            // are those of standardizing a resident copy.
            for ((v, m), s) in values.iter_mut().zip(mean).zip(std) {
                *v = (*v - m) / s;
            }
        }
        block.rows += 1;
        block.row_ids.push(row);
        if block.rows == self.options.block_rows {
            self.send(block)
        } else {
            self.block = Some(block);
            Ok(())
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
