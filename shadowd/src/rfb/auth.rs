//! VNC Authentication (RFC 6143 §7.2.2): the server sends a random 16-byte
//! challenge, the client returns it DES-encrypted (ECB, two blocks) with the
//! password as key.
//!
//! The key is the first 8 bytes of the password, NUL-padded, with the bits
//! of *each byte reversed*: the original implementation fed the key to a
//! DES routine that numbered bits from the other end, and every VNC server
//! since (x11vnc/libvncserver included) reproduces that. Passwords longer
//! than 8 bytes are silently truncated by every implementation, so the
//! daemon's one-time passwords must carry their entropy in 8 bytes.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;

pub const CHALLENGE_LEN: usize = 16;

/// The significant part of a password: what the DES key is built from.
pub const MAX_PASSWORD_LEN: usize = 8;

fn des_key(password: &str) -> [u8; 8] {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.as_bytes()) {
        *k = b.reverse_bits();
    }
    key
}

/// The client's response to `challenge` for `password`.
pub fn vnc_auth_response(password: &str, challenge: &[u8; CHALLENGE_LEN]) -> [u8; CHALLENGE_LEN] {
    let cipher = Des::new(&GenericArray::from(des_key(password)));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

/// Server side: whether `response` is right for `password` and `challenge`.
/// Compares in constant time, so response timing reveals nothing about how
/// many leading bytes were right.
pub fn verify(password: &str, challenge: &[u8; CHALLENGE_LEN], response: &[u8; CHALLENGE_LEN]) -> bool {
    let expected = vnc_auth_response(password, challenge);
    let diff = expected.iter().zip(response).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_bit_reversed_and_padded() {
        assert_eq!(des_key("a"), [0x86, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(des_key("abcdefghij"), des_key("abcdefgh"));
    }

    /// Computed independently with OpenSSL (`openssl enc -des-ecb -nopad
    /// -K 0e86ceceeef64e26 -provider legacy`, the key being "password" with
    /// each byte bit-reversed). The integration test against x11vnc proves
    /// the same against a real server.
    #[test]
    fn known_vector() {
        let challenge: [u8; 16] = core::array::from_fn(|i| i as u8);
        let expected = [0xb8, 0x66, 0x92, 0x41, 0x25, 0xc8, 0xee, 0xbb, 0x9d, 0xeb, 0xc1, 0xdb, 0x61, 0xc5, 0x38, 0xe2];
        assert_eq!(des_key("password"), [0x0e, 0x86, 0xce, 0xce, 0xee, 0xf6, 0x4e, 0x26]);
        assert_eq!(vnc_auth_response("password", &challenge), expected);
    }

    #[test]
    fn verify_accepts_the_response_and_nothing_else() {
        let challenge: [u8; 16] = core::array::from_fn(|i| (i * 17 + 3) as u8);
        let resp = vnc_auth_response("hunter2", &challenge);
        assert!(verify("hunter2", &challenge, &resp));
        assert!(!verify("hunter3", &challenge, &resp));
        for i in 0..16 {
            let mut bad = resp;
            bad[i] ^= 1;
            assert!(!verify("hunter2", &challenge, &bad), "byte {i} flipped");
        }
        // The 9th byte onwards does not matter, as in every VNC server.
        assert!(verify("hunter2-and-more", &challenge, &vnc_auth_response("hunter2-", &challenge)));
    }
}
