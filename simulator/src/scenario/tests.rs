//! Tests of the scenario model: parsing, the errors an author sees (file,
//! line, column, what was wrong), matrix expansion, interpolation, filters
//! and the JSON schema.

use super::*;
use std::collections::BTreeSet;
use std::path::Path;

const PATH: &str = "scenarios/t.yaml";
const EXAMPLE: &str = include_str!("example.yaml");

fn load(yaml: &str) -> Result<Scenario, Vec<ScenarioError>> {
    load_str(PATH, yaml)
}

fn ok(yaml: &str) -> Scenario {
    match load(yaml) {
        Ok(s) => s,
        Err(errors) => panic!("expected to load, got:\n{}", render(&errors)),
    }
}

fn errors(yaml: &str) -> Vec<ScenarioError> {
    match load(yaml) {
        Ok(_) => panic!("expected errors, but it loaded:\n{yaml}"),
        Err(e) => e,
    }
}

fn render(errors: &[ScenarioError]) -> String {
    errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

/// The 1-based line of the first line containing `needle`.
fn line_of(yaml: &str, needle: &str) -> u32 {
    yaml.lines().position(|l| l.contains(needle)).map(|i| i as u32 + 1).unwrap_or_else(|| panic!("no `{needle}`"))
}

/// Asserts exactly one error, at `needle`'s line, whose message contains every `parts`.
fn assert_one_error(yaml: &str, needle: &str, parts: &[&str]) -> ScenarioError {
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "expected one error, got:\n{}", render(&errs));
    let e = errs.into_iter().next().unwrap();
    assert_eq!(e.loc.map(|l| l.line), Some(line_of(yaml, needle)), "wrong line: {e}");
    for p in parts {
        assert!(e.message.contains(p), "message lacks {p:?}: {e}");
    }
    e
}

fn kinds(nodes: &[StepNode], out: &mut Vec<&'static str>) {
    for n in nodes {
        out.push(n.kind());
        if let Step::Repeat(r) = &n.step {
            kinds(&r.steps, out);
        }
    }
}

const SKETCH: &str = r#"name: takeover-accepted
description: A second admin's request re-prompts the user; on Yes the first admin is cut off.
tags: [takeover, consent, seed]
matrix: {backend: [native, external], tls: [off, valid]}
sessions:
  - id: alice
    screen: 1280x800
    draw: {pattern: checkerboard, seed: 7}
daemon:
  backend: ${backend}
  tls: ${tls}
  registry: {ShadowingConsentTimeout: 5}
steps:
  - request: {as: anna, admin: 'CORP\anna', session: alice}
  - consent: {session: alice, click: yes}
  - expect: {request: anna, granted: true}
  - connect: {as: anna}
  - expect_frame: {viewer: anna, equals: display}
  - request: {as: bob, admin: 'CORP\bob', session: alice}
  - {consent: {session: alice, click: yes}, after: 300ms}
  - expect_disconnect: {viewer: anna, within: 2s}
  - connect: {as: bob}
  - expect_frame: {viewer: bob, equals: display}
  - send_input: {viewer: bob, keys: "rm -rf /", pointer: [[10, 10], [400, 300]]}
  - expect_display_unchanged: {session: alice}
  - expect_events: [requested, prompted, accepted, connected, requested, prompted,
                    accepted, taken_over, connected]
"#;

// ---- parsing --------------------------------------------------------------

#[test]
fn the_design_sketch_parses_into_typed_steps_with_lines() {
    let s = ok(SKETCH);
    assert_eq!(s.name(), "takeover-accepted");
    assert_eq!(s.steps.len(), 13);
    assert_eq!(s.steps[0].loc, Loc::new(line_of(SKETCH, "as: anna"), 5));
    let Step::Request(r) = &s.steps[0].step else { panic!("{:?}", s.steps[0]) };
    assert_eq!((r.client.as_str(), r.admin_name(), r.session.as_deref()), ("anna", r"CORP\anna".into(), Some("alice")));
    assert!(!r.wait);
    let consent = &s.steps[6];
    assert_eq!(consent.after, Some(Duration::from_millis(300)));
    assert_eq!(consent.loc.line, line_of(SKETCH, "after: 300ms"));
    let Step::Consent(c) = &consent.step else { panic!() };
    assert_eq!(c.action(), ConsentAction::Click(Answer::Yes));
    let Step::SendInput(i) = &s.steps[10].step else { panic!() };
    assert_eq!(i.pointer, vec![[10, 10], [400, 300]]);
    let Step::ExpectEvents(e) = &s.steps[12].step else { panic!() };
    assert_eq!(e.events.len(), 9);
    assert_eq!(e.events[7], EventKind::TakenOver);
    assert_eq!((e.mode, e.session.as_deref()), (EventMatch::Exact, None));
}

