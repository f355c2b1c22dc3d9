//! A real Xvfb session: started on a free display (Xvfb picks it and tells us
//! through `-displayfd`, so parallel tests never race for a number), with a
//! known pattern as the root window's background, screenshots, an input
//! probe, and XTEST input for positive controls.

use super::image::Image;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xproto::{self, ConnectionExt as _, EventMask, ImageFormat};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// What is drawn on the display, deterministic for a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// 32x32 cells, two colours derived from the seed.
    Checkerboard {
        seed: u64,
    },
    /// Horizontal red and vertical green ramps: every column and row differs.
    Gradient,
    /// Random-coloured 16x16 blocks: hardest to fake, catches any offset bug.
    Noise {
        seed: u64,
    },
    Solid(u32),
}

impl Pattern {
    /// The colour of pixel (x, y): the single source of truth for what the
    /// display must show, so tests can compute expectations without X.
    pub fn pixel(&self, x: u16, y: u16) -> u32 {
        match *self {
            Pattern::Checkerboard { seed } => {
                let (a, b) = (splitmix(seed) & 0xffffff, splitmix(seed ^ 0x9e37) & 0xffffff);
                if ((x / 32) + (y / 32)).is_multiple_of(2) {
                    a as u32
                } else {
                    b as u32
                }
            }
            Pattern::Gradient => ((x as u32 & 0xff) << 16) | ((y as u32 & 0xff) << 8) | 0x40,
            Pattern::Noise { seed } => {
                let cell = ((y as u64 / 16) << 32) | (x as u64 / 16);
                (splitmix(seed.wrapping_mul(31).wrapping_add(cell)) & 0xffffff) as u32
            }
            Pattern::Solid(rgb) => rgb & 0xffffff,
        }
    }

