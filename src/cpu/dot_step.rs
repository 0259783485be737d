//! The CPU's fused linear step for a handful of outputs (the CS231n shape,
//! C = 10): scores, loss and gradient of a minibatch read in place through
//! its row indices, each score a dot product along D. Its wide twin is
//! [`super::tile_step`].
//!
//! 1. W (D×C) is transposed into scratch so each score is a dot product of
//!    two contiguous rows.
//! 2. The batch is cut into blocks of about 100 rows (at most 16 blocks, so
//!    a full batch of a million rows keeps 15 shares of dW, not 10⁴), run
//!    in parallel. A
//!    block computes scores = x·W + b, the loss and dScores for its rows in
//!    tiles, then its share of dW = xᵀ·dS while its rows are still in that
//!    core's caches: each row comes from memory once.
//! 3. The shares are summed in block order. The blocks depend only on the
//!    batch size, so the result does not depend on how many threads ran.
//!
//! The bias gradient and the mean loss are then summed in row order. Every
//! parallel pass runs on [`spin_pool`], whose handoff costs far less than
//! waking rayon's workers for a step this short.

use super::lane_tree_sum;
use super::reference::{RowTarget, is_correct, loss_row};
#[cfg(target_arch = "x86_64")]
use super::simd::Avx2;
use super::simd::{Isa, Lanes, Portable};
use super::spin_pool::{self, DisjointSlices};
use super::step_input::{FusedStep, StepParams, grown, row_target};
use crate::Result;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows whose scores are computed together, sharing each load of W.
const ROW_TILE: usize = 8;
/// Features per pass of the weight-gradient loop: a block's rows of them
/// stay in L2 (a multiple of every lane count).
const FEATURE_CHUNK: usize = 256;
/// Rows per block (about): enough that a block's share of dW is worth its
/// summation, few enough that a batch of 200 runs on two cores. The block
/// count depends only on the batch size, never on the threads.
const ROWS_PER_BLOCK: usize = 100;
/// Most blocks: each block after the first keeps a D×C share of dW in
/// scratch, so their count bounds the step's memory on large batches.
const MAX_BLOCKS: usize = 16;
/// Rows a pass over a whole dataset gives each step
/// ([`crate::Backend::preferred_step_rows`]): the most that keep blocks of
/// [`ROWS_PER_BLOCK`] rows, whose rows stay in a core's caches between the
/// scores and the block's share of dW.
pub(crate) const PREFERRED_ROWS: usize = ROWS_PER_BLOCK * MAX_BLOCKS;
/// Weights per task of the sum of the blocks' shares.
const REDUCE_CHUNK: usize = 4096;
/// Most classes handled in one pass over a row: one accumulator register each.
const MAX_GROUP: usize = 12;
/// Most classes in one pass when each pass serves two rows (or two chunks of features).
const MAX_PAIR_GROUP: usize = 6;
/// Floats of the transposed W kept in L1 while a tile of rows passes over them (16 KiB).
const L1_BLOCK_FLOATS: usize = 4096;

/// Buffers reused from step to step, grown on demand.
#[derive(Debug, Default)]
pub(crate) struct DotScratch {
    transposed_weights: Vec<f32>,
    scores: Vec<f32>,
    dscores: Vec<f32>,
    row_loss: Vec<f32>,
    partial_weight_grads: Vec<f32>,
}