#[test]
fn the_example_uses_every_step_kind_and_loads() {
    let s = load_str("scenarios/tour-every-step.yaml", EXAMPLE).unwrap_or_else(|e| panic!("{}", render(&e)));
    let mut used = Vec::new();
    kinds(&s.steps, &mut used);
    let used: BTreeSet<&str> = used.into_iter().collect();
    let all: BTreeSet<&str> = STEP_KINDS.iter().copied().collect();
    assert_eq!(used, all, "example.yaml should show every step kind");

    let named = s.steps.iter().find(|n| n.name.is_some()).unwrap();
    assert_eq!(named.name.as_deref(), Some("the user lets bob take over"));
    assert_eq!(named.label("9"), "step 9 \"the user lets bob take over\" (consent)");
    let Step::Consent(c) = &named.step else { panic!() };
    assert_eq!(c.action(), ConsentAction::Key(ConsentKey::Return));
    let last = s.steps.last().unwrap();
    assert_eq!((last.kind(), last.timeout), ("kill", Some(Duration::from_secs(10))));
    assert_eq!(last.loc.line, line_of(EXAMPLE, "kill: {process: shadowd}"));
}

#[test]
fn steps_default_their_waits_and_answers() {
    let s = ok("sessions: [{id: alice}]
steps:
  - request: {as: anna, session: alice}
  - consent: {session: alice, ignore: true}
  - expect: {request: anna, error: consent_timeout}
  - expect_events: {session: alice, events: [requested, prompted, timed_out], match: ordered}
");
    let Step::Consent(c) = &s.steps[1].step else { panic!() };
    assert_eq!((c.action(), c.within), (ConsentAction::Ignore, DEFAULT_WITHIN));
    let Step::Expect(e) = &s.steps[2].step else { panic!() };
    assert_eq!(e.outcome(), ExpectedOutcome::Refused(Some(ErrorCode::ConsentTimeout)));
    assert_eq!(e.within, DEFAULT_EXPECT_WITHIN);
    let Step::ExpectEvents(ev) = &s.steps[3].step else { panic!() };
    assert_eq!((ev.mode, ev.session.as_deref(), ev.within), (EventMatch::Ordered, Some("alice"), DEFAULT_SHORT_WITHIN));
}

#[test]
fn yaml_1_1_booleans_are_words() {
    // `off` must stay the axis value "off", not become `false`.
    let s = ok("matrix: {tls: [off, valid]}
daemon: {tls: '${tls}'}
steps:
  - sleep: 1s
    when: {tls: off}
");
    let cases = expand(&s).unwrap();
    assert_eq!(cases[0].axes, vec![("tls".to_string(), "off".to_string())]);
    assert_eq!(cases[0].steps.len(), 1);
    assert_eq!(cases[1].steps.len(), 0);
    // and a boolean field does not take `yes`.
    let yaml = "sessions: [{id: a}]\nsteps:\n  - request: {as: x, session: a, wait: yes}\n";
    assert_one_error(yaml, "wait: yes", &["invalid boolean", "true/false"]);
}

// ---- errors: shape -----------------------------------------------------------

#[test]
fn an_unknown_top_level_key_is_an_error_with_line_and_column() {
    let yaml = "steps:\n  - sleep: 1s\nsesions: []\n";
    let e = assert_one_error(yaml, "sesions", &["unknown field `sesions`", "expected one of", "sessions"]);
    assert_eq!(e.loc, Some(Loc::new(3, 1)));
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert!(e.to_string().starts_with("scenarios/t.yaml:3:1: unknown field `sesions`"), "{e}");
}

#[test]
fn an_unknown_key_inside_a_step_names_the_valid_ones() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {sesion: alice, click: yes}\n";
    let e = assert_one_error(yaml, "sesion", &["unknown field `sesion`", "session", "click"]);
    assert_eq!(e.loc.unwrap().column, 15);
}

#[test]
fn an_unknown_step_kind_lists_the_kinds_and_suggests_one() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - request: {as: anna, session: alice}\n  - expct: {request: anna, granted: true}\n";
    let e = assert_one_error(
        yaml,
        "expct",
        &["unknown variant `expct`", "expected one of request, consent, expect,", "did you mean `expect`?"],
    );
    assert_eq!(e.loc.unwrap().column, 5);
}

