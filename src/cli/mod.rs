//! The binary's commands, one module per concern. Every command returns a
//! [`CliError`], printed by `main` as one `lintrain: error: …` line.

pub mod args;
pub mod bench;
pub mod class_weights;
pub mod command;
pub mod conclude;
pub mod eval;
pub mod gradcheck;
pub mod info;
pub mod inputs;
pub mod json;
pub mod log;
pub mod memory_args;
#[cfg(feature = "mpi")]
pub mod mpi_launch;
pub mod paths;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod run_description;
pub mod scoring;
pub mod solver_args;
pub mod strength_args;
pub mod sweep;
pub mod sweep_args;
pub mod sweep_argv;
pub mod sweep_plot;
pub mod sweep_report;
pub mod train;
#[cfg(feature = "mpi")]
pub mod train_distributed;
pub mod train_streamed;
pub mod training_data;
pub mod value_parsers;

use std::fmt;

/// A one-line message for the user.
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the promise of one line, whatever a library message contains.
        let one_line: Vec<&str> = self
            .0
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        f.write_str(&one_line.join(" "))
    }
}

impl From<lintrain::Error> for CliError {
    fn from(error: lintrain::Error) -> Self {
        Self(error.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Runs the parsed command; `quiet` silences log lines and progress.
pub fn run(command: command::Command, quiet: bool) -> CliResult {
    match command {
        command::Command::Train(a) if a.distributed => distributed(&a, quiet),
        command::Command::Train(a) => train::run(&a, quiet),
        command::Command::Sweep(a) => sweep::run(&a, quiet),
        command::Command::Eval(a) => eval::run(&a),
        command::Command::Predict(a) => predict::run(&a),
        command::Command::Gradcheck(a) => gradcheck::run(&a),
        command::Command::Info => info::run(),
        command::Command::Bench(a) => {
            // Checked before minutes of measuring, not after.
            if let Some(json) = &a.json {
                // The lbfgs case reads DIR/x.npy and DIR/y.npy.
                let data = a
                    .lbfgs_data
                    .as_ref()
                    .map(|dir| [dir.join("x.npy"), dir.join("y.npy")]);
                let inputs: Vec<paths::Named<'_>> = data
                    .iter()
                    .flatten()
                    .map(|file| paths::Named::new("--lbfgs-data", file))
                    .collect();
                paths::check_outputs(&inputs, &[paths::Named::new("--json", json)])?;
            }
            Ok(bench::run_and_print(&a, quiet)?)
        }
    }
}

/// `train --distributed`: under MPI with the `mpi` feature; an error
/// naming the feature without it.
fn distributed(args: &args::TrainArgs, quiet: bool) -> CliResult {
    #[cfg(feature = "mpi")]
    {
        mpi_launch::run(args, quiet)
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = (args, quiet);
        Err(CliError::new(
            "--distributed needs a lintrain built with MPI: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev libclang-dev), then cargo build --release --features mpi",
        ))
    }
}
