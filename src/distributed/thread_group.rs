//! K ranks as threads of one process, exchanging through shared memory.

use super::Collective;
use crate::{Error, Result};
use std::sync::{Arc, Barrier, Mutex};

/// One rank of a group of threads that train together: make the group
/// with [`ThreadGroup::new`] and move one member to each thread. It runs
/// the same collectives as an MPI job, in one process, for tests and for
/// checking a run's semantics without MPI. A member that stops calling
/// collectives while the others go on leaves them waiting (as MPI would).
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    slots: Mutex<Vec<Vec<u8>>>,
    barrier: Barrier,
}

impl ThreadGroup {
    /// The `size` members of a new group, in rank order.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared {
            size,
            slots: Mutex::new(vec![Vec::new(); size]),
            barrier: Barrier::new(size),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: Arc::clone(&shared),
            })
            .collect()
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        let poisoned = |_| Error::Distributed("a rank of the thread group panicked".into());
        self.shared.slots.lock().map_err(poisoned)?[self.rank] = mine.to_vec();
        // Every rank has written before any reads, and every rank has read
        // before the next call writes.
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().map_err(poisoned)?.clone();
        self.shared.barrier.wait();
        Ok(all)
    }
}
