//! `grader`: grades a learner's backend in Docker. This file only parses the command
//! line, starts the runtime, dispatches and turns the outcome into the exit code; the
//! subcommands are in `cli/`, the orchestration in `run/`, the renderings in
//! `report/`, Docker in `docker/` and the probing in the `harness` crate.

// std's `print!` family panics when its stream is closed (the reader went away: a pipe
// to `head`, a killed parent); these write and ignore the error, so a grade goes on to
// its teardown and its report whatever happens to the terminal. Defined before the
// modules, they replace std's everywhere in this crate.
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($t)*);
    }};
}

mod cli;
mod docker;
mod process;
mod report;
mod run;

use std::process::ExitCode;

use clap::Parser;
use grader_report::{Fault, exit};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are not mistakes.
            return ExitCode::from(if e.use_stderr() {
                Fault::Exercise.exit_code()
            } else {
                exit::PASSED
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let e = anyhow::Error::new(e).context("cannot start the async runtime");
            cli::report_error(&e);
            return ExitCode::from(Fault::Grader.exit_code());
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            cli::report_error(&e);
            ExitCode::from(Fault::Grader.exit_code())
        }
    }
}

/// Runs the subcommand; its exit code.
async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let ctx = cli.context()?;
    match cli.command {
        Command::Grade(args) => cli::grade::run(args, ctx).await,
        Command::Report(args) => cli::report::run(args),
        Command::Images => cli::images::run(ctx).await,
        Command::Clean(args) => cli::clean::run(args).await,
        Command::Check(args) => Ok(cli::check::run(&args, &ctx)),
        Command::List => cli::list::run(&ctx),
        Command::Init(args) => cli::init::run(&args, &ctx),
        Command::Batch(args) => cli::batch::run(args, ctx).await,
        Command::Merge(args) => cli::merge::run(&args),
        Command::Load(args) => cli::load::run(args).await,
        Command::Test(args) => cli::test::run(args, ctx).await,
        Command::Baseline(args) => cli::baseline::run(&args, &ctx),
    }
}
