//! The order of one pass over streamed rows: chunks of consecutive rows,
//! grouped into windows, each window's rows shuffled by one generator for
//! the epoch. The rules are stated on [`StreamOptions`] and
//! [`Shuffle`]; this module computes the chunk order and the windows.

use super::row_split::RowFilter;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use super::super::Standardizer;

/// How one pass reads the rows.
///
/// Rows are numbered globally 0..N across the shards. Chunk `c` is the
/// rows `[c·R, min((c+1)·R, N))` with `R = chunk_rows`, read with one large
/// sequential read per shard it spans.
///
/// Without [`StreamOptions::shuffle`], the chunks come in order and the
/// selected rows in ascending order. With it, see [`Shuffle`].
///
/// The emitted rows are packed into blocks of exactly `block_rows` rows,
/// across window boundaries; the last block holds the rest, and a pass
/// with no selected rows yields no block.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// Rows per sequential read (a chunk). ≥ 1.
    pub chunk_rows: usize,
    /// `None`: file order. `Some`: the two-level shuffle of [`Shuffle`].
    pub shuffle: Option<Shuffle>,
    /// Rows per block handed to the consumer. ≥ 1.
    pub block_rows: usize,
    /// Which rows the pass reads.
    pub filter: RowFilter,
    /// Applied on the fly to every row: `(x − mean) / std` in f32, the same
    /// expression as [`Standardizer::apply_in_place`], so the bits equal
    /// standardizing a resident copy.
    pub standardizer: Option<Arc<Standardizer>>,
}

/// The two-level shuffle of one epoch.
///
/// 1. The chunk order: `order = [0, 1, …, chunks − 1]` shuffled
///    (`SliceRandom::shuffle`) by `ChaCha8Rng::seed_from_u64(seed ⊕
///    epoch·0x9E3779B97F4A7C15 ⊕ 0xC0FFEE00C4A2C0DE)` (wrapping product).
/// 2. Windows: consecutive groups, in that order, of
///    `w = max(1, ⌊buffer_rows / R⌋)` chunks when `buffer_rows < N`; when
///    `buffer_rows ≥ N`, one window of every chunk (even where N is not a
///    multiple of R, so ⌊buffer_rows / R⌋ may be one chunk short).
/// 3. One row generator for the whole epoch,
///    `ChaCha8Rng::seed_from_u64(seed ⊕ epoch·0x9E3779B97F4A7C15)`, the one
///    resident training shuffles its rows with. For each window in turn:
///    `L` = the selected rows of its chunks in ascending global order
///    (length `m`), `p = [0, …, m − 1]` shuffled by the row generator (which
///    continues across windows), and the rows emitted are `L[p[0]],
///    L[p[1]], …`.
///
/// So with one window and every row selected, the order is exactly the
/// full permutation resident training uses. With several windows, a row
/// can only move within its window: rows of one chunk stay within w·R
/// rows of each other in the order, and the first rows of the epoch all
/// come from the first window's chunks.
#[derive(Clone, Copy, Debug)]
pub struct Shuffle {
    /// The run's seed.
    pub seed: u64,
    /// The epoch, as the trainer numbers it (from 1), so each epoch has its
    /// own order: the same number resident training seeds its shuffle with.
    pub epoch: usize,
    /// Rows of the shuffle buffer; the window holds ⌊buffer_rows / R⌋
    /// chunks, at least one.
    pub buffer_rows: usize,
}

/// Mixed into the chunk order's seed so it differs from the row order's.
const CHUNK_ORDER_SALT: u64 = 0xC0FF_EE00_C4A2_C0DE;
/// The multiplier that spreads epochs over seeds (also resident training's).
const EPOCH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Shuffle {
    /// The epoch's row generator (step 3 above).
    pub(super) fn row_rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ (self.epoch as u64).wrapping_mul(EPOCH_MULTIPLIER))
    }

    /// The chunk order of `chunks` chunks (step 1 above).
    pub(super) fn chunk_order(&self, chunks: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..chunks as u32).collect();
        let seed =
            self.seed ^ (self.epoch as u64).wrapping_mul(EPOCH_MULTIPLIER) ^ CHUNK_ORDER_SALT;
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        order
    }

    /// Chunks per window of a pass over `rows` rows in `chunks` chunks of
    /// `chunk_rows` (step 2 above).
    pub(super) fn window_chunks(&self, rows: usize, chunk_rows: usize, chunks: usize) -> usize {
        if self.buffer_rows >= rows {
            chunks.max(1)
        } else {
            (self.buffer_rows / chunk_rows).clamp(1, chunks.max(1))
        }
    }
}

