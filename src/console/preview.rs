//! Preview on air without Kubo: the streamer in preview mode (`station stream
//! --preview`, a process of its own like Go live's streamer) serves the same live window
//! on `http://127.0.0.1:<preview_port>/live.m3u8`, and the console measures what it
//! serves for the level meters.
//!
//! The health monitor (`station health`) only checks `/ipns/<name>` on gateways, and a
//! preview has no IPNS name, so it cannot hear a preview; the console does that part
//! itself while a preview runs: every [`meter_interval`] it fetches the preview's
//! playlist as a player would, then the segments at the wall-clock air time, and
//! measures them with the monitor's own decoder ([`crate::health::levels`]); the meters
//! are drawn by the monitor's renderer ([`crate::health::meters`]). Nothing of it touches
//! Kubo or IPNS.

use crate::air::streamer::Mode;
use crate::health::levels::{self, ChannelLevels};
use crate::health::meters::LevelPoint;
use crate::health::HISTORY_SECONDS;
use crate::station::state::{Role, StateDir};
use crate::station::Station;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest time between two level checks of a preview, whatever the health
/// monitor's `interval` says (a preview is for listening now).
pub const MAX_METER_INTERVAL: Duration = Duration::from_secs(10);

/// One measured segment of the preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewSegment {
    /// Media sequence number.
    pub sequence: u64,
    /// Its air time (the playlist's `#EXT-X-PROGRAM-DATE-TIME`).
    pub air_time: Option<DateTime<Utc>>,
    /// Peak and RMS per channel, dBFS, when it decoded.
    pub channels: Vec<ChannelLevels>,
    /// Integrated loudness of the segment, LUFS, when measurable.
    pub loudness_lufs: Option<f64>,
    /// Why it could not be fetched or decoded, if it could not.
    pub error: Option<String>,
}

/// The console's last check of the preview server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewCheck {
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// The playlist checked (`http://127.0.0.1:<port>/live.m3u8`).
    pub url: String,
    /// Whether the playlist and every segment at the air time were served and decoded.
    pub ok: bool,
    /// Milliseconds the playlist request took.
    pub playlist_ms: Option<u64>,
    /// The segments at the air time, oldest first.
    pub segments: Vec<PreviewSegment>,
    /// Why the check failed, when it did (the playlist could not be had).
    pub error: Option<String>,
    /// Level history of the last hour (oldest first), one point per measured segment.
    pub history: Vec<LevelPoint>,
}

impl PreviewCheck {
    /// The newest measured channel levels (for the meters).
    pub fn latest_levels(&self) -> Vec<ChannelLevels> {
        self.segments
            .iter()
            .rev()
            .find(|s| !s.channels.is_empty())
            .map(|s| s.channels.clone())
            .unwrap_or_default()
    }
}

/// Seconds between two level checks of a preview: the health monitor's `interval`, at
/// most [`MAX_METER_INTERVAL`].
pub fn meter_interval(station: &Station) -> Duration {
    station.health.interval.min(MAX_METER_INTERVAL)
}

/// Whether `url` is a preview URL the console may read: plain http on 127.0.0.1.
pub fn is_loopback_preview(url: &str) -> bool {
    url.strip_prefix("http://127.0.0.1:").is_some_and(|rest| {
        rest.split('/')
            .next()
            .is_some_and(|p| p.parse::<u16>().is_ok())
    })
}

/// The preview URL of the streamer running for `state` in preview mode, if one runs:
/// the holder of the stream lock is the process `stream_state.json` names, in preview
/// mode, with a loopback URL.
pub fn running_preview_url(state: &StateDir) -> Option<String> {
    let holder = state.holder(Role::Stream)?;
    let s = state.load_stream_state().ok()?;
    (s.mode == Mode::Preview && s.pid == holder.pid)
        .then_some(s.preview_url)
        .flatten()
        .filter(|u| is_loopback_preview(u))
}