    pub fn render(&self, width: u16, height: u16) -> Image {
        let mut img = Image::new(width, height, 0);
        for y in 0..height {
            for x in 0..width {
                img.set(x, y, self.pixel(x, y));
            }
        }
        img
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// A running Xvfb. Killed and reaped on drop.
pub struct Xvfb {
    child: Option<Child>,
    display: u32,
    pub width: u16,
    pub height: u16,
}

impl Xvfb {
    /// Starts Xvfb at `width`x`height`x24 on the first free display number.
    pub fn start(width: u16, height: u16) -> Result<Self> {
        Self::start_with(width, height, &[])
    }

    /// As [`Xvfb::start`], with extra server arguments (e.g. `-auth FILE`).
    pub fn start_with(width: u16, height: u16, extra: &[&str]) -> Result<Self> {
        let (read_end, write_end) = nix::unistd::pipe().context("pipe for -displayfd")?;
        // The write end must survive exec: pipe() gives no CLOEXEC, and the
        // read end is closed in the child by the explicit close below.
        let read_raw = read_end.as_raw_fd();
        let mut cmd = Command::new("Xvfb");
        cmd.arg("-displayfd")
            .arg(write_end.as_raw_fd().to_string())
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-nolisten", "tcp", "-noreset", "+extension", "XTEST"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                libc_close(read_raw);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| anyhow!("cannot start Xvfb ({e}); install it with `apt-get install xvfb xfonts-base`"))?;
        drop(write_end);
        let display = read_display_number(read_end, Duration::from_secs(20)).map_err(|e| {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            let _ = child.wait();
            e.context(format!("Xvfb did not start: {}", err.trim()))
        })?;
        // Keep Xvfb's stderr from filling its pipe and blocking it.
        if let Some(mut s) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
            });
        }
        Ok(Xvfb { child: Some(child), display, width, height })
    }

    pub fn display_number(&self) -> u32 {
        self.display
    }

    /// `:N`, as DISPLAY wants it.
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn connect(&self) -> Result<(RustConnection, usize)> {
        RustConnection::connect(Some(&self.display()))
            .with_context(|| format!("cannot connect to X display {}", self.display()))
    }

    /// Makes `pattern` the root window's background, so it survives windows
    /// being mapped and unmapped above it (exposures repaint it).
    pub fn draw(&self, pattern: Pattern) -> Result<()> {
        let (conn, screen_num) = self.connect()?;
        let screen = &conn.setup().roots[screen_num];
        let (w, h, root, depth) = (screen.width_in_pixels, screen.height_in_pixels, screen.root, screen.root_depth);
        let pixmap = conn.generate_id()?;
        conn.create_pixmap(depth, pixmap, root, w, h)?;
        let gc = conn.generate_id()?;
        conn.create_gc(gc, pixmap, &xproto::CreateGCAux::new())?;
        upload(&conn, pixmap, gc, depth, w, h, |x, y| pattern.pixel(x, y))?;
        conn.change_window_attributes(root, &xproto::ChangeWindowAttributesAux::new().background_pixmap(pixmap))?;
        conn.clear_area(false, root, 0, 0, 0, 0)?;
        conn.free_gc(gc)?;
        conn.free_pixmap(pixmap)?;
        conn.sync()?;
        Ok(())
    }

    /// What the display shows now, read with GetImage on the root window.
    pub fn screenshot(&self) -> Result<Image> {
        let (conn, screen_num) = self.connect()?;
        screenshot_of(&conn, screen_num)
    }

    /// Sends key and pointer input through XTEST: the positive control that
    /// proves an [`InputProbe`] would notice input if any arrived.
    pub fn xtest_input(&self, x: i16, y: i16, keycode: u8) -> Result<()> {
        use x11rb::protocol::xtest::ConnectionExt as _;
        let (conn, screen_num) = self.connect()?;
        let root = conn.setup().roots[screen_num].root;
        conn.xtest_fake_input(xproto::MOTION_NOTIFY_EVENT, 0, 0, root, x, y, 0)?;
        conn.xtest_fake_input(xproto::BUTTON_PRESS_EVENT, 1, 0, root, 0, 0, 0)?;
        conn.xtest_fake_input(xproto::BUTTON_RELEASE_EVENT, 1, 0, root, 0, 0, 0)?;
        conn.xtest_fake_input(xproto::KEY_PRESS_EVENT, keycode, 0, root, 0, 0, 0)?;
        conn.xtest_fake_input(xproto::KEY_RELEASE_EVENT, keycode, 0, root, 0, 0, 0)?;
        conn.sync()?;
        Ok(())
    }

    /// Kills the X server (the user's session ends).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn screenshot_of(conn: &RustConnection, screen_num: usize) -> Result<Image> {
    let screen = &conn.setup().roots[screen_num];
    let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
    let reply = conn.get_image(ImageFormat::Z_PIXMAP, screen.root, 0, 0, w, h, !0)?.reply()?;
    if reply.data.len() < w as usize * h as usize * 4 {
        bail!("GetImage returned {} bytes for {w}x{h}: not a 32bpp display", reply.data.len());
    }
    let pixels = reply
        .data
        .chunks_exact(4)
        .take(w as usize * h as usize)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], 0]))
        .collect();
    Ok(Image { width: w, height: h, pixels })
}

fn libc_close(fd: i32) {
    // Only async-signal-safe calls belong in pre_exec.
    let _ = nix::unistd::close(fd);
}

fn read_display_number(read_end: OwnedFd, timeout: Duration) -> Result<u32> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Xvfb keeps the pipe open: read up to the newline, not to EOF.
        let mut f = std::fs::File::from(read_end);
        let mut s = Vec::new();
        let mut byte = [0u8; 1];
        let r = loop {
            match f.read(&mut byte) {
                Ok(0) => break Ok(String::from_utf8_lossy(&s).into_owned()),
                Ok(_) if byte[0] == b'\n' => break Ok(String::from_utf8_lossy(&s).into_owned()),
                Ok(_) => s.push(byte[0]),
                Err(e) => break Err(e),
            }
        };
        let _ = tx.send(r);
    });
    let s = rx.recv_timeout(timeout).map_err(|_| anyhow!("no display number from -displayfd within {timeout:?}"))??;
    s.trim().parse().with_context(|| format!("bad display number {s:?} from Xvfb"))
}

/// Watches a display for input: an InputOnly window (draws nothing) over the
/// whole screen, focused, selecting keys, buttons and motion.
pub struct InputProbe {
    conn: RustConnection,
    window: u32,
    root: u32,
    start_pointer: (i16, i16),
}

