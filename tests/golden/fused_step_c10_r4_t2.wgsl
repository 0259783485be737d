// The per-row loss math, written once for the unfused loss kernels
// (softmax_xent, hinge, regression: scores in storage) and the fused step
// (scores in registers): src/gpu/shader_modules.rs and src/gpu/fused_source.rs put
// this file first in each of those modules. Pure functions of per-output
// values: the loops over a row stay in the kernels, since each walks its
// own memory. src/cpu/reference.rs states the same formulas on the CPU; the
// parity tests compare the two within tolerances.

// One output's share of its row's loss, and the derivative of that share
// with respect to the output's score: dScores before the 1/N of the batch
// mean, which the kernel applies as it writes them.
struct LossTerm {
    loss: f32,
    slope: f32,
}

// exp(s − max_k s_k): subtracting the row maximum first keeps exp finite
// for any scores, and the largest term is exactly 1.
fn softmax_shifted_exp(score: f32, row_max: f32) -> f32 {
    return exp(score - row_max);
}

// log p_j = s_j − max_k s_k − log Σ_k exp(s_k − max_k s_k), with `log_total`
// that last log.
fn softmax_log_probability(score: f32, row_max: f32, log_total: f32) -> f32 {
    return score - row_max - log_total;
}

// Label smoothing ε spreads ε/C of the target uniformly over all C classes.
fn uniform_target(smoothing: f32, classes: u32) -> f32 {
    return smoothing / f32(classes);
}

// The smoothed target q_j = ε/C + (1 − ε)·[j = y], given `uniform_q` = ε/C.
fn smoothed_target(uniform_q: f32, smoothing: f32, is_label: bool) -> f32 {
    return uniform_q + select(0.0, 1.0 - smoothing, is_label);
}

// Cross-entropy −q_j·log p_j, slope p_j − q_j. A class weight w_y scales
// the whole row (loss and slopes), so the kernel applies it.
fn softmax_term(log_p: f32, q: f32) -> LossTerm {
    return LossTerm(-(q * log_p), exp(log_p) - q);
}

// Weston–Watkins hinge for an output j ≠ y: m = s_j − s_y + Δ, loss max(0, m)
// (slope 1) or max(0, m)² (slope 2m) when squared. The label's own slope is
// minus the sum of the others', which the kernel accumulates.
fn hinge_term(score: f32, label_score: f32, margin: f32, squared: bool) -> LossTerm {
    let m = score - label_score + margin;
    if m > 0.0 {
        if squared {
            return LossTerm(m * m, 2.0 * m);
        }
        return LossTerm(m, 1.0);
    }
    return LossTerm(0.0, 0.0);
}

// Squared error (s − t)² of score s and target t, slope 2(s − t).
fn squared_error_term(score: f32, target_value: f32) -> LossTerm {
    let d = score - target_value;
    return LossTerm(d * d, 2.0 * d);
}

// σ(x) = 1 / (1 + exp(−x)), evaluated so that exp never overflows.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// Binary cross-entropy with logits in its stable form
// max(s, 0) + log(1 + exp(−|s|)) − s·t of score s and target t (0 or 1, or
// a probability), slope σ(s) − t.
fn logistic_term(score: f32, target_value: f32) -> LossTerm {
    let loss = max(score, 0.0) + log(1.0 + exp(-abs(score))) - score * target_value;
    return LossTerm(loss, sigmoid(score) - target_value);
}

// The target of output j for a row with a class label: with one output the
// label itself (0 or 1), else one-hot. Real-valued targets are read by the
// kernel, each from its own memory.
fn class_target(outputs: u32, label: u32, j: u32) -> f32 {
    if outputs == 1u {
        return f32(label);
    }
    return select(0.0, 1.0, j == label);
}

// The score above which a single output predicts class 1: mean squared
// error fits the labels 0 and 1 themselves, so halfway between them; for
// the other losses the score is a logit or a margin, so its sign decides.
fn single_output_threshold(squared_error: bool) -> f32 {
    return select(0.0, 0.5, squared_error);
}

// 1 when a row with a class label is classified correctly, else 0: with one
// output when its score is above `threshold` exactly when the label is 1,
// with more when `predicted` (the first index of the row's largest score)
// is the label. Rows with real-valued targets have no class to get right;
// the kernels count them as 0 without reading a label.
fn classified_correctly(outputs: u32, first_score: f32, threshold: f32, predicted: u32, label: u32) -> f32 {
    if outputs == 1u {
        return select(0.0, 1.0, (first_score > threshold) == (label == 1u));
    }
    return select(0.0, 1.0, predicted == label);
}
// Fused linear step over a minibatch read in place through its row indices,
// in two kernels:
//   fused_scores       lanes = batch rows: scores = x·W + b, the loss, dScores
//   fused_weight_grad  lanes = groups of 4 features: dW = xᵀ·dS, and in
//                      workgroup 0 db and the batch's loss and correct count
// This file holds their bindings and per-row helpers (the loss math itself is
// loss_math.wgsl, prepended); the kernels themselves are generated for each
// pipeline's C (src/gpu/fused_source.rs) and appended.
// Dataset rows live in an rgba32float texture array (one texture row per
// dataset row, zero-padded to a multiple of 4 features). On CPU-type
// adapters (lavapipe) a load costs as much when every lane reads the same
// address as when each reads its own, so values every lane needs (W, dS,
// row indices) are loaded once across the 8 lanes and then broadcast from
// lane to lane, which is a register move. A workgroup is one subgroup of 8
// (the host checks the adapter's subgroup sizes). Every sum runs in a fixed
// order: no atomics, deterministic.

struct StepParams {
    rows: u32,
    d: u32,
    layer_rows: u32,
    first: u32,
    flags: u32,
    slot: u32,
    margin: f32,
    smoothing: f32,
    inv_rows: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

const HAS_CLASS_WEIGHTS: u32 = 1u;
const REAL_TARGETS: u32 = 2u;
const WITH_GRADS: u32 = 8u;

const SOFTMAX: u32 = 0u;
const HINGE: u32 = 1u;
const SQUARED_HINGE: u32 = 2u;
const MSE: u32 = 3u;
const LOGISTIC: u32 = 4u;

// Outputs (columns of W) and the loss.
override C: u32 = 10u;
override LOSS: u32 = 0u;
const MAX_C: u32 = 16u;
// vec4s per 64 KiB uniform window.
const WINDOW_VEC4S: u32 = 4096u;

@group(0) @binding(0) var<uniform> p: StepParams;
@group(0) @binding(1) var x_rows: texture_2d_array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> class_weights: array<f32>;
@group(0) @binding(5) var target_rows: texture_2d_array<f32>;
// W by feature texel: texel t (features 4t..4t+3) is the C vec4s of W's
// rows 4t..4t+3, zero past the last feature. Window k holds texels
// k·⌊4096/C⌋ onwards, so no texel straddles two windows.
@group(0) @binding(6) var<uniform> w0: array<vec4<f32>, WINDOW_VEC4S>;
@group(0) @binding(7) var<uniform> w1: array<vec4<f32>, WINDOW_VEC4S>;
@group(0) @binding(8) var<uniform> w2: array<vec4<f32>, WINDOW_VEC4S>;
@group(0) @binding(9) var<uniform> w3: array<vec4<f32>, WINDOW_VEC4S>;
@group(0) @binding(15) var<uniform> bias: array<vec4<f32>, 4>;
// Batch scratch: [dS (rows × C) | row loss | row correct | row index bits].
@group(0) @binding(10) var<storage, read_write> batch_out: array<f32>;
@group(0) @binding(11) var<uniform> batch_in: array<vec4<f32>, WINDOW_VEC4S>;
@group(0) @binding(12) var<storage, read_write> grads4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> grads: array<f32>;
@group(0) @binding(14) var<storage, read_write> stats: array<f32>;

fn has_flag(flag: u32) -> bool {
    return (p.flags & flag) != 0u;
}

fn batch_at(e: u32) -> f32 {
    return batch_in[e >> 2u][e & 3u];
}

fn texel_of(row: u32) -> vec2<u32> {
    return vec2(row % p.layer_rows, row / p.layer_rows);
}

// Target of output j: a real value, or the class target of the label.
fn target_of(label: u32, values: array<f32, MAX_C>, j: u32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return values[j];
    }
    return class_target(C, label, j);
}

