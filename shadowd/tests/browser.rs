//! The admin's side in a real browser: headless Chromium (Debian's, through
//! chromedriver) runs noVNC from the distribution's package and the web
//! console against the shadowd binary on the native backend, while the user's
//! side is a real Xvfb whose consent dialog is clicked through XTEST.
//!
//! Every check compares what the page shows with the truth: the canvas's
//! pixels with the display's screenshot, the page's words with the outcome.
//! Screenshots of each test's key moments go to target/browser-screenshots/:
//! a* noVNC from the package straight on a shadow (ws exact, wss JPEG),
//! b* the console journey (listed, asking with countdown, watching, stopped),
//! c* takeover seen from two windows, d* denied / timed out / disabled,
//! e* the deep link, f* wss through the console (trusted, and not trusted),
//! g* the user's Stop on their bar. On a canvas mismatch, `-canvas.png` and
//! `-expected.png` are written beside the screenshot.
//!
//! Needs chromium, chromium-driver and libnss3-tools (ci/setup installs
//! them); without them these tests fail and say so.

mod common;

use common::{blocking, with_bin, WAIT};
use simulator::drivers::browser::{Browser, BrowserOptions};
use simulator::drivers::certs::{CertSpec, TestCa};
use simulator::drivers::consent::{self, ConsentButton};
use simulator::drivers::console;
use simulator::drivers::daemon::{Daemon, DaemonOptions};
use simulator::drivers::director::{Director, Grant};
use simulator::drivers::ports::{free_block, range_string};
use simulator::drivers::xvfb::{Pattern, Xvfb};
use std::path::PathBuf;
use std::time::Duration;

const FQDN: &str = "vda1.shadow.test";
/// Pages, noVNC and the viewer's first frame, on a loaded 2-core machine.
const PAGE: Duration = Duration::from_secs(20);

/// Where screenshots go: target/browser-screenshots/ of this workspace.
fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots")
}

/// A user's display, a native-backend shadowd, and the Director's client.
struct Host {
    x: Xvfb,
    d: Daemon,
    api: Director,
    id: String,
    /// The console as the Director reaches it: by FQDN, not by address.
    console: String,
}

impl Host {
    async fn start(pattern: Pattern, mut opts: DaemonOptions) -> Host {
        opts.backend = "native".into();
        opts.port_range = range_string(free_block(3));
        let x = Xvfb::start(480, 320).expect("Xvfb starts");
        x.draw(pattern).expect("pattern drawn");
        let d = Daemon::start(with_bin(opts)).await.expect("shadowd starts");
        let api = Director::new(&d.api);
        let console = console::url(&d.api, FQDN, "").expect("the daemon's address has a port");
        let id = x.display_number().to_string();
        Host { x, d, api, id, console }
    }

    /// A shadow granted through the API (the user presses y).
    async fn grant(&self, admin: &str) -> Grant {
        let request = {
            let (api, id, admin) = (self.api.clone(), self.id.clone(), admin.to_string());
            tokio::spawn(async move { api.request_shadow(&id, &admin).await })
        };
        let display = self.x.display();
        blocking(move || consent::press_key(&display, "y")).await.expect("the dialog takes the key");
        request.await.unwrap().unwrap().expect("granted")
    }

    /// Clicks a button of the consent dialog once it is up.
    async fn click_consent(&self, which: ConsentButton) {
        let display = self.x.display();
        blocking(move || consent::click(&display, which)).await.expect("the consent dialog is clicked");
    }
}

async fn browser(trust: Vec<String>) -> Browser {
    match Browser::start(BrowserOptions { trust, ..Default::default() }).await {
        Ok(b) => b,
        Err(e) => panic!("{e:#}"),
    }
}

/// Waits until the noVNC canvas equals the display (a fresh screenshot on
/// each try: the indicator bar appears once the shadow starts), each
/// channel within `tolerance`; saves a screenshot named `shot` either way,
/// and on a mismatch both pictures beside it; returns how far off the
/// closest channel was. `skip_bar` leaves shadowd's indicator bar out:
/// for lossy (JPEG) checks, where its sharp text is what JPEG blurs most.
async fn expect_canvas_where(b: &Browser, h: &Host, tolerance: u8, skip_bar: bool, shot: &str) -> u8 {
    let display = h.x.display();
    let truth = |canvas: &simulator::drivers::image::Image| {
        let mut expected = h.x.screenshot()?;
        if skip_bar {
            simulator::drivers::indicator::mask(&display, &mut expected, canvas)?;
        }
        Ok(expected)
    };
    let result = console::wait_canvas_matches(b, tolerance, PAGE, truth).await;
    b.save_screenshot(&shots(), shot).await.expect("screenshot saved");
    match result {
        Ok(delta) => delta,
        Err(e) => {
            for (suffix, img) in [("canvas", &e.canvas), ("expected", &e.expected)] {
                if let Some(img) = img {
                    std::fs::write(shots().join(format!("{shot}-{suffix}.png")), img.to_png()).unwrap();
                }
            }
            panic!("{e}")
        }
    }
}

