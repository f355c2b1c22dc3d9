//! Which browser pages may open a shadow's WebSocket. A browser always sends
//! `Origin` on a WebSocket handshake, so checking it stops another web site
//! open in the admin's browser from using a leaked URL and password
//! (cross-site WebSocket hijacking). Clients that are not browsers send no
//! Origin and are let through: they are not subject to that attack.

/// Origins allowed to connect, compared case-insensitively and without a
/// trailing slash. `*` allows any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    pub fn new(allowed: impl IntoIterator<Item = String>) -> Self {
        OriginPolicy { allowed: allowed.into_iter().map(|o| normalise(&o)).collect() }
    }

    /// The default: the daemon's own console, reached by FQDN or by the
    /// control listener's address, over http or https.
    pub fn console_default(fqdn: &str, control: std::net::SocketAddr) -> Self {
        let port = control.port();
        let mut hosts = vec![fqdn.to_string(), control.ip().to_string()];
        if control.ip().is_loopback() {
            hosts.push("localhost".into());
        }
        let allowed = hosts
            .iter()
            .flat_map(|h| {
                let h = if h.contains(':') { format!("[{h}]") } else { h.clone() };
                [format!("http://{h}:{port}"), format!("https://{h}:{port}")]
            })
            .collect::<Vec<_>>();
        OriginPolicy::new(allowed)
    }

    /// `Ok` to accept; `Err` with the reason to refuse (HTTP 403).
    pub fn check(&self, origin: Option<&str>) -> Result<(), String> {
        let Some(origin) = origin else { return Ok(()) };
        let o = normalise(origin);
        if self.allowed.iter().any(|a| a == "*" || *a == o) {
            Ok(())
        } else {
            Err(format!("origin {origin:?} is not allowed to open shadow connections"))
        }
    }

    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_origins_pass_others_fail() {
        let p = OriginPolicy::console_default("vda1.example.com", "127.0.0.1:8071".parse().unwrap());
        assert!(p.check(Some("http://vda1.example.com:8071")).is_ok());
        assert!(p.check(Some("HTTPS://VDA1.example.com:8071/")).is_ok());
        assert!(p.check(Some("http://localhost:8071")).is_ok());
        assert!(p.check(Some("http://127.0.0.1:8071")).is_ok());
        assert!(p.check(Some("http://evil.example.net")).unwrap_err().contains("evil.example.net"));
        assert!(p.check(Some("http://vda1.example.com:8072")).is_err(), "another port is another origin");
        assert!(p.check(None).is_ok(), "non-browser clients send no Origin");
        assert!(OriginPolicy::new(["*".to_string()]).check(Some("http://x")).is_ok());
    }
}
