//! `lintrain predict`: one class name, or one row of class probabilities,
//! per data row, as CSV.

use super::args::PredictArgs;
use super::paths::{Named, check_outputs};
use super::{CliError, CliResult, inputs};
use lintrain::data::{LoadOptions, load_table};
use lintrain::model_file::SavedModel;
use std::io::Write;

pub fn run(args: &PredictArgs) -> CliResult {
    if let Some(out) = &args.out {
        check_outputs(
            &[
                Named::new("--model", &args.model),
                Named::new("--data", &args.data),
            ],
            &[Named::new("--out", out)],
        )?;
    }
    let saved = SavedModel::load(&args.model)?;
    let options = args.read.apply(LoadOptions {
        label: args.label.clone().unwrap_or_default(),
        labels_file: None,
        labels_required: false,
        expected_features: Some(saved.model.features()),
        ..LoadOptions::default()
    });
    let table = load_table(&args.data, &options)?;
    let x = saved.prepare(table.features.view())?;
    let csv_error = |e: csv::Error| CliError::new(format!("writing the predictions: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    if args.proba {
        let proba = saved.model.predict_proba(x.view())?;
        writer.write_record(&saved.class_names).map_err(csv_error)?;
        for row in proba.outer_iter() {
            writer
                .write_record(row.iter().map(|p| p.to_string()))
                .map_err(csv_error)?;
        }
    } else {
        for class in saved.model.predict(x.view())? {
            let name = saved.class_names.get(class as usize).ok_or_else(|| {
                CliError::new(format!(
                    "{}: predicted class {class} has no name",
                    args.model.display()
                ))
            })?;
            writer.write_record([name]).map_err(csv_error)?;
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CliError::new(format!("writing the predictions: {e}")))?;
    match &args.out {
        Some(path) => inputs::write_atomically(path, &bytes),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&bytes).and_then(|()| stdout.flush()) {
                // The reader stopped early (`| head`): nothing is wrong.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(|e| CliError::new(format!("writing to stdout: {e}"))),
            }
        }
    }
}