/// The canvas equals the whole display, bar included.
async fn expect_canvas(b: &Browser, h: &Host, tolerance: u8, shot: &str) -> u8 {
    expect_canvas_where(b, h, tolerance, false, shot).await
}

// --- (a) noVNC from the package, straight onto a shadow -----------------------

/// The package's own page (vnc_lite.html, unmodified) on a ws:// shadow.
/// A two-colour checkerboard makes every Tight rectangle a palette one,
/// which is lossless, so the canvas must equal the display exactly.
#[tokio::test]
async fn novnc_lite_page_from_the_package_shows_the_ws_stream_exactly() {
    let h = Host::start(Pattern::Checkerboard { seed: 3 }, DaemonOptions::default()).await;
    let g = h.grant("CORP\\anna").await;
    assert_eq!(g.scheme, "ws");
    let b = browser(vec![]).await;
    let url = format!(
        "{}/novnc/vnc_lite.html?host={FQDN}&port={}&path=&view_only=true&password={}",
        h.console, g.port, g.password
    );
    b.goto(&url).await.unwrap();
    if let Err(e) = b.wait_text("#status", "Connected", PAGE).await {
        b.save_screenshot(&shots(), "debug").await.unwrap();
        panic!("{e:#}\n{}\n{}", h.d.log_text(), b.driver_log());
    }
    let delta = expect_canvas(&b, &h, 0, "a1-novnc-lite-ws-checkerboard").await;
    assert_eq!(delta, 0);
    b.close().await;
}

/// Connects noVNC's RFB class (imported from the package as an ES module)
/// to `url` in a blank page of the console's origin, the way the console
/// does but without its UI; resolves to "connected" or why not.
async fn rfb_connect(b: &Browser, url: &str, password: &str, quality: Option<u8>) -> String {
    let script = "
        const [url, password, quality] = arguments;
        return import('/novnc/core/rfb.js').then(({ default: RFB }) => {
            document.body.innerHTML = '<div id=\"screen\" style=\"width:100vw;height:100vh\"></div>';
            const rfb = new RFB(document.getElementById('screen'), url, { credentials: { password } });
            rfb.viewOnly = true;
            if (quality !== null) rfb.qualityLevel = quality;
            return new Promise((resolve) => {
                rfb.addEventListener('connect', () => resolve('connected'));
                rfb.addEventListener('disconnect', (e) => resolve('disconnected, clean=' + e.detail.clean));
                rfb.addEventListener('securityfailure', (e) => resolve('security failure: ' + e.detail.reason));
            });
        });";
    let v = b.eval(script, vec![url.into(), password.into(), quality.into()]).await.expect("the script runs");
    v.as_str().unwrap_or_default().to_string()
}

/// wss:// with the host's certificate, issued by a test CA that the
/// browser trusts through its NSS database (not by ignoring errors: a
/// browser without the CA must fail). noVNC advertises Tight with a JPEG
/// quality level, so the noise picture arrives as JPEG; at level 9
/// (quality 100, no chroma subsampling) every channel must be within 2
/// of the display (1 is what is seen) — a wrong or shifted picture is off
/// by far more.
#[tokio::test]
async fn novnc_rfb_module_shows_the_wss_stream_with_the_ca_trusted() {
    let opts = DaemonOptions { registry: vec![("ShadowingUseSSL".into(), 1)], ..Default::default() };
    let h = Host::start(Pattern::Noise { seed: 5 }, opts).await;
    let ca = TestCa::new(time::OffsetDateTime::now_utc()).unwrap();
    CertSpec::default().write(&ca, FQDN, &h.d.ssl_dir(), time::OffsetDateTime::now_utc()).unwrap();
    let g = h.grant("CORP\\anna").await;
    assert_eq!((g.scheme.as_str(), g.url.clone()), ("wss", format!("wss://{FQDN}:{}/", g.port)));

    // Negative control: the same page in a browser that does not trust the CA.
    let untrusting = browser(vec![]).await;
    untrusting.goto(&format!("{}/console/console.css", h.console)).await.unwrap();
    let outcome = rfb_connect(&untrusting, &g.url, &g.password, Some(9)).await;
    assert!(outcome.starts_with("disconnected"), "an untrusted certificate must fail: {outcome}");
    untrusting.close().await;

    let b = browser(vec![ca.cert_pem()]).await;
    b.goto(&format!("{}/console/console.css", h.console)).await.unwrap();
    let outcome = rfb_connect(&b, &g.url, &g.password, Some(9)).await;
    assert_eq!(outcome, "connected");
    let delta = expect_canvas_where(&b, &h, 2, true, "a2-novnc-wss-noise-quality9").await;
    eprintln!("wss noise at quality 9: largest channel difference {delta}");
    b.close().await;
}

