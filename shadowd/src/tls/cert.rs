//! The certificate file: bytes in, plain facts out, then the checkpoints
//! over those facts (validity, signature, SAN). No IO here: the caller
//! reads the file, so every decision is testable over bytes and a `now`.

use super::signature::{self, Verdict};
use super::{checkpoint, Check};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::CertificateDer;
use std::net::IpAddr;
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::signature_algorithm::SignatureAlgorithm;

/// How the file was encoded (PEM is what websockify, in the external
/// backend, can read; DER is accepted for the native server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Pem,
    Der,
}

/// A certificate file, decoded: the leaf first, then any chain.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub certs: Vec<CertificateDer<'static>>,
    pub encoding: Encoding,
}

/// Decodes a certificate file: PEM with one or more `CERTIFICATE` blocks
/// (the first is the leaf), or a single DER certificate. The leaf must
/// also parse as X.509, so later checkpoints can rely on it.
pub(crate) fn parse_chain(path: &Path, bytes: &[u8]) -> Result<Chain, String> {
    let p = path.display();
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let chain = if is_pem {
        let certs = CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, pem::Error>>()
            .map_err(|e| format!("{p} is not valid PEM: {e}"))?;
        if certs.is_empty() {
            // A swapped cert and key is a classic; say so.
            let hint = if contains(bytes, b"PRIVATE KEY-----") {
                " (it holds a private key: are the certificate and key swapped?)"
            } else {
                ""
            };
            return Err(format!("{p} has no -----BEGIN CERTIFICATE----- block{hint}"));
        }
        Chain { certs, encoding: Encoding::Pem }
    } else {
        Chain { certs: vec![CertificateDer::from(bytes.to_vec())], encoding: Encoding::Der }
    };
    if let Err(e) = x509_parser::parse_x509_certificate(&chain.certs[0]) {
        return Err(match chain.encoding {
            Encoding::Pem => format!("the first certificate in {p} is not valid X.509: {e}"),
            Encoding::Der => format!("{p} is neither PEM nor a DER X.509 certificate: {e}"),
        });
    }
    Ok(chain)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One certificate's signature, as the signature checkpoint needs it.
#[derive(Debug, Clone)]
pub(crate) struct SignatureFact {
    /// 0 for the leaf, then the chain order in the file.
    pub position: usize,
    pub subject: String,
    pub oid: String,
    /// For RSASSA-PSS: the hash OID from its parameters.
    pub pss_hash: Option<String>,
    /// Self-signed roots in the file are never verified by a client
    /// (trust comes from the client's store), so their hash is irrelevant.
    pub self_signed: bool,
}

/// What the checkpoints need from the leaf (and chain), as plain data.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub subject: String,
    pub issuer: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// DER SubjectPublicKeyInfo, compared with the key's.
    pub spki: Vec<u8>,
    /// `None` when the extension is absent; `Err` when it is unreadable.
    pub san: Result<Option<Vec<String>>, String>,
    /// The SAN DNS entries (empty when there is no SAN).
    pub san_dns: Vec<String>,
    pub cns: Vec<String>,
    pub signatures: Vec<SignatureFact>,
}

/// Extracts the facts from a decoded chain. Chain members that do not parse
/// are skipped (their signature is not judged): the leaf was verified by
/// `parse_chain`.
pub(crate) fn facts(chain: &Chain) -> Option<Facts> {
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain.certs[0]).ok()?;
    let (san, san_dns) = match leaf.subject_alternative_name() {
        Ok(None) => (Ok(None), Vec::new()),
        Ok(Some(ext)) => {
            let names = &ext.value.general_names;
            let dns = names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect();
            (Ok(Some(names.iter().map(describe).collect())), dns)
        }
        Err(e) => (Err(e.to_string()), Vec::new()),
    };
    let cns =
        leaf.subject().iter_common_name().map(|cn| cn.as_str().unwrap_or("<undecodable CN>").to_string()).collect();
    let signatures = chain
        .certs
        .iter()
        .enumerate()
        .filter_map(|(i, der)| {
            let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
            Some(signature_fact(i, &c))
        })
        .collect();
    Some(Facts {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        not_before: leaf.validity().not_before.to_datetime(),
        not_after: leaf.validity().not_after.to_datetime(),
        spki: leaf.public_key().raw.to_vec(),
        san,
        san_dns,
        cns,
        signatures,
    })
}

