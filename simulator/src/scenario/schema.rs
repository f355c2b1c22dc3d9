//! The JSON Schema of scenario files (`shadowsim schema`), for editors: with
//! yaml-language-server, a first line
//! `# yaml-language-server: $schema=../target/shadowsim.schema.json`
//! gives completion, hover docs (from the doc comments here) and squiggles
//! for unknown keys. Draft-07, which every YAML editor plugin supports.
//!
//! The schema describes the shape; the loader's semantic checks (references,
//! exclusive choices) go further and remain the authority.

use super::duration::Duration;
use super::model::{Scenario, When};
use super::steps::{ExpectEventsStep, Step, StepNode, STEP_ATTRIBUTES};
use super::vocab::EventKind;
use schemars::generate::SchemaSettings;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;
use std::borrow::Cow;

/// The scenario file's JSON Schema, pretty-printed.
pub fn json_schema() -> String {
    let generator = SchemaSettings::draft07().for_deserialize().into_generator();
    let schema = generator.into_root_schema_for::<Scenario>();
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"$comment\": \"schema error: {e}\"}}"))
}

/// A step: one of the kinds' single-key maps, each also allowing the step
/// attributes beside the kind.
impl JsonSchema for StepNode {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut attrs = serde_json::Map::new();
        attrs.insert(
            "name".into(),
            json_schema!({"type": "string", "description": "A label for the step in reports."}).to_value(),
        );
        let mut duration = |desc: &str| {
            let r = generator.subschema_for::<Duration>();
            json_schema!({"allOf": [r], "description": desc}).to_value()
        };
        attrs.insert("timeout".into(), duration("The step's hard time limit (any kind)."));
        attrs.insert("after".into(), duration("Wait this long before the step starts."));
        attrs.insert("when".into(), generator.subschema_for::<When>().to_value());
        debug_assert_eq!(attrs.len(), STEP_ATTRIBUTES.len());

        let mut kinds = <Step as JsonSchema>::json_schema(generator);
        if let Some(Value::Array(alternatives)) = kinds.get_mut("oneOf") {
            for alt in alternatives {
                if let Some(Value::Object(props)) = alt.get_mut("properties") {
                    for (k, v) in &attrs {
                        props.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        kinds.insert(
            "description".into(),
            "A step: one kind key (request, consent, expect, ...) with its parameters, plus optional name, timeout, after, when beside it.".into(),
        );
        kinds
    }
}

/// `expect_events`: a bare list of events, or the full map.
pub(crate) fn expect_events_schema(generator: &mut SchemaGenerator) -> Schema {
    let event = generator.subschema_for::<EventKind>();
    let full = generator.subschema_for::<ExpectEventsStep>();
    json_schema!({
        "anyOf": [{"type": "array", "items": event}, full],
        "description": "The audit trace, in order: a list of events, or {session, events, match, within}."
    })
}
