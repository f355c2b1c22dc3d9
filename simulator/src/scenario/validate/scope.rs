//! References in step order, per case, with `repeat` unrolled: a name must
//! exist *before* the step that uses it.

use super::super::interp::{self, VarRef};
use super::super::located::Loc;
use super::super::steps::*;
use super::{known, Checker, MAX_UNROLLED};
use std::collections::{BTreeSet, HashSet};

/// What exists at a point of one case's step list.
#[derive(Default)]
pub(super) struct Scope {
    pub(super) sessions: BTreeSet<String>,
    /// Clients that have made a request.
    clients: BTreeSet<String>,
    /// Viewers that have connected.
    viewers: BTreeSet<String>,
    /// Hogs holding ports now.
    hogs: BTreeSet<String>,
    captures: BTreeSet<String>,
    /// Loop variables and their current values, outermost first.
    loops: Vec<(String, u32)>,
}

impl Scope {
    /// A name with loop variables filled in; `None` if it depends on a
    /// capture (known only at run time), which is then not checked.
    fn concrete(&self, text: &str) -> Option<String> {
        interp::interpolate(text, |r| match r {
            VarRef::Var(n) => self.loops.iter().rev().find(|(l, _)| l == n).map(|(_, v)| v.to_string()),
            VarRef::Session(_) => None,
        })
        .ok()
    }
}

pub(super) struct Walk<'c, 'a> {
    pub(super) checker: &'c mut Checker<'a>,
    /// One error per step position: an unrolled repeat would repeat it.
    pub(super) reported: &'c mut HashSet<Loc>,
    pub(super) visited: usize,
}

impl Walk<'_, '_> {
    pub(super) fn steps(&mut self, nodes: &[StepNode], prefix: &str, scope: &mut Scope) {
        for (i, node) in nodes.iter().enumerate() {
            self.visited += 1;
            if self.visited > MAX_UNROLLED {
                if self.reported.insert(node.loc) {
                    self.checker.push(
                        node.loc,
                        format!("the steps unroll to more than {MAX_UNROLLED} steps; use fewer repeats"),
                    );
                }
                return;
            }
            let number = format!("{prefix}{}", i + 1);
            let mut label = node.label(&number);
            if !scope.loops.is_empty() {
                let vals: Vec<String> = scope.loops.iter().map(|(n, v)| format!("{n}={v}")).collect();
                label.push_str(&format!(" [{}]", vals.join(",")));
            }
            if let Some(problem) = self.problem(node, scope) {
                if self.reported.insert(node.loc) {
                    self.checker.push(node.loc, format!("{label}: {problem}"));
                }
            }
            if let Step::Repeat(r) = &node.step {
                for i in 1..=r.times.min(MAX_REPEAT) {
                    scope.loops.push((r.var.clone(), i));
                    self.steps(&r.steps, &format!("{number}."), scope);
                    scope.loops.pop();
                    if self.visited > MAX_UNROLLED {
                        return;
                    }
                }
            }
        }
    }