/// Runs the step; returns the mean loss and the number of correct rows, and
/// writes [dW | db] over the start of `grads` when given.
pub(crate) fn run(
    step: &FusedStep<'_>,
    scratch: &mut DotScratch,
    grads: Option<&mut [f32]>,
) -> Result<(f32, usize)> {
    let (d, c, rows) = (step.features, step.outputs, step.indices.len());
    let DotScratch {
        transposed_weights,
        scores,
        dscores,
        row_loss,
        partial_weight_grads,
    } = scratch;
    let stride = transposed_stride(d);
    let wt = grown(transposed_weights, c * stride, "the transposed weights")?;
    let scores = grown(scores, rows * c, "the step's scores")?;
    let dscores = grown(dscores, rows * c, "the step's score gradients")?;
    let row_loss = grown(row_loss, rows, "the step's row losses")?;
    // A sweep's members go to the tile step only (`CpuBackend::linear_step_members`).
    let StepParams::Joined(params) = step.params else {
        return Err(crate::Error::InvalidConfig(
            "the dot step takes one model's weights".into(),
        ));
    };
    let (weights, bias) = params[..d * c + c].split_at(d * c);

    // On the pool rather than serially: it is 10–20% of a step's reads.
    let columns = DisjointSlices::new(wt);
    spin_pool::pool().run(c, &|k| {
        // SAFETY: column k of the transposed W is its own row, `stride` long.
        let column = unsafe { columns.range(k * stride, d) };
        for (w, row) in column.iter_mut().zip(weights.chunks_exact(c)) {
            *w = row[k];
        }
    });
    let wt = &*wt;

    let blocks = rows.div_ceil(ROWS_PER_BLOCK).min(MAX_BLOCKS);
    let dc = d * c;
    let (weight_grads, bias_grads) = match grads {
        Some(grads) => {
            let (w, b) = grads[..dc + c].split_at_mut(dc);
            (Some(w), Some(b))
        }
        None => (None, None),
    };
    // Block 0 writes its share of dW straight to the output, the others to
    // scratch; their shares are added to it afterwards in block order.
    let partials = grown(
        partial_weight_grads,
        if weight_grads.is_some() {
            blocks.saturating_sub(1) * dc
        } else {
            0
        },
        "the blocks' shares of the weight gradient",
    )?;
    let context = BlockContext {
        step,
        wt,
        stride,
        bias,
        blocks,
        inv_n: 1.0 / rows as f32,
    };
    let outputs = BlockOutputs {
        scores: DisjointSlices::new(scores),
        dscores: DisjointSlices::new(dscores),
        row_loss: DisjointSlices::new(row_loss),
        weight_grads: weight_grads.map(|w| (DisjointSlices::new(w), DisjointSlices::new(partials))),
    };
    let correct = AtomicUsize::new(0);
    spin_pool::pool().run(blocks, &|b| {
        // SAFETY: each task gets its own block, and blocks are disjoint.
        let out = unsafe { outputs.block(&context, b) };
        correct.fetch_add(run_block(&context, b, out), Ordering::Relaxed);
    });
    let correct = correct.into_inner();
    if let Some((out, partials)) = outputs.weight_grads.filter(|_| blocks > 1) {
        // SAFETY: the blocks' slices of it are no longer alive.
        let partials = unsafe { &*partials.range(0, (blocks - 1) * dc) };
        spin_pool::pool().run(dc.div_ceil(REDUCE_CHUNK), &|chunk| {
            let begin = chunk * REDUCE_CHUNK;
            let len = REDUCE_CHUNK.min(dc - begin);
            // SAFETY: chunks are disjoint ranges of the dc weights.
            let out = unsafe { out.range(begin, len) };
            for share in partials.chunks_exact(dc) {
                for (o, p) in out.iter_mut().zip(&share[begin..begin + len]) {
                    *o += p;
                }
            }
        });
    }
    if let Some(bias_grads) = bias_grads {
        for (j, db) in bias_grads.iter_mut().enumerate() {
            let mut sum = 0.0f32;
            for i in 0..rows {
                sum += dscores[i * c + j];
            }
            *db = sum;
        }
    }
    let mean_loss = lane_tree_sum(row_loss.iter().copied()) * context.inv_n;
    Ok((mean_loss, correct))
}

/// What every block of rows shares.
struct BlockContext<'a> {
    step: &'a FusedStep<'a>,
    wt: &'a [f32],
    stride: usize,
    bias: &'a [f32],
    blocks: usize,
    inv_n: f32,
}

