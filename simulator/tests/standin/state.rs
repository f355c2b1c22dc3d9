//! The stand-in's books and every decision it makes: who is being asked,
//! which shadow holds which port, when a shadow ends, and what goes into the
//! audit trail. One mutex, never held across an await.
//!
//! Ending a shadow is dropping its [`Shadow`]: that closes its port (the
//! accept loop's stop channel), cuts its viewer (the `cut` channel) and
//! removes a stray window. A misbehaviour that "forgets" part of the
//! cleanup keeps that part alive in `Inner::kept` instead.

use super::port::PortHandle;
use super::screen::Marker;
use super::Misbehaviour;
use shadowd::audit::{AuditLog, EventKind, Record};
use shadowd::broker::{EndReason, ErrorCode, Refusal};
use shadowd::ports::PortRange;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// What a granted admin receives (the fields of shadowd's grant).
#[derive(Debug, Clone, serde::Serialize)]
pub struct GrantBody {
    pub session: String,
    pub admin: String,
    pub host: String,
    pub port: u16,
    pub scheme: &'static str,
    pub url: String,
    pub password: String,
    pub shadow: u64,
}

/// One admin's shadow of one session.
pub struct Shadow {
    id: u64,
    admin: String,
    port: u16,
    password: String,
    display: String,
    connected: bool,
    /// Dropped when the shadow ends: the viewer's connection sees it and closes.
    cut: watch::Sender<()>,
    /// Dropped when the shadow ends: the port is closed.
    listener: PortHandle,
    /// `DrawsOnDisplay`'s window, there while the shadow lives.
    _marker: Option<Marker>,
}

/// What a viewer's connection needs from the shadow that owns its port.
pub struct Ticket {
    pub session: String,
    pub shadow: u64,
    pub display: String,
    /// The one-time password, or an unguessable one once it has been used.
    pub password: String,
    pub cut: watch::Receiver<()>,
}

#[derive(Default)]
struct Inner {
    /// Sessions whose user is being asked: the prompt's number and admin.
    prompts: BTreeMap<String, (u64, String)>,
    shadows: BTreeMap<String, Shadow>,
    next_id: u64,
    /// What a misbehaviour failed to clean up (listeners, viewer links).
    kept: Vec<Box<dyn Any + Send>>,
}

pub struct Standin {
    pub misbehaviour: Misbehaviour,
    pub fqdn: String,
    pub ports: PortRange,
    pub connect_grace: Duration,
    pub audit: AuditLog,
    registry: Mutex<BTreeMap<String, u32>>,
    inner: Mutex<Inner>,
    /// Set at shutdown, so event streams end instead of outliving the case.
    pub closing: watch::Sender<bool>,
    tasks: Mutex<Vec<AbortHandle>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// 8 random alphanumerics, as shadowd's (VNC uses at most 8 bytes).
pub fn one_time_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 8)
}

impl Standin {
    pub fn new(
        misbehaviour: Misbehaviour,
        fqdn: String,
        ports: PortRange,
        connect_grace: Duration,
        registry: BTreeMap<String, u32>,
        audit: AuditLog,
    ) -> Self {
        Standin {
            misbehaviour,
            fqdn,
            ports,
            connect_grace,
            audit,
            registry: Mutex::new(registry),
            inner: Mutex::new(Inner { next_id: 1, ..Default::default() }),
            closing: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        }
    }

    pub fn is(&self, m: Misbehaviour) -> bool {
        self.misbehaviour == m
    }

    /// Runs `fut` as a task that [`Standin::shutdown`] aborts.
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(fut).abort_handle();
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    // --- registry (read per request, like shadowd's) -----------------------

    pub fn registry_set(&self, name: &str, value: Option<u32>) {
        let mut reg = lock(&self.registry);
        match value {
            Some(v) => reg.insert(name.to_string(), v),
            None => reg.remove(name),
        };
    }

    fn registry(&self, name: &str) -> Option<u32> {
        lock(&self.registry).get(name).copied()
    }

    pub fn consent_timeout(&self) -> Duration {
        let secs = self.registry(shadowd::registry::SHADOWING_CONSENT_TIMEOUT);
        Duration::from_secs(secs.unwrap_or(shadowd::registry::DEFAULT_CONSENT_TIMEOUT) as u64)
    }

    // --- audit --------------------------------------------------------------

    pub fn record(&self, event: EventKind, session: &str, admin: &str) {
        self.audit.record(Record::new(event, session, admin));
    }

    /// `requested` then `rejected`, for a request refused before anyone was asked.
    pub fn record_refusal(&self, session: &str, admin: &str, code: ErrorCode) {
        self.record(EventKind::Requested, session, admin);
        self.record_rejected(session, admin, code);
    }

