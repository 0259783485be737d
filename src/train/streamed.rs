//! Training on data streamed from disk ([`StreamedData`]): the rows are
//! never held in memory at once. Every epoch (and every L-BFGS evaluation)
//! is one pass of a [`BlockStream`]: one reader thread reads chunks of rows
//! in large sequential reads, shuffles them at two levels (the chunks'
//! order, then the rows within a shuffle buffer; see [`Shuffle`]),
//! converts and standardizes them on the fly, and hands them over in
//! blocks that pass through a ring of device buffers
//! ([`crate::backend::ring`]) while the blocks before them train.
//!
//! The validation split is chosen per row by a seeded hash of its index
//! ([`is_validation_row`]), so it is the same whatever the chunk size;
//! validation rows are scored by a pass of their own after each epoch.
//! Standardization moments come from one streamed pass over the training
//! rows before training ([`fit_streamed_standardizer`]).
//!
//! With shuffling off, or with a shuffle buffer that holds every row, a
//! streamed run takes exactly the steps of a resident run over the same
//! training rows (the same rows in the same order), so on the CPU the two
//! give the same bits.

use crate::backend::ring::{BlockFeed, BlockSource, FeedOrder};
use crate::config::{Sampling, TrainConfig};
use crate::data::Standardizer;
use crate::data::stream::{
    Block, BlockStream, Moments, RowFilter, ShardSet, Shuffle, StreamOptions, is_validation_row,
};
use crate::{Error, Result};
use ndarray::ArrayView1;
use std::sync::Arc;

/// Rows per sequential read unless [`StreamedData::chunk_rows`] says
/// otherwise: about 4 MiB of rows, large enough for full-speed reads.
pub const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;

/// [`StreamedData::block_bytes`] by default.
pub const DEFAULT_BLOCK_BYTES: u64 = 32 << 20;

/// Blocks of [`StreamedData::block_bytes`] a streamed run without
/// validation rows holds at most: those in the stream's channel and being
/// filled, and the training ring's slots.
pub const BLOCKS_HELD: u64 = 6;

/// Blocks a streamed run with validation rows holds besides
/// [`BLOCKS_HELD`]: the slots of the validation rows' own ring (on the
/// CPU, host memory; each is filled by the first validation pass).
pub const VALIDATION_BLOCKS_HELD: u64 = crate::backend::ring::RING_SLOTS as u64;

/// A dataset on disk to train on without loading it: the shards, a class
/// index for every row, and how to read them.
#[derive(Clone, Debug)]
pub struct StreamedData {
    pub shards: Arc<ShardSet>,
    /// The class index of every row, 0..N in the shards' order.
    pub labels: Arc<Vec<u32>>,
    /// `(x − mean) / std` applied to every row as it is read
    /// ([`fit_streamed_standardizer`] fits one); `None` trains on the raw
    /// features.
    pub standardizer: Option<Arc<Standardizer>>,
    /// Rows per sequential read (a chunk).
    pub chunk_rows: usize,
    /// Rows shuffled together within an epoch, after the chunks' order is
    /// shuffled; a buffer of N rows or more is a full shuffle.
    pub shuffle_buffer: usize,
    /// Bytes of f32 rows in one block handed to the device ring (at most;
    /// a block is at least one step): the stream holds a few blocks in
    /// flight and the ring two more, so this bounds the memory beyond the
    /// shuffle window.
    pub block_bytes: u64,
}

impl StreamedData {
    /// The data with chunks of [`DEFAULT_CHUNK_BYTES`] and the given
    /// shuffle buffer, not standardized.
    pub fn new(shards: Arc<ShardSet>, labels: Vec<u32>, shuffle_buffer: usize) -> Self {
        let chunk_rows = chunk_rows_for(&shards, DEFAULT_CHUNK_BYTES);
        Self {
            shards,
            labels: Arc::new(labels),
            standardizer: None,
            chunk_rows,
            shuffle_buffer,
            block_bytes: DEFAULT_BLOCK_BYTES,
        }
    }

