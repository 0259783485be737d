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
