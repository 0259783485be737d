// Fused mean squared error and binary logistic (BCE with logits, stable
// form max(s, 0) − s·t + log(1 + exp(−|s|))): row loss and dScores in one pass.

@compute @workgroup_size(256, 1, 1)
fn mean_squared_error(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    var loss_sum = 0.0;
    var correct = 0.0;
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        var loss = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            let d = scores[base + j] - target_at(i, j);
            loss += d * d;
            dscores[base + j] = 2.0 * d * p.inv_rows;
        }
        row_loss[i] = loss;
        loss_sum += loss;
        correct += correct_row(i, 0.5);
    }
    reduce_and_store(lane, loss_sum, correct);
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
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
            let s = scores[base + j];
            let t = target_at(i, j);
            loss += max(s, 0.0) + log(1.0 + exp(-abs(s))) - s * t;
            dscores[base + j] = (sigmoid(s) - t) * p.inv_rows;
        }
        row_loss[i] = loss;
        loss_sum += loss;
        correct += correct_row(i, 0.0);
    }
    reduce_and_store(lane, loss_sum, correct);
}
