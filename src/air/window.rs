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
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
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
}

impl ScheduledSegment {
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
    /// Rotation index of the entry after `item`.
    pub next_entry: usize,
}

/// Everything needed to continue a stream after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The stream's fixed target duration in seconds.
    pub target_duration: u64,
    /// Hash of the rotation the cursor walks.
    pub rotation_hash: String,
    /// Scheduled segments still in (or ahead of) the window, oldest first.
    pub segments: Vec<ScheduledSegment>,
    /// The next segment to place.
    pub cursor: Cursor,
}

/// The air clock over a looping rotation.
#[derive(Debug, Clone)]
pub struct Schedule {
    target_duration: u64,
    rotation: Arc<Rotation>,
    pending: Option<Arc<Rotation>>,
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

impl Schedule {
    /// A new stream whose media sequence 0 (the rotation's first segment) airs at `start`.
    pub fn new(rotation: Arc<Rotation>, start: DateTime<Utc>) -> Schedule {
        let first = rotation.entries[0].as_ref().clone();
        Schedule {
            target_duration: rotation.target_duration(),
            cursor: Cursor {
                sequence: 0,
                air_time: start,
                discontinuity_count: 0,
                item: first,
                segment: 0,
                next_entry: 1 % rotation.entries.len(),
            },
            rotation,
            pending: None,
            segments: VecDeque::new(),
        }
    }

    /// A new stream going on air at `now` with a full window from the first publish: the
    /// rotation's first `window_size - lookahead - 1` segments are back-dated (as if they
    /// had aired), so the live edge at `now` is followed by exactly `lookahead` segments.
    /// Players that ignore `#EXT-X-START` and start near the end of the playlist (e.g.
    /// ffmpeg, 3 segments from the end) then stay close to the true air time.
    pub fn born(
        rotation: Arc<Rotation>,
        now: DateTime<Utc>,
        window_size: usize,
        lookahead: usize,
    ) -> Schedule {
        let history = window_size.max(1) - lookahead.min(window_size.max(1) - 1) - 1;
        let back: f64 = rotation
            .entries
            .iter()
            .cycle()
            .flat_map(|e| e.segments.iter())
            .take(history)
            .map(|s| s.duration)
            .sum();
        // Land `now` inside the live-edge segment, not on its first instant.
        Schedule::new(rotation, now - seconds(back) - Duration::milliseconds(1))
    }

    /// Continues a stream from saved state over `rotation` (which may differ from the one
    /// the state was made with: it then takes over at the next item boundary).
    ///
    /// Errors: [`Error::Window`] when the state is inconsistent.
    pub fn resume(state: ScheduleState, rotation: Arc<Rotation>) -> Result<Schedule> {
        if state.cursor.item.segments.is_empty()
            || state.cursor.segment > state.cursor.item.segments.len()
        {
            return Err(Error::Window("saved cursor points outside its item".into()));
        }
        let same = state.rotation_hash == rotation.hash;
        let mut s = Schedule {
            target_duration: state.target_duration,
            rotation: rotation.clone(),
            pending: None,
            segments: state.segments.into(),
            cursor: state.cursor,
        };
        if same {
            s.cursor.next_entry %= rotation.entries.len();
        } else {
            s.pending = Some(rotation);
        }
        Ok(s)
    }

    /// The state to persist.
    pub fn state(&self) -> ScheduleState {
        ScheduleState {
            target_duration: self.target_duration,
            rotation_hash: self.rotation.hash.clone(),
            segments: self.segments.iter().cloned().collect(),
            cursor: self.cursor.clone(),
        }
    }

    /// The stream's fixed target duration in seconds.
    pub fn target_duration(&self) -> u64 {
        self.target_duration
    }

    /// The rotation being scheduled (the pending one once it is queued).
    pub fn rotation(&self) -> &Arc<Rotation> {
        self.pending.as_ref().unwrap_or(&self.rotation)
    }

    /// Whether a new rotation waits for the next item boundary.
    pub fn has_pending_rotation(&self) -> bool {
        self.pending.is_some()
    }

    /// Queues `rotation` to take over at the next item boundary that is not yet
    /// scheduled. Nothing happens when it is the same programme.
    ///
    /// Errors: [`Error::Window`] when a segment would exceed the stream's target duration
    /// once rounded (RFC 8216 section 4.3.3.1): the old rotation stays on air.
    pub fn set_rotation(&mut self, rotation: Arc<Rotation>) -> Result<()> {
        if rotation.hash == self.rotation().hash {
            return Ok(());
        }
        let longest = rotation.longest_segment();
        if longest.round() as u64 > self.target_duration {
            return Err(Error::Window(format!(
                "the new rotation has a {longest:.3} s segment but this stream's target duration is {} s (RFC 8216 4.3.3.1 forbids changing it); keeping the current rotation — start a new stream to change the segment length",
                self.target_duration
            )));
        }
        self.pending = Some(rotation);
        Ok(())
    }

