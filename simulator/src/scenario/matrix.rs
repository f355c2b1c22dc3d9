//! Matrix expansion: a scenario becomes one [`Case`] per combination of
//! axis values (minus `exclude`), with its templated settings resolved, its
//! `${var}`s substituted and its `when`-filtered steps. A `Case` is what the
//! runner executes; it needs nothing else from the scenario.

use super::duration::Duration;
use super::interp::{self, VarRef};
use super::load::{ErrorKind, ScenarioError};
use super::located::Loc;
use super::model::{loc_or, Matrix, RegistryValues, Scenario, SessionSpec};
use super::steps::{Step, StepNode};
use super::values::{Scalar, Screen, Tpl};
use super::vocab::{Backend, PatternKind, TlsSetup};
use shadowd::ports::PortRange;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Largest `count` of one session entry.
pub const MAX_SESSION_COUNT: u32 = 200;

/// One runnable instance of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `takeover-accepted[backend=native,tls=valid]`, or the scenario's name without a matrix.
    pub name: String,
    /// The scenario's name.
    pub scenario: String,
    pub path: PathBuf,
    /// The axis values of this case, in the matrix's order.
    pub axes: Vec<(String, String)>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub timeout: Duration,
    /// Vars and axis values, as substituted.
    pub vars: BTreeMap<String, String>,
    pub sessions: Vec<SessionConfig>,
    pub daemon: DaemonConfig,
    /// The steps that run in this case, with static `${...}` substituted.
    /// Runtime references (`${i}`, captures, `${session:ID}`) remain for
    /// [`interpolate`](super::interpolate).
    pub steps: Vec<StepNode>,
}

/// A session to start, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub id: String,
    /// Where it is declared.
    pub loc: Loc,
    pub screen: Screen,
    pub pattern: Pattern,
}

/// The picture on a display, resolved (the Xvfb driver's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Checkerboard { seed: u64 },
    Gradient,
    Noise { seed: u64 },
    Solid { rgb: u32 },
}

impl Pattern {
    pub fn to_driver(self) -> crate::drivers::xvfb::Pattern {
        use crate::drivers::xvfb::Pattern as P;
        match self {
            Pattern::Checkerboard { seed } => P::Checkerboard { seed },
            Pattern::Gradient => P::Gradient,
            Pattern::Noise { seed } => P::Noise { seed },
            Pattern::Solid { rgb } => P::Solid(rgb),
        }
    }
}

/// How to run shadowd, resolved, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    pub backend: Backend,
    /// Whether the scenario named a backend. When it did not, the runner
    /// runs the case on every backend it is asked to (`--backend`).
    pub backend_pinned: bool,
    pub tls: TlsSetup,
    pub ports: PortRange,
    /// `None`: the daemon's default.
    pub connect_grace: Option<Duration>,
    /// The values to write before starting; `ShadowingUseSSL` is 1 when
    /// `tls` installs a certificate and the scenario did not set it.
    pub registry: RegistryValues,
}

/// Every combination of axis values, first axis slowest, minus excludes.
/// One empty combination when there is no matrix.
pub fn combinations(matrix: &Matrix) -> Vec<Vec<(String, String)>> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in &matrix.axes {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((axis.name.value.clone(), v.value.clone()));
                    c
                })
            })
            .collect();
    }
    combos.retain(|combo| {
        !matrix
            .exclude
            .iter()
            .any(|ex| ex.iter().all(|(axis, value)| combo.iter().any(|(a, v)| a == axis && v == &value.value)))
    });
    combos
}

/// `name[axis=value,...]`.
pub fn case_name(scenario: &str, axes: &[(String, String)]) -> String {
    if axes.is_empty() {
        return scenario.to_string();
    }
    let inner: Vec<String> = axes.iter().map(|(a, v)| format!("{a}={v}")).collect();
    format!("{scenario}[{}]", inner.join(","))
}

