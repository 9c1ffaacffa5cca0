//! The setup pipeline (`station setup`): scan, prechunk, add to Kubo, write
//! `manifest.json` and the rotation `playlist.m3u`.
//!
//! Cache rule: an item is reused (no ffmpeg, no add) when its source content (fingerprint)
//! and the output-relevant encode settings (encode hash) are unchanged and all its segment
//! files are present with their recorded sizes. Unchanged files are recognised by path,
//! size and modification time without re-hashing them. A changed `jingle_cycle` rewrites
//! only `playlist.m3u`. Items whose source is gone leave the manifest, the rotation and
//! `items/` (the source folders are never touched). Kubo being down never loses encode
//! work: the manifest is written with the missing CIDs, and the next run only adds.

pub mod loudness;
pub mod manifest;
pub mod order;
pub mod pins;
pub mod prechunk;
pub mod queue;
pub mod retire;
pub mod rotation;
pub mod schedule;

use crate::error::{Error, Result};
use crate::kubo::Kubo;
use crate::library::{self, ItemKind};
use crate::setup::rotation::build_rotation;
use crate::setup::schedule::{BlockSpec, ProcessedBlock, ProcessedSchedule, ScheduleSpec};
use crate::station::config::SetupConfig;
use crate::station::state::Role;
use crate::station::Station;
use manifest::{Manifest, ManifestItem, ManifestSegment, ITEMS_DIR, MANIFEST_FORMAT};
use prechunk::{EncodeSettings, PrechunkJob, ProgressEvent};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One source that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemFailure {
    /// The source file (as JSON: its name as text, a byte that is not UTF-8 shown as
    /// U+FFFD, so a report naming an undecodable file name still serializes).
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// Why (probe, ffmpeg or duplicate reason).
    pub reason: String,
}

/// Serializes a path as text, lossily ([`std::path::Path::to_string_lossy`]): serde's own
/// impl fails on a name that is not UTF-8, the very file a failure report names.
fn lossy_path<S: serde::Serializer>(p: &Path, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// Events of a setup run, for progress displays.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SetupEvent {
    /// Scanning finished: sources found per kind, and how many need encoding.
    Scanned {
        /// Usable track sources.
        tracks: usize,
        /// Usable jingle sources.
        jingles: usize,
        /// Items that will be encoded.
        to_encode: usize,
    },
    /// A prechunk job's progress.
    Prechunk(ProgressEvent),
    /// Another setup of this station runs (in another process): this one waits for it
    /// to finish, then only does what is left.
    Waiting {
        /// The process id of the running setup, as the kernel reports it.
        pid: Option<u32>,
    },
    /// Segments added to Kubo so far, of `total`.
    Adding {
        /// Segments added.
        done: usize,
        /// Segments to add.
        total: usize,
    },
}

/// What one setup run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SetupReport {
    /// Tracks in the manifest.
    pub tracks: usize,
    /// Jingles in the manifest.
    pub jingles: usize,
    /// Items reused from the cache.
    pub reused: usize,
    /// Items encoded by ffmpeg in this run.
    pub encoded: usize,
    /// Sources that failed, each with the reason.
    pub failures: Vec<ItemFailure>,
    /// Item ids removed because their source is gone.
    pub removed: Vec<String>,
    /// Segments added to Kubo in this run.
    pub segments_added: usize,
    /// Per-segment pins of an older version's retired list ([`retire`]) removed in this
    /// run (an hour after their segments left the library); new versions never pin a
    /// single segment ([`pins`]).
    pub segments_unpinned: usize,
    /// Segments on that older list still pinned, waiting for their hour.
    pub segments_retired: usize,
    /// What pinning the library root did ([`pins::pin_library`]).
    pub library_pins: pins::PinReport,
    /// Why pinning the library root stopped, if it did (tried again next run).
    pub pin_error: Option<String>,
    /// `add` requests made.
    pub add_requests: usize,
    /// Why adding to Kubo stopped, if it did.
    pub kubo_error: Option<String>,
    /// Segments still without a CID.
    pub missing_cids: usize,
    /// Entries in the rotation.
    pub rotation_len: usize,
    /// Whether `manifest.json` was rewritten.
    pub manifest_written: bool,
    /// Whether `playlist.m3u` was rewritten.
    pub playlist_written: bool,
}

impl SetupReport {
    /// True when every source was processed and every segment has a CID.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.kubo_error.is_none() && self.missing_cids == 0
    }
}

/// Progress callback type.
pub type OnEvent = Arc<dyn Fn(SetupEvent) + Send + Sync>;

/// The encode settings a setup config implies.
pub fn encode_settings(cfg: &SetupConfig) -> EncodeSettings {
    EncodeSettings {
        segment_duration: cfg.segment_duration.as_secs_f64(),
        codec: cfg.codec.clone(),
        bitrate: cfg.bitrate.to_string(),
        sample_rate: cfg.sample_rate,
        channels: cfg.channels,
        loudness_target_lufs: cfg.loudness_target.map(|l| l.0),
    }
}

fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether `item`'s segment files are all present with their recorded sizes.
fn segments_present(items_dir: &Path, item: &ManifestItem) -> bool {
    let dir = items_dir.join(&item.id);
    item.segments
        .iter()
        .all(|s| std::fs::metadata(dir.join(&s.file)).is_ok_and(|m| m.len() == s.bytes))
}

fn overlaps(a: &Path, b: &Path) -> bool {
    let a = a.canonicalize().unwrap_or_else(|_| a.to_path_buf());
    let b = b.canonicalize().unwrap_or_else(|_| b.to_path_buf());
    a.starts_with(&b) || b.starts_with(&a)
}

/// The outcome of the last setup run, kept in `data/state/last_setup.json` so the
/// library can show each failed source with its reason later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastSetup {
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// Sources that failed, each with the reason.
    pub failures: Vec<LastFailure>,
    /// Why adding to Kubo stopped, if it did.
    pub kubo_error: Option<String>,
    /// Segments still without a CID.
    pub missing_cids: usize,
    /// Items encoded by ffmpeg in that run.
    pub encoded: usize,
    /// Items reused from the cache.
    pub reused: usize,
    /// Entries in the rotation.
    pub rotation_len: usize,
    /// Set when the run stopped as a whole (e.g. no tracks, ffmpeg missing).
    pub error: Option<String>,
}

/// One failed source of [`LastSetup`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastFailure {
    /// The source file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl LastSetup {
    /// The record of a run that ended with `result`.
    pub fn of(result: &Result<SetupReport>) -> LastSetup {
        let finished_at = chrono::Utc::now().to_rfc3339();
        match result {
            Ok(r) => LastSetup {
                finished_at,
                failures: r
                    .failures
                    .iter()
                    .map(|f| LastFailure {
                        path: f.path.clone(),
                        reason: f.reason.clone(),
                    })
                    .collect(),
                kubo_error: r.kubo_error.clone(),
                missing_cids: r.missing_cids,
                encoded: r.encoded,
                reused: r.reused,
                rotation_len: r.rotation_len,
                error: None,
            },
            Err(e) => LastSetup {
                finished_at,
                failures: Vec::new(),
                kubo_error: None,
                missing_cids: 0,
                encoded: 0,
                reused: 0,
                rotation_len: 0,
                error: Some(e.to_string()),
            },
        }
    }
}

/// Runs setup for `station`, one run at a time per station: it holds the station's
/// setup lock ([`Role::Setup`]) for the whole run. When another process holds it, a
/// [`SetupEvent::Waiting`] event says so and the run waits for it, then does only what
/// is left (usually nothing). The outcome is recorded in `data/state/last_setup.json`
/// (also when the run fails as a whole).
///
/// Returns the report even when some sources failed or Kubo was unreachable (see
/// [`SetupReport::ok`]).
///
/// Errors: [`Error::Config`] when `processed_dir` overlaps a source folder;
/// [`Error::Io`] when the processed folder or the state cannot be written;
/// [`Error::ToolMissing`] without ffmpeg; [`Error::Rotation`] when no track is usable
/// (the manifest is still written).
pub async fn run(station: &Station, on_event: OnEvent) -> Result<SetupReport> {
    let state = station.state();
    state.create()?;
    let what = format!("setup of {}", station.dir().display());
    let _lock = match state.lock(Role::Setup, &what) {
        Ok(lock) => lock,
        Err(Error::Locked { pid, .. }) => {
            on_event(SetupEvent::Waiting { pid });
            tracing::info!(
                "another setup of this station runs{}: waiting for it to finish",
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            );
            let path = state.lock_path(Role::Setup);
            tokio::task::spawn_blocking(move || {
                crate::station::state::InstanceLock::acquire_blocking(&path, &what)
            })
            .await
            .map_err(|e| Error::io(state.path(), std::io::Error::other(e.to_string())))??
        }
        Err(e) => return Err(e),
    };
    let result = run_locked(station, on_event).await;
    state.save_last_setup(&LastSetup::of(&result))?;
    result
}

/// A source the scan found: its manifest entry (complete when reused, without segments
/// when it waits for ffmpeg), and what plays meanwhile.
struct Planned {
    item: ManifestItem,
    /// The prechunk job, when it must be encoded.
    job: Option<PrechunkJob>,
    /// The previous manifest entry of the same id whose segments are still there (e.g.
    /// the encode settings changed): it stays on air until the new encode lands.
    previous: Option<ManifestItem>,
}

