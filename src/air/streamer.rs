//! The on-air loop (`station stream`): tick, render the live window, hand it to the
//! publisher, persist state; hot reload, preview server.
//!
//! The streamer's only inputs are the processed folder (`manifest.json`, `playlist.m3u`,
//! `items/`) and Kubo. Every `update_interval` the tick renders the window and writes
//! `stream_state.json` (the heartbeat) and `live.m3u8` atomically, whatever Kubo does:
//! publishing runs beside it ([`super::publisher`]), takes the newest window whenever
//! the previous publish returned, and backs off while Kubo fails. After a crash (even
//! `kill -9`) the media sequence continues from the saved state and the air clock
//! follows the wall clock.

use crate::air::publisher::{PublishTarget, Published, Publisher};
use crate::air::window::{self, Rotation, Schedule, ScheduleState, UriStyle};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::kubo::{Kubo, PublishOptions};
use crate::library::ItemKind;
use crate::setup::manifest::{self, Manifest};
use crate::station::config::{SegmentUriStyle, StreamingConfig};
use crate::station::state::{InstanceLock, Role, StateDir};
use crate::station::Station;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Format version of [`StreamState`].
pub const STATE_FORMAT: u32 = 1;

pub use super::publisher::{InFlight, PublishRecord, PublishStats, PINNED_PLAYLISTS, PUBLISH_LOG};

/// Where the live window goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Add to Kubo and publish under IPNS.
    Ipns,
    /// Serve from local files at `http://127.0.0.1:<port>/live.m3u8`; no Kubo.
    Preview,
}

/// An item on air or coming up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeEntry {
    /// Item id.
    pub item_id: String,
    /// `Artist - Title`.
    pub title: String,
    /// Track or jingle (for upcoming entries: as scheduled).
    pub kind: Option<ItemKind>,
    /// Air time of its first segment (UTC).
    pub air_time: DateTime<Utc>,
}

/// `stream_state.json`: everything `station status` and the console show, plus the
/// schedule to resume from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// [`STATE_FORMAT`].
    pub format: u32,
    /// IPNS or preview.
    pub mode: Mode,
    /// True while a streamer runs; false after a clean stop.
    pub on_air: bool,
    /// Process id of the streamer.
    pub pid: u32,
    /// When this streamer process started.
    pub started_at: DateTime<Utc>,
    /// Last tick (a heartbeat: a stale value means the streamer died).
    pub last_tick_at: DateTime<Utc>,
    /// Seconds between ticks.
    pub update_interval: f64,
    /// Kubo key name.
    pub ipns_key: Option<String>,
    /// The IPNS name listeners open (`/ipns/<name>`).
    pub ipns_name: Option<String>,
    /// Preview URL, in preview mode.
    pub preview_url: Option<String>,
    /// `#EXT-X-MEDIA-SEQUENCE` of the newest window.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE` of the newest window.
    pub discontinuity_sequence: u64,
    /// On air now.
    pub now_playing: Option<ProgrammeEntry>,
    /// Coming up.
    pub next_up: Vec<ProgrammeEntry>,
    /// The newest publish attempt.
    pub last_publish: Option<PublishRecord>,
    /// Recent publish attempts, newest last (at most [`PUBLISH_LOG`]).
    pub publish_log: Vec<PublishRecord>,
    /// Playlist CIDs still pinned by the streamer, oldest first.
    pub pinned_playlists: Vec<String>,
    /// The publish under way, if any (online, a publish waits for the DHT).
    #[serde(default)]
    pub publishing: Option<InFlight>,
    /// How long publishes take (over the publish log).
    #[serde(default)]
    pub publish_stats: PublishStats,
    /// Something the operator should know about the programme (e.g. a refused reload,
    /// items waiting for CIDs).
    pub notice: Option<String>,
    /// The schedule to resume from.
    pub schedule: ScheduleState,
}

