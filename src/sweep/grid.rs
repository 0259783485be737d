//! The grid of a sweep: which hyperparameters vary, the values each takes
//! (`a,b,c`, `logspace(lo,hi,n)`, `linspace(lo,hi,n)`), and their product,
//! one [`Setting`] per member.

use crate::{Error, Result};
use std::fmt;

/// Most members (settings) one grid may have. Every member holds its own
/// weights and optimizer state beside the others, so this bounds the memory
/// of a sweep before anything is allocated; the device may allow fewer.
pub const MAX_MEMBERS: usize = 4096;

/// A hyperparameter a sweep can vary, named by its `train` flag.
///
/// [`C`](SweptParameter::C), [`Alpha`](SweptParameter::Alpha) and
/// [`RegStrength`](SweptParameter::RegStrength) are three spellings of the
/// one regularization strength (scikit-learn's C and alpha are converted to
/// λ by [`Regularizer::from_sklearn_c`](crate::Regularizer::from_sklearn_c)
/// and [`Regularizer::from_sklearn_alpha`](crate::Regularizer::from_sklearn_alpha)),
/// so a grid sweeps at most one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SweptParameter {
    /// `--reg-strength`: λ ≥ 0.
    RegStrength,
    /// `--C`: scikit-learn's LogisticRegression C > 0.
    C,
    /// `--alpha`: scikit-learn's SGDClassifier alpha ≥ 0.
    Alpha,
    /// `--lr`: the base learning rate > 0.
    LearningRate,
    /// `--l1-ratio`: the elastic-net share of L1, in [0, 1].
    L1Ratio,
    /// `--momentum`: μ in [0, 1).
    Momentum,
}

/// The range of values a parameter accepts, in the words of `train`'s
/// value parsers (src/cli/value_parsers.rs).
#[derive(Clone, Copy)]
enum Range {
    /// `v ≥ 0`
    NonNegative,
    /// `v > 0`
    Positive,
    /// `0 ≤ v ≤ 1`
    UnitClosed,
    /// `0 ≤ v < 1`
    FractionBelowOne,
}

impl Range {
    fn contains(self, v: f64) -> bool {
        match self {
            Range::NonNegative => v >= 0.0,
            Range::Positive => v > 0.0,
            Range::UnitClosed => (0.0..=1.0).contains(&v),
            Range::FractionBelowOne => (0.0..1.0).contains(&v),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Range::NonNegative => "must be ≥ 0",
            Range::Positive => "must be > 0",
            Range::UnitClosed => "must be in [0, 1]",
            Range::FractionBelowOne => "must be in [0, 1)",
        }
    }
}

impl SweptParameter {
    /// Every parameter, in the order the flags are documented.
    pub const ALL: [SweptParameter; 6] = [
        SweptParameter::RegStrength,
        SweptParameter::C,
        SweptParameter::Alpha,
        SweptParameter::LearningRate,
        SweptParameter::L1Ratio,
        SweptParameter::Momentum,
    ];

