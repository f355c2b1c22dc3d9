//! `shadowd::tls` against real files made by the certificate factory: every
//! broken certificate and every wrong SSL-dir layout is refused with a
//! message naming the problem and the file; the valid ones are accepted and
//! really serve TLS to a client that trusts the test CA.

use rustls_pki_types::ServerName;
use shadowd::tls::{self, checkpoint, Check};
use simulator::drivers::certs::{write_ssl_dir, CertProblem, CertSpec, KeyKind, Layout, Leaf, TestCa};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The seed's example name.
const FQDN: &str = "vda1.basedomain.com";

struct Fixture {
    ca: TestCa,
    now: OffsetDateTime,
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let now = OffsetDateTime::now_utc();
        Fixture { ca: TestCa::new(now).unwrap(), now, tmp: tempfile::tempdir().unwrap() }
    }

    fn leaf(&self, problem: CertProblem) -> Leaf {
        self.ca.issue(FQDN, problem, self.now).unwrap()
    }

    /// Writes `leaf` with `layout` into a fresh SSL dir; returns the dir.
    fn ssl_dir(&self, name: &str, leaf: &Leaf, layout: Layout) -> PathBuf {
        let dir = self.tmp.path().join(name);
        write_ssl_dir(&dir, leaf, layout).unwrap();
        dir
    }

    fn failing(&self, dir: &Path, fqdn: &str) -> Vec<String> {
        failing(&tls::inspect(dir, fqdn, self.now))
    }
}

fn failing(checks: &[Check]) -> Vec<String> {
    checks.iter().filter(|c| !c.ok).map(|c| c.name.clone()).collect()
}

fn assert_mentions(message: &str, words: &[&str]) {
    for w in words {
        assert!(message.contains(w), "expected {w:?} in: {message}");
    }
}

#[test]
fn valid_and_wildcard_certificates_load_with_every_key_kind() {
    let f = Fixture::new();
    for problem in [CertProblem::Valid, CertProblem::Wildcard] {
        for key in KeyKind::ALL {
            let leaf = f.ca.issue_with(FQDN, problem, key, f.now).unwrap();
            let dir = f.ssl_dir(&format!("{problem:?}-{key:?}"), &leaf, Layout::Normal);
            let m = tls::load(&dir, FQDN, f.now).unwrap_or_else(|e| panic!("{problem:?} {key:?}: {e}"));
            assert_eq!(m.cert_path, dir.join("shadowingcert.pem"));
            assert_eq!(m.key_path, dir.join("shadowingkey.key"));
            let checks = tls::inspect(&dir, FQDN, f.now);
            assert_eq!(failing(&checks), Vec::<String>::new());
            assert_eq!(checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), checkpoint::ALL);
        }
    }
}

