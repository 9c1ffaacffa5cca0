//! The On air screen's operations: Go live (setup when sources wait, Kubo must answer,
//! then the streamer and the health monitor as processes of their own), Preview locally
//! (the streamer in preview mode, without Kubo: [`super::preview`]), Stop, and the
//! screen's data from the state folder (so it works for a stream started by an earlier
//! console or by hand).

use super::Console;
use crate::air::live::{self, LiveWindow};
use crate::air::streamer::Mode;
use crate::air::streamer::StreamState;
use crate::air::timeline::{self, TimelineBlock};
use crate::error::{Error, Result};
use crate::health::HealthReport;
use crate::library::catalog::{self, ItemStatus};
use crate::station::process::{self, StartOptions};
use crate::station::state::{Role, StateDir};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How long Stop waits for each process before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long Preview locally watches the streamer it started: one that exits within this
/// time (the preview port is taken, the programme cannot be opened) is reported with
/// what its log says.
pub const PREVIEW_SETTLE: Duration = Duration::from_millis(1500);

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
    /// Level meters and the level history, as SVG (plotters): the health monitor's, or
    /// in a preview the console's own checks of the preview server.
    pub meters_svg: Option<String>,
    /// Whether the running streamer is a local preview (`station stream --preview`):
    /// nothing is published.
    pub preview: bool,
    /// The preview's playlist (`http://127.0.0.1:<port>/live.m3u8`), while one runs.
    pub preview_url: Option<String>,
    /// The console's newest check of the preview server (levels at the air time).
    pub preview_check: Option<super::preview::PreviewCheck>,
    /// Listener URLs on the local gateway and on each public gateway.
    pub urls: Vec<ListenerUrl>,
    /// Each pinning service of `remote_pinning`: the library's request there (pinned /
    /// pinning / failing with the reason), from the state files.
    pub remote_pinning: Vec<crate::pinning::ServiceStatus>,
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
        self.meters_svg_of(h.checked_at, &h.latest_levels(), &h.history)
    }

    /// The meters of `channels` and `history` measured at `checked_at`, as SVG, drawn
    /// once per check.
    fn meters_svg_of(
        &self,
        checked_at: chrono::DateTime<chrono::Utc>,
        channels: &[crate::health::levels::ChannelLevels],
        history: &[crate::health::meters::LevelPoint],
    ) -> String {
        let cached = self
            .meters
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| *at == checked_at);
        if let Some((_, svg)) = cached {
            return svg;
        }
        let (silence, clip) = self.station().map_or((-50.0, -0.1), |st| {
            (st.health.silence_threshold.0, st.health.clip_threshold.0)
        });
        let svg = crate::health::meters::render_svg(channels, history, silence, clip, 560, 300);
        if let Ok(mut cache) = self.meters.lock() {
            *cache = Some((checked_at, svg.clone()));
        }
        svg
    }

    /// Whether the streamer holding the lock of `state` runs in preview mode: its
    /// `stream_state.json` says so, or this console started it as a preview (before its
    /// first tick writes the state).
    pub(super) fn preview_running(&self, state: &StateDir) -> bool {
        let Some(holder) = process::running(state, Role::Stream) else {
            return false;
        };
        let started_here = self
            .preview_pid
            .lock()
            .is_ok_and(|p| *p == Some(holder.pid));
        started_here
            || state
                .load_stream_state()
                .is_ok_and(|s| s.mode == Mode::Preview && s.pid == holder.pid)
    }

    /// The On air screen's data, from the state files (while the configs do not
    /// validate: what the state folder shows, and the config error as the problem).
    pub fn onair_view(&self) -> OnAirView {
        let station = self.station();
        let now = chrono::Utc::now();
        let state_dir = self.state_dir();
        let state = state_dir.load_stream_state().ok();
        let preview = self.preview_running(&state_dir);
        let preview_url = preview
            .then(|| super::preview::running_preview_url(&state_dir))
            .flatten();
        if let (Some(_), Ok(st)) = (&preview_url, &station) {
            self.preview_meter.ensure_running(st, &self.rt);
        }
        let preview_check = preview_url
            .as_ref()
            .and_then(|u| self.preview_meter.last().filter(|c| &c.url == u));
        // A health report from before the preview is of another stream: not shown.
        let health = state_dir.load_health().ok().filter(|_| !preview);
        let meters_svg = match (&preview_check, &health) {
            (Some(c), _) => Some(self.meters_svg_of(c.checked_at, &c.latest_levels(), &c.history))
                .filter(|_| !c.history.is_empty()),
            (None, Some(h)) => Some(self.meters_svg(h)),
            (None, None) => None,
        };
        let mut urls = Vec::new();
        let name = state
            .as_ref()
            .filter(|_| !preview)
            .and_then(|s| s.ipns_name.clone());
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
            preview,
            preview_url,
            preview_check,
            urls,
            remote_pinning: station
                .as_ref()
                .map(|s| crate::pinning::service_statuses(s))
                .unwrap_or_default(),
            problem: station.err().map(|e| e.to_string()),
        }
    }

    /// Preview locally: starts the streamer in preview mode (`station stream
    /// --preview`, a process of its own: a console that dies leaves it running and a new
    /// one shows it; quitting the console ends it, [`Console::on_exit`]) on the same
    /// rotation, jingles and schedule, served on
    /// `http://127.0.0.1:<preview_port>/live.m3u8`. It never calls Kubo or publishes
    /// anything. When sources are not prechunked yet, setup starts through the setup
    /// queue (the streamer joins it, as for Go live). When a preview runs already,
    /// starts nothing.
    ///
    /// Errors: [`Error::Process`] when the station is on air (a published stream runs:
    /// it is what a preview would show) or the streamer exits at once (e.g. the preview
    /// port is taken; with the last lines of its log); [`Error::ToolMissing`] when the
    /// `station` program cannot be run; as [`Console::station`].
    pub async fn preview_start(&self) -> Result<OnAirView> {
        let st = self.station()?;
        let state = st.state();
        if let Some(h) = process::running(&state, Role::Stream) {
            if self.preview_running(&state) {
                return Ok(self.onair_view());
            }
            return Err(Error::Process {
                what: "the preview".into(),
                reason: format!(
                    "the station is on air (streamer pid {}): listen to it through a gateway; stop it to preview",
                    h.pid
                ),
            });
        }
        self.start_setup_if_pending(&st, true)?;
        let started = process::start_with(
            &st,
            &station_bin(),
            Role::Stream,
            StartOptions {
                preview: true,
                settle: PREVIEW_SETTLE,
            },
        )?;
        if let Ok(mut p) = self.preview_pid.lock() {
            *p = Some(started.pid());
        }
        tracing::info!(
            "previewing locally: streamer pid {} on 127.0.0.1:{}",
            started.pid(),
            st.streaming.preview_port
        );
        Ok(self.onair_view())
    }

    /// Starts setup through the queue when any source is not ready (nor failed); with
    /// `for_preview`, only when a source is not prechunked yet (a preview plays what
    /// waits for Kubo as it is, and adding it would only fail again without Kubo).
    fn start_setup_if_pending(
        &self,
        st: &crate::station::Station,
        for_preview: bool,
    ) -> Result<()> {
        let view = catalog::overview(st)?;
        let pending = view
            .tracks
            .iter()
            .chain(&view.jingles)
            .any(|r| match r.status {
                ItemStatus::Pending => true,
                ItemStatus::WaitingForKubo => !for_preview,
                ItemStatus::Ready | ItemStatus::Failed => false,
            });
        if pending {
            self.start_setup();
        }
        Ok(())
    }

    /// Go live: Kubo must answer; a running preview is stopped first (the IPNS streamer
    /// then resumes its saved schedule, so the media sequence goes on); when sources
    /// wait for setup (or for Kubo), setup starts through the setup queue (its progress
    /// shows in the library) without being waited for; then the streamer (which joins
    /// the running setup and goes on air as soon as a jingle and a track are ready,
    /// publishing the listener page itself) and the health monitor start as processes of
    /// their own.
    ///
    /// Errors: no Kubo ([`Error::KuboUnreachable`]); the preview cannot be stopped
    /// ([`Error::Signal`]); the `station` program cannot be run or exits at once
    /// ([`Error::ToolMissing`], [`Error::Process`]).
    pub async fn go_live(&self) -> Result<OnAirView> {
        let k = self.kubo_status().await;
        if !k.status.reachable {
            return Err(Error::KuboUnreachable {
                url: k.status.api.clone(),
                reason: "going live publishes through Kubo".into(),
            });
        }
        let st = self.station()?;
        let state = st.state();
        if self.preview_running(&state) {
            #[cfg(feature = "audition")]
            self.preview_listen_stop();
            let stopped = process::stop(&state, Role::Stream, STOP_TIMEOUT)?;
            tracing::info!("preview stopped (pid {stopped:?}): going live");
        }
        self.start_setup_if_pending(&st, false)?;
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
        #[cfg(feature = "audition")]
        if self.preview_running(&state) {
            self.preview_listen_stop();
        }
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
