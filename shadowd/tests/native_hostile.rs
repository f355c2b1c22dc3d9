//! A hostile admin client on the native backend, after a real WebSocket and
//! RFB handshake: garbage, an RFB message whose declared length is over the
//! cap, and a WebSocket message over the gateway's size cap each end that
//! connection cleanly (no hang, no allocation of the declared size), and the
//! daemon keeps serving: the next request is granted and its viewer gets the
//! display's pixels.

mod common;

use common::{port_is_free, Fixture, WAIT};
use shadowd::gateway::MAX_MESSAGE;
use shadowd::rfb::messages::MAX_CUT_TEXT;
use simulator::drivers::daemon::DaemonOptions;

fn native() -> DaemonOptions {
    DaemonOptions { backend: "native".into(), ..Default::default() }
}

/// Connects as `admin`, sends `bytes` after the handshake, and asserts the
/// server closes the connection, frees the port, and still serves.
async fn hostile_message_is_cut_off(f: &Fixture, admin: &str, bytes: Vec<u8>, what: &str) {
    let g = f.grant(admin).await;
    let mut v = f.connect(&g).await;
    v.full_frame(WAIT).await.unwrap_or_else(|e| panic!("{what}: the first frame arrives before the attack: {e}"));
    // The gateway may already be closing while the tail of a huge message is
    // still being written: a failed send is part of being cut off.
    let _ = v.send_raw(bytes).await;
    let closed = v.wait_closed(WAIT).await;
    assert!(closed.is_ok(), "{what}: the server must close the connection, got {closed:?}");
    // One admin per shadow: the connection ending ends the shadow.
    let deadline = std::time::Instant::now() + WAIT;
    while !port_is_free(g.port) {
        assert!(std::time::Instant::now() < deadline, "{what}: port {} still held after the disconnect", g.port);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(f.dir.healthz().await.unwrap()["status"], "ok", "{what}: the daemon still serves");
}

#[tokio::test]
async fn garbage_oversized_rfb_and_oversized_websocket_messages_each_get_a_clean_disconnect() {
    let f = Fixture::new(native()).await;

    // Message type 0xff does not exist in RFB.
    hostile_message_is_cut_off(&f, "CORP\\mallory1", vec![0xff; 64], "garbage").await;

    // ClientCutText declaring 2 GiB of text: refused from the header alone.
    let mut cut = vec![6u8, 0, 0, 0];
    cut.extend_from_slice(&0x8000_0000u32.to_be_bytes());
    assert!(0x8000_0000u64 > u64::from(MAX_CUT_TEXT));
    hostile_message_is_cut_off(&f, "CORP\\mallory2", cut, "oversized ClientCutText").await;

    // A single WebSocket message over the gateway's cap (a valid KeyEvent
    // prefix so that only the size is wrong).
    let mut big = vec![4u8, 1, 0, 0, 0, 0, 0, 0x61];
    big.resize(MAX_MESSAGE + 1024, 0);
    hostile_message_is_cut_off(&f, "CORP\\mallory3", big, "oversized WebSocket message").await;

    // After all that, a well-behaved admin gets the display.
    let g = f.grant("CORP\\anna").await;
    let mut v = f.connect(&g).await;
    let frame = v.full_frame(WAIT).await.unwrap();
    // Apart from shadowd's own Stop bar, which may be drawn after the frame.
    let mut shown = f.x.screenshot().unwrap();
    simulator::drivers::indicator::mask(&f.x.display(), &mut shown, &frame).unwrap();
    assert_eq!(shown.diff(&frame), None, "the well-behaved admin sees the display");
}
