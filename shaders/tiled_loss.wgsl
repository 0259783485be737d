// The step's loss for wide rows: a workgroup of WG invocations per row
// (rows first_row, first_row + row_step, …), each invocation taking the
// columns lane, lane + WG, …, and the row's maximum, sums and counts
// reduced over the workgroup by one of two files appended to this one,
// each defining `Lanes`, `row_top`, `row_sum` and the `tiled_loss` entry
// point: tiled_loss_workgroup.wgsl (a fixed tree in workgroup memory, no
// subgroup operations) or tiled_loss_subgroup.wgsl (subgroup operations,
// then the subgroups' partials in subgroup order; any subgroup size from
// MIN_SUBGROUP_SIZE up). The per-output formulas are loss_math.wgsl's, as
// in the unfused loss kernels. Writes dS = slope/N (times the class weight
// for softmax) and the row's loss and correct flag; tiled_stats then sums
// the rows in a fixed order into stats[2·slot] (mean loss) and
// stats[2·slot + 1] (correct count).

@group(0) @binding(6) var<storage, read> labels: array<u32>;
@group(0) @binding(9) var<storage, read> scores: array<f32>;
// Class weights (C), or the batch's real-valued targets (rows × C), by flag.
@group(0) @binding(10) var<storage, read> aux: array<f32>;
@group(0) @binding(11) var<storage, read_write> dscores_out: array<f32>;
// Per batch row: its loss and its correct flag.
@group(0) @binding(12) var<storage, read_write> row_stats_out: array<f32>;

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

// A row's largest score and the first column that holds it.
struct Top {
    value: f32,
    column: u32,
}

// Whether `a` beats `b`: larger, or as large at an earlier column. No
// column (NO_COLUMN) loses to any column. NaN never reaches here (see
// `loss_rows`).
fn beats(a: Top, b: Top) -> bool {
    if b.column == NO_COLUMN {
        return a.column != NO_COLUMN;
    }
    return a.column != NO_COLUMN && (a.value > b.value || (a.value == b.value && a.column < b.column));
}

// Whether `x` is a NaN, from its bits: a comparison of x with itself may
// be folded away by a compiler that assumes no NaN.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// The target of output j of batch row i (loss_common.wgsl's target_at).
fn target_of(i: u32, label: u32, j: u32) -> f32 {
    if has_flag(REAL_TARGETS) {
        return aux[i * p.c + j];
    }
    return class_target(p.c, label, j);
}

// Writes dS of row i and returns its loss (before the batch mean).
fn row_loss(lanes: Lanes, i: u32, label: u32, top: Top) -> f32 {
    let lane = lanes.lane;
    let base = i * p.c;
    var loss = 0.0;
    if LOSS == SOFTMAX {
        var total = 0.0;
        for (var j = lane; j < p.c; j += WG) {
            total += softmax_shifted_exp(scores[base + j], top.value);
        }
        let log_total = log(row_sum(lanes, total));
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
        return weight * row_sum(lanes, loss);
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
        let label_slope = -row_sum(lanes, slopes);
        if lane == 0u {
            dscores_out[base + label] = label_slope * p.inv_rows;
        }
        return row_sum(lanes, loss);
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
    return row_sum(lanes, loss);
}

// The rows first_row, first_row + row_step, … of the batch, by the
// workgroup whose invocation is `lanes`.
fn loss_rows(lanes: Lanes, first_row: u32, row_step: u32) {
    let lane = lanes.lane;
    for (var i = first_row; i < p.rows; i += row_step) {
        let base = i * p.c;
        var label = 0u;
        if !has_flag(REAL_TARGETS) {
            // The dataset's own row, also where its rows were gathered.
            label = labels[indices[p.first + i]];
        }
        // The row's top by reference::argmax's rule: a NaN in column 0 is
        // the top, any other NaN is passed over, and the first column of
        // the largest score wins.
        let first_score = scores[base];
        // Without a column yet, the first score as the value: no larger
        // than the top's unless NaN (tiled_loss_subgroup.wgsl relies on
        // it; the workgroup tree ignores the value of no column).
        var mine = Top(first_score, NO_COLUMN);
        for (var j = lane; j < p.c; j += WG) {
            let candidate = Top(scores[base + j], j);
            if !is_nan(candidate.value) && beats(candidate, mine) {
                mine = candidate;
            }
        }
        var top = row_top(lanes, mine);
        if is_nan(first_score) {
            top = Top(first_score, 0u);
        }
        let loss = row_loss(lanes, i, label, top);
        if lane == 0u {
            var correct = 0.0;
            if !has_flag(REAL_TARGETS) {
                let threshold = single_output_threshold(LOSS == MSE);
                correct = classified_correctly(p.c, first_score, threshold, top.column, label);
            }
            row_stats_out[2u * i] = loss;
            row_stats_out[2u * i + 1u] = correct;
        }
    }
}
