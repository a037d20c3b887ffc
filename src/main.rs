//! The `codepup` binary: parse the command line, start logging, then serve or run a subcommand.

use clap::Parser;

use codepup::config::{Cli, Command, Config};
use codepup::{cli, Application};

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        // The supervisor of one tool run: no logging, its stderr is the task log.
        Some(Command::SandboxExec { spec }) => return codepup::sandbox::supervisor::main(&spec),
        None => start_logging_then(|| serve(args.serve)),
        Some(Command::Serve(serve_args)) => start_logging_then(|| serve(serve_args)),
        Some(Command::User(command)) => {
            start_logging_then(|| cli::create_user(command).map(print_token))
        }
        Some(Command::Token(command)) => {
            start_logging_then(|| cli::rotate_token(command).map(print_token))
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

fn start_logging_then(run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    run()
}

#[allow(clippy::print_stdout)] // The token on stdout is what these subcommands are for.
fn print_token(token: String) {
    println!("{token}");
}

fn serve(args: codepup::config::ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(args).map_err(anyhow::Error::msg)?;
    let application = Application::build(config)?;
    actix_web::rt::System::new().block_on(application.run_until_stopped())
}
