//! `sweep --plot`: the validation accuracy of every setting against the
//! swept regularization strength (λ, C or alpha; else the first swept
//! flag), on a log axis where every value is positive, one line per value
//! of the other swept flags (the learning rate, …). Diverged settings leave
//! a gap.

use super::plot::{FAMILY, Figure, write_figure};
use super::{CliError, CliResult};
use lintrain::sweep::{Grid, Setting, SweepOutcome, SweptParameter, display_value};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (800, 520);

/// The parameter on the x axis: the swept strength, else the first swept
/// one; an error for a grid that sweeps nothing (one point has no curve).
pub fn x_parameter(grid: &Grid) -> CliResult<SweptParameter> {
    let axes = grid.axes();
    axes.iter()
        .map(|(p, _)| *p)
        .find(|p| p.is_strength())
        .or_else(|| axes.first().map(|(p, _)| *p))
        .ok_or_else(|| {
            CliError::new(
                "--plot draws the validation accuracy against a swept flag: give --reg-strength, --C, --alpha, --lr, --l1-ratio or --momentum a list",
            )
        })
}

/// Writes the plot of `outcome` (a sweep over `grid`) to `path`.
pub fn write(path: &Path, grid: &Grid, outcome: &SweepOutcome, title: &str) -> CliResult {
    let x = x_parameter(grid)?;
    let mut lines: Vec<Line> = Vec::new();
    for member in &outcome.members {
        let label = others(&member.setting, x);
        let point = member
            .scores
            .and_then(|s| s.val_accuracy)
            .zip(member.setting.get(x))
            .map(|(accuracy, at)| (at, 100.0 * accuracy));
        let index = match lines.iter().position(|l| l.label == label) {
            Some(index) => index,
            None => {
                lines.push(Line {
                    label,
                    points: Vec::new(),
                });
                lines.len() - 1
            }
        };
        lines[index].points.extend(point);
    }
    for line in &mut lines {
        line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let values = grid.values(x).unwrap_or_default();
    let log = values.iter().all(|&v| v > 0.0);
    // A margin around the values, so that the end points are not on the frame.
    let (low, high) = span(values);
    let range = if log {
        (low / 1.5, high * 1.5)
    } else {
        let pad = (high - low) * 0.04;
        (low - pad, high + pad)
    };
    write_figure(
        path,
        SIZE,
        &SweepFigure {
            title,
            x,
            range,
            log,
            lines,
        },
    )
}

/// The other swept parameters' values, the legend of a line:
/// `lr=0.1 momentum=0.9`, or empty.
fn others(setting: &Setting, x: SweptParameter) -> String {
    setting
        .iter()
        .filter(|(p, _)| *p != x)
        .map(|(p, v)| format!("{}={}", p.key(), display_value(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The smallest and largest of `values`, apart where they are one value.
fn span(values: &[f64]) -> (f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    if low < high {
        (low, high)
    } else if low > 0.0 {
        (low / 2.0, high * 2.0)
    } else {
        (low - 1.0, high + 1.0)
    }
}

struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

struct SweepFigure<'a> {
    title: &'a str,
    x: SweptParameter,
    range: (f64, f64),
    log: bool,
    lines: Vec<Line>,
}

impl Figure for SweepFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let root = root
            .titled(self.title, (FAMILY, 18).into_font())
            .map_err(e)?;
        let accuracies = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let (low, high) = accuracies.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let (low, high) = if low.is_finite() {
            let pad = ((high - low) * 0.05).max(0.5);
            ((low - pad).max(0.0), (high + pad).min(100.0))
        } else {
            (0.0, 100.0)
        };
        let mut builder = ChartBuilder::on(&root);
        builder
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60);
        let (from, to) = self.range;
        let x_description = format!(
            "{}{}",
            self.x.flag(),
            if self.log { " (log scale)" } else { "" }
        );
        // The two axes are different types, so each draws its own chart.
        if self.log {
            let mut chart = builder
                .build_cartesian_2d((from..to).log_scale(), low..high)
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc(&x_description)
                .x_label_formatter(&|v| display_value(*v))
                .y_desc("validation accuracy (%)")
                .label_style((FAMILY, 12).into_font())
                .draw()
                .map_err(e)?;
            self.draw_lines(&mut chart)
        } else {
            let mut chart = builder.build_cartesian_2d(from..to, low..high).map_err(e)?;
            chart
                .configure_mesh()
                .x_desc(&x_description)
                .x_label_formatter(&|v| display_value(*v))
                .y_desc("validation accuracy (%)")
                .label_style((FAMILY, 12).into_font())
                .draw()
                .map_err(e)?;
            self.draw_lines(&mut chart)
        }
    }
}

impl SweepFigure<'_> {
    fn draw_lines<'b, DB: DrawingBackend + 'b, X>(
        &self,
        chart: &mut ChartContext<'b, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    ) -> Result<(), String>
    where
        X: Ranged<ValueType = f64>,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let mut labelled = false;
        for (i, line) in self.lines.iter().enumerate() {
            if line.points.is_empty() {
                continue;
            }
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(e)?;
            let series = chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(e)?;
            if !line.label.is_empty() {
                labelled = true;
                series
                    .label(line.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            }
        }
        if labelled {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FAMILY, 12).into_font())
                .draw()
                .map_err(e)?;
        }
        Ok(())
    }
}
