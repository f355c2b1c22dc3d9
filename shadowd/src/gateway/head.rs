//! Judging an HTTP request head before the WebSocket handshake (pure), so
//! that anything that is not a WebSocket upgrade gets a plain HTTP error
//! saying what this port is, instead of a silent close.

/// The most a request head may take; more is refused before it is buffered.
pub const MAX_HEAD: usize = 16 * 1024;

/// Where the head ends (index after "\r\n\r\n"), if it is complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Whether `buf` can still become a GET request: garbage (a TLS hello on a
/// ws:// port, raw RFB, binary) is refused at its first byte instead of
/// waiting for a head that never comes.
pub fn could_be_get(buf: &[u8]) -> bool {
    let n = buf.len().min(4);
    buf[..n] == b"GET "[..n]
}

/// `Ok` for a plausible WebSocket upgrade; `Err(reason)` otherwise.
pub fn check(head: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(head).map_err(|_| "the request is not text".to_string())?;
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, _path, version) = (parts.next(), parts.next(), parts.next());
    if method != Some("GET") || !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(format!("not an HTTP GET request: {:?}", request.chars().take(60).collect::<String>()));
    }
    let header = |name: &str| {
        text.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let upgrade = header("upgrade").unwrap_or_default();
    if !upgrade.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")) {
        return Err("this port speaks WebSocket (RFB) only: no `Upgrade: websocket` header".into());
    }
    if header("sec-websocket-key").is_none() {
        return Err("WebSocket upgrade without Sec-WebSocket-Key".into());
    }
    if header("sec-websocket-version").as_deref() != Some("13") {
        return Err("WebSocket version must be 13".into());
    }
    Ok(())
}

/// A complete HTTP/1.1 error response with `reason` as its body.
pub fn error_response(status: u16, reason: &str) -> Vec<u8> {
    let text = match status {
        403 => "Forbidden",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}\n",
        reason.len() + 1
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn accepts_a_websocket_upgrade_and_names_what_is_wrong_otherwise() {
        assert_eq!(head_end(GOOD), Some(GOOD.len()));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        assert!(check(GOOD).is_ok());
        assert!(check(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err().contains("WebSocket (RFB) only"));
        assert!(check(b"POST / HTTP/1.1\r\n\r\n").unwrap_err().contains("not an HTTP GET"));
        assert!(check(b"RFB 003.008\n\r\n\r\n").unwrap_err().contains("not an HTTP GET"));
        let no_key = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert!(check(no_key).unwrap_err().contains("Sec-WebSocket-Key"));
        assert!(String::from_utf8(error_response(400, "why")).unwrap().starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(could_be_get(b"GE") && could_be_get(b"GET /x") && !could_be_get(b"\x16\x03") && !could_be_get(b"RFB"));
    }
}
