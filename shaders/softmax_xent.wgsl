// Fused softmax cross-entropy: max-subtracted log-softmax, optional label
// smoothing and class weights, row loss and dScores = w_y·(P − q)/N in one pass.

@compute @workgroup_size(256, 1, 1)
fn softmax_cross_entropy(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss_sum = 0.0;
    var correct = 0.0;
    let uniform_q = p.smoothing / f32(p.cols);
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        let y = labels[i];
        var row_max = scores[base];
        for (var j = 1u; j < p.cols; j++) {
            row_max = max(row_max, scores[base + j]);
        }
        var total = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            total += exp(scores[base + j] - row_max);
        }
        let log_total = log(total);
        var weight = 1.0;
        if has_flag(HAS_CLASS_WEIGHTS) {
            weight = aux[y];
        }
        var loss = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let log_p = scores[base + j] - row_max - log_total;
            let q = uniform_q + select(0.0, 1.0 - p.smoothing, j == y);
            loss -= q * log_p;
            dscores[base + j] = weight * (exp(log_p) - q) * p.inv_rows;
        }
        row_loss[i] = weight * loss;
        loss_sum += weight * loss;
        correct += correct_row(i, 0.0);
    }
    reduce_and_store(lane, loss_sum, correct);
}
