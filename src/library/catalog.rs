//! The station's library as the operator manages it: what is in it and in what state
//! ([`overview`]), bringing files in ([`import`]), taking items out ([`remove`]).
//!
//! Sources are never modified: an import copies, a removal moves the source into the
//! station's `trash/` folder (never deletes it), and every state file is written
//! atomically.

use crate::error::{Error, Result};
use crate::library::{self, ItemKind};
use crate::setup;
use crate::setup::manifest::{Manifest, ManifestItem, ITEMS_DIR};
use crate::setup::LastSetup;
use crate::station::Station;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Folder (inside the station) that removed sources are moved to.
pub const TRASH_DIR: &str = "trash";

/// Where an item stands, as the library table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// The source is in the folder but not prechunked yet (the next setup run does it).
    Pending,
    /// Prechunked, but some segments have no CID yet (Kubo was unreachable).
    WaitingForKubo,
    /// Prechunked and every segment added to Kubo: in the rotation.
    Ready,
    /// The last setup run could not use the source; `reason` says why.
    Failed,
}

/// One row of a library table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LibraryRow {
    /// The source file (absolute). For a file the scan cannot use (a name that is not
    /// valid UTF-8, a dangling link), the path as text, lossily: it names the file for
    /// the operator and is not a path to act on.
    pub source: PathBuf,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Item id once prechunked (e.g. `t-0123456789abcdef`).
    pub id: Option<String>,
    /// Title from the tags, else the file name.
    pub title: String,
    /// Artist, when the tags name one.
    pub artist: Option<String>,
    /// Duration in seconds, once prechunked.
    pub duration: Option<f64>,
    /// Measured integrated loudness of the source in LUFS (EBU R128), when normalized.
    pub loudness_lufs: Option<f64>,
    /// Gain applied by the encode in dB, when normalized.
    pub gain_db: Option<f64>,
    /// Segments of the prechunked item.
    pub segments: usize,
    /// Where the item stands.
    pub status: ItemStatus,
    /// Why it failed, for [`ItemStatus::Failed`].
    pub reason: Option<String>,
}

/// The whole library: one table per kind plus totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LibraryView {
    /// Music rows, in library (path) order.
    pub tracks: Vec<LibraryRow>,
    /// Jingle rows, in library (path) order.
    pub jingles: Vec<LibraryRow>,
    /// Entries in `playlist.m3u` (0 when there is none yet).
    pub rotation_len: usize,
    /// Seconds of audio in the ready items.
    pub ready_seconds: f64,
    /// Rows not ready (pending, waiting for Kubo or failed).
    pub not_ready: usize,
    /// The last setup run, when there was one.
    pub last_setup: Option<LastSetup>,
    /// What the station's `trash/` holds.
    pub trash: TrashInfo,
}

/// What the station's `trash/` folder holds (sources taken out of the library).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrashInfo {
    /// Files in it.
    pub files: usize,
    /// Their size, bytes.
    pub bytes: u64,
    /// Days a removed source is kept (`trash_retention_days`); `None`: forever.
    pub retention_days: Option<u64>,
}

/// What the trash of `station` holds (files and bytes, links not followed).
pub fn trash_info(station: &Station) -> TrashInfo {
    fn walk(dir: &Path, info: &mut TrashInfo, depth: usize) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.is_dir() && depth < 16 {
                walk(&e.path(), info, depth + 1);
            } else if m.is_file() {
                info.files += 1;
                info.bytes += m.len();
            }
        }
    }
    let mut info = TrashInfo {
        retention_days: station.setup.trash_retention.map(|d| d.as_secs() / 86_400),
        ..TrashInfo::default()
    };
    walk(&station.dir().join(TRASH_DIR), &mut info, 0);
    info
}

/// When a trash entry was moved there: the Unix time [`remove`] puts before its name
/// (`<unix time>-<name>`, `<unix time>-<n>-<name>`). The file's own modification time
/// is the source's (a move keeps it), so it cannot tell.
fn trashed_at(name: &str) -> Option<i64> {
    let (ts, rest) = name.split_once('-')?;
    (!ts.is_empty() && !rest.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()))
        .then(|| ts.parse().ok())
        .flatten()
}

