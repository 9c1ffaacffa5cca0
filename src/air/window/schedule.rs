//! The air clock: segments placed on it ([`ScheduledSegment`]), the [`Cursor`] where
//! placing continues and the [`ScheduleState`] saved for a restart, the [`Schedule`]
//! itself (made, resumed, given a new programme), the [`LiveWindow`] it gives to publish,
//! and the items as they air ([`AirItem`]). How the cursor walks the programme, extending
//! the schedule and looking ahead, is in `walk`.

mod walk;

use super::programme::Programme;
use super::rotation::PlayItem;
use super::seconds;
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::schedule::DEFAULT_BLOCK;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

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
        let same = state.rotation_hash == programme.hash();
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
        let items: HashMap<&str, &PlayItem> = std::iter::once(programme.default_rotation())
            .chain(
                programme
                    .blocks()
                    .iter()
                    .filter_map(|b| b.rotation.as_ref()),
            )
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
            rotation_hash: self.programme.hash().to_string(),
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
        if programme.hash() == self.programme().hash() {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::air::window::fixtures::{item, prog, rotation, t0};
    use crate::air::window::{render, Rotation, UriStyle};
    use chrono::Duration;

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
}
