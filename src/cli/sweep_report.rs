//! What `sweep` prints: a table of every setting (the best marked) and the
//! best's line, or with `--json` one object:
//!
//! `{"backend", "adapter", "results": [{<each swept parameter's key>: value, "train_loss",
//! "train_acc", "val_loss", "val_acc", "status": "trained"|"diverged"}],
//! "best": {the same object for the best, or null}, "seconds"}`.
//!
//! With k-fold selection the losses and accuracies are the means over the
//! folds. `best` also has `test_loss` and `test_acc` with `--test`.

use super::json::backend_name;
use lintrain::solver::SolverReport;
use lintrain::sweep::{
    MemberResult, MemberRun, MemberStatus, Selection, SweepOutcome, display_value,
};
use serde_json::{Map, Value, json};

/// The best model scored on the `--test` rows: mean data loss, accuracy.
pub type TestScores = Option<(f64, f64)>;

/// The `--json` object.
pub fn json_report(outcome: &SweepOutcome, test: TestScores) -> Value {
    let results: Vec<Value> = outcome.members.iter().map(member_json).collect();
    let best = match outcome.best {
        Some(b) => {
            let mut best = member_json(&outcome.members[b]);
            if let (Some((loss, accuracy)), Some(fields)) = (test, best.as_object_mut()) {
                fields.insert("test_loss".into(), json!(loss));
                fields.insert("test_acc".into(), json!(accuracy));
            }
            best
        }
        None => Value::Null,
    };
    let backend = outcome
        .members
        .iter()
        .flat_map(|m| &m.runs)
        .map(|r| &r.history.backend)
        .next();
    json!({
        "backend": backend.map(backend_name),
        "adapter": backend.map(|b| b.adapter.clone()),
        "results": results,
        "best": best,
        "seconds": outcome.seconds,
    })
}

fn member_json(member: &MemberResult) -> Value {
    let mut fields = Map::new();
    for (parameter, value) in member.setting.iter() {
        fields.insert(parameter.key().into(), json!(value));
    }
    let scores = member.scores;
    fields.insert("train_loss".into(), json!(scores.map(|s| s.train_loss)));
    fields.insert("train_acc".into(), json!(scores.map(|s| s.train_accuracy)));
    fields.insert("val_loss".into(), json!(scores.and_then(|s| s.val_loss)));
    fields.insert("val_acc".into(), json!(scores.and_then(|s| s.val_accuracy)));
    let status = if member.diverged() {
        "diverged"
    } else {
        "trained"
    };
    fields.insert("status".into(), json!(status));
    Value::Object(fields)
}

/// The table: one row per setting in grid order, the best marked `*`.
pub fn table(outcome: &SweepOutcome, selection: Selection) -> String {
    let keys: Vec<&str> = outcome
        .members
        .first()
        .map(|m| m.setting.iter().map(|(p, _)| p.key()).collect())
        .unwrap_or_default();
    let mut header: Vec<String> = std::iter::once(String::new())
        .chain(keys.iter().map(|k| k.to_string()))
        .collect();
    let (val_loss, val_acc) = match selection {
        Selection::Holdout => ("val loss".to_string(), "val acc".to_string()),
        Selection::Folds(k) => (
            format!("val loss ({k}-fold)"),
            format!("val acc ({k}-fold)"),
        ),
    };
    header.extend([
        "train loss".into(),
        "train acc".into(),
        val_loss,
        val_acc,
        "status".into(),
    ]);
    let mut rows = vec![header];
    for (k, member) in outcome.members.iter().enumerate() {
        let mut row: Vec<String> = vec![if outcome.best == Some(k) { "*" } else { "" }.into()];
        row.extend(member.setting.iter().map(|(_, v)| display_value(v)));
        let scores = member.scores;
        row.push(loss(scores.map(|s| s.train_loss)));
        row.push(percent(scores.map(|s| s.train_accuracy)));
        row.push(loss(scores.and_then(|s| s.val_loss)));
        row.push(percent(scores.and_then(|s| s.val_accuracy)));
        row.push(status(member));
        rows.push(row);
    }
    align(&rows)
}

/// `best: lr=0.1 reg_strength=1e-4 (val acc 96.67%, val loss 0.0812)`, and
/// with k-fold selection the means and the refit; `None` when every
/// setting diverged.
pub fn best_line(outcome: &SweepOutcome, selection: Selection, rows: usize) -> Option<String> {
    let best = &outcome.members[outcome.best?];
    let scores = best.scores?;
    let setting = match best.setting.describe() {
        described if described.is_empty() => "the one setting".to_string(),
        described => described,
    };
    let metrics = format!(
        "val acc {}, val loss {}",
        percent(scores.val_accuracy),
        loss(scores.val_loss)
    );
    Some(match selection {
        Selection::Holdout => format!("best: {setting} ({metrics})"),
        Selection::Folds(k) => format!(
            "best: {setting} (mean over {k} folds: {metrics}); refit on all {rows} training rows"
        ),
    })
}

/// What became of a setting: `trained`; with early stopping `early stop @
/// epoch N, kept epoch B` or `kept epoch B of N`; `converged @ epoch N`
/// (the `--tol` rule); L-BFGS's convergence; or `diverged at epoch E`
/// (with the fold under k-fold selection).
fn status(member: &MemberResult) -> String {
    let folds = member.runs.len() > 1;
    let fold = |f: usize| {
        if folds {
            format!(" (fold {})", f + 1)
        } else {
            String::new()
        }
    };
    for (f, run) in member.runs.iter().enumerate() {
        if let MemberStatus::Diverged { epoch, .. } = run.status {
            return format!("diverged at epoch {epoch}{}", fold(f));
        }
    }
    let reports: Vec<&SolverReport> = member
        .runs
        .iter()
        .filter_map(|r| r.solver_report.as_ref())
        .collect();
    if !reports.is_empty() {
        if let Some(f) = reports.iter().position(|r| !r.converged) {
            return format!(
                "not converged in {} iterations{}",
                reports[f].iterations,
                fold(f)
            );
        }
        let most = reports.iter().map(|r| r.iterations).max().unwrap_or(0);
        return format!(
            "converged in {most} iterations{}",
            if folds { " or fewer" } else { "" }
        );
    }
    match member.runs.as_slice() {
        [run] => single_run_status(run),
        _ => "trained".into(),
    }
}

fn single_run_status(run: &MemberRun) -> String {
    let history = &run.history;
    let last = history.epochs.last().map_or(0, |r| r.epoch);
    match history.best_epoch {
        Some(best) if history.stopped_early => {
            return format!("early stop @ epoch {last}, kept epoch {best}");
        }
        Some(best) if best != last => return format!("kept epoch {best} of {last}"),
        _ => {}
    }
    if history.stopped_by_tolerance {
        return format!("converged @ epoch {last}");
    }
    "trained".into()
}

fn loss(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.2}%", 100.0 * v))
}

/// The rows as columns two spaces apart: the last (the status) left
/// aligned, the others right aligned.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &width))| {
                if c + 1 == columns {
                    cell.clone()
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
