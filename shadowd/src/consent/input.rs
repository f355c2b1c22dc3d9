//! Keys and clicks to answers, pure: keysym tables, the keyboard map as the
//! server reports it (GetKeyboardMapping), and the press/release rules.
//!
//! Keycodes differ between servers and keyboard layouts, so nothing here
//! hardcodes one: keysyms are what a key *means*, and the map says which
//! keycode carries which keysyms. The harness's clicker uses the same map in
//! reverse to find the keycode to press.

use super::layout::Button;
use super::Answer;

/// The keysyms the dialog understands (X11 `keysymdef.h`).
pub mod keysym {
    pub const RETURN: u32 = 0xff0d;
    pub const KP_ENTER: u32 = 0xff8d;
    pub const ESCAPE: u32 = 0xff1b;
    pub const LOWER_Y: u32 = 0x79;
    pub const UPPER_Y: u32 = 0x59;
    pub const LOWER_N: u32 = 0x6e;
    pub const UPPER_N: u32 = 0x4e;
}

/// What a keysym answers: `y`/Return accept, `n`/Escape deny.
pub fn answer_for_keysym(sym: u32) -> Option<Answer> {
    use keysym::*;
    match sym {
        LOWER_Y | UPPER_Y | RETURN | KP_ENTER => Some(Answer::Yes),
        LOWER_N | UPPER_N | ESCAPE => Some(Answer::No),
        _ => None,
    }
}

/// A keysym from its name, for drivers and scenarios: the names the dialog
/// documents, plus any single Latin-1 character (whose keysym is its code).
pub fn keysym_by_name(name: &str) -> Option<u32> {
    match name {
        "Return" | "Enter" => Some(keysym::RETURN),
        "KP_Enter" => Some(keysym::KP_ENTER),
        "Escape" | "Esc" => Some(keysym::ESCAPE),
        _ => {
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) => Some(u32::from(c)),
                _ => None,
            }
        }
    }
}

/// The server's keycode → keysyms table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    min_keycode: u8,
    per_keycode: u8,
    keysyms: Vec<u32>,
}

impl Keymap {
    /// From a GetKeyboardMapping reply that started at `min_keycode`.
    pub fn new(min_keycode: u8, keysyms_per_keycode: u8, keysyms: Vec<u32>) -> Keymap {
        Keymap { min_keycode, per_keycode: keysyms_per_keycode, keysyms }
    }

    /// All keysyms of `keycode` (every group and level), empty if unknown.
    pub fn keysyms(&self, keycode: u8) -> &[u32] {
        let per = usize::from(self.per_keycode);
        let Some(index) = keycode.checked_sub(self.min_keycode) else {
            return &[];
        };
        let start = usize::from(index) * per;
        self.keysyms.get(start..start + per).unwrap_or(&[])
    }

    /// The answer a key gives. Only the first group's two levels count
    /// (plain and shifted): a key that means 'y' only in some other layout
    /// group must not accept on behalf of a user typing something else.
    pub fn answer_for(&self, keycode: u8) -> Option<Answer> {
        self.keysyms(keycode).iter().take(2).find_map(|sym| answer_for_keysym(*sym))
    }

    /// The keycode that types `sym` unshifted, else shifted, if any.
    pub fn keycode_for(&self, sym: u32) -> Option<u8> {
        let per = usize::from(self.per_keycode);
        if per == 0 || sym == 0 {
            return None;
        }
        (0..per.min(2)).find_map(|level| {
            self.keysyms
                .chunks_exact(per)
                .position(|syms| syms[level] == sym)
                .and_then(|i| u8::try_from(usize::from(self.min_keycode) + i).ok())
        })
    }
}

/// Press/release bookkeeping. An answer needs a press *and* its release
/// in the dialog: a key already held when the dialog appeared, or a drag
/// that starts on Yes and ends elsewhere, answers nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputState {
    key_down: Option<u8>,
    button_down: Option<Button>,
}

/// Pointer button 1, the only one that presses dialog buttons.
pub const POINTER_BUTTON: u8 = 1;

impl InputState {
    pub fn key_press(&mut self, keycode: u8) {
        self.key_down = Some(keycode);
    }

    pub fn key_release(&mut self, keycode: u8, keymap: &Keymap) -> Option<Answer> {
        if self.key_down.take() != Some(keycode) {
            return None;
        }
        keymap.answer_for(keycode)
    }

