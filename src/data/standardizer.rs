//! Per-feature standardization `(x − mean) / std`, fitted on training data
//! and stored with the model so that prediction applies the same transform.

use crate::data::stream::Moments;
use crate::dataset::{feature_moments, feature_moments_of_rows, standardize};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};

/// Feature means and standard deviations; a constant feature has std 1, so
/// it standardizes to 0 rather than NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Array1<f32>,
    pub std: Array1<f32>,
}

impl Standardizer {
    /// Moments of each column of `x` (population std).
    pub fn fit(x: ArrayView2<'_, f32>) -> Standardizer {
        let (mean, std) = feature_moments(&x);
        Standardizer { mean, std }
    }

    /// Moments of the rows `rows` of `x` (a training split), read in place
    /// and accumulated row by row in the given order as a streamed pass
    /// does ([`Moments`]), so that data held in memory and the same rows
    /// streamed from disk standardize to the same bits.
    pub fn fit_rows(x: ArrayView2<'_, f32>, rows: &[usize]) -> Result<Standardizer> {
        let moments = Self::moments_of_rows(x, rows)?;
        if rows.is_empty() {
            let (mean, std) = feature_moments_of_rows(&x, std::iter::empty());
            return Ok(Standardizer { mean, std });
        }
        Ok(Standardizer::from_moments(&moments))
    }

    /// The [`Moments`] [`Standardizer::fit_rows`] fits: the rows `rows` of
    /// `x` added one by one in the given order (one rank's share of a
    /// distributed run, to merge with the others').
    pub fn moments_of_rows(x: ArrayView2<'_, f32>, rows: &[usize]) -> Result<Moments> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= x.nrows()) {
            return Err(Error::IndexOutOfRange {
                position: rows.iter().position(|&r| r == bad).unwrap_or(0),
                index: bad,
                rows: x.nrows(),
            });
        }
        let mut moments = Moments::new(x.ncols());
        for &row in rows {
            let values = x.row(row);
            match values.as_slice() {
                Some(values) => moments.add_row(values),
                None => moments.add_row(&values.to_vec()),
            }
        }
        Ok(moments)
    }

    /// The mean and std of `moments` as f32, with std 1 where std ≤ 1e-12
    /// (the same rule as [`crate::dataset::feature_moments_of_rows`]):
    /// `std = √(M2 / n)`. Before any row: means 0, stds 1.
    pub fn from_moments(moments: &Moments) -> Standardizer {
        let std: Array1<f32> = moments
            .variance()
            .iter()
            .map(|&variance| {
                let std = variance.sqrt();
                if std > 1e-12 { std as f32 } else { 1.0 }
            })
            .collect();
        Standardizer {
            mean: moments.mean().iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Number of features it was fitted on.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// `(x − mean) / std`; `x` must have as many columns as were fitted.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_width(x.ncols())?;
        Ok(standardize(&x, &self.mean, &self.std))
    }

    /// Data of `columns` features fits: as many as were fitted.
    fn check_width(&self, columns: usize) -> Result<()> {
        if columns != self.mean.len() || self.std.len() != self.mean.len() {
            return Err(Error::ShapeMismatch {
                op: "standardize",
                detail: format!(
                    "data has {columns} features, the standardizer was fitted on {}",
                    self.mean.len()
                ),
            });
        }
        Ok(())
    }

    /// [`Standardizer::apply`] in place, without a second copy of the data.
    pub fn apply_in_place(&self, x: &mut Array2<f32>) -> Result<()> {
        self.check_width(x.ncols())?;
        for mut row in x.rows_mut() {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Axis, array};

    #[test]
    fn fitting_rows_in_place_matches_fitting_their_copy() {
        let x = array![
            [1.0f32, 5.0],
            [2.0, 5.0],
            [4.0, 5.0],
            [-3.0, 7.5],
            [0.5, 5.0]
        ];
        let rows = [0, 2, 4, 1];
        let copy = x.select(Axis(0), &rows);
        let fitted = Standardizer::fit_rows(x.view(), &rows).unwrap();
        let reference = Standardizer::fit(copy.view());
        assert_eq!(fitted, reference);
        // The constant feature (in these rows) gets std 1, not 0.
        assert_eq!(fitted.std[1], 1.0);
        let error = Standardizer::fit_rows(x.view(), &[0, 5]).unwrap_err();
        assert!(matches!(
            error,
            Error::IndexOutOfRange {
                index: 5,
                rows: 5,
                ..
            }
        ));

        let mut in_place = x.clone();
        fitted.apply_in_place(&mut in_place).unwrap();
        assert_eq!(in_place, fitted.apply(x.view()).unwrap());
        let mut narrow = Array2::<f32>::zeros((2, 3));
        assert!(fitted.apply_in_place(&mut narrow).is_err());
    }
}
