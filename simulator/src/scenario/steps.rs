//! Steps: what a scenario does, in order.
//!
//! A step is a YAML map with exactly one *kind* key, whose value holds that
//! kind's parameters, plus optional *attributes* beside it, as Ansible tasks
//! write module and keywords side by side:
//!
//! ```yaml
//! - consent: {session: alice, click: yes}
//!   after: 300ms          # wait this long before the step
//!   name: user accepts    # shown in reports instead of the kind
//!   timeout: 10s          # hard limit for the step (default: the case's)
//!   when: {backend: external}   # only in these matrix cases
//! ```
//!
//! The flow form `- {consent: {session: alice, click: yes}, after: 300ms}`
//! is the same map. Parameters describe *what* the step does; attributes
//! *how it is scheduled*, the same for every kind: keeping them apart lets
//! `deny_unknown_fields` catch `after:` misplaced inside a kind's map.
//!
//! `within` (in assertions) is how long the assertion may take to become
//! true; `timeout` is the step's hard budget, for any kind.

pub use super::browser_step::*;
use super::duration::Duration;
use super::located::Loc;
use super::model::{RegistryValues, When};
use super::values::{ByteSize, HexBytes};
use super::vocab::*;
use schemars::JsonSchema;
use serde::de;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Default `within` of `expect`: longer than the seed's 20 s consent timeout.
pub const DEFAULT_EXPECT_WITHIN: Duration = Duration::from_secs(25);
/// Default `within` of `consent` (for the dialog to appear), `connect`,
/// `expect_frame`, `wait_event`, `expect_port(s)_free`, `raw_connect`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5);
/// Default `within` of `expect_disconnect` and `expect_events`.
pub const DEFAULT_SHORT_WITHIN: Duration = Duration::from_secs(2);
/// Largest `repeat.times`.
pub const MAX_REPEAT: u32 = 10_000;

fn d_expect() -> Duration {
    DEFAULT_EXPECT_WITHIN
}
fn d_within() -> Duration {
    DEFAULT_WITHIN
}
fn d_short() -> Duration {
    DEFAULT_SHORT_WITHIN
}
fn d_loop_var() -> String {
    "i".to_string()
}

/// The attribute keys a step may carry beside its kind.
pub const STEP_ATTRIBUTES: &[&str] = &["name", "timeout", "after", "when"];

/// Every step kind, as written in YAML. (A test checks this against the
/// `Step` enum through the JSON schema.)
pub const STEP_KINDS: &[&str] = &[
    "request",
    "consent",
    "expect",
    "connect",
    "expect_frame",
    "expect_disconnect",
    "expect_connected",
    "send_input",
    "expect_display_unchanged",
    "expect_no_input",
    "stop",
    "disconnect",
    "registry",
    "hog_ports",
    "release_ports",
    "break_cert",
    "kill",
    "close_session",
    "user_stop",
    "fault",
    "wait_event",
    "expect_events",
    "http",
    "raw_connect",
    "expect_port_free",
    "expect_ports_free",
    "sleep",
    "capture",
    "repeat",
    "system",
    "require",
    "doctor",
    "browser",
];

/// One step with its position and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct StepNode {
    /// Where the step's map starts in the file.
    pub loc: Loc,
    /// A label for reports.
    pub name: Option<String>,
    /// The step's hard time limit.
    pub timeout: Option<Duration>,
    /// A delay before the step starts.
    pub after: Option<Duration>,
    /// The matrix cases the step runs in (all when absent).
    pub when: Option<When>,
    pub step: Step,
}

impl StepNode {
    /// The kind as written in YAML, e.g. `expect_disconnect`.
    pub fn kind(&self) -> &'static str {
        self.step.kind()
    }

    /// `step 6 (expect_disconnect)`, or `step 6 "first admin cut off" (expect_disconnect)`;
    /// `number` is the step's 1-based position, dotted inside `repeat` (`3.2`).
    pub fn label(&self, number: &str) -> String {
        match &self.name {
            Some(n) => format!("step {number} \"{n}\" ({})", self.kind()),
            None => format!("step {number} ({})", self.kind()),
        }
    }
}

