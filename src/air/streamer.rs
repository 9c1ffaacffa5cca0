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

use crate::air::history::{AsRunEntry, AsRunLog, HISTORY_FILE};
use crate::air::publisher::{PublishTarget, Published, Publisher, SiteContent};
use crate::air::site::{self, SiteBlock, SiteItem, SiteSegments, StationJson};
use crate::air::warm::{GatewayWarmth, Warmer};
use crate::air::window::{
    self, BlockRotation, ItemMeta, Programme, Rotation, SavedProgramme, Schedule, ScheduleState,
    UriStyle, SAVED_PROGRAMME_FORMAT,
};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::kubo::{Kubo, PublishOptions};
use crate::library::ItemKind;
use crate::setup::manifest::{self, Manifest};
use crate::setup::schedule::{ProcessedSchedule, SCHEDULE_FILE};
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

/// File in `data/state/` holding the last programme that was on air
/// ([`SavedProgramme`]): it stays on air when the processed folder becomes unplayable.
pub const ON_AIR_PROGRAMME_FILE: &str = "on_air_programme.json";

mod first_publish;

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
    /// The programme block it airs in.
    #[serde(default)]
    pub block: Option<String>,
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
    /// Set while the programme on air is not the one the processed folder holds (it is
    /// unplayable: every item removed, a broken manifest) or a block plays the default
    /// (nothing playable in its folders): the station stays on air, and health and the
    /// console raise it.
    #[serde(default)]
    pub alarm: Option<String>,
    /// The programme block on air.
    #[serde(default)]
    pub block: Option<String>,
    /// How far the system clock is behind the air clock, seconds, when it was stepped
    /// back (the air clock keeps its pace instead: see [`AirClock`]).
    #[serde(default)]
    pub clock_behind_seconds: Option<f64>,
    /// How warming the public gateways goes ([`crate::air::warm`]), per gateway.
    #[serde(default)]
    pub warming: Vec<GatewayWarmth>,
    /// The segments the station's site links in `s/` (the window and
    /// [`site::SITE_PAST`] seconds before it), oldest first: a restarted streamer of the
    /// same stream links them again (IPNS mode; absent in older files: empty).
    #[serde(default)]
    pub site_segments: Vec<site::SiteSegment>,
    /// True from a new stream's start (IPNS mode) until its first publish lands: nobody
    /// can hear the stream yet, so nothing is logged as aired and the air clock has not
    /// started ([`Streamer::run`]). A streamer that finds it set in the saved state starts
    /// a new stream (absent in older files: false).
    #[serde(default)]
    pub provisional: bool,
    /// Seconds the air clock runs behind the wall clock: how long the stream's first
    /// publish took to land, so its live point was dated when listeners could first
    /// fetch it (0 in preview mode and in older files).
    #[serde(default)]
    pub air_lag_seconds: f64,
    /// The schedule to resume from.
    pub schedule: ScheduleState,
}

impl StreamState {
    /// Whether the streamer is on air at `now`: it says so and its heartbeat is no older
    /// than three intervals (at least 30 s).
    pub fn is_on_air(&self, now: DateTime<Utc>) -> bool {
        let limit = (self.update_interval * 3.0).max(30.0);
        self.on_air && self.heartbeat_age(now) <= limit
    }