/// The folders setup reads, each with the kind of its sources: the schedule's (each
/// once), else `music_dir` and `jingles_dir`; with the setting or schedule field that
/// names it (for messages).
pub fn source_folders(
    station: &Station,
    schedule: Option<&ScheduleSpec>,
) -> Vec<(ItemKind, PathBuf, String)> {
    match schedule {
        Some(s) => s
            .folders()
            .into_iter()
            .map(|(k, p)| {
                let name = format!("{} folder {}", schedule::SCHEDULE_FILE, p.display());
                (k, p, name)
            })
            .collect(),
        None => vec![
            (
                ItemKind::Track,
                station.setup.music_dir.clone(),
                "music_dir".into(),
            ),
            (
                ItemKind::Jingle,
                station.setup.jingles_dir.clone(),
                "jingles_dir".into(),
            ),
        ],
    }
}

/// The pipeline itself, under the setup lock.
///
/// Order of work, so a new station goes on air in seconds: scan; check Kubo's pins and
/// add what the cache lacks; write the programme of what is ready; prechunk the rest in
/// air order (the jingles and tracks of the block on air now first), adding each item
/// to Kubo as it lands and rewriting the programme as items land (at most every few
/// seconds); finally remove what is gone and write the full programme, the one a run
/// on a prechunked library writes.
///
/// Errors: as [`run`]; [`Error::Config`]/[`Error::Parse`] naming the field of an
/// invalid `schedule.json` (nothing changes then: the previous schedule stays on air).
async fn run_locked(station: &Station, on_event: OnEvent) -> Result<SetupReport> {
    let cfg = &station.setup;
    let schedule = ScheduleSpec::load(station)?;
    let folders = source_folders(station, schedule.as_ref());
    for (_, dir, key) in &folders {
        if overlaps(dir, &cfg.processed_dir) {
            return Err(Error::Config {
                file: station.dir().join(crate::station::keys::SETUP_FILE),
                field: "processed_dir".into(),
                message: format!(
                    "must not overlap {key} ({}): setup deletes stale files there",
                    dir.display()
                ),
            });
        }
    }
    let processed = cfg.processed_dir.clone();
    let items_dir = processed.join(ITEMS_DIR);
    std::fs::create_dir_all(&items_dir).map_err(|e| Error::io(&items_dir, e))?;
    let settings = encode_settings(cfg);
    let encode_hash = settings.encode_hash();
    let mut report = SetupReport::default();

    let old = match Manifest::load(&processed) {
        Ok(m) => Some(m),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!("ignoring the old manifest, everything is checked again: {e}");
            None
        }
    };
    let old_by_path: HashMap<&Path, &ManifestItem> = old
        .iter()
        .flat_map(|m| m.items.iter().map(|i| (i.source.as_path(), i)))
        .collect();
    let old_by_id: HashMap<&str, &ManifestItem> = old
        .iter()
        .flat_map(|m| m.items.iter().map(|i| (i.id.as_str(), i)))
        .collect();

    // 1. Scan (cheap listing), fingerprint only what changed, decide reuse or encode.
    let mut planned: Vec<Planned> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut listed: HashSet<(ItemKind, PathBuf)> = HashSet::new();
    let mut failed_paths: HashSet<PathBuf> = HashSet::new();
    for (kind, dir, _) in &folders {
        let kind = *kind;
        let listing = library::list_candidates(dir);
        for f in listing.failures {
            if failed_paths.insert(f.path.clone()) {
                report.failures.push(ItemFailure {
                    path: f.path,
                    reason: f.reason,
                });
            }
        }
        for path in listing.files {
            // Nested folders (`music` and `music/night`) list a file twice.
            if !listed.insert((kind, path.clone())) {
                continue;
            }
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    report.failures.push(ItemFailure {
                        path,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let mtime = mtime_secs(&meta);
            let known = old_by_path.get(path.as_path()).filter(|i| {
                i.kind == kind
                    && i.source_fingerprint.bytes == meta.len()
                    && i.source_mtime == mtime
            });
            let fingerprint = match known {
                Some(i) => i.source_fingerprint.clone(),
                None => match library::fingerprint(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        report.failures.push(ItemFailure {
                            path,
                            reason: e.reason(),
                        });
                        continue;
                    }
                },
            };
            let id = library::item_id(kind, &fingerprint);
            if let Some(first) = seen.get(&id) {
                report.failures.push(ItemFailure {
                    path,
                    reason: format!("same content as {} (skipped)", first.display()),
                });
                continue;
            }
            seen.insert(id.clone(), path.clone());
            let prev = old_by_id
                .get(id.as_str())
                .filter(|p| p.kind == kind && segments_present(&items_dir, p));
            if let Some(prev) = prev {
                if prev.encode_hash == encode_hash {
                    let mut item = (*prev).clone();
                    item.source = path;
                    item.source_mtime = mtime;
                    planned.push(Planned {
                        item,
                        job: None,
                        previous: None,
                    });
                    report.reused += 1;
                    continue;
                }
            }
            // Probed in the worker that encodes it (`PrechunkJob::probe`): its tags and
            // duration arrive with its segments.
            let item = ManifestItem {
                id: id.clone(),
                kind,
                title: library::from_file_name(&path).0,
                artist: None,
                album: None,
                isrc: None,
                source: path.clone(),
                source_fingerprint: fingerprint,
                source_mtime: mtime,
                duration: 0.0,
                loudness: None,
                encode_hash: encode_hash.clone(),
                segments: Vec::new(),
            };
            planned.push(Planned {
                job: Some(PrechunkJob {
                    id: id.clone(),
                    source: path,
                    out_dir: items_dir.join(&id),
                    settings: settings.clone(),
                    duration: 0.0,
                    probe: true,
                }),
                previous: prev.map(|p| {
                    let mut p = (*p).clone();
                    p.source = item.source.clone();
                    p
                }),
                item,
            });
        }
    }
    // Library order: tracks first, then jingles, each by source path.
    planned.sort_by(|a, b| {
        a.item
            .kind
            .cmp(&b.item.kind)
            .then_with(|| a.item.source.cmp(&b.item.source))
    });
    let count = |k: ItemKind| planned.iter().filter(|p| p.item.kind == k).count();
    let to_encode = planned.iter().filter(|p| p.job.is_some()).count();
    on_event(SetupEvent::Scanned {
        tracks: count(ItemKind::Track),
        jingles: count(ItemKind::Jingle),
        to_encode,
    });
    let want_jingle = count(ItemKind::Jingle) > 0;

    // 2. Kubo: which CIDs it still pins; add what the cache lacks.
    let mut adder = Adder::connect(station, &planned, &mut report).await;
    let mut slots: Vec<Option<ManifestItem>> = Vec::with_capacity(planned.len());
    let mut jobs: Vec<(usize, PrechunkJob)> = Vec::new();
    for (i, p) in planned.iter_mut().enumerate() {
        if let Some(job) = p.job.take() {
            jobs.push((i, job));
            slots.push(p.previous.take());
        } else {
            slots.push(Some(p.item.clone()));
        }
    }
    {
        let mut ready: Vec<&mut ManifestItem> = slots.iter_mut().flatten().collect();
        adder
            .add_items(&items_dir, &mut ready, &mut report, &on_event)
            .await;
    }
    // The previous manifest's items stay in the manifest on disk until the programme no
    // longer names them, so the rotation on disk never names an item the manifest lacks.
    let lingering: Vec<ManifestItem> = old.iter().flat_map(|m| m.items.clone()).collect();
    let mut writer = ProgrammeWriter {
        processed: processed.clone(),
        schedule: schedule.as_ref(),
        cfg,
        encode_hash: encode_hash.clone(),
        lingering,
        last: None,
        every: Duration::from_secs(2),
    };
    if !jobs.is_empty() {
        writer.write_if_ready(&slots, want_jingle, &mut report)?;
    }

    // 3. Prechunk in air order, each item added and joining the programme as it lands.
    if !jobs.is_empty() {
        let order = air_order(&planned, schedule.as_ref(), cfg);
        jobs.sort_by_key(|(i, _)| order[*i]);
        // Bytes stand for encode time: the durations arrive with the probes.
        order::longest_after_first(&mut jobs, cfg.jobs, |(i, _)| {
            planned[*i].item.source_fingerprint.bytes as f64
        });
        let (index, pool_jobs): (Vec<usize>, Vec<PrechunkJob>) = jobs.into_iter().unzip();
        let parallel = cfg.jobs;
        let ev = on_event.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pool = tokio::task::spawn_blocking(move || {
            prechunk::run_pool_each(
                &pool_jobs,
                parallel,
                &move |p| ev(SetupEvent::Prechunk(p)),
                &|j, r| {
                    let _ = tx.send((j, r));
                },
            )
        });
        let mut tool_missing = None;
        while let Some((j, result)) = rx.recv().await {
            let at = index[j];
            let mut item = planned[at].item.clone();
            match result {
                Ok(out) => {
                    if out.info.is_some() {
                        // Probed in the worker: its segments were not in the estimate.
                        adder.total += out.segments.len();
                    }
                    if let Some(info) = out.info {
                        item.title = info.title;
                        item.artist = info.artist;
                        item.album = info.album;
                        item.isrc = info.isrc;
                    }
                    item.duration = out.segments.iter().map(|s| s.duration).sum();
                    item.loudness = out.loudness;
                    item.segments = out
                        .segments
                        .into_iter()
                        .map(|s| ManifestSegment {
                            file: s.file,
                            cid: None,
                            duration: s.duration,
                            bytes: s.bytes,
                        })
                        .collect();
                    report.encoded += 1;
                    adder
                        .add_items(&items_dir, &mut [&mut item], &mut report, &on_event)
                        .await;
                    slots[at] = Some(item);
                    writer.write_if_due(&slots, want_jingle, &mut report)?;
                }
                Err(Error::ToolMissing { tool, hint }) => {
                    tool_missing.get_or_insert(Error::ToolMissing { tool, hint });
                }
                Err(e) => {
                    // A failed re-encode keeps nothing of the old encode: its settings
                    // are not the station's any more.
                    slots[at] = None;
                    report.failures.push(ItemFailure {
                        path: item.source.clone(),
                        reason: e.reason(),
                    });
                }
            }
        }
        pool.await
            .map_err(|e| Error::io(&items_dir, std::io::Error::other(e.to_string())))?;
        if let Some(e) = tool_missing {
            return Err(e);
        }
    }
    let items: Vec<ManifestItem> = slots.into_iter().flatten().collect();

    // 4. Remove what is gone: items no longer in the library, stale temp folders.
    let keep: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    if let Some(old) = &old {
        report.removed = old
            .items
            .iter()
            .filter(|i| !keep.contains(i.id.as_str()))
            .map(|i| i.id.clone())
            .collect();
    }
    if let Ok(rd) = std::fs::read_dir(&items_dir) {
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !keep.contains(name.as_str()) {
                let p = entry.path();
                let r = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                if let Err(e) = r {
                    tracing::warn!("could not remove stale {}: {e}", p.display());
                }
            }
        }
    }

    // 5. The full manifest and programme, committed so that a kill at any instant leaves
    // a rotation whose items are all in the manifest: the manifest with every item
    // (the gone ones too), then the rotation, then the manifest without the gone ones.
    let manifest = writer.manifest(items);
    let both = writer.on_disk(&manifest);
    if both.items.len() > manifest.items.len() {
        report.manifest_written |= both.save(&processed)?;
        let (len, written) = write_programme(&manifest, schedule.as_ref(), cfg)?;
        report.rotation_len = len;
        report.playlist_written |= written;
    }
    report.manifest_written |= manifest.save(&processed)?;
    pin_library(station, &manifest, &mut report).await;
    report.missing_cids = manifest
        .items
        .iter()
        .flat_map(|i| &i.segments)
        .filter(|s| s.cid.is_none())
        .count();
    report.tracks = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Track)
        .count();
    report.jingles = manifest.items.len() - report.tracks;
    let (len, written) = write_programme(&manifest, schedule.as_ref(), cfg)?;
    report.rotation_len = len;
    report.playlist_written |= written;
    Ok(report)
}

