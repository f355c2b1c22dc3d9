//! Steps that reproduce a distribution's trap and check that `shadowd
//! doctor` names it: `system` changes the machine (so it runs only inside a
//! throw-away testbed container), `doctor` runs the real `shadowd doctor`.

use crate::runtime::world::{World, FQDN};
use crate::runtime::TESTBED_ENV;
use crate::scenario::{DoctorStep, RequireStep, SystemStep};
use anyhow::{bail, Context, Result};
use std::process::Stdio;

pub async fn system(w: &mut World, s: &SystemStep) -> Result<()> {
    // A second guard beside the `container` tag: these commands remove
    // packages' files and add firewall rules, which must never happen to a
    // developer's or CI's own machine.
    if std::env::var_os(TESTBED_ENV).is_none_or(|v| v.is_empty()) {
        bail!("`system` steps run only inside a testbed container ({TESTBED_ENV} is not set): tag the scenario `container`");
    }
    // Registered before running: a command that half-succeeded is undone too.
    if let Some(undo) = &s.undo {
        w.undo.push(undo.clone());
    }
    shell(&s.run, w.block.real).await
}

/// A `require` step whose command failed: the case is skipped with this
/// reason, not failed (see `runtime::case`).
#[derive(Debug, thiserror::Error)]
#[error("precondition not met: {0}")]
pub struct Unmet(pub String);

/// Runs the precondition; its failure is an [`Unmet`], with the command's
/// output after the scenario's reason.
pub async fn require(w: &mut World, s: &RequireStep) -> Result<()> {
    shell(&s.run, w.block.real).await.map_err(|e| Unmet(format!("{} ({e:#})", s.reason)).into())
}

/// `sh -c CMD`, which must exit 0; its output is the error otherwise. The
/// case's real port block is in `$SHADOW_PORTS` (`6011-6020`),
/// `$SHADOW_PORT_FIRST` and `$SHADOW_PORT_LAST`: a scenario names ports as
/// written, but a firewall rule must name the ones the case really got.
pub async fn shell(cmd: &str, ports: shadowd::ports::PortRange) -> Result<()> {
    let out = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .env("SHADOW_PORTS", ports.to_string())
        .env("SHADOW_PORT_FIRST", ports.first.to_string())
        .env("SHADOW_PORT_LAST", ports.last.to_string())
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running sh -c {cmd:?}"))?;
    if !out.status.success() {
        let said = [&out.stdout, &out.stderr]
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let said = if said.is_empty() { String::new() } else { format!(": {said}") };
        bail!("`{cmd}` exited with {}{said}", out.status);
    }
    Ok(())
}

/// One line of `shadowd doctor`'s report: `PASS name: detail`.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub name: String,
}

pub fn verdicts(report: &str) -> Vec<Verdict> {
    report
        .lines()
        .filter_map(|l| {
            let (ok, rest) = match l.split_once(' ')? {
                ("PASS", rest) => (true, rest),
                ("FAIL", rest) => (false, rest),
                _ => return None,
            };
            let name = rest.split_once(": ").map_or(rest, |(n, _)| n);
            Some(Verdict { ok, name: name.to_string() })
        })
        .collect()
}

/// What is wrong with `report` given what the step expects (empty: nothing).
pub fn judge(report: &str, s: &DoctorStep) -> Vec<String> {
    let found = verdicts(report);
    let mut problems = Vec::new();
    for (wanted, ok) in s.fails.iter().map(|n| (n, false)).chain(s.passes.iter().map(|n| (n, true))) {
        match found.iter().find(|v| v.name.starts_with(wanted.as_str())) {
            None => problems.push(format!("doctor reports no check named {wanted:?}")),
            Some(v) if v.ok != ok => problems.push(format!(
                "doctor says {} for {:?}, expected {}",
                if v.ok { "PASS" } else { "FAIL" },
                v.name,
                if ok { "PASS" } else { "FAIL" }
            )),
            Some(_) => {}
        }
    }
    for text in &s.contains {
        if !report.contains(text.as_str()) {
            problems.push(format!("doctor's report does not contain {text:?}"));
        }
    }
    problems
}

pub async fn doctor(w: &mut World, s: &DoctorStep) -> Result<()> {
    let bin = crate::drivers::daemon::shadowd_bin()?;
    let tmp = tempfile::Builder::new().prefix("shadowsim-doctor-").tempdir()?;
    let out = tokio::process::Command::new(&bin)
        .arg("--registry")
        .arg(tmp.path().join("shadowd.reg"))
        .arg("doctor")
        .args(["--port-range", &w.block.real.to_string(), "--fqdn", FQDN])
        .arg("--ssl-dir")
        .arg(w.target.ssl_dir())
        .arg("--log-file")
        .arg(tmp.path().join("vda.log"))
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {} doctor", bin.display()))?;
    let report = String::from_utf8_lossy(&out.stdout);
    let problems = judge(&report, s);
    if !problems.is_empty() {
        bail!("{}\n--- shadowd doctor said:\n{}", problems.join("; "), report.trim_end());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "PASS x11vnc ≥ 0.9.13: x11vnc 0.9.16\nFAIL netstat: netstat not found on PATH\n     fix: install net-tools\nPASS free ports in 6001-6010: 9 of 10 free; in use: 6001\n1 passed, 1 failed\n";

    fn step(fails: &[&str], passes: &[&str], contains: &[&str]) -> DoctorStep {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        DoctorStep { fails: v(fails), passes: v(passes), contains: v(contains) }
    }

    #[test]
    fn reads_verdicts_by_name_prefix() {
        assert!(judge(REPORT, &step(&["netstat"], &["x11vnc", "free ports"], &["in use: 6001"])).is_empty());
        let wrong = judge(REPORT, &step(&["x11vnc"], &["netstat"], &["rebind"]));
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        assert!(wrong[0].contains("says PASS") && wrong[1].contains("says FAIL"), "{wrong:?}");
        assert!(judge(REPORT, &step(&["firewall"], &[], &[]))[0].contains("no check named"));
    }
}
