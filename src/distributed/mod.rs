//! Data-parallel training across processes: each of K ranks holds a
//! contiguous share of the rows, computes the loss and gradient of its
//! share, and a [`Collective`] combines them, so that every rank holds the
//! same parameters after every step or evaluation.
//!
//! - [`Collective`]: what a run needs from its transport: the rank, the
//!   number of ranks, an all-gather of bytes, and a sum in rank order.
//! - [`Solo`]: one rank (a run that is not distributed).
//! - [`ThreadGroup`]: K ranks as threads of one process (tests, and a
//!   transport-free check of the semantics).
//! - `MpiWorld` (feature `mpi`): the ranks of an MPI job (`mpirun -n K`).
//!
//! # Determinism
//! [`Collective::ordered_sum`] adds the ranks' values in rank order,
//! `((v_0 + v_1) + v_2) + …`, in f64, and every rank receives the same
//! bits. Nothing depends on message arrival order, so a run is repeatable,
//! every rank takes the same solver decisions, and K = 1, 2, 3 agree to
//! the rounding of the ranks' own f32 passes (each rank's chunks differ
//! from one process's). MPI's built-in `MPI_SUM` promises neither.

mod shares;
mod thread_group;

#[cfg(feature = "mpi")]
mod mpi_world;

#[cfg(feature = "mpi")]
pub use mpi_world::MpiWorld;
pub use shares::{Shares, share_of};
pub use thread_group::ThreadGroup;

use crate::{Error, Result};

/// The collective operations a data-parallel run makes. Every rank must
/// make the same calls in the same order (as MPI's collectives require);
/// the training code does, since every rank's decisions follow from the
/// same reduced values.
pub trait Collective {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of ranks K.
    fn size(&self) -> usize;

    /// Every rank's `mine` (of any length), in rank order, on every rank.
    fn all_gather_bytes(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>>;

    /// Replaces `values` (the same length on every rank) by
    /// `Σ_r values_r`, added in f64 in rank order, `((v_0 + v_1) + v_2)…`:
    /// the same bits on every rank. The default gathers every rank's
    /// values; a transport may do it in `O(len)` bytes per rank (as
    /// `MpiWorld` does, by a reduce-scatter then an all-gather).
    fn ordered_sum(&self, values: &mut [f64]) -> Result<()> {
        let parts = self.all_gather_bytes(bytemuck::cast_slice(values))?;
        add_in_rank_order(values, &parts)
    }
}

/// `values = Σ_r parts[r]` (each the bytes of `values.len()` f64), added
/// in rank order.
fn add_in_rank_order(values: &mut [f64], parts: &[Vec<u8>]) -> Result<()> {
    for (rank, part) in parts.iter().enumerate() {
        if part.len() != std::mem::size_of_val(values) {
            return Err(Error::Distributed(format!(
                "rank {rank} summed {} values, this rank {}",
                part.len() / 8,
                values.len()
            )));
        }
    }
    for (i, value) in values.iter_mut().enumerate() {
        let mut sum = 0.0f64;
        for part in parts {
            let at = 8 * i;
            sum += f64::from_ne_bytes(part[at..at + 8].try_into().expect("8 bytes"));
        }
        *value = sum;
    }
    Ok(())
}

/// Every rank's `value`, in rank order.
pub fn gather_u64(collective: &dyn Collective, value: u64) -> Result<Vec<u64>> {
    let parts = collective.all_gather_bytes(&value.to_ne_bytes())?;
    parts
        .iter()
        .enumerate()
        .map(|(rank, part)| {
            part.as_slice()
                .try_into()
                .map(u64::from_ne_bytes)
                .map_err(|_| {
                    Error::Distributed(format!("rank {rank} sent {} bytes for a count", part.len()))
                })
        })
        .collect()
}

/// An error unless every rank has rank 0's `value` of `what` (the same
/// error on every rank, naming the first rank that differs).
pub fn same_on_every_rank(collective: &dyn Collective, what: &str, value: u64) -> Result<()> {
    let all = gather_u64(collective, value)?;
    match all.iter().position(|&v| v != all[0]) {
        Some(rank) => Err(Error::Distributed(format!(
            "the ranks' data differ: rank 0 has {} {what}, rank {rank} has {}",
            all[0], all[rank]
        ))),
        None => Ok(()),
    }
}

/// Every rank's `values` (any lengths) concatenated in rank order.
pub fn gather_u32s(collective: &dyn Collective, values: &[u32]) -> Result<Vec<u32>> {
    let parts = collective.all_gather_bytes(bytemuck::cast_slice(values))?;
    let mut all = Vec::with_capacity(parts.iter().map(|p| p.len() / 4).sum());
    for (rank, part) in parts.iter().enumerate() {
        if part.len() % 4 != 0 {
            return Err(Error::Distributed(format!(
                "rank {rank} sent {} bytes for 4-byte values",
                part.len()
            )));
        }
        all.extend(
            part.chunks_exact(4)
                .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes"))),
        );
    }
    Ok(all)
}

/// One rank: every collective is the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_gather_bytes(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![mine.to_vec()])
    }
    fn ordered_sum(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
}