// --- the web console ----------------------------------------------------------

/// Waits for the console to reach `phase` (screenshot on failure).
async fn wait_phase(b: &Browser, phase: &str, within: Duration) -> console::Status {
    let want = console::Expected { phase: Some(phase), ..Default::default() };
    match console::wait(b, &want, within).await {
        Ok(s) => s,
        Err(e) => {
            let _ = b.save_screenshot(&shots(), &format!("failed-waiting-for-{phase}")).await;
            panic!("{e:#}")
        }
    }
}

use console::row;

/// Opens the console (`deep`: the session's deep link) as `admin` and
/// waits for the session to be listed.
async fn open_console(b: &Browser, h: &Host, deep: bool, admin: &str) {
    let path = console::path(deep.then_some(h.id.as_str()), admin);
    b.goto(&format!("{}{path}", h.console)).await.unwrap();
    b.wait_text(&format!("{} td.user", row(&h.id)), "root", PAGE).await.expect("the session is listed");
}

/// The whole admin journey: the session listed live, Shadow, the countdown
/// while the user is asked, Yes clicked on the user's display, the view-only
/// viewer showing exactly the display, then Stop.
#[tokio::test]
async fn console_shadow_consent_view_and_stop() {
    let h = Host::start(Pattern::Checkerboard { seed: 21 }, DaemonOptions::default()).await;
    let mut events = h.api.events(None).await.unwrap();
    let b = browser(vec![]).await;
    open_console(&b, &h, false, "CORP\\anna").await;
    b.wait_text("#policy", "20 s to answer", PAGE).await.unwrap();
    b.wait_text("#policy", "ws:// — not encrypted", PAGE).await.unwrap();
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "not shadowed", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "b1-console-lists-the-session").await.unwrap();

    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    let asking = wait_phase(&b, "asking", PAGE).await;
    assert!(asking.text.contains("Asking root on display :"), "{asking:?}");
    let left = b.wait_text("#countdown", "s left to answer", PAGE).await.unwrap();
    let secs: u32 = left.split(' ').next().unwrap().parse().unwrap();
    assert!((15..=20).contains(&secs), "the countdown starts from the consent timeout: {left}");
    // The table follows the audit stream: the user is being asked.
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "asking the user (for CORP\\anna)", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "b2-console-asking-the-user-with-countdown").await.unwrap();

    h.click_consent(ConsentButton::Yes).await;
    let watching = wait_phase(&b, "connected", PAGE).await;
    assert!(watching.text.contains("view only, over ws:// — not encrypted"), "{watching:?}");
    assert_eq!(b.text("#transport").await.unwrap(), "ws:// — not encrypted");
    expect_canvas(&b, &h, 0, "b3-console-watching-the-display").await;
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "shadowed by CORP\\anna", PAGE).await.unwrap();
    let connected = events.wait_for(shadowd::audit::EventKind::Connected, &h.id, WAIT).await.unwrap();
    assert_eq!(connected.record.admin, "CORP\\anna");

    b.click("#stop", PAGE).await.unwrap();
    let stopped = wait_phase(&b, "ended", PAGE).await;
    assert_eq!((stopped.code.as_str(), stopped.text.as_str()), ("deleted", "You stopped shadowing."));
    let ended = events.wait_for(shadowd::audit::EventKind::Ended, &h.id, WAIT).await.unwrap();
    assert_eq!(ended.record.reason, Some(shadowd::broker::EndReason::Deleted));
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "not shadowed", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "b4-console-stopped").await.unwrap();
    b.close().await;
}

