//! Workloads: threads that keep changing a display at a fixed rate, each on
//! its own X connection, the way an application would draw. Every frame
//! ends with a round trip, so a slow X server slows the drawing instead of
//! queueing requests without bound.

use anyhow::{anyhow, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// A running workload; [`Drawer::stop`] ends it.
pub struct Drawer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<u64>>>,
    started: Instant,
}

/// What a workload did.
#[derive(Debug, Clone, Copy)]
pub struct Drawn {
    pub frames: u64,
    pub elapsed: Duration,
}

impl Drawn {
    pub fn rate(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl Drawer {
    /// Runs `setup` once (errors are returned here), then `frame` at `hz`
    /// until stopped.
    fn spawn<S, F>(hz: f64, setup: S) -> Result<Drawer>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(u64) -> Result<()> + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || -> Result<u64> {
            let mut frame = match setup() {
                Ok(f) => {
                    let _ = ready_tx.send(Ok(()));
                    f
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return Err(e);
                }
            };
            let period = Duration::from_secs_f64(1.0 / hz);
            let mut next = Instant::now();
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                frame(n)?;
                n += 1;
                next += period;
                let now = Instant::now();
                match next.checked_duration_since(now) {
                    Some(wait) => std::thread::sleep(wait),
                    // Behind (a busy machine): skip ahead rather than burst.
                    None => next = now,
                }
            }
            Ok(n)
        });
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Drawer { stop, handle: Some(handle), started: Instant::now() }),
            Ok(Err(e)) => Err(anyhow!("workload setup failed: {e}")),
            Err(_) => Err(anyhow!("workload thread died during setup")),
        }
    }

    pub fn stop(mut self) -> Result<Drawn> {
        self.stop.store(true, Ordering::Relaxed);
        let frames = self.handle.take().expect("joined once").join().map_err(|_| anyhow!("workload panicked"))??;
        Ok(Drawn { frames, elapsed: self.started.elapsed() })
    }

    /// Full-screen animation: a smooth, textured picture (photo-like, so
    /// Tight's JPEG path applies) scrolling sideways by `step` pixels per
    /// frame, copied from an off-screen pixmap. The pixels travel to the X
    /// server once; each frame is a CopyArea, so the drawing costs little
    /// CPU and the servers under test get the machine.
    pub fn animation(display: &str, hz: f64, step: u16) -> Result<Drawer> {
        let display = display.to_string();
        Drawer::spawn(hz, move || {
            let (conn, root, w, h, depth) = open(&display)?;
            let pixmap = conn.generate_id()?;
            conn.create_pixmap(depth, pixmap, root, w * 2, h)?;
            let gc = conn.generate_id()?;
            conn.create_gc(gc, pixmap, &xproto::CreateGCAux::new().graphics_exposures(0))?;
            crate::drivers::xvfb::upload(&conn, pixmap, gc, depth, w * 2, h, |x, y| photo_like(x % w, y, w, h))?;
            conn.sync()?;
            Ok(move |n: u64| -> Result<()> {
                let x = ((n * step as u64) % w as u64) as i16;
                conn.copy_area(pixmap, root, gc, x, 0, 0, 0, w, h)?;
                conn.sync()?;
                Ok(())
            })
        })
    }

    /// A scrolling terminal on the whole screen: each frame scrolls the
    /// root up one text line (CopyArea) and writes a new line at the bottom,
    /// as a terminal emulator does for `tail -f` of a busy log.
    pub fn terminal(display: &str, lines_per_sec: f64) -> Result<Drawer> {
        let display = display.to_string();
        Drawer::spawn(lines_per_sec, move || {
            let (conn, root, w, h, _) = open(&display)?;
            let font = conn.generate_id()?;
            conn.open_font(font, b"fixed")?.check().context("opening the core font \"fixed\" (xfonts-base)")?;
            let info = conn.query_font(font)?.reply()?;
            let (ascent, descent) = (info.font_ascent, info.font_descent);
            let line = (ascent + descent) as u16;
            let text_gc = conn.generate_id()?;
            let aux = xproto::CreateGCAux::new().foreground(0xc0c0c0).background(0x101010).font(font);
            conn.create_gc(text_gc, root, &aux.graphics_exposures(0))?;
            let clear_gc = conn.generate_id()?;
            conn.create_gc(clear_gc, root, &xproto::CreateGCAux::new().foreground(0x101010).graphics_exposures(0))?;
            conn.poly_fill_rectangle(root, clear_gc, &[xproto::Rectangle { x: 0, y: 0, width: w, height: h }])?;
            let write = move |n: u64| -> Result<()> {
                conn.copy_area(root, root, text_gc, 0, line as i16, 0, 0, w, h - line)?;
                let y = (h - line) as i16;
                conn.poly_fill_rectangle(root, clear_gc, &[xproto::Rectangle { x: 0, y, width: w, height: line }])?;
                conn.image_text8(root, text_gc, 4, y + ascent, log_line(n).as_bytes())?;
                conn.sync()?;
                Ok(())
            };
            // Fill the screen first: a terminal that scrolls is full.
            for n in 0..(h / line) as u64 {
                write(n)?;
            }
            let first = (h / line) as u64;
            Ok(move |n: u64| write(first + n))
        })
    }

    /// Changes every display of `displays` `hz` times a second: a block of
    /// new colour moving across each screen (for many small sessions).
    pub fn flicker(displays: &[String], hz: f64) -> Result<Drawer> {
        let displays = displays.to_vec();
        Drawer::spawn(hz, move || {
            let mut screens = Vec::new();
            for d in &displays {
                let (conn, root, w, h, _) = open(d)?;
                let gc = conn.generate_id()?;
                conn.create_gc(gc, root, &xproto::CreateGCAux::new().graphics_exposures(0))?;
                screens.push((conn, root, gc, w, h));
            }
            Ok(move |n: u64| -> Result<()> {
                for (i, (conn, root, gc, w, h)) in screens.iter().enumerate() {
                    let colour = (splitmix(n * 131 + i as u64) & 0xffffff) as u32;
                    conn.change_gc(*gc, &xproto::ChangeGCAux::new().foreground(colour))?;
                    let bw = (*w / 4).max(1);
                    let x = ((n as u16).wrapping_mul(bw / 2) % *w) as i16;
                    conn.poly_fill_rectangle(*root, *gc, &[xproto::Rectangle { x, y: 0, width: bw, height: *h }])?;
                    conn.flush()?;
                }
                // One round trip per display per frame keeps all in step.
                for (conn, ..) in &screens {
                    conn.sync()?;
                }
                Ok(())
            })
        })
    }
}

