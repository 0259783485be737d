//! `lintrain eval`: loss, accuracy, confusion matrix, precision and recall
//! of a saved model on labelled data.

use super::args::EvalArgs;
use super::{CliError, CliResult, inputs};
use lintrain::model_file::SavedModel;
use ndarray::Array1;
use serde_json::json;

pub fn run(args: &EvalArgs) -> CliResult {
    let saved = SavedModel::load(&args.model)?;
    let table = inputs::labelled(
        &args.data,
        args.label.as_ref(),
        args.labels.as_ref(),
        Some(saved.model.features()),
    )?;
    let raw = table
        .labels
        .ok_or_else(|| CliError::new(format!("{}: the file has no labels", args.data.display())))?;
    let labels = Array1::from(
        saved
            .class_map()
            .encode(&raw)
            .map_err(|e| CliError::new(format!("{}: {e}", args.data.display())))?,
    );
    let x = saved.prepare(table.features.view())?;
    let loss = saved.model.data_loss(x.view(), labels.view())?;
    let predicted = saved.model.predict(x.view())?;
    let n = labels.len();
    let hits = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    let accuracy = hits as f64 / n as f64;
    if args.json {
        println!("{}", json!({ "loss": loss, "accuracy": accuracy, "n": n }));
        return Ok(());
    }
    println!(
        "{}: {n} rows, loss {loss:.4}, accuracy {:.2}% ({hits}/{n})",
        args.data.display(),
        100.0 * accuracy
    );
    let names = &saved.class_names;
    let classes = names.len();
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&p, &l) in predicted.iter().zip(&labels) {
        confusion[l as usize][p as usize] += 1;
    }
    print_confusion(names, &confusion);
    println!();
    println!(
        "{:<width$}  {:>9}  {:>9}  {:>7}",
        "class",
        "precision",
        "recall",
        "support",
        width = label_width(names)
    );
    for (c, name) in names.iter().enumerate() {
        let support: usize = confusion[c].iter().sum();
        let predicted_c: usize = confusion.iter().map(|row| row[c]).sum();
        let ratio = |num: usize, den: usize| {
            if den == 0 {
                "-".to_string()
            } else {
                format!("{:.3}", num as f64 / den as f64)
            }
        };
        println!(
            "{:<width$}  {:>9}  {:>9}  {:>7}",
            name,
            ratio(confusion[c][c], predicted_c),
            ratio(confusion[c][c], support),
            support,
            width = label_width(names)
        );
    }
    Ok(())
}

fn label_width(names: &[String]) -> usize {
    names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("class".len())
        .max("true \\ predicted".len())
}

/// Rows are true classes, columns predicted ones.
fn print_confusion(names: &[String], confusion: &[Vec<usize>]) {
    let width = label_width(names);
    let cell = names
        .iter()
        .map(|n| n.chars().count())
        .chain(confusion.iter().flatten().map(|v| v.to_string().len()))
        .max()
        .unwrap_or(1);
    println!("confusion matrix (rows: true class, columns: predicted class)");
    let mut header = format!("{:<width$}", "true \\ predicted");
    for name in names {
        header.push_str(&format!("  {name:>cell$}"));
    }
    println!("{header}");
    for (name, row) in names.iter().zip(confusion) {
        let mut line = format!("{name:<width$}");
        for v in row {
            line.push_str(&format!("  {v:>cell$}"));
        }
        println!("{line}");
    }
}