/// What a step does. Externally tagged: the key is the kind.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Ask to shadow a session, as admin client `as` (Director's Shadow button).
    Request(RequestStep),
    /// Answer (or ignore) the consent dialog on a session's display.
    Consent(ConsentStep),
    /// Check the answer a client's last request got.
    Expect(ExpectStep),
    /// Open a viewer (WebSocket + RFB) with a client's grant.
    Connect(ConnectStep),
    /// The viewer's framebuffer must equal the display.
    ExpectFrame(ExpectFrameStep),
    /// The viewer's connection must be closed by the daemon.
    ExpectDisconnect(ExpectDisconnectStep),
    /// The viewer must stay connected for a while.
    ExpectConnected(ExpectConnectedStep),
    /// Send keys, pointer events or clipboard text from a viewer (view-only: all must be dropped).
    SendInput(SendInputStep),
    /// The display must still show exactly its declared picture.
    ExpectDisplayUnchanged(SessionCheckStep),
    /// The session's X server must have received no input events.
    ExpectNoInput(SessionCheckStep),
    /// End a session's shadow through the API (`DELETE /v1/sessions/{id}/shadow`).
    Stop(StopStep),
    /// Close a viewer's connection from the admin's side.
    Disconnect(ViewerRef),
    /// Change registry values through `shadowd reg update`, without restarting the daemon.
    Registry(RegistryStep),
    /// Occupy shadow ports with another process's listeners.
    HogPorts(HogPortsStep),
    /// Free the ports a `hog_ports` step holds.
    ReleasePorts(ReleasePortsStep),
    /// Rewrite the SSL dir with another certificate setup.
    BreakCert(BreakCertStep),
    /// Kill a process (a session's x11vnc, websockify or X server, or shadowd).
    Kill(KillStep),
    /// End a session as a user logging out would.
    CloseSession(SessionRef),
    /// The user presses Stop on shadowd's "being shadowed" bar (beyond the seed).
    UserStop(SessionRef),
    /// Inject a network fault between a viewer and the daemon (a proxy).
    Fault(FaultStep),
    /// Wait for an audit event.
    WaitEvent(WaitEventStep),
    /// The audit trace must be these events, in order: a list, or a map with `session`, `events`, `match`.
    ExpectEvents(
        #[serde(deserialize_with = "super::step_read::events_list_or_map")]
        #[schemars(schema_with = "super::schema::expect_events_schema")]
        ExpectEventsStep,
    ),
    /// Send a hand-made HTTP request to the control API (malformed input).
    Http(HttpStep),
    /// Open a raw TCP connection to a shadow port and send garbage.
    RawConnect(RawConnectStep),
    /// A port must be free (closed) again.
    ExpectPortFree(PortRefStep),
    /// This many ports of the daemon's range must be free.
    ExpectPortsFree(PortsFreeStep),
    /// Wait. Discouraged: prefer an assertion with `within`, which waits only as long as needed.
    Sleep(Duration),
    /// Keep a value of a client's last answer in a variable, e.g. `from: anna.port`.
    Capture(CaptureStep),
    /// Run steps several times, with `${i}` (or `var`) = 1..=times.
    Repeat(RepeatStep),
    /// Change the system with a shell command (as root), e.g. hide netstat or add a firewall rule.
    /// Only inside a testbed container: the scenario must be tagged `container`.
    System(SystemStep),
    /// A precondition of the case on this machine, as a shell command (read-only): when it
    /// fails, the case is reported *skipped* with `reason` (and the command's output), not failed.
    Require(RequireStep),
    /// Run `shadowd doctor` for this case's daemon (its port range and SSL dir) and check its verdicts.
    Doctor(DoctorStep),
    /// Use the web console in a headless Chromium: open, click, expect text or the canvas, screenshot.
    Browser(BrowserStep),
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Request(_) => "request",
            Step::Consent(_) => "consent",
            Step::Expect(_) => "expect",
            Step::Connect(_) => "connect",
            Step::ExpectFrame(_) => "expect_frame",
            Step::ExpectDisconnect(_) => "expect_disconnect",
            Step::ExpectConnected(_) => "expect_connected",
            Step::SendInput(_) => "send_input",
            Step::ExpectDisplayUnchanged(_) => "expect_display_unchanged",
            Step::ExpectNoInput(_) => "expect_no_input",
            Step::Stop(_) => "stop",
            Step::Disconnect(_) => "disconnect",
            Step::Registry(_) => "registry",
            Step::HogPorts(_) => "hog_ports",
            Step::ReleasePorts(_) => "release_ports",
            Step::BreakCert(_) => "break_cert",
            Step::Kill(_) => "kill",
            Step::CloseSession(_) => "close_session",
            Step::UserStop(_) => "user_stop",
            Step::Fault(_) => "fault",
            Step::WaitEvent(_) => "wait_event",
            Step::ExpectEvents(_) => "expect_events",
            Step::Http(_) => "http",
            Step::RawConnect(_) => "raw_connect",
            Step::ExpectPortFree(_) => "expect_port_free",
            Step::ExpectPortsFree(_) => "expect_ports_free",
            Step::Sleep(_) => "sleep",
            Step::Capture(_) => "capture",
            Step::Repeat(_) => "repeat",
            Step::System(_) => "system",
            Step::Require(_) => "require",
            Step::Doctor(_) => "doctor",
            Step::Browser(_) => "browser",
        }
    }

    /// Every free-text field (names, admin, keys, paths, bodies...): where
    /// `${...}` is interpolated. Enum, number and duration fields are not.
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut v: Vec<&mut String> = Vec::new();
        match self {
            Step::Request(s) => {
                v.push(&mut s.client);
                v.extend(s.admin.as_mut());
                v.extend(s.session.as_mut());
                v.extend(s.session_id.as_mut());
            }
            Step::Consent(s) => v.push(&mut s.session),
            Step::Expect(s) => {
                v.push(&mut s.request);
                v.extend(s.message_contains.as_mut());
            }
            Step::Connect(s) => {
                v.push(&mut s.client);
                v.extend(s.viewer.as_mut());
                v.extend(s.origin.as_mut());
                v.extend(s.password.as_mut());
            }
            Step::ExpectFrame(s) => v.push(&mut s.viewer),
            Step::ExpectDisconnect(s) => v.push(&mut s.viewer),
            Step::ExpectConnected(s) => v.push(&mut s.viewer),
            Step::SendInput(s) => {
                v.push(&mut s.viewer);
                v.extend(s.keys.as_mut());
                v.extend(s.cut_text.as_mut());
            }
            Step::ExpectDisplayUnchanged(s) | Step::ExpectNoInput(s) => v.push(&mut s.session),
            Step::Stop(s) => v.push(&mut s.session),
            Step::Disconnect(s) => v.push(&mut s.viewer),
            Step::Registry(_) | Step::BreakCert(_) | Step::Sleep(_) | Step::ExpectPortsFree(_) => {}
            Step::HogPorts(s) => v.push(&mut s.name),
            Step::ReleasePorts(s) => v.push(&mut s.hog),
            Step::Kill(s) => v.extend(s.session.as_mut()),
            Step::CloseSession(s) | Step::UserStop(s) => v.push(&mut s.session),
            Step::Fault(s) => v.push(&mut s.viewer),
            Step::WaitEvent(s) => {
                v.extend(s.session.as_mut());
                v.extend(s.admin.as_mut());
            }
            Step::ExpectEvents(s) => v.extend(s.session.as_mut()),
            Step::Http(s) => {
                v.push(&mut s.path);
                v.extend(s.body.as_mut());
                v.extend(s.content_type.as_mut());
                v.extend(s.headers.values_mut());
                v.extend(s.expect_body_contains.as_mut());
            }
            Step::RawConnect(s) => {
                v.extend(s.port_of.as_mut());
                v.extend(s.send.as_mut());
            }
            Step::ExpectPortFree(s) => v.extend(s.port_of.as_mut()),
            Step::Capture(s) => {
                v.push(&mut s.name);
                v.push(&mut s.from.client);
            }
            Step::Repeat(_) => {}
            Step::System(s) => {
                v.push(&mut s.run);
                v.extend(s.undo.as_mut());
            }
            Step::Require(s) => {
                v.push(&mut s.run);
                v.push(&mut s.reason);
            }
            Step::Doctor(s) => {
                v.extend(s.fails.iter_mut());
                v.extend(s.passes.iter_mut());
                v.extend(s.contains.iter_mut());
            }
            Step::Browser(s) => {
                v.extend(s.window.as_mut());
                v.extend(s.admin.as_mut());
                v.extend(s.session.as_mut());
                v.extend(s.expect_code.as_mut());
                v.extend(s.expect_text.as_mut());
                v.extend(s.try_input.as_mut());
                v.extend(s.screenshot.as_mut());
            }
        }
        v
    }
}

