//! Durations as people write them in test plans: `300ms`, `2s`, `1m30s`,
//! `1.5s`. A bare number is refused (is `5` seconds or milliseconds?), and so
//! is anything finer than a millisecond, which no step could honour.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A non-negative duration with millisecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }

    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }

    pub fn as_std(&self) -> std::time::Duration {
        self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

const UNITS: &[(&str, u128)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];
/// A day: longer than any scenario should wait, so a larger value is a typo.
const MAX_MS: u128 = 86_400_000;

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid duration `{text}`: {why} (write e.g. 300ms, 2s, 1m30s)");
        let s = text.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad("a number needs a unit: ms, s, m or h"));
        }
        let mut total_ms: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_len);
            if num.is_empty() {
                return Err(bad("expected a number"));
            }
            let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            let per = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, ms)| *ms).ok_or_else(|| {
                if unit.is_empty() {
                    bad("a number needs a unit: ms, s, m or h")
                } else {
                    bad(&format!("unknown unit `{unit}`; use ms, s, m or h"))
                }
            })?;
            total_ms += scaled(num, per).ok_or_else(|| bad("finer than a millisecond, or not a number"))?;
            if total_ms > MAX_MS {
                return Err(bad("longer than a day"));
            }
            rest = after;
        }
        Ok(Duration::from_millis(total_ms as u64))
    }
}

/// `num` (digits, at most one '.') times `per` milliseconds, if whole.
fn scaled(num: &str, per: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') || int.len() > 12 || frac.len() > 9 {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_val: u128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let denom = 10u128.pow(frac.len() as u32);
    let frac_ms = frac_val * per;
    if !frac_ms.is_multiple_of(denom) {
        return None;
    }
    Some(int * per + frac_ms / denom)
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub(crate) const DURATION_PATTERN: &str = r"^\s*([0-9]*\.?[0-9]+(ms|s|m|h))+\s*$";

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: a number and a unit (ms, s, m, h), e.g. 300ms, 2s, 1.5s, 1m30s.",
            "examples": ["300ms", "2s", "1m30s"]
        })
    }
}
