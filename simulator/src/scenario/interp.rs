//! `${...}` interpolation in the text fields of a scenario.
//!
//! Two kinds of names exist, and they are resolved at different times:
//!
//! * **static** names — `vars` and matrix axes — are known per case and
//!   substituted by [`expand`](super::expand);
//! * **runtime** names — a `repeat`'s loop variable (`${i}`), values taken by
//!   `capture`, and `${session:ID}` (the daemon's id for a declared session)
//!   — are only known while the case runs; the runner calls [`interpolate`].
//!
//! `$$` is a literal `$` (as in docker-compose), so `$${x}` is the text
//! `${x}`. A partial pass ([`substitute`]) keeps escapes and unresolved
//! references as written and escapes what it inserts, so running the final
//! pass afterwards can never re-interpret a substituted value.

/// One reference found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarRef<'a> {
    /// `${name}`: a var, a matrix axis, a loop variable or a capture.
    Var(&'a str),
    /// `${session:ID}`: the daemon-side id of the declared session `ID`.
    Session(&'a str),
}

enum Piece<'a> {
    /// Literal text, still escaped as written (`$$` not yet reduced).
    Text(&'a str),
    /// A reference; `raw` is the whole `${...}`.
    Ref { raw: &'a str, var: VarRef<'a> },
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names people give to sessions, clients, viewers and hogs.
pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

pub(crate) fn is_identifier(s: &str) -> bool {
    is_ident(s)
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut lit_start) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let close = text[i..]
                    .find('}')
                    .map(|off| i + off)
                    .ok_or_else(|| format!("unclosed `${{` in {text:?} (write `$$` for a literal `$`)"))?;
                let inner = &text[i + 2..close];
                let var = match inner.split_once(':') {
                    Some(("session", id)) if is_name(id) => VarRef::Session(id),
                    Some(("session", id)) => return Err(format!("`${{session:{id}}}`: `{id}` is not a session id")),
                    None if is_ident(inner) => VarRef::Var(inner),
                    _ => {
                        return Err(format!(
                            "`${{{inner}}}` is not a reference: write `${{name}}` (letters, digits, _) or `${{session:ID}}`"
                        ))
                    }
                };
                if lit_start < i {
                    pieces.push(Piece::Text(&text[lit_start..i]));
                }
                pieces.push(Piece::Ref { raw: &text[i..=close], var });
                i = close + 1;
                lit_start = i;
            }
            _ => i += 1,
        }
    }
    if lit_start < text.len() {
        pieces.push(Piece::Text(&text[lit_start..]));
    }
    Ok(pieces)
}

/// Every reference in `text`, in order.
pub fn references(text: &str) -> Result<Vec<VarRef<'_>>, String> {
    Ok(parse(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref { var, .. } => Some(var),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Whether `text` holds at least one `${...}` (escapes do not count).
pub fn has_references(text: &str) -> bool {
    match parse(text) {
        Ok(pieces) => pieces.iter().any(|p| matches!(p, Piece::Ref { .. })),
        // A malformed reference is still meant as one: let the caller's
        // interpolation report it.
        Err(_) => true,
    }
}

/// Partial pass: replaces the references `lookup` knows, keeps the others
/// and all escapes as written. The result is still a template.
pub fn substitute(text: &str, lookup: impl Fn(&VarRef<'_>) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref { raw, var } => match lookup(&var) {
                Some(value) => out.push_str(&value.replace('$', "$$")),
                None => out.push_str(raw),
            },
        }
    }
    Ok(out)
}

/// Final pass: every reference must resolve; `$$` becomes `$`.
pub fn interpolate(text: &str, lookup: impl Fn(&VarRef<'_>) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text)? {
        match piece {
            Piece::Text(t) => out.push_str(&unescape(t)),
            Piece::Ref { raw, var } => {
                out.push_str(&lookup(&var).ok_or_else(|| format!("`{raw}` is not defined here"))?)
            }
        }
    }
    Ok(out)
}

/// `$$` → `$` in literal text.
fn unescape(t: &str) -> String {
    t.replace("$$", "$")
}
