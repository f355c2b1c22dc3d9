//! The host's FQDN: the Director connects by name, not by IP (seed).

/// `gethostname()` canonicalised through the resolver (like `hostname -f`).
pub fn host_fqdn() -> String {
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into());
    let hints = dns_lookup::AddrInfoHints { flags: libc_ai_canonname(), ..Default::default() };
    dns_lookup::getaddrinfo(Some(&host), None, Some(hints))
        .ok()
        .and_then(|mut it| it.next())
        .and_then(|r| r.ok())
        .and_then(|ai| ai.canonname)
        .filter(|c| !c.is_empty())
        .unwrap_or(host)
}

fn libc_ai_canonname() -> i32 {
    nix::libc::AI_CANONNAME
}

/// Whether `name` resolves to an address (doctor's "FQDN resolves").
pub fn resolves(name: &str) -> Result<Vec<std::net::IpAddr>, String> {
    dns_lookup::lookup_host(name).map_err(|e| format!("{name} does not resolve: {e}"))
}