#[test]
fn a_step_attribute_inside_the_kind_map_says_where_it_goes() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {session: alice, click: yes, after: 300ms}\n";
    assert_one_error(yaml, "after", &["unknown field `after`", "step attribute", "beside the kind"]);
}

#[test]
fn two_kinds_in_one_step_is_an_error() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - stop: {session: alice}\n    sleep: 1s\n";
    let errs = errors(yaml);
    assert!(
        errs[0].message.contains("exactly one kind") && errs[0].message.contains("`stop` and `sleep`"),
        "{}",
        render(&errs)
    );
}

#[test]
fn a_step_without_a_kind_is_an_error() {
    let yaml = "steps:\n  - sleep: 1s\n  - after: 1s\n";
    assert_one_error(yaml, "after: 1s", &["no kind", "request"]);
}

#[test]
fn a_bad_duration_points_at_the_value() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {session: alice, click: yes}\n    after: 3x\n";
    let e = assert_one_error(yaml, "after: 3x", &["invalid duration `3x`", "unknown unit `x`"]);
    assert_eq!(e.loc.unwrap().column, 12);
    let yaml = "steps:\n  - sleep: 5\n";
    assert_one_error(yaml, "sleep: 5", &["needs a unit"]);
}

#[test]
fn a_bad_enum_value_lists_the_valid_ones() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {session: alice, click: maybe}\n";
    assert_one_error(yaml, "maybe", &["unknown variant `maybe`", "yes", "no"]);
    let yaml = "daemon: {tls: expird}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "expird", &["unknown variant `expird`", "expired", "not_yet_valid"]);
}

#[test]
fn screen_sizes_are_checked() {
    let yaml = "sessions:\n  - id: alice\n    screen: 99999x10\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "99999x10", &["screen `99999x10` is out of range", "16..=8192"]);
    let yaml = "sessions:\n  - id: alice\n    screen: big\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "big", &["invalid screen `big`", "WIDTHxHEIGHT"]);
    let yaml = "sessions:\n  - id: alice\n    screen: 15x600\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "15x600", &["out of range"]);
    let s = ok("sessions:\n  - id: alice\n    screen: 16x8192\nsteps:\n  - sleep: 1s\n");
    assert_eq!(expand(&s).unwrap()[0].sessions[0].screen, Screen { width: 16, height: 8192 });
}

#[test]
fn a_syntax_error_has_a_snippet_with_a_caret() {
    let yaml = "steps:\n  - sleep: 'unclosed\n";
    let errs = errors(yaml);
    let e = &errs[0];
    assert_eq!(e.kind, ErrorKind::Syntax);
    let snippet = e.snippet.as_deref().expect("snippet");
    assert!(snippet.contains("2 |   - sleep: 'unclosed"), "{snippet}");
    assert!(snippet.lines().nth(1).unwrap().trim_end().ends_with('^'), "{snippet}");
}

#[test]
fn an_unquoted_template_in_a_flow_map_gets_a_hint() {
    let yaml = "matrix: {tls: [off, valid]}\ndaemon: {tls: ${tls}}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "daemon", &["quote templates"]);
    let yaml = "vars: {b: x}\nsessions: [{id: a}]\nsteps:\n  - request: {as: anna, admin: ${b}, session: a}\n";
    assert_one_error(yaml, "request", &["flow mapping", "quote templates"]);
}

#[test]
fn duplicate_keys_are_errors_in_plain_words() {
    let yaml = "steps:\n  - sleep: 1s\nsteps: []\n";
    let e = assert_one_error(yaml, "steps: []", &["duplicate mapping key"]);
    assert!(!e.message.contains("DuplicateKeyPolicy"), "{e}");
}

// ---- errors: meaning -------------------------------------------------------

#[test]
fn an_undefined_session_is_named_with_a_suggestion() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {session: alcie, click: yes}\n";
    let e = assert_one_error(
        yaml,
        "alcie",
        &["step 1 (consent)", "no session `alcie` is declared", "sessions: alice", "did you mean `alice`?"],
    );
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert_eq!(e.to_string(), format!("{PATH}:3:5: {}", e.message));
}

#[test]
fn expect_needs_a_request_made_before_it() {
    let yaml = "sessions: [{id: alice}]
steps:
  - request: {as: anna, session: alice}
  - expect: {request: bob, granted: true}
";
    assert_one_error(
        yaml,
        "request: bob",
        &["step 2 (expect)", "no request was made as `bob` before this step", "clients so far: anna"],
    );
    let yaml = "sessions: [{id: alice}]
steps:
  - expect: {request: anna, granted: true}
  - request: {as: anna, session: alice}
";
    assert_one_error(yaml, "expect:", &["no request was made as `anna`", "no clients so far yet"]);
}

