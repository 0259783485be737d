// Fused softmax cross-entropy: max-subtracted log-softmax, optional label
// smoothing and class weights, row loss and dScores = w_y·(P − q)/N in one
// pass (the formulas are loss_math.wgsl's softmax_* and smoothed_target).

@compute @workgroup_size(256, 1, 1)
fn softmax_cross_entropy(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss_sum = 0.0;
    var correct = 0.0;
    let uniform_q = uniform_target(p.smoothing, p.cols);
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        let y = labels[i];
        var row_max = scores[base];
        for (var j = 1u; j < p.cols; j++) {
            row_max = max(row_max, scores[base + j]);
        }
        var total = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            total += softmax_shifted_exp(scores[base + j], row_max);
        }
        let log_total = log(total);
        var weight = 1.0;
        if has_flag(HAS_CLASS_WEIGHTS) {
            weight = aux[y];
        }
        var loss = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let log_p = softmax_log_probability(scores[base + j], row_max, log_total);
            let term = softmax_term(log_p, smoothed_target(uniform_q, p.smoothing, j == y));
            loss += term.loss;
            dscores[base + j] = weight * term.slope * p.inv_rows;
        }
        row_loss[i] = weight * loss;
        loss_sum += weight * loss;
        correct += correct_row(i, single_output_threshold(false));
    }
    reduce_and_store(lane, loss_sum, correct);
}
