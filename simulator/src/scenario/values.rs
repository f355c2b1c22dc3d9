//! Scalar value types written as short strings (`1280x800`, `#112233`,
//! `10MB`, `6001-6099`), and [`Tpl`], a setting that may instead be a
//! `${...}` template filled in per matrix case.

use super::duration::Duration;
use super::interp::{self, VarRef};
use super::located::{Loc, Located};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Deserializer};
use shadowd::ports::PortRange;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A value that can be parsed from the text of a YAML scalar, so that it can
/// also come from a `${var}` (a matrix axis or a var).
pub trait Scalar: Sized + Clone {
    fn parse_scalar(text: &str) -> Result<Self, String>;
    /// The JSON schema of a literal value.
    fn scalar_schema(generator: &mut SchemaGenerator) -> Schema;
}

/// Parses a unit-only enum by its serde name, with serde's own message
/// ("unknown variant `x`, expected one of `a`, `b`").
pub(crate) fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let d: de::value::StrDeserializer<'_, de::value::Error> = text.into_deserializer();
    T::deserialize(d).map_err(|e| e.to_string())
}

macro_rules! enum_scalar {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::scenario::values::Scalar for $t {
            fn parse_scalar(text: &str) -> Result<Self, String> {
                $crate::scenario::values::parse_enum(text)
            }
            fn scalar_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                generator.subschema_for::<$t>()
            }
        }
    )*};
}
pub(crate) use enum_scalar;

/// Decimal or `0x` hexadecimal, as ctxreg writes DWORDs (`0x00000001`).
fn parse_uint(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a non-negative integer"))
}

impl Scalar for u32 {
    fn parse_scalar(text: &str) -> Result<Self, String> {
        u32::try_from(parse_uint(text)?).map_err(|_| format!("`{text}` does not fit in 32 bits"))
    }
    fn scalar_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"anyOf": [{"type": "integer", "minimum": 0, "maximum": u32::MAX}, {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,8}$"}]})
    }
}

impl Scalar for u64 {
    fn parse_scalar(text: &str) -> Result<Self, String> {
        parse_uint(text)
    }
    fn scalar_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0})
    }
}

impl Scalar for Duration {
    fn parse_scalar(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn scalar_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Duration>()
    }
}

impl Scalar for PortRange {
    /// `6001-6099`, or one port `6001`.
    fn parse_scalar(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if !t.contains('-') {
            return match t.parse::<u16>() {
                Ok(p) if p > 0 => Ok(PortRange { first: p, last: p }),
                _ => Err(format!("`{text}` is not a port or a range like 6001-6099")),
            };
        }
        t.parse()
    }
    fn scalar_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "string", "pattern": r"^\s*[0-9]{1,5}\s*(-\s*[0-9]{1,5}\s*)?$"}, {"type": "integer", "minimum": 1, "maximum": 65535}],
            "description": "An inclusive port range FIRST-LAST (e.g. 6001-6099) or a single port.",
            "examples": ["6001-6099", "6001-6003"]
        })
    }
}

/// A screen size `WIDTHxHEIGHT`, each side 16..=8192 (Xvfb's practical
/// bounds; outside them Xvfb refuses to start or the test is pointless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Screen {
    pub width: u16,
    pub height: u16,
}

impl Screen {
    pub const MIN_SIDE: u16 = 16;
    pub const MAX_SIDE: u16 = 8192;
    pub const DEFAULT: Screen = Screen { width: 1024, height: 768 };
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Screen {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let form = || format!("invalid screen `{text}`: write WIDTHxHEIGHT, e.g. 1280x800");
        let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(form)?;
        let side = |s: &str| s.trim().parse::<u32>().map_err(|_| form());
        let (w, h) = (side(w)?, side(h)?);
        let range = u32::from(Screen::MIN_SIDE)..=u32::from(Screen::MAX_SIDE);
        if !range.contains(&w) || !range.contains(&h) {
            return Err(format!(
                "screen `{text}` is out of range: width and height must be {}..={}",
                Screen::MIN_SIDE,
                Screen::MAX_SIDE
            ));
        }
        Ok(Screen { width: w as u16, height: h as u16 })
    }
}

impl Scalar for Screen {
    fn parse_scalar(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn scalar_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*[0-9]+\s*[xX]\s*[0-9]+\s*$",
            "description": "WIDTHxHEIGHT, each 16..=8192.",
            "examples": ["1280x800", "1920x1080"]
        })
    }
}

/// An RGB colour `#rrggbb` (quote it: in YAML ` #` starts a comment) or
/// `0xrrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub u32);

impl FromStr for Color {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let hex = t.strip_prefix('#').or_else(|| t.strip_prefix("0x")).unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid color `{text}`: write \"#rrggbb\" (quoted) or 0xrrggbb"));
        }
        u32::from_str_radix(hex, 16).map(Color).map_err(|e| e.to_string())
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:06x}", self.0)
    }
}

