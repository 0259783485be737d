//! The dense f64 vector arithmetic the solvers share. Sums run in index
//! order, so a run is deterministic.

/// `aᵀb`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `‖a‖₂`.
pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `‖a‖∞`, NaN when an entry is NaN (so that a NaN never passes a
/// tolerance test).
pub(crate) fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |max: f64, v| {
        if v.is_nan() || max.is_nan() {
            f64::NAN
        } else {
            max.max(v.abs())
        }
    })
}

/// `a − b`.
pub(crate) fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// `x + α·d`.
pub(crate) fn moved(x: &[f64], step: f64, direction: &[f64]) -> Vec<f64> {
    debug_assert_eq!(x.len(), direction.len());
    x.iter().zip(direction).map(|(x, d)| x + step * d).collect()
}

/// `−v`.
pub(crate) fn negated(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| -x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_abs_propagates_nan() {
        assert_eq!(max_abs(&[1.0, -3.0, 2.0]), 3.0);
        assert_eq!(max_abs(&[]), 0.0);
        assert!(max_abs(&[1.0, f64::NAN, 2.0]).is_nan());
        assert!(max_abs(&[f64::NAN, 5.0]).is_nan());
    }
}
