//! The broker driven step by step, with time passed in. Each test reads as a
//! scenario from the seed; the last one is a randomized model run that checks
//! the invariants after every step.

use super::*;
use crate::audit::EventKind;
use std::collections::BTreeMap;

const POLICY: RequestPolicy = RequestPolicy { enabled: true, consent_timeout: Duration::from_secs(20) };

fn broker(range: &str) -> Broker {
    Broker::new(BrokerConfig { ports: range.parse().unwrap(), connect_grace: Duration::from_secs(30) })
}

fn events(actions: &[Action]) -> Vec<EventKind> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Audit(r) => Some(r.event),
            _ => None,
        })
        .collect()
}

fn reply(actions: &[Action], req: RequestId) -> Option<Result<Grant, Refusal>> {
    actions.iter().find_map(|a| match a {
        Action::Reply { req: r, result } if *r == req => Some(result.clone()),
        _ => None,
    })
}

fn prompt_id(actions: &[Action]) -> PromptId {
    actions
        .iter()
        .find_map(|a| match a {
            Action::ShowPrompt { prompt, .. } => Some(*prompt),
            _ => None,
        })
        .expect("a prompt is shown")
}

fn started(actions: &[Action]) -> (ShadowId, u16) {
    actions
        .iter()
        .find_map(|a| match a {
            Action::StartShadow { shadow, port, .. } => Some((*shadow, *port)),
            _ => None,
        })
        .expect("a shadow is started")
}

/// Request, Yes, backend ready: returns (shadow, port).
fn grant(b: &mut Broker, now: Instant, req: RequestId, session: &str, admin: &str) -> (ShadowId, u16) {
    let a = b.request(now, req, session, admin, POLICY);
    let p = prompt_id(&a);
    let a = b.answer(now, session, p, Answer::Yes);
    let (shadow, port) = started(&a);
    let a = b.backend_ready(now, session, shadow);
    assert_eq!(reply(&a, req), Some(Ok(Grant { shadow, port })));
    b.check_invariants();
    (shadow, port)
}

#[test]
fn consent_yes_grants_a_port() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let a = b.request(t, 1, "3", "CORP\\anna", POLICY);
    assert_eq!(events(&a), [EventKind::Requested]);
    let p = prompt_id(&a);
    assert_eq!(reply(&a, 1), None, "no answer before the user's");
    assert_eq!(events(&b.prompt_shown("3", p)), [EventKind::Prompted]);
    let a = b.answer(t, "3", p, Answer::Yes);
    assert!(a.contains(&Action::ClosePrompt { session: "3".into(), prompt: p }));
    assert_eq!(events(&a), [EventKind::Accepted]);
    let (shadow, port) = started(&a);
    assert_eq!(port, 6001);
    assert_eq!(reply(&a, 1), None, "no answer before the backend listens");
    let a = b.backend_ready(t, "3", shadow);
    assert_eq!(reply(&a, 1), Some(Ok(Grant { shadow, port: 6001 })));
    assert_eq!(events(&b.admin_connected("3", shadow)), [EventKind::Connected]);
    assert_eq!(b.shadow_of("3").unwrap().state, "connected");
}

#[test]
fn consent_no_and_timeout() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let p = prompt_id(&b.request(t, 1, "3", "a", POLICY));
    let a = b.answer(t, "3", p, Answer::No);
    assert_eq!(reply(&a, 1).unwrap().unwrap_err().code, ErrorCode::ConsentDenied);
    assert_eq!(events(&a), [EventKind::Denied]);

    let p = prompt_id(&b.request(t, 2, "3", "a", POLICY));
    assert_eq!(b.next_deadline(), Some(t + Duration::from_secs(20)));
    assert!(b.tick(t + Duration::from_millis(19_999)).is_empty());
    let a = b.tick(t + Duration::from_secs(20));
    assert!(a.contains(&Action::ClosePrompt { session: "3".into(), prompt: p }));
    assert_eq!(reply(&a, 2).unwrap().unwrap_err().code, ErrorCode::ConsentTimeout);
    assert_eq!(events(&a), [EventKind::TimedOut]);
    assert!(b.answer(t, "3", p, Answer::Yes).is_empty(), "a late Yes changes nothing");
    assert_eq!(b.free_ports(), 99);
}

#[test]
fn the_consent_timeout_comes_from_the_policy() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let short = RequestPolicy { consent_timeout: Duration::from_secs(2), ..POLICY };
    b.request(t, 1, "3", "a", short);
    assert_eq!(b.next_deadline(), Some(t + Duration::from_secs(2)));
}

#[test]
fn disabled_is_refused_without_asking_the_user() {
    let mut b = broker("6001-6099");
    let a = b.request(Instant::now(), 1, "3", "a", RequestPolicy { enabled: false, ..POLICY });
    assert_eq!(reply(&a, 1).unwrap().unwrap_err().code, ErrorCode::ShadowingDisabled);
    assert!(!a.iter().any(|a| matches!(a, Action::ShowPrompt { .. })));
    assert_eq!(events(&a), [EventKind::Requested, EventKind::Rejected]);
}

