//! The rotation ahead as a timeline, for the console: items with their air times, from
//! the streamer's own schedule when on air (the times listeners will hear), else from
//! now; with another jingle cycle as a preview of that setting.

use crate::air::window::{Rotation, Schedule};
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::manifest::{self, Manifest};
use crate::station::Station;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

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
    /// Errors: [`Error::Manifest`], [`Error::Io`] when there is no rotation yet.
    pub fn load(station: &Station) -> Result<Programme> {
        let processed = station.processed_dir();
        let stamp = stamp(processed);
        Ok(Programme {
            manifest: Manifest::load(processed)?,
            playlist: manifest::load_playlist(processed)?,
            stamp,
            rotation: std::sync::OnceLock::new(),
        })
    }

    /// Whether the files on disk are still the ones read.
    pub fn is_current(&self, station: &Station) -> bool {
        self.stamp.is_some() && stamp(station.processed_dir()) == self.stamp
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
    station: &Station,
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
    station: &Station,
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
    let on_air = station
        .state()
        .load_stream_state()
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
