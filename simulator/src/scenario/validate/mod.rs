//! The semantic pass: what YAML and types cannot say. Names must refer to
//! things that exist *at that point* of the step list (a session declared, a
//! request made by that client, a viewer connected, a hog holding ports, a
//! capture taken); matrix excludes must name real axes and values; choices
//! that exclude each other must not both be given. Every message names the
//! step (`step 6 (expect): ...`) and the error carries its line.
//!
//! References are checked per expanded case, because `when` removes steps
//! from some cases, and with `repeat` unrolled, because names are often
//! `client${i}`.
//!
//! `mod.rs` checks the file's parts (header, matrix, vars, sessions),
//! `rules.rs` each step alone, `scope.rs` the references in step order.

mod rules;
mod scope;

use super::interp::{self, VarRef};
use super::load::{ErrorKind, ScenarioError};
use super::located::Loc;
use super::matrix::{combinations, expand_case, MAX_SESSION_COUNT};
use super::model::Scenario;
use super::steps::*;
use scope::{Scope, Walk};
use std::collections::HashSet;

/// Most steps one case may unroll to (repeats multiply).
const MAX_UNROLLED: usize = 200_000;

pub(crate) fn check(s: &Scenario) -> Vec<ScenarioError> {
    let mut c = Checker { s, errors: Vec::new() };
    c.header();
    c.matrix();
    c.vars();
    c.sessions();
    let mut loops = Vec::new();
    c.structure(&s.steps, "", &mut loops);

    let mut reported: HashSet<Loc> = c.errors.iter().filter_map(|e| e.loc).collect();
    let combos = combinations(&s.matrix);
    for combo in &combos {
        match expand_case(s, combo.clone()) {
            Ok(case) => {
                let mut scope = Scope::default();
                for session in &case.sessions {
                    if !scope.sessions.insert(session.id.clone()) && reported.insert(session.loc) {
                        c.push(session.loc, format!("session id `{}` is declared twice", session.id));
                    }
                }
                let mut walk = Walk { checker: &mut c, reported: &mut reported, visited: 0 };
                walk.steps(&case.steps, "", &mut scope);
            }
            Err(errors) => {
                for e in errors {
                    let fresh = match e.loc {
                        Some(l) => reported.insert(l),
                        None => true,
                    };
                    if fresh {
                        c.errors.push(e);
                    }
                }
            }
        }
    }
    c.when_matches(&s.steps, "", &combos, &reported.clone());
    c.unused_axes();
    c.errors
}

struct Checker<'a> {
    s: &'a Scenario,
    errors: Vec<ScenarioError>,
}

/// The candidate nearest to `word` by edit distance, if near enough to be a typo.
pub(crate) fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let len = word.chars().count();
    if len < 3 {
        return None; // `u4` is not a typo of `u1`
    }
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit (`alcie`/`alice`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// ` (known: a, b); did you mean `a`?`
fn known<'c>(what: &str, word: &str, set: impl IntoIterator<Item = &'c String> + Clone) -> String {
    let names: Vec<&str> = set.clone().into_iter().map(String::as_str).collect();
    let mut out =
        if names.is_empty() { format!(" (no {what} yet)") } else { format!(" ({what}: {})", names.join(", ")) };
    if let Some(best) = closest(word, names) {
        out.push_str(&format!("; did you mean `{best}`?"));
    }
    out
}

fn name_like(text: &str) -> bool {
    interp::has_references(text) || interp::is_name(text)
}

