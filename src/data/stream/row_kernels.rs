//! The reader's per-row kernels: one pass over a row that writes its f32
//! values into a block and, on the way, says whether they are all finite,
//! so that a row is read once rather than copied, scanned and standardized
//! in three passes.
//!
//! Each kernel is plain Rust, written once and compiled three times: for
//! AVX-512, for AVX2 and for the x86-64 baseline (SSE2) or any other CPU,
//! the best one chosen at run time ([`Isa::detect`]); on AVX-512 and AVX2
//! the kernels of native f32 rows are written with intrinsics instead, to
//! store the rows with streaming stores (see `streaming`). The arithmetic
//! is the same IEEE single-precision subtract and divide whatever the
//! vector width (Rust never fuses or reorders them), so every kernel gives
//! the bits of
//! [`Standardizer::apply_in_place`](crate::data::Standardizer::apply_in_place).
//!
//! The finiteness test is on the results: a value is finite when its
//! exponent bits are not all ones. When the row is standardized, a
//! non-finite input always gives a non-finite result, whatever the mean
//! and std (∞ − m is ±∞ or NaN, and ±∞ or NaN divided by anything is ±∞ or
//! NaN), so "every result is finite" implies "every input is finite"; the
//! converse can fail (a finite value over a tiny std overflows), which is
//! why the caller looks at the inputs again when a kernel says no.

use crate::cpu::Isa;

#[cfg(target_arch = "x86_64")]
mod streaming;

/// The exponent bits of an f32: all ones for ±∞ and NaN, and only then.
const EXPONENT: u32 = 0x7F80_0000;

/// The kernels for one instruction set.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowKernels {
    isa: Isa,
}

impl RowKernels {
    /// The kernels for the best instruction set this CPU has.
    pub(super) fn detect() -> RowKernels {
        RowKernels { isa: Isa::detect() }
    }

    /// `out[j]` = the f32 whose bytes, in this machine's order, are
    /// `raw[4j..4j + 4]`; returns whether every value is finite.
    /// `raw.len() == 4 · out.len()`. Call [`RowKernels::finish_stores`]
    /// before another thread reads `out`.
    pub(super) fn copy_native_f32(self, raw: &[u8], out: &mut [f32]) -> bool {
        assert_eq!(raw.len(), 4 * out.len(), "4 bytes per value");
        match self.isa {
            // SAFETY: `Isa::detect` chose the instruction set on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { streaming::write_row_avx512::<false>(raw, &[], &[], out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { streaming::write_row_avx2::<false>(raw, &[], &[], out) },
            _ => copy_native_f32(raw, out),
        }
    }

    /// `out[j] = (x_j − mean[j]) / std[j]` in f32, with `x_j` the f32 whose
    /// bytes, in this machine's order, are `raw[4j..4j + 4]`; returns
    /// whether every result is finite. `raw.len() == 4 · out.len()`, and
    /// `mean` and `std` have `out.len()` values. Call
    /// [`RowKernels::finish_stores`] before another thread reads `out`.
    pub(super) fn standardize_native_f32(
        self,
        raw: &[u8],
        (mean, std): (&[f32], &[f32]),
        out: &mut [f32],
    ) -> bool {
        assert_eq!(raw.len(), 4 * out.len(), "4 bytes per value");
        assert!(mean.len() == out.len() && std.len() == out.len());
        match self.isa {
            // SAFETY: `Isa::detect` chose the instruction set on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { streaming::write_row_avx512::<true>(raw, mean, std, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { streaming::write_row_avx2::<true>(raw, mean, std, out) },
            _ => standardize_native_f32(raw, mean, std, out),
        }
    }

    /// `values[j] = (values[j] − mean[j]) / std[j]` in f32, in place;
    /// returns whether every result is finite. `mean` and `std` have
    /// `values.len()` values.
    pub(super) fn standardize_in_place(
        self,
        values: &mut [f32],
        (mean, std): (&[f32], &[f32]),
    ) -> bool {
        assert!(mean.len() == values.len() && std.len() == values.len());
        match self.isa {
            // SAFETY: `Isa::detect` chose the instruction set on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::standardize_in_place(values, mean, std) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { avx2::standardize_in_place(values, mean, std) },
            _ => standardize_in_place(values, mean, std),
        }
    }

    /// Makes the rows written so far by [`RowKernels::copy_native_f32`] and
    /// [`RowKernels::standardize_native_f32`] visible to other threads in
    /// order: their streaming stores are weakly ordered.
    pub(super) fn finish_stores(self) {
        #[cfg(target_arch = "x86_64")]
        if self.isa != Isa::Portable {
            streaming::store_fence();
        }
    }

    /// Whether every value is finite.
    pub(super) fn all_finite(self, values: &[f32]) -> bool {
        match self.isa {
            // SAFETY: `Isa::detect` chose the instruction set on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::all_finite(values) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { avx2::all_finite(values) },
            _ => all_finite(values),
        }
    }
}

/// 1 when `value`'s bits are ±∞ or NaN, else 0: or-ed over a row without a
/// branch, so the loops vectorize.
#[inline(always)]
fn non_finite_bit(value: f32) -> u32 {
    u32::from(value.to_bits() & EXPONENT == EXPONENT)
}

#[inline(always)]
fn native_f32(bytes: &[u8]) -> f32 {
    f32::from_ne_bytes(bytes.try_into().expect("chunks_exact(4) yields 4 bytes"))
}

