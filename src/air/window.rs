//! The sliding live window: the rotation laid on the air clock, numbered with media
//! sequence numbers, rendered as an RFC 8216 live media playlist with m3u8-rs.
//!
//! The [`Schedule`] walks the [`Rotation`] and gives every segment an absolute media
//! sequence number and a wall-clock air time (the previous segment's air time plus its
//! duration). The live edge is the newest segment whose air time has come. Each tick the
//! schedule is extended so that `lookahead` segments exist past the live edge, segments
//! older than the window slide out, and [`Schedule::window`] gives the `window_size`
//! segments to publish. Rules followed (RFC 8216):
//! - `#EXT-X-TARGETDURATION` is fixed for the life of the stream (section 4.3.3.1,
//!   6.2.1) and every `#EXTINF` rounded is at most it.
//! - `#EXT-X-MEDIA-SEQUENCE` is the sequence number of the first segment (4.3.3.2); it only
//!   grows, because segments only leave from the front (6.2.1).
//! - Every item starts with `#EXT-X-DISCONTINUITY` (each item is its own encode, so
//!   timestamps restart); `#EXT-X-DISCONTINUITY-SEQUENCE` counts the tags that slid out
//!   (4.3.3.3, 6.2.1).
//! - `#EXT-X-PROGRAM-DATE-TIME` on every segment is its true air time (4.3.2.6).
//! - `#EXT-X-START:TIME-OFFSET` (negative, from the end) points players at the start of
//!   the live-edge segment, so the lookahead is a buffer, not a skip ahead (4.3.5.2).

use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::manifest::Manifest;
use crate::setup::schedule::{ProcessedSchedule, Timetable, DEFAULT_BLOCK};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// `#EXT-X-VERSION` of the live playlist: 3 for decimal `#EXTINF` durations (RFC 8216
/// section 7).
pub const HLS_VERSION: usize = 3;

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
    fn loop_totals(&self) -> (Duration, u64, u64) {
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
    fn is_hard(&self, name: &str) -> bool {
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

/// Seconds as a chrono duration, rounded to the microsecond.
fn seconds(s: f64) -> Duration {
    Duration::microseconds((s * 1e6).round() as i64)
}

/// A segment placed on the air clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledSegment {
    /// Media sequence number (RFC 8216 section 4.3.3.2), counted from the stream's birth.
    pub sequence: u64,
    /// Wall-clock time (UTC) at which this segment starts on air.
    pub air_time: DateTime<Utc>,
    /// Duration in seconds.
    pub duration: f64,
    /// Item id.
    pub item_id: String,
    /// `#EXTINF` title.
    pub title: String,
    /// Track or jingle.
    pub kind: ItemKind,
    /// File name inside `items/<item_id>/`.
    pub file: String,
    /// CID, when added.
    pub cid: Option<String>,
    /// Whether `#EXT-X-DISCONTINUITY` precedes this segment (first of its item).
    pub discontinuity: bool,
    /// Number of discontinuity tags from the stream's birth up to and including this
    /// segment.
    pub discontinuity_count: u64,
    /// The programme block it airs in ([`DEFAULT_BLOCK`] without a schedule).
    #[serde(default = "default_block")]
    pub block: String,
    /// Whether it is the first segment of its item (`None` in states saved before this
    /// was recorded: then `discontinuity` says it). A discontinuity can also mark where
    /// the air clock skipped ahead mid-item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_start: Option<bool>,
}

impl ScheduledSegment {
    /// Whether it is the first segment of its item.
    pub fn starts_item(&self) -> bool {
        self.item_start.unwrap_or(self.discontinuity)
    }

    /// Air time at which this segment ends.
    pub fn end_time(&self) -> DateTime<Utc> {
        self.air_time + seconds(self.duration)
    }
}

/// Where scheduling continues: the next segment to place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Media sequence number of the next segment.
    pub sequence: u64,
    /// Air time of the next segment.
    pub air_time: DateTime<Utc>,
    /// Discontinuity tags placed so far.
    pub discontinuity_count: u64,
    /// The item being placed (kept whole, so it finishes even if a reload drops it).
    pub item: PlayItem,
    /// Index of the next segment within `item` (may equal its length: item finished).
    pub segment: usize,
    /// Index in the rotation of `block` of the entry after `item`.
    pub next_entry: usize,
    /// The programme block `item` belongs to ([`DEFAULT_BLOCK`] without a schedule).
    #[serde(default = "default_block")]
    pub block: String,
    /// For each block not on air: the index of its next entry, so a block that returns
    /// (the next day) goes on with its rotation instead of restarting it.
    #[serde(default)]
    pub positions: BTreeMap<String, usize>,
    /// Set when the air clock skipped ahead (the station was off, or the wall clock
    /// jumped forward): the next segment placed carries `#EXT-X-DISCONTINUITY` even
    /// mid-item, since the segments before it never aired.
    #[serde(default)]
    pub resync: bool,
}

fn default_block() -> String {
    DEFAULT_BLOCK.to_string()
}

/// Everything needed to continue a stream after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The stream's fixed target duration in seconds.
    pub target_duration: u64,
    /// [`Programme::hash`] of the programme the cursor walks.
    pub rotation_hash: String,
    /// Scheduled segments still in (or ahead of) the window, oldest first.
    pub segments: Vec<ScheduledSegment>,
    /// The next segment to place.
    pub cursor: Cursor,
}

/// The air clock over a looping programme.
#[derive(Debug, Clone)]
pub struct Schedule {
    target_duration: u64,
    programme: Arc<Programme>,
    pending: Option<Arc<Programme>>,
    segments: VecDeque<ScheduledSegment>,
    cursor: Cursor,
}

/// The segments of one published playlist.
#[derive(Debug, Clone)]
pub struct LiveWindow<'a> {
    /// `#EXT-X-MEDIA-SEQUENCE`: sequence number of the first segment.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`: discontinuity tags that slid out.
    pub discontinuity_sequence: u64,
    /// `#EXT-X-TARGETDURATION` in seconds.
    pub target_duration: u64,
    /// The segments, oldest first.
    pub segments: Vec<&'a ScheduledSegment>,
    /// Index in `segments` of the live edge (the segment on air now).
    pub live_index: usize,
}

impl LiveWindow<'_> {
    /// Seconds from the start of the live-edge segment to the end of the window (the
    /// `#EXT-X-START:TIME-OFFSET` magnitude).
    pub fn live_offset(&self) -> f64 {
        self.segments[self.live_index..]
            .iter()
            .map(|s| s.duration)
            .sum()
    }

    /// Total duration of the window in seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// The live-edge segment.
    pub fn live(&self) -> &ScheduledSegment {
        self.segments[self.live_index]
    }
}

/// An item as it airs (or will): from the schedule, then by walking the programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AirItem {
    /// Item id.
    pub item_id: String,
    /// `Artist - Title`.
    pub title: String,
    /// Track or jingle.
    pub kind: ItemKind,
    /// The programme block it airs in.
    pub block: String,
    /// Air time of its first segment (UTC).
    pub air_time: DateTime<Utc>,
    /// Seconds it airs: its duration, or less when a hard block start cuts it.
    pub duration: f64,
    /// Media sequence number of its first segment.
    pub media_sequence: u64,
}

impl AirItem {
    /// When it ends on air.
    pub fn end_time(&self) -> DateTime<Utc> {
        self.air_time + seconds(self.duration)
    }
}

/// One step of the cursor: the segment placed.
struct Step {
    /// Index of the segment in the cursor's item.
    segment: usize,
    sequence: u64,
    air_time: DateTime<Utc>,
    discontinuity: bool,
}

