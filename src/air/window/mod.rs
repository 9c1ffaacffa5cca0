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
//!
//! The module is laid out by concern: the rotation the streamer plays (`rotation`), the
//! programme of rotations and timetable (`programme`), the air clock walking it
//! (`schedule`, its cursor walk in `schedule/walk`), and the playlist rendering
//! (`render`). Everything public is re-exported here.

#[cfg(test)]
mod fixtures;
mod programme;
mod render;
mod rotation;
mod schedule;

pub use programme::{
    BlockRotation, ItemMeta, Programme, SavedBlock, SavedProgramme, SAVED_PROGRAMME_FORMAT,
};
pub use render::{render, UriStyle};
pub use rotation::{PlayItem, PlaySegment, Rotation};
pub use schedule::{AirItem, Cursor, LiveWindow, Schedule, ScheduleState, ScheduledSegment};

use chrono::Duration;

/// `#EXT-X-VERSION` of the live playlist: 3 for decimal `#EXTINF` durations (RFC 8216
/// section 7).
pub const HLS_VERSION: usize = 3;

/// Seconds as a chrono duration, rounded to the microsecond.
fn seconds(s: f64) -> Duration {
    Duration::microseconds((s * 1e6).round() as i64)
}
