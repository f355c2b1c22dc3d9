//! Every audit event of a case, recorded from the daemon's live stream in
//! the background, so steps can wait for one ("wait_event") or check the
//! trace so far ("expect_events") without racing the stream.

use crate::drivers::director::Director;
use shadowd::audit::Event;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
    changed: Arc<Notify>,
}

impl Recorder {
    /// Subscribes from the first event (`since=0`) and records until the
    /// stream ends (the daemon stops) or the recorder is dropped.
    pub async fn start(director: &Director) -> anyhow::Result<(Recorder, tokio::task::JoinHandle<()>)> {
        let rec = Recorder::default();
        let mut stream = director.events(Some(0)).await?;
        let r = rec.clone();
        let task = tokio::spawn(async move {
            while let Ok(ev) = stream.next(Duration::from_secs(24 * 3600)).await {
                r.events.lock().unwrap_or_else(|e| e.into_inner()).push(ev);
                r.changed.notify_waiters();
            }
        });
        Ok((rec, task))
    }

    pub fn snapshot(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `done(events)` holds or `within` passes; returns the
    /// events seen last either way and whether it held.
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&[Event]) -> bool) -> (bool, Vec<Event>) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            let events = self.snapshot();
            if done(&events) {
                return (true, events);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let events = self.snapshot();
                let ok = done(&events);
                return (ok, events);
            }
        }
    }
}
