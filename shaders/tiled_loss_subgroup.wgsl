// The loss rows' reductions with subgroup operations, for any subgroup
// size from MIN_SUBGROUP_SIZE up: each subgroup reduces its invocations'
// values in registers (subgroupAdd; or subgroupMax, then subgroupMin over
// the columns holding that maximum), its first invocation writes the
// subgroup's partial to workgroup memory at its subgroup_id, and after one
// barrier every invocation combines the partials in subgroup order. A
// row's top is exact whatever the grouping; a sum's rounding depends only
// on how the adapter groups invocations, which is fixed, so the result is
// the same on every run. Appended to tiled_loss.wgsl; the host selects it
// where the device has subgroup operations (GpuContext::tiled_loss).
//
// The partials alternate between two halves of each array, so that one
// barrier per reduction suffices: a reduction writes one half while
// slower invocations may still read the other, from the reduction before;
// the barrier of the reduction in between orders every read of a half
// before its next write.

// wgpu's floor for an adapter's smallest subgroup (its
// MINIMUM_SUBGROUP_MIN_SIZE): every subgroup of a workgroup but the last
// holds at least this many invocations, so a workgroup of at most MAX_WG
// has at most MAX_SUBGROUPS.
const MIN_SUBGROUP_SIZE: u32 = 4u;
const MAX_SUBGROUPS: u32 = MAX_WG / MIN_SUBGROUP_SIZE;

// An invocation of the workgroup reducing a row: its index in the
// workgroup, its subgroup's, its index there, and the subgroup count.
struct Lanes {
    lane: u32,
    subgroup: u32,
    in_subgroup: u32,
    subgroups: u32,
}

var<workgroup> partial_values: array<f32, 2u * MAX_SUBGROUPS>;
var<workgroup> partial_columns: array<u32, 2u * MAX_SUBGROUPS>;
// Which half the next reduction writes (0 or MAX_SUBGROUPS), the same in
// every invocation: every invocation runs the same reductions in order.
var<private> next_half: u32 = 0u;

fn take_half() -> u32 {
    let half = next_half;
    next_half = MAX_SUBGROUPS - half;
    return half;
}

// Σ over the workgroup of `value`, the same in every invocation.
fn row_sum(lanes: Lanes, value: f32) -> f32 {
    let half = take_half();
    let partial = subgroupAdd(value);
    if lanes.in_subgroup == 0u {
        partial_values[half + lanes.subgroup] = partial;
    }
    workgroupBarrier();
    var total = 0.0;
    for (var s = 0u; s < lanes.subgroups; s++) {
        total += partial_values[half + s];
    }
    return total;
}

// The workgroup's top of every invocation's `mine`, the same in every
// invocation. An invocation without a column holds, as its value, the
// row's first score, which no column's value loses to when it is not NaN
// (tiled_loss.wgsl overrides the top when it is): a subgroup whose own
// columns are all smaller reports none, and the subgroup holding column 0
// reports a better one.
fn row_top(lanes: Lanes, mine: Top) -> Top {
    let half = take_half();
    let best = subgroupMax(mine.value);
    let holds_best = mine.column != NO_COLUMN && mine.value == best;
    let column = subgroupMin(select(NO_COLUMN, mine.column, holds_best));
    if lanes.in_subgroup == 0u {
        partial_values[half + lanes.subgroup] = best;
        partial_columns[half + lanes.subgroup] = column;
    }
    workgroupBarrier();
    var top = Top(0.0, NO_COLUMN);
    for (var s = 0u; s < lanes.subgroups; s++) {
        let other = Top(partial_values[half + s], partial_columns[half + s]);
        if beats(other, top) {
            top = other;
        }
    }
    return top;
}

@compute @workgroup_size(WG, 1, 1)
fn tiled_loss(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_invocation_id) in_subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
) {
    loss_rows(Lanes(lid.x, subgroup, in_subgroup, subgroups), wid.x, groups.x);
}
