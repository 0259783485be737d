//! Vectors of f32 lanes for the CPU kernels, chosen at run time: the build
//! targets plain x86-64 (SSE2), so AVX-512 and AVX2 + FMA code is compiled
//! per function with `#[target_feature]` and only called when the CPU has it. Kernels are
//! written once, generic over [`Lanes`], and inlined into each entry point.

/// Which instruction set the kernels run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 Foundation (with AVX2 and FMA), 16 lanes and lane masks.
    Avx512,
    /// AVX2 with fused multiply-add, 8 lanes.
    Avx2Fma,
    /// Plain Rust that any CPU runs (auto-vectorized to SSE2 on x86-64).
    Portable,
}

impl Isa {
    /// The best instruction set this CPU supports.
    pub fn detect() -> Self {
        [Isa::Avx512, Isa::Avx2Fma]
            .into_iter()
            .find(|isa| isa.is_supported())
            .unwrap_or(Isa::Portable)
    }

    /// Whether this CPU runs the instruction set.
    pub fn is_supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2_fma = has!("avx2") && has!("fma");
            match self {
                Isa::Avx512 => avx2_fma && has!("avx512f"),
                Isa::Avx2Fma => avx2_fma,
                Isa::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        matches!(self, Isa::Portable)
    }
}

/// A vector of `N` f32 lanes. Loads and stores take raw pointers so that the
/// inner loops carry no bounds checks; callers keep them in range.
pub(crate) trait Lanes: Copy {
    const N: usize;
    fn zero() -> Self;
    fn splat(v: f32) -> Self;
    /// # Safety
    /// `src..src + N` must be readable.
    unsafe fn load(src: *const f32) -> Self;
    /// # Safety
    /// `dst..dst + N` must be writable.
    unsafe fn store(self, dst: *mut f32);
    /// The first `n` lanes from `src`, the others zero.
    ///
    /// # Safety
    /// `n < N`, and `src..src + n` must be readable (nothing past it is read).
    unsafe fn load_first(src: *const f32, n: usize) -> Self;
    /// Writes the first `n` lanes to `dst` and nothing past them.
    ///
    /// # Safety
    /// `n < N`, and `dst..dst + n` must be writable.
    unsafe fn store_first(self, dst: *mut f32, n: usize);
    /// `self + b`, lane by lane.
    fn add(self, b: Self) -> Self;
    /// `self − b`, lane by lane.
    fn sub(self, b: Self) -> Self;
    /// `self·b`, lane by lane.
    fn mul(self, b: Self) -> Self;
    /// The larger of each pair of lanes (either one where a lane is NaN).
    fn max(self, b: Self) -> Self;
    /// The smaller of each pair of lanes (either one where a lane is NaN).
    fn min(self, b: Self) -> Self;
    /// The largest lane.
    fn max_lane(self) -> f32;
    /// `e^x` per lane for finite x: within a few ulp of `f32::exp` (the
    /// Cephes polynomial on AVX2 and AVX-512, `f32::exp` itself on the
    /// portable path), 0 below −87.3 where f32's `e^x` is subnormal.
    fn exp(self) -> Self;
    /// `self·b + acc`, fused where the instruction set has it.
    fn mul_add(self, b: Self, acc: Self) -> Self;
    /// The scalar twin of [`Lanes::mul_add`], for tails.
    fn mul_add_scalar(a: f32, b: f32, acc: f32) -> f32;
    /// Sum of the lanes in a fixed order.
    fn sum(self) -> f32;
    /// Hints that the cache line at `src` will be read soon.
    fn prefetch(_src: *const f32) {}
}

/// Eight lanes in plain Rust.
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; 8]);

