//! The harness's assertions can fail, and fail for the right reason.
//!
//! Each test runs one small scenario through the real runner twice, side
//! by side: against the well-behaved stand-in daemon (it must pass), and
//! against the stand-in with one [`Misbehaviour`] (it must fail, at the
//! expected kind of step, with a message naming the wrong). The passing
//! side shows the failure is the misbehaviour's doing and not a broken
//! scenario or stand-in. The last group runs scenarios of the real library
//! against the well-behaved stand-in, showing it keeps shadowd's contract
//! as those scenarios state it.
//!
//! Needs Xvfb (and fonts, for the consent dialog), like the other harness
//! tests: every run starts its own sessions.

mod standin;

use simulator::report::{CaseResult, Status};
use simulator::runtime::{run, RunOptions};
use simulator::scenario::{self, Case};
use standin::{Misbehaviour, StandinLauncher};
use std::sync::Arc;

/// Runs `cases` against the stand-in with `misbehaviour`, one at a time,
/// on a runtime of its own (the runner's future is not `Send`, so two runs
/// side by side get a thread each).
fn run_standin(cases: Vec<Case>, misbehaviour: Misbehaviour) -> Vec<CaseResult> {
    let opts = RunOptions {
        jobs: 1,
        repeat: 1,
        seed: 0,
        launcher: Arc::new(StandinLauncher { misbehaviour }),
        progress: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    runtime.block_on(run(cases, &opts)).cases
}

fn load(name: &str, yaml: &str) -> Vec<Case> {
    let scenario = scenario::load_str(format!("standin/{name}.yaml"), yaml)
        .unwrap_or_else(|errors| panic!("scenario {name} does not load: {errors:#?}"));
    scenario::expand(&scenario).unwrap_or_else(|errors| panic!("scenario {name} does not expand: {errors:#?}"))
}

/// Everything a failed expectation needs to be understood.
fn explain(case: &CaseResult) -> String {
    let steps: Vec<String> = case
        .steps
        .iter()
        .map(|s| format!("  {:?} {} {}", s.status, s.label, s.message.as_deref().unwrap_or("")))
        .collect();
    format!(
        "{} {:?}: {}\n{}\nlog (on failure):\n{}",
        case.name,
        case.status,
        case.message.as_deref().unwrap_or(""),
        steps.join("\n"),
        case.daemon_log.as_deref().unwrap_or("")
    )
}

/// `yaml` passes against the well-behaved stand-in, and against one with
/// `misbehaviour` fails at a step of `kind` whose message contains `words`.
fn proves(misbehaviour: Misbehaviour, kind: &str, words: &str, yaml: &str) {
    let cases = load(&format!("{misbehaviour:?}-{kind}"), yaml);
    assert_eq!(cases.len(), 1, "one case per self-test scenario");
    // Side by side: each run has its own sessions, stand-in and port block.
    let good_cases = cases.clone();
    let good = std::thread::spawn(move || run_standin(good_cases, Misbehaviour::None));
    let bad = run_standin(cases, misbehaviour).remove(0);
    let good = good.join().expect("the well-behaved run").remove(0);

    assert_eq!(
        good.status,
        Status::Passed,
        "the scenario must pass against the well-behaved stand-in:\n{}",
        explain(&good)
    );
    assert_eq!(bad.status, Status::Failed, "{misbehaviour:?} went unnoticed:\n{}", explain(&bad));
    let failed = bad
        .steps
        .iter()
        .find(|s| s.status == Status::Failed)
        .unwrap_or_else(|| panic!("{misbehaviour:?}: the case failed, but not at a step:\n{}", explain(&bad)));
    assert_eq!(failed.kind, kind, "{misbehaviour:?} was caught by the wrong step:\n{}", explain(&bad));
    let message = failed.message.as_deref().unwrap_or("");
    assert!(message.contains(words), "{misbehaviour:?}: {kind} failed, but its message lacks {words:?}: {message}");
}

// --- one misbehaviour, one kind of assertion ----------------------------

#[test]
fn expect_catches_a_grant_without_consent() {
    proves(
        Misbehaviour::GrantsWithoutConsent,
        "expect",
        "expected a refusal, but anna was granted",
        r#"
sessions: [{id: alice, screen: 320x200}]
daemon: {registry: {ShadowingConsentTimeout: 1}}
steps:
  - request: {as: anna, session: alice}
  - expect: {request: anna, error: consent_timeout, within: 10s}
"#,
    );
}

#[test]
fn consent_catches_a_missing_dialog() {
    proves(
        Misbehaviour::GrantsWithoutConsent,
        "consent",
        "no consent dialog",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes, within: 3s}
  - expect: {request: anna, granted: true}
"#,
    );
}

