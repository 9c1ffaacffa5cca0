//! On air: the live window over the rotation ([`window`]), the on-air loop that publishes
//! it under the IPNS name ([`streamer`]), the listener page ([`listener`]), and what the
//! console shows of a running stream: the live window listeners see ([`live`]) and the
//! rotation ahead ([`timeline`]).

pub mod listener;
pub mod live;
pub mod publisher;
pub mod streamer;
pub mod timeline;
pub mod window;

use crate::error::Result;
use crate::library::catalog::{self, ItemStatus};
use crate::setup::OnEvent;
use crate::station::Station;
use streamer::{Mode, StreamLocks, Streamer};

/// Everything `station stream` does before its loop, as the console's Go live does
/// (but for starting the monitor): take the streamer's locks (refusing at once when the
/// station is on air, or another station publishes under the same IPNS key), run setup
/// when sources wait for it (through the setup lock: it waits for a running setup), then
/// open the stream on the processed folder.
///
/// Errors: [`crate::Error::Locked`] naming the running streamer; setup errors that stop
/// the run as a whole; as [`Streamer::open`].
pub async fn prepare(
    station: &Station,
    mode: Mode,
    on_setup_event: OnEvent,
) -> Result<(StreamLocks, Streamer)> {
    let locks = streamer::lock_stream(station, mode)?;
    let view = catalog::overview(station)?;
    let pending = view
        .tracks
        .iter()
        .chain(&view.jingles)
        .any(|r| r.status != ItemStatus::Ready && r.status != ItemStatus::Failed);
    if pending {
        tracing::info!("sources wait for setup: running it before going on air");
        let report = crate::setup::run(station, on_setup_event).await?;
        if !report.ok() {
            tracing::warn!(
                "setup finished with problems ({} failed, {} segments without a CID); going on air with what is ready",
                report.failures.len(),
                report.missing_cids
            );
        }
    }
    let s = Streamer::open(station, mode, chrono::Utc::now())?;
    Ok((locks, s))
}