    /// Checks the step's references against the scope, then adds what it defines.
    fn problem(&mut self, node: &StepNode, scope: &mut Scope) -> Option<String> {
        let mut step = node.step.clone();
        let mut name = node.name.clone();
        let mut texts = step.texts_mut();
        texts.extend(name.as_mut());
        for t in texts {
            for r in interp::references(t).unwrap_or_default() {
                match r {
                    VarRef::Var(n) => {
                        if !scope.loops.iter().any(|(l, _)| l == n) && !scope.captures.contains(n) {
                            let mut names: Vec<String> = scope.loops.iter().map(|(l, _)| l.clone()).collect();
                            names.extend(scope.captures.iter().cloned());
                            names.extend(self.checker.s.vars.keys().cloned());
                            names.extend(self.checker.s.matrix.axes.iter().map(|a| a.name.value.clone()));
                            return Some(format!("`${{{n}}}` is not defined here{}", known("variables", n, &names)));
                        }
                    }
                    VarRef::Session(id) => {
                        if !scope.sessions.contains(id) {
                            return Some(format!(
                                "`${{session:{id}}}`: no session `{id}` is declared{}",
                                known("sessions", id, &scope.sessions)
                            ));
                        }
                    }
                }
            }
        }
        let session = |scope: &Scope, name: &str| -> Option<String> {
            let n = scope.concrete(name)?;
            (!scope.sessions.contains(&n))
                .then(|| format!("no session `{n}` is declared{}", known("sessions", &n, &scope.sessions)))
        };
        let client = |scope: &Scope, name: &str| -> Option<String> {
            let n = scope.concrete(name)?;
            (!scope.clients.contains(&n)).then(|| {
                format!("no request was made as `{n}` before this step{}", known("clients so far", &n, &scope.clients))
            })
        };
        let viewer = |scope: &Scope, name: &str| -> Option<String> {
            let n = scope.concrete(name)?;
            (!scope.viewers.contains(&n)).then(|| {
                format!("no viewer `{n}` has connected before this step{}", known("viewers so far", &n, &scope.viewers))
            })
        };
        let opt_session = |scope: &Scope, name: &Option<String>| name.as_deref().and_then(|n| session(scope, n));
        match &node.step {
            Step::Request(r) => {
                if let Some(p) = opt_session(scope, &r.session) {
                    return Some(p);
                }
                let n = scope.concrete(&r.client);
                scope.clients.extend(n);
                None
            }
            Step::Consent(c) => session(scope, &c.session),
            Step::Expect(e) => client(scope, &e.request),
            Step::Connect(c) => {
                let p = client(scope, &c.client);
                if p.is_none() && c.expect_error.is_none() {
                    let name = c.viewer_name().to_string();
                    let n = scope.concrete(&name);
                    scope.viewers.extend(n);
                }
                p
            }
            Step::ExpectFrame(x) => viewer(scope, &x.viewer),
            Step::ExpectDisconnect(x) => viewer(scope, &x.viewer),
            Step::ExpectConnected(x) => viewer(scope, &x.viewer),
            Step::SendInput(x) => viewer(scope, &x.viewer),
            Step::Disconnect(x) => viewer(scope, &x.viewer),
            Step::Fault(x) => viewer(scope, &x.viewer),
            Step::ExpectDisplayUnchanged(x) | Step::ExpectNoInput(x) => session(scope, &x.session),
            Step::Stop(x) => session(scope, &x.session),
            Step::CloseSession(x) | Step::UserStop(x) => session(scope, &x.session),
            Step::Kill(k) => opt_session(scope, &k.session),
            Step::WaitEvent(w) => opt_session(scope, &w.session),
            Step::ExpectEvents(e) => opt_session(scope, &e.session),
            Step::RawConnect(r) => r.port_of.as_deref().and_then(|c| client(scope, c)),
            Step::ExpectPortFree(r) => r.port_of.as_deref().and_then(|c| client(scope, c)),
            Step::HogPorts(h) => {
                let n = scope.concrete(&h.name)?;
                if scope.hogs.contains(&n) {
                    return Some(format!(
                        "hog `{n}` already holds ports: `release_ports` it first or use another name"
                    ));
                }
                scope.hogs.insert(n);
                None
            }
            Step::ReleasePorts(r) => {
                let n = scope.concrete(&r.hog)?;
                if !scope.hogs.remove(&n) {
                    return Some(format!(
                        "no hog `{n}` holds ports here{}",
                        known("hogs holding ports", &n, &scope.hogs)
                    ));
                }
                None
            }
            Step::Capture(c) => {
                let p = client(scope, &c.from.client);
                let n = scope.concrete(&c.name);
                scope.captures.extend(n);
                p
            }
            Step::Browser(b) => opt_session(scope, &b.session),
            Step::Registry(_)
            | Step::System(_)
            | Step::Require(_)
            | Step::Doctor(_)
            | Step::BreakCert(_)
            | Step::Http(_)
            | Step::ExpectPortsFree(_)
            | Step::Sleep(_)
            | Step::Repeat(_) => None,
        }
    }
}
