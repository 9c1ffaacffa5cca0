//! The programme: the default rotation, each programme block's rotation and the timetable
//! saying which plays when ([`Programme`]), the items' tags ([`ItemMeta`]), and the form
//! saved as the last good programme ([`SavedProgramme`]).

use super::rotation::{PlayItem, Rotation};
use crate::error::{Error, Result};
use crate::setup::schedule::{ProcessedSchedule, Timetable, DEFAULT_BLOCK};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// What an item's tags say, for the as-run log (`title`, `artist`, `album`, `isrc`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    /// Title.
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// Album, when the source has it.
    pub album: Option<String>,
    /// ISRC, when the source has it.
    pub isrc: Option<String>,
}

/// One programme block's rotation in a [`Programme`]: `None` when the block has nothing
/// playable (the default plays in its hours).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRotation {
    /// Block name.
    pub name: String,
    /// Its rotation.
    pub rotation: Option<Arc<Rotation>>,
}

/// Everything the air clock plays: the default rotation, the rotation of each programme
/// block, and the timetable saying which block is on when (`None`: the default all the
/// time). Built from the processed folder ([`crate::air::streamer::load_programme`]).
#[derive(Debug, Clone)]
pub struct Programme {
    default: Arc<Rotation>,
    blocks: Vec<BlockRotation>,
    schedule: Option<ProcessedSchedule>,
    timetable: Option<Timetable>,
    /// The configured segment duration, seconds (0 when unknown).
    nominal_segment: f64,
    meta: HashMap<String, ItemMeta>,
    hash: String,
    longest: f64,
}

impl Programme {
    /// One rotation all the time (no schedule), segments of unknown nominal length.
    pub fn single(rotation: Arc<Rotation>) -> Programme {
        Programme::new(rotation, Vec::new(), None, 0.0, HashMap::new())
    }

