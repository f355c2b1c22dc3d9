//! Where the indicator sits and where its Stop button is (pure), so the
//! window and the harness's clicker agree without talking to each other.

use crate::consent::layout::Rect;

pub const WIDTH: u16 = 380;
pub const HEIGHT: u16 = 34;
const MARGIN: i16 = 8;
const BUTTON_W: u16 = 64;
const BUTTON_H: u16 = 24;

/// The window: top right corner of the screen (narrower screens get a
/// narrower window).
pub fn window(screen_width: u16, _screen_height: u16) -> Rect {
    let width = WIDTH.min(screen_width.saturating_sub(2 * MARGIN as u16).max(120));
    let x = (screen_width as i16).saturating_sub(width as i16 + MARGIN).max(0);
    Rect { x, y: MARGIN, width, height: HEIGHT }
}

/// The Stop button, relative to a window of `width` x `height`.
pub fn stop_button(width: u16, height: u16) -> Rect {
    let w = BUTTON_W.min(width);
    Rect {
        x: (width - w) as i16 - 5,
        y: (height.saturating_sub(BUTTON_H) / 2) as i16,
        width: w,
        height: BUTTON_H.min(height),
    }
}

/// The message, cut to what fits beside the button (`chars` wide).
pub fn message(admin: &str, chars: usize) -> String {
    let full = format!("{admin} is viewing your screen");
    if full.chars().count() <= chars {
        full
    } else {
        let mut s: String = full.chars().take(chars.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_in_the_top_right_and_button_inside_it() {
        let w = window(1280, 800);
        assert_eq!((w.x, w.y, w.width, w.height), (1280 - 380 - 8, 8, 380, 34));
        let b = stop_button(w.width, w.height);
        assert!(b.x > 0 && b.x as u16 + b.width <= w.width && b.y as u16 + b.height <= w.height);
        let small = window(160, 100);
        assert!(small.x >= 0 && small.x as u16 + small.width <= 160, "{small:?}");
        assert_eq!(message("CORP\\anna", 100), "CORP\\anna is viewing your screen");
        assert_eq!(message("CORP\\anna", 10).chars().count(), 10);
    }
}
