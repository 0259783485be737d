//! Rows that are not resident on the backend: blocks of rows, prepared on
//! the host, uploaded in turn into a ring of device buffers while the
//! blocks before them train.
//!
//! A block is a whole number of steps (the last block of a pass holds the
//! rest), so the steps of a pass over blocks read the same rows in the same
//! order as steps over the resident rows with the same order: every block
//! is read through one identity index buffer `0..block_rows`.
//!
//! On a device (the GPU), the work recorded for a block is submitted before
//! the next block is written, and at most [`RING_SLOTS`]` − 1` blocks stay
//! in flight, so the upload staging memory is bounded however far the host
//! runs ahead. On the CPU the block is swapped into the slot without a copy
//! ([`Backend::replace_rows`]) and the slot's previous buffer goes back to
//! the source for its next block.

use crate::backend::Backend;
use crate::{Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Device buffers in the ring: one block trains while the next uploads.
pub(crate) const RING_SLOTS: usize = 2;

/// A block of rows on the host: `x` has room for a full block, its first
/// `rows` rows are filled, and `row_ids[i]` names row `i` in the feed's
/// label table (a stream's blocks as they come).
pub(crate) use crate::data::stream::Block as HostBlock;

/// The blocks of one pass, in order.
pub(crate) trait BlockSource {
    /// The next block; `None` after the last.
    fn next_block(&mut self) -> Option<Result<HostBlock>>;
    /// A block's buffers, handed back for a later block.
    fn recycle(&mut self, block: HostBlock);
}

/// How a pass over a [`BlockFeed`] orders its rows.
#[derive(Clone, Debug)]
pub(crate) enum FeedOrder {
    /// Every row once, in stored order.
    Sequential,
    /// These rows (indices into the feed's rows), in this order.
    Rows(Vec<u32>),
    /// Training epoch `epoch`'s own order (1-based), for a feed that
    /// shuffles its rows itself ([`BlockFeed::orders_epochs`]).
    Epoch(usize),
}

/// Where the blocks of each pass come from.
pub(crate) trait BlockFeed {
    /// Rows in a sequential pass.
    fn rows(&self) -> usize;
    /// Features per row.
    fn features(&self) -> usize;
    /// The class of each row, by row id.
    fn labels(&self) -> ArrayView1<'_, u32>;
    /// Whether a training epoch takes the feed's own order
    /// ([`FeedOrder::Epoch`]) rather than the step plan's
    /// ([`FeedOrder::Rows`]).
    fn orders_epochs(&self) -> bool;
    /// The blocks of one pass, of `block_rows` rows each.
    fn blocks(&self, order: FeedOrder, block_rows: usize) -> Result<Box<dyn BlockSource + '_>>;
}

/// Rows held on the host, gathered into blocks in a pass's order: the
/// rows `subset` of `x` (all when `None`).
pub(crate) struct HostFeed<'a> {
    pub x: ArrayView2<'a, f32>,
    pub labels: ArrayView1<'a, u32>,
    pub subset: Option<Vec<u32>>,
}

impl BlockFeed for HostFeed<'_> {
    fn rows(&self) -> usize {
        self.subset.as_ref().map_or(self.x.nrows(), Vec::len)
    }
    fn features(&self) -> usize {
        self.x.ncols()
    }
    fn labels(&self) -> ArrayView1<'_, u32> {
        self.labels
    }
    fn orders_epochs(&self) -> bool {
        false
    }
    fn blocks(&self, order: FeedOrder, block_rows: usize) -> Result<Box<dyn BlockSource + '_>> {
        let order = match (order, &self.subset) {
            (FeedOrder::Rows(order), None) => order,
            (FeedOrder::Rows(order), Some(subset)) => {
                order.iter().map(|&i| subset[i as usize]).collect()
            }
            (FeedOrder::Sequential, None) => (0..self.x.nrows() as u32).collect(),
            (FeedOrder::Sequential, Some(subset)) => subset.clone(),
            (FeedOrder::Epoch(_), _) => {
                return Err(Error::InvalidConfig(
                    "rows held on the host take the step plan's order".into(),
                ));
            }
        };
        Ok(Box::new(GatherBlocks::new(self.x, order, block_rows)))
    }
}

/// The rows `order[..]` of a host-resident matrix, gathered into blocks.
pub(crate) struct GatherBlocks<'a> {
    x: ArrayView2<'a, f32>,
    order: Vec<u32>,
    block_rows: usize,
    next: usize,
    spare: Option<HostBlock>,
}

impl<'a> GatherBlocks<'a> {
    pub fn new(x: ArrayView2<'a, f32>, order: Vec<u32>, block_rows: usize) -> Self {
        Self {
            x,
            order,
            block_rows,
            next: 0,
            spare: None,
        }
    }
}

