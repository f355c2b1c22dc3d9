//! X11 capture against real Xvfb servers: pixels equal what the display
//! shows (MIT-SHM and the GetImage fallback), damage reports what was drawn
//! and nothing when idle, the shared segment is 0600 and already marked for
//! removal, resizes and cursor changes are reported.

use shadowd::capture::{Capture, CaptureError, CaptureOptions, Method, Rect, Size, SHM_DEST};
use simulator::drivers::xvfb::{Pattern, Xvfb};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// Upper bound for anything that should happen at once.
const WAIT: Duration = Duration::from_secs(5);

fn forced_get_image() -> CaptureOptions {
    CaptureOptions { force_get_image: true, ..CaptureOptions::default() }
}

fn assert_equals_screenshot(capture: &Capture, x: &Xvfb) {
    let shot = x.screenshot().unwrap();
    assert_eq!(capture.size(), Size::new(shot.width, shot.height));
    let got = capture.pixels();
    if let Some(i) = got.iter().zip(&shot.pixels).position(|(a, b)| a != b) {
        let w = shot.width as usize;
        panic!(
            "capture differs from the screenshot at ({},{}): #{:06x} vs #{:06x}",
            i % w,
            i / w,
            got[i],
            shot.pixels[i]
        );
    }
}

/// Fills `r` on the root window from a second client, as an application
/// drawing would.
fn fill_root(x: &Xvfb, r: Rect, rgb: u32) {
    let (conn, screen) = x.connect().unwrap();
    let root = conn.setup().roots[screen].root;
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &xproto::CreateGCAux::new().foreground(rgb)).unwrap();
    let rect = xproto::Rectangle { x: r.x as i16, y: r.y as i16, width: r.w, height: r.h };
    conn.poly_fill_rectangle(root, gc, &[rect]).unwrap();
    conn.free_gc(gc).unwrap();
    conn.sync().unwrap();
}

fn covers(rects: &[Rect], r: Rect) -> bool {
    // Every corner and the centre inside some rectangle is enough for the
    // axis-aligned rectangles merged here.
    let points = [(r.x, r.y), (r.x + r.w - 1, r.y), (r.x, r.y + r.h - 1), (r.x + r.w - 1, r.y + r.h - 1)];
    points.iter().all(|&(px, py)| rects.iter().any(|k| k.contains(Rect::new(px, py, 1, 1))))
}

/// This process's SysV segment `id` as /proc/sysvipc/shm shows it:
/// (key, perms, nattch, uid), or None when it no longer exists.
fn shm_entry(id: i32) -> Option<(String, String, u64, u32)> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f[1] == id.to_string())
            .then(|| (f[0].to_string(), f[2].to_string(), f[6].parse().unwrap(), f[7].parse().unwrap()))
    })
}

/// Waits for a condition the kernel or X server reaches asynchronously.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} did not happen within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn grab_full_with_shm_equals_the_screenshot() {
    let x = Xvfb::start(1280, 800).unwrap();
    x.draw(Pattern::Noise { seed: 11 }).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    assert_eq!(capture.method(), Method::Shm, "{:?}", capture.shm_fallback_reason());
    capture.grab_full().unwrap();
    assert_equals_screenshot(&capture, &x);

    // A partial grab refreshes exactly that rectangle.
    let r = Rect::new(100, 50, 300, 200);
    fill_root(&x, r, 0x123456);
    fill_root(&x, Rect::new(900, 600, 10, 10), 0x654321);
    let fb = capture.grab(r).unwrap();
    assert_eq!(fb[(50 * 1280 + 100) as usize], 0x123456);
    assert_eq!(fb[(600 * 1280 + 900) as usize], Pattern::Noise { seed: 11 }.pixel(900, 600), "outside: not grabbed");
    capture.grab_full().unwrap();
    assert_equals_screenshot(&capture, &x);
}

