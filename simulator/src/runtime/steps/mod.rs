//! One function per step kind, grouped by whose side the step is on.

pub mod admin;
pub mod browser;
pub mod daemon;
pub mod system;
pub mod user;

use super::world::World;
use crate::scenario::Step;
use anyhow::Result;

/// Runs one (already interpolated) step; `repeat` is expanded by the caller.
pub async fn run(w: &mut World, step: &Step) -> Result<()> {
    match step {
        Step::Request(s) => admin::request(w, s).await,
        Step::Consent(s) => user::consent(w, s).await,
        Step::Expect(s) => admin::expect(w, s).await,
        Step::Connect(s) => admin::connect(w, s).await,
        Step::ExpectFrame(s) => admin::expect_frame(w, s).await,
        Step::ExpectDisconnect(s) => admin::expect_disconnect(w, s).await,
        Step::ExpectConnected(s) => admin::expect_connected(w, &s.viewer, s.duration.as_std()).await,
        Step::SendInput(s) => admin::send_input(w, s).await,
        Step::ExpectDisplayUnchanged(s) => user::expect_display_unchanged(w, s).await,
        Step::ExpectNoInput(s) => user::expect_no_input(w, s).await,
        Step::Stop(s) => daemon::stop(w, s).await,
        Step::Disconnect(s) => admin::disconnect(w, &s.viewer).await,
        Step::Registry(s) => daemon::registry(w, s).await,
        Step::HogPorts(s) => daemon::hog_ports(w, s).await,
        Step::ReleasePorts(s) => daemon::release_ports(w, &s.hog).await,
        Step::BreakCert(s) => daemon::break_cert(w, s).await,
        Step::Kill(s) => user::kill(w, s).await,
        Step::CloseSession(s) => user::close_session(w, &s.session).await,
        Step::UserStop(s) => user::user_stop(w, &s.session).await,
        Step::Fault(s) => admin::fault(w, s).await,
        Step::WaitEvent(s) => daemon::wait_event(w, s).await,
        Step::ExpectEvents(s) => daemon::expect_events(w, s).await,
        Step::Http(s) => daemon::http(w, s).await,
        Step::RawConnect(s) => daemon::raw_connect(w, s).await,
        Step::ExpectPortFree(s) => daemon::expect_port_free(w, s).await,
        Step::ExpectPortsFree(s) => daemon::expect_ports_free(w, s).await,
        Step::Sleep(d) => {
            tokio::time::sleep(d.as_std()).await;
            Ok(())
        }
        Step::Capture(s) => admin::capture(w, s).await,
        Step::System(s) => system::system(w, s).await,
        Step::Require(s) => system::require(w, s).await,
        Step::Doctor(s) => system::doctor(w, s).await,
        Step::Browser(s) => browser::browser(w, s).await,
        Step::Repeat(_) => unreachable!("repeat is expanded by the case runner"),
    }
}
