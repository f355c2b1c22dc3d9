//! shadowd — a reference Linux desktop session shadowing daemon.
//!
//! See ARCHITECTURE.md at the repository root for the code map and its
//! invariants. In short: `broker` decides (pure, time passed in), everything
//! else does IO on its behalf.

pub mod api;
pub mod audit;
pub mod backend;
pub mod broker;
pub mod capture;
pub mod cli;
pub mod consent;
pub mod daemon;
pub mod doctor;
pub mod gateway;
pub mod indicator;
pub mod ports;
pub mod registry;
pub mod rfb;
pub mod server;
pub mod sessions;
pub mod tls;
