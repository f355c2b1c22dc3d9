//! The `browser` step: the web console in a real (headless) Chromium, as an
//! administrator uses it. One step may open a page, press a button, wait
//! for what the page says, compare the viewer's canvas with the display and
//! take a screenshot — in that order, each part optional:
//!
//! ```yaml
//! - browser: {open: console, admin: 'CORP\anna', click: shadow, session: alice,
//!             expect_phase: asking, screenshot: asking}
//! - consent: {session: alice, click: yes}
//! - browser: {expect_phase: connected, expect_canvas_matches_display: true, session: alice}
//! ```
//!
//! A case has one browser; `window` names its top-level windows (one per
//! administrator), so a takeover can be watched from both sides.

use super::duration::Duration;
use schemars::JsonSchema;
use serde::Deserialize;

/// Default `within` of a `browser` step: pages, noVNC and a first frame
/// on a loaded two-core machine.
pub const DEFAULT_BROWSER_WITHIN: Duration = Duration::from_secs(20);

fn d_browser() -> Duration {
    DEFAULT_BROWSER_WITHIN
}

/// `browser: {open: console, click: shadow, session: alice, expect_phase: asking}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserStep {
    /// The browser window to act in (default `main`); a new name opens another window.
    #[serde(default)]
    pub window: Option<String>,
    /// Load a page: the console (`/`) or the session's deep link (`/shadow/{session}`).
    #[serde(default)]
    pub open: Option<ConsolePage>,
    /// The administrator name the page uses (with `open`; default `CORP\<window>`).
    #[serde(default)]
    pub admin: Option<String>,
    /// The declared session this step is about: the deep link's, the row whose Shadow is pressed, the display the canvas is compared with.
    #[serde(default)]
    pub session: Option<String>,
    /// Press a button: the session row's Shadow, or the viewer's Stop.
    #[serde(default)]
    pub click: Option<ConsoleButton>,
    /// Try to control the session from the viewer, as an administrator might: click on the canvas and type this text (view-only: none of it may reach the display; check with `expect_no_input`).
    #[serde(default)]
    pub try_input: Option<String>,
    /// The console must reach this phase (its `#status[data-phase]`).
    #[serde(default)]
    pub expect_phase: Option<ConsolePhase>,
    /// The console's code must be this: an API error code (`consent_denied`) or why the shadow ended (`taken_over`, `stopped_by_user`).
    #[serde(default)]
    pub expect_code: Option<String>,
    /// The page's visible text must contain this.
    #[serde(default)]
    pub expect_text: Option<String>,
    /// The noVNC canvas must equal the session's display (a fresh screenshot each try).
    #[serde(default)]
    pub expect_canvas_matches_display: bool,
    /// How far each colour channel may be off (0 = exact; JPEG-encoded pictures need some).
    #[serde(default)]
    pub tolerance: u8,
    /// Save the page as it looks now into the report, under this name.
    #[serde(default)]
    pub screenshot: Option<String>,
    /// How long the page may take to get there.
    #[serde(default = "d_browser")]
    pub within: Duration,
}

impl BrowserStep {
    pub fn window_name(&self) -> &str {
        self.window.as_deref().unwrap_or("main")
    }

    pub fn admin_name(&self) -> String {
        self.admin.clone().unwrap_or_else(|| format!("CORP\\{}", self.window_name()))
    }

    /// Whether the step waits for anything on the page.
    pub fn expects(&self) -> bool {
        self.expect_phase.is_some()
            || self.expect_code.is_some()
            || self.expect_text.is_some()
            || self.expect_canvas_matches_display
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsolePage {
    /// `/`: every session on the host.
    Console,
    /// `/shadow/{session}`: the deep link to one session.
    Shadow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleButton {
    /// The session row's Shadow button (needs `session`).
    Shadow,
    /// The viewer's Stop button.
    Stop,
}

/// The console's phases, as `#status[data-phase]` carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsolePhase {
    /// Nothing asked yet.
    Idle,
    /// The user is being asked (the countdown runs).
    Asking,
    /// Granted; the viewer is connecting.
    Connecting,
    /// The viewer shows the session.
    Connected,
    /// The shadow ended (the code says why).
    Ended,
    /// The request failed (the code is the API's error code).
    Failed,
}

impl ConsolePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsolePhase::Idle => "idle",
            ConsolePhase::Asking => "asking",
            ConsolePhase::Connecting => "connecting",
            ConsolePhase::Connected => "connected",
            ConsolePhase::Ended => "ended",
            ConsolePhase::Failed => "failed",
        }
    }
}