/// Checks the preview at `url` once at `now`: the playlist as a player gets it, then the
/// `segments_per_check` segments up to the one whose air time covers `now` (or the
/// `#EXT-X-START` point when none does), each decoded and measured; `history` (the
/// previous check's) gets a point per newly measured segment and keeps the last hour.
pub async fn check(
    http: &reqwest::Client,
    url: &str,
    now: DateTime<Utc>,
    segments_per_check: usize,
    silence_threshold_dbfs: f64,
    history: Vec<LevelPoint>,
) -> PreviewCheck {
    let mut out = PreviewCheck {
        checked_at: now,
        url: url.to_string(),
        ok: false,
        playlist_ms: None,
        segments: Vec::new(),
        error: None,
        history,
    };
    let started = Instant::now();
    let body = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(format!("reading the playlist failed: {e}"));
                return out;
            }
        },
        Ok(r) => {
            out.error = Some(format!("HTTP {} for the playlist", r.status().as_u16()));
            return out;
        }
        Err(e) => {
            out.error = Some(format!("the preview server does not answer: {e}"));
            return out;
        }
    };
    out.playlist_ms = Some(started.elapsed().as_millis() as u64);
    let pl = match m3u8_rs::parse_media_playlist_res(&body) {
        Ok(p) if !p.segments.is_empty() => p,
        Ok(_) => {
            out.error = Some("the playlist has no segments".into());
            return out;
        }
        Err(_) => {
            out.error = Some("not an HLS media playlist".into());
            return out;
        }
    };
    let at = live_index(&pl, now);
    let n = segments_per_check.clamp(1, at + 1);
    let base = reqwest::Url::parse(url).ok();
    for i in (at + 1 - n)..=at {
        let s = &pl.segments[i];
        let seg_url = base
            .as_ref()
            .and_then(|b| b.join(&s.uri).ok())
            .map_or_else(|| s.uri.clone(), |u| u.to_string());
        out.segments.push(
            measure(
                http,
                &seg_url,
                pl.media_sequence + i as u64,
                s,
                silence_threshold_dbfs,
            )
            .await,
        );
    }
    for s in &out.segments {
        if let (Some(at), false) = (s.air_time, s.channels.is_empty()) {
            if out.history.iter().all(|p| p.at != at) {
                out.history.push(LevelPoint {
                    at,
                    peak_dbfs: s
                        .channels
                        .iter()
                        .map(|c| c.peak_dbfs)
                        .fold(f64::MIN, f64::max),
                    rms_dbfs: s
                        .channels
                        .iter()
                        .map(|c| c.rms_dbfs)
                        .fold(f64::MIN, f64::max),
                    loudness_lufs: s.loudness_lufs,
                });
            }
        }
    }
    out.history.sort_by_key(|p| p.at);
    out.history
        .retain(|p| (now - p.at).num_seconds() <= HISTORY_SECONDS);
    out.ok = out.segments.iter().all(|s| s.error.is_none());
    out
}

/// The index of the segment heard at `now`: the one whose program date time and
/// duration cover it, else the `#EXT-X-START` point (else three target durations from
/// the end, RFC 8216 6.3.3).
pub fn live_index(pl: &m3u8_rs::MediaPlaylist, now: DateTime<Utc>) -> usize {
    let covering = pl.segments.iter().rposition(|s| {
        s.program_date_time.is_some_and(|t| {
            let t = t.with_timezone(&Utc);
            // Checked: a playlist's `#EXTINF` can be any number.
            let end = chrono::TimeDelta::try_milliseconds((f64::from(s.duration) * 1000.0) as i64)
                .and_then(|d| t.checked_add_signed(d));
            t <= now && end.is_some_and(|end| now < end)
        })
    });
    if let Some(i) = covering {
        return i;
    }
    let from_end = pl
        .start
        .as_ref()
        .map_or(3.0 * pl.target_duration as f64, |s| -s.time_offset);
    let mut acc = 0.0;
    let mut idx = 0;
    for (i, s) in pl.segments.iter().enumerate().rev() {
        acc += f64::from(s.duration);
        idx = i;
        if acc >= from_end - 1e-3 {
            break;
        }
    }
    idx
}

