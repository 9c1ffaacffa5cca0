//! The station on air, as the console drives and shows it: the streamer and the health
//! monitor as processes of their own (`station stream`, `station health`) that outlive
//! the console ([`start`], [`stop`], [`running`]), the live window listeners see
//! ([`live_window`], from `data/state/live.m3u8`), and the rotation ahead as a timeline
//! ([`timeline`]).
//!
//! The processes are found again through their pid files in `data/state/` and the
//! streamer's heartbeat in `stream_state.json`, so a console that was closed or killed
//! reattaches to a running stream.

use crate::air::streamer::{StreamState, LIVE_FILE};
use crate::air::window::{Rotation, Schedule};
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::manifest::{self, Manifest};
use crate::station::config::SetupConfig;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A process the console runs for the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `station stream`: the on-air loop.
    Stream,
    /// `station health`: the monitor.
    Health,
}

impl Role {
    fn pid_file(self) -> &'static str {
        match self {
            Role::Stream => "stream.pid",
            Role::Health => "health.pid",
        }
    }
    fn log_file(self) -> &'static str {
        match self {
            Role::Stream => "stream.log",
            Role::Health => "health.log",
        }
    }
    fn args(self) -> &'static [&'static str] {
        match self {
            Role::Stream => &["stream"],
            Role::Health => &["health"],
        }
    }
}

/// Whether process `pid` exists and is not a zombie (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 (after the parenthesised name) is the state; `Z` is a zombie.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// The running process of `role`, if its pid file names a live process. For the
/// streamer, a stream started another way (e.g. `station stream` in a terminal) counts
/// too: `stream_state.json` names its pid and its heartbeat is fresh.
pub fn running(station: &Path, role: Role) -> Option<u32> {
    let dir = crate::station::state_dir(station);
    let from_file = std::fs::read_to_string(dir.join(role.pid_file()))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .filter(|pid| pid_alive(*pid));
    if from_file.is_some() || role != Role::Stream {
        return from_file;
    }
    StreamState::load(&dir)
        .ok()
        .filter(|s| s.is_on_air(Utc::now()) && pid_alive(s.pid))
        .map(|s| s.pid)
}

/// Starts `<station_bin> stream|health --station <station>` as a process of its own
/// (own process group, so closing or killing the console does not take it down), its
/// output appended to `data/state/stream.log` / `health.log`, its pid in
/// `data/state/stream.pid` / `health.pid`. Returns the pid; when one already runs,
/// returns that one and starts nothing.
///
/// Errors: [`Error::ToolMissing`] when `station_bin` cannot be run; [`Error::Io`].
pub fn start(station: &Path, station_bin: &Path, role: Role) -> Result<u32> {
    if let Some(pid) = running(station, role) {
        return Ok(pid);
    }
    let dir = crate::station::state_dir(station);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let log_path = dir.join(role.log_file());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
    let log2 = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
    let mut cmd = Command::new(station_bin);
    cmd.args(role.args())
        .arg("--station")
        .arg(station)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| Error::ToolMissing {
        tool: station_bin.display().to_string(),
        hint: format!("cannot run it ({e}); build it with `cargo build --release --bin station`"),
    })?;
    let pid = child.id();
    // The child is reaped by whoever outlives it; the console keeps no handle, so a
    // closed console leaves it running.
    drop(child);
    crate::station::atomic::write_atomic(&dir.join(role.pid_file()), pid.to_string().as_bytes())?;
    Ok(pid)
}

/// Stops the process of `role`: SIGTERM (the streamer then publishes nothing more and
/// writes its state), then waits up to `timeout` for it to exit, then SIGKILL. Returns
/// whether a process was running.
///
/// Errors: [`Error::Io`] when `kill` cannot be run.
pub fn stop(station: &Path, role: Role, timeout: Duration) -> Result<bool> {
    let pid_file = crate::station::state_dir(station).join(role.pid_file());
    let Some(pid) = running(station, role) else {
        let _ = std::fs::remove_file(&pid_file);
        return Ok(false);
    };
    let kill = |sig: &str| {
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::io("kill", e))
    };
    kill("-TERM")?;
    let t = Instant::now();
    while pid_alive(pid) && t.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        kill("-KILL")?;
    }
    let _ = std::fs::remove_file(&pid_file);
    Ok(true)
}

