//! The real things a scenario drives. Each driver owns its processes and
//! cleans them up on drop, so a failing test leaks no display, port or file.

pub mod browser;
pub mod certs;
pub mod consent;
pub mod console;
pub mod daemon;
pub mod director;
pub mod fault;
pub mod image;
pub mod indicator;
pub mod ports;
pub mod procs;
pub mod viewer;
pub mod xvfb;
