//! The daemon: carries out the broker's decisions. One task (the actor)
//! owns the broker and everything with a shadow's lifetime — dialogs,
//! running backends, waiting API requests — and handles one message at a
//! time, so there are no locks around shadowing state. Slow work (opening a
//! dialog, starting a backend) runs in tasks that report back as messages.

mod config;
pub mod fqdn;
mod watch;

pub use config::{BackendKind, Config};

use crate::audit::{AuditLog, EventKind, LogFile, Record};
use crate::backend::{external::External, Backend, BackendEvent, Running, ShadowSpec};
use crate::broker::{
    Action, Answer, Broker, BrokerConfig, EndReason, ErrorCode, Grant, PromptId, Refusal, RequestId, ShadowId,
    ShadowView,
};
use crate::consent::{self, DialogRequest};
use crate::sessions::Session;
use crate::tls::TlsMaterial;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long the actor waits for a cancelled consent dialog to be destroyed.
/// Normally a few milliseconds; bounded so a wedged X server cannot stall
/// the daemon.
const DIALOG_CLOSE_WAIT: Duration = Duration::from_secs(3);

/// What a granted admin receives.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShadowGrant {
    pub session: String,
    pub admin: String,
    pub host: String,
    pub port: u16,
    pub scheme: &'static str,
    pub url: String,
    pub password: String,
    pub shadow: ShadowId,
}

/// A request the API has already checked (session exists, registry read,
/// TLS material valid when wss is on).
pub struct ShadowRequest {
    pub session: Session,
    pub admin: String,
    pub policy: crate::broker::RequestPolicy,
    pub tls: Option<TlsMaterial>,
    pub reply: oneshot::Sender<Result<ShadowGrant, Refusal>>,
}

