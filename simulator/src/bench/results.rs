//! What a bench run found: one row per figure, both backends' values, the
//! ratio native/external and the target for it. Printed as a
//! table, written as JSON, drawn as a chart.

use serde::Serialize;

/// The target for a row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// native/external must be at most this.
    RatioAtMost(f64),
    /// native/external must be at least this.
    RatioAtLeast(f64),
    /// The native value itself must be at least this (a count).
    NativeAtLeast(f64),
}

impl Target {
    pub fn describe(&self) -> String {
        match *self {
            Target::RatioAtMost(r) => format!("ratio <= {}", trim(r)),
            Target::RatioAtLeast(r) => format!("ratio >= {}", trim(r)),
            Target::NativeAtLeast(n) => format!("native >= {}", trim(n)),
        }
    }

    /// Whether the row meets it; `None` when a value is missing.
    pub fn met(&self, row: &Row) -> Option<bool> {
        match *self {
            Target::RatioAtMost(r) => row.ratio().map(|x| x <= r),
            Target::RatioAtLeast(r) => row.ratio().map(|x| x >= r),
            Target::NativeAtLeast(n) => row.native.map(|x| x >= n),
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Which figure (`--only` name) produced it.
    pub figure: &'static str,
    /// A stable key for JSON consumers, e.g. `first_frame_ms`.
    pub key: &'static str,
    pub label: String,
    pub unit: &'static str,
    /// Medians over repetitions.
    pub native: Option<f64>,
    pub external: Option<f64>,
    pub target: Option<Target>,
    /// Every repetition's value, for judging the noise.
    pub samples_native: Vec<f64>,
    pub samples_external: Vec<f64>,
    /// Context: workload rate, errors.
    pub note: String,
}

impl Row {
    pub fn new(figure: &'static str, key: &'static str, label: impl Into<String>, unit: &'static str) -> Row {
        Row {
            figure,
            key,
            label: label.into(),
            unit,
            native: None,
            external: None,
            target: None,
            samples_native: vec![],
            samples_external: vec![],
            note: String::new(),
        }
    }

    pub fn target(mut self, t: Target) -> Row {
        self.target = Some(t);
        self
    }

    /// Sets both sides from their samples (median each).
    pub fn samples(mut self, native: Vec<f64>, external: Vec<f64>) -> Row {
        self.native = finite(super::stage::median(&native));
        self.external = finite(super::stage::median(&external));
        self.samples_native = native;
        self.samples_external = external;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        match (self.native, self.external) {
            (Some(n), Some(e)) if e != 0.0 => Some(n / e),
            (Some(0.0), Some(_)) => Some(1.0),
            _ => None,
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Where and when the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub date: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let date =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        Machine { cores, cpu_model, kernel, date }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub rows: Vec<Row>,
}

/// A number with about three significant digits.
pub fn fmt_value(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 0.1 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// The table as Markdown (it reads as plain text too).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| figure | native | external | ratio native/external | target | met |\n");
    out.push_str("|---|---:|---:|---:|---|---|\n");
    for r in rows {
        let met = match r.target.and_then(|t| t.met(r)) {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        out.push_str(&format!(
            "| {} ({}) | {} | {} | {} | {} | {} |\n",
            r.label,
            r.unit,
            fmt_value(r.native),
            fmt_value(r.external),
            fmt_value(r.ratio()),
            r.target.map(|t| t.describe()).unwrap_or_default(),
            met
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_targets_and_table_cells() {
        let r = Row::new("x", "x_ms", "first frame", "ms").samples(vec![50.0, 70.0, 60.0], vec![300.0, 320.0]);
        assert_eq!(r.native, Some(60.0));
        assert_eq!(r.external, Some(310.0));
        let r = r.target(Target::RatioAtMost(0.2));
        assert_eq!(r.target.unwrap().met(&r), Some(true));
        let t = table(&[r]);
        assert!(t.contains("| first frame (ms) | 60.0 | 310 | 0.19 | ratio <= 0.2 | yes |"), "{t}");
        let missing = Row::new("x", "y", "y", "s").samples(vec![], vec![1.0]);
        assert_eq!(missing.ratio(), None);
        assert_eq!(Target::NativeAtLeast(99.0).describe(), "native >= 99");
    }
}
