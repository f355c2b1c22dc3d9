//! Shared fixture for end-to-end tests: a real Xvfb with a known pattern, a
//! real shadowd in its own temp dir and port block, and the Director.
#![allow(dead_code)]

use simulator::drivers::consent;
use simulator::drivers::daemon::{Daemon, DaemonOptions};
use simulator::drivers::director::{ApiFailure, Director, Grant};
use simulator::drivers::ports::{free_block, range_string};
use simulator::drivers::viewer::{Viewer, ViewerOptions};
use simulator::drivers::xvfb::{Pattern, Xvfb};
use std::net::SocketAddr;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Fixture {
    pub x: Xvfb,
    pub d: Daemon,
    pub dir: Director,
    pub id: String,
    pub ports: (u16, u16),
}

impl Fixture {
    pub async fn new(opts: DaemonOptions) -> Fixture {
        Self::with_screen(opts, 480, 320, 3).await
    }

    pub async fn with_screen(mut opts: DaemonOptions, w: u16, h: u16, ports: u16) -> Fixture {
        let block = free_block(ports);
        opts.port_range = range_string(block);
        let x = Xvfb::start(w, h).expect("Xvfb starts");
        x.draw(Pattern::Noise { seed: 11 }).expect("pattern drawn");
        let d = Daemon::start(with_bin(opts)).await.expect("shadowd starts");
        let dir = Director::new(&d.api);
        let id = x.display_number().to_string();
        Fixture { x, d, dir, id, ports: block }
    }

    /// Requests a shadow as `admin` and answers the dialog with `key`.
    pub async fn request_answering(&self, admin: &str, key: &'static str) -> Result<Grant, ApiFailure> {
        let request = {
            let dir = self.dir.clone();
            let (id, admin) = (self.id.clone(), admin.to_string());
            tokio::spawn(async move { dir.request_shadow(&id, &admin).await })
        };
        let display = self.x.display();
        tokio::task::spawn_blocking(move || consent::press_key(&display, key))
            .await
            .unwrap()
            .expect("the consent dialog appears and takes the key");
        request.await.unwrap().expect("the API answers")
    }

    pub async fn grant(&self, admin: &str) -> Grant {
        self.request_answering(admin, "y").await.expect("granted")
    }

    pub fn viewer_options(&self, g: &Grant) -> ViewerOptions {
        let mut o = ViewerOptions::new(&g.url, &g.password);
        o.connect_to = Some(SocketAddr::from(([127, 0, 0, 1], g.port)));
        o
    }

    pub async fn connect(&self, g: &Grant) -> Viewer {
        Viewer::connect(self.viewer_options(g)).await.expect("viewer connects")
    }
}

/// Whether a port can be bound again (its shadow's listener is closed).
pub fn port_is_free(port: u16) -> bool {
    shadowd::ports::listener::bind_shadow_port(port).is_ok()
}

/// The clicker's calls block on X: run them off the async test thread so the
/// request they answer keeps going.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// The options with this package's freshly built shadowd binary.
pub fn with_bin(mut o: DaemonOptions) -> DaemonOptions {
    o.bin = Some(env!("CARGO_BIN_EXE_shadowd").into());
    o
}
