//! `lintrain eval`: loss, accuracy and the metrics of [`lintrain::metrics`]
//! of a saved model on labelled data. Up to
//! [`MAX_PRINTED_CLASSES`] classes the text output shows the confusion
//! matrix and a row per class; above, a summary whose size does not grow
//! with the classes (averages and the worst classes), and the full matrix
//! only as CSV on request (`--confusion FILE`), streamed into the file.
//! The scores are read in chunks ([`lintrain::Model::evaluate`]): memory
//! grows with the rows plus the classes, not their product.

use super::args::EvalArgs;
use super::paths::{Named, check_outputs};
use super::scoring::{Failure, check_columns, scoring_error, write_file};
use super::{CliError, CliResult, inputs};
use lintrain::metrics::{
    self, ClassCounts, MAX_PRINTED_CLASSES, Scores, SparseConfusion, WORST_CLASSES_SHOWN,
};
use lintrain::model_file::SavedModel;
use ndarray::Array1;
use serde_json::json;
use std::path::Path;

pub fn run(args: &EvalArgs) -> CliResult {
    let saved = SavedModel::load(&args.model)?;
    let names = &saved.class_names;
    let classes = names.len();
    // What the model alone decides is checked before the data is read.
    if let Some(k) = args.top_k {
        metrics::check_top_k(k, classes).map_err(|_| {
            CliError::new(format!(
                "--top-k {k}: K must be between 1 and the model's {classes} classes"
            ))
        })?;
    }
    if let Some(path) = &args.confusion {
        check_confusion_path(path, args)?;
        SparseConfusion::check_csv_size(classes)
            .map_err(|e| CliError::new(format!("--confusion {}: {e}", path.display())))?;
    }
    let table = inputs::labelled(
        &args.data,
        args.label.as_ref(),
        args.labels.as_ref(),
        Some(saved.model.features()),
        &args.read,
    )?;
    check_columns(&args.data, &table, &args.model, &saved)?;
    let raw = table
        .labels
        .ok_or_else(|| CliError::new(format!("{}: the file has no labels", args.data.display())))?;
    let labels = saved
        .class_map()
        .encode(&raw)
        .map_err(|e| CliError::new(format!("{}: {e}", args.data.display())))?;
    let x = saved.prepare(table.features.view())?;
    // One pass over the scores, in chunks: memory O(N + C), not O(N·C).
    let evaluation = saved
        .model
        .evaluate(x.view(), Array1::from(labels.clone()).view())
        .map_err(|e| scoring_error(&args.model, &args.data, e))?;
    let predicted = &evaluation.predicted;
    let counts = ClassCounts::new(classes, &labels, predicted)?;
    let top_k = args
        .top_k
        .map(|k| metrics::top_k_accuracy_of_ranks(&evaluation.label_ranks, classes, k))
        .transpose()?;
    let roc_auc = match &evaluation.margins {
        Some(margins) => {
            let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
            metrics::roc_auc(margins, &positive)?
        }
        None => None,
    };
    let confusion = (args.confusion.is_some() || classes <= MAX_PRINTED_CLASSES)
        .then(|| SparseConfusion::new(classes, &labels, predicted))
        .transpose()?;
    if let (Some(path), Some(confusion)) = (&args.confusion, &confusion) {
        // Streamed into the file, row by row: O(C) memory beyond the cells.
        write_file(path, |out| {
            confusion.write_csv(names, out).map_err(|e| {
                Failure::Cli(CliError::new(format!(
                    "--confusion {}: {e}",
                    path.display()
                )))
            })
        })?;
    }

    let n = labels.len();
    let loss = evaluation.loss;
    let accuracy = counts.accuracy();
    let macro_avg = counts.macro_average();
    let weighted = counts.weighted_average();
    if args.json {
        println!(
            "{}",
            json!({
                "loss": loss,
                "accuracy": accuracy,
                "n": n,
                "classes": classes,
                "macro_precision": macro_avg.precision,
                "macro_recall": macro_avg.recall,
                "macro_f1": macro_avg.f1,
                "weighted_precision": weighted.precision,
                "weighted_recall": weighted.recall,
                "weighted_f1": weighted.f1,
                "roc_auc": roc_auc,
                "top_k": args.top_k,
                "top_k_accuracy": top_k,
            })
        );
        return Ok(());
    }
    println!(
        "{}: {n} rows, loss {loss:.4}, accuracy {:.2}% ({}/{n})",
        args.data.display(),
        100.0 * accuracy,
        counts.hits()
    );
    let header = ["precision", "recall", "f1", "support"];
    match &confusion {
        Some(confusion) if classes <= MAX_PRINTED_CLASSES => {
            print_confusion(names, &confusion.dense());
            println!();
            let rows: Vec<Row> = (0..classes)
                .map(|c| class_row(names[c].clone(), &counts, c))
                .chain(average_rows(&macro_avg, &weighted, n))
                .collect();
            print_table("class", &header, &rows);
        }
        _ => {
            match &args.confusion {
                Some(path) => println!(
                    "{classes} classes; confusion matrix written to {}",
                    path.display()
                ),
                None => println!(
                    "{classes} classes; the confusion matrix is printed for at most {MAX_PRINTED_CLASSES} (write it as CSV with --confusion FILE)"
                ),
            }
            println!();
            print_table("average", &header, &average_rows(&macro_avg, &weighted, n));
            let worst = counts.worst_classes(WORST_CLASSES_SHOWN);
            println!();
            println!("the {} classes with the lowest F1:", worst.len());
            let rows: Vec<Row> = worst
                .iter()
                .map(|&c| class_row(names[c].clone(), &counts, c))
                .collect();
            print_table("class", &header, &rows);
        }
    }
    if let Some(auc) = roc_auc {
        println!("ROC-AUC (class {:?} positive): {auc:.4}", names[1]);
    }
    if let (Some(k), Some(top_k)) = (args.top_k, top_k) {
        println!("top-{k} accuracy: {:.2}%", 100.0 * top_k);
    }
    Ok(())
}

