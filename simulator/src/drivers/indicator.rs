//! The user's side of a shadow: shadowd's "being shadowed" bar. Finds it,
//! presses its Stop button through XTEST (as the user would), and tells
//! where it is so picture comparisons can leave it out.

use super::consent::{click_at, find_windows, ConsentWindow};
use super::image::Image;
use anyhow::{bail, Result};
use shadowd::indicator::{layout, WM_CLASS};
use std::time::{Duration, Instant};

pub fn find(display: &str) -> Result<Vec<ConsentWindow>> {
    find_windows(display, WM_CLASS)
}

/// Waits (X events would need a second connection; this polls briefly)
/// until the bar is mapped.
pub fn wait_for(display: &str, timeout: Duration) -> Result<ConsentWindow> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(w) = find(display)?.into_iter().next() {
            return Ok(w);
        }
        if Instant::now() >= deadline {
            bail!("no shadowing indicator (WM_CLASS {WM_CLASS}) appeared on {display} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Clicks the bar's Stop button.
pub fn press_stop(display: &str, timeout: Duration) -> Result<()> {
    let w = wait_for(display, timeout)?;
    let b = layout::stop_button(w.width, w.height);
    let (cx, cy) = b.centre();
    click_at(display, w.x + cx, w.y + cy)
}

/// Copies the indicator's pixels from `actual` into `expected`: "the
/// display shows what was drawn" means apart from shadowd's own bar.
pub fn mask(display: &str, expected: &mut Image, actual: &Image) -> Result<()> {
    for w in find(display)? {
        for y in (w.y - 1).max(0) as u16..(w.y as i32 + w.height as i32 + 2).min(expected.height as i32) as u16 {
            for x in (w.x - 1).max(0) as u16..(w.x as i32 + w.width as i32 + 2).min(expected.width as i32) as u16 {
                if y < actual.height && x < actual.width {
                    expected.set(x, y, actual.get(x, y));
                }
            }
        }
    }
    Ok(())
}
