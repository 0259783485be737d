//! How a training run is named in its log lines and plot titles: the
//! fitting method, the regularizer with its strength, the class names.

use lintrain::{Solver, TrainConfig};

/// How the run fits, for the log line and the plot's title: the optimizer
/// or the full-batch solver.
pub(super) fn method_name(config: &TrainConfig) -> &'static str {
    match config.solver {
        Solver::Lbfgs(_) => "L-BFGS",
        _ => config.optimizer.name(),
    }
}

/// `l2 λ = 4.1666668e-3` or `elastic λ = …, r = …`.
pub(super) fn describe_regularizer(regularizer: &lintrain::Regularizer) -> String {
    match *regularizer {
        lintrain::Regularizer::L2 { strength } | lintrain::Regularizer::L1 { strength } => {
            format!("{} λ = {strength:e}", regularizer.name())
        }
        lintrain::Regularizer::ElasticNet { strength, l1_ratio } => {
            format!("elastic λ = {strength:e}, r = {l1_ratio}")
        }
        _ => regularizer.name().to_string(),
    }
}

/// Class names for a log line: all of a few, the first of many.
pub(super) fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 12;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{}, … ({} more)",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}
