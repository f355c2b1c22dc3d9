//! The Xvfb driver against a real Xvfb: what it draws is what GetImage reads,
//! and the input probe notices XTEST input (the positive control every
//! "display received no input" assertion relies on).

use simulator::drivers::xvfb::{InputProbe, Pattern, Xvfb};
use std::time::Duration;

#[test]
fn drawn_pattern_is_what_the_display_shows() {
    let x = Xvfb::start(320, 200).unwrap();
    for pattern in [Pattern::Noise { seed: 3 }, Pattern::Checkerboard { seed: 9 }, Pattern::Gradient] {
        x.draw(pattern).unwrap();
        let shot = x.screenshot().unwrap();
        let expected = pattern.render(320, 200);
        assert_eq!(shot.diff(&expected), None, "{pattern:?}");
    }
}

#[test]
fn two_sessions_get_distinct_displays() {
    let a = Xvfb::start(64, 64).unwrap();
    let b = Xvfb::start(64, 64).unwrap();
    assert_ne!(a.display(), b.display());
}

#[test]
fn input_probe_sees_xtest_input_and_nothing_otherwise() {
    let x = Xvfb::start(320, 200).unwrap();
    let probe = InputProbe::install(&x.display()).unwrap();
    assert!(probe.input_events().unwrap().is_empty());
    x.xtest_input(100, 50, 38).unwrap();
    let seen = probe.wait_for_input(Duration::from_secs(5)).unwrap();
    assert!(seen.iter().any(|e| e.starts_with("KeyPress")), "{seen:?}");
    assert!(seen.iter().any(|e| e.starts_with("ButtonPress")), "{seen:?}");
}
