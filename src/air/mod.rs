//! On air: the live window over the rotation ([`window`]), the on-air loop that publishes
//! it under the IPNS name ([`streamer`]), the listener page ([`listener`]), and what the
//! console shows of a running stream: the live window listeners see ([`live`]) and the
//! rotation ahead ([`timeline`]).

pub mod history;
pub mod listener;
pub mod live;
pub mod publisher;
pub mod retry;
pub mod site;
pub mod streamer;
pub mod timeline;
pub mod warm;
pub mod window;

use crate::error::Result;
use crate::library::catalog::{self, ItemStatus};
use crate::setup::OnEvent;
use crate::station::state::Role;
use crate::station::Station;
use streamer::{Mode, StreamLocks, Streamer};

/// A station ready to go on air: its locks, the opened streamer, and the setup run
/// that is still prechunking (when the library was not fully prechunked): keep it
/// running beside the streamer, which picks up each item as setup writes it.
pub struct OnAir {
    /// The streamer's locks (hold them for the streamer's life).
    pub locks: StreamLocks,
    /// The streamer, opened on what is ready.
    pub streamer: Streamer,
    /// The setup run still going, if any.
    pub setup: Option<tokio::task::JoinHandle<Result<crate::setup::SetupReport>>>,
}

/// How often [`prepare`] looks whether the programme is playable yet.
const READY_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether the Kubo at `kubo_api` does not pin a segment the manifest gives a CID (its
/// repo made anew, a pin removed by hand): the stream would publish segments nobody
/// can fetch. Setup adds such segments again (it re-adds every CID Kubo no longer
/// pins), so [`prepare`] runs it beside the streamer. One `pin/ls`; a Kubo that does not
/// answer (or a manifest that does not load) says nothing here: the streamer and setup
/// report those.
async fn kubo_lacks_segments(station: &Station) -> bool {
    let Ok(m) = crate::setup::manifest::Manifest::load(station.processed_dir()) else {
        return false;
    };
    let Ok(kubo) = crate::kubo::Kubo::new(station.kubo_api(), std::time::Duration::from_secs(30))
    else {
        return false;
    };
    let pins = match kubo.pins().await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!("pins not checked before going on air: {e}");
            return false;
        }
    };
    let missing = m.segment_cids().filter(|c| !pins.contains(*c)).count();
    if missing > 0 {
        tracing::warn!(
            "Kubo does not pin {missing} segment(s) of the library (a new repo?): setup adds them again beside the streamer"
        );
    }
    missing > 0
}

/// Whether the station's `schedule.json` was modified after setup last wrote the
/// processed one (`data/processed/schedule.json`), or exists while no processed one does.
/// By modification time; an unreadable time says no.
fn schedule_changed(station: &Station) -> bool {
    use crate::setup::schedule::SCHEDULE_FILE;
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let source = modified(&station.dir().join(SCHEDULE_FILE));
    let processed = modified(&station.processed_dir().join(SCHEDULE_FILE));
    match (source, processed) {
        (Some(s), Some(p)) => s > p,
        (Some(_), None) => station.processed_dir().join("manifest.json").exists(),
        _ => false,
    }
}

/// Everything `station stream` does before its loop, as the console's Go live does
/// (but for starting the monitor): take the streamer's locks (refusing at once when the
/// station is on air, or another station publishes under the same IPNS key); when
/// sources wait for setup, or (IPNS mode) Kubo does not pin a segment of the manifest,
/// start it in the background (it waits for a setup another process runs, then does
/// what is left); and open the stream as soon as the processed
/// folder holds a playable programme: setup writes one once a jingle and a track are
/// ready (prechunking in air order), and the streamer takes each further item at an
/// item boundary as setup rewrites it.
///
/// With `new_stream`, a new stream starts whatever state is saved
/// ([`Streamer::open_with`]).
///
/// Errors: [`crate::Error::Locked`] naming the running streamer; once no setup runs any
/// more (ours or another process's): the setup error that stopped it as a whole, else
/// as [`Streamer::open`].
pub async fn prepare(
    station: &Station,
    mode: Mode,
    new_stream: bool,
    on_setup_event: OnEvent,
) -> Result<OnAir> {
    let locks = streamer::lock_stream(station, mode)?;
    let view = catalog::overview(station)?;
    // Sources waiting, or a processed folder that does not load (e.g. a setup killed
    // between writing the manifest and the rotation): setup repairs it.
    let broken = streamer::load_programme(station.processed_dir(), false).is_err()
        && (!view.tracks.is_empty());
    let mut pending = broken
        || view
            .tracks
            .iter()
            .chain(&view.jingles)
            .any(|r| r.status != ItemStatus::Ready && r.status != ItemStatus::Failed);
    if pending {
        tracing::info!("sources wait for setup: running it beside the streamer, on air as soon as a jingle and a track are ready");
    } else if mode == Mode::Ipns {
        // It says why itself.
        pending = kubo_lacks_segments(station).await;
    }
    // A schedule.json edited while off air: the processed schedule is older, and the
    // first window would air the old blocks. Setup (cached items: no encode) runs first.
    let rescheduled = schedule_changed(station);
    if rescheduled {
        tracing::info!(
            "schedule.json changed since the last setup: setting it up before going on air"
        );
    }
    let mut setup = None;
    if pending || rescheduled {
        let st = station.clone();
        let task = tokio::spawn(async move { crate::setup::run(&st, on_setup_event).await });
        if rescheduled {
            match task.await {
                Ok(Err(e)) => {
                    tracing::warn!("setup refused the schedule, the last good one airs: {e}")
                }
                Ok(Ok(_)) => {}
                Err(e) => tracing::error!("setup stopped: {e}"),
            }
        } else {
            setup = Some(task);
        }
    }
    let state = station.state();
    loop {
        let err = match Streamer::open_with(station, mode, chrono::Utc::now(), new_stream) {
            Ok(streamer) => {
                return Ok(OnAir {
                    locks,
                    streamer,
                    setup,
                })
            }
            Err(e) => e,
        };
        let ours_running = setup.as_ref().is_some_and(|t| !t.is_finished());
        let theirs_running = setup.is_none() && state.holder(Role::Setup).is_some();
        if ours_running || theirs_running {
            tokio::time::sleep(READY_POLL).await;
            continue;
        }
        if let Some(task) = setup.take() {
            match task.await {
                Ok(Err(e)) => return Err(e),
                Ok(Ok(report)) if !report.ok() => tracing::warn!(
                    "setup finished with problems ({} failed, {} segments without a CID); going on air with what is ready",
                    report.failures.len(),
                    report.missing_cids
                ),
                Ok(Ok(_)) => {}
                Err(e) => tracing::error!("setup stopped: {e}"),
            }
            // Setup wrote its last programme since the last look.
            continue;
        }
        return Err(err);
    }
}
