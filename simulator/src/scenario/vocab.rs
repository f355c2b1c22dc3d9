//! The closed vocabularies a scenario names: backends, certificate setups,
//! error codes, audit events... Each is an enum, so a typo is an error that
//! lists the valid words, and the JSON schema offers them for completion.
//!
//! Error codes, audit events and end reasons mirror shadowd's own types;
//! the `From` conversions below are exhaustive matches in both directions,
//! so a word added to shadowd and not here (or the reverse) fails to compile.

use super::values::enum_scalar;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use shadowd::audit::EventKind as DEvent;
use shadowd::broker::{EndReason as DEnd, ErrorCode as DError};

/// How the daemon serves a shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The in-process WebSocket gateway and RFB server.
    #[default]
    Native,
    /// `websockify … -- x11vnc -viewonly …`, as the seed's troubleshooting runs it.
    External,
}

/// What the harness puts in the daemon's SSL directory (`--ssl-dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsSetup {
    /// No certificate or key at all.
    #[default]
    Off,
    /// `shadowingcert.pem` + `shadowingkey.key` for the host's FQDN, with SAN, SHA-256, key 0600.
    Valid,
    /// Valid except that notAfter is in the past.
    Expired,
    /// Valid except that notBefore is in the future.
    NotYetValid,
    /// CN is the FQDN but there is no subjectAltName (Chrome's NET::ERR_CERT_COMMON_NAME_INVALID).
    NoSan,
    /// Issued for another host name.
    WrongName,
    /// Issued for `*.domain` of the host's FQDN (the seed allows this).
    Wildcard,
    /// The key file does not belong to the certificate.
    KeyMismatch,
    /// Signed with SHA-1 (the seed: SHA-256 is the minimum).
    WeakSignature,
    /// The certificate without its key file.
    MissingKey,
    /// The right files under the wrong names (not `shadowingcert.*` / `shadowingkey.*`).
    Misnamed,
    /// Two `shadowingcert.*` files: which one is meant is ambiguous.
    TwoCerts,
    /// The key file is group/world readable.
    LooseKeyPermissions,
}

/// What is drawn on a session's display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// 32x32 cells in two colours derived from `seed`.
    #[default]
    Checkerboard,
    /// Red and green ramps: every row and column differs.
    Gradient,
    /// Random 16x16 blocks from `seed`: the hardest to fake.
    Noise,
    /// One colour, `color`.
    Solid,
}

/// A button on the consent dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Yes,
    No,
}

/// A key pressed on the consent dialog (X keysym names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConsentKey {
    /// Accepts.
    #[serde(rename = "y")]
    Y,
    /// Accepts.
    Return,
    /// Denies.
    #[serde(rename = "n")]
    N,
    /// Denies.
    Escape,
}

impl ConsentKey {
    /// The answer this key gives, per the dialog's contract.
    pub fn answer(self) -> Answer {
        match self {
            ConsentKey::Y | ConsentKey::Return => Answer::Yes,
            ConsentKey::N | ConsentKey::Escape => Answer::No,
        }
    }
}

/// `ws` or `wss`, as a grant's `scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Ws,
    Wss,
}

/// Which address a client dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Address {
    /// The host name the grant names (the Director connects by FQDN).
    #[default]
    Fqdn,
    /// 127.0.0.1.
    Ipv4,
    /// `[::1]`.
    Ipv6,
}

/// How connecting a viewer is expected to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectError {
    /// Nothing listens on the port.
    Refused,
    /// The TLS handshake fails (untrusted, expired, wrong name, …).
    Tls,
    /// HTTP answers but refuses the WebSocket upgrade (e.g. a foreign Origin).
    UpgradeRejected,
    /// RFB VNC authentication fails (wrong or reused password).
    AuthFailed,
    /// The connection is closed during the handshake.
    Closed,
    /// No answer within the step's `within`.
    Timeout,
}

/// What a raw (non-viewer) connection must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawExpect {
    /// The peer closes the connection without sending anything useful.
    Closed,
    /// The peer answers with an HTTP 4xx status.
    HttpError,
    /// The port speaks only WebSocket: no raw `RFB 003.008` banner, ever.
    WsOnly,
    /// Nothing listens there (e.g. on the other address family).
    Refused,
}