/// Refuses a `--confusion` path that names an input, however spelled (a
/// relative path, `..`, a symbolic or hard link): the matrix goes to a new
/// file or replaces an old output, never the model or the data.
fn check_confusion_path(path: &Path, args: &EvalArgs) -> CliResult {
    let inputs: Vec<Named<'_>> = [
        Some(Named::new("--model", &args.model)),
        Some(Named::new("--data", &args.data)),
        Named::given("--labels", args.labels.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    check_outputs(&inputs, &[Named::new("--confusion", path)])
}

/// A table row: its label and one cell per column.
struct Row {
    label: String,
    cells: Vec<String>,
}

/// A class's precision, recall and F1, "-" where the denominator is 0
/// (precision of a class never predicted, recall of a class with no rows).
fn class_row(label: String, counts: &ClassCounts, c: usize) -> Row {
    let (tp, predicted, support) = (
        counts.true_positives[c],
        counts.predicted[c],
        counts.support[c],
    );
    let scores = counts.scores(c);
    let defined = |den: u64, value: f64| {
        if den == 0 {
            "-".to_string()
        } else {
            format!("{value:.3}")
        }
    };
    Row {
        label,
        cells: vec![
            defined(predicted, scores.precision),
            defined(support, scores.recall),
            defined(2 * tp + (predicted - tp) + (support - tp), scores.f1),
            support.to_string(),
        ],
    }
}

fn average_rows(macro_avg: &Scores, weighted: &Scores, n: usize) -> [Row; 2] {
    let row = |label: &str, s: &Scores| Row {
        label: label.to_string(),
        cells: vec![
            format!("{:.3}", s.precision),
            format!("{:.3}", s.recall),
            format!("{:.3}", s.f1),
            n.to_string(),
        ],
    };
    [row("macro avg", macro_avg), row("weighted avg", weighted)]
}

fn print_table(corner: &str, header: &[&str], rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let mut line = format!("{corner:<width$}");
    for h in header {
        line.push_str(&format!("  {h:>9}"));
    }
    println!("{line}");
    for row in rows {
        let mut line = format!("{:<width$}", row.label);
        for cell in &row.cells {
            line.push_str(&format!("  {cell:>9}"));
        }
        println!("{line}");
    }
}

/// Rows are true classes, columns predicted ones.
fn print_confusion(names: &[String], confusion: &[Vec<u64>]) {
    let corner = "true \\ predicted";
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let cell = names
        .iter()
        .map(|n| n.chars().count())
        .chain(confusion.iter().flatten().map(|v| v.to_string().len()))
        .max()
        .unwrap_or(1);
    println!("confusion matrix (rows: true class, columns: predicted class)");
    let mut header = format!("{corner:<width$}");
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
