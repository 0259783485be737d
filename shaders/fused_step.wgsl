// Fused linear step over a minibatch read in place through its row indices,
// in two kernels:
//   fused_scores       lanes = batch rows: scores = x·W + b, the loss, dScores
//   fused_weight_grad  lanes = groups of 4 features: dW = xᵀ·dS, and in
//                      workgroup 0 db and the batch's loss and correct count
// Dataset rows live in an rgba32float texture array (one texture row per
// dataset row, zero-padded to a multiple of 4 features). W, b, dS and the
// batch's row indices are read through uniform-buffer windows: on CPU-type
// adapters (lavapipe) a storage-buffer load is a loop over the SIMD lanes,
// while texture and uniform loads are gathers or broadcasts. Every sum runs
// in a fixed order: no atomics, deterministic.

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

// Outputs (columns of W), the loss, and rows per lane of fused_scores.
override C: u32 = 10u;
override LOSS: u32 = 0u;
override RPL: u32 = 4u;
const MAX_C: u32 = 16u;
const MAX_RPL: u32 = 8u;
// f32 elements per 64 KiB uniform window.
const WINDOW: u32 = 16384u;

@group(0) @binding(0) var<uniform> p: StepParams;
@group(0) @binding(1) var x_rows: texture_2d_array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> class_weights: array<f32>;
@group(0) @binding(5) var target_rows: texture_2d_array<f32>;
// [W (d × C) | b], copied from the parameters, over four windows.
@group(0) @binding(6) var<uniform> w0: array<vec4<f32>, 4096>;
@group(0) @binding(7) var<uniform> w1: array<vec4<f32>, 4096>;
@group(0) @binding(8) var<uniform> w2: array<vec4<f32>, 4096>;
@group(0) @binding(9) var<uniform> w3: array<vec4<f32>, 4096>;
// Batch scratch: [dS (rows × C) | row loss | row correct | row index bits].
@group(0) @binding(10) var<storage, read_write> batch_out: array<f32>;
@group(0) @binding(11) var<uniform> batch_in: array<vec4<f32>, 4096>;
@group(0) @binding(12) var<storage, read_write> grads4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> grads: array<f32>;
@group(0) @binding(14) var<storage, read_write> stats: array<f32>;

fn has_flag(flag: u32) -> bool {
    return (p.flags & flag) != 0u;
}

fn w_at(e: u32) -> f32 {
    let at = e & (WINDOW - 1u);
    switch e / WINDOW {
        case 0u: { return w0[at >> 2u][at & 3u]; }
        case 1u: { return w1[at >> 2u][at & 3u]; }
        case 2u: { return w2[at >> 2u][at & 3u]; }
        default: { return w3[at >> 2u][at & 3u]; }
    }
}

fn batch_at(e: u32) -> f32 {
    return batch_in[e >> 2u][e & 3u];
}

fn texel_of(row: u32) -> vec2<u32> {
    return vec2(row % p.layer_rows, row / p.layer_rows);
}

// Target of output j: a real value, the label itself (C = 1), or onehot.
fn target_of(label: u32, values: array<f32, MAX_C>, j: u32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return values[j];
    }
    if C == 1u {
        return f32(label);
    }
    return select(0.0, 1.0, j == label);
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

struct RowResult {
    loss: f32,
    correct: f32,
    ds: array<f32, MAX_C>,
}

// The loss of one row, as the unfused loss kernels compute it.
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
            total += exp(s[j] - row_max);
        }
        let log_total = log(total);
        var weight = 1.0;
        if has_flag(HAS_CLASS_WEIGHTS) {
            weight = class_weights[label];
        }
        let uniform_q = p.smoothing / f32(C);
        var loss = 0.0;
        for (var j = 0u; j < C; j++) {
            let log_p = s[j] - row_max - log_total;
            let q = uniform_q + select(0.0, 1.0 - p.smoothing, j == label);
            loss -= q * log_p;
            out.ds[j] = weight * (exp(log_p) - q) * p.inv_rows;
        }
        out.loss = weight * loss;
    } else if LOSS == HINGE || LOSS == SQUARED_HINGE {
        let s_y = s[min(label, C - 1u)];
        var loss = 0.0;
        var d_y = 0.0;
        for (var j = 0u; j < C; j++) {
            let m = s[j] - s_y + p.margin;
            var grad = 0.0;
            if j != label && m > 0.0 {
                if LOSS == SQUARED_HINGE {
                    loss += m * m;
                    grad = 2.0 * m;
                } else {
                    loss += m;
                    grad = 1.0;
                }
                d_y -= grad;
            }
            out.ds[j] = grad * p.inv_rows;
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
            let d = s[j] - target_of(label, values, j);
            loss += d * d;
            out.ds[j] = 2.0 * d * p.inv_rows;
        }
        out.loss = loss;
    } else {
        var loss = 0.0;
        for (var j = 0u; j < C; j++) {
            let t = target_of(label, values, j);
            loss += max(s[j], 0.0) + log(1.0 + exp(-abs(s[j]))) - s[j] * t;
            out.ds[j] = (sigmoid(s[j]) - t) * p.inv_rows;
        }
        out.loss = loss;
    }
    if has_flag(REAL_TARGETS) {
        out.correct = 0.0;
    } else if C == 1u {
        let threshold = select(0.0, 0.5, LOSS == MSE);
        out.correct = select(0.0, 1.0, (s[0] > threshold) == (label == 1u));
    } else {
        out.correct = select(0.0, 1.0, best == label);
    }
    return out;
}

