//! `cargo bench --bench cpu_vs_gpu [-- --quick] [-- --json FILE]`: the CPU
//! backend against the GPU backend; see `lintrain::bench`.

fn main() -> std::process::ExitCode {
    lintrain::bench::main_from_args()
}
