// Fused Weston–Watkins multiclass SVM hinge (plain or squared): margins
// max(0, s_j − s_y + Δ) for j ≠ y (hinge_term), the row loss and dScores in
// one pass.

@compute @workgroup_size(256, 1, 1)
fn hinge(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    let squared = has_flag(SQUARED);
    var loss_sum = 0.0;
    var correct = 0.0;
    for (var i = lane; i < p.rows; i += LANES) {
        let base = i * p.cols;
        let y = labels[i];
        let s_y = scores[base + y];
        var loss = 0.0;
        var d_y = 0.0;
        for (var j = 0u; j < p.cols; j++) {
            if j == y {
                continue;
            }
            let term = hinge_term(scores[base + j], s_y, p.margin, squared);
            loss += term.loss;
            d_y -= term.slope;
            dscores[base + j] = term.slope * p.inv_rows;
        }
        dscores[base + y] = d_y * p.inv_rows;
        row_loss[i] = loss;
        loss_sum += loss;
        correct += correct_row(i, single_output_threshold(false));
    }
    reduce_and_store(lane, loss_sum, correct);
}
