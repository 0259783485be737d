//! How the rows divide among the ranks.

use super::{Collective, gather_u64};
use crate::{Error, Result};
use std::ops::Range;

/// The rows of rank `rank` of `size` among `rows`: `⌊r·N/K⌋..⌊(r+1)·N/K⌋`,
/// contiguous, in rank order, covering every row once; shares differ by
/// at most one row.
pub fn share_of(rows: usize, rank: usize, size: usize) -> Range<usize> {
    let bound = |r: usize| ((r as u128 * rows as u128) / size.max(1) as u128) as usize;
    bound(rank)..bound(rank + 1)
}

/// Each rank's number of rows of one part (training or validation), as
/// every rank knows them after one all-gather.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shares {
    /// Rows per rank, in rank order.
    pub rows: Vec<usize>,
    /// This process's rank.
    pub rank: usize,
}

impl Shares {
    /// Gathers every rank's `local` count.
    pub fn gather(collective: &dyn Collective, local: usize) -> Result<Shares> {
        let rows = gather_u64(collective, local as u64)?
            .into_iter()
            .map(|n| n as usize)
            .collect();
        Ok(Shares {
            rows,
            rank: collective.rank(),
        })
    }

    /// N, the rows of every rank.
    pub fn total(&self) -> usize {
        self.rows.iter().sum()
    }

    /// This rank's rows.
    pub fn local(&self) -> usize {
        self.rows[self.rank]
    }

    /// This rank's first row in the global order (ranks concatenated).
    pub fn offset(&self) -> usize {
        self.rows[..self.rank].iter().sum()
    }

    /// `n_r / N`: this rank's weight in a mean over every row.
    pub fn weight(&self) -> f64 {
        self.local() as f64 / self.total().max(1) as f64
    }

    /// An error naming the first rank with no rows of `part`: every rank
    /// takes part in every step, and a rank without rows has nothing to
    /// compute (more ranks than rows, or a validation split that left a
    /// share without rows of one part).
    pub fn require_rows(&self, part: &str) -> Result<()> {
        match self.rows.iter().position(|&n| n == 0) {
            Some(rank) => Err(Error::Distributed(format!(
                "rank {rank} of {} has no {part} rows ({} {part} rows in all, per rank: {}); \
                 run fewer ranks",
                self.rows.len(),
                self.total(),
                self.rows
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::share_of;

    #[test]
    fn shares_cover_every_row_once_and_differ_by_at_most_one() {
        for rows in [0, 1, 2, 7, 1001, 2003] {
            for size in 1..=5 {
                let shares: Vec<_> = (0..size).map(|r| share_of(rows, r, size)).collect();
                assert_eq!(shares[0].start, 0);
                assert_eq!(shares[size - 1].end, rows);
                for pair in shares.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start, "{rows} rows, {size} ranks");
                }
                let lens: Vec<usize> = shares.iter().map(|s| s.len()).collect();
                let (min, max) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(max - min <= 1, "{rows} rows, {size} ranks: {lens:?}");
            }
        }
        assert_eq!(share_of(1001, 1, 3), 333..667);
    }
}
