//! The `shadowd` binary: parses the command line and runs a subcommand.

use clap::Parser;
use shadowd::cli::{Cli, Command, ServeArgs};
use shadowd::registry::RegistryFile;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = RegistryFile::new(&cli.registry);
    match cli.command {
        Command::Reg { command } => match shadowd::registry::run_ctxreg(&registry, &command) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shadowd reg: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Doctor(args) => {
            let common = args.common;
            let fqdn = common.fqdn.clone().unwrap_or_else(shadowd::daemon::fqdn::host_fqdn);
            let input = shadowd::doctor::DoctorInput {
                registry: &registry,
                ssl_dir: &common.ssl_dir,
                log_file: &common.log_file,
                ports: common.port_range,
                fqdn: &fqdn,
                display: args.display.as_deref(),
            };
            let checks = shadowd::doctor::run(&input);
            match shadowd::doctor::print(&checks, &mut std::io::stdout()) {
                Ok(true) => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            }
        }
        Command::Serve(args) => match serve(registry, args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shadowd: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(registry: RegistryFile, args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SHADOWD_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(shadowd::server::serve(registry, args))
}
