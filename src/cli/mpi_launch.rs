//! `lintrain train --distributed` under `mpirun` (feature `mpi`): joins
//! the MPI job, runs this rank's part ([`super::train_distributed`]), and
//! makes a failure on any rank end every rank.

use super::args::TrainArgs;
use super::train_distributed::{self, Ending};
use super::{CliError, CliResult};
use lintrain::distributed::{Collective, MpiWorld};
use std::io::Write;

/// The exit code of a job ended by a failing rank (`MPI_Abort`).
const FAILED: i32 = 1;

/// Runs this rank's part of the job. A rank that fails prints
/// `lintrain: rank R of K: error: …` and aborts the job, since the other
/// ranks would otherwise wait for it in their next collective; a rank
/// that panics does the same after the panic hook's line.
pub fn run(args: &TrainArgs, quiet: bool) -> CliResult {
    let Some(universe) = mpi::initialize() else {
        return Err(CliError::new(
            "--distributed: MPI was already initialized in this process",
        ));
    };
    let world = MpiWorld::new(universe.world());
    let (rank, size) = (world.rank(), world.size());
    share_the_cores(rank == 0 && !quiet);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_distributed::run(args, quiet, &world, MpiWorld::local_rank())
    }));
    let message = match outcome {
        // Dropping the universe finalizes MPI once every rank is done.
        Ok(Ok(Ending::Succeeded)) => return Ok(()),
        // Every rank failed alike, and rank 0 said why: each ends with a
        // failure once MPI is finalized (exiting without finalizing would
        // make mpirun report a crash).
        Ok(Ok(Ending::Failed)) => {
            drop(world);
            drop(universe);
            std::process::exit(FAILED);
        }
        // A world of one (no mpirun) fails as one process does.
        Ok(Err(error)) if size == 1 => return Err(error),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "internal error (the line above has it; please report this bug)".into(),
    };
    // One write, so that two ranks' lines do not interleave.
    let line = format!("lintrain: rank {rank} of {size}: error: {message}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    world.abort(FAILED)
}

/// Gives each rank on a machine its share of the cores for the CPU
/// backend's threads, unless `RAYON_NUM_THREADS` says otherwise: K ranks
/// each running a thread per core would oversubscribe the machine K
/// times (and the CPU backend's helpers spin while they wait). The
/// launcher's binding is respected: the cores are those this process
/// may run on. With `note`, says when that binding leaves most of the
/// machine idle (Open MPI binds one or two ranks to a core each).
fn share_the_cores(note: bool) {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ranks_here = MpiWorld::local_size().unwrap_or(1).max(1);
    let threads = (cores / ranks_here).max(1);
    // Fails only when the pool was already built, which nothing did yet.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    if note
        && let Some(online) = online_cpus()
        && cores * ranks_here < online
    {
        let line = format!(
            "note: each rank may run on {cores} of this machine's {online} CPUs (mpirun's \
             binding: Open MPI binds one or two ranks to a core each); give mpirun \
             --bind-to none to let the ranks use them all\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// The machine's online CPUs (Linux: `/sys/devices/system/cpu/online`,
/// ranges such as `0-15,32-47`); `None` where that cannot be read.
fn online_cpus() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    let mut count = 0;
    for range in text.trim().split(',') {
        count += match range.split_once('-') {
            Some((first, last)) => last.parse::<usize>().ok()? + 1 - first.parse::<usize>().ok()?,
            None => {
                range.parse::<usize>().ok()?;
                1
            }
        };
    }
    Some(count)
}
