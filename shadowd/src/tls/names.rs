//! Does the certificate name this host? Pure string logic, no IO.
//!
//! The seed: "The Common Name for a server certificate must be the exact FQDN
//! of the Linux VDA or at least the correct wildcard plus domain characters,
//! e.g. vda1.basedomain.com or *.basedomain.com", and Chrome only looks at
//! the subjectAltName. So the FQDN must match a SAN DNS entry, and the CN too
//! when the subject has one. Wildcards follow RFC 6125 as browsers apply it:
//! `*` is a whole left-most label and stands for exactly one label.

use super::{checkpoint, Check};
use std::net::IpAddr;
use std::path::Path;

/// Lower-cased, without the trailing root dot: DNS names compare
/// case-insensitively and `vda1.example.com.` is the same name.
fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a certificate name (`vda1.example.com` or `*.example.com`)
/// covers `host`.
///
/// `*.example.com` matches `vda1.example.com` but neither `example.com` nor
/// `a.b.example.com` (a wildcard stands for one label). Partial-label
/// wildcards (`vda*.example.com`) and wildcards directly over a top-level
/// domain (`*.com`) match nothing, as in browsers.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (normalize(pattern), normalize(host));
    if pattern.is_empty() || host.is_empty() || host.contains('*') {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            // `*.com` would cover a whole TLD: browsers refuse it.
            if suffix.contains('*') || !suffix.contains('.') {
                return false;
            }
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == suffix,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

/// The verdict of the name checkpoint, before it is dressed as a `Check`
/// (which adds the file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameVerdict {
    /// Names that matched: the SAN entry (none when the certificate has no
    /// SAN extension at all) and the CN (if any).
    Match { san: Option<String>, cn: Option<String> },
    /// `fqdn` is not a DNS name at all (empty, or an IP address).
    NotAName,
    /// No SAN DNS entry covers the FQDN (`san` lists those present).
    SanMismatch { san: Vec<String> },
    /// The SAN matched (or is absent), but the subject's CN does not.
    CnMismatch { san: Option<String>, cns: Vec<String> },
    /// Neither a SAN extension nor a CN: nothing names any host.
    Nameless,
}

/// Decides the name checkpoint from the certificate's SAN DNS entries
/// (`None` when the SAN extension is absent) and subject CNs. When the
/// subject has several CNs (rare) one matching is enough.
///
/// A missing SAN extension is the subjectAltName checkpoint's failure, not
/// this one's: then only the CN is judged, so `doctor` tells "the SAN is
/// missing" apart from "the certificate is for another host".
pub(crate) fn verdict(fqdn: &str, san_dns: Option<&[String]>, cns: &[String]) -> NameVerdict {
    let host = normalize(fqdn);
    // The Director connects by FQDN; an IP address here means --fqdn (or the
    // host's own name) is misconfigured, not the certificate.
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return NameVerdict::NotAName;
    }
    let san = match san_dns {
        Some(entries) => match entries.iter().find(|p| dns_name_matches(p, &host)) {
            Some(entry) => Some(entry.clone()),
            None => return NameVerdict::SanMismatch { san: entries.to_vec() },
        },
        None if cns.is_empty() => return NameVerdict::Nameless,
        None => None,
    };
    if cns.is_empty() {
        return NameVerdict::Match { san, cn: None };
    }
    match cns.iter().find(|cn| dns_name_matches(cn, &host)) {
        Some(cn) => NameVerdict::Match { san, cn: Some(cn.clone()) },
        None => NameVerdict::CnMismatch { san, cns: cns.to_vec() },
    }
}

/// The wildcard that would cover `fqdn` (`*.example.com` for
/// `vda1.example.com`), for fix suggestions.
pub(crate) fn wildcard_for(fqdn: &str) -> Option<String> {
    let host = normalize(fqdn);
    let (_, rest) = host.split_once('.')?;
    rest.contains('.').then(|| format!("*.{rest}"))
}

