//! The correction pairs of L-BFGS and the two-loop recursion that applies
//! the inverse-Hessian approximation they define (Nocedal & Wright 2006,
//! *Numerical Optimization*, 2nd ed., §7.2, Algorithm 7.4).
//!
//! A pair is `s_k = x_{k+1} − x_k`, `y_k = ∇f(x_{k+1}) − ∇f(x_k)` (under
//! OWL-QN, ∇f is the gradient of the smooth part only: Andrew & Gao 2007,
//! §3.1). With the newest m pairs and `ρ_i = 1 / (s_iᵀy_i)`, the product
//! `r = H_k·q` is
//!
//! ```text
//! for i = k−1, …, k−m:  α_i = ρ_i·s_iᵀq;   q ← q − α_i·y_i
//! r = γ_k·q,            γ_k = s_{k−1}ᵀy_{k−1} / y_{k−1}ᵀy_{k−1}   (N&W eq. 7.20; γ = 1 without pairs)
//! for i = k−m, …, k−1:  β = ρ_i·y_iᵀr;     r ← r + s_i·(α_i − β)
//! ```
//!
//! and the search direction is `d_k = −H_k·∇f(x_k)`.
//!
//! A pair is skipped (not stored, so never used) when
//! `s_kᵀy_k ≤ ε·y_kᵀy_k` with ε = `f64::EPSILON`: H_k stays positive
//! definite only with positive curvature `sᵀy > 0` (N&W §6.1), and the
//! relative margin leaves out pairs whose ρ would be dominated by rounding.
//! After a strong-Wolfe step `sᵀy ≥ (1 − c2)·α·|∇f(x_k)ᵀd_k| > 0` (N&W
//! §6.1), so plain L-BFGS skips only under rounding; OWL-QN's backtracking
//! search does not enforce curvature, and on a nonconvex smooth part it does
//! produce pairs that are skipped. (scipy's L-BFGS-B, behind scikit-learn's
//! `LogisticRegression(solver="lbfgs")`, skips when `sᵀy ≤ ε·(−∇f(x_k)ᵀs)`.)

use std::collections::VecDeque;

use super::vector::dot;

/// One stored pair, with `ρ = 1 / (sᵀy)`.
struct CorrectionPair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// The newest `capacity` correction pairs, oldest first.
pub(crate) struct CorrectionHistory {
    capacity: usize,
    pairs: VecDeque<CorrectionPair>,
}

