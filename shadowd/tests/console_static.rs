//! The console's static files against the shadowd binary: the page and its
//! modules carry their security headers, noVNC comes from the package
//! folder, and no spelling of `..` reaches a file outside it. Requests are
//! written by hand on a raw socket: HTTP clients tidy `..` out of a URL
//! before sending it, which would hide exactly what is being tested.

mod common;

use common::with_bin;
use simulator::drivers::daemon::{Daemon, DaemonOptions};
use simulator::drivers::ports::{free_block, range_string};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `method path` as HTTP/1.0; returns (status, head, body).
async fn raw(api: &str, method: &str, path: &str) -> (u16, String, String) {
    let addr = api.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("the control port answers");
    s.write_all(format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

async fn daemon() -> Daemon {
    assert!(
        Path::new("/usr/share/novnc/core/rfb.js").is_file(),
        "these tests serve Debian's noVNC: apt-get install novnc (or run ci/setup)"
    );
    let opts = DaemonOptions { port_range: range_string(free_block(1)), ..Default::default() };
    Daemon::start(with_bin(opts)).await.expect("shadowd starts")
}

#[tokio::test]
async fn the_page_and_its_modules_are_served_with_their_security_headers() {
    let d = daemon().await;
    for path in ["/", "/shadow/7", "/console/console.js", "/console/messages.js"] {
        let (status, head, _) = raw(&d.api, "GET", path).await;
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("content-security-policy: default-src 'self'"), "{path}: {head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{path}: {head}");
    }
    let (status, _, body) = raw(&d.api, "GET", "/console/nope.js").await;
    assert_eq!((status, body.as_str()), (404, "no such console file"));
}

#[tokio::test]
async fn novnc_comes_from_the_package_folder_and_only_from_it() {
    let d = daemon().await;
    let (status, head, body) = raw(&d.api, "GET", "/novnc/core/rfb.js").await;
    assert_eq!(status, 200);
    assert!(head.contains("javascript"), "{head}");
    assert_eq!(body, std::fs::read_to_string("/usr/share/novnc/core/rfb.js").unwrap());

    for path in [
        "/novnc/../../../../etc/passwd",
        "/novnc/core/../../../../../etc/passwd",
        "/novnc/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/novnc/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/novnc/%2fetc%2fpasswd",
        "/novnc//etc/passwd",
        "/novnc/..\\..\\..\\..\\etc\\passwd",
        "/console/..%2f..%2fetc%2fpasswd",
    ] {
        let (status, _, body) = raw(&d.api, "GET", path).await;
        assert_ne!(status, 200, "{path} was served");
        assert!(!body.contains("root:"), "{path} leaked /etc/passwd");
    }
    let (status, _, _) = raw(&d.api, "POST", "/novnc/core/rfb.js").await;
    assert_eq!(status, 405, "noVNC's files are read-only");
}

#[tokio::test]
async fn a_missing_novnc_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let opts = DaemonOptions {
        port_range: range_string(free_block(1)),
        novnc_dir: Some(empty.path().to_path_buf()),
        ..Default::default()
    };
    let d = Daemon::start(with_bin(opts)).await.expect("shadowd starts");
    let (status, _, body) = raw(&d.api, "GET", "/novnc/core/rfb.js").await;
    assert_eq!(status, 404);
    assert!(body.contains("noVNC is not installed at") && body.contains("apt-get install novnc"), "{body}");
}
