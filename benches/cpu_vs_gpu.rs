//! `cargo bench --bench cpu_vs_gpu [-- --quick] [-- --json FILE]`: the CPU
//! backend against the GPU backend; see `lintrain::bench`. The flags and
//! the printing are those of `lintrain bench`, from the CLI's own file.

#[path = "../src/cli/bench.rs"]
mod bench;

use bench::BenchArgs;
use clap::Parser;
use std::process::ExitCode;

/// The bench target's command line (`cargo bench` appends `--bench`).
#[derive(Parser)]
#[command(
    name = "cpu_vs_gpu",
    about = "lintrain benchmark: CPU backend against GPU backend"
)]
struct BenchCli {
    #[command(flatten)]
    args: BenchArgs,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    // `cargo test --all-targets` runs this target unoptimized, without
    // `--bench` and with the test harness's arguments: figures from such a
    // build mean nothing, so it becomes the quick smoke run that keeps the
    // benchmark working.
    let under_cargo_test = cfg!(debug_assertions) && !std::env::args().any(|a| a == "--bench");
    let mut cli = match BenchCli::try_parse() {
        Ok(cli) => cli,
        Err(_) if under_cargo_test => BenchCli::parse_from(["cpu_vs_gpu"]),
        Err(e) => e.exit(),
    };
    if under_cargo_test && !cli.args.quick {
        eprintln!("lintrain bench: unoptimized build (cargo test): running --quick");
        cli.args.quick = true;
    }
    match bench::run_and_print(&cli.args, false) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lintrain bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