    /// Moves the cursor to the next rotation entry (switching to a pending rotation).
    fn next_item(&mut self) {
        if let Some(new) = self.pending.take() {
            let n = new.entries.len();
            let next = new
                .entries
                .iter()
                .position(|e| e.id == self.cursor.item.id)
                .map_or(self.cursor.next_entry % n, |p| (p + 1) % n);
            self.rotation = new;
            self.cursor.next_entry = next;
        }
        let n = self.rotation.entries.len();
        let idx = self.cursor.next_entry % n;
        self.cursor.item = self.rotation.entries[idx].as_ref().clone();
        self.cursor.segment = 0;
        self.cursor.next_entry = (idx + 1) % n;
    }

    /// Places the next segment.
    fn push_next(&mut self) {
        if self.cursor.segment >= self.cursor.item.segments.len() {
            self.next_item();
        }
        let c = &mut self.cursor;
        let seg = &c.item.segments[c.segment];
        let discontinuity = c.segment == 0;
        if discontinuity {
            c.discontinuity_count += 1;
        }
        self.segments.push_back(ScheduledSegment {
            sequence: c.sequence,
            air_time: c.air_time,
            duration: seg.duration,
            item_id: c.item.id.clone(),
            title: c.item.title.clone(),
            kind: c.item.kind,
            file: seg.file.clone(),
            cid: seg.cid.clone(),
            discontinuity,
            discontinuity_count: c.discontinuity_count,
        });
        c.sequence += 1;
        c.air_time += seconds(seg.duration);
        c.segment += 1;
    }