/// The name checkpoint for the certificate at `path`.
pub(crate) fn name_check(path: &Path, fqdn: &str, san_dns: Option<&[String]>, cns: &[String]) -> Check {
    let name = checkpoint::NAME;
    let p = path.display();
    let names = match wildcard_for(fqdn) {
        Some(w) => format!("{fqdn} (or {w})"),
        None => fqdn.to_string(),
    };
    match verdict(fqdn, san_dns, cns) {
        NameVerdict::Match { san, cn } => {
            let matched = match (san, cn) {
                (Some(san), Some(cn)) => format!("SAN DNS:{san} and CN {cn}"),
                (Some(san), None) => format!("SAN DNS:{san} (no CN)"),
                // The SAN checkpoint reports the missing extension.
                (None, cn) => format!("CN {} (no SAN to match)", cn.unwrap_or_default()),
            };
            Check::pass(name, format!("{fqdn} matches {matched} of {p}"))
        }
        NameVerdict::NotAName => Check::fail(
            name,
            format!("the FQDN {fqdn:?} is not a DNS name; the Director connects by FQDN, not IP"),
            "pass the host's fully qualified domain name with --fqdn",
        ),
        NameVerdict::SanMismatch { san } => {
            let present = if san.is_empty() {
                "it has no SAN DNS entry".to_string()
            } else {
                format!("it has {}", san.iter().map(|s| format!("DNS:{s}")).collect::<Vec<_>>().join(", "))
            };
            Check::fail(
                name,
                format!("{p} is not issued for {fqdn}: no subjectAltName DNS entry matches ({present})"),
                format!("reissue the certificate with subjectAltName = DNS:{names}, or fix --fqdn"),
            )
        }
        NameVerdict::CnMismatch { san, cns } => {
            let san = san.map(|s| format!(" (the SAN DNS:{s} does)")).unwrap_or_default();
            Check::fail(
                name,
                format!("the Common Name (CN) {} of {p} does not match {fqdn}{san}", cns.join(", ")),
                format!("reissue the certificate with CN = {names}"),
            )
        }
        NameVerdict::Nameless => Check::fail(
            name,
            format!("{p} names no host: it has neither a subjectAltName nor a Common Name"),
            format!("reissue the certificate with CN = {names} and subjectAltName = DNS:{fqdn}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_match_case_insensitively_and_ignore_the_root_dot() {
        assert!(dns_name_matches("vda1.example.com", "vda1.example.com"));
        assert!(dns_name_matches("VDA1.Example.COM", "vda1.example.com"));
        assert!(dns_name_matches("vda1.example.com.", "Vda1.Example.Com"));
        assert!(!dns_name_matches("vda1.example.com", "vda2.example.com"));
        assert!(!dns_name_matches("vda1.example.com", "vda1.example.com.evil"));
        assert!(!dns_name_matches("", "vda1.example.com"));
    }

    #[test]
    fn a_wildcard_stands_for_exactly_one_left_most_label() {
        assert!(dns_name_matches("*.example.com", "vda1.example.com"));
        assert!(dns_name_matches("*.EXAMPLE.com", "VDA1.example.COM"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.example.com", ".example.com"));
        assert!(!dns_name_matches("*.example.com", "vda1.example.org"));
    }

    #[test]
    fn partial_tld_and_inner_wildcards_match_nothing() {
        assert!(!dns_name_matches("vda*.example.com", "vda1.example.com"));
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(!dns_name_matches("vda1.*.com", "vda1.example.com"));
        assert!(!dns_name_matches("*", "localhost"));
        // A host name is never a pattern.
        assert!(!dns_name_matches("*.example.com", "*.example.com"));
    }

    #[test]
    fn verdict_needs_the_san_and_the_cn() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let fqdn = "vda1.example.com";
        let one = s(&["vda1.example.com"]);
        assert_eq!(
            verdict(fqdn, Some(&one), &one),
            NameVerdict::Match { san: Some("vda1.example.com".into()), cn: Some("vda1.example.com".into()) }
        );
        assert!(matches!(verdict(fqdn, Some(&s(&["*.example.com"])), &[]), NameVerdict::Match { cn: None, .. }));
        assert_eq!(
            verdict(fqdn, Some(&s(&["other.example.com"])), &one),
            NameVerdict::SanMismatch { san: s(&["other.example.com"]) }
        );
        assert!(matches!(verdict(fqdn, Some(&one), &s(&["other.example.com"])), NameVerdict::CnMismatch { .. }));
        // A SAN without any DNS entry (say, only an IP) names no host: the
        // CN alone is not enough (Chrome ignores it).
        assert!(matches!(verdict(fqdn, Some(&[]), &one), NameVerdict::SanMismatch { .. }));
        // No SAN extension at all: that is the SAN checkpoint's failure;
        // here only the CN is judged.
        assert_eq!(verdict(fqdn, None, &one), NameVerdict::Match { san: None, cn: Some("vda1.example.com".into()) });
        assert!(matches!(verdict(fqdn, None, &s(&["other.example.com"])), NameVerdict::CnMismatch { san: None, .. }));
        assert_eq!(verdict(fqdn, None, &[]), NameVerdict::Nameless);
        assert_eq!(verdict("10.0.0.5", Some(&s(&["10.0.0.5"])), &[]), NameVerdict::NotAName);
        assert_eq!(verdict("", Some(&s(&["x.y.z"])), &[]), NameVerdict::NotAName);
    }

    #[test]
    fn wildcard_suggestion_needs_a_domain_of_two_labels() {
        assert_eq!(wildcard_for("vda1.example.com").as_deref(), Some("*.example.com"));
        assert_eq!(wildcard_for("vda1.local"), None);
        assert_eq!(wildcard_for("vda1"), None);
    }
}