struct RowResult {
    loss: f32,
    correct: f32,
    ds: array<f32, MAX_C>,
}

// The loss of one row, as the unfused loss kernels compute it: the same
// loss_math.wgsl formulas, over scores in registers.
fn row_result(s: array<f32, MAX_C>, label: u32, values: array<f32, MAX_C>) -> RowResult {
    var out: RowResult;
    var best = 0u;
    for (var j = 1u; j < C; j++) {
        if s[j] > s[best] {
            best = j;
        }
    }
    if LOSS == SOFTMAX {
        var row_max = s[0];
        for (var j = 1u; j < C; j++) {
            row_max = max(row_max, s[j]);
        }
        var total = 0.0;
        for (var j = 0u; j < C; j++) {
            total += softmax_shifted_exp(s[j], row_max);
        }
        let log_total = log(total);
        var weight = 1.0;
        if has_flag(HAS_CLASS_WEIGHTS) {
            weight = class_weights[label];
        }
        let uniform_q = uniform_target(p.smoothing, C);
        var loss = 0.0;
        for (var j = 0u; j < C; j++) {
            let log_p = softmax_log_probability(s[j], row_max, log_total);
            let term = softmax_term(log_p, smoothed_target(uniform_q, p.smoothing, j == label));
            loss += term.loss;
            out.ds[j] = weight * term.slope * p.inv_rows;
        }
        out.loss = weight * loss;
    } else if LOSS == HINGE || LOSS == SQUARED_HINGE {
        let s_y = s[min(label, C - 1u)];
        var loss = 0.0;
        var d_y = 0.0;
        for (var j = 0u; j < C; j++) {
            var term = LossTerm(0.0, 0.0);
            if j != label {
                term = hinge_term(s[j], s_y, p.margin, LOSS == SQUARED_HINGE);
            }
            loss += term.loss;
            d_y -= term.slope;
            out.ds[j] = term.slope * p.inv_rows;
        }
        for (var j = 0u; j < C; j++) {
            if j == label {
                out.ds[j] = d_y * p.inv_rows;
            }
        }
        out.loss = loss;
    } else if LOSS == MSE {
        var loss = 0.0;
        for (var j = 0u; j < C; j++) {
            let term = squared_error_term(s[j], target_of(label, values, j));
            loss += term.loss;
            out.ds[j] = term.slope * p.inv_rows;
        }
        out.loss = loss;
    } else {
        var loss = 0.0;
        for (var j = 0u; j < C; j++) {
            let term = logistic_term(s[j], target_of(label, values, j));
            loss += term.loss;
            out.ds[j] = term.slope * p.inv_rows;
        }
        out.loss = loss;
    }
    if has_flag(REAL_TARGETS) {
        out.correct = 0.0;
    } else {
        out.correct = classified_correctly(C, s[0], single_output_threshold(LOSS == MSE), best, label);
    }
    return out;
}

// The loss of batch row r (if it is one) from its scores: writes its dS,
// loss, correct flag and dataset row index into the batch scratch.
fn finish_row(r: u32, at: vec2<u32>, s: array<f32, MAX_C>) {
    if r >= p.rows {
        return;
    }
    let row = indices[p.first + r];
    var label = 0u;
    var values: array<f32, MAX_C>;
    if has_flag(REAL_TARGETS) {
        for (var j = 0u; j < C; j++) {
            values[j] = textureLoad(target_rows, vec2(j / 4u, at.x), at.y, 0)[j & 3u];
        }
    } else {
        label = labels[row];
    }
    let result = row_result(s, label, values);
    for (var j = 0u; j < C; j++) {
        batch_out[r * C + j] = result.ds[j];
    }
    let tail = p.rows * C;
    batch_out[tail + r] = result.loss;
    batch_out[tail + p.rows + r] = result.correct;
    batch_out[tail + 2u * p.rows + r] = bitcast<f32>(row);
}

// Generated for C = 10, 4 rows per lane.
struct Scores {
    r0c0: vec4<f32>,
    r0c1: vec4<f32>,
    r0c2: vec4<f32>,
    r1c0: vec4<f32>,
    r1c1: vec4<f32>,
    r1c2: vec4<f32>,
    r2c0: vec4<f32>,
    r2c1: vec4<f32>,
    r2c2: vec4<f32>,
    r3c0: vec4<f32>,
    r3c1: vec4<f32>,
    r3c2: vec4<f32>,
}

struct RowTexels {
    a0: vec2<u32>,
    a1: vec2<u32>,
    a2: vec2<u32>,
    a3: vec2<u32>,
}