    /// Seconds since the last tick at wall-clock `now`: `last_tick_at` is air time, which
    /// runs [`StreamState::air_lag_seconds`] behind the wall clock.
    pub fn heartbeat_age(&self, now: DateTime<Utc>) -> f64 {
        (now - self.last_tick_at).num_milliseconds() as f64 / 1000.0 - self.air_lag_seconds
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
    [
        manifest::MANIFEST_FILE,
        manifest::PLAYLIST_FILE,
        SCHEDULE_FILE,
    ]
    .iter()
    .map(|f| {
        std::fs::metadata(processed.join(f))
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    })
    .collect()
}

/// Loads the programme from the processed folder: the default rotation
/// (`playlist.m3u`), and with `schedule.json` the timetable and each block's rotation,
/// items from `manifest.json`.
///
/// Returns the programme and a notice about items left out (no CIDs yet).
///
/// Errors: as [`Manifest::load`], [`manifest::load_playlist`],
/// [`ProcessedSchedule::load`], [`Rotation::from_manifest`] (for the default; a block
/// with nothing playable gets no rotation).
pub fn load_programme(processed: &Path, require_cids: bool) -> Result<(Programme, Option<String>)> {
    let m = Manifest::load(processed)?;
    let ids = manifest::load_playlist(processed)?;
    let schedule = ProcessedSchedule::load(processed)?;
    let (default, mut skipped) = Rotation::from_manifest(&m, &ids, require_cids)?;
    let mut blocks = Vec::new();
    for b in schedule.iter().flat_map(|s| &s.blocks) {
        let rotation = match Rotation::from_manifest(&m, &b.rotation, require_cids) {
            Ok((r, more)) => {
                for id in more {
                    if !skipped.contains(&id) {
                        skipped.push(id);
                    }
                }
                Some(Arc::new(r))
            }
            Err(Error::Rotation(_)) => None,
            Err(e) => return Err(e),
        };
        blocks.push(BlockRotation {
            name: b.name.clone(),
            rotation,
        });
    }
    let meta = m
        .items
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                ItemMeta {
                    title: i.title.clone(),
                    artist: i.artist.clone(),
                    album: i.album.clone(),
                    isrc: i.isrc.clone(),
                },
            )
        })
        .collect();
    let programme = Programme::new(
        Arc::new(default),
        blocks,
        schedule,
        m.segment_duration,
        meta,
    );
    let notice = (!skipped.is_empty()).then(|| {
        format!(
            "{} item(s) wait for CIDs and are not on air yet: run `station setup` with Kubo running",
            skipped.len()
        )
    });
    Ok((programme, notice))
}

/// The alarm for a programme some of whose blocks have nothing playable.
fn empty_blocks_alarm(p: &Programme) -> Option<String> {
    let empty = p.empty_blocks();
    (!empty.is_empty()).then(|| {
        format!(
            "programme block(s) {} have nothing playable (empty folder, or no CIDs yet): the default rotation plays in their hours",
            empty.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
        )
    })
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
    /// The as-run log.
    history: AsRunLog,
    /// A new stream's birth, or the switch from a local preview to IPNS: items that
    /// ended before it never aired.
    born_at: Option<DateTime<Utc>>,
    /// Hash of the programme saved as the last good one.
    saved_hash: Option<String>,
    /// Set while the programme on air is the saved one, not the processed folder's.
    fallback_alarm: Option<String>,
    /// Since when the processed folder changed but cannot be loaded, and why.
    reload_failing: Option<(DateTime<Utc>, String)>,
    /// The last tick of the stream this one resumes (the air clock does not start
    /// before it).
    resumed_from: Option<DateTime<Utc>>,
    /// The station's name (`station.json`).
    station_name: String,
    /// The segments the site links (IPNS mode).
    site: SiteSegments,
    /// The warmer of the public gateways (IPNS mode, started at the first tick).
    warmer: Option<Warmer>,
    /// The items logged as aired since [`site::history_since`], oldest first (the
    /// site's `history.json`, and `station.json`'s recent history).
    day: std::collections::VecDeque<AsRunEntry>,
    /// `history.json`'s bytes for `day`, made again when `day` changes.
    day_json: Option<Arc<Vec<u8>>>,
    /// The programme blocks of the next 24 hours, by the minute and programme they were
    /// computed for.
    blocks_cache: Option<(i64, String, Vec<SiteBlock>)>,
}

/// Items of `station.json`'s history and next up.
pub const SITE_ITEMS: usize = 5;
/// How long one warming request may take.
pub const WARM_TIMEOUT: Duration = Duration::from_secs(60);

