//! shadowd end to end on the seed's pipeline (websockify + x11vnc), all
//! real: Xvfb with known content, the consent dialog answered through XTEST,
//! an RFB-over-WebSocket viewer authenticating with the one-time password.

mod common;

use common::{blocking, port_is_free, Fixture, WAIT};
use shadowd::audit::EventKind;
use shadowd::broker::EndReason;
use simulator::drivers::consent;
use simulator::drivers::daemon::DaemonOptions;
use simulator::drivers::xvfb::{InputProbe, Pattern};
use std::time::Duration;

fn kinds(events: &[shadowd::audit::Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.record.event).collect()
}

#[tokio::test]
async fn granted_viewer_sees_the_display_and_cannot_touch_it() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let mut events = f.dir.events(None).await.unwrap();
    let g = f.grant("CORP\\anna").await;
    assert_eq!(g.scheme, "ws");
    assert_eq!(g.url, format!("ws://vda1.shadow.test:{}/", g.port));
    assert!((f.ports.0..=f.ports.1).contains(&g.port));
    assert_eq!(g.password.len(), 8);

    let mut v = f.connect(&g).await;
    let frame = v.full_frame(WAIT).await.unwrap();
    let shown = f.x.screenshot().unwrap();
    assert_eq!(frame.diff(&shown), None, "the viewer's frame equals the display");
    // What was drawn, apart from shadowd's "being shadowed" bar.
    let mut drawn = Pattern::Noise { seed: 11 }.render(480, 320);
    simulator::drivers::indicator::mask(&f.x.display(), &mut drawn, &shown).unwrap();
    assert_eq!(shown.diff(&drawn), None);
    events.wait_for(EventKind::Connected, &f.id, WAIT).await.unwrap();

    // View-only: input from the viewer must not reach the display.
    let probe = InputProbe::install(&f.x.display()).unwrap();
    for (x, y) in [(10, 10), (400, 300), (100, 200)] {
        v.send_pointer(x, y, 1).await.unwrap();
        v.send_pointer(x, y, 0).await.unwrap();
    }
    for ch in "rm -rf /\r".chars() {
        v.send_key(ch as u32, true).await.unwrap();
        v.send_key(ch as u32, false).await.unwrap();
    }
    v.send_cut_text("pasted").await.unwrap();
    // A full round trip after the input: x11vnc has processed it by now.
    v.full_frame(WAIT).await.unwrap();
    assert_eq!(probe.input_events().unwrap(), Vec::<String>::new(), "the display received input");
    // Positive control: the probe does see input that really arrives.
    f.x.xtest_input(50, 60, 38).unwrap();
    assert!(!probe.wait_for_input(Duration::from_secs(5)).unwrap().is_empty());
    drop(probe);

    // The admin leaves: the shadow ends and its port returns to the pool.
    v.close().await.unwrap();
    let ended = events.wait_for(EventKind::Ended, &f.id, WAIT).await.unwrap();
    assert_eq!(ended.record.reason, Some(EndReason::AdminDisconnected));
    assert_eq!(ended.record.port, Some(g.port));
    assert!(port_is_free(g.port), "port {} back in the pool", g.port);
    let trace = kinds(&f.d.logged_events());
    use EventKind::*;
    assert_eq!(trace, [Requested, Prompted, Accepted, Connected, Ended]);
}

#[tokio::test]
async fn denied_by_key_and_by_the_no_button() {
    let f = Fixture::new(DaemonOptions::default()).await;
    for key in ["n", "Escape"] {
        let e = f.request_answering("CORP\\anna", key).await.unwrap_err();
        assert_eq!((e.status, e.error.as_str()), (403, "consent_denied"), "{key}");
        consent::wait_closed(&f.x.display(), WAIT).unwrap();
    }
    let request = {
        let (dir, id) = (f.dir.clone(), f.id.clone());
        tokio::spawn(async move { dir.request_shadow(&id, "CORP\\bob").await })
    };
    let display = f.x.display();
    tokio::task::spawn_blocking(move || consent::click(&display, consent::ConsentButton::No)).await.unwrap().unwrap();
    let e = request.await.unwrap().unwrap().unwrap_err();
    assert_eq!(e.error, "consent_denied");
    // Accepting by clicking Yes works the same way.
    let request = {
        let (dir, id) = (f.dir.clone(), f.id.clone());
        tokio::spawn(async move { dir.request_shadow(&id, "CORP\\bob").await })
    };
    let display = f.x.display();
    tokio::task::spawn_blocking(move || consent::click(&display, consent::ConsentButton::Yes)).await.unwrap().unwrap();
    let g = request.await.unwrap().unwrap().expect("granted by the Yes button");
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    use EventKind::*;
    let trace = kinds(&f.d.logged_events());
    assert_eq!(&trace[..9], [Requested, Prompted, Denied, Requested, Prompted, Denied, Requested, Prompted, Denied]);
}