/// Two administrators in two browser windows: when the user lets bob take
/// over, anna's window says she was replaced (from the `taken_over` audit
/// event) and her viewer is gone, while bob's shows the display.
#[tokio::test]
async fn console_takeover_tells_the_first_admin_she_was_replaced() {
    let h = Host::start(Pattern::Checkerboard { seed: 8 }, DaemonOptions::default()).await;
    let b = browser(vec![]).await;
    let anna = b.window().await.unwrap();
    open_console(&b, &h, false, "CORP\\anna").await;
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    h.click_consent(ConsentButton::Yes).await;
    wait_phase(&b, "connected", PAGE).await;
    expect_canvas(&b, &h, 0, "c1-takeover-anna-watching").await;

    let bob = b.new_window().await.unwrap();
    b.switch_to(&bob).await.unwrap();
    open_console(&b, &h, false, "CORP\\bob").await;
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "shadowed by CORP\\anna", PAGE).await.unwrap();
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    b.save_screenshot(&shots(), "c2-takeover-bob-asks-the-user").await.unwrap();
    h.click_consent(ConsentButton::Yes).await;
    wait_phase(&b, "connected", PAGE).await;
    expect_canvas(&b, &h, 0, "c3-takeover-bob-watching").await;

    b.switch_to(&anna).await.unwrap();
    let replaced = wait_phase(&b, "ended", PAGE).await;
    assert_eq!(replaced.code, "taken_over");
    assert!(replaced.text.contains("You were replaced by another administrator (CORP\\bob)"), "{replaced:?}");
    let viewer_hidden = b.eval("return document.querySelector('#viewer-panel').hidden", vec![]).await.unwrap();
    assert_eq!(viewer_hidden, true, "anna's viewer is closed");
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "shadowed by CORP\\bob", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "c4-takeover-anna-told-she-was-replaced").await.unwrap();
    b.close().await;
}

