//! The register tile of the CPU's wide products: `MR` rows × `NV` vectors
//! of an output `A·B` held in accumulators while the shared dimension is
//! walked once, each load of B serving `MR` rows and each broadcast of A
//! serving `NV` vectors (the BLIS micro-kernel, without packing: the
//! products here are short enough that reading A and B in place is cheaper
//! than copying them).
//!
//! Every output element is one sum over the shared dimension in order, so
//! a result does not depend on how the outputs were cut into tiles or
//! tasks.

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use super::simd::{Isa, Lanes, Portable};

/// How A is laid out: element (i, p) of a tile whose first row is `row`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand {
    /// `A[i, p] = base[indices[min(row + i, count − 1)]·ld + p]`: rows of
    /// the dataset read in place through the step's indices (the scores
    /// X·W); a last partial tile repeats the last row instead of reading
    /// past the indices.
    Rows {
        base: *const f32,
        ld: usize,
        indices: *const u32,
        count: usize,
    },
    /// `A[i, p] = base[p·ld + row + i]`: columns of the gathered batch (the
    /// weight gradient Xᵀ·dS).
    Columns { base: *const f32, ld: usize },
}

/// What an output tile starts from before the products are added.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    /// Zero: the output is overwritten.
    Zero,
    /// The row vector `bias[0..width]` (the same for every row).
    Bias(*const f32),
    /// The output's current values (a sum continued over more of the
    /// shared dimension).
    Accumulate,
}

/// One column panel of an output: `out[r·ldc + j]` for the rows of the
/// tiles given to [`panel`] and `j < width`, over `depth` terms
/// `Σ_p A[r, p]·b[p·ldb + j]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Panel {
    pub a: Operand,
    pub b: *const f32,
    pub ldb: usize,
    pub depth: usize,
    pub out: *mut f32,
    pub ldc: usize,
    pub width: usize,
    pub start: Start,
}

/// The most columns one panel covers on `isa`: its widest tile.
pub(crate) fn panel_width(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 4 * 16,
        Isa::Avx2Fma | Isa::Portable => 2 * 8,
    }
}

/// Lanes of `isa`'s vectors.
fn lanes(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 16,
        Isa::Avx2Fma | Isa::Portable => 8,
    }
}

/// How `outputs` columns are cut into panels on `isa`: as few as the widest
/// tile allows, their vectors shared out evenly (80 columns with AVX-512 are
/// 2 + 3 vectors, not 4 + 1: a one-vector tile loads B once per broadcast
/// of A and runs at half the speed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Panels {
    outputs: usize,
    lanes: usize,
    count: usize,
    vectors: usize,
}