#[test]
fn a_second_request_while_asking_is_consent_pending() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let p = prompt_id(&b.request(t, 1, "3", "a", POLICY));
    let a = b.request(t, 2, "3", "b", POLICY);
    assert_eq!(reply(&a, 2).unwrap().unwrap_err().code, ErrorCode::ConsentPending);
    assert!(!a.iter().any(|a| matches!(a, Action::ShowPrompt { .. })), "never two dialogs");
    // Another session is independent.
    assert!(b.request(t, 3, "4", "b", POLICY).iter().any(|a| matches!(a, Action::ShowPrompt { .. })));
    // Once answered, the session can be asked again.
    b.answer(t, "3", p, Answer::No);
    assert!(b.request(t, 4, "3", "b", POLICY).iter().any(|a| matches!(a, Action::ShowPrompt { .. })));
}

#[test]
fn takeover_accepted_ends_the_first_admin() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let (a_shadow, a_port) = grant(&mut b, t, 1, "3", "anna");
    b.admin_connected("3", a_shadow);
    let p = prompt_id(&b.request(t, 2, "3", "bob", POLICY));
    assert_eq!(b.shadow_of("3").unwrap().admin, "anna", "anna keeps watching while the user decides");
    let a = b.answer(t, "3", p, Answer::Yes);
    assert_eq!(events(&a), [EventKind::Accepted, EventKind::TakenOver, EventKind::Ended]);
    assert!(a.contains(&Action::StopShadow { shadow: a_shadow, port: a_port, reason: EndReason::TakenOver }));
    let (b_shadow, b_port) = started(&a);
    assert_ne!(a_shadow, b_shadow);
    assert_eq!(b_port, a_port, "the freed port is the lowest free one");
    b.check_invariants();
}

#[test]
fn takeover_refused_keeps_the_first_admin() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let (a_shadow, _) = grant(&mut b, t, 1, "3", "anna");
    let p = prompt_id(&b.request(t, 2, "3", "bob", POLICY));
    let a = b.answer(t, "3", p, Answer::No);
    assert!(!a.iter().any(|a| matches!(a, Action::StopShadow { .. })));
    assert_eq!(b.shadow_of("3").unwrap().shadow, Some(a_shadow));
}

#[test]
fn the_same_admin_again_gets_a_new_connection() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let (first, _) = grant(&mut b, t, 1, "3", "anna");
    let (second, _) = grant(&mut b, t, 2, "3", "anna");
    assert_ne!(first, second);
    assert_eq!(b.free_ports(), 98);
}

#[test]
fn port_exhaustion_at_99_and_reuse() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let mut shadows = Vec::new();
    for i in 0..99u64 {
        shadows.push(grant(&mut b, t, i, &format!("s{i}"), "a"));
    }
    let a = b.request(t, 100, "s100", "a", POLICY);
    let r = reply(&a, 100).unwrap().unwrap_err();
    assert_eq!(r.code, ErrorCode::NoFreePort);
    assert!(r.message.contains("6001-6099"), "{}", r.message);
    // A takeover of a shadowed session still works at the limit.
    let p = prompt_id(&b.request(t, 101, "s5", "b", POLICY));
    let (_, port) = started(&b.answer(t, "s5", p, Answer::Yes));
    assert_eq!(port, shadows[5].1);
    // The admin of s0 leaves: its port is handed out next.
    b.backend_ended("s0", shadows[0].0, EndReason::AdminDisconnected);
    let (_, port) = grant(&mut b, t, 102, "s100", "a");
    assert_eq!(port, 6001);
}

#[test]
fn ports_busy_elsewhere_are_skipped() {
    let mut b = broker("6001-6003");
    let t = Instant::now();
    let p = prompt_id(&b.request(t, 1, "3", "a", POLICY));
    let (shadow, port) = started(&b.answer(t, "3", p, Answer::Yes));
    assert_eq!(port, 6001);
    let (_, port) = started(&b.port_busy("3", shadow, 6001));
    assert_eq!(port, 6002);
    let (_, port) = started(&b.port_busy("3", shadow, 6002));
    assert_eq!(port, 6003);
    let a = b.port_busy("3", shadow, 6003);
    let r = reply(&a, 1).unwrap().unwrap_err();
    assert_eq!(r.code, ErrorCode::NoFreePort);
    assert!(r.message.contains("3 in use by other processes"), "{}", r.message);
    assert_eq!(b.free_ports(), 3, "nothing stays leased after a failed allocation");
    b.check_invariants();
}

#[test]
fn every_way_a_shadow_ends_returns_its_port() {
    let t = Instant::now();
    type End = fn(&mut Broker, Instant, ShadowId) -> Vec<Action>;
    let ends: [(&str, End, EndReason); 5] = [
        ("admin left", |b, _, s| b.backend_ended("3", s, EndReason::AdminDisconnected), EndReason::AdminDisconnected),
        ("DELETE", |b, _, _| b.stop("3", EndReason::Deleted).unwrap(), EndReason::Deleted),
        ("X server exited", |b, _, _| b.session_gone("3"), EndReason::SessionEnded),
        ("never connected", |b, t, _| b.tick(t + Duration::from_secs(30)), EndReason::NeverConnected),
        ("backend crashed", |b, _, s| b.backend_ended("3", s, EndReason::BackendExited), EndReason::BackendExited),
    ];
    for (what, end, reason) in ends {
        let mut b = broker("6001-6099");
        let (shadow, port) = grant(&mut b, t, 1, "3", "a");
        let a = end(&mut b, t, shadow);
        assert!(a.contains(&Action::StopShadow { shadow, port, reason }), "{what}: {a:?}");
        assert_eq!(b.free_ports(), 99, "{what}");
        assert!(b.shadow_of("3").is_none(), "{what}");
        b.check_invariants();
    }
}