/// `request: {as: anna, admin: 'CORP\anna', session: alice}`. The request is
/// sent in the background: its answer (after the user's consent) is checked
/// by a later `expect`. A client's new request replaces its previous one.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestStep {
    /// The client's name, used by `expect`, `connect`, `capture`, `port_of`.
    #[serde(rename = "as")]
    pub client: String,
    /// The admin identity sent to the API (default `CORP\<as>`).
    #[serde(default)]
    pub admin: Option<String>,
    /// A declared session.
    #[serde(default)]
    pub session: Option<String>,
    /// A raw daemon-side session id instead of `session`, e.g. one that does not exist.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Block this step until the answer arrives (for answers that need no consent, e.g. errors).
    #[serde(default)]
    pub wait: bool,
}

impl RequestStep {
    pub fn admin_name(&self) -> String {
        self.admin.clone().unwrap_or_else(|| format!("CORP\\{}", self.client))
    }
}

/// `consent: {session: alice, click: yes}` — wait for the dialog, then act.
/// Exactly one of `click`, `key`, `ignore`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentStep {
    pub session: String,
    /// Click a button.
    #[serde(default)]
    pub click: Option<Answer>,
    /// Press a key: y or Return accept, n or Escape deny.
    #[serde(default)]
    pub key: Option<ConsentKey>,
    /// See the dialog appear, then leave it to time out.
    #[serde(default)]
    pub ignore: bool,
    /// How long the dialog may take to appear.
    #[serde(default = "d_within")]
    pub within: Duration,
}

