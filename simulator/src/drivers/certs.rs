//! Certificate factory: a throw-away test CA, server certificates for an
//! FQDN that are valid or broken in one named way, and an SSL dir laid out
//! right or wrong. Scenarios that "break certificates" name a
//! [`CertProblem`] and a [`Layout`] (see [`CertSpec`]); tests and viewers
//! trust the CA through [`TestCa::cert_pem`] / [`TestCa::client_config`].
//!
//! Each problem variant breaks exactly one thing, so a test can tell which
//! checkpoint caught it. Everything is made with rcgen except what rcgen
//! cannot make (SHA-1 signatures, RSA keys, PKCS#1/SEC1 key files): those go
//! through the `openssl` command line (see `Openssl` below).
//!
//! Validity periods are relative to the `now` passed in, so a scenario
//! with a simulated clock gets certificates that fit it.

use anyhow::{anyhow, bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// What is wrong with the server certificate (or nothing). Each variant
/// breaks one checkpoint of `shadowd::tls` and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertProblem {
    /// SAN and CN = the FQDN, SHA-256, valid now, signed by the test CA.
    #[default]
    Valid,
    /// Validity ended a day before `now`.
    Expired,
    /// Validity starts a day after `now`.
    NotYetValid,
    /// CN = the FQDN but no subjectAltName extension (Chrome's
    /// NET::ERR_CERT_COMMON_NAME_INVALID).
    NoSan,
    /// SAN and CN name another host of the same domain.
    WrongName,
    /// SAN = the FQDN, but the CN names another host.
    WrongCn,
    /// Valid wildcard: SAN and CN = `*.<domain of the FQDN>`.
    Wildcard,
    /// A valid certificate, but the key file holds another pair's key.
    KeyMismatch,
    /// Signed by the CA with ECDSA over SHA-1 (made with `openssl ca`).
    WeakSignature,
}

impl CertProblem {
    pub const ALL: [CertProblem; 9] = [
        CertProblem::Valid,
        CertProblem::Expired,
        CertProblem::NotYetValid,
        CertProblem::NoSan,
        CertProblem::WrongName,
        CertProblem::WrongCn,
        CertProblem::Wildcard,
        CertProblem::KeyMismatch,
        CertProblem::WeakSignature,
    ];

    /// Whether shadowd should accept this certificate.
    pub fn is_acceptable(self) -> bool {
        matches!(self, CertProblem::Valid | CertProblem::Wildcard)
    }
}

/// The server key's algorithm and file encoding. The encodings exist
/// because admins install whatever their CA or `openssl` gave them, and
/// the seed's example (`shadowingkey.key`) does not say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// ECDSA P-256, PKCS#8 PEM (`BEGIN PRIVATE KEY`), made by rcgen.
    #[default]
    EcdsaP256,
    /// ECDSA P-256, SEC1 PEM (`BEGIN EC PRIVATE KEY`).
    EcdsaP256Sec1,
    /// RSA 2048, PKCS#8 PEM.
    Rsa2048,
    /// RSA 2048, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    Rsa2048Pkcs1,
}

impl KeyKind {
    pub const ALL: [KeyKind; 4] = [KeyKind::EcdsaP256, KeyKind::EcdsaP256Sec1, KeyKind::Rsa2048, KeyKind::Rsa2048Pkcs1];
}

/// How the files are laid out in the SSL dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `shadowingcert.pem` (leaf) + `shadowingkey.key` (mode 0600), as the seed shows.
    #[default]
    Normal,
    /// As `Normal`, but `shadowingcert.pem` holds the leaf then the CA.
    WithChain,
    /// As `Normal`, but the certificate is DER in `shadowingcert.der`.
    DerCert,
    /// `cert.pem` + `server.key`: right content, wrong names.
    Misnamed,
    /// `shadowingcert.pem` and `shadowingcert.crt` (same content) + the key.
    TwoCerts,
    /// The certificate + `shadowingkey.key` and `shadowingkey.pem`.
    TwoKeys,
    /// Only `shadowingkey.key`.
    MissingCert,
    /// Only `shadowingcert.pem`.
    MissingKey,
    /// As `Normal`, but the key is mode 0644 (world-readable).
    LooseKeyPermissions,
    /// The SSL dir itself does not exist.
    MissingDir,
}

impl Layout {
    pub const ALL: [Layout; 10] = [
        Layout::Normal,
        Layout::WithChain,
        Layout::DerCert,
        Layout::Misnamed,
        Layout::TwoCerts,
        Layout::TwoKeys,
        Layout::MissingCert,
        Layout::MissingKey,
        Layout::LooseKeyPermissions,
        Layout::MissingDir,
    ];