#[test]
fn grab_full_with_forced_get_image_equals_the_screenshot() {
    // 2400x1800x4 bytes is above Xvfb's 16 MiB maximum request size, so the
    // fallback reads the screen in more than one band.
    let x = Xvfb::start(2400, 1800).unwrap();
    x.draw(Pattern::Noise { seed: 12 }).unwrap();
    let mut capture = Capture::open_with(&x.display(), None, forced_get_image()).unwrap();
    assert_eq!(capture.method(), Method::GetImage);
    assert_eq!(capture.shm_id(), None);
    assert!(capture.shm_fallback_reason().unwrap().contains("forced"));
    capture.grab_full().unwrap();
    assert_equals_screenshot(&capture, &x);
    let r = Rect::new(2390, 1790, 50, 50); // reaches off screen: cut
    fill_root(&x, Rect::new(2390, 1790, 10, 10), 0xabcdef);
    capture.grab(r).unwrap();
    assert_equals_screenshot(&capture, &x);
}

#[test]
fn shm_segment_is_0600_and_marked_for_removal_while_in_use_and_gone_after_drop() {
    let x = Xvfb::start(320, 240).unwrap();
    let capture = Capture::open(&x.display(), None).unwrap();
    let id = capture.shm_id().expect("SHM in use");
    let (key, perms, nattch, uid) = shm_entry(id).expect("segment listed while in use");
    assert_eq!(key.trim_start_matches('0'), "", "IPC_PRIVATE: no key to look it up by");
    let mode = u32::from_str_radix(&perms, 8).unwrap();
    assert_eq!(mode & 0o777, 0o600, "perms {perms}");
    assert_ne!(mode & SHM_DEST, 0, "already marked for removal (perms {perms})");
    assert_eq!(nattch, 2, "attached by us and the X server");
    assert_eq!(uid, nix::unistd::geteuid().as_raw());
    drop(capture);
    // The X server detaches when it processes our disconnection.
    eventually("the segment's removal", || shm_entry(id).is_none());
}

#[test]
fn shm_works_with_an_x_server_running_as_another_user() {
    // A root daemon shadowing a rootless Xorg: the server can only map the
    // segment if it is handed to its user (still 0600).
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run Xvfb as another user");
        return;
    }
    let x = NobodyXvfb::start(320, 240);
    let (conn, _) = RustConnection::connect(Some(&x.display)).unwrap();
    let shot = simulator::drivers::xvfb::screenshot_of(&conn, 0).unwrap();
    let mut capture = Capture::open(&x.display, None).unwrap();
    assert_eq!(capture.method(), Method::Shm, "{:?}", capture.shm_fallback_reason());
    let (_, perms, nattch, uid) = shm_entry(capture.shm_id().unwrap()).unwrap();
    assert_eq!((perms.as_str(), nattch, uid), ("1600", 2, 65534));
    assert_eq!(capture.grab_full().unwrap(), &shot.pixels[..]);
}

