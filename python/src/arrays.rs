//! numpy arrays handed to the library without a copy.

use crate::errors::invalid;
use lintrain::SharedRows;
use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
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
    check_aligned(x)?;
    if !x.is_c_contiguous() {
        return Err(invalid(
            "X must be C-contiguous here (the estimator converts it first)",
        ));
    }
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let owner: Py<PyArray2<f32>> = x.as_unbound().clone_ref(x.py());
    let pointer = x.data().cast_const();
    // SAFETY: `pointer` is the first of the array's rows·cols elements,
    // C-contiguous and aligned for f32 (both checked above). The
    // strong reference `owner` keeps the array, and so its memory, alive
    // while the rows exist; numpy cannot resize an array that is
    // referenced, and the read-only borrow the caller holds for the fit
    // keeps Rust code from writing it. A Python thread writing into X
    // during the fit is the caller's race, as with any extension.
    Ok(unsafe { SharedRows::from_raw_parts(pointer, rows, cols, Arc::new(owner)) })
}

/// Refuses an array whose data is not aligned for f32 (a view at an odd
/// byte offset into a buffer, a memmap at an odd offset): Rust may not
/// read it as `f32`s, not even through a view. The estimator makes such
/// an array aligned (a copy) before it gets here.
pub fn check_aligned(x: &PyReadonlyArray2<'_, f32>) -> PyResult<()> {
    if x.data()
        .cast_const()
        .align_offset(std::mem::align_of::<f32>())
        == 0
    {
        Ok(())
    } else {
        Err(invalid(
            "X's data is not aligned for float32 (the estimator copies it to an aligned array first)",
        ))
    }
}
