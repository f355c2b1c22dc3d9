//! TLS material for `wss://`: exactly one `shadowingcert.*` and one
//! `shadowingkey.*` in the SSL dir, checked the way the seed's
//! troubleshooting section asks (names, paths, permissions, CN/SAN against
//! the FQDN, validity, SHA-256 or better, key matches cert).
//!
//! Why checked up front: in the product this re-creates, a wrong file name
//! or a certificate the browser refuses fails silently, as a dead
//! connection in the Director. Here every checkpoint yields a message
//! naming the problem and the file, for `shadowd doctor` (all of them,
//! `inspect`) and for the `tls_misconfigured` API error (the first, `load`).
//!
//! Layout: `files` finds the two files (one `read_dir`), `cert` and `key`
//! decode bytes and judge them, `names` matches the FQDN, `signature`
//! grades algorithms. Only `run` below reads files; every decision is a
//! pure function of bytes, a mode and the `now` passed in (no clock reads),
//! so the checks are reproducible in tests.

mod cert;
mod files;
mod key;
mod names;
mod signature;

pub use names::dns_name_matches;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The checkpoint names, in the order `inspect` reports them (the order of
/// dependence: a later one is only meaningful when the earlier ones pass).
pub mod checkpoint {
    pub const SSL_DIR: &str = "SSL directory";
    pub const CERT_FILE: &str = "certificate file";
    pub const KEY_FILE: &str = "key file";
    pub const KEY_PERMISSIONS: &str = "key file permissions";
    pub const CERT_FORMAT: &str = "certificate format";
    pub const KEY_FORMAT: &str = "key format";
    pub const KEY_MATCH: &str = "key matches certificate";
    pub const VALIDITY: &str = "validity period";
    pub const SIGNATURE: &str = "signature algorithm";
    pub const SAN: &str = "subjectAltName";
    pub const NAME: &str = "name matches FQDN";

    /// All of them, in report order.
    pub const ALL: [&str; 11] = [
        SSL_DIR,
        CERT_FILE,
        KEY_FILE,
        KEY_PERMISSIONS,
        CERT_FORMAT,
        KEY_FORMAT,
        KEY_MATCH,
        VALIDITY,
        SIGNATURE,
        SAN,
        NAME,
    ];
}

/// The default SSL dir, from the seed.
pub const DEFAULT_SSL_DIR: &str = "/etc/xdl/shadowingssl";

/// One checkpoint, for `shadowd doctor` and for the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Short name, e.g. "certificate file".
    pub name: String,
    pub ok: bool,
    /// What was found (always), naming the file involved.
    pub detail: String,
    /// How to fix it (when not ok).
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Check { name: name.to_string(), ok: true, detail: detail.into(), fix: None }
    }

    pub fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name: name.to_string(), ok: false, detail: detail.into(), fix: Some(fix.into()) }
    }

    /// A checkpoint that could not run because `after` failed. It counts as
    /// failed (nothing was verified), and points at the root cause.
    pub(crate) fn skipped(name: &str, why: &str, after: &str) -> Self {
        Check::fail(name, format!("not checked: {why}"), format!("fix the \"{after}\" checkpoint first"))
    }
}

/// The certificate and key found and accepted.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

/// Why TLS cannot be served; the message names the problem and the file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TlsProblem(pub String);

impl From<&Check> for TlsProblem {
    /// `"<checkpoint>: <detail>; fix: <fix>"`.
    fn from(c: &Check) -> Self {
        match &c.fix {
            Some(fix) => TlsProblem(format!("{}: {}; fix: {fix}", c.name, c.detail)),
            None => TlsProblem(format!("{}: {}", c.name, c.detail)),
        }
    }
}

/// Runs every checkpoint; never stops at the first failure.
pub fn inspect(dir: &Path, fqdn: &str, now: time::OffsetDateTime) -> Vec<Check> {
    run(dir, fqdn, now).0
}

/// The material if every checkpoint passes, else the first failure.
pub fn load(dir: &Path, fqdn: &str, now: time::OffsetDateTime) -> Result<TlsMaterial, TlsProblem> {
    let (checks, material) = run(dir, fqdn, now);
    match (checks.iter().find(|c| !c.ok), material) {
        (Some(failed), _) => Err(failed.into()),
        (None, Some(material)) => Ok(material),
        (None, None) => Err(TlsProblem("internal error: checks passed without material".into())),
    }
}

/// A rustls server configuration serving `material` (TLS 1.2 and 1.3, ring
/// provider, no client certificates). Re-reads the files, so it reflects
/// what is on disk now; the caller adds ALPN if it wants.
pub fn server_config(material: &TlsMaterial) -> Result<rustls::ServerConfig, TlsProblem> {
    let problem = |name: &str, e: String| TlsProblem(format!("{name}: {e}"));
    let cert_bytes = read(&material.cert_path).map_err(|e| problem(checkpoint::CERT_FORMAT, e))?;
    let chain = cert::parse_chain(&material.cert_path, &cert_bytes).map_err(|e| problem(checkpoint::CERT_FORMAT, e))?;
    let key_bytes = read(&material.key_path).map_err(|e| problem(checkpoint::KEY_FORMAT, e))?;
    let key = key::parse_key(&material.key_path, &key_bytes).map_err(|e| problem(checkpoint::KEY_FORMAT, e))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsProblem(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain.certs, key.der)
        .map_err(|e| {
            TlsProblem(format!(
                "TLS setup with {} and {}: {e}",
                material.cert_path.display(),
                material.key_path.display()
            ))
        })
}