/// The user says No, then lets the question time out, then shadowing is
/// switched off: each is a sentence on the page (and the right code).
#[tokio::test]
async fn console_explains_denied_timed_out_and_disabled() {
    let opts = DaemonOptions { registry: vec![("ShadowingConsentTimeout".into(), 3)], ..Default::default() };
    let h = Host::start(Pattern::Checkerboard { seed: 2 }, opts).await;
    let b = browser(vec![]).await;
    open_console(&b, &h, false, "CORP\\anna").await;
    b.wait_text("#policy", "3 s to answer", PAGE).await.unwrap();
    let shadow = format!("{} button.shadow", row(&h.id));

    b.click(&shadow, PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    h.click_consent(ConsentButton::No).await;
    let denied = wait_phase(&b, "failed", PAGE).await;
    assert_eq!(denied.code, "consent_denied");
    assert!(denied.text.contains("root declined: they did not allow you to shadow their session."), "{denied:?}");
    b.save_screenshot(&shots(), "d1-console-consent-denied").await.unwrap();
    let display = h.x.display();
    blocking(move || consent::wait_closed(&display, WAIT)).await.unwrap();

    b.click(&shadow, PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    let left = b.wait_text("#countdown", "s left to answer", PAGE).await.unwrap();
    assert!(left.starts_with('3') || left.starts_with('2'), "counts down from 3 s: {left}");
    let display = h.x.display();
    blocking(move || consent::wait_for_dialog(&display, WAIT)).await.unwrap();
    let want = console::Expected { phase: Some("failed"), ..Default::default() };
    if let Err(e) = console::wait(&b, &want, Duration::from_secs(10)).await {
        panic!("{e:#}\n--- shadowd's log ---\n{}", h.d.log_text());
    }
    let timed_out = wait_phase(&b, "failed", PAGE).await;
    // The browser must not resend the request by itself (it did, when the
    // answer was HTTP 408): the user was asked twice in all, not again.
    tokio::time::sleep(Duration::from_millis(500)).await; // a resend would come at once
    let prompts = h.d.log_text().matches("\"event\":\"prompted\"").count();
    assert_eq!(prompts, 2, "the user was asked again without a click:\n{}", h.d.log_text());
    assert_eq!(timed_out.code, "consent_timeout");
    assert!(timed_out.text.contains("root did not answer within 3 seconds"), "{timed_out:?}");
    b.save_screenshot(&shots(), "d2-console-consent-timed-out").await.unwrap();

    h.d.reg_update("EnableSessionShadowing", 0).unwrap();
    b.click(&shadow, PAGE).await.unwrap();
    // The page already says "failed" (the timeout): wait for the new code,
    // not for the phase, or the old state is taken for the answer.
    let want = console::Expected { phase: Some("failed"), code: Some("shadowing_disabled"), ..Default::default() };
    let disabled = console::wait(&b, &want, PAGE).await.unwrap();
    assert!(disabled.text.contains("Shadowing is turned off on this host."), "{disabled:?}");
    b.wait_text("#policy", "Shadowing is turned off on this host.", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "d3-console-shadowing-disabled").await.unwrap();
    b.close().await;
}

/// The table refreshes on every audit event, but a row that is already in
/// place stays attached: a row detached between a click's press and release
/// (appendChild of a row already there did that on each refresh) made
/// Chromium send the click to the table, and Shadow did nothing — seen as
/// a console stuck on the previous outcome in the scenario suite.
#[tokio::test]
async fn console_rows_stay_attached_while_the_table_refreshes() {
    let h = Host::start(Pattern::Checkerboard { seed: 4 }, DaemonOptions::default()).await;
    let b = browser(vec![]).await;
    open_console(&b, &h, false, "CORP\\anna").await;
    const WATCH: &str = "const tr = document.querySelector(arguments[0]); \
                         window.watchedRow = tr; window.detachments = 0; \
                         new MutationObserver((ms) => { for (const m of ms) \
                           for (const n of m.removedNodes) if (n === tr) window.detachments++; \
                         }).observe(tr.parentNode, { childList: true });";
    b.eval(WATCH, vec![row(&h.id).into()]).await.unwrap();

    // Each of these is a refresh of the table, seen in the row's state.
    let state = format!("{} td.shadow", row(&h.id));
    h.grant("CORP\\bob").await;
    b.wait_text(&state, "waiting for CORP\\bob to connect", PAGE).await.unwrap();
    h.api.stop_shadow(&h.id).await.unwrap().expect("stopped");
    b.wait_text(&state, "not shadowed", PAGE).await.unwrap();

    const CHECK: &str = "return [window.detachments, \
                         document.querySelector(arguments[0]) === window.watchedRow];";
    let seen = b.eval(CHECK, vec![row(&h.id).into()]).await.unwrap();
    assert_eq!(seen, serde_json::json!([0, true]), "[times the row was detached, still the same row]");
    b.close().await;
}

/// `/shadow/{session}` is the console focused on that session (the link a
/// Director would give); a link to a session that is not running says so.
#[tokio::test]
async fn console_deep_link_focuses_on_one_session() {
    let h = Host::start(Pattern::Checkerboard { seed: 13 }, DaemonOptions::default()).await;
    let b = browser(vec![]).await;
    open_console(&b, &h, true, "CORP\\anna").await;
    let rows = b.eval("return document.querySelectorAll('#sessions tbody tr').length", vec![]).await.unwrap();
    assert_eq!(rows, 1, "only the linked session is shown");
    assert_eq!(b.attr(&row(&h.id), "class").await.unwrap().as_deref(), Some("focused"));
    assert!(b.text("#focus-note").await.unwrap().contains(&format!("Session {} only", h.id)));
    b.save_screenshot(&shots(), "e1-deep-link-focused").await.unwrap();
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    let display = h.x.display();
    blocking(move || consent::press_key(&display, "Return")).await.unwrap();
    wait_phase(&b, "connected", PAGE).await;
    expect_canvas(&b, &h, 0, "e2-deep-link-watching").await;

    b.goto(&format!("{}/shadow/no-such-session", h.console)).await.unwrap();
    b.wait_text("#empty", "Session no-such-session is not running on this host.", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "e3-deep-link-to-a-missing-session").await.unwrap();
    b.close().await;
}

/// The same journey over wss://: the console is plain http on the control
/// port, the shadow is TLS with the host's certificate (FQDN in its SAN),
/// which the browser trusts through the test CA in its NSS database. The
/// page must say the stream is encrypted, and the canvas must equal the
/// display exactly.
#[tokio::test]
async fn console_over_wss_shows_the_display_and_says_it_is_encrypted() {
    let opts = DaemonOptions { registry: vec![("ShadowingUseSSL".into(), 1)], ..Default::default() };
    let h = Host::start(Pattern::Checkerboard { seed: 17 }, opts).await;
    let ca = TestCa::new(time::OffsetDateTime::now_utc()).unwrap();
    CertSpec::default().write(&ca, FQDN, &h.d.ssl_dir(), time::OffsetDateTime::now_utc()).unwrap();
    let b = browser(vec![ca.cert_pem()]).await;
    open_console(&b, &h, false, "CORP\\anna").await;
    b.wait_text("#policy", "wss:// — encrypted (TLS)", PAGE).await.unwrap();
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    h.click_consent(ConsentButton::Yes).await;
    let watching = wait_phase(&b, "connected", PAGE).await;
    assert!(watching.text.contains("over wss:// — encrypted (TLS)"), "{watching:?}");
    assert_eq!(b.attr("#transport", "data-scheme").await.unwrap().as_deref(), Some("wss"));
    let delta = expect_canvas(&b, &h, 0, "f1-console-wss-watching").await;
    assert_eq!(delta, 0);
    b.close().await;
}

/// The user presses Stop on shadowd's bar on their own display: the
/// console says the user ended it (the audit event `ended` with reason
/// `stopped_by_user`, which the page matches to its shadow) and closes the
/// viewer.
#[tokio::test]
async fn console_says_when_the_user_stopped_the_shadow() {
    let h = Host::start(Pattern::Checkerboard { seed: 4 }, DaemonOptions::default()).await;
    let mut events = h.api.events(None).await.unwrap();
    let b = browser(vec![]).await;
    open_console(&b, &h, false, "CORP\\anna").await;
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    h.click_consent(ConsentButton::Yes).await;
    wait_phase(&b, "connected", PAGE).await;
    // The canvas shows the user's screen with the bar on it.
    expect_canvas(&b, &h, 0, "g1-user-stop-admin-watching-the-bar").await;

    let display = h.x.display();
    blocking(move || simulator::drivers::indicator::press_stop(&display, WAIT)).await.expect("Stop pressed");
    let ended = events.wait_for(shadowd::audit::EventKind::Ended, &h.id, WAIT).await.unwrap();
    assert_eq!(ended.record.reason, Some(shadowd::broker::EndReason::StoppedByUser));
    let stopped = wait_phase(&b, "ended", PAGE).await;
    assert_eq!(stopped.code, "stopped_by_user");
    assert!(stopped.text.contains("root stopped the shadowing from their own screen."), "{stopped:?}");
    let viewer_hidden = b.eval("return document.querySelector('#viewer-panel').hidden", vec![]).await.unwrap();
    assert_eq!(viewer_hidden, true, "the viewer is closed");
    b.wait_text(&format!("{} td.shadow", row(&h.id)), "not shadowed", PAGE).await.unwrap();
    b.save_screenshot(&shots(), "g2-user-stop-console-says-the-user-ended-it").await.unwrap();
    b.close().await;
}

/// A browser that does not trust the host's certificate cannot open the
/// wss:// viewer; the console says so (and names the host and the
/// certificate) instead of showing an empty viewer.
#[tokio::test]
async fn console_says_when_the_browser_refuses_the_wss_certificate() {
    let opts = DaemonOptions { registry: vec![("ShadowingUseSSL".into(), 1)], ..Default::default() };
    let h = Host::start(Pattern::Checkerboard { seed: 19 }, opts).await;
    let ca = TestCa::new(time::OffsetDateTime::now_utc()).unwrap();
    CertSpec::default().write(&ca, FQDN, &h.d.ssl_dir(), time::OffsetDateTime::now_utc()).unwrap();
    let b = browser(vec![]).await; // the test CA is not trusted here
    open_console(&b, &h, false, "CORP\\anna").await;
    b.click(&format!("{} button.shadow", row(&h.id)), PAGE).await.unwrap();
    wait_phase(&b, "asking", PAGE).await;
    h.click_consent(ConsentButton::Yes).await;
    let refused = wait_phase(&b, "failed", PAGE).await;
    assert_eq!(refused.code, "viewer_unreachable");
    assert!(refused.text.contains(&format!("could not open the secure connection to {FQDN}:")), "{refused:?}");
    assert!(refused.text.contains("does not trust the host's certificate"), "{refused:?}");
    b.save_screenshot(&shots(), "f2-console-wss-certificate-not-trusted").await.unwrap();
    b.close().await;
}
