//! Where everything in the consent dialog goes: pure geometry, no X.
//!
//! Two users depend on this module agreeing with itself: the dialog, which
//! draws and hit-tests with it, and the harness's clicker, which computes
//! where to click from nothing but the window's size. So the buttons are a
//! function of the window size alone ([`Buttons::for_window`]); only the
//! window size and the text positions depend on the font.

use super::text;

/// Space around and between the blocks of the dialog, in pixels.
pub const MARGIN: u16 = 16;
pub const BUTTON_WIDTH: u16 = 96;
pub const BUTTON_HEIGHT: u16 = 32;
/// Horizontal gap between the Yes and No buttons.
pub const BUTTON_GAP: u16 = 24;
/// A dialog never narrower than this (unless the screen is), so the two
/// buttons always fit side by side with room to spare.
pub const MIN_WIDTH: u16 = 360;
/// Nor wider: a long (or hostile) administrator name wraps instead of
/// producing a window across the whole screen.
pub const MAX_WIDTH: u16 = 640;
/// The message never takes more lines than this; the rest is cut with "...".
pub const MAX_MESSAGE_LINES: usize = 4;

/// A rectangle in X coordinates (origin top left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
}

impl Rect {
    /// Whether the pixel (x, y) lies inside (right and bottom edges excluded).
    pub fn contains(&self, x: i16, y: i16) -> bool {
        let (x, y) = (i32::from(x), i32::from(y));
        let (left, top) = (i32::from(self.x), i32::from(self.y));
        x >= left && y >= top && x < left + i32::from(self.width) && y < top + i32::from(self.height)
    }

    pub fn centre(&self) -> (i16, i16) {
        (
            clamp_i16(i32::from(self.x) + i32::from(self.width) / 2),
            clamp_i16(i32::from(self.y) + i32::from(self.height) / 2),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Yes,
    No,
}

impl Button {
    pub fn label(self) -> &'static str {
        match self {
            Button::Yes => "Yes",
            Button::No => "No",
        }
    }
}

/// What layout needs to know about the font: a character cell font is
/// assumed (the fallback chain only has those); for any other font the
/// widest glyph is used, which over-estimates and so never clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FontMetrics {
    pub char_width: u16,
    pub ascent: u16,
    pub descent: u16,
}

impl FontMetrics {
    /// Height of one line of text, with one pixel of air above and below.
    pub fn line_height(&self) -> u16 {
        self.ascent.saturating_add(self.descent).saturating_add(2).max(1)
    }

    fn text_width(&self, chars: usize) -> u32 {
        u32::from(self.char_width.max(1)).saturating_mul(chars as u32)
    }
}

/// The two buttons, in window coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buttons {
    pub yes: Rect,
    pub no: Rect,
}

impl Buttons {
    /// Yes left of No, side by side, centred, one margin above the bottom
    /// edge. Depends on the window size only, so anyone who can read the
    /// window's geometry knows where the buttons are.
    pub fn for_window(width: u16, height: u16) -> Buttons {
        let top = i32::from(height) - i32::from(MARGIN) - i32::from(BUTTON_HEIGHT);
        let mid = i32::from(width) / 2;
        let half_gap = i32::from(BUTTON_GAP) / 2;
        let rect =
            |x: i32| Rect { x: clamp_i16(x), y: clamp_i16(top.max(0)), width: BUTTON_WIDTH, height: BUTTON_HEIGHT };
        Buttons { yes: rect(mid - half_gap - i32::from(BUTTON_WIDTH)), no: rect(mid + half_gap) }
    }

    pub fn rect(&self, button: Button) -> Rect {
        match button {
            Button::Yes => self.yes,
            Button::No => self.no,
        }
    }

    /// The button under window coordinates (x, y), if any.
    pub fn button_at(&self, x: i16, y: i16) -> Option<Button> {
        [Button::Yes, Button::No].into_iter().find(|b| self.rect(*b).contains(x, y))
    }
}

/// A line of text to draw: left edge and baseline, window coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    pub text: String,
    pub x: i16,
    pub baseline: i16,
}

/// The whole dialog for one screen, administrator and font.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Where the window goes, in screen coordinates: centred.
    pub window: Rect,
    /// The wrapped message naming the administrator.
    pub message: Vec<TextLine>,
    /// The band the countdown is drawn in; cleared before each redraw,
    /// because the text gets shorter ("10 s" then "9 s").
    pub countdown: Rect,
    pub buttons: Buttons,
    pub font: FontMetrics,
}

