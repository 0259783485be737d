//! The `train --json` report: one object, null where a value does not apply.
//!
//! `{"backend", "adapter", "history": [{"epoch", "train_loss", "train_acc",
//! "val_loss", "val_acc", "lr", "seconds"}], "final": {"train_loss",
//! "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"}, "seconds"}`.
//! With L-BFGS a history record is an iteration (`epoch` its number,
//! `train_loss` the full objective, `lr` the accepted step length,
//! `seconds` its wall time) and `final` also has `converged`, `iterations`
//! and `objective`.

use lintrain::{BackendInfo, BackendKind, EpochRecord, SolverReport};
use serde_json::{Value, json};

/// The returned model scored on each split (mean data loss, as `eval`
/// reports it, and accuracy); `None` for a split that does not exist.
#[derive(Clone, Copy, Debug, Default)]
pub struct FinalMetrics {
    pub train: Option<(f64, f64)>,
    pub val: Option<(f64, f64)>,
    pub test: Option<(f64, f64)>,
}

pub fn backend_name(info: &BackendInfo) -> &'static str {
    match info.kind {
        BackendKind::Cpu => "cpu",
        BackendKind::Gpu => "gpu",
    }
}

pub fn train_report(
    info: &BackendInfo,
    epochs: &[EpochRecord],
    metrics: &FinalMetrics,
    solver: Option<&SolverReport>,
    seconds: f64,
) -> Value {
    let history: Vec<Value> = epochs
        .iter()
        .map(|r| {
            json!({
                "epoch": r.epoch,
                "train_loss": r.train_loss,
                "train_acc": r.train_accuracy,
                "val_loss": r.val_loss,
                "val_acc": r.val_accuracy,
                // An L-BFGS iteration's "learning rate" is its step length.
                "lr": match r.step_length {
                    Some(step) => json!(step),
                    None => json!(r.learning_rate),
                },
                "seconds": r.seconds,
            })
        })
        .collect();
    let loss = |m: Option<(f64, f64)>| m.map(|(l, _)| l);
    let acc = |m: Option<(f64, f64)>| m.map(|(_, a)| a);
    let mut last = json!({
        "train_loss": loss(metrics.train),
        "train_acc": acc(metrics.train),
        "val_loss": loss(metrics.val),
        "val_acc": acc(metrics.val),
        "test_loss": loss(metrics.test),
        "test_acc": acc(metrics.test),
    });
    if let (Some(report), Some(fields)) = (solver, last.as_object_mut()) {
        fields.insert("converged".into(), json!(report.converged));
        fields.insert("iterations".into(), json!(report.iterations));
        fields.insert("objective".into(), json!(report.objective));
    }
    json!({
        "backend": backend_name(info),
        "adapter": info.adapter,
        "history": history,
        "final": last,
        "seconds": seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lintrain::StopReason;

    fn info() -> BackendInfo {
        lintrain::Backend::info(&lintrain::CpuBackend::new())
    }

    fn iteration(number: usize, objective: f64, step: f64) -> EpochRecord {
        EpochRecord {
            epoch: number,
            train_loss: objective,
            train_accuracy: Some(0.5),
            val_loss: None,
            val_accuracy: None,
            learning_rate: 0.1,
            seconds: 0.25,
            samples_per_second: 600.0,
            gradient_max: Some(1e-3),
            step_length: Some(step),
        }
    }

    #[test]
    fn an_lbfgs_report_has_one_record_per_iteration_and_the_solver_in_final() {
        let report = SolverReport {
            converged: false,
            reason: StopReason::IterationLimit,
            iterations: 2,
            function_evaluations: 5,
            objective: 0.25,
            gradient_max: 1e-3,
        };
        let records = [iteration(1, 0.5, 0.125), iteration(2, 0.25, 1.0)];
        let metrics = FinalMetrics {
            train: Some((0.2, 0.9)),
            ..FinalMetrics::default()
        };
        let value = train_report(&info(), &records, &metrics, Some(&report), 1.5);
        let history = value["history"].as_array().expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["epoch"], 1);
        assert_eq!(history[1]["train_loss"], 0.25);
        // The step length, not the learning rate the record also carries.
        assert_eq!(history[0]["lr"], 0.125);
        assert_eq!(history[1]["lr"], 1.0);
        assert_eq!(history[1]["seconds"], 0.25);
        let last = &value["final"];
        assert_eq!(last["converged"], false);
        assert_eq!(last["iterations"], 2);
        assert_eq!(last["objective"], 0.25);
        assert_eq!(last["train_acc"], 0.9);
        assert!(last["val_loss"].is_null());
    }

    #[test]
    fn a_minibatch_report_keeps_its_schema() {
        let mut record = iteration(1, 0.5, 0.0);
        record.gradient_max = None;
        record.step_length = None;
        let value = train_report(&info(), &[record], &FinalMetrics::default(), None, 1.0);
        let mut keys: Vec<&String> = value["final"].as_object().expect("final").keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "test_acc",
                "test_loss",
                "train_acc",
                "train_loss",
                "val_acc",
                "val_loss"
            ]
        );
        assert_eq!(value["history"][0]["lr"], json!(0.1f32));
    }
}