impl Lanes for Portable {
    const N: usize = 8;
    #[inline(always)]
    fn zero() -> Self {
        Portable([0.0; 8])
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Portable([v; 8])
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable values.
        Portable(unsafe { src.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        // SAFETY: the caller guarantees 8 writable values.
        unsafe { dst.cast::<[f32; 8]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn load_first(src: *const f32, n: usize) -> Self {
        let mut lanes = [0.0; 8];
        for (i, lane) in lanes.iter_mut().enumerate().take(n) {
            // SAFETY: i < n, and the caller guarantees n readable values.
            *lane = unsafe { *src.add(i) };
        }
        Portable(lanes)
    }
    #[inline(always)]
    unsafe fn store_first(self, dst: *mut f32, n: usize) {
        for (i, &lane) in self.0.iter().enumerate().take(n) {
            // SAFETY: i < n, and the caller guarantees n writable values.
            unsafe { *dst.add(i) = lane };
        }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(b.0) {
            *o += b;
        }
        Portable(out)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i] - b.0[i]))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i] * b.0[i]))
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i].max(b.0[i])))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i].min(b.0[i])))
    }
    #[inline(always)]
    fn max_lane(self) -> f32 {
        self.0.into_iter().fold(f32::NEG_INFINITY, f32::max)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        Portable(self.0.map(f32::exp))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, acc: Self) -> Self {
        let mut out = acc.0;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(b.0) {
            *o += a * b;
        }
        Portable(out)
    }
    #[inline(always)]
    fn mul_add_scalar(a: f32, b: f32, acc: f32) -> f32 {
        acc + a * b
    }
    #[inline(always)]
    fn sum(self) -> f32 {
        let v = self.0;
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
}

/// Cephes' single-precision `e^x`: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`,
/// `e^r` by a degree-7 polynomial, then scaled by `2ⁿ` (each instruction
/// set scales in its own way).
#[cfg(target_arch = "x86_64")]
mod cephes_exp {
    use super::Lanes;