impl Checker<'_> {
    fn push(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors.push(ScenarioError::new(&self.s.path, loc, ErrorKind::Invalid, message));
    }

    fn axis_names(&self) -> Vec<&String> {
        self.s.matrix.axes.iter().map(|a| &a.name.value).collect()
    }

    fn header(&mut self) {
        let s = self.s;
        if let Some(n) = &s.name {
            if !interp::is_name(n) {
                self.push(n.loc, format!("scenario name `{}` may only use letters, digits, `-`, `_` and `.`", n.value));
            }
        }
        let mut seen = HashSet::new();
        for t in &s.tags {
            if !interp::is_name(t) {
                self.push(t.loc, format!("tag `{}` may only use letters, digits, `-`, `_` and `.`", t.value));
            } else if !seen.insert(&t.value) {
                self.push(t.loc, format!("tag `{}` is given twice", t.value));
            }
        }
        if let Some(t) = &s.timeout {
            if t.is_zero() {
                self.push(t.loc, "the scenario's timeout must be longer than 0s");
            }
        }
        if s.steps.is_empty() {
            self.push(Loc::UNKNOWN, "the scenario has no steps");
        }
        if let Some(d) = &s.description {
            match interp::references(d) {
                Err(e) => self.push(Loc::UNKNOWN, format!("description: {e}")),
                Ok(refs) => {
                    for r in refs {
                        let (VarRef::Var(n) | VarRef::Session(n)) = r;
                        if matches!(r, VarRef::Session(_)) || !self.is_static(n) {
                            self.push(Loc::UNKNOWN, format!("description: `{n}` is not a var or matrix axis"));
                        }
                    }
                }
            }
        }
    }

    fn matrix(&mut self) {
        let m = &self.s.matrix;
        for axis in &m.axes {
            let name = &axis.name;
            if !interp::is_identifier(name) {
                self.push(name.loc, format!("matrix axis `{}` must be an identifier (letters, digits, _)", name.value));
            }
            if axis.values.is_empty() {
                self.push(name.loc, format!("matrix axis `{}` has no values", name.value));
            }
            let mut seen = HashSet::new();
            for v in &axis.values {
                if v.is_empty() || v.contains(|c: char| c.is_whitespace() || ",=[]$".contains(c)) {
                    self.push(
                        v.loc,
                        format!("axis value `{}` may not be empty nor contain spaces or , = [ ] $", v.value),
                    );
                } else if !seen.insert(&v.value) {
                    self.push(v.loc, format!("value `{}` appears twice in matrix axis `{}`", v.value, name.value));
                }
            }
        }
        let axes: Vec<String> = self.axis_names().into_iter().cloned().collect();
        for ex in &m.exclude {
            if ex.is_empty() {
                self.push(ex.loc, "an empty exclude would exclude every case");
            }
            for (axis_name, value) in ex.iter() {
                match m.axis(axis_name) {
                    None => self.push(
                        loc_of(value.loc, ex.loc),
                        format!(
                            "exclude names `{axis_name}`, which is not a matrix axis{}",
                            known("axes", axis_name, &axes)
                        ),
                    ),
                    Some(axis) if !axis.values.iter().any(|v| v.value == value.value) => {
                        let values: Vec<String> = axis.values.iter().map(|v| v.value.clone()).collect();
                        self.push(
                            loc_of(value.loc, ex.loc),
                            format!(
                                "exclude: `{}` is not a value of axis `{axis_name}`{}",
                                value.value,
                                known("values", &value.value, &values)
                            ),
                        )
                    }
                    Some(_) => {}
                }
            }
        }
        if !m.axes.is_empty() && m.axes.iter().all(|a| !a.values.is_empty()) && combinations(m).is_empty() {
            let loc = m.exclude.first().map_or(Loc::UNKNOWN, |e| e.loc);
            self.push(loc, "the matrix excludes leave no case to run");
        }
    }

    fn vars(&mut self) {
        for (name, value) in &self.s.vars {
            if !interp::is_identifier(name) {
                self.push(value.loc, format!("var name `{name}` must be an identifier (letters, digits, _)"));
            }
            if self.s.matrix.axis(name).is_some() {
                self.push(value.loc, format!("var `{name}` has the name of a matrix axis"));
            }
            match interp::references(value) {
                Err(e) => self.push(value.loc, format!("var `{name}`: {e}")),
                Ok(refs) => {
                    for r in refs {
                        let (VarRef::Var(n) | VarRef::Session(n)) = r;
                        if self.s.matrix.axis(n).is_none() || matches!(r, VarRef::Session(_)) {
                            self.push(value.loc, format!("var `{name}` may only use matrix axes, not `{n}`"));
                        }
                    }
                }
            }
        }
    }

    fn sessions(&mut self) {
        for spec in &self.s.sessions {
            let id = &spec.id;
            if !name_like(id) {
                self.push(id.loc, format!("session id `{}` may only use letters, digits, `-`, `_` and `.`", id.value));
            }
            if let Some(count) = &spec.count {
                if count.value == 0 || count.value > MAX_SESSION_COUNT {
                    self.push(count.loc, format!("session count must be 1..={MAX_SESSION_COUNT}"));
                }
                let uses_i = interp::references(id).is_ok_and(|r| r.contains(&VarRef::Var("i")));
                if count.value > 1 && !uses_i {
                    self.push(
                        id.loc,
                        format!("`count: {}` needs `${{i}}` in the id, e.g. `{}${{i}}`", count.value, id.value),
                    );
                }
            }
        }
    }

    fn is_static(&self, name: &str) -> bool {
        self.s.vars.contains_key(name) || self.s.matrix.axis(name).is_some()
    }

    /// A `when` that no case satisfies makes a step dead: surely a mistake.
    fn when_matches(
        &mut self,
        nodes: &[StepNode],
        prefix: &str,
        combos: &[Vec<(String, String)>],
        reported: &HashSet<Loc>,
    ) {
        for (i, node) in nodes.iter().enumerate() {
            let number = format!("{prefix}{}", i + 1);
            if let Some(when) = &node.when {
                if !reported.contains(&node.loc) && !combos.iter().any(|c| when.matches(c)) {
                    let label = node.label(&number);
                    self.push(node.loc, format!("{label}: its `when` matches no case of the matrix"));
                }
            }
            if let Step::Repeat(r) = &node.step {
                self.when_matches(&r.steps, &format!("{number}."), combos, reported);
            }
        }
    }

    /// An axis nothing refers to multiplies the cases for nothing.
    fn unused_axes(&mut self) {
        let s = self.s;
        let mut used: HashSet<String> = HashSet::new();
        let mut when_axes: Vec<String> = Vec::new();
        let mut note = |text: &str| {
            for r in interp::references(text).unwrap_or_default() {
                if let VarRef::Var(n) = r {
                    used.insert(n.to_string());
                }
            }
        };
        for v in s.vars.values() {
            note(v);
        }
        if let Some(d) = &s.description {
            note(d);
        }
        for spec in &s.sessions {
            note(&spec.id);
            let draw = &spec.draw;
            for t in [
                spec.screen.as_ref().and_then(|t| t.template_text()),
                tpl_text(&draw.pattern),
                tpl_text(&draw.seed),
                tpl_text(&draw.color),
            ]
            .into_iter()
            .flatten()
            {
                note(t);
            }
        }
        let d = &s.daemon;
        let r = &d.registry;
        for t in [
            tpl_text(&d.backend),
            tpl_text(&d.ports),
            tpl_text(&d.tls),
            tpl_text(&d.connect_grace),
            tpl_text(&r.enable_session_shadowing),
            tpl_text(&r.shadowing_use_ssl),
            tpl_text(&r.shadowing_consent_timeout),
        ]
        .into_iter()
        .flatten()
        {
            note(t);
        }
        let mut stack: Vec<&StepNode> = s.steps.iter().collect();
        while let Some(node) = stack.pop() {
            let mut step = node.step.clone();
            for t in step.texts_mut() {
                note(t);
            }
            if let Some(n) = &node.name {
                note(n);
            }
            if let Some(w) = &node.when {
                when_axes.extend(w.0.keys().cloned());
            }
            if let Step::Repeat(r) = &node.step {
                stack.extend(r.steps.iter());
            }
        }
        used.extend(when_axes);
        for axis in &s.matrix.axes {
            if !used.contains(&axis.name.value) {
                self.push(
                    axis.name.loc,
                    format!(
                        "matrix axis `{0}` is not used: refer to it as `${{{0}}}` (e.g. `daemon: {{{0}: '${{{0}}}'}}`) or in a step's `when`",
                        axis.name.value
                    ),
                );
            }
        }
    }
}

fn tpl_text<T: super::values::Scalar>(t: &Option<super::values::Tpl<T>>) -> Option<&str> {
    t.as_ref().and_then(|t| t.template_text())
}

fn p_opt(say: &mut impl FnMut(String), m: Option<String>) {
    if let Some(m) = m {
        say(m);
    }
}

fn loc_of(primary: Loc, fallback: Loc) -> Loc {
    super::model::loc_or(primary, fallback)
}

fn enum_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