/// When the daemon refused the request, the consent step that waited in
/// vain for a dialog says so — the refusal, not only "no dialog" (the CI
/// failure that a lost shadow port caused was unreadable without it).
#[test]
fn a_missing_dialog_names_the_refusal_that_explains_it() {
    let cases = load(
        "refused-then-consent",
        r#"
sessions: [{id: alice, screen: 320x200}]
daemon: {registry: {EnableSessionShadowing: 0}}
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, key: y, within: 1s}
"#,
    );
    let case = run_standin(cases, Misbehaviour::None).remove(0);
    assert_eq!(case.status, Status::Failed, "{}", explain(&case));
    let failed = case.steps.iter().find(|s| s.status == Status::Failed).expect("a failed step");
    assert_eq!(failed.kind, "consent", "{}", explain(&case));
    let message = failed.message.as_deref().unwrap_or("");
    assert!(message.contains("no consent dialog"), "{message}");
    assert!(message.contains("already refused the request (anna: 403 shadowing_disabled"), "{message}");
}

#[test]
fn expect_no_input_catches_forwarded_input() {
    proves(
        Misbehaviour::ForwardsInput,
        "expect_no_input",
        "received input",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: bob, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: bob}
  - send_input: {viewer: bob, keys: "rm", pointer: [[10, 10], [200, 150]]}
  - expect_no_input: {session: alice, for: 300ms}
"#,
    );
}

#[test]
fn expect_port_free_catches_a_leaked_port() {
    proves(
        Misbehaviour::LeaksPort,
        "expect_port_free",
        "is still in use",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna}
  - disconnect: {viewer: anna}
  - wait_event: {event: ended, session: alice, reason: admin_disconnected}
  - expect_port_free: {port_of: anna, within: 2s}
"#,
    );
}

#[test]
fn expect_ports_free_catches_a_shadow_that_never_expires() {
    proves(
        Misbehaviour::NeverFreesOnExpiry,
        "expect_ports_free",
        "2 ports of",
        r#"
sessions: [{id: alice, screen: 320x200}]
daemon: {ports: 6001-6003, connect_grace: 500ms}
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true}
  - expect_ports_free: {count: 3, within: 3s}
"#,
    );
}

#[test]
fn expect_frame_catches_a_wrong_frame() {
    proves(
        Misbehaviour::WrongFrame,
        "expect_frame",
        "does not equal",
        r#"
sessions: [{id: alice, screen: 320x200, draw: {pattern: noise, seed: 5}}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna}
  - expect_frame: {viewer: anna, equals: display, within: 2s}
"#,
    );
}

#[test]
fn expect_disconnect_catches_a_takeover_that_keeps_the_old_viewer() {
    proves(
        Misbehaviour::NoTakeoverDisconnect,
        "expect_disconnect",
        "anna was not disconnected",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, admin: 'CORP\anna', session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna}
  - request: {as: bob, admin: 'CORP\bob', session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: bob, granted: true}
  - expect_disconnect: {viewer: anna, within: 2s}
"#,
    );
}

#[test]
fn expect_connected_catches_a_dropped_viewer() {
    proves(
        Misbehaviour::DropsViewer,
        "expect_connected",
        "anna was disconnected",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna}
  - expect_connected: {viewer: anna, for: 1s}
"#,
    );
}

#[test]
fn wait_event_catches_a_missing_event() {
    proves(
        Misbehaviour::MissingEvent,
        "wait_event",
        "no Connected event",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna}
  - wait_event: {event: connected, session: alice, within: 1s}
"#,
    );
}

#[test]
fn expect_events_catches_events_out_of_order() {
    proves(
        Misbehaviour::WrongEventOrder,
        "expect_events",
        "expected events",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true}
  - expect_events: {events: [requested, prompted, accepted], match: exact}
"#,
    );
}

#[test]
fn raw_connect_catches_raw_rfb_on_the_shadow_port() {
    proves(
        Misbehaviour::RawRfbOnPort,
        "raw_connect",
        "speaks raw RFB",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true}
  - raw_connect: {port_of: anna, expect: ws_only}
"#,
    );
}

#[test]
fn http_catches_a_wrong_status_and_code() {
    proves(
        Misbehaviour::SloppyErrors,
        "http",
        "expected HTTP 400, got 500",
        r#"
sessions: [{id: alice, screen: 160x100}]
steps:
  - http: {method: POST, path: "/v1/sessions/${session:alice}/shadow", body: '{"admin":', content_type: application/json, expect_status: 400, expect_error: bad_request}
"#,
    );
}

#[test]
fn stop_catches_a_wrong_error_code() {
    proves(
        Misbehaviour::SloppyErrors,
        "stop",
        "expected no_active_shadow, got 500 internal",
        r#"
sessions: [{id: alice, screen: 160x100}]
steps:
  - stop: {session: alice, expect_error: no_active_shadow}
"#,
    );
}

