//! `shadowd doctor`: the seed's troubleshooting section as a command. Each
//! checkpoint prints PASS or FAIL with what was found and, on failure, the
//! fix. Checks that read the system live in `probe`; the verdicts on what
//! they found are pure functions here, tested without the system.

mod probe;

pub use crate::tls::Check;

use crate::ports::{ephemeral, PortRange};
use std::path::{Path, PathBuf};

/// Everything `doctor` looks at.
pub struct DoctorInput<'a> {
    pub registry: &'a crate::registry::RegistryFile,
    pub ssl_dir: &'a Path,
    pub log_file: &'a Path,
    pub ports: crate::ports::PortRange,
    pub fqdn: &'a str,
    /// Only this display, e.g. `:3` (default: every running one).
    pub display: Option<&'a str>,
}

pub fn run(input: &DoctorInput) -> Vec<Check> {
    let mut checks = vec![
        x11vnc_version(probe::command_output("x11vnc", &["-version"]).as_deref()),
        installed("websockify", probe::which("websockify"), "install it: pip3 install websockify (Debian: apt-get install websockify)"),
        installed("netstat", probe::which("netstat"), "install net-tools (apt-get install net-tools / yum install net-tools); /var/xdl/sessionshadowing.sh needs it"),
        rebind_so(probe::which("websockify").map(|ws| {
            let found = probe::rebind_so_for(&ws);
            (ws, found)
        }), probe::find_rebind_so()),
    ];
    checks.push(free_ports(input.ports, &crate::ports::listener::bindable_ports(input.ports)));
    checks.push(ephemeral_ports(
        input.ports,
        ephemeral::read(ephemeral::LOCAL_PORT_RANGE).as_deref(),
        ephemeral::read(ephemeral::RESERVED_PORTS).as_deref(),
    ));
    checks.push(firewall(input.ports, probe::firewall_rules().as_deref()));
    let registry = input.registry.load();
    let use_ssl = match &registry {
        Ok(reg) => {
            let p = reg.policy();
            checks.push(pass(
                "registry",
                format!(
                    "{}: EnableSessionShadowing={} ShadowingUseSSL={} ShadowingConsentTimeout={}s",
                    input.registry.path.display(),
                    u8::from(p.enabled),
                    u8::from(reg.use_ssl()),
                    p.consent_timeout.as_secs()
                ),
            ));
            if !p.enabled {
                checks.push(fail(
                    "session shadowing enabled",
                    "EnableSessionShadowing=0: every request is refused".into(),
                    r#"shadowd reg update -k "HKLM\Software\Citrix\VirtualDesktopAgent" -v "EnableSessionShadowing" -d "0x00000001""#,
                ));
            }
            reg.use_ssl()
        }
        Err(e) => {
            checks.push(fail("registry", e.to_string(), "fix the line named, or remove the file to get the defaults"));
            false
        }
    };
    if use_ssl {
        checks.extend(crate::tls::inspect(input.ssl_dir, input.fqdn, time::OffsetDateTime::now_utc()));
    } else {
        checks.push(pass(
            "TLS",
            "ShadowingUseSSL=0: ws:// is used, no certificate needed (wss:// is recommended)".into(),
        ));
    }
    checks.push(match crate::daemon::fqdn::resolves(input.fqdn) {
        Ok(addrs) => pass("FQDN resolves", format!("{} → {addrs:?}", input.fqdn)),
        Err(e) => {
            fail("FQDN resolves", e, "the Director connects by FQDN: add it to DNS (or /etc/hosts), or pass --fqdn")
        }
    });
    let sessions: Vec<_> =
        crate::sessions::discover().into_iter().filter(|s| input.display.is_none_or(|d| d == s.display)).collect();
    checks.extend(displays(&sessions));
    checks.push(log_dir(input.log_file));
    checks
}

fn pass(name: &str, detail: String) -> Check {
    Check { name: name.into(), ok: true, detail, fix: None }
}