/// Deletes the files [`remove`] moved into the trash of `station` more than
/// `trash_retention_days` before `now` (by the time in their names); nothing when the
/// setting is 0. Files in the trash that [`remove`] did not name are left alone. Returns
/// what it deleted.
///
/// Errors: [`Error::Io`] when the trash cannot be read or a file not deleted (those
/// before it are deleted).
pub fn expire_trash(station: &Station, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<PathBuf>> {
    let Some(keep) = station.setup.trash_retention else {
        return Ok(Vec::new());
    };
    let trash = station.dir().join(TRASH_DIR);
    let rd = match std::fs::read_dir(&trash) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&trash, e)),
    };
    let oldest = now
        .timestamp()
        .saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
    let mut removed = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let expired = trashed_at(&name).is_some_and(|t| t < oldest);
        let file = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file());
        if expired && file {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            tracing::info!("deleted from the trash: {}", e.path().display());
            removed.push(e.path());
        }
    }
    removed.sort();
    Ok(removed)
}

/// The manifest's items by the source each was made from, found whatever spelling of
/// the path setup recorded: as recorded (no file system access: a setup of this
/// version records the canonical path, see [`Station::open`]), else absolute sources by
/// their canonical path (links resolved, computed at the first miss), and the relative
/// ones an older setup recorded (relative to the folder it ran in, unknown now) by the
/// listed path ending in them, component by component.
struct SourceIndex<'m> {
    recorded: HashMap<&'m Path, &'m ManifestItem>,
    canonical: std::cell::OnceCell<HashMap<PathBuf, &'m ManifestItem>>,
    relative: Vec<&'m ManifestItem>,
}

impl<'m> SourceIndex<'m> {
    fn new(items: impl Iterator<Item = &'m ManifestItem>) -> Self {
        let recorded: HashMap<&'m Path, &'m ManifestItem> =
            items.map(|i| (i.source.as_path(), i)).collect();
        let relative = recorded
            .values()
            .filter(|i| !i.source.is_absolute())
            .copied()
            .collect();
        SourceIndex {
            recorded,
            canonical: std::cell::OnceCell::new(),
            relative,
        }
    }

    /// The item made from the source `path`.
    fn get(&self, path: &Path) -> Option<&'m ManifestItem> {
        if let Some(item) = self.recorded.get(path) {
            return Some(item);
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let by_canonical = self.canonical.get_or_init(|| {
            self.recorded
                .values()
                .filter(|i| i.source.is_absolute())
                .map(|i| {
                    let c = i.source.canonicalize().unwrap_or_else(|_| i.source.clone());
                    (c, *i)
                })
                .collect()
        });
        by_canonical.get(&canonical).copied().or_else(|| {
            self.relative
                .iter()
                .find(|i| path.ends_with(&i.source) || canonical.ends_with(&i.source))
                .copied()
        })
    }
}

