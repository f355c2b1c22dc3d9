//! The JSON result: the model as-is, pretty-printed, for tools and for
//! re-rendering the other reports later (it holds everything they need,
//! including full daemon logs and screenshots as base64).

use super::model::RunResult;

/// The run as pretty JSON; `serde_json::from_str::<RunResult>` reads it back.
pub fn json(run: &RunResult) -> String {
    serde_json::to_string_pretty(run).expect("RunResult has string keys only and always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::report::model::Status;

    #[test]
    fn round_trips_through_serde() {
        let run = fixture::run();
        let text = json(&run);
        assert!(text.contains("\n  \"cases\": ["), "not pretty: {}", &text[..200]);
        let back: RunResult = serde_json::from_str(&text).unwrap();
        // Compare as JSON values: the model has no PartialEq, and this checks every field.
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&run).unwrap());
        assert_eq!(back.cases[1].status, Status::Failed);
        assert_eq!(back.cases[1].steps[1].screenshots[0].png, fixture::png());
        assert_eq!(back.cases[1].events.len(), 3);
    }

    #[test]
    fn screenshots_are_base64_strings() {
        use base64::Engine;
        let text = json(&fixture::run());
        let b64 = base64::engine::general_purpose::STANDARD.encode(fixture::png());
        assert!(text.contains(&format!("\"png\": \"{b64}\"")));
    }
}