    /// Host bytes a training pass holds: its window of raw rows and its
    /// blocks (see [`BlockStream::memory_bytes`]).
    pub fn pass_memory(&self, block_rows: usize) -> u64 {
        let options = StreamOptions {
            chunk_rows: self.chunk_rows,
            shuffle: Some(Shuffle {
                seed: 0,
                epoch: 0,
                buffer_rows: self.shuffle_buffer.min(self.shards.rows()),
            }),
            block_rows,
            filter: RowFilter::All,
            standardizer: None,
        };
        BlockStream::memory_bytes(&options, self.shards.features(), self.shards.item_size())
    }
}

/// Rows of about `bytes` of `shards`' rows (as stored), at least one.
pub fn chunk_rows_for(shards: &ShardSet, bytes: u64) -> usize {
    let row_bytes = (shards.features().max(1) * shards.item_size().max(1)) as u64;
    ((bytes / row_bytes) as usize).clamp(1, shards.rows().max(1))
}

/// The rows of a streamed run's training and validation parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamedSplit {
    pub train: usize,
    pub validation: usize,
}

/// The training rows' [`Standardizer`]: one streamed pass in file order,
/// the moments accumulated in f64 row by row ([`Moments`]), so the result
/// does not depend on the chunk size. `fraction` and `seed` choose the
/// validation rows (left out), as the run will.
pub fn fit_streamed_standardizer(
    data: &StreamedData,
    fraction: f32,
    seed: u64,
) -> Result<Standardizer> {
    let mut moments = Moments::new(data.shards.features());
    let mut stream = BlockStream::start(
        Arc::clone(&data.shards),
        StreamOptions {
            chunk_rows: data.chunk_rows,
            shuffle: None,
            block_rows: data.chunk_rows,
            filter: train_filter(fraction, seed),
            standardizer: None,
        },
    )?;
    while let Some(block) = stream.next_block() {
        let block = block?;
        moments.add_rows(block.x.slice(ndarray::s![..block.rows, ..]));
        stream.recycle(block);
    }
    if moments.count() == 0 {
        return Err(Error::EmptyData(format!(
            "{} has no training rows",
            data.shards.describe()
        )));
    }
    Ok(Standardizer::from_moments(&moments))
}

fn train_filter(fraction: f32, seed: u64) -> RowFilter {
    if fraction > 0.0 {
        RowFilter::Train { seed, fraction }
    } else {
        RowFilter::All
    }
}

/// Checks a streamed run of `config` on `data` before anything is read:
/// the sampling, the labels against the rows and classes, that both parts
/// of the hashed split have rows and every class trains, and what a
/// resident run checks of its sizes and early stopping. Returns the
/// classes and the split's sizes.
pub(super) fn check_streamed(
    config: &TrainConfig,
    data: &StreamedData,
) -> Result<(usize, StreamedSplit)> {
    config.validate()?;
    if config.sampling == Sampling::WithReplacement {
        return Err(Error::InvalidConfig(
            "sampling with replacement needs the rows in memory; a streamed run shuffles or \
             reads in order"
                .into(),
        ));
    }
    let rows = data.shards.rows();
    if data.labels.len() != rows {
        return Err(Error::ShapeMismatch {
            op: "fit",
            detail: format!(
                "{} has {rows} rows but there are {} labels",
                data.shards.describe(),
                data.labels.len()
            ),
        });
    }
    if data.chunk_rows == 0 || data.shuffle_buffer == 0 {
        return Err(Error::InvalidConfig(
            "chunks and the shuffle buffer need at least one row".into(),
        ));
    }
    let labels = ArrayView1::from(data.labels.as_slice());
    let classes = super::prepare::check_classes(config, &labels, rows)?;
    let fraction = config.validation_fraction;
    let (mut trained, mut total) = (vec![0usize; classes], vec![0usize; classes]);
    let mut validation = 0;
    for (row, &label) in data.labels.iter().enumerate() {
        total[label as usize] += 1;
        if fraction > 0.0 && is_validation_row(config.seed, fraction, row as u64) {
            validation += 1;
        } else {
            trained[label as usize] += 1;
        }
    }
    let split = StreamedSplit {
        train: rows - validation,
        validation,
    };
    if split.train == 0 || (fraction > 0.0 && split.validation == 0) {
        return Err(Error::EmptyData(format!(
            "a validation fraction of {fraction} leaves {} training and {} validation rows",
            split.train, split.validation
        )));
    }
    if let Some(class) = (0..classes).find(|&c| trained[c] == 0 && total[c] > 0) {
        return Err(Error::EmptyData(format!(
            "a validation fraction of {fraction} holds out every row of class {class} ({} row{}), leaving none to train it",
            total[class],
            if total[class] == 1 { "" } else { "s" }
        )));
    }
    let validation = (split.validation > 0).then_some(super::prepare::TargetKind::Classes);
    super::prepare::check_run_of(
        config,
        data.shards.features(),
        classes,
        split.train,
        validation,
    )?;
    Ok((classes, split))
}

