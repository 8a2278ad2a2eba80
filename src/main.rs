//! The `bevara` command: parses flags and calls the library.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bevara")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return bevara::ExitCode::Failure.into();
        }
    };
    let code = runtime.block_on(cli::run(args));
    // Do not wait for stray blocking tasks (a hung DNS lookup, say).
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code.into()
}
