//! One pass over the selected rows of a [`ShardSet`], read by one reader
//! thread that runs ahead of the consumer by a bounded number of blocks.

use super::block::Block;
use super::pass_order::{StreamOptions, window_rows_bound};
use super::shard_set::ShardSet;
use super::window_reader::{Message, ReaderChannels, SCATTER_QUEUED_BLOCKS, run_pass, scatters};
use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::thread::JoinHandle;

/// Full blocks the reader may have sent that the consumer has not taken,
/// when it gathers rows (when it scatters them, one: see
/// [`BlockStream::memory_bytes`]).
const QUEUED_BLOCKS: usize = 2;

/// Blocks that exist at once, besides the window, when the consumer holds
/// at most one and hands each back with [`BlockStream::recycle`]: the
/// queued ones, the one the reader fills and the consumer's.
const BLOCKS_IN_FLIGHT: usize = QUEUED_BLOCKS + 2;

/// One pass over the selected rows, read by ONE reader thread, in the
/// order [`StreamOptions`] and [`Shuffle`](super::Shuffle) define.
///
/// The thread reads a window of chunks (large sequential reads) and puts
/// its rows, in order, into blocks, converting them to f32 and
/// standardizing them, and sends each block through a channel; so the
/// consumer only receives ready f32 blocks. Rows stored in 4 bytes or more
/// are scattered: read through a small staging buffer straight into their
/// places in the window's blocks, which are sent once the window is read.
/// Smaller ones are gathered: read into one window buffer of stored bytes,
/// then copied in order into blocks as the channel takes them. Either way
/// the reader works on the next window while the consumer works on the
/// blocks already made (those queued and the one it holds).
pub struct BlockStream {
    blocks: Option<Receiver<Message>>,
    recycled: Sender<Block>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    shards: Arc<ShardSet>,
    block_rows: usize,
    /// The pass ended (its end, an error, or a lost thread was reported).
    finished: bool,
}

impl BlockStream {
    /// Starts the reader thread for one pass. Errors: a chunk or block size
    /// of 0, or a standardizer of another feature count
    /// ([`Error::InvalidConfig`], [`Error::ShapeMismatch`]); a thread the
    /// system cannot start.
    pub fn start(shards: Arc<ShardSet>, options: StreamOptions) -> Result<BlockStream> {
        if options.chunk_rows == 0 || options.block_rows == 0 {
            return Err(Error::InvalidConfig(format!(
                "a stream needs at least one row per chunk and per block (chunk_rows {}, \
                 block_rows {})",
                options.chunk_rows, options.block_rows
            )));
        }
        if let Some(standardizer) = &options.standardizer
            && (standardizer.mean.len() != shards.features()
                || standardizer.std.len() != shards.features())
        {
            return Err(Error::ShapeMismatch {
                op: "standardize",
                detail: format!(
                    "data has {} features, the standardizer was fitted on {}",
                    shards.features(),
                    standardizer.mean.len()
                ),
            });
        }
        let queued = if scatters(&shards, &options) {
            SCATTER_QUEUED_BLOCKS
        } else {
            QUEUED_BLOCKS
        };
        let (block_sender, blocks) = sync_channel(queued);
        let (recycled, recycled_receiver) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let channels = ReaderChannels {
            blocks: block_sender,
            recycled: recycled_receiver,
            stop: Arc::clone(&stop),
        };
        let set = Arc::clone(&shards);
        let block_rows = options.block_rows;
        let thread = std::thread::Builder::new()
            .name("lintrain-stream".into())
            .spawn(move || run_pass(&set, &options, channels))
            .map_err(|e| {
                Error::file(
                    &shards.shards()[0].path,
                    format!("cannot start a thread to read it: {e}"),
                )
            })?;
        Ok(BlockStream {
            blocks: Some(blocks),
            recycled,
            stop,
            thread: Some(thread),
            shards,
            block_rows,
            finished: false,
        })
    }

    /// The next block in order, `None` at the end; an `Err` ends the
    /// stream (bad shard, I/O error, non-finite value; each names the shard
    /// path), and every call after it returns `None`.
    pub fn next_block(&mut self) -> Option<Result<Block>> {
        if self.finished {
            return None;
        }
        let message = self.blocks.as_ref()?.recv();
        match message {
            Ok(Message::Block(block)) => Some(Ok(block)),
            Ok(Message::Failed(error)) => {
                self.finished = true;
                Some(Err(error))
            }
            Ok(Message::End) => {
                self.finished = true;
                None
            }
            Err(_) => {
                // The thread ended without saying why: it panicked. Not an
                // end, or a short pass would pass for a whole one.
                self.finished = true;
                let reason = match self.thread.take().map(JoinHandle::join) {
                    Some(Err(panic)) => panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into()),
                    _ => "an unknown cause".into(),
                };
                Some(Err(Error::file(
                    &self.shards.shards()[0].path,
                    format!("the thread reading it stopped before the end of the pass: {reason}"),
                )))
            }
        }
    }

    /// Hands a block's buffers back for reuse, so the pass allocates a
    /// bounded number of buffers (a block of another shape is dropped).
    pub fn recycle(&mut self, block: Block) {
        if block.fits(self.block_rows, self.shards.features()) {
            // A reader that has finished needs no buffers: dropping is right.
            let _ = self.recycled.send(block);
        }
    }

    /// Bytes this stream holds at most (window + blocks in flight), for
    /// the memory budget, when the consumer holds at most one block at a
    /// time and recycles it:
    ///
    /// `W · (D · item_size + 12) + 4 · block_rows · (4·D + 4) + 2·D`
    ///
    /// with `W` a bound on the window's rows (`R` unshuffled,
    /// `max(R, buffer_rows)` shuffled: the window holds `w · R` rows, see
    /// [`Shuffle`](super::Shuffle)). Gathering (values of 1 or 2 bytes):
    /// the window buffer of stored rows, 12 bytes of indices per window
    /// row, four blocks of f32 rows and their `u32` ids (two queued, the
    /// reader's and the consumer's), and a row of half-precision scratch.
    /// Scattering (4 bytes or more): the window's rows in their blocks,
    /// with their ids, at most `⌈(W + B − 1)/B⌉` blocks, one queued and the
    /// consumer's, 4 bytes of indices per window row and a staging buffer
    /// in the rest, which the bound leaves `W·(D·(item_size − 4) + 4) + 6·D`
    /// bytes for. Either way, besides these, a row of f32 scratch for a row
    /// whose results are not all finite, and a few bytes per chunk of the
    /// window. A pass over N rows never has a window of more than N rows,
    /// so callers with a shuffle buffer beyond N should cap `buffer_rows`
    /// at N before asking.
    pub fn memory_bytes(options: &StreamOptions, features: usize, item_size: usize) -> u64 {
        let features = features as u64;
        let window_rows = window_rows_bound(options) as u64;
        let window = window_rows
            .saturating_mul(features.saturating_mul(item_size as u64).saturating_add(12));
        let blocks = (BLOCKS_IN_FLIGHT as u64)
            .saturating_mul(options.block_rows as u64)
            .saturating_mul(features.saturating_mul(4).saturating_add(4));
        window
            .saturating_add(blocks)
            .saturating_add(features.saturating_mul(2))
    }
}

impl Drop for BlockStream {
    /// Stops and joins the reader thread without hanging, even mid-pass:
    /// the flag stops it between reads, and dropping the receiving end
    /// wakes it from a send into a full channel.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.blocks.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
