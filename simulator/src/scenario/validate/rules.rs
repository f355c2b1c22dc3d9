//! Rules for each step on its own: exclusive choices, required companions,
//! value ranges, `when` naming real axes and values.

use super::super::interp;
use super::super::steps::*;
use super::super::vocab::{EventKind, ProcessKind};
use super::{enum_name, known, name_like, p_opt, Checker};
use std::collections::BTreeSet;

impl Checker<'_> {
    /// Checks each step alone (and `repeat` bodies): exclusive choices,
    /// required companions, value ranges, `when`.
    pub(super) fn structure(&mut self, nodes: &[StepNode], prefix: &str, loops: &mut Vec<String>) {
        for (i, node) in nodes.iter().enumerate() {
            let number = format!("{prefix}{}", i + 1);
            let label = node.label(&number);
            let mut problems: Vec<String> = Vec::new();
            self.step_problems(node, loops, &mut problems);
            for p in problems {
                self.push(node.loc, format!("{label}: {p}"));
            }
            if let Step::Repeat(r) = &node.step {
                loops.push(r.var.clone());
                self.structure(&r.steps, &format!("{number}."), loops);
                loops.pop();
            }
        }
    }

    fn step_problems(&self, node: &StepNode, loops: &[String], p: &mut Vec<String>) {
        let mut say = |m: String| p.push(m);
        if node.timeout.is_some_and(|t| t.is_zero()) {
            say("`timeout` must be longer than 0s".into());
        }
        if let Some(when) = &node.when {
            for (axis_name, values) in &when.0 {
                match self.s.matrix.axis(axis_name) {
                    None => {
                        let axes: Vec<String> = self.axis_names().into_iter().cloned().collect();
                        say(format!(
                            "`when` names `{axis_name}`, which is not a matrix axis{}",
                            known("axes", axis_name, &axes)
                        ))
                    }
                    Some(axis) => {
                        for v in values {
                            if !axis.values.iter().any(|a| &a.value == v) {
                                let all: Vec<String> = axis.values.iter().map(|a| a.value.clone()).collect();
                                say(format!(
                                    "`when`: `{v}` is not a value of axis `{axis_name}`{}",
                                    known("values", v, &all)
                                ));
                            }
                        }
                    }
                }
            }
        }
        let mut step = node.step.clone();
        let mut name = node.name.clone();
        let mut texts = step.texts_mut();
        texts.extend(name.as_mut());
        for t in texts {
            if let Err(e) = interp::references(t) {
                say(e);
            }
        }
        let exactly_one = |given: &[(&str, bool)]| -> Option<String> {
            let named: Vec<&str> = given.iter().map(|(n, _)| *n).collect();
            match given.iter().filter(|(_, g)| *g).count() {
                1 => None,
                0 => Some(format!("give one of `{}`", named.join("`, `"))),
                _ => Some(format!("give only one of `{}`", named.join("`, `"))),
            }
        };
        match &node.step {
            Step::Request(r) => {
                if !name_like(&r.client) {
                    say(format!("client name `{}` may only use letters, digits, `-`, `_` and `.`", r.client));
                }
                p_opt(
                    &mut say,
                    exactly_one(&[("session", r.session.is_some()), ("session_id", r.session_id.is_some())]),
                );
            }
            Step::Consent(c) => p_opt(
                &mut say,
                exactly_one(&[("click", c.click.is_some()), ("key", c.key.is_some()), ("ignore: true", c.ignore)])
                    .map(|m| format!("say what the user does: {m}")),
            ),
            Step::Expect(e) => match (e.granted, e.error) {
                (None, None) => say("say what to expect: `granted: true`, `granted: false` or `error: CODE`".into()),
                (Some(true), Some(code)) => say(format!("`granted: true` contradicts `error: {}`", enum_name(code))),
                _ => {
                    let granted = e.outcome() == ExpectedOutcome::Granted;
                    if e.scheme.is_some() && !granted {
                        say("`scheme` only applies to a grant".into());
                    }
                    if e.message_contains.is_some() && granted {
                        say("`message_contains` only applies to an error".into());
                    }
                }
            },
            Step::Connect(c) => {
                if let Some(v) = &c.viewer {
                    if !name_like(v) {
                        say(format!("viewer name `{v}` may only use letters, digits, `-`, `_` and `.`"));
                    }
                }
            }
            Step::ExpectConnected(e) if e.duration.is_zero() => say("`for` must be longer than 0s".into()),
            Step::SendInput(si) => {
                if si.keys.is_none() && si.pointer.is_empty() && si.cut_text.is_none() {
                    say("nothing to send: give `keys`, `pointer` or `cut_text`".into());
                }
                if si.button.is_some() && si.pointer.is_empty() {
                    say("`button` needs `pointer` positions".into());
                }
            }
            Step::Registry(r) => {
                if r.set.is_empty() && r.unset.is_empty() {
                    say("nothing to change: give `set` or `unset`".into());
                }
                for (name, _) in r.set.entries() {
                    if r.unset.contains(&name) {
                        say(format!("`{}` is both set and unset", name.as_str()));
                    }
                }
            }
            Step::HogPorts(h) => {
                p_opt(&mut say, exactly_one(&[("count", h.count.is_some()), ("ports", h.ports.is_some())]));
                if h.count == Some(0) {
                    say("`count` must be at least 1".into());
                }
                if let Some(ports) = &h.ports {
                    let unique: BTreeSet<_> = ports.iter().collect();
                    if ports.is_empty() || ports.contains(&0) || unique.len() != ports.len() {
                        say("`ports` must be distinct port numbers, at least one".into());
                    }
                }
            }
            Step::Kill(k) => match (k.process, &k.session) {
                (ProcessKind::Shadowd, Some(_)) => say("shadowd is not a session's process: drop `session`".into()),
                (ProcessKind::Shadowd, None) | (_, Some(_)) => {}
                (other, None) => say(format!("`process: {}` needs the `session` it belongs to", enum_name(other))),
            },
            Step::Fault(f) => {
                let others = f.latency.is_some() || f.cut || f.stall.is_some();
                if !others && !f.clear {
                    say("no fault given: `latency`, `cut`, `stall` or `clear`".into());
                } else if f.clear && others {
                    say("`clear` removes the viewer's faults: give it alone".into());
                } else if f.cut && (f.latency.is_some() || f.stall.is_some()) {
                    say("`cut` ends the connection: `latency` and `stall` would not apply".into());
                }
            }
            Step::WaitEvent(w) => {
                if w.reason.is_some() && w.event != EventKind::Ended {
                    say("`reason` only applies to `event: ended`".into());
                }
                if w.error.is_some() && w.event != EventKind::Rejected {
                    say("`error` only applies to `event: rejected`".into());
                }
            }
            Step::Http(h) => {
                if !h.path.starts_with('/') {
                    say(format!("`path` must start with `/`: `{}`", h.path));
                }
                if h.body.is_some() && h.body_size.is_some() {
                    say("give only one of `body`, `body_size`".into());
                }
            }
            Step::RawConnect(r) => {
                p_opt(&mut say, exactly_one(&[("port_of", r.port_of.is_some()), ("port", r.port.is_some())]));
                if r.send.is_some() && r.send_hex.is_some() {
                    say("give only one of `send`, `send_hex`".into());
                }
            }
            Step::ExpectPortFree(r) => {
                p_opt(&mut say, exactly_one(&[("port_of", r.port_of.is_some()), ("port", r.port.is_some())]))
            }
            Step::Capture(c) => {
                if !interp::is_identifier(&c.name) {
                    say(format!("capture name `{}` must be an identifier (letters, digits, _)", c.name));
                } else if self.is_static(&c.name) || loops.contains(&c.name) {
                    say(format!("capture `{}` would hide a var, axis or loop variable of that name", c.name));
                }
            }
            Step::Browser(b) => browser_problems(b, &mut say),
            // Caught here, at load time, rather than as a skipped case: a
            // scenario that changes the machine must say so in its tags.
            Step::System(_) if !self.s.tags.iter().any(|t| t.as_str() == crate::runtime::CONTAINER_TAG) => say(format!(
                "a `system` step changes the machine: tag the scenario `{}` so that it runs only inside a testbed container",
                crate::runtime::CONTAINER_TAG
            )),
            Step::Repeat(r) => {
                if r.times == 0 || r.times > MAX_REPEAT {
                    say(format!("`times` must be 1..={MAX_REPEAT}"));
                }
                if !interp::is_identifier(&r.var) {
                    say(format!("loop variable `{}` must be an identifier", r.var));
                } else if self.is_static(&r.var) || loops.contains(&r.var) {
                    say(format!("loop variable `{}` would hide a var, axis or outer loop variable", r.var));
                }
                if r.steps.is_empty() {
                    say("`steps` is empty".into());
                }
            }
            _ => {}
        }
    }
}