    /// The command-line flag: `--reg-strength`, `--C`, `--alpha`, `--lr`,
    /// `--l1-ratio`, `--momentum`.
    pub fn flag(self) -> &'static str {
        match self {
            SweptParameter::RegStrength => "--reg-strength",
            SweptParameter::C => "--C",
            SweptParameter::Alpha => "--alpha",
            SweptParameter::LearningRate => "--lr",
            SweptParameter::L1Ratio => "--l1-ratio",
            SweptParameter::Momentum => "--momentum",
        }
    }

    /// The key in a setting's description and in `--json`: `reg_strength`,
    /// `C`, `alpha`, `lr`, `l1_ratio`, `momentum`.
    pub fn key(self) -> &'static str {
        match self {
            SweptParameter::RegStrength => "reg_strength",
            SweptParameter::C => "C",
            SweptParameter::Alpha => "alpha",
            SweptParameter::LearningRate => "lr",
            SweptParameter::L1Ratio => "l1_ratio",
            SweptParameter::Momentum => "momentum",
        }
    }

    /// The parameter of a flag (`--lr` or `lr`); any other flag is an
    /// [`Error::InvalidGrid`] listing the ones that can be swept.
    pub fn from_flag(flag: &str) -> Result<SweptParameter> {
        let bare = flag.trim().trim_start_matches('-');
        Self::ALL
            .into_iter()
            .find(|p| &p.flag()[2..] == bare)
            .ok_or_else(|| Error::InvalidGrid {
                flag: flag.trim().to_string(),
                reason: format!(
                    "cannot be swept; the parameters a sweep can vary are {}",
                    Self::ALL.map(SweptParameter::flag).join(", ")
                ),
            })
    }

    /// Whether this is one of the spellings of the regularization strength
    /// (`--reg-strength`, `--C`, `--alpha`).
    pub fn is_strength(self) -> bool {
        matches!(
            self,
            SweptParameter::RegStrength | SweptParameter::C | SweptParameter::Alpha
        )
    }

    fn range(self) -> Range {
        match self {
            SweptParameter::RegStrength | SweptParameter::Alpha => Range::NonNegative,
            SweptParameter::C | SweptParameter::LearningRate => Range::Positive,
            SweptParameter::L1Ratio => Range::UnitClosed,
            SweptParameter::Momentum => Range::FractionBelowOne,
        }
    }

    /// Whether the trainer keeps this value in f32 (C and alpha stay f64
    /// until they are converted to λ).
    fn stored_as_f32(self) -> bool {
        !matches!(self, SweptParameter::C | SweptParameter::Alpha)
    }

    fn invalid(self, reason: String) -> Error {
        Error::InvalidGrid {
            flag: self.flag().to_string(),
            reason,
        }
    }
}

impl fmt::Display for SweptParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

/// The values of one swept flag, from its text:
///
/// - `a,b,c`: the numbers as written (whitespace around each is ignored);
/// - `logspace(lo,hi,n)`: numpy's `logspace`, `10^(lo + i·(hi − lo)/(n − 1))`
///   for i = 0 … n − 1, the last exactly `10^hi`; n = 1 gives `10^lo`;
/// - `linspace(lo,hi,n)`: numpy's `linspace`, `lo + i·(hi − lo)/(n − 1)`,
///   the endpoint `hi` included exactly; n = 1 gives `lo`.
///
/// Every value must be finite, in the parameter's range (λ and alpha ≥ 0,
/// C and lr > 0, l1-ratio in [0, 1], momentum in [0, 1); for the
/// parameters the trainer keeps in f32, also once rounded to f32), and
/// different from the others (compared in f32 for those parameters, since
/// equal f32 values would train the same model twice); n must be
/// 1 … [`MAX_MEMBERS`]. Anything else is a one-line [`Error::InvalidGrid`]
/// naming the flag.
pub fn parse_values(parameter: SweptParameter, text: &str) -> Result<Vec<f64>> {
    let values = match text.find('(') {
        Some(open) => parse_function(parameter, text, open)?,
        None => parse_list(parameter, text)?,
    };
    check_values(parameter, &values)?;
    Ok(values)
}

fn parse_list(parameter: SweptParameter, text: &str) -> Result<Vec<f64>> {
    if text.trim().is_empty() {
        return Err(parameter.invalid("the list of values is empty".into()));
    }
    text.split(',')
        .enumerate()
        .map(|(i, element)| {
            if element.trim().is_empty() {
                return Err(parameter.invalid(format!(
                    "value {} of {text:?} is empty (a stray comma?)",
                    i + 1
                )));
            }
            parse_number(parameter, element, text)
        })
        .collect()
}

fn parse_number(parameter: SweptParameter, element: &str, text: &str) -> Result<f64> {
    element.trim().parse::<f64>().map_err(|_| {
        parameter.invalid(format!(
            "expected a number, got {:?} in {text:?}",
            element.trim()
        ))
    })
}