#[test]
fn viewers_exist_only_after_a_successful_connect() {
    let yaml = "sessions: [{id: alice}]
steps:
  - request: {as: anna, session: alice}
  - connect: {as: anna, expect_error: auth_failed, password: wrong}
  - expect_frame: {viewer: anna}
";
    assert_one_error(yaml, "expect_frame", &["step 3 (expect_frame)", "no viewer `anna` has connected"]);
}

#[test]
fn hogs_must_hold_ports_to_be_released() {
    let yaml = "steps:
  - hog_ports: {as: h1, count: 3}
  - release_ports: {hog: h1}
  - release_ports: {hog: h1}
";
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "{}", render(&errs));
    assert_eq!(errs[0].loc.unwrap().line, 4);
    assert!(errs[0].message.contains("no hog `h1` holds ports"), "{}", errs[0]);
}

#[test]
fn duplicate_session_ids_point_at_the_second() {
    let yaml = "sessions:\n  - id: alice\n  - id: bob\n  - id: alice\nsteps:\n  - sleep: 1s\n";
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "{}", render(&errs));
    assert_eq!(errs[0].loc, Some(Loc::new(4, 9)));
    assert!(errs[0].message.contains("session id `alice` is declared twice"), "{}", errs[0]);
}

#[test]
fn exclusive_and_missing_choices_are_named() {
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - consent: {session: alice, click: yes, ignore: true}\n";
    assert_one_error(yaml, "consent", &["say what the user does", "only one of `click`, `key`, `ignore: true`"]);
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - request: {as: a, session: alice}\n  - expect: {request: a}\n";
    assert_one_error(yaml, "expect", &["`granted: true`, `granted: false` or `error: CODE`"]);
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - kill: {process: x11vnc}\n";
    assert_one_error(yaml, "kill", &["`process: x11vnc` needs the `session`"]);
    let yaml = "steps:\n  - raw_connect: {port: 6001, send: a, send_hex: '00', expect: closed}\n";
    assert_one_error(yaml, "raw_connect", &["only one of `send`, `send_hex`"]);
    let yaml = "steps:\n  - http: {method: GET, path: v1/sessions}\n";
    assert_one_error(yaml, "http", &["`path` must start with `/`"]);
}

#[test]
fn all_semantic_errors_are_reported_at_once_in_file_order() {
    let yaml = "sessions: [{id: alice}]
steps:
  - consent: {session: bob, click: yes}
  - expect: {request: nobody, granted: true}
";
    let errs = errors(yaml);
    assert_eq!(errs.iter().map(|e| e.loc.unwrap().line).collect::<Vec<_>>(), vec![3, 4], "{}", render(&errs));
    // load_file's single error is the first of them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.yaml");
    std::fs::write(&path, yaml).unwrap();
    let first = load_file(&path).unwrap_err();
    assert_eq!(first.loc.unwrap().line, 3);
    assert_eq!(first.path, path);
}

#[test]
fn undefined_variables_are_errors() {
    let yaml = "sessions: [{id: alice}]\nvars: {boss: 'CORP\\boss'}\nsteps:\n  - request: {as: anna, admin: '${bos}', session: alice}\n";
    assert_one_error(yaml, "${bos}", &["`${bos}` is not defined here", "did you mean `boss`?"]);
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - http: {method: GET, path: '/v1/sessions/${session:bob}/shadow'}\n";
    assert_one_error(yaml, "session:bob", &["no session `bob` is declared"]);
    let yaml = "steps:\n  - sleep: 1s\n  - http: {method: GET, path: '/x/${port_a}'}\n";
    assert_one_error(yaml, "port_a", &["`${port_a}` is not defined here"]);
    let yaml = "steps:\n  - http: {method: GET, path: '/x/${a b}'}\n";
    assert_one_error(yaml, "a b", &["is not a reference"]);
}