/// How far the wall clock may fall behind the air clock's own pace before it counts as
/// stepped back (NTP slews by far less; a step is a correction or a wrong clock).
pub const CLOCK_STEP_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// The air clock: the wall clock as the streamer follows it, so that program date times
/// never go back and the window keeps sliding at segment pace whatever the wall clock does
/// (issue 11). It advances by monotonic time between ticks; it takes the wall clock when
/// that agrees (within [`CLOCK_STEP_TOLERANCE`]) or is ahead (a forward step, a resume
/// from suspend: the schedule then skips ahead, see [`Schedule::advance`]); when the wall
/// clock falls behind (stepped back) it keeps its own pace and says by how much.
#[derive(Debug, Clone, Copy, Default)]
pub struct AirClock {
    last: Option<(DateTime<Utc>, tokio::time::Instant)>,
}

impl AirClock {
    /// An air clock that starts at the wall clock, but not before `floor` (the last tick
    /// of a stream being resumed: a clock stepped back while the station was off does
    /// not take the stream back).
    pub fn starting(
        floor: Option<DateTime<Utc>>,
        wall: DateTime<Utc>,
        mono: tokio::time::Instant,
    ) -> AirClock {
        AirClock {
            last: Some((floor.map_or(wall, |f| f.max(wall)), mono)),
        }
    }

    /// The air time for wall-clock `wall` at monotonic `mono`, and how far the wall clock
    /// is behind it (zero unless stepped back).
    pub fn now(
        &mut self,
        wall: DateTime<Utc>,
        mono: tokio::time::Instant,
    ) -> (DateTime<Utc>, chrono::TimeDelta) {
        let air = match self.last {
            None => wall,
            Some((t, m)) => {
                let elapsed = chrono::TimeDelta::from_std(mono.saturating_duration_since(m))
                    .unwrap_or(chrono::TimeDelta::MAX);
                let predicted = t + elapsed;
                let air = if wall < predicted - CLOCK_STEP_TOLERANCE {
                    predicted
                } else {
                    wall
                };
                air.max(t)
            }
        };
        self.last = Some((air, mono));
        (air, (air - wall).max(chrono::TimeDelta::zero()))
    }
}

/// How long a rewritten processed folder may stay unloadable before it raises an alarm
/// (setup writes `manifest.json`, then `playlist.m3u`, then `schedule.json`: a tick may
/// see one new and another old).
const RELOAD_ALARM_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// Reads the last good programme saved in `state` (`None` when there is none, it is
/// unreadable, or `require_cids` and a segment lacks one).
fn load_saved_programme(state: &StateDir, require_cids: bool) -> Option<Programme> {
    let path = state.file(ON_AIR_PROGRAMME_FILE);
    let saved: SavedProgramme = match crate::station::atomic::read_json(&path) {
        Ok(s) => s,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return None
        }
        Err(e) => {
            tracing::error!("the last good programme cannot be read: {e}");
            return None;
        }
    };
    if saved.format != SAVED_PROGRAMME_FORMAT {
        return None;
    }
    let all_cids = std::iter::once(&saved.default)
        .chain(saved.blocks.iter().map(|b| &b.entries))
        .flatten()
        .flat_map(|i| &i.segments)
        .all(|s| s.cid.is_some());
    if require_cids && !all_cids {
        return None;
    }
    Programme::from_saved(saved).ok()
}

impl Streamer {
    /// Opens the stream: loads the programme and the saved state (continuing its media
    /// sequence and air clock) or starts a new stream at `now`.
    ///
    /// A state file that cannot be read is kept as `stream_state.json.corrupt-<time>`
    /// and a new stream starts (logged as an error). A processed folder that cannot be
    /// loaded falls back to the last good programme (`on_air_programme.json`) with an
    /// alarm. A programme whose segments exceed the resumed stream's target duration
    /// waits (the last good programme stays, with a notice), as on a hot reload.
    ///
    /// Errors: the processed folder is unplayable and no good programme was saved
    /// (missing or invalid `manifest.json`/`playlist.m3u`, no playable item);
    /// [`Error::Window`] for longer segments with nothing earlier to keep on air.
    pub fn open(station: &Station, mode: Mode, now: DateTime<Utc>) -> Result<Streamer> {
        Streamer::open_with(station, mode, now, false)
    }

