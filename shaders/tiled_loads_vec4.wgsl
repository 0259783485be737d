// The tiled GEMMs' loads as vec4, for D and C multiples of 4: every row of
// X, W and dS then starts on a 16-byte boundary, and a group of four lies
// wholly inside its row or wholly past its end (loading as 0). The same
// functions as tiled_loads_scalar.wgsl.

@group(0) @binding(1) var<storage, read> chunk0: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> chunk1: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> chunk2: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> chunk3: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> weights: array<vec4<f32>>;
@group(0) @binding(15) var<storage, read> dscores: array<vec4<f32>>;

fn load_x4(start: RowStart, feature: u32) -> vec4<f32> {
    if feature >= p.d {
        return vec4<f32>(0.0);
    }
    let at = (start.at + feature) / 4u;
    switch start.chunk {
        case 0u: { return chunk0[at]; }
        case 1u: { return chunk1[at]; }
        case 2u: { return chunk2[at]; }
        default: { return chunk3[at]; }
    }
}

fn load_w4(k: u32, col: u32) -> vec4<f32> {
    if col >= p.c {
        return vec4<f32>(0.0);
    }
    return weights[(k * p.c + col) / 4u];
}

fn load_ds4(r: u32, col: u32) -> vec4<f32> {
    if col >= p.c {
        return vec4<f32>(0.0);
    }
    return dscores[(r * p.c + col) / 4u];
}

fn bias(col: u32) -> f32 {
    let at = p.d * p.c + col;
    return weights[at / 4u][at % 4u];
}