/// Most cursor steps one walk ahead takes (a week of 1 s segments is 604,800).
const MAX_WALK_STEPS: usize = 2_000_000;

impl Schedule {
    /// A new stream whose media sequence 0 (the first segment of the rotation on air at
    /// `start`) airs at `start`.
    pub fn new(programme: Arc<Programme>, start: DateTime<Utc>) -> Schedule {
        let block = programme.block_at(start).to_string();
        let rotation = programme.rotation_for(&block).1.clone();
        let first = rotation.entries[0].as_ref().clone();
        Schedule {
            target_duration: programme.target_duration(),
            cursor: Cursor {
                sequence: 0,
                air_time: start,
                discontinuity_count: 0,
                item: first,
                segment: 0,
                next_entry: 1 % rotation.entries.len(),
                block,
                positions: BTreeMap::new(),
                resync: false,
            },
            programme,
            pending: None,
            segments: VecDeque::new(),
        }
    }

    /// A new stream going on air at `now`: media sequence 0, the first segment of the
    /// rotation on air at `now`, airs from `now`. Nothing is back-dated: the first window
    /// holds the live segment and the lookahead after it (no segment is dated before
    /// anyone could fetch it, issue 19), and it grows by one segment per segment of air
    /// time until it holds the window size: the history before the live point only ever
    /// holds what aired.
    pub fn born(programme: Arc<Programme>, now: DateTime<Utc>) -> Schedule {
        Schedule::new(programme, now)
    }

    /// Continues a stream from saved state over `programme` (which may differ from the
    /// one the state was made with: it then takes over at the next item boundary, under
    /// the same rule as [`Schedule::set_programme`]).
    ///
    /// Segments of the saved window and of the item in progress that have no CID get
    /// the one `programme` has for them ([`Schedule::refresh_cids`]): a stream that a
    /// local preview started before its segments were added to Kubo goes on under IPNS
    /// with the same media sequence, publishable at its first tick.
    ///
    /// Errors: [`Error::Window`] when the state is inconsistent, or when `programme`
    /// differs and has a segment over the stream's target duration once rounded (RFC 8216
    /// section 4.3.3.1 fixes it for the stream's life).
    pub fn resume(state: ScheduleState, programme: Arc<Programme>) -> Result<Schedule> {
        if state.cursor.item.segments.is_empty()
            || state.cursor.segment > state.cursor.item.segments.len()
        {
            return Err(Error::Window("saved cursor points outside its item".into()));
        }
        let same = state.rotation_hash == programme.hash;
        let longest = programme.longest_segment();
        if !same && longest.round() as u64 > state.target_duration {
            return Err(Error::Window(format!(
                "the programme has a {longest:.3} s segment but this stream's target duration is {} s (RFC 8216 4.3.3.1 forbids changing it)",
                state.target_duration
            )));
        }
        let mut s = Schedule {
            target_duration: state.target_duration,
            programme: programme.clone(),
            pending: None,
            segments: state.segments.into(),
            cursor: state.cursor,
        };
        s.refresh_cids(&programme);
        if !same {
            s.pending = Some(programme);
        }
        Ok(s)
    }

    /// Fills in the CIDs of scheduled segments (and of the item being placed) that lack
    /// one, from `programme`'s items: a stream that ran in preview mode before Kubo had
    /// the segments continues under IPNS with the same media sequence.
    pub fn refresh_cids(&mut self, programme: &Programme) {
        let items: HashMap<&str, &PlayItem> = std::iter::once(&programme.default)
            .chain(programme.blocks.iter().filter_map(|b| b.rotation.as_ref()))
            .flat_map(|r| r.entries.iter().map(|e| (e.id.as_str(), e.as_ref())))
            .collect();
        let cid_of = |id: &str, file: &str| -> Option<String> {
            items
                .get(id)?
                .segments
                .iter()
                .find(|s| s.file == file)?
                .cid
                .clone()
        };
        for s in self.segments.iter_mut().filter(|s| s.cid.is_none()) {
            s.cid = cid_of(&s.item_id, &s.file);
        }
        let id = self.cursor.item.id.clone();
        for s in self
            .cursor
            .item
            .segments
            .iter_mut()
            .filter(|s| s.cid.is_none())
        {
            s.cid = cid_of(&id, &s.file);
        }
    }

    /// The state to persist.
    pub fn state(&self) -> ScheduleState {
        ScheduleState {
            target_duration: self.target_duration,
            rotation_hash: self.programme.hash.clone(),
            segments: self.segments.iter().cloned().collect(),
            cursor: self.cursor.clone(),
        }
    }

    /// The stream's fixed target duration in seconds.
    pub fn target_duration(&self) -> u64 {
        self.target_duration
    }

    /// The programme being scheduled (the pending one once it is queued).
    pub fn programme(&self) -> &Arc<Programme> {
        self.pending.as_ref().unwrap_or(&self.programme)
    }

    /// Whether a new programme waits for the next item boundary.
    pub fn has_pending_programme(&self) -> bool {
        self.pending.is_some()
    }

    /// Queues `programme` to take over at the next item boundary that is not yet
    /// scheduled. Nothing happens when it is the same programme.
    ///
    /// Errors: [`Error::Window`] when a segment would exceed the stream's target duration
    /// once rounded (RFC 8216 section 4.3.3.1): the old programme stays on air.
    pub fn set_programme(&mut self, programme: Arc<Programme>) -> Result<()> {
        if programme.hash == self.programme().hash {
            return Ok(());
        }
        let longest = programme.longest_segment();
        if longest.round() as u64 > self.target_duration {
            return Err(Error::Window(format!(
                "the new programme has a {longest:.3} s segment but this stream's target duration is {} s (RFC 8216 4.3.3.1 forbids changing it); keeping the current programme — start a new stream to change the segment length",
                self.target_duration
            )));
        }
        self.pending = Some(programme);
        Ok(())
    }

    /// Moves the cursor to the next entry of the rotation of the block on air at its air
    /// time (switching to a pending programme first, and keeping the position of the
    /// block it leaves).
    fn next_item(&mut self) {
        if let Some(new) = self.pending.take() {
            let rot = new.rotation_for(&self.cursor.block).1;
            let n = rot.entries.len();
            self.cursor.next_entry = rot
                .entries
                .iter()
                .position(|e| e.id == self.cursor.item.id)
                .map_or(self.cursor.next_entry % n, |p| (p + 1) % n);
            self.programme = new;
        }
        let block = self.programme.block_at(self.cursor.air_time);
        if block != self.cursor.block {
            let block = block.to_string();
            let left = std::mem::replace(&mut self.cursor.block, block.clone());
            self.cursor.positions.insert(left, self.cursor.next_entry);
            self.cursor.next_entry = self.cursor.positions.remove(&block).unwrap_or(0);
        }
        let rot = self.programme.rotation_for(&self.cursor.block).1;
        let n = rot.entries.len();
        let idx = self.cursor.next_entry % n;
        self.cursor.item = rot.entries[idx].as_ref().clone();
        self.cursor.segment = 0;
        self.cursor.next_entry = (idx + 1) % n;
    }

    /// Whether a hard block starts by the cursor's air time, mid-item: the item is cut
    /// at this segment boundary.
    fn hard_cut_due(&self) -> bool {
        let p = &self.programme;
        match p.timetable() {
            Some(t) if t.has_hard_blocks() => {
                let b = p.block_at(self.cursor.air_time);
                b != self.cursor.block && p.is_hard(b)
            }
            _ => false,
        }
    }