/// One segment of the live window, as listeners see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSegment {
    /// Media sequence number (RFC 8216 section 6.3.2: first is `#EXT-X-MEDIA-SEQUENCE`).
    pub media_sequence: u64,
    /// `#EXTINF` title (the item's `Artist - Title`).
    pub title: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Air time (`#EXT-X-PROGRAM-DATE-TIME`), RFC 3339.
    pub air_time: Option<String>,
    /// Whether `#EXT-X-DISCONTINUITY` precedes it (an item starts).
    pub discontinuity: bool,
    /// On air now (the live point).
    pub live: bool,
    /// Past the live point (the lookahead).
    pub lookahead: bool,
    /// The segment URI (`/ipfs/<cid>...`).
    pub uri: String,
}

/// The live window: the newest playlist the streamer rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveWindow {
    /// `#EXT-X-MEDIA-SEQUENCE`.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`.
    pub discontinuity_sequence: u64,
    /// `#EXT-X-TARGETDURATION`, seconds.
    pub target_duration: u64,
    /// Segments, oldest first.
    pub segments: Vec<WindowSegment>,
}

/// Reads `data/state/live.m3u8` (written by the streamer every tick) and marks the live
/// point and the lookahead against `now`. `Ok(None)` when there is none yet.
///
/// Errors: [`Error::Manifest`] when the file is not a media playlist.
pub fn live_window(station: &Path, now: DateTime<Utc>) -> Result<Option<LiveWindow>> {
    let path = crate::station::state_dir(station).join(LIVE_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let pl = match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        _ => {
            return Err(Error::Manifest {
                file: path,
                message: "not an HLS media playlist".into(),
            })
        }
    };
    let mut segments = Vec::with_capacity(pl.segments.len());
    let mut t: Option<DateTime<Utc>> = None;
    for (i, s) in pl.segments.iter().enumerate() {
        if let Some(pdt) = s.program_date_time {
            t = Some(pdt.with_timezone(&Utc));
        }
        let start = t;
        let dur = f64::from(s.duration);
        let end = start.map(|a| a + chrono::Duration::milliseconds((dur * 1000.0) as i64));
        segments.push(WindowSegment {
            media_sequence: pl.media_sequence + i as u64,
            title: s.title.clone().unwrap_or_default(),
            duration: dur,
            air_time: start.map(|a| a.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            discontinuity: s.discontinuity,
            live: matches!((start, end), (Some(a), Some(b)) if a <= now && now < b),
            lookahead: start.is_some_and(|a| a > now),
            uri: s.uri.clone(),
        });
        t = end;
    }
    Ok(Some(LiveWindow {
        media_sequence: pl.media_sequence,
        discontinuity_sequence: pl.discontinuity_sequence,
        target_duration: pl.target_duration,
        segments,
    }))
}

/// One item on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineBlock {
    /// Item id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Air time of its first segment, milliseconds since the Unix epoch (UTC).
    pub start_ms: i64,
    /// Duration in seconds.
    pub duration: f64,
}

/// The programme the timeline is drawn from: `manifest.json` and the rotation
/// (`playlist.m3u`), parsed once and reused while the files are unchanged (parsing a
/// 10,000-item manifest dominates the timeline's cost).
#[derive(Debug)]
pub struct Programme {
    manifest: Manifest,
    playlist: Vec<String>,
    stamp: Option<(std::time::SystemTime, std::time::SystemTime)>,
    rotation: std::sync::OnceLock<Arc<Rotation>>,
}

fn stamp(processed: &Path) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
    let m = |f: &str| {
        std::fs::metadata(processed.join(f))
            .and_then(|m| m.modified())
            .ok()
    };
    Some((m(manifest::MANIFEST_FILE)?, m(manifest::PLAYLIST_FILE)?))
}

impl Programme {
    /// Reads the station's `manifest.json` and `playlist.m3u`.
    ///
    /// Errors: [`Error::Config`] for an invalid setup config; [`Error::Manifest`],
    /// [`Error::Io`] when there is no rotation yet.
    pub fn load(station: &Path) -> Result<Programme> {
        let setup = SetupConfig::load(station)?;
        let stamp = stamp(&setup.processed_dir);
        Ok(Programme {
            manifest: Manifest::load(&setup.processed_dir)?,
            playlist: manifest::load_playlist(&setup.processed_dir)?,
            stamp,
            rotation: std::sync::OnceLock::new(),
        })
    }

    /// Whether the files on disk are still the ones read.
    pub fn is_current(&self, station: &Path) -> bool {
        self.stamp.is_some()
            && SetupConfig::load(station).is_ok_and(|c| stamp(&c.processed_dir) == self.stamp)
    }

