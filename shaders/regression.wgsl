// Fused mean squared error and binary logistic (BCE with logits, stable
// form max(s, 0) − s·t + log(1 + exp(−|s|))): row loss and dScores in one
// pass (the formulas are loss_math.wgsl's squared_error_term and
// logistic_term).

@compute @workgroup_size(256, 1, 1)
fn mean_squared_error(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss_sum = 0.0;
    var correct = 0.0;
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        var loss = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let term = squared_error_term(scores[base + j], target_at(i, j));
            loss += term.loss;
            dscores[base + j] = term.slope * p.inv_rows;
        }
        row_loss[i] = loss;
        loss_sum += loss;
        correct += correct_row(i, single_output_threshold(true));
    }
    reduce_and_store(lane, loss_sum, correct);
}

@compute @workgroup_size(256, 1, 1)
fn logistic(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss_sum = 0.0;
    var correct = 0.0;
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        var loss = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let term = logistic_term(scores[base + j], target_at(i, j));
            loss += term.loss;
            dscores[base + j] = term.slope * p.inv_rows;
        }
        row_loss[i] = loss;
        loss_sum += loss;
        correct += correct_row(i, single_output_threshold(false));
    }
    reduce_and_store(lane, loss_sum, correct);
}