#[tokio::test]
async fn damage_reports_what_was_drawn_and_grab_changes_finds_real_changes() {
    let x = Xvfb::start(800, 600).unwrap();
    x.draw(Pattern::Solid(0x202020)).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    let watcher = capture.watch().unwrap();
    capture.grab_full().unwrap();

    let r = Rect::new(100, 120, 50, 40);
    fill_root(&x, r, 0xff8000);
    let changes = tokio::time::timeout(WAIT, watcher.next()).await.expect("damage reported").unwrap();
    assert!(covers(changes.dirty.rects(), r), "{:?} does not cover {r:?}", changes.dirty);
    assert!(!changes.dirty.is_full() && changes.dirty.area() < 800 * 600 / 10, "{:?}", changes.dirty);
    assert_eq!(changes.resized, None);
    let changed = capture.grab_changes(&changes.dirty).unwrap();
    assert!(covers(&changed, r), "{changed:?}");
    assert!(changed.iter().map(|c| c.area()).sum::<u64>() <= 4 * 64 * 64, "tile-sized: {changed:?}");
    assert_equals_screenshot(&capture, &x);

    // The grab re-armed the damage: the same area drawn again is reported
    // again, but with identical pixels nothing really changed.
    fill_root(&x, r, 0xff8000);
    let again = tokio::time::timeout(WAIT, watcher.next()).await.expect("re-armed").unwrap();
    assert!(covers(again.dirty.rects(), r), "{:?}", again.dirty);
    assert_eq!(capture.grab_changes(&again.dirty).unwrap(), vec![]);

    // Another client's window appearing is damage on the root too.
    let (conn, screen) = x.connect().unwrap();
    let root = conn.setup().roots[screen].root;
    let win = conn.generate_id().unwrap();
    let aux = xproto::CreateWindowAux::new().background_pixel(0x00ff00).override_redirect(1);
    conn.create_window(0, win, root, 500, 300, 64, 48, 0, xproto::WindowClass::INPUT_OUTPUT, 0, &aux).unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
    let w = Rect::new(500, 300, 64, 48);
    let mut seen = Vec::new();
    while !covers(&seen, w) {
        let c = tokio::time::timeout(WAIT, watcher.next()).await.expect("window damage").unwrap();
        seen.extend_from_slice(c.dirty.rects());
    }
    capture.grab_full().unwrap();
    assert_eq!(capture.pixels()[310 * 800 + 510], 0x00ff00);
}

#[tokio::test]
async fn an_idle_screen_produces_no_changes() {
    let x = Xvfb::start(640, 480).unwrap();
    x.draw(Pattern::Checkerboard { seed: 3 }).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    let watcher = capture.watch().unwrap();
    capture.grab_full().unwrap();
    assert!(watcher.try_next().unwrap().is_none());
    let waited = tokio::time::timeout(Duration::from_millis(500), watcher.next()).await;
    assert!(waited.is_err(), "changes on an idle screen: {:?}", waited.unwrap().map(|c| c.dirty));
    // Positive control: the same watcher does see a drawing.
    fill_root(&x, Rect::new(1, 1, 2, 2), 0xffffff);
    tokio::time::timeout(WAIT, watcher.next()).await.expect("damage after idle").unwrap();
}

#[tokio::test]
async fn the_watcher_stops_with_an_error_when_the_display_goes_away() {
    let mut x = Xvfb::start(320, 240).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    let watcher = capture.watch().unwrap();
    assert!(capture.watch().is_err(), "one watcher at a time");
    x.kill();
    let err = tokio::time::timeout(WAIT, watcher.next()).await.expect("noticed").unwrap_err();
    assert!(matches!(err, CaptureError::WatcherStopped { .. }), "{err}");
    assert!(err.to_string().contains(&x.display()), "{err}");
    let grab = capture.grab_full().unwrap_err();
    assert!(matches!(grab, CaptureError::X { .. }), "{grab}");
}

#[tokio::test]
async fn a_randr_resize_is_reported_and_the_capture_follows_it() {
    let x = Xvfb::start(1024, 768).unwrap();
    x.draw(Pattern::Gradient).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    let watcher = capture.watch().unwrap();
    capture.grab_full().unwrap();
    let old_segment = capture.shm_id().unwrap();

    let new = Size::new(800, 600);
    randr_resize(&x, new);

    let mut changes = tokio::time::timeout(WAIT, watcher.next()).await.expect("resize reported").unwrap();
    while changes.resized.is_none() {
        changes = tokio::time::timeout(WAIT, watcher.next()).await.expect("resize reported").unwrap();
    }
    assert_eq!(changes.resized, Some(new));
    assert!(changes.dirty.is_full() && changes.dirty.bounds() == new, "{:?}", changes.dirty);
    assert_eq!(capture.refresh_size().unwrap(), Some(new));
    assert_eq!(capture.refresh_size().unwrap(), None, "already at the new size");
    let new_segment = capture.shm_id().expect("SHM again at the new size");
    assert_ne!(new_segment, old_segment);
    eventually("the old segment's removal", || shm_entry(old_segment).is_none());
    capture.grab_changes(&changes.dirty).unwrap();
    assert_equals_screenshot(&capture, &x);
}

