//! CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`): records
//! of one label byte (0..9) and 3072 pixel bytes, the red, green and blue
//! 32×32 planes in turn, each row-major. Pixels stay 0..255.

use super::labels::{IntegerLabels, too_many};
use super::{Table, alloc_error, format_error, try_vec};
use crate::Result;
use crate::limits::{self, MAX_TABLE_VALUES};
use ndarray::Array2;
use std::path::Path;

const PIXELS: usize = 3072;
const RECORD: usize = 1 + PIXELS;
const CLASSES: u8 = 10;

pub(crate) fn read_batch(path: &Path, bytes: &[u8]) -> Result<Table> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(format_error(
            path,
            format!(
                "is not a CIFAR-10 binary batch: {} bytes is not a positive multiple of the \
                 {RECORD}-byte record (1 label byte + 3072 pixels)",
                bytes.len()
            ),
        ));
    }
    let rows = bytes.len() / RECORD;
    limits::check_product(
        format!("the number of pixels in {}", path.display()),
        rows as u64,
        PIXELS as u64,
        MAX_TABLE_VALUES,
    )?;
    let mut labels = IntegerLabels::default();
    labels
        .try_reserve(rows)
        .map_err(|()| alloc_error(path, rows as u64 * 4, "the labels"))?;
    let mut pixels = try_vec(path, rows * PIXELS, &format!("{rows} images as f32"))?;
    for (row, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] >= CLASSES {
            return Err(format_error(
                path,
                format!(
                    "record {row} (0-based) has label {}; CIFAR-10 labels are 0..9",
                    record[0]
                ),
            ));
        }
        labels
            .push(i64::from(record[0]))
            .map_err(|count| too_many(count, Some(path)))?;
        pixels.extend(record[1..].iter().map(|&b| f32::from(b)));
    }
    let features = Array2::from_shape_vec((rows, PIXELS), pixels)
        .map_err(|e| format_error(path, e.to_string()))?;
    let feature_names = ["r", "g", "b"]
        .iter()
        .flat_map(|colour| (0..PIXELS / 3).map(move |i| format!("{colour}{i}")))
        .collect();
    Ok(Table {
        features,
        labels: Some(labels.finish()),
        feature_names,
    })
}
