//! Getting a distribution's testbed image: its base from the local store, a
//! registry, or a bootstrap from the package mirror; then the definition
//! built on it, cached under a tag that hashes both (rebuilt only when the
//! definition or the base changes).

use super::definition::Definition;
use super::engine::Engine;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// How long a registry gets to answer a pull: a reachable one starts within
/// seconds; an unreachable one should not hold the matrix up.
const PULL_LIMIT: Duration = Duration::from_secs(180);

/// A built image, and what it took to get it.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    /// The base came from a bootstrap in this run: how long it took.
    pub bootstrapped: Option<Duration>,
    /// The image was built in this run (not found in the cache): how long.
    pub built: Option<Duration>,
}

/// Why a distribution cannot run here: reported as skipped, with this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

pub enum Outcome {
    Ready(Image),
    Unavailable(Unavailable),
}

/// Makes sure `stage` of `def` is built; `testbed` is the definitions'
/// directory (for bootstrap scripts), `logs` where build logs go.
pub async fn ensure(engine: &Engine, def: &Definition, stage: &str, testbed: &Path, logs: &Path) -> Result<Outcome> {
    let mut bootstrapped = None;
    let base_id = match engine.image_id(&def.base).await {
        Some(id) => id,
        None => match &def.bootstrap {
            Some(b) => {
                let script = testbed.join(&b.family).join("bootstrap");
                eprintln!(
                    "shadowsim: {}: bootstrapping {} from {} {} (a few minutes)…",
                    def.id, def.base, b.family, b.suite
                );
                let log = logs.join(format!("{}-bootstrap.log", def.id));
                match engine.bootstrap(&script, &b.suite, &def.base, &log).await {
                    Ok(took) => bootstrapped = Some(took),
                    Err(e) => {
                        return Ok(Outcome::Unavailable(Unavailable(format!(
                            "its base {} could not be bootstrapped from the {} package mirror: {e:#}",
                            def.base, b.family
                        ))))
                    }
                }
                match engine.image_id(&def.base).await {
                    Some(id) => id,
                    None => anyhow::bail!("{} ran but {} is not in the image store", script.display(), def.base),
                }
            }
            None => {
                // Ask the registry's address first: where none is reachable
                // this answers in milliseconds, where a pull may hang.
                if let Err(why) = registry_reachable(&def.base).await {
                    return Ok(Outcome::Unavailable(Unavailable(unpullable(&def.base, &why))));
                }
                eprintln!("shadowsim: {}: pulling {}…", def.id, def.base);
                if let Err(e) = engine.pull(&def.base, PULL_LIMIT).await {
                    return Ok(Outcome::Unavailable(Unavailable(unpullable(&def.base, &format!("{e:#}")))));
                }
                engine.image_id(&def.base).await.unwrap_or_default()
            }
        },
    };
    let name = def.image(stage, &base_id);
    if engine.image_id(&name).await.is_some() {
        return Ok(Outcome::Ready(Image { name, bootstrapped, built: None }));
    }
    eprintln!("shadowsim: {}: building {name} (stage {stage})…", def.id);
    let log = logs.join(format!("{}-{stage}-build.log", def.id));
    let took = engine.build(&def.dir, stage, &def.base, &name, &log).await?;
    eprintln!("shadowsim: {}: built {name} in {:.0?}", def.id, took);
    engine.remove_stale(&def.repository(), &format!("{stage}-"), &name).await;
    Ok(Outcome::Ready(Image { name, bootstrapped, built: Some(took) }))
}

/// How long the registry's address gets to resolve and accept a connection.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// The registry an image name pulls from: `quay.io/x/y:1` → `quay.io`;
/// a name without a host part is Docker Hub's.
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            if first == "docker.io" {
                "registry-1.docker.io"
            } else {
                first
            }
        }
        _ => "registry-1.docker.io",
    }
}

/// Ok when the registry of `image` resolves and accepts a TCP connection on
/// 443 within [`PROBE_LIMIT`] (or a proxy is configured, which the engine
/// uses and we cannot judge); Err says what failed, for the skip reason.
async fn registry_reachable(image: &str) -> std::result::Result<(), String> {
    if ["HTTPS_PROXY", "https_proxy"].iter().any(|v| std::env::var_os(v).is_some()) {
        return Ok(());
    }
    let host = registry_host(image);
    let addrs = match tokio::time::timeout(PROBE_LIMIT, tokio::net::lookup_host((host, 443))).await {
        Err(_) => return Err(format!("lookup {host}: no answer within {PROBE_LIMIT:?}")),
        Ok(Err(e)) => return Err(format!("lookup {host}: {e} (no such host)")),
        Ok(Ok(a)) => a.collect::<Vec<_>>(),
    };
    let Some(addr) = addrs.first() else { return Err(format!("lookup {host}: no address (no such host)")) };
    match tokio::time::timeout(PROBE_LIMIT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{host} ({addr}:443) refused the connection: {e}")),
        Err(_) => Err(format!("{host} ({addr}:443) did not answer within {PROBE_LIMIT:?}")),
    }
}

/// The skip reason for a base that is neither here nor pullable.
pub fn unpullable(base: &str, error: &str) -> String {
    let cause = if error.contains("no such host") || error.contains("lookup ") || error.contains("did not answer") {
        format!("no container registry is reachable from this machine: {}", error.lines().next().unwrap_or(error))
    } else {
        error.lines().next().unwrap_or(error).to_string()
    };
    format!(
        "its base image {base} is not in the local image store and cannot be pulled ({cause}); \
         the definition has no `# shadowsim: bootstrap` line (only Debian and Ubuntu are bootstrapped, with debootstrap)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reason_names_the_base_and_why() {
        let e = "Error: initializing source docker://rockylinux/rockylinux:9: pinging container registry registry-1.docker.io: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 10.0.0.1:53: no such host";
        let r = unpullable("docker.io/rockylinux/rockylinux:9", e);
        assert!(r.contains("docker.io/rockylinux/rockylinux:9"), "{r}");
        assert!(r.contains("no container registry is reachable"), "{r}");
        assert_eq!(registry_host("docker.io/rockylinux/rockylinux:9"), "registry-1.docker.io");
        assert_eq!(registry_host("amazonlinux:2"), "registry-1.docker.io");
        assert_eq!(registry_host("public.ecr.aws/amazonlinux/amazonlinux:2"), "public.ecr.aws");
        assert_eq!(registry_host("opensuse/leap:15"), "registry-1.docker.io");
        let other = unpullable("x:1", "Error: manifest unknown\nmore");
        assert!(other.contains("Error: manifest unknown") && !other.contains("more"), "{other}");
    }
}
