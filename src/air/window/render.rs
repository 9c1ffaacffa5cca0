//! Rendering the live window: how segment URIs are written ([`UriStyle`]) and the window
//! as an RFC 8216 live media playlist ([`render`]).

use super::schedule::{LiveWindow, ScheduledSegment};
use super::HLS_VERSION;
use crate::error::{Error, Result};

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
    use crate::air::window::fixtures::{item, prog, rotation, t0};
    use crate::air::window::{Rotation, Schedule};
    use crate::library::ItemKind;
    use chrono::Duration;
    use std::sync::Arc;

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
    fn short_window_is_refused() {
        let mut s = Schedule::new(prog(rotation()), t0());
        s.advance(t0(), 3, 0);
        let w = s.window(t0(), 3);
        // 4.1 + 6.006 + 6.006 < 21
        let e = render(&w, &UriStyle::IpfsPath).unwrap_err().to_string();
        assert!(e.contains("three target durations"), "{e}");
    }
}
