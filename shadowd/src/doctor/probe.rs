//! What `doctor` reads from the system.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// stdout+stderr of a command, or None when it cannot be run.
pub fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(s)
}

/// The directories websockify itself searches for rebind.so (its
/// `websocketproxy.py`: relative to `sys.argv[0]`, i.e. the websockify
/// found on PATH, not resolved): `../lib`, `../lib/websockify`, `..`, and
/// its own directory. A pip install under /usr/local whose rebind.so landed
/// in /usr/bin is the RHEL 8 trap: it exists, but not where websockify looks.
pub fn websockify_rebind_dirs(websockify: &Path) -> Vec<PathBuf> {
    let dir = websockify.parent().unwrap_or(Path::new("/"));
    let up = dir.parent().unwrap_or(Path::new("/"));
    vec![up.join("lib"), up.join("lib").join("websockify"), up.to_path_buf(), dir.to_path_buf()]
}

/// rebind.so where websockify looks for it.
pub fn rebind_so_for(websockify: &Path) -> Option<PathBuf> {
    websockify_rebind_dirs(websockify).into_iter().map(|d| d.join("rebind.so")).find(|p| p.exists())
}

/// rebind.so anywhere the distributions the seed names put it, whether or
/// not websockify would find it there (for the fix's `ln -s` source).
pub fn find_rebind_so() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = [
        "/usr/lib/websockify/rebind.so",
        "/usr/local/bin/rebind.so",
        "/usr/bin/rebind.so",
        "/usr/lib64/websockify/rebind.so",
        "/usr/local/lib/websockify/rebind.so",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // pip installs put it next to the package.
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64"] {
        if let Ok(entries) = std::fs::read_dir(base) {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with("python3") {
                    for sub in ["site-packages", "dist-packages"] {
                        candidates.push(e.path().join(sub).join("websockify").join("rebind.so"));
                        candidates.push(e.path().join(sub).join("rebind.so"));
                    }
                }
            }
        }
    }
    candidates.into_iter().find(|p| p.exists())
}

/// The host firewall's rules, from nft or iptables-save, if either runs.
pub fn firewall_rules() -> Option<String> {
    let nft = Command::new("nft").args(["list", "ruleset"]).output().ok().filter(|o| o.status.success());
    let ipt = Command::new("iptables-save").output().ok().filter(|o| o.status.success());
    let texts: Vec<String> =
        [nft, ipt].into_iter().flatten().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

pub fn x_display_reachable(display: &str, xauthority: Option<&Path>) -> Result<(), String> {
    crate::consent::connect::connect(display, xauthority, std::time::Duration::from_secs(5))
        .map(|_| ())
        .map_err(|e| format!("cannot connect to {display}: {e:#}"))
}
