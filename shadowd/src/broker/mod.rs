//! The broker: every shadowing decision, as a pure state machine.
//!
//! Inputs are method calls carrying `now`; outputs are [`Action`]s for the
//! daemon to carry out (show or close a dialog, bind and start a backend,
//! stop one, answer a request, record an audit event). It opens no socket and
//! reads no clock, so it is tested exhaustively and fast (see `tests.rs`).
//!
//! Invariants (checked by `check_invariants`, called by the tests after
//! every step):
//! - at most one consent dialog per session ("never two dialogs");
//! - at most one shadow per session ("one admin per session");
//! - a port is leased to exactly one live shadow, and every live shadow that
//!   got past port allocation holds exactly one port;
//! - every request gets exactly one reply.

mod types;

#[cfg(test)]
mod tests;

pub use types::*;

use crate::audit::{EventKind, Record};
use crate::ports::{PortPool, PortRange};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Something the daemon must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the consent dialog on the session's display.
    ShowPrompt { req: RequestId, session: SessionId, prompt: PromptId, admin: String, timeout: Duration },
    /// Close a dialog (answered elsewhere, timed out, or superseded).
    ClosePrompt { session: SessionId, prompt: PromptId },
    /// Bind `port` and start the backend for `shadow`. On a busy port report
    /// [`Broker::port_busy`]; on success [`Broker::backend_ready`].
    StartShadow { req: RequestId, shadow: ShadowId, session: SessionId, admin: String, port: u16 },
    /// Stop the backend of `shadow` and close its listener.
    StopShadow { shadow: ShadowId, port: u16, reason: EndReason },
    /// Answer API request `req`.
    Reply { req: RequestId, result: Result<Grant, Refusal> },
    /// Record an audit event.
    Audit(Record),
}

#[derive(Debug, Clone)]
struct Prompt {
    id: PromptId,
    req: RequestId,
    admin: String,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Port leased, backend starting; the request waits for its reply.
    Starting {
        req: RequestId,
    },
    /// Backend ready, the admin has until `deadline` to connect.
    AwaitingAdmin {
        deadline: Instant,
    },
    Connected,
}

#[derive(Debug, Clone)]
struct Shadow {
    id: ShadowId,
    admin: String,
    port: u16,
    phase: Phase,
    /// Ports found busy (held by another process) while allocating this one.
    busy: BTreeSet<u16>,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    prompt: Option<Prompt>,
    shadow: Option<Shadow>,
}

/// Settings fixed for the daemon's life (per-request ones come in
/// [`RequestPolicy`]).
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfig {
    pub ports: PortRange,
    /// How long a granted admin has to connect before the shadow is torn
    /// down and its port returned.
    pub connect_grace: Duration,
}

#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    slots: BTreeMap<SessionId, Slot>,
    pool: PortPool,
    next_id: u64,
}