/// Step 6 of a run: pins the manifest as the station's library root and retires the
/// earlier roots ([`pins`]), then drains an older version's per-segment retired list
/// ([`retire`]). Never fails the run: a state file that cannot be written or a Kubo that
/// does not answer is reported in `report.pin_error`, and the next run tries again.
async fn pin_library(station: &Station, manifest: &Manifest, report: &mut SetupReport) {
    let state = station.state();
    let now = chrono::Utc::now();
    if manifest.segment_cids().next().is_none() {
        return;
    }
    let kubo = match Kubo::new(station.kubo_api(), Duration::from_secs(300)) {
        Ok(k) => k,
        Err(e) => {
            report.pin_error = Some(e.to_string());
            return;
        }
    };
    let on_air = retire::on_air_cids(&state);
    let key = &station.streaming.ipns_key;
    let tag = pins::station_tag(key, station.dir());
    match pins::pin_library(&state, &kubo, manifest, key, tag, &on_air, now).await {
        Ok(r) => {
            if r.new_root {
                tracing::info!(
                    "pinned the library root {} ({} segments) as {}",
                    r.root.as_deref().unwrap_or_default(),
                    manifest.segment_cids().count(),
                    pins::pin_name(key)
                );
            }
            report.library_pins = r;
        }
        Err(e) => {
            tracing::warn!("pinning the library root stopped (the next setup goes on): {e}");
            report.pin_error = Some(e.to_string());
            return;
        }
    }
    // An older version's list of retired segments: drained, never added to.
    let list = retire::load(&state);
    if list.segments.is_empty() {
        return;
    }
    report.segments_retired = list.segments.len();
    match retire::unpin_due(&state, &kubo, list, &on_air, now).await {
        Ok(u) => {
            report.segments_unpinned = u.unpinned;
            report.segments_retired = u.waiting;
            if let Some(e) = u.error {
                tracing::warn!("unpinning an older version's retired segments stopped: {e}");
            }
        }
        Err(e) => tracing::warn!("an older version's retired segments: {e}"),
    }
}

