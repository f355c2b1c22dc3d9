//! `shadowsim bench --quick --many 3` end to end: both daemons, real Xvfb,
//! x11vnc and websockify. Timings are not asserted (a shared CI machine is
//! too noisy), but every figure must have been measured on both backends:
//! a figure whose setup or measurement failed has no number and fails here.

use std::process::Command;

/// Every headline figure's JSON key: each must have both values and a ratio.
const HEADLINES: [&str; 10] = [
    "first_frame_ms",
    "animation_updates_per_s",
    "animation_kb_per_update",
    "terminal_updates_per_s",
    "terminal_kb_per_update",
    "idle_cpu_s_per_min",
    "rss_mb_per_shadow",
    "gateway_up_mb_per_s",
    "gateway_down_mb_per_s",
    "many_keeping_up",
];

#[test]
fn quick_bench_measures_every_figure_on_both_backends() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_shadowsim"))
        .args(["bench", "--quick", "--many", "3", "--out"])
        .arg(out.path())
        .output()
        .expect("running shadowsim bench");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "shadowsim bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().expect("rows");
    let number = |v: &serde_json::Value| v.as_f64().filter(|x| x.is_finite());
    for key in HEADLINES {
        let row = rows.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("no row {key}\n{stdout}"));
        let (n, e) = (number(&row["native"]), number(&row["external"]));
        assert!(n.is_some() && e.is_some(), "{key}: native {n:?}, external {e:?}; note: {}\n{stdout}", row["note"]);
        assert!(row["target"].is_object(), "{key} has no target");
        let label = row["label"].as_str().unwrap().trim();
        let line = stdout.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("{label} not in\n{stdout}"));
        // | label (unit) | native | external | ratio | target | met |
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        for (i, what) in [(2, "native"), (3, "external"), (4, "ratio")] {
            assert!(cells[i].parse::<f64>().is_ok(), "{what} of {label:?} is {:?} in {line:?}", cells[i]);
        }
        assert!(matches!(cells[6], "yes" | "no"), "target verdict of {label:?} is {:?}", cells[6]);
    }
    // Every informational row measured too: an error would leave a gap.
    for row in rows {
        assert!(number(&row["native"]).is_some() && number(&row["external"]).is_some(), "row missing a value: {row}");
    }
    let md = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(md.contains("| figure | native | external | ratio native/external |"), "{md}");
    let png = std::fs::read(out.path().join("chart.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}