/// The library of `station`: every source file in `music_dir` and `jingles_dir` (or the
/// folders a valid `schedule.json` names) with its status, joined with `manifest.json` and the failures of the last setup run.
///
/// Errors: none for a missing manifest or folder (they are empty); [`Error::Io`] only
/// when the state folder cannot be read.
pub fn overview(station: &Station) -> Result<LibraryView> {
    let cfg = &station.setup;
    let manifest = Manifest::load(&cfg.processed_dir).ok();
    let by_source = SourceIndex::new(manifest.iter().flat_map(|m| m.items.iter()));
    let last = station.state().load_last_setup();
    let failed: HashMap<&Path, &str> = last
        .iter()
        .flat_map(|l| {
            l.failures
                .iter()
                .map(|f| (f.path.as_path(), f.reason.as_str()))
        })
        .collect();
    let mut view = LibraryView {
        tracks: Vec::new(),
        jingles: Vec::new(),
        rotation_len: crate::setup::manifest::load_playlist(&cfg.processed_dir)
            .map_or(0, |p| p.len()),
        ready_seconds: 0.0,
        not_ready: 0,
        last_setup: None,
        trash: trash_info(station),
    };
    // The folders setup reads: a valid schedule's, else music_dir and jingles_dir.
    let schedule = crate::setup::schedule::ScheduleSpec::load(station)
        .ok()
        .flatten();
    let folders = crate::setup::source_folders(station, schedule.as_ref());
    let mut listed: std::collections::HashSet<(ItemKind, PathBuf)> = Default::default();
    for kind in [ItemKind::Track, ItemKind::Jingle] {
        let mut rows = Vec::new();
        let mut files = Vec::new();
        for (_, dir, _) in folders.iter().filter(|(k, _, _)| *k == kind) {
            let listing = library::list_candidates(dir);
            // What the scan itself refuses (names that are not UTF-8, dangling links,
            // link loops): failed rows with the reason, their paths already lossy text.
            for f in listing.failures {
                if !listed.insert((kind, f.path.clone())) {
                    continue;
                }
                view.not_ready += 1;
                rows.push(LibraryRow {
                    title: f
                        .path
                        .file_name()
                        .map_or_else(String::new, |s| s.to_string_lossy().to_string()),
                    source: f.path,
                    kind,
                    id: None,
                    artist: None,
                    duration: None,
                    loudness_lufs: None,
                    gain_db: None,
                    segments: 0,
                    status: ItemStatus::Failed,
                    reason: Some(f.reason),
                });
            }
            files.extend(listing.files);
        }
        for path in files {
            if !listed.insert((kind, path.clone())) {
                continue;
            }
            let row = match by_source.get(&path).filter(|i| i.kind == kind) {
                Some(item) => {
                    let status = if item.has_all_cids() {
                        ItemStatus::Ready
                    } else {
                        ItemStatus::WaitingForKubo
                    };
                    LibraryRow {
                        source: path.clone(),
                        kind,
                        id: Some(item.id.clone()),
                        title: item.title.clone(),
                        artist: item.artist.clone(),
                        duration: Some(item.duration),
                        loudness_lufs: item.loudness.as_ref().map(|l| l.measured_lufs),
                        gain_db: item.loudness.as_ref().map(|l| l.applied_gain_db),
                        segments: item.segments.len(),
                        status,
                        reason: None,
                    }
                }
                None => {
                    let reason = failed.get(path.as_path()).map(|r| r.to_string());
                    LibraryRow {
                        source: path.clone(),
                        kind,
                        id: None,
                        title: path
                            .file_stem()
                            .map_or_else(String::new, |s| s.to_string_lossy().to_string()),
                        artist: None,
                        duration: None,
                        loudness_lufs: None,
                        gain_db: None,
                        segments: 0,
                        status: if reason.is_some() {
                            ItemStatus::Failed
                        } else {
                            ItemStatus::Pending
                        },
                        reason,
                    }
                }
            };
            if row.status == ItemStatus::Ready {
                view.ready_seconds += row.duration.unwrap_or(0.0);
            } else {
                view.not_ready += 1;
            }
            rows.push(row);
        }
        match kind {
            ItemKind::Track => view.tracks = rows,
            ItemKind::Jingle => view.jingles = rows,
        }
    }
    view.last_setup = last;
    Ok(view)
}

/// One file brought into the library by [`import`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imported {
    /// Where it came from.
    pub from: PathBuf,
    /// Where the copy is (inside `music_dir` or `jingles_dir`).
    pub to: PathBuf,
}

/// One file [`import`] did not bring in, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    /// The file (or folder) as given.
    pub path: PathBuf,
    /// Why (not audio, unreadable, already in the library, ...).
    pub reason: String,
}

/// What [`import`] did, per file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Files copied in.
    pub added: Vec<Imported>,
    /// Files left out, each with the reason; the rest went on.
    pub refused: Vec<Refused>,
}

