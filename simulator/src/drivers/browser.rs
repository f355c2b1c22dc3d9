//! A real browser for tests: Debian's Chromium, headless, driven through
//! chromedriver with the fantoccini WebDriver client. It opens the console
//! and noVNC like an administrator would, and reads back what they would
//! see: text, screenshots, and the noVNC canvas's pixels.
//!
//! Each browser is its own world: a private HOME (whose NSS database holds
//! the test CA, which is how Chromium on Linux learns to trust a root), a
//! fresh profile, host names mapped to loopback (`--host-resolver-rules`,
//! so the shadow URL's FQDN resolves as the Director's would), and
//! chromedriver on a free port. Dropping it kills chromedriver's process
//! group and any Chromium process still using the profile.

use super::image::Image;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to install to run browser tests (also what `ci/setup` installs).
pub const INSTALL_HINT: &str = "browser tests need Debian's Chromium and ChromeDriver (and certutil for wss): \
     apt-get install chromium chromium-driver libnss3-tools — or run ci/setup";

/// The flags every browser here starts with: headless, no sandbox (root in
/// CI), and nothing that phones home (the machine has no network, and those
/// connections fail slowly and noisily).
const BASE_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--password-store=basic",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
    "--mute-audio",
    // Two admins' windows side by side: the one not in front must keep
    // its timers and WebSocket running at full speed.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
];

#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Host names that resolve to 127.0.0.1 inside the browser.
    pub map_to_loopback: Vec<String>,
    /// CA certificates (PEM) the browser trusts as roots, via NSS.
    pub trust: Vec<String>,
    /// The window's size in CSS pixels (device scale factor 1).
    pub window: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions { map_to_loopback: vec!["vda1.shadow.test".into()], trust: vec![], window: (1280, 900) }
    }
}

/// The programs a browser needs, found or explained.
#[derive(Debug, Clone)]
pub struct Programs {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// `$SHADOWSIM_CHROMIUM` / `$SHADOWSIM_CHROMEDRIVER`, else Debian's paths,
/// else `PATH`. An error says how to install them: a test that needs a
/// browser fails rather than silently skipping.
pub fn programs() -> Result<Programs> {
    let find = |env: &str, debian: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(env) {
            return Some(PathBuf::from(p));
        }
        if Path::new(debian).is_file() {
            return Some(debian.into());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).flat_map(|d| names.iter().map(move |n| d.join(n))).find(|p| p.is_file())
    };
    let chromium = find("SHADOWSIM_CHROMIUM", "/usr/bin/chromium", &["chromium", "chromium-browser"]);
    let chromedriver = find("SHADOWSIM_CHROMEDRIVER", "/usr/bin/chromedriver", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Programs { chromium, chromedriver }),
        (None, _) => bail!("chromium not found. {INSTALL_HINT}"),
        (_, None) => bail!("chromedriver not found. {INSTALL_HINT}"),
    }
}

pub struct Browser {
    client: Client,
    /// Declared after `client`, so it is dropped last.
    driver: Driver,
}

/// chromedriver (and through it Chromium) and their private folder.
struct Driver {
    child: Child,
    /// HOME, profile and logs; deleted after the processes are gone.
    dir: tempfile::TempDir,
}

