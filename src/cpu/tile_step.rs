//! The CPU's fused linear step for wide models (tens to thousands of
//! outputs, as linear probes have):
//!
//! 1. scores = X·W + b as register-tiled products ([`product_tile`]), the
//!    rows read in place through the step's indices and W packed into
//!    contiguous column panels once per step, in tasks of one panel by a
//!    group of rows, so that the panel stays in the core's L2 while the
//!    group's rows pass over it; the first panel's tasks then copy their
//!    rows, still in cache, into a batch for step 3;
//! 2. the loss and dScores of each row;
//! 3. dW = Xᵀ·dS in tasks of one column panel of dS by a group of features,
//!    each weight one sum over the rows in order, and db = Σ_rows dS in row
//!    order.
//!
//! Every value is computed whole by one task, so nothing is reduced across
//! threads and the result does not depend on the thread count. A batch
//! larger than [`BATCH_VALUES`] allows is run in chunks of rows that only
//! depend on the feature count; dW and db then add chunk after chunk.
//!
//! The narrow twin ([`super::dot_step`]) wins for a handful of outputs:
//! there, one W load serves too few products to pay for the tiles.

use super::lane_tree_sum;
use super::product_tile::{self, MAX_TILE_ROWS, Operand, Panel, Panels, Start};
use super::reference::{RowTarget, is_correct, loss_row};
use super::simd::Isa;
use super::spin_pool::{self, DisjointSlices};
use super::step_input::{FusedStep, StepParams, grown, row_target};
use super::wide_loss;
use crate::Result;
use crate::loss::Loss;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Outputs from which the tiles beat the narrow step's dot products
/// (measured with `lintrain bench`; see BENCHMARKS.md).
pub(crate) const WIDE_FROM: usize = 24;
/// Values of the gathered batch held at once (8 MiB): longer steps run in
/// chunks of rows.
const BATCH_VALUES: usize = 1 << 21;
/// Rows per task of the scores: with a 64-column panel of W (192 KiB at
/// D = 768) they fit a core's L2 together.
const SCORE_ROWS_PER_TASK: usize = 128;
/// Features per task of the weight gradient.
const GRADIENT_FEATURES_PER_TASK: usize = 96;
/// Values per task of the packing of W.
const PACK_VALUES: usize = 1 << 14;
/// Rows per task of the loss.
const ROWS_PER_TASK: usize = 32;

/// Buffers reused from step to step, grown on demand.
#[derive(Debug, Default)]
pub(crate) struct TileScratch {
    /// Correct rows per member, counted by the loss tasks.
    hits: Vec<AtomicUsize>,
    packed_weights: Vec<f32>,
    batch: Vec<f32>,
    scores: Vec<f32>,
    dscores: Vec<f32>,
    row_loss: Vec<f32>,
}

/// Rows per chunk for `features` columns: a multiple of the widest tile.
fn chunk_rows(features: usize) -> usize {
    (BATCH_VALUES / features.max(1) / MAX_TILE_ROWS).max(1) * MAX_TILE_ROWS
}

/// `0..len` cut into `parts` near-equal ranges; part `i` of them.
fn part(len: usize, parts: usize, i: usize) -> Range<usize> {
    i * len / parts..(i + 1) * len / parts
}

