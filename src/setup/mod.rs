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

pub mod manifest;
pub mod prechunk;
pub mod queue;
pub mod rotation;

use crate::error::{Error, Result};
use crate::kubo::Kubo;
use crate::library::{self, ItemKind};
use crate::setup::rotation::build_rotation;
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
    /// The source file.
    pub path: PathBuf,
    /// Why (probe, ffmpeg or duplicate reason).
    pub reason: String,
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

/// The pipeline itself, under the setup lock.
///
/// Returns the report even when some sources failed or Kubo was unreachable (see
/// [`SetupReport::ok`]).
///
/// Errors: [`Error::Config`] when `processed_dir` overlaps a source folder;
/// [`Error::Io`] when the processed folder cannot be written; [`Error::ToolMissing`]
/// without ffmpeg; [`Error::Rotation`] when no track is usable (the manifest is still
/// written).
async fn run_locked(station: &Station, on_event: OnEvent) -> Result<SetupReport> {
    let cfg = &station.setup;
    for (key, dir) in [
        ("music_dir", &cfg.music_dir),
        ("jingles_dir", &cfg.jingles_dir),
    ] {
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
    let mut new_items: Vec<ManifestItem> = Vec::new();
    let mut jobs: Vec<(PrechunkJob, ManifestItem)> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for (kind, dir) in [
        (ItemKind::Track, &cfg.music_dir),
        (ItemKind::Jingle, &cfg.jingles_dir),
    ] {
        let listing = library::list_candidates(dir);
        report
            .failures
            .extend(listing.failures.into_iter().map(|f| ItemFailure {
                path: f.path,
                reason: f.reason,
            }));
        for path in listing.files {
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
            if let Some(prev) = old_by_id.get(id.as_str()) {
                if prev.encode_hash == encode_hash
                    && prev.kind == kind
                    && segments_present(&items_dir, prev)
                {
                    let mut item = (*prev).clone();
                    item.source = path;
                    item.source_mtime = mtime;
                    new_items.push(item);
                    report.reused += 1;
                    continue;
                }
            }
            let info = match library::probe(&path) {
                Ok(i) => i,
                Err(e) => {
                    report.failures.push(ItemFailure {
                        path,
                        reason: e.reason(),
                    });
                    continue;
                }
            };
            let item = ManifestItem {
                id: id.clone(),
                kind,
                title: info.title.clone(),
                artist: info.artist.clone(),
                source: path.clone(),
                source_fingerprint: fingerprint,
                source_mtime: mtime,
                duration: info.duration,
                loudness: None,
                encode_hash: encode_hash.clone(),
                segments: Vec::new(),
            };
            jobs.push((
                PrechunkJob {
                    id: id.clone(),
                    source: path,
                    out_dir: items_dir.join(&id),
                    settings: settings.clone(),
                    duration: info.duration,
                },
                item,
            ));
        }
    }
    let count = |items: &[ManifestItem], jobs: &[(PrechunkJob, ManifestItem)], k: ItemKind| {
        items.iter().filter(|i| i.kind == k).count()
            + jobs.iter().filter(|(_, i)| i.kind == k).count()
    };
    on_event(SetupEvent::Scanned {
        tracks: count(&new_items, &jobs, ItemKind::Track),
        jingles: count(&new_items, &jobs, ItemKind::Jingle),
        to_encode: jobs.len(),
    });

    // 2. Prechunk in parallel (blocking work off the async runtime).
    if !jobs.is_empty() {
        let (pool_jobs, pending): (Vec<PrechunkJob>, Vec<ManifestItem>) = jobs.into_iter().unzip();
        let parallel = cfg.jobs;
        let ev = on_event.clone();
        let results = tokio::task::spawn_blocking(move || {
            prechunk::run_pool(pool_jobs, parallel, &move |p| ev(SetupEvent::Prechunk(p)))
        })
        .await
        .map_err(|e| Error::io(&items_dir, std::io::Error::other(e.to_string())))?;
        for ((_, result), mut item) in results.into_iter().zip(pending) {
            match result {
                Ok(out) => {
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
                    new_items.push(item);
                }
                Err(Error::ToolMissing { tool, hint }) => {
                    return Err(Error::ToolMissing { tool, hint })
                }
                Err(e) => report.failures.push(ItemFailure {
                    path: item.source.clone(),
                    reason: e.reason(),
                }),
            }
        }
    }
    // Tracks first, then jingles, each in library order (by source path).
    new_items.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.source.cmp(&b.source)));

    // 3. Remove what is gone: items no longer in the library, stale temp folders.
    let keep: HashSet<&str> = new_items.iter().map(|i| i.id.as_str()).collect();
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

    let mut manifest = Manifest {
        format: MANIFEST_FORMAT,
        config_hash: encode_hash,
        segment_duration: cfg.segment_duration.as_secs_f64(),
        jingle_cycle: cfg.jingle_cycle,
        items: new_items,
    };
    // Persist the encode work before talking to Kubo.
    report.manifest_written |= manifest.save(&processed)?;

    // 4. Add every segment without a CID (or whose CID Kubo no longer pins).
    add_to_kubo(station, &items_dir, &mut manifest, &mut report, &on_event).await;
    report.manifest_written |= manifest.save(&processed)?;
    report.missing_cids = manifest
        .items
        .iter()
        .flat_map(|i| &i.segments)
        .filter(|s| s.cid.is_none())
        .count();

    // 5. The rotation.
    report.tracks = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Track)
        .count();
    report.jingles = manifest.items.len() - report.tracks;
    let tracks: Vec<&str> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Track)
        .map(|i| i.id.as_str())
        .collect();
    let jingles: Vec<&str> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Jingle)
        .map(|i| i.id.as_str())
        .collect();
    let (len, written) = write_rotation(&manifest, &tracks, &jingles, cfg)?;
    report.rotation_len = len;
    report.playlist_written = written;
    Ok(report)
}

