// The tiled GEMMs' loads from scalar arrays, for any D and C: four
// neighbouring values at a time, each past the end of its row (or of W's
// and dS's rows) loading as 0. tiled_loads_vec4.wgsl is the same for
// aligned shapes.

// The dataset, `chunk_rows` rows of `d` features per chunk buffer.
@group(0) @binding(1) var<storage, read> chunk0: array<f32>;
@group(0) @binding(2) var<storage, read> chunk1: array<f32>;
@group(0) @binding(3) var<storage, read> chunk2: array<f32>;
@group(0) @binding(4) var<storage, read> chunk3: array<f32>;
// [W | b]: W is D×C, row-major.
@group(0) @binding(7) var<storage, read> weights: array<f32>;
// dS of the batch, rows × C.
@group(0) @binding(15) var<storage, read> dscores: array<f32>;

fn x_at(chunk: u32, at: u32) -> f32 {
    switch chunk {
        case 0u: { return chunk0[at]; }
        case 1u: { return chunk1[at]; }
        case 2u: { return chunk2[at]; }
        default: { return chunk3[at]; }
    }
}

// Features feature..feature + 3 of the row starting at `start`.
fn load_x4(start: RowStart, feature: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if feature + q < p.d {
            v[q] = x_at(start.chunk, start.at + feature + q);
        }
    }
    return v;
}

// Columns col..col + 3 of W's row k.
fn load_w4(k: u32, col: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if col + q < p.c {
            v[q] = weights[k * p.c + col + q];
        }
    }
    return v;
}

// Columns col..col + 3 of dS's row r.
fn load_ds4(r: u32, col: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        if col + q < p.c {
            v[q] = dscores[r * p.c + col + q];
        }
    }
    return v;
}

fn bias(col: u32) -> f32 {
    return weights[p.d * p.c + col];
}