impl Layout {
    /// Lays the dialog out. `admin` is sanitised here as well (idempotent),
    /// so no caller can forget it.
    pub fn new(screen_width: u16, screen_height: u16, admin: &str, font: FontMetrics) -> Layout {
        let admin = text::sanitize_admin(admin);
        let msg = message(&admin);
        let msg_chars = msg.chars().count();
        let margins = 2 * u32::from(MARGIN);

        // As wide as the message on one line, within [MIN_WIDTH, MAX_WIDTH]
        // and never wider than the screen.
        let wanted = font.text_width(msg_chars).saturating_add(margins);
        let width = wanted.clamp(u32::from(MIN_WIDTH), u32::from(MAX_WIDTH)).min(u32::from(screen_width).max(1)) as u16;

        let usable = u32::from(width).saturating_sub(margins);
        let max_chars = (usable / u32::from(font.char_width.max(1))).max(1) as usize;
        let lines = wrap(&msg, max_chars, MAX_MESSAGE_LINES);

        let lh = font.line_height();
        let mut y = i32::from(MARGIN);
        let mut message = Vec::with_capacity(lines.len());
        for line in lines {
            message.push(TextLine {
                text: line,
                x: MARGIN as i16,
                baseline: clamp_i16(y + 1 + i32::from(font.ascent)),
            });
            y += i32::from(lh);
        }
        // Half a line of air between the message and the countdown.
        y += i32::from(lh) / 2;
        let countdown =
            Rect { x: MARGIN as i16, y: clamp_i16(y), width: width.saturating_sub(2 * MARGIN).max(1), height: lh };
        y += i32::from(lh) + i32::from(MARGIN) + i32::from(BUTTON_HEIGHT) + i32::from(MARGIN);
        let height = (y.max(1) as u32).min(u32::from(screen_height).max(1)) as u16;

        let window = Rect {
            x: clamp_i16(((i32::from(screen_width) - i32::from(width)) / 2).max(0)),
            y: clamp_i16(((i32::from(screen_height) - i32::from(height)) / 2).max(0)),
            width,
            height,
        };
        Layout { window, message, countdown, buttons: Buttons::for_window(width, height), font }
    }

    /// The button under window coordinates (x, y), if any.
    pub fn button_at(&self, x: i16, y: i16) -> Option<Button> {
        self.buttons.button_at(x, y)
    }

    /// The countdown line for `remaining` whole seconds.
    pub fn countdown_line(&self, remaining: u64) -> TextLine {
        TextLine {
            text: countdown_text(remaining),
            x: self.countdown.x,
            baseline: clamp_i16(i32::from(self.countdown.y) + 1 + i32::from(self.font.ascent)),
        }
    }

    /// A button's label, centred on it.
    pub fn label(&self, button: Button) -> TextLine {
        let rect = self.buttons.rect(button);
        let text = button.label();
        let text_width = self.font.text_width(text.chars().count()) as i32;
        let text_height = i32::from(self.font.ascent) + i32::from(self.font.descent);
        TextLine {
            text: text.to_string(),
            x: clamp_i16(i32::from(rect.x) + (i32::from(rect.width) - text_width) / 2),
            baseline: clamp_i16(
                i32::from(rect.y) + (i32::from(rect.height) - text_height) / 2 + i32::from(self.font.ascent),
            ),
        }
    }
}

/// The question put to the user. `admin` must already be sanitised.
pub fn message(admin: &str) -> String {
    format!("{admin} wants to view your session (view only). Allow?")
}

/// The countdown as shown, e.g. "Closing in 20 s".
pub fn countdown_text(remaining: u64) -> String {
    format!("Closing in {remaining} s")
}

