//! The fused step's kernels as WGSL, generated for one number of outputs.
//!
//! Mesa's shader compiler keeps a register array in registers only while
//! every index into it is a constant; one index it cannot resolve (a loop it
//! did not unroll) moves the whole array to per-lane scratch memory, about
//! ten times slower. So the hot loops are written out here with every
//! register named or indexed by a literal, and only the loops over feature
//! texels and row blocks stay loops. The bindings and per-row helpers are
//! in shaders/fused_step.wgsl and the loss formulas in
//! shaders/loss_math.wgsl (shared with the unfused loss kernels); the
//! generated kernels are appended to the two.

use std::fmt::Write;

/// What every generated module starts with: the shared loss math, then the
/// fused step's bindings and per-row helpers.
pub(crate) const TEMPLATE: &str = concat!(
    include_str!("../../shaders/loss_math.wgsl"),
    include_str!("../../shaders/fused_step.wgsl")
);

/// vec4s per 64 KiB uniform window (`WINDOW_VEC4S` in the shader).
pub(crate) const WINDOW_VEC4S: usize = 4096;
/// Uniform windows holding W.
pub(crate) const WEIGHT_WINDOWS: usize = 4;

/// The shape a pipeline is generated for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FusedShape {
    /// Outputs C, 1 to 16.
    pub outputs: usize,
    /// Batch rows per lane of `fused_scores`.
    pub rows_per_lane: usize,
    /// Feature texels per lane of `fused_weight_grad`, 1 to 4.
    pub texels_per_lane: usize,
}

/// Feature texels (4 features × C outputs) of W per uniform window.
pub(crate) fn texels_per_window(outputs: usize) -> usize {
    WINDOW_VEC4S / outputs
}

const COMPONENTS: [char; 4] = ['x', 'y', 'z', 'w'];

fn comp(i: usize) -> char {
    COMPONENTS[i % 4]
}

