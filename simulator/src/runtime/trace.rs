//! A case's audit trail in a form that does not change from run to run:
//! sessions by their scenario names, ports and shadow ids numbered by first
//! appearance within their session, no times, and the sessions' trails one
//! after the other (events of different sessions may interleave differently
//! from run to run; within a session their order is the contract). This is
//! what the insta snapshots compare.

use super::world::World;
use shadowd::audit::Event;
use std::collections::BTreeMap;

pub fn normalize(events: &[Event], w: &World) -> Vec<String> {
    let names: BTreeMap<&str, &str> = w.sessions.iter().map(|(name, s)| (s.id.as_str(), name.as_str())).collect();
    let mut ports: BTreeMap<&str, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut shadows: BTreeMap<&str, BTreeMap<u64, usize>> = BTreeMap::new();
    let mut lines: Vec<(&str, String)> = events
        .iter()
        .map(|e| {
            let r = &e.record;
            let session = names.get(r.session.as_str()).copied().unwrap_or("<other>");
            let (ports, shadows) = (ports.entry(session).or_default(), shadows.entry(session).or_default());
            let mut line = format!("{} {} {}", json_name(&r.event), session, r.admin);
            if let Some(s) = r.shadow {
                let n = shadows.len() + 1;
                line.push_str(&format!(" shadow=s{}", shadows.entry(s).or_insert(n)));
            }
            if let Some(p) = r.port {
                let n = ports.len() + 1;
                line.push_str(&format!(" port=p{}", ports.entry(p).or_insert(n)));
            }
            if let Some(by) = &r.by {
                line.push_str(&format!(" by={by}"));
            }
            if let Some(reason) = &r.reason {
                line.push_str(&format!(" reason={}", json_name(reason)));
            }
            if let Some(code) = &r.error {
                line.push_str(&format!(" error={code}"));
            }
            (session, line)
        })
        .collect();
    lines.sort_by_key(|(session, _)| *session); // stable: keeps each session's order
    lines.into_iter().map(|(_, l)| l).collect()
}

fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
