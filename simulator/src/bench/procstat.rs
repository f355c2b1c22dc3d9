//! What the kernel says a process costs: CPU time from `/proc/PID/stat`
//! (utime + stime, all threads) and memory from `/proc/PID/status` (VmRSS)
//! and `/proc/PID/smaps_rollup` (Pss). A benchmark samples these before and
//! after a window and reports the difference.

use std::time::Duration;

/// Clock ticks per second of the stat fields. Linux has reported 100 on
/// every architecture for decades; sysconf would say the same.
const TICKS_PER_SEC: f64 = 100.0;

/// CPU time used so far by `pid` (all its threads, not its children).
/// `None` once the process is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Then: state(3) ... utime(14) stime(15).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / TICKS_PER_SEC))
}

/// Resident set size in bytes (VmRSS).
pub fn rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|k| k * 1024)
}

/// Proportional set size in bytes: pages shared with other processes (a
/// forked child's, the libraries') count only by their share.
pub fn pss(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&text, "Pss:").map(|k| k * 1024)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&text, field)
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Every live process below `root` (children, grandchildren, ...), not
/// `root` itself. websockify forks a handler per connection, so the
/// pipeline's cost is the whole tree under the daemon.
pub fn descendants(root: u32) -> Vec<u32> {
    let procs: Vec<(u32, u32)> = crate::drivers::procs::all()
        .into_iter()
        .filter_map(|p| Some((p.pid, crate::drivers::procs::ppid(p.pid)?)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &procs {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// CPU time of a set of processes, summed. Processes that exited in
/// between drop out, so sample sets that stay alive across the window.
pub fn cpu_of(pids: &[u32]) -> Duration {
    pids.iter().filter_map(|&p| cpu_time(p)).sum()
}

/// A CPU-time reading of a fixed set of processes, to subtract later.
pub struct CpuWindow {
    pids: Vec<u32>,
    start_cpu: Duration,
    start: std::time::Instant,
}

impl CpuWindow {
    pub fn start(pids: Vec<u32>) -> Self {
        let start_cpu = cpu_of(&pids);
        CpuWindow { pids, start_cpu, start: std::time::Instant::now() }
    }

    /// CPU seconds used per wall-clock second since `start` (1.0 = one core).
    pub fn cores(&self) -> f64 {
        let used = cpu_of(&self.pids).saturating_sub(self.start_cpu);
        used.as_secs_f64() / self.start.elapsed().as_secs_f64().max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        // Burn a little CPU so at least one tick is charged.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_time(me).is_some());
        assert!(rss(me).unwrap() > 1024 * 1024);
        assert!(kib_field("Pss:    1234 kB\n", "Pss:") == Some(1234));
        assert!(cpu_time(u32::MAX).is_none());
    }
}