impl Browser {
    pub async fn start(options: BrowserOptions) -> Result<Browser> {
        let programs = programs()?;
        let dir = tempfile::Builder::new().prefix("shadowsim-browser-").tempdir()?;
        let home = dir.path().join("home");
        let profile = dir.path().join("profile");
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&profile)?;
        trust_in_nss(&home, &options.trust)?;

        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.path().join("chromedriver.log"))?;
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(&programs.chromedriver)
                .arg(format!("--port={port}"))
                // Chromium's own log (page console messages included) into
                // chromedriver.log, for driver_log() on failure.
                .arg("--enable-chrome-logs")
                .env("HOME", &home)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                // Its own process group, so Drop can end chromedriver and
                // every Chromium process it started in one signal.
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", programs.chromedriver.display()))?
        };
        // From here on, an early return kills what was started.
        let mut driver = Driver { child: driver, dir };
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&base, &mut driver.child, Duration::from_secs(20)).await.map_err(|e| {
            let log = std::fs::read_to_string(driver.dir.path().join("chromedriver.log")).unwrap_or_default();
            anyhow!("{e}; chromedriver's log: {}", log.trim())
        })?;

        let mut args: Vec<String> = BASE_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--enable-logging=stderr".into());
        args.push(format!("--window-size={},{}", options.window.0, options.window.1));
        if !options.map_to_loopback.is_empty() {
            let rules: Vec<String> = options.map_to_loopback.iter().map(|h| format!("MAP {h} 127.0.0.1")).collect();
            args.push(format!("--host-resolver-rules={}", rules.join(", ")));
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": programs.chromium, "args": args }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&base)
            .await
            .map_err(|e| anyhow!("chromedriver could not start Chromium: {e}"))?;
        Ok(Browser { client, driver })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// chromedriver's log so far, for a failure message.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.driver.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.with_context(|| format!("opening {url}"))
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<serde_json::Value>) -> Result<serde_json::Value> {
        self.client.execute(script, args).await.map_err(|e| anyhow!("script failed: {e}"))
    }

    /// Polls `probe` until it yields a value or `timeout` passes; the error
    /// says `what` was awaited and the last thing `probe` said.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut probe: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("nothing yet");
        loop {
            match probe().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() >= deadline {
                bail!("{what}: not within {timeout:?} (last: {last})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `css`, waiting for it to exist and
    /// be enabled. Finding and clicking are retried together: a page that
    /// re-renders can replace the element in between (a "stale element").
    pub async fn click(&self, css: &str, timeout: Duration) -> Result<()> {
        self.wait_for(&format!("to click an enabled `{css}`"), timeout, || async {
            let e = self.client.find(Locator::Css(css)).await.map_err(|e| anyhow!("{e}"))?;
            if !e.is_enabled().await.unwrap_or(false) {
                return Err(anyhow!("`{css}` is disabled"));
            }
            match e.click().await {
                Ok(()) => Ok(Some(())),
                Err(fantoccini::error::CmdError::Standard(w))
                    if w.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                {
                    Err(anyhow!("`{css}` was replaced while clicking it"))
                }
                Err(e) => Err(anyhow!("clicking `{css}`: {e}")),
            }
        })
        .await
    }

    /// Types `text` into the first element matching `css` (WebDriver key
    /// events, as a person at the keyboard).
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.client.find(Locator::Css(css)).await.map_err(|e| anyhow!("no `{css}`: {e}"))?;
        e.send_keys(text).await.map_err(|e| anyhow!("typing into `{css}`: {e}"))
    }

    /// The rendered text of the first element matching `css` ("" if hidden).
    pub async fn text(&self, css: &str) -> Result<String> {
        let e = self.client.find(Locator::Css(css)).await.map_err(|e| anyhow!("no `{css}`: {e}"))?;
        e.text().await.map_err(|e| anyhow!("reading `{css}`: {e}"))
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        let e = self.client.find(Locator::Css(css)).await.map_err(|e| anyhow!("no `{css}`: {e}"))?;
        e.attr(name).await.map_err(|e| anyhow!("reading `{css}`[{name}]: {e}"))
    }

    /// Waits until the text of `css` contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> Result<String> {
        self.wait_for(&format!("`{css}` to say {needle:?}"), timeout, || async {
            let t = self.text(css).await?;
            if t.contains(needle) {
                Ok(Some(t))
            } else {
                Err(anyhow!("it says {t:?}"))
            }
        })
        .await
    }

    /// The whole page as the browser renders it (PNG).
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        self.client.screenshot().await.map_err(|e| anyhow!("screenshot: {e}"))
    }

    /// Saves a screenshot as `dir/name.png`; returns the path.
    pub async fn save_screenshot(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        let png = self.screenshot().await?;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// The pixels of the canvas matching `css` at its own resolution (the
    /// framebuffer's: noVNC's scaling is CSS only, so this is 1:1 with the
    /// remote screen however the page is sized). `None` if there is none.
    pub async fn canvas(&self, css: &str) -> Result<Option<Image>> {
        let v = self
            .eval(
                "const c = document.querySelector(arguments[0]);
                 return c && c.width > 0 ? c.toDataURL('image/png') : null;",
                vec![css.into()],
            )
            .await?;
        let Some(url) = v.as_str() else { return Ok(None) };
        let b64 = url.strip_prefix("data:image/png;base64,").ok_or_else(|| anyhow!("not a PNG data URL"))?;
        let png = base64::engine::general_purpose::STANDARD.decode(b64)?;
        decode_png(&png).map(Some)
    }

    /// Opens another top-level window (not a tab: each keeps running in
    /// front) and returns its handle; the current window stays current.
    pub async fn new_window(&self) -> Result<WindowHandle> {
        Ok(self.client.new_window(false).await.map_err(|e| anyhow!("new window: {e}"))?.handle)
    }

    pub async fn window(&self) -> Result<WindowHandle> {
        self.client.window().await.map_err(|e| anyhow!("current window: {e}"))
    }

    pub async fn switch_to(&self, window: &WindowHandle) -> Result<()> {
        self.client.switch_to_window(window.clone()).await.map_err(|e| anyhow!("switching window: {e}"))
    }

    /// Ends the WebDriver session (Chromium exits), then everything else.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.clone().close()).await;
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
        // Chromium's helpers may have left the group (zygotes): anything
        // still naming this browser's private profile is ours.
        let marker = self.dir.path().to_string_lossy().into_owned();
        for pid in processes_mentioning(&marker) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Pids whose command line contains `marker` (a unique temp path).
fn processes_mentioning(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

/// Polls chromedriver's /status until it answers `ready`.
async fn wait_ready(base: &str, driver: &mut Child, timeout: Duration) -> Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            bail!("chromedriver exited at start ({status})");
        }
        if let Ok(r) = http.get(format!("{base}/status")).send().await {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                if v["value"]["ready"] == true {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            bail!("chromedriver did not become ready within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes `home/.pki/nssdb` trust each PEM as a root CA for TLS servers
/// (`C,,` = trusted CA for SSL), the way Chromium on Linux reads extra
/// roots. Needs certutil (Debian: libnss3-tools).
fn trust_in_nss(home: &Path, cas: &[String]) -> Result<()> {
    if cas.is_empty() {
        return Ok(());
    }
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db)?;
    let db_arg = format!("sql:{}", db.display());
    let certutil = |args: &[&str]| -> Result<()> {
        let out = Command::new("certutil").args(args).output().map_err(|e| anyhow!("certutil: {e}. {INSTALL_HINT}"))?;
        if !out.status.success() {
            bail!("certutil {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    };
    certutil(&["-N", "-d", &db_arg, "--empty-password"])?;
    for (i, pem) in cas.iter().enumerate() {
        let file = home.join(format!("ca-{i}.pem"));
        std::fs::write(&file, pem)?;
        let name = format!("shadowsim test CA {i}");
        certutil(&["-A", "-d", &db_arg, "-n", &name, "-t", "C,,", "-i", &file.to_string_lossy()])?;
    }
    Ok(())
}

/// PNG (RGB or RGBA, 8-bit) → [`Image`]; alpha is dropped (noVNC's canvas
/// is opaque where it has drawn).
pub fn decode_png(png: &[u8]) -> Result<Image> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => bail!("unexpected PNG colour type {other:?}"),
    };
    let (w, h) = (u16::try_from(info.width)?, u16::try_from(info.height)?);
    let mut img = Image::new(w, h, 0);
    for (i, px) in buf[..info.buffer_size()].chunks_exact(channels).enumerate() {
        img.pixels[i] = (px[0] as u32) << 16 | (px[1] as u32) << 8 | px[2] as u32;
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_from_the_image_module_decodes_back() {
        let mut a = Image::new(5, 3, 0x102030);
        a.set(4, 2, 0xfedcba);
        assert_eq!(decode_png(&a.to_png()).unwrap().diff(&a), None);
    }
}