fn add_texel(s: ptr<function, Scores>, at: RowTexels, t: u32, lo: vec4<f32>, hi: vec4<f32>) {
    let x0 = textureLoad(x_rows, vec2(t, at.a0.x), at.a0.y, 0);
    let x1 = textureLoad(x_rows, vec2(t, at.a1.x), at.a1.y, 0);
    let x2 = textureLoad(x_rows, vec2(t, at.a2.x), at.a2.y, 0);
    let x3 = textureLoad(x_rows, vec2(t, at.a3.x), at.a3.y, 0);
    let w0_0 = subgroupBroadcast(lo.x, 0u);
    let w0_1 = subgroupBroadcast(lo.y, 0u);
    let w0_2 = subgroupBroadcast(lo.z, 0u);
    let w0_3 = subgroupBroadcast(lo.w, 0u);
    let w0_4 = subgroupBroadcast(lo.x, 1u);
    let w0_5 = subgroupBroadcast(lo.y, 1u);
    let w0_6 = subgroupBroadcast(lo.z, 1u);
    let w0_7 = subgroupBroadcast(lo.w, 1u);
    let w0_8 = subgroupBroadcast(lo.x, 2u);
    let w0_9 = subgroupBroadcast(lo.y, 2u);
    let w1_0 = subgroupBroadcast(lo.z, 2u);
    let w1_1 = subgroupBroadcast(lo.w, 2u);
    let w1_2 = subgroupBroadcast(lo.x, 3u);
    let w1_3 = subgroupBroadcast(lo.y, 3u);
    let w1_4 = subgroupBroadcast(lo.z, 3u);
    let w1_5 = subgroupBroadcast(lo.w, 3u);
    let w1_6 = subgroupBroadcast(lo.x, 4u);
    let w1_7 = subgroupBroadcast(lo.y, 4u);
    let w1_8 = subgroupBroadcast(lo.z, 4u);
    let w1_9 = subgroupBroadcast(lo.w, 4u);
    let w2_0 = subgroupBroadcast(lo.x, 5u);
    let w2_1 = subgroupBroadcast(lo.y, 5u);
    let w2_2 = subgroupBroadcast(lo.z, 5u);
    let w2_3 = subgroupBroadcast(lo.w, 5u);
    let w2_4 = subgroupBroadcast(lo.x, 6u);
    let w2_5 = subgroupBroadcast(lo.y, 6u);
    let w2_6 = subgroupBroadcast(lo.z, 6u);
    let w2_7 = subgroupBroadcast(lo.w, 6u);
    let w2_8 = subgroupBroadcast(lo.x, 7u);
    let w2_9 = subgroupBroadcast(lo.y, 7u);
    let w3_0 = subgroupBroadcast(lo.z, 7u);
    let w3_1 = subgroupBroadcast(lo.w, 7u);
    let w3_2 = subgroupBroadcast(hi.x, 0u);
    let w3_3 = subgroupBroadcast(hi.y, 0u);
    let w3_4 = subgroupBroadcast(hi.z, 0u);
    let w3_5 = subgroupBroadcast(hi.w, 0u);
    let w3_6 = subgroupBroadcast(hi.x, 1u);
    let w3_7 = subgroupBroadcast(hi.y, 1u);
    let w3_8 = subgroupBroadcast(hi.z, 1u);
    let w3_9 = subgroupBroadcast(hi.w, 1u);
    let w0q0 = vec4(w0_0, w0_1, w0_2, w0_3);
    (*s).r0c0 = fma(vec4(x0.x), w0q0, (*s).r0c0);
    (*s).r1c0 = fma(vec4(x1.x), w0q0, (*s).r1c0);
    (*s).r2c0 = fma(vec4(x2.x), w0q0, (*s).r2c0);
    (*s).r3c0 = fma(vec4(x3.x), w0q0, (*s).r3c0);
    let w0q1 = vec4(w0_4, w0_5, w0_6, w0_7);
    (*s).r0c1 = fma(vec4(x0.x), w0q1, (*s).r0c1);
    (*s).r1c1 = fma(vec4(x1.x), w0q1, (*s).r1c1);
    (*s).r2c1 = fma(vec4(x2.x), w0q1, (*s).r2c1);
    (*s).r3c1 = fma(vec4(x3.x), w0q1, (*s).r3c1);
    let w0q2 = vec4(w0_8, w0_9, 0.0, 0.0);
    (*s).r0c2 = fma(vec4(x0.x), w0q2, (*s).r0c2);
    (*s).r1c2 = fma(vec4(x1.x), w0q2, (*s).r1c2);
    (*s).r2c2 = fma(vec4(x2.x), w0q2, (*s).r2c2);
    (*s).r3c2 = fma(vec4(x3.x), w0q2, (*s).r3c2);
    let w1q0 = vec4(w1_0, w1_1, w1_2, w1_3);
    (*s).r0c0 = fma(vec4(x0.y), w1q0, (*s).r0c0);
    (*s).r1c0 = fma(vec4(x1.y), w1q0, (*s).r1c0);
    (*s).r2c0 = fma(vec4(x2.y), w1q0, (*s).r2c0);
    (*s).r3c0 = fma(vec4(x3.y), w1q0, (*s).r3c0);
    let w1q1 = vec4(w1_4, w1_5, w1_6, w1_7);
    (*s).r0c1 = fma(vec4(x0.y), w1q1, (*s).r0c1);
    (*s).r1c1 = fma(vec4(x1.y), w1q1, (*s).r1c1);
    (*s).r2c1 = fma(vec4(x2.y), w1q1, (*s).r2c1);
    (*s).r3c1 = fma(vec4(x3.y), w1q1, (*s).r3c1);
    let w1q2 = vec4(w1_8, w1_9, 0.0, 0.0);
    (*s).r0c2 = fma(vec4(x0.y), w1q2, (*s).r0c2);
    (*s).r1c2 = fma(vec4(x1.y), w1q2, (*s).r1c2);
    (*s).r2c2 = fma(vec4(x2.y), w1q2, (*s).r2c2);
    (*s).r3c2 = fma(vec4(x3.y), w1q2, (*s).r3c2);
    let w2q0 = vec4(w2_0, w2_1, w2_2, w2_3);
    (*s).r0c0 = fma(vec4(x0.z), w2q0, (*s).r0c0);
    (*s).r1c0 = fma(vec4(x1.z), w2q0, (*s).r1c0);
    (*s).r2c0 = fma(vec4(x2.z), w2q0, (*s).r2c0);
    (*s).r3c0 = fma(vec4(x3.z), w2q0, (*s).r3c0);
    let w2q1 = vec4(w2_4, w2_5, w2_6, w2_7);
    (*s).r0c1 = fma(vec4(x0.z), w2q1, (*s).r0c1);
    (*s).r1c1 = fma(vec4(x1.z), w2q1, (*s).r1c1);
    (*s).r2c1 = fma(vec4(x2.z), w2q1, (*s).r2c1);
    (*s).r3c1 = fma(vec4(x3.z), w2q1, (*s).r3c1);
    let w2q2 = vec4(w2_8, w2_9, 0.0, 0.0);
    (*s).r0c2 = fma(vec4(x0.z), w2q2, (*s).r0c2);
    (*s).r1c2 = fma(vec4(x1.z), w2q2, (*s).r1c2);
    (*s).r2c2 = fma(vec4(x2.z), w2q2, (*s).r2c2);
    (*s).r3c2 = fma(vec4(x3.z), w2q2, (*s).r3c2);
    let w3q0 = vec4(w3_0, w3_1, w3_2, w3_3);
    (*s).r0c0 = fma(vec4(x0.w), w3q0, (*s).r0c0);
    (*s).r1c0 = fma(vec4(x1.w), w3q0, (*s).r1c0);
    (*s).r2c0 = fma(vec4(x2.w), w3q0, (*s).r2c0);
    (*s).r3c0 = fma(vec4(x3.w), w3q0, (*s).r3c0);
    let w3q1 = vec4(w3_4, w3_5, w3_6, w3_7);
    (*s).r0c1 = fma(vec4(x0.w), w3q1, (*s).r0c1);
    (*s).r1c1 = fma(vec4(x1.w), w3q1, (*s).r1c1);
    (*s).r2c1 = fma(vec4(x2.w), w3q1, (*s).r2c1);
    (*s).r3c1 = fma(vec4(x3.w), w3q1, (*s).r3c1);
    let w3q2 = vec4(w3_8, w3_9, 0.0, 0.0);
    (*s).r0c2 = fma(vec4(x0.w), w3q2, (*s).r0c2);
    (*s).r1c2 = fma(vec4(x1.w), w3q2, (*s).r1c2);
    (*s).r2c2 = fma(vec4(x2.w), w3q2, (*s).r2c2);
    (*s).r3c2 = fma(vec4(x3.w), w3q2, (*s).r3c2);
}