impl Broker {
    pub fn new(config: BrokerConfig) -> Self {
        Broker { config, slots: BTreeMap::new(), pool: PortPool::new(config.ports), next_id: 1 }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An admin asks to shadow `session` (which the daemon found running).
    pub fn request(
        &mut self,
        now: Instant,
        req: RequestId,
        session: &str,
        admin: &str,
        policy: RequestPolicy,
    ) -> Vec<Action> {
        let mut out = vec![audit(EventKind::Requested, session, admin)];
        if !policy.enabled {
            out.extend(refuse(
                req,
                session,
                admin,
                ErrorCode::ShadowingDisabled,
                "session shadowing is disabled (registry EnableSessionShadowing=0)",
            ));
            return out;
        }
        let slot = self.slots.entry(session.to_string()).or_default();
        if let Some(p) = &slot.prompt {
            let msg = format!("the user is already being asked about a request from {}", p.admin);
            out.extend(refuse(req, session, admin, ErrorCode::ConsentPending, msg));
            return out;
        }
        // A takeover frees the current shadow's port, so it counts as free.
        let reusable = usize::from(slot.shadow.is_some());
        if self.pool.unleased_count() + reusable == 0 {
            let msg = format!("all {} shadow ports ({}) are in use", self.config.ports.len(), self.config.ports);
            out.extend(refuse(req, session, admin, ErrorCode::NoFreePort, msg));
            return out;
        }
        let id = self.fresh_id();
        let slot = self.slots.get_mut(session).expect("slot created above");
        slot.prompt = Some(Prompt { id, req, admin: admin.to_string(), deadline: now + policy.consent_timeout });
        out.push(Action::ShowPrompt {
            req,
            session: session.to_string(),
            prompt: id,
            admin: admin.to_string(),
            timeout: policy.consent_timeout,
        });
        out
    }

    /// The dialog could not be shown (display unreachable).
    pub fn prompt_failed(&mut self, session: &str, prompt: PromptId, message: &str) -> Vec<Action> {
        let Some(p) = self.take_prompt(session, prompt) else { return vec![] };
        refuse(p.req, session, &p.admin, ErrorCode::DisplayUnreachable, message).to_vec()
    }

    /// The dialog is on screen.
    pub fn prompt_shown(&mut self, session: &str, prompt: PromptId) -> Vec<Action> {
        match self.slots.get(session).and_then(|s| s.prompt.as_ref()) {
            Some(p) if p.id == prompt => vec![audit(EventKind::Prompted, session, &p.admin)],
            _ => vec![],
        }
    }

    /// The user answered (or the dialog's own countdown ran out).
    pub fn answer(&mut self, now: Instant, session: &str, prompt: PromptId, answer: Answer) -> Vec<Action> {
        let Some(p) = self.take_prompt(session, prompt) else { return vec![] };
        let mut out = vec![Action::ClosePrompt { session: session.to_string(), prompt }];
        match answer {
            Answer::No => {
                out.push(audit(EventKind::Denied, session, &p.admin));
                out.push(refuse_quiet(p.req, ErrorCode::ConsentDenied, "the user declined the shadowing request"));
            }
            Answer::TimedOut => out.extend(self.timed_out(session, p)),
            Answer::Yes => {
                out.push(audit(EventKind::Accepted, session, &p.admin));
                out.extend(self.grant(now, session, p));
            }
        }
        out
    }

    fn timed_out(&mut self, session: &str, p: Prompt) -> Vec<Action> {
        let secs = "the user did not answer the consent dialog in time";
        vec![audit(EventKind::TimedOut, session, &p.admin), refuse_quiet(p.req, ErrorCode::ConsentTimeout, secs)]
    }

    /// Consent given: end the current shadow (takeover), lease a port.
    fn grant(&mut self, _now: Instant, session: &str, p: Prompt) -> Vec<Action> {
        let mut out = Vec::new();
        let slot = self.slots.get_mut(session).expect("prompted session has a slot");
        if let Some(old) = slot.shadow.take() {
            let mut ev = audit_shadow(EventKind::TakenOver, session, &old.admin, old.id, old.port);
            ev.by = Some(p.admin.clone());
            out.push(Action::Audit(ev));
            if let Phase::Starting { req } = old.phase {
                out.push(refuse_quiet(req, ErrorCode::Superseded, format!("replaced by a request from {}", p.admin)));
            }
            out.extend(self.end(session, old, EndReason::TakenOver));
        }
        let id = self.fresh_id();
        let shadow = Shadow {
            id,
            admin: p.admin.clone(),
            port: 0,
            phase: Phase::Starting { req: p.req },
            busy: BTreeSet::new(),
        };
        out.extend(self.allocate(session, shadow));
        out
    }

    /// Leases the next port for a starting shadow, or refuses the request.
    fn allocate(&mut self, session: &str, mut shadow: Shadow) -> Vec<Action> {
        let Phase::Starting { req } = shadow.phase else { unreachable!("only starting shadows allocate") };
        match self.pool.lease(shadow.id, &shadow.busy) {
            Some(port) => {
                shadow.port = port;
                let action = Action::StartShadow {
                    req,
                    shadow: shadow.id,
                    session: session.to_string(),
                    admin: shadow.admin.clone(),
                    port,
                };
                self.slots.get_mut(session).expect("slot exists").shadow = Some(shadow);
                vec![action]
            }
            None => {
                let msg = if shadow.busy.is_empty() {
                    format!("all shadow ports ({}) are in use", self.config.ports)
                } else {
                    format!(
                        "no free port in {}: {} in use by other processes, the rest by shadows",
                        self.config.ports,
                        shadow.busy.len()
                    )
                };
                refuse(req, session, &shadow.admin, ErrorCode::NoFreePort, msg).to_vec()
            }
        }
    }

    /// Binding `port` failed because another process holds it: skip it.
    pub fn port_busy(&mut self, session: &str, shadow: ShadowId, port: u16) -> Vec<Action> {
        let Some(mut s) = self.take_shadow_if(session, shadow, |s| matches!(s.phase, Phase::Starting { .. })) else {
            return vec![];
        };
        self.pool.release(port, shadow);
        s.busy.insert(port);
        self.allocate(session, s)
    }

    /// The backend listens: answer the admin, start the connect grace period.
    pub fn backend_ready(&mut self, now: Instant, session: &str, shadow: ShadowId) -> Vec<Action> {
        let grace = self.config.connect_grace;
        let Some(s) = self.shadow_mut(session, shadow) else { return vec![] };
        let Phase::Starting { req } = s.phase else { return vec![] };
        s.phase = Phase::AwaitingAdmin { deadline: now + grace };
        vec![Action::Reply { req, result: Ok(Grant { shadow, port: s.port }) }]
    }

    /// The backend could not start.
    pub fn backend_failed(&mut self, session: &str, shadow: ShadowId, message: &str) -> Vec<Action> {
        let Some(s) = self.take_shadow_if(session, shadow, |_| true) else { return vec![] };
        let mut out = Vec::new();
        if let Phase::Starting { req } = s.phase {
            out.push(refuse_quiet(req, ErrorCode::BackendFailed, message));
        }
        out.extend(self.end(session, s, EndReason::BackendFailed));
        out
    }

    /// The admin's viewer connected and authenticated.
    pub fn admin_connected(&mut self, session: &str, shadow: ShadowId) -> Vec<Action> {
        let Some(s) = self.shadow_mut(session, shadow) else { return vec![] };
        if !matches!(s.phase, Phase::AwaitingAdmin { .. }) {
            return vec![];
        }
        s.phase = Phase::Connected;
        let (admin, port) = (s.admin.clone(), s.port);
        vec![Action::Audit(audit_shadow(EventKind::Connected, session, &admin, shadow, port))]
    }

    /// The shadow's backend ended by itself (viewer left, process exited).
    pub fn backend_ended(&mut self, session: &str, shadow: ShadowId, reason: EndReason) -> Vec<Action> {
        let Some(s) = self.take_shadow_if(session, shadow, |_| true) else { return vec![] };
        let mut out = Vec::new();
        if let Phase::Starting { req } = s.phase {
            out.push(refuse_quiet(req, ErrorCode::BackendFailed, "the shadowing backend exited while starting"));
        }
        out.extend(self.end(session, s, reason));
        out
    }

    /// DELETE (by the API) or the user's Stop button: end the shadow.
    pub fn stop(&mut self, session: &str, reason: EndReason) -> Result<Vec<Action>, Refusal> {
        let Some(s) = self.slots.get_mut(session).and_then(|slot| slot.shadow.take()) else {
            return Err(Refusal::new(ErrorCode::NoActiveShadow, format!("session {session} is not being shadowed")));
        };
        let mut out = Vec::new();
        if let Phase::Starting { req } = s.phase {
            out.push(refuse_quiet(req, ErrorCode::BackendFailed, "the shadow was stopped while starting"));
        }
        out.extend(self.end(session, s, reason));
        Ok(out)
    }

    /// The session's X server is gone: close its dialog, end its shadow.
    pub fn session_gone(&mut self, session: &str) -> Vec<Action> {
        let Some(slot) = self.slots.remove(session) else { return vec![] };
        let mut out = Vec::new();
        if let Some(p) = slot.prompt {
            out.push(Action::ClosePrompt { session: session.to_string(), prompt: p.id });
            out.extend(refuse(p.req, session, &p.admin, ErrorCode::DisplayUnreachable, "the user's X session ended"));
        }
        if let Some(s) = slot.shadow {
            if let Phase::Starting { req } = s.phase {
                out.push(refuse_quiet(req, ErrorCode::DisplayUnreachable, "the user's X session ended"));
            }
            self.slots.insert(session.to_string(), Slot::default());
            out.extend(self.end(session, s, EndReason::SessionEnded));
            self.slots.remove(session);
        }
        out
    }

    /// Fires every deadline at or before `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let sessions: Vec<SessionId> = self.slots.keys().cloned().collect();
        for session in sessions {
            let slot = self.slots.get_mut(&session).expect("listed above");
            if slot.prompt.as_ref().is_some_and(|p| p.deadline <= now) {
                let p = slot.prompt.take().expect("checked");
                out.push(Action::ClosePrompt { session: session.clone(), prompt: p.id });
                out.extend(self.timed_out(&session, p));
            }
            let slot = self.slots.get_mut(&session).expect("listed above");
            let expired = matches!(slot.shadow.as_ref().map(|s| s.phase), Some(Phase::AwaitingAdmin { deadline }) if deadline <= now);
            if expired {
                let s = slot.shadow.take().expect("checked");
                out.extend(self.end(&session, s, EndReason::NeverConnected));
            }
        }
        out
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .values()
            .flat_map(|slot| {
                let p = slot.prompt.as_ref().map(|p| p.deadline);
                let s = match slot.shadow.as_ref().map(|s| s.phase) {
                    Some(Phase::AwaitingAdmin { deadline }) => Some(deadline),
                    _ => None,
                };
                p.into_iter().chain(s)
            })
            .min()
    }