/// Copies the audio among `paths` (files, or folders taken recursively) into the
/// station's `music_dir` (tracks) or `jingles_dir` (jingles). Playlists and lists
/// ([`library::NOT_AUDIO_EXTENSIONS`]) and names that are not valid UTF-8 are refused by
/// name (shown lossily); each other file is probed with ffprobe first: anything without
/// an audio stream, or an HLS playlist or ffconcat list under another name, is refused
/// with the reason.
/// A folder keeps its name as a subfolder. A file whose name is taken by different
/// content gets ` (2)`, ` (3)`, ... before its extension; a file already there with the
/// same content, or a file already inside the destination, is refused as "already in
/// the library". Copies are written to a temp file and renamed, so a half-copied file is
/// never seen by setup. The originals are only read.
///
/// Errors: [`Error::Io`] when the destination folder cannot be created; per-file
/// problems are in [`ImportReport::refused`]; [`Error::ToolMissing`] without ffprobe.
pub fn import(station: &Station, kind: ItemKind, paths: &[PathBuf]) -> Result<ImportReport> {
    let cfg = &station.setup;
    let dest_root = match kind {
        ItemKind::Track => &cfg.music_dir,
        ItemKind::Jingle => &cfg.jingles_dir,
    };
    std::fs::create_dir_all(dest_root).map_err(|e| Error::io(dest_root, e))?;
    let dest_canon = dest_root
        .canonicalize()
        .map_err(|e| Error::io(dest_root, e))?;
    let mut report = ImportReport::default();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                report.refused.push(Refused {
                    path: library::lossy(path),
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if meta.is_dir() {
            let base = path.file_name().map(PathBuf::from).unwrap_or_default();
            let listing = library::list_candidates(path);
            report
                .refused
                .extend(listing.failures.into_iter().map(|f| Refused {
                    path: f.path,
                    reason: f.reason,
                }));
            report
                .refused
                .extend(listing.skipped.iter().map(|p| Refused {
                    path: p.clone(),
                    reason: library::refused_by_name(p).unwrap_or_default(),
                }));
            if listing.files.is_empty() && listing.skipped.is_empty() {
                report.refused.push(Refused {
                    path: library::lossy(path),
                    reason: "the folder holds no files".into(),
                });
            }
            for file in listing.files {
                let rel = file.strip_prefix(path).unwrap_or(&file);
                let sub = base.join(rel.parent().unwrap_or(Path::new("")));
                import_file(&file, &dest_root.join(sub), &dest_canon, &mut report)?;
            }
        } else {
            import_file(path, dest_root, &dest_canon, &mut report)?;
        }
    }
    Ok(report)
}

fn import_file(
    file: &Path,
    dest_dir: &Path,
    dest_canon: &Path,
    report: &mut ImportReport,
) -> Result<()> {
    let refuse = |report: &mut ImportReport, reason: String| {
        report.refused.push(Refused {
            path: library::lossy(file),
            reason,
        })
    };
    if let Some(reason) = library::refused_by_name(file) {
        refuse(report, reason);
        return Ok(());
    }
    if file.canonicalize().is_ok_and(|c| c.starts_with(dest_canon)) {
        refuse(report, "already in the library".into());
        return Ok(());
    }
    match library::probe(file) {
        Ok(_) => {}
        Err(e @ Error::ToolMissing { .. }) => return Err(e),
        Err(e) => {
            refuse(report, format!("not usable audio: {}", e.reason()));
            return Ok(());
        }
    }
    let Some(name) = file.file_name() else {
        refuse(report, "no file name".into());
        return Ok(());
    };
    if let Err(e) = std::fs::create_dir_all(dest_dir) {
        refuse(report, format!("cannot create {}: {e}", dest_dir.display()));
        return Ok(());
    }
    let fp = match library::fingerprint(file) {
        Ok(f) => f,
        Err(e) => {
            refuse(report, e.reason());
            return Ok(());
        }
    };
    let stem = Path::new(name)
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().to_string());
    let ext = Path::new(name)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut n = 1;
    let target = loop {
        let candidate = if n == 1 {
            dest_dir.join(name)
        } else {
            dest_dir.join(format!("{stem} ({n}){ext}"))
        };
        if !candidate.exists() {
            break candidate;
        }
        if library::fingerprint(&candidate).is_ok_and(|f| f == fp) {
            refuse(
                report,
                format!("already in the library as {}", candidate.display()),
            );
            return Ok(());
        }
        n += 1;
    };
    match copy_atomic(file, &target) {
        Ok(()) => report.added.push(Imported {
            from: file.to_path_buf(),
            to: target,
        }),
        Err(e) => refuse(report, e.to_string()),
    }
    Ok(())
}