@compute @workgroup_size(8, 1, 1)
fn fused_scores(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    var at: RowTexels;
    var s: Scores;
    let r0 = (wid.x * 4u + 0u) * 8u + lid.x;
    at.a0 = texel_of(indices[p.first + min(r0, p.rows - 1u)]);
    s.r0c0 = bias[0];
    s.r0c1 = bias[1];
    s.r0c2 = bias[2];
    let r1 = (wid.x * 4u + 1u) * 8u + lid.x;
    at.a1 = texel_of(indices[p.first + min(r1, p.rows - 1u)]);
    s.r1c0 = bias[0];
    s.r1c1 = bias[1];
    s.r1c2 = bias[2];
    let r2 = (wid.x * 4u + 2u) * 8u + lid.x;
    at.a2 = texel_of(indices[p.first + min(r2, p.rows - 1u)]);
    s.r2c0 = bias[0];
    s.r2c1 = bias[1];
    s.r2c2 = bias[2];
    let r3 = (wid.x * 4u + 3u) * 8u + lid.x;
    at.a3 = texel_of(indices[p.first + min(r3, p.rows - 1u)]);
    s.r3c0 = bias[0];
    s.r3c1 = bias[1];
    s.r3c2 = bias[2];
    let first = min(lane, 9u);
    let second = min(lane + 8u, 9u);
    let texels = (p.d + 3u) / 4u;
    var t = 0u;
    for (; t < min(texels, 409u); t++) {
        let v = (t - 0u) * 10u;
        add_texel(&s, at, t, w0[v + first], w0[v + second]);
    }
    for (; t < min(texels, 818u); t++) {
        let v = (t - 409u) * 10u;
        add_texel(&s, at, t, w1[v + first], w1[v + second]);
    }
    for (; t < min(texels, 1227u); t++) {
        let v = (t - 818u) * 10u;
        add_texel(&s, at, t, w2[v + first], w2[v + second]);
    }
    for (; t < min(texels, 1636u); t++) {
        let v = (t - 1227u) * 10u;
        add_texel(&s, at, t, w3[v + first], w3[v + second]);
    }
    finish_row(r0, at.a0, array<f32, MAX_C>(s.r0c0.x, s.r0c0.y, s.r0c0.z, s.r0c0.w, s.r0c1.x, s.r0c1.y, s.r0c1.z, s.r0c1.w, s.r0c2.x, s.r0c2.y, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
    finish_row(r1, at.a1, array<f32, MAX_C>(s.r1c0.x, s.r1c0.y, s.r1c0.z, s.r1c0.w, s.r1c1.x, s.r1c1.y, s.r1c1.z, s.r1c1.w, s.r1c2.x, s.r1c2.y, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
    finish_row(r2, at.a2, array<f32, MAX_C>(s.r2c0.x, s.r2c0.y, s.r2c0.z, s.r2c0.w, s.r2c1.x, s.r2c1.y, s.r2c1.z, s.r2c1.w, s.r2c2.x, s.r2c2.y, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
    finish_row(r3, at.a3, array<f32, MAX_C>(s.r3c0.x, s.r3c0.y, s.r3c0.z, s.r3c0.w, s.r3c1.x, s.r3c1.y, s.r3c1.z, s.r3c1.w, s.r3c2.x, s.r3c2.y, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
}

// Generated for C = 10, 2 feature texels per lane.
struct Grads {
    f0j0: vec4<f32>,
    f0j1: vec4<f32>,
    f0j2: vec4<f32>,
    f0j3: vec4<f32>,
    f0j4: vec4<f32>,
    f0j5: vec4<f32>,
    f0j6: vec4<f32>,
    f0j7: vec4<f32>,
    f0j8: vec4<f32>,
    f0j9: vec4<f32>,
    f1j0: vec4<f32>,
    f1j1: vec4<f32>,
    f1j2: vec4<f32>,
    f1j3: vec4<f32>,
    f1j4: vec4<f32>,
    f1j5: vec4<f32>,
    f1j6: vec4<f32>,
    f1j7: vec4<f32>,
    f1j8: vec4<f32>,
    f1j9: vec4<f32>,
}

fn add_rows(g: ptr<function, Grads>, columns: vec4<u32>, r0: u32, lane: u32) {
    let index_bits = batch_at(p.rows * 10u + 2u * p.rows + min(r0 + lane, p.rows - 1u));
    let d0 = batch_in[(r0 / 4u) * 10u + 0u + lane];
    let d1 = batch_in[(r0 / 4u) * 10u + 8u + lane];
    let d2 = batch_in[(r0 / 4u) * 10u + 16u + lane];
    let live0 = r0 + 0u < p.rows;
    let at0 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 0u));
    let x0_0 = textureLoad(x_rows, vec2(columns.x, at0.x), at0.y, 0);
    let x0_1 = textureLoad(x_rows, vec2(columns.y, at0.x), at0.y, 0);
    let g0_0 = vec4(select(0.0, subgroupBroadcast(d0.x, 0u), live0));
    (*g).f0j0 = fma(x0_0, g0_0, (*g).f0j0);
    (*g).f1j0 = fma(x0_1, g0_0, (*g).f1j0);
    let g0_1 = vec4(select(0.0, subgroupBroadcast(d0.y, 0u), live0));
    (*g).f0j1 = fma(x0_0, g0_1, (*g).f0j1);
    (*g).f1j1 = fma(x0_1, g0_1, (*g).f1j1);
    let g0_2 = vec4(select(0.0, subgroupBroadcast(d0.z, 0u), live0));
    (*g).f0j2 = fma(x0_0, g0_2, (*g).f0j2);
    (*g).f1j2 = fma(x0_1, g0_2, (*g).f1j2);
    let g0_3 = vec4(select(0.0, subgroupBroadcast(d0.w, 0u), live0));
    (*g).f0j3 = fma(x0_0, g0_3, (*g).f0j3);
    (*g).f1j3 = fma(x0_1, g0_3, (*g).f1j3);
    let g0_4 = vec4(select(0.0, subgroupBroadcast(d0.x, 1u), live0));
    (*g).f0j4 = fma(x0_0, g0_4, (*g).f0j4);
    (*g).f1j4 = fma(x0_1, g0_4, (*g).f1j4);
    let g0_5 = vec4(select(0.0, subgroupBroadcast(d0.y, 1u), live0));
    (*g).f0j5 = fma(x0_0, g0_5, (*g).f0j5);
    (*g).f1j5 = fma(x0_1, g0_5, (*g).f1j5);
    let g0_6 = vec4(select(0.0, subgroupBroadcast(d0.z, 1u), live0));
    (*g).f0j6 = fma(x0_0, g0_6, (*g).f0j6);
    (*g).f1j6 = fma(x0_1, g0_6, (*g).f1j6);
    let g0_7 = vec4(select(0.0, subgroupBroadcast(d0.w, 1u), live0));
    (*g).f0j7 = fma(x0_0, g0_7, (*g).f0j7);
    (*g).f1j7 = fma(x0_1, g0_7, (*g).f1j7);
    let g0_8 = vec4(select(0.0, subgroupBroadcast(d0.x, 2u), live0));
    (*g).f0j8 = fma(x0_0, g0_8, (*g).f0j8);
    (*g).f1j8 = fma(x0_1, g0_8, (*g).f1j8);
    let g0_9 = vec4(select(0.0, subgroupBroadcast(d0.y, 2u), live0));
    (*g).f0j9 = fma(x0_0, g0_9, (*g).f0j9);
    (*g).f1j9 = fma(x0_1, g0_9, (*g).f1j9);
    let live1 = r0 + 1u < p.rows;
    let at1 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 1u));
    let x1_0 = textureLoad(x_rows, vec2(columns.x, at1.x), at1.y, 0);
    let x1_1 = textureLoad(x_rows, vec2(columns.y, at1.x), at1.y, 0);
    let g1_0 = vec4(select(0.0, subgroupBroadcast(d0.z, 2u), live1));
    (*g).f0j0 = fma(x1_0, g1_0, (*g).f0j0);
    (*g).f1j0 = fma(x1_1, g1_0, (*g).f1j0);
    let g1_1 = vec4(select(0.0, subgroupBroadcast(d0.w, 2u), live1));
    (*g).f0j1 = fma(x1_0, g1_1, (*g).f0j1);
    (*g).f1j1 = fma(x1_1, g1_1, (*g).f1j1);
    let g1_2 = vec4(select(0.0, subgroupBroadcast(d0.x, 3u), live1));
    (*g).f0j2 = fma(x1_0, g1_2, (*g).f0j2);
    (*g).f1j2 = fma(x1_1, g1_2, (*g).f1j2);
    let g1_3 = vec4(select(0.0, subgroupBroadcast(d0.y, 3u), live1));
    (*g).f0j3 = fma(x1_0, g1_3, (*g).f0j3);
    (*g).f1j3 = fma(x1_1, g1_3, (*g).f1j3);
    let g1_4 = vec4(select(0.0, subgroupBroadcast(d0.z, 3u), live1));
    (*g).f0j4 = fma(x1_0, g1_4, (*g).f0j4);
    (*g).f1j4 = fma(x1_1, g1_4, (*g).f1j4);
    let g1_5 = vec4(select(0.0, subgroupBroadcast(d0.w, 3u), live1));
    (*g).f0j5 = fma(x1_0, g1_5, (*g).f0j5);
    (*g).f1j5 = fma(x1_1, g1_5, (*g).f1j5);
    let g1_6 = vec4(select(0.0, subgroupBroadcast(d0.x, 4u), live1));
    (*g).f0j6 = fma(x1_0, g1_6, (*g).f0j6);
    (*g).f1j6 = fma(x1_1, g1_6, (*g).f1j6);
    let g1_7 = vec4(select(0.0, subgroupBroadcast(d0.y, 4u), live1));
    (*g).f0j7 = fma(x1_0, g1_7, (*g).f0j7);
    (*g).f1j7 = fma(x1_1, g1_7, (*g).f1j7);
    let g1_8 = vec4(select(0.0, subgroupBroadcast(d0.z, 4u), live1));
    (*g).f0j8 = fma(x1_0, g1_8, (*g).f0j8);
    (*g).f1j8 = fma(x1_1, g1_8, (*g).f1j8);
    let g1_9 = vec4(select(0.0, subgroupBroadcast(d0.w, 4u), live1));
    (*g).f0j9 = fma(x1_0, g1_9, (*g).f0j9);
    (*g).f1j9 = fma(x1_1, g1_9, (*g).f1j9);
    let live2 = r0 + 2u < p.rows;
    let at2 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 2u));
    let x2_0 = textureLoad(x_rows, vec2(columns.x, at2.x), at2.y, 0);
    let x2_1 = textureLoad(x_rows, vec2(columns.y, at2.x), at2.y, 0);
    let g2_0 = vec4(select(0.0, subgroupBroadcast(d0.x, 5u), live2));
    (*g).f0j0 = fma(x2_0, g2_0, (*g).f0j0);
    (*g).f1j0 = fma(x2_1, g2_0, (*g).f1j0);
    let g2_1 = vec4(select(0.0, subgroupBroadcast(d0.y, 5u), live2));
    (*g).f0j1 = fma(x2_0, g2_1, (*g).f0j1);
    (*g).f1j1 = fma(x2_1, g2_1, (*g).f1j1);
    let g2_2 = vec4(select(0.0, subgroupBroadcast(d0.z, 5u), live2));
    (*g).f0j2 = fma(x2_0, g2_2, (*g).f0j2);
    (*g).f1j2 = fma(x2_1, g2_2, (*g).f1j2);
    let g2_3 = vec4(select(0.0, subgroupBroadcast(d0.w, 5u), live2));
    (*g).f0j3 = fma(x2_0, g2_3, (*g).f0j3);
    (*g).f1j3 = fma(x2_1, g2_3, (*g).f1j3);
    let g2_4 = vec4(select(0.0, subgroupBroadcast(d0.x, 6u), live2));
    (*g).f0j4 = fma(x2_0, g2_4, (*g).f0j4);
    (*g).f1j4 = fma(x2_1, g2_4, (*g).f1j4);
    let g2_5 = vec4(select(0.0, subgroupBroadcast(d0.y, 6u), live2));
    (*g).f0j5 = fma(x2_0, g2_5, (*g).f0j5);
    (*g).f1j5 = fma(x2_1, g2_5, (*g).f1j5);
    let g2_6 = vec4(select(0.0, subgroupBroadcast(d0.z, 6u), live2));
    (*g).f0j6 = fma(x2_0, g2_6, (*g).f0j6);
    (*g).f1j6 = fma(x2_1, g2_6, (*g).f1j6);
    let g2_7 = vec4(select(0.0, subgroupBroadcast(d0.w, 6u), live2));
    (*g).f0j7 = fma(x2_0, g2_7, (*g).f0j7);
    (*g).f1j7 = fma(x2_1, g2_7, (*g).f1j7);
    let g2_8 = vec4(select(0.0, subgroupBroadcast(d0.x, 7u), live2));
    (*g).f0j8 = fma(x2_0, g2_8, (*g).f0j8);
    (*g).f1j8 = fma(x2_1, g2_8, (*g).f1j8);
    let g2_9 = vec4(select(0.0, subgroupBroadcast(d0.y, 7u), live2));
    (*g).f0j9 = fma(x2_0, g2_9, (*g).f0j9);
    (*g).f1j9 = fma(x2_1, g2_9, (*g).f1j9);
    let live3 = r0 + 3u < p.rows;
    let at3 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 3u));
    let x3_0 = textureLoad(x_rows, vec2(columns.x, at3.x), at3.y, 0);
    let x3_1 = textureLoad(x_rows, vec2(columns.y, at3.x), at3.y, 0);
    let g3_0 = vec4(select(0.0, subgroupBroadcast(d0.z, 7u), live3));
    (*g).f0j0 = fma(x3_0, g3_0, (*g).f0j0);
    (*g).f1j0 = fma(x3_1, g3_0, (*g).f1j0);
    let g3_1 = vec4(select(0.0, subgroupBroadcast(d0.w, 7u), live3));
    (*g).f0j1 = fma(x3_0, g3_1, (*g).f0j1);
    (*g).f1j1 = fma(x3_1, g3_1, (*g).f1j1);
    let g3_2 = vec4(select(0.0, subgroupBroadcast(d1.x, 0u), live3));
    (*g).f0j2 = fma(x3_0, g3_2, (*g).f0j2);
    (*g).f1j2 = fma(x3_1, g3_2, (*g).f1j2);
    let g3_3 = vec4(select(0.0, subgroupBroadcast(d1.y, 0u), live3));
    (*g).f0j3 = fma(x3_0, g3_3, (*g).f0j3);
    (*g).f1j3 = fma(x3_1, g3_3, (*g).f1j3);
    let g3_4 = vec4(select(0.0, subgroupBroadcast(d1.z, 0u), live3));
    (*g).f0j4 = fma(x3_0, g3_4, (*g).f0j4);
    (*g).f1j4 = fma(x3_1, g3_4, (*g).f1j4);
    let g3_5 = vec4(select(0.0, subgroupBroadcast(d1.w, 0u), live3));
    (*g).f0j5 = fma(x3_0, g3_5, (*g).f0j5);
    (*g).f1j5 = fma(x3_1, g3_5, (*g).f1j5);
    let g3_6 = vec4(select(0.0, subgroupBroadcast(d1.x, 1u), live3));
    (*g).f0j6 = fma(x3_0, g3_6, (*g).f0j6);
    (*g).f1j6 = fma(x3_1, g3_6, (*g).f1j6);
    let g3_7 = vec4(select(0.0, subgroupBroadcast(d1.y, 1u), live3));
    (*g).f0j7 = fma(x3_0, g3_7, (*g).f0j7);
    (*g).f1j7 = fma(x3_1, g3_7, (*g).f1j7);
    let g3_8 = vec4(select(0.0, subgroupBroadcast(d1.z, 1u), live3));
    (*g).f0j8 = fma(x3_0, g3_8, (*g).f0j8);
    (*g).f1j8 = fma(x3_1, g3_8, (*g).f1j8);
    let g3_9 = vec4(select(0.0, subgroupBroadcast(d1.w, 1u), live3));
    (*g).f0j9 = fma(x3_0, g3_9, (*g).f0j9);
    (*g).f1j9 = fma(x3_1, g3_9, (*g).f1j9);
    let live4 = r0 + 4u < p.rows;
    let at4 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 4u));
    let x4_0 = textureLoad(x_rows, vec2(columns.x, at4.x), at4.y, 0);
    let x4_1 = textureLoad(x_rows, vec2(columns.y, at4.x), at4.y, 0);
    let g4_0 = vec4(select(0.0, subgroupBroadcast(d1.x, 2u), live4));
    (*g).f0j0 = fma(x4_0, g4_0, (*g).f0j0);
    (*g).f1j0 = fma(x4_1, g4_0, (*g).f1j0);
    let g4_1 = vec4(select(0.0, subgroupBroadcast(d1.y, 2u), live4));
    (*g).f0j1 = fma(x4_0, g4_1, (*g).f0j1);
    (*g).f1j1 = fma(x4_1, g4_1, (*g).f1j1);
    let g4_2 = vec4(select(0.0, subgroupBroadcast(d1.z, 2u), live4));
    (*g).f0j2 = fma(x4_0, g4_2, (*g).f0j2);
    (*g).f1j2 = fma(x4_1, g4_2, (*g).f1j2);
    let g4_3 = vec4(select(0.0, subgroupBroadcast(d1.w, 2u), live4));
    (*g).f0j3 = fma(x4_0, g4_3, (*g).f0j3);
    (*g).f1j3 = fma(x4_1, g4_3, (*g).f1j3);
    let g4_4 = vec4(select(0.0, subgroupBroadcast(d1.x, 3u), live4));
    (*g).f0j4 = fma(x4_0, g4_4, (*g).f0j4);
    (*g).f1j4 = fma(x4_1, g4_4, (*g).f1j4);
    let g4_5 = vec4(select(0.0, subgroupBroadcast(d1.y, 3u), live4));
    (*g).f0j5 = fma(x4_0, g4_5, (*g).f0j5);
    (*g).f1j5 = fma(x4_1, g4_5, (*g).f1j5);
    let g4_6 = vec4(select(0.0, subgroupBroadcast(d1.z, 3u), live4));
    (*g).f0j6 = fma(x4_0, g4_6, (*g).f0j6);
    (*g).f1j6 = fma(x4_1, g4_6, (*g).f1j6);
    let g4_7 = vec4(select(0.0, subgroupBroadcast(d1.w, 3u), live4));
    (*g).f0j7 = fma(x4_0, g4_7, (*g).f0j7);
    (*g).f1j7 = fma(x4_1, g4_7, (*g).f1j7);
    let g4_8 = vec4(select(0.0, subgroupBroadcast(d1.x, 4u), live4));
    (*g).f0j8 = fma(x4_0, g4_8, (*g).f0j8);
    (*g).f1j8 = fma(x4_1, g4_8, (*g).f1j8);
    let g4_9 = vec4(select(0.0, subgroupBroadcast(d1.y, 4u), live4));
    (*g).f0j9 = fma(x4_0, g4_9, (*g).f0j9);
    (*g).f1j9 = fma(x4_1, g4_9, (*g).f1j9);
    let live5 = r0 + 5u < p.rows;
    let at5 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 5u));
    let x5_0 = textureLoad(x_rows, vec2(columns.x, at5.x), at5.y, 0);
    let x5_1 = textureLoad(x_rows, vec2(columns.y, at5.x), at5.y, 0);
    let g5_0 = vec4(select(0.0, subgroupBroadcast(d1.z, 4u), live5));
    (*g).f0j0 = fma(x5_0, g5_0, (*g).f0j0);
    (*g).f1j0 = fma(x5_1, g5_0, (*g).f1j0);
    let g5_1 = vec4(select(0.0, subgroupBroadcast(d1.w, 4u), live5));
    (*g).f0j1 = fma(x5_0, g5_1, (*g).f0j1);
    (*g).f1j1 = fma(x5_1, g5_1, (*g).f1j1);
    let g5_2 = vec4(select(0.0, subgroupBroadcast(d1.x, 5u), live5));
    (*g).f0j2 = fma(x5_0, g5_2, (*g).f0j2);
    (*g).f1j2 = fma(x5_1, g5_2, (*g).f1j2);
    let g5_3 = vec4(select(0.0, subgroupBroadcast(d1.y, 5u), live5));
    (*g).f0j3 = fma(x5_0, g5_3, (*g).f0j3);
    (*g).f1j3 = fma(x5_1, g5_3, (*g).f1j3);
    let g5_4 = vec4(select(0.0, subgroupBroadcast(d1.z, 5u), live5));
    (*g).f0j4 = fma(x5_0, g5_4, (*g).f0j4);
    (*g).f1j4 = fma(x5_1, g5_4, (*g).f1j4);
    let g5_5 = vec4(select(0.0, subgroupBroadcast(d1.w, 5u), live5));
    (*g).f0j5 = fma(x5_0, g5_5, (*g).f0j5);
    (*g).f1j5 = fma(x5_1, g5_5, (*g).f1j5);
    let g5_6 = vec4(select(0.0, subgroupBroadcast(d1.x, 6u), live5));
    (*g).f0j6 = fma(x5_0, g5_6, (*g).f0j6);
    (*g).f1j6 = fma(x5_1, g5_6, (*g).f1j6);
    let g5_7 = vec4(select(0.0, subgroupBroadcast(d1.y, 6u), live5));
    (*g).f0j7 = fma(x5_0, g5_7, (*g).f0j7);
    (*g).f1j7 = fma(x5_1, g5_7, (*g).f1j7);
    let g5_8 = vec4(select(0.0, subgroupBroadcast(d1.z, 6u), live5));
    (*g).f0j8 = fma(x5_0, g5_8, (*g).f0j8);
    (*g).f1j8 = fma(x5_1, g5_8, (*g).f1j8);
    let g5_9 = vec4(select(0.0, subgroupBroadcast(d1.w, 6u), live5));
    (*g).f0j9 = fma(x5_0, g5_9, (*g).f0j9);
    (*g).f1j9 = fma(x5_1, g5_9, (*g).f1j9);
    let live6 = r0 + 6u < p.rows;
    let at6 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 6u));
    let x6_0 = textureLoad(x_rows, vec2(columns.x, at6.x), at6.y, 0);
    let x6_1 = textureLoad(x_rows, vec2(columns.y, at6.x), at6.y, 0);
    let g6_0 = vec4(select(0.0, subgroupBroadcast(d1.x, 7u), live6));
    (*g).f0j0 = fma(x6_0, g6_0, (*g).f0j0);
    (*g).f1j0 = fma(x6_1, g6_0, (*g).f1j0);
    let g6_1 = vec4(select(0.0, subgroupBroadcast(d1.y, 7u), live6));
    (*g).f0j1 = fma(x6_0, g6_1, (*g).f0j1);
    (*g).f1j1 = fma(x6_1, g6_1, (*g).f1j1);
    let g6_2 = vec4(select(0.0, subgroupBroadcast(d1.z, 7u), live6));
    (*g).f0j2 = fma(x6_0, g6_2, (*g).f0j2);
    (*g).f1j2 = fma(x6_1, g6_2, (*g).f1j2);
    let g6_3 = vec4(select(0.0, subgroupBroadcast(d1.w, 7u), live6));
    (*g).f0j3 = fma(x6_0, g6_3, (*g).f0j3);
    (*g).f1j3 = fma(x6_1, g6_3, (*g).f1j3);
    let g6_4 = vec4(select(0.0, subgroupBroadcast(d2.x, 0u), live6));
    (*g).f0j4 = fma(x6_0, g6_4, (*g).f0j4);
    (*g).f1j4 = fma(x6_1, g6_4, (*g).f1j4);
    let g6_5 = vec4(select(0.0, subgroupBroadcast(d2.y, 0u), live6));
    (*g).f0j5 = fma(x6_0, g6_5, (*g).f0j5);
    (*g).f1j5 = fma(x6_1, g6_5, (*g).f1j5);
    let g6_6 = vec4(select(0.0, subgroupBroadcast(d2.z, 0u), live6));
    (*g).f0j6 = fma(x6_0, g6_6, (*g).f0j6);
    (*g).f1j6 = fma(x6_1, g6_6, (*g).f1j6);
    let g6_7 = vec4(select(0.0, subgroupBroadcast(d2.w, 0u), live6));
    (*g).f0j7 = fma(x6_0, g6_7, (*g).f0j7);
    (*g).f1j7 = fma(x6_1, g6_7, (*g).f1j7);
    let g6_8 = vec4(select(0.0, subgroupBroadcast(d2.x, 1u), live6));
    (*g).f0j8 = fma(x6_0, g6_8, (*g).f0j8);
    (*g).f1j8 = fma(x6_1, g6_8, (*g).f1j8);
    let g6_9 = vec4(select(0.0, subgroupBroadcast(d2.y, 1u), live6));
    (*g).f0j9 = fma(x6_0, g6_9, (*g).f0j9);
    (*g).f1j9 = fma(x6_1, g6_9, (*g).f1j9);
    let live7 = r0 + 7u < p.rows;
    let at7 = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), 7u));
    let x7_0 = textureLoad(x_rows, vec2(columns.x, at7.x), at7.y, 0);
    let x7_1 = textureLoad(x_rows, vec2(columns.y, at7.x), at7.y, 0);
    let g7_0 = vec4(select(0.0, subgroupBroadcast(d2.z, 1u), live7));
    (*g).f0j0 = fma(x7_0, g7_0, (*g).f0j0);
    (*g).f1j0 = fma(x7_1, g7_0, (*g).f1j0);
    let g7_1 = vec4(select(0.0, subgroupBroadcast(d2.w, 1u), live7));
    (*g).f0j1 = fma(x7_0, g7_1, (*g).f0j1);
    (*g).f1j1 = fma(x7_1, g7_1, (*g).f1j1);
    let g7_2 = vec4(select(0.0, subgroupBroadcast(d2.x, 2u), live7));
    (*g).f0j2 = fma(x7_0, g7_2, (*g).f0j2);
    (*g).f1j2 = fma(x7_1, g7_2, (*g).f1j2);
    let g7_3 = vec4(select(0.0, subgroupBroadcast(d2.y, 2u), live7));
    (*g).f0j3 = fma(x7_0, g7_3, (*g).f0j3);
    (*g).f1j3 = fma(x7_1, g7_3, (*g).f1j3);
    let g7_4 = vec4(select(0.0, subgroupBroadcast(d2.z, 2u), live7));
    (*g).f0j4 = fma(x7_0, g7_4, (*g).f0j4);
    (*g).f1j4 = fma(x7_1, g7_4, (*g).f1j4);
    let g7_5 = vec4(select(0.0, subgroupBroadcast(d2.w, 2u), live7));
    (*g).f0j5 = fma(x7_0, g7_5, (*g).f0j5);
    (*g).f1j5 = fma(x7_1, g7_5, (*g).f1j5);
    let g7_6 = vec4(select(0.0, subgroupBroadcast(d2.x, 3u), live7));
    (*g).f0j6 = fma(x7_0, g7_6, (*g).f0j6);
    (*g).f1j6 = fma(x7_1, g7_6, (*g).f1j6);
    let g7_7 = vec4(select(0.0, subgroupBroadcast(d2.y, 3u), live7));
    (*g).f0j7 = fma(x7_0, g7_7, (*g).f0j7);
    (*g).f1j7 = fma(x7_1, g7_7, (*g).f1j7);
    let g7_8 = vec4(select(0.0, subgroupBroadcast(d2.z, 3u), live7));
    (*g).f0j8 = fma(x7_0, g7_8, (*g).f0j8);
    (*g).f1j8 = fma(x7_1, g7_8, (*g).f1j8);
    let g7_9 = vec4(select(0.0, subgroupBroadcast(d2.w, 3u), live7));
    (*g).f0j9 = fma(x7_0, g7_9, (*g).f0j9);
    (*g).f1j9 = fma(x7_1, g7_9, (*g).f1j9);
}

