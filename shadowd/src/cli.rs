//! `shadowd`'s command line (DESIGN.md, "The contract").

use crate::daemon::BackendKind;
use crate::ports::PortRange;
use crate::registry::RegCommand;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "shadowd",
    version,
    about = "Consent-gated, view-only shadowing of Linux X11 sessions over WebSocket (noVNC)"
)]
pub struct Cli {
    /// Registry file (ctxreg values) for serve, reg and doctor.
    #[arg(long, global = true, env = "SHADOWD_REGISTRY", default_value = crate::registry::DEFAULT_PATH)]
    pub registry: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: control API, consent dialogs, shadow endpoints.
    Serve(ServeArgs),
    /// Read or change registry values, ctxreg-style.
    Reg {
        #[command(subcommand)]
        command: RegCommand,
    },
    /// Check every troubleshooting checkpoint of the seed; exit 1 if any fails.
    Doctor(DoctorArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Where shadowingcert.* and shadowingkey.* live.
    #[arg(long, default_value = "/etc/xdl/shadowingssl")]
    pub ssl_dir: PathBuf,
    /// JSON-lines log: audit events and the backends' output.
    #[arg(long, default_value = "/var/log/xdl/vda.log")]
    pub log_file: PathBuf,
    /// Ports handed to shadows (at most this many at once).
    #[arg(long, default_value = "6001-6099")]
    pub port_range: PortRange,
    /// The name the Director connects to (default: this host's FQDN).
    #[arg(long)]
    pub fqdn: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Check only this X display (e.g. :3) instead of every running one.
    #[arg(long)]
    pub display: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Control API address (loopback by default: the API is not for users).
    #[arg(long, default_value = "127.0.0.1:8071")]
    pub listen: SocketAddr,
    /// How shadows are served.
    #[arg(long, value_enum, default_value = "native")]
    pub backend: BackendKind,
    /// How long a granted admin has to connect before the port is reclaimed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub connect_grace: Duration,
    /// Private directory for one-time password files.
    #[arg(long, default_value = "/run/shadowd")]
    pub run_dir: PathBuf,
    /// A browser origin allowed to open shadow connections (repeatable; `*`
    /// allows any). Default: this daemon's own console, by FQDN or address.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// noVNC as installed by the distribution (Debian: package `novnc`),
    /// served to the web console at /novnc/.
    #[arg(long, default_value = "/usr/share/novnc")]
    pub novnc_dir: PathBuf,
}

/// `500ms`, `20s`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map(|i| s.split_at(i)).unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 500ms, 20s or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unit must be ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn ctxreg_syntax_parses() {
        let cli = Cli::try_parse_from([
            "shadowd",
            "reg",
            "update",
            "-k",
            r"HKLM\Software\Citrix\VirtualDesktopAgent",
            "-v",
            "EnableSessionShadowing",
            "-d",
            "0x00000000",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Reg { command: RegCommand::Update { .. } }));
    }
}
