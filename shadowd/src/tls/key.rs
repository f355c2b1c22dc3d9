//! The key file: permissions, decoding, and whether it belongs to the
//! certificate. Pure functions over the mode, the bytes and the SPKI; the
//! caller does the reading.

use super::{checkpoint, Check};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::SigningKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::PrivateKeyDer;
use std::path::Path;
use std::sync::Arc;

/// Permission checkpoint. The seed asks to "protect them properly with
/// restricted permissions": a private key any local user can read is a key
/// any local user can impersonate the host with. So group/other access of
/// any kind (`mode & 0o077`) fails.
pub(crate) fn permissions_check(path: &Path, mode: u32) -> Check {
    let name = checkpoint::KEY_PERMISSIONS;
    let p = path.display();
    let perm = mode & 0o7777;
    if mode & 0o077 != 0 {
        let who = match (mode & 0o070 != 0, mode & 0o007 != 0) {
            (true, true) => "its group and all other users",
            (true, false) => "its group",
            _ => "all other users",
        };
        Check::fail(
            name,
            format!("{p} has mode {perm:04o}: the private key is accessible to {who}"),
            format!("chmod 600 {p}"),
        )
    } else {
        Check::pass(name, format!("{p} has mode {perm:04o}"))
    }
}

/// A decoded private key that rustls (ring) can sign with.
#[derive(Debug)]
pub(crate) struct Key {
    pub der: PrivateKeyDer<'static>,
    pub signing: Arc<dyn SigningKey>,
    /// "PKCS#8 PEM", "PKCS#1 (RSA) PEM", … for the doctor's pass line.
    pub format: String,
}

/// Decodes a key file: PEM PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA
/// PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`), or the same in DER; then
/// makes sure ring supports the key type, since a key it cannot load fails
/// only at the first handshake otherwise.
pub(crate) fn parse_key(path: &Path, bytes: &[u8]) -> Result<Key, String> {
    let p = path.display();
    let is_pem = contains(bytes, b"-----BEGIN ");
    let der = if is_pem {
        match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(der) => der,
            Err(pem::Error::NoItemsFound) => {
                // Name the usual culprits rather than "no key found".
                let why = if contains(bytes, b"ENCRYPTED") {
                    " (it is encrypted with a passphrase, which shadowd cannot prompt for)"
                } else if contains(bytes, b"CERTIFICATE-----") {
                    " (it holds a certificate: are the certificate and key swapped?)"
                } else {
                    ""
                };
                return Err(format!("{p} has no unencrypted PRIVATE KEY block{why}"));
            }
            Err(e) => return Err(format!("{p} is not valid PEM: {e}")),
        }
    } else {
        PrivateKeyDer::try_from(bytes.to_vec()).map_err(|e| format!("{p} is neither PEM nor a DER private key: {e}"))?
    };
    let encoding = if is_pem { "PEM" } else { "DER" };
    let format = match &der {
        PrivateKeyDer::Pkcs8(_) => format!("PKCS#8 {encoding}"),
        PrivateKeyDer::Pkcs1(_) => format!("PKCS#1 (RSA) {encoding}"),
        PrivateKeyDer::Sec1(_) => format!("SEC1 (EC) {encoding}"),
        _ => encoding.to_string(),
    };
    let signing = any_supported_type(&der).map_err(|e| {
        format!("{p} holds a key that cannot be used ({e}); supported: RSA, ECDSA P-256/P-384, Ed25519")
    })?;
    Ok(Key { der, signing, format })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Key-match checkpoint: the public key derived from the private key must
/// be the certificate's SubjectPublicKeyInfo, byte for byte (what rustls's
/// `CertifiedKey::keys_match` does). A mismatch otherwise shows up only as
/// a failed handshake in the administrator's browser.
pub(crate) fn match_check(key_path: &Path, key: &Key, cert_path: &Path, cert_spki: &[u8]) -> Check {
    let name = checkpoint::KEY_MATCH;
    let (k, c) = (key_path.display(), cert_path.display());
    match key.signing.public_key() {
        Some(spki) if spki.as_ref() == cert_spki => {
            Check::pass(name, format!("the key in {k} belongs to the certificate in {c}"))
        }
        Some(_) => Check::fail(
            name,
            format!("the private key in {k} does not match the certificate in {c} (different public keys)"),
            format!(
                "install the key the certificate was issued for; compare \
                 `openssl x509 -noout -pubkey -in {c}` with `openssl pkey -pubout -in {k}`"
            ),
        ),
        None => Check::fail(
            name,
            format!("cannot derive the public key of {k} to compare it with {c}"),
            "use an RSA, ECDSA or Ed25519 key",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_or_other_access_fails_with_a_chmod_fix() {
        let p = Path::new("/ssl/shadowingkey.key");
        assert!(permissions_check(p, 0o100600).ok);
        assert!(permissions_check(p, 0o400).ok);
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602, 0o620] {
            let c = permissions_check(p, mode);
            assert!(!c.ok, "{mode:o}");
            assert_eq!(c.fix.as_deref(), Some("chmod 600 /ssl/shadowingkey.key"));
        }
        assert!(permissions_check(p, 0o100644).detail.contains("mode 0644"));
    }

    #[test]
    fn a_certificate_in_the_key_file_is_called_out() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = parse_key(Path::new("/k"), pem).unwrap_err();
        assert!(e.contains("swapped"), "{e}");
        let enc = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(parse_key(Path::new("/k"), enc).unwrap_err().contains("passphrase"));
    }
}