#[test]
fn a_connected_admin_has_no_deadline() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let (shadow, _) = grant(&mut b, t, 1, "3", "a");
    assert_eq!(b.next_deadline(), Some(t + Duration::from_secs(30)));
    b.admin_connected("3", shadow);
    assert_eq!(b.next_deadline(), None);
    assert!(b.tick(t + Duration::from_secs(3600)).is_empty());
}

#[test]
fn delete_without_a_shadow_is_an_error() {
    let mut b = broker("6001-6099");
    assert_eq!(b.stop("3", EndReason::Deleted).unwrap_err().code, ErrorCode::NoActiveShadow);
}

#[test]
fn session_gone_while_asking_closes_the_dialog() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let p = prompt_id(&b.request(t, 1, "3", "a", POLICY));
    let a = b.session_gone("3");
    assert!(a.contains(&Action::ClosePrompt { session: "3".into(), prompt: p }));
    assert_eq!(reply(&a, 1).unwrap().unwrap_err().code, ErrorCode::DisplayUnreachable);
}

#[test]
fn stale_inputs_for_old_shadows_are_ignored() {
    let mut b = broker("6001-6099");
    let t = Instant::now();
    let (old, _) = grant(&mut b, t, 1, "3", "a");
    let (new, port) = grant(&mut b, t, 2, "3", "b");
    assert!(b.backend_ended("3", old, EndReason::AdminDisconnected).is_empty());
    assert!(b.admin_connected("3", old).is_empty());
    assert_eq!(b.shadow_of("3").unwrap().shadow, Some(new));
    assert_eq!(b.shadow_of("3").unwrap().port, Some(port));
}

/// A deterministic random walk over every input, checking after each step
/// that the invariants hold and that every request is answered exactly once
/// by the end (after a shutdown).
#[test]
fn model_random_walk_keeps_invariants() {
    let mut rng = 0x2545f4914f6cdd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _run in 0..50 {
        let mut b = broker("6001-6004");
        let t0 = Instant::now();
        let mut now = t0;
        let mut replies: BTreeMap<RequestId, usize> = BTreeMap::new();
        let mut prompts: Vec<(String, PromptId)> = Vec::new();
        let mut shadows: Vec<(String, ShadowId)> = Vec::new();
        let mut req = 0;
        for _step in 0..300 {
            let session = format!("{}", next(3));
            let actions = match next(9) {
                0 | 1 => {
                    req += 1;
                    replies.insert(req, 0);
                    b.request(now, req, &session, &format!("admin{}", next(2)), POLICY)
                }
                2 | 3 if !prompts.is_empty() => {
                    let (s, p) = prompts.remove(next(prompts.len() as u64) as usize);
                    let ans = [Answer::Yes, Answer::No, Answer::TimedOut][next(3) as usize];
                    b.answer(now, &s, p, ans)
                }
                4 if !shadows.is_empty() => {
                    let (s, id) = shadows[next(shadows.len() as u64) as usize].clone();
                    match next(4) {
                        0 => b.backend_ready(now, &s, id),
                        1 => b.admin_connected(&s, id),
                        2 => b.backend_ended(&s, id, EndReason::AdminDisconnected),
                        _ => b.port_busy(&s, id, b.shadow_of(&s).and_then(|v| v.port).unwrap_or(6001)),
                    }
                }
                5 => b.stop(&session, EndReason::Deleted).unwrap_or_default(),
                6 if next(10) == 0 => b.session_gone(&session),
                _ => {
                    now += Duration::from_secs(next(25));
                    b.tick(now)
                }
            };
            for a in &actions {
                match a {
                    Action::Reply { req, .. } => *replies.get_mut(req).expect("reply to a known request") += 1,
                    Action::ShowPrompt { session, prompt, .. } => prompts.push((session.clone(), *prompt)),
                    Action::StartShadow { session, shadow, .. } => shadows.push((session.clone(), *shadow)),
                    _ => {}
                }
            }
            b.check_invariants();
            assert!(replies.values().all(|n| *n <= 1), "a request answered twice");
        }
        for a in b.shutdown() {
            if let Action::Reply { req, .. } = a {
                *replies.get_mut(&req).unwrap() += 1;
            }
        }
        b.check_invariants();
        assert_eq!(b.free_ports(), 4, "every port back after shutdown");
        let unanswered: Vec<_> = replies.iter().filter(|(_, n)| **n != 1).collect();
        assert!(unanswered.is_empty(), "requests not answered exactly once: {unanswered:?}");
    }
}
