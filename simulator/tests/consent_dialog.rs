//! The consent dialog against a real Xvfb, answered through the real X
//! server by the clicker driver (XTEST keys and clicks), the way a user
//! would. Each test starts its own Xvfb, so they run in parallel.

use shadowd::consent::layout::MAX_WIDTH;
use shadowd::consent::{xauth, Answer, Dialog, DialogRequest, WM_CLASS};
use simulator::drivers::consent::{self, ConsentButton, ConsentWindow};
use simulator::drivers::image::Image;
use simulator::drivers::xvfb::{Pattern, Xvfb};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _};

const ADMIN: &str = "CORP\\anna";
/// Generous bound for anything event driven: on a loaded 2-core machine a
/// dialog appears in milliseconds, but a test must not be flaky.
const WAIT: Duration = Duration::from_secs(10);

fn request(display: &str, admin: &str, timeout: Duration) -> DialogRequest {
    DialogRequest { display: display.to_string(), xauthority: None, admin: admin.to_string(), timeout }
}

fn open(x: &Xvfb, timeout: Duration) -> Dialog {
    Dialog::open(request(&x.display(), ADMIN, timeout)).expect("dialog opens on a running Xvfb")
}

async fn answer_within(d: &mut Dialog, limit: Duration) -> Answer {
    tokio::time::timeout(limit, d.answer()).await.unwrap_or_else(|_| panic!("no answer within {limit:?}"))
}

/// Presses `key` in a fresh dialog and checks the answer, and that the
/// window was gone by the time the answer arrived.
async fn key_gives(key: &str, expected: Answer) {
    let x = Xvfb::start(800, 600).unwrap();
    let mut d = open(&x, Duration::from_secs(30));
    consent::press_key(&x.display(), key).unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, expected, "key {key}");
    assert_eq!(consent::find_dialogs(&x.display()).unwrap(), vec![], "window outlived the answer");
}

async fn click_gives(which: ConsentButton, expected: Answer) {
    let x = Xvfb::start(1024, 768).unwrap();
    let mut d = open(&x, Duration::from_secs(30));
    consent::click(&x.display(), which).unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, expected, "{which:?}");
    assert_eq!(consent::find_dialogs(&x.display()).unwrap(), vec![], "window outlived the answer");
}

#[tokio::test]
async fn key_y_accepts() {
    key_gives("y", Answer::Yes).await;
}

#[tokio::test]
async fn key_return_accepts() {
    key_gives("Return", Answer::Yes).await;
}

#[tokio::test]
async fn key_n_denies() {
    key_gives("n", Answer::No).await;
}

#[tokio::test]
async fn key_escape_denies() {
    key_gives("Escape", Answer::No).await;
}

#[tokio::test]
async fn clicking_yes_accepts() {
    click_gives(ConsentButton::Yes, Answer::Yes).await;
}

#[tokio::test]
async fn clicking_no_denies() {
    click_gives(ConsentButton::No, Answer::No).await;
}

#[tokio::test]
async fn clicks_and_keys_that_mean_nothing_do_not_answer() {
    let x = Xvfb::start(800, 600).unwrap();
    let mut d = open(&x, Duration::from_secs(30));
    let w = consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    let (yes, no) = (w.button_rect(ConsentButton::Yes), w.button_rect(ConsentButton::No));
    // The message area, the gap between the buttons, the desktop beside.
    consent::click_at(&x.display(), w.x + 20, w.y + 20).unwrap();
    let gap_x = (i32::from(yes.x) + i32::from(yes.width) + i32::from(no.x)) / 2;
    consent::click_at(&x.display(), gap_x as i16, yes.centre().1).unwrap();
    consent::click_at(&x.display(), 2, 2).unwrap();
    consent::press_key(&x.display(), "a").unwrap();
    // X delivers in order: had any of the above answered, the dialog would
    // be closed and this would fail or the answer would not be No.
    consent::press_key(&x.display(), "n").unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::No);
}

#[tokio::test]
async fn unanswered_dialog_times_out_and_closes() {
    let x = Xvfb::start(640, 480).unwrap();
    let start = Instant::now();
    let mut d = open(&x, Duration::from_secs(2));
    consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::TimedOut);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1900), "timed out early, after {took:?}");
    assert!(took < Duration::from_secs(4), "timed out late, after {took:?}");
    assert_eq!(consent::find_dialogs(&x.display()).unwrap(), vec![]);
}

