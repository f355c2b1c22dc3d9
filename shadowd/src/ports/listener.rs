//! Binding a shadow port (IO). The daemon binds the port itself and hands
//! the listening socket to the backend, so there is no window between
//! "port looks free" and "backend listens" in which another process could
//! take it, and a stale backend can never hold a port the pool gave away.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// Binds `port` on every address family: one dual-stack IPv6 socket
/// (`[::]:port`, v6only off) where IPv6 exists, else IPv4 `0.0.0.0:port`.
pub fn bind_shadow_port(port: u16) -> io::Result<TcpListener> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn6};
    let v6 = socket::socket(AddressFamily::Inet6, SockType::Stream, SockFlag::SOCK_CLOEXEC, None);
    match v6 {
        Ok(fd) => {
            socket::setsockopt(&fd, sockopt::Ipv6V6Only, &false)?;
            socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            let addr = SockaddrIn6::from(std::net::SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
            socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)?;
            socket::listen(&fd, socket::Backlog::new(64).expect("64 is a valid backlog"))?;
            Ok(TcpListener::from(fd))
        }
        Err(nix::errno::Errno::EAFNOSUPPORT) => TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        Err(e) => Err(e.into()),
    }
}

/// Whether any port of `range` could be bound right now: checked before the
/// user is asked, so nobody is asked for a shadow that cannot be served.
/// Ports held by live shadows are bound by their backends, so they count as
/// taken here too.
pub fn any_bindable(range: super::PortRange) -> bool {
    range.iter().any(|p| bind_shadow_port(p).is_ok())
}

/// Ports of `range` that could be bound right now (for `doctor`).
pub fn bindable_ports(range: super::PortRange) -> Vec<u16> {
    range.iter().filter(|p| bind_shadow_port(*p).is_ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_held_by_another_socket_cannot_be_bound() {
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = other.local_addr().unwrap().port();
        let err = bind_shadow_port(port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_bound_shadow_port_accepts_ipv4_and_ipv6() {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let l = bind_shadow_port(port).unwrap();
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        if std::net::TcpStream::connect(("::1", port)).is_err() {
            // Hosts without IPv6 loopback get the IPv4 fallback only.
            assert!(l.local_addr().unwrap().is_ipv4());
        }
    }
}
