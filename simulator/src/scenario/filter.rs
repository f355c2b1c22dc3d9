//! `--tag` and `--name` selection, as pure functions over cases.

use super::matrix::Case;

/// Which cases to run. Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// `--tag`: a case must carry one of these; `!slow` (or `-slow`) excludes a tag.
    pub tags: Vec<String>,
    /// `--name`: a substring of the case name, or a glob (`*`, `?`) over the whole name.
    pub names: Vec<String>,
}

impl CaseFilter {
    pub fn matches(&self, case: &Case) -> bool {
        matches_tags(&case.tags, &self.tags)
            && (self.names.is_empty() || self.names.iter().any(|p| matches_name(&case.name, p)))
    }

    pub fn select<'c>(&self, cases: &'c [Case]) -> Vec<&'c Case> {
        cases.iter().filter(|c| self.matches(c)).collect()
    }
}

/// True when `tags` has one of the wanted tags (or none is wanted) and none
/// of the excluded (`!tag` / `-tag`) ones.
pub fn matches_tags(tags: &[String], wanted: &[String]) -> bool {
    let mut any_positive = false;
    let mut hit = false;
    for w in wanted {
        match w.strip_prefix('!').or_else(|| w.strip_prefix('-')) {
            Some(excluded) => {
                if tags.iter().any(|t| t == excluded) {
                    return false;
                }
            }
            None => {
                any_positive = true;
                hit |= tags.iter().any(|t| t == w);
            }
        }
    }
    !any_positive || hit
}

/// A pattern with `*` or `?` is a glob over the whole name; otherwise a
/// substring. (`[` is literal: case names contain `[axis=value]`.)
pub fn matches_name(name: &str, pattern: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob(name.as_bytes(), pattern.as_bytes())
    } else {
        name.contains(pattern)
    }
}

/// Iterative wildcard match with backtracking to the last `*`.
fn glob(text: &[u8], pat: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}
