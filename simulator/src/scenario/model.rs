//! The scenario file as written: what `load_file` returns. Settings that a
//! matrix may vary are [`Tpl`]s; `expand` resolves them into a [`Case`]
//! (see `matrix.rs`), which is what the runner executes.
//!
//! [`Case`]: super::Case

use super::duration::Duration;
use super::located::{Loc, Located};
use super::steps::StepNode;
use super::values::{Color, Screen, Tpl};
use super::vocab::{Backend, PatternKind, RegName, TlsSetup};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use shadowd::ports::PortRange;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// How long a whole case may run unless `timeout` says otherwise.
pub const DEFAULT_SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// A shadowsim scenario: sessions to start, a daemon to run, and steps that
/// drive admins, the consent dialog and faults, asserting what must happen.
/// Unknown keys are errors everywhere.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "shadowsim scenario")]
pub struct Scenario {
    /// The file it was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
    /// The file's text, for showing source lines in reports.
    #[serde(skip)]
    pub source: String,
    /// The scenario's name in reports (letters, digits, `-`, `_`, `.`); defaults to the file name without extension.
    #[serde(default)]
    pub name: Option<Located<String>>,
    /// What the scenario shows, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags to select scenarios with `--tag` (e.g. `takeover`, `tls`, `slow`).
    #[serde(default)]
    pub tags: Vec<Located<String>>,
    /// How long one case may run in total (default 60s).
    #[serde(default)]
    pub timeout: Option<Located<Duration>>,
    /// Axes to run the scenario over: every combination is a case, minus `exclude`.
    #[serde(default)]
    pub matrix: Matrix,
    /// Text variables for `${name}` in string fields. Values may use matrix axes.
    #[serde(default)]
    pub vars: BTreeMap<String, Located<String>>,
    /// The X sessions (Xvfb displays) to start before the steps.
    #[serde(default)]
    pub sessions: Vec<SessionSpec>,
    /// How to run shadowd.
    #[serde(default)]
    pub daemon: DaemonSpec,
    /// What happens, in order. Each step is a map with one step kind key
    /// (`request: {...}`) and optionally `name`, `timeout`, `after`, `when`.
    pub steps: Vec<StepNode>,
}

impl Scenario {
    /// The scenario's name: as written, else the file stem.
    pub fn name(&self) -> &str {
        match &self.name {
            Some(n) => n,
            None => self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario"),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.as_ref().map_or(DEFAULT_SCENARIO_TIMEOUT, |t| t.value)
    }
}

/// An X session: one Xvfb display with a known picture on it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// The name steps use for this session (`session: alice`). With `count`, must contain `${i}`.
    pub id: Located<String>,
    /// Screen size WIDTHxHEIGHT (default 1024x768), each side 16..=8192.
    #[serde(default)]
    pub screen: Option<Tpl<Screen>>,
    /// What is drawn on the display (default: a checkerboard seeded by the id, so sessions differ).
    #[serde(default)]
    pub draw: DrawSpec,
    /// Start this many sessions, with ids from `id` for `${i}` = 1..=count (e.g. `id: "u${i}"`). At most 200.
    #[serde(default)]
    pub count: Option<Located<u32>>,
}

/// The picture on a display.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawSpec {
    /// checkerboard (default), gradient, noise or solid.
    #[serde(default)]
    pub pattern: Option<Tpl<PatternKind>>,
    /// Seed for checkerboard and noise.
    #[serde(default)]
    pub seed: Option<Tpl<u64>>,
    /// The colour for solid, "#rrggbb" (quoted).
    #[serde(default)]
    pub color: Option<Tpl<Color>>,
}

/// How shadowd is run for this scenario.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonSpec {
    /// native (default) or external.
    #[serde(default)]
    pub backend: Option<Tpl<Backend>>,
    /// Registry values written before the daemon starts.
    #[serde(default)]
    pub registry: RegistrySpec,
    /// The shadow port range (`--port-range`), default 6001-6099. A small range makes exhaustion cheap.
    #[serde(default)]
    pub ports: Option<Tpl<PortRange>>,
    /// What certificate material is in the SSL dir (default off). Anything but `off` also makes
    /// `ShadowingUseSSL` default to 1, unless `registry` sets it.
    #[serde(default)]
    pub tls: Option<Tpl<TlsSetup>>,
    /// How long a granted shadow waits for its viewer before it ends (`never_connected`); default: the daemon's.
    #[serde(default)]
    pub connect_grace: Option<Tpl<Duration>>,
}

/// Registry values as the daemon's registry file holds them (DWORDs; decimal or 0x hex).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// 1 enables shadowing (the daemon's default), 0 disables it.
    #[serde(rename = "EnableSessionShadowing", default)]
    pub enable_session_shadowing: Option<Tpl<u32>>,
    /// 1 serves wss:// with the SSL dir's certificate, 0 serves ws:// (the daemon's default).
    #[serde(rename = "ShadowingUseSSL", default)]
    pub shadowing_use_ssl: Option<Tpl<u32>>,
    /// Seconds the consent dialog waits (the daemon's default: 20).
    #[serde(rename = "ShadowingConsentTimeout", default)]
    pub shadowing_consent_timeout: Option<Tpl<u32>>,
}

