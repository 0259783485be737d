//! The benchmark's outputs: a markdown table for people and JSON records
//! for scripts.

use super::lbfgs::LbfgsRun;
use crate::{BackendInfo, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// One figure: `median`, `min` and `max` of a rate over the samples.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    pub case: String,
    pub backend: &'static str,
    pub shape: String,
    pub unit: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// What one GPU training step costs in engine operations, counted by the
/// GPU backend itself.
#[derive(Clone, Debug, Serialize)]
pub struct StepCounts {
    pub dispatches_per_step: f64,
    pub submissions_per_epoch: f64,
    pub readbacks_per_step: f64,
    pub allocations_per_step: f64,
}

/// Everything one run measured.
pub struct Report {
    pub quick: bool,
    pub gpu: Option<BackendInfo>,
    /// Cases in order, with the CPU and GPU rates (median, min, max).
    pub rows: Vec<Row>,
    pub counts: Option<StepCounts>,
    /// A fresh GPU device's first short training run minus its second:
    /// what compiling the pipelines costs.
    pub warmup_seconds: Option<f64>,
    /// (case, on GPU, final training loss): shows both backends trained.
    pub final_losses: Vec<(String, bool, f64)>,
    /// The `lbfgs` case: one run to convergence per backend.
    pub lbfgs: Vec<LbfgsRun>,
}

pub struct Row {
    pub case: String,
    pub shape: String,
    /// Shown after the shape in the table only (the JSON shape stays M×K×N).
    pub note: &'static str,
    pub unit: &'static str,
    pub cpu: Option<(f64, f64, f64)>,
    pub gpu: Option<(f64, f64, f64)>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Three significant figures, without exponent noise for common sizes.
fn figure(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Report {
    pub fn new(quick: bool, gpu: Option<BackendInfo>) -> Self {
        Self {
            quick,
            gpu,
            rows: Vec::new(),
            counts: None,
            warmup_seconds: None,
            final_losses: Vec::new(),
            lbfgs: Vec::new(),
        }
    }

    pub fn pair(
        &mut self,
        case: &str,
        shape: &str,
        unit: &'static str,
        cpu: Option<(f64, f64, f64)>,
        gpu: Option<(f64, f64, f64)>,
    ) {
        self.rows.push(Row {
            case: case.into(),
            shape: shape.into(),
            note: "",
            unit,
            cpu,
            gpu,
        });
    }

    /// The JSON records: one per case, shape and backend, then the step counts.
    pub fn records(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for row in &self.rows {
            for (backend, rate) in [("cpu", row.cpu), ("gpu", row.gpu)] {
                if let Some((median, min, max)) = rate {
                    let record = Record {
                        case: row.case.clone(),
                        backend,
                        shape: row.shape.clone(),
                        unit: row.unit,
                        median,
                        min,
                        max,
                    };
                    out.push(serde_json::to_value(record).expect("plain record"));
                }
            }
        }
        if let Some(counts) = &self.counts {
            let mut value = serde_json::to_value(counts).expect("plain record");
            value["case"] = Value::from("train_step_counts");
            out.push(value);
        }
        if let Some(seconds) = self.warmup_seconds {
            out.push(serde_json::json!({
                "case": "gpu_warmup", "backend": "gpu", "shape": "first training run - second, fresh device",
                "unit": "s", "median": seconds, "min": seconds, "max": seconds,
            }));
        }
        for run in &self.lbfgs {
            // `median`, `min` and `max` as in every record (one run: all
            // three its seconds), then the run's own fields.
            let mut value = serde_json::json!({
                "case": "lbfgs", "unit": "s",
                "median": run.seconds, "min": run.seconds, "max": run.seconds,
            });
            let fields = serde_json::to_value(run).expect("plain record");
            if let (Some(out), Value::Object(fields)) = (value.as_object_mut(), fields) {
                out.extend(fields);
            }
            out.push(value);
        }
        out
    }

    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.records()).expect("plain records");
        // Atomically, as every output: never half-written, and a symbolic
        // link at `path` is replaced, not followed onto another file.
        crate::atomic_file::write_atomically(path, (text + "\n").as_bytes())
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s += &format!(
            "lintrain {} benchmark{}\n\n",
            env!("CARGO_PKG_VERSION"),
            if self.quick {
                " (--quick: small sizes, figures not meaningful)"
            } else {
                ""
            }
        );
        s += &format!(
            "- CPU: {} ({} threads)\n",
            cpu_model(),
            rayon::current_num_threads()
        );
        match &self.gpu {
            Some(g) => {
                s += &format!(
                    "- GPU: {} ({}, device type {})\n",
                    g.adapter, g.api, g.device_type
                )
            }
            None => s += "- GPU: not measured\n",
        }
        if self.rows.is_empty() {
            s += &self.lbfgs_markdown();
            return s;
        }
        s += "\nRates are medians over repeated runs after warm-up, with (min–max).\n\n";
        s += "| case | shape | unit | CPU backend | GPU backend | GPU / CPU |\n";
        s += "|---|---|---|---|---|---|\n";
        let cell = |r: Option<(f64, f64, f64)>| match r {
            Some((median, min, max)) => {
                format!("{} ({}–{})", figure(median), figure(min), figure(max))
            }
            None => "-".into(),
        };
        for row in &self.rows {
            let ratio = match (row.cpu, row.gpu) {
                (Some(c), Some(g)) => format!("{:.2}×", g.0 / c.0),
                _ => "-".into(),
            };
            s += &format!(
                "| {} | {}{} | {} | {} | {} | {} |\n",
                row.case,
                row.shape,
                row.note,
                row.unit,
                cell(row.cpu),
                cell(row.gpu),
                ratio
            );
        }
        let steps: Vec<&Row> = self.rows.iter().filter(|r| r.unit == "samples/s").collect();
        if !steps.is_empty() {
            s += "\nMilliseconds per step (from the medians):\n\n";
            s += "| case | shape | rows per step | CPU ms/step | GPU ms/step |\n|---|---|---|---|---|\n";
            for row in steps {
                let batch = match row.case.as_str() {
                    "train_probe" => super::PROBE_BATCH,
                    // Its shapes start with their batch ("256x768x100 K 8").
                    "sweep_step" | "sweep_train" => row
                        .shape
                        .split('x')
                        .next()
                        .and_then(|b| b.parse().ok())
                        .unwrap_or(super::BATCH),
                    _ => super::BATCH,
                };
                let ms = |r: Option<(f64, f64, f64)>| {
                    r.map_or("-".into(), |(m, _, _)| {
                        format!("{:.3}", 1e3 * batch as f64 / m)
                    })
                };
                s += &format!(
                    "| {} | {} | {batch} | {} | {} |\n",
                    row.case,
                    row.shape,
                    ms(row.cpu),
                    ms(row.gpu)
                );
            }
        }
        if let Some(c) = &self.counts {
            s += &format!(
                "\nGPU engine counters per training step: {:.2} dispatches, {:.2} host readbacks, {:.2} buffer allocations; {:.1} submissions per epoch.\n",
                c.dispatches_per_step,
                c.readbacks_per_step,
                c.allocations_per_step,
                c.submissions_per_epoch
            );
        }
        if let Some(w) = self.warmup_seconds {
            s += &format!(
                "GPU warm-up (pipeline compilation: a fresh device's first short training run minus its second): {w:.2} s.\n"
            );
        }
        if !self.final_losses.is_empty() {
            s += "Final training loss: ";
            let parts: Vec<String> = self
                .final_losses
                .iter()
                .map(|(case, gpu, loss)| {
                    format!("{case} {} {loss:.4}", if *gpu { "GPU" } else { "CPU" })
                })
                .collect();
            s += &parts.join(", ");
            s += "\n";
        }
        s += &self.lbfgs_markdown();
        s
    }

    /// The `lbfgs` case's table, when it ran.
    fn lbfgs_markdown(&self) -> String {
        let Some(first) = self.lbfgs.first() else {
            return String::new();
        };
        let mut s = format!(
            "\nFull-batch L-BFGS to convergence ({}, data: {}): softmax, λ = 1/(2·C·N) = {:.4e} \
             (C = {}), zero start, stop at ‖g‖∞ ≤ {:e}·max(1, |F|) or after {} iterations; one \
             run per backend, seconds of wall time from the start of the fit.\n\n",
            first.shape,
            first.data,
            first.lambda,
            super::lbfgs::C,
            first.tolerance,
            super::lbfgs::MAX_ITERATIONS,
        );
        s += "| backend | seconds | iterations | evaluations | objective | objective in f64 | ‖g‖∞ \
              | stopped | seconds to target (iteration) |\n|---|---|---|---|---|---|---|---|---|\n";
        for run in &self.lbfgs {
            let to_target = match (run.target_objective, run.seconds_to_target) {
                (None, _) => "no target".to_string(),
                (Some(_), None) => "not reached".to_string(),
                (Some(_), Some(seconds)) => format!(
                    "{seconds:.3} ({})",
                    run.iterations_to_target.unwrap_or_default()
                ),
            };
            s += &format!(
                "| {} | {:.3} | {} | {} | {:.9} | {:.9} | {:.2e} | {}{} | {} |\n",
                run.backend.to_uppercase(),
                run.seconds,
                run.iterations,
                run.function_evaluations,
                run.objective,
                run.objective_f64,
                run.gradient_max,
                run.reason,
                if run.converged {
                    ""
                } else {
                    " (not converged)"
                },
                to_target
            );
        }
        if let Some(target) = first.target_objective {
            s += &format!(
                "\nTarget objective (--lbfgs-target): {target:.9}. Seconds to target: from the \
                 start of the fit to the end of the first iteration whose objective (the \
                 backend's) is at or below it.\n"
            );
        }
        s
    }
}