    /// [`Streamer::open`], or with `new_stream` a new stream (media sequence 0, born at
    /// `now`) whatever state is saved; the IPNS name, pins and publish log carry over.
    ///
    /// Errors: as [`Streamer::open`].
    pub fn open_with(
        station: &Station,
        mode: Mode,
        now: DateTime<Utc>,
        new_stream: bool,
    ) -> Result<Streamer> {
        let cfg = station.streaming.clone();
        let processed = station.processed_dir().to_path_buf();
        let state_dir = station.state();
        let require_cids = mode == Mode::Ipns;
        let stamp = inputs_stamp(&processed);
        let (programme, mut notice, fallback_alarm) = match load_programme(&processed, require_cids)
        {
            Ok((p, n)) => (p, n, None),
            Err(e) => match load_saved_programme(&state_dir, require_cids) {
                Some(p) => {
                    let alarm = format!(
                        "the processed folder is unplayable ({e}); the last good programme stays on air until setup makes a playable one"
                    );
                    tracing::error!("{alarm}");
                    (p, None, Some(alarm))
                }
                None => return Err(e),
            },
        };
        let programme = Arc::new(programme);
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
        // The saved state's publishing (IPNS name, pins, log) carries over; its schedule
        // only when the stream continues.
        let prev = saved;
        let saved = match (&prev, new_stream) {
            (Some(s), true) => {
                tracing::info!(
                    "starting a new stream as asked: media sequence {} and its schedule are left behind",
                    s.media_sequence
                );
                None
            }
            (Some(s), false) if s.provisional && s.mode == mode => {
                tracing::info!(
                    "the last streamer stopped before its first publish landed (nobody heard it): a new stream starts"
                );
                None
            }
            _ => prev.clone(),
        };
        // A restart on longer segments (a re-encode with a longer segment_duration) is
        // held to the target-duration rule as a hot reload is: the last good programme
        // stays on air, the new one waits for a new stream.
        let mut programme = programme;
        if let Some(s) = &saved {
            let longest = programme.longest_segment();
            if s.schedule.rotation_hash != programme.hash()
                && longest.round() as u64 > s.schedule.target_duration
            {
                let why = format!(
                    "the processed folder's programme has {longest:.3} s segments, over this stream's target duration of {} s (RFC 8216 4.3.3.1 fixes it for the stream's life)",
                    s.schedule.target_duration
                );
                let fits = load_saved_programme(&state_dir, require_cids)
                    .filter(|p| p.longest_segment().round() as u64 <= s.schedule.target_duration);
                match fits {
                    Some(p) => {
                        tracing::warn!("{why}: the programme on air stays");
                        notice = Some(format!(
                            "{why}: the programme on air stays; start a new stream to change the segment length (`station stream --new-stream`)"
                        ));
                        programme = Arc::new(p);
                    }
                    None => {
                        return Err(Error::Window(format!(
                            "{why}, and there is no earlier programme to keep on air: start a new stream with `station stream --new-stream` (the media sequence starts again; players reload)"
                        )))
                    }
                }
            }
        }
        let resumed_from = saved.as_ref().map(|s| s.last_tick_at);
        let schedule = match &saved {
            Some(s) => {
                let mut sched = Schedule::resume(s.schedule.clone(), programme.clone())?;
                if let Err(e) = sched.set_programme(programme.clone()) {
                    notice = Some(e.to_string());
                }
                sched.refresh_cids(&programme);
                sched
            }
            None => Schedule::born(programme.clone(), now),
        };
        // Nothing airs before a new stream, nor before a stream that a local preview
        // played until now (a preview is heard by nobody but the operator).
        let born_at = (saved.is_none()
            || (mode == Mode::Ipns && saved.as_ref().is_some_and(|s| s.mode == Mode::Preview)))
        .then_some(now);
        let history_path = state_dir.file(HISTORY_FILE);
        let history = AsRunLog::open(&history_path)?;
        let uri = match (mode, &cfg.segment_uri_style) {
            (Mode::Preview, _) => UriStyle::Preview,
            (Mode::Ipns, SegmentUriStyle::Relative) => UriStyle::Site,
            (Mode::Ipns, SegmentUriStyle::Path) => UriStyle::IpfsPath,
            (Mode::Ipns, SegmentUriStyle::Bare) => UriStyle::BarePath,
            (Mode::Ipns, SegmentUriStyle::Absolute(b)) => UriStyle::Absolute(b.clone()),
        };
        let interval = cfg.update_interval.map_or_else(
            || programme.mean_segment_duration().clamp(1.0, 30.0),
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
                max_backoff: Duration::from_secs_f64(interval),
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
            alarm: fallback_alarm
                .clone()
                .or_else(|| empty_blocks_alarm(&programme)),
            block: None,
            clock_behind_seconds: None,
            warming: Vec::new(),
            site_segments: Vec::new(),
            provisional: mode == Mode::Ipns && saved.is_none(),
            air_lag_seconds: saved.as_ref().map_or(0.0, |s| s.air_lag_seconds),
            schedule: schedule.state(),
        };
        let mut streamer = Streamer {
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
            history,
            born_at,
            saved_hash: None,
            fallback_alarm,
            reload_failing: None,
            resumed_from,
            station_name: station.name(),
            // The same stream goes on: link the past its previous streamer linked.
            site: match (&saved, mode) {
                (Some(s), Mode::Ipns) => SiteSegments::from_saved(&s.site_segments),
                _ => SiteSegments::default(),
            },
            warmer: None,
            day: {
                let since = site::history_since(now);
                match crate::air::history::read(&history_path, Some(since), None) {
                    Ok(h) => h.entries.into(),
                    Err(e) => {
                        tracing::warn!("the as-run log cannot be read for the site's history.json (it starts empty): {e}");
                        Default::default()
                    }
                }
            },
            day_json: None,
            blocks_cache: None,
        };
        if streamer.fallback_alarm.is_none() {
            streamer.remember(&programme);
        }
        Ok(streamer)
    }

