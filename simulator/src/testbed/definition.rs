//! One distribution's definition: `testbed/<id>/Containerfile`. The file is
//! the whole definition (it builds with plain `podman build` where its base
//! can be had); two things in it tell shadowsim where the base comes from:
//!
//! - `ARG BASE=<image>`: the base image it is built `FROM`;
//! - `# shadowsim: bootstrap <family> <suite>`: when that image is not in
//!   the local store, make it with `testbed/<family>/bootstrap <suite>
//!   <image>` (debootstrap from the distribution's package mirror) instead
//!   of pulling it from a registry, which is not reachable everywhere.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The stage holding what scenarios need at run time.
pub const RUN_STAGE: &str = "testbed";
/// The stage that adds a C toolchain, to build the binaries inside when the
/// host's cannot run there (an older glibc).
pub const BUILD_STAGE: &str = "builder";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// e.g. `debian-12`: the directory's name, used in case names.
    pub id: String,
    /// `testbed/<id>/`, the build context.
    pub dir: PathBuf,
    /// The Containerfile's text (its hash names the built image).
    pub containerfile: String,
    /// The default of `ARG BASE`.
    pub base: String,
    pub bootstrap: Option<Bootstrap>,
}

/// `# shadowsim: bootstrap debian bookworm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    pub family: String,
    pub suite: String,
}

/// The definitions present under `testbed/`, by id (sorted).
pub fn available(testbed: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(testbed)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("Containerfile").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

pub fn load(testbed: &Path, id: &str) -> Result<Definition> {
    let dir = testbed.join(id);
    let path = dir.join("Containerfile");
    if !path.is_file() {
        bail!(
            "no testbed definition {id:?}: {} does not exist (defined: {})",
            path.display(),
            available(testbed).join(", ")
        );
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(id, dir, text)
}

/// Reads the base and bootstrap lines of a Containerfile.
pub fn parse(id: &str, dir: PathBuf, text: String) -> Result<Definition> {
    let mut base = None;
    let mut bootstrap = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("ARG BASE=") {
            base.get_or_insert_with(|| v.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("# shadowsim: bootstrap ") {
            let mut words = rest.split_whitespace();
            match (words.next(), words.next()) {
                (Some(f), Some(s)) => bootstrap = Some(Bootstrap { family: f.into(), suite: s.into() }),
                _ => bail!("{id}/Containerfile: `# shadowsim: bootstrap` needs a family and a suite"),
            }
        }
    }
    let Some(base) = base else {
        bail!("{id}/Containerfile has no `ARG BASE=<image>` line (its FROM must be ${{BASE}})");
    };
    Ok(Definition { id: id.into(), dir, containerfile: text, base, bootstrap })
}

impl Definition {
    /// The image built from this definition on `base_id` (the base image's
    /// id): its tag is a hash of both, so an image is rebuilt exactly when
    /// the definition or its base changed, and reused otherwise.
    pub fn image(&self, stage: &str, base_id: &str) -> String {
        let hash = fnv1a(&[self.containerfile.as_bytes(), base_id.as_bytes(), stage.as_bytes()]);
        format!("{}:{stage}-{:012x}", self.repository(), hash & 0xffff_ffff_ffff)
    }

    /// `localhost/shadowsim-testbed-<id>`.
    pub fn repository(&self) -> String {
        format!("localhost/shadowsim-testbed-{}", self.id)
    }
}

/// FNV-1a, 64 bits: stable across Rust versions (unlike `DefaultHasher`),
/// which matters for a cache key kept between runs.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "# shadowsim: bootstrap debian bookworm\nARG BASE=localhost/shadowsim-base:debian-12\nFROM ${BASE} AS testbed\n";

    #[test]
    fn reads_base_and_bootstrap() {
        let d = parse("debian-12", "t/debian-12".into(), DEBIAN.into()).unwrap();
        assert_eq!(d.base, "localhost/shadowsim-base:debian-12");
        assert_eq!(d.bootstrap, Some(Bootstrap { family: "debian".into(), suite: "bookworm".into() }));
        let rocky = parse("rocky-9", "t".into(), "ARG BASE=docker.io/rockylinux/rockylinux:9\nFROM ${BASE}\n".into());
        assert_eq!(rocky.unwrap().bootstrap, None);
        assert!(parse("x", "t".into(), "FROM debian\n".into()).unwrap_err().to_string().contains("ARG BASE"));
    }

    #[test]
    fn image_tag_changes_with_the_definition_and_the_base() {
        let d = parse("debian-12", "t".into(), DEBIAN.into()).unwrap();
        let a = d.image(RUN_STAGE, "sha256:1");
        assert!(a.starts_with("localhost/shadowsim-testbed-debian-12:testbed-"), "{a}");
        assert_eq!(a, d.image(RUN_STAGE, "sha256:1"), "stable");
        assert_ne!(a, d.image(RUN_STAGE, "sha256:2"), "new base");
        assert_ne!(a, d.image(BUILD_STAGE, "sha256:1"), "other stage");
        let mut changed = d.clone();
        changed.containerfile.push_str("RUN true\n");
        assert_ne!(a, changed.image(RUN_STAGE, "sha256:1"), "edited definition");
    }
}