    /// The shadow of `session`, for `GET /v1/sessions`.
    pub fn shadow_of(&self, session: &str) -> Option<ShadowView> {
        let slot = self.slots.get(session)?;
        let state = if let Some(s) = &slot.shadow {
            let state = match s.phase {
                Phase::Starting { .. } => "starting",
                Phase::AwaitingAdmin { .. } => "awaiting_admin",
                Phase::Connected => "connected",
            };
            ShadowView { admin: s.admin.clone(), state, port: Some(s.port), shadow: Some(s.id) }
        } else {
            let p = slot.prompt.as_ref()?;
            ShadowView { admin: p.admin.clone(), state: "asking_user", port: None, shadow: None }
        };
        Some(state)
    }

    pub fn free_ports(&self) -> usize {
        self.pool.unleased_count()
    }

    /// Every shadow still alive, for a clean shutdown.
    pub fn shutdown(&mut self) -> Vec<Action> {
        let sessions: Vec<SessionId> = self.slots.keys().cloned().collect();
        let mut out = Vec::new();
        for session in sessions {
            let slot = self.slots.get_mut(&session).expect("listed");
            if let Some(p) = slot.prompt.take() {
                out.push(Action::ClosePrompt { session: session.clone(), prompt: p.id });
                out.push(refuse_quiet(p.req, ErrorCode::Internal, "shadowd is shutting down"));
            }
            if let Some(s) = self.slots.get_mut(&session).and_then(|slot| slot.shadow.take()) {
                if let Phase::Starting { req } = s.phase {
                    out.push(refuse_quiet(req, ErrorCode::Internal, "shadowd is shutting down"));
                }
                out.extend(self.end(&session, s, EndReason::Shutdown));
            }
        }
        out
    }