fn signature_fact(position: usize, c: &X509Certificate<'_>) -> SignatureFact {
    let pss_hash = match SignatureAlgorithm::try_from(&c.signature_algorithm) {
        Ok(SignatureAlgorithm::RSASSA_PSS(params)) => Some(params.hash_algorithm_oid().to_id_string()),
        _ => None,
    };
    SignatureFact {
        position,
        subject: c.subject().to_string(),
        oid: c.signature_algorithm.algorithm.to_id_string(),
        pss_hash,
        self_signed: c.subject().as_raw() == c.issuer().as_raw(),
    }
}

/// A SAN entry the way `openssl x509 -text` prints it.
fn describe(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())),
            16 => format!("IP:{}", IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())),
            _ => "IP:<malformed>".to_string(),
        },
        GeneralName::RFC822Name(m) => format!("email:{m}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        other => format!("{other:?}"),
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Validity checkpoint: `not_before <= now <= not_after` (RFC 5280 bounds
/// are inclusive). `now` is passed in so the decision is reproducible.
pub(crate) fn validity_check(path: &Path, f: &Facts, now: OffsetDateTime) -> Check {
    let name = checkpoint::VALIDITY;
    let p = path.display();
    let (nb, na, n) = (stamp(f.not_before), stamp(f.not_after), stamp(now));
    let renew = format!("install a current certificate (and its key) as {p}");
    if now < f.not_before {
        Check::fail(
            name,
            format!("{p} is not yet valid: valid from {nb} (now is {n})"),
            format!("{renew}, or fix this host's clock"),
        )
    } else if now > f.not_after {
        Check::fail(name, format!("{p} has expired: it was valid until {na} (now is {n})"), renew)
    } else {
        Check::pass(name, format!("{p} is valid from {nb} until {na}"))
    }
}

/// Signature checkpoint: every signature a client will verify (the leaf's
/// and any intermediate's; not a self-signed root's) must use SHA-256 or
/// better.
pub(crate) fn signature_check(path: &Path, f: &Facts) -> Check {
    let name = checkpoint::SIGNATURE;
    let p = path.display();
    let mut ok = Vec::new();
    for s in f.signatures.iter().filter(|s| s.position == 0 || !s.self_signed) {
        let c = signature::classify(&s.oid, s.pss_hash.as_deref());
        let which = match s.position {
            0 => format!("{p} is signed with {}", c.name),
            i => format!("chain certificate #{} ({}) in {p} is signed with {}", i + 1, s.subject, c.name),
        };
        let why = match c.verdict {
            Verdict::Strong => {
                ok.push(c.name);
                continue;
            }
            Verdict::TooWeak => "a weak hash: SHA-256 is the minimum (SHA-1 and MD5 are refused by browsers)",
            Verdict::Unsupported => "an algorithm browsers do not accept",
            Verdict::Unknown => "an algorithm not known to be SHA-256 or better",
        };
        return Check::fail(
            name,
            format!("{which}, {why}"),
            "have the CA reissue the certificate with SHA-256 or better (openssl: -sha256)",
        );
    }
    Check::pass(name, format!("{p} is signed with {}", ok.join(", ")))
}

/// SAN checkpoint: the extension must be there; Chrome ignores the CN and
/// reports NET::ERR_CERT_COMMON_NAME_INVALID without it.
pub(crate) fn san_check(path: &Path, f: &Facts, fqdn: &str) -> Check {
    let name = checkpoint::SAN;
    let p = path.display();
    match &f.san {
        Ok(Some(entries)) => Check::pass(name, format!("{p} has subjectAltName {}", entries.join(", "))),
        Ok(None) => Check::fail(
            name,
            format!(
                "{p} has no subjectAltName (SAN) extension: browsers refuse it \
                 (Chrome: NET::ERR_CERT_COMMON_NAME_INVALID)"
            ),
            format!("reissue the certificate with the X509v3 extension subjectAltName = DNS:{fqdn}"),
        ),
        Err(e) => Check::fail(
            name,
            format!("{p} has an unreadable subjectAltName extension: {e}"),
            format!("reissue the certificate with subjectAltName = DNS:{fqdn}"),
        ),
    }
}
