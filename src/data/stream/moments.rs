//! Per-feature mean and variance of rows seen one at a time, for
//! standardizing data that is never held whole: f64 accumulators of O(D)
//! memory, updated row by row and mergeable across parts of the data.

use ndarray::ArrayView2;
use std::sync::OnceLock;

/// Per-feature running moments in f64: Welford's update row by row, in
/// the order rows are added; [`Moments::merge`] is Chan et al.'s pairwise
/// combination.
///
/// For each feature, after `n` rows with values `x₁ … xₙ`:
/// `mean = (1/n) Σ xᵢ` and `M2 = Σ (xᵢ − mean)²`. The values are first
/// shifted by the feature's value in the first row, `K` (exact: both are
/// f32), and Welford's update runs on `y = x − K`: `n ← n + 1`,
/// `δ = y − mean_y`, `mean_y ← mean_y + δ / n`, `M2 ← M2 + δ · (y − mean_y)`
/// (the new mean), with `mean = K + mean_y` (the shift leaves M2 as it
/// is). Unlike the one-pass sum of squares this does not cancel
/// catastrophically when the mean is large beside the spread, and the
/// shift keeps the rounding of `δ` relative to the spread, not to the mean
/// (without it, data of mean 10⁴ and std 1 lost three more digits).
#[derive(Clone, Debug)]
pub struct Moments {
    count: u64,
    /// K: each feature's value in the first row added.
    shift: Vec<f64>,
    /// mean − K.
    shifted_mean: Vec<f64>,
    m2: Vec<f64>,
    /// K + (mean − K), computed when asked for and until the next change.
    mean: OnceLock<Vec<f64>>,
}

impl PartialEq for Moments {
    /// The same count, means and M2 (however they were shifted).
    fn eq(&self, other: &Moments) -> bool {
        self.count == other.count && self.mean() == other.mean() && self.m2 == other.m2
    }
}

impl Moments {
    /// No rows yet, for rows of `features` values.
    pub fn new(features: usize) -> Self {
        Moments {
            count: 0,
            shift: vec![0.0; features],
            shifted_mean: vec![0.0; features],
            m2: vec![0.0; features],
            mean: OnceLock::new(),
        }
    }

    /// Welford's update with one row (`row.len()` = features).
    pub fn add_row(&mut self, row: &[f32]) {
        assert_eq!(
            row.len(),
            self.m2.len(),
            "a row of {} values added to moments of {} features",
            row.len(),
            self.m2.len()
        );
        if self.count == 0 {
            for (shift, &x) in self.shift.iter_mut().zip(row) {
                *shift = f64::from(x);
            }
        }
        self.mean.take();
        self.count += 1;
        let n = self.count as f64;
        for (((&x, &shift), mean), m2) in row
            .iter()
            .zip(&self.shift)
            .zip(&mut self.shifted_mean)
            .zip(&mut self.m2)
        {
            let y = f64::from(x) - shift;
            let delta = y - *mean;
            *mean += delta / n;
            *m2 += delta * (y - *mean);
        }
    }

    /// [`Moments::add_row`] with each row of `rows`, in order.
    pub fn add_rows(&mut self, rows: ArrayView2<'_, f32>) {
        for row in rows.rows() {
            match row.as_slice() {
                Some(row) => self.add_row(row),
                None => self.add_row(&row.to_vec()),
            }
        }
    }