impl Panels {
    pub(crate) fn new(isa: Isa, outputs: usize) -> Self {
        let lanes = lanes(isa);
        let vectors = outputs.div_ceil(lanes);
        Self {
            outputs,
            lanes,
            count: vectors.div_ceil(panel_width(isa) / lanes),
            vectors,
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Columns of panel `j`: whole vectors, the last panel ending at the
    /// last output.
    pub(crate) fn columns(&self, j: usize) -> std::ops::Range<usize> {
        let first_vector = |j: usize| j * self.vectors / self.count;
        (first_vector(j) * self.lanes).min(self.outputs)
            ..(first_vector(j + 1) * self.lanes).min(self.outputs)
    }
}

/// The most rows of any tile. A last partial tile computes all its rows and
/// stores the real ones, so it reads up to `MAX_TILE_ROWS − 1` rows of A
/// past the output's (see [`panel`]); buffers are padded for that.
pub(crate) const MAX_TILE_ROWS: usize = 12;

/// Computes output rows `rows` of the panel, in tiles from the first.
///
/// # Safety
/// - the address of `A[i, p]` (see [`Operand`]) is readable for every
///   `i < rows.end + MAX_TILE_ROWS − 1` and `p < depth` (values of rows
///   past `rows.end` only reach results that are dropped); for
///   [`Operand::Rows`], `indices` has `count ≥ rows.end` entries, each a
///   row of `base` with `depth` readable values;
/// - `b[p·ldb + j]` is readable for `p < depth`, `j < width`;
/// - `out[r·ldc + j]` is writable (and, with [`Start::Accumulate`],
///   readable) for `r` in `rows`, `j < width`, and no other thread uses
///   it; [`Start::Bias`] points to `width` readable values;
/// - `0 < width ≤ panel_width(isa)`, and `isa` is supported by this CPU.
pub(crate) unsafe fn panel(isa: Isa, job: &Panel, rows: std::ops::Range<usize>) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees the CPU has AVX-512F.
        Isa::Avx512 => unsafe { panel_avx512(job, rows) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees the CPU has AVX2 and FMA.
        Isa::Avx2Fma => unsafe { panel_avx2(job, rows) },
        // SAFETY: forwarded from the caller.
        _ => unsafe { panel_portable(job, rows) },
    }
}

/// Calls `panel_with::<V, MR, NV, MASKED>` for the panel's width, with the
/// `(vectors, rows)` tile shapes listed, widest first.
macro_rules! by_width {
    ($v:ty, $job:expr, $rows:expr, [$(($nv:literal, $mr:literal)),*]) => {{
        let vectors = $job.width.div_ceil(<$v>::N);
        let masked = !$job.width.is_multiple_of(<$v>::N);
        match (vectors, masked) {
            $(
                ($nv, false) => panel_with::<$v, $mr, $nv, false>($job, $rows),
                ($nv, true) => panel_with::<$v, $mr, $nv, true>($job, $rows),
            )*
            _ => unreachable!("a panel is at most panel_width() wide"),
        }
    }};
}

// Tile shapes: MR·NV accumulators, NV loads of B and one broadcast of A
// within the register file (32 vectors with AVX-512, 16 with AVX2).

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn panel_avx512(job: &Panel, rows: std::ops::Range<usize>) {
    // SAFETY: forwarded from `panel`'s caller.
    unsafe {
        match job.a {
            // A row pointer per tile row: more than 8 of them no longer fit
            // the general registers beside the loop's own, and every
            // broadcast then reloads its pointer (measured: C = 32 ran at
            // half the speed of C = 48 with 12-row tiles).
            Operand::Rows { .. } => by_width!(Avx512, job, rows, [(4, 6), (3, 8), (2, 8), (1, 8)]),
            Operand::Columns { .. } => {
                by_width!(Avx512, job, rows, [(4, 6), (3, 8), (2, 12), (1, 12)])
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panel_avx2(job: &Panel, rows: std::ops::Range<usize>) {
    // SAFETY: forwarded from `panel`'s caller.
    unsafe { by_width!(Avx2, job, rows, [(2, 6), (1, 8)]) }
}

unsafe fn panel_portable(job: &Panel, rows: std::ops::Range<usize>) {
    // SAFETY: forwarded from `panel`'s caller.
    unsafe { by_width!(Portable, job, rows, [(2, 4), (1, 8)]) }
}

/// The tiles of `rows`: full tiles of MR rows, then one partial tile that
/// reads padding rows and stores only the real ones.
#[inline(always)]
unsafe fn panel_with<V: Lanes, const MR: usize, const NV: usize, const MASKED: bool>(
    job: &Panel,
    rows: std::ops::Range<usize>,
) {
    let mut row = rows.start;
    while row < rows.end {
        let valid = MR.min(rows.end - row);
        // SAFETY: forwarded; rows up to `row + MR − 1 < rows.end + MR − 1`
        // are readable, and MR ≤ MAX_TILE_ROWS.
        unsafe { tile::<V, MR, NV, MASKED>(job, row, valid) };
        row += MR;
    }
}

/// `out[(row + i)·ldc + j] = start + Σ_p A[row + i, p]·b[p·ldb + j]` for
/// `i < valid`, `j < width`; rows `valid..MR` are computed and dropped.
/// The last vector is masked when `MASKED` (width not a multiple of N).
#[inline(always)]
unsafe fn tile<V: Lanes, const MR: usize, const NV: usize, const MASKED: bool>(
    job: &Panel,
    row: usize,
    valid: usize,
) {
    let last_lanes = job.width - (NV - 1) * V::N;
    let mut acc = [[V::zero(); NV]; MR];
    // SAFETY (whole body): the caller guarantees every A, b and out
    // element addressed here (see `panel`).
    unsafe {
        let load_b = |at: *const f32| {
            let mut vectors = [V::zero(); NV];
            for (v, vector) in vectors.iter_mut().enumerate() {
                *vector = if MASKED && v == NV - 1 {
                    V::load_first(at.add(v * V::N), last_lanes)
                } else {
                    V::load(at.add(v * V::N))
                };
            }
            vectors
        };
        match job.a {
            Operand::Rows {
                base,
                ld,
                indices,
                count,
            } => {
                let a: [*const f32; MR] = std::array::from_fn(|i| {
                    base.add(*indices.add((row + i).min(count - 1)) as usize * ld)
                });
                for p in 0..job.depth {
                    let b = load_b(job.b.add(p * job.ldb));
                    for (acc, a) in acc.iter_mut().zip(&a) {
                        let a = V::splat(*a.add(p));
                        for (acc, b) in acc.iter_mut().zip(&b) {
                            *acc = a.mul_add(*b, *acc);
                        }
                    }
                }
            }
            Operand::Columns { base, ld } => {
                let mut a = base.add(row);
                for p in 0..job.depth {
                    let b = load_b(job.b.add(p * job.ldb));
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let a = V::splat(*a.add(i));
                        for (acc, b) in acc.iter_mut().zip(&b) {
                            *acc = a.mul_add(*b, *acc);
                        }
                    }
                    a = a.add(ld);
                }
            }
        }
        let start = match job.start {
            Start::Bias(bias) => Some(load_b(bias)),
            Start::Zero | Start::Accumulate => None,
        };
        for (i, acc) in acc.iter().enumerate().take(valid) {
            let out = job.out.add((row + i) * job.ldc);
            let before = match job.start {
                Start::Accumulate => Some(load_b(out)),
                _ => start,
            };
            for (v, &sum) in acc.iter().enumerate() {
                let sum = match before {
                    Some(before) => before[v].add(sum),
                    None => sum,
                };
                if MASKED && v == NV - 1 {
                    sum.store_first(out.add(v * V::N), last_lanes);
                } else {
                    sum.store(out.add(v * V::N));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panels cover the outputs in order, each whole vectors (the last may
    /// end early) and at most one tile wide, their vector counts within one
    /// of each other.
    #[test]
    fn panels_share_the_vectors_evenly() {
        for isa in [Isa::Avx512, Isa::Avx2Fma, Isa::Portable] {
            for outputs in [1, 7, 16, 17, 64, 65, 80, 100, 1000, 1003, 4097] {
                let panels = Panels::new(isa, outputs);
                let mut next = 0;
                let mut widths = Vec::new();
                for j in 0..panels.count() {
                    let columns = panels.columns(j);
                    assert_eq!(columns.start, next, "{isa:?} {outputs}: panel {j}");
                    assert!(!columns.is_empty() && columns.len() <= panel_width(isa));
                    if columns.end < outputs {
                        assert!(
                            columns.len().is_multiple_of(lanes(isa)),
                            "{isa:?} {outputs}"
                        );
                    }
                    widths.push(columns.len().div_ceil(lanes(isa)));
                    next = columns.end;
                }
                assert_eq!(next, outputs, "{isa:?} {outputs}: every column");
                let (least, most) = (widths.iter().min().unwrap(), widths.iter().max().unwrap());
                assert!(most - least <= 1, "{isa:?} {outputs}: {widths:?}");
            }
        }
        assert_eq!(Panels::new(Isa::Avx512, 80).columns(0), 0..32);
    }
}
