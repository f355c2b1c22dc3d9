//! Connecting to a session's X display with an explicit Xauthority file and
//! a bounded time.
//!
//! `RustConnection::connect` would read `$XAUTHORITY` (the daemon's, not the
//! session's) and could block forever on a server that accepts the socket
//! but never answers. Here the socket is opened and the setup handshake done
//! by hand, with every wait under one deadline, then handed to x11rb. Any
//! part of the daemon that talks to a session's display can use this.

use super::xauth;
use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};
use x11rb::reexports::x11rb_protocol::connect::Connect;
use x11rb::reexports::x11rb_protocol::parse_display::{self, ConnectAddress};
use x11rb::rust_connection::{DefaultStream, RustConnection, Stream};

/// Connects to `display` (e.g. ":3"), authenticating with the cookie from
/// `xauthority` when given (otherwise the process's default lookup, as
/// libX11 does), within `timeout` overall. Returns the connection and the
/// screen number.
pub fn connect(display: &str, xauthority: Option<&Path>, timeout: Duration) -> Result<(RustConnection, usize)> {
    let deadline = Instant::now() + timeout;
    let parsed =
        parse_display::parse_display(Some(display)).map_err(|e| anyhow!("bad display name {display:?}: {e}"))?;
    let screen = usize::from(parsed.screen);

    let mut failures = Vec::new();
    let mut opened = None;
    for addr in parsed.connect_instruction() {
        match open_stream(&addr, deadline) {
            Ok(s) => {
                opened = Some(s);
                break;
            }
            Err(e) => failures.push(format!("{}: {e}", describe(&addr))),
        }
    }
    let Some((stream, peer)) = opened else {
        bail!("no X server answers ({})", failures.join("; "));
    };

    let (auth_name, auth_data, auth_note) = auth_for(xauthority, &peer, parsed.display);
    let setup = handshake(&stream, auth_name, auth_data, deadline).map_err(|e| match auth_note {
        Some(note) => e.context(note),
        None => e,
    })?;
    if screen >= setup.roots.len() {
        bail!("display {display} has no screen {screen}");
    }
    let conn = RustConnection::for_connected_stream(stream, setup).context("X connection setup")?;
    Ok((conn, screen))
}

/// How xauth names the peer: (family, address), both as in the file.
type Peer = (u16, Vec<u8>);

fn describe(addr: &ConnectAddress<'_>) -> String {
    match addr {
        ConnectAddress::Hostname(host, port) => format!("{host}:{port}"),
        ConnectAddress::Socket(path) => path.clone(),
        other => format!("{other:?}"),
    }
}

fn local_peer() -> Peer {
    let host = nix::unistd::gethostname().map(|h| h.into_encoded_bytes()).unwrap_or_default();
    (xauth::family::LOCAL, host)
}

fn open_stream(addr: &ConnectAddress<'_>, deadline: Instant) -> Result<(DefaultStream, Peer)> {
    match addr {
        // Connecting a Unix socket never waits: it succeeds or is refused.
        ConnectAddress::Socket(path) => {
            let s = UnixStream::connect(path)?;
            let (stream, _) = DefaultStream::from_unix_stream(s)?;
            Ok((stream, local_peer()))
        }
        ConnectAddress::Hostname(host, port) => {
            let mut last = None;
            for sa in (*host, *port).to_socket_addrs()? {
                let left = remaining(deadline)?;
                match TcpStream::connect_timeout(&sa, left) {
                    Ok(s) => {
                        // Same mapping as libXau/x11rb: loopback is "local".
                        let peer = match sa.ip() {
                            ip if ip.is_loopback() => local_peer(),
                            IpAddr::V4(v4) => (xauth::family::INTERNET, v4.octets().to_vec()),
                            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                                Some(v4) => (xauth::family::INTERNET, v4.octets().to_vec()),
                                None => (xauth::family::INTERNET6, v6.octets().to_vec()),
                            },
                        };
                        let (stream, _) = DefaultStream::from_tcp_stream(s)?;
                        return Ok((stream, peer));
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.map(Into::into).unwrap_or_else(|| anyhow!("no address")))
        }
        other => bail!("unsupported address {other:?}"),
    }
}

/// Picks the cookie. Returns a note to attach to a later failure when the
/// given file could not be used, because then "authentication failed" alone
/// would hide the real cause.
fn auth_for(xauthority: Option<&Path>, peer: &Peer, display: u16) -> (Vec<u8>, Vec<u8>, Option<String>) {
    match xauthority {
        Some(path) => match xauth::read_file(path) {
            Ok(entries) => match xauth::find(&entries, peer.0, &peer.1, display) {
                Some(e) => (e.name.clone(), e.data.clone(), None),
                None => {
                    (Vec::new(), Vec::new(), Some(format!("{} has no cookie for display {display}", path.display())))
                }
            },
            Err(e) => (Vec::new(), Vec::new(), Some(e)),
        },
        None => {
            use x11rb::reexports::x11rb_protocol::xauth::{get_auth, Family};
            // Like libX11: any problem with the default file means "try
            // without a cookie"; the server says whether that is enough.
            match get_auth(Family::from(peer.0), &peer.1, display) {
                Ok(Some((name, data))) => (name, data, None),
                _ => (Vec::new(), Vec::new(), None),
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        bail!("timed out");
    }
    Ok(left)
}

/// Waits until `stream` is ready for `flags`, or fails at the deadline.
fn wait(stream: &DefaultStream, flags: PollFlags, deadline: Instant) -> Result<()> {
    let left = remaining(deadline)?;
    let ms = u32::try_from(left.as_millis().max(1)).unwrap_or(u32::MAX);
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(stream.as_fd(), flags)];
    match nix::poll::poll(&mut fds, timeout) {
        Ok(0) => bail!("X server did not complete the connection setup in time"),
        Ok(_) => Ok(()),
        Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The connection setup exchange (x11rb's, with a deadline on every wait).
fn handshake(
    stream: &DefaultStream,
    auth_name: Vec<u8>,
    auth_data: Vec<u8>,
    deadline: Instant,
) -> Result<x11rb::protocol::xproto::Setup> {
    let (mut connect, request) = Connect::with_authorization(auth_name, auth_data);
    let mut fds = Vec::new();
    let mut written = 0;
    while written < request.len() {
        wait(stream, PollFlags::POLLOUT, deadline)?;
        match stream.write(&request[written..], &mut fds) {
            Ok(0) => bail!("X server closed the connection during setup"),
            Ok(n) => written += n,
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    loop {
        wait(stream, PollFlags::POLLIN, deadline)?;
        match stream.read(connect.buffer(), &mut fds) {
            Ok(0) => bail!("X server closed the connection during setup"),
            Ok(n) => {
                if connect.advance(n) {
                    break;
                }
            }
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The server's own words (e.g. "Invalid MIT-MAGIC-COOKIE-1 key") are in
    // the error; the hint says where to look.
    connect
        .into_setup()
        .map_err(|e| anyhow!("X server refused the connection ({e}); is the session's Xauthority file right?"))
}

fn retryable(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted)
}
