//! numpy arrays handed to the library without a copy.

use crate::errors::invalid;
use lintrain::SharedRows;
use numpy::{PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::sync::Arc;

/// The rows of a C-contiguous float32 array, shared with the library in
/// place: the CPU backend trains on the array's own memory.
///
/// The returned rows hold a strong reference to the array, so its memory
/// lives as long as they do; the caller keeps a read-only borrow of it
/// (`PyReadonlyArray2`, which makes any Rust-side writer fail) for the
/// whole fit.
pub fn host_rows(x: &PyReadonlyArray2<'_, f32>) -> PyResult<SharedRows> {
    if !x.is_c_contiguous() {
        return Err(invalid(
            "X must be C-contiguous here (the estimator converts it first)",
        ));
    }
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let owner: Py<PyArray2<f32>> = x.as_unbound().clone_ref(x.py());
    let pointer = x.as_array().as_ptr();
    // SAFETY: `pointer` is the first of the array's rows·cols elements,
    // C-contiguous (checked above), aligned for f32 (numpy aligns a
    // float32 array it allocates; an unaligned view fails `as_array`). The
    // strong reference `owner` keeps the array, and so its memory, alive
    // while the rows exist; numpy cannot resize an array that is
    // referenced, and the read-only borrow the caller holds for the fit
    // keeps Rust code from writing it. A Python thread writing into X
    // during the fit is the caller's race, as with any extension.
    Ok(unsafe { SharedRows::from_raw_parts(pointer, rows, cols, Arc::new(owner)) })
}
