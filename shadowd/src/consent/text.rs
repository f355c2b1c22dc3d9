//! Making the administrator's name safe to show, and encoding text for core
//! X fonts.
//!
//! The name comes from the control API, i.e. from whoever can reach it: it
//! must not be able to fake a different question, hide characters, make a
//! huge window or smuggle bytes into window properties.

/// Longest administrator name shown, in characters. `DOMAIN\user` names are
/// far shorter (15 + 1 + 20 for NetBIOS and sAMAccountName); UPNs fit too.
pub const MAX_ADMIN_CHARS: usize = 64;

/// Shown when nothing printable is left of the name: the user must still
/// see that *someone* asks.
pub const UNKNOWN_ADMIN: &str = "(unknown administrator)";

/// Strips control and invisible formatting characters, collapses runs of
/// whitespace to one space, trims, and caps the length (cut names end in
/// "..."). Idempotent.
pub fn sanitize_admin(raw: &str) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    let mut count = 0usize;
    for c in raw.chars() {
        // Controls go first: a newline or tab is removed, not turned into a
        // space, so "an\nna" cannot be laid out as two lines or words.
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = count > 0;
            continue;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
        // Stop early: a 100 MB name costs no more than a short one.
        if count > MAX_ADMIN_CHARS {
            break;
        }
    }
    if count > MAX_ADMIN_CHARS {
        let cut: String = out.chars().take(MAX_ADMIN_CHARS - 3).collect();
        out = format!("{}...", cut.trim_end());
    }
    if out.is_empty() {
        return UNKNOWN_ADMIN.to_string();
    }
    out
}

/// Zero-width and bidirectional formatting characters: they draw nothing
/// (or reorder what follows) and could make a name read as something else.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{200B}'..='\u{200F}'   // zero-width spaces, LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'   // bidi isolates
        | '\u{FEFF}'                // BOM / zero-width no-break space
    )
}

/// Encodes for an ISO 8859-1 core font (`ImageText8`, `WM_NAME` of type
/// STRING): characters outside Latin-1 become '?', never raw UTF-8 bytes.
pub fn to_latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_kept() {
        assert_eq!(sanitize_admin("CORP\\anna"), "CORP\\anna");
        assert_eq!(sanitize_admin("anna@corp.example"), "anna@corp.example");
        assert_eq!(sanitize_admin("CORP\\Zoë"), "CORP\\Zoë");
    }

    #[test]
    fn control_and_invisible_characters_are_stripped() {
        assert_eq!(sanitize_admin("CORP\\an\nna\r\x07\x1b[31m"), "CORP\\anna[31m");
        assert_eq!(sanitize_admin("a\u{202E}nna\u{200B}"), "anna");
        assert_eq!(sanitize_admin("\u{85}x\u{9f}"), "x");
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        assert_eq!(sanitize_admin("  CORP\\anna \u{a0}\t\n  smith  "), "CORP\\anna smith");
    }

    #[test]
    fn length_is_capped() {
        let s = sanitize_admin(&"x".repeat(10_000));
        assert_eq!(s.chars().count(), MAX_ADMIN_CHARS);
        assert!(s.ends_with("..."));
        let exact = "y".repeat(MAX_ADMIN_CHARS);
        assert_eq!(sanitize_admin(&exact), exact);
    }

    #[test]
    fn nothing_printable_still_names_someone() {
        assert_eq!(sanitize_admin(""), UNKNOWN_ADMIN);
        assert_eq!(sanitize_admin("\n\t\u{202E}  "), UNKNOWN_ADMIN);
    }

    #[test]
    fn sanitising_is_idempotent() {
        for raw in ["CORP\\anna", &"z ".repeat(200), "  a\u{200F} b\n", ""] {
            let once = sanitize_admin(raw);
            assert_eq!(sanitize_admin(&once), once, "{raw:?}");
        }
    }

    #[test]
    fn latin1_replaces_what_it_cannot_encode() {
        assert_eq!(to_latin1("Zoë"), b"Zo\xeb".to_vec());
        assert_eq!(to_latin1("Иван"), b"????".to_vec());
    }
}