    /// After a long silence (station off for longer than a rotation loop), skips whole
    /// loops arithmetically: sequence and discontinuity counts advance as if they aired.
    fn skip_loops(&mut self, until: DateTime<Utc>) {
        let n = self.rotation.entries.len();
        let at_start_of_entry = self.pending.is_none()
            && self.cursor.segment == 0
            && self.rotation.entries[(self.cursor.next_entry + n - 1) % n].id
                == self.cursor.item.id;
        if !at_start_of_entry {
            return;
        }
        let (loop_d, loop_segs, loop_items) = self.rotation.loop_totals();
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
    /// out). Work is bounded even after weeks off air.
    pub fn advance(&mut self, now: DateTime<Utc>, window_size: usize, lookahead: usize) {
        let window_size = window_size.max(1);
        let lookahead = lookahead.min(window_size - 1);
        // Far behind the wall clock (station was off): drop the past, skip whole loops.
        let history = (window_size - lookahead) as i32;
        let horizon = now - seconds(self.rotation.longest_segment().max(1.0)) * history;
        if self.cursor.air_time < horizon {
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
        // the oldest kept; then make sure the whole window is scheduled.
        let live = self.live_index(now);
        let start = live.saturating_sub(window_size - lookahead - 1);
        self.segments.drain(..start);
        while self.segments.len() < window_size {
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

    /// Upcoming items after the one on air at `now`: `(item id, title, air time)`,
    /// up to `n`: first from the schedule, then by walking the rotation past it.
    pub fn next_up(&self, now: DateTime<Utc>, n: usize) -> Vec<(String, String, DateTime<Utc>)> {
        let mut out: Vec<(String, String, DateTime<Utc>)> = self
            .segments
            .iter()
            .filter(|s| s.discontinuity && s.air_time > now)
            .map(|s| (s.item_id.clone(), s.title.clone(), s.air_time))
            .take(n)
            .collect();
        let c = &self.cursor;
        if c.segment == 0 && out.len() < n {
            out.push((c.item.id.clone(), c.item.title.clone(), c.air_time));
        }
        let rest: f64 = c
            .item
            .segments
            .iter()
            .skip(c.segment)
            .map(|s| s.duration)
            .sum();
        let mut t = c.air_time + seconds(rest);
        let rot = self.rotation();
        let len = rot.entries.len();
        let mut idx = if self.pending.is_some() {
            rot.entries
                .iter()
                .position(|e| e.id == c.item.id)
                .map_or(c.next_entry, |p| p + 1)
        } else {
            c.next_entry
        };
        while out.len() < n {
            let e = &rot.entries[idx % len];
            out.push((e.id.clone(), e.title.clone(), t));
            t += seconds(e.segments.iter().map(|s| s.duration).sum());
            idx += 1;
        }
        out
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
    String::from_utf8(out).map_err(|e| Error::Window(e.to_string()))
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
        let mut s = Schedule::new(rot.clone(), t0());
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
            assert_eq!(w.segments.len(), ws);
            if tick > ws as i64 {
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
    fn first_window_is_full_and_ends_lookahead_past_the_live_edge() {
        let mut s = Schedule::born(rotation(), t0(), 10, 3);
        s.advance(t0(), 10, 3);
        let w = s.window(t0(), 10);
        assert_eq!(w.media_sequence, 0);
        assert_eq!(w.discontinuity_sequence, 0);
        assert_eq!(w.live_index, 6);
        assert_eq!(w.segments.len(), 10);
        assert!(w.live().air_time <= t0() && t0() < w.live().end_time());
        let text = render(&w, &UriStyle::IpfsPath).unwrap();
        let (_, pl) = m3u8_rs::parse_media_playlist(text.as_bytes()).unwrap();
        assert!(!pl.end_list);
        assert!(pl.playlist_type.is_none());
        assert_eq!(pl.target_duration, 7);
        assert_eq!(pl.segments.len(), 10);
        assert!(pl.segments[0].discontinuity);
        assert_eq!(pl.segments[0].uri, "/ipfs/Qmj1x0?filename=seg_00000.ts");
        assert_eq!(pl.segments[0].title.as_deref(), Some("Artist - j1"));
        let p0 = pl.segments[0].program_date_time.unwrap();
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
            w.segments[7..].iter().map(|x| x.duration).sum::<f64>() + w.live().duration;
        assert!((w.live_offset() - ahead).abs() < 1e-9);
    }

    #[test]
    fn restart_continues_the_sequence_and_follows_the_wall_clock() {
        let rot = rotation();
        let mut s = Schedule::new(rot.clone(), t0());
        let mut now = t0();
        for _ in 0..40 {
            s.advance(now, 12, 3);
            now += Duration::seconds(6);
        }
        let before = s.window(now - Duration::seconds(6), 12).media_sequence;
        let state: ScheduleState =
            serde_json::from_str(&serde_json::to_string(&s.state()).unwrap()).unwrap();
        // Quick restart: same window continues.
        let mut r = Schedule::resume(state.clone(), rot.clone()).unwrap();
        r.advance(now, 12, 3);
        let w = r.window(now, 12);
        assert!(w.media_sequence >= before);
        assert!(w.live().air_time <= now && now < w.live().end_time());
        // Five minutes off air: sequence continues as if aired; live edge at the wall clock.
        let later = now + Duration::seconds(300);
        let mut r = Schedule::resume(state.clone(), rot.clone()).unwrap();
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
        let mut r = Schedule::resume(state, rot.clone()).unwrap();
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

    #[test]
    fn new_rotation_takes_over_at_the_next_unscheduled_item_boundary() {
        let rot = rotation();
        let mut s = Schedule::new(rot.clone(), t0());
        let now = t0() + Duration::seconds(12); // inside t1
        s.advance(now, 6, 2);
        let scheduled: Vec<ScheduledSegment> = s.segments().cloned().collect();
        let new = Arc::new(Rotation::new(vec![
            item("n1", ItemKind::Track, &[5.0, 5.0]),
            item("n2", ItemKind::Track, &[5.0]),
        ]));
        s.set_rotation(new).unwrap();
        assert!(s.has_pending_rotation());
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
        let mut s = Schedule::new(rotation(), t0());
        let now = t0() + Duration::seconds(12);
        s.advance(now, 6, 2);
        // Scheduled so far: j1, t1 x4, t2 seg 0 -> t2 is in progress.
        assert_eq!(s.segments().last().unwrap().item_id, "t2");
        let t2 = rotation().entries[2].clone();
        let new = Arc::new(Rotation::new(vec![
            item("n1", ItemKind::Track, &[5.0]),
            t2,
            item("n2", ItemKind::Track, &[5.0]),
        ]));
        s.set_rotation(new).unwrap();
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
        let mut s = Schedule::new(rotation(), t0());
        let long = Arc::new(Rotation::new(vec![item("x", ItemKind::Track, &[10.0])]));
        let e = s.set_rotation(long).unwrap_err().to_string();
        assert!(e.contains("target duration"), "{e}");
        assert!(!s.has_pending_rotation());
    }

    #[test]
    fn short_window_is_refused() {
        let mut s = Schedule::new(rotation(), t0());
        s.advance(t0(), 3, 0);
        let w = s.window(t0(), 3);
        // 4.1 + 6.006 + 6.006 < 21
        let e = render(&w, &UriStyle::IpfsPath).unwrap_err().to_string();
        assert!(e.contains("three target durations"), "{e}");
    }

    #[test]
    fn next_up_lists_upcoming_items_in_order() {
        let mut s = Schedule::new(rotation(), t0());
        s.advance(t0(), 6, 2);
        let up: Vec<String> = s.next_up(t0(), 6).into_iter().map(|x| x.0).collect();
        assert_eq!(up, ["t1", "t2", "j1", "t3", "j1", "t1"]);
        let times: Vec<DateTime<Utc>> = s.next_up(t0(), 3).into_iter().map(|x| x.2).collect();
        assert_eq!(times[0], t0() + Duration::milliseconds(4100));
        assert_eq!(
            times[1],
            t0() + Duration::milliseconds(4100 + 6006 * 3 + 2500)
        );
    }
}