/// `name(lo,hi,n)` with `open` the index of the `(`.
fn parse_function(parameter: SweptParameter, text: &str, open: usize) -> Result<Vec<f64>> {
    let name = text[..open].trim();
    let rest = text[open + 1..].trim_end();
    let Some(inner) = rest.strip_suffix(')') else {
        return Err(parameter.invalid(format!("expected `)` at the end of {text:?}")));
    };
    let spaced = match name {
        "logspace" => true,
        "linspace" => false,
        _ => {
            return Err(parameter.invalid(format!(
                "unknown function {name:?} in {text:?}; expected a,b,c, logspace(lo,hi,n) or linspace(lo,hi,n)"
            )));
        }
    };
    let arguments: Vec<&str> = inner.split(',').map(str::trim).collect();
    let [lo, hi, n] = arguments[..] else {
        return Err(parameter.invalid(format!(
            "{name} takes 3 arguments (lo,hi,n), got {} in {text:?}",
            if inner.trim().is_empty() {
                0
            } else {
                arguments.len()
            }
        )));
    };
    let bound = |argument: &str, what: &str| -> Result<f64> {
        let v = parse_number(parameter, argument, text)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(parameter.invalid(format!("{what} must be finite, got {v} in {text:?}")))
        }
    };
    let (lo, hi) = (bound(lo, "lo")?, bound(hi, "hi")?);
    let n = match n.parse::<usize>() {
        Ok(0) => {
            return Err(parameter.invalid(format!("n must be ≥ 1, got 0 in {text:?}")));
        }
        Ok(n) if n > MAX_MEMBERS => {
            return Err(parameter.invalid(format!(
                "n = {n} in {text:?} is more than the limit of {MAX_MEMBERS} members of a grid"
            )));
        }
        Ok(n) => n,
        Err(_) => {
            return Err(parameter.invalid(format!(
                "n must be a whole number ≥ 1, got {n:?} in {text:?}"
            )));
        }
    };
    let points = linspace(lo, hi, n);
    Ok(if spaced {
        points.into_iter().map(|e| 10f64.powf(e)).collect()
    } else {
        points
    })
}

/// numpy's `linspace(lo, hi, n)` (endpoint included) computed as numpy
/// does: `lo + i·step` with `step = (hi − lo)/(n − 1)`, the last point set
/// to `hi`, so both ends are exact.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    let step = (hi - lo) / (n - 1) as f64;
    let mut points: Vec<f64> = (0..n).map(|i| lo + i as f64 * step).collect();
    points[n - 1] = hi;
    points
}

/// The checks every list of values passes, however it was written.
fn check_values(parameter: SweptParameter, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(parameter.invalid("the list of values is empty".into()));
    }
    if values.len() > MAX_MEMBERS {
        return Err(parameter.invalid(format!(
            "{} values are more than the limit of {MAX_MEMBERS} members of a grid",
            values.len()
        )));
    }
    let range = parameter.range();
    for &v in values {
        if !v.is_finite() || (parameter.stored_as_f32() && !(v as f32).is_finite()) {
            return Err(parameter.invalid(format!("every value must be finite, got {v}")));
        }
        if !range.contains(v) {
            return Err(parameter.invalid(format!("{}, got {v}", range.words())));
        }
        // The trainer's value is the f32, which `train`'s parser checks:
        // 0.99999999999 is momentum 1 there, and 1e-50 a learning rate of 0.
        let trained = v as f32;
        if parameter.stored_as_f32() && !range.contains(trained as f64) {
            return Err(parameter.invalid(format!(
                "{}, got {v}, which is {trained} in f32 (the precision training uses)",
                range.words()
            )));
        }
    }
    let same = |a: f64, b: f64| {
        if parameter.stored_as_f32() {
            a as f32 == b as f32
        } else {
            a == b
        }
    };
    for (i, &a) in values.iter().enumerate() {
        if let Some(&b) = values[..i].iter().find(|&&b| same(a, b)) {
            return Err(parameter.invalid(if a == b {
                format!("the value {a} is given twice")
            } else {
                format!("the values {b} and {a} are the same in f32")
            }));
        }
    }
    Ok(())
}