/// Greedy word wrap to `max_chars` per line, at most `max_lines` lines
/// (the last one ends in "..." when text was cut). Words longer than a line
/// are split, so no line ever exceeds `max_chars`.
pub fn wrap(text: &str, max_chars: usize, max_lines: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0usize;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(current_len > 0);
            if current_len + sep + word.len() <= max_chars {
                if sep == 1 {
                    current.push(' ');
                }
                current.extend(word.iter());
                current_len += sep + word.len();
                break;
            }
            if current_len > 0 {
                lines.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            // A word longer than a whole line: split it.
            let rest = word.split_off(max_chars);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if current_len > 0 {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines > 0 when truncating");
        let keep = max_chars.saturating_sub(3);
        let cut: String = last.chars().take(keep).collect();
        *last = format!("{cut}...");
    }
    if max_lines == 0 {
        lines.clear();
    }
    lines
}

fn clamp_i16(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    const FONT_9X15: FontMetrics = FontMetrics { char_width: 9, ascent: 12, descent: 3 };

    fn inside(outer: Rect, inner: Rect) -> bool {
        inner.x >= 0
            && inner.y >= 0
            && i32::from(inner.x) + i32::from(inner.width) <= i32::from(outer.width)
            && i32::from(inner.y) + i32::from(inner.height) <= i32::from(outer.height)
    }

    #[test]
    fn window_is_centred_and_within_the_screen() {
        let l = Layout::new(1280, 800, "CORP\\anna", FONT_9X15);
        let w = l.window;
        assert!(w.width >= MIN_WIDTH && w.width <= MAX_WIDTH, "{w:?}");
        assert_eq!(i32::from(w.x) * 2 + i32::from(w.width), 1280);
        assert!((i32::from(w.y) * 2 + i32::from(w.height) - 800).abs() <= 1);
    }

    #[test]
    fn message_names_the_admin_and_fits_the_window() {
        let l = Layout::new(1280, 800, "CORP\\anna", FONT_9X15);
        let all: Vec<&str> = l.message.iter().map(|t| t.text.as_str()).collect();
        assert!(all.join(" ").starts_with("CORP\\anna wants to view your session"));
        for line in &l.message {
            let right = i32::from(line.x) + 9 * line.text.chars().count() as i32;
            assert!(right <= i32::from(l.window.width - MARGIN), "{line:?}");
        }
    }

    #[test]
    fn buttons_depend_on_window_size_only_and_do_not_overlap_text() {
        let l = Layout::new(1024, 768, "CORP\\anna", FONT_9X15);
        assert_eq!(l.buttons, Buttons::for_window(l.window.width, l.window.height));
        let local = Rect { x: 0, y: 0, ..l.window };
        assert!(inside(local, l.buttons.yes) && inside(local, l.buttons.no));
        assert!(l.buttons.yes.x + (l.buttons.yes.width as i16) < l.buttons.no.x);
        let text_bottom = l.countdown.y + l.countdown.height as i16;
        assert!(text_bottom <= l.buttons.yes.y, "countdown overlaps buttons");
    }

    #[test]
    fn button_at_hits_centres_and_misses_gaps_and_edges() {
        let b = Buttons::for_window(400, 160);
        let (yx, yy) = b.yes.centre();
        let (nx, ny) = b.no.centre();
        assert_eq!(b.button_at(yx, yy), Some(Button::Yes));
        assert_eq!(b.button_at(nx, ny), Some(Button::No));
        assert_eq!(b.button_at(200, yy), None, "the gap between buttons");
        assert_eq!(b.button_at(yx, 5), None, "the message area");
        let right_edge = b.no.x + b.no.width as i16;
        assert_eq!(b.button_at(right_edge, ny), None, "right edge is exclusive");
        assert_eq!(b.button_at(right_edge - 1, ny), Some(Button::No));
    }

    #[test]
    fn labels_are_centred_on_their_buttons() {
        let l = Layout::new(1024, 768, "x", FONT_9X15);
        for b in [Button::Yes, Button::No] {
            let label = l.label(b);
            let r = l.buttons.rect(b);
            let w = 9 * label.text.len() as i16;
            assert!(((label.x - r.x) - (r.x + r.width as i16 - (label.x + w))).abs() <= 1);
            assert!(r.contains(label.x, label.baseline));
        }
    }

    #[test]
    fn hostile_admin_name_cannot_make_a_huge_window() {
        let long = "A".repeat(100_000);
        let l = Layout::new(3840, 2160, &long, FONT_9X15);
        assert!(l.window.width <= MAX_WIDTH);
        assert!(l.message.len() <= MAX_MESSAGE_LINES);
        let chars: usize = l.message.iter().map(|t| t.text.chars().count()).sum();
        assert!(chars < 200, "{chars} characters drawn");
    }

    #[test]
    fn tiny_screen_still_gets_a_window_inside_it() {
        let l = Layout::new(200, 100, "CORP\\anna", FONT_9X15);
        assert!(l.window.width <= 200 && l.window.height <= 100);
        assert!(l.window.x >= 0 && l.window.y >= 0);
    }

    #[test]
    fn countdown_text_and_line() {
        assert_eq!(countdown_text(20), "Closing in 20 s");
        assert_eq!(countdown_text(1), "Closing in 1 s");
        let l = Layout::new(1024, 768, "x", FONT_9X15);
        let line = l.countdown_line(7);
        assert_eq!(line.text, "Closing in 7 s");
        assert!(l.countdown.contains(line.x, line.baseline));
    }

    #[test]
    fn wrap_breaks_at_spaces_splits_long_words_and_caps_lines() {
        assert_eq!(wrap("aa bb cc", 5, 9), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3, 9), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("a b c d e f", 1, 2), vec!["a", "..."]);
        assert_eq!(wrap("aaaa bbbb cccc", 6, 2), vec!["aaaa", "bbb..."]);
        assert!(wrap("", 5, 3).is_empty());
        for line in wrap(&"x".repeat(50), 7, 100) {
            assert!(line.chars().count() <= 7);
        }
    }
}