#[test]
fn the_factory_writes_the_key_encoding_it_names() {
    let f = Fixture::new();
    let header = |k| f.ca.issue_with(FQDN, CertProblem::Valid, k, f.now).unwrap().key_pem;
    assert!(header(KeyKind::EcdsaP256).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(header(KeyKind::EcdsaP256Sec1).starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert!(header(KeyKind::Rsa2048).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(header(KeyKind::Rsa2048Pkcs1).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    // And shadowd says which format it read.
    let leaf = f.ca.issue_with(FQDN, CertProblem::Valid, KeyKind::Rsa2048Pkcs1, f.now).unwrap();
    let dir = f.ssl_dir("pkcs1", &leaf, Layout::Normal);
    let checks = tls::inspect(&dir, FQDN, f.now);
    let key_format = checks.iter().find(|c| c.name == checkpoint::KEY_FORMAT).unwrap();
    assert_mentions(&key_format.detail, &["PKCS#1", "RSA"]);
}

#[test]
fn chain_and_der_layouts_are_accepted() {
    let f = Fixture::new();
    let leaf = f.leaf(CertProblem::Valid);
    let dir = f.ssl_dir("chain", &leaf, Layout::WithChain);
    tls::load(&dir, FQDN, f.now).unwrap();
    let cert_format = tls::inspect(&dir, FQDN, f.now).remove(4);
    assert_eq!(cert_format.name, checkpoint::CERT_FORMAT);
    assert_mentions(&cert_format.detail, &["PEM", "2 certificate(s)", "CN=vda1.basedomain.com"]);

    let dir = f.ssl_dir("der", &leaf, Layout::DerCert);
    let m = tls::load(&dir, FQDN, f.now).unwrap();
    assert_eq!(m.cert_path, dir.join("shadowingcert.der"));
}

/// Each broken certificate fails exactly its own checkpoint, and `load`'s
/// message names the checkpoint, the problem and the file.
#[test]
fn each_broken_certificate_fails_its_checkpoint_naming_the_file() {
    let f = Fixture::new();
    let cases: &[(CertProblem, &str, &[&str])] = &[
        (CertProblem::Expired, checkpoint::VALIDITY, &["has expired", "shadowingcert.pem"]),
        (CertProblem::NotYetValid, checkpoint::VALIDITY, &["not yet valid", "shadowingcert.pem"]),
        (
            CertProblem::NoSan,
            checkpoint::SAN,
            &["no subjectAltName", "NET::ERR_CERT_COMMON_NAME_INVALID", "shadowingcert.pem", "DNS:vda1.basedomain.com"],
        ),
        (
            CertProblem::WrongName,
            checkpoint::NAME,
            &["not issued for vda1.basedomain.com", "DNS:other-host.basedomain.com", "shadowingcert.pem"],
        ),
        (CertProblem::WrongCn, checkpoint::NAME, &["Common Name", "other-host.basedomain.com", "shadowingcert.pem"]),
        (CertProblem::KeyMismatch, checkpoint::KEY_MATCH, &["does not match", "shadowingkey.key", "shadowingcert.pem"]),
        (CertProblem::WeakSignature, checkpoint::SIGNATURE, &["ecdsa-with-SHA1", "SHA-256", "shadowingcert.pem"]),
    ];
    // Every problem variant but the acceptable ones is covered here.
    let covered: Vec<_> = cases.iter().map(|c| c.0).collect();
    for p in CertProblem::ALL {
        assert!(p.is_acceptable() || covered.contains(&p), "{p:?} has no case");
    }
    for (problem, check, words) in cases {
        let dir = f.ssl_dir(&format!("{problem:?}"), &f.leaf(*problem), Layout::Normal);
        let err = tls::load(&dir, FQDN, f.now).expect_err(&format!("{problem:?} must be refused"));
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{check}: ")), "{problem:?}: {msg}");
        assert_mentions(&msg, words);
        assert_mentions(&msg, &[dir.to_str().unwrap(), "fix:"]);
        assert_eq!(f.failing(&dir, FQDN), vec![check.to_string()], "{problem:?}");
    }
}

/// Each wrong layout (with a valid certificate) fails with a message that
/// says what was found and what the names must be.
#[test]
fn each_broken_layout_fails_naming_what_was_found() {
    let f = Fixture::new();
    let leaf = f.leaf(CertProblem::Valid);
    let cases: &[(Layout, &str, &[&str])] = &[
        (
            Layout::Misnamed,
            checkpoint::CERT_FILE,
            &[
                "no certificate file named shadowingcert.*",
                "found instead: cert.pem, server.key",
                "must be named shadowingcert.*",
            ],
        ),
        (
            Layout::TwoCerts,
            checkpoint::CERT_FILE,
            &["2 files match shadowingcert.*", "shadowingcert.crt and ", "shadowingcert.pem", "ambiguous"],
        ),
        (
            Layout::TwoKeys,
            checkpoint::KEY_FILE,
            &["2 files match shadowingkey.*", "shadowingkey.key and ", "shadowingkey.pem"],
        ),
        (
            Layout::MissingCert,
            checkpoint::CERT_FILE,
            &["no certificate file named shadowingcert.*", "nothing else is there"],
        ),
        (Layout::MissingKey, checkpoint::KEY_FILE, &["no private key file named shadowingkey.*", "shadowingkey.key"]),
        (
            Layout::LooseKeyPermissions,
            checkpoint::KEY_PERMISSIONS,
            &["shadowingkey.key", "mode 0644", "all other users", "chmod 600"],
        ),
        (Layout::MissingDir, checkpoint::SSL_DIR, &["does not exist"]),
    ];
    let covered: Vec<_> = cases.iter().map(|c| c.0).collect();
    for l in Layout::ALL {
        assert!(l.is_acceptable() || covered.contains(&l), "{l:?} has no case");
    }
    for (layout, check, words) in cases {
        let dir = f.ssl_dir(&format!("{layout:?}"), &leaf, *layout);
        let err = tls::load(&dir, FQDN, f.now).expect_err(&format!("{layout:?} must be refused"));
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{check}: ")), "{layout:?}: {msg}");
        assert_mentions(&msg, words);
        assert_mentions(&msg, &[dir.to_str().unwrap()]);
    }
}

#[test]
fn misnamed_files_fail_both_file_checkpoints_and_dependent_ones_say_why() {
    let f = Fixture::new();
    let dir = f.ssl_dir("misnamed", &f.leaf(CertProblem::Valid), Layout::Misnamed);
    let checks = tls::inspect(&dir, FQDN, f.now);
    assert_eq!(checks.len(), checkpoint::ALL.len());
    assert!(checks[0].ok, "{:?}", checks[0]);
    let key_file = &checks[2];
    assert_eq!(key_file.name, checkpoint::KEY_FILE);
    assert_mentions(&key_file.detail, &["shadowingkey.*", "cert.pem, server.key"]);
    for c in &checks[1..] {
        assert!(!c.ok, "{c:?}");
        assert!(c.fix.is_some(), "{c:?}");
    }
    let validity = checks.iter().find(|c| c.name == checkpoint::VALIDITY).unwrap();
    assert_mentions(&validity.detail, &["not checked"]);
}

/// `inspect` never stops at the first failure: an expired certificate for
/// another host with a world-readable key reports all three.
#[test]
fn inspect_reports_every_failure_at_once() {
    let f = Fixture::new();
    let dir = f.ssl_dir("many", &f.leaf(CertProblem::Expired), Layout::LooseKeyPermissions);
    assert_eq!(
        f.failing(&dir, "vda2.otherdomain.com"),
        vec![checkpoint::KEY_PERMISSIONS, checkpoint::VALIDITY, checkpoint::NAME]
    );
    // `load` reports the first of them.
    let err = tls::load(&dir, "vda2.otherdomain.com", f.now).unwrap_err();
    assert!(err.0.starts_with(checkpoint::KEY_PERMISSIONS), "{err}");
}

/// The checks read no clock: the same valid certificate is expired for a
/// `now` after its end and not yet valid for a `now` before its start.
#[test]
fn validity_is_judged_at_the_now_passed_in() {
    let f = Fixture::new();
    let dir = f.ssl_dir("clock", &f.leaf(CertProblem::Valid), Layout::Normal);
    let later = f.now + time::Duration::days(365);
    assert_mentions(&tls::load(&dir, FQDN, later).unwrap_err().0, &["has expired"]);
    let earlier = f.now - time::Duration::days(365);
    assert_mentions(&tls::load(&dir, FQDN, earlier).unwrap_err().0, &["not yet valid"]);
    tls::load(&dir, FQDN, f.now).unwrap();
}

#[test]
fn the_wildcard_covers_one_label_only() {
    let f = Fixture::new();
    let dir = f.ssl_dir("wild", &f.leaf(CertProblem::Wildcard), Layout::Normal);
    tls::load(&dir, "vda7.basedomain.com", f.now).unwrap();
    for fqdn in ["basedomain.com", "a.vda1.basedomain.com", "vda1.otherdomain.com"] {
        let err = tls::load(&dir, fqdn, f.now).expect_err(fqdn);
        assert!(err.0.starts_with(checkpoint::NAME), "{fqdn}: {err}");
        assert_mentions(&err.0, &["DNS:*.basedomain.com"]);
    }
}

/// The weak-signature variant really carries a SHA-1 signature by the test
/// CA (and is otherwise a normal leaf), so the test above proves something.
#[test]
fn the_weak_signature_certificate_is_really_sha1_signed_by_the_ca() {
    let f = Fixture::new();
    let leaf = f.leaf(CertProblem::WeakSignature);
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf.cert_der).unwrap();
    let ecdsa_with_sha1 = "1.2.840.10045.4.1";
    assert_eq!(cert.signature_algorithm.algorithm.to_id_string(), ecdsa_with_sha1);
    assert_eq!(cert.tbs_certificate.signature.algorithm.to_id_string(), ecdsa_with_sha1);
    assert_eq!(cert.issuer().to_string(), "CN=shadowsim test CA, O=shadowsim");
    let san = cert.subject_alternative_name().unwrap().expect("SAN copied from the CSR");
    assert_eq!(format!("{:?}", san.value.general_names), "[DNSName(\"vda1.basedomain.com\")]");
    // Validity follows `now` as for rcgen's certificates.
    assert!(cert.validity().not_before.to_datetime() < f.now);
    assert!(cert.validity().not_after.to_datetime() > f.now + time::Duration::days(30));
    // And the PEM and DER agree.
    assert!(leaf.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

/// What shadowd accepts really serves TLS to a client trusting only the
/// test CA; what it refuses for the name, SAN, dates or hash, a real TLS
/// client (rustls/webpki) refuses too.
#[test]
fn accepted_material_serves_tls_and_a_real_client_agrees_with_the_refusals() {
    let f = Fixture::new();
    for problem in CertProblem::ALL {
        let leaf = f.leaf(problem);
        let dir = f.ssl_dir(&format!("hs-{problem:?}"), &leaf, Layout::Normal);
        let material =
            tls::TlsMaterial { cert_path: dir.join("shadowingcert.pem"), key_path: dir.join("shadowingkey.key") };
        let server = tls::server_config(&material);
        if problem == CertProblem::KeyMismatch {
            // rustls refuses to pair the certificate with a foreign key.
            assert!(server.is_err(), "mismatched key accepted by rustls");
            continue;
        }
        let result = handshake(server.unwrap(), f.ca.client_config(), FQDN);
        // The seed's CN rule is stricter than clients, which look at the SAN
        // only: a wrong CN under a right SAN still shakes hands.
        let clients_accept = problem.is_acceptable() || problem == CertProblem::WrongCn;
        assert_eq!(
            result.is_ok(),
            clients_accept,
            "{problem:?}: handshake {result:?}; shadowd: {:?}",
            tls::load(&dir, FQDN, f.now).err()
        );
    }
}

/// One TLS handshake over loopback, then one byte from server to client.
fn handshake(server: rustls::ServerConfig, client: Arc<rustls::ClientConfig>, fqdn: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        // Fails when the client aborts the handshake: nothing to do then.
        let _ = tls.write_all(b"!").and_then(|_| tls.flush());
    });
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from(fqdn.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(client, name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut byte = [0u8; 1];
    let result = tls.read_exact(&mut byte).map_err(|e| e.to_string());
    drop(tls);
    server.join().unwrap();
    result.and_then(|_| (byte == *b"!").then_some(()).ok_or("wrong byte".into()))
}

#[test]
fn scenario_names_deserialize_and_unknown_keys_are_errors() {
    let spec: CertSpec =
        serde_json::from_str(r#"{"problem": "weak_signature", "key": "rsa2048_pkcs1", "layout": "two_certs"}"#)
            .unwrap();
    assert_eq!(spec.problem, CertProblem::WeakSignature);
    assert_eq!(spec.key, KeyKind::Rsa2048Pkcs1);
    assert_eq!(spec.layout, Layout::TwoCerts);
    let spec: CertSpec = serde_json::from_str(r#"{"problem": "not_yet_valid"}"#).unwrap();
    assert_eq!((spec.key, spec.layout), (KeyKind::EcdsaP256, Layout::Normal));
    assert!(serde_json::from_str::<CertSpec>(r#"{"problme": "expired"}"#).is_err());
    assert!(serde_json::from_str::<CertSpec>(r#"{"problem": "sha1"}"#).is_err());

    // And a spec writes a working dir.
    let f = Fixture::new();
    let dir = f.tmp.path().join("spec");
    let files = CertSpec::default().write(&f.ca, FQDN, &dir, f.now).unwrap();
    assert_eq!(files.key.as_deref(), Some(dir.join("shadowingkey.key").as_path()));
    tls::load(&dir, FQDN, f.now).unwrap();
}

#[test]
fn the_factory_sets_key_modes_regardless_of_umask() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let leaf = f.leaf(CertProblem::Valid);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let normal = write_ssl_dir(&f.tmp.path().join("m1"), &leaf, Layout::Normal).unwrap();
    assert_eq!(mode(normal.key.as_ref().unwrap()), 0o600);
    assert_eq!(mode(normal.cert.as_ref().unwrap()), 0o644);
    let loose = write_ssl_dir(&f.tmp.path().join("m2"), &leaf, Layout::LooseKeyPermissions).unwrap();
    assert_eq!(mode(loose.key.as_ref().unwrap()), 0o644);
    // missing_dir refuses a path that exists rather than silently passing.
    assert!(write_ssl_dir(f.tmp.path(), &leaf, Layout::MissingDir).is_err());
}
