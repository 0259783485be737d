//! A row-major f32 matrix read in place from memory that something else
//! owns: an `Arc<Array2<f32>>`, or host memory the library cannot own (a
//! numpy array held by the Python binding). A backend that reads host
//! memory (the CPU) trains on it without a copy
//! ([`crate::Backend::share_rows`]).

use ndarray::{Array2, ArrayRef2, ArrayView2};
use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A row-major (C-contiguous) f32 matrix of rows × columns, read in place
/// and never written, together with a strong reference to whatever owns
/// its memory.
///
/// Cloning is cheap: clones share the memory and the owner, which lives
/// until the last clone is dropped. The matrix dereferences to
/// [`ArrayRef2<f32>`], so ndarray's read methods (`dim`, `row`, `view`, …)
/// apply; every view borrows the `SharedRows` it came from.
///
/// ```
/// use lintrain::SharedRows;
/// use ndarray::array;
///
/// let rows = SharedRows::new(array![[1.0f32, 2.0], [3.0, 4.0]]);
/// let view = rows.clone();
/// assert_eq!(view.dim(), (2, 2));
/// assert_eq!(view[[1, 0]], 3.0);
/// assert_eq!(view.as_ptr(), rows.as_ptr()); // no copy
/// ```
#[derive(Clone)]
pub struct SharedRows {
    /// The matrix, standard layout. Its `'static` lifetime is a promise
    /// kept by `owner`, so it is never handed out: every view given away
    /// borrows `self`.
    view: ArrayView2<'static, f32>,
    /// Keeps the memory under `view` alive and unwritten.
    _owner: Arc<dyn Any + Send + Sync>,
}

impl SharedRows {
    /// Shares `x`, made row-major first if it is not.
    pub fn new(x: Array2<f32>) -> Self {
        Self::from(Arc::new(x))
    }

    /// Shares rows × cols f32 values at `ptr`, row after row, kept alive by
    /// `owner`.
    ///
    /// # Safety
    ///
    /// - `ptr` is non-null and aligned for `f32`, also when the matrix is
    ///   empty (pass [`std::ptr::NonNull::dangling`] then);
    /// - `ptr` is valid for reads of `rows * cols` initialized `f32`
    ///   values, in row-major order, within one allocation (so their size
    ///   in bytes does not exceed `isize::MAX`);
    /// - that memory is neither freed nor written (by anyone, through any
    ///   pointer) while `owner`, or the result or any clone of it, is
    ///   alive. `owner` is what guarantees this: typically the allocation
    ///   itself (an `Arc<Vec<f32>>`) or a strong reference to the object
    ///   that holds it (a numpy array the caller does not write during the
    ///   fit).
    ///
    /// # Panics
    ///
    /// If `ptr` is null or misaligned, or `rows * cols * 4` overflows
    /// `isize`: the cheap parts of the contract are checked.
    pub unsafe fn from_raw_parts(
        ptr: *const f32,
        rows: usize,
        cols: usize,
        owner: Arc<dyn Any + Send + Sync>,
    ) -> Self {
        assert!(!ptr.is_null(), "SharedRows::from_raw_parts: null pointer");
        assert!(
            ptr.is_aligned(),
            "SharedRows::from_raw_parts: pointer not aligned for f32"
        );
        let fits = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(size_of::<f32>()))
            .is_some_and(|bytes| bytes <= isize::MAX as usize);
        assert!(
            fits,
            "SharedRows::from_raw_parts: {rows} × {cols} f32 overflow isize"
        );
        // SAFETY: the caller guarantees that `ptr` is non-null, aligned and
        // valid for reads of rows·cols f32 in row-major order in one
        // allocation, and that they stay allocated and unwritten while
        // `owner` (kept in the result and all its clones) lives; the view's
        // 'static lifetime never leaves `Self` (see `view`).
        let view = unsafe { ArrayView2::from_shape_ptr((rows, cols), ptr) };
        Self {
            view,
            _owner: owner,
        }
    }

    /// The matrix, borrowed from `self`.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        self.view.view()
    }

    /// Whether `self` and `other` read the same memory with the same
    /// shape (clones of one matrix do).
    pub fn same_matrix(&self, other: &SharedRows) -> bool {
        self.view.as_ptr() == other.view.as_ptr() && self.view.dim() == other.view.dim()
    }
}