#[tokio::test]
async fn window_has_wm_class_a_title_naming_the_admin_and_is_centred() {
    let x = Xvfb::start(1280, 800).unwrap();
    let _d = open(&x, Duration::from_secs(30));
    let w = consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    assert!(w.title.contains(ADMIN), "title {:?}", w.title);

    // Read the properties directly, not through the clicker's own parsing.
    let (conn, _) = x.connect().unwrap();
    let class =
        conn.get_property(false, w.window, AtomEnum::WM_CLASS, AtomEnum::STRING, 0, 64).unwrap().reply().unwrap();
    assert_eq!(class.value, format!("{WM_CLASS}\0{WM_CLASS}\0").into_bytes());
    let name =
        conn.get_property(false, w.window, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 256).unwrap().reply().unwrap();
    assert!(String::from_utf8_lossy(&name.value).contains(ADMIN), "WM_NAME {:?}", name.value);
    // A top-level window, centred.
    let tree = conn.query_tree(w.window).unwrap().reply().unwrap();
    assert_eq!(tree.parent, tree.root);
    assert!((2 * i32::from(w.x) + i32::from(w.width) - 1280).abs() <= 1, "{w:?}");
    assert!((2 * i32::from(w.y) + i32::from(w.height) - 800).abs() <= 1, "{w:?}");
}

#[tokio::test]
async fn dialog_takes_the_input_focus_when_mapped() {
    let x = Xvfb::start(640, 480).unwrap();
    let (conn, _) = x.connect().unwrap();
    let before = conn.get_input_focus().unwrap().reply().unwrap().focus;
    let _d = open(&x, Duration::from_secs(30));
    let w = consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    assert_ne!(before, w.window);
    consent::wait_for_focus(&x.display(), WAIT).unwrap();
    let focus = conn.get_input_focus().unwrap().reply().unwrap().focus;
    assert_eq!(focus, w.window, "GetInputFocus after mapping");
}

/// The pixels of `r` (screen coordinates) in `img`.
fn region(img: &Image, x: i16, y: i16, width: u16, height: u16) -> Vec<u32> {
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for yy in y..y + height as i16 {
        for xx in x..x + width as i16 {
            out.push(img.get(xx as u16, yy as u16));
        }
    }
    out
}

fn is_dark(rgb: u32) -> bool {
    let (r, g, b) = ((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
    r + g + b < 3 * 0x50
}

#[tokio::test]
async fn countdown_is_drawn_and_ticks_every_second() {
    let x = Xvfb::start(800, 600).unwrap();
    x.draw(Pattern::Solid(0x203040)).unwrap();
    let _d = open(&x, Duration::from_secs(30));
    // Focus is taken after the first full drawing: from here it is drawn.
    let w = consent::wait_for_focus(&x.display(), WAIT).unwrap();
    let a = x.screenshot().unwrap();

    // Text above the buttons (inside the 2 px frame): dark glyphs on the
    // light background, not a blank area.
    let yes = w.button_rect(ConsentButton::Yes);
    let text = region(&a, w.x + 4, w.y + 4, w.width - 8, (yes.y - w.y - 4) as u16);
    let dark = text.iter().filter(|p| is_dark(**p)).count();
    assert!(dark > 100, "only {dark} dark (text) pixels above the buttons");
    assert!(dark < text.len() / 2, "text area is mostly dark: not text on a background");

    // The spec's "screenshots one second apart differ": a deliberate wait,
    // since the tick itself is what is tested.
    std::thread::sleep(Duration::from_millis(1200));
    let b = x.screenshot().unwrap();
    let whole = |img: &Image| region(img, w.x, w.y, w.width, w.height);
    assert_ne!(whole(&a), whole(&b), "dialog unchanged after a second: the countdown does not tick");
    // Only the countdown changes: both buttons are pixel-identical.
    for which in [ConsentButton::Yes, ConsentButton::No] {
        let r = w.button_rect(which);
        assert_eq!(
            region(&a, r.x, r.y, r.width, r.height),
            region(&b, r.x, r.y, r.width, r.height),
            "{which:?} button changed between ticks"
        );
    }
}

#[tokio::test]
async fn dialog_draws_only_inside_its_rect_and_the_screen_is_restored() {
    let (width, height) = (640, 480);
    let x = Xvfb::start(width, height).unwrap();
    let pattern = Pattern::Noise { seed: 11 };
    x.draw(pattern).unwrap();
    let before = x.screenshot().unwrap();
    assert_eq!(before.diff(&pattern.render(width, height)), None);

    let mut d = open(&x, Duration::from_secs(30));
    let w: ConsentWindow = consent::wait_for_focus(&x.display(), WAIT).unwrap();
    let during = x.screenshot().unwrap();
    let rect = w.rect();
    let (mut inside_changed, mut inside) = (0usize, 0usize);
    for y in 0..height {
        for xx in 0..width {
            let (b, s) = (before.get(xx, y), during.get(xx, y));
            if rect.contains(xx as i16, y as i16) {
                inside += 1;
                inside_changed += usize::from(b != s);
            } else {
                assert_eq!(b, s, "pixel ({xx},{y}) outside the dialog {rect:?} changed");
            }
        }
    }
    assert!(inside_changed * 10 > inside * 9, "dialog covers only {inside_changed}/{inside} of its rect");

    consent::press_key(&x.display(), "Escape").unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::No);
    let after = x.screenshot().unwrap();
    assert_eq!(after.diff(&before), None, "screen not restored after the dialog closed");
}

#[tokio::test]
async fn dropping_the_dialog_removes_the_window() {
    let x = Xvfb::start(640, 480).unwrap();
    let d = open(&x, Duration::from_secs(30));
    let w = consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    assert_eq!(w.window, d.window());
    drop(d);
    consent::wait_closed(&x.display(), WAIT).unwrap();
    // Destroyed, not merely unmapped.
    let (conn, _) = x.connect().unwrap();
    assert!(conn.get_window_attributes(w.window).unwrap().reply().is_err());
}

#[test]
fn open_on_a_display_without_server_fails_fast() {
    // A display number with no socket (and so no server) on this machine.
    let n = (250..400).find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()).unwrap();
    let display = format!(":{n}");
    let start = Instant::now();
    let err = Dialog::open(request(&display, ADMIN, Duration::from_secs(20)))
        .err()
        .expect("no server, yet the dialog opened");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert_eq!(err.display, display);
    assert!(err.to_string().contains(&display), "{err}");
}