/// Runs the step; writes each member's mean loss and number of correct rows
/// into `member_stats` (one entry per member), and [dW | db] over the start
/// of `grads` when given.
pub(crate) fn run(
    step: &FusedStep<'_>,
    scratch: &mut TileScratch,
    grads: Option<&mut [f32]>,
    member_stats: &mut [(f32, usize)],
) -> Result<()> {
    let (d, c, rows) = (step.features, step.outputs, step.indices.len());
    let members = step.members;
    assert!(
        members >= 1 && c.is_multiple_of(members) && member_stats.len() == members,
        "one stats entry per member, and whole blocks of outputs"
    );
    let chunk = chunk_rows(d);
    let longest = chunk.min(rows);
    // Padding rows: a last partial tile reads up to MAX_TILE_ROWS − 1 rows
    // (or, read as columns, values) past the batch.
    let batch = grown(
        &mut scratch.batch,
        (longest + MAX_TILE_ROWS) * d,
        "the step's gathered rows",
    )?;
    let scores = grown(&mut scratch.scores, longest * c, "the step's scores")?;
    let dscores = grown(
        &mut scratch.dscores,
        longest * c,
        "the step's score gradients",
    )?;
    // Member-major: member m's row losses are `row_loss[m·rows..(m + 1)·rows]`.
    let row_loss = grown(
        &mut scratch.row_loss,
        rows * members,
        "the step's row losses",
    )?;
    if scratch.hits.len() < members {
        scratch.hits.resize_with(members, AtomicUsize::default);
    }
    let hits = &scratch.hits[..members];
    hits.iter().for_each(|h| h.store(0, Ordering::Relaxed));
    let bias = step.params.bias(d, c);
    // `checks::linear_step` refused an empty step, so the first chunk
    // below writes every weight and bias gradient.
    let mut grads = grads.map(|g| g[..d * c + c].split_at_mut(d * c));
    let width = product_tile::panel_width(step.isa);
    let packed = grown(
        &mut scratch.packed_weights,
        Panels::new(step.isa, c).count() * width * d,
        "the step's packed weights",
    )?;
    pack_weights(step.params, d, c, step.isa, packed);
    let inv_n = 1.0 / rows as f32;
    for (index, first) in (0..rows).step_by(chunk).enumerate() {
        let indices = &step.indices[first..first + chunk.min(rows - first)];
        let n = indices.len();
        let chunk = Chunk {
            step,
            indices,
            batch: DisjointSlices::new(batch),
            scores: DisjointSlices::new(&mut scores[..n * c]),
            dscores: DisjointSlices::new(&mut dscores[..n * c]),
        };
        chunk.scores(packed, bias, grads.is_some());
        chunk.losses(row_loss, rows, first, hits, inv_n);
        if let Some((weight_grads, bias_grads)) = grads.as_mut() {
            chunk.gradient(weight_grads, bias_grads, index > 0);
        }
    }
    for ((stats, losses), hits) in member_stats
        .iter_mut()
        .zip(row_loss.chunks_exact(rows))
        .zip(hits)
    {
        *stats = (
            lane_tree_sum(losses.iter().copied()) * inv_n,
            hits.load(Ordering::Relaxed),
        );
    }
    Ok(())
}

/// One chunk of the step's rows and the scratch it fills.
struct Chunk<'a> {
    step: &'a FusedStep<'a>,
    indices: &'a [u32],
    batch: DisjointSlices,
    scores: DisjointSlices,
    dscores: DisjointSlices,
}