#[test]
fn expect_catches_a_wrong_error_code() {
    proves(
        Misbehaviour::SloppyErrors,
        "expect",
        "expected error session_not_found, got 500 internal",
        r#"
sessions: [{id: alice, screen: 160x100}]
steps:
  - request: {as: ghost, session_id: no-such-session, wait: true}
  - expect: {request: ghost, error: session_not_found}
"#,
    );
}

#[test]
fn expect_catches_a_wrong_status() {
    proves(
        Misbehaviour::WrongStatus,
        "expect",
        "expected HTTP 403, got 400 consent_denied",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: no}
  - expect: {request: anna, error: consent_denied, status: 403}
"#,
    );
}

#[test]
fn expect_catches_a_wrong_scheme() {
    proves(
        Misbehaviour::WrongScheme,
        "expect",
        "granted with scheme wss, expected ws",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true, scheme: ws}
"#,
    );
}

#[test]
fn expect_display_unchanged_catches_a_window_left_on_the_display() {
    proves(
        Misbehaviour::DrawsOnDisplay,
        "expect_display_unchanged",
        "the display of alice changed",
        r#"
sessions: [{id: alice, screen: 320x200, draw: {pattern: checkerboard, seed: 2}}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true}
  - expect_display_unchanged: {session: alice}
"#,
    );
}

#[test]
fn connect_catches_any_password_accepted() {
    proves(
        Misbehaviour::AcceptsAnyPassword,
        "connect",
        "expected the connection to fail (AuthFailed), but it succeeded",
        r#"
sessions: [{id: alice, screen: 320x200}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, click: yes}
  - connect: {as: anna, password: "guess123", expect_error: auth_failed}
"#,
    );
}

// --- the well-behaved stand-in keeps the library's contract -------------

/// A scenario file of the real library passes against the well-behaved
/// stand-in (every case of it: the stand-in ignores the backend axis).
fn library(file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
    let scenario = scenario::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = scenario::expand(&scenario).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    for case in run_standin(cases, Misbehaviour::None) {
        assert_eq!(case.status, Status::Passed, "{}", explain(&case));
    }
}

macro_rules! library_tests {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            library($file);
        }
    )*};
}

library_tests! {
    library_consent_yes => "consent-yes.yaml",
    library_consent_no => "consent-no.yaml",
    library_consent_timeout_short => "consent-timeout-short.yaml",
    library_consent_pending => "consent-pending.yaml",
    library_view_only => "view-only.yaml",
    library_takeover_accepted => "takeover-accepted.yaml",
    library_takeover_refused => "takeover-refused.yaml",
    library_same_admin_again => "same-admin-again.yaml",
    library_admin_disconnect => "admin-disconnect.yaml",
    library_delete_stops_shadow => "delete-stops-shadow.yaml",
    library_never_connects => "never-connects.yaml",
    library_port_reused => "port-reused.yaml",
    library_wrong_password => "wrong-password.yaml",
    library_disabled_then_enabled => "disabled-then-enabled.yaml",
    library_malformed_requests => "malformed-requests.yaml",
}

/// A `require` whose command fails skips the case with the scenario's
/// reason and the command's output — never a pass, never a failure — and
/// runs nothing after it; one whose command succeeds lets the case go on.
#[test]
fn an_unmet_require_skips_the_case_and_says_why() {
    let yaml = |cmd: &str| {
        format!(
            "name: require-{cmd}\n\
             sessions:\n  - id: alice\n    screen: 160x100\n\
             steps:\n  \
               - require: {{run: 'echo no widget here >&2; {cmd}', reason: the machine lacks a widget}}\n  \
               - sleep: 1ms\n"
        )
    };
    let mut cases = load("require-false", &yaml("false"));
    cases.extend(load("require-true", &yaml("true")));
    let results = run_standin(cases, Misbehaviour::None);
    let unmet = results.iter().find(|c| c.name == "require-false").expect("require-false ran");
    let met = results.iter().find(|c| c.name == "require-true").expect("require-true ran");

    assert_eq!(unmet.status, Status::Skipped, "{}", explain(unmet));
    let why = unmet.message.as_deref().unwrap_or("");
    assert!(why.contains("precondition not met: the machine lacks a widget"), "{why}");
    assert!(why.contains("no widget here"), "the command's output is part of the reason: {why}");
    assert!(why.contains("require-false.yaml:"), "the reason names the scenario line: {why}");
    assert_eq!(unmet.steps[0].status, Status::Skipped, "{}", explain(unmet));
    assert_eq!(unmet.steps[1].status, Status::Skipped, "{}", explain(unmet));
    assert_eq!(unmet.steps[1].message.as_deref(), Some("not run: a precondition is not met"));

    assert_eq!(met.status, Status::Passed, "{}", explain(met));
    assert!(met.steps.iter().all(|s| s.status == Status::Passed), "{}", explain(met));
}