/// `item(i)` for each i of `range` below `live`, `zero` for the rest,
/// comma-separated: an argument list padded to a fixed length.
fn padded(
    range: std::ops::Range<usize>,
    live: usize,
    zero: &str,
    item: impl Fn(usize) -> String,
) -> String {
    range
        .map(|i| if i < live { item(i) } else { zero.to_string() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The complete module for `shape`.
pub(crate) fn source(shape: FusedShape) -> String {
    let mut out = String::from(TEMPLATE);
    scores_kernel(&mut out, shape);
    weight_grad_kernel(&mut out, shape);
    out
}

// `write!` into a String cannot fail.
macro_rules! emit {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).expect("writing to a String")
    };
}

/// The opening of an 8-lane kernel named `name`, up to its first statement.
fn entry_point(out: &mut String, name: &str) {
    emit!(
        out,
        "
@compute @workgroup_size(8, 1, 1)
fn {name}(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {{"
    );
}

/// `fused_scores`: lane = batch rows `(wid·R + i)·8 + lane` for i < R.
fn scores_kernel(out: &mut String, shape: FusedShape) {
    let c = shape.outputs;
    let rows = shape.rows_per_lane;
    let quads = c.div_ceil(4);
    emit!(out, "\n// Generated for C = {c}, {rows} rows per lane.");
    emit!(out, "struct Scores {{");
    for i in 0..rows {
        for q in 0..quads {
            emit!(out, "    r{i}c{q}: vec4<f32>,");
        }
    }
    emit!(out, "}}\n\nstruct RowTexels {{");
    for i in 0..rows {
        emit!(out, "    a{i}: vec2<u32>,");
    }
    emit!(out, "}}");

    // One feature texel t of W arrives as lo (vec4 `lane` of the texel's
    // 4·C floats) and hi (vec4 8 + lane); W[4t + e][j] is float e·C + j.
    emit!(
        out,
        "\nfn add_texel(s: ptr<function, Scores>, at: RowTexels, t: u32, lo: vec4<f32>, hi: vec4<f32>) {{"
    );
    for i in 0..rows {
        emit!(
            out,
            "    let x{i} = textureLoad(x_rows, vec2(t, at.a{i}.x), at.a{i}.y, 0);"
        );
    }
    for e in 0..4 {
        for j in 0..c {
            let f = e * c + j;
            let (v, part) = (f / 4, if f / 4 < 8 { "lo" } else { "hi" });
            emit!(
                out,
                "    let w{e}_{j} = subgroupBroadcast({part}.{}, {}u);",
                comp(f),
                v % 8
            );
        }
    }
    for e in 0..4 {
        for q in 0..quads {
            let lanes = padded(4 * q..4 * q + 4, c, "0.0", |j| format!("w{e}_{j}"));
            emit!(out, "    let w{e}q{q} = vec4({lanes});");
            for i in 0..rows {
                emit!(
                    out,
                    "    (*s).r{i}c{q} = fma(vec4(x{i}.{}), w{e}q{q}, (*s).r{i}c{q});",
                    comp(e)
                );
            }
        }
    }
    emit!(out, "}}");

    entry_point(out, "fused_scores");
    emit!(out, "    var at: RowTexels;\n    var s: Scores;");
    for i in 0..rows {
        emit!(out, "    let r{i} = (wid.x * {rows}u + {i}u) * 8u + lid.x;");
        emit!(
            out,
            "    at.a{i} = texel_of(indices[p.first + min(r{i}, p.rows - 1u)]);"
        );
        for q in 0..quads {
            emit!(out, "    s.r{i}c{q} = bias[{q}];");
        }
    }
    let per_window = texels_per_window(c);
    emit!(out, "    let first = min(lane, {}u);", c - 1);
    emit!(out, "    let second = min(lane + 8u, {}u);", c - 1);
    emit!(out, "    let texels = (p.d + 3u) / 4u;");
    emit!(out, "    var t = 0u;");
    for window in 0..WEIGHT_WINDOWS {
        let hi = if c > 8 {
            format!("w{window}[v + second]")
        } else {
            "vec4(0.0)".into()
        };
        emit!(
            out,
            "    for (; t < min(texels, {}u); t++) {{
        let v = (t - {}u) * {c}u;
        add_texel(&s, at, t, w{window}[v + first], {hi});
    }}",
            (window + 1) * per_window,
            window * per_window
        );
    }
    for i in 0..rows {
        let scores = padded(0..16, c, "0.0", |j| format!("s.r{i}c{}.{}", j / 4, comp(j)));
        emit!(
            out,
            "    finish_row(r{i}, at.a{i}, array<f32, MAX_C>({scores}));"
        );
    }
    emit!(out, "}}");
}

/// `fused_weight_grad`: lane = feature texels `(wid·T + f)·8 + lane` for
/// f < T, over the batch 8 rows at a time; workgroup 0 also sums db, the
/// loss and the correct count.
fn weight_grad_kernel(out: &mut String, shape: FusedShape) {
    let c = shape.outputs;
    let texels = shape.texels_per_lane;
    let quads = c.div_ceil(4);
    emit!(
        out,
        "\n// Generated for C = {c}, {texels} feature texels per lane.\nstruct Grads {{"
    );
    for f in 0..texels {
        for j in 0..c {
            emit!(out, "    f{f}j{j}: vec4<f32>,");
        }
    }
    emit!(out, "}}");

    // dS of rows r0..r0+7 is 2·C vec4s from vec4 (r0 / 4)·C, loaded 8 at a
    // time across the lanes: dS[r0 + k][j] is float k·C + j of them.
    emit!(
        out,
        "\nfn add_rows(g: ptr<function, Grads>, columns: vec4<u32>, r0: u32, lane: u32) {{
    let index_bits = batch_at(p.rows * {c}u + 2u * p.rows + min(r0 + lane, p.rows - 1u));"
    );
    for q in 0..(2 * c).div_ceil(8) {
        emit!(
            out,
            "    let d{q} = batch_in[(r0 / 4u) * {c}u + {}u + lane];",
            8 * q
        );
    }
    for k in 0..8 {
        emit!(out, "    let live{k} = r0 + {k}u < p.rows;");
        emit!(
            out,
            "    let at{k} = texel_of(subgroupBroadcast(bitcast<u32>(index_bits), {k}u));"
        );
        for f in 0..texels {
            emit!(
                out,
                "    let x{k}_{f} = textureLoad(x_rows, vec2(columns.{}, at{k}.x), at{k}.y, 0);",
                comp(f)
            );
        }
        for j in 0..c {
            let flat = k * c + j;
            let v = flat / 4;
            emit!(
                out,
                "    let g{k}_{j} = vec4(select(0.0, subgroupBroadcast(d{}.{}, {}u), live{k}));",
                v / 8,
                comp(flat),
                v % 8
            );
            for f in 0..texels {
                emit!(
                    out,
                    "    (*g).f{f}j{j} = fma(x{k}_{f}, g{k}_{j}, (*g).f{f}j{j});"
                );
            }
        }
    }
    emit!(out, "}}");

    let lane_texels = padded(0..4, texels, "0u", |f| {
        format!("(wid.x * {texels}u + {f}u) * 8u + lid.x")
    });
    entry_point(out, "fused_weight_grad");
    emit!(
        out,
        "    let texels = (p.d + 3u) / 4u;
    if has_flag(WITH_GRADS) {{
        var g: Grads;
        let t = vec4<u32>({lane_texels});
        let columns = min(t, vec4(texels - 1u));
        for (var r0 = 0u; r0 < p.rows; r0 += 8u) {{
            add_rows(&g, columns, r0, lane);
        }}"
    );
    for f in 0..texels {
        emit!(out, "        if t.{0} < texels {{", comp(f));
        emit!(out, "            if 4u * t.{} + 4u <= p.d {{", comp(f));
        // The 4·C values of features 4t..4t+3 are contiguous in W.
        for v in 0..c {
            let items: Vec<String> = (0..4)
                .map(|e| {
                    let flat = 4 * v + e;
                    format!("g.f{f}j{}.{}", flat % c, comp(flat / c))
                })
                .collect();
            emit!(
                out,
                "                grads4[t.{} * {c}u + {v}u] = vec4({});",
                comp(f),
                items.join(", ")
            );
        }
        emit!(out, "            }} else {{");
        for q in 0..3 {
            emit!(out, "                if 4u * t.{} + {q}u < p.d {{", comp(f));
            for j in 0..c {
                emit!(
                    out,
                    "                    grads[(4u * t.{} + {q}u) * {c}u + {j}u] = g.f{f}j{j}.{};",
                    comp(f),
                    comp(q)
                );
            }
            emit!(out, "                }}");
        }
        emit!(out, "            }}\n        }}");
    }
    emit!(out, "    }}");

    // Each lane sums rows lane, lane + 8, …; the lanes' sums are then added
    // in lane order.
    emit!(
        out,
        "    if wid.x == 0u {{
        let tail = p.rows * {c}u;
        var loss = 0.0;
        var correct = 0.0;"
    );
    for q in 0..quads {
        emit!(out, "        var db{q} = vec4(0.0);");
    }
    emit!(
        out,
        "        for (var r = lid.x; r < p.rows; r += 8u) {{
            loss += batch_at(tail + r);
            correct += batch_at(tail + p.rows + r);"
    );
    for j in 0..c {
        emit!(
            out,
            "            db{}.{} += batch_at(r * {c}u + {j}u);",
            j / 4,
            comp(j)
        );
    }
    emit!(
        out,
        "        }}
        var total_loss = 0.0;
        var total_correct = 0.0;"
    );
    for q in 0..quads {
        emit!(out, "        var total{q} = vec4(0.0);");
    }
    for l in 0..8 {
        emit!(out, "        total_loss += subgroupBroadcast(loss, {l}u);");
        emit!(
            out,
            "        total_correct += subgroupBroadcast(correct, {l}u);"
        );
        for q in 0..quads {
            emit!(out, "        total{q} += subgroupBroadcast(db{q}, {l}u);");
        }
    }
    emit!(
        out,
        "        if lid.x == 0u {{
            stats[2u * p.slot] = total_loss * p.inv_rows;
            stats[2u * p.slot + 1u] = total_correct;
            if has_flag(WITH_GRADS) {{"
    );
    for j in 0..c {
        emit!(
            out,
            "                grads[p.d * {c}u + {j}u] = total{}.{};",
            j / 4,
            comp(j)
        );
    }
    emit!(out, "            }}\n        }}\n    }}\n}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    const LOSS_MATH: &str = include_str!("../../shaders/loss_math.wgsl");

    /// C = 10 (any loss: the loss is an override constant) with the rows
    /// and texels per lane the backend uses; also the golden module's shape.
    const SHAPE_C10: FusedShape = FusedShape {
        outputs: 10,
        rows_per_lane: 4,
        texels_per_lane: 2,
    };

    fn validated(shape: FusedShape, text: &str) -> naga::Module {
        let module = naga::front::wgsl::parse_str(text)
            .unwrap_or_else(|e| panic!("{shape:?} does not parse:\n{}", e.emit_to_string(text)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{shape:?} does not validate: {e:?}"));
        module
    }

    fn function_names(module: &naga::Module) -> BTreeSet<String> {
        module
            .functions
            .iter()
            .filter_map(|(_, function)| function.name.clone())
            .collect()
    }

    #[test]
    fn every_generated_shape_validates() {
        for outputs in 1..=16 {
            for (rows_per_lane, texels_per_lane) in [(1, 1), (4, 2), (8, 4)] {
                let shape = FusedShape {
                    outputs,
                    rows_per_lane,
                    texels_per_lane,
                };
                validated(shape, &source(shape));
            }
        }
    }

    /// The fused step computes each loss with the same loss_math.wgsl
    /// functions as the unfused kernels (tests/shaders_compile.rs checks
    /// those): the template includes the file once, and `fused_scores`
    /// reaches every one of its functions (the loss is an override, so all
    /// of them are compiled in).
    #[test]
    fn generated_module_calls_the_shared_loss_math() {
        let shape = SHAPE_C10;
        let text = source(shape);
        assert_eq!(
            text.matches(LOSS_MATH).count(),
            1,
            "the fused step must contain loss_math.wgsl exactly once"
        );
        let shared = function_names(&validated(shape, LOSS_MATH));
        let own = text.replacen(LOSS_MATH, "", 1);
        for function in &shared {
            assert!(
                !own.contains(&format!("fn {function}(")),
                "the fused step defines {function} again; it belongs to loss_math.wgsl only"
            );
        }
        // naga's compaction drops every function no remaining entry point reaches.
        let mut module = validated(shape, &text);
        module.entry_points.retain(|e| e.name == "fused_scores");
        naga::compact::compact(&mut module, naga::compact::KeepUnused::No);
        let reached = function_names(&module);
        let missed: Vec<_> = shared.difference(&reached).collect();
        assert!(missed.is_empty(), "fused_scores does not call {missed:?}");
    }

    fn golden_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fused_step_c10_r4_t2.wgsl")
    }

    /// One generated module, checked in whole, so that a change to the
    /// generator or to the WGSL it appends to shows in review as WGSL.
    #[test]
    fn generated_module_matches_its_golden_file() {
        let path = golden_path();
        let generated = source(SHAPE_C10);
        if std::env::var_os("LINTRAIN_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        let bless = format!(
            "If the change is intended, re-bless with\n    \
             LINTRAIN_BLESS=1 cargo test --lib gpu::fused_source\n\
             and review `git diff {}`.",
            path.display()
        );
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{bless}", path.display()))
            // A checkout that turned line ends into CRLF still matches.
            .replace("\r\n", "\n");
        if generated == golden {
            return;
        }
        let line = generated
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(golden.lines().count()));
        panic!(
            "{SHAPE_C10:?} generates a module that differs from {} \
             ({} lines generated, {} golden), first at line {}:\n  \
             generated: {:?}\n  golden:    {:?}\n{bless}",
            path.display(),
            generated.lines().count(),
            golden.lines().count(),
            line + 1,
            generated.lines().nth(line).unwrap_or("<end of module>"),
            golden.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}
