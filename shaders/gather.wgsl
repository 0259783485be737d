// Minibatch gather: out[r] = X[indices[first + r]] (and the labels), where
// the resident X spans up to four chunk buffers of chunk_rows rows each,
// holding global rows [group_start, group_end). A dataset of more chunks is
// gathered by one dispatch per group of four.

struct GatherParams {
    count: u32,
    cols: u32,
    first: u32,
    chunk_rows: u32,
    group_start: u32,
    group_end: u32,
    copy_labels: u32,
    out_row_offset: u32,
}

@group(0) @binding(0) var<uniform> p: GatherParams;
@group(0) @binding(1) var<storage, read> chunk0: array<f32>;
@group(0) @binding(2) var<storage, read> chunk1: array<f32>;
@group(0) @binding(3) var<storage, read> chunk2: array<f32>;
@group(0) @binding(4) var<storage, read> chunk3: array<f32>;
@group(0) @binding(5) var<storage, read> indices: array<u32>;
@group(0) @binding(6) var<storage, read> source_labels: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> out_labels: array<u32>;

fn read_chunk(chunk: u32, at: u32) -> f32 {
    switch chunk {
        case 0u: { return chunk0[at]; }
        case 1u: { return chunk1[at]; }
        case 2u: { return chunk2[at]; }
        default: { return chunk3[at]; }
    }
}

@compute @workgroup_size(64, 1, 1)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let r = gid.y + p.out_row_offset;
    if r >= p.count {
        return;
    }
    let row = indices[p.first + r];
    if col == 0u && p.copy_labels != 0u {
        out_labels[r] = source_labels[row];
    }
    if col >= p.cols || row < p.group_start || row >= p.group_end {
        return;
    }
    let local = row - p.group_start;
    let chunk = local / p.chunk_rows;
    let at = (local - chunk * p.chunk_rows) * p.cols + col;
    out[r * p.cols + col] = read_chunk(chunk, at);
}