fn fail(name: &str, detail: String, fix: &str) -> Check {
    Check { name: name.into(), ok: false, detail, fix: Some(fix.into()) }
}

/// `x11vnc: 0.9.16 lastmod: 2019-01-05` → (0, 9, 16).
pub fn parse_x11vnc_version(output: &str) -> Option<(u32, u32, u32)> {
    let v =
        output.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))?;
    let mut parts = v.split('.').map(|p| p.trim_matches(|c: char| !c.is_ascii_digit()).parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

pub fn x11vnc_version(output: Option<&str>) -> Check {
    const NAME: &str = "x11vnc ≥ 0.9.13";
    const FIX: &str =
        "install x11vnc 0.9.13 or later (apt-get/yum/zypper install x11vnc; on RHEL enable EPEL and CodeReady)";
    match output.map(|o| (o, parse_x11vnc_version(o))) {
        None => fail(NAME, "x11vnc not found on PATH".into(), FIX),
        Some((o, None)) => fail(NAME, format!("cannot read a version from `x11vnc -version`: {}", o.trim()), FIX),
        Some((_, Some(v))) if v >= (0, 9, 13) => pass(NAME, format!("x11vnc {}.{}.{}", v.0, v.1, v.2)),
        Some((_, Some(v))) => fail(NAME, format!("x11vnc {}.{}.{} is older than 0.9.13", v.0, v.1, v.2), FIX),
    }
}

fn installed(name: &str, path: Option<std::path::PathBuf>, fix: &str) -> Check {
    match path {
        Some(p) => pass(name, format!("{}", p.display())),
        None => fail(name, format!("{name} not found on PATH"), fix),
    }
}

/// `websockify`: the websockify on PATH and the rebind.so it would find
/// (see `probe::websockify_rebind_dirs`); `anywhere`: a rebind.so found in
/// the usual places, wherever websockify looks.
pub fn rebind_so(websockify: Option<(PathBuf, Option<PathBuf>)>, anywhere: Option<PathBuf>) -> Check {
    const NAME: &str = "rebind.so";
    const RHEL8: &str = "on RHEL 8: ln -s /usr/bin/rebind.so /usr/local/bin/rebind.so";
    match (websockify, anywhere) {
        (Some((ws, Some(found))), _) => pass(NAME, format!("{} (found by {})", found.display(), ws.display())),
        (Some((ws, None)), Some(elsewhere)) => {
            let dirs: Vec<String> =
                probe::websockify_rebind_dirs(&ws).iter().map(|d| d.display().to_string()).collect();
            let wsdir = ws.parent().unwrap_or(Path::new("/"));
            fail(
                NAME,
                format!(
                    "rebind.so is at {} but {} looks only in {}: it cannot wrap x11vnc (\"rebind.so not found\")",
                    elsewhere.display(),
                    ws.display(),
                    dirs.join(", ")
                ),
                &format!("ln -s {} {} ({RHEL8})", elsewhere.display(), wsdir.join("rebind.so").display()),
            )
        }
        // What `pip3 install websockify` gives today: PyPI's websockify
        // (0.13.0 in the Ubuntu testbeds) ships no rebind.so at all, so
        // reinstalling it, or the seed's symlink, cannot help.
        (Some((ws, None)), None) => {
            let first = probe::websockify_rebind_dirs(&ws).into_iter().next();
            let into = first.map_or_else(|| "where websockify looks".to_string(), |d| d.display().to_string());
            fail(
                NAME,
                format!("websockify's rebind.so not found (neither where {} looks nor elsewhere)", ws.display()),
                &format!(
                    "websockify from PyPI ships no rebind.so: build it from websockify's source (`make rebind.so`, \
                     needs gcc) into {into}, or install the distribution's websockify package \
                     (Debian/Ubuntu: apt-get install websockify); {RHEL8}"
                ),
            )
        }
        // No websockify on PATH (its own check fails): say what is there.
        (None, Some(p)) => pass(NAME, format!("{} (websockify itself is not on PATH)", p.display())),
        (None, None) => fail(
            NAME,
            "websockify's rebind.so not found (websockify cannot wrap x11vnc)".into(),
            &format!("install websockify (pip3 install websockify); {RHEL8}"),
        ),
    }
}

pub fn free_ports(range: crate::ports::PortRange, bindable: &[u16]) -> Check {
    let name = format!("free ports in {range}");
    let busy = range.len() - bindable.len();
    if bindable.is_empty() {
        fail(
            &name,
            format!("none of the {} ports is free", range.len()),
            "stop what holds them (ss -ltnp), or choose another --port-range",
        )
    } else {
        let mut detail = format!("{} of {} free", bindable.len(), range.len());
        if busy > 0 {
            let taken: Vec<String> =
                range.iter().filter(|p| !bindable.contains(p)).take(10).map(|p| p.to_string()).collect();
            detail.push_str(&format!("; in use: {}{}", taken.join(", "), if busy > 10 { " …" } else { "" }));
        }
        pass(&name, detail)
    }
}

/// Shadow ports inside the kernel's ephemeral range (`ip_local_port_range`)
/// can be taken at any moment as the local port of some outgoing connection;
/// a shadow then skips to the next port, and the last one is refused with
/// no_free_port while the range looks free. Ports listed in
/// `ip_local_reserved_ports` are never handed out that way.
pub fn ephemeral_ports(range: PortRange, local: Option<&str>, reserved: Option<&str>) -> Check {
    const NAME: &str = "shadow ports outside the ephemeral range";
    let Some(PortRange { first: lo, last: hi }) = local.and_then(ephemeral::parse_local_port_range) else {
        return pass(NAME, "net.ipv4.ip_local_port_range unreadable: not checked".into());
    };
    let reserved = reserved.map(ephemeral::parse_reserved_ports).unwrap_or_default();
    let exposed: Vec<u16> =
        range.iter().filter(|p| (lo..=hi).contains(p) && !reserved.iter().any(|r| r.contains(*p))).collect();
    match (exposed.first(), exposed.last()) {
        (Some(first), Some(last)) => fail(
            NAME,
            format!(
                "{} of the ports {range} ({first}-{last}) lie in the kernel's ephemeral range {lo}-{hi}: any \
                 outgoing connection may take one, and shadows then lose ports at random",
                exposed.len()
            ),
            &format!(
                "choose a --port-range below {lo} (the seed's 6001-6099 is), or reserve the ports: \
                 sysctl -w net.ipv4.ip_local_reserved_ports={range}"
            ),
        ),
        _ if range.iter().any(|p| (lo..=hi).contains(&p)) => {
            pass(NAME, format!("{range} overlaps {lo}-{hi} but is reserved (ip_local_reserved_ports)"))
        }
        _ => pass(NAME, format!("{range} is outside the ephemeral range {lo}-{hi}")),
    }
}

/// Looks for drop/reject rules on ports of the range in `nft list ruleset`
/// or `iptables-save` output.
pub fn firewall(range: crate::ports::PortRange, rules: Option<&str>) -> Check {
    const NAME: &str = "firewall";
    let Some(rules) = rules else {
        return pass(NAME, "no nft or iptables found: no host firewall to check".into());
    };
    let blocking: Vec<&str> = rules
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            (l.contains("drop") || l.contains("reject")) && l.contains("dport") && mentions_port_in(&l, range)
        })
        .collect();
    if blocking.is_empty() {
        pass(NAME, format!("no rule drops or rejects ports {range}"))
    } else {
        fail(
            NAME,
            format!("rules block shadow ports: {}", blocking.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" | ")),
            "allow TCP ports of the range from the Director clients (e.g. nft delete rule …, firewall-cmd --add-port=6001-6099/tcp)",
        )
    }
}

