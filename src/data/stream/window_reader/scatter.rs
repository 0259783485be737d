//! The scattering path of the reader: a window's rows written straight from
//! a small staging buffer to their places in the window's blocks.
//!
//! The window's blocks are taken first, every block that any of its rows
//! lands in (the partly filled block the last window left first). Each run
//! of chunks is read, in ascending file order, in pieces that fit the
//! staging buffer, and each selected row of a piece goes to place
//! `places[k]` of the window's order (`k` its index in the list L of
//! [`Shuffle`](super::super::Shuffle)): row `q % B` of block `q / B`, with
//! `q` counted from the carried block's first row. The full blocks are then
//! sent in order, and a partly filled last block waits for the next window.
//!
//! Why: gathering reads every row into a window buffer larger than any
//! cache and then copies it, from a random place, into a block, so each
//! row crosses main memory three times (written to the window buffer, read
//! back, written to the block) after its read from the page cache. Here
//! the staging buffer stays in the cache and each row is written to main
//! memory once; on the 2,000,000 × 768 f32 benchmark file, with the
//! streaming stores of the row kernels, the reader takes about half the
//! CPU time.
//!
//! Memory, within the bound of
//! [`BlockStream::memory_bytes`](super::super::BlockStream::memory_bytes)
//! with `W` the most rows of a window, `B` rows per block and `s` bytes per
//! stored value (s ≥ 4 here): the window's blocks hold the window, at most
//! `⌈(W + B − 1)/B⌉` blocks; the channel holds one more (where the
//! gathering path's holds two) and the consumer one, so the blocks take at
//! most `(W + 4B − 2)·(4D + 4)` bytes; the one index list is the permutation
//! p, inverted in place into the places (4 bytes a row, where the bound
//! counts 12); and the staging buffer takes at most the room left,
//! `W·(D·(s − 4) + 4) + 6D` bytes (besides a row of scratch for a row whose
//! results are not all finite), and at most [`STAGING_BYTES`].

use super::super::pass_order::{PassPlan, StreamOptions, window_rows_bound};
use super::super::shard_set::ShardSet;
use super::{Halt, WindowReader, WindowRows};
use crate::Error;

/// Most bytes of the staging buffer: a read of this size costs little more
/// per byte than a larger one, and the buffer stays in the cache between
/// the read that fills it and the writes that empty it.
const STAGING_BYTES: usize = 1 << 20;

/// The channel's places on the scattering path (see the module's
/// documentation: one fewer than on the gathering path).
pub(in super::super) const SCATTER_QUEUED_BLOCKS: usize = 1;

/// Whether a pass over `set` with `options` takes the scattering path:
/// values of 4 bytes or more (the window's f32 blocks are then no larger
/// than its stored rows), and windows of fewer than 2³¹ rows (the
/// permutation is inverted in place with its top bit as a mark).
pub(in super::super) fn scatters(set: &ShardSet, options: &StreamOptions) -> bool {
    set.element.size() >= 4 && window_rows_bound(options).min(set.rows) < 1 << 31
}

/// Rows of the staging buffer of a pass over `set` with `plan`: the room
/// the memory bound leaves (see the module's documentation), at most
/// [`STAGING_BYTES`], at least one row.
pub(super) fn staging_rows(set: &ShardSet, plan: &PassPlan) -> usize {
    let (rows, features) = (plan.max_window_rows(), set.features);
    let wider = set.element.size().saturating_sub(4);
    let room = rows
        .saturating_mul(features.saturating_mul(wider).saturating_add(4))
        .saturating_add(6 * features)
        .min(STAGING_BYTES);
    (room / set.row_bytes().max(1)).clamp(1, rows.max(1))
}