/// Reads a whole file, with the path in the error.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Reads a file for checkpoint `name`; failing to read it is that
/// checkpoint's failure (typically: shadowd not running as root).
fn readable(name: &str, path: &Path) -> Result<Vec<u8>, Check> {
    read(path).map_err(|e| {
        let fix = format!("make {} readable by the user shadowd runs as (root by default)", path.display());
        Check::fail(name, e, fix)
    })
}

/// All checkpoints in order, and the material when both files were found.
/// The only place that touches the file system (via `files::list`, `read`
/// and one `metadata`).
fn run(dir: &Path, fqdn: &str, now: time::OffsetDateTime) -> (Vec<Check>, Option<TlsMaterial>) {
    use checkpoint::*;
    let mut checks = Vec::with_capacity(checkpoint::ALL.len());

    let listing = files::list(dir);
    checks.push(files::dir_check(dir, &listing));
    let (c, cert_path) = files::pick(dir, &listing, files::Role::Cert);
    checks.push(c);
    let (c, key_path) = files::pick(dir, &listing, files::Role::Key);
    checks.push(c);

    checks.push(match &key_path {
        Some(p) => match std::fs::metadata(p) {
            Ok(m) => key::permissions_check(p, m.permissions().mode()),
            Err(e) => Check::fail(
                KEY_PERMISSIONS,
                format!("cannot stat {}: {e}", p.display()),
                format!("make {} a readable regular file", p.display()),
            ),
        },
        None => Check::skipped(KEY_PERMISSIONS, "no key file", KEY_FILE),
    });

    let chain = match &cert_path {
        Some(p) => match readable(CERT_FORMAT, p).and_then(|b| {
            cert::parse_chain(p, &b).map_err(|e| {
                let fix = format!("install a PEM X.509 certificate (leaf first) as {}", p.display());
                Check::fail(CERT_FORMAT, e, fix)
            })
        }) {
            Ok(chain) => {
                let encoding = match chain.encoding {
                    cert::Encoding::Pem => "PEM",
                    cert::Encoding::Der => "DER",
                };
                let leaf = cert::facts(&chain);
                let (subject, issuer) =
                    leaf.as_ref().map(|f| (f.subject.clone(), f.issuer.clone())).unwrap_or_default();
                checks.push(Check::pass(
                    CERT_FORMAT,
                    format!(
                        "{}: {encoding}, {} certificate(s), subject {subject}, issuer {issuer}",
                        p.display(),
                        chain.certs.len()
                    ),
                ));
                leaf
            }
            Err(failed) => {
                checks.push(failed);
                None
            }
        },
        None => {
            checks.push(Check::skipped(CERT_FORMAT, "no certificate file", CERT_FILE));
            None
        }
    };

    let key = match &key_path {
        Some(p) => match readable(KEY_FORMAT, p).and_then(|b| {
            key::parse_key(p, &b).map_err(|e| {
                let fix = format!("install the unencrypted PEM private key as {}", p.display());
                Check::fail(KEY_FORMAT, e, fix)
            })
        }) {
            Ok(k) => {
                let alg = format!("{:?}", k.signing.algorithm());
                checks.push(Check::pass(KEY_FORMAT, format!("{}: {alg} key, {}", p.display(), k.format)));
                Some(k)
            }
            Err(failed) => {
                checks.push(failed);
                None
            }
        },
        None => {
            checks.push(Check::skipped(KEY_FORMAT, "no key file", KEY_FILE));
            None
        }
    };

    checks.push(match (&key, &chain, &key_path, &cert_path) {
        (Some(k), Some(f), Some(kp), Some(cp)) => key::match_check(kp, k, cp, &f.spki),
        (_, None, _, _) => Check::skipped(KEY_MATCH, "no usable certificate", CERT_FORMAT),
        _ => Check::skipped(KEY_MATCH, "no usable key", KEY_FORMAT),
    });

    match (&chain, &cert_path) {
        (Some(f), Some(p)) => {
            checks.push(cert::validity_check(p, f, now));
            checks.push(cert::signature_check(p, f));
            checks.push(cert::san_check(p, f, fqdn));
            // No SAN extension: judge the CN alone (the SAN checkpoint
            // already failed); an unreadable one names no host.
            let san_dns = match &f.san {
                Ok(None) => None,
                _ => Some(f.san_dns.as_slice()),
            };
            checks.push(names::name_check(p, fqdn, san_dns, &f.cns));
        }
        _ => {
            for name in [VALIDITY, SIGNATURE, SAN, NAME] {
                checks.push(Check::skipped(name, "no usable certificate", CERT_FORMAT));
            }
        }
    }

    let material = cert_path.zip(key_path).map(|(cert_path, key_path)| TlsMaterial { cert_path, key_path });
    (checks, material)
}