impl BlockSource for GatherBlocks<'_> {
    fn next_block(&mut self) -> Option<Result<HostBlock>> {
        if self.next >= self.order.len() {
            return None;
        }
        let features = self.x.ncols();
        let ids = &self.order[self.next..(self.next + self.block_rows).min(self.order.len())];
        self.next += ids.len();
        let mut block = self.spare.take().unwrap_or_else(|| HostBlock {
            x: Array2::zeros((self.block_rows, features)),
            rows: 0,
            row_ids: Vec::with_capacity(self.block_rows),
        });
        for (mut to, &id) in block.x.outer_iter_mut().zip(ids) {
            to.assign(&self.x.row(id as usize));
        }
        block.rows = ids.len();
        block.row_ids.clear();
        block.row_ids.extend_from_slice(ids);
        Some(Ok(block))
    }

    fn recycle(&mut self, block: HostBlock) {
        if block.x.dim() == (self.block_rows, self.x.ncols()) {
            self.spare = Some(block);
        }
    }
}

/// One ring slot: a block's rows and their class indices.
struct RingSlot<B: Backend> {
    x: B::Rows,
    labels: B::Indices,
}

/// A block uploaded into the ring: read rows `order[first..first + n]`
/// for any `first + n ≤ rows`.
pub(crate) struct DeviceBlock<'r, B: Backend> {
    pub x: &'r B::Rows,
    pub labels: &'r B::Indices,
    pub order: &'r B::Indices,
    pub rows: usize,
}

/// [`RING_SLOTS`] device buffers of `block_rows` rows each, and the
/// identity order every block is read through.
pub(crate) struct DeviceRing<B: Backend> {
    slots: Vec<RingSlot<B>>,
    identity: B::Indices,
    block_rows: usize,
    features: usize,
    next: usize,
    labels: Vec<u32>,
}

impl<B: Backend> DeviceRing<B> {
    pub fn new(backend: &B, block_rows: usize, features: usize) -> Result<Self> {
        let block_u32 = u32::try_from(block_rows)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| {
                Error::InvalidConfig(format!("a block of {block_rows} rows for the device ring"))
            })?;
        let zeros = Array2::<f32>::zeros((block_rows, features));
        let mut slots = Vec::with_capacity(RING_SLOTS);
        for _ in 0..RING_SLOTS {
            slots.push(RingSlot {
                x: backend.upload_rows(zeros.view())?,
                labels: backend.upload_indices(&vec![0; block_rows])?,
            });
        }
        Ok(Self {
            slots,
            identity: backend.upload_indices(&(0..block_u32).collect::<Vec<_>>())?,
            block_rows,
            features,
            next: 0,
            labels: Vec::with_capacity(block_rows),
        })
    }

    /// Rows per block.
    pub fn block_rows(&self) -> usize {
        self.block_rows
    }

    /// A slot's rows (what a step over a block reads, for
    /// [`Backend::preferred_step_rows`]).
    pub fn slot_rows(&self) -> &B::Rows {
        &self.slots[0].x
    }

    /// One pass: each block of `source` goes into the next slot with its
    /// class indices from `labels` (by the block's row ids), then `visit`
    /// records the block's work. Returns the rows passed.
    pub fn pass(
        &mut self,
        backend: &B,
        source: &mut dyn BlockSource,
        labels: ArrayView1<'_, u32>,
        visit: &mut dyn FnMut(DeviceBlock<'_, B>) -> Result<()>,
    ) -> Result<usize> {
        let mut passed = 0;
        while let Some(block) = source.next_block() {
            let block = block?;
            if block.x.dim() != (self.block_rows, self.features) || block.rows > self.block_rows {
                return Err(Error::ShapeMismatch {
                    op: "device ring",
                    detail: format!(
                        "a block of {}×{} ({} rows filled) for slots of {}×{}",
                        block.x.nrows(),
                        block.x.ncols(),
                        block.rows,
                        self.block_rows,
                        self.features
                    ),
                });
            }
            // The slot's previous block was submitted before the block
            // after it; keep at most the other slots' blocks in flight.
            backend.settle(RING_SLOTS - 1)?;
            let slot = &mut self.slots[self.next];
            self.next = (self.next + 1) % RING_SLOTS;
            self.labels.clear();
            for &id in &block.row_ids[..block.rows] {
                let label = labels.get(id as usize).copied().ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "row {id} of a block has no label ({} labels)",
                        labels.len()
                    ))
                })?;
                self.labels.push(label);
            }
            backend.write_indices(&mut slot.labels, &self.labels)?;
            let rows = block.rows;
            let HostBlock { x, row_ids, .. } = block;
            let returned = backend.replace_rows(&mut slot.x, x)?;
            source.recycle(HostBlock {
                x: returned,
                rows: 0,
                row_ids,
            });
            visit(DeviceBlock {
                x: &slot.x,
                labels: &slot.labels,
                order: &self.identity,
                rows,
            })?;
            backend.flush()?;
            passed += rows;
        }
        Ok(passed)
    }
}

/// Rows per block for steps of `batch` rows over `features` features: a
/// whole number of steps, about `target_bytes` of f32 rows, at least one
/// step.
pub(crate) fn block_rows_for(batch: usize, features: usize, target_bytes: u64) -> usize {
    let row_bytes = (features.max(1) * 4) as u64;
    let steps = (target_bytes / row_bytes) as usize / batch.max(1);
    batch.max(1) * steps.max(1)
}
