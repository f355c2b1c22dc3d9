//! Session discovery: the X servers actually running on this host, found the
//! way the seed's troubleshooting does it by hand (`ps aux | grep xorg`), not
//! from a configuration file.
//!
//! An X server is a process named Xorg, X, Xvfb, Xvnc, Xephyr or Xwayland.
//! Its display number comes from its command line (`:3`) or, for servers
//! started with `-displayfd`, from the `/tmp/.X11-unix/X<n>` socket it
//! listens on (matched through `/proc/net/unix` inodes and its open fds).
//! The user is the owner of that socket when it is not root, else the
//! process's owner. Parsing is pure; `discover` does the /proc reading.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const X_SERVERS: &[&str] = &["Xorg", "X", "Xvfb", "Xvnc", "Xephyr", "Xwayland"];
const SOCKET_DIR: &str = "/tmp/.X11-unix";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The API's id: the display number as a string.
    pub id: String,
    /// `:3`
    pub display: String,
    pub display_number: u32,
    pub user: String,
    pub uid: u32,
    /// The X server's process id (a new server on the same display is a new session).
    pub pid: u32,
    /// Which X server (Xorg, Xvfb …).
    pub server: String,
    /// The server's `-auth` file, used to connect to its display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xauthority: Option<PathBuf>,
}

/// The basename of argv\[0\] if it names an X server.
pub fn x_server_name(cmdline: &[String]) -> Option<&'static str> {
    let argv0 = cmdline.first()?;
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    X_SERVERS.iter().copied().find(|s| *s == base)
}

/// `:3` on the command line (not `-displayfd`'s fd number, not `host:3`).
pub fn display_from_cmdline(cmdline: &[String]) -> Option<u32> {
    cmdline.iter().skip(1).find_map(|a| a.strip_prefix(':').and_then(|n| n.split('.').next()?.parse().ok()))
}

/// The `-auth FILE` argument.
pub fn auth_from_cmdline(cmdline: &[String]) -> Option<PathBuf> {
    let i = cmdline.iter().position(|a| a == "-auth")?;
    cmdline.get(i + 1).map(PathBuf::from)
}

/// `/proc/net/unix` → socket inode → display number, for every socket bound
/// to `/tmp/.X11-unix/X<n>` (filesystem or abstract `@` name).
pub fn x_socket_inodes(proc_net_unix: &str) -> BTreeMap<u64, u32> {
    let mut out = BTreeMap::new();
    for line in proc_net_unix.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(inode), Some(path)) = (cols.get(6), cols.get(7)) else { continue };
        let path = path.trim_start_matches('@');
        let Some(n) = path.strip_prefix("/tmp/.X11-unix/X").and_then(|n| n.parse().ok()) else { continue };
        if let Ok(inode) = inode.parse() {
            out.insert(inode, n);
        }
    }
    out
}

/// Every X session running now.
pub fn discover() -> Vec<Session> {
    let inodes = std::fs::read_to_string("/proc/net/unix").map(|t| x_socket_inodes(&t)).unwrap_or_default();
    let mut sessions = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return vec![] };
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let dir = entry.path();
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else { continue };
        let cmdline: Vec<String> =
            raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let Some(server) = x_server_name(&cmdline) else { continue };
        let displays: BTreeSet<u32> = match display_from_cmdline(&cmdline) {
            Some(n) => BTreeSet::from([n]),
            None => listening_displays(&dir, &inodes),
        };
        let proc_uid = process_uid(&dir).unwrap_or(0);
        for n in displays {
            let socket = Path::new(SOCKET_DIR).join(format!("X{n}"));
            let uid = owner_uid(&socket).filter(|u| *u != 0).unwrap_or(proc_uid);
            sessions.insert(
                n,
                Session {
                    id: n.to_string(),
                    display: format!(":{n}"),
                    display_number: n,
                    user: user_name(uid),
                    uid,
                    pid,
                    server: server.to_string(),
                    xauthority: auth_from_cmdline(&cmdline),
                },
            );
        }
    }
    sessions.into_values().collect()
}

pub fn find(id: &str) -> Option<Session> {
    discover().into_iter().find(|s| s.id == id)
}

fn listening_displays(proc_dir: &Path, inodes: &BTreeMap<u64, u32>) -> BTreeSet<u32> {
    let Ok(fds) = std::fs::read_dir(proc_dir.join("fd")) else { return BTreeSet::new() };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_str()?;
            let inode: u64 = t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()?;
            inodes.get(&inode).copied()
        })
        .collect()
}

fn process_uid(proc_dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(proc_dir).ok().map(|m| m.uid())
}

fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.uid())
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn recognises_x_servers_by_basename() {
        assert_eq!(x_server_name(&args("/usr/lib/xorg/Xorg :3 -auth /x")), Some("Xorg"));
        assert_eq!(x_server_name(&args("Xvfb :99")), Some("Xvfb"));
        assert_eq!(x_server_name(&args("/usr/bin/Xvfb-run :1")), None);
        assert_eq!(x_server_name(&args("xeyes -display :3")), None);
    }

    #[test]
    fn display_and_auth_from_cmdline() {
        let c = args("/usr/lib/xorg/Xorg :3 -auth /run/user/1000/gdm/Xauthority -nolisten tcp");
        assert_eq!(display_from_cmdline(&c), Some(3));
        assert_eq!(auth_from_cmdline(&c), Some(PathBuf::from("/run/user/1000/gdm/Xauthority")));
        assert_eq!(display_from_cmdline(&args("Xvfb -displayfd 5 -screen 0 640x480x24")), None);
        assert_eq!(display_from_cmdline(&args("Xvfb :12.0")), Some(12));
    }

    #[test]
    fn x_sockets_from_proc_net_unix() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 41000 @/tmp/.X11-unix/X7\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 41001 /tmp/.X11-unix/X7\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 41002 /run/dbus/system_bus_socket\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 41003\n";
        let m = x_socket_inodes(text);
        assert_eq!(m, BTreeMap::from([(41000, 7), (41001, 7)]));
    }
}