#[tokio::test]
async fn unanswered_consent_times_out_and_the_dialog_closes() {
    let opts = DaemonOptions { registry: vec![("ShadowingConsentTimeout".into(), 2)], ..Default::default() };
    let f = Fixture::new(opts).await;
    let started = std::time::Instant::now();
    let request = {
        let (dir, id) = (f.dir.clone(), f.id.clone());
        tokio::spawn(async move { dir.request_shadow(&id, "CORP\\anna").await })
    };
    let display = f.x.display();
    let w = blocking(move || consent::wait_for_dialog(&display, WAIT)).await.unwrap();
    assert!(w.title.contains("CORP\\anna"), "the dialog names the admin: {:?}", w.title);
    let e = request.await.unwrap().unwrap().unwrap_err();
    let took = started.elapsed();
    assert_eq!((e.status, e.error.as_str()), (403, "consent_timeout"));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(6), "{took:?}");
    consent::wait_closed(&f.x.display(), WAIT).unwrap();
    assert_eq!(f.x.screenshot().unwrap().diff(&Pattern::Noise { seed: 11 }.render(480, 320)), None, "no dialog left");
}

#[tokio::test]
async fn a_second_request_while_the_user_decides_is_consent_pending() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let first = {
        let (dir, id) = (f.dir.clone(), f.id.clone());
        tokio::spawn(async move { dir.request_shadow(&id, "CORP\\anna").await })
    };
    let display = f.x.display();
    blocking(move || consent::wait_for_dialog(&display, WAIT)).await.unwrap();
    let e = f.dir.request_shadow(&f.id, "CORP\\bob").await.unwrap().unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (409, "consent_pending"));
    assert!(e.message.contains("CORP\\anna"), "{}", e.message);
    assert_eq!(consent::find_dialogs(&f.x.display()).unwrap().len(), 1, "never two dialogs");
    let display = f.x.display();
    blocking(move || consent::press_key(&display, "y")).await.unwrap();
    first.await.unwrap().unwrap().expect("the first request is still granted");
}

#[tokio::test]
async fn takeover_accepted_cuts_the_first_admin_off() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let mut events = f.dir.events(None).await.unwrap();
    let ga = f.grant("CORP\\anna").await;
    let mut va = f.connect(&ga).await;
    va.full_frame(WAIT).await.unwrap();
    let gb = f.grant("CORP\\bob").await;
    let closed = va.wait_closed(Duration::from_secs(5)).await;
    assert!(closed.is_ok(), "anna's connection stops: {closed:?}");
    let ev = events.wait_for(EventKind::TakenOver, &f.id, WAIT).await.unwrap();
    assert_eq!((ev.record.admin.as_str(), ev.record.by.as_deref()), ("CORP\\anna", Some("CORP\\bob")));
    assert_ne!(ga.shadow, gb.shadow);
    let mut vb = f.connect(&gb).await;
    assert_eq!(vb.full_frame(WAIT).await.unwrap().diff(&f.x.screenshot().unwrap()), None);
    // anna's old password and port are dead.
    if ga.port != gb.port {
        assert!(port_is_free(ga.port));
    }
    let s = f.dir.session(&f.id).await.unwrap().unwrap();
    assert_eq!(s["shadow"]["admin"], "CORP\\bob");
}

#[tokio::test]
async fn takeover_refused_keeps_the_first_admin_watching() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let ga = f.grant("CORP\\anna").await;
    let mut va = f.connect(&ga).await;
    va.full_frame(WAIT).await.unwrap();
    let e = f.request_answering("CORP\\bob", "n").await.unwrap_err();
    assert_eq!(e.error, "consent_denied");
    // anna still receives updates of what the user does.
    f.x.draw(Pattern::Checkerboard { seed: 5 }).unwrap();
    let expected = f.x.screenshot().unwrap();
    va.converge_to(&expected, WAIT).await.expect("anna sees the new screen");
    let s = f.dir.session(&f.id).await.unwrap().unwrap();
    assert_eq!(s["shadow"]["admin"], "CORP\\anna");
}

