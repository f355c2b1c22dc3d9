//! Is a certificate's signature algorithm strong enough? Pure OID lookup.
//!
//! The seed: "Hashing algorithms including the SHA1 and MD5 are too weak for
//! signatures in digital certificates for some browsers to support. So
//! SHA-256 is specified as the minimum standard." This is an allow-list: an
//! algorithm we do not recognise is refused too, because a browser that
//! does not know it refuses the certificate just the same.

/// What the checkpoint concludes about one signature algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// SHA-256 or better (or EdDSA, which hashes internally).
    Strong,
    /// MD2/MD4/MD5/SHA-1/SHA-224: below the SHA-256 minimum.
    TooWeak,
    /// Strong hash, but an algorithm browsers do not accept (DSA).
    Unsupported,
    /// An OID we do not know.
    Unknown,
}

/// A classified signature algorithm: its conventional (OpenSSL) name, so
/// the message reads like `openssl x509 -text`, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    pub name: String,
    pub verdict: Verdict,
}

const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Signature algorithm OIDs (RFC 3279, 4055, 5758, 8410) with their names.
const SIGNATURES: &[(&str, &str, Verdict)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption", Verdict::TooWeak),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption", Verdict::TooWeak),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption", Verdict::TooWeak),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption", Verdict::TooWeak),
    ("1.3.14.3.2.29", "sha1WithRSASignature", Verdict::TooWeak),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption", Verdict::TooWeak),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption", Verdict::Strong),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption", Verdict::Strong),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption", Verdict::Strong),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1", Verdict::TooWeak),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224", Verdict::TooWeak),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256", Verdict::Strong),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384", Verdict::Strong),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512", Verdict::Strong),
    ("1.2.840.10040.4.3", "dsa-with-SHA1", Verdict::TooWeak),
    ("2.16.840.1.101.3.4.3.1", "dsa-with-SHA224", Verdict::TooWeak),
    ("2.16.840.1.101.3.4.3.2", "dsa-with-SHA256", Verdict::Unsupported),
    ("1.3.101.112", "ED25519", Verdict::Strong),
    ("1.3.101.113", "ED448", Verdict::Strong),
];

/// Hash OIDs that can appear in RSASSA-PSS parameters.
const HASHES: &[(&str, &str, Verdict)] = &[
    ("1.2.840.113549.2.5", "MD5", Verdict::TooWeak),
    ("1.3.14.3.2.26", "SHA-1", Verdict::TooWeak),
    ("2.16.840.1.101.3.4.2.4", "SHA-224", Verdict::TooWeak),
    ("2.16.840.1.101.3.4.2.1", "SHA-256", Verdict::Strong),
    ("2.16.840.1.101.3.4.2.2", "SHA-384", Verdict::Strong),
    ("2.16.840.1.101.3.4.2.3", "SHA-512", Verdict::Strong),
];

/// Classifies a signature algorithm by its dotted OID. For RSASSA-PSS the
/// hash lives in the parameters: `pss_hash` is its OID (RFC 4055 makes
/// SHA-1 the default when absent, and the parser reports it so).
pub(crate) fn classify(oid: &str, pss_hash: Option<&str>) -> Classified {
    if oid == RSASSA_PSS {
        let (hash, verdict) = match pss_hash.and_then(|h| HASHES.iter().find(|e| e.0 == h)) {
            Some((_, name, verdict)) => (name.to_string(), verdict.clone()),
            None => (format!("hash {}", pss_hash.unwrap_or("?")), Verdict::Unknown),
        };
        return Classified { name: format!("rsassaPss with {hash}"), verdict };
    }
    match SIGNATURES.iter().find(|e| e.0 == oid) {
        Some((_, name, verdict)) => Classified { name: name.to_string(), verdict: verdict.clone() },
        None => Classified { name: format!("unknown algorithm {oid}"), verdict: Verdict::Unknown },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_md5_and_sha224_are_too_weak() {
        for oid in [
            "1.2.840.113549.1.1.4",
            "1.2.840.113549.1.1.5",
            "1.2.840.10045.4.1",
            "1.2.840.10040.4.3",
            "1.2.840.113549.1.1.14",
        ] {
            assert_eq!(classify(oid, None).verdict, Verdict::TooWeak, "{oid}");
        }
        assert_eq!(classify("1.2.840.113549.1.1.5", None).name, "sha1WithRSAEncryption");
    }

    #[test]
    fn sha256_and_better_are_strong() {
        for oid in ["1.2.840.113549.1.1.11", "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.3.101.112"] {
            assert_eq!(classify(oid, None).verdict, Verdict::Strong, "{oid}");
        }
    }

    #[test]
    fn pss_is_judged_by_its_hash_and_unknown_oids_are_refused() {
        assert_eq!(classify(RSASSA_PSS, Some("2.16.840.1.101.3.4.2.1")).verdict, Verdict::Strong);
        assert_eq!(classify(RSASSA_PSS, Some("1.3.14.3.2.26")).verdict, Verdict::TooWeak);
        assert_eq!(classify(RSASSA_PSS, None).verdict, Verdict::Unknown);
        assert_eq!(classify("1.2.3.4", None).verdict, Verdict::Unknown);
        assert_eq!(classify("2.16.840.1.101.3.4.3.2", None).verdict, Verdict::Unsupported);
    }
}