/// What a `consent` step does once the dialog is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAction {
    Click(Answer),
    Key(ConsentKey),
    Ignore,
}

impl ConsentStep {
    /// The action (load-time validation ensures exactly one was given).
    pub fn action(&self) -> ConsentAction {
        match (self.click, self.key) {
            (Some(a), _) => ConsentAction::Click(a),
            (None, Some(k)) => ConsentAction::Key(k),
            (None, None) => ConsentAction::Ignore,
        }
    }
}

/// `expect: {request: anna, granted: true}` or `{request: anna, error: consent_denied}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// The client whose last request is checked.
    pub request: String,
    /// true: a grant; false: any error.
    #[serde(default)]
    pub granted: Option<bool>,
    /// This error code.
    #[serde(default)]
    pub error: Option<ErrorCode>,
    /// The HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// The grant's scheme.
    #[serde(default)]
    pub scheme: Option<Scheme>,
    /// The error message contains this text (e.g. the missing file's name).
    #[serde(default)]
    pub message_contains: Option<String>,
    /// How long the answer may take.
    #[serde(default = "d_expect")]
    pub within: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedOutcome {
    Granted,
    /// Any error, or this one.
    Refused(Option<ErrorCode>),
}

impl ExpectStep {
    pub fn outcome(&self) -> ExpectedOutcome {
        match (self.granted, self.error) {
            (_, Some(code)) => ExpectedOutcome::Refused(Some(code)),
            (Some(false), None) => ExpectedOutcome::Refused(None),
            _ => ExpectedOutcome::Granted,
        }
    }
}

/// `connect: {as: anna}` — a viewer with the client's last grant.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// The client whose grant is used.
    #[serde(rename = "as")]
    pub client: String,
    /// The viewer's name for later steps (default: the client's name).
    #[serde(default)]
    pub viewer: Option<String>,
    /// The WebSocket Origin header (default: the daemon's console origin).
    #[serde(default)]
    pub origin: Option<String>,
    /// Use this password instead of the grant's (wrong or reused passwords).
    #[serde(default)]
    pub password: Option<String>,
    /// Which address to dial.
    #[serde(default)]
    pub address: Address,
    /// Connecting must fail like this; no viewer is created.
    #[serde(default)]
    pub expect_error: Option<ConnectError>,
    /// How long connecting (up to the RFB ServerInit) may take.
    #[serde(default = "d_within")]
    pub within: Duration,
}