#[tokio::test]
async fn the_same_admin_asking_again_gets_a_new_connection() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let g1 = f.grant("CORP\\anna").await;
    let mut v1 = f.connect(&g1).await;
    v1.full_frame(WAIT).await.unwrap();
    let g2 = f.grant("CORP\\anna").await;
    assert_ne!(g1.shadow, g2.shadow);
    assert_ne!(g1.password, g2.password, "passwords are one-time");
    v1.wait_closed(Duration::from_secs(5)).await.expect("the old connection stops");
    let mut v2 = f.connect(&g2).await;
    v2.full_frame(WAIT).await.unwrap();
}

#[tokio::test]
async fn delete_and_never_connecting_both_return_the_port() {
    let opts = DaemonOptions { connect_grace: Duration::from_millis(1500), ..Default::default() };
    let f = Fixture::new(opts).await;
    let mut events = f.dir.events(None).await.unwrap();
    // DELETE while watching.
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    let r = f.dir.stop_shadow(&f.id).await.unwrap().expect("stopped");
    assert_eq!(r["stopped"], true);
    v.wait_closed(Duration::from_secs(5)).await.expect("the viewer is cut off");
    let ev = events.wait_for(EventKind::Ended, &f.id, WAIT).await.unwrap();
    assert_eq!(ev.record.reason, Some(EndReason::Deleted));
    assert!(port_is_free(g.port));
    let e = f.dir.stop_shadow(&f.id).await.unwrap().unwrap_err();
    assert_eq!((e.status, e.error.as_str()), (404, "no_active_shadow"));
    // Granted but the admin never connects.
    let g = f.grant("CORP\\anna").await;
    let ev = events.wait_for(EventKind::Ended, &f.id, WAIT).await.unwrap();
    assert_eq!(ev.record.reason, Some(EndReason::NeverConnected));
    assert!(port_is_free(g.port));
    assert_eq!(f.dir.healthz().await.unwrap()["free_ports"], 3);
}

#[tokio::test]
async fn the_users_x_server_exiting_ends_the_shadow() {
    let mut f = Fixture::new(DaemonOptions::default()).await;
    let mut events = f.dir.events(None).await.unwrap();
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap();
    f.x.kill();
    v.wait_closed(Duration::from_secs(5)).await.expect("the viewer is cut off");
    let ev = events.wait_for(EventKind::Ended, &f.id, WAIT).await.unwrap();
    assert_eq!(ev.record.reason, Some(EndReason::SessionEnded));
    assert!(port_is_free(g.port));
    assert!(f.d.is_running());
}

#[tokio::test]
async fn wrong_password_is_refused_and_the_password_is_never_on_a_command_line() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let g = f.grant("CORP\\anna").await;
    // The password file is gone once x11vnc has read it.
    let run = f.d.dir().join("run");
    let left: Vec<_> = std::fs::read_dir(&run).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "files left in the run dir: {left:?}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(!cmd.contains(&g.password), "password visible in ps: {cmd}");
        }
    }
    let mut wrong = f.viewer_options(&g);
    wrong.password = "nottheone".into();
    let err = simulator::drivers::viewer::Viewer::connect(wrong).await.expect_err("refused");
    assert!(format!("{err:#}").to_lowercase().contains("auth"), "{err:#}");
}

#[tokio::test]
async fn two_sessions_are_shadowed_at_once() {
    let f = Fixture::new(DaemonOptions::default()).await;
    let x2 = simulator::drivers::xvfb::Xvfb::start(320, 240).unwrap();
    x2.draw(Pattern::Gradient).unwrap();
    let g1 = f.grant("CORP\\anna").await;
    let g2 = {
        let (dir, id) = (f.dir.clone(), x2.display_number().to_string());
        let req = tokio::spawn(async move { dir.request_shadow(&id, "CORP\\bob").await });
        let display = x2.display();
        blocking(move || consent::press_key(&display, "Return")).await.unwrap();
        req.await.unwrap().unwrap().unwrap()
    };
    assert_ne!(g1.port, g2.port);
    let mut v1 = f.connect(&g1).await;
    let mut v2 = f.connect(&g2).await;
    assert_eq!(v1.full_frame(WAIT).await.unwrap().diff(&f.x.screenshot().unwrap()), None);
    assert_eq!(v2.full_frame(WAIT).await.unwrap().diff(&x2.screenshot().unwrap()), None);
}
