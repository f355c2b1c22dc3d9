//! The registry: the seed's `ctxreg` values, kept in a file in the `.reg`
//! text format Windows administrators know:
//!
//! ```text
//! Windows Registry Editor Version 5.00
//!
//! [HKEY_LOCAL_MACHINE\Software\Citrix\VirtualDesktopAgent]
//! "EnableSessionShadowing"=dword:00000000
//! ```
//!
//! Read on every request (no caching), so `shadowd reg update` applies
//! without a restart. Parsing is pure (`parse`/`render`); `RegistryFile` does
//! the IO, writing atomically so a reader never sees half a file.

mod ctxreg;

pub use ctxreg::{run as run_ctxreg, RegCommand};

use crate::broker::RequestPolicy;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const VDA_KEY: &str = r"HKEY_LOCAL_MACHINE\Software\Citrix\VirtualDesktopAgent";
pub const ENABLE_SESSION_SHADOWING: &str = "EnableSessionShadowing";
pub const SHADOWING_USE_SSL: &str = "ShadowingUseSSL";
pub const SHADOWING_CONSENT_TIMEOUT: &str = "ShadowingConsentTimeout";
pub const DEFAULT_PATH: &str = "/etc/xdl/shadowd.reg";

/// The seed's 20 s, and the bounds a registry value is clamped to.
pub const DEFAULT_CONSENT_TIMEOUT: u32 = 20;
const CONSENT_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Dword(u32),
    String(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Dword(v) => write!(f, "0x{v:08x}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Dword(_) => "REG_DWORD",
            Value::String(_) => "REG_SZ",
        }
    }
}

/// Keys (canonical, case kept as first written) → value names → values.
/// Lookups ignore case, as Windows does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    keys: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// `HKLM\...` and `HKEY_LOCAL_MACHINE\...` name the same key; so do `/` and
/// `\` and a trailing separator.
pub fn canonical_key(key: &str) -> Result<String, String> {
    let key = key.trim().trim_matches(|c| c == '\\' || c == '/').replace('/', "\\");
    let (hive, rest) = key.split_once('\\').unwrap_or((&key, ""));
    let hive = match hive.to_ascii_uppercase().as_str() {
        "HKLM" | "HKEY_LOCAL_MACHINE" => "HKEY_LOCAL_MACHINE",
        "HKCU" | "HKEY_CURRENT_USER" => "HKEY_CURRENT_USER",
        "HKU" | "HKEY_USERS" => "HKEY_USERS",
        _ => return Err(format!("key {key:?} must start with a hive such as HKLM or HKEY_LOCAL_MACHINE")),
    };
    if rest.is_empty() {
        return Ok(hive.to_string());
    }
    if rest.split('\\').any(|p| p.is_empty()) {
        return Err(format!("key {key:?} has an empty path component"));
    }
    Ok(format!("{hive}\\{rest}"))
}

impl Registry {
    pub fn get(&self, key: &str, name: &str) -> Option<&Value> {
        let key = canonical_key(key).ok()?;
        let values = self.keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key))?.1;
        values.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    pub fn values(&self, key: &str) -> Vec<(&str, &Value)> {
        let Ok(key) = canonical_key(key) else { return vec![] };
        self.keys
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&key))
            .flat_map(|(_, v)| v.iter().map(|(n, v)| (n.as_str(), v)))
            .collect()
    }

    pub fn set(&mut self, key: &str, name: &str, value: Value) -> Result<(), String> {
        let key = canonical_key(key)?;
        if name.is_empty() || name.contains(['"', '\n', '\r']) {
            return Err(format!("value name {name:?} is empty or has quotes or newlines"));
        }
        let existing = self.keys.keys().find(|k| k.eq_ignore_ascii_case(&key)).cloned();
        let values = self.keys.entry(existing.unwrap_or(key)).or_default();
        let existing = values.keys().find(|n| n.eq_ignore_ascii_case(name)).cloned();
        values.insert(existing.unwrap_or_else(|| name.to_string()), value);
        Ok(())
    }

    pub fn delete(&mut self, key: &str, name: &str) -> bool {
        let Ok(key) = canonical_key(key) else { return false };
        for (k, values) in self.keys.iter_mut() {
            if k.eq_ignore_ascii_case(&key) {
                let n = values.keys().find(|n| n.eq_ignore_ascii_case(name)).cloned();
                if let Some(n) = n {
                    values.remove(&n);
                    return true;
                }
            }
        }
        false
    }

    fn dword(&self, name: &str) -> Option<u32> {
        match self.get(VDA_KEY, name) {
            Some(Value::Dword(v)) => Some(*v),
            Some(Value::String(s)) => parse_dword(s).ok(),
            None => None,
        }
    }

    /// The values that shape a shadowing request, with the seed's defaults.
    pub fn policy(&self) -> RequestPolicy {
        let secs = self
            .dword(SHADOWING_CONSENT_TIMEOUT)
            .map(|v| v.clamp(*CONSENT_TIMEOUT_RANGE.start(), *CONSENT_TIMEOUT_RANGE.end()))
            .unwrap_or(DEFAULT_CONSENT_TIMEOUT);
        RequestPolicy {
            enabled: self.dword(ENABLE_SESSION_SHADOWING).unwrap_or(1) != 0,
            consent_timeout: Duration::from_secs(secs.into()),
        }
    }

    /// `ShadowingUseSSL`: wss when non-zero (default 0, ws).
    pub fn use_ssl(&self) -> bool {
        self.dword(SHADOWING_USE_SSL).unwrap_or(0) != 0
    }
}