fn mentions_port_in(line: &str, range: crate::ports::PortRange) -> bool {
    let nums = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u32>().ok());
    let mut prev: Option<u32> = None;
    for n in nums {
        if n <= u16::MAX as u32 && range.contains(n as u16) {
            return true;
        }
        // A range like 6000-6100 or 6000:6100 covering ours.
        if let Some(p) = prev {
            if p < range.first as u32 && n > range.last as u32 && n <= u16::MAX as u32 {
                return true;
            }
        }
        prev = Some(n);
    }
    false
}

fn displays(sessions: &[crate::sessions::Session]) -> Vec<Check> {
    if sessions.is_empty() {
        return vec![fail(
            "X display reachable",
            "no X server (Xorg/Xvfb) found: `ps aux | grep -i xorg` shows none".into(),
            "start the user's session first; shadowing needs a running X display",
        )];
    }
    sessions
        .iter()
        .map(|s| {
            let name = format!("X display {} reachable", s.display);
            match probe::x_display_reachable(&s.display, s.xauthority.as_deref()) {
                Ok(()) => pass(&name, format!("{} (pid {}, user {})", s.server, s.pid, s.user)),
                Err(e) => {
                    fail(&name, e, "check the session's Xauthority file and that the X server accepts local clients")
                }
            }
        })
        .collect()
}