/// All cases of a scenario. A scenario from `load_file` always expands (the
/// loader expands it to check it); errors are for hand-built scenarios.
pub fn expand(s: &Scenario) -> Result<Vec<Case>, Vec<ScenarioError>> {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for combo in combinations(&s.matrix) {
        match expand_case(s, combo) {
            Ok(c) => cases.push(c),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// The values static references resolve to in one case.
pub(crate) fn statics(s: &Scenario, axes: &[(String, String)]) -> (BTreeMap<String, String>, Vec<ScenarioError>) {
    let mut vars: BTreeMap<String, String> = axes.iter().cloned().collect();
    let mut errors = Vec::new();
    for (name, value) in &s.vars {
        let axis_lookup = |r: &VarRef<'_>| match r {
            VarRef::Var(n) => axes.iter().find(|(a, _)| a == n).map(|(_, v)| v.clone()),
            VarRef::Session(_) => None,
        };
        match interp::interpolate(value, axis_lookup) {
            Ok(v) => {
                vars.entry(name.clone()).or_insert(v);
            }
            Err(e) => {
                errors.push(err(s, value.loc, format!("var `{name}`: {e} (var values may only use matrix axes)")))
            }
        }
    }
    (vars, errors)
}

fn err(s: &Scenario, loc: Loc, message: impl Into<String>) -> ScenarioError {
    ScenarioError::new(&s.path, loc, ErrorKind::Invalid, message)
}

pub(crate) fn expand_case(s: &Scenario, axes: Vec<(String, String)>) -> Result<Case, Vec<ScenarioError>> {
    let (vars, mut errors) = statics(s, &axes);
    let lookup = |r: &VarRef<'_>| match r {
        VarRef::Var(n) => vars.get(*n).cloned(),
        VarRef::Session(_) => None,
    };
    let sessions = sessions(s, &vars, &mut errors);
    let daemon = daemon(s, &vars, &mut errors);
    let mut steps = Vec::new();
    for node in &s.steps {
        if let Some(n) = prepare(s, node, &axes, &lookup, &mut errors) {
            steps.push(n);
        }
    }
    let description = s.description.as_ref().map(|d| interp::substitute(d, lookup).unwrap_or_else(|_| d.clone()));
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Case {
        name: case_name(s.name(), &axes),
        scenario: s.name().to_string(),
        path: s.path.clone(),
        axes,
        description,
        tags: s.tags.iter().map(|t| t.value.clone()).collect(),
        timeout: s.timeout(),
        vars,
        sessions,
        daemon,
        steps,
    })
}

fn resolve_tpl<T: Scalar>(
    s: &Scenario,
    what: &str,
    tpl: &Tpl<T>,
    vars: &BTreeMap<String, String>,
    errors: &mut Vec<ScenarioError>,
) -> Option<T> {
    let lookup = |r: &VarRef<'_>| match r {
        VarRef::Var(n) => vars.get(*n).cloned(),
        VarRef::Session(_) => None,
    };
    match tpl.resolve(lookup) {
        Ok(v) => Some(v),
        Err(e) => {
            let shown = tpl.template_text().map(|t| format!(" (`{t}`)")).unwrap_or_default();
            errors.push(err(s, tpl.loc(), format!("{what}{shown}: {e}")));
            None
        }
    }
}

fn sessions(s: &Scenario, vars: &BTreeMap<String, String>, errors: &mut Vec<ScenarioError>) -> Vec<SessionConfig> {
    let mut out = Vec::new();
    for spec in &s.sessions {
        let count = spec.count.as_ref().map_or(1, |c| c.value);
        if count == 0 || count > MAX_SESSION_COUNT {
            continue; // reported by validate
        }
        for i in 1..=count {
            let lookup = |r: &VarRef<'_>| match r {
                VarRef::Var("i") if spec.count.is_some() => Some(i.to_string()),
                VarRef::Var(n) => vars.get(*n).cloned(),
                VarRef::Session(_) => None,
            };
            let id = match interp::interpolate(&spec.id, lookup) {
                Ok(id) => id,
                Err(e) => {
                    errors.push(err(s, spec.id.loc, format!("session id: {e}")));
                    continue;
                }
            };
            if let Some(c) = session(s, spec, id, vars, errors) {
                out.push(c);
            }
        }
    }
    out
}

