//! What a run produced, and the reports made from it: a readable summary on
//! the terminal, JUnit XML for CI, a JSON result for tools, and a
//! self-contained HTML report (screenshots embedded) for people.

#[cfg(test)]
mod fixture;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod summary;
mod text;
pub mod write;

pub use html::html;
pub use json::json;
pub use junit::junit_xml;
pub use model::*;
pub use summary::{case_line, summary};
pub use write::write_all;
