//! The lists of a `sweep` command line. `sweep` takes every `train` flag,
//! which clap parses as single numbers; the six flags a sweep can vary
//! (`--reg-strength`, `--C`, `--alpha`, `--lr`, `--l1-ratio`, `--momentum`)
//! also take `a,b,c`, `logspace(lo,hi,n)` or `linspace(lo,hi,n)`. Their
//! texts are taken out of the arguments here and parsed into the
//! [`Grid`], and the first value of each goes back in its place, so that
//! clap still checks everything else (conflicts, ranges, the other flags)
//! as it does for `train`.

use clap::{Arg, Command};
use lintrain::sweep::{Grid, SweptParameter, format_value};
use lintrain::{BatchSize, Result};
use std::any::TypeId;
use std::ffi::OsString;

/// The name of the subcommand whose flags take lists.
pub const SWEEP: &str = "sweep";

/// `argv` with each swept flag's list replaced by its first value, and the
/// grid of the lists; `None` for a command other than `sweep` (`argv` then
/// comes back as it was).
///
/// A flag that sets the strength in scikit-learn's terms (`--C`,
/// `--alpha`) is an axis of the grid even with one value: a member's C
/// becomes λ on that member's training rows ([`lintrain::sweep::Setting::apply`]),
/// which the sweep knows and clap does not. The other four are axes with
/// two values or more; with one they stay `train` flags. A numeric flag
/// that cannot be swept, given a list, is an error naming the ones that
/// can; so are the errors of [`Grid::parse`] (an empty list, a value out of
/// range, `n = 0`, a flag given twice, a grid too large).
///
/// `cli` is the whole command, which says which flags of `sweep` take a
/// value (so that a value that happens to read `--lr` is not a flag).
pub fn pull_grid(argv: Vec<OsString>, cli: &Command) -> Result<(Vec<OsString>, Option<Grid>)> {
    let Some(start) = subcommand_position(&argv).filter(|&i| argv[i] == SWEEP) else {
        return Ok((argv, None));
    };
    let Some(sweep) = cli.find_subcommand(SWEEP) else {
        return Ok((argv, None));
    };
    let mut kept: Vec<OsString> = argv[..=start].to_vec();
    // Each swept flag's text, and where its first value goes in `kept`.
    let mut lists: Vec<(SweptParameter, String, usize)> = Vec::new();
    let mut i = start + 1;
    while i < argv.len() {
        let token = &argv[i];
        i += 1;
        let Some(text) = token.to_str() else {
            kept.push(token.clone());
            continue;
        };
        if text == "--" {
            kept.extend(argv[i - 1..].iter().cloned());
            break;
        }
        let Some(long) = text.strip_prefix("--") else {
            kept.push(token.clone());
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        let Some(arg) = sweep.get_arguments().find(|a| a.get_long() == Some(name)) else {
            kept.push(token.clone());
            continue;
        };
        if !arg.get_action().takes_values() {
            kept.push(token.clone());
            continue;
        }
        // The value: after `=`, or the next argument (a missing one is
        // left for clap to report).
        let value = match inline {
            Some(value) => Some(value),
            None if i < argv.len() => {
                i += 1;
                Some(argv[i - 1].to_string_lossy().into_owned())
            }
            None => None,
        };
        let Some(value) = value else {
            kept.push(token.clone());
            continue;
        };
        let flag = format!("--{name}");
        match SweptParameter::ALL.into_iter().find(|p| p.flag() == flag) {
            Some(parameter) => {
                kept.push(flag.into());
                lists.push((parameter, value, kept.len()));
                kept.push(OsString::new());
            }
            None => {
                if is_numeric(arg) && looks_like_a_list(&value) {
                    // The error that names every flag a sweep can vary.
                    SweptParameter::from_flag(&flag)?;
                }
                kept.push(flag.into());
                kept.push(value.into());
            }
        }
    }
    let all = Grid::parse(lists.iter().map(|(p, text, _)| (*p, text.as_str())))?;
    for ((_, values), (_, _, slot)) in all.axes().iter().zip(&lists) {
        kept[*slot] = format_value(values[0]).into();
    }
    let axes = all
        .axes()
        .iter()
        .filter(|(p, values)| {
            values.len() > 1 || matches!(p, SweptParameter::C | SweptParameter::Alpha)
        })
        .cloned()
        .collect();
    Ok((kept, Some(Grid::new(axes)?)))
}

/// Where the subcommand is: the first argument after the program's name
/// that is not a flag (the only flag before it that takes no value is the
/// global `-q`/`--quiet`; `--help` and `--version` name no subcommand).
fn subcommand_position(argv: &[OsString]) -> Option<usize> {
    argv.iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| !a.to_str().is_some_and(|t| t.starts_with('-')))
        .map(|(i, _)| i)
}