impl Scalar for Color {
    fn parse_scalar(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn scalar_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(#|0x)[0-9a-fA-F]{6}$",
            "description": "An RGB colour, \"#rrggbb\" (quoted: an unquoted # starts a YAML comment) or 0xrrggbb."
        })
    }
}

/// A byte count: `512`, `64KB`, `10MB`, `1GiB`. KB/MB/GB are powers of 1000,
/// KiB/MiB/GiB of 1024. At most 1 GiB: the harness builds the bytes in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const MAX: u64 = 1 << 30;
}

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            other => {
                return Err(format!("invalid size `{text}`: unknown unit `{other}` (B, KB, MB, GB, KiB, MiB, GiB)"))
            }
        };
        let n: u64 = num.parse().map_err(|_| format!("invalid size `{text}`: write e.g. 512, 64KB, 10MB"))?;
        match n.checked_mul(mult) {
            Some(b) if b <= ByteSize::MAX => Ok(ByteSize(b)),
            _ => Err(format!("size `{text}` is larger than 1GiB")),
        }
    }
}

/// Raw bytes written as hex, whitespace allowed: `"16 03 01 00 a5"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexBytes(pub Vec<u8>);

impl FromStr for HexBytes {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("invalid hex `{text}`: write pairs of hex digits, e.g. \"52 46 42 20\""));
        }
        let nibble = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        Ok(HexBytes(digits.chunks(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect()))
    }
}

/// `Deserialize` through `FromStr` (the error lands on the scalar's
/// position) and a string `JsonSchema`.
macro_rules! string_value {
    ($t:ty, $desc:expr, $pattern:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?.parse().map_err(de::Error::custom)
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "string", "description": $desc, "pattern": $pattern})
            }
        }
    };
}

string_value!(Screen, "WIDTHxHEIGHT, each 16..=8192.", r"^\s*[0-9]+\s*[xX]\s*[0-9]+\s*$");
string_value!(Color, "\"#rrggbb\" (quoted) or 0xrrggbb.", "^(#|0x)[0-9a-fA-F]{6}$");
string_value!(
    ByteSize,
    "A byte count: 512, 64KB, 10MB (powers of 1000) or 64KiB, 10MiB (powers of 1024); at most 1GiB.",
    r"^\s*[0-9]+\s*(B|KB|kB|MB|GB|KiB|MiB|GiB)?\s*$"
);
string_value!(HexBytes, "Bytes as hex digit pairs, spaces allowed: \"52 46 42 20\".", r"^[0-9a-fA-F\s]*$");

/// YAML reads `{a: ${x}}` as `a: $` followed by a map: templates must be
/// quoted inside flow collections.
pub(crate) const FLOW_HINT: &str = "inside `{...}` or `[...]`, quote templates: '${name}'";

/// A setting written either literally or as a template over vars and matrix
/// axes (`backend: ${backend}`), resolved per case by `expand`. A literal is
/// checked when the file is loaded; a template when each case is expanded,
/// with the same position in the error.
#[derive(Debug, Clone, PartialEq)]
pub enum Tpl<T> {
    Value { value: T, loc: Loc },
    Template { text: String, loc: Loc },
}

impl<T: Scalar> Tpl<T> {
    pub fn value(value: T) -> Self {
        Tpl::Value { value, loc: Loc::UNKNOWN }
    }

    pub fn loc(&self) -> Loc {
        match self {
            Tpl::Value { loc, .. } | Tpl::Template { loc, .. } => *loc,
        }
    }

    pub fn template_text(&self) -> Option<&str> {
        match self {
            Tpl::Template { text, .. } => Some(text),
            Tpl::Value { .. } => None,
        }
    }

    /// The value, substituting static names (vars, axes) into a template.
    pub fn resolve(&self, lookup: impl Fn(&VarRef<'_>) -> Option<String>) -> Result<T, String> {
        match self {
            Tpl::Value { value, .. } => Ok(value.clone()),
            Tpl::Template { text, .. } => {
                let text = interp::interpolate(text, lookup)?;
                T::parse_scalar(&text)
            }
        }
    }
}

impl<'de, T: Scalar> Deserialize<'de> for Tpl<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Located { value: text, loc } = Located::<String>::deserialize(d)?;
        if interp::has_references(&text) {
            return Ok(Tpl::Template { text, loc });
        }
        let value = T::parse_scalar(&text).map_err(|e| {
            if text.ends_with('$') {
                de::Error::custom(format!("{e}; {FLOW_HINT}"))
            } else {
                de::Error::custom(e)
            }
        })?;
        Ok(Tpl::Value { value, loc })
    }
}

impl<T: Scalar> JsonSchema for Tpl<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Tpl".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let literal = T::scalar_schema(generator);
        json_schema!({
            "anyOf": [literal, {"type": "string", "pattern": r"\$\{", "description": "A template over vars and matrix axes, e.g. ${backend}."}]
        })
    }
}