/// What a viewer's framebuffer is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameRef {
    /// A screenshot of the session's display taken now.
    #[default]
    Display,
    /// The session's declared `draw` pattern, rendered without X.
    Pattern,
}

/// A process a `kill` step can end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// The session's x11vnc (external backend).
    X11vnc,
    /// The session's websockify (external backend).
    Websockify,
    /// The session's X server (Xvfb).
    Xserver,
    /// The daemon itself.
    Shadowd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Term,
    #[default]
    Kill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

/// How `expect_events` compares the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventMatch {
    /// The (filtered) trace is exactly these events.
    #[default]
    Exact,
    /// These events occur in this order, others may come between.
    Ordered,
}

/// A registry value the daemon reads (`shadowd reg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum RegName {
    EnableSessionShadowing,
    #[serde(rename = "ShadowingUseSSL")]
    ShadowingUseSsl,
    ShadowingConsentTimeout,
}

impl RegName {
    pub fn as_str(self) -> &'static str {
        match self {
            RegName::EnableSessionShadowing => shadowd::registry::ENABLE_SESSION_SHADOWING,
            RegName::ShadowingUseSsl => shadowd::registry::SHADOWING_USE_SSL,
            RegName::ShadowingConsentTimeout => shadowd::registry::SHADOWING_CONSENT_TIMEOUT,
        }
    }
}

/// A stable control-API error code (shadowd's `ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ShadowingDisabled,
    SessionNotFound,
    ConsentDenied,
    ConsentTimeout,
    ConsentPending,
    NoFreePort,
    TlsMisconfigured,
    DisplayUnreachable,
    Superseded,
    BackendFailed,
    NoActiveShadow,
    BadRequest,
    NotFound,
    PayloadTooLarge,
    RegistryInvalid,
    Internal,
}

/// An audit event kind (shadowd's `audit::EventKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An admin asked to shadow a session.
    Requested,
    /// Refused before the user was asked.
    Rejected,
    /// The consent dialog is on the user's screen.
    Prompted,
    Accepted,
    Denied,
    TimedOut,
    /// The admin's viewer connected and authenticated.
    Connected,
    /// A shadow was replaced by another admin's.
    TakenOver,
    /// A shadow ended; its port is back in the pool.
    Ended,
}

/// Why a shadow ended (shadowd's `EndReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    AdminDisconnected,
    Deleted,
    TakenOver,
    SessionEnded,
    NeverConnected,
    BackendExited,
    BackendFailed,
    StoppedByUser,
    Shutdown,
}

macro_rules! mirror {
    ($ours:ident, $theirs:ident, [$($v:ident),* $(,)?]) => {
        impl From<$ours> for $theirs {
            fn from(v: $ours) -> Self {
                match v { $($ours::$v => $theirs::$v),* }
            }
        }
        impl From<$theirs> for $ours {
            fn from(v: $theirs) -> Self {
                match v { $($theirs::$v => $ours::$v),* }
            }
        }
    };
}

mirror!(
    ErrorCode,
    DError,
    [
        ShadowingDisabled,
        SessionNotFound,
        ConsentDenied,
        ConsentTimeout,
        ConsentPending,
        NoFreePort,
        TlsMisconfigured,
        DisplayUnreachable,
        Superseded,
        BackendFailed,
        NoActiveShadow,
        BadRequest,
        NotFound,
        PayloadTooLarge,
        RegistryInvalid,
        Internal,
    ]
);
mirror!(EventKind, DEvent, [Requested, Rejected, Prompted, Accepted, Denied, TimedOut, Connected, TakenOver, Ended]);
mirror!(
    EndReason,
    DEnd,
    [
        AdminDisconnected,
        Deleted,
        TakenOver,
        SessionEnded,
        NeverConnected,
        BackendExited,
        BackendFailed,
        StoppedByUser,
        Shutdown,
    ]
);

enum_scalar!(Backend, TlsSetup, PatternKind);