/// `0x00000001`, `1`, `dword:00000001`.
pub fn parse_dword(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else if let Some(h) = t.strip_prefix("dword:") {
        u32::from_str_radix(h, 16)
    } else {
        t.parse::<u32>()
    };
    r.map_err(|_| format!("{s:?} is not a DWORD (write 0x00000001 or 1)"))
}

/// Parses the `.reg` text; `file` only names the source in errors.
pub fn parse(text: &str, file: &str) -> Result<Registry, ParseError> {
    let mut reg = Registry::default();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| ParseError { file: file.to_string(), line: i + 1, message };
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with("Windows Registry Editor") || line == "REGEDIT4"
        {
            continue;
        }
        if let Some(k) = line.strip_prefix('[') {
            let k = k.strip_suffix(']').ok_or_else(|| err(format!("key line {line:?} must end with ']'")))?;
            current = Some(canonical_key(k).map_err(err)?);
            continue;
        }
        let key = current.clone().ok_or_else(|| err("a value before any [KEY] line".into()))?;
        let rest = line.strip_prefix('"').ok_or_else(|| err(format!("expected \"Name\"=value, got {line:?}")))?;
        let (name, rest) = rest.split_once('"').ok_or_else(|| err("value name has no closing quote".into()))?;
        let data =
            rest.trim_start().strip_prefix('=').ok_or_else(|| err(format!("expected '=' after \"{name}\"")))?.trim();
        let value = if let Some(h) = data.strip_prefix("dword:") {
            Value::Dword(
                u32::from_str_radix(h, 16).map_err(|_| err(format!("\"{name}\": {data:?} is not dword:XXXXXXXX")))?,
            )
        } else if let Some(s) = data.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Value::String(s.replace("\\\"", "\"").replace("\\\\", "\\"))
        } else {
            return Err(err(format!("\"{name}\": value {data:?} must be dword:XXXXXXXX or \"text\"")));
        };
        reg.set(&key, name, value).map_err(err)?;
    }
    Ok(reg)
}

