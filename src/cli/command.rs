//! The command line as a whole: the global flags, the subcommands and
//! their flags ([`super::args`], [`super::sweep_args`], …), and the parse
//! that turns a sweep's lists into its grid first.

use super::args::{EvalArgs, GradcheckArgs, PredictArgs, TrainArgs};
use super::sweep_args::SweepArgs;
use super::sweep_argv::{SWEEP, pull_grid};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::collections::BTreeSet;

#[derive(Parser)]
#[command(
    name = "lintrain",
    version,
    about = "Train linear classifiers (softmax, SVM, MSE, logistic) on the GPU (wgpu) or the CPU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print results only: no progress, no log lines on stderr (errors and warnings are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl Cli {
    /// Parses the process's arguments, as [`Parser::try_parse`]; for
    /// `sweep`, the swept flags' lists first become its grid
    /// ([`pull_grid`]). For `train` and `sweep` it records which flags the
    /// command line gave (a flag left at its default is not one), so that
    /// flags of the other solver can be refused
    /// ([`TrainArgs::check_combinations`]).
    pub fn parse_arguments() -> Result<Cli, clap::Error> {
        let command = Cli::command();
        let (argv, grid) = pull_grid(std::env::args_os().collect(), &command)
            .map_err(|e| clap::Error::raw(ErrorKind::ValueValidation, format!("{e}\n")))?;
        let matches = command.try_get_matches_from(argv)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let given = |m: &clap::ArgMatches| -> BTreeSet<String> {
            m.ids()
                .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                .map(|id| id.as_str().to_string())
                .collect()
        };
        match (&mut cli.command, matches.subcommand()) {
            (Command::Train(args), Some(("train", m))) => args.given = given(m),
            (Command::Sweep(args), Some((SWEEP, m))) => {
                args.train.given = given(m);
                args.grid = grid;
            }
            _ => {}
        }
        Ok(cli)
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a classifier on a data file, or on the bundled Iris data (150 × 4, 3 classes) without --data.
    Train(Box<TrainArgs>),
    /// Train every setting of a grid of hyperparameters at once and select the best on held-out rows.
    ///
    /// Takes every train flag; --reg-strength, --C, --alpha, --lr, --l1-ratio and --momentum also take a list: `a,b,c`, `logspace(lo,hi,n)` (n powers of ten from 10^lo to 10^hi) or `linspace(lo,hi,n)`. The grid is the product of the lists, in the order the flags are given (the first varies slowest). Each setting trains exactly the model `lintrain train` would with those flags (the same seed, split and minibatch order), all of them sharing every read of the data. The best is selected on --val-fraction's split or by --folds K cross-validation, by --metric.
    #[command(mut_args(super::sweep_args::sweep_help))]
    Sweep(Box<SweepArgs>),
    /// Score a saved model on labelled data: loss, accuracy, confusion matrix, precision and recall.
    Eval(EvalArgs),
    /// Predict a class name (or class probabilities) for every row of a data file, as CSV.
    Predict(PredictArgs),
    /// Compare the analytic gradient of the objective with a numerical one.
    Gradcheck(GradcheckArgs),
    /// List every GPU adapter and say which backend `auto` picks.
    Info,
    /// Benchmark the CPU backend against the GPU backend (kernels, one
    /// training step, end-to-end training, full-batch L-BFGS); same as
    /// `cargo bench --bench cpu_vs_gpu`.
    Bench(super::bench::BenchArgs),
}