impl ConnectStep {
    pub fn viewer_name(&self) -> &str {
        self.viewer.as_deref().unwrap_or(&self.client)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFrameStep {
    pub viewer: String,
    /// What the framebuffer must equal.
    #[serde(default)]
    pub equals: FrameRef,
    #[serde(default = "d_within")]
    pub within: Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectDisconnectStep {
    pub viewer: String,
    #[serde(default = "d_short")]
    pub within: Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectConnectedStep {
    pub viewer: String,
    /// How long the viewer must stay connected.
    #[serde(rename = "for")]
    pub duration: Duration,
}

/// At least one of `keys`, `pointer`, `cut_text`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInputStep {
    pub viewer: String,
    /// Text typed as key presses and releases.
    #[serde(default)]
    pub keys: Option<String>,
    /// Pointer positions [x, y], visited in order.
    #[serde(default)]
    pub pointer: Vec<[u16; 2]>,
    /// Button mask held during the pointer moves (1 = left).
    #[serde(default)]
    pub button: Option<u8>,
    /// Clipboard text (RFB ClientCutText).
    #[serde(default)]
    pub cut_text: Option<String>,
}

/// `expect_display_unchanged` / `expect_no_input`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCheckStep {
    pub session: String,
    /// Keep checking this long (default: check once).
    #[serde(rename = "for", default)]
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopStep {
    pub session: String,
    /// The DELETE must fail with this code (e.g. no_active_shadow).
    #[serde(default)]
    pub expect_error: Option<ErrorCode>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewerRef {
    pub viewer: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRef {
    pub session: String,
}

/// `registry: {set: {EnableSessionShadowing: 0}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryStep {
    /// Values to write.
    #[serde(default)]
    pub set: RegistryValues,
    /// Values to delete (the daemon falls back to its defaults).
    #[serde(default)]
    pub unset: Vec<RegName>,
}

/// `system: {run: 'mv /usr/bin/netstat /usr/bin/netstat.off', undo: 'mv /usr/bin/netstat.off /usr/bin/netstat'}`.
/// `run` goes to `sh -c` and must exit 0; `undo` runs when the case ends,
/// however it ended, so the next case in the same container starts clean.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemStep {
    /// The shell command that changes the system.
    pub run: String,
    /// The shell command that puts it back (at the end of the case).
    #[serde(default)]
    pub undo: Option<String>,
}

/// `require: {run: 'find / -name rebind.so | grep -q .', reason: "this websockify ships no rebind.so"}`.
/// For a scenario that can only say something where the machine is in a
/// given state: a distribution whose packages differ is reported as
/// skipped, with the reason, instead of failing a check it cannot set up.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireStep {
    /// The shell command (`sh -c`) that must exit 0 for the case to go on. It must not change anything.
    pub run: String,
    /// Why the case cannot run otherwise, shown as the skip reason.
    pub reason: String,
}

/// `doctor: {fails: [netstat], contains: ["install net-tools"]}`. A check
/// is named by the start of its name (`free ports` matches `free ports in
/// 6001-6099`, whatever block the case got).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorStep {
    /// Checks that must be reported FAIL.
    #[serde(default)]
    pub fails: Vec<String>,
    /// Checks that must be reported PASS.
    #[serde(default)]
    pub passes: Vec<String>,
    /// Text the report must contain (details and fixes included).
    #[serde(default)]
    pub contains: Vec<String>,
}

/// `hog_ports: {as: hog1, count: 98}` or `{as: hog1, ports: [6001, 6002]}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HogPortsStep {
    /// The hog's name for `release_ports`.
    #[serde(rename = "as")]
    pub name: String,
    /// Hold this many ports of the daemon's range, lowest first.
    #[serde(default)]
    pub count: Option<u16>,
    /// Hold exactly these ports.
    #[serde(default)]
    pub ports: Option<Vec<u16>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HogAmount<'a> {
    Count(u16),
    Ports(&'a [u16]),
}

impl HogPortsStep {
    pub fn amount(&self) -> HogAmount<'_> {
        match (&self.ports, self.count) {
            (Some(p), _) => HogAmount::Ports(p),
            (None, c) => HogAmount::Count(c.unwrap_or(0)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePortsStep {
    pub hog: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakCertStep {
    /// The new content of the SSL dir.
    pub tls: TlsSetup,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillStep {
    pub process: ProcessKind,
    /// Whose process (required except for shadowd).
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub signal: Signal,
}

/// Toxiproxy-style faults on the viewer's path; `clear` removes them.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    pub viewer: String,
    /// Delay every chunk by this much.
    #[serde(default)]
    pub latency: Option<Duration>,
    /// Cut the connection (both directions, no FIN).
    #[serde(default)]
    pub cut: bool,
    /// Stop forwarding for this long, then resume.
    #[serde(default)]
    pub stall: Option<Duration>,
    /// Remove the viewer's faults.
    #[serde(default)]
    pub clear: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitEventStep {
    pub event: EventKind,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
    /// For `ended`.
    #[serde(default)]
    pub reason: Option<EndReason>,
    /// For `rejected`.
    #[serde(default)]
    pub error: Option<ErrorCode>,
    #[serde(default = "d_within")]
    pub within: Duration,
}

/// `expect_events: [requested, prompted, accepted, connected]`, or
/// `{session: alice, events: [...], match: ordered}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectEventsStep {
    /// Only this session's events.
    #[serde(default)]
    pub session: Option<String>,
    pub events: Vec<EventKind>,
    /// exact (default): the trace is these events; ordered: they occur in this order among others.
    #[serde(rename = "match", default)]
    pub mode: EventMatch,
    /// How long the trace may take to get there.
    #[serde(default = "d_short")]
    pub within: Duration,
}

/// A hand-made request to the control API. `path` may use `${session:alice}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub method: HttpMethod,
    /// Starts with `/`.
    pub path: String,
    /// The body, verbatim.
    #[serde(default)]
    pub body: Option<String>,
    /// A body of this many filler bytes instead (oversized requests).
    #[serde(default)]
    pub body_size: Option<ByteSize>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// The JSON body's `error` code.
    #[serde(default)]
    pub expect_error: Option<ErrorCode>,
    #[serde(default)]
    pub expect_body_contains: Option<String>,
}

/// A raw TCP connection to a shadow port. One of `port_of` / `port`; at most one of `send` / `send_hex`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnectStep {
    /// The port of this client's last grant.
    #[serde(default)]
    pub port_of: Option<String>,
    /// A port number.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub address: Address,
    /// Wrap in TLS first (default: when the grant's scheme is wss).
    #[serde(default)]
    pub tls: Option<bool>,
    /// Text to send (e.g. "RFB 003.008\n" or "GET / HTTP/1.0\r\n\r\n").
    #[serde(default)]
    pub send: Option<String>,
    /// Bytes to send, as hex.
    #[serde(default)]
    pub send_hex: Option<HexBytes>,
    pub expect: RawExpect,
    #[serde(default = "d_within")]
    pub within: Duration,
}

/// One of `port_of` / `port`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortRefStep {
    #[serde(default)]
    pub port_of: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "d_within")]
    pub within: Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortsFreeStep {
    /// The number of free ports in the daemon's range.
    pub count: u16,
    #[serde(default = "d_within")]
    pub within: Duration,
}

/// `capture: {name: port_a, from: anna.port}`, then `${port_a}`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureStep {
    /// The variable's name.
    pub name: String,
    /// CLIENT.FIELD: a value from the client's last answer.
    pub from: CaptureSource,
}

/// `anna.port`: a client and a field of its last answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSource {
    pub client: String,
    pub field: AnswerField,
}

/// A field of a request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerField {
    Host,
    Port,
    Scheme,
    Url,
    Password,
    Shadow,
    Status,
    Error,
    Message,
}

impl FromStr for CaptureSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (client, field) = s.rsplit_once('.').ok_or_else(|| format!("`{s}` is not CLIENT.FIELD, e.g. anna.port"))?;
        let field = super::values::parse_enum(field).map_err(|e| format!("`{s}`: {e}"))?;
        Ok(CaptureSource { client: client.to_string(), field })
    }
}

impl<'de> Deserialize<'de> for CaptureSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for CaptureSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CaptureSource".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": r"^.+\.(host|port|scheme|url|password|shadow|status|error|message)$",
            "description": "CLIENT.FIELD, e.g. anna.port"
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// 1..=10000.
    pub times: u32,
    /// The loop variable's name (default `i`), 1..=times.
    #[serde(default = "d_loop_var")]
    pub var: String,
    pub steps: Vec<StepNode>,
}
