//! shadowd's web console as a page object: where its parts are and how to
//! read its state, for the browser tests and the scenario `browser` step
//! alike. The console publishes its state for exactly this purpose:
//! `#status[data-phase]` (idle, asking, connecting, connected, ended,
//! failed) and `#status[data-code]` (the API error code, or why the
//! shadow ended), so nothing here parses sentences meant for people.

use super::browser::Browser;
use super::image::Image;
use anyhow::{anyhow, Result};
use std::time::{Duration, Instant};

/// The noVNC canvas inside the console's viewer.
pub const CANVAS: &str = "#screen canvas";

/// The console's state, as `#status` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub phase: String,
    pub code: String,
    pub text: String,
}

/// The console as a Director reaches it: by FQDN (the browser maps it to
/// loopback), on the control listener's port. `api` is `http://IP:PORT`.
pub fn url(api: &str, fqdn: &str, path: &str) -> Result<String> {
    let port = api.rsplit(':').next().filter(|p| p.parse::<u16>().is_ok());
    let port = port.ok_or_else(|| anyhow!("the daemon's address {api:?} has no port"))?;
    Ok(format!("http://{fqdn}:{port}{path}"))
}

/// `/?admin=…` or `/shadow/{session}?admin=…`: the page fills in the
/// administrator's name from the query, as a Director's link would.
pub fn path(session: Option<&str>, admin: &str) -> String {
    let admin: String = admin
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    match session {
        Some(id) => format!("/shadow/{id}?admin={admin}"),
        None => format!("/?admin={admin}"),
    }
}

/// The sessions table's row for daemon session `id`.
pub fn row(id: &str) -> String {
    format!("tr[data-session=\"{id}\"]")
}

/// Phase, code and text read in one script, so they belong to one moment:
/// read one by one, a page moving from `failed` to `asking` in between gave
/// "failed" with the new state's empty code.
pub async fn status(b: &Browser) -> Result<Status> {
    const READ: &str = "const s = document.querySelector('#status'); \
                        return s ? [s.dataset.phase || '', s.dataset.code || '', s.innerText] : null;";
    let v = b.eval(READ, vec![]).await?;
    match serde_json::from_value::<Option<(String, String, String)>>(v.clone()) {
        Ok(Some((phase, code, text))) => Ok(Status { phase, code, text }),
        _ => Err(anyhow!("the page has no #status element (is it the console?): {v}")),
    }
}

/// The whole page's visible text.
pub async fn page_text(b: &Browser) -> Result<String> {
    let v = b.eval("return document.body.innerText", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// What a page must show: each part optional.
#[derive(Debug, Default, Clone)]
pub struct Expected<'a> {
    pub phase: Option<&'a str>,
    pub code: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// Waits until the console shows `want`. While the viewer's connection has
/// closed but the reason is not known yet, the page says `closing`: that
/// is never the answer, so it is waited out.
pub async fn wait(b: &Browser, want: &Expected<'_>, within: Duration) -> Result<Status> {
    b.wait_for(&format!("the console to show {want:?}"), within, || async {
        let s = status(b).await?;
        let phase_ok = want.phase.is_none_or(|p| s.phase == p) && s.code != "closing";
        let code_ok = want.code.is_none_or(|c| s.code == c);
        let text_ok = match want.text {
            None => true,
            Some(t) => page_text(b).await?.contains(t),
        };
        if phase_ok && code_ok && text_ok {
            Ok(Some(s))
        } else {
            Err(anyhow!("it shows {s:?}"))
        }
    })
    .await
}

/// Why the canvas did not match the display, with both pictures for a report.
#[derive(Debug)]
pub struct CanvasMismatch {
    pub message: String,
    pub canvas: Option<Image>,
    pub expected: Option<Image>,
}

impl std::fmt::Display for CanvasMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CanvasMismatch {}

/// Waits until the viewer's canvas equals `truth(canvas)` — called afresh
/// on each try, because the display changes under the viewer (the
/// indicator bar appears once the shadow starts); it is given the canvas
/// so a caller may leave regions out (`indicator::mask`) — with every
/// channel within `tolerance`. Returns the largest channel difference
/// seen at the match.
pub async fn wait_canvas_matches(
    b: &Browser,
    tolerance: u8,
    within: Duration,
    mut truth: impl FnMut(&Image) -> Result<Image>,
) -> std::result::Result<u8, CanvasMismatch> {
    let deadline = Instant::now() + within;
    let mut last = (String::from("no canvas yet"), None, None);
    loop {
        match b.canvas(CANVAS).await {
            Ok(Some(canvas)) => match truth(&canvas) {
                Ok(expected) => match canvas.diff_within(&expected, tolerance) {
                    None => return Ok(canvas.max_channel_delta(&expected)),
                    Some(d) => {
                        last = (format!("the canvas differs from the display: {d}"), Some(canvas), Some(expected))
                    }
                },
                Err(e) => last.0 = format!("{e:#}"),
            },
            Ok(None) => last.0 = format!("no noVNC canvas `{CANVAS}` on the page"),
            Err(e) => last.0 = format!("{e:#}"),
        }
        if Instant::now() >= deadline {
            let (message, canvas, expected) = last;
            return Err(CanvasMismatch { message: format!("{message} (waited {within:?})"), canvas, expected });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_url_uses_the_fqdn_and_the_api_port() {
        assert_eq!(url("http://127.0.0.1:8123", "vda1.shadow.test", "/").unwrap(), "http://vda1.shadow.test:8123/");
        assert!(url("http://127.0.0.1", "h", "/").is_err());
    }

    #[test]
    fn admin_names_are_escaped_in_the_query() {
        assert_eq!(path(None, "CORP\\anna"), "/?admin=CORP%5Canna");
        assert_eq!(path(Some("7"), "a b&c"), "/shadow/7?admin=a%20b%26c");
    }
}
