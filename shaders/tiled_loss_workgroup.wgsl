// The loss rows' reductions over a fixed tree in workgroup memory: no
// subgroup operation and no subgroup size assumed, on any adapter, at
// log2(WG) + 2 barriers per reduction. Appended to tiled_loss.wgsl; also
// what tiled_stats (tiled_reduce.wgsl) sums with.

// An invocation of the workgroup reducing a row.
struct Lanes {
    lane: u32,
}

var<workgroup> shared_values: array<f32, MAX_WG>;
var<workgroup> shared_columns: array<u32, MAX_WG>;

// Σ over the workgroup of `value`, the same in every invocation.
fn row_sum(lanes: Lanes, value: f32) -> f32 {
    let lane = lanes.lane;
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

// The workgroup's top of every invocation's `mine`, the same in every
// invocation.
fn row_top(lanes: Lanes, mine: Top) -> Top {
    let lane = lanes.lane;
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

@compute @workgroup_size(WG, 1, 1)
fn tiled_loss(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    loss_rows(Lanes(lid.x), wid.x, groups.x);
}