    fn rotation(&self) -> Result<Arc<Rotation>> {
        if let Some(r) = self.rotation.get() {
            return Ok(r.clone());
        }
        let (r, _) = Rotation::from_manifest(&self.manifest, &self.playlist, false)?;
        Ok(self.rotation.get_or_init(|| Arc::new(r)).clone())
    }
}

/// [`timeline_of`] with the programme read from disk.
///
/// Errors: as [`Programme::load`] and [`timeline_of`].
pub fn timeline(
    station: &Path,
    now: DateTime<Utc>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> Result<Vec<TimelineBlock>> {
    timeline_of(
        &Programme::load(station)?,
        station,
        now,
        hours,
        jingle_cycle,
    )
}

/// What plays from `now` for `hours`: items with their air times.
///
/// On air, the streamer's own schedule (`stream_state.json`) is continued, so the
/// times are the ones listeners will hear. Off air, the rotation starts now. With
/// `jingle_cycle`, the rotation is rebuilt from the manifest with that cycle (a preview
/// of the setting) and takes over after the item on air. The cost is the items inside
/// the horizon, not the rotation's length.
///
/// Errors: [`Error::Rotation`] when the rotation is empty or has no track.
pub fn timeline_of(
    p: &Programme,
    station: &Path,
    now: DateTime<Utc>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> Result<Vec<TimelineBlock>> {
    let index: std::collections::HashMap<&str, &manifest::ManifestItem> = p
        .manifest
        .items
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let preview: Option<Vec<String>> = match jingle_cycle {
        Some(cycle) => {
            let ids_of = |k: ItemKind| -> Vec<&str> {
                p.manifest
                    .items
                    .iter()
                    .filter(|i| i.kind == k)
                    .map(|i| i.id.as_str())
                    .collect()
            };
            Some(
                crate::setup::rotation::build_rotation(
                    &ids_of(ItemKind::Track),
                    &ids_of(ItemKind::Jingle),
                    cycle.max(1),
                )?
                .iter()
                .map(|e| e.id.to_string())
                .collect(),
            )
        }
        None => None,
    };
    let order: &[String] = preview.as_deref().unwrap_or(&p.playlist);
    if order.is_empty() {
        return Err(Error::Rotation("the rotation is empty".into()));
    }
    let horizon = now + chrono::Duration::milliseconds((hours * 3_600_000.0) as i64);
    let on_air = StreamState::load(&crate::station::state_dir(station))
        .ok()
        .filter(|s| s.is_on_air(now));
    let mut blocks = Vec::new();
    let push = |blocks: &mut Vec<TimelineBlock>, id: &str, start: DateTime<Utc>| -> f64 {
        let Some(item) = index.get(id) else {
            return 0.0;
        };
        blocks.push(TimelineBlock {
            id: item.id.clone(),
            title: item.title.clone(),
            artist: item.artist.clone(),
            kind: item.kind,
            start_ms: start.timestamp_millis(),
            duration: item.duration,
        });
        item.duration
    };
    // From `start`, the order from its first entry, item by item.
    let from_top = |blocks: &mut Vec<TimelineBlock>, start: DateTime<Utc>| {
        let mut t = start;
        for id in order.iter().cycle().take(1_000_000) {
            if t >= horizon {
                break;
            }
            let d = push(blocks, id, t);
            t += chrono::Duration::milliseconds((d.max(0.001) * 1000.0) as i64);
        }
    };
    match on_air {
        Some(state) => {
            let mut start = now;
            if let Some(np) = &state.now_playing {
                let d = push(&mut blocks, &np.item_id, np.air_time);
                start = np.air_time + chrono::Duration::milliseconds((d * 1000.0) as i64);
            }
            let resumed = match (&preview, p.rotation()) {
                (None, Ok(rotation)) => Schedule::resume(state.schedule.clone(), rotation).ok(),
                _ => None,
            };
            match resumed {
                Some(schedule) => {
                    // Walk the streamer's schedule item by item until the horizon.
                    let mut n = 64;
                    loop {
                        let next = schedule.next_up(now, n);
                        let past = next.last().is_some_and(|(_, _, t)| *t >= horizon);
                        if past || n >= 100_000 {
                            for (id, _, t) in next.iter().filter(|(_, _, t)| *t < horizon) {
                                push(&mut blocks, id, *t);
                            }
                            break;
                        }
                        n *= 4;
                    }
                }
                // A preview of another cycle: the item on air finishes, then the new
                // rotation from its start.
                None => from_top(&mut blocks, start),
            }
        }
        None => from_top(&mut blocks, now),
    }
    Ok(blocks)
}
