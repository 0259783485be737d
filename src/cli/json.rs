//! The `train --json` report: one object, null where a value does not apply.

use lintrain::{BackendInfo, BackendKind, EpochRecord};
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
                "lr": r.learning_rate,
                "seconds": r.seconds,
            })
        })
        .collect();
    let loss = |m: Option<(f64, f64)>| m.map(|(l, _)| l);
    let acc = |m: Option<(f64, f64)>| m.map(|(_, a)| a);
    json!({
        "backend": backend_name(info),
        "adapter": info.adapter,
        "history": history,
        "final": {
            "train_loss": loss(metrics.train),
            "train_acc": acc(metrics.train),
            "val_loss": loss(metrics.val),
            "val_acc": acc(metrics.val),
            "test_loss": loss(metrics.test),
            "test_acc": acc(metrics.test),
        },
        "seconds": seconds,
    })
}