    /// Releases the port, tells the daemon to stop the backend, records it.
    fn end(&mut self, session: &str, s: Shadow, reason: EndReason) -> Vec<Action> {
        self.pool.release(s.port, s.id);
        let mut ev = audit_shadow(EventKind::Ended, session, &s.admin, s.id, s.port);
        ev.reason = Some(reason);
        vec![Action::StopShadow { shadow: s.id, port: s.port, reason }, Action::Audit(ev)]
    }

    fn take_prompt(&mut self, session: &str, prompt: PromptId) -> Option<Prompt> {
        let slot = self.slots.get_mut(session)?;
        if slot.prompt.as_ref()?.id != prompt {
            return None;
        }
        slot.prompt.take()
    }

    fn shadow_mut(&mut self, session: &str, shadow: ShadowId) -> Option<&mut Shadow> {
        self.slots.get_mut(session)?.shadow.as_mut().filter(|s| s.id == shadow)
    }

    fn take_shadow_if(&mut self, session: &str, shadow: ShadowId, pred: impl Fn(&Shadow) -> bool) -> Option<Shadow> {
        let slot = self.slots.get_mut(session)?;
        if slot.shadow.as_ref().is_some_and(|s| s.id == shadow && pred(s)) {
            slot.shadow.take()
        } else {
            None
        }
    }

    /// Panics when an invariant from the module docs does not hold.
    pub fn check_invariants(&self) {
        let mut holders = BTreeMap::new();
        for slot in self.slots.values() {
            if let Some(s) = &slot.shadow {
                assert_eq!(self.pool.holder(s.port), Some(s.id), "shadow {} must hold port {}", s.id, s.port);
                assert!(holders.insert(s.port, s.id).is_none(), "port {} held twice", s.port);
            }
        }
        assert_eq!(holders.len(), self.pool.leased_count(), "a leased port has no live shadow");
    }
}

/// A shadow as `GET /v1/sessions` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShadowView {
    pub admin: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowId>,
}

fn audit(kind: EventKind, session: &str, admin: &str) -> Action {
    Action::Audit(Record::new(kind, session, admin))
}

fn audit_shadow(kind: EventKind, session: &str, admin: &str, shadow: ShadowId, port: u16) -> Record {
    let mut r = Record::new(kind, session, admin);
    r.shadow = Some(shadow);
    r.port = Some(port);
    r
}

/// A refusal that is also an audit event (`rejected`, with the code).
fn refuse(req: RequestId, session: &str, admin: &str, code: ErrorCode, message: impl Into<String>) -> [Action; 2] {
    let mut ev = Record::new(EventKind::Rejected, session, admin);
    ev.error = Some(code);
    [Action::Audit(ev), refuse_quiet(req, code, message)]
}

/// A refusal whose audit event was already recorded under its own name
/// (denied, timed_out …).
fn refuse_quiet(req: RequestId, code: ErrorCode, message: impl Into<String>) -> Action {
    Action::Reply { req, result: Err(Refusal::new(code, message)) }
}
