//! `shadowd reg`: the seed's `ctxreg` command line, e.g.
//! `shadowd reg update -k "HKLM\Software\Citrix\VirtualDesktopAgent" -v "EnableSessionShadowing" -d "0x00000000"`.

use super::{canonical_key, parse_dword, RegistryFile, Value};
use clap::Subcommand;

#[derive(Debug, Clone, Subcommand)]
pub enum RegCommand {
    /// Set a value (creates the key and value if missing).
    #[command(alias = "create")]
    Update {
        /// Key, e.g. "HKLM\Software\Citrix\VirtualDesktopAgent".
        #[arg(short = 'k', long = "key")]
        key: String,
        /// Value name, e.g. EnableSessionShadowing.
        #[arg(short = 'v', long = "value")]
        value: String,
        /// Data, e.g. 0x00000001.
        #[arg(short = 'd', long = "data")]
        data: String,
        /// REG_DWORD (default) or REG_SZ.
        #[arg(short = 't', long = "type", default_value = "REG_DWORD")]
        kind: String,
    },
    /// Show a value, or every value of a key.
    Query {
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: Option<String>,
    },
    /// Remove a value.
    Delete {
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: String,
    },
}

/// Runs one `reg` command; returns what to print, or an error message.
pub fn run(file: &RegistryFile, cmd: &RegCommand) -> Result<String, String> {
    let mut reg = file.load().map_err(|e| e.to_string())?;
    match cmd {
        RegCommand::Update { key, value, data, kind } => {
            let v = match kind.to_ascii_uppercase().as_str() {
                "REG_DWORD" => Value::Dword(parse_dword(data)?),
                "REG_SZ" => Value::String(data.clone()),
                other => return Err(format!("unsupported type {other:?}: use REG_DWORD or REG_SZ")),
            };
            reg.set(key, value, v)?;
            file.store(&reg).map_err(|e| e.to_string())?;
            Ok(String::new())
        }
        RegCommand::Query { key, value } => {
            let key = canonical_key(key)?;
            let rows: Vec<(String, Value)> = match value {
                Some(name) => {
                    let v = reg.get(&key, name).ok_or_else(|| format!("value {name:?} not found under {key}"))?;
                    vec![(name.clone(), v.clone())]
                }
                None => reg.values(&key).into_iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
            };
            let mut out = format!("{key}\n");
            for (name, v) in rows {
                out.push_str(&format!("    {name}    {}    {v}\n", v.type_name()));
            }
            Ok(out)
        }
        RegCommand::Delete { key, value } => {
            if !reg.delete(key, value) {
                return Err(format!("value {value:?} not found under {key}"));
            }
            file.store(&reg).map_err(|e| e.to_string())?;
            Ok(String::new())
        }
    }
}
