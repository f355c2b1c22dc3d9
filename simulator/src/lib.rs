//! shadowsim — the scenario harness for shadowd, and the drivers it uses:
//! real Xvfb sessions, the consent clicker, a scripted Director (HTTP API +
//! WebSocket + RFB viewer), certificate factory, and the daemon itself.

pub mod bench;
pub mod drivers;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod testbed;