    /// `over` is the dialog button under the pointer, if any.
    pub fn button_press(&mut self, pointer_button: u8, over: Option<Button>) {
        if pointer_button == POINTER_BUTTON {
            self.button_down = over;
        }
    }

    pub fn button_release(&mut self, pointer_button: u8, over: Option<Button>) -> Option<Answer> {
        if pointer_button != POINTER_BUTTON {
            return None;
        }
        let pressed = self.button_down.take()?;
        (over == Some(pressed)).then_some(match pressed {
            Button::Yes => Answer::Yes,
            Button::No => Answer::No,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keycodes 8.. with 3 keysyms each, like a tiny server.
    #[rustfmt::skip]
    fn keymap() -> Keymap {
        Keymap::new(
            8,
            3,
            vec![
                keysym::LOWER_Y, keysym::UPPER_Y, 0, // 8
                keysym::LOWER_N, keysym::UPPER_N, 0, // 9
                keysym::RETURN, 0, 0, // 10
                keysym::ESCAPE, 0, 0, // 11
                0x61, 0x41, keysym::LOWER_Y, // 12: 'a', 'y' only in group 2
            ],
        )
    }

    #[test]
    fn keys_map_to_answers_through_the_keymap() {
        let k = keymap();
        assert_eq!(k.answer_for(8), Some(Answer::Yes));
        assert_eq!(k.answer_for(9), Some(Answer::No));
        assert_eq!(k.answer_for(10), Some(Answer::Yes));
        assert_eq!(k.answer_for(11), Some(Answer::No));
        assert_eq!(k.answer_for(12), None, "group 2 does not count");
        assert_eq!(k.answer_for(7), None, "below min keycode");
        assert_eq!(k.answer_for(200), None, "beyond the table");
    }

    #[test]
    fn keycode_lookup_is_the_reverse() {
        let k = keymap();
        assert_eq!(k.keycode_for(keysym::LOWER_Y), Some(8));
        assert_eq!(k.keycode_for(keysym::UPPER_N), Some(9));
        assert_eq!(k.keycode_for(keysym::ESCAPE), Some(11));
        assert_eq!(k.keycode_for(0x7a), None);
        assert_eq!(k.keycode_for(0), None, "NoSymbol is never looked up");
    }

    #[test]
    fn key_names() {
        assert_eq!(keysym_by_name("y"), Some(keysym::LOWER_Y));
        assert_eq!(keysym_by_name("Return"), Some(keysym::RETURN));
        assert_eq!(keysym_by_name("Escape"), Some(keysym::ESCAPE));
        assert_eq!(keysym_by_name("n"), Some(keysym::LOWER_N));
        assert_eq!(keysym_by_name("yes"), None);
        assert_eq!(keysym_by_name("\n"), None);
    }

    #[test]
    fn a_key_answers_on_release_of_a_key_pressed_in_the_dialog() {
        let k = keymap();
        let mut s = InputState::default();
        assert_eq!(s.key_release(8, &k), None, "held before the dialog appeared");
        s.key_press(8);
        assert_eq!(s.key_release(8, &k), Some(Answer::Yes));
        s.key_press(12);
        assert_eq!(s.key_release(12, &k), None);
        s.key_press(9);
        s.key_press(11);
        assert_eq!(s.key_release(9, &k), None, "released another key than the last pressed");
        s.key_press(11);
        assert_eq!(s.key_release(11, &k), Some(Answer::No));
    }

    #[test]
    fn a_click_needs_press_and_release_on_the_same_button() {
        let mut s = InputState::default();
        s.button_press(1, Some(Button::Yes));
        assert_eq!(s.button_release(1, Some(Button::Yes)), Some(Answer::Yes));
        s.button_press(1, Some(Button::No));
        assert_eq!(s.button_release(1, Some(Button::No)), Some(Answer::No));
        s.button_press(1, Some(Button::Yes));
        assert_eq!(s.button_release(1, Some(Button::No)), None, "dragged off");
        s.button_press(1, None);
        assert_eq!(s.button_release(1, Some(Button::Yes)), None, "dragged on");
        s.button_press(3, Some(Button::Yes));
        assert_eq!(s.button_release(3, Some(Button::Yes)), None, "right button");
        assert_eq!(s.button_release(1, Some(Button::Yes)), None, "no press at all");
    }
}