/// The chunks of a pass over `rows` rows and how they group into windows.
pub(super) struct PassPlan {
    /// Rows per chunk.
    pub(super) chunk_rows: usize,
    pub(super) rows: usize,
    /// Every chunk once, in the order the windows take them.
    pub(super) order: Vec<u32>,
    /// Chunks per window.
    pub(super) window_chunks: usize,
}

impl PassPlan {
    pub(super) fn new(rows: usize, options: &StreamOptions) -> PassPlan {
        let chunk_rows = options.chunk_rows;
        let chunks = rows.div_ceil(chunk_rows);
        let (order, window_chunks) = match &options.shuffle {
            None => ((0..chunks as u32).collect(), 1),
            Some(shuffle) => (
                shuffle.chunk_order(chunks),
                shuffle.window_chunks(rows, chunk_rows, chunks),
            ),
        };
        PassPlan {
            chunk_rows,
            rows,
            order,
            window_chunks,
        }
    }

    /// The windows in order, each its chunks in the order of the plan.
    pub(super) fn windows(&self) -> std::slice::Chunks<'_, u32> {
        self.order.chunks(self.window_chunks)
    }

    /// The global rows of chunk `chunk`.
    pub(super) fn chunk_range(&self, chunk: u32) -> std::ops::Range<usize> {
        let start = chunk as usize * self.chunk_rows;
        start..(start + self.chunk_rows).min(self.rows)
    }

    /// The most rows a window holds.
    pub(super) fn max_window_rows(&self) -> usize {
        (self.window_chunks * self.chunk_rows).min(self.rows)
    }
}

/// Most rows the window buffer of a pass with `options` holds, whatever
/// the data's N: one chunk `R` without shuffling, `max(R, buffer_rows)`
/// with it (a window holds `w · R ≤ buffer_rows` rows, one chunk, or all N
/// rows when `N ≤ buffer_rows`).
pub(super) fn window_rows_bound(options: &StreamOptions) -> usize {
    let chunk_rows = options.chunk_rows.max(1);
    match &options.shuffle {
        None => chunk_rows,
        Some(shuffle) => shuffle.buffer_rows.max(chunk_rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(chunk_rows: usize, buffer_rows: Option<usize>) -> StreamOptions {
        StreamOptions {
            chunk_rows,
            shuffle: buffer_rows.map(|buffer_rows| Shuffle {
                seed: 9,
                epoch: 2,
                buffer_rows,
            }),
            block_rows: 1,
            filter: RowFilter::All,
            standardizer: None,
        }
    }

    #[test]
    fn chunks_cover_the_rows_once_and_windows_group_them() {
        let plan = PassPlan::new(17, &options(5, None));
        assert_eq!(plan.order, [0, 1, 2, 3]);
        assert_eq!(plan.windows().count(), 4);
        assert_eq!(plan.chunk_range(3), 15..17);
        assert_eq!(plan.max_window_rows(), 5);

        let plan = PassPlan::new(17, &options(5, Some(11)));
        let mut sorted = plan.order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
        assert_eq!(plan.window_chunks, 2);
        assert_eq!(plan.windows().map(<[u32]>::len).collect::<Vec<_>>(), [2, 2]);
        assert_eq!(plan.max_window_rows(), 10);

        // A buffer smaller than a chunk still holds one chunk; one larger
        // than the data holds all of it.
        assert_eq!(PassPlan::new(17, &options(5, Some(3))).window_chunks, 1);
        let whole = PassPlan::new(17, &options(5, Some(1000)));
        assert_eq!((whole.window_chunks, whole.max_window_rows()), (4, 17));
        // ⌊17 / 5⌋ = 3 chunks would leave the fourth to a second window.
        let exact = PassPlan::new(17, &options(5, Some(17)));
        assert_eq!((exact.window_chunks, exact.windows().count()), (4, 1));
        assert_eq!(window_rows_bound(&options(5, Some(11))), 11);
        assert_eq!(window_rows_bound(&options(5, Some(3))), 5);
        assert_eq!(window_rows_bound(&options(5, None)), 5);
    }
}