impl Chunk<'_> {
    /// The chunk's column panels: at most one tile wide each.
    fn panels(&self) -> usize {
        Panels::new(self.step.isa, self.step.outputs).count()
    }

    /// Columns of panel `j`.
    fn panel_columns(&self, j: usize) -> Range<usize> {
        Panels::new(self.step.isa, self.step.outputs).columns(j)
    }

    /// scores = X[indices]·W + b, the rows read in place and W packed by
    /// [`pack_weights`]. With `keep_rows`, the tasks of the first panel then
    /// copy their rows into the batch for the weight gradient, from their
    /// caches: the rows come from memory once, while tiles work on them,
    /// instead of in a gather pass of their own that only waits on memory.
    fn scores(&self, packed_weights: &[f32], bias: &[f32], keep_rows: bool) {
        let (x, d, c, n) = (
            self.step.x,
            self.step.features,
            self.step.outputs,
            self.indices.len(),
        );
        let groups = n.div_ceil(SCORE_ROWS_PER_TASK);
        let width = product_tile::panel_width(self.step.isa);
        // SAFETY (raw): each task writes its own panel of its own rows.
        let (scores, _) = unsafe { self.scores.raw() };
        let scores = SendPtr(scores);
        spin_pool::pool().run(self.panels() * groups, &|t| {
            let (panel, group) = (t / groups, t % groups);
            let columns = self.panel_columns(panel);
            let rows = part(n, groups, group);
            let job = Panel {
                a: Operand::Rows {
                    base: x.as_ptr(),
                    ld: d,
                    indices: self.indices.as_ptr(),
                    count: n,
                },
                b: packed_weights[panel * width * d..].as_ptr(),
                ldb: width,
                depth: d,
                out: scores.get().wrapping_add(columns.start),
                ldc: c,
                width: columns.len(),
                start: Start::Bias(bias[columns.start..].as_ptr()),
            };
            // SAFETY: every index was checked against X's rows (D values
            // each) before the step, and there are n of them; the packed W
            // has D rows of `width` values per panel; the scores have n rows
            // of C; the panel is at most one tile wide, and `isa` was
            // detected on this CPU.
            unsafe { product_tile::panel(self.step.isa, &job, rows.clone()) };
            if keep_rows && panel == 0 {
                // SAFETY: only the first panel's tasks write the batch, each
                // its own rows.
                let out = unsafe { self.batch.range(rows.start * d, rows.len() * d) };
                for (out, &row) in out.chunks_exact_mut(d).zip(&self.indices[rows]) {
                    let row = row as usize;
                    out.copy_from_slice(&x[row * d..(row + 1) * d]);
                }
            }
        });
    }

    /// Each row's loss per member into `row_loss` (member-major, `rows`
    /// per member, this chunk's from `first`) and its dScores (already
    /// divided by the step's rows); adds each member's correct rows to
    /// `hits`.
    fn losses(
        &self,
        row_loss: &mut [f32],
        rows_total: usize,
        first: usize,
        hits: &[AtomicUsize],
        inv_n: f32,
    ) {
        let (c, n) = (self.step.outputs, self.indices.len());
        let block = c / self.step.members;
        let row_loss = DisjointSlices::new(row_loss);
        spin_pool::pool().run(n.div_ceil(ROWS_PER_TASK), &|t| {
            let rows = t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(n);
            // SAFETY: each task owns its rows of each buffer, and the scores
            // are no longer written.
            let (scores, dscores) = unsafe {
                (
                    &*self.scores.range(rows.start * c, rows.len() * c),
                    self.dscores.range(rows.start * c, rows.len() * c),
                )
            };
            for (member, hits) in hits.iter().enumerate() {
                // SAFETY: each task owns its rows of each member's losses.
                let losses =
                    unsafe { row_loss.range(member * rows_total + first + rows.start, rows.len()) };
                let blocks =
                    scores
                        .chunks_exact(c)
                        .zip(dscores.chunks_exact_mut(c))
                        .map(|(s, ds)| {
                            let at = member * block..(member + 1) * block;
                            (&s[at.clone()], &mut ds[at])
                        });
                let correct = self.block_losses(blocks, losses, &self.indices[rows.clone()], inv_n);
                hits.fetch_add(correct, Ordering::Relaxed);
            }
        });
    }

    /// The losses of one member's block of every row of a task; returns its
    /// correct rows.
    fn block_losses<'s>(
        &self,
        blocks: impl Iterator<Item = (&'s [f32], &'s mut [f32])>,
        losses: &mut [f32],
        indices: &[u32],
        inv_n: f32,
    ) -> usize {
        let c = self.step.outputs / self.step.members;
        let mut hits = 0;
        for (((s, ds), loss), &row) in blocks.zip(losses).zip(indices) {
            let target = row_target(self.step.targets, row as usize, c);
            let vectors = match (self.step.loss, target) {
                (
                    &Loss::SoftmaxCrossEntropy { label_smoothing },
                    RowTarget::Class { label, weight },
                ) => wide_loss::softmax_row(
                    self.step.isa,
                    s,
                    label as usize,
                    weight,
                    label_smoothing,
                    ds,
                    inv_n,
                ),
                _ => None,
            };
            *loss = vectors.unwrap_or_else(|| loss_row(self.step.loss, s, target, ds, inv_n));
            if let RowTarget::Class { label, .. } = target
                && is_correct(self.step.loss, s, label)
            {
                hits += 1;
            }
        }
        hits
    }

    /// dW = batchᵀ·dS and db = Σ_rows dS, or both added to what they hold
    /// when `accumulate`: a task per panel and group of features, then a
    /// task per panel of db.
    fn gradient(&self, weight_grads: &mut [f32], bias_grads: &mut [f32], accumulate: bool) {
        let (d, c, n) = (self.step.features, self.step.outputs, self.indices.len());
        let (panels, groups) = (self.panels(), d.div_ceil(GRADIENT_FEATURES_PER_TASK));
        // SAFETY (raw): the batch and dS are only read here.
        let ((batch, _), (dscores, _)) = unsafe { (self.batch.raw(), self.dscores.raw()) };
        let (batch, dscores) = (SendPtr(batch), SendPtr(dscores));
        let out = SendPtr(weight_grads.as_mut_ptr());
        let bias_grads = DisjointSlices::new(bias_grads);
        spin_pool::pool().run(panels * groups + panels, &|t| {
            if t >= panels * groups {
                let columns = self.panel_columns(t - panels * groups);
                // SAFETY: each of these tasks owns its panel's columns of
                // db, and dS is only read.
                let (db, dscores) = unsafe {
                    (
                        bias_grads.range(columns.start, columns.len()),
                        std::slice::from_raw_parts(dscores.get(), n * c),
                    )
                };
                return bias_gradient(dscores, c, columns.start, db, accumulate);
            }
            let columns = self.panel_columns(t / groups);
            let job = Panel {
                a: Operand::Columns {
                    base: batch.get(),
                    ld: d,
                },
                b: dscores.get().wrapping_add(columns.start),
                ldb: c,
                depth: n,
                out: out.get().wrapping_add(columns.start),
                ldc: c,
                width: columns.len(),
                start: if accumulate {
                    Start::Accumulate
                } else {
                    Start::Zero
                },
            };
            // SAFETY: read as columns, the batch's values up to
            // (n − 1)·D + D + MAX_TILE_ROWS − 2 exist (its padding rows);
            // dS has n rows of C; dW has D rows of C, and each task writes
            // its own panel of its own features; `isa` was detected here.
            unsafe { product_tile::panel(self.step.isa, &job, part(d, groups, t % groups)) };
        });
    }
}

