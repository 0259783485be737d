//! The ranks of an MPI job (feature `mpi`): `mpirun -n K` starts K
//! processes, and [`MpiWorld`] is each one's view of `MPI_COMM_WORLD`.

use super::{Collective, share_of};
use crate::{Error, Result};
use mpi::Count;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

/// `MPI_COMM_WORLD` as a [`Collective`]. MPI's own errors are fatal to
/// the job (its default handler), so its calls return no error here;
/// the errors below are sizes beyond MPI's 32-bit counts.
pub struct MpiWorld {
    world: SimpleCommunicator,
}

impl MpiWorld {
    /// The world of an initialized MPI library (`mpi::initialize()`; the
    /// caller keeps the `Universe` alive for as long as this is used).
    pub fn new(world: SimpleCommunicator) -> MpiWorld {
        MpiWorld { world }
    }

    /// Ends every rank of the job with exit code `code` (`MPI_Abort`):
    /// a rank that fails must not leave the others waiting in a
    /// collective it will never join.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// This process's rank among those on its machine, from the launcher
    /// (Open MPI's `OMPI_COMM_WORLD_LOCAL_RANK`, MPICH's
    /// `MPI_LOCALRANKID`, Slurm's `SLURM_LOCALID`); `None` when the
    /// launcher sets none of them.
    pub fn local_rank() -> Option<usize> {
        [
            "OMPI_COMM_WORLD_LOCAL_RANK",
            "MPI_LOCALRANKID",
            "SLURM_LOCALID",
        ]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
    }

    /// The number of ranks on this process's machine, from the launcher
    /// (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, MPICH's
    /// `MPI_LOCALNRANKS`); `None` when it sets neither.
    pub fn local_size() -> Option<usize> {
        ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"]
            .iter()
            .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
    }
}

fn count(len: usize, what: &str) -> Result<Count> {
    Count::try_from(len).map_err(|_| {
        Error::Distributed(format!(
            "{what}: {len} elements exceed MPI's 32-bit counts ({})",
            Count::MAX
        ))
    })
}

/// Displacements of consecutive blocks of `counts` elements.
fn displacements(counts: &[Count], what: &str) -> Result<Vec<Count>> {
    let mut at: usize = 0;
    let mut displs = Vec::with_capacity(counts.len());
    for &n in counts {
        displs.push(count(at, what)?);
        at += n as usize;
    }
    count(at, what)?;
    Ok(displs)
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        let size = self.size();
        let what = "an all-gather";
        let my_count = count(mine.len(), what)?;
        let mut counts: Vec<Count> = vec![0; size];
        self.world.all_gather_into(&my_count, &mut counts[..]);
        let displs = displacements(&counts, what)?;
        let total: usize = counts.iter().map(|&n| n as usize).sum();
        let mut all = vec![0u8; total];
        {
            let mut into = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(mine, &mut into);
        }
        Ok(counts
            .iter()
            .zip(&displs)
            .map(|(&n, &at)| all[at as usize..(at + n) as usize].to_vec())
            .collect())
    }

    /// A reduce-scatter then an all-gather, each moving about `len`
    /// values per rank: rank j receives every rank's segment j
    /// (`share_of(len, j, K)`), adds them in rank order, and the segments
    /// are gathered back to every rank.
    fn ordered_sum(&self, values: &mut [f64]) -> Result<()> {
        let size = self.size();
        if size == 1 {
            return Ok(());
        }
        let what = "an ordered sum";
        let len = values.len();
        let segments: Vec<_> = (0..size).map(|j| share_of(len, j, size)).collect();
        let segment_counts = segments
            .iter()
            .map(|s| count(s.len(), what))
            .collect::<Result<Vec<_>>>()?;
        let segment_displs = segments
            .iter()
            .map(|s| count(s.start, what))
            .collect::<Result<Vec<_>>>()?;
        let mine = segments[self.rank()].len();
        let mut received = vec![0.0f64; mine * size];
        let received_counts = vec![count(mine, what)?; size];
        let received_displs = displacements(&received_counts, what)?;
        {
            let send = Partition::new(&*values, &segment_counts[..], &segment_displs[..]);
            let mut into = PartitionMut::new(
                &mut received[..],
                &received_counts[..],
                &received_displs[..],
            );
            self.world.all_to_all_varcount_into(&send, &mut into);
        }
        let reduced: Vec<f64> = (0..mine)
            .map(|i| {
                let mut sum = 0.0f64;
                for rank in 0..size {
                    sum += received[rank * mine + i];
                }
                sum
            })
            .collect();
        let mut into = PartitionMut::new(values, &segment_counts[..], &segment_displs[..]);
        self.world.all_gather_varcount_into(&reduced[..], &mut into);
        Ok(())
    }
}
