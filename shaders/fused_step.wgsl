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