/// One part of a streamed split as a [`BlockFeed`]: the rows `filter`
/// selects, read in chunks, shuffled per epoch when `shuffle` is on.
pub(super) struct DiskFeed<'a> {
    pub data: &'a StreamedData,
    pub filter: RowFilter,
    pub rows: usize,
    pub seed: u64,
    pub shuffle: bool,
}

impl<'a> DiskFeed<'a> {
    /// The training part of `data` for a run of `config`.
    pub fn train(data: &'a StreamedData, config: &TrainConfig, split: StreamedSplit) -> Self {
        Self {
            data,
            filter: train_filter(config.validation_fraction, config.seed),
            rows: split.train,
            seed: config.seed,
            shuffle: config.sampling == Sampling::Shuffle,
        }
    }

    /// The validation part, read in file order; `None` without one.
    pub fn validation(
        data: &'a StreamedData,
        config: &TrainConfig,
        split: StreamedSplit,
    ) -> Option<Self> {
        (split.validation > 0).then_some(Self {
            data,
            filter: RowFilter::Validation {
                seed: config.seed,
                fraction: config.validation_fraction,
            },
            rows: split.validation,
            seed: config.seed,
            shuffle: false,
        })
    }
}

impl BlockFeed for DiskFeed<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn features(&self) -> usize {
        self.data.shards.features()
    }
    fn labels(&self) -> ArrayView1<'_, u32> {
        ArrayView1::from(self.data.labels.as_slice())
    }
    fn orders_epochs(&self) -> bool {
        true
    }
    fn blocks(&self, order: FeedOrder, block_rows: usize) -> Result<Box<dyn BlockSource + '_>> {
        let shuffle = match order {
            FeedOrder::Epoch(epoch) if self.shuffle => Some(Shuffle {
                seed: self.seed,
                epoch,
                buffer_rows: self.data.shuffle_buffer,
            }),
            FeedOrder::Epoch(_) | FeedOrder::Sequential => None,
            FeedOrder::Rows(_) => {
                return Err(Error::InvalidConfig(
                    "streamed rows are read in their own order".into(),
                ));
            }
        };
        let stream = BlockStream::start(
            Arc::clone(&self.data.shards),
            StreamOptions {
                chunk_rows: self.data.chunk_rows,
                shuffle,
                block_rows,
                filter: self.filter,
                standardizer: self.data.standardizer.clone(),
            },
        )?;
        Ok(Box::new(StreamBlocks(stream)))
    }
}

/// A [`BlockStream`] as the ring's [`BlockSource`].
struct StreamBlocks(BlockStream);

impl BlockSource for StreamBlocks {
    fn next_block(&mut self) -> Option<Result<Block>> {
        self.0.next_block()
    }
    fn recycle(&mut self, block: Block) {
        self.0.recycle(block);
    }
}
