// The tiled linear step for wide models (src/gpu/ops/tiled_step): its
// parameters, flags, and where the batch's rows lie in the dataset. Shared
// by its modules (src/gpu/shader_modules.rs): the GEMMs (with scalar or
// vec4 loads) and the loss with the reductions. Every kernel of the step
// takes the same parameters, each binding the buffers it uses.

struct TiledParams {
    rows: u32,
    d: u32,
    c: u32,
    first: u32,
    chunk_rows: u32,
    flags: u32,
    slot: u32,
    splits: u32,
    split_rows: u32,
    reduce_from: u32,
    margin: f32,
    smoothing: f32,
    inv_rows: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

const HAS_CLASS_WEIGHTS: u32 = 1u;
const REAL_TARGETS: u32 = 2u;
// The batch's rows were gathered in order into chunk0 beforehand (a dataset
// of more chunks than the kernels bind): row r is chunk0's row r.
const GATHERED: u32 = 4u;

@group(0) @binding(0) var<uniform> p: TiledParams;
// The step reads rows indices[first..first + rows].
@group(0) @binding(5) var<storage, read> indices: array<u32>;

fn has_flag(flag: u32) -> bool {
    return (p.flags & flag) != 0u;
}

// The dataset row of batch row r.
fn dataset_row(r: u32) -> u32 {
    if has_flag(GATHERED) {
        return r;
    }
    return indices[p.first + r];
}

// Where a dataset row's features start: its chunk, and the offset there.
struct RowStart {
    chunk: u32,
    at: u32,
}

fn row_start(r: u32) -> RowStart {
    let row = dataset_row(r);
    let chunk = row / p.chunk_rows;
    return RowStart(chunk, (row - chunk * p.chunk_rows) * p.d);
}
