//! The native-f32 row kernels on x86-64 with AVX-512 or AVX2: the same
//! values as the portable ones, written with non-temporal (streaming)
//! stores.
//!
//! Why: a block row is written once by the reader and read by the trainer
//! only after the rest of its window (more than a cache of other rows) has
//! been written, so caching it on the way is useless, and an ordinary store
//! to a line not in the cache first reads the line from memory. Streaming
//! stores write whole lines without reading them: on the benchmark file
//! that removes a third of the reader's memory traffic.
//!
//! No line is read: a row's values before its first 64-byte (AVX2:
//! 32-byte) boundary and after its last whole vector are written by 4-byte
//! streaming stores (`movnti`). (Blocks whose rows start on cache lines,
//! and so have no such edges, measured no faster.)
//!
//! Streaming stores are weakly ordered: the writer must call
//! [`RowKernels::finish_stores`](super::RowKernels::finish_stores) (a store
//! fence) before another thread may read what they wrote.

use super::{EXPONENT, native_f32, non_finite_bit};
use std::arch::x86_64::*;

/// `out[j] = f(x_j)` for `j` in `range`, one 4-byte streaming store each,
/// with `f` the standardization when `STANDARDIZE`, else the identity.
/// Returns 1 when a result is not finite, else 0.
#[inline(always)]
fn edge<const STANDARDIZE: bool>(
    raw: &[u8],
    mean: &[f32],
    std: &[f32],
    out: &mut [f32],
    range: std::ops::Range<usize>,
) -> u32 {
    let mut non_finite = 0;
    for j in range {
        let x = native_f32(&raw[4 * j..4 * j + 4]);
        // The expression of Standardizer::apply_in_place.
        let z = if STANDARDIZE {
            (x - mean[j]) / std[j]
        } else {
            x
        };
        let place: *mut f32 = &mut out[j];
        // SAFETY: `place` comes from a reference, so it is valid and 4-byte
        // aligned; SSE2 is part of x86-64.
        unsafe { _mm_stream_si32(place.cast(), z.to_bits() as i32) };
        non_finite |= non_finite_bit(z);
    }
    non_finite
}

/// Checks what the vector loops rely on: `4·n` stored bytes and, when
/// standardizing, `n` means and stds.
#[inline(always)]
fn check_lengths<const STANDARDIZE: bool>(raw: &[u8], mean: &[f32], std: &[f32], n: usize) {
    assert_eq!(raw.len(), 4 * n, "4 bytes per value");
    if STANDARDIZE {
        assert!(
            mean.len() == n && std.len() == n,
            "a mean and std per value"
        );
    }
}

/// The native-f32 kernel on AVX-512: `out[j] = (x_j − mean[j]) / std[j]`
/// when `STANDARDIZE`, else `out[j] = x_j`, with `x_j` the f32 of bytes
/// `raw[4j..4j + 4]`; returns whether every result is finite.
#[target_feature(enable = "avx512f")]
pub(super) fn write_row_avx512<const STANDARDIZE: bool>(
    raw: &[u8],
    mean: &[f32],
    std: &[f32],
    out: &mut [f32],
) -> bool {
    const LANES: usize = 16;
    let n = out.len();
    check_lengths::<STANDARDIZE>(raw, mean, std, n);
    // Values before the first 64-byte boundary (all of them when the
    // offset is not known, which only costs speed).
    let head = out.as_ptr().align_offset(64).min(n);
    let body_end = head + (n - head) / LANES * LANES;
    let mut non_finite = edge::<STANDARDIZE>(raw, mean, std, out, 0..head);
    let exponent = _mm512_set1_epi32(EXPONENT as i32);
    let mut non_finite_lanes: __mmask16 = 0;
    let mut j = head;
    while j < body_end {
        // SAFETY: j + 16 ≤ n, so the loads read within `raw` (4n bytes),
        // `mean` and `std` (n values each, checked above) and the store
        // writes within `out`; out[j] is 64-byte aligned (j − head is a
        // multiple of 16 values), as the streaming store requires.
        let z = unsafe {
            let mut z = _mm512_loadu_ps(raw.as_ptr().add(4 * j).cast());
            if STANDARDIZE {
                let m = _mm512_loadu_ps(mean.as_ptr().add(j));
                let s = _mm512_loadu_ps(std.as_ptr().add(j));
                z = _mm512_div_ps(_mm512_sub_ps(z, m), s);
            }
            _mm512_stream_ps(out.as_mut_ptr().add(j), z);
            z
        };
        let exponent_bits = _mm512_and_si512(_mm512_castps_si512(z), exponent);
        non_finite_lanes |= _mm512_cmpeq_epi32_mask(exponent_bits, exponent);
        j += LANES;
    }
    non_finite |= edge::<STANDARDIZE>(raw, mean, std, out, body_end..n);
    non_finite == 0 && non_finite_lanes == 0
}

/// [`write_row_avx512`] on AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn write_row_avx2<const STANDARDIZE: bool>(
    raw: &[u8],
    mean: &[f32],
    std: &[f32],
    out: &mut [f32],
) -> bool {
    const LANES: usize = 8;
    let n = out.len();
    check_lengths::<STANDARDIZE>(raw, mean, std, n);
    let head = out.as_ptr().align_offset(32).min(n);
    let body_end = head + (n - head) / LANES * LANES;
    let mut non_finite = edge::<STANDARDIZE>(raw, mean, std, out, 0..head);
    let exponent = _mm256_set1_epi32(EXPONENT as i32);
    let mut non_finite_lanes = _mm256_setzero_si256();
    let mut j = head;
    while j < body_end {
        // SAFETY: as in `write_row_avx512`, with 8 values and 32 bytes.
        let z = unsafe {
            let mut z = _mm256_loadu_ps(raw.as_ptr().add(4 * j).cast());
            if STANDARDIZE {
                let m = _mm256_loadu_ps(mean.as_ptr().add(j));
                let s = _mm256_loadu_ps(std.as_ptr().add(j));
                z = _mm256_div_ps(_mm256_sub_ps(z, m), s);
            }
            _mm256_stream_ps(out.as_mut_ptr().add(j), z);
            z
        };
        let exponent_bits = _mm256_and_si256(_mm256_castps_si256(z), exponent);
        let lanes = _mm256_cmpeq_epi32(exponent_bits, exponent);
        non_finite_lanes = _mm256_or_si256(non_finite_lanes, lanes);
        j += LANES;
    }
    non_finite |= edge::<STANDARDIZE>(raw, mean, std, out, body_end..n);
    non_finite == 0 && _mm256_testz_si256(non_finite_lanes, non_finite_lanes) == 1
}

/// Orders every streaming store made so far before later stores (and so
/// before the channel hands a block to another thread).
pub(super) fn store_fence() {
    // SAFETY: SSE is part of x86-64; a fence has no other requirement.
    unsafe { _mm_sfence() }
}