/// One member's hyperparameters: the value of each swept parameter, in the
/// grid's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    values: Vec<(SweptParameter, f64)>,
}

impl Setting {
    /// The value of `parameter`, or `None` where the grid does not sweep it
    /// (the member then takes it from the `train` flags).
    pub fn get(&self, parameter: SweptParameter) -> Option<f64> {
        self.values
            .iter()
            .find(|(p, _)| *p == parameter)
            .map(|&(_, v)| v)
    }

    /// The swept parameters and their values, in the grid's order.
    pub fn iter(&self) -> impl Iterator<Item = (SweptParameter, f64)> + '_ {
        self.values.iter().copied()
    }

    /// `key=value` pairs in the grid's order, separated by spaces:
    /// `reg_strength=1e-4 lr=0.01`, each number as [`display_value`] writes
    /// it. Empty for a grid that sweeps nothing.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|&(p, v)| format!("{}={}", p.key(), display_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `v` rounded to 4 significant digits and written as [`format_value`]
/// writes it: `logspace(-2,2,8)`'s 0.0372759372031494 is `0.03728`, 1e-4
/// stays `1e-4`. For people (tables, plots, the best setting's line); the
/// JSON report and error messages keep every digit.
pub fn display_value(v: f64) -> String {
    let rounded: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    format_value(rounded)
}

/// `v` in the shortest form that parses back to `v`: `0.01`, `1e-4`, `1e6`.
pub fn format_value(v: f64) -> String {
    if v == 0.0 || (1e-3..1e4).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The product of the value lists of the swept parameters.
///
/// Members are numbered in row-major order of the lists as given: the
/// first parameter varies slowest and the last fastest, so
/// `[(RegStrength, [a, b]), (LearningRate, [x, y])]` gives
/// `(a, x), (a, y), (b, x), (b, y)`. A grid with no parameters has one
/// member, the setting of `train` itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    axes: Vec<(SweptParameter, Vec<f64>)>,
    members: usize,
}

impl Grid {
    /// The grid of `axes`, each list checked as [`parse_values`] checks it.
    /// Errors: a parameter given twice, two spellings of the
    /// regularization strength (`--reg-strength`, `--C`, `--alpha`), and
    /// more than [`MAX_MEMBERS`] members ([`Error::TooLarge`], naming every
    /// list's length).
    pub fn new(axes: Vec<(SweptParameter, Vec<f64>)>) -> Result<Grid> {
        for (i, (parameter, values)) in axes.iter().enumerate() {
            check_values(*parameter, values)?;
            for (earlier, _) in &axes[..i] {
                if earlier == parameter {
                    return Err(parameter.invalid("is given twice".into()));
                }
                if earlier.is_strength() && parameter.is_strength() {
                    return Err(parameter.invalid(format!(
                        "cannot be swept together with {earlier}: both set the regularization strength; sweep one of --reg-strength, --C, --alpha"
                    )));
                }
            }
        }
        let members = axes
            .iter()
            .try_fold(1usize, |product, (_, values)| {
                product.checked_mul(values.len())
            })
            .unwrap_or(usize::MAX);
        if members > MAX_MEMBERS {
            let shape = axes
                .iter()
                .map(|(p, values)| format!("{} values of {p}", values.len()))
                .collect::<Vec<_>>()
                .join(" × ");
            return Err(Error::TooLarge {
                what: format!("the sweep grid ({shape})"),
                size: members as u64,
                limit: MAX_MEMBERS as u64,
            });
        }
        Ok(Grid { axes, members })
    }

