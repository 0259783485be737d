// Shared by the fused loss kernels (prepended, after loss_math.wgsl, to
// softmax_xent.wgsl, hinge.wgsl and regression.wgsl). One workgroup of LANES invocations walks
// the rows (lane t takes rows t, t + LANES, …), writes dScores and the row
// loss, and reduces the batch loss and correct count in a fixed tree: the
// result is deterministic, with no atomics.

struct LossParams {
    rows: u32,
    cols: u32,
    slot: u32,
    flags: u32,
    margin: f32,
    smoothing: f32,
    inv_rows: f32,
    pad: u32,
}

const HAS_CLASS_WEIGHTS: u32 = 1u;
const REAL_TARGETS: u32 = 2u;
const SQUARED: u32 = 4u;
const LANES: u32 = 256u;

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
// Class weights (C) or real-valued targets (rows × C), by flag.
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

var<workgroup> partial_loss: array<f32, LANES>;
var<workgroup> partial_correct: array<f32, LANES>;

fn has_flag(flag: u32) -> bool {
    return (p.flags & flag) != 0u;
}

// First index of the row maximum.
fn argmax_row(base: u32) -> u32 {
    var best = 0u;
    var best_value = scores[base];
    for (var j = 1u; j < p.cols; j++) {
        let v = scores[base + j];
        if v > best_value {
            best = j;
            best_value = v;
        }
    }
    return best;
}

// Target of output j of row i: a real value, or the class target of its label.
fn target_at(i: u32, j: u32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return aux[i * p.cols + j];
    }
    return class_target(p.cols, labels[i], j);
}

// 1 when row i is classified correctly (see classified_correctly).
fn correct_row(i: u32, threshold: f32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return 0.0;
    }
    let base = i * p.cols;
    // With one output the argmax reads only scores[base], which the rule reads anyway.
    return classified_correctly(p.cols, scores[base], threshold, argmax_row(base), labels[i]);
}

fn reduce_and_store(lane: u32, loss_sum: f32, correct: f32) {
    partial_loss[lane] = loss_sum;
    partial_correct[lane] = correct;
    workgroupBarrier();
    for (var width = LANES / 2u; width > 0u; width = width / 2u) {
        if lane < width {
            partial_loss[lane] += partial_loss[lane + width];
            partial_correct[lane] += partial_correct[lane + width];
        }
        workgroupBarrier();
    }
    if lane == 0u {
        stats[2u * p.slot] = partial_loss[0] * p.inv_rows;
        stats[2u * p.slot + 1u] = partial_correct[0];
    }
}