    pub fn record_rejected(&self, session: &str, admin: &str, code: ErrorCode) {
        let mut r = Record::new(EventKind::Rejected, session, admin);
        r.error = Some(code);
        self.audit.record(r);
    }

    /// The user's answer (`WrongEventOrder`: with `prompted` logged after it).
    pub fn record_answer(&self, event: EventKind, session: &str, admin: &str) {
        self.record(event, session, admin);
        if self.is(Misbehaviour::WrongEventOrder) {
            self.record(EventKind::Prompted, session, admin);
        }
    }

    fn record_shadow(&self, event: EventKind, session: &str, s: &Shadow, f: impl FnOnce(&mut Record)) {
        let mut r = Record::new(event, session, &s.admin);
        r.shadow = Some(s.id);
        r.port = Some(s.port);
        f(&mut r);
        self.audit.record(r);
    }

    // --- requests -------------------------------------------------------------

    /// Admits a request for asking the user: shadowing enabled, nobody being
    /// asked already, a port to serve it on. Holds the session's prompt slot
    /// until the returned guard is dropped (also when the request is aborted).
    pub fn begin(self: &Arc<Self>, session: &str, admin: &str) -> Result<PromptGuard, Refusal> {
        let mut inner = lock(&self.inner);
        self.record(EventKind::Requested, session, admin);
        let refuse = |code: ErrorCode, message: String| {
            self.record_rejected(session, admin, code);
            Err(Refusal::new(code, message))
        };
        if self.registry(shadowd::registry::ENABLE_SESSION_SHADOWING) == Some(0) {
            let msg = "session shadowing is disabled (registry EnableSessionShadowing=0)".to_string();
            return refuse(ErrorCode::ShadowingDisabled, msg);
        }
        if let Some((_, asking)) = inner.prompts.get(session) {
            let msg = format!("the user is already being asked about a request from {asking}");
            return refuse(ErrorCode::ConsentPending, msg);
        }
        if !inner.shadows.contains_key(session) && !shadowd::ports::listener::any_bindable(self.ports) {
            return refuse(ErrorCode::NoFreePort, format!("no free port in {}", self.ports));
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.prompts.insert(session.to_string(), (id, admin.to_string()));
        Ok(PromptGuard { standin: self.clone(), session: session.to_string(), id })
    }

    /// The user said Yes: end the current shadow (takeover) and start a new
    /// one, on the same port unless that one leaked.
    pub fn grant(self: &Arc<Self>, session: &str, admin: &str, display: &str) -> Result<GrantBody, Refusal> {
        let mut inner = lock(&self.inner);
        let listener = match inner.shadows.remove(session) {
            Some(old) => {
                self.record_shadow(EventKind::TakenOver, session, &old, |r| r.by = Some(admin.to_string()));
                self.record_shadow(EventKind::Ended, session, &old, |r| r.reason = Some(EndReason::TakenOver));
                let Shadow { listener, cut, .. } = old;
                if self.is(Misbehaviour::NoTakeoverDisconnect) {
                    inner.kept.push(Box::new(cut));
                }
                if self.is(Misbehaviour::LeaksPort) {
                    inner.kept.push(Box::new(listener));
                    self.open_port(&inner)?
                } else {
                    listener
                }
            }
            None => self.open_port(&inner)?,
        };
        let id = inner.next_id;
        inner.next_id += 1;
        let marker = if self.is(Misbehaviour::DrawsOnDisplay) {
            Some(Marker::show(display).map_err(|e| Refusal::new(ErrorCode::DisplayUnreachable, format!("{e:#}")))?)
        } else {
            None
        };
        let shadow = Shadow {
            id,
            admin: admin.to_string(),
            port: listener.port,
            password: one_time_password(),
            display: display.to_string(),
            connected: false,
            cut: watch::channel(()).0,
            listener,
            _marker: marker,
        };
        let scheme = if self.is(Misbehaviour::WrongScheme) { "wss" } else { "ws" };
        let grant = GrantBody {
            session: session.to_string(),
            admin: admin.to_string(),
            host: self.fqdn.clone(),
            port: shadow.port,
            scheme,
            url: format!("{scheme}://{}:{}/", self.fqdn, shadow.port),
            password: shadow.password.clone(),
            shadow: id,
        };
        inner.shadows.insert(session.to_string(), shadow);
        if !self.is(Misbehaviour::NeverFreesOnExpiry) {
            let (me, session, grace) = (self.clone(), session.to_string(), self.connect_grace);
            self.spawn(async move {
                tokio::time::sleep(grace).await;
                me.expire(&session, id);
            });
        }
        Ok(grant)
    }

    /// The lowest port of the range that no shadow holds and that binds.
    fn open_port(self: &Arc<Self>, inner: &Inner) -> Result<PortHandle, Refusal> {
        for port in self.ports.iter() {
            if inner.shadows.values().any(|s| s.port == port) {
                continue;
            }
            if let Ok(listener) = shadowd::ports::listener::bind_shadow_port(port) {
                return PortHandle::open(self, port, listener)
                    .map_err(|e| Refusal::new(ErrorCode::BackendFailed, format!("port {port}: {e}")));
            }
        }
        Err(Refusal::new(ErrorCode::NoFreePort, format!("all shadow ports ({}) are in use", self.ports)))
    }

    // --- ending ---------------------------------------------------------------

    fn end(&self, inner: &mut Inner, session: &str, reason: EndReason) -> bool {
        let Some(shadow) = inner.shadows.remove(session) else { return false };
        self.record_shadow(EventKind::Ended, session, &shadow, |r| r.reason = Some(reason));
        if self.is(Misbehaviour::LeaksPort) {
            let Shadow { listener, .. } = shadow;
            inner.kept.push(Box::new(listener));
        }
        true
    }

    /// `DELETE`: ends the session's shadow.
    pub fn stop(&self, session: &str) -> Result<(), Refusal> {
        let mut inner = lock(&self.inner);
        if self.end(&mut inner, session, EndReason::Deleted) {
            Ok(())
        } else {
            Err(Refusal::new(ErrorCode::NoActiveShadow, format!("session {session:?} has no active shadow")))
        }
    }

    /// The connect grace ran out: a shadow nobody connected to ends.
    fn expire(&self, session: &str, shadow: u64) {
        let mut inner = lock(&self.inner);
        if inner.shadows.get(session).is_some_and(|s| s.id == shadow && !s.connected) {
            self.end(&mut inner, session, EndReason::NeverConnected);
        }
    }

    /// The admin's viewer went away.
    pub fn viewer_left(&self, session: &str, shadow: u64) {
        let mut inner = lock(&self.inner);
        if inner.shadows.get(session).is_some_and(|s| s.id == shadow && s.connected) {
            self.end(&mut inner, session, EndReason::AdminDisconnected);
        }
    }

    pub fn shutdown(&self) {
        self.closing.send_replace(true);
        {
            let mut inner = lock(&self.inner);
            let sessions: Vec<String> = inner.shadows.keys().cloned().collect();
            for s in sessions {
                self.end(&mut inner, &s, EndReason::Shutdown);
            }
            inner.kept.clear();
        }
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }

    // --- viewers --------------------------------------------------------------

    /// A connection arrived on `port`: which shadow it is for.
    pub fn ticket(&self, port: u16) -> Option<Ticket> {
        let inner = lock(&self.inner);
        let (session, s) = inner.shadows.iter().find(|(_, s)| s.port == port)?;
        Some(Ticket {
            session: session.clone(),
            shadow: s.id,
            display: s.display.clone(),
            password: if s.connected { one_time_password() + "!" } else { s.password.clone() },
            cut: s.cut.subscribe(),
        })
    }

    /// The viewer logged in. `false`: the shadow is gone or already has one.
    pub fn connected(&self, session: &str, shadow: u64) -> bool {
        let mut inner = lock(&self.inner);
        let Some(s) = inner.shadows.get_mut(session).filter(|s| s.id == shadow && !s.connected) else {
            return false;
        };
        s.connected = true;
        if !self.is(Misbehaviour::MissingEvent) {
            let s = &inner.shadows[session];
            self.record_shadow(EventKind::Connected, session, s, |_| {});
        }
        true
    }

    // --- views ----------------------------------------------------------------

    /// Ports not leased to a shadow, by the stand-in's own books (a leaked
    /// port counts as free here, as it would in a leaking daemon).
    pub fn free_ports(&self) -> usize {
        self.ports.len() - lock(&self.inner).shadows.len()
    }

    pub fn shadow_view(&self, session: &str) -> serde_json::Value {
        let inner = lock(&self.inner);
        match inner.shadows.get(session) {
            Some(s) => serde_json::json!({
                "admin": s.admin, "port": s.port, "shadow": s.id,
                "state": if s.connected { "connected" } else { "awaiting_admin" },
            }),
            None => match inner.prompts.get(session) {
                Some((_, admin)) => serde_json::json!({ "admin": admin, "state": "prompting" }),
                None => serde_json::Value::Null,
            },
        }
    }
}

/// A session's prompt slot, held while its user is being asked.
pub struct PromptGuard {
    standin: Arc<Standin>,
    session: String,
    id: u64,
}

impl Drop for PromptGuard {
    fn drop(&mut self) {
        let mut inner = lock(&self.standin.inner);
        if inner.prompts.get(&self.session).is_some_and(|(id, _)| *id == self.id) {
            inner.prompts.remove(&self.session);
        }
    }
}