    /// Whether shadowd should accept an SSL dir laid out this way.
    pub fn is_acceptable(self) -> bool {
        matches!(self, Layout::Normal | Layout::WithChain | Layout::DerCert)
    }
}

/// A scenario's whole TLS setup in one value, e.g.
/// `tls: {problem: expired, layout: normal, key: rsa2048_pkcs1}`; every
/// field defaults to the valid choice, unknown keys are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertSpec {
    pub problem: CertProblem,
    pub key: KeyKind,
    pub layout: Layout,
}

impl CertSpec {
    /// Issues the certificate and writes the SSL dir in one go.
    pub fn write(&self, ca: &TestCa, fqdn: &str, dir: &Path, now: OffsetDateTime) -> Result<SslFiles> {
        let leaf = ca.issue_with(fqdn, self.problem, self.key, now)?;
        write_ssl_dir(dir, &leaf, self.layout)
    }
}

/// A test certificate authority (ECDSA P-256, SHA-256), valid from a year
/// before `now` to ten years after, so it never is the thing that fails.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(now: OffsetDateTime) -> Result<Self> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "shadowsim test CA");
        params.distinguished_name.push(DnType::OrganizationName, "shadowsim");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - Duration::days(365);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).context("self-signing the test CA")?;
        Ok(TestCa { cert, key })
    }

    /// The CA certificate, PEM: what a browser or viewer must trust.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// The CA's private key, PEM (PKCS#8), for tools that sign with it.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A root store holding only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // The CA was just made by rcgen: it always parses.
        roots.add(self.cert_der()).expect("the test CA is a valid trust anchor");
        roots
    }

    /// A rustls client config (ring, TLS 1.2+) trusting only this CA: what a
    /// scripted Director uses for `wss://`.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A server certificate for `fqdn` with `problem`, ECDSA P-256 key.
    pub fn issue(&self, fqdn: &str, problem: CertProblem, now: OffsetDateTime) -> Result<Leaf> {
        self.issue_with(fqdn, problem, KeyKind::EcdsaP256, now)
    }

    /// A server certificate for `fqdn` with `problem` and a `key` of the
    /// given kind.
    pub fn issue_with(&self, fqdn: &str, problem: CertProblem, key: KeyKind, now: OffsetDateTime) -> Result<Leaf> {
        let (key_pair, key_pem) = make_key(key)?;
        let domain = fqdn.split_once('.').map(|(_, d)| d.to_string()).filter(|d| d.contains('.'));
        let other = format!("other-host.{}", domain.as_deref().unwrap_or("invalid"));
        let wildcard = || {
            domain
                .as_ref()
                .map(|d| format!("*.{d}"))
                .ok_or_else(|| anyhow!("a wildcard needs an FQDN with a domain of two labels or more, not {fqdn:?}"))
        };
        // (SAN, CN, not_before, not_after)
        let (valid_from, valid_to) = (now - Duration::hours(1), now + Duration::days(90));
        let (san, cn, from, to) = match problem {
            CertProblem::Expired => (Some(fqdn.into()), fqdn.into(), now - Duration::days(90), now - Duration::days(1)),
            CertProblem::NotYetValid => {
                (Some(fqdn.into()), fqdn.into(), now + Duration::days(1), now + Duration::days(90))
            }
            CertProblem::NoSan => (None, fqdn.into(), valid_from, valid_to),
            CertProblem::WrongName => (Some(other.clone()), other, valid_from, valid_to),
            CertProblem::WrongCn => (Some(fqdn.into()), other, valid_from, valid_to),
            CertProblem::Wildcard => (Some(wildcard()?), wildcard()?, valid_from, valid_to),
            CertProblem::Valid | CertProblem::KeyMismatch | CertProblem::WeakSignature => {
                (Some(fqdn.to_string()), fqdn.to_string(), valid_from, valid_to)
            }
        };
        let mut params = CertificateParams::new(san.into_iter().collect::<Vec<_>>())?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = from;
        params.not_after = to;

        let (cert_der, cert_pem) = if problem == CertProblem::WeakSignature {
            self.sign_sha1(&params, &key_pair)?
        } else {
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key_pair, &self.cert, &self.key).context("signing the server certificate")?;
            (cert.der().clone(), cert.pem())
        };
        let key_pem = if problem == CertProblem::KeyMismatch { make_key(key)?.1 } else { key_pem };
        Ok(Leaf { fqdn: fqdn.to_string(), problem, cert_pem, cert_der, key_pem, ca_pem: self.cert_pem() })
    }

    /// rcgen signs with SHA-256 or better only, so the SHA-1 certificate is
    /// made by `openssl ca -md sha1`: rcgen writes the CSR (same subject,
    /// SAN and EKU as a valid leaf) and the CA key, openssl signs it with
    /// ecdsa-with-SHA1 and copies the CSR's extensions, with the exact
    /// validity dates (`-startdate`/`-enddate`, which `openssl x509 -req`
    /// lacks before OpenSSL 3.4). Works with OpenSSL 1.1.1 and 3.x.
    fn sign_sha1(&self, params: &CertificateParams, key: &KeyPair) -> Result<(CertificateDer<'static>, String)> {
        let ssl = Openssl::new("a SHA-1 signed certificate")?;
        let csr = params.serialize_request(key).context("making the CSR")?;
        ssl.put("leaf.csr", csr.pem()?.as_bytes())?;
        ssl.put("ca.pem", self.cert_pem().as_bytes())?;
        ssl.put("ca.key", self.key_pem().as_bytes())?;
        ssl.put("index.txt", b"")?;
        ssl.put("serial", b"5A1E\n")?;
        ssl.run(&[
            "ca",
            "-batch",
            "-config",
            "openssl.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "leaf.csr",
            "-out",
            "leaf.pem",
            "-notext",
            "-md",
            "sha1",
            "-startdate",
            &asn1_time(params.not_before),
            "-enddate",
            &asn1_time(params.not_after),
        ])?;
        // With -notext, openssl writes nothing but the PEM block.
        let pem = String::from_utf8(ssl.get("leaf.pem")?)?;
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).context("reading the certificate openssl signed")?;
        Ok((der, pem))
    }
}

