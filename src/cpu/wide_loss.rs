//! Softmax cross-entropy of one long row of scores in vectors, for the wide
//! step: with a thousand classes the row's thousand `exp`s cost as much as
//! a good part of its products when taken one at a time.
//!
//! The formulas are [`super::reference::loss_row`]'s, regrouped: with
//! `m = max_j s_j`, `Z = Σ_j e^{s_j − m}`, `log p_j = s_j − m − ln Z`, the
//! smoothed target `q_j = ε/C + (1 − ε)·[j = y]` and the class weight `w`,
//!
//! - `loss = −w·Σ_j q_j·log p_j = −w·((1 − ε)·log p_y + (ε/C)·Σ_j log p_j)`,
//! - `dS_j = w·(p_j − q_j)/N`.
//!
//! A row holding a NaN or an infinity, or whose loss overflows in this
//! grouping, goes to the reference formulas, so that such rows give what
//! they give everywhere else.

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use super::simd::{Isa, Lanes, Portable};

/// The smoothed, weighted softmax cross-entropy of one row (see the module
/// documentation), its gradient written over `ds`; None when a score is
/// not finite (the caller then uses the reference formulas).
pub(crate) fn softmax_row(
    isa: Isa,
    s: &[f32],
    label: usize,
    weight: f32,
    label_smoothing: f32,
    ds: &mut [f32],
    inv_n: f32,
) -> Option<f32> {
    let row = Row {
        s,
        label,
        weight,
        label_smoothing,
        inv_n,
    };
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only chosen when the CPU has AVX-512F.
        Isa::Avx512 => unsafe { softmax_avx512(&row, ds) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2Fma` is only chosen when the CPU has AVX2 and FMA.
        Isa::Avx2Fma => unsafe { softmax_avx2(&row, ds) },
        _ => softmax_with::<Portable>(&row, ds),
    }
}

struct Row<'a> {
    s: &'a [f32],
    label: usize,
    weight: f32,
    label_smoothing: f32,
    inv_n: f32,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn softmax_avx512(row: &Row<'_>, ds: &mut [f32]) -> Option<f32> {
    softmax_with::<Avx512>(row, ds)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_avx2(row: &Row<'_>, ds: &mut [f32]) -> Option<f32> {
    softmax_with::<Avx2>(row, ds)
}

/// Three passes over the row, each in whole vectors then the tail one value
/// at a time; every sum runs in a fixed order.
#[inline(always)]
fn softmax_with<V: Lanes>(row: &Row<'_>, ds: &mut [f32]) -> Option<f32> {
    let s = row.s;
    let c = s.len();
    assert_eq!(ds.len(), c, "one gradient per score");
    let body = c - c % V::N;
    // SAFETY (loads and stores below): i + N ≤ body ≤ c = len of s and ds.
    let load = |i: usize| unsafe { V::load(s.as_ptr().add(i)) };

    let mut max = V::splat(f32::NEG_INFINITY);
    let mut total = V::zero();
    for i in (0..body).step_by(V::N) {
        let v = load(i);
        max = max.max(v);
        total = total.add(v);
    }
    let mut max = max.max_lane();
    let mut total = total.sum();
    for &v in &s[body..] {
        max = max.max(v);
        total += v;
    }
    // Any NaN or infinity makes the plain sum non-finite (as does a sum
    // beyond f32's range, which the reference then handles as well).
    if !total.is_finite() {
        return None;
    }

    let shift = V::splat(max);
    let mut sum = V::zero();
    for i in (0..body).step_by(V::N) {
        let e = load(i).sub(shift).exp();
        // SAFETY: as for `load`.
        unsafe { e.store(ds.as_mut_ptr().add(i)) };
        sum = sum.add(e);
    }
    let mut sum = sum.sum();
    for (e, &v) in ds[body..].iter_mut().zip(&s[body..]) {
        *e = (v - max).exp();
        sum += *e;
    }

    let log_sum = sum.ln();
    let eps = row.label_smoothing;
    let scale = row.weight * row.inv_n;
    let to_probability = V::splat(scale / sum);
    let uniform = V::splat(scale * eps / c as f32);
    let log_shift = V::splat(max + log_sum);
    let mut log_p_total = V::zero();
    for i in (0..body).step_by(V::N) {
        log_p_total = log_p_total.add(load(i).sub(log_shift));
        // SAFETY: as for `load`.
        unsafe {
            let at = ds.as_mut_ptr().add(i);
            V::load(at).mul(to_probability).sub(uniform).store(at);
        }
    }
    let mut log_p_total = log_p_total.sum();
    let (scale_p, uniform) = (scale / sum, scale * eps / c as f32);
    for (g, &v) in ds[body..].iter_mut().zip(&s[body..]) {
        log_p_total += v - (max + log_sum);
        *g = *g * scale_p - uniform;
    }
    ds[row.label] -= scale * (1.0 - eps);
    let log_p_label = s[row.label] - (max + log_sum);
    // Without smoothing the sum of log p is not needed (0·∞ would be NaN).
    let smoothing = match eps {
        0.0 => 0.0,
        _ => eps / c as f32 * log_p_total,
    };
    let loss = -((1.0 - eps) * log_p_label + smoothing);
    // Σ log p can overflow where Σ s did not (each term is up to twice its
    // score): the reference's term-by-term sum stays finite there.
    loss.is_finite().then_some(row.weight * loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::reference::{RowTarget, loss_row};
    use crate::loss::Loss;

    /// Every instruction set's row against the reference formulas, for
    /// rows long and short, with and without smoothing and class weights.
    #[test]
    fn vector_rows_match_the_reference_formulas() {
        let isas = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];
        for isa in isas.into_iter().filter(|isa| isa.is_supported()) {
            for c in [1, 2, 7, 16, 17, 100, 1003] {
                for (eps, weight) in [(0.0, 1.0), (0.1, 0.5)] {
                    let s: Vec<f32> = (0..c)
                        .map(|j| ((j * 7919) % 97) as f32 * 0.37 - 15.0)
                        .collect();
                    let label = c / 3;
                    let inv_n = 0.25;
                    let mut got = vec![f32::NAN; c];
                    let loss = softmax_row(isa, &s, label, weight, eps, &mut got, inv_n)
                        .expect("finite scores");
                    let s64: Vec<f64> = s.iter().map(|&v| v as f64).collect();
                    let mut want = vec![0.0f64; c];
                    let want_loss = loss_row(
                        &Loss::SoftmaxCrossEntropy {
                            label_smoothing: eps,
                        },
                        &s64,
                        RowTarget::Class {
                            label: label as u32,
                            weight: weight as f64,
                        },
                        &mut want,
                        inv_n as f64,
                    );
                    let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-6 + 1e-5 * b.abs();
                    assert!(
                        close(loss, want_loss),
                        "{isa:?} C {c} eps {eps}: loss {loss} vs {want_loss}"
                    );
                    for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
                        assert!(close(g, w), "{isa:?} C {c} eps {eps}: dS[{j}] {g} vs {w}");
                    }
                }
            }
        }
    }

    /// Huge scores of both signs sharing lanes: Σ s is finite, Σ log p is
    /// not (the red team's case); the row goes to the reference, or, without
    /// smoothing, never needs Σ log p.
    #[test]
    fn rows_whose_log_probabilities_overflow_match_the_reference() {
        let s: Vec<f32> = (0..1000)
            .map(|j| match j {
                0 => 0.0,
                j if (j / 16) % 2 == 0 => 1e36,
                _ => -1e36,
            })
            .collect();
        for isa in [Isa::Avx512, Isa::Avx2Fma, Isa::Portable] {
            if !isa.is_supported() {
                continue;
            }
            for eps in [0.0, 0.1] {
                let mut ds = vec![0.0; s.len()];
                let got = softmax_row(isa, &s, 0, 1.0, eps, &mut ds, 1.0);
                let mut want_ds = vec![0.0; s.len()];
                let want = loss_row(
                    &Loss::SoftmaxCrossEntropy {
                        label_smoothing: eps,
                    },
                    &s,
                    RowTarget::Class {
                        label: 0,
                        weight: 1.0,
                    },
                    &mut want_ds,
                    1.0,
                );
                assert!(want.is_finite(), "the reference is finite here");
                if let Some(got) = got {
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs(),
                        "{isa:?} eps {eps}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn non_finite_rows_are_left_to_the_reference() {
        for isa in [Isa::Avx512, Isa::Avx2Fma, Isa::Portable] {
            if !isa.is_supported() {
                continue;
            }
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut s = vec![0.5f32; 40];
                s[33] = bad;
                let mut ds = vec![0.0; 40];
                assert_eq!(softmax_row(isa, &s, 1, 1.0, 0.0, &mut ds, 1.0), None);
            }
        }
    }

    /// The vector `exp` that the rows use, against `f32::exp`, over the
    /// range softmax feeds it (x ≤ 0) and a little above.
    #[test]
    fn vector_exp_is_within_a_few_ulp() {
        #[cfg(target_arch = "x86_64")]
        {
            fn check<V: Lanes>(name: &str) {
                let mut x = -104.0f32;
                while x < 10.0 {
                    let lanes: Vec<f32> = (0..V::N).map(|i| x + i as f32 * 1e-3).collect();
                    // SAFETY: N readable and writable lanes.
                    let got = unsafe { V::load(lanes.as_ptr()) }.exp();
                    let mut out = vec![0.0f32; V::N];
                    unsafe { got.store(out.as_mut_ptr()) };
                    for (&x, &e) in lanes.iter().zip(&out) {
                        let want = x.exp();
                        if x < -87.336_55 {
                            assert_eq!(e, 0.0, "{name}: exp({x}) = {e}, below the range");
                        } else {
                            let ulp = (want.to_bits() as i64 - e.to_bits() as i64).abs();
                            assert!(ulp <= 4, "{name}: exp({x}) = {e}, f32::exp {want}");
                        }
                    }
                    x += 0.173;
                }
            }
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512() {
                check::<Avx512>("avx512")
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2() {
                check::<Avx2>("avx2")
            }
            if Isa::Avx512.is_supported() {
                // SAFETY: the CPU has AVX-512F.
                unsafe { avx512() };
            }
            if Isa::Avx2Fma.is_supported() {
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe { avx2() };
            }
        }
    }
}
