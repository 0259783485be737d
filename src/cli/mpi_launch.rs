//! `lintrain train --distributed` under `mpirun` (feature `mpi`): joins
//! the MPI job, runs this rank's part ([`super::train_distributed`]), and
//! makes a failure on any rank end every rank.

use super::args::TrainArgs;
use super::{CliError, CliResult, train_distributed};
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
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_distributed::run(args, quiet, &world, MpiWorld::local_rank())
    }));
    let message = match outcome {
        // Dropping the universe finalizes MPI once every rank is done.
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "internal error (the line above has it; please report this bug)".into(),
    };
    let _ = writeln!(
        std::io::stderr(),
        "lintrain: rank {rank} of {size}: error: {message}"
    );
    world.abort(FAILED)
}