#[test]
fn captures_are_variables_from_their_step_on() {
    ok("sessions: [{id: alice}]
steps:
  - request: {as: anna, session: alice}
  - capture: {name: port_a, from: anna.port}
  - raw_connect: {port_of: anna, send: 'GET /${port_a} HTTP/1.0', expect: http_error}
");
    let yaml = "sessions: [{id: alice}]\nsteps:\n  - request: {as: anna, session: alice}\n  - capture: {name: p, from: anna.prot}\n";
    assert_one_error(yaml, "anna.prot", &["unknown variant `prot`", "port"]);
}

#[test]
fn repeat_unrolls_names_with_its_loop_variable() {
    let good = "sessions:
  - {id: 'u${i}', count: 3}
steps:
  - repeat:
      times: 3
      steps:
        - request: {as: 'admin${i}', session: 'u${i}'}
        - consent: {session: 'u${i}', click: yes}
  - expect: {request: admin3, granted: true}
";
    let s = ok(good);
    let case = &expand(&s).unwrap()[0];
    assert_eq!(case.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["u1", "u2", "u3"]);
    let Step::Repeat(r) = &case.steps[0].step else { panic!() };
    let Step::Request(req) = &r.steps[0].step else { panic!() };
    assert_eq!(req.client, "admin${i}", "loop variables are left for the runner");

    let bad = good.replace("times: 3", "times: 4");
    let errs = errors(&bad);
    let lines: Vec<u32> = errs.iter().map(|e| e.loc.unwrap().line).collect();
    assert_eq!(lines, [7, 8], "{}", render(&errs));
    assert!(errs[0].message.contains("step 1.1 (request) [i=4]: no session `u4` is declared"), "{}", errs[0]);
    assert!(!errs[0].message.contains("did you mean"), "{}", errs[0]);
    let bad = good.replace("admin3", "admin4");
    assert_one_error(&bad, "admin4", &["no request was made as `admin4`"]);
}

#[test]
fn session_count_needs_i_in_the_id() {
    let yaml = "sessions:\n  - {id: u, count: 2}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "count: 2", &["needs `${i}` in the id"]);
}

#[test]
fn draw_options_fit_the_pattern() {
    let yaml = "sessions:\n  - id: a\n    draw: {pattern: solid}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "- id: a", &["pattern solid needs a `color`"]);
    let yaml = "sessions:\n  - id: a\n    draw: {pattern: gradient, seed: 3}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "seed: 3", &["`seed` only applies to checkerboard and noise"]);
    let s = ok("sessions:\n  - id: a\n    draw: {pattern: solid, color: '#112233'}\n  - id: b\n  - id: c\nsteps:\n  - sleep: 1s\n");
    let sessions = &expand(&s).unwrap()[0].sessions;
    assert_eq!(sessions[0].pattern, Pattern::Solid { rgb: 0x112233 });
    assert_ne!(sessions[1].pattern, sessions[2].pattern, "default seeds differ per session");
    assert!(matches!(sessions[0].pattern.to_driver(), crate::drivers::xvfb::Pattern::Solid(0x112233)));
}

// ---- matrix ------------------------------------------------------------------

const MATRIX: &str = "name: m
matrix:
  backend: [native, external]
  tls: [off, valid, expired]
  exclude:
    - {backend: external, tls: valid}
    - {backend: external, tls: expired}
daemon: {backend: '${backend}', tls: '${tls}'}
steps:
  - sleep: 1s
";

#[test]
fn the_matrix_expands_in_order_minus_excludes() {
    let s = ok(MATRIX);
    let names: Vec<String> = expand(&s).unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "m[backend=native,tls=off]",
            "m[backend=native,tls=valid]",
            "m[backend=native,tls=expired]",
            "m[backend=external,tls=off]",
        ]
    );
}

#[test]
fn axis_values_resolve_templated_settings() {
    let cases = expand(&ok(MATRIX)).unwrap();
    let d: Vec<(Backend, TlsSetup, Option<u32>)> =
        cases.iter().map(|c| (c.daemon.backend, c.daemon.tls, c.daemon.registry.shadowing_use_ssl)).collect();
    assert_eq!(
        d,
        [
            (Backend::Native, TlsSetup::Off, None),
            (Backend::Native, TlsSetup::Valid, Some(1)),
            (Backend::Native, TlsSetup::Expired, Some(1)),
            (Backend::External, TlsSetup::Off, None),
        ]
    );
    assert_eq!(cases[0].daemon.ports, shadowd::ports::PortRange { first: 6001, last: 6099 });
    // an explicit ShadowingUseSSL wins over the tls default
    let s = ok(&MATRIX.replace("tls: '${tls}'}", "tls: '${tls}', registry: {ShadowingUseSSL: 0x0}}"));
    assert!(expand(&s).unwrap().iter().all(|c| c.daemon.registry.shadowing_use_ssl == Some(0)));
}

#[test]
fn a_bad_axis_value_for_a_setting_points_at_the_setting() {
    let yaml = "matrix: {backend: [native, nativ]}\ndaemon:\n  backend: ${backend}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "backend: ${backend}", &["daemon.backend (`${backend}`)", "unknown variant `nativ`"]);
}