#[tokio::test]
async fn the_dialog_ends_when_the_display_goes_away() {
    let mut x = Xvfb::start(640, 480).unwrap();
    let mut d = open(&x, Duration::from_secs(30));
    consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    x.kill();
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::No, "no display means no consent");
    assert!(d.outcome().await.is_err(), "outcome tells a lost display from a No");
}

#[tokio::test]
async fn hostile_admin_names_are_sanitised_and_cannot_make_a_huge_window() {
    let x = Xvfb::start(1920, 1080).unwrap();
    let admin = format!("EVIL\\\u{202e}mallory\n\x1b[2J\t{}", "W".repeat(100_000));
    let mut d = Dialog::open(request(&x.display(), &admin, Duration::from_secs(30))).unwrap();
    let w = consent::wait_for_dialog(&x.display(), WAIT).unwrap();
    assert!(w.title.starts_with("Shadowing request from EVIL\\mallory"), "{:?}", w.title);
    assert!(!w.title.chars().any(|c| c.is_control() || c == '\u{202e}'), "{:?}", w.title);
    assert!(w.title.chars().count() < 120, "title of {} chars", w.title.chars().count());
    assert!(w.width <= MAX_WIDTH, "{w:?}");
    assert!(w.height < 400, "{w:?}");
    consent::press_key(&x.display(), "n").unwrap();
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::No);
}

/// An Xvfb that requires the MIT-MAGIC-COOKIE-1 in `auth_file`.
struct AuthXvfb {
    child: Child,
    display: String,
}

impl AuthXvfb {
    fn start(auth_file: &Path) -> AuthXvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-auth"])
            .arg(auth_file)
            .args(["-screen", "0", "640x480x24", "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let n: u32 = line.trim().parse().expect("Xvfb printed its display number");
        AuthXvfb { child, display: format!(":{n}") }
    }
}

impl Drop for AuthXvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cookie_file(dir: &Path, name: &str, cookie: &[u8]) -> PathBuf {
    let entry = xauth::Entry {
        family: xauth::family::WILD,
        address: vec![],
        display: vec![],
        name: xauth::MIT_MAGIC_COOKIE_1.to_vec(),
        data: cookie.to_vec(),
    };
    let path = dir.join(name);
    std::fs::write(&path, xauth::encode(&[entry])).unwrap();
    path
}

#[tokio::test]
async fn the_sessions_xauthority_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::process::id().to_le_bytes();
    let cookie: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ seed[usize::from(i) % 4]).collect();
    let wrong: Vec<u8> = cookie.iter().map(|b| !b).collect();
    let server_file = cookie_file(dir.path(), "server", &cookie);
    let x = AuthXvfb::start(&server_file);

    let with =
        |file: PathBuf| DialogRequest { xauthority: Some(file), ..request(&x.display, ADMIN, Duration::from_secs(1)) };
    // The server really checks: a wrong cookie is refused, clearly.
    let err = Dialog::open(with(cookie_file(dir.path(), "wrong", &wrong))).err().expect("a wrong cookie was accepted");
    assert!(err.reason.contains("refused") && err.reason.contains("Xauthority"), "{err}");

    let mut d =
        Dialog::open(with(cookie_file(dir.path(), "client", &cookie))).expect("the right cookie opens the dialog");
    assert_eq!(answer_within(&mut d, WAIT).await, Answer::TimedOut);
}