    /// Chan, Golub and LeVeque's combination of the moments of two disjoint
    /// sets of rows `a` (self) and `b` (other):
    /// `n = n_a + n_b`, `δ = mean_b − mean_a`, `mean = mean_a + δ · n_b / n`,
    /// `M2 = M2_a + M2_b + δ² · n_a · n_b / n` (the means taken relative to
    /// self's shift: `mean_b − K_a = (K_b − K_a) + (mean_b − K_b)`).
    pub fn merge(&mut self, other: &Moments) {
        assert_eq!(
            self.m2.len(),
            other.m2.len(),
            "moments of different feature counts merged"
        );
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.clone_from(other);
            return;
        }
        self.mean.take();
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        for ((((mean, m2), &shift), &other_shift), (&other_mean, &other_m2)) in self
            .shifted_mean
            .iter_mut()
            .zip(&mut self.m2)
            .zip(&self.shift)
            .zip(&other.shift)
            .zip(other.shifted_mean.iter().zip(&other.m2))
        {
            let mean_b = (other_shift - shift) + other_mean;
            let delta = mean_b - *mean;
            *mean += delta * nb / n;
            *m2 += other_m2 + delta * delta * na * nb / n;
        }
        self.count += other.count;
    }

    /// The whole state as `3·features + 1` numbers, `[count | K | mean − K
    /// | M2]`, for sending to another process ([`Moments::from_values`]
    /// reads it back exactly).
    pub fn to_values(&self) -> Vec<f64> {
        let mut values = Vec::with_capacity(3 * self.m2.len() + 1);
        values.push(self.count as f64);
        values.extend(&self.shift);
        values.extend(&self.shifted_mean);
        values.extend(&self.m2);
        values
    }

    /// Moments of `features` features from [`Moments::to_values`]'s
    /// numbers; `None` when their number does not fit.
    pub fn from_values(features: usize, values: &[f64]) -> Option<Moments> {
        if values.len() != 3 * features + 1 {
            return None;
        }
        let part = |k: usize| values[1 + k * features..1 + (k + 1) * features].to_vec();
        Some(Moments {
            count: values[0] as u64,
            shift: part(0),
            shifted_mean: part(1),
            m2: part(2),
            mean: OnceLock::new(),
        })
    }

    /// The rows added (merged ones included).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The per-feature means (zeros before any row).
    pub fn mean(&self) -> &[f64] {
        self.mean.get_or_init(|| {
            self.shift
                .iter()
                .zip(&self.shifted_mean)
                .map(|(k, m)| k + m)
                .collect()
        })
    }

    /// Population variance M2 / n per feature (zeros before any row).
    pub fn variance(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.m2.iter().map(|m2| m2 / n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Standardizer;
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Two passes in f64: the mean, then the mean squared deviation.
    fn two_pass(x: &Array2<f32>) -> (Vec<f64>, Vec<f64>) {
        let n = x.nrows() as f64;
        let mean: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() / n)
            .collect();
        let variance = x
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| c.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n)
            .collect();
        (mean, variance)
    }

    fn assert_close(got: &[f64], want: &[f64], what: &str) {
        for (j, (g, w)) in got.iter().zip(want).enumerate() {
            let error = (g - w).abs() / w.abs().max(1e-300);
            assert!(
                error <= 1e-12,
                "{what}[{j}]: {g} vs {w} ({error:e} relative)"
            );
        }
    }

    #[test]
    fn welford_and_chan_match_two_passes_in_f64() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (offset, scale) in [(0.0f32, 1.0f32), (1e4, 1.0), (-3.0, 1e-3), (5e5, 20.0)] {
            let (rows, features) = (2001, 7);
            let x = Array2::from_shape_fn((rows, features), |(_, j)| {
                offset + (j as f32) * scale + scale * rng.random_range(-1.0f32..1.0) * 1.7
            });
            let (mean, variance) = two_pass(&x);
            let mut all = Moments::new(features);
            all.add_rows(x.view());
            assert_eq!(all.count(), rows as u64);
            assert_close(all.mean(), &mean, "mean");
            assert_close(&all.variance(), &variance, "variance");

            let mut first = Moments::new(features);
            first.add_rows(x.slice(ndarray::s![..777, ..]));
            let mut second = Moments::new(features);
            second.add_rows(x.slice(ndarray::s![777.., ..]));
            first.merge(&second);
            assert_eq!(first.count(), rows as u64);
            assert_close(first.mean(), &mean, "merged mean");
            assert_close(&first.variance(), &variance, "merged variance");
        }
    }

    #[test]
    fn merging_with_nothing_changes_nothing_and_constants_get_std_one() {
        let x = ndarray::array![[1.0f32, 5.0], [3.0, 5.0]];
        let mut moments = Moments::new(2);
        moments.add_rows(x.view());
        let before = moments.clone();
        moments.merge(&Moments::new(2));
        assert_eq!(moments, before);
        let mut empty = Moments::new(2);
        empty.merge(&before);
        assert_eq!(empty, before);
        let standardizer = Standardizer::from_moments(&moments);
        assert_eq!(standardizer.mean.to_vec(), [2.0, 5.0]);
        assert_eq!(standardizer.std.to_vec(), [1.0, 1.0]);
        assert_eq!(Standardizer::fit(x.view()), standardizer);
        let nothing = Standardizer::from_moments(&Moments::new(3));
        assert_eq!(nothing.mean.to_vec(), [0.0; 3]);
        assert_eq!(nothing.std.to_vec(), [1.0; 3]);
    }
}