/// W's column panels one after another, each D rows of `width` values
/// (the last panel's rows padded), so that a panel's tiles read it as one
/// contiguous run instead of a `width`-wide strip in every 4·C-byte row: a
/// strip touches a new page at every row, and the TLB misses slowed the
/// scores by a third at C = 1000.
fn pack_weights(weights: StepParams<'_>, d: usize, c: usize, isa: Isa, packed: &mut [f32]) {
    let width = product_tile::panel_width(isa);
    let layout = Panels::new(isa, c);
    let panels = layout.count();
    let rows_per_task = (PACK_VALUES / width).max(1);
    let tasks_per_panel = d.div_ceil(rows_per_task);
    let out = DisjointSlices::new(packed);
    spin_pool::pool().run(panels * tasks_per_panel, &|t| {
        let (panel, part) = (t / tasks_per_panel, t % tasks_per_panel);
        let rows = part * rows_per_task..((part + 1) * rows_per_task).min(d);
        let columns = layout.columns(panel);
        // SAFETY: each task owns its rows of its panel.
        let out = unsafe { out.range((panel * d + rows.start) * width, rows.len() * width) };
        for (out, row) in out.chunks_exact_mut(width).zip(rows) {
            weights.copy_row(row, c, columns.clone(), &mut out[..columns.len()]);
        }
    });
}

/// `db (=|+=) Σ_r dS[r, first..first + len]`, rows in order.
fn bias_gradient(dscores: &[f32], c: usize, first: usize, db: &mut [f32], accumulate: bool) {
    if !accumulate {
        db.fill(0.0);
    }
    for row in dscores.chunks_exact(c) {
        for (db, ds) in db.iter_mut().zip(&row[first..]) {
            *db += ds;
        }
    }
}

/// A raw pointer that tasks share; what each task may touch through it is
/// stated where it is used.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);

// SAFETY: only dereferenced by tasks on disjoint elements (see its uses).
unsafe impl Sync for SendPtr {}

impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
