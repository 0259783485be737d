//! Data files written by tests: `.npy` and `.npz` as NumPy writes them,
//! gzip, raw little-endian values, and the loader's errors taken apart.

use flate2::Compression;
use flate2::write::GzEncoder;
use lintrain::Error;
use lintrain::data::{LoadOptions, RawLabels, Table, load_table};
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

pub fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn load(path: &Path) -> lintrain::Result<Table> {
    load_table(path, &LoadOptions::default())
}

/// The error's message, asserting that it names `path`.
pub fn message_naming(result: lintrain::Result<Table>, path: &Path) -> String {
    let message = result.expect_err("expected an error").to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message does not name {}: {message}",
        path.display()
    );
    message
}

/// Line, column and reason of an [`Error::Parse`].
pub fn parse_error(result: lintrain::Result<Table>) -> (usize, usize, String) {
    match result {
        Err(Error::Parse {
            line,
            column,
            reason,
            ..
        }) => (line, column, reason),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// A `.npy` file of format version `major` as NumPy writes it (header
/// padded to 64 bytes).
pub fn npy_file(
    descr: &str,
    shape: &[usize],
    fortran_order: bool,
    data: &[u8],
    major: u8,
) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {tuple}, }}");
    let prefix = if major == 1 { 10 } else { 12 };
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([major, 0]);
    if major == 1 {
        bytes.extend((header.len() as u16).to_le_bytes());
    } else {
        bytes.extend((header.len() as u32).to_le_bytes());
    }
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// A C-order `.npy` file of version 1.0, NumPy's default.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    npy_file(descr, shape, false, data, 1)
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An `.npz` archive as `numpy.savez` (stored) or `numpy.savez_compressed`
/// (deflated) writes it: one `KEY.npy` member per array, zip64 headers.
pub fn npz(arrays: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (key, bytes) in arrays {
        writer.start_file(format!("{key}.npy"), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Integer labels, one per row, as the loaders give them.
pub fn ints(values: &[i64]) -> RawLabels {
    RawLabels::integers(values.iter().copied()).unwrap()
}

/// Text labels, one per row, as the loaders give them.
pub fn strs(values: &[&str]) -> RawLabels {
    RawLabels::strings(values).unwrap()
}