    /// Saves `p` as the last good programme when it is not the one saved already.
    fn remember(&mut self, p: &Programme) {
        if self.saved_hash.as_deref() == Some(p.hash()) {
            return;
        }
        let path = self.state_dir.file(ON_AIR_PROGRAMME_FILE);
        let current = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("hash").and_then(|h| h.as_str()).map(String::from));
        if current.as_deref() != Some(p.hash()) {
            if let Err(e) = crate::station::atomic::write_json_atomic(&path, &p.to_saved()) {
                tracing::warn!("the last good programme could not be saved: {e}");
                return;
            }
        }
        self.saved_hash = Some(p.hash().to_string());
    }

    /// Appends the items whose air start has come to the as-run log (each once, see
    /// [`crate::air::history`]); IPNS mode only: a local preview airs nothing.
    fn log_aired(&mut self, now: DateTime<Utc>) {
        // A local preview airs nothing, nor a stream whose first publish has not landed:
        // the as-run log is what listeners heard.
        if self.mode == Mode::Preview || self.state.provisional {
            return;
        }
        let programme = self.schedule.programme().clone();
        let entries: Vec<AsRunEntry> = self
            .schedule
            .segments()
            .filter(|s| s.starts_item() && s.air_time <= now && self.history.is_new(s.air_time))
            .filter_map(|s| {
                let end = self
                    .schedule
                    .item_end(s.sequence)
                    .unwrap_or_else(|| s.end_time());
                if self.born_at.is_some_and(|b| end <= b) {
                    return None;
                }
                let meta = programme.meta(&s.item_id);
                Some(AsRunEntry {
                    air_start: s.air_time,
                    air_end: end,
                    item_id: s.item_id.clone(),
                    kind: s.kind,
                    title: meta.map_or_else(|| s.title.clone(), |m| m.title.clone()),
                    artist: meta.and_then(|m| m.artist.clone()),
                    album: meta.and_then(|m| m.album.clone()),
                    isrc: meta.and_then(|m| m.isrc.clone()),
                    duration: ((end - s.air_time).num_milliseconds() as f64 / 1000.0).max(0.0),
                    block: s.block.clone(),
                    media_sequence: s.sequence,
                })
            })
            .collect();
        match self.history.append(&entries) {
            Ok(0) => {}
            Ok(_) => {
                for e in entries {
                    if self.day.back().is_none_or(|r| r.air_start < e.air_start) {
                        self.day.push_back(e);
                    }
                }
                // The same entries a restarted streamer reads back (air start at or
                // after the whole hour a day before), so its history.json is the same.
                let since = site::history_since(now);
                while self.day.front().is_some_and(|e| e.air_start < since) {
                    self.day.pop_front();
                }
                self.day_json = None;
            }
            Err(e) => {
                tracing::error!("the as-run log cannot be written (tried again next tick): {e}")
            }
        }
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

    /// Picks up a rewritten processed folder (`manifest.json`, `playlist.m3u`,
    /// `schedule.json`): the new programme takes over at the next item boundary. A
    /// rewrite that cannot be loaded keeps the current programme on air, is tried again
    /// every tick, and raises an alarm after [`RELOAD_ALARM_AFTER`].
    fn reload_if_changed(&mut self, now: DateTime<Utc>) {
        let stamp = inputs_stamp(&self.processed);
        if stamp == self.stamp && self.reload_failing.is_none() {
            return;
        }
        self.stamp = stamp;
        match load_programme(&self.processed, self.mode == Mode::Ipns) {
            Ok((p, notice)) => {
                let p = Arc::new(p);
                match self.schedule.set_programme(p.clone()) {
                    Ok(()) => {
                        tracing::info!(
                            "new programme loaded; it takes over at the next item boundary"
                        );
                        self.state.notice = notice;
                        self.fallback_alarm = None;
                        self.remember(&p);
                    }
                    Err(e) => {
                        tracing::error!("{e}");
                        self.state.notice = Some(e.to_string());
                    }
                }
                self.reload_failing = None;
            }
            Err(e) => {
                if self.reload_failing.is_none() {
                    tracing::warn!("the processed folder changed but cannot be loaded, keeping the current programme: {e}");
                }
                let since = self.reload_failing.as_ref().map_or(now, |(t, _)| *t);
                self.reload_failing = Some((since, e.to_string()));
            }
        }
    }

    /// The alarm to show now, if any.
    fn alarm(&self, now: DateTime<Utc>) -> Option<String> {
        let failing = self.reload_failing.as_ref().filter(|(since, _)| now - *since >= RELOAD_ALARM_AFTER).map(|(_, e)| {
            format!("the processed folder cannot be loaded ({e}); the programme on air stays until setup makes a playable one")
        });
        self.fallback_alarm
            .clone()
            .or(failing)
            .or_else(|| empty_blocks_alarm(self.schedule.programme()))
    }

    /// One tick at wall-clock `now`: reload inputs if rewritten, advance the schedule,
    /// render the window, persist state, and (IPNS mode) add + publish unless backing
    /// off after a Kubo failure.
    ///
    /// Errors: only when the window cannot be rendered or state cannot be written (Kubo
    /// failures are recorded in the state, not returned).
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickOutcome> {
        self.reload_if_changed(now);
        let (w_size, look) = (self.cfg.window_size, self.cfg.lookahead_segments);
        // Items that started since the last tick (or while the streamer was down: the
        // saved lookahead aired on) are logged before the window slides past them.
        self.log_aired(now);
        self.schedule.advance(now, w_size, look);
        self.log_aired(now);
        let w = self.schedule.window(now, w_size);
        let text = window::render(&w, &self.uri)?;
        let live = w.live().clone();
        self.state.media_sequence = w.media_sequence;
        self.state.discontinuity_sequence = w.discontinuity_sequence;
        let item_start = w.segments[..=w.live_index]
            .iter()
            .rev()
            .find(|s| s.starts_item() && s.item_id == live.item_id)
            .map_or(live.air_time, |s| s.air_time);
        self.state.now_playing = Some(ProgrammeEntry {
            item_id: live.item_id.clone(),
            title: live.title.clone(),
            kind: Some(live.kind),
            air_time: item_start,
            block: Some(live.block.clone()),
        });
        self.state.block = Some(live.block.clone());
        self.state.alarm = self.alarm(now);
        let media_sequence = w.media_sequence;
        self.state.next_up = self
            .schedule
            .next_up(now, 5)
            .into_iter()
            .map(|i| ProgrammeEntry {
                item_id: i.item_id,
                title: i.title,
                kind: Some(i.kind),
                air_time: i.air_time,
                block: Some(i.block),
            })
            .collect();
        self.state.last_tick_at = now;
        self.state.on_air = true;
        self.state.schedule = self.schedule.state();
        let mut offered = None;
        if self.mode == Mode::Ipns {
            let newest = w.segments.last().map_or(0, |s| s.sequence);
            for s in &w.segments {
                if let Some(c) = &s.cid {
                    self.site.insert(s.sequence, c, s.end_time());
                }
            }
            self.site.trim(now, newest);
            self.state.site_segments = self.site.saved();
            let mut ahead: Vec<(String, Option<DateTime<Utc>>)> = w.segments[w.live_index..]
                .iter()
                .filter_map(|s| Some((s.cid.clone()?, Some(s.air_time))))
                .collect();
            // The newest site's playlist and station.json, which every player reloads.
            if let Some(root) = self
                .state
                .last_publish
                .as_ref()
                .filter(|p| p.ok)
                .and_then(|p| p.cid.as_deref())
            {
                for f in [site::PLAYLIST_FILE, crate::air::listener::STATION_FILE] {
                    ahead.push((format!("{root}/{f}"), None));
                }
            }
            if let Some(warmer) = self.warmer_mut() {
                warmer.warm(ahead.iter().map(|(p, t)| (p.as_str(), *t)));
                self.state.warming = warmer.report();
            }
        }
        if self.mode == Mode::Ipns && self.last_offered.as_deref() != Some(text.as_str()) {
            let site = SiteContent {
                segments: self.site.links(),
                station: self.station_json(now),
                history: self.day_json(),
            };
            if let Some(p) = self.publisher_mut() {
                offered = Some(p.offer(text.clone(), media_sequence, now, site));
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

    /// The warmer, started at first use when `warm_gateways` names any (IPNS mode).
    fn warmer_mut(&mut self) -> Option<&Warmer> {
        if self.warmer.is_none() && !self.cfg.warm_gateways.is_empty() {
            self.warmer = Warmer::new(&self.cfg.warm_gateways, WARM_TIMEOUT, self.clock.clone());
            if self.warmer.is_none() {
                // Not buildable: never tried again.
                self.cfg.warm_gateways.clear();
            }
        }
        self.warmer.as_ref()
    }

    /// `station.json` at `now` (its `ipns_name` is the publisher's to fill in).
    fn station_json(&mut self, now: DateTime<Utc>) -> StationJson {
        let programme = self.schedule.programme().clone();
        let item = |id: &str, fallback: &str, kind, air_time, duration| {
            let meta = programme.meta(id);
            SiteItem {
                title: meta.map_or_else(|| fallback.to_string(), |m| m.title.clone()),
                artist: meta.and_then(|m| m.artist.clone()),
                kind,
                air_start: site::rfc3339(air_time),
                duration,
            }
        };
        let mut now_playing = None;
        let mut next_up = Vec::new();
        for i in self
            .schedule
            .items_between(now, DateTime::<Utc>::MAX_UTC, SITE_ITEMS + 1)
        {
            let it = item(&i.item_id, &i.title, i.kind, i.air_time, i.duration);
            if i.air_time <= now {
                now_playing = Some(it);
            } else if next_up.len() < SITE_ITEMS {
                next_up.push(it);
            }
        }
        let mut history: Vec<SiteItem> = self
            .day
            .iter()
            .rev()
            .filter(|e| {
                e.air_start < now
                    && now_playing
                        .as_ref()
                        .is_none_or(|n| n.air_start != site::rfc3339(e.air_start))
            })
            .take(SITE_ITEMS)
            .map(SiteItem::aired)
            .collect();
        history.reverse();
        StationJson {
            format: site::STATION_FORMAT,
            station: self.station_name.clone(),
            // The publisher fills it in with the name of the key it publishes under.
            ipns_name: None,
            stream: site::PLAYLIST_FILE.into(),
            updated_at: site::rfc3339(now),
            now_playing,
            next_up,
            programme: self.blocks_ahead(now),
            history,
        }
    }

    /// `history.json`'s bytes: the as-run log since [`site::history_since`]
    /// ([`site::SiteHistory`]), made again only when an item was logged.
    fn day_json(&mut self) -> Arc<Vec<u8>> {
        if let Some(b) = &self.day_json {
            return b.clone();
        }
        let h = site::SiteHistory {
            format: 1,
            hours: site::HISTORY_HOURS,
            items: self.day.iter().cloned().collect(),
        };
        let bytes = Arc::new(serde_json::to_vec(&h).unwrap_or_else(|_| b"{}".to_vec()));
        self.day_json = Some(bytes.clone());
        bytes
    }

    /// The programme blocks of the 24 hours from `now` (empty without a schedule),
    /// recomputed once a minute or when the programme changes.
    fn blocks_ahead(&mut self, now: DateTime<Utc>) -> Vec<SiteBlock> {
        let minute = now.timestamp().div_euclid(60);
        let programme = self.schedule.programme().clone();
        if let Some((m, h, b)) = &self.blocks_cache {
            if *m == minute && *h == programme.hash() {
                return b.clone();
            }
        }
        let mut out: Vec<SiteBlock> = Vec::new();
        if programme.timetable().is_some() {
            // Blocks start and end on whole minutes (local time): a minute's steps find
            // every change.
            let start = DateTime::<Utc>::from_timestamp(minute * 60, 0).unwrap_or(now);
            let mut cur = (programme.block_at(start).to_string(), start);
            for m in 1..=24 * 60 {
                let t = start + chrono::Duration::minutes(m);
                let b = programme.block_at(t);
                if b != cur.0 || m == 24 * 60 {
                    out.push(SiteBlock {
                        block: cur.0.clone(),
                        start: site::rfc3339(cur.1),
                        end: site::rfc3339(t),
                    });
                    cur = (b.to_string(), t);
                }
            }
        }
        self.blocks_cache = Some((minute, programme.hash().to_string(), out.clone()));
        out
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
        // A new stream is heard from its first publish that lands (made since its birth:
        // the log may hold an earlier stream's).
        if self.state.provisional
            && p.log.iter().any(|r| {
                r.ok && r
                    .rendered_at
                    .zip(self.born_at)
                    .is_some_and(|(made, born)| made >= born)
            })
        {
            self.state.provisional = false;
        }
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
        // A new stream is on air once its first window lands; the air clock then runs
        // behind the wall clock by how long that took (see `first_publish`).
        let lag = if self.state.provisional {
            self.first_publish(&clock, &mut shutdown).await?
        } else {
            Some(chrono::TimeDelta::milliseconds(
                (self.state.air_lag_seconds * 1000.0) as i64,
            ))
        };
        let stopped = lag.is_none();
        let lag = lag.unwrap_or_default();
        // Ticks are paced on the monotonic clock; a late tick is not made up for (the
        // next one comes an interval after it), like tokio's `MissedTickBehavior::Delay`.
        let mut next = clock.monotonic();
        // Air time follows the wall clock (less the lag) but never goes back (see
        // [`AirClock`]).
        let mut air = AirClock::starting(self.resumed_from, clock.now() - lag, clock.monotonic());
        let mut behind_logged = false;
        loop {
            if stopped {
                break;
            }
            let wait = next.saturating_duration_since(clock.monotonic());
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = clock.sleep(wait) => {}
            }
            let (now, behind) = air.now(clock.now() - lag, clock.monotonic());
            self.state.clock_behind_seconds =
                (behind > CLOCK_STEP_TOLERANCE).then(|| behind.num_milliseconds() as f64 / 1000.0);
            if behind > CLOCK_STEP_TOLERANCE && !behind_logged {
                tracing::warn!(
                    "the system clock went back by {:.1} s: the air clock keeps its pace (program date times stay ahead of this machine's clock until it catches up)",
                    behind.num_milliseconds() as f64 / 1000.0
                );
            }
            behind_logged = behind > CLOCK_STEP_TOLERANCE;
            match self.tick(now).await {
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