/// A server certificate and the key that goes with it (or, for
/// `KeyMismatch`, the key that does not).
#[derive(Debug, Clone)]
pub struct Leaf {
    pub fqdn: String,
    pub problem: CertProblem,
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    /// The key to install (PEM; encoding per `KeyKind`).
    pub key_pem: String,
    /// The issuing CA's certificate, for `Layout::WithChain`.
    pub ca_pem: String,
}

/// The files written by [`write_ssl_dir`].
#[derive(Debug, Clone)]
pub struct SslFiles {
    pub dir: PathBuf,
    /// The certificate file (the first one, for `TwoCerts`), if any.
    pub cert: Option<PathBuf>,
    /// The key file (the first one, for `TwoKeys`), if any.
    pub key: Option<PathBuf>,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

/// Writes `leaf` into `dir` with `layout`. Creates `dir` (except for
/// `MissingDir`, which requires that it does not exist). Modes are set
/// explicitly, not left to the umask: 0644 for certificates, 0600 for
/// keys (0644 for `LooseKeyPermissions`).
pub fn write_ssl_dir(dir: &Path, leaf: &Leaf, layout: Layout) -> Result<SslFiles> {
    let mut out = SslFiles { dir: dir.to_path_buf(), cert: None, key: None, files: Vec::new() };
    if layout == Layout::MissingDir {
        if dir.exists() {
            bail!("layout missing_dir needs an SSL dir path that does not exist: {}", dir.display());
        }
        return Ok(out);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cert_pem = leaf.cert_pem.as_bytes();
    let key_pem = leaf.key_pem.as_bytes();
    let chain = format!("{}{}", leaf.cert_pem, leaf.ca_pem);
    let der = leaf.cert_der.as_ref();
    let (certs, keys): (Vec<(&str, &[u8])>, Vec<&str>) = match layout {
        Layout::Normal | Layout::LooseKeyPermissions => {
            (vec![("shadowingcert.pem", cert_pem)], vec!["shadowingkey.key"])
        }
        Layout::WithChain => (vec![("shadowingcert.pem", chain.as_bytes())], vec!["shadowingkey.key"]),
        Layout::DerCert => (vec![("shadowingcert.der", der)], vec!["shadowingkey.key"]),
        Layout::Misnamed => (vec![("cert.pem", cert_pem)], vec!["server.key"]),
        Layout::TwoCerts => {
            (vec![("shadowingcert.pem", cert_pem), ("shadowingcert.crt", cert_pem)], vec!["shadowingkey.key"])
        }
        Layout::TwoKeys => (vec![("shadowingcert.pem", cert_pem)], vec!["shadowingkey.key", "shadowingkey.pem"]),
        Layout::MissingCert => (vec![], vec!["shadowingkey.key"]),
        Layout::MissingKey => (vec![("shadowingcert.pem", cert_pem)], vec![]),
        Layout::MissingDir => unreachable!("handled above"),
    };
    let key_mode = if layout == Layout::LooseKeyPermissions { 0o644 } else { 0o600 };
    for (name, bytes) in certs {
        let path = put(dir, name, bytes, 0o644)?;
        out.cert.get_or_insert(path.clone());
        out.files.push(path);
    }
    for name in keys {
        let path = put(dir, name, key_pem, key_mode)?;
        out.key.get_or_insert(path.clone());
        out.files.push(path);
    }
    Ok(out)
}

/// Writes a file with an exact mode. The mode is set before the content is
/// written, so a key is never briefly readable by others.
fn put(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    let path = dir.join(name);
    let _ = fs::remove_file(&path);
    let file = fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    use std::io::Write;
    (&file).write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A key pair rcgen can certify, and the PEM to install for it.
fn make_key(kind: KeyKind) -> Result<(KeyPair, String)> {
    match kind {
        KeyKind::EcdsaP256 => {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let pem = key.serialize_pem();
            Ok((key, pem))
        }
        KeyKind::EcdsaP256Sec1 => {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let pem = to_traditional(&key.serialize_pem(), "a SEC1 (EC PRIVATE KEY) key file")?;
            Ok((key, pem))
        }
        KeyKind::Rsa2048 | KeyKind::Rsa2048Pkcs1 => {
            // ring (rcgen's backend) cannot generate RSA keys, only use them.
            let ssl = Openssl::new("an RSA key")?;
            ssl.run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key"])?;
            let pkcs8 = String::from_utf8(ssl.get("rsa.key")?)?;
            let key = KeyPair::from_pem(&pkcs8).context("loading the RSA key openssl made")?;
            let pem = if kind == KeyKind::Rsa2048Pkcs1 {
                to_traditional(&pkcs8, "a PKCS#1 (RSA PRIVATE KEY) key file")?
            } else {
                pkcs8
            };
            Ok((key, pem))
        }
    }
}

/// PKCS#8 PEM to the "traditional" encoding (PKCS#1 for RSA, SEC1 for EC):
/// `openssl pkey -traditional`, the same on OpenSSL 1.1.1 and 3.x.
fn to_traditional(pkcs8_pem: &str, what: &'static str) -> Result<String> {
    let ssl = Openssl::new(what)?;
    ssl.put("in.key", pkcs8_pem.as_bytes())?;
    ssl.run(&["pkey", "-in", "in.key", "-traditional", "-out", "out.key"])?;
    Ok(String::from_utf8(ssl.get("out.key")?)?)
}

/// A scratch dir for running the `openssl` command (never through a
/// shell). `OPENSSL_CONF` points at our own minimal config, so a system
/// crypto policy that forbids SHA-1 signing (RHEL 9's DEFAULT) does not
/// apply: making a weak certificate on purpose is the point here.
struct Openssl {
    dir: tempfile::TempDir,
    what: &'static str,
}

/// Enough for `openssl ca` (database, serial, a policy that takes the CN
/// as supplied, extensions copied from the CSR), harmless for the rest.
const OPENSSL_CNF: &str = "\
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
policy = supplied_cn
copy_extensions = copy
unique_subject = no
[supplied_cn]
commonName = supplied
";

impl Openssl {
    fn new(what: &'static str) -> Result<Self> {
        let dir = tempfile::tempdir().context("creating a scratch dir for openssl")?;
        fs::write(dir.path().join("openssl.cnf"), OPENSSL_CNF)?;
        Ok(Openssl { dir, what })
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        Ok(fs::write(self.dir.path().join(name), bytes)?)
    }

    fn get(&self, name: &str) -> Result<Vec<u8>> {
        fs::read(self.dir.path().join(name)).with_context(|| format!("openssl did not write {name}"))
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .env("OPENSSL_CONF", self.dir.path().join("openssl.cnf"))
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "the `openssl` command is needed to make {} (rcgen cannot), but it is not \
                 installed: install the openssl package (Debian: apt-get install openssl)",
                self.what
            ),
            Err(e) => return Err(e).context("running openssl"),
        };
        if !output.status.success() {
            bail!(
                "`openssl {}` failed making {} ({}): {}",
                args.join(" "),
                self.what,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

/// An ASN.1 time string as `openssl ca -startdate` takes it: UTCTime
/// (`YYMMDDHHMMSSZ`) for 1950-2049, GeneralizedTime otherwise (RFC 5280).
fn asn1_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let rest = format!("{:02}{:02}{:02}{:02}{:02}Z", u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    match t.year() {
        y @ 1950..=2049 => format!("{:02}{rest}", y % 100),
        y => format!("{y:04}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_time_uses_utctime_until_2049() {
        let t = time::macros::datetime!(2031-02-03 04:05:06 UTC);
        assert_eq!(asn1_time(t), "310203040506Z");
        let t = time::macros::datetime!(2051-12-31 23:59:59 UTC);
        assert_eq!(asn1_time(t), "20511231235959Z");
    }
}
