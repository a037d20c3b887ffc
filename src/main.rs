//! The `codepup` binary: parse the command line, start logging, then serve or run a subcommand.

use clap::Parser;

use codepup::config::{Cli, Command, Config, LogFormat};
use codepup::{cli, Application};

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        // The supervisor of one tool run: no logging, its stderr is the task log.
        Some(Command::SandboxExec { spec }) => return codepup::sandbox::supervisor::main(&spec),
        None => start_logging(args.serve.log_format).and_then(|()| serve(args.serve)),
        Some(Command::Serve(serve_args)) => {
            start_logging(serve_args.log_format).and_then(|()| serve(*serve_args))
        }
        Some(Command::User(command)) => start_logging(LogFormat::Text)
            .and_then(|()| cli::user_command(command, std::io::stdin().lock()))
            .map(print_line),
        Some(Command::Token(command)) => start_logging(LogFormat::Text)
            .and_then(|()| cli::rotate_token(command))
            .map(print_line),
        Some(Command::Backup { file, data }) => start_logging(LogFormat::Text)
            .and_then(|()| cli::backup(&file, &data))
            .map(print_line),
        Some(Command::Prune {
            dry_run,
            data,
            retention,
        }) => start_logging(LogFormat::Text)
            .and_then(|()| cli::prune(dry_run, &data, &retention))
            .map(report_prune),
        Some(Command::Check { data }) => {
            return start_logging(LogFormat::Text)
                .and_then(|()| cli::check(&data))
                .map_or_else(
                    |error| {
                        log::error!("{error:#}");
                        std::process::ExitCode::FAILURE
                    },
                    report_check,
                )
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs at `info` unless `RUST_LOG` says otherwise, as text or as one JSON object a line.
fn start_logging(format: LogFormat) -> anyhow::Result<()> {
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(codepup::config::DEFAULT_LOG_FILTER),
    );
    if format == LogFormat::Json {
        builder.format(|out, record| {
            use std::io::Write;
            let line = serde_json::json!({
                "ts": time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(out, "{line}")
        });
    }
    builder.try_init()?;
    Ok(())
}

#[allow(clippy::print_stdout)] // The token (or summary) on stdout is what these commands are for.
fn print_line(token: String) {
    println!("{token}");
}

/// Prints what a prune removed (or would): one `kind count` line each, then the summary.
#[allow(clippy::print_stdout)] // The report on stdout is what the command is for.
fn report_prune(report: codepup::retention::Report) {
    for (what, n) in report.counts() {
        println!("{what} {n}");
    }
    println!("{report}");
}

/// Prints what `check` found; fails when it found anything.
#[allow(clippy::print_stdout)]
fn report_check(report: cli::CheckReport) -> std::process::ExitCode {
    for problem in &report.problems {
        println!("{problem}");
    }
    println!(
        "{} jobs, {} logs checked, {} problems",
        report.jobs,
        report.logs_checked,
        report.problems.len()
    );
    if report.problems.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn serve(args: codepup::config::ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(args).map_err(anyhow::Error::msg)?;
    let application = Application::build(config)?;
    actix_web::rt::System::new().block_on(application.run_until_stopped())
}