#[test]
fn excludes_must_name_real_axes_and_values() {
    let yaml = MATRIX.replace("- {backend: external, tls: valid}", "- {backend: external, tsl: valid}");
    assert_one_error(
        &yaml,
        "tsl",
        &["exclude names `tsl`, which is not a matrix axis", "axes: backend, tls", "did you mean `tls`?"],
    );
    let yaml = MATRIX.replace("- {backend: external, tls: valid}", "- {backend: external, tls: vaild}");
    assert_one_error(
        &yaml,
        "vaild",
        &["exclude: `vaild` is not a value of axis `tls`", "off, valid, expired", "did you mean `valid`?"],
    );
    let yaml = "matrix:\n  a: [x]\n  exclude:\n    - {a: x}\ndaemon: {ports: '${a}'}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "- {a: x}", &["leave no case"]);
}

#[test]
fn an_unused_axis_is_an_error() {
    let yaml = "matrix:\n  backend: [native, external]\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "backend:", &["matrix axis `backend` is not used", "${backend}"]);
}

#[test]
fn when_selects_steps_per_case() {
    let s = ok("matrix: {backend: [native, external]}
steps:
  - sleep: 1s
  - kill: {process: shadowd}
    when: {backend: external}
  - sleep: 2s
    when: {backend: [native, external]}
");
    let counts: Vec<usize> = expand(&s).unwrap().iter().map(|c| c.steps.len()).collect();
    assert_eq!(counts, [2, 3]);
    let yaml = "matrix: {backend: [native, external]}\nsteps:\n  - sleep: 1s\n    when: {backend: extrnal}\n";
    assert_one_error(yaml, "sleep", &["`extrnal` is not a value of axis `backend`"]);
    let yaml = MATRIX.replace("  - sleep: 1s\n", "  - sleep: 1s\n    when: {backend: external, tls: valid}\n");
    assert_one_error(&yaml, "sleep", &["step 1 (sleep): its `when` matches no case"]);
    let yaml = "steps:\n  - sleep: 1s\n    when: {tls: off}\n";
    assert_one_error(yaml, "sleep", &["`when` names `tls`, which is not a matrix axis"]);
}

#[test]
fn no_matrix_means_one_case_named_after_the_file() {
    let s = load_str("scenarios/port-reuse.yaml", "steps:\n  - sleep: 1s\n").unwrap();
    assert_eq!(s.name(), "port-reuse");
    let cases = expand(&s).unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].name, "port-reuse");
    assert_eq!(cases[0].timeout, DEFAULT_SCENARIO_TIMEOUT);
    assert_eq!(cases[0].daemon.backend, Backend::Native);
}

// ---- interpolation ------------------------------------------------------------

