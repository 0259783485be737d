//! The CPU backend's resident rows: a matrix it owns (uploaded, or a ring
//! slot that blocks are swapped into), or the caller's own matrix shared
//! without a copy, so that a dataset held once in memory trains in place.

use ndarray::Array2;
use std::ops::Deref;
use std::sync::Arc;

/// Rows resident on the CPU; dereferences to the matrix.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuRows {
    /// A copy the backend owns.
    Owned(Array2<f32>),
    /// The caller's matrix, shared, never written.
    Shared(Arc<Array2<f32>>),
}

impl Deref for CpuRows {
    type Target = Array2<f32>;

    fn deref(&self) -> &Array2<f32> {
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
            *self = CpuRows::Owned(shared.as_ref().clone());
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

    #[test]
    fn shared_rows_are_the_callers_matrix_and_writing_them_copies_first() {
        let backend = CpuBackend::new();
        let x = Arc::new(Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32));
        let mut rows = backend.share_rows(&x).unwrap();
        assert!(std::ptr::eq(rows.as_ptr(), x.as_ptr()), "not copied");
        backend
            .write_rows(&mut rows, Array2::zeros((1, 2)).view())
            .unwrap();
        assert_eq!(x[[0, 1]], 1.0, "the caller's matrix is never written");
        assert_eq!(rows[[0, 1]], 0.0);
        assert_eq!(rows[[2, 1]], 5.0);
        // A Fortran-order matrix is copied to row-major order.
        let f = Arc::new(Array2::from_shape_vec((2, 2).f(), vec![1.0, 2.0, 3.0, 4.0]).unwrap());
        let rows = backend.share_rows(&f).unwrap();
        assert!(rows.is_standard_layout());
        assert_eq!(*rows, *f);
    }
}