/// Turns the permutation `p` (`p[i] = k`) into its inverse (`p[k] = i`) in
/// place, following each cycle once; entries done are marked by their top
/// bit, so every entry must be below 2³¹.
pub(super) fn invert_in_place(p: &mut [u32]) {
    const DONE: u32 = 1 << 31;
    for start in 0..p.len() {
        if p[start] & DONE != 0 {
            continue;
        }
        // The cycle start → p[start] → …: each step sets inverse[k] = i
        // for k = p[i], reading p[k] before overwriting it.
        let (mut i, mut k) = (start, p[start] as usize);
        loop {
            let next = p[k];
            p[k] = i as u32 | DONE;
            if k == start {
                break;
            }
            (i, k) = (k, next as usize);
        }
    }
    for entry in p {
        *entry &= !DONE;
    }
}

impl WindowReader<'_> {
    /// Reads the window's runs through `staging` and writes each selected
    /// row straight to its place (row `k` of L to place `places[k]` of the
    /// window's order, or `k` without an order), then sends the full
    /// blocks in order.
    ///
    /// A row with a non-finite value fails the pass as gathering does,
    /// after the blocks before it in the order: rows are written in file
    /// order, so the failure kept is the one earliest in the pass's order,
    /// reported once the window has been read (an error reading it comes
    /// first, as it would).
    pub(super) fn scatter_window(
        &mut self,
        window: &WindowRows,
        places: Option<&[u32]>,
        staging: &mut [u8],
    ) -> Result<(), Halt> {
        if window.selected == 0 {
            return Ok(());
        }
        let set = self.set;
        let filter = self.options.filter;
        let row_bytes = set.row_bytes();
        let block_rows = self.options.block_rows;
        let carry = self.block.as_ref().map_or(0, |block| block.rows);
        let total = carry + window.selected;
        let mut blocks = Vec::with_capacity(total.div_ceil(block_rows));
        while blocks.len() < total.div_ceil(block_rows) {
            let mut block = self.take_block()?;
            block.row_ids.resize(block_rows, 0);
            blocks.push(block);
        }
        let piece_rows = staging.len() / row_bytes;
        let mut failure: Option<(usize, Error)> = None;
        let mut k = 0;
        for &(start, end, _) in &window.runs {
            let mut first = start;
            while first < end {
                self.stopped()?;
                let rows = piece_rows.min(end - first);
                let piece = &mut staging[..rows * row_bytes];
                self.files.read_rows(first, piece)?;
                for row in first..first + rows {
                    if !filter.selects(row as u64) {
                        continue;
                    }
                    let place = carry + places.map_or(k, |places| places[k] as usize);
                    k += 1;
                    let raw = &piece[(row - first) * row_bytes..][..row_bytes];
                    let block = &mut blocks[place / block_rows];
                    let out = block.row_mut(place % block_rows);
                    if let Err(error) = self.writer.write(set, raw, row as u32, out)
                        && failure.as_ref().is_none_or(|(at, _)| place < *at)
                    {
                        failure = Some((place, error));
                    }
                    block.row_ids[place % block_rows] = row as u32;
                }
                first += rows;
            }
        }
        debug_assert_eq!(k, window.selected, "every selected row placed");
        let full = match &failure {
            Some((at, _)) => at / block_rows,
            None => total / block_rows,
        };
        let mut blocks = blocks.into_iter();
        for mut block in blocks.by_ref().take(full) {
            block.rows = block_rows;
            self.send(block)?;
        }
        if let Some((_, error)) = failure {
            return Err(Halt::Failed(error));
        }
        if let Some(mut block) = blocks.next() {
            block.rows = total % block_rows;
            block.row_ids.truncate(block.rows);
            self.block = Some(block);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn permutations_invert_in_place() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for len in [0, 1, 2, 3, 17, 1000] {
            let mut p: Vec<u32> = (0..len as u32).collect();
            p.shuffle(&mut rng);
            let mut inverse = p.clone();
            invert_in_place(&mut inverse);
            for (i, &k) in p.iter().enumerate() {
                assert_eq!(inverse[k as usize], i as u32, "length {len}");
            }
        }
        let mut identity = vec![0, 1, 2];
        invert_in_place(&mut identity);
        assert_eq!(identity, [0, 1, 2]);
    }
}