impl CorrectionHistory {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            // Grown as pairs arrive: a run stores at most min(m, its
            // iterations) pairs, however large m is.
            pairs: VecDeque::with_capacity(capacity.min(16)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Forgets every pair: H becomes the identity.
    pub(crate) fn clear(&mut self) {
        self.pairs.clear();
    }

    /// Stores `(s, y)` unless the skip rule of the module doc refuses it,
    /// dropping the oldest pair when full. Returns whether it was stored.
    pub(crate) fn push(&mut self, s: Vec<f64>, y: Vec<f64>) -> bool {
        let curvature = dot(&s, &y);
        let y_norm_squared = dot(&y, &y);
        // Written so that a NaN curvature is skipped too.
        let enough_curvature = curvature > f64::EPSILON * y_norm_squared;
        if !enough_curvature || self.capacity == 0 {
            return false;
        }
        if self.pairs.len() == self.capacity {
            self.pairs.pop_front();
        }
        self.pairs.push_back(CorrectionPair {
            s,
            y,
            rho: 1.0 / curvature,
        });
        true
    }

    /// `r = H·q` by the two-loop recursion of the module doc.
    pub(crate) fn apply_inverse_hessian(&self, q: &[f64]) -> Vec<f64> {
        let mut r = q.to_vec();
        let mut alphas = vec![0.0; self.pairs.len()];
        for (pair, alpha) in self.pairs.iter().zip(alphas.iter_mut()).rev() {
            *alpha = pair.rho * dot(&pair.s, &r);
            axpy(-*alpha, &pair.y, &mut r);
        }
        if let Some(newest) = self.pairs.back() {
            let gamma = 1.0 / (newest.rho * dot(&newest.y, &newest.y));
            r.iter_mut().for_each(|v| *v *= gamma);
        }
        for (pair, alpha) in self.pairs.iter().zip(&alphas) {
            let beta = pair.rho * dot(&pair.y, &r);
            axpy(alpha - beta, &pair.s, &mut r);
        }
        r
    }
}

/// `r ← r + a·v`.
fn axpy(a: f64, v: &[f64], r: &mut [f64]) {
    r.iter_mut().zip(v).for_each(|(r, v)| *r += a * v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a quadratic with Hessian A, pairs y = A·s along n A-conjugate
    /// directions (the steps of exact line searches) make the two-loop's H
    /// the exact inverse, BFGS's hereditary property (N&W Theorem 6.4
    /// and §7.2): H·(A·v) = v.
    #[test]
    fn two_loop_inverts_a_quadratic_hessian_after_n_conjugate_pairs() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]];
        let times_a = |v: &[f64]| -> Vec<f64> { a.iter().map(|row| dot(row, v)).collect() };
        // Gram–Schmidt in the A inner product.
        let mut directions: Vec<Vec<f64>> = Vec::new();
        for start in [[1.0, 0.0, 0.0], [0.3, 1.0, 0.0], [0.1, -0.2, 1.0]] {
            let mut s = start.to_vec();
            for previous in &directions {
                let a_previous = times_a(previous);
                let coefficient = dot(&s, &a_previous) / dot(previous, &a_previous);
                axpy(-coefficient, previous, &mut s);
            }
            directions.push(s);
        }
        let mut history = CorrectionHistory::new(3);
        for s in directions {
            let y = times_a(&s);
            assert!(history.push(s, y));
        }
        let v = [0.7, -1.3, 2.1];
        let r = history.apply_inverse_hessian(&times_a(&v));
        for (r, v) in r.iter().zip(v) {
            assert!((r - v).abs() < 1e-12, "{r} vs {v}");
        }
    }

    #[test]
    fn without_pairs_h_is_the_identity_and_gamma_scales_with_one_pair() {
        let mut history = CorrectionHistory::new(2);
        assert_eq!(history.apply_inverse_hessian(&[1.0, -2.0]), vec![1.0, -2.0]);
        // One pair along e₀ with curvature 4: H·e₀ = e₀/4 exactly, and on
        // the orthogonal e₁ H is γ = sᵀy / yᵀy = 4/16.
        assert!(history.push(vec![1.0, 0.0], vec![4.0, 0.0]));
        assert_eq!(history.apply_inverse_hessian(&[1.0, 0.0]), vec![0.25, 0.0]);
        assert_eq!(history.apply_inverse_hessian(&[0.0, 1.0]), vec![0.0, 0.25]);
    }

    #[test]
    fn pairs_without_positive_curvature_are_skipped_and_never_used() {
        let mut history = CorrectionHistory::new(2);
        assert!(!history.push(vec![1.0, 0.0], vec![-1.0, 0.0]), "sᵀy < 0");
        assert!(!history.push(vec![1.0, 0.0], vec![0.0, 1.0]), "sᵀy = 0");
        assert!(!history.push(vec![1.0, 0.0], vec![0.0, 0.0]), "y = 0");
        assert!(
            !history.push(vec![1e-20, 0.0], vec![1e-20, 1.0]),
            "sᵀy ≤ ε·yᵀy"
        );
        assert!(!history.push(vec![f64::NAN, 0.0], vec![1.0, 0.0]), "NaN");
        assert!(history.is_empty());
        assert_eq!(history.apply_inverse_hessian(&[3.0, 5.0]), vec![3.0, 5.0]);
    }

    #[test]
    fn keeps_the_newest_pairs_only() {
        let mut history = CorrectionHistory::new(2);
        for curvature in [1.0, 2.0, 8.0] {
            assert!(history.push(vec![1.0, 0.0], vec![curvature, 0.0]));
        }
        assert_eq!(history.len(), 2);
        // Both stored pairs lie along e₀; the newest (curvature 8) is
        // applied last, so H·e₀ = 1/8.
        assert_eq!(history.apply_inverse_hessian(&[1.0, 0.0]), vec![0.125, 0.0]);
        history.clear();
        assert!(history.is_empty());
    }
}