fn session(
    s: &Scenario,
    spec: &SessionSpec,
    id: String,
    vars: &BTreeMap<String, String>,
    errors: &mut Vec<ScenarioError>,
) -> Option<SessionConfig> {
    let before = errors.len();
    let screen = match &spec.screen {
        Some(t) => resolve_tpl(s, "screen", t, vars, errors),
        None => Some(Screen::DEFAULT),
    };
    let draw = &spec.draw;
    let kind = match &draw.pattern {
        Some(t) => resolve_tpl(s, "draw.pattern", t, vars, errors),
        None => Some(PatternKind::Checkerboard),
    };
    let seed = draw.seed.as_ref().and_then(|t| resolve_tpl(s, "draw.seed", t, vars, errors));
    let color = draw.color.as_ref().and_then(|t| resolve_tpl(s, "draw.color", t, vars, errors));
    let (screen, kind) = (screen?, kind?);
    if errors.len() > before {
        return None;
    }
    let here = |t: Option<Loc>| loc_or(t.unwrap_or(Loc::UNKNOWN), spec.id.loc);
    let seed_loc = here(draw.seed.as_ref().map(Tpl::loc));
    let color_loc = here(draw.color.as_ref().map(Tpl::loc));
    let seed_value = seed.unwrap_or_else(|| fnv1a(&id));
    let pattern = match kind {
        PatternKind::Checkerboard => Some(Pattern::Checkerboard { seed: seed_value }),
        PatternKind::Noise => Some(Pattern::Noise { seed: seed_value }),
        PatternKind::Gradient => Some(Pattern::Gradient),
        PatternKind::Solid => match color {
            Some(c) => Some(Pattern::Solid { rgb: c.0 }),
            None => {
                errors.push(err(s, spec.id.loc, format!("session `{id}`: pattern solid needs a `color`")));
                None
            }
        },
    };
    if color.is_some() && kind != PatternKind::Solid {
        errors.push(err(s, color_loc, format!("session `{id}`: `color` only applies to pattern solid")));
    }
    if seed.is_some() && matches!(kind, PatternKind::Gradient | PatternKind::Solid) {
        errors.push(err(s, seed_loc, format!("session `{id}`: `seed` only applies to checkerboard and noise")));
    }
    Some(SessionConfig { id, loc: spec.id.loc, screen, pattern: pattern? })
}

/// A stable seed per session id, so that two sessions never show the same
/// picture by accident (a viewer showing the wrong display must fail).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

fn daemon(s: &Scenario, vars: &BTreeMap<String, String>, errors: &mut Vec<ScenarioError>) -> DaemonConfig {
    let d = &s.daemon;
    let backend = d.backend.as_ref().and_then(|t| resolve_tpl(s, "daemon.backend", t, vars, errors));
    let tls = d.tls.as_ref().and_then(|t| resolve_tpl(s, "daemon.tls", t, vars, errors));
    let ports = d.ports.as_ref().and_then(|t| resolve_tpl(s, "daemon.ports", t, vars, errors));
    let connect_grace = d.connect_grace.as_ref().and_then(|t| resolve_tpl(s, "daemon.connect_grace", t, vars, errors));
    let r = &d.registry;
    let mut reg = |name: &str, t: &Option<Tpl<u32>>| {
        t.as_ref().and_then(|t| resolve_tpl(s, &format!("daemon.registry.{name}"), t, vars, errors))
    };
    let mut registry = RegistryValues {
        enable_session_shadowing: reg("EnableSessionShadowing", &r.enable_session_shadowing),
        shadowing_use_ssl: reg("ShadowingUseSSL", &r.shadowing_use_ssl),
        shadowing_consent_timeout: reg("ShadowingConsentTimeout", &r.shadowing_consent_timeout),
    };
    let tls = tls.unwrap_or_default();
    if registry.shadowing_use_ssl.is_none() && tls != TlsSetup::Off {
        registry.shadowing_use_ssl = Some(1);
    }
    DaemonConfig {
        backend_pinned: backend.is_some(),
        backend: backend.unwrap_or_default(),
        tls,
        ports: ports.unwrap_or_default(),
        connect_grace,
        registry,
    }
}

/// The step as it runs in this case: `None` when `when` leaves it out.
fn prepare(
    s: &Scenario,
    node: &StepNode,
    axes: &[(String, String)],
    lookup: &dyn Fn(&VarRef<'_>) -> Option<String>,
    errors: &mut Vec<ScenarioError>,
) -> Option<StepNode> {
    if let Some(when) = &node.when {
        if !when.matches(axes) {
            return None;
        }
    }
    let mut node = node.clone();
    let loc = node.loc;
    let mut texts = node.step.texts_mut();
    texts.extend(node.name.as_mut());
    for t in texts {
        match interp::substitute(t, lookup) {
            Ok(v) => *t = v,
            Err(e) => errors.push(err(s, loc, format!("step at line {}: {e}", loc.line))),
        }
    }
    if let Step::Repeat(r) = &mut node.step {
        let inner = std::mem::take(&mut r.steps);
        r.steps = inner.iter().filter_map(|n| prepare(s, n, axes, lookup, errors)).collect();
    }
    Some(node)
}
