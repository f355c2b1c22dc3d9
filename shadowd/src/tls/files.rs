//! Finding `shadowingcert.*` and `shadowingkey.*` in the SSL dir.
//!
//! The seed: "An incorrect name or path makes the Linux VDA unable to find a
//! specific certificate or key file and therefore causes connection failure
//! with Citrix Director." The failure it describes is silent; here it is a
//! message that says what *was* found, so `cert.pem` next to `server.key`
//! reads as a naming problem, not as "no certificate".
//!
//! `list` is the only IO (one `read_dir`); everything else is over its result.

use super::{checkpoint, Check};
use std::io;
use std::path::{Path, PathBuf};

/// One directory entry, reduced to what the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// What reading the SSL dir gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listing {
    Missing,
    NotADirectory,
    Unreadable(String),
    Entries(Vec<Entry>),
}

/// The file role being looked for, and the glob the seed gives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Cert,
    Key,
}

impl Role {
    fn prefix(self) -> &'static str {
        match self {
            Role::Cert => "shadowingcert.",
            Role::Key => "shadowingkey.",
        }
    }
    fn other(self) -> Role {
        match self {
            Role::Cert => Role::Key,
            Role::Key => Role::Cert,
        }
    }
    fn check_name(self) -> &'static str {
        match self {
            Role::Cert => checkpoint::CERT_FILE,
            Role::Key => checkpoint::KEY_FILE,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Role::Cert => "certificate",
            Role::Key => "private key",
        }
    }
    fn example(self) -> &'static str {
        match self {
            Role::Cert => "shadowingcert.pem",
            Role::Key => "shadowingkey.key",
        }
    }
    /// Whether `name` matches the glob `shadowingcert.*` / `shadowingkey.*`
    /// (the `*` must stand for something: `shadowingcert.` is not a match).
    fn matches(self, name: &str) -> bool {
        name.len() > self.prefix().len() && name.starts_with(self.prefix())
    }
}

/// Reads the SSL dir (the only IO in this module). Symlinks are followed
/// to tell files from directories, since certificates are often links
/// (e.g. into a certbot or IPA store).
pub(crate) fn list(dir: &Path) -> Listing {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Listing::Missing,
        Err(_) if dir.exists() && !dir.is_dir() => return Listing::NotADirectory,
        Err(e) => return Listing::Unreadable(e.to_string()),
    };
    let mut entries = Vec::new();
    for entry in read {
        match entry {
            Ok(entry) => entries
                .push(Entry { name: entry.file_name().to_string_lossy().into_owned(), is_dir: entry.path().is_dir() }),
            Err(e) => return Listing::Unreadable(e.to_string()),
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Listing::Entries(entries)
}

/// The SSL directory checkpoint.
pub(crate) fn dir_check(dir: &Path, listing: &Listing) -> Check {
    let name = checkpoint::SSL_DIR;
    let d = dir.display();
    match listing {
        Listing::Missing => Check::fail(
            name,
            format!("{d} does not exist"),
            format!("create {d} and put shadowingcert.* and shadowingkey.* in it (or pass --ssl-dir)"),
        ),
        Listing::NotADirectory => Check::fail(
            name,
            format!("{d} is not a directory"),
            format!("make {d} a directory holding shadowingcert.* and shadowingkey.*"),
        ),
        Listing::Unreadable(e) => Check::fail(
            name,
            format!("cannot read {d}: {e}"),
            format!("run shadowd as a user that can read {d} (root by default)"),
        ),
        Listing::Entries(entries) => Check::pass(name, format!("{d} exists ({} entries)", entries.len())),
    }
}

/// The certificate-file or key-file checkpoint, and the path when there is
/// exactly one candidate.
pub(crate) fn pick(dir: &Path, listing: &Listing, role: Role) -> (Check, Option<PathBuf>) {
    let name = role.check_name();
    let Listing::Entries(entries) = listing else {
        return (Check::skipped(name, &format!("{} is not usable", dir.display()), checkpoint::SSL_DIR), None);
    };
    let files = || entries.iter().filter(|e| !e.is_dir);
    let candidates: Vec<&str> = files().filter(|e| role.matches(&e.name)).map(|e| e.name.as_str()).collect();
    let d = dir.display();
    let glob = format!("{}*", role.prefix());
    match candidates.as_slice() {
        [one] => {
            let path = dir.join(one);
            let detail = format!("found {}", path.display());
            (Check::pass(name, detail), Some(path))
        }
        [] => {
            // Whatever else is there (except the other role's file) is a
            // likely misnamed candidate: name it, so the fix is obvious.
            let others: Vec<&str> =
                files().filter(|e| !role.other().matches(&e.name)).map(|e| e.name.as_str()).collect();
            let found = if others.is_empty() {
                "nothing else is there".to_string()
            } else {
                format!("found instead: {}", others.join(", "))
            };
            let detail = format!(
                "no {} file named {glob} in {d} ({found}); the {} must be named {glob}",
                role.what(),
                role.what()
            );
            let fix = format!(
                "install the {} as {} (names are case-sensitive)",
                role.what(),
                dir.join(role.example()).display()
            );
            (Check::fail(name, detail, fix), None)
        }
        many => {
            let paths: Vec<String> = many.iter().map(|n| dir.join(n).display().to_string()).collect();
            let detail = format!(
                "{} files match {glob} in {d}: {}; which one to use is ambiguous",
                many.len(),
                paths.join(" and ")
            );
            let fix = format!("keep exactly one {glob} in {d}: remove or rename the others");
            (Check::fail(name, detail, fix), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(names: &[&str]) -> Listing {
        Listing::Entries(names.iter().map(|n| Entry { name: n.to_string(), is_dir: n.ends_with('/') }).collect())
    }

    #[test]
    fn one_candidate_is_picked() {
        let dir = Path::new("/ssl");
        let l = listing(&["shadowingcert.pem", "shadowingkey.key", "README"]);
        let (c, p) = pick(dir, &l, Role::Cert);
        assert!(c.ok, "{c:?}");
        assert_eq!(p.as_deref(), Some(Path::new("/ssl/shadowingcert.pem")));
        let (c, p) = pick(dir, &l, Role::Key);
        assert!(c.ok);
        assert_eq!(p.as_deref(), Some(Path::new("/ssl/shadowingkey.key")));
    }

    #[test]
    fn misnamed_files_are_named_in_the_message() {
        let l = listing(&["cert.pem", "server.key", "shadowingkey.key", "shadowingcert.d/"]);
        let (c, p) = pick(Path::new("/ssl"), &l, Role::Cert);
        assert!(!c.ok && p.is_none());
        assert!(c.detail.contains("cert.pem, server.key"), "{}", c.detail);
        assert!(!c.detail.contains("shadowingkey.key"), "{}", c.detail);
        // A directory named like the glob is not a candidate.
        assert!(!c.detail.contains("shadowingcert.d"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("/ssl/shadowingcert.pem"));
    }

    #[test]
    fn two_candidates_are_both_named_and_the_bare_prefix_is_no_candidate() {
        let l = listing(&["shadowingcert.crt", "shadowingcert.pem", "shadowingkey."]);
        let (c, p) = pick(Path::new("/ssl"), &l, Role::Cert);
        assert!(!c.ok && p.is_none());
        assert!(c.detail.contains("/ssl/shadowingcert.crt and /ssl/shadowingcert.pem"));
        let (c, _) = pick(Path::new("/ssl"), &l, Role::Key);
        assert!(!c.ok);
        assert!(c.detail.contains("found instead: shadowingkey."), "{}", c.detail);
    }
}
