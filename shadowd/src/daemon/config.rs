//! The daemon's settings, from `shadowd serve`'s flags.

use crate::ports::PortRange;
use crate::registry::RegistryFile;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// In-process WebSocket gateway, RFB server and X11 capture.
    Native,
    /// websockify + x11vnc, as the seed runs them.
    External,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub registry: RegistryFile,
    pub ssl_dir: PathBuf,
    pub log_file: PathBuf,
    pub ports: PortRange,
    pub backend: BackendKind,
    pub fqdn: String,
    pub connect_grace: Duration,
    /// Private (0700) directory for password files.
    pub run_dir: PathBuf,
    /// Browser origins allowed to open shadow WebSockets (native backend).
    pub allowed_origins: Vec<String>,
    /// Where noVNC is installed; the console loads its viewer from there.
    pub novnc_dir: PathBuf,
}
