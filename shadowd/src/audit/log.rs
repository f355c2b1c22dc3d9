//! Where audit events go: the log file (JSON lines), a replay buffer and a
//! live broadcast.

use super::{Event, Record};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many past events `GET /v1/events?since=N` can replay.
const REPLAY: usize = 10_000;

/// The daemon's log file, shared by the audit log and child-process output,
/// one JSON object per line so both can be read by the same tools.
#[derive(Clone)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl LogFile {
    /// Opens (creating its directory, mode 0750) `path` for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("opening log file {}: {e}", path.display())))?;
        Ok(LogFile { path: path.to_path_buf(), file: Arc::new(Mutex::new(file)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one JSON value as a line. Errors are reported to stderr only:
    /// a full disk must not stop the daemon from serving.
    pub fn write_json(&self, value: &serde_json::Value) {
        let mut line = value.to_string();
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = f.write_all(line.as_bytes()) {
            eprintln!("shadowd: cannot write to {}: {e}", self.path.display());
        }
    }

    /// A line of a child process's output, tagged with who printed it.
    pub fn child_line(&self, child: &str, shadow: u64, line: &str) {
        self.write_json(&serde_json::json!({
            "time": now_rfc3339(),
            "child": child,
            "shadow": shadow,
            "line": line,
        }));
    }
}

struct State {
    next_seq: u64,
    recent: VecDeque<Event>,
}

/// Numbers, timestamps, logs, keeps and broadcasts audit events.
#[derive(Clone)]
pub struct AuditLog {
    log: LogFile,
    state: Arc<Mutex<State>>,
    live: broadcast::Sender<Event>,
}

impl AuditLog {
    pub fn new(log: LogFile) -> Self {
        let (live, _) = broadcast::channel(1024);
        AuditLog { log, state: Arc::new(Mutex::new(State { next_seq: 1, recent: VecDeque::new() })), live }
    }

    pub fn record(&self, record: Record) -> Event {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let event = Event { seq: st.next_seq, time: now_rfc3339(), record };
        st.next_seq += 1;
        if st.recent.len() == REPLAY {
            st.recent.pop_front();
        }
        st.recent.push_back(event.clone());
        // Logged and sent under the lock so the order on every channel is
        // the sequence order.
        self.log.write_json(&serde_json::json!({ "audit": &event }));
        let _ = self.live.send(event.clone());
        event
    }

    /// Past events with `seq > since`, and a receiver for the ones after
    /// them, taken atomically so none is missed or repeated.
    pub fn subscribe(&self, since: u64) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let past = st.recent.iter().filter(|e| e.seq > since).cloned().collect();
        (past, self.live.subscribe())
    }

    pub fn log_file(&self) -> &LogFile {
        &self.log
    }
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}
