//! `sweep`'s flags: every `train` flag, how the best setting is selected
//! (`--folds`, `--metric`), and the grid the lists of the swept flags make
//! ([`super::sweep_argv`]).

use super::args::{MetricArg, TrainArgs};
use clap::Arg;
use lintrain::sweep::{Grid, Selection, SelectionMetric};

#[derive(clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Select by stratified, seeded k-fold cross-validation over the rows (K ≥ 2): every setting trains once per fold and is scored by its mean over the folds, then the best is refit on every row; excludes --val-fraction [default: select on --val-fraction's split].
    #[arg(long, value_name = "K", value_parser = fold_count, conflicts_with = "val_fraction")]
    pub folds: Option<usize>,
    /// What selects the best setting on the validation rows: the highest accuracy (ties to the lower loss) or the lowest mean data loss.
    #[arg(long, value_enum, default_value = "accuracy")]
    pub metric: MetricArg,
    /// With --solver lbfgs, fit every setting from the initial weights, as train does, instead of a regularization path warm-started from the strongest penalty to the weakest: slower, but each model is then exactly train's (a warm-started fit stops at another point within the solver's tolerance) [default: warm-started path].
    #[arg(long)]
    pub cold_path: bool,
    /// The grid of the swept flags' lists ([`super::sweep_argv::pull_grid`]);
    /// `None` when parsed otherwise, which sweeps nothing.
    #[arg(skip)]
    pub grid: Option<Grid>,
}

impl SweepArgs {
    /// How the best setting is chosen: `--folds K`, else `--val-fraction`'s
    /// split; `None` with neither, which leaves nothing to select on.
    pub fn selection(&self) -> Option<Selection> {
        match self.folds {
            Some(k) => Some(Selection::Folds(k)),
            None if self.train.val_fraction > 0.0 => Some(Selection::Holdout),
            None => None,
        }
    }

    pub fn metric(&self) -> SelectionMetric {
        match self.metric {
            MetricArg::Accuracy => SelectionMetric::Accuracy,
            MetricArg::Loss => SelectionMetric::Loss,
        }
    }

    /// The grid; one member, `train`'s setting, without one.
    pub fn grid(&self) -> Grid {
        self.grid
            .clone()
            .unwrap_or_else(|| Grid::new(Vec::new()).expect("an empty grid is one member"))
    }
}

/// `--folds K`: a whole number ≥ 2.
fn fold_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(k) if k >= 2 => Ok(k),
        _ => Err(format!(
            "expected a whole number ≥ 2 (each fold validates while the others train), got {text:?}"
        )),
    }
}

/// The help of `sweep`'s flags where it differs from `train`'s: the swept
/// flags take lists, and the outputs are the sweep's.
pub fn sweep_help(arg: Arg) -> Arg {
    const LIST: &str =
        "; in a sweep also a list: a,b,c, logspace(lo,hi,n) (powers of ten) or linspace(lo,hi,n)";
    let help = match arg.get_id().as_str() {
        // `--C`'s id is its field's name, `c`.
        "reg_strength" | "c" | "alpha" | "lr" | "l1_ratio" | "momentum" => {
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            // Before a trailing `[default: …]` note, if the help has one.
            match help.rfind(" [default:") {
                Some(at) => help.insert_str(at, LIST),
                None => help.push_str(LIST),
            }
            help
        }
        "json" => "Print one JSON object on stdout and nothing else: {\"results\": [one object per setting: each swept parameter, \"train_loss\", \"train_acc\", \"val_loss\", \"val_acc\", \"status\"], \"best\": {…} or null, \"seconds\"}.".into(),
        "plot" => "Plot the validation accuracy of every setting against the swept strength (--reg-strength, --C or --alpha; else the first swept flag), one line per value of the other swept flags, to this .svg or .png file [default: no plot].".into(),
        "save" => "Save the best setting's model (with k-fold selection, its refit on every row) as train saves one, atomically [default: not saved].".into(),
        // Parsed, to be refused with a line that says why, but not offered.
        "resume" | "save_checkpoint" => return arg.hide(true),
        _ => return arg,
    };
    arg.help(help)
}
