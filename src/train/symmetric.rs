//! The symmetric parametrization of a model whose loss ignores a common
//! shift of a row's scores ([`crate::Loss::ignores_a_common_shift`]):
//! the bias, and with it (without an L1 penalty) each feature's weights,
//! centred over the classes.
//!
//! Adding `c` to every class's bias changes no loss, and no penalty (the
//! bias is not penalized); adding `v_j` to every class's weight of
//! feature j changes no loss, and an L2 penalty `λ·ΣW²` is smallest when
//! each feature's weights sum to 0 over the classes. So centring moves a
//! point to one with the same loss and no larger penalty, and the
//! minimizer of an L2 (or unpenalized) objective is centred. A solver
//! started from a centred point stays there (every gradient sums to 0
//! over the classes), except for rounding, whose drift along these flat
//! or nearly flat directions depends on the order of the sums: centring
//! the result removes it, so that runs that sum in other orders (one
//! process or several, CPU or GPU) agree. scikit-learn's solvers use the
//! same convention (`_newton_solver.py`, "symmetric parametrization").

/// Centres `params` (`[W (D×C, row-major) | b (C)]`) over the C classes:
/// `b_c ← b_c − mean(b)` and, with `weights`, `W_jc ← W_jc − mean_c(W_jc)`.
/// A row already centred to within an f32 rounding of its largest value
/// is left as it is, so that a centred f32 model (a checkpoint, a warm
/// start) comes back bit for bit.
pub(super) fn centre_over_classes(params: &mut [f64], outputs: usize, weights: bool) {
    if outputs < 2 || !params.len().is_multiple_of(outputs) {
        return;
    }
    let rows = params.len() / outputs;
    for (row, values) in params.chunks_exact_mut(outputs).enumerate() {
        let is_bias = row + 1 == rows;
        if is_bias || weights {
            let mean = values.iter().sum::<f64>() / outputs as f64;
            let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if mean.abs() <= f64::from(f32::EPSILON) * largest {
                continue;
            }
            for value in values {
                *value -= mean;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::centre_over_classes;

    #[test]
    fn centres_the_bias_and_optionally_each_features_weights() {
        // D = 2, C = 3: W rows [1, 2, 3], [0, 0, 6]; b = [10, 11, 12].
        let mut params = vec![1.0, 2.0, 3.0, 0.0, 0.0, 6.0, 10.0, 11.0, 12.0];
        let mut bias_only = params.clone();
        centre_over_classes(&mut bias_only, 3, false);
        assert_eq!(bias_only, [1.0, 2.0, 3.0, 0.0, 0.0, 6.0, -1.0, 0.0, 1.0]);
        centre_over_classes(&mut params, 3, true);
        assert_eq!(params, [-1.0, 0.0, 1.0, -2.0, -2.0, 4.0, -1.0, 0.0, 1.0]);
        // Centred to within f32 rounding: unchanged.
        let mut rounded = vec![1.0, -1.0 + 1e-9, 5.0, 7.0, -12.0, 5.0];
        let before = rounded.clone();
        centre_over_classes(&mut rounded, 2, true);
        assert_eq!(rounded[..2], before[..2]);
        assert_eq!(rounded[2..4], [-1.0, 1.0]);
        let mut one_output = vec![1.0, 2.0];
        centre_over_classes(&mut one_output, 1, true);
        assert_eq!(one_output, [1.0, 2.0]);
    }
}
