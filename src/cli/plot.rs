//! Loss and accuracy curves per epoch, as SVG or PNG.

use super::{CliError, CliResult};
use lintrain::EpochRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Embedded so text renders without system fonts (DejaVu, see src/cli/fonts).
static FONT: &[u8] = include_bytes!("fonts/DejaVuSansMono.ttf");
pub const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1100, 420);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

/// The format from the extension; anything else is an error before training.
pub fn format_of(path: &Path) -> CliResult<PlotFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => Ok(PlotFormat::Svg),
        Some("png") => Ok(PlotFormat::Png),
        _ => Err(CliError::new(format!(
            "--plot {}: the file name must end in .svg or .png",
            path.display()
        ))),
    }
}

/// Writes the curves; the file is replaced only once it is complete.
pub fn write(path: &Path, records: &[EpochRecord], title: &str) -> CliResult {
    write_figure(path, SIZE, &Curves { records, title })
}

/// A picture drawn the same way on either backend (SVG or PNG).
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `figure` at `size` as SVG or PNG, by the file's extension; the
/// file is replaced only once it is complete. Text uses the embedded font
/// ([`FAMILY`]).
pub fn write_figure(path: &Path, size: (u32, u32), figure: &impl Figure) -> CliResult {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is compiled in and known to parse; a failure only loses text.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
    let format = format_of(path)?;
    let fail = |e: String| CliError::new(format!("--plot {}: {e}", path.display()));
    match format {
        PlotFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                figure.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            super::inputs::write_atomically(path, svg.as_bytes())
        }
        PlotFormat::Png => {
            // The bitmap encoder picks the format from the name: keep `.png`.
            let dir = super::paths::parent_dir(path);
            let temporary = tempfile::Builder::new()
                .suffix(".png")
                .tempfile_in(dir)
                .map_err(|e| fail(e.to_string()))?;
            {
                let root = BitMapBackend::new(temporary.path(), size).into_drawing_area();
                figure.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            lintrain::atomic_file::publish_permissions(temporary.path(), path)
                .map_err(|e| fail(e.to_string()))?;
            temporary
                .persist(path)
                .map_err(|e| fail(e.error.to_string()))?;
            Ok(())
        }
    }
}

/// Loss and accuracy per epoch, side by side.
struct Curves<'a> {
    records: &'a [EpochRecord],
    title: &'a str,
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw(root, self.records, self.title)
    }
}

type Series = Vec<(f64, f64)>;

fn series(records: &[EpochRecord], value: impl Fn(&EpochRecord) -> Option<f64>) -> Series {
    records
        .iter()
        .filter_map(|r| {
            value(r)
                .filter(|v| v.is_finite())
                .map(|v| (r.epoch as f64, v))
        })
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    records: &[EpochRecord],
    title: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, (FAMILY, 20).into_font()).map_err(e)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    panel(
        &left,
        "loss",
        series(records, |r| Some(r.train_loss)),
        series(records, |r| r.val_loss),
        records.len(),
    )?;
    panel(
        &right,
        "accuracy",
        series(records, |r| r.train_accuracy),
        series(records, |r| r.val_accuracy),
        records.len(),
    )
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    what: &str,
    train: Series,
    validation: Series,
    epochs: usize,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let values = train.iter().chain(&validation).map(|p| p.1);
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    let pad = ((high - low) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(what, (FAMILY, 16).into_font())
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..(epochs.max(2) as f64), (low - pad)..(high + pad))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(what)
        .label_style((FAMILY, 12).into_font())
        .draw()
        .map_err(e)?;
    if train.is_empty() && validation.is_empty() {
        return Ok(());
    }
    let lines = [("train", train, BLUE), ("validation", validation, RED)];
    for (name, points, color) in lines {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(e)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, 12).into_font())
        .draw()
        .map_err(e)?;
    Ok(())
}