    /// Below this, f32's `e^x` is subnormal: the vector `exp` gives 0.
    pub(super) const LOW: f32 = -87.336_55;
    const HIGH: f32 = 88.0;
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    /// ln 2 split in two, the first exact in few bits, so `n·LN2_HIGH` is exact.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    const POLYNOMIAL: [f32; 6] = [
        1.987_569_1e-4,
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        // Cephes writes 5.0000001201e-1, which is 0.5 in f32.
        0.5,
    ];

    /// `(n, e^r)` for `x = n·ln 2 + r`, `round` rounding to nearest.
    #[inline(always)]
    pub(super) fn reduced<V: Lanes>(x: V, round: impl Fn(V) -> V) -> (V, V) {
        let x = x.max(V::splat(LOW)).min(V::splat(HIGH));
        let n = round(x.mul(V::splat(LOG2_E)));
        let r = n.mul_add(V::splat(-LN2_HIGH), x);
        let r = n.mul_add(V::splat(-LN2_LOW), r);
        let mut p = V::splat(POLYNOMIAL[0]);
        for &c in &POLYNOMIAL[1..] {
            p = p.mul_add(r, V::splat(c));
        }
        let e = p.mul_add(r.mul(r), r.add(V::splat(1.0)));
        (n, e)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Eight lanes in an AVX register. Only used inside functions compiled
    /// with `#[target_feature(enable = "avx2,fma")]`, which these inline into.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    // SAFETY (all blocks below): values of this type only exist inside
    // kernels that run after `Isa::detect` found AVX2 and FMA.
    impl Lanes for Avx2 {
        const N: usize = 8;
        #[inline(always)]
        fn zero() -> Self {
            Avx2(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(src: *const f32) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(src) })
        }
        #[inline(always)]
        unsafe fn store(self, dst: *mut f32) {
            unsafe { _mm256_storeu_ps(dst, self.0) }
        }
        #[inline(always)]
        unsafe fn load_first(src: *const f32, n: usize) -> Self {
            // Lanes below n are enabled; masked lanes are never touched.
            Avx2(unsafe { _mm256_maskload_ps(src, first_lanes(n)) })
        }
        #[inline(always)]
        unsafe fn store_first(self, dst: *mut f32, n: usize) {
            unsafe { _mm256_maskstore_ps(dst, first_lanes(n), self.0) }
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_sub_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max_lane(self) -> f32 {
            let mut lanes = [0.0f32; 8];
            unsafe { self.store(lanes.as_mut_ptr()) };
            lanes.into_iter().fold(f32::NEG_INFINITY, f32::max)
        }
        #[inline(always)]
        fn exp(self) -> Self {
            unsafe {
                let (n, e) = super::cephes_exp::reduced(self, |v| {
                    Avx2(_mm256_round_ps::<
                        { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
                    >(v.0))
                });
                // 2ⁿ from its exponent bits: n is within −126..=127 here.
                let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
                    _mm256_cvtps_epi32(n.0),
                    _mm256_set1_epi32(127),
                ));
                let value = _mm256_mul_ps(e.0, _mm256_castsi256_ps(bits));
                let normal =
                    _mm256_cmp_ps::<_CMP_GE_OQ>(self.0, _mm256_set1_ps(super::cephes_exp::LOW));
                Avx2(_mm256_and_ps(value, normal))
            }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, acc: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(self.0, b.0, acc.0) })
        }
        #[inline(always)]
        fn mul_add_scalar(a: f32, b: f32, acc: f32) -> f32 {
            a.mul_add(b, acc)
        }
        #[inline(always)]
        fn sum(self) -> f32 {
            unsafe {
                let quads = _mm_add_ps(
                    _mm256_castps256_ps128(self.0),
                    _mm256_extractf128_ps(self.0, 1),
                );
                let pairs = _mm_add_ps(quads, _mm_movehl_ps(quads, quads));
                let one = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
                _mm_cvtss_f32(one)
            }
        }
        #[inline(always)]
        fn prefetch(src: *const f32) {
            unsafe { _mm_prefetch(src.cast::<i8>(), _MM_HINT_T0) }
        }
    }

    /// A lane mask with the sign bit set in lanes `0..n`.
    #[inline(always)]
    unsafe fn first_lanes(n: usize) -> __m256i {
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::Avx512;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Sixteen lanes in an AVX-512 register. Only used inside functions
    /// compiled with `#[target_feature(enable = "avx512f,avx2,fma")]`.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    /// The mask of lanes `0..n` (n < 16).
    #[inline(always)]
    fn first_lanes(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    // SAFETY (all blocks below): values of this type only exist inside
    // kernels that run after `Isa::detect` found AVX-512F.
    impl Lanes for Avx512 {
        const N: usize = 16;
        #[inline(always)]
        fn zero() -> Self {
            Avx512(unsafe { _mm512_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(src: *const f32) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(src) })
        }
        #[inline(always)]
        unsafe fn store(self, dst: *mut f32) {
            unsafe { _mm512_storeu_ps(dst, self.0) }
        }
        #[inline(always)]
        unsafe fn load_first(src: *const f32, n: usize) -> Self {
            // Masked-off lanes are not read, so they cannot fault.
            Avx512(unsafe { _mm512_maskz_loadu_ps(first_lanes(n), src) })
        }
        #[inline(always)]
        unsafe fn store_first(self, dst: *mut f32, n: usize) {
            unsafe { _mm512_mask_storeu_ps(dst, first_lanes(n), self.0) }
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_sub_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max_lane(self) -> f32 {
            unsafe { _mm512_reduce_max_ps(self.0) }
        }
        #[inline(always)]
        fn exp(self) -> Self {
            unsafe {
                let (n, e) = super::cephes_exp::reduced(self, |v| {
                    Avx512(_mm512_roundscale_ps::<
                        { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
                    >(v.0))
                });
                let value = _mm512_scalef_ps(e.0, n.0);
                let normal = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(
                    self.0,
                    _mm512_set1_ps(super::cephes_exp::LOW),
                );
                Avx512(_mm512_maskz_mov_ps(normal, value))
            }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, acc: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(self.0, b.0, acc.0) })
        }
        #[inline(always)]
        fn mul_add_scalar(a: f32, b: f32, acc: f32) -> f32 {
            a.mul_add(b, acc)
        }
        #[inline(always)]
        fn sum(self) -> f32 {
            // Halves added pairwise down to one lane: a fixed order.
            unsafe {
                let low = _mm512_castps512_ps256(self.0);
                let high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(self.0), 1));
                let eights = _mm256_add_ps(low, high);
                let quads = _mm_add_ps(
                    _mm256_castps256_ps128(eights),
                    _mm256_extractf128_ps(eights, 1),
                );
                let pairs = _mm_add_ps(quads, _mm_movehl_ps(quads, quads));
                let one = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
                _mm_cvtss_f32(one)
            }
        }
        #[inline(always)]
        fn prefetch(src: *const f32) {
            unsafe { _mm_prefetch(src.cast::<i8>(), _MM_HINT_T0) }
        }
    }
}