@compute @workgroup_size(8, 1, 1)
fn fused_weight_grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let texels = (p.d + 3u) / 4u;
    if has_flag(WITH_GRADS) {
        var g: Grads;
        let t = vec4<u32>((wid.x * 2u + 0u) * 8u + lid.x, (wid.x * 2u + 1u) * 8u + lid.x, 0u, 0u);
        let columns = min(t, vec4(texels - 1u));
        for (var r0 = 0u; r0 < p.rows; r0 += 8u) {
            add_rows(&g, columns, r0, lane);
        }
        if t.x < texels {
            if 4u * t.x + 4u <= p.d {
                grads4[t.x * 10u + 0u] = vec4(g.f0j0.x, g.f0j1.x, g.f0j2.x, g.f0j3.x);
                grads4[t.x * 10u + 1u] = vec4(g.f0j4.x, g.f0j5.x, g.f0j6.x, g.f0j7.x);
                grads4[t.x * 10u + 2u] = vec4(g.f0j8.x, g.f0j9.x, g.f0j0.y, g.f0j1.y);
                grads4[t.x * 10u + 3u] = vec4(g.f0j2.y, g.f0j3.y, g.f0j4.y, g.f0j5.y);
                grads4[t.x * 10u + 4u] = vec4(g.f0j6.y, g.f0j7.y, g.f0j8.y, g.f0j9.y);
                grads4[t.x * 10u + 5u] = vec4(g.f0j0.z, g.f0j1.z, g.f0j2.z, g.f0j3.z);
                grads4[t.x * 10u + 6u] = vec4(g.f0j4.z, g.f0j5.z, g.f0j6.z, g.f0j7.z);
                grads4[t.x * 10u + 7u] = vec4(g.f0j8.z, g.f0j9.z, g.f0j0.w, g.f0j1.w);
                grads4[t.x * 10u + 8u] = vec4(g.f0j2.w, g.f0j3.w, g.f0j4.w, g.f0j5.w);
                grads4[t.x * 10u + 9u] = vec4(g.f0j6.w, g.f0j7.w, g.f0j8.w, g.f0j9.w);
            } else {
                if 4u * t.x + 0u < p.d {
                    grads[(4u * t.x + 0u) * 10u + 0u] = g.f0j0.x;
                    grads[(4u * t.x + 0u) * 10u + 1u] = g.f0j1.x;
                    grads[(4u * t.x + 0u) * 10u + 2u] = g.f0j2.x;
                    grads[(4u * t.x + 0u) * 10u + 3u] = g.f0j3.x;
                    grads[(4u * t.x + 0u) * 10u + 4u] = g.f0j4.x;
                    grads[(4u * t.x + 0u) * 10u + 5u] = g.f0j5.x;
                    grads[(4u * t.x + 0u) * 10u + 6u] = g.f0j6.x;
                    grads[(4u * t.x + 0u) * 10u + 7u] = g.f0j7.x;
                    grads[(4u * t.x + 0u) * 10u + 8u] = g.f0j8.x;
                    grads[(4u * t.x + 0u) * 10u + 9u] = g.f0j9.x;
                }
                if 4u * t.x + 1u < p.d {
                    grads[(4u * t.x + 1u) * 10u + 0u] = g.f0j0.y;
                    grads[(4u * t.x + 1u) * 10u + 1u] = g.f0j1.y;
                    grads[(4u * t.x + 1u) * 10u + 2u] = g.f0j2.y;
                    grads[(4u * t.x + 1u) * 10u + 3u] = g.f0j3.y;
                    grads[(4u * t.x + 1u) * 10u + 4u] = g.f0j4.y;
                    grads[(4u * t.x + 1u) * 10u + 5u] = g.f0j5.y;
                    grads[(4u * t.x + 1u) * 10u + 6u] = g.f0j6.y;
                    grads[(4u * t.x + 1u) * 10u + 7u] = g.f0j7.y;
                    grads[(4u * t.x + 1u) * 10u + 8u] = g.f0j8.y;
                    grads[(4u * t.x + 1u) * 10u + 9u] = g.f0j9.y;
                }
                if 4u * t.x + 2u < p.d {
                    grads[(4u * t.x + 2u) * 10u + 0u] = g.f0j0.z;
                    grads[(4u * t.x + 2u) * 10u + 1u] = g.f0j1.z;
                    grads[(4u * t.x + 2u) * 10u + 2u] = g.f0j2.z;
                    grads[(4u * t.x + 2u) * 10u + 3u] = g.f0j3.z;
                    grads[(4u * t.x + 2u) * 10u + 4u] = g.f0j4.z;
                    grads[(4u * t.x + 2u) * 10u + 5u] = g.f0j5.z;
                    grads[(4u * t.x + 2u) * 10u + 6u] = g.f0j6.z;
                    grads[(4u * t.x + 2u) * 10u + 7u] = g.f0j7.z;
                    grads[(4u * t.x + 2u) * 10u + 8u] = g.f0j8.z;
                    grads[(4u * t.x + 2u) * 10u + 9u] = g.f0j9.z;
                }
            }
        }
        if t.y < texels {
            if 4u * t.y + 4u <= p.d {
                grads4[t.y * 10u + 0u] = vec4(g.f1j0.x, g.f1j1.x, g.f1j2.x, g.f1j3.x);
                grads4[t.y * 10u + 1u] = vec4(g.f1j4.x, g.f1j5.x, g.f1j6.x, g.f1j7.x);
                grads4[t.y * 10u + 2u] = vec4(g.f1j8.x, g.f1j9.x, g.f1j0.y, g.f1j1.y);
                grads4[t.y * 10u + 3u] = vec4(g.f1j2.y, g.f1j3.y, g.f1j4.y, g.f1j5.y);
                grads4[t.y * 10u + 4u] = vec4(g.f1j6.y, g.f1j7.y, g.f1j8.y, g.f1j9.y);
                grads4[t.y * 10u + 5u] = vec4(g.f1j0.z, g.f1j1.z, g.f1j2.z, g.f1j3.z);
                grads4[t.y * 10u + 6u] = vec4(g.f1j4.z, g.f1j5.z, g.f1j6.z, g.f1j7.z);
                grads4[t.y * 10u + 7u] = vec4(g.f1j8.z, g.f1j9.z, g.f1j0.w, g.f1j1.w);
                grads4[t.y * 10u + 8u] = vec4(g.f1j2.w, g.f1j3.w, g.f1j4.w, g.f1j5.w);
                grads4[t.y * 10u + 9u] = vec4(g.f1j6.w, g.f1j7.w, g.f1j8.w, g.f1j9.w);
            } else {
                if 4u * t.y + 0u < p.d {
                    grads[(4u * t.y + 0u) * 10u + 0u] = g.f1j0.x;
                    grads[(4u * t.y + 0u) * 10u + 1u] = g.f1j1.x;
                    grads[(4u * t.y + 0u) * 10u + 2u] = g.f1j2.x;
                    grads[(4u * t.y + 0u) * 10u + 3u] = g.f1j3.x;
                    grads[(4u * t.y + 0u) * 10u + 4u] = g.f1j4.x;
                    grads[(4u * t.y + 0u) * 10u + 5u] = g.f1j5.x;
                    grads[(4u * t.y + 0u) * 10u + 6u] = g.f1j6.x;
                    grads[(4u * t.y + 0u) * 10u + 7u] = g.f1j7.x;
                    grads[(4u * t.y + 0u) * 10u + 8u] = g.f1j8.x;
                    grads[(4u * t.y + 0u) * 10u + 9u] = g.f1j9.x;
                }
                if 4u * t.y + 1u < p.d {
                    grads[(4u * t.y + 1u) * 10u + 0u] = g.f1j0.y;
                    grads[(4u * t.y + 1u) * 10u + 1u] = g.f1j1.y;
                    grads[(4u * t.y + 1u) * 10u + 2u] = g.f1j2.y;
                    grads[(4u * t.y + 1u) * 10u + 3u] = g.f1j3.y;
                    grads[(4u * t.y + 1u) * 10u + 4u] = g.f1j4.y;
                    grads[(4u * t.y + 1u) * 10u + 5u] = g.f1j5.y;
                    grads[(4u * t.y + 1u) * 10u + 6u] = g.f1j6.y;
                    grads[(4u * t.y + 1u) * 10u + 7u] = g.f1j7.y;
                    grads[(4u * t.y + 1u) * 10u + 8u] = g.f1j8.y;
                    grads[(4u * t.y + 1u) * 10u + 9u] = g.f1j9.y;
                }
                if 4u * t.y + 2u < p.d {
                    grads[(4u * t.y + 2u) * 10u + 0u] = g.f1j0.z;
                    grads[(4u * t.y + 2u) * 10u + 1u] = g.f1j1.z;
                    grads[(4u * t.y + 2u) * 10u + 2u] = g.f1j2.z;
                    grads[(4u * t.y + 2u) * 10u + 3u] = g.f1j3.z;
                    grads[(4u * t.y + 2u) * 10u + 4u] = g.f1j4.z;
                    grads[(4u * t.y + 2u) * 10u + 5u] = g.f1j5.z;
                    grads[(4u * t.y + 2u) * 10u + 6u] = g.f1j6.z;
                    grads[(4u * t.y + 2u) * 10u + 7u] = g.f1j7.z;
                    grads[(4u * t.y + 2u) * 10u + 8u] = g.f1j8.z;
                    grads[(4u * t.y + 2u) * 10u + 9u] = g.f1j9.z;
                }
            }
        }
    }
    if wid.x == 0u {
        let tail = p.rows * 10u;
        var loss = 0.0;
        var correct = 0.0;
        var db0 = vec4(0.0);
        var db1 = vec4(0.0);
        var db2 = vec4(0.0);
        for (var r = lid.x; r < p.rows; r += 8u) {
            loss += batch_at(tail + r);
            correct += batch_at(tail + p.rows + r);
            db0.x += batch_at(r * 10u + 0u);
            db0.y += batch_at(r * 10u + 1u);
            db0.z += batch_at(r * 10u + 2u);
            db0.w += batch_at(r * 10u + 3u);
            db1.x += batch_at(r * 10u + 4u);
            db1.y += batch_at(r * 10u + 5u);
            db1.z += batch_at(r * 10u + 6u);
            db1.w += batch_at(r * 10u + 7u);
            db2.x += batch_at(r * 10u + 8u);
            db2.y += batch_at(r * 10u + 9u);
        }
        var total_loss = 0.0;
        var total_correct = 0.0;
        var total0 = vec4(0.0);
        var total1 = vec4(0.0);
        var total2 = vec4(0.0);
        total_loss += subgroupBroadcast(loss, 0u);
        total_correct += subgroupBroadcast(correct, 0u);
        total0 += subgroupBroadcast(db0, 0u);
        total1 += subgroupBroadcast(db1, 0u);
        total2 += subgroupBroadcast(db2, 0u);
        total_loss += subgroupBroadcast(loss, 1u);
        total_correct += subgroupBroadcast(correct, 1u);
        total0 += subgroupBroadcast(db0, 1u);
        total1 += subgroupBroadcast(db1, 1u);
        total2 += subgroupBroadcast(db2, 1u);
        total_loss += subgroupBroadcast(loss, 2u);
        total_correct += subgroupBroadcast(correct, 2u);
        total0 += subgroupBroadcast(db0, 2u);
        total1 += subgroupBroadcast(db1, 2u);
        total2 += subgroupBroadcast(db2, 2u);
        total_loss += subgroupBroadcast(loss, 3u);
        total_correct += subgroupBroadcast(correct, 3u);
        total0 += subgroupBroadcast(db0, 3u);
        total1 += subgroupBroadcast(db1, 3u);
        total2 += subgroupBroadcast(db2, 3u);
        total_loss += subgroupBroadcast(loss, 4u);
        total_correct += subgroupBroadcast(correct, 4u);
        total0 += subgroupBroadcast(db0, 4u);
        total1 += subgroupBroadcast(db1, 4u);
        total2 += subgroupBroadcast(db2, 4u);
        total_loss += subgroupBroadcast(loss, 5u);
        total_correct += subgroupBroadcast(correct, 5u);
        total0 += subgroupBroadcast(db0, 5u);
        total1 += subgroupBroadcast(db1, 5u);
        total2 += subgroupBroadcast(db2, 5u);
        total_loss += subgroupBroadcast(loss, 6u);
        total_correct += subgroupBroadcast(correct, 6u);
        total0 += subgroupBroadcast(db0, 6u);
        total1 += subgroupBroadcast(db1, 6u);
        total2 += subgroupBroadcast(db2, 6u);
        total_loss += subgroupBroadcast(loss, 7u);
        total_correct += subgroupBroadcast(correct, 7u);
        total0 += subgroupBroadcast(db0, 7u);
        total1 += subgroupBroadcast(db1, 7u);
        total2 += subgroupBroadcast(db2, 7u);
        if lid.x == 0u {
            stats[2u * p.slot] = total_loss * p.inv_rows;
            stats[2u * p.slot + 1u] = total_correct;
            if has_flag(WITH_GRADS) {
                grads[p.d * 10u + 0u] = total0.x;
                grads[p.d * 10u + 1u] = total0.y;
                grads[p.d * 10u + 2u] = total0.z;
                grads[p.d * 10u + 3u] = total0.w;
                grads[p.d * 10u + 4u] = total1.x;
                grads[p.d * 10u + 5u] = total1.y;
                grads[p.d * 10u + 6u] = total1.z;
                grads[p.d * 10u + 7u] = total1.w;
                grads[p.d * 10u + 8u] = total2.x;
                grads[p.d * 10u + 9u] = total2.y;
            }
        }
    }
}
