//! The Ubuntu bootstrap trusts Ubuntu's archive only through the signing
//! key kept in `testbed/ubuntu/`, checked against a pinned fingerprint:
//! these tests prove the key in the repository is that key, and that any
//! other key is refused before anything is downloaded. (The bootstrap
//! itself runs in the testbed runs: `shadowsim matrix --distros ubuntu-…`.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn script() -> PathBuf {
    workspace().join("testbed/ubuntu/bootstrap")
}

/// The fingerprint the script pins (its `FINGERPRINT=` line).
fn pinned() -> String {
    let text = std::fs::read_to_string(script()).expect("testbed/ubuntu/bootstrap");
    text.lines()
        .find_map(|l| l.strip_prefix("FINGERPRINT="))
        .expect("a FINGERPRINT= line in testbed/ubuntu/bootstrap")
        .trim()
        .to_string()
}

/// Fingerprints of the primary keys in a key file, as gpg reads them.
fn fingerprints(key: &Path) -> Vec<String> {
    let out = Command::new("gpg")
        .args(["--show-keys", "--with-colons"])
        .arg(key)
        .output()
        .expect("gpg runs (ci/setup installs it: apt-get install gpg)");
    assert!(out.status.success(), "gpg cannot read {}: {}", key.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut all = Vec::new();
    let mut primary = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields[0] {
            "pub" => primary = true,
            "sub" => primary = false,
            "fpr" if primary => {
                all.push(fields[9].to_string());
                primary = false;
            }
            _ => {}
        }
    }
    all
}

#[test]
fn the_kept_ubuntu_archive_key_is_the_pinned_one() {
    let key = workspace().join("testbed/ubuntu/ubuntu-archive-2018.asc");
    let pinned = pinned();
    assert_eq!(pinned.len(), 40, "a full v4 fingerprint is pinned, not a short id: {pinned}");
    assert_eq!(fingerprints(&key), vec![pinned], "{} must hold exactly the pinned key", key.display());
}

#[test]
fn a_key_that_is_not_ubuntus_is_refused_before_any_download() {
    // Debian's archive keyring: a real, valid key file, just not Ubuntu's.
    let other = Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    let theirs = fingerprints(other);
    assert!(!theirs.is_empty(), "{} holds no key", other.display());
    let out = Command::new(script())
        .args(["jammy", "localhost/shadowsim-test-never-imported:x"])
        .env("UBUNTU_ARCHIVE_KEY", other)
        // Nothing may get as far as the engine or the mirror.
        .env("ENGINE", "false")
        .env("MIRROR", "http://127.0.0.1:9/never-contacted")
        .output()
        .expect("running testbed/ubuntu/bootstrap");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the bootstrap accepted Debian's key as Ubuntu's:\n{stderr}");
    assert!(stderr.contains("refusing to bootstrap"), "no refusal said: {stderr}");
    assert!(stderr.contains(&theirs[0]), "the refusal does not name the key it found: {stderr}");
    assert!(stderr.contains(&pinned()), "the refusal does not name the key it wants: {stderr}");
}