    /// A programme of `default` and `blocks`, following `schedule`'s timetable, made
    /// with `nominal_segment` s segments; `meta` gives the tags of the items by id.
    /// Blocks the schedule names but `blocks` lacks play the default.
    pub fn new(
        default: Arc<Rotation>,
        blocks: Vec<BlockRotation>,
        schedule: Option<ProcessedSchedule>,
        nominal_segment: f64,
        meta: HashMap<String, ItemMeta>,
    ) -> Programme {
        let timetable = schedule.as_ref().and_then(|s| match s.timetable() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("ignoring the schedule: {e}");
                None
            }
        });
        let mut h = Sha256::new();
        h.update(default.hash.as_bytes());
        for b in &blocks {
            h.update([2]);
            h.update(b.name.as_bytes());
            h.update([0]);
            h.update(
                b.rotation
                    .as_ref()
                    .map_or("-", |r| r.hash.as_str())
                    .as_bytes(),
            );
        }
        if let Some(s) = &schedule {
            h.update([3]);
            h.update(s.timezone.as_bytes());
            for b in &s.blocks {
                h.update(
                    format!(
                        "|{}|{:?}|{}|{}|{}",
                        b.name, b.days, b.start_minute, b.end_minute, b.hard
                    )
                    .as_bytes(),
                );
            }
        }
        let longest = blocks
            .iter()
            .filter_map(|b| b.rotation.as_ref())
            .map(|r| r.longest_segment())
            .fold(default.longest_segment(), f64::max);
        Programme {
            default,
            blocks,
            schedule,
            timetable,
            nominal_segment,
            meta,
            hash: hex::encode(h.finalize()),
            longest,
        }
    }

    /// Hex SHA-256 over the rotations and the timetable: equal hashes mean the same
    /// programme.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The default rotation.
    pub fn default_rotation(&self) -> &Arc<Rotation> {
        &self.default
    }

    /// The blocks' rotations.
    pub fn blocks(&self) -> &[BlockRotation] {
        &self.blocks
    }

    /// The processed schedule it follows, if any.
    pub fn schedule(&self) -> Option<&ProcessedSchedule> {
        self.schedule.as_ref()
    }

    /// The timetable it follows, if any.
    pub fn timetable(&self) -> Option<&Timetable> {
        self.timetable.as_ref()
    }

    /// The configured segment duration, seconds (0 when unknown).
    pub fn nominal_segment(&self) -> f64 {
        self.nominal_segment
    }

    /// The tags of item `id`, when known.
    pub fn meta(&self, id: &str) -> Option<&ItemMeta> {
        self.meta.get(id)
    }

    /// Every item's tags, by id.
    pub fn all_meta(&self) -> &HashMap<String, ItemMeta> {
        &self.meta
    }

    /// Blocks of the schedule with nothing playable (the default plays in their hours).
    pub fn empty_blocks(&self) -> Vec<&str> {
        let Some(s) = &self.schedule else {
            return Vec::new();
        };
        s.blocks
            .iter()
            .filter(|b| {
                !self
                    .blocks
                    .iter()
                    .any(|r| r.name == b.name && r.rotation.is_some())
            })
            .map(|b| b.name.as_str())
            .collect()
    }

    /// The rotation that plays for block `name`: `(the block's name, or DEFAULT_BLOCK
    /// when it has nothing playable or is unknown; its rotation)`.
    pub fn rotation_for(&self, name: &str) -> (&str, &Arc<Rotation>) {
        self.blocks
            .iter()
            .find(|b| b.name == name)
            .and_then(|b| b.rotation.as_ref().map(|r| (b.name.as_str(), r)))
            .unwrap_or((DEFAULT_BLOCK, &self.default))
    }

    /// The block whose rotation plays at `t` (see [`Programme::rotation_for`]).
    pub fn block_at(&self, t: DateTime<Utc>) -> &str {
        match &self.timetable {
            Some(tt) => self.rotation_for(tt.block_at(t)).0,
            None => DEFAULT_BLOCK,
        }
    }

    /// Whether block `name` takes over at a segment boundary.
    pub(super) fn is_hard(&self, name: &str) -> bool {
        self.timetable.as_ref().is_some_and(|t| t.is_hard(name))
    }

    /// The longest segment of any rotation, seconds.
    pub fn longest_segment(&self) -> f64 {
        self.longest
    }

    /// `#EXT-X-TARGETDURATION` for a stream born on this programme: the longest segment
    /// rounded up (RFC 8216 section 4.3.3.1), and at least the configured segment
    /// duration rounded up, so items that land later (setup still running, a block's
    /// rotation) fit in it even when the first items are short: ffmpeg cuts AAC segments
    /// at most a frame (about 23 ms) past their nominal length, and the rule compares
    /// each `#EXTINF` rounded to the nearest second.
    pub fn target_duration(&self) -> u64 {
        let nominal = if self.nominal_segment > 0.0 {
            self.nominal_segment.ceil() as u64
        } else {
            0
        };
        (self.longest.ceil() as u64).max(nominal).max(1)
    }

    /// Mean segment duration of the default rotation, seconds (the default tick
    /// interval).
    pub fn mean_segment_duration(&self) -> f64 {
        self.default.mean_segment_duration()
    }

    /// The form saved as the last good programme (`on_air_programme.json`).
    pub fn to_saved(&self) -> SavedProgramme {
        let entries = |r: &Rotation| r.entries.iter().map(|e| e.as_ref().clone()).collect();
        SavedProgramme {
            format: SAVED_PROGRAMME_FORMAT,
            hash: self.hash.clone(),
            default: entries(&self.default),
            blocks: self
                .blocks
                .iter()
                .map(|b| SavedBlock {
                    name: b.name.clone(),
                    entries: b.rotation.as_deref().map(entries).unwrap_or_default(),
                })
                .collect(),
            schedule: self.schedule.clone(),
            nominal_segment: self.nominal_segment,
            meta: self.meta.clone(),
        }
    }

    /// Rebuilds a saved programme.
    ///
    /// Errors: [`Error::Rotation`] when its default rotation is empty.
    pub fn from_saved(s: SavedProgramme) -> Result<Programme> {
        if s.default.is_empty() {
            return Err(Error::Rotation("the saved programme is empty".into()));
        }
        let rotation = |items: Vec<PlayItem>| -> Arc<Rotation> {
            let mut built: HashMap<String, Arc<PlayItem>> = HashMap::new();
            Arc::new(Rotation::new(
                items
                    .into_iter()
                    .map(|i| {
                        built
                            .entry(i.id.clone())
                            .or_insert_with(|| Arc::new(i))
                            .clone()
                    })
                    .collect(),
            ))
        };
        Ok(Programme::new(
            rotation(s.default),
            s.blocks
                .into_iter()
                .map(|b| BlockRotation {
                    name: b.name,
                    rotation: (!b.entries.is_empty()).then(|| rotation(b.entries)),
                })
                .collect(),
            s.schedule,
            s.nominal_segment,
            s.meta,
        ))
    }
}

/// Format version of [`SavedProgramme`].
pub const SAVED_PROGRAMME_FORMAT: u32 = 1;

/// A programme as saved in `data/state/on_air_programme.json`: the last one that was on
/// air, which stays on air when the processed folder becomes unplayable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedProgramme {
    /// [`SAVED_PROGRAMME_FORMAT`].
    pub format: u32,
    /// [`Programme::hash`] of what was saved.
    pub hash: String,
    /// The default rotation, entries in air order.
    pub default: Vec<PlayItem>,
    /// The blocks' rotations.
    pub blocks: Vec<SavedBlock>,
    /// The schedule.
    pub schedule: Option<ProcessedSchedule>,
    /// Configured segment duration, seconds.
    pub nominal_segment: f64,
    /// Item tags by id.
    pub meta: HashMap<String, ItemMeta>,
}

/// One block of [`SavedProgramme`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedBlock {
    /// Block name.
    pub name: String,
    /// Entries in air order (empty: nothing playable).
    pub entries: Vec<PlayItem>,
}