/// Air order of the planned items: the position at which each first airs in the
/// rotation of the block on air now (jingle 1, the first tracks, jingle 2, ...), then
/// the rest in library order. With two jobs, the first jingle and the first track
/// encode side by side: the station is on air once both land.
fn air_order(
    planned: &[Planned],
    schedule: Option<&ScheduleSpec>,
    cfg: &SetupConfig,
) -> Vec<usize> {
    let items: Vec<&ManifestItem> = planned.iter().map(|p| &p.item).collect();
    let now_block = schedule.and_then(|s| {
        let tt = s.timetable().ok()?;
        let name = tt.block_at(chrono::Utc::now()).to_string();
        s.block(&name).cloned()
    });
    let ids = match (schedule, &now_block) {
        (Some(s), Some(b)) => block_rotation(&items, s, b),
        _ => rotation_ids(
            &ids_of(&items, ItemKind::Track, |_| true),
            &ids_of(&items, ItemKind::Jingle, |_| true),
            cfg.jingle_cycle,
        ),
    };
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (n, id) in ids.iter().enumerate() {
        first.entry(id.as_str()).or_insert(n);
    }
    let total = ids.len();
    planned
        .iter()
        .enumerate()
        .map(|(lib, p)| match first.get(p.item.id.as_str()) {
            Some(n) => *n,
            None => total + lib,
        })
        .collect()
}