/// Builds the rotation of `tracks` and `jingles` (item ids of `manifest`, in library
/// order) with `cfg.jingle_cycle` and writes it to `playlist.m3u` in `cfg.processed_dir`
/// when it changed. Returns `(entries in the rotation, whether the file was written)`.
///
/// Errors: [`Error::Rotation`] when `tracks` is empty; [`Error::Manifest`] for an id the
/// manifest lacks; [`Error::Io`].
pub fn write_rotation(
    manifest: &Manifest,
    tracks: &[&str],
    jingles: &[&str],
    cfg: &SetupConfig,
) -> Result<(usize, bool)> {
    let rotation = build_rotation(tracks, jingles, cfg.jingle_cycle)?;
    let ids: Vec<&str> = rotation.iter().map(|e| e.id).collect();
    let text = manifest::render_playlist(manifest, &ids)?;
    Ok((
        ids.len(),
        manifest::save_playlist(&cfg.processed_dir, &text)?,
    ))
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

async fn add_to_kubo(
    station: &Station,
    items_dir: &Path,
    manifest: &mut Manifest,
    report: &mut SetupReport,
    on_event: &OnEvent,
) {
    let has_cids = manifest
        .items
        .iter()
        .flat_map(|i| &i.segments)
        .any(|s| s.cid.is_some());
    let needs_add = manifest
        .items
        .iter()
        .flat_map(|i| &i.segments)
        .any(|s| s.cid.is_none());
    if !has_cids && !needs_add {
        return;
    }
    let cfg = &station.setup;
    let kubo = match Kubo::new(station.kubo_api(), Duration::from_secs(300)) {
        Ok(k) => k,
        Err(e) => {
            report.kubo_error = Some(e.to_string());
            return;
        }
    };
    // One call tells whether Kubo is there and which CIDs it still pins.
    let pins = match kubo.pins().await {
        Ok(p) => p,
        Err(e) => {
            report.kubo_error = Some(format!(
                "{e}. The segments are prechunked: once Kubo runs, `station setup` only adds what is missing (nothing is encoded again)"
            ));
            return;
        }
    };
    for item in &mut manifest.items {
        for s in &mut item.segments {
            if s.cid.as_ref().is_some_and(|c| !pins.contains(c)) {
                s.cid = None;
            }
        }
    }
    let todo: Vec<(usize, usize)> = manifest
        .items
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
    let total = todo.len();
    let mut done = 0;
    for batch in todo.chunks(cfg.add_batch_size) {
        let mut files = Vec::with_capacity(batch.len());
        for &(i, j) in batch {
            let it = &manifest.items[i];
            let path = items_dir.join(&it.id).join(&it.segments[j].file);
            match std::fs::read(&path) {
                Ok(b) => files.push((format!("{}_{}", it.id, it.segments[j].file), b)),
                Err(e) => {
                    report.kubo_error = Some(format!("{}: {e}", path.display()));
                    return;
                }
            }
        }
        // A passing failure (an error in the middle of the reply, a dropped connection,
        // a 5xx) is tried again twice, after 1 s and 2 s; Kubo's refusals (4xx) are not.
        let mut attempt = 0;
        let result = loop {
            report.add_requests += 1;
            match kubo.add_files(files.clone(), true).await {
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
                    manifest.items[i].segments[j].cid = Some(a.cid);
                }
                done += batch.len();
                report.segments_added += batch.len();
                on_event(SetupEvent::Adding { done, total });
            }
            Err(e) => {
                report.kubo_error = Some(format!("{e}; run `station setup` again to add the rest"));
                return;
            }
        }
    }
}
