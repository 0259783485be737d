//! The CPU backend's resident rows: a matrix it owns (uploaded, or a ring
//! slot that blocks are swapped into), or the caller's own matrix shared
//! without a copy, so that a dataset held once in memory (by this library
//! or by someone else, such as numpy) trains in place.

use crate::backend::SharedRows;
use ndarray::{Array2, ArrayRef2};
use std::ops::Deref;

/// Rows resident on the CPU; dereferences to the matrix (an
/// [`ArrayRef2`], which both kinds of rows have).
#[derive(Clone, Debug, PartialEq)]
pub enum CpuRows {
    /// A copy the backend owns.
    Owned(Array2<f32>),
    /// The caller's matrix, read in place, never written; holding it keeps
    /// its owner alive.
    Shared(SharedRows),
}

impl Deref for CpuRows {
    type Target = ArrayRef2<f32>;

    fn deref(&self) -> &ArrayRef2<f32> {
        match self {
            CpuRows::Owned(x) => x,
            CpuRows::Shared(x) => x,
        }
    }
}

impl CpuRows {
    /// The matrix to write into: an owned one as it is, a shared one
    /// copied first (its owner's data is never written).
    pub fn to_mut(&mut self) -> &mut Array2<f32> {
        if let CpuRows::Shared(shared) = self {
            *self = CpuRows::Owned(shared.view().to_owned());
        }
        match self {
            CpuRows::Owned(x) => x,
            CpuRows::Shared(_) => unreachable!("made owned above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;
    use crate::cpu::CpuBackend;
    use ndarray::ShapeBuilder;
    use std::sync::Arc;

    #[test]
    fn shared_rows_are_the_callers_matrix_and_writing_them_copies_first() {
        let backend = CpuBackend::new();
        let x = SharedRows::new(Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32));
        let mut rows = backend.share_rows(&x).unwrap();
        assert!(std::ptr::eq(rows.as_ptr(), x.as_ptr()), "not copied");
        backend
            .write_rows(&mut rows, Array2::zeros((1, 2)).view())
            .unwrap();
        assert_eq!(x[[0, 1]], 1.0, "the caller's matrix is never written");
        assert_eq!(rows[[0, 1]], 0.0);
        assert_eq!(rows[[2, 1]], 5.0);
        // A Fortran-order matrix is made row-major once, when shared.
        let f = Array2::from_shape_vec((2, 2).f(), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let rows = backend.share_rows(&SharedRows::new(f.clone())).unwrap();
        assert!(rows.is_standard_layout());
        assert_eq!(*rows, f);
    }

    #[test]
    fn rows_shared_from_raw_parts_are_the_owners_memory_kept_alive() {
        let backend = CpuBackend::new();
        let data: Arc<Vec<f32>> = Arc::new((0..6).map(|v| v as f32).collect());
        // SAFETY: 6 f32 owned by `data`, the owner, behind an Arc (never
        // written).
        let x = unsafe { SharedRows::from_raw_parts(data.as_ptr(), 3, 2, data.clone()) };
        let rows = backend.share_rows(&x).unwrap();
        drop(x);
        assert!(std::ptr::eq(rows.as_ptr(), data.as_ptr()), "not copied");
        assert_eq!(Arc::strong_count(&data), 2, "the rows keep the owner alive");
        assert_eq!(rows[[2, 0]], 4.0);
        drop(rows);
        assert_eq!(Arc::strong_count(&data), 1, "and release it");
    }
}