fn ids_of<'a>(
    items: &[&'a ManifestItem],
    kind: ItemKind,
    keep: impl Fn(&ManifestItem) -> bool,
) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| i.kind == kind && keep(i))
        .map(|i| i.id.as_str())
        .collect()
}

/// The rotation of `tracks` and `jingles` as item ids; empty without tracks.
fn rotation_ids(tracks: &[&str], jingles: &[&str], cycle: u32) -> Vec<String> {
    build_rotation(tracks, jingles, cycle)
        .map(|r| r.iter().map(|e| e.id.to_string()).collect())
        .unwrap_or_default()
}

/// The rotation of one block of `schedule` over `items` (library order): the block's
/// tracks and jingles ([`ScheduleSpec::holds`]) with its jingle cycle; empty when it
/// has no track.
fn block_rotation(
    items: &[&ManifestItem],
    schedule: &ScheduleSpec,
    block: &BlockSpec,
) -> Vec<String> {
    let holds = |i: &ManifestItem| schedule.holds(block, i.kind, &i.source);
    rotation_ids(
        &ids_of(items, ItemKind::Track, holds),
        &ids_of(items, ItemKind::Jingle, holds),
        block.jingle_cycle,
    )
}

/// Writes the programme of `manifest`: the default's rotation to `playlist.m3u` and,
/// with a schedule, each block's rotation and the timetable to
/// `data/processed/schedule.json` (removed without a schedule). Rules: without a
/// schedule the default is every track and jingle with `jingle_cycle`; a default with no
/// track of its own plays every track of the station (so hours no block covers are never
/// silent); a block with no track gets an empty rotation (the streamer plays the default
/// in its hours and raises an alarm). Returns `(entries in the default's rotation,
/// whether a file was written)`.
///
/// Errors: [`Error::Rotation`] when the station has no track; [`Error::Io`].
pub fn write_programme(
    manifest: &Manifest,
    schedule: Option<&ScheduleSpec>,
    cfg: &SetupConfig,
) -> Result<(usize, bool)> {
    let items: Vec<&ManifestItem> = manifest.items.iter().collect();
    let all_tracks = ids_of(&items, ItemKind::Track, |_| true);
    let (tracks, jingles, cycle) = match schedule {
        None => (
            all_tracks.clone(),
            ids_of(&items, ItemKind::Jingle, |_| true),
            cfg.jingle_cycle,
        ),
        Some(s) => {
            let holds = |i: &ManifestItem| s.holds(&s.default, i.kind, &i.source);
            let own = ids_of(&items, ItemKind::Track, holds);
            (
                if own.is_empty() {
                    all_tracks.clone()
                } else {
                    own
                },
                ids_of(&items, ItemKind::Jingle, holds),
                s.default.jingle_cycle,
            )
        }
    };
    let rotation = build_rotation(&tracks, &jingles, cycle)?;
    let ids: Vec<&str> = rotation.iter().map(|e| e.id).collect();
    let text = manifest::render_playlist(manifest, &ids)?;
    let mut written = manifest::save_playlist(&cfg.processed_dir, &text)?;
    match schedule {
        Some(s) => {
            let processed = ProcessedSchedule {
                format: schedule::PROCESSED_SCHEDULE_FORMAT,
                timezone: s.timezone.clone(),
                blocks: s
                    .blocks
                    .iter()
                    .map(|b| ProcessedBlock {
                        name: b.name.clone(),
                        days: b.days.clone(),
                        start_minute: b.start_minute,
                        end_minute: b.end_minute,
                        hard: b.hard,
                        jingle_cycle: b.jingle_cycle,
                        rotation: block_rotation(&items, s, b),
                    })
                    .collect(),
            };
            written |= processed.save(&cfg.processed_dir)?;
        }
        None => written |= ProcessedSchedule::remove(&cfg.processed_dir)?,
    }
    Ok((ids.len(), written))
}