fn open(display: &str) -> Result<(RustConnection, u32, u16, u16, u8)> {
    let (conn, screen_num) =
        RustConnection::connect(Some(display)).with_context(|| format!("cannot connect to X display {display}"))?;
    let s = &conn.setup().roots[screen_num];
    let (root, w, h, depth) = (s.root, s.width_in_pixels, s.height_in_pixels, s.root_depth);
    Ok((conn, root, w, h, depth))
}

/// Smooth colour waves (periodic in x with period `w`, so the scroll wraps
/// seamlessly) with a fine grain on top: many colours, no flat areas, like
/// video or a photo being panned.
fn photo_like(x: u16, y: u16, w: u16, h: u16) -> u32 {
    use std::f32::consts::TAU;
    let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
    let wave = |kx: f32, ky: f32, phase: f32| (TAU * (kx * fx + ky * fy) + phase).sin() * 0.5 + 0.5;
    let grain = (splitmix(((y as u64 / 2) << 32) | (x as u64 / 2)) & 0x1f) as f32 - 16.0;
    let c = |v: f32| (v * 200.0 + 28.0 + grain).clamp(0.0, 255.0) as u32;
    let r = c(wave(2.0, 1.0, 0.0) * 0.7 + wave(5.0, -3.0, 1.0) * 0.3);
    let g = c(wave(3.0, -2.0, 2.0) * 0.6 + wave(1.0, 4.0, 0.5) * 0.4);
    let b = c(wave(1.0, 2.0, 4.0) * 0.5 + wave(7.0, 1.0, 3.0) * 0.5);
    (r << 16) | (g << 8) | b
}

/// A plausible log line, different for every `n`, 60 to 200 characters.
fn log_line(n: u64) -> String {
    const WORDS: [&str; 16] = [
        "request",
        "GET",
        "/api/v1/items",
        "200",
        "cache",
        "miss",
        "worker",
        "queue",
        "flush",
        "commit",
        "tx",
        "ok",
        "latency",
        "upstream",
        "retry",
        "session",
    ];
    let r = splitmix(n);
    let mut s = format!(
        "{:>7}.{:06} host{} svc[{}]: {} {} in {} ms",
        n / 30,
        (r >> 8) % 1_000_000,
        r % 7,
        1000 + r % 9000,
        WORDS[(r >> 20) as usize % 16],
        WORDS[(r >> 24) as usize % 16],
        (r >> 28) % 900
    );
    let words = 4 + (r >> 40) % 24;
    for i in 0..words {
        s.push(' ');
        s.push_str(WORDS[(splitmix(r ^ i) >> 7) as usize % 16]);
    }
    s.truncate(200);
    s
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_vary_and_fit_image_text8() {
        let lines: Vec<String> = (0..50).map(log_line).collect();
        assert!(lines.iter().all(|l| l.len() <= 255 && l.len() >= 40));
        let distinct: std::collections::BTreeSet<_> = lines.iter().collect();
        assert_eq!(distinct.len(), lines.len());
    }

    #[test]
    fn the_animation_picture_wraps_seamlessly_and_has_many_colours() {
        let (w, h) = (320, 200);
        // x = w maps back to 0 in the pixmap: the waves' period is w.
        let colours: std::collections::BTreeSet<u32> = (0..w).map(|x| photo_like(x, 50, w, h)).collect();
        assert!(colours.len() > 100, "{} colours", colours.len());
    }
}
