//! `train`'s solver flags: which solver fits (`--solver sgd|lbfgs`), when
//! it stops (`--tol`, `--n-iter-no-change`, `--max-iter`), L-BFGS's history,
//! and which flags belong to one solver only.

use super::value_parsers::{at_least_one, non_negative_f64};
use clap::ValueEnum;
use lintrain::{LbfgsOptions, Solver};
use std::collections::BTreeSet;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverArg {
    /// Minibatch first-order training with --optimizer, --lr, --schedule and --batch-size, for at most --epochs epochs.
    Sgd,
    /// Full-batch L-BFGS on the whole objective (OWL-QN with an L1 part), until converged or --max-iter iterations.
    Lbfgs,
}

/// The default of `--tol` with `--solver lbfgs`: scikit-learn's `tol`.
const LBFGS_TOLERANCE: f64 = 1e-4;

#[derive(clap::Args, Clone)]
pub struct SolverArgs {
    /// How the weights are fit.
    #[arg(long, value_enum, default_value = "sgd")]
    pub solver: SolverArg,
    /// Convergence tolerance (≥ 0). sgd: stop once the monitored loss (the validation loss with --val-fraction, else the epoch's training loss) has failed to improve on its best by at least TOL for --n-iter-no-change epochs in a row, as scikit-learn's SGDClassifier; --epochs becomes the maximum [default: off, every epoch runs]. lbfgs: stop once ‖gradient‖∞ ≤ TOL·max(1, |objective|) [default: 1e-4].
    #[arg(long, value_name = "TOL", value_parser = non_negative_f64, allow_negative_numbers = true)]
    pub tol: Option<f64>,
    /// sgd with --tol: epochs (≥ 1) without an improvement of at least --tol before stopping [default: 5].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub n_iter_no_change: Option<usize>,
    /// lbfgs: iterations at most (≥ 1); reaching them is not converging, and is reported as a warning [default: 100].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_iter: Option<usize>,
    /// lbfgs: correction pairs kept, m (≥ 1) [default: 10].
    #[arg(long, value_name = "M", value_parser = at_least_one)]
    pub history_size: Option<usize>,
}

/// The flags (clap ids) that only the minibatch solver uses: given with
/// `--solver lbfgs` they are refused rather than ignored.
const MINIBATCH_ONLY: [&str; 21] = [
    "optimizer",
    "lr",
    "momentum",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "schedule",
    "warmup_steps",
    "step_size",
    "gamma",
    "min_lr",
    "epochs",
    "batch_size",
    "no_shuffle",
    "amsgrad",
    "centered",
    "early_stopping",
    "early_stopping_metric",
    "resume",
    "save_checkpoint",
];

/// `--name` of a clap id.
fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

impl SolverArgs {
    /// The library's solver: the minibatch optimizers, or L-BFGS with these
    /// flags over scikit-learn's defaults.
    pub fn solver(&self) -> Solver {
        match self.solver {
            SolverArg::Sgd => Solver::Minibatch,
            SolverArg::Lbfgs => {
                let defaults = LbfgsOptions::default();
                Solver::Lbfgs(LbfgsOptions {
                    history: self.history_size.unwrap_or(defaults.history),
                    max_iterations: self.max_iter.unwrap_or(defaults.max_iterations),
                    gradient_tolerance: self.tol.unwrap_or(LBFGS_TOLERANCE),
                    ..defaults
                })
            }
        }
    }

    /// The minibatch tolerance (`None`: off) and its patience.
    pub fn minibatch_tolerance(&self) -> (Option<f64>, Option<usize>) {
        match self.solver {
            SolverArg::Sgd => (self.tol, self.n_iter_no_change),
            SolverArg::Lbfgs => (None, None),
        }
    }

    /// Flags of the other solver, or without the flag they qualify: an
    /// error rather than a silent no-op. `given` holds the clap ids of the
    /// flags the command line gave.
    pub fn check(&self, given: &BTreeSet<String>) -> Result<(), String> {
        match self.solver {
            SolverArg::Sgd => {
                for (name, value) in [
                    ("--max-iter", self.max_iter),
                    ("--history-size", self.history_size),
                ] {
                    if value.is_some() {
                        return Err(format!(
                            "{name} applies to --solver lbfgs only (sgd runs at most --epochs epochs)"
                        ));
                    }
                }
                if self.n_iter_no_change.is_some() && self.tol.is_none() {
                    return Err(
                        "--n-iter-no-change needs --tol: without it every epoch runs".into(),
                    );
                }
            }
            SolverArg::Lbfgs => {
                if self.n_iter_no_change.is_some() {
                    return Err("--n-iter-no-change applies to --solver sgd only; lbfgs stops on --tol or --max-iter".into());
                }
                if let Some(id) = MINIBATCH_ONLY.iter().find(|id| given.contains(**id)) {
                    return Err(format!(
                        "{} applies to --solver sgd only: lbfgs fits on the whole training set, with no optimizer, learning rate, schedule, batches, epochs or checkpoints, until --tol or --max-iter",
                        flag(id)
                    ));
                }
            }
        }
        Ok(())
    }
}