#[test]
fn vars_and_axes_are_substituted_and_runtime_references_kept() {
    let s = ok(r#"name: interp
description: on ${backend}
matrix: {backend: [native, external]}
vars: {boss: 'CORP\${backend}-boss', price: 'cost $$5'}
sessions: [{id: alice}]
daemon: {backend: '${backend}'}
steps:
  - request: {as: anna, admin: '${boss}', session: alice}
  - capture: {name: port_a, from: anna.port}
  - http: {method: POST, path: '/v1/sessions/${session:alice}/shadow', body: '${price} $${literal} ${port_a}'}
"#);
    let case = &expand(&s).unwrap()[1];
    assert_eq!(case.description.as_deref(), Some("on external"));
    assert_eq!(case.vars["boss"], r"CORP\external-boss");
    let Step::Request(r) = &case.steps[0].step else { panic!() };
    assert_eq!(r.admin.as_deref(), Some(r"CORP\external-boss"));
    let Step::Http(h) = &case.steps[2].step else { panic!() };
    assert_eq!(h.path, "/v1/sessions/${session:alice}/shadow");
    // the runner's final pass
    let body = interpolate(h.body.as_deref().unwrap(), |r| match r {
        VarRef::Var("port_a") => Some("6003".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(body, "cost $5 ${literal} 6003");
    let path = interpolate(&h.path, |r| matches!(r, VarRef::Session("alice")).then(|| "7".into())).unwrap();
    assert_eq!(path, "/v1/sessions/7/shadow");
}

#[test]
fn substitution_escapes_what_it_inserts() {
    let once = substitute("a ${x} ${y} $${z}", |r| matches!(r, VarRef::Var("x")).then(|| "${y}$".into())).unwrap();
    assert_eq!(once, "a $${y}$$ ${y} $${z}");
    let done = interpolate(&once, |r| matches!(r, VarRef::Var("y")).then(|| "Y".into())).unwrap();
    assert_eq!(done, "a ${y}$ Y ${z}");
    assert!(interpolate("${nope}", |_| None).unwrap_err().contains("`${nope}` is not defined"));
    assert!(interpolate("x ${open", |_| None).unwrap_err().contains("unclosed"));
    assert!(!has_references("$${x} costs $5"));
    assert_eq!(references("${a}-${session:b}").unwrap(), vec![VarRef::Var("a"), VarRef::Session("b")]);
}

#[test]
fn vars_may_only_use_axes() {
    let yaml = "vars: {a: x, b: '${a}'}\nsteps:\n  - sleep: 1s\n";
    assert_one_error(yaml, "b: '${a}'", &["var `b` may only use matrix axes, not `a`"]);
}

// ---- values ----------------------------------------------------------------------

#[test]
fn durations_parse_and_print() {
    let d = |s: &str| s.parse::<Duration>();
    assert_eq!(d("300ms"), Ok(Duration::from_millis(300)));
    assert_eq!(d("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(d("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
    for bad in ["", "5", "1.0001s", "2d", "s", "25h", "1..5s"] {
        assert!(d(bad).is_err(), "{bad:?} should be refused");
    }
    assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
    assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
    assert_eq!(Duration::from_secs(7200).to_string(), "2h");
}

#[test]
fn sizes_hex_and_ports_parse() {
    assert_eq!("10MB".parse::<ByteSize>(), Ok(ByteSize(10_000_000)));
    assert_eq!("64KiB".parse::<ByteSize>(), Ok(ByteSize(65_536)));
    assert!("2GiB".parse::<ByteSize>().is_err());
    assert_eq!("52 46 42".parse::<HexBytes>(), Ok(HexBytes(b"RFB".to_vec())));
    assert!("5".parse::<HexBytes>().is_err());
    assert_eq!(
        <shadowd::ports::PortRange as Scalar>::parse_scalar("6001"),
        Ok(shadowd::ports::PortRange { first: 6001, last: 6001 })
    );
    assert_eq!(u32::parse_scalar("0x00000001"), Ok(1));
}

#[test]
fn vocabularies_match_shadowd_by_name() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let names = |def: &str| -> Vec<String> {
        let d = &schema["definitions"][def];
        let mut out: Vec<String> =
            d["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
        for alt in d["oneOf"].as_array().into_iter().flatten() {
            out.extend(alt["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
            out.extend(alt["const"].as_str().map(String::from));
        }
        assert!(!out.is_empty(), "no names for {def}");
        out
    };
    for n in names("ErrorCode") {
        let ours: ErrorCode = values::parse_enum(&n).unwrap();
        let theirs: shadowd::broker::ErrorCode = ours.into();
        assert_eq!(theirs.as_str(), n);
    }
    for n in names("EventKind") {
        let theirs: shadowd::audit::EventKind = values::parse_enum::<EventKind>(&n).unwrap().into();
        assert_eq!(serde_json::to_value(theirs).unwrap(), serde_json::Value::String(n));
    }
    for n in names("EndReason") {
        let theirs: shadowd::broker::EndReason = values::parse_enum::<EndReason>(&n).unwrap().into();
        assert_eq!(serde_json::to_value(theirs).unwrap(), serde_json::Value::String(n));
    }
}

// ---- schema ------------------------------------------------------------------------

#[test]
fn the_json_schema_is_draft07_and_covers_every_step_kind() {
    let text = json_schema();
    let schema: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
    let alts = schema["definitions"]["Step"]["oneOf"].as_array().expect("Step.oneOf");
    let mut kinds = BTreeSet::new();
    for alt in alts {
        let required = alt["required"].as_array().unwrap();
        assert_eq!(required.len(), 1, "{alt}");
        kinds.insert(required[0].as_str().unwrap().to_string());
        for attr in STEP_ATTRIBUTES {
            assert!(alt["properties"].get(*attr).is_some(), "{attr} missing in {alt}");
        }
        assert_eq!(alt["additionalProperties"], false);
    }
    let expected: BTreeSet<String> = STEP_KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(kinds, expected, "STEP_KINDS and the Step enum disagree");
    // doc comments become descriptions
    assert!(text.contains("Ask to shadow a session"), "step docs missing");
    assert!(text.contains("The shadow port range"), "field docs missing");
}

// ---- filters and directories -------------------------------------------------------

#[test]
fn filters_select_by_tag_and_name() {
    let cases = expand(&ok(&MATRIX.replace("name: m", "name: takeover\ntags: [takeover, slow]"))).unwrap();
    let f = |tags: &[&str], names: &[&str]| CaseFilter {
        tags: tags.iter().map(|s| s.to_string()).collect(),
        names: names.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(f(&[], &[]).select(&cases).len(), 4);
    assert_eq!(f(&["takeover"], &[]).select(&cases).len(), 4);
    assert_eq!(f(&["tls"], &[]).select(&cases).len(), 0);
    assert_eq!(f(&["takeover", "!slow"], &[]).select(&cases).len(), 0);
    assert_eq!(f(&[], &["tls=valid"]).select(&cases).len(), 1);
    assert_eq!(f(&[], &["takeover[backend=native,*"]).select(&cases).len(), 3);
    assert_eq!(f(&[], &["*external*"]).select(&cases).len(), 1);
    assert!(matches_name("a[b=c]", "a?b=c]"));
    assert!(matches_name("takeover", "take"));
    assert!(!matches_name("takeover", "take*x"), "a glob matches the whole name");
    assert!(matches_tags(&["a".into()], &["-b".into()]));
}

#[test]
fn load_dir_reads_yaml_files_sorted_and_collects_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |p: &str, text: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("b.yml", "steps:\n  - sleep: 1s\n");
    write("a.yaml", "steps:\n  - sleep: 1s\n");
    write("nested/c.yaml", "steps:\n  - sleep: 1s\n");
    write("notes.txt", "not a scenario");
    write("broken.yaml", "steps:\n  - slep: 1s\n");
    write("dup.yaml", "name: a\nsteps:\n  - sleep: 1s\n");
    let (scenarios, errs) = load_dir(dir.path());
    let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(errs.len(), 2, "{}", render(&errs));
    assert_eq!(errs[0].path, dir.path().join("broken.yaml"));
    assert!(errs[0].to_string().contains("broken.yaml:2:5: unknown variant `slep`"), "{}", errs[0]);
    assert_eq!(errs[1].path, dir.path().join("dup.yaml"));
    assert!(errs[1].message.contains("already used by"), "{}", errs[1]);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let e = load_file(Path::new("/nonexistent/x.yaml")).unwrap_err();
    assert_eq!((e.kind, e.loc), (ErrorKind::Io, None));
    assert!(e.to_string().starts_with("/nonexistent/x.yaml: cannot read"), "{e}");
}

#[test]
fn browser_steps_parse_with_their_defaults() {
    let s = ok("sessions: [{id: alice}]\nsteps:\n  - browser: {open: console, click: shadow, session: alice, expect_phase: asking}\n");
    let Step::Browser(b) = &s.steps[0].step else { panic!("not a browser step") };
    assert_eq!((b.window_name(), b.admin_name().as_str()), ("main", "CORP\\main"));
    assert_eq!(
        (b.open, b.click, b.expect_phase),
        (Some(ConsolePage::Console), Some(ConsoleButton::Shadow), Some(ConsolePhase::Asking))
    );
    assert_eq!(b.within, DEFAULT_BROWSER_WITHIN);
}

#[test]
fn a_browser_step_says_what_it_lacks() {
    let base = "sessions: [{id: alice}]\nsteps:\n";
    assert_one_error(&format!("{base}  - browser: {{window: w1}}\n"), "browser", &["nothing to do", "`open`"]);
    assert_one_error(
        &format!("{base}  - browser: {{click: shadow}}\n"),
        "browser",
        &["`click: shadow`", "needs `session`"],
    );
    assert_one_error(
        &format!("{base}  - browser: {{expect_canvas_matches_display: true}}\n"),
        "browser",
        &["`expect_canvas_matches_display`", "needs `session`"],
    );
    assert_one_error(
        &format!("{base}  - browser: {{click: stop, admin: x}}\n"),
        "browser",
        &["`admin`", "give `open` too"],
    );
    assert_one_error(
        &format!("{base}  - browser: {{open: console, session: bob}}\n"),
        "browser",
        &["no session `bob`"],
    );
    assert_one_error(
        &format!("{base}  - browser: {{open: consol}}\n"),
        "consol",
        &["unknown variant `consol`", "console", "shadow"],
    );
}

#[test]
fn system_steps_need_the_container_tag() {
    let yaml = "steps:\n  - system: {run: 'mv /usr/bin/netstat /tmp/'}\n";
    assert_one_error(yaml, "system:", &["changes the machine", "tag the scenario `container`"]);
    let tagged =
        "tags: [container]\nsteps:\n  - system: {run: 'mv /usr/bin/netstat /tmp/'}\n  - doctor: {fails: [netstat]}\n";
    load_str("scenarios/trap.yaml", tagged).unwrap_or_else(|e| panic!("{}", render(&e)));
}
