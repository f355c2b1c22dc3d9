//! The whole scenario library (scenarios/*.yaml) against this build of
//! shadowd, as CI runs it: every case must pass, and each case's audit trail
//! (normalized: session names, numbered ports and shadows, no times) must
//! match its insta snapshot, so a change in behaviour shows up as a
//! reviewable diff in `tests/snapshots/`.

use simulator::report::Status;
use simulator::runtime::{self, target::ShadowdLauncher, RunOptions};
use simulator::scenario::{self, Backend};
use std::path::Path;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_and_its_audit_trail_matches_the_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let (scenarios, errors) = scenario::load_dir(&dir);
    assert!(
        errors.is_empty(),
        "scenario files have errors: {}",
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
    );
    let cases: Vec<_> = scenarios.iter().flat_map(|s| scenario::expand(s).expect("expands")).collect();
    let cases = runtime::with_backends(cases, &[Backend::Native, Backend::External]);
    assert!(cases.len() >= 30, "the library has {} cases", cases.len());
    let opts = RunOptions {
        jobs: 2,
        repeat: 1,
        seed: 0,
        launcher: Arc::new(ShadowdLauncher { bin: Some(env!("CARGO_BIN_EXE_shadowd").into()) }),
        progress: false,
    };
    let run = runtime::run(cases, &opts).await;
    let failed: Vec<String> = run
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| format!("{}: {}", c.name, c.message.as_deref().unwrap_or("?")))
        .collect();
    println!("{}", simulator::report::summary(&run));
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    // Only the container-only cases (the distribution traps) may skip here,
    // and they must: they change the system, and run in `--runtime container`.
    for case in &run.cases {
        let container_only = case.tags.iter().any(|t| t == runtime::CONTAINER_TAG);
        assert_eq!(
            case.status == Status::Skipped,
            container_only,
            "{}: {:?} ({})",
            case.name,
            case.status,
            case.message.as_deref().unwrap_or("")
        );
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        // Skipped cases (container-only) have no trail on this host; their
        // behaviour is checked in the testbed (simulator/tests/testbed_debian12.rs).
        for case in run.cases.iter().filter(|c| c.status != Status::Skipped) {
            // One snapshot per scenario and matrix cell, whatever the
            // backend: every backend must leave the same audit trail.
            let cell: Vec<String> =
                case.matrix.iter().filter(|(axis, _)| *axis != "backend").map(|(a, v)| format!("{a}={v}")).collect();
            let name =
                if cell.is_empty() { case.scenario.clone() } else { format!("{}[{}]", case.scenario, cell.join(",")) };
            let name: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            insta::assert_snapshot!(format!("trace__{name}"), case.trace.join("\n"));
        }
    });
}