impl From<Arc<Array2<f32>>> for SharedRows {
    /// Shares the array without a copy when it is row-major; copies one
    /// that is not into row-major order once.
    fn from(x: Arc<Array2<f32>>) -> Self {
        let x = if x.is_standard_layout() {
            x
        } else {
            Arc::new(x.as_standard_layout().into_owned())
        };
        let (rows, cols) = x.dim();
        let ptr = x.as_ptr();
        // SAFETY: `x` is in standard (row-major) layout, so its rows·cols
        // elements lie contiguously from `as_ptr()` (non-null and aligned
        // even when empty) in one allocation; the array is behind an `Arc`
        // whose data no one can write (no `&mut` without a unique
        // `Arc`, and this one is held as the owner) and which lives as long
        // as the result and its clones.
        unsafe { Self::from_raw_parts(ptr, rows, cols, x) }
    }
}

impl From<Array2<f32>> for SharedRows {
    fn from(x: Array2<f32>) -> Self {
        Self::new(x)
    }
}

impl Deref for SharedRows {
    type Target = ArrayRef2<f32>;

    fn deref(&self) -> &ArrayRef2<f32> {
        &self.view
    }
}

impl PartialEq for SharedRows {
    /// Equal shapes and elements, as for [`Array2`].
    fn eq(&self, other: &Self) -> bool {
        self.view == other.view
    }
}

impl fmt::Debug for SharedRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRows")
            .field("dim", &self.view.dim())
            .field("ptr", &self.view.as_ptr())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn an_arc_array_is_shared_without_a_copy_and_kept_alive() {
        assert_send_sync::<SharedRows>();
        let x = Arc::new(Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32));
        let rows = SharedRows::from(Arc::clone(&x));
        assert_eq!(rows.as_ptr(), x.as_ptr());
        assert_eq!(rows.view(), x.view());
        let clone = rows.clone();
        assert!(clone.same_matrix(&rows));
        assert_eq!(Arc::strong_count(&x), 3, "each clone holds the owner");
        drop(rows);
        assert_eq!(Arc::strong_count(&x), 2, "while a clone lives");
        drop(clone);
        assert_eq!(Arc::strong_count(&x), 1, "released with the last clone");
    }

    #[test]
    fn a_column_major_array_is_made_row_major_once() {
        let f = Array2::from_shape_vec((2, 3).f(), (0..6).map(|v| v as f32).collect()).unwrap();
        let rows = SharedRows::new(f.clone());
        assert!(rows.is_standard_layout());
        assert_eq!(rows.view(), f.view());
    }

    #[test]
    fn raw_parts_read_the_owners_memory() {
        let data: Arc<Vec<f32>> = Arc::new((0..12).map(|v| v as f32).collect());
        // SAFETY: 12 f32 owned by `data`, which is the owner and is never
        // written (it is behind an Arc).
        let rows = unsafe { SharedRows::from_raw_parts(data.as_ptr(), 3, 4, data.clone()) };
        assert_eq!(rows.as_ptr(), data.as_ptr());
        assert_eq!(rows[[2, 1]], 9.0);
        assert_eq!(rows.row(1).to_vec(), vec![4.0, 5.0, 6.0, 7.0]);
        assert_eq!(Arc::strong_count(&data), 2);
        drop(rows);
        assert_eq!(Arc::strong_count(&data), 1);
        // An empty matrix takes a dangling pointer.
        let empty: Arc<dyn Any + Send + Sync> = Arc::new(());
        // SAFETY: no element is read; the pointer is non-null and aligned.
        let none = unsafe {
            SharedRows::from_raw_parts(std::ptr::NonNull::dangling().as_ptr(), 0, 5, empty)
        };
        assert_eq!(none.dim(), (0, 5));
    }

    #[test]
    #[should_panic(expected = "null pointer")]
    fn a_null_pointer_is_refused() {
        // SAFETY: refused before anything is read.
        let _ = unsafe { SharedRows::from_raw_parts(std::ptr::null(), 0, 0, Arc::new(())) };
    }
}
