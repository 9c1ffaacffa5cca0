//! The live window as listeners see it, for the console: the newest playlist the
//! streamer rendered (`live.m3u8` in the state folder), each segment marked as past,
//! live or lookahead against the wall clock.

use crate::error::{Error, Result};
use crate::station::state::{StateDir, LIVE_FILE};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One segment of the live window, as listeners see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSegment {
    /// Media sequence number (RFC 8216 section 6.3.2: first is `#EXT-X-MEDIA-SEQUENCE`).
    pub media_sequence: u64,
    /// `#EXTINF` title (the item's `Artist - Title`).
    pub title: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Air time (`#EXT-X-PROGRAM-DATE-TIME`), RFC 3339.
    pub air_time: Option<String>,
    /// Whether `#EXT-X-DISCONTINUITY` precedes it (an item starts).
    pub discontinuity: bool,
    /// On air now (the live point).
    pub live: bool,
    /// Past the live point (the lookahead).
    pub lookahead: bool,
    /// The segment URI (`/ipfs/<cid>...`).
    pub uri: String,
}

/// The live window: the newest playlist the streamer rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveWindow {
    /// `#EXT-X-MEDIA-SEQUENCE`.
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`.
    pub discontinuity_sequence: u64,
    /// `#EXT-X-TARGETDURATION`, seconds.
    pub target_duration: u64,
    /// Segments, oldest first.
    pub segments: Vec<WindowSegment>,
}

/// Reads `data/state/live.m3u8` (written by the streamer every tick) and marks the live
/// point and the lookahead against `now`. `Ok(None)` when there is none yet.
///
/// Errors: [`Error::Manifest`] when the file is not a media playlist.
pub fn live_window(state: &StateDir, now: DateTime<Utc>) -> Result<Option<LiveWindow>> {
    let path = state.file(LIVE_FILE);
    let Some(bytes) = state.read_live() else {
        return Ok(None);
    };
    let pl = match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        _ => {
            return Err(Error::Manifest {
                file: path,
                message: "not an HLS media playlist".into(),
            })
        }
    };
    let mut segments = Vec::with_capacity(pl.segments.len());
    let mut t: Option<DateTime<Utc>> = None;
    for (i, s) in pl.segments.iter().enumerate() {
        if let Some(pdt) = s.program_date_time {
            t = Some(pdt.with_timezone(&Utc));
        }
        let start = t;
        let dur = f64::from(s.duration);
        // Checked: a playlist's `#EXTINF` can be any number (an end out of range: not live).
        let end = start.and_then(|a| {
            chrono::TimeDelta::try_milliseconds((dur * 1000.0) as i64)
                .and_then(|d| a.checked_add_signed(d))
        });
        segments.push(WindowSegment {
            media_sequence: pl.media_sequence + i as u64,
            title: s.title.clone().unwrap_or_default(),
            duration: dur,
            air_time: start.map(|a| a.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            discontinuity: s.discontinuity,
            live: matches!((start, end), (Some(a), Some(b)) if a <= now && now < b),
            lookahead: start.is_some_and(|a| a > now),
            uri: s.uri.clone(),
        });
        t = end;
    }
    Ok(Some(LiveWindow {
        media_sequence: pl.media_sequence,
        discontinuity_sequence: pl.discontinuity_sequence,
        target_duration: pl.target_duration,
        segments,
    }))
}