    /// The grid of flag texts, each parsed by [`parse_values`]:
    /// `[(LearningRate, "0.1,0.01")]`.
    pub fn parse<'a>(flags: impl IntoIterator<Item = (SweptParameter, &'a str)>) -> Result<Grid> {
        let axes = flags
            .into_iter()
            .map(|(p, text)| Ok((p, parse_values(p, text)?)))
            .collect::<Result<Vec<_>>>()?;
        Grid::new(axes)
    }

    /// The number of members, the product of the lists' lengths.
    pub fn len(&self) -> usize {
        self.members
    }

    /// Never true: even a grid with no parameters has one member.
    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// The swept parameters and their values, in the order given.
    pub fn axes(&self) -> &[(SweptParameter, Vec<f64>)] {
        &self.axes
    }

    /// The values of `parameter`, or `None` where it is not swept.
    pub fn values(&self, parameter: SweptParameter) -> Option<&[f64]> {
        self.axes
            .iter()
            .find(|(p, _)| *p == parameter)
            .map(|(_, v)| v.as_slice())
    }

    /// Member `index` (0 ≤ index < [`len`](Grid::len)): its position in each
    /// list is the mixed-radix digits of `index`, the last list's digit
    /// lowest.
    pub fn setting(&self, index: usize) -> Setting {
        assert!(index < self.members, "member {index} of {}", self.members);
        let mut rest = index;
        let mut values = vec![(SweptParameter::RegStrength, 0.0); self.axes.len()];
        for (slot, (parameter, list)) in values.iter_mut().zip(&self.axes).rev() {
            *slot = (*parameter, list[rest % list.len()]);
            rest /= list.len();
        }
        Setting { values }
    }

    /// Every member's setting, in member order.
    pub fn settings(&self) -> impl ExactSizeIterator<Item = Setting> + '_ {
        (0..self.members).map(|i| self.setting(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_ends_are_exact_and_steps_follow_numpy() {
        let points = linspace(0.1, 0.7, 4);
        assert_eq!(points[0], 0.1);
        assert_eq!(points[3], 0.7);
        let step = (0.7 - 0.1) / 3.0;
        assert_eq!(points[1], 0.1 + step);
        assert_eq!(points[2], 0.1 + 2.0 * step);
        assert_eq!(linspace(3.0, 9.0, 1), vec![3.0]);
    }

    #[test]
    fn numbers_are_written_short() {
        assert_eq!(format_value(1e-4), "1e-4");
        assert_eq!(format_value(0.01), "0.01");
        assert_eq!(format_value(1e6), "1e6");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(2.5), "2.5");
        assert_eq!(format_value(1.5e-7), "1.5e-7");
        assert_eq!(format_value(0.0372759372031494), "0.0372759372031494");
    }

    #[test]
    fn displayed_numbers_keep_four_significant_digits() {
        assert_eq!(display_value(0.0372759372031494), "0.03728");
        assert_eq!(display_value(26.826957952797247), "26.83");
        assert_eq!(display_value(1e-4), "1e-4");
        assert_eq!(display_value(3.1622776601683795e-5), "3.162e-5");
        assert_eq!(display_value(0.0), "0");
        assert_eq!(display_value(100.0), "100");
    }

    #[test]
    fn flags_name_their_parameters_both_ways() {
        for p in SweptParameter::ALL {
            assert_eq!(SweptParameter::from_flag(p.flag()).unwrap(), p);
        }
        assert_eq!(
            SweptParameter::from_flag("lr").unwrap(),
            SweptParameter::LearningRate
        );
        let message = SweptParameter::from_flag("--beta1")
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("--beta1: cannot be swept"), "{message}");
        assert!(message.contains("--momentum"), "{message}");
    }

    #[test]
    fn members_count_in_mixed_radix_with_the_last_list_fastest() {
        let grid = Grid::new(vec![
            (SweptParameter::C, vec![1.0, 2.0, 3.0]),
            (SweptParameter::LearningRate, vec![0.1, 0.2]),
        ])
        .unwrap();
        let s = grid.setting(3);
        assert_eq!(s.get(SweptParameter::C), Some(2.0));
        assert_eq!(s.get(SweptParameter::LearningRate), Some(0.2));
        assert_eq!(s.get(SweptParameter::Momentum), None);
    }
}
