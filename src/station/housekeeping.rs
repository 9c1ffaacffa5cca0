//! Bounded growth at the start of setup and stream: the temp files of atomic writes that
//! never finished ([`super::atomic::sweep_stale_temps`]) in every folder the station
//! writes (the station folder's config files, the state folder, the processed folder
//! and each item folder in it), and, at setup, the trash past `trash_retention_days`
//! ([`crate::library::catalog::expire_trash`]).

use super::Station;
use crate::setup::manifest::ITEMS_DIR;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::time::Duration;

/// How old a temp file must be to count as stale: an atomic write takes milliseconds.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// What housekeeping removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Housekeeping {
    /// Stale temp files removed.
    pub temps_removed: Vec<PathBuf>,
    /// Trash entries deleted (older than `trash_retention_days`).
    pub trash_removed: Vec<PathBuf>,
    /// What could not be done (it is tried again next time).
    pub errors: Vec<String>,
}

/// The folders the station writes with atomic writes: the station folder, the state
/// folder, the processed folder and each folder in its `items/`.
fn written_folders(station: &Station) -> Vec<PathBuf> {
    let mut dirs = vec![
        station.dir().to_path_buf(),
        station.state_dir().to_path_buf(),
        station.processed_dir().to_path_buf(),
    ];
    let items = station.processed_dir().join(ITEMS_DIR);
    if let Ok(rd) = std::fs::read_dir(&items) {
        dirs.extend(
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path()),
        );
    }
    dirs.push(items);
    dirs
}

/// Before a stream starts: stale temp files removed.
pub fn before_stream(station: &Station, _now: DateTime<Utc>) -> Housekeeping {
    let mut h = Housekeeping::default();
    for dir in written_folders(station) {
        h.temps_removed
            .extend(super::atomic::sweep_stale_temps(&dir, STALE_TEMP_AGE));
    }
    for p in &h.temps_removed {
        tracing::info!("removed a stale temp file: {}", p.display());
    }
    h
}

/// Before setup runs: what [`before_stream`] does, and the trash entries older than
/// `trash_retention_days` deleted.
pub fn before_setup(station: &Station, now: DateTime<Utc>) -> Housekeeping {
    let mut h = before_stream(station, now);
    match crate::library::catalog::expire_trash(station, now) {
        Ok(removed) => h.trash_removed = removed,
        Err(e) => h.errors.push(e.to_string()),
    }
    h
}
