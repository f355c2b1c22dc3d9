//! Waiting for a process to exit without polling: a pidfd becomes readable
//! when its process terminates (Linux ≥ 5.3).

use std::os::fd::{FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

/// Resolves when process `pid` has exited (at once if it is already gone).
pub async fn process_exit(pid: u32) {
    // SAFETY: pidfd_open takes (pid, flags) and returns a new fd or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid as nix::libc::pid_t, 0) };
    if fd < 0 {
        // No such process: it is gone already. (ENOSYS on very old kernels
        // is treated the same way: better to end a shadow than to leak one.)
        return;
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: `owned` is a fresh fd that lives as long as the AsyncFd.
    match unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) } {
        Ok(afd) => {
            let _ = afd.readable().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}