impl StreamState {
    /// Whether the streamer is on air at `now`: it says so and its heartbeat is no older
    /// than three intervals (at least 30 s).
    pub fn is_on_air(&self, now: DateTime<Utc>) -> bool {
        let limit = (self.update_interval * 3.0).max(30.0);
        self.on_air && (now - self.last_tick_at).num_milliseconds() as f64 <= limit * 1000.0
    }
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutcome {
    /// The rendered playlist.
    pub playlist: String,
    /// `#EXT-X-MEDIA-SEQUENCE` of it.
    pub media_sequence: u64,
    /// The number of the offer made to the publisher, when the window changed (IPNS
    /// mode).
    pub offered: Option<u64>,
}

/// Modification stamp of the streamer's inputs, to notice rewrites.
fn inputs_stamp(processed: &Path) -> Vec<Option<(SystemTime, u64)>> {
    [manifest::MANIFEST_FILE, manifest::PLAYLIST_FILE]
        .iter()
        .map(|f| {
            std::fs::metadata(processed.join(f))
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Loads the rotation from the processed folder.
///
/// Returns the rotation and a notice about items left out (no CIDs yet).
///
/// Errors: as [`Manifest::load`], [`manifest::load_playlist`], [`Rotation::from_manifest`].
pub fn load_rotation(processed: &Path, require_cids: bool) -> Result<(Rotation, Option<String>)> {
    let m = Manifest::load(processed)?;
    let ids = manifest::load_playlist(processed)?;
    let (rot, skipped) = Rotation::from_manifest(&m, &ids, require_cids)?;
    let notice = (!skipped.is_empty()).then(|| {
        format!(
            "{} item(s) wait for CIDs and are not on air yet: run `station setup` with Kubo running",
            skipped.len()
        )
    });
    Ok((rot, notice))
}

/// The locks a streamer holds for its whole life: its station's stream lock, and in
/// IPNS mode the machine-wide lock of its IPNS key on its Kubo
/// ([`crate::station::state::publish_lock_path`]). Dropping it releases both; so does
/// the process dying in any way.
#[derive(Debug)]
pub struct StreamLocks {
    _station: InstanceLock,
    _publish: Option<InstanceLock>,
}

/// Takes the locks of a streamer of `station` in `mode`, without waiting.
///
/// Errors: [`Error::Locked`] naming the running streamer's pid when this station is on
/// air already, or when another station on this machine publishes under the same IPNS
/// key of the same Kubo; [`Error::Io`].
pub fn lock_stream(station: &Station, mode: Mode) -> Result<StreamLocks> {
    let state = station.state();
    state.create()?;
    let station_lock = state.lock(
        Role::Stream,
        &format!("the streamer of {}", station.dir().display()),
    )?;
    let publish = match mode {
        Mode::Preview => None,
        Mode::Ipns => Some(InstanceLock::try_acquire(
            &crate::station::state::publish_lock_path(
                station.kubo_api(),
                &station.streaming.ipns_key,
            ),
            &format!(
                "a streamer publishing under IPNS key `{}` of the Kubo at {} (station {})",
                station.streaming.ipns_key,
                station.kubo_api(),
                station.dir().display()
            ),
        )?),
    };
    Ok(StreamLocks {
        _station: station_lock,
        _publish: publish,
    })
}

/// The on-air loop of one station.
pub struct Streamer {
    cfg: StreamingConfig,
    processed: PathBuf,
    state_dir: StateDir,
    mode: Mode,
    /// What the publisher needs (IPNS mode).
    target: Option<PublishTarget>,
    /// The publisher, started at the first tick on the streamer's clock.
    publisher: Option<Publisher>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    state: StreamState,
    stamp: Vec<Option<(SystemTime, u64)>>,
    uri: UriStyle,
    last_offered: Option<String>,
    live: Arc<RwLock<String>>,
}

impl Streamer {
    /// Opens the stream: loads the rotation and the saved state (continuing its media
    /// sequence and air clock) or starts a new stream at `now`.
    ///
    /// A state file that cannot be read is kept as `stream_state.json.corrupt-<time>`
    /// and a new stream starts (logged as an error).
    ///
    /// Errors: missing or invalid `manifest.json`/`playlist.m3u`, or no playable item.
    pub fn open(station: &Station, mode: Mode, now: DateTime<Utc>) -> Result<Streamer> {
        let cfg = station.streaming.clone();
        let processed = station.processed_dir().to_path_buf();
        let state_dir = station.state();
        let require_cids = mode == Mode::Ipns;
        let stamp = inputs_stamp(&processed);
        let (rotation, mut notice) = load_rotation(&processed, require_cids)?;
        let rotation = Arc::new(rotation);
        let saved = match state_dir.load_stream_state() {
            Ok(s) if s.format == STATE_FORMAT => Some(s),
            Ok(_) | Err(Error::Parse { .. }) => {
                let keep = state_dir.keep_corrupt_stream_state(now);
                tracing::error!(
                    "{} is unreadable; kept as {} and starting a new stream",
                    state_dir
                        .file(crate::station::state::STREAM_STATE_FILE)
                        .display(),
                    keep.display()
                );
                None
            }
            Err(_) => None,
        };
        let (schedule, prev) = match saved {
            Some(s) => {
                let mut sched = Schedule::resume(s.schedule.clone(), rotation.clone())?;
                if let Err(e) = sched.set_rotation(rotation.clone()) {
                    notice = Some(e.to_string());
                }
                (sched, Some(s))
            }
            None => (
                Schedule::born(
                    rotation.clone(),
                    now,
                    cfg.window_size,
                    cfg.lookahead_segments,
                ),
                None,
            ),
        };
        let uri = match (mode, &cfg.segment_uri_style) {
            (Mode::Preview, _) => UriStyle::Preview,
            (Mode::Ipns, SegmentUriStyle::Path) => UriStyle::IpfsPath,
            (Mode::Ipns, SegmentUriStyle::Bare) => UriStyle::BarePath,
            (Mode::Ipns, SegmentUriStyle::Absolute(b)) => UriStyle::Absolute(b.clone()),
        };
        let interval = cfg.update_interval.map_or_else(
            || rotation.mean_segment_duration().clamp(1.0, 30.0),
            |d| d.as_secs_f64(),
        );
        let target = match mode {
            Mode::Ipns => Some(PublishTarget {
                kubo: Kubo::new(&cfg.kubo_api, cfg.publish_timeout)?,
                options: PublishOptions {
                    key: cfg.ipns_key.clone(),
                    lifetime: cfg.ipns_lifetime.to_string(),
                    ttl: cfg.ipns_ttl.to_string(),
                    allow_offline: true,
                },
                timeout: cfg.publish_timeout,
                title: station.name(),
                state: state_dir.clone(),
            }),
            Mode::Preview => None,
        };
        let state = StreamState {
            format: STATE_FORMAT,
            mode,
            on_air: true,
            pid: std::process::id(),
            started_at: now,
            last_tick_at: now,
            update_interval: interval,
            ipns_key: (mode == Mode::Ipns).then(|| cfg.ipns_key.clone()),
            ipns_name: prev
                .as_ref()
                .filter(|p| p.ipns_key.as_deref() == Some(&cfg.ipns_key))
                .and_then(|p| p.ipns_name.clone()),
            preview_url: None,
            media_sequence: 0,
            discontinuity_sequence: 0,
            now_playing: None,
            next_up: Vec::new(),
            last_publish: prev.as_ref().and_then(|p| p.last_publish.clone()),
            publish_log: prev
                .as_ref()
                .map(|p| p.publish_log.clone())
                .unwrap_or_default(),
            pinned_playlists: prev
                .as_ref()
                .map(|p| p.pinned_playlists.clone())
                .unwrap_or_default(),
            publishing: None,
            publish_stats: prev
                .as_ref()
                .map(|p| p.publish_stats.clone())
                .unwrap_or_default(),
            notice,
            schedule: schedule.state(),
        };
        Ok(Streamer {
            cfg,
            processed,
            state_dir,
            mode,
            target,
            publisher: None,
            clock: Arc::new(SystemClock),
            schedule,
            state,
            stamp,
            uri,
            last_offered: None,
            live: Arc::new(RwLock::new(String::new())),
        })
    }

    /// Seconds between ticks.
    pub fn update_interval(&self) -> f64 {
        self.state.update_interval
    }

    /// The state as last persisted (or about to be).
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// The newest rendered playlist, shared with the preview server.
    pub fn live_playlist(&self) -> Arc<RwLock<String>> {
        self.live.clone()
    }

    fn persist(&self) -> Result<()> {
        self.state_dir.save_stream_state(&self.state)
    }

    /// Picks up rewritten `manifest.json`/`playlist.m3u`: the new rotation takes over at
    /// the next item boundary. A broken rewrite keeps the current rotation on air.
    fn reload_if_changed(&mut self) {
        let stamp = inputs_stamp(&self.processed);
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        match load_rotation(&self.processed, self.mode == Mode::Ipns) {
            Ok((rot, notice)) => match self.schedule.set_rotation(Arc::new(rot)) {
                Ok(()) => {
                    tracing::info!("new rotation loaded; it takes over at the next item boundary");
                    self.state.notice = notice;
                }
                Err(e) => {
                    tracing::error!("{e}");
                    self.state.notice = Some(e.to_string());
                }
            },
            Err(e) => {
                tracing::error!("the processed folder changed but cannot be loaded, keeping the current rotation: {e}");
                self.state.notice = Some(format!("reload refused: {e}"));
            }
        }
    }

    /// One tick at wall-clock `now`: reload inputs if rewritten, advance the schedule,
    /// render the window, persist state, and (IPNS mode) add + publish unless backing
    /// off after a Kubo failure.
    ///
    /// Errors: only when the window cannot be rendered or state cannot be written (Kubo
    /// failures are recorded in the state, not returned).
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickOutcome> {
        self.reload_if_changed();
        let (w_size, look) = (self.cfg.window_size, self.cfg.lookahead_segments);
        self.schedule.advance(now, w_size, look);
        let w = self.schedule.window(now, w_size);
        let text = window::render(&w, &self.uri)?;
        let live = w.live().clone();
        self.state.media_sequence = w.media_sequence;
        self.state.discontinuity_sequence = w.discontinuity_sequence;
        let item_start = w.segments[..=w.live_index]
            .iter()
            .rev()
            .find(|s| s.discontinuity && s.item_id == live.item_id)
            .map_or(live.air_time, |s| s.air_time);
        self.state.now_playing = Some(ProgrammeEntry {
            item_id: live.item_id.clone(),
            title: live.title.clone(),
            kind: Some(live.kind),
            air_time: item_start,
        });
        let media_sequence = w.media_sequence;
        self.state.next_up = self
            .schedule
            .next_up(now, 5)
            .into_iter()
            .map(|(item_id, title, air_time)| ProgrammeEntry {
                item_id,
                title,
                kind: None,
                air_time,
            })
            .collect();
        self.state.last_tick_at = now;
        self.state.on_air = true;
        self.state.schedule = self.schedule.state();
        let mut offered = None;
        if self.mode == Mode::Ipns && self.last_offered.as_deref() != Some(text.as_str()) {
            if let Some(p) = self.publisher_mut() {
                offered = Some(p.offer(text.clone(), media_sequence, now));
            }
            self.last_offered = Some(text.clone());
        }
        self.merge_published();
        self.persist()?;
        if let Ok(mut l) = self.live.write() {
            if *l != text {
                self.state_dir.write_live(&text)?;
            }
            l.clone_from(&text);
        }
        Ok(TickOutcome {
            playlist: text,
            media_sequence,
            offered,
        })
    }

    /// The publisher, started on the streamer's clock at first use (IPNS mode).
    fn publisher_mut(&mut self) -> Option<&mut Publisher> {
        if self.publisher.is_none() {
            let target = self.target.clone()?;
            let start = Published {
                ipns_name: self.state.ipns_name.clone(),
                last: self.state.last_publish.clone(),
                log: self.state.publish_log.clone(),
                pinned: self.state.pinned_playlists.clone(),
                in_flight: None,
                handled: 0,
            };
            self.publisher = Some(Publisher::spawn(target, start, self.clock.clone()));
        }
        self.publisher.as_mut()
    }

    /// Copies what the publisher knows into the state.
    fn merge_published(&mut self) {
        let Some(p) = &self.publisher else { return };
        self.absorb(p.snapshot());
    }

    fn absorb(&mut self, p: Published) {
        if p.ipns_name.is_some() {
            self.state.ipns_name = p.ipns_name;
        }
        self.state.last_publish = p.last;
        self.state.publish_stats = PublishStats::of(&p.log);
        self.state.publish_log = p.log;
        self.state.pinned_playlists = p.pinned;
        self.state.publishing = p.in_flight;
    }

    /// Waits until every window offered so far was handled by the publisher, writes the
    /// state, and returns the newest publish attempt (`None` in preview mode or before
    /// any attempt).
    ///
    /// Errors: when the state cannot be written.
    pub async fn settled(&mut self) -> Result<Option<PublishRecord>> {
        let Some(p) = self.publisher.as_mut() else {
            return Ok(None);
        };
        let rec = p.settled().await;
        self.merge_published();
        self.persist()?;
        Ok(rec)
    }

    /// Runs ticks every `update_interval` on `clock` until `shutdown` resolves, then
    /// stops the publisher (a publish under way is abandoned) and marks the state off
    /// air. Tick errors are logged and the loop goes on.
    ///
    /// Errors: only when the final state cannot be written.
    pub async fn run(
        mut self,
        clock: Arc<dyn Clock>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        self.clock = clock.clone();
        let interval = Duration::from_secs_f64(self.state.update_interval);
        tokio::pin!(shutdown);
        // Ticks are paced on the monotonic clock; a late tick is not made up for (the
        // next one comes an interval after it), like tokio's `MissedTickBehavior::Delay`.
        let mut next = clock.monotonic();
        loop {
            let wait = next.saturating_duration_since(clock.monotonic());
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = clock.sleep(wait) => {}
            }
            match self.tick(clock.now()).await {
                Ok(out) => tracing::debug!("tick: media sequence {}", out.media_sequence),
                Err(e) => tracing::error!("tick failed: {e}"),
            }
            next = (next + interval).max(clock.monotonic());
        }
        if let Some(p) = self.publisher.take() {
            let last = p.stop().await;
            self.absorb(last);
        }
        self.state.on_air = false;
        self.persist()
    }

    /// Marks the stream as served by the preview server at `url`.
    pub fn set_preview_url(&mut self, url: String) {
        self.state.preview_url = Some(url);
    }

    /// The processed folder (for the preview server's segment files).
    pub fn processed_dir(&self) -> PathBuf {
        self.processed.clone()
    }
}

/// Serves the preview: `GET /live.m3u8` (the newest window) and
/// `GET /segments/<item-id>/<file>` (segment files from `items/`), on `listener`.
///
/// Runs until `shutdown` resolves.
///
/// Errors: [`Error::Io`] when serving fails.
pub async fn serve_preview(
    listener: tokio::net::TcpListener,
    live: Arc<RwLock<String>>,
    processed: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;

    #[derive(Clone)]
    struct S {
        live: Arc<RwLock<String>>,
        items: PathBuf,
    }
    async fn playlist(State(s): State<S>) -> impl IntoResponse {
        let text = s.live.read().map(|t| t.clone()).unwrap_or_default();
        if text.is_empty() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain")],
                "starting".to_string(),
            )
                .into_response();
        }
        (
            [
                (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            text,
        )
            .into_response()
    }
    async fn segment(
        State(s): State<S>,
        UrlPath((id, file)): UrlPath<(String, String)>,
    ) -> impl IntoResponse {
        let safe = |x: &str| !x.is_empty() && !x.starts_with('.') && !x.contains(['/', '\\']);
        if !safe(&id) || !safe(&file) {
            return StatusCode::BAD_REQUEST.into_response();
        }
        match tokio::fs::read(s.items.join(&id).join(&file)).await {
            Ok(b) => ([(header::CONTENT_TYPE, "video/mp2t")], b).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = axum::Router::new()
        .route("/live.m3u8", get(playlist))
        .route("/segments/{id}/{file}", get(segment))
        .with_state(S {
            live,
            items: processed.join(manifest::ITEMS_DIR),
        });
    let addr = listener.local_addr().ok();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io(addr.map(|a| a.to_string()).unwrap_or_default(), e))
}
