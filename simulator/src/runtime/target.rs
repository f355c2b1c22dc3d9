//! What a case runs against: normally the real shadowd binary, started per
//! case in its own temp dir. The trait exists so the harness's self-tests
//! can point the same runner at a deliberately misbehaving stand-in.

use crate::drivers::daemon::{Daemon, DaemonOptions};
use anyhow::Result;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A running daemon under test.
pub trait Target: Send + Sync {
    /// `http://127.0.0.1:PORT`
    fn api(&self) -> String;
    /// The process to kill for `kill: {process: shadowd}` (None: in-process).
    fn pid(&self) -> Option<u32>;
    fn reg_set(&self, name: &str, value: u32) -> Result<()>;
    fn reg_unset(&self, name: &str) -> Result<()>;
    fn ssl_dir(&self) -> PathBuf;
    /// The log file, for failure reports.
    fn log_text(&self) -> String;
    /// Stops the daemon (SIGTERM and wait), at the end of a case.
    fn shutdown(&mut self) -> BoxFuture<'_, ()>;
}

/// Starts a [`Target`] for each case.
pub trait Launcher: Send + Sync {
    fn launch(&self, options: DaemonOptions) -> BoxFuture<'_, Result<Box<dyn Target>>>;
}

/// The real thing: `shadowd serve` as a child process.
pub struct ShadowdLauncher {
    pub bin: Option<PathBuf>,
}

impl Launcher for ShadowdLauncher {
    fn launch(&self, mut options: DaemonOptions) -> BoxFuture<'_, Result<Box<dyn Target>>> {
        options.bin = options.bin.or_else(|| self.bin.clone());
        Box::pin(async move { Ok(Box::new(Daemon::start(options).await?) as Box<dyn Target>) })
    }
}

impl Target for Daemon {
    fn api(&self) -> String {
        self.api.clone()
    }

    fn pid(&self) -> Option<u32> {
        Daemon::pid(self)
    }

    fn reg_set(&self, name: &str, value: u32) -> Result<()> {
        self.reg_update(name, value)
    }

    fn reg_unset(&self, name: &str) -> Result<()> {
        self.reg_delete(name)
    }

    fn ssl_dir(&self) -> PathBuf {
        Daemon::ssl_dir(self)
    }

    fn log_text(&self) -> String {
        let mut text = Daemon::log_text(self);
        let stderr = std::fs::read_to_string(self.dir().join("stderr.log")).unwrap_or_default();
        if !stderr.trim().is_empty() {
            text.push_str("\n--- shadowd stderr ---\n");
            text.push_str(&stderr);
        }
        text
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.stop().await;
        })
    }
}