#[inline(always)]
fn copy_native_f32(raw: &[u8], out: &mut [f32]) -> bool {
    let mut non_finite = 0;
    for (bytes, value) in raw.chunks_exact(4).zip(out.iter_mut()) {
        let x = native_f32(bytes);
        *value = x;
        non_finite |= non_finite_bit(x);
    }
    non_finite == 0
}

#[inline(always)]
fn standardize_native_f32(raw: &[u8], mean: &[f32], std: &[f32], out: &mut [f32]) -> bool {
    let mut non_finite = 0;
    let moments = mean.iter().zip(std);
    for ((bytes, value), (m, s)) in raw.chunks_exact(4).zip(out.iter_mut()).zip(moments) {
        // The expression of Standardizer::apply_in_place.
        let z = (native_f32(bytes) - m) / s;
        *value = z;
        non_finite |= non_finite_bit(z);
    }
    non_finite == 0
}

#[inline(always)]
fn standardize_in_place(values: &mut [f32], mean: &[f32], std: &[f32]) -> bool {
    let mut non_finite = 0;
    for ((v, m), s) in values.iter_mut().zip(mean).zip(std) {
        // The expression of Standardizer::apply_in_place.
        *v = (*v - m) / s;
        non_finite |= non_finite_bit(*v);
    }
    non_finite == 0
}

#[inline(always)]
fn all_finite(values: &[f32]) -> bool {
    values.iter().fold(0, |bits, &v| bits | non_finite_bit(v)) == 0
}

/// The kernels compiled for one instruction set: safe functions that may
/// only be called on a CPU that has it, hence `unsafe` to call.
macro_rules! kernels_for {
    ($module:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            #[target_feature(enable = $features)]
            pub(super) fn standardize_in_place(
                values: &mut [f32],
                mean: &[f32],
                std: &[f32],
            ) -> bool {
                super::standardize_in_place(values, mean, std)
            }

            #[target_feature(enable = $features)]
            pub(super) fn all_finite(values: &[f32]) -> bool {
                super::all_finite(values)
            }
        }
    };
}

kernels_for!(avx512, "avx512f,avx2,fma");
kernels_for!(avx2, "avx2,fma");

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel set this CPU runs.
    fn every_supported() -> Vec<RowKernels> {
        [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|isa| isa.is_supported())
            .map(|isa| RowKernels { isa })
            .collect()
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// Odd lengths, so every vector width has a tail; values that round.
    fn row(len: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let x = (0..len)
            .map(|j| (j as f32 * 0.37).sin() * 1e3 + 0.1)
            .collect();
        let mean = (0..len).map(|j| j as f32 * 0.013 - 0.3).collect();
        let std = (0..len).map(|j| 0.7 + (j % 5) as f32 * 0.11).collect();
        (x, mean, std)
    }

    #[test]
    fn every_width_standardizes_to_the_bits_of_the_scalar_expression() {
        for len in [0, 1, 7, 15, 16, 17, 33, 100, 768] {
            let (x, mean, std) = row(len);
            let expected: Vec<f32> = x
                .iter()
                .zip(&mean)
                .zip(&std)
                .map(|((v, m), s)| (v - m) / s)
                .collect();
            let raw: Vec<u8> = x.iter().flat_map(|v| v.to_ne_bytes()).collect();
            for kernels in every_supported() {
                // Every offset from a cache line, so the streaming kernels
                // run their edges and their vectors in every proportion.
                let mut lines = vec![f32::NAN; len + 16];
                for offset in 0..16 {
                    let out = &mut lines[offset..offset + len];
                    let case = format!("{kernels:?}, {len} values from {offset}");
                    assert!(kernels.standardize_native_f32(&raw, (&mean, &std), out));
                    kernels.finish_stores();
                    assert_eq!(bits(out), bits(&expected), "{case}");
                    assert!(kernels.copy_native_f32(&raw, out));
                    kernels.finish_stores();
                    assert_eq!(bits(out), bits(&x), "{case}");
                }
                let mut in_place = x.clone();
                assert!(kernels.standardize_in_place(&mut in_place, (&mean, &std)));
                assert_eq!(
                    bits(&in_place),
                    bits(&expected),
                    "{kernels:?}, {len} values"
                );
                assert!(kernels.all_finite(&x));
            }
        }
    }

    #[test]
    fn a_non_finite_value_anywhere_is_seen_by_every_width() {
        let len = 37;
        let (x, mean, std) = row(len);
        for kernels in every_supported() {
            for at in 0..len {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut x = x.clone();
                    x[at] = bad;
                    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_ne_bytes()).collect();
                    // Within the edges and the vectors of a streaming kernel.
                    let mut lines = vec![0.0; len + 16];
                    let out = &mut lines[at % 16..at % 16 + len];
                    assert!(!kernels.copy_native_f32(&raw, out), "{kernels:?} {at}");
                    assert!(!kernels.all_finite(&x), "{kernels:?} {at}");
                    assert!(
                        !kernels.standardize_native_f32(&raw, (&mean, &std), out),
                        "{kernels:?} {at}"
                    );
                    assert!(!kernels.standardize_in_place(&mut x, (&mean, &std)));
                }
            }
            // A finite value over a tiny std overflows: the kernel says so,
            // though the input was finite (the caller then checks it).
            let raw = 1e30f32.to_ne_bytes();
            let mut out = [0.0];
            assert!(!kernels.standardize_native_f32(&raw, (&[0.0], &[1e-30]), &mut out));
            assert_eq!(out[0], f32::INFINITY);
            // The largest finite values are finite.
            assert!(kernels.all_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE, -0.0]));
        }
    }
}