    /// Advances the cursor by one segment (to the next item at the end of one, or when
    /// a hard block cuts it).
    fn step(&mut self) -> Step {
        if self.cursor.segment >= self.cursor.item.segments.len()
            || (self.cursor.segment > 0 && self.hard_cut_due())
        {
            self.next_item();
        }
        let c = &mut self.cursor;
        let segment = c.segment;
        let discontinuity = segment == 0 || c.resync;
        c.resync = false;
        if discontinuity {
            c.discontinuity_count += 1;
        }
        let step = Step {
            segment,
            sequence: c.sequence,
            air_time: c.air_time,
            discontinuity,
        };
        c.sequence += 1;
        c.air_time += seconds(c.item.segments[segment].duration);
        c.segment += 1;
        step
    }

    /// Places the next segment.
    fn push_next(&mut self) {
        let st = self.step();
        let c = &self.cursor;
        let seg = &c.item.segments[st.segment];
        self.segments.push_back(ScheduledSegment {
            sequence: st.sequence,
            air_time: st.air_time,
            duration: seg.duration,
            item_id: c.item.id.clone(),
            title: c.item.title.clone(),
            kind: c.item.kind,
            file: seg.file.clone(),
            cid: seg.cid.clone(),
            discontinuity: st.discontinuity,
            discontinuity_count: c.discontinuity_count,
            block: c.block.clone(),
            item_start: Some(st.segment == 0),
        });
    }

    /// After a long silence (station off for longer than a rotation loop), skips whole
    /// loops arithmetically: sequence and discontinuity counts advance as if they aired.
    /// Only without a timetable (with one, the blocks decide what airs when).
    fn skip_loops(&mut self, until: DateTime<Utc>) {
        if self.programme.timetable().is_some() {
            return;
        }
        let rot = self.programme.default.clone();
        let n = rot.entries.len();
        let at_start_of_entry = self.pending.is_none()
            && self.cursor.segment == 0
            && rot.entries[(self.cursor.next_entry + n - 1) % n].id == self.cursor.item.id;
        if !at_start_of_entry {
            return;
        }
        let (loop_d, loop_segs, loop_items) = rot.loop_totals();
        if loop_d <= Duration::zero() {
            return;
        }
        let gap = until - self.cursor.air_time;
        if gap <= loop_d {
            return;
        }
        let loops = (gap.num_microseconds().unwrap_or(i64::MAX)
            / loop_d.num_microseconds().unwrap_or(i64::MAX).max(1)) as u64;
        if loops == 0 {
            return;
        }
        self.cursor.sequence += loops * loop_segs;
        self.cursor.discontinuity_count += loops * loop_items;
        self.cursor.air_time += loop_d * loops as i32;
        self.segments.clear();
    }

    /// Extends and trims the schedule for wall-clock `now`: after it, the live edge
    /// exists, at least `lookahead` segments follow it, and the window of `window_size`
    /// segments is scheduled. Segments before the window start are dropped (they slid
    /// out). Work is bounded after weeks off air: whole loops are skipped arithmetically
    /// without a schedule, and the cursor walks without placing segments with one.
    pub fn advance(&mut self, now: DateTime<Utc>, window_size: usize, lookahead: usize) {
        let window_size = window_size.max(1);
        let lookahead = lookahead.min(window_size - 1);
        // Far behind the wall clock (station was off): drop the past, skip ahead.
        let history = (window_size - lookahead) as i32;
        let horizon = now - seconds(self.programme.longest_segment().max(1.0)) * history;
        if self.cursor.air_time < horizon {
            if self.programme.timetable().is_some() {
                let mut steps = 0;
                while self.cursor.air_time < horizon && steps < MAX_WALK_STEPS {
                    self.step();
                    steps += 1;
                }
                self.segments.clear();
            } else {
                // Finish the current item first so the loop skip starts on a boundary.
                while self.cursor.segment < self.cursor.item.segments.len()
                    && self.cursor.air_time < horizon
                {
                    self.push_next();
                    self.trim_before(horizon, window_size);
                }
                if self.cursor.segment >= self.cursor.item.segments.len()
                    && self.cursor.air_time < horizon
                {
                    self.next_item();
                }
                self.skip_loops(horizon);
            }
            // What was skipped never aired: the next segment starts afresh.
            self.cursor.resync = true;
        }
        // The live edge and the lookahead.
        loop {
            let future = self
                .segments
                .iter()
                .rev()
                .take_while(|s| s.air_time > now)
                .count();
            if self.cursor.air_time <= now || future < lookahead {
                self.push_next();
                self.trim_before(horizon, window_size);
            } else {
                break;
            }
        }
        // Window start: `window_size - lookahead - 1` segments before the live edge, or
        // the oldest kept (a new stream has aired nothing yet: its window is the live
        // segment and the lookahead, growing as it airs, never back-dated). A window
        // always lasts three target durations (RFC 8216 section 6.2.2), from future
        // segments when the lookahead is that short.
        let live = self.live_index(now);
        let start = live.saturating_sub(window_size - lookahead - 1);
        self.segments.drain(..start);
        let least = 3.0 * self.target_duration as f64;
        while self.segments.len() < window_size
            && self.segments.iter().map(|s| s.duration).sum::<f64>() < least
        {
            self.push_next();
        }
    }

    /// Drops segments that ended before `horizon`, keeping at most `keep` of them.
    fn trim_before(&mut self, horizon: DateTime<Utc>, keep: usize) {
        while self.segments.len() > keep
            && self
                .segments
                .front()
                .is_some_and(|s| s.end_time() < horizon)
        {
            self.segments.pop_front();
        }
    }

    /// Index of the newest scheduled segment whose air time has come (0 if none has).
    fn live_index(&self, now: DateTime<Utc>) -> usize {
        self.segments
            .iter()
            .rposition(|s| s.air_time <= now)
            .unwrap_or(0)
    }