/// Writes the manifest and programme of what is ready while setup runs, so the
/// streamer goes on air (and picks up items) before the run ends.
struct ProgrammeWriter<'a> {
    processed: PathBuf,
    schedule: Option<&'a ScheduleSpec>,
    cfg: &'a SetupConfig,
    encode_hash: String,
    /// The previous manifest's items: those not (yet) in the new one stay in the
    /// manifest on disk until the final programme no longer names them.
    lingering: Vec<ManifestItem>,
    /// When the programme was last written, and how long that took.
    last: Option<(std::time::Instant, Duration)>,
    /// Least time between two writes (more for a big manifest: twenty times what a
    /// write takes).
    every: Duration,
}

impl ProgrammeWriter<'_> {
    /// `manifest` plus the previous manifest's items it lacks: what is saved while the
    /// rotation on disk may still name them.
    fn on_disk(&self, manifest: &Manifest) -> Manifest {
        let have: HashSet<&str> = manifest.items.iter().map(|i| i.id.as_str()).collect();
        let mut m = manifest.clone();
        m.items.extend(
            self.lingering
                .iter()
                .filter(|i| !have.contains(i.id.as_str()))
                .cloned(),
        );
        m
    }

    fn manifest(&self, items: Vec<ManifestItem>) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            config_hash: self.encode_hash.clone(),
            segment_duration: self.cfg.segment_duration.as_secs_f64(),
            jingle_cycle: self.cfg.jingle_cycle,
            items,
        }
    }

    /// Writes when what is ready can go on air: a track, and a jingle when the library
    /// has one (the first programme listeners hear follows the jingle rule).
    fn write_if_ready(
        &mut self,
        slots: &[Option<ManifestItem>],
        want_jingle: bool,
        report: &mut SetupReport,
    ) -> Result<()> {
        let ready = |k: ItemKind| slots.iter().flatten().any(|i| i.kind == k);
        if !ready(ItemKind::Track) || (want_jingle && !ready(ItemKind::Jingle)) {
            return Ok(());
        }
        let t = std::time::Instant::now();
        let manifest = self.manifest(slots.iter().flatten().cloned().collect());
        report.manifest_written |= self.on_disk(&manifest).save(&self.processed)?;
        match write_programme(&manifest, self.schedule, self.cfg) {
            Ok((_, w)) => report.playlist_written |= w,
            Err(Error::Rotation(_)) => {}
            Err(e) => return Err(e),
        }
        self.last = Some((std::time::Instant::now(), t.elapsed()));
        Ok(())
    }

    /// [`Self::write_if_ready`], at most every few seconds once written.
    fn write_if_due(
        &mut self,
        slots: &[Option<ManifestItem>],
        want_jingle: bool,
        report: &mut SetupReport,
    ) -> Result<()> {
        if let Some((at, took)) = self.last {
            if at.elapsed() < self.every.max(took * 20) {
                return Ok(());
            }
        }
        self.write_if_ready(slots, want_jingle, report)
    }
}

/// How many times a batch `add` that failed in passing is tried again.
const ADD_RETRIES: usize = 2;