#[test]
fn a_grab_after_an_unnoticed_shrink_says_size_changed() {
    let x = Xvfb::start(1024, 768).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    randr_resize(&x, Size::new(640, 480));
    let err = capture.grab_full().unwrap_err();
    assert!(matches!(err, CaptureError::SizeChanged { size: Size { width: 640, height: 480 }, .. }), "{err}");
    capture.grab_full().unwrap();
    assert_equals_screenshot(&capture, &x);
}

#[tokio::test]
async fn the_cursor_is_readable_and_its_changes_are_reported() {
    let x = Xvfb::start(320, 240).unwrap();
    let mut capture = Capture::open(&x.display(), None).unwrap();
    let watcher = capture.watch().unwrap();
    assert!(watcher.cursor_events());
    let initial = capture.cursor().unwrap();
    assert!(initial.width > 0 && initial.height > 0, "{initial:?}");
    assert_eq!(initial.argb.len(), initial.width as usize * initial.height as usize);

    // A 16x16 cursor, hotspot (3,5), on the root window under the pointer.
    let (conn, screen) = x.connect().unwrap();
    let root = conn.setup().roots[screen].root;
    let (src, mask, gc, cursor) = (
        conn.generate_id().unwrap(),
        conn.generate_id().unwrap(),
        conn.generate_id().unwrap(),
        conn.generate_id().unwrap(),
    );
    conn.create_pixmap(1, src, root, 16, 16).unwrap();
    conn.create_pixmap(1, mask, root, 16, 16).unwrap();
    conn.create_gc(gc, src, &xproto::CreateGCAux::new().foreground(1)).unwrap();
    let all = xproto::Rectangle { x: 0, y: 0, width: 16, height: 16 };
    conn.poly_fill_rectangle(src, gc, &[all]).unwrap();
    conn.poly_fill_rectangle(mask, gc, &[all]).unwrap();
    conn.create_cursor(cursor, src, mask, 0xffff, 0, 0, 0, 0, 0, 3, 5).unwrap();
    conn.change_window_attributes(root, &xproto::ChangeWindowAttributesAux::new().cursor(cursor)).unwrap();
    conn.sync().unwrap();

    let image = loop {
        let c = tokio::time::timeout(WAIT, watcher.next()).await.expect("cursor change reported").unwrap();
        if let Some(image) = c.cursor {
            break image;
        }
    };
    assert_eq!((image.width, image.height, image.xhot, image.yhot), (16, 16, 3, 5));
    assert_ne!(image.serial, initial.serial);
    assert!(image.argb.iter().all(|&p| p == 0xffff0000), "opaque red: {:08x}", image.argb[0]);
    let (rgb, mask_bits) = image.to_rgb_and_mask();
    assert!(rgb.iter().all(|&p| p == 0xff0000));
    assert!(mask_bits.iter().all(|&b| b == 0xff));
    assert_eq!(capture.cursor().unwrap(), image);
}