/// Fetches and measures one segment.
async fn measure(
    http: &reqwest::Client,
    url: &str,
    sequence: u64,
    s: &m3u8_rs::MediaSegment,
    silence_threshold_dbfs: f64,
) -> PreviewSegment {
    let mut out = PreviewSegment {
        sequence,
        air_time: s.program_date_time.map(|t| t.with_timezone(&Utc)),
        channels: Vec::new(),
        loudness_lufs: None,
        error: None,
    };
    let bytes = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        },
        Ok(r) => {
            out.error = Some(format!("HTTP {}", r.status().as_u16()));
            return out;
        }
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let what = s.uri.clone();
    // At most the segment's #EXTINF and 2 s more is decoded (the monitor's rule).
    let limit = f64::from(s.duration) + 2.0;
    // Decoding is CPU work: off the async runtime.
    match tokio::task::spawn_blocking(move || {
        levels::analyze_ts(&what, &bytes, silence_threshold_dbfs, limit)
    })
    .await
    {
        Ok(Ok(l)) => {
            out.channels = l.channels;
            out.loudness_lufs = l.loudness_lufs;
        }
        Ok(Err(e)) => out.error = Some(e.to_string()),
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// The console's level checks of a running preview: one task at a time, which ends by
/// itself when the preview streamer is gone (stopped, or replaced by the IPNS one).
#[derive(Debug, Default)]
pub struct PreviewMeter {
    running: Arc<AtomicBool>,
    last: Arc<Mutex<Option<PreviewCheck>>>,
}

impl PreviewMeter {
    /// The newest check, if any.
    pub fn last(&self) -> Option<PreviewCheck> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    /// Starts the checks on `rt` unless they run: every [`meter_interval`] while a
    /// preview streamer runs for `station` (a first check at once).
    pub fn ensure_running(&self, station: &Station, rt: &tokio::runtime::Handle) {
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let running = self.running.clone();
        let last = self.last.clone();
        let state = station.state();
        let interval = meter_interval(station);
        let per_check = station.health.segments_per_check.max(1);
        let silence = station.health.silence_threshold.0;
        let timeout = station.health.request_timeout;
        rt.spawn(async move {
            let http = reqwest::Client::builder()
                .no_proxy()
                .timeout(timeout)
                .build();
            if let Ok(http) = http {
                while let Some(url) = running_preview_url(&state) {
                    let history = last
                        .lock()
                        .ok()
                        .and_then(|l| {
                            l.as_ref()
                                .filter(|c| c.url == url)
                                .map(|c| c.history.clone())
                        })
                        .unwrap_or_default();
                    let c = check(&http, &url, Utc::now(), per_check, silence, history).await;
                    if let Ok(mut l) = last.lock() {
                        *l = Some(c);
                    }
                    tokio::time::sleep(interval).await;
                }
            }
            running.store(false, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_loopback_preview_urls_are_read() {
        assert!(is_loopback_preview("http://127.0.0.1:8090/live.m3u8"));
        assert!(!is_loopback_preview("http://127.0.0.1/live.m3u8"));
        assert!(!is_loopback_preview("http://127.0.0.1:99999/live.m3u8"));
        assert!(!is_loopback_preview("https://127.0.0.1:8090/live.m3u8"));
        assert!(!is_loopback_preview("http://127.0.0.1.evil:8090/"));
        assert!(!is_loopback_preview("http://10.0.0.1:8090/live.m3u8"));
    }

    #[test]
    fn the_live_index_is_the_segment_at_the_wall_clock_else_the_start_point() {
        let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-START:TIME-OFFSET=-4.0\n\
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z\n#EXTINF:2.0,\n/a\n\
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:02.000Z\n#EXTINF:2.0,\n/b\n\
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:04.000Z\n#EXTINF:2.0,\n/c\n\
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:06.000Z\n#EXTINF:2.0,\n/d\n";
        let pl = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(live_index(&pl, at("2025-01-01T00:00:02.500Z")), 1);
        assert_eq!(live_index(&pl, at("2025-01-01T00:00:07.999Z")), 3);
        // Past the end (or before it): the #EXT-X-START point, 4 s from the end.
        assert_eq!(live_index(&pl, at("2025-01-01T00:01:00Z")), 2);
        assert_eq!(live_index(&pl, at("2024-12-31T23:59:00Z")), 2);
    }
}