/// Whether a Kubo failure may pass (worth trying again): the connection broke, Kubo said
/// 5xx, or an error came in the middle of the reply (`X-Stream-Error`).
fn passing(e: &Error) -> bool {
    match e {
        Error::KuboUnreachable { .. } | Error::KuboResponse { .. } => true,
        Error::KuboStatus { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Adds `files` as ONE wrapped directory with the station's `.station` file, pinned: Kubo
/// pins only the wrapper, which is the station's own ([`pins`]); the wrapper is noted in
/// `library_pins.json` until a library root holds its segments. Returns one [`Added`]
/// per file, in input order.
///
/// Errors: as [`Kubo::add_tree`]; [`Error::Io`] noting the wrapper.
async fn add_wrapped(
    kubo: &Kubo,
    state: &crate::station::state::StateDir,
    tag: &[u8],
    files: Vec<(String, Vec<u8>)>,
) -> Result<Vec<crate::kubo::Added>> {
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let mut tree = files;
    tree.push((pins::STATION_FILE.to_string(), tag.to_vec()));
    let mut added: HashMap<String, crate::kubo::Added> = kubo
        .add_tree(tree, true)
        .await?
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    if let Some(wrapper) = added.get("") {
        pins::note_batch(state, &wrapper.cid)?;
    }
    names
        .iter()
        .map(|n| {
            added.remove(n).ok_or_else(|| Error::KuboResponse {
                endpoint: "/api/v0/add".into(),
                message: format!("the reply has no line for `{n}`"),
            })
        })
        .collect()
}

/// Adds segments to Kubo item by item. Once Kubo fails (after the retries), the rest of
/// the run adds nothing: the items keep no CID and the next run adds them.
struct Adder {
    kubo: Option<Kubo>,
    pins: HashSet<String>,
    /// The station's state folder (add wrappers are noted there) and its `.station` file.
    state: crate::station::state::StateDir,
    tag: Vec<u8>,
    batch: usize,
    done: usize,
    total: usize,
}

impl Adder {
    /// Asks Kubo once which CIDs it pins (also telling whether it is there); records in
    /// `report.kubo_error` why not when it is not.
    async fn connect(station: &Station, planned: &[Planned], report: &mut SetupReport) -> Adder {
        let mut adder = Adder {
            kubo: None,
            pins: HashSet::new(),
            state: station.state(),
            tag: pins::station_tag(&station.streaming.ipns_key, station.dir()),
            batch: station.setup.add_batch_size.max(1),
            done: 0,
            total: 0,
        };
        if planned.is_empty() {
            return adder;
        }
        let kubo = match Kubo::new(station.kubo_api(), Duration::from_secs(300)) {
            Ok(k) => k,
            Err(e) => {
                report.kubo_error = Some(e.to_string());
                return adder;
            }
        };
        match kubo.pins().await {
            Ok(p) => {
                adder.pins = p;
                adder.kubo = Some(kubo);
                // Segments to add: those the cache lacks, and an estimate for the
                // encodes of known duration (one per `segment_duration`); an item
                // probed in its worker adds its segments when it lands.
                let segment = station.setup.segment_duration.as_secs_f64().max(0.1);
                adder.total = planned
                    .iter()
                    .map(|p| match &p.job {
                        Some(j) => (j.duration / segment).ceil() as usize,
                        None => p
                            .item
                            .segments
                            .iter()
                            .filter(|s| s.cid.as_ref().is_none_or(|c| !adder.pins.contains(c)))
                            .count(),
                    })
                    .sum();
            }
            Err(e) => {
                report.kubo_error = Some(format!(
                    "{e}. The segments are prechunked: once Kubo runs, `station setup` only adds what is missing (nothing is encoded again)"
                ));
            }
        }
        adder
    }

    /// Adds the segments of `items` that have no CID (or whose CID Kubo no longer pins),
    /// `add_batch_size` segments per request across items.
    async fn add_items(
        &mut self,
        items_dir: &Path,
        items: &mut [&mut ManifestItem],
        report: &mut SetupReport,
        on_event: &OnEvent,
    ) {
        let Some(kubo) = &self.kubo else { return };
        for item in items.iter_mut() {
            for s in &mut item.segments {
                if s.cid.as_ref().is_some_and(|c| !self.pins.contains(c)) {
                    s.cid = None;
                }
            }
        }
        let todo: Vec<(usize, usize)> = items
            .iter()
            .enumerate()
            .flat_map(|(i, it)| {
                it.segments
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.cid.is_none())
                    .map(move |(j, _)| (i, j))
            })
            .collect();
        for batch in todo.chunks(self.batch) {
            let mut files = Vec::with_capacity(batch.len());
            for &(i, j) in batch {
                let it = &items[i];
                let path = items_dir.join(&it.id).join(&it.segments[j].file);
                match std::fs::read(&path) {
                    Ok(b) => files.push((format!("{}_{}", it.id, it.segments[j].file), b)),
                    Err(e) => {
                        report.kubo_error = Some(format!("{}: {e}", path.display()));
                        self.kubo = None;
                        return;
                    }
                }
            }
            // A passing failure (an error in the middle of the reply, a dropped
            // connection, a 5xx) is tried again twice, after 1 s and 2 s; Kubo's
            // refusals (4xx) are not.
            let mut attempt = 0;
            let result = loop {
                report.add_requests += 1;
                match add_wrapped(kubo, &self.state, &self.tag, files.clone()).await {
                    Err(e) if attempt < ADD_RETRIES && passing(&e) => {
                        attempt += 1;
                        tracing::warn!(
                            "adding segments failed, trying again ({attempt} of {ADD_RETRIES}): {e}"
                        );
                        tokio::time::sleep(Duration::from_secs(attempt as u64)).await;
                    }
                    r => break r,
                }
            };
            match result {
                Ok(added) => {
                    for (&(i, j), a) in batch.iter().zip(added) {
                        self.pins.insert(a.cid.clone());
                        items[i].segments[j].cid = Some(a.cid);
                    }
                    self.done += batch.len();
                    self.total = self.total.max(self.done);
                    report.segments_added += batch.len();
                    on_event(SetupEvent::Adding {
                        done: self.done,
                        total: self.total,
                    });
                }
                Err(e) => {
                    report.kubo_error =
                        Some(format!("{e}; run `station setup` again to add the rest"));
                    self.kubo = None;
                    return;
                }
            }
        }
    }
}
