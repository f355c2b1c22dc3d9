//! The report as a PNG: for every figure with a target, native and
//! external side by side as bars scaled to the larger of the two, with the
//! values, the ratio and whether the target is met. Text needs a font
//! file: DejaVu or Liberation from Debian's font packages, through
//! plotters' `ab_glyph` backend (no fontconfig). Without one the bars are
//! drawn unlabelled and the table in the Markdown says what they are.

use super::results::{fmt_value, Report, Row};
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 1400;
const ROW: u32 = 78;
const TOP: u32 = 70;
const LABEL_W: i32 = 470;
const BAR_W: i32 = 720;

const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
];

/// Registers the first font found as "sans-serif"; whether text can be drawn.
fn load_font() -> bool {
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOADED.get_or_init(|| {
        FONTS.iter().any(|path| match std::fs::read(path) {
            // plotters keeps the font for the whole process.
            Ok(bytes) => {
                plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into())).is_ok()
            }
            Err(_) => false,
        })
    })
}

pub fn write(report: &Report, path: &Path) -> Result<()> {
    let png = render(report)?;
    std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
}

/// The chart as PNG bytes.
pub fn render(report: &Report) -> Result<Vec<u8>> {
    let rows: Vec<&Row> = report.rows.iter().filter(|r| r.target.is_some()).collect();
    let height = TOP + ROW * rows.len().max(1) as u32 + 40;
    let mut rgb = vec![255u8; (WIDTH * height * 3) as usize];
    let text = load_font();
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (WIDTH, height)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the chart: {e:?}");
        area.fill(&WHITE).map_err(e)?;
        let native = RGBColor(38, 110, 200);
        let external = RGBColor(150, 150, 150);
        if text {
            let m = &report.machine;
            let title = format!(
                "shadowd native vs seed pipeline (websockify + x11vnc) — {} cores, {}, {}",
                m.cores,
                m.cpu_model,
                m.date.get(..10).unwrap_or(&m.date)
            );
            area.draw(&Text::new(title, (20, 18), ("sans-serif", 22).into_font())).map_err(e)?;
            area.draw(&Rectangle::new([(20, 48), (36, 60)], native.filled())).map_err(e)?;
            area.draw(&Text::new("native", (42, 46), ("sans-serif", 15).into_font())).map_err(e)?;
            area.draw(&Rectangle::new([(120, 48), (136, 60)], external.filled())).map_err(e)?;
            area.draw(&Text::new("external (seed)", (142, 46), ("sans-serif", 15).into_font())).map_err(e)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let y = (TOP + ROW * i as u32) as i32;
            let max = r.native.unwrap_or(0.0).max(r.external.unwrap_or(0.0));
            let len = |v: Option<f64>| match v {
                Some(v) if max > 0.0 => ((v / max) * BAR_W as f64).round().max(1.0) as i32,
                _ => 0,
            };
            let x0 = LABEL_W;
            for (k, (v, colour)) in [(r.native, native), (r.external, external)].into_iter().enumerate() {
                let top = y + 6 + k as i32 * 26;
                area.draw(&Rectangle::new([(x0, top), (x0 + len(v), top + 22)], colour.filled())).map_err(e)?;
                if text {
                    let label = format!("{} {}", fmt_value(v), r.unit);
                    let pos = (x0 + len(v) + 6, top + 3);
                    area.draw(&Text::new(label, pos, ("sans-serif", 15).into_font())).map_err(e)?;
                }
            }
            if text {
                area.draw(&Text::new(r.label.trim().to_string(), (20, y + 8), ("sans-serif", 17).into_font()))
                    .map_err(e)?;
                let met = match r.target.and_then(|t| t.met(r)) {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => "n/a",
                };
                let line = format!(
                    "ratio {}  (target {}: {met})",
                    fmt_value(r.ratio()),
                    r.target.map(|t| t.describe()).unwrap_or_default()
                );
                let colour = match met {
                    "met" => RGBColor(20, 130, 40),
                    "missed" => RGBColor(190, 30, 30),
                    _ => RGBColor(90, 90, 90),
                };
                area.draw(&Text::new(line, (20, y + 34), ("sans-serif", 15).into_font().color(&colour))).map_err(e)?;
            }
            area.draw(&PathElement::new(
                vec![(20, y + ROW as i32 - 8), (WIDTH as i32 - 20, y + ROW as i32 - 8)],
                RGBColor(225, 225, 225),
            ))
            .map_err(e)?;
        }
        area.present().map_err(e)?;
    }
    encode_png(&rgb, WIDTH, height)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::results::{Machine, Target};
    use super::*;

    #[test]
    fn a_report_renders_as_png_with_or_without_a_font() {
        let rows = vec![
            Row::new("a", "a", "first frame", "ms").samples(vec![40.0], vec![400.0]).target(Target::RatioAtMost(0.2)),
            Row::new("b", "b", "missing", "ms").samples(vec![], vec![1.0]).target(Target::RatioAtLeast(2.0)),
            Row::new("c", "c", "info only", "x").samples(vec![1.0], vec![1.0]),
        ];
        let machine =
            Machine { cores: 2, cpu_model: "test".into(), kernel: "k".into(), date: "2025-01-01T00:00:00Z".into() };
        let png = render(&Report { machine, quick: true, rows }).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