/// Copies `from` to `to` through a hidden temp file in the same folder (skipped by the
/// library scan) and a rename.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".import-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let mut src = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    let mut out = tmp.as_file();
    std::io::copy(&mut src, &mut out).map_err(|e| Error::io(to, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(to, e))?;
    tmp.persist_noclobber(to)
        .map_err(|e| Error::io(to, e.error))?;
    Ok(())
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removed {
    /// Where the source now is (inside the station's `trash/`).
    pub trashed_to: PathBuf,
    /// The item taken out of the manifest and the rotation, when it was prechunked.
    pub item_id: Option<String>,
    /// Entries left in the rotation.
    pub rotation_len: usize,
}

/// Takes the source `source` out of the library of the station in `station`: the
/// source moves to `<station>/trash/<unix time>-<name>` (never deleted), its item leaves
/// `manifest.json`, `playlist.m3u` and `items/`. Segments stay pinned in Kubo: a
/// listener holding an older live playlist still plays them.
///
/// Errors: [`Error::BadSource`] when `source` is not inside `music_dir` or `jingles_dir`
/// (or a folder `schedule.json` names), or it is the last ready track (the rotation
/// needs one: add another first); as [`crate::setup::schedule::ScheduleSpec::load`] for an
/// invalid schedule;
/// [`Error::Io`] when it cannot be moved or the state written.
pub fn remove(station: &Station, source: &Path) -> Result<Removed> {
    let cfg = &station.setup;
    let canon = source.canonicalize().map_err(|e| Error::io(source, e))?;
    // The programme is rewritten after the removal: an invalid schedule refuses it
    // before anything moves.
    let schedule = crate::setup::schedule::ScheduleSpec::load(station)?;
    let folders: Vec<PathBuf> = match &schedule {
        Some(s) => s.folders().into_iter().map(|(_, p)| p).collect(),
        None => vec![cfg.music_dir.clone(), cfg.jingles_dir.clone()],
    };
    let inside = folders
        .iter()
        .any(|d| d.canonicalize().is_ok_and(|d| canon.starts_with(d)));
    if !inside {
        return Err(Error::BadSource {
            file: source.to_path_buf(),
            reason: "not in the station's music or jingles folder".into(),
        });
    }
    let mut manifest = Manifest::load(&cfg.processed_dir).ok();
    let item = manifest
        .as_ref()
        .and_then(|m| SourceIndex::new(m.items.iter()).get(source))
        .cloned();
    if let (Some(m), Some(item)) = (&manifest, &item) {
        let tracks_left = m
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Track && i.id != item.id)
            .count();
        if item.kind == ItemKind::Track && tracks_left == 0 {
            return Err(Error::BadSource {
                file: source.to_path_buf(),
                reason:
                    "this is the last track of the rotation: add another track before removing it"
                        .into(),
            });
        }
    }
    let trash = station.dir().join(TRASH_DIR);
    std::fs::create_dir_all(&trash).map_err(|e| Error::io(&trash, e))?;
    let name = source
        .file_name()
        .map_or_else(|| "source".to_string(), |n| n.to_string_lossy().to_string());
    let mut target = trash.join(format!("{}-{name}", chrono::Utc::now().timestamp()));
    let mut n = 2;
    while target.exists() {
        target = trash.join(format!("{}-{n}-{name}", chrono::Utc::now().timestamp()));
        n += 1;
    }
    if std::fs::rename(source, &target).is_err() {
        // Another file system: copy, then remove the original only once the copy is safe.
        copy_atomic(source, &target)?;
        std::fs::remove_file(source).map_err(|e| Error::io(source, e))?;
    }
    let mut rotation_len =
        crate::setup::manifest::load_playlist(&cfg.processed_dir).map_or(0, |p| p.len());
    if let (Some(m), Some(item)) = (manifest.as_mut(), &item) {
        m.items.retain(|i| i.id != item.id);
        // The rotation first (it no longer names the item, which the manifest on disk
        // still has), then the manifest: a kill between leaves a consistent folder.
        let (len, _) = setup::write_programme(m, schedule.as_ref(), cfg)?;
        m.save(&cfg.processed_dir)?;
        rotation_len = len;
        let dir = cfg.processed_dir.join(ITEMS_DIR).join(&item.id);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!("could not remove {}: {e}", dir.display());
        }
    }
    Ok(Removed {
        trashed_to: target,
        item_id: item.map(|i| i.id),
        rotation_len,
    })
}