/// Registry values, resolved: what to write with `shadowd reg update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryValues {
    /// 1 enables shadowing, 0 disables it.
    #[serde(rename = "EnableSessionShadowing", default, skip_serializing_if = "Option::is_none")]
    pub enable_session_shadowing: Option<u32>,
    /// 1 serves wss://, 0 serves ws://.
    #[serde(rename = "ShadowingUseSSL", default, skip_serializing_if = "Option::is_none")]
    pub shadowing_use_ssl: Option<u32>,
    /// Seconds the consent dialog waits.
    #[serde(rename = "ShadowingConsentTimeout", default, skip_serializing_if = "Option::is_none")]
    pub shadowing_consent_timeout: Option<u32>,
}

impl RegistryValues {
    /// The values that are set, by registry name.
    pub fn entries(&self) -> Vec<(RegName, u32)> {
        [
            (RegName::EnableSessionShadowing, self.enable_session_shadowing),
            (RegName::ShadowingUseSsl, self.shadowing_use_ssl),
            (RegName::ShadowingConsentTimeout, self.shadowing_consent_timeout),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }
}

/// The matrix: axes in the order written (the first varies slowest), and
/// combinations to leave out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub axes: Vec<Axis>,
    pub exclude: Vec<Located<BTreeMap<String, Located<String>>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: Located<String>,
    pub values: Vec<Located<String>>,
}

impl Matrix {
    pub fn axis(&self, name: &str) -> Option<&Axis> {
        self.axes.iter().find(|a| a.name.value == name)
    }

    pub fn is_empty(&self) -> bool {
        self.axes.is_empty()
    }
}

/// `{axis: [values...], ..., exclude: [{axis: value, ...}, ...]}`. Written by
/// hand because `exclude` shares the map with the axes, whose names are free.
impl<'de> Deserialize<'de> for Matrix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Matrix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of axis names to lists of values, and optionally `exclude`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matrix, A::Error> {
                let mut m = Matrix::default();
                while let Some(key) = map.next_key::<Located<String>>()? {
                    if key.value == "exclude" {
                        m.exclude = map.next_value()?;
                    } else {
                        let values = map.next_value()?;
                        m.axes.push(Axis { name: key, values });
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for Matrix {
    fn schema_name() -> Cow<'static, str> {
        "Matrix".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let scalar = json_schema!({"type": ["string", "number", "boolean"]});
        json_schema!({
            "type": "object",
            "description": "Axes (name: [values]) whose combinations are the cases; `${axis}` names a value in string fields and templated settings.",
            "properties": {
                "exclude": {
                    "type": "array",
                    "description": "Combinations to leave out: each entry names some axes and a value for each.",
                    "items": {"type": "object", "minProperties": 1, "additionalProperties": scalar}
                }
            },
            "additionalProperties": {"type": "array", "minItems": 1, "items": scalar}
        })
    }
}

/// `when: {axis: value}` or `{axis: [values]}`: a step only runs in the
/// cases where every named axis has one of the values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When(pub BTreeMap<String, Vec<String>>);

impl When {
    pub fn matches(&self, assignment: &[(String, String)]) -> bool {
        self.0.iter().all(|(axis, allowed)| assignment.iter().any(|(a, v)| a == axis && allowed.iter().any(|x| x == v)))
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrMany(Vec<String>);
        impl<'de> Deserialize<'de> for OneOrMany {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = OneOrMany;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an axis value or a list of them")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                        Ok(OneOrMany(vec![v.to_string()]))
                    }
                    fn visit_bool<E: de::Error>(self, v: bool) -> Result<OneOrMany, E> {
                        Ok(OneOrMany(vec![v.to_string()]))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                        Ok(OneOrMany(vec![v.to_string()]))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                        Ok(OneOrMany(vec![v.to_string()]))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OneOrMany, E> {
                        Ok(OneOrMany(vec![v.to_string()]))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                        let mut v = Vec::new();
                        while let Some(s) = seq.next_element::<String>()? {
                            v.push(s);
                        }
                        Ok(OneOrMany(v))
                    }
                }
                d.deserialize_any(V)
            }
        }
        let map = BTreeMap::<String, OneOrMany>::deserialize(d)?;
        Ok(When(map.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}

impl JsonSchema for When {
    fn schema_name() -> Cow<'static, str> {
        "When".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let scalar = json_schema!({"type": ["string", "number", "boolean"]});
        json_schema!({
            "type": "object",
            "description": "Run this step only in cases where each named matrix axis has (one of) the given value(s).",
            "additionalProperties": {"anyOf": [scalar, {"type": "array", "items": scalar}]}
        })
    }
}

/// Positions of things the semantic checks point at, for messages.
pub(crate) fn loc_or(l: Loc, fallback: Loc) -> Loc {
    if l.is_known() {
        l
    } else {
        fallback
    }
}