#[test]
fn open_names_the_display_that_failed() {
    let err = Capture::open(":4077", None).err().expect("no such display");
    assert!(matches!(err, CaptureError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(":4077"), "{err}");
}

/// Prints grab times at 1920x1080; asserts only correctness. Run it with
/// `cargo test --release -p shadowd --test capture -- --nocapture speed`
/// for meaningful numbers.
#[test]
fn speed_of_a_1080p_grab_shm_vs_get_image() {
    let x = Xvfb::start(1920, 1080).unwrap();
    x.draw(Pattern::Noise { seed: 5 }).unwrap();
    let rounds = 20;
    let mut report = Vec::new();
    for (name, options) in [("XShmGetImage", CaptureOptions::default()), ("GetImage", forced_get_image())] {
        let mut capture = Capture::open_with(&x.display(), None, options).unwrap();
        capture.grab_full().unwrap();
        assert_equals_screenshot(&capture, &x);
        let start = Instant::now();
        for _ in 0..rounds {
            capture.grab_full().unwrap();
        }
        let full = start.elapsed() / rounds;
        let all = shadowd::capture::DirtyRegion::full(capture.size());
        let start = Instant::now();
        for _ in 0..rounds {
            capture.grab_changes(&all).unwrap();
        }
        let compared = start.elapsed() / rounds;
        report.push(format!("{name}: {full:.2?} per 1920x1080 grab, {compared:.2?} with change detection"));
    }
    let build = if cfg!(debug_assertions) { "debug build: conversion is unoptimised" } else { "release build" };
    eprintln!("capture speed ({build}):\n  {}", report.join("\n  "));
}

/// Resizes the screen the way `xrandr --newmode/--addmode/--output screen
/// --mode` does: Xvfb (xorg-server 21) has RandR 1.2+ with one output and
/// only its start-up mode, and refuses a screen smaller than the CRTC's
/// mode (BadMatch), so a new mode is made and set on the CRTC first. Sizes
/// up to the start-up size are possible (the reported size range).
fn randr_resize(x: &Xvfb, size: Size) {
    use x11rb::protocol::randr::{ModeInfo, Rotation};
    let (conn, screen) = x.connect().unwrap();
    let root = conn.setup().roots[screen].root;
    conn.randr_query_version(1, 2).unwrap().reply().unwrap();
    let range = conn.randr_get_screen_size_range(root).unwrap().reply().unwrap();
    assert!(size.width <= range.max_width && size.height <= range.max_height, "beyond Xvfb's RandR range");
    let res = conn.randr_get_screen_resources(root).unwrap().reply().unwrap();
    let (crtc, output) = (res.crtcs[0], res.outputs[0]);
    let name = format!("{}x{}", size.width, size.height);
    let info = ModeInfo {
        width: size.width,
        height: size.height,
        htotal: size.width,
        vtotal: size.height,
        name_len: name.len() as u16,
        ..ModeInfo::default()
    };
    let mode = conn.randr_create_mode(root, info, name.as_bytes()).unwrap().reply().unwrap().mode;
    conn.randr_add_output_mode(output, mode).unwrap().check().unwrap();
    let set = conn
        .randr_set_crtc_config(crtc, 0, res.config_timestamp, 0, 0, mode, Rotation::ROTATE0, &[output])
        .unwrap()
        .reply()
        .unwrap();
    assert_eq!(u8::from(set.status), 0, "SetCrtcConfig");
    // ~96 dpi, as Xvfb reports.
    let mm = |px: u16| (px as u32 * 254 / 960).max(1);
    conn.randr_set_screen_size(root, size.width, size.height, mm(size.width), mm(size.height))
        .unwrap()
        .check()
        .unwrap();
}

/// Xvfb run as `nobody` through setpriv, killed on drop.
struct NobodyXvfb {
    child: Child,
    display: String,
}

impl NobodyXvfb {
    fn start(width: u16, height: u16) -> NobodyXvfb {
        use std::io::Read;
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "Xvfb", "-displayfd"])
            .arg(write_end.as_raw_fd().to_string())
            .args(["-screen", "0", &format!("{width}x{height}x24"), "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("setpriv and Xvfb");
        drop(write_end);
        let mut f = std::fs::File::from(read_end);
        let mut number = String::new();
        let mut byte = [0u8];
        while f.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        assert!(!number.is_empty(), "Xvfb as nobody did not start");
        NobodyXvfb { child, display: format!(":{}", number.trim()) }
    }
}

impl Drop for NobodyXvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn capture_and_watcher_can_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Capture>();
    send::<shadowd::capture::Watcher>();
    sync::<shadowd::capture::Watcher>();
}