/// Messages to the actor.
pub enum Msg {
    Request(ShadowRequest),
    Stop {
        session: String,
        reason: EndReason,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    Shadows {
        reply: oneshot::Sender<BTreeMap<String, ShadowView>>,
    },
    FreePorts {
        reply: oneshot::Sender<usize>,
    },
    PromptOpened {
        session: String,
        prompt: PromptId,
        result: Result<(), String>,
    },
    Answered {
        session: String,
        prompt: PromptId,
        answer: Answer,
    },
    Started {
        session: String,
        shadow: ShadowId,
        result: Result<Box<dyn Running>, String>,
    },
    Backend {
        shadow: ShadowId,
        event: BackendEvent,
    },
    SessionGone {
        session: String,
        pid: u32,
    },
    /// The user pressed Stop on the indicator of `shadow`.
    UserStop {
        session: String,
        shadow: ShadowId,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// The handle the API uses to talk to the actor.
#[derive(Clone)]
pub struct DaemonHandle {
    tx: mpsc::UnboundedSender<Msg>,
    pub audit: AuditLog,
    pub config: Arc<Config>,
    pub backend_name: &'static str,
    /// Turns true when the daemon begins to shut down, so that endless
    /// responses (the event stream) end and the server can stop.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl DaemonHandle {
    pub fn send(&self, msg: Msg) -> Result<(), Refusal> {
        self.tx.send(msg).map_err(|_| Refusal::new(ErrorCode::Internal, "shadowd is shutting down"))
    }

    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Result<T, Refusal> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.map_err(|_| Refusal::new(ErrorCode::Internal, "shadowd is shutting down"))
    }
}

/// What the actor remembers about a request until it is answered.
struct Pending {
    session: Session,
    admin: String,
    tls: Option<TlsMaterial>,
    reply: oneshot::Sender<Result<ShadowGrant, Refusal>>,
}

/// A shadow from the moment its port was bound.
struct Live {
    session: String,
    req: Option<RequestId>,
    password: String,
    running: Option<Box<dyn Running>>,
    /// Stopped by the broker while its backend was still starting.
    stop_when_started: bool,
    /// Dropping it takes the user's indicator off the screen.
    _indicator: Option<oneshot::Sender<()>>,
}

struct Actor {
    broker: Broker,
    config: Arc<Config>,
    backend: Arc<dyn Backend>,
    audit: AuditLog,
    self_tx: mpsc::UnboundedSender<Msg>,
    backend_events: mpsc::UnboundedSender<(ShadowId, crate::backend::BackendEvent)>,
    next_req: RequestId,
    pending: BTreeMap<RequestId, Pending>,
    /// Request → its shadow, once consent was given.
    live: BTreeMap<ShadowId, Live>,
    /// Cancels a dialog; the dialog task acknowledges once its window is gone.
    dialogs: BTreeMap<PromptId, oneshot::Sender<oneshot::Sender<()>>>,
    /// Sessions whose X server is watched (by pid).
    watched: BTreeSet<(String, u32)>,
}

/// Starts the actor; returns the handle for the API.
pub fn start(config: Config, log: LogFile, closing: tokio::sync::watch::Receiver<bool>) -> DaemonHandle {
    let config = Arc::new(config);
    let audit = AuditLog::new(log);
    let backend: Arc<dyn Backend> = match config.backend {
        BackendKind::External => Arc::new(External),
        BackendKind::Native => {
            let origins = if config.allowed_origins.is_empty() {
                crate::gateway::OriginPolicy::console_default(&config.fqdn, config.listen)
            } else {
                crate::gateway::OriginPolicy::new(config.allowed_origins.clone())
            };
            Arc::new(crate::backend::native::Native { origins })
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let handle = DaemonHandle {
        tx: tx.clone(),
        audit: audit.clone(),
        config: config.clone(),
        backend_name: backend.name(),
        closing,
    };
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some((shadow, event)) = ev_rx.recv().await {
            if forward.send(Msg::Backend { shadow, event }).is_err() {
                break;
            }
        }
    });
    let mut actor = Actor {
        broker: Broker::new(BrokerConfig { ports: config.ports, connect_grace: config.connect_grace }),
        config,
        backend,
        audit,
        self_tx: tx,
        backend_events: ev_tx,
        next_req: 1,
        pending: BTreeMap::new(),
        live: BTreeMap::new(),
        dialogs: BTreeMap::new(),
        watched: BTreeSet::new(),
    };
    tokio::spawn(async move {
        loop {
            let deadline = actor.broker.next_deadline();
            let msg = tokio::select! {
                msg = rx.recv() => msg,
                _ = sleep_until(deadline) => {
                    let actions = actor.broker.tick(Instant::now());
                    actor.run(actions).await;
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            if let Msg::Shutdown { done } = msg {
                let actions = actor.broker.shutdown();
                actor.run(actions).await;
                let _ = done.send(());
                break;
            }
            actor.handle(msg).await;
        }
    });
    handle
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    async fn handle(&mut self, msg: Msg) {
        let now = Instant::now();
        let actions = match msg {
            Msg::Request(r) => {
                let req = self.next_req;
                self.next_req += 1;
                let session = r.session.id.clone();
                self.watch(&r.session);
                let actions = self.broker.request(now, req, &session, &r.admin, r.policy);
                self.pending.insert(req, Pending { session: r.session, admin: r.admin, tls: r.tls, reply: r.reply });
                actions
            }
            Msg::Stop { session, reason, reply } => {
                // Answered once the backend is really gone, so the caller
                // can rely on the port being closed.
                let result = self.broker.stop(&session, reason);
                match result {
                    Ok(actions) => {
                        self.run(actions).await;
                        let _ = reply.send(Ok(()));
                    }
                    Err(refusal) => {
                        let _ = reply.send(Err(refusal));
                    }
                }
                vec![]
            }
            Msg::Shadows { reply } => {
                let mut all = BTreeMap::new();
                for p in self.pending.values() {
                    if let Some(v) = self.broker.shadow_of(&p.session.id) {
                        all.insert(p.session.id.clone(), v);
                    }
                }
                for l in self.live.values() {
                    if let Some(v) = self.broker.shadow_of(&l.session) {
                        all.insert(l.session.clone(), v);
                    }
                }
                let _ = reply.send(all);
                vec![]
            }
            Msg::FreePorts { reply } => {
                let _ = reply.send(self.broker.free_ports());
                vec![]
            }
            Msg::PromptOpened { session, prompt, result } => match result {
                Ok(()) => self.broker.prompt_shown(&session, prompt),
                Err(message) => {
                    self.dialogs.remove(&prompt);
                    self.broker.prompt_failed(&session, prompt, &message)
                }
            },
            Msg::Answered { session, prompt, answer } => {
                self.dialogs.remove(&prompt);
                self.broker.answer(now, &session, prompt, answer)
            }
            Msg::Started { session, shadow, result } => self.started(now, &session, shadow, result).await,
            Msg::Backend { shadow, event } => {
                let Some(session) = self.live.get(&shadow).map(|l| l.session.clone()) else { return };
                match event {
                    BackendEvent::Connected => self.broker.admin_connected(&session, shadow),
                    BackendEvent::Ended(reason) => self.broker.backend_ended(&session, shadow, reason),
                }
            }
            Msg::UserStop { session, shadow } => {
                if self.live.get(&shadow).is_none_or(|l| l.session != session) {
                    return;
                }
                self.broker.stop(&session, EndReason::StoppedByUser).unwrap_or_default()
            }
            Msg::SessionGone { session, pid } => {
                self.watched.remove(&(session.clone(), pid));
                self.broker.session_gone(&session)
            }
            Msg::Shutdown { .. } => unreachable!("handled by the loop"),
        };
        self.run(actions).await;
    }

    /// Watches the session's X server so its exit ends shadows at once.
    fn watch(&mut self, session: &Session) {
        if self.watched.insert((session.id.clone(), session.pid)) {
            let tx = self.self_tx.clone();
            let (id, pid) = (session.id.clone(), session.pid);
            tokio::spawn(async move {
                watch::process_exit(pid).await;
                let _ = tx.send(Msg::SessionGone { session: id, pid });
            });
        }
    }

    async fn started(
        &mut self,
        now: Instant,
        session: &str,
        shadow: ShadowId,
        result: Result<Box<dyn Running>, String>,
    ) -> Vec<Action> {
        let Some(live) = self.live.get_mut(&shadow) else {
            if let Ok(running) = result {
                running.stop().await;
            }
            return vec![];
        };
        match result {
            Ok(running) if live.stop_when_started => {
                self.live.remove(&shadow);
                running.stop().await;
                vec![]
            }
            Ok(running) => {
                live.running = Some(running);
                self.broker.backend_ready(now, session, shadow)
            }
            Err(message) => {
                let stopped = live.stop_when_started;
                self.live.remove(&shadow);
                if stopped {
                    return vec![];
                }
                self.note_error(&format!("shadow {shadow} on session {session}: {message}"));
                self.broker.backend_failed(session, shadow, &message)
            }
        }
    }

    /// Carries out actions in order; new actions they cause run after them.
    async fn run(&mut self, actions: Vec<Action>) {
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Audit(record) => {
                    self.audit.record(record);
                }
                Action::ShowPrompt { req, session, prompt, admin, timeout } => {
                    self.show_prompt(req, session, prompt, admin, timeout)
                }
                Action::ClosePrompt { prompt, .. } => {
                    if let Some(cancel) = self.dialogs.remove(&prompt) {
                        // Awaited so that a reply that follows (timeout,
                        // takeover refused …) finds the dialog gone.
                        let (done_tx, done_rx) = oneshot::channel();
                        if cancel.send(done_tx).is_ok() {
                            let _ = tokio::time::timeout(DIALOG_CLOSE_WAIT, done_rx).await;
                        }
                    }
                }
                Action::StartShadow { req, shadow, session, admin: _, port } => {
                    queue.extend(self.start_shadow(req, shadow, &session, port));
                }
                Action::StopShadow { shadow, .. } => {
                    if let Some(mut live) = self.live.remove(&shadow) {
                        match live.running.take() {
                            // Awaited here so that the port is really closed
                            // before a following StartShadow binds again.
                            Some(running) => running.stop().await,
                            None => {
                                live.stop_when_started = true;
                                self.live.insert(shadow, live);
                            }
                        }
                    }
                }
                Action::Reply { req, result } => self.reply(req, result),
            }
        }
    }

    fn show_prompt(&mut self, req: RequestId, session: String, prompt: PromptId, admin: String, timeout: Duration) {
        let Some(p) = self.pending.get(&req) else { return };
        let request = DialogRequest {
            display: p.session.display.clone(),
            xauthority: p.session.xauthority.clone(),
            admin,
            timeout,
        };
        let (cancel_tx, cancel_rx) = oneshot::channel::<oneshot::Sender<()>>();
        self.dialogs.insert(prompt, cancel_tx);
        let tx = self.self_tx.clone();
        tokio::spawn(async move {
            let opened = tokio::task::spawn_blocking(move || consent::Dialog::open(request)).await;
            let mut dialog = match opened {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => {
                    let _ = tx.send(Msg::PromptOpened { session, prompt, result: Err(e.to_string()) });
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Msg::PromptOpened { session, prompt, result: Err(e.to_string()) });
                    return;
                }
            };
            let _ = tx.send(Msg::PromptOpened { session: session.clone(), prompt, result: Ok(()) });
            tokio::select! {
                outcome = dialog.outcome() => {
                    let answer = match outcome {
                        Ok(consent::Answer::Yes) => Answer::Yes,
                        Ok(consent::Answer::No) => Answer::No,
                        Ok(consent::Answer::TimedOut) => Answer::TimedOut,
                        // The display died or the window was destroyed by
                        // someone else: nobody answered, so no consent.
                        Err(e) => {
                            let _ = tx.send(Msg::PromptOpened { session, prompt, result: Err(e.to_string()) });
                            return;
                        }
                    };
                    let _ = tx.send(Msg::Answered { session, prompt, answer });
                }
                done = cancel_rx => {
                    dialog.close().await;
                    if let Ok(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            }
            // Dropping the dialog closes its window.
            drop(dialog);
        });
    }

    /// Binds the port now (no race with other processes), then starts the
    /// backend in a task. A busy port is reported back to the broker.
    fn start_shadow(&mut self, req: RequestId, shadow: ShadowId, session: &str, port: u16) -> Vec<Action> {
        let listener = match crate::ports::listener::bind_shadow_port(port) {
            Ok(l) => l,
            Err(e) => {
                self.note_error(&format!("port {port} not usable ({e}); trying the next one"));
                return self.broker.port_busy(session, shadow, port);
            }
        };
        let Some(p) = self.pending.get(&req) else {
            return self.broker.backend_failed(session, shadow, "the request is gone");
        };
        let password = one_time_password();
        let spec = ShadowSpec {
            shadow,
            session: p.session.clone(),
            port,
            listener,
            password: password.clone(),
            tls: p.tls.clone(),
            run_dir: self.config.run_dir.clone(),
            log: self.audit.log_file().clone(),
        };
        self.live.insert(
            shadow,
            Live {
                session: session.to_string(),
                req: Some(req),
                password,
                running: None,
                stop_when_started: false,
                _indicator: None,
            },
        );
        let backend = self.backend.clone();
        let events = self.backend_events.clone();
        let tx = self.self_tx.clone();
        let session = session.to_string();
        tokio::spawn(async move {
            let result = backend.start(spec, events).await;
            let _ = tx.send(Msg::Started { session, shadow, result });
        });
        vec![]
    }

    fn reply(&mut self, req: RequestId, result: Result<Grant, Refusal>) {
        let Some(p) = self.pending.remove(&req) else { return };
        if let Ok(grant) = &result {
            self.show_indicator(grant.shadow, &p.session, &p.admin);
        }
        let result = result.map(|grant| {
            let live = self.live.get_mut(&grant.shadow);
            let password = live.map(|l| {
                l.req = None;
                l.password.clone()
            });
            let scheme = if p.tls.is_some() { "wss" } else { "ws" };
            let host = self.config.fqdn.clone();
            ShadowGrant {
                session: p.session.id.clone(),
                admin: p.admin.clone(),
                url: format!("{scheme}://{host}:{}/", grant.port),
                host,
                port: grant.port,
                scheme,
                password: password.unwrap_or_default(),
                shadow: grant.shadow,
            }
        });
        let _ = p.reply.send(result);
    }

    /// Puts the "being shadowed" bar with its Stop button on the user's
    /// display for as long as the shadow lives.
    fn show_indicator(&mut self, shadow: ShadowId, session: &Session, admin: &str) {
        let Some(live) = self.live.get_mut(&shadow) else { return };
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        live._indicator = Some(cancel_tx);
        let (display, xauth, admin) = (session.display.clone(), session.xauthority.clone(), admin.to_string());
        let (tx, id, log) = (self.self_tx.clone(), session.id.clone(), self.audit.log_file().clone());
        tokio::spawn(async move {
            let opened = tokio::task::spawn_blocking(move || {
                crate::indicator::Indicator::open(&display, xauth.as_deref(), &admin)
            })
            .await;
            let mut indicator = match opened {
                Ok(Ok(i)) => i,
                Ok(Err(e)) => {
                    log.child_line("indicator", shadow, &format!("cannot show the indicator: {e}"));
                    return;
                }
                Err(_) => return,
            };
            tokio::select! {
                _ = indicator.stopped() => {
                    let _ = tx.send(Msg::UserStop { session: id, shadow });
                }
                _ = cancel_rx => {}
            }
        });
    }

    fn note_error(&self, message: &str) {
        tracing::warn!("{message}");
        self.audit.log_file().write_json(&serde_json::json!({
            "time": crate::audit::log::now_rfc3339(),
            "level": "warn",
            "message": message,
        }));
    }
}

/// 8 random alphanumerics: VNC authentication uses at most 8 bytes.
fn one_time_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 8)
}

/// For the audit trail of requests refused before reaching the broker
/// (unknown session, TLS misconfigured): they are still recorded.
pub fn record_refusal(audit: &AuditLog, session: &str, admin: &str, code: ErrorCode) {
    audit.record(Record::new(EventKind::Requested, session, admin));
    let mut r = Record::new(EventKind::Rejected, session, admin);
    r.error = Some(code);
    audit.record(r);
}