impl BlockContext<'_> {
    /// The batch rows of block `b`: blocks differ in size by at most one row.
    fn rows(&self, b: usize) -> std::ops::Range<usize> {
        let rows = self.step.indices.len();
        b * rows / self.blocks..(b + 1) * rows / self.blocks
    }
}

/// A block's outputs: its rows' values, and its share of dW.
struct BlockSlices<'a> {
    scores: &'a mut [f32],
    dscores: &'a mut [f32],
    row_loss: &'a mut [f32],
    weight_grads: Option<&'a mut [f32]>,
}

/// The step's outputs, from which each block takes its slices.
struct BlockOutputs {
    scores: DisjointSlices,
    dscores: DisjointSlices,
    row_loss: DisjointSlices,
    /// The weight gradient (block 0's share), and the other blocks' shares
    /// one after another.
    weight_grads: Option<(DisjointSlices, DisjointSlices)>,
}

impl BlockOutputs {
    /// # Safety
    /// No two live results may be for the same block.
    unsafe fn block(&self, context: &BlockContext<'_>, b: usize) -> BlockSlices<'_> {
        let dc = context.step.features * context.step.outputs;
        let c = context.step.outputs;
        let rows = context.rows(b);
        let n = rows.len();
        // SAFETY: these ranges are this block's alone (per the contract).
        unsafe {
            BlockSlices {
                scores: self.scores.range(rows.start * c, n * c),
                dscores: self.dscores.range(rows.start * c, n * c),
                row_loss: self.row_loss.range(rows.start, n),
                weight_grads: self.weight_grads.as_ref().map(|(first, rest)| match b {
                    0 => first.range(0, dc),
                    b => rest.range((b - 1) * dc, dc),
                }),
            }
        }
    }
}

/// One block of rows: tiles of scores, loss and dScores, then the block's
/// weight gradient while its rows are still in this core's caches.
fn run_block(context: &BlockContext<'_>, b: usize, out: BlockSlices<'_>) -> usize {
    let step = context.step;
    let (d, c) = (step.features, step.outputs);
    let indices = &step.indices[context.rows(b)];
    let mut correct = 0;
    for (tile, ((scores, dscores), row_loss)) in out
        .scores
        .chunks_mut(ROW_TILE * c)
        .zip(out.dscores.chunks_mut(ROW_TILE * c))
        .zip(out.row_loss.chunks_mut(ROW_TILE))
        .enumerate()
    {
        let tile_rows = &indices[tile * ROW_TILE..tile * ROW_TILE + row_loss.len()];
        forward_tile(
            step.isa,
            step.x,
            d,
            tile_rows,
            context.wt,
            context.stride,
            context.bias,
            scores,
        );
        for (r, loss_out) in row_loss.iter_mut().enumerate() {
            let s = &scores[r * c..(r + 1) * c];
            let target = row_target(step.targets, tile_rows[r] as usize, c);
            *loss_out = loss_row(
                step.loss,
                s,
                target,
                &mut dscores[r * c..(r + 1) * c],
                context.inv_n,
            );
            if let RowTarget::Class { label, .. } = target
                && is_correct(step.loss, s, label)
            {
                correct += 1;
            }
        }
    }
    if let Some(weight_grads) = out.weight_grads {
        let block = FusedStep { indices, ..*step };
        let dscores = &*out.dscores;
        for (chunk, out) in weight_grads[..d * c]
            .chunks_mut(FEATURE_CHUNK * c)
            .enumerate()
        {
            let begin = chunk * FEATURE_CHUNK;
            weight_grad_chunk(&block, dscores, begin, begin + out.len() / c, out);
        }
    }
    correct
}

/// Floats per 64-byte cache line.
const LINE: usize = 16;

/// Row length of the transposed W: whole cache lines, an odd number of
/// them, so that its C rows fall in different L1 sets (rows a multiple of
/// 4 KiB apart would evict one another).
fn transposed_stride(d: usize) -> usize {
    let lines = d.div_ceil(LINE);
    (lines | 1) * LINE
}

/// `scores[r·C + k] = bias[k] + x[rows[r]]·W[:, k]` for a tile of rows.
#[allow(clippy::too_many_arguments)]
fn forward_tile(
    isa: Isa,
    x: &[f32],
    d: usize,
    rows: &[u32],
    wt: &[f32],
    stride: usize,
    bias: &[f32],
    scores: &mut [f32],
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: these are only chosen when the CPU has AVX2 and FMA (an
        // AVX-512 CPU has both; the dot products gain nothing from 16 lanes
        // at the few outputs they serve).
        Isa::Avx512 | Isa::Avx2Fma => unsafe {
            forward_tile_avx2(x, d, rows, wt, stride, bias, scores)
        },
        _ => forward_tile_with::<Portable>(x, d, rows, wt, stride, bias, scores),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_tile_avx2(
    x: &[f32],
    d: usize,
    rows: &[u32],
    wt: &[f32],
    stride: usize,
    bias: &[f32],
    scores: &mut [f32],
) {
    forward_tile_with::<Avx2>(x, d, rows, wt, stride, bias, scores)
}

/// The first of the even-sized groups (at most `max`) that cover `classes`.
fn group_size(classes: usize, max: usize) -> usize {
    classes.div_ceil(classes.div_ceil(max))
}

/// Calls `$f::<V, G>` with `G` the const twin of the runtime group size.
macro_rules! with_group {
    ($g:expr, $f:ident::<$v:ty>($($arg:expr),*)) => {
        match $g {
            1 => $f::<$v, 1>($($arg),*),
            2 => $f::<$v, 2>($($arg),*),
            3 => $f::<$v, 3>($($arg),*),
            4 => $f::<$v, 4>($($arg),*),
            5 => $f::<$v, 5>($($arg),*),
            6 => $f::<$v, 6>($($arg),*),
            7 => $f::<$v, 7>($($arg),*),
            8 => $f::<$v, 8>($($arg),*),
            9 => $f::<$v, 9>($($arg),*),
            10 => $f::<$v, 10>($($arg),*),
            11 => $f::<$v, 11>($($arg),*),
            _ => $f::<$v, MAX_GROUP>($($arg),*),
        }
    };
}

#[inline(always)]
fn forward_tile_with<V: Lanes>(
    x: &[f32],
    d: usize,
    rows: &[u32],
    wt: &[f32],
    stride: usize,
    bias: &[f32],
    scores: &mut [f32],
) {
    let c = bias.len();
    let mut first = 0;
    while first < c {
        let group = group_size(c - first, MAX_PAIR_GROUP);
        with_group!(
            group,
            dot_group::<V>(x, d, rows, wt, stride, bias, first, scores)
        );
        first += group;
    }
}

/// Adds features `begin..end` of R rows to their accumulators, each W
/// load serving all R rows, and prefetches each row's next block.
///
/// # Safety
/// Every pointer in `rows` and `wp + k·stride` for `k < G` must each be
/// valid for reads of `end` floats, and `end − begin` must be a multiple of
/// `V::N` (prefetches may point past the end; they never fault).
#[inline(always)]
unsafe fn dot_block<V: Lanes, const G: usize, const R: usize>(
    rows: [*const f32; R],
    wp: *const f32,
    stride: usize,
    begin: usize,
    end: usize,
    block: usize,
    acc: &mut [[V; G]; R],
) {
    let mut i = begin;
    while i < end {
        if i.is_multiple_of(LINE) {
            for &xp in &rows {
                V::prefetch(xp.wrapping_add(i + block));
            }
        }
        // SAFETY: i + N ≤ end, and the caller guarantees `end` readable
        // floats from every row pointer and from each of W's G rows.
        unsafe {
            let mut xv = [V::zero(); R];
            for (xv, &xp) in xv.iter_mut().zip(&rows) {
                *xv = V::load(xp.add(i));
            }
            for k in 0..G {
                let w = V::load(wp.add(k * stride + i));
                for (acc, xv) in acc.iter_mut().zip(&xv) {
                    acc[k] = xv.mul_add(w, acc[k]);
                }
            }
        }
        i += V::N;
    }
}

/// Scores of the classes `first..first + G` for a tile of rows. D is cut
/// into blocks whose slice of the transposed W stays in L1 while every row
/// of the tile passes over it; each row keeps its accumulators between
/// blocks, so the sums run in plain D order whatever the blocking.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dot_group<V: Lanes, const G: usize>(
    x: &[f32],
    d: usize,
    rows: &[u32],
    wt: &[f32],
    stride: usize,
    bias: &[f32],
    first: usize,
    scores: &mut [f32],
) {
    let c = bias.len();
    let body = d - d % V::N;
    let block = (L1_BLOCK_FLOATS / G).max(LINE) / LINE * LINE;
    let wt = &wt[first * stride..(first + G - 1) * stride + d];
    let wp = wt.as_ptr();
    let mut acc = [[V::zero(); G]; ROW_TILE];
    for &row in rows {
        for i in (0..block.min(d)).step_by(LINE) {
            V::prefetch(x[row as usize * d + i..].as_ptr());
        }
    }
    let row_ptr = |row: u32| x[row as usize * d..(row as usize + 1) * d].as_ptr();
    let mut begin = 0;
    while begin < body {
        let end = (begin + block).min(body);
        let mut pairs = acc.chunks_exact_mut(2).zip(rows.chunks_exact(2));
        for (acc, rows) in &mut pairs {
            let mut pair = [acc[0], acc[1]];
            // SAFETY: each row pointer starts a row of `d ≥ end` floats of
            // `x`; `wt` was sliced to end at W's row first + G − 1 plus `d`,
            // so W row k < G has `d` floats from `wp + k·stride`; `end` is
            // a block boundary within `body`, a multiple of V::N.
            unsafe {
                dot_block::<V, G, 2>(
                    [row_ptr(rows[0]), row_ptr(rows[1])],
                    wp,
                    stride,
                    begin,
                    end,
                    block,
                    &mut pair,
                )
            };
            acc.copy_from_slice(&pair);
        }
        if rows.len() % 2 == 1 {
            let last = rows.len() - 1;
            let mut single = [acc[last]];
            // SAFETY: as for the pairs above.
            unsafe {
                dot_block::<V, G, 1>(
                    [row_ptr(rows[last])],
                    wp,
                    stride,
                    begin,
                    end,
                    block,
                    &mut single,
                )
            };
            acc[last] = single[0];
        }
        begin = end;
    }
    for (r, (acc, &row)) in acc.iter().zip(rows).enumerate() {
        let x = &x[row as usize * d..(row as usize + 1) * d];
        for (k, acc) in acc.iter().enumerate() {
            let mut sum = acc.sum();
            for j in body..d {
                sum = V::mul_add_scalar(x[j], wt[k * stride + j], sum);
            }
            scores[r * c + first + k] = sum + bias[first + k];
        }
    }
}

/// dW rows `begin..end` (C values each) into `out`.
fn weight_grad_chunk(
    step: &FusedStep<'_>,
    dscores: &[f32],
    begin: usize,
    end: usize,
    out: &mut [f32],
) {
    match step.isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: these are only chosen when the CPU has AVX2 and FMA (an
        // AVX-512 CPU has both; the dot products gain nothing from 16 lanes
        // at the few outputs they serve).
        Isa::Avx512 | Isa::Avx2Fma => unsafe {
            weight_grad_chunk_avx2(step, dscores, begin, end, out)
        },
        _ => weight_grad_chunk_with::<Portable>(step, dscores, begin, end, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weight_grad_chunk_avx2(
    step: &FusedStep<'_>,
    dscores: &[f32],
    begin: usize,
    end: usize,
    out: &mut [f32],
) {
    weight_grad_chunk_with::<Avx2>(step, dscores, begin, end, out)
}

#[inline(always)]
fn weight_grad_chunk_with<V: Lanes>(
    step: &FusedStep<'_>,
    dscores: &[f32],
    begin: usize,
    end: usize,
    out: &mut [f32],
) {
    let c = step.outputs;
    let mut first = 0;
    while first < c {
        let group = group_size(c - first, MAX_PAIR_GROUP);
        with_group!(
            group,
            weight_grad_group::<V>(step, dscores, begin, end, first, out)
        );
        first += group;
    }
}

/// The weight gradient of F·N features from `f` for the group's classes:
/// each dS broadcast serves F vectors of features.
///
/// # Safety
/// Every index in `step.indices` must be a row of `step.x` (N×D, row-major,
/// D = `step.features`), and `f + F·V::N ≤ D`.
#[inline(always)]
unsafe fn weight_grad_chunks<V: Lanes, const G: usize, const F: usize>(
    step: &FusedStep<'_>,
    dscores: &[f32],
    f: usize,
    begin: usize,
    first: usize,
    out: &mut [f32],
) {
    let (d, c) = (step.features, step.outputs);
    let xp = step.x.as_ptr();
    let mut acc = [[V::zero(); G]; F];
    for (r, &row) in step.indices.iter().enumerate() {
        let ds = &dscores[r * c + first..r * c + first + G];
        let at = row as usize * d + f;
        // Two lines ahead; prefetching past the row's end is harmless.
        V::prefetch(xp.wrapping_add(at + 2 * LINE));
        let mut xv = [V::zero(); F];
        for (j, xv) in xv.iter_mut().enumerate() {
            // SAFETY: the caller guarantees the row is in `x` and
            // f + F·N ≤ d, so the N floats at `at + j·N` are in the row.
            *xv = unsafe { V::load(xp.add(at + j * V::N)) };
        }
        for (k, &g) in ds.iter().enumerate() {
            let g = V::splat(g);
            for j in 0..F {
                acc[j][k] = g.mul_add(xv[j], acc[j][k]);
            }
        }
    }
    let mut lanes = [[0.0f32; 16]; G];
    for (j, acc) in acc.iter().enumerate() {
        for (acc, lanes) in acc.iter().zip(&mut lanes) {
            // SAFETY: `lanes` rows hold 16 ≥ N values.
            unsafe { acc.store(lanes.as_mut_ptr()) };
        }
        for i in 0..V::N {
            let at = (f + j * V::N + i - begin) * c + first;
            for (o, lanes) in out[at..at + G].iter_mut().zip(&lanes) {
                *o = lanes[i];
            }
        }
    }
}

/// `out[(f − begin)·C + k] = Σ_r x[idx_r, f]·dS[r, k]` for features
/// `begin..end` and classes `first..first + G`, rows summed in order.
#[inline(always)]
fn weight_grad_group<V: Lanes, const G: usize>(
    step: &FusedStep<'_>,
    dscores: &[f32],
    begin: usize,
    end: usize,
    first: usize,
    out: &mut [f32],
) {
    let (d, c) = (step.features, step.outputs);
    let body = begin + (end - begin) / V::N * V::N;
    let mut f = begin;
    // SAFETY: the step's indices were checked against the dataset's rows
    // before the step began, and `body ≤ end ≤ d` bounds every chunk.
    while f + 2 * V::N <= body {
        unsafe { weight_grad_chunks::<V, G, 2>(step, dscores, f, begin, first, out) };
        f += 2 * V::N;
    }
    if f < body {
        unsafe { weight_grad_chunks::<V, G, 1>(step, dscores, f, begin, first, out) };
    }
    for f in body..end {
        for k in 0..G {
            let mut sum = 0.0f32;
            for (r, &row) in step.indices.iter().enumerate() {
                sum = V::mul_add_scalar(
                    dscores[r * c + first + k],
                    step.x[row as usize * d + f],
                    sum,
                );
            }
            out[(f - begin) * c + first + k] = sum;
        }
    }
}
