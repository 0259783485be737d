// The step's loss for wide rows: a workgroup of WG invocations per row
// (rows wid.x, wid.x + groups, …), each invocation taking the columns
// lane, lane + WG, …, the row's maximum, sums and counts reduced over the
// workgroup in a fixed tree in workgroup memory, so that no subgroup size
// is assumed. The per-output formulas are loss_math.wgsl's, as in the
// unfused loss kernels. Writes dS = slope/N (times the class weight for
// softmax) and the row's loss and correct flag; tiled_stats then sums the
// rows in a fixed order into stats[2·slot] (mean loss) and
// stats[2·slot + 1] (correct count).

@group(0) @binding(6) var<storage, read> labels: array<u32>;
@group(0) @binding(9) var<storage, read> scores: array<f32>;
// Class weights (C), or the batch's real-valued targets (rows × C), by flag.
@group(0) @binding(10) var<storage, read> aux: array<f32>;
@group(0) @binding(11) var<storage, read_write> dscores_out: array<f32>;
// Per batch row: its loss and its correct flag.
@group(0) @binding(12) var<storage, read_write> row_stats_out: array<f32>;
@group(0) @binding(13) var<storage, read> row_stats: array<f32>;
@group(0) @binding(14) var<storage, read_write> stats: array<f32>;

const SOFTMAX: u32 = 0u;
const HINGE: u32 = 1u;
const SQUARED_HINGE: u32 = 2u;
const MSE: u32 = 3u;
const LOGISTIC: u32 = 4u;
override LOSS: u32 = 0u;
// Invocations per workgroup: a power of two, at most MAX_WG.
override WG: u32 = 256u;
const MAX_WG: u32 = 256u;
const NO_COLUMN: u32 = 0xffffffffu;

var<workgroup> shared_values: array<f32, MAX_WG>;
var<workgroup> shared_columns: array<u32, MAX_WG>;

// Σ over the workgroup of `value`, the same in every invocation.
fn workgroup_sum(lane: u32, value: f32) -> f32 {
    shared_values[lane] = value;
    workgroupBarrier();
    for (var width = WG / 2u; width > 0u; width = width / 2u) {
        if lane < width {
            shared_values[lane] += shared_values[lane + width];
        }
        workgroupBarrier();
    }
    let total = shared_values[0];
    workgroupBarrier();
    return total;
}

// A row's largest score and the first column that holds it.
struct Top {
    value: f32,
    column: u32,
}

// Whether `a` beats `b`: larger, or as large at an earlier column.
fn beats(a: Top, b: Top) -> bool {
    if b.column == NO_COLUMN {
        return a.column != NO_COLUMN;
    }
    return a.column != NO_COLUMN && (a.value > b.value || (a.value == b.value && a.column < b.column));
}

fn workgroup_top(lane: u32, mine: Top) -> Top {
    shared_values[lane] = mine.value;
    shared_columns[lane] = mine.column;
    workgroupBarrier();
    for (var width = WG / 2u; width > 0u; width = width / 2u) {
        if lane < width {
            let other = Top(shared_values[lane + width], shared_columns[lane + width]);
            if beats(other, Top(shared_values[lane], shared_columns[lane])) {
                shared_values[lane] = other.value;
                shared_columns[lane] = other.column;
            }
        }
        workgroupBarrier();
    }
    let top = Top(shared_values[0], shared_columns[0]);
    workgroupBarrier();
    return top;
}

// The target of output j of batch row i (loss_common.wgsl's target_at).
fn target_of(i: u32, label: u32, j: u32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return aux[i * p.c + j];
    }
    return class_target(p.c, label, j);
}

// Writes dS of row i and returns its loss (before the batch mean).
fn row_loss(lane: u32, i: u32, label: u32, top: Top) -> f32 {
    let base = i * p.c;
    var loss = 0.0;
    if LOSS == SOFTMAX {
        var total = 0.0;
        for (var j = lane; j < p.c; j += WG) {
            total += softmax_shifted_exp(scores[base + j], top.value);
        }
        let log_total = log(workgroup_sum(lane, total));
        var weight = 1.0;
        if has_flag(HAS_CLASS_WEIGHTS) {
            weight = aux[label];
        }
        let uniform_q = uniform_target(p.smoothing, p.c);
        for (var j = lane; j < p.c; j += WG) {
            let log_p = softmax_log_probability(scores[base + j], top.value, log_total);
            let term = softmax_term(log_p, smoothed_target(uniform_q, p.smoothing, j == label));
            loss += term.loss;
            dscores_out[base + j] = weight * term.slope * p.inv_rows;
        }
        return weight * workgroup_sum(lane, loss);
    }
    if LOSS == HINGE || LOSS == SQUARED_HINGE {
        let s_y = scores[base + label];
        var slopes = 0.0;
        for (var j = lane; j < p.c; j += WG) {
            if j == label {
                continue;
            }
            let term = hinge_term(scores[base + j], s_y, p.margin, LOSS == SQUARED_HINGE);
            loss += term.loss;
            slopes += term.slope;
            dscores_out[base + j] = term.slope * p.inv_rows;
        }
        // The label's own slope is minus the sum of the others'.
        let label_slope = -workgroup_sum(lane, slopes);
        if lane == 0u {
            dscores_out[base + label] = label_slope * p.inv_rows;
        }
        return workgroup_sum(lane, loss);
    }
    for (var j = lane; j < p.c; j += WG) {
        var term: LossTerm;
        if LOSS == MSE {
            term = squared_error_term(scores[base + j], target_of(i, label, j));
        } else {
            term = logistic_term(scores[base + j], target_of(i, label, j));
        }
        loss += term.loss;
        dscores_out[base + j] = term.slope * p.inv_rows;
    }
    return workgroup_sum(lane, loss);
}

@compute @workgroup_size(WG, 1, 1)
fn tiled_loss(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let lane = lid.x;
    for (var i = wid.x; i < p.rows; i += groups.x) {
        let base = i * p.c;
        var label = 0u;
        if !has_flag(REAL_TARGETS) {
            // The dataset's own row, also where its rows were gathered.
            label = labels[indices[p.first + i]];
        }
        var mine = Top(0.0, NO_COLUMN);
        for (var j = lane; j < p.c; j += WG) {
            let candidate = Top(scores[base + j], j);
            if beats(candidate, mine) {
                mine = candidate;
            }
        }
        let top = workgroup_top(lane, mine);
        let loss = row_loss(lane, i, label, top);
        if lane == 0u {
            var correct = 0.0;
            if !has_flag(REAL_TARGETS) {
                let threshold = single_output_threshold(LOSS == MSE);
                correct = classified_correctly(p.c, scores[base], threshold, top.column, label);
            }
            row_stats_out[2u * i] = loss;
            row_stats_out[2u * i + 1u] = correct;
        }
    }
}

// The batch's mean loss and correct count from the rows' (one workgroup).
@compute @workgroup_size(WG, 1, 1)
fn tiled_stats(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss = 0.0;
    var correct = 0.0;
    for (var i = lane; i < p.rows; i += WG) {
        loss += row_stats[2u * i];
        correct += row_stats[2u * i + 1u];
    }
    let loss_sum = workgroup_sum(lane, loss);
    let correct_sum = workgroup_sum(lane, correct);
    if lane == 0u {
        stats[2u * p.slot] = loss_sum * p.inv_rows;
        stats[2u * p.slot + 1u] = correct_sum;
    }
}
