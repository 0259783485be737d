//! CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`): records
//! of one label byte (0..9) and 3072 pixel bytes, the red, green and blue
//! 32×32 planes in turn, each row-major. Pixels stay 0..255.

use super::labels::RawLabels;
use super::{Table, format_error};
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
    let mut labels = Vec::with_capacity(rows);
    let mut pixels = Vec::with_capacity(rows * PIXELS);
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
        labels.push(record[0] as i64);
        pixels.extend(record[1..].iter().map(|&b| b as f32));
    }
    let features = Array2::from_shape_vec((rows, PIXELS), pixels)
        .map_err(|e| format_error(path, e.to_string()))?;
    let feature_names = ["r", "g", "b"]
        .iter()
        .flat_map(|colour| (0..PIXELS / 3).map(move |i| format!("{colour}{i}")))
        .collect();
    Ok(Table {
        features,
        labels: Some(RawLabels::Integers(labels)),
        feature_names,
    })
}
