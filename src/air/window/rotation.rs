//! The rotation: the items the streamer plays ([`PlayItem`], each of its [`PlaySegment`]s)
//! in air order, looping ([`Rotation`]).

use super::seconds;
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::manifest::Manifest;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// One segment of an item as the streamer plays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaySegment {
    /// File name inside `items/<id>/`.
    pub file: String,
    /// CID in Kubo (`None` in preview mode when not yet added).
    pub cid: Option<String>,
    /// Duration in seconds.
    pub duration: f64,
}

/// One item of the rotation as the streamer plays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayItem {
    /// Item id.
    pub id: String,
    /// `Artist - Title` for `#EXTINF`.
    pub title: String,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Segments in play order (never empty).
    pub segments: Vec<PlaySegment>,
}

/// The rotation in air order, ready to schedule. It loops.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// Entries in air order (an item may appear more than once, e.g. a jingle).
    pub entries: Vec<Arc<PlayItem>>,
    /// Hex SHA-256 over the entries (ids, segment CIDs, durations): equal hashes mean
    /// the same programme.
    pub hash: String,
    /// Longest segment, seconds.
    longest: f64,
}

impl Rotation {
    /// Builds the rotation from the manifest and the playlist's item ids.
    ///
    /// With `require_cids`, items with a segment lacking a CID are left out (their ids
    /// are returned in the second value) because they cannot be published yet.
    ///
    /// Errors: [`Error::Manifest`] when the playlist names an item the manifest lacks;
    /// [`Error::Rotation`] when no playable entry is left.
    pub fn from_manifest(
        manifest: &Manifest,
        ids: &[String],
        require_cids: bool,
    ) -> Result<(Rotation, Vec<String>)> {
        let mut built: std::collections::HashMap<&str, Arc<PlayItem>> = Default::default();
        let index: std::collections::HashMap<&str, &crate::setup::manifest::ManifestItem> =
            manifest.items.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut skipped = Vec::new();
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids {
            let item = index
                .get(id.as_str())
                .copied()
                .ok_or_else(|| Error::Manifest {
                    file: crate::setup::manifest::PLAYLIST_FILE.into(),
                    message: format!("names item `{id}` that manifest.json does not have"),
                })?;
            if require_cids && !item.has_all_cids() {
                if !skipped.contains(id) {
                    skipped.push(id.clone());
                }
                continue;
            }
            let play = built.entry(item.id.as_str()).or_insert_with(|| {
                Arc::new(PlayItem {
                    id: item.id.clone(),
                    title: item.display_title(),
                    kind: item.kind,
                    segments: item
                        .segments
                        .iter()
                        .map(|s| PlaySegment {
                            file: s.file.clone(),
                            cid: s.cid.clone(),
                            duration: s.duration,
                        })
                        .collect(),
                })
            });
            entries.push(play.clone());
        }
        if entries.is_empty() {
            return Err(Error::Rotation(if skipped.is_empty() {
                "the rotation is empty".into()
            } else {
                format!("no item of the rotation has CIDs yet ({} waiting): run `station setup` with Kubo running", skipped.len())
            }));
        }
        Ok((Rotation::new(entries), skipped))
    }

    /// Wraps entries, computing the hash.
    pub fn new(entries: Vec<Arc<PlayItem>>) -> Rotation {
        let mut h = Sha256::new();
        for e in &entries {
            h.update(e.id.as_bytes());
            h.update([0]);
            for s in &e.segments {
                h.update(s.cid.as_deref().unwrap_or("-").as_bytes());
                h.update(s.duration.to_le_bytes());
            }
            h.update([1]);
        }
        let longest = entries
            .iter()
            .flat_map(|e| e.segments.iter().map(|s| s.duration))
            .fold(0.0, f64::max);
        Rotation {
            entries,
            hash: hex::encode(h.finalize()),
            longest,
        }
    }

    /// The longest segment in seconds (computed once: the tick path asks every time).
    pub fn longest_segment(&self) -> f64 {
        self.longest
    }

    /// `#EXT-X-TARGETDURATION` for a stream born on this rotation: the longest segment
    /// rounded up to whole seconds (RFC 8216 section 4.3.3.1).
    pub fn target_duration(&self) -> u64 {
        (self.longest_segment().ceil() as u64).max(1)
    }

    /// Mean segment duration in seconds (the default tick interval).
    pub fn mean_segment_duration(&self) -> f64 {
        let (n, sum) = self
            .entries
            .iter()
            .flat_map(|e| e.segments.iter())
            .fold((0usize, 0.0), |(n, s), seg| (n + 1, s + seg.duration));
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }

    /// One full loop: (air time, segments, items).
    pub(super) fn loop_totals(&self) -> (Duration, u64, u64) {
        let mut d = Duration::zero();
        let mut n = 0u64;
        for e in &self.entries {
            for s in &e.segments {
                d += seconds(s.duration);
                n += 1;
            }
        }
        (d, n, self.entries.len() as u64)
    }
}