pub fn render(reg: &Registry) -> String {
    let mut out = String::from("Windows Registry Editor Version 5.00\n");
    for (key, values) in &reg.keys {
        out.push_str(&format!("\n[{key}]\n"));
        for (name, value) in values {
            match value {
                Value::Dword(v) => out.push_str(&format!("\"{name}\"=dword:{v:08x}\n")),
                Value::String(s) => {
                    out.push_str(&format!("\"{name}\"=\"{}\"\n", s.replace('\\', "\\\\").replace('"', "\\\"")))
                }
            }
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read registry file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("invalid registry file {0}")]
    Parse(#[from] ParseError),
}

/// The registry on disk. A missing file is an empty registry (all defaults).
#[derive(Debug, Clone)]
pub struct RegistryFile {
    pub path: PathBuf,
}

impl RegistryFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RegistryFile { path: path.into() }
    }

    pub fn load(&self) -> Result<Registry, RegistryError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(parse(&text, &self.path.display().to_string())?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(source) => Err(RegistryError::Io { path: self.path.clone(), source }),
        }
    }

    /// Writes to a temporary file beside it, then renames over it.
    pub fn store(&self, reg: &Registry) -> Result<(), RegistryError> {
        let io_err = |source| RegistryError::Io { path: self.path.clone(), source };
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            self.path.file_name().and_then(|n| n.to_str()).unwrap_or("registry"),
            std::process::id()
        ));
        std::fs::write(&tmp, render(reg)).map_err(io_err)?;
        std::fs::rename(&tmp, &self.path).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let reg = Registry::default();
        assert_eq!(reg.policy(), RequestPolicy { enabled: true, consent_timeout: Duration::from_secs(20) });
        assert!(!reg.use_ssl());
    }

    #[test]
    fn hklm_and_full_hive_name_are_one_key_and_names_ignore_case() {
        let mut reg = Registry::default();
        reg.set(r"HKLM\Software\Citrix\VirtualDesktopAgent", "EnableSessionShadowing", Value::Dword(0)).unwrap();
        assert!(!reg.policy().enabled);
        reg.set(r"HKEY_LOCAL_MACHINE\SOFTWARE\citrix\VirtualDesktopAgent\", "enablesessionshadowing", Value::Dword(1))
            .unwrap();
        assert!(reg.policy().enabled);
        assert_eq!(reg.values(VDA_KEY).len(), 1, "updated in place, not duplicated");
    }

    #[test]
    fn round_trips_through_the_reg_format() {
        let mut reg = Registry::default();
        reg.set(VDA_KEY, SHADOWING_USE_SSL, Value::Dword(1)).unwrap();
        reg.set(VDA_KEY, SHADOWING_CONSENT_TIMEOUT, Value::Dword(5)).unwrap();
        reg.set(VDA_KEY, "Note", Value::String(r#"a "quoted" \ path"#.into())).unwrap();
        let text = render(&reg);
        assert!(text.contains("\"ShadowingUseSSL\"=dword:00000001"), "{text}");
        assert_eq!(parse(&text, "t").unwrap(), reg);
        assert!(reg.use_ssl());
        assert_eq!(reg.policy().consent_timeout, Duration::from_secs(5));
    }

    #[test]
    fn consent_timeout_is_clamped() {
        let mut reg = Registry::default();
        reg.set(VDA_KEY, SHADOWING_CONSENT_TIMEOUT, Value::Dword(0)).unwrap();
        assert_eq!(reg.policy().consent_timeout, Duration::from_secs(1));
        reg.set(VDA_KEY, SHADOWING_CONSENT_TIMEOUT, Value::Dword(100_000)).unwrap();
        assert_eq!(reg.policy().consent_timeout, Duration::from_secs(600));
    }

    #[test]
    fn parse_errors_name_file_line_and_problem() {
        let e = parse("[HKLM\\Software]\n\"A\"=dword:zz\n", "/etc/x.reg").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("/etc/x.reg", 2));
        assert!(e.message.contains("dword:XXXXXXXX"), "{e}");
        assert_eq!(parse("\"A\"=dword:1\n", "f").unwrap_err().message, "a value before any [KEY] line");
        assert!(parse("[NOPE\\x]\n", "f").unwrap_err().message.contains("hive"));
        assert!(parse("[HKLM\\x\n", "f").unwrap_err().message.contains("']'"));
    }

    #[test]
    fn dword_syntaxes() {
        assert_eq!(parse_dword("0x00000001"), Ok(1));
        assert_eq!(parse_dword("20"), Ok(20));
        assert_eq!(parse_dword("dword:0000000a"), Ok(10));
        assert!(parse_dword("yes").unwrap_err().contains("not a DWORD"));
    }

    #[test]
    fn file_store_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let f = RegistryFile::new(dir.path().join("sub/r.reg"));
        assert_eq!(f.load().unwrap(), Registry::default(), "missing file = defaults");
        let mut reg = Registry::default();
        reg.set(VDA_KEY, ENABLE_SESSION_SHADOWING, Value::Dword(0)).unwrap();
        f.store(&reg).unwrap();
        assert_eq!(f.load().unwrap(), reg);
        std::fs::write(&f.path, "garbage").unwrap();
        assert!(matches!(f.load(), Err(RegistryError::Parse(_))));
    }
}
