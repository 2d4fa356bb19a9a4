//! The `nbwarden` binary: parse the command line, start logging, run, map the result to an exit code.

use clap::Parser;
use nbwarden::cli::{init_logging, run, Cli};
use std::process::ExitCode;

/// Every poll frees and allocates hundreds of thousands of small strings; glibc's allocator
/// fragments under that pattern and slows down poll after poll, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