/// Whether the flag's value is a number (of any type clap parses it to).
fn is_numeric(arg: &Arg) -> bool {
    let parsed = arg.get_value_parser().type_id();
    [
        TypeId::of::<f32>(),
        TypeId::of::<f64>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<BatchSize>(),
    ]
    .into_iter()
    .any(|t| parsed == t)
}

/// `a,b` or `logspace(…)`/`linspace(…)`: what a sweep's list looks like.
fn looks_like_a_list(value: &str) -> bool {
    let value = value.trim();
    value.contains(',') || value.starts_with("logspace(") || value.starts_with("linspace(")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("lintrain")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn pull(args: &[&str]) -> Result<(Vec<String>, Option<Grid>)> {
        let cli = super::super::command::Cli::command();
        let (kept, grid) = pull_grid(argv(args), &cli)?;
        let kept = kept
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().expect("utf-8"))
            .collect();
        Ok((kept, grid))
    }

    #[test]
    fn lists_leave_their_first_value_and_make_the_grid_in_flag_order() {
        let (kept, grid) = pull(&[
            "-q",
            "sweep",
            "--lr=0.1,0.05",
            "--epochs",
            "5",
            "--reg-strength",
            "logspace(-4,-2,3)",
        ])
        .unwrap();
        assert_eq!(
            kept,
            [
                "-q",
                "sweep",
                "--lr",
                "0.1",
                "--epochs",
                "5",
                "--reg-strength",
                "1e-4"
            ]
        );
        let grid = grid.expect("a sweep");
        let axes: Vec<SweptParameter> = grid.axes().iter().map(|(p, _)| *p).collect();
        assert_eq!(
            axes,
            [SweptParameter::LearningRate, SweptParameter::RegStrength]
        );
        assert_eq!(grid.len(), 6);
    }

    #[test]
    fn one_value_is_an_axis_for_c_and_alpha_only() {
        let (kept, grid) = pull(&["sweep", "--C", "2", "--lr", "0.5"]).unwrap();
        assert_eq!(kept, ["sweep", "--C", "2", "--lr", "0.5"]);
        let axes = grid.expect("a sweep").axes().to_vec();
        assert_eq!(axes, [(SweptParameter::C, vec![2.0])]);
    }

    #[test]
    fn other_commands_and_values_that_read_like_flags_are_left_alone() {
        let args = ["train", "--lr", "0.1,0.2"];
        let (kept, grid) = pull(&args).unwrap();
        assert_eq!(kept, args);
        assert!(grid.is_none());
        // `--data`'s value is a file name, even one called `--lr`.
        let (kept, grid) = pull(&["sweep", "--data", "--lr", "--delimiter", ","]).unwrap();
        assert_eq!(kept, ["sweep", "--data", "--lr", "--delimiter", ","]);
        assert_eq!(grid.expect("a sweep").len(), 1);
    }

    #[test]
    fn bad_lists_are_one_line_errors_naming_the_flag() {
        let message = |args: &[&str]| pull(args).unwrap_err().to_string();
        assert!(message(&["sweep", "--lr", ""]).starts_with("--lr: "));
        assert!(message(&["sweep", "--reg-strength", "1e-3,-1"]).contains("≥ 0"));
        assert!(message(&["sweep", "--C", "logspace(-3,1,0)"]).contains("n must be ≥ 1"));
        let beta = message(&["sweep", "--beta1", "0.9,0.99"]);
        assert!(beta.starts_with("--beta1: cannot be swept"), "{beta}");
        assert!(beta.contains("--momentum"), "{beta}");
        assert!(message(&["sweep", "--batch-size=linspace(8,64,3)"]).contains("cannot be swept"));
        assert!(message(&["sweep", "--lr", "0.1", "--lr", "0.2"]).contains("given twice"));
    }
}