/// A `browser` step must do something, and each part must have what it
/// needs: the deep link and the Shadow button name a session, and so does
/// the canvas check (whose display to compare with).
fn browser_problems(b: &BrowserStep, say: &mut impl FnMut(String)) {
    let acts = b.open.is_some() || b.click.is_some() || b.try_input.is_some() || b.screenshot.is_some();
    if !acts && !b.expects() {
        say("nothing to do: give `open`, `click`, `try_input`, an `expect_*` or `screenshot`".into());
    }
    if let Some(w) = &b.window {
        if !name_like(w) {
            say(format!("window name `{w}` may only use letters, digits, `-`, `_` and `.`"));
        }
    }
    let needs_session = [
        (b.open == Some(ConsolePage::Shadow), "`open: shadow` (the deep link)"),
        (b.click == Some(ConsoleButton::Shadow), "`click: shadow` (which row's button)"),
        (b.expect_canvas_matches_display, "`expect_canvas_matches_display` (which display)"),
    ];
    if b.session.is_none() {
        for (_, what) in needs_session.iter().filter(|(needed, _)| *needed) {
            say(format!("{what} needs `session`"));
        }
    }
    if b.admin.is_some() && b.open.is_none() {
        say("`admin` is typed into the page when it is opened: give `open` too".into());
    }
    if b.tolerance > 0 && !b.expect_canvas_matches_display {
        say("`tolerance` only applies to `expect_canvas_matches_display`".into());
    }
    if let Some(s) = &b.screenshot {
        if !name_like(s) {
            say(format!("screenshot name `{s}` may only use letters, digits, `-`, `_` and `.`"));
        }
    }
}
