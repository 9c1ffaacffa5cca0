//! The On air screen's operations: Go live (setup when sources wait, Kubo must answer,
//! then the streamer and the health monitor as processes of their own), Stop, and the
//! screen's data from the state folder (so it works for a stream started by an earlier
//! console or by hand).

use super::Console;
use crate::air::live::{self, LiveWindow};
use crate::air::streamer::StreamState;
use crate::air::timeline::{self, TimelineBlock};
use crate::error::{Error, Result};
use crate::health::HealthReport;
use crate::library::catalog::{self, ItemStatus};
use crate::station::process;
use crate::station::state::Role;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How long Stop waits for each process before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Where listeners find the station.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerUrl {
    /// Gateway label (`local` or the public gateway's host).
    pub gateway: String,
    /// The live playlist: `<gateway>/ipns/<name>/live.m3u8`.
    pub stream: String,
    /// The station's site, the link to share: `<gateway>/ipns/<name>/` (the listener
    /// page; [`crate::air::site`]).
    pub page: Option<String>,
}

/// Everything the On air screen shows.
#[derive(Debug, Clone, Serialize)]
pub struct OnAirView {
    /// Whether the streamer's heartbeat is fresh.
    pub on_air: bool,
    /// Process id of the running streamer (the holder of its lock), if any.
    pub stream_pid: Option<u32>,
    /// Process id of the running health monitor, if any.
    pub health_pid: Option<u32>,
    /// `stream_state.json` (now playing, next up, IPNS name, publish log).
    pub state: Option<StreamState>,
    /// The live window listeners see.
    pub window: Option<LiveWindow>,
    /// `health.json`.
    pub health: Option<HealthReport>,
    /// Level meters and the level history, as SVG (plotters).
    pub meters_svg: Option<String>,
    /// Listener URLs on the local gateway and on each public gateway.
    pub urls: Vec<ListenerUrl>,
    /// Why the last go-live step failed, if it did.
    pub problem: Option<String>,
}

/// The `station` program the console runs the streamer and monitor with:
/// `IPFS_STATION_BIN`, else `station` beside the console's own executable, else on PATH.
pub fn station_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("IPFS_STATION_BIN") {
        return PathBuf::from(p);
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("station")))
        .filter(|p| p.is_file())
    {
        return beside;
    }
    PathBuf::from("station")
}

impl Console {
    /// The level meters and history of `h` as SVG, drawn once per health check (the page
    /// polls every 2 s; the monitor checks every `interval`).
    fn meters_svg(&self, h: &HealthReport) -> String {
        let cached = self
            .meters
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| *at == h.checked_at);
        if let Some((_, svg)) = cached {
            return svg;
        }
        let (silence, clip) = self.station().map_or((-50.0, -0.1), |st| {
            (st.health.silence_threshold.0, st.health.clip_threshold.0)
        });
        let svg = crate::health::meters::render_svg(
            &h.latest_levels(),
            &h.history,
            silence,
            clip,
            560,
            300,
        );
        if let Ok(mut cache) = self.meters.lock() {
            *cache = Some((h.checked_at, svg.clone()));
        }
        svg
    }

    /// The On air screen's data, from the state files (while the configs do not
    /// validate: what the state folder shows, and the config error as the problem).
    pub fn onair_view(&self) -> OnAirView {
        let station = self.station();
        let now = chrono::Utc::now();
        let state_dir = self.state_dir();
        let state = state_dir.load_stream_state().ok();
        let health = state_dir.load_health().ok();
        let meters_svg = health.as_ref().map(|h| self.meters_svg(h));
        let mut urls = Vec::new();
        let name = state.as_ref().and_then(|s| s.ipns_name.clone());
        if let (Some(name), Ok(st)) = (name, &station) {
            let mut gateways = vec![("local".to_string(), st.local_gateway())];
            for g in &st.health.public_gateways {
                let label = g.split("://").nth(1).unwrap_or(g).to_string();
                gateways.push((label, g.clone()));
            }
            for (label, base) in gateways {
                let site = format!("{}/ipns/{name}/", base.trim_end_matches('/'));
                urls.push(ListenerUrl {
                    gateway: label,
                    stream: format!("{site}{}", crate::air::site::PLAYLIST_FILE),
                    page: Some(site),
                });
            }
        }
        OnAirView {
            on_air: state.as_ref().is_some_and(|s| s.is_on_air(now)),
            stream_pid: process::running(&state_dir, Role::Stream).map(|h| h.pid),
            health_pid: process::running(&state_dir, Role::Health).map(|h| h.pid),
            window: live::live_window(&state_dir, now).ok().flatten(),
            state,
            health,
            meters_svg,
            urls,
            problem: station.err().map(|e| e.to_string()),
        }
    }

    /// Go live: Kubo must answer; when sources wait for setup, it starts through the
    /// setup queue (its progress shows in the library) without being waited for; then
    /// the streamer (which joins the running setup and goes on air as soon as a jingle
    /// and a track are ready, publishing the listener page itself) and the health
    /// monitor start as processes of their own.
    ///
    /// Errors: no Kubo ([`Error::KuboUnreachable`], with how to get one); the `station`
    /// program cannot be run or exits at once ([`Error::ToolMissing`],
    /// [`Error::Process`]).
    pub async fn go_live(&self) -> Result<OnAirView> {
        let k = self.kubo_status().await;
        if !k.status.reachable {
            return Err(Error::KuboUnreachable {
                url: k.status.api.clone(),
                reason: format!(
                    "going live publishes through Kubo. {}",
                    k.status.help.unwrap_or_default()
                ),
            });
        }
        let view = catalog::overview(&*self.station()?)?;
        let pending = view
            .tracks
            .iter()
            .chain(&view.jingles)
            .any(|r| r.status != ItemStatus::Ready && r.status != ItemStatus::Failed);
        if pending {
            self.start_setup();
        }
        let st = self.station()?;
        let bin = station_bin();
        let stream = process::start(&st, &bin, Role::Stream)?;
        let health = process::start(&st, &bin, Role::Health)?;
        tracing::info!(
            "on air: streamer pid {}, health monitor pid {}",
            stream.pid(),
            health.pid()
        );
        Ok(self.onair_view())
    }

    /// Takes the station off air: stops the streamer and the monitor (SIGTERM to each
    /// lock holder, then SIGKILL after [`STOP_TIMEOUT`]).
    ///
    /// Errors: [`Error::Signal`] when a holder cannot be signalled.
    pub fn off_air(&self) -> Result<OnAirView> {
        let state = self.state_dir();
        process::stop(&state, Role::Stream, STOP_TIMEOUT)?;
        process::stop(&state, Role::Health, STOP_TIMEOUT)?;
        Ok(self.onair_view())
    }

    /// The rotation ahead ([`timeline::timeline_of`]) for `hours` (0.05 to 24); the
    /// parsed programme is kept while `manifest.json` and `playlist.m3u` are unchanged,
    /// so a zoom or jingle-cycle change redraws at once.
    ///
    /// Errors: no rotation yet ([`Error::Manifest`], [`Error::Rotation`], [`Error::Io`]).
    pub fn timeline(&self, hours: f64, jingle_cycle: Option<u32>) -> Result<Vec<TimelineBlock>> {
        let st = self.station()?;
        let programme = self.timeline_source(&st)?;
        timeline::timeline_of(
            &programme,
            &st,
            chrono::Utc::now(),
            hours.clamp(0.05, 24.0),
            jingle_cycle,
        )
    }
}
