//! `--C` and `--alpha`: the regularization strength in scikit-learn's
//! terms, converted to lintrain's λ by
//! [`Regularizer::from_sklearn_c`] and [`Regularizer::from_sklearn_alpha`].

use super::value_parsers::{non_negative_f64, positive_f64};
use lintrain::Regularizer;
use lintrain::regularizer::SklearnPenalty;

#[derive(clap::Args, Clone)]
pub struct StrengthArgs {
    /// Strength as scikit-learn's LogisticRegression C (> 0; smaller is stronger): with n training rows (after --val-fraction), λ = 1/(2·C·n) for l2, 1/(C·n) for l1; with elastic, --l1-ratio is scikit-learn's l1_ratio; softmax on two classes doubles the l2 part (scikit-learn fits one weight vector there) [default: --reg-strength].
    #[arg(long = "C", value_name = "C", value_parser = positive_f64, allow_negative_numbers = true, conflicts_with_all = ["reg_strength", "alpha"])]
    pub c: Option<f64>,
    /// Strength as scikit-learn's SGDClassifier alpha (≥ 0): λ = α/2 for l2, α for l1; with elastic, --l1-ratio is scikit-learn's l1_ratio; softmax on two classes doubles the l2 part [default: --reg-strength].
    #[arg(long, value_name = "ALPHA", value_parser = non_negative_f64, allow_negative_numbers = true, conflicts_with = "reg_strength")]
    pub alpha: Option<f64>,
}

impl StrengthArgs {
    /// Whether the strength is given in scikit-learn's terms.
    pub fn given(&self) -> bool {
        self.c.is_some() || self.alpha.is_some()
    }

    /// The regularizer `--C` or `--alpha` gives for `penalty` on
    /// `train_rows` training rows; `None` without either flag.
    pub fn regularizer(
        &self,
        penalty: SklearnPenalty,
        train_rows: usize,
    ) -> Option<lintrain::Result<Regularizer>> {
        match (self.c, self.alpha) {
            (Some(c), _) => Some(Regularizer::from_sklearn_c(penalty, c, train_rows)),
            (None, Some(alpha)) => Some(Regularizer::from_sklearn_alpha(penalty, alpha)),
            (None, None) => None,
        }
    }

    /// How the strength was given, for the log line: `--C 1 on 120 training rows`.
    pub fn describe(&self, train_rows: usize) -> Option<String> {
        match (self.c, self.alpha) {
            (Some(c), _) => Some(format!("--C {c} on {train_rows} training rows")),
            (None, Some(alpha)) => Some(format!("--alpha {alpha}")),
            (None, None) => None,
        }
    }
}