impl InputProbe {
    pub fn install(display: &str) -> Result<Self> {
        let (conn, screen_num) = RustConnection::connect(Some(display))?;
        let screen = conn.setup().roots[screen_num].clone();
        let window = conn.generate_id()?;
        conn.create_window(
            0,
            window,
            screen.root,
            0,
            0,
            screen.width_in_pixels,
            screen.height_in_pixels,
            0,
            xproto::WindowClass::INPUT_ONLY,
            0,
            &xproto::CreateWindowAux::new().override_redirect(1).event_mask(
                EventMask::KEY_PRESS
                    | EventMask::KEY_RELEASE
                    | EventMask::BUTTON_PRESS
                    | EventMask::BUTTON_RELEASE
                    | EventMask::POINTER_MOTION,
            ),
        )?;
        conn.map_window(window)?;
        conn.set_input_focus(xproto::InputFocus::POINTER_ROOT, window, x11rb::CURRENT_TIME)?;
        conn.sync()?;
        let p = conn.query_pointer(screen.root)?.reply()?;
        Ok(InputProbe { conn, window, root: screen.root, start_pointer: (p.root_x, p.root_y) })
    }

    /// Input events received so far, after a round trip so that everything
    /// the server already processed is counted.
    pub fn input_events(&self) -> Result<Vec<String>> {
        self.conn.sync()?;
        let mut seen = Vec::new();
        while let Some(ev) = self.conn.poll_for_event()? {
            match ev {
                Event::KeyPress(e) => seen.push(format!("KeyPress({})", e.detail)),
                Event::KeyRelease(e) => seen.push(format!("KeyRelease({})", e.detail)),
                Event::ButtonPress(e) => seen.push(format!("ButtonPress({})", e.detail)),
                Event::ButtonRelease(e) => seen.push(format!("ButtonRelease({})", e.detail)),
                Event::MotionNotify(e) => seen.push(format!("Motion({},{})", e.root_x, e.root_y)),
                _ => {}
            }
        }
        let p = self.conn.query_pointer(self.root)?.reply()?;
        if (p.root_x, p.root_y) != self.start_pointer {
            seen.push(format!("pointer moved {:?} -> ({},{})", self.start_pointer, p.root_x, p.root_y));
        }
        Ok(seen)
    }

    /// Forgets what was seen so far and takes the pointer's current
    /// position as the baseline (e.g. after the consent clicker moved it).
    pub fn reset(&mut self) -> Result<()> {
        self.conn.sync()?;
        while self.conn.poll_for_event()?.is_some() {}
        let p = self.conn.query_pointer(self.root)?.reply()?;
        self.start_pointer = (p.root_x, p.root_y);
        Ok(())
    }

    /// Waits until at least one input event arrived, or `timeout` passed.
    pub fn wait_for_input(&self, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut all = Vec::new();
        loop {
            all.extend(self.input_events()?);
            if !all.is_empty() || Instant::now() >= deadline {
                return Ok(all);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for InputProbe {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.flush();
    }
}

/// Uploads `pixel(x, y)` into a drawable in horizontal bands that each fit
/// the server's maximum request size.
pub fn upload(
    conn: &RustConnection,
    drawable: u32,
    gc: u32,
    depth: u8,
    w: u16,
    h: u16,
    pixel: impl Fn(u16, u16) -> u32,
) -> Result<()> {
    let max_bytes = conn.maximum_request_bytes().saturating_sub(64).max(4096);
    let rows_per_band = (max_bytes / (w as usize * 4)).clamp(1, h as usize) as u16;
    let mut y = 0u16;
    while y < h {
        let rows = rows_per_band.min(h - y);
        let mut data = Vec::with_capacity(w as usize * rows as usize * 4);
        for yy in y..y + rows {
            for x in 0..w {
                data.extend_from_slice(&pixel(x, yy).to_le_bytes());
            }
        }
        conn.put_image(ImageFormat::Z_PIXMAP, drawable, gc, w, rows, 0, y as i16, 0, depth, &data)?;
        y += rows;
    }
    Ok(())
}