    /// The window to publish at `now` (call [`Schedule::advance`] first with the same
    /// `now` and sizes).
    pub fn window(&self, now: DateTime<Utc>, window_size: usize) -> LiveWindow<'_> {
        let segments: Vec<&ScheduledSegment> =
            self.segments.iter().take(window_size.max(1)).collect();
        let live_index = segments
            .iter()
            .rposition(|s| s.air_time <= now)
            .unwrap_or(0);
        let first = segments[0];
        LiveWindow {
            media_sequence: first.sequence,
            discontinuity_sequence: first.discontinuity_count - u64::from(first.discontinuity),
            target_duration: self.target_duration,
            segments,
            live_index,
        }
    }

    /// The scheduled segments (window plus lookahead), oldest first.
    pub fn segments(&self) -> impl Iterator<Item = &ScheduledSegment> {
        self.segments.iter()
    }

    /// The items that air (or aired) at some instant of `[from, until)`, in air order,
    /// at most `max`: first from the scheduled segments, then by walking a copy of the
    /// cursor over the programme (blocks, hard cuts and pending programmes included), so
    /// the times are the ones listeners will hear. Work is proportional to the
    /// segments walked (at most two million).
    pub fn items_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        max: usize,
    ) -> Vec<AirItem> {
        let mut out: Vec<AirItem> = Vec::new();
        let mut cur: Option<AirItem> = None;
        let close = |cur: &mut Option<AirItem>, out: &mut Vec<AirItem>| {
            if let Some(c) = cur.take() {
                if c.end_time() > from && c.air_time < until {
                    out.push(c);
                }
            }
        };
        for s in &self.segments {
            if s.starts_item() || cur.as_ref().is_none_or(|c| c.item_id != s.item_id) {
                close(&mut cur, &mut out);
                if out.len() >= max {
                    return out;
                }
                cur = Some(AirItem {
                    item_id: s.item_id.clone(),
                    title: s.title.clone(),
                    kind: s.kind,
                    block: s.block.clone(),
                    air_time: s.air_time,
                    duration: 0.0,
                    media_sequence: s.sequence,
                });
            }
            if let Some(c) = cur.as_mut() {
                c.duration += s.duration;
            }
        }
        let mut sim = Schedule {
            target_duration: self.target_duration,
            programme: self.programme.clone(),
            pending: self.pending.clone(),
            segments: VecDeque::new(),
            cursor: self.cursor.clone(),
        };
        let mut steps = 0;
        while steps < MAX_WALK_STEPS {
            steps += 1;
            let st = sim.step();
            let c = &sim.cursor;
            let duration = c.item.segments[st.segment].duration;
            if st.segment == 0 || cur.is_none() {
                close(&mut cur, &mut out);
                if out.len() >= max || st.air_time >= until {
                    return out;
                }
                cur = Some(AirItem {
                    item_id: c.item.id.clone(),
                    title: c.item.title.clone(),
                    kind: c.item.kind,
                    block: c.block.clone(),
                    air_time: st.air_time,
                    duration: 0.0,
                    media_sequence: st.sequence,
                });
            }
            if let Some(c) = cur.as_mut() {
                c.duration += duration;
            }
        }
        close(&mut cur, &mut out);
        out
    }

    /// Upcoming items after the one on air at `now`, up to `n` ([`Self::items_between`]).
    pub fn next_up(&self, now: DateTime<Utc>, n: usize) -> Vec<AirItem> {
        self.items_between(now, DateTime::<Utc>::MAX_UTC, n + 1)
            .into_iter()
            .filter(|i| i.air_time > now)
            .take(n)
            .collect()
    }

    /// When the item whose first segment has media sequence `sequence` ends on air (as
    /// far as the schedule and the programme tell now), or `None` when that segment is
    /// not scheduled.
    pub fn item_end(&self, sequence: u64) -> Option<DateTime<Utc>> {
        let first = self.segments.iter().find(|s| s.sequence == sequence)?;
        self.items_between(first.air_time, first.end_time(), 1)
            .into_iter()
            .find(|i| i.media_sequence == sequence)
            .map(|i| i.end_time())
    }
}

/// How the segment URIs of a rendered playlist are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriStyle {
    /// `/ipfs/<cid>?filename=<file>`: resolves against whatever path gateway served the
    /// playlist. The `filename` query (kubo-rpc.md section 4: it only sets
    /// Content-Disposition) gives the URI a `.ts` extension, which ffmpeg's HLS demuxer
    /// (ffplay, ffmpeg >= 5.1.4 and Debian's 5.1) requires of every segment URI.
    IpfsPath,
    /// `<base>/ipfs/<cid>?filename=<file>`.
    Absolute(String),
    /// `/ipfs/<cid>` exactly.
    BarePath,
    /// `/segments/<item-id>/<file>` served by the local preview server.
    Preview,
    /// `s/<media sequence>.ts`, relative to `live.m3u8` in the station's site
    /// ([`crate::air::site::segment_uri`]); the site links each to its CID.
    Site,
}

impl UriStyle {
    /// The URI of `s`, or `None` when it needs a CID it does not have.
    pub fn uri(&self, s: &ScheduledSegment) -> Option<String> {
        match self {
            UriStyle::IpfsPath => s
                .cid
                .as_ref()
                .map(|c| format!("/ipfs/{c}?filename={}", s.file)),
            UriStyle::Absolute(base) => s
                .cid
                .as_ref()
                .map(|c| format!("{base}/ipfs/{c}?filename={}", s.file)),
            UriStyle::BarePath => s.cid.as_ref().map(|c| format!("/ipfs/{c}")),
            UriStyle::Preview => Some(format!("/segments/{}/{}", s.item_id, s.file)),
            UriStyle::Site => s
                .cid
                .as_ref()
                .map(|_| crate::air::site::segment_uri(s.sequence)),
        }
    }
}

