//! `train --class-weight`: softmax class weights, balanced or from a file.

use super::args::ClassWeightArg;
use super::{CliError, CliResult};
use lintrain::data::ClassMap;

/// Softmax class weights in class-id order: scikit-learn's "balanced"
/// (`n_samples / (n_classes · count_c)` over the training rows) or a file
/// of `class,weight` lines (a comma, tab or spaces between; `#` comments
/// and blank lines skipped) that names every class once.
pub fn class_weights(
    source: &ClassWeightArg,
    classes: &ClassMap,
    train_labels: Option<&[u32]>,
) -> CliResult<Vec<f32>> {
    let names = classes.names();
    match source {
        ClassWeightArg::Balanced => {
            let labels = train_labels.unwrap_or_default();
            lintrain::config::balanced_class_weights(labels, names.len()).map_err(|empty| {
                CliError::new(format!(
                    "--class-weight balanced: class {:?} has no training rows",
                    names[empty]
                ))
            })
        }
        ClassWeightArg::File(path) => {
            let fail = |line: usize, reason: String| {
                CliError::new(format!(
                    "--class-weight {}, line {line}: {reason}",
                    path.display()
                ))
            };
            let bytes = lintrain::input_file::read_whole(path)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                CliError::new(format!(
                    "--class-weight {}: is not UTF-8 text",
                    path.display()
                ))
            })?;
            let mut weights: Vec<Option<f32>> = vec![None; names.len()];
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let split = line
                    .rfind([',', '\t', ' '])
                    .ok_or_else(|| fail(i + 1, "expected `class,weight`".into()))?;
                let (name, weight) = (line[..split].trim(), line[split + 1..].trim());
                let weight: f32 = weight
                    .parse()
                    .ok()
                    .filter(|w: &f32| w.is_finite() && *w >= 0.0)
                    .ok_or_else(|| {
                        fail(
                            i + 1,
                            format!("weight {weight:?} is not a finite number ≥ 0"),
                        )
                    })?;
                let class = names.iter().position(|n| n == name).ok_or_else(|| {
                    fail(
                        i + 1,
                        format!("unknown class {name:?}; classes: {}", names.join(", ")),
                    )
                })?;
                if weights[class].replace(weight).is_some() {
                    return Err(fail(i + 1, format!("class {name:?} is given twice")));
                }
            }
            let missing: Vec<&str> = names
                .iter()
                .zip(&weights)
                .filter(|(_, w)| w.is_none())
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(CliError::new(format!(
                    "--class-weight {}: no weight for class {}",
                    path.display(),
                    missing.join(", ")
                )));
            }
            let weights: Vec<f32> = weights.into_iter().map(|w| w.unwrap_or(1.0)).collect();
            lintrain::config::check_class_weights(&weights).map_err(|reason| {
                CliError::new(format!("--class-weight {}: {reason}", path.display()))
            })?;
            Ok(weights)
        }
    }
}