@compute @workgroup_size(8, 1, 1)
fn fused_scores(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    var rows: array<u32, MAX_RPL>;
    var at: array<vec2<u32>, MAX_RPL>;
    var s: array<array<f32, MAX_C>, MAX_RPL>;
    for (var i = 0u; i < RPL; i++) {
        let r = (wid.x * RPL + i) * 8u + lid.x;
        rows[i] = r;
        at[i] = texel_of(indices[p.first + min(r, p.rows - 1u)]);
        for (var j = 0u; j < C; j++) {
            s[i][j] = w_at(p.d * C + j);
        }
    }
    let full = p.d / 4u;
    for (var t = 0u; t < full; t++) {
        let base = 4u * t * C;
        var w: array<vec4<f32>, MAX_C>;
        for (var j = 0u; j < C; j++) {
            w[j] = vec4(w_at(base + j), w_at(base + C + j), w_at(base + 2u * C + j), w_at(base + 3u * C + j));
        }
        for (var i = 0u; i < RPL; i++) {
            let x = textureLoad(x_rows, vec2(t, at[i].x), at[i].y, 0);
            for (var j = 0u; j < C; j++) {
                s[i][j] += dot(x, w[j]);
            }
        }
    }
    let rest = p.d - 4u * full;
    for (var i = 0u; i < RPL; i++) {
        if rest > 0u {
            let x = textureLoad(x_rows, vec2(full, at[i].x), at[i].y, 0);
            for (var q = 0u; q < rest; q++) {
                for (var j = 0u; j < C; j++) {
                    s[i][j] = fma(x[q], w_at((4u * full + q) * C + j), s[i][j]);
                }
            }
        }
        let r = rows[i];
        if r >= p.rows {
            continue;
        }
        let row = indices[p.first + r];
        var label = 0u;
        var values: array<f32, MAX_C>;
        if has_flag(REAL_TARGETS) {
            for (var j = 0u; j < C; j++) {
                values[j] = textureLoad(target_rows, vec2(j / 4u, at[i].x), at[i].y, 0)[j & 3u];
            }
        } else {
            label = labels[row];
        }
        let result = row_result(s[i], label, values);
        for (var j = 0u; j < C; j++) {
            batch_out[r * C + j] = result.ds[j];
        }
        let tail = p.rows * C;
        batch_out[tail + r] = result.loss;
        batch_out[tail + p.rows + r] = result.correct;
        batch_out[tail + 2u * p.rows + r] = bitcast<f32>(row);
    }
}

@compute @workgroup_size(8, 1, 1)
fn fused_weight_grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let tail = p.rows * C;
    if has_flag(WITH_GRADS) {
        let texels = (p.d + 3u) / 4u;
        let t = wid.x * 8u + lid.x;
        let column = min(t, texels - 1u);
        var acc: array<vec4<f32>, MAX_C>;
        for (var r = 0u; r < p.rows; r++) {
            let at = texel_of(bitcast<u32>(batch_at(tail + 2u * p.rows + r)));
            let x = textureLoad(x_rows, vec2(column, at.x), at.y, 0);
            for (var j = 0u; j < C; j++) {
                acc[j] = fma(x, vec4(batch_at(r * C + j)), acc[j]);
            }
        }
        if t < texels {
            if 4u * t + 4u <= p.d {
                // The 4·C values of features 4t..4t+3 are contiguous in W.
                for (var v = 0u; v < C; v++) {
                    var out: vec4<f32>;
                    for (var e = 0u; e < 4u; e++) {
                        let flat = 4u * v + e;
                        out[e] = acc[flat % C][flat / C];
                    }
                    grads4[t * C + v] = out;
                }
            } else {
                for (var q = 0u; q < p.d - 4u * t; q++) {
                    for (var j = 0u; j < C; j++) {
                        grads[(4u * t + q) * C + j] = acc[j][q];
                    }
                }
            }
        }
    }
    if wid.x == 0u && lid.x == 0u {
        var loss = 0.0;
        var correct = 0.0;
        var db: array<f32, MAX_C>;
        for (var r = 0u; r < p.rows; r++) {
            loss += batch_at(tail + r);
            correct += batch_at(tail + p.rows + r);
            for (var j = 0u; j < C; j++) {
                db[j] += batch_at(r * C + j);
            }
        }
        stats[2u * p.slot] = loss * p.inv_rows;
        stats[2u * p.slot + 1u] = correct;
        if has_flag(WITH_GRADS) {
            for (var j = 0u; j < C; j++) {
                grads[p.d * C + j] = db[j];
            }
        }
    }
}