/// Renders `w` as an RFC 8216 live media playlist (no `#EXT-X-ENDLIST`, no
/// `#EXT-X-PLAYLIST-TYPE`) with m3u8-rs.
///
/// Errors: [`Error::Window`] when a segment lacks the CID its URI needs, or the window is
/// shorter than three target durations (RFC 8216 section 6.2.2).
pub fn render(w: &LiveWindow<'_>, style: &UriStyle) -> Result<String> {
    use m3u8_rs::{MediaPlaylist, MediaSegment, Start, WRITE_OPT_FLOAT_PRECISION};
    WRITE_OPT_FLOAT_PRECISION.store(3, std::sync::atomic::Ordering::Relaxed);
    if w.duration() < 3.0 * w.target_duration as f64 {
        return Err(Error::Window(format!(
            "the window is {:.1} s long, less than three target durations ({} s): raise window_size (RFC 8216 6.2.2)",
            w.duration(),
            3 * w.target_duration
        )));
    }
    let mut segments = Vec::with_capacity(w.segments.len());
    for s in &w.segments {
        let uri = style.uri(s).ok_or_else(|| {
            Error::Window(format!(
                "segment {} of item `{}` has no CID",
                s.file, s.item_id
            ))
        })?;
        if let Some(c) = s
            .title
            .chars()
            .chain(uri.chars())
            .find(|&c| crate::station::text::is_unsafe_char(c))
        {
            return Err(Error::Window(format!(
                "refusing to write live playlist line for segment {} of item `{}`: its title or URI holds U+{:04X}, a line break or control character",
                s.file, s.item_id, c as u32
            )));
        }
        segments.push(MediaSegment {
            uri,
            duration: s.duration as f32,
            title: Some(s.title.clone()),
            discontinuity: s.discontinuity,
            program_date_time: Some(s.air_time.fixed_offset()),
            ..Default::default()
        });
    }
    let offset = -((w.live_offset() * 1000.0).round() / 1000.0);
    let playlist = MediaPlaylist {
        version: Some(HLS_VERSION),
        target_duration: w.target_duration,
        media_sequence: w.media_sequence,
        discontinuity_sequence: w.discontinuity_sequence,
        independent_segments: true,
        start: Some(Start {
            time_offset: offset,
            precise: None,
            other_attributes: Default::default(),
        }),
        segments,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(64 * w.segments.len() + 256);
    playlist
        .write_to(&mut out)
        .map_err(|e| Error::Window(e.to_string()))?;
    let text = String::from_utf8(out).map_err(|e| Error::Window(e.to_string()))?;
    if let Some((line, c)) = crate::station::text::first_unsafe_line(&text) {
        return Err(Error::Window(format!(
            "refusing to write live playlist line {line}: it holds U+{:04X}, a line break or control character",
            c as u32
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(id: &str, kind: ItemKind, durs: &[f64]) -> Arc<PlayItem> {
        Arc::new(PlayItem {
            id: id.into(),
            title: format!("Artist - {id}"),
            kind,
            segments: durs
                .iter()
                .enumerate()
                .map(|(i, d)| PlaySegment {
                    file: format!("seg_{i:05}.ts"),
                    cid: Some(format!("Qm{id}x{i}")),
                    duration: *d,
                })
                .collect(),
        })
    }

    fn rotation() -> Arc<Rotation> {
        let j = item("j1", ItemKind::Jingle, &[4.1]);
        Arc::new(Rotation::new(vec![
            j.clone(),
            item("t1", ItemKind::Track, &[6.006, 6.006, 6.006, 2.5]),
            item("t2", ItemKind::Track, &[6.006, 6.006, 1.2]),
            j,
            item("t3", ItemKind::Track, &[6.006; 7]),
        ]))
    }

    fn prog(r: Arc<Rotation>) -> Arc<Programme> {
        Arc::new(Programme::single(r))
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
    }

    /// Checks one window against RFC 8216 and our own rules, and against the previous one.
    fn check(
        w: &LiveWindow<'_>,
        now: DateTime<Utc>,
        prev: Option<&(u64, Vec<ScheduledSegment>)>,
        all_tags_before: &dyn Fn(u64) -> u64,
    ) {
        let segs = &w.segments;
        // Contiguous sequence numbers and air times.
        for p in segs.windows(2) {
            assert_eq!(p[1].sequence, p[0].sequence + 1);
            assert_eq!(p[1].air_time, p[0].end_time());
        }
        assert_eq!(w.media_sequence, segs[0].sequence);
        assert!(w.duration() >= 3.0 * w.target_duration as f64);
        for s in segs {
            assert!(s.duration.round() as u64 <= w.target_duration);
        }
        // Live edge: on air now.
        let live = w.live();
        assert!(
            live.air_time <= now && now < live.end_time(),
            "live edge {} not at {now}",
            live.air_time
        );
        // Discontinuity sequence = tags that slid out.
        assert_eq!(w.discontinuity_sequence, all_tags_before(w.media_sequence));
        if let Some((prev_seq, prev_segs)) = prev {
            assert!(w.media_sequence >= *prev_seq, "media sequence went back");
            // Only removal from the front and appending (RFC 8216 6.2.1).
            for s in prev_segs.iter().filter(|s| s.sequence >= w.media_sequence) {
                let now_s = segs
                    .iter()
                    .find(|x| x.sequence == s.sequence)
                    .expect("segment vanished from the middle");
                assert_eq!(*now_s, s);
            }
        }
    }

    #[test]
    fn window_slides_by_the_rules_for_hours() {
        let rot = rotation();
        let mut s = Schedule::new(prog(rot.clone()), t0());
        assert_eq!(s.target_duration(), 7);
        let (ws, la) = (12, 3);
        let mut all: std::collections::BTreeMap<u64, ScheduledSegment> = Default::default();
        let mut prev: Option<(u64, Vec<ScheduledSegment>)> = None;
        let mut now = t0();
        for tick in 0..1500i64 {
            s.advance(now, ws, la);
            let w = s.window(now, ws);
            for seg in &w.segments {
                all.insert(seg.sequence, (*seg).clone());
            }
            let tags_before =
                |seq: u64| all.range(..seq).filter(|(_, x)| x.discontinuity).count() as u64;
            check(&w, now, prev.as_ref(), &tags_before);
            // A new stream's window grows from the live segment and its lookahead (at
            // least three target durations) to the window size, never back-dated.
            assert!(w.segments.len() <= ws);
            assert!(w.segments[0].air_time >= t0());
            if tick > ws as i64 {
                assert_eq!(w.segments.len(), ws);
                assert_eq!(
                    w.segments.len() - 1 - w.live_index,
                    la,
                    "lookahead after warm-up"
                );
            }
            prev = Some((
                w.media_sequence,
                w.segments.iter().map(|x| (*x).clone()).collect(),
            ));
            now += Duration::milliseconds(5_000 + (tick % 3) * 700);
        }
        // Every item starts with a discontinuity; items follow the rotation order.
        let firsts: Vec<&str> = all
            .values()
            .filter(|x| x.discontinuity)
            .map(|x| x.item_id.as_str())
            .take(10)
            .collect();
        assert_eq!(
            firsts,
            ["j1", "t1", "t2", "j1", "t3", "j1", "t1", "t2", "j1", "t3"]
        );
    }

    #[test]
    fn first_window_starts_at_birth_and_ends_lookahead_past_the_live_edge() {
        let mut s = Schedule::born(prog(rotation()), t0());
        s.advance(t0(), 10, 3);
        let w = s.window(t0(), 10);
        assert_eq!(w.media_sequence, 0);
        assert_eq!(w.discontinuity_sequence, 0);
        // Issue 19: nothing is back-dated; the live segment is the first one, dated at
        // the birth, followed by the lookahead.
        assert_eq!(w.live_index, 0);
        assert_eq!(w.segments.len(), 4);
        assert_eq!(w.live().air_time, t0());
        let text = render(&w, &UriStyle::IpfsPath).unwrap();
        let (_, pl) = m3u8_rs::parse_media_playlist(text.as_bytes()).unwrap();
        assert!(!pl.end_list);
        assert!(pl.playlist_type.is_none());
        assert_eq!(pl.target_duration, 7);
        assert_eq!(pl.segments.len(), 4);
        assert!(pl.segments[0].discontinuity);
        assert_eq!(pl.segments[0].uri, "/ipfs/Qmj1x0?filename=seg_00000.ts");
        assert_eq!(pl.segments[0].title.as_deref(), Some("Artist - j1"));
        let p0 = pl.segments[0].program_date_time.unwrap();
        assert_eq!(p0.timestamp_millis(), t0().timestamp_millis());
        assert_eq!(
            pl.segments[1].program_date_time.unwrap() - p0,
            chrono::TimeDelta::milliseconds(4100)
        );
        let start = pl.start.unwrap();
        assert!(
            (start.time_offset + w.live_offset()).abs() < 0.01,
            "{} vs {}",
            start.time_offset,
            w.live_offset()
        );
        let ahead: f64 =
            w.segments[1..].iter().map(|x| x.duration).sum::<f64>() + w.live().duration;
        assert!((w.live_offset() - ahead).abs() < 1e-9);
        // The window grows with air time until it is full, never back-dating.
        let mut now = t0();
        for _ in 0..40 {
            now += Duration::seconds(2);
            s.advance(now, 10, 3);
            let w = s.window(now, 10);
            assert!(w.segments[0].air_time >= t0());
            assert!(w.segments.len() <= 10);
            assert_eq!(w.segments.len() - 1 - w.live_index, 3, "lookahead");
        }
        assert_eq!(s.window(now, 10).segments.len(), 10);
    }

    #[test]
    fn the_playlist_writer_refuses_a_title_that_breaks_a_line() {
        for sep in [
            "\u{2028}", "\u{2029}", "\u{85}", "\r", "\n", "\u{0B}", "\u{1b}",
        ] {
            let mut hostile = (*item("t1", ItemKind::Track, &[6.0, 6.0, 6.0, 6.0])).clone();
            hostile.title = format!("Tone{sep}#EXT-X-ENDLIST");
            let rot = Arc::new(Rotation::new(vec![Arc::new(hostile)]));
            let mut s = Schedule::born(prog(rot), t0());
            s.advance(t0(), 10, 3);
            let w = s.window(t0(), 10);
            let e = render(&w, &UriStyle::Site).unwrap_err().to_string();
            assert!(
                e.contains("refusing to write live playlist line"),
                "{sep:?}: {e}"
            );
        }
    }

    #[test]
    fn restart_continues_the_sequence_and_follows_the_wall_clock() {
        let rot = rotation();
        let mut s = Schedule::new(prog(rot.clone()), t0());
        let mut now = t0();
        for _ in 0..40 {
            s.advance(now, 12, 3);
            now += Duration::seconds(6);
        }
        let before = s.window(now - Duration::seconds(6), 12).media_sequence;
        let state: ScheduleState =
            serde_json::from_str(&serde_json::to_string(&s.state()).unwrap()).unwrap();
        // Quick restart: same window continues.
        let mut r = Schedule::resume(state.clone(), prog(rot.clone())).unwrap();
        r.advance(now, 12, 3);
        let w = r.window(now, 12);
        assert!(w.media_sequence >= before);
        assert!(w.live().air_time <= now && now < w.live().end_time());
        // Five minutes off air: sequence continues as if aired; live edge at the wall clock.
        let later = now + Duration::seconds(300);
        let mut r = Schedule::resume(state.clone(), prog(rot.clone())).unwrap();
        r.advance(later, 12, 3);
        let w2 = r.window(later, 12);
        assert!(
            w2.media_sequence > before + 40,
            "{} vs {before}",
            w2.media_sequence
        );
        assert!(w2.live().air_time <= later && later < w2.live().end_time());
        // Three weeks off air: bounded work, same rules.
        let weeks = now + Duration::days(21);
        let mut r = Schedule::resume(state, prog(rot.clone())).unwrap();
        let t = std::time::Instant::now();
        r.advance(weeks, 12, 3);
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let w3 = r.window(weeks, 12);
        assert!(w3.live().air_time <= weeks && weeks < w3.live().end_time());
        let per_loop: f64 = rot
            .entries
            .iter()
            .flat_map(|e| e.segments.iter())
            .map(|x| x.duration)
            .sum();
        let loops = 21.0 * 86400.0 / per_loop;
        let segs_per_loop = rot.entries.iter().map(|e| e.segments.len()).sum::<usize>() as f64;
        let expect = before as f64 + loops * segs_per_loop;
        assert!(
            (w3.media_sequence as f64 - expect).abs() < 2.0 * segs_per_loop,
            "{} vs {expect}",
            w3.media_sequence
        );
        // Discontinuity sequence consistent with a tag per item.
        assert!(w3.discontinuity_sequence > w2.discontinuity_sequence);
    }

    /// Issue 15: a preview airs segments before Kubo has them (no CIDs); once setup has
    /// added them, the IPNS stream resumed from the preview's state publishes at once,
    /// the window and the item in progress with their CIDs, the media sequence going on.
    #[test]
    fn a_stream_resumed_from_a_preview_gets_the_cids_added_since() {
        let without_cids = |r: &Rotation| {
            Arc::new(Rotation::new(
                r.entries
                    .iter()
                    .map(|e| {
                        let mut e = e.as_ref().clone();
                        for seg in &mut e.segments {
                            seg.cid = None;
                        }
                        Arc::new(e)
                    })
                    .collect(),
            ))
        };
        let rot = rotation();
        let mut preview = Schedule::new(prog(without_cids(&rot)), t0());
        let mut now = t0();
        for _ in 0..10 {
            preview.advance(now, 12, 3);
            now += Duration::seconds(6);
        }
        let w = preview.window(now - Duration::seconds(6), 12);
        let before = w.media_sequence;
        assert!(render(&w, &UriStyle::Preview).is_ok());
        assert!(render(&w, &UriStyle::IpfsPath).is_err(), "no CIDs yet");
        // t1 is in progress (its later segments are still to be placed).
        assert!(preview.cursor.segment < preview.cursor.item.segments.len());
        let state: ScheduleState =
            serde_json::from_str(&serde_json::to_string(&preview.state()).unwrap()).unwrap();

        let mut live = Schedule::resume(state, prog(rot.clone())).unwrap();
        for _ in 0..10 {
            live.advance(now, 12, 3);
            let w = live.window(now, 12);
            assert!(w.media_sequence >= before);
            let text = render(&w, &UriStyle::IpfsPath).unwrap();
            assert!(text.contains("/ipfs/Qm"), "{text}");
            now += Duration::seconds(6);
        }
        assert!(live.window(now, 12).media_sequence > before);
    }

    #[test]
    fn new_rotation_takes_over_at_the_next_unscheduled_item_boundary() {
        let rot = rotation();
        let mut s = Schedule::new(prog(rot.clone()), t0());
        // Inside t1's third segment: the lookahead of 2 reaches t2's first segment.
        let now = t0() + Duration::seconds(20);
        s.advance(now, 6, 2);
        let scheduled: Vec<ScheduledSegment> = s.segments().cloned().collect();
        let new = Arc::new(Rotation::new(vec![
            item("n1", ItemKind::Track, &[5.0, 5.0]),
            item("n2", ItemKind::Track, &[5.0]),
        ]));
        s.set_programme(prog(new)).unwrap();
        assert!(s.has_pending_programme());
        let mut later = now;
        let mut seen = Vec::new();
        for _ in 0..20 {
            later += Duration::seconds(5);
            s.advance(later, 6, 2);
            for x in s.segments() {
                if !seen
                    .iter()
                    .any(|y: &ScheduledSegment| y.sequence == x.sequence)
                {
                    seen.push(x.clone());
                }
            }
        }
        // What was scheduled before the reload aired unchanged.
        for x in &scheduled {
            if let Some(y) = seen.iter().find(|y| y.sequence == x.sequence) {
                assert_eq!(x, y);
            }
        }
        // The item in progress finished; then the new rotation started on a boundary.
        let last_old = scheduled.last().unwrap();
        let first_new = seen.iter().find(|x| x.item_id.starts_with('n')).unwrap();
        assert!(first_new.discontinuity);
        let before_new: Vec<&ScheduledSegment> = seen
            .iter()
            .filter(|x| x.sequence < first_new.sequence)
            .collect();
        let old_item_segments = before_new
            .iter()
            .filter(|x| x.item_id == last_old.item_id)
            .count();
        assert!(old_item_segments >= 1);
        // The item in progress is not in the new rotation: it goes on from the same
        // position (index) in the new one, then cycles in order.
        let ids: Vec<&str> = seen
            .iter()
            .filter(|x| x.sequence >= first_new.sequence && x.discontinuity)
            .map(|x| x.item_id.as_str())
            .take(4)
            .collect();
        assert_eq!(ids, ["n2", "n1", "n2", "n1"]);
    }

    #[test]
    fn new_rotation_continues_after_the_item_in_progress_when_it_is_kept() {
        let mut s = Schedule::new(prog(rotation()), t0());
        let now = t0() + Duration::seconds(20);
        s.advance(now, 6, 2);
        // Scheduled so far: j1, t1 x4, t2 seg 0 -> t2 is in progress.
        assert_eq!(s.segments().last().unwrap().item_id, "t2");
        let t2 = rotation().entries[2].clone();
        let new = Arc::new(Rotation::new(vec![
            item("n1", ItemKind::Track, &[5.0]),
            t2,
            item("n2", ItemKind::Track, &[5.0]),
        ]));
        s.set_programme(prog(new)).unwrap();
        s.advance(now + Duration::seconds(60), 6, 2);
        let order: Vec<&str> = s
            .segments()
            .filter(|x| x.discontinuity)
            .map(|x| x.item_id.as_str())
            .collect();
        let pos = order.iter().position(|x| *x == "n2").unwrap();
        assert_eq!(&order[pos..pos + 3], ["n2", "n1", "t2"]);
    }

    #[test]
    fn longer_segments_cannot_change_the_target_duration() {
        let mut s = Schedule::new(prog(rotation()), t0());
        let long = Arc::new(Rotation::new(vec![item("x", ItemKind::Track, &[10.0])]));
        let e = s.set_programme(prog(long)).unwrap_err().to_string();
        assert!(e.contains("target duration"), "{e}");
        assert!(!s.has_pending_programme());
    }

    #[test]
    fn a_restart_on_longer_segments_is_refused_like_a_reload() {
        let mut s = Schedule::new(prog(rotation()), t0());
        s.advance(t0(), 12, 3);
        let long = Arc::new(Rotation::new(vec![item("x", ItemKind::Track, &[10.0])]));
        let e = Schedule::resume(s.state(), prog(long))
            .unwrap_err()
            .to_string();
        assert!(e.contains("target duration is 7 s"), "{e}");
    }

    #[test]
    fn short_window_is_refused() {
        let mut s = Schedule::new(prog(rotation()), t0());
        s.advance(t0(), 3, 0);
        let w = s.window(t0(), 3);
        // 4.1 + 6.006 + 6.006 < 21
        let e = render(&w, &UriStyle::IpfsPath).unwrap_err().to_string();
        assert!(e.contains("three target durations"), "{e}");
    }

    #[test]
    fn next_up_lists_upcoming_items_in_order() {
        let mut s = Schedule::new(prog(rotation()), t0());
        s.advance(t0(), 6, 2);
        let up: Vec<String> = s.next_up(t0(), 6).into_iter().map(|x| x.item_id).collect();
        assert_eq!(up, ["t1", "t2", "j1", "t3", "j1", "t1"]);
        let times: Vec<DateTime<Utc>> =
            s.next_up(t0(), 3).into_iter().map(|x| x.air_time).collect();
        assert_eq!(times[0], t0() + Duration::milliseconds(4100));
        assert_eq!(
            times[1],
            t0() + Duration::milliseconds(4100 + 6006 * 3 + 2500)
        );
    }
}

#[cfg(test)]
mod schedule_tests {
    //! A week of a scheduled programme on the air clock (issue 13): every block in its
    //! hours in its zone across the end of daylight saving time, each block's jingle
    //! rule, soft and hard switches, blocks resuming their rotation the next day.
    use super::*;
    use crate::setup::schedule::{ProcessedBlock, ProcessedSchedule};
    use chrono::{Datelike, TimeZone};
    use chrono_tz::Europe::Berlin;

    fn item(id: &str, kind: ItemKind, segs: usize, last: f64) -> Arc<PlayItem> {
        Arc::new(PlayItem {
            id: id.into(),
            title: id.into(),
            kind,
            segments: (0..segs)
                .map(|i| PlaySegment {
                    file: format!("seg_{i:05}.ts"),
                    cid: Some(format!("Qm{id}x{i}")),
                    duration: if i + 1 == segs { last } else { 6.0 },
                })
                .collect(),
        })
    }

    /// The rotation rule (jingle, `cycle` tracks, next jingle, ...), as setup builds it.
    fn rotation(
        tracks: &[Arc<PlayItem>],
        jingles: &[Arc<PlayItem>],
        cycle: usize,
    ) -> Arc<Rotation> {
        let t: Vec<&str> = tracks.iter().map(|x| x.id.as_str()).collect();
        let j: Vec<&str> = jingles.iter().map(|x| x.id.as_str()).collect();
        let order = crate::setup::rotation::build_rotation(&t, &j, cycle as u32).unwrap();
        Arc::new(Rotation::new(
            order
                .iter()
                .map(|e| {
                    tracks
                        .iter()
                        .chain(jingles)
                        .find(|x| x.id == e.id)
                        .unwrap()
                        .clone()
                })
                .collect(),
        ))
    }

    fn block(
        name: &str,
        days: &[&str],
        start: u16,
        end: u16,
        hard: bool,
        rot: &Rotation,
    ) -> ProcessedBlock {
        ProcessedBlock {
            name: name.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            start_minute: start,
            end_minute: end,
            hard,
            jingle_cycle: 0,
            rotation: rot.entries.iter().map(|e| e.id.clone()).collect(),
        }
    }

    struct Week {
        programme: Arc<Programme>,
        rotations: HashMap<String, Arc<Rotation>>,
    }

    fn week_programme() -> Week {
        let tracks = |p: &str, n: usize| -> Vec<Arc<PlayItem>> {
            (0..n)
                .map(|i| {
                    item(
                        &format!("{p}{i}"),
                        ItemKind::Track,
                        25 + 7 * i,
                        2.5 + i as f64,
                    )
                })
                .collect()
        };
        let jingles = |p: &str, n: usize| -> Vec<Arc<PlayItem>> {
            (0..n)
                .map(|i| item(&format!("{p}{i}"), ItemKind::Jingle, 1, 4.0 + i as f64))
                .collect()
        };
        let default = rotation(&tracks("d", 5), &jingles("j", 2), 3);
        let morning = rotation(&tracks("m", 4), &jingles("j", 2), 2);
        let night = rotation(&tracks("n", 6), &jingles("nj", 1), 5);
        let weekdays = ["mon", "tue", "wed", "thu", "fri"];
        let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let schedule = ProcessedSchedule {
            format: 1,
            timezone: "Europe/Berlin".into(),
            blocks: vec![
                block("Morning", &weekdays, 6 * 60, 10 * 60, false, &morning),
                block("Night", &all, 22 * 60, 6 * 60, true, &night),
            ],
        };
        let programme = Programme::new(
            default.clone(),
            vec![
                BlockRotation {
                    name: "Morning".into(),
                    rotation: Some(morning.clone()),
                },
                BlockRotation {
                    name: "Night".into(),
                    rotation: Some(night.clone()),
                },
            ],
            Some(schedule),
            6.0,
            HashMap::new(),
        );
        Week {
            programme: Arc::new(programme),
            rotations: [
                (DEFAULT_BLOCK.to_string(), default),
                ("Morning".to_string(), morning),
                ("Night".to_string(), night),
            ]
            .into(),
        }
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Every segment the air clock places from `start` until `end`, ticking every 6 s.
    fn air(p: &Arc<Programme>, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<ScheduledSegment> {
        let mut s = Schedule::new(p.clone(), start);
        let mut all: Vec<ScheduledSegment> = Vec::new();
        let mut now = start;
        while now < end {
            s.advance(now, 20, 8);
            for seg in s.segments() {
                if all.last().is_none_or(|l| seg.sequence > l.sequence) {
                    all.push(seg.clone());
                }
            }
            now += Duration::seconds(6);
        }
        all
    }

    /// Items as aired: `(first segment, segments aired)`.
    fn items(all: &[ScheduledSegment]) -> Vec<(&ScheduledSegment, usize)> {
        let mut out: Vec<(&ScheduledSegment, usize)> = Vec::new();
        for s in all {
            if s.discontinuity {
                out.push((s, 1));
            } else if let Some(last) = out.last_mut() {
                last.1 += 1;
            }
        }
        out
    }

    #[test]
    fn a_week_of_blocks_in_their_hours_across_the_end_of_summer_time() {
        let w = week_programme();
        let tt = w.programme.timetable().unwrap().clone();
        // Monday 2026-10-19 00:00 Berlin to Tuesday 2026-10-27 12:00: summer time ends on
        // Sunday 2026-10-25 at 03:00 (clocks go back to 02:00).
        let start = berlin(2026, 10, 19, 0, 0);
        let end = berlin(2026, 10, 27, 12, 0);
        let all = air(&w.programme, start, end);
        assert!(all.len() > 100_000, "{} segments", all.len());

        // RFC 8216 series: contiguous sequence and air times, a discontinuity per item.
        for p in all.windows(2) {
            assert_eq!(p[1].sequence, p[0].sequence + 1);
            assert_eq!(p[1].air_time, p[0].end_time());
            assert_eq!(
                p[1].discontinuity_count,
                p[0].discontinuity_count + u64::from(p[1].discontinuity)
            );
        }
        let aired = items(&all);
        // Each item airs in the block on at its start (the one on air keeps its block
        // when a soft block begins: it started before).
        for (first, _) in &aired {
            assert_eq!(
                first.block,
                tt.block_at(first.air_time),
                "{} at {}",
                first.item_id,
                first.air_time
            );
        }
        // Each block plays its own rotation in order, picking up where it left off the
        // day before; hard cuts count as aired (the rotation goes on after them).
        let mut position: HashMap<&str, usize> = HashMap::new();
        for (first, _) in &aired {
            let rot = &w.rotations[first.block.as_str()];
            let pos = position.entry(first.block.as_str()).or_insert(0);
            assert_eq!(
                first.item_id,
                rot.entries[*pos % rot.entries.len()].id,
                "{} block item {} at {}",
                first.block,
                *pos,
                first.air_time
            );
            *pos += 1;
        }
        // Jingle rules hold per block: Morning every 2 tracks, Night every 5, default 3.
        for (block, cycle) in [("Morning", 2), ("Night", 5), (DEFAULT_BLOCK, 3)] {
            let kinds: Vec<ItemKind> = aired
                .iter()
                .filter(|(f, _)| f.block == block)
                .map(|(f, _)| f.kind)
                .collect();
            let mut run = 0;
            for k in &kinds {
                match k {
                    ItemKind::Track => {
                        run += 1;
                        assert!(run <= cycle, "{block}: {run} tracks in a row");
                    }
                    ItemKind::Jingle => run = 0,
                }
            }
            assert!(kinds.len() > 20, "{block} aired {} items", kinds.len());
        }
        let starts_of = |block: &str| -> Vec<(usize, &(&ScheduledSegment, usize))> {
            aired
                .iter()
                .enumerate()
                .filter(|(i, (f, _))| {
                    f.block == block && (*i == 0 || aired[i - 1].0.block != block)
                })
                .collect()
        };
        // Morning: weekdays only, soft: from the first item boundary at or after 06:00
        // local; the item before it aired whole.
        let mornings = starts_of("Morning");
        let days: Vec<String> = mornings
            .iter()
            .map(|(_, (f, _))| {
                f.air_time
                    .with_timezone(&Berlin)
                    .format("%a %d")
                    .to_string()
            })
            .collect();
        assert_eq!(
            days,
            ["Mon 19", "Tue 20", "Wed 21", "Thu 22", "Fri 23", "Mon 26", "Tue 27"]
        );
        for (i, (f, _)) in &mornings {
            let local = f.air_time.with_timezone(&Berlin);
            let six = berlin(local.year(), local.month(), local.day(), 6, 0);
            let (prev, n) = aired[i - 1];
            let full = w.rotations[prev.block.as_str()]
                .entries
                .iter()
                .find(|e| e.id == prev.item_id)
                .unwrap()
                .segments
                .len();
            assert!(
                prev.air_time < six && f.air_time >= six,
                "soft switch at {}",
                f.air_time
            );
            assert_eq!(n, full, "the item on air at 06:00 finishes");
        }
        // Across the change: 06:00 Berlin is 04:00 UTC on Friday (CEST) and 05:00 UTC
        // on Monday (CET).
        let fri = mornings[4].1 .0.air_time;
        let mon = mornings[5].1 .0.air_time;
        assert!(
            fri >= Utc.with_ymd_and_hms(2026, 10, 23, 4, 0, 0).unwrap()
                && fri < Utc.with_ymd_and_hms(2026, 10, 23, 4, 10, 0).unwrap(),
            "{fri}"
        );
        assert!(
            mon >= Utc.with_ymd_and_hms(2026, 10, 26, 5, 0, 0).unwrap()
                && mon < Utc.with_ymd_and_hms(2026, 10, 26, 5, 10, 0).unwrap(),
            "{mon}"
        );
        // Night: hard, every day: the first segment boundary at or after 22:00 local; the
        // item on air then is cut there (its next segment never airs).
        let nights = starts_of("Night");
        assert_eq!(
            nights.len(),
            9,
            "on at the start, then 22:00 on each of the 8 days"
        );
        let mut cuts = 0;
        for (i, (f, _)) in nights.iter().skip(1) {
            let local = f.air_time.with_timezone(&Berlin);
            let ten = berlin(local.year(), local.month(), local.day(), 22, 0);
            assert!(
                f.air_time >= ten && f.air_time < ten + Duration::seconds(7),
                "hard switch at {local}"
            );
            let (prev, n) = aired[i - 1];
            let full = w.rotations[prev.block.as_str()]
                .entries
                .iter()
                .find(|e| e.id == prev.item_id)
                .unwrap()
                .segments
                .len();
            assert!(n <= full);
            if n < full {
                cuts += 1;
            }
        }
        assert!(
            cuts >= 6,
            "the item on air at 22:00 is cut ({cuts} of 8 cut)"
        );
        // The night of the change (Saturday 22:00 CEST to Sunday 06:00 CET) lasts nine
        // hours of air time.
        let sat = nights
            .iter()
            .find(|(_, (f, _))| f.air_time.with_timezone(&Berlin).format("%a").to_string() == "Sat")
            .unwrap();
        let after = aired[sat.0..]
            .iter()
            .find(|(f, _)| f.block != "Night")
            .unwrap()
            .0
            .air_time;
        let hours = (after - sat.1 .0.air_time).num_minutes() as f64 / 60.0;
        assert!((9.0..9.2).contains(&hours), "{hours} h");
    }

    #[test]
    fn a_block_with_nothing_playable_plays_the_default_and_says_so() {
        let w = week_programme();
        let mut blocks = w.programme.blocks().to_vec();
        blocks[0].rotation = None;
        let p = Arc::new(Programme::new(
            w.rotations[DEFAULT_BLOCK].clone(),
            blocks,
            w.programme.schedule().cloned(),
            6.0,
            HashMap::new(),
        ));
        assert_eq!(p.empty_blocks(), ["Morning"]);
        let all = air(&p, berlin(2026, 10, 20, 5, 0), berlin(2026, 10, 20, 11, 0));
        assert!(all.iter().all(|s| s.block != "Morning"));
        assert!(all.iter().any(|s| s.block == DEFAULT_BLOCK
            && s.air_time > berlin(2026, 10, 20, 7, 0)
            && s.air_time < berlin(2026, 10, 20, 9, 0)));
    }

    #[test]
    fn after_days_off_air_the_blocks_are_where_the_clock_says() {
        let w = week_programme();
        let mut s = Schedule::new(w.programme.clone(), berlin(2026, 10, 19, 12, 0));
        s.advance(berlin(2026, 10, 19, 12, 0), 20, 8);
        let state: ScheduleState =
            serde_json::from_str(&serde_json::to_string(&s.state()).unwrap()).unwrap();
        // Three days later, Thursday 07:30: Morning is on.
        let later = berlin(2026, 10, 22, 7, 30);
        let mut r = Schedule::resume(state, w.programme.clone()).unwrap();
        let t = std::time::Instant::now();
        r.advance(later, 20, 8);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let win = r.window(later, 20);
        assert_eq!(win.live().block, "Morning");
        assert!(win.live().air_time <= later && later < win.live().end_time());
        // What plays ahead follows the timetable: the default after 10:00.
        let ahead = r.items_between(later, berlin(2026, 10, 22, 10, 30), 1000);
        assert!(ahead.iter().any(|i| i.block == DEFAULT_BLOCK));
        for p in ahead.windows(2) {
            assert_eq!(p[1].air_time, p[0].end_time(), "gapless");
        }
    }
}
