// The loss rows' reductions with subgroup operations, for any subgroup
// size from MIN_SUBGROUP_SIZE up: each subgroup reduces its invocations'
// values in registers (subgroupAdd; or subgroupMax, then subgroupMin over
// the columns holding that maximum), its first invocation writes the
// subgroup's partial to workgroup memory at its subgroup_id, and after one
// barrier every subgroup combines the partials the same way: each lane
// those at lane, lane + size, … in subgroup order, then the subgroup
// operation over the lanes. A row's top is exact whatever the grouping; a
// sum's rounding depends only on how the adapter groups invocations and
// orders a subgroup's operation, both fixed, so the result is the same on
// every run. Appended to tiled_loss.wgsl; the host selects it where the
// device has subgroup operations (GpuContext::tiled_loss).
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
// workgroup, its subgroup's, its index there, the subgroup count, and the
// invocations per subgroup.
struct Lanes {
    lane: u32,
    subgroup: u32,
    in_subgroup: u32,
    subgroups: u32,
    size: u32,
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

// Σ over the workgroup of `value`: the subgroups' sums, then their sum,
// each lane of every subgroup adding the partials lane, lane + size, …
// and the subgroup adding its lanes'. Every subgroup adds the same values
// the same way, so that the total is the same in every invocation.
fn row_sum(lanes: Lanes, value: f32) -> f32 {
    let half = take_half();
    let partial = subgroupAdd(value);
    if lanes.in_subgroup == 0u {
        partial_values[half + lanes.subgroup] = partial;
    }
    workgroupBarrier();
    var mine = 0.0;
    for (var s = lanes.in_subgroup; s < lanes.subgroups; s += lanes.size) {
        mine += partial_values[half + s];
    }
    return subgroupAdd(mine);
}

// The subgroup's top of its invocations' `mine`: the largest value, then
// the smallest column holding it (NO_COLUMN when only invocations without
// a column hold it). Exact, so independent of how the lanes are grouped.
fn subgroup_top(mine: Top) -> Top {
    let best = subgroupMax(mine.value);
    let holds_best = mine.column != NO_COLUMN && mine.value == best;
    return Top(best, subgroupMin(select(NO_COLUMN, mine.column, holds_best)));
}

// The workgroup's top of every invocation's `mine`, the same in every
// invocation: the subgroups' tops, then, in every subgroup, the top of
// theirs. An invocation without a column holds as its value one no larger
// than the row's top: the row's first score (tiled_loss.wgsl overrides the
// top when that is NaN) or a subgroup's value. So a maximum taken
// over every invocation's value is the top's value, and a subgroup whose
// own columns are all smaller reports no column.
fn row_top(lanes: Lanes, mine: Top) -> Top {
    let half = take_half();
    let partial = subgroup_top(mine);
    if lanes.in_subgroup == 0u {
        partial_values[half + lanes.subgroup] = partial.value;
        partial_columns[half + lanes.subgroup] = partial.column;
    }
    workgroupBarrier();
    var best = Top(partial_values[half], NO_COLUMN);
    for (var s = lanes.in_subgroup; s < lanes.subgroups; s += lanes.size) {
        let other = Top(partial_values[half + s], partial_columns[half + s]);
        if beats(other, best) {
            best = other;
        }
    }
    return subgroup_top(best);
}

@compute @workgroup_size(WG, 1, 1)
fn tiled_loss(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_invocation_id) in_subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
    @builtin(subgroup_size) size: u32,
) {
    loss_rows(Lanes(lid.x, subgroup, in_subgroup, subgroups, size), wid.x, groups.x);
}
