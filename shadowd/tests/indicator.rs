//! The user's "being shadowed" bar on a real Xvfb: it names the admin, its
//! Stop button works through real X input, and dropping it removes it.

use shadowd::indicator::Indicator;
use simulator::drivers::indicator;
use simulator::drivers::xvfb::{Pattern, Xvfb};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_button_reports_and_dropping_removes_the_bar() {
    let x = Xvfb::start(640, 400).unwrap();
    x.draw(Pattern::Gradient).unwrap();
    let display = x.display();
    let d = display.clone();
    let mut bar = tokio::task::spawn_blocking(move || Indicator::open(&d, None, "CORP\\anna")).await.unwrap().unwrap();
    let d = display.clone();
    let w =
        tokio::task::spawn_blocking(move || indicator::wait_for(&d, Duration::from_secs(5))).await.unwrap().unwrap();
    assert!(w.title.contains("CORP\\anna"), "{:?}", w.title);
    assert!(w.x + w.width as i16 <= 640 && w.y < 50, "top right: {w:?}");
    // Not stopped by itself.
    assert!(tokio::time::timeout(Duration::from_millis(300), bar.stopped()).await.is_err());
    let d = display.clone();
    tokio::task::spawn_blocking(move || indicator::press_stop(&d, Duration::from_secs(5))).await.unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(5), bar.stopped()).await.expect("Stop reported");
    drop(bar);
    let d = display.clone();
    let gone = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !indicator::find(&d).unwrap().is_empty() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    })
    .await
    .unwrap();
    assert!(gone, "the bar is removed");
    assert_eq!(x.screenshot().unwrap().diff(&Pattern::Gradient.render(640, 400)), None, "nothing left on screen");
}

#[tokio::test]
async fn an_unreachable_display_is_an_error() {
    let err = tokio::task::spawn_blocking(|| Indicator::open(":251", None, "a")).await.unwrap().err().unwrap();
    assert!(err.contains(":251") && err.contains("no X server"), "{err}");
}