fn log_dir(log_file: &Path) -> Check {
    let dir = log_file.parent().unwrap_or(Path::new("/"));
    let name = "log file";
    match std::fs::OpenOptions::new().create(true).append(true).open(log_file) {
        Ok(_) => pass(name, format!("{} is writable; tail it while shadowing", log_file.display())),
        Err(e) => fail(
            name,
            format!("cannot write {}: {e}", log_file.display()),
            &format!("mkdir -p {} or pass --log-file", dir.display()),
        ),
    }
}

/// Human-readable report; returns whether everything passed.
pub fn print(checks: &[Check], out: &mut impl std::io::Write) -> std::io::Result<bool> {
    for c in checks {
        writeln!(out, "{} {}: {}", if c.ok { "PASS" } else { "FAIL" }, c.name, c.detail)?;
        if let (false, Some(fix)) = (c.ok, &c.fix) {
            writeln!(out, "     fix: {fix}")?;
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    writeln!(out, "{} passed, {} failed", checks.len() - failed, failed)?;
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x11vnc_versions() {
        assert_eq!(parse_x11vnc_version("x11vnc: 0.9.16 lastmod: 2019-01-05"), Some((0, 9, 16)));
        assert!(x11vnc_version(Some("x11vnc: 0.9.16 lastmod: 2019-01-05")).ok);
        let old = x11vnc_version(Some("x11vnc: 0.9.12 lastmod: 2010-09-09"));
        assert!(!old.ok && old.detail.contains("older than 0.9.13"), "{old:?}");
        assert!(!x11vnc_version(None).ok);
        assert!(!x11vnc_version(Some("garbage")).ok);
    }

    #[test]
    fn ephemeral_range_verdicts() {
        let seed: crate::ports::PortRange = "6001-6099".parse().unwrap();
        let c = ephemeral_ports(seed, Some("32768\t60999\n"), Some("\n"));
        assert!(c.ok && c.detail.contains("outside the ephemeral range 32768-60999"), "{c:?}");

        let high: crate::ports::PortRange = "40000-40098".parse().unwrap();
        let c = ephemeral_ports(high, Some("32768\t60999\n"), Some(""));
        assert!(!c.ok && c.detail.contains("99 of the ports 40000-40098"), "{c:?}");
        assert!(c.fix.as_deref().unwrap().contains("ip_local_reserved_ports=40000-40098"), "{c:?}");

        // Straddling the start: only the ports inside count.
        let edge: crate::ports::PortRange = "32760-32770".parse().unwrap();
        let c = ephemeral_ports(edge, Some("32768 60999"), None);
        assert!(!c.ok && c.detail.contains("3 of the ports 32760-32770 (32768-32770)"), "{c:?}");

        // Reserved ports are safe; a partial reservation is not enough.
        let c = ephemeral_ports(high, Some("32768 60999"), Some("1000,40000-40098\n"));
        assert!(c.ok && c.detail.contains("reserved"), "{c:?}");
        let c = ephemeral_ports(high, Some("32768 60999"), Some("40000-40050"));
        assert!(!c.ok && c.detail.contains("48 of the ports"), "{c:?}");

        let c = ephemeral_ports(high, None, None);
        assert!(c.ok && c.detail.contains("not checked"), "{c:?}");
    }

    #[test]
    fn free_ports_verdicts() {
        let r: crate::ports::PortRange = "6001-6003".parse().unwrap();
        assert!(!free_ports(r, &[]).ok);
        let c = free_ports(r, &[6002]);
        assert!(c.ok && c.detail.contains("1 of 3 free") && c.detail.contains("in use: 6001, 6003"), "{c:?}");
    }

    #[test]
    fn firewall_rules_that_block_the_range() {
        let r = crate::ports::PortRange::default();
        let nft = "table inet filter {\n chain input {\n  tcp dport 6005 drop\n }\n}";
        assert!(!firewall(r, Some(nft)).ok);
        assert!(!firewall(r, Some("-A INPUT -p tcp --dport 6000:6100 -j REJECT")).ok);
        assert!(firewall(r, Some("tcp dport 22 drop\ntcp dport 6005 accept")).ok);
        assert!(firewall(r, None).ok);
    }

    #[test]
    fn missing_rebind_so_names_the_rhel8_fix() {
        let c = rebind_so(None, None);
        assert!(!c.ok && c.fix.unwrap().contains("ln -s /usr/bin/rebind.so /usr/local/bin/rebind.so"));
    }

    #[test]
    fn rebind_so_where_websockify_does_not_look_is_the_rhel8_trap() {
        // pip3 install websockify on RHEL 8: the script in /usr/local/bin,
        // rebind.so in /usr/bin, which websockify never searches.
        let ws = PathBuf::from("/usr/local/bin/websockify");
        let c = rebind_so(Some((ws.clone(), None)), Some("/usr/bin/rebind.so".into()));
        assert!(!c.ok, "{c:?}");
        assert!(
            c.detail.contains("rebind.so is at /usr/bin/rebind.so but /usr/local/bin/websockify looks only in"),
            "{c:?}"
        );
        assert!(c.detail.contains("/usr/local/lib/websockify"), "{c:?}");
        assert_eq!(
            c.fix.as_deref().unwrap().split(" (").next(),
            Some("ln -s /usr/bin/rebind.so /usr/local/bin/rebind.so")
        );
        let ok = rebind_so(Some((ws, Some("/usr/local/bin/rebind.so".into()))), None);
        assert!(ok.ok && ok.detail.contains("found by /usr/local/bin/websockify"), "{ok:?}");
        let nowhere = rebind_so(Some(("/usr/local/bin/websockify".into(), None)), None);
        assert!(!nowhere.ok);
        let fix = nowhere.fix.unwrap();
        assert!(fix.contains("ships no rebind.so") && fix.contains("into /usr/local/lib"), "{fix}");
        assert!(rebind_so(None, Some("/usr/lib/websockify/rebind.so".into())).ok);
    }

    #[test]
    fn websockify_searches_relative_to_its_own_path() {
        let dirs = probe::websockify_rebind_dirs(Path::new("/usr/bin/websockify"));
        let want: Vec<PathBuf> =
            ["/usr/lib", "/usr/lib/websockify", "/usr", "/usr/bin"].iter().map(PathBuf::from).collect();
        assert_eq!(dirs, want);
    }
}
