//! Finding and signalling the processes a scenario may kill: the x11vnc and
//! websockify serving a session's shadow, the session's X server, shadowd.

use anyhow::{bail, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A process and its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub cmdline: Vec<String>,
}

pub fn all() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![] };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline: Vec<String> =
                raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
            (!cmdline.is_empty()).then_some(ProcInfo { pid, cmdline })
        })
        .collect()
}

fn basename(arg: &str) -> &str {
    arg.rsplit('/').next().unwrap_or(arg)
}

/// The x11vnc serving `display` (`:N`).
pub fn x11vnc_for(display: &str) -> Vec<ProcInfo> {
    all()
        .into_iter()
        .filter(|p| {
            basename(&p.cmdline[0]) == "x11vnc" && p.cmdline.windows(2).any(|w| w[0] == "-display" && w[1] == display)
        })
        .collect()
}

/// websockify processes that are children of `parent` (shadowd).
pub fn websockify_under(parent: u32) -> Vec<ProcInfo> {
    all()
        .into_iter()
        .filter(|p| p.cmdline.iter().any(|a| a.contains("websockify")) && ppid(p.pid) == Some(parent))
        .collect()
}

pub fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

pub fn signal_by_name(name: &str) -> Result<Signal> {
    Ok(match name.to_ascii_uppercase().trim_start_matches("SIG") {
        "TERM" => Signal::SIGTERM,
        "KILL" => Signal::SIGKILL,
        "STOP" => Signal::SIGSTOP,
        "CONT" => Signal::SIGCONT,
        "INT" => Signal::SIGINT,
        "HUP" => Signal::SIGHUP,
        other => bail!("unknown signal {other:?}: use TERM, KILL, STOP, CONT, INT or HUP"),
    })
}

pub fn send(pid: u32, signal: Signal) -> Result<()> {
    kill(Pid::from_raw(pid as i32), signal).map_err(|e| anyhow::anyhow!("kill -{signal} {pid}: {e}"))
}

/// Whether `pid` still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 2..].chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_itself_and_its_parent() {
        let me = std::process::id();
        assert!(all().iter().any(|p| p.pid == me));
        assert!(alive(me));
        assert_eq!(ppid(me), Some(std::os::unix::process::parent_id()));
        assert_eq!(signal_by_name("sigkill").unwrap(), Signal::SIGKILL);
        assert!(signal_by_name("nope").is_err());
    }
}
