//! Reading a step: a map with exactly one kind key (parsed into [`Step`]
//! through serde's derive, so kind-specific errors keep their positions)
//! and any of the attribute keys beside it.

use super::duration::Duration;
use super::located::Loc;
use super::model::When;
use super::steps::*;
use super::vocab::EventMatch;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// `expect_events` takes a bare list of events or the full map.
pub(super) fn events_list_or_map<'de, D: Deserializer<'de>>(d: D) -> Result<ExpectEventsStep, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = ExpectEventsStep;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of audit events, or a map with `events`")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Ok(ExpectEventsStep {
                session: None,
                events: Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))?,
                mode: EventMatch::Exact,
                within: DEFAULT_SHORT_WITHIN,
            })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            ExpectEventsStep::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V)
}

impl<'de> Deserialize<'de> for StepNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<StepBody>::deserialize(d)?;
        let StepBody { name, timeout, after, when, step } = spanned.value;
        Ok(StepNode { loc: Loc::from_saphyr(spanned.referenced), name, timeout, after, when, step })
    }
}

struct StepBody {
    name: Option<String>,
    timeout: Option<Duration>,
    after: Option<Duration>,
    when: Option<When>,
    step: Step,
}

impl<'de> Deserialize<'de> for StepBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a step: a map with one step kind (e.g. `request: {...}`) and optionally name, timeout, after, when",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepBody, A::Error> {
        let (mut name, mut timeout, mut after, mut when) = (None, None, None, None);
        let mut step: Option<(String, Step)> = None;
        fn once<T, E: de::Error>(slot: &mut Option<T>, key: &str, v: T) -> Result<(), E> {
            match slot.replace(v) {
                Some(_) => Err(E::custom(format!("duplicate step attribute `{key}`"))),
                None => Ok(()),
            }
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => once(&mut name, &key, map.next_value()?)?,
                "timeout" => once(&mut timeout, &key, map.next_value()?)?,
                "after" => once(&mut after, &key, map.next_value()?)?,
                "when" => once(&mut when, &key, map.next_value()?)?,
                kind if STEP_KINDS.contains(&kind) => {
                    if let Some((first, _)) = &step {
                        return Err(de::Error::custom(format!(
                            "a step has exactly one kind, but this one has `{first}` and `{kind}`; \
                             start another list item (`- {kind}: ...`)"
                        )));
                    }
                    let parsed = Step::deserialize(de::value::MapAccessDeserializer::new(OneEntry {
                        key: Some(key.clone()),
                        map: &mut map,
                    }))?;
                    step = Some((key, parsed));
                }
                other => return Err(de::Error::custom(unknown_kind_message(other))),
            }
        }
        match step {
            Some((_, step)) => Ok(StepBody { name, timeout, after, when, step }),
            None => Err(de::Error::custom(format!("this step has no kind: add one of {}", STEP_KINDS.join(", ")))),
        }
    }
}

fn unknown_kind_message(key: &str) -> String {
    let mut msg = format!(
        "unknown variant `{key}`, expected one of {} (step kinds), or a step attribute: {}",
        STEP_KINDS.join(", "),
        STEP_ATTRIBUTES.join(", ")
    );
    let all = STEP_KINDS.iter().chain(STEP_ATTRIBUTES);
    if let Some(best) = super::validate::closest(key, all.copied()) {
        msg.push_str(&format!("; did you mean `{best}`?"));
    }
    msg
}

/// A one-entry map view of the step map: the kind key already read, then
/// its value read from the real map (so positions in errors stay right).
struct OneEntry<'m, A> {
    key: Option<String>,
    map: &'m mut A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for OneEntry<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.key.take() {
            Some(k) => seed.deserialize(k.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}
