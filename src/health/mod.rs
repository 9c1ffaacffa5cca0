//! The health monitor (`station health`): hear the stream as listeners get it.
//!
//! Each check resolves `/ipns/<name>` on every configured gateway, parses the live
//! playlist (m3u8-rs) and checks it against RFC 8216 and against the previous check
//! (target duration constant, section 6.2.1; media sequence never going back, 6.2.1;
//! discontinuity sequence consistent, 6.2.2), that it advanced, and how far behind the
//! wall clock a listener starting now would be (the program date time at the
//! `#EXT-X-START` point). It fetches the segments at the live point, measures their
//! levels ([`crate::health::levels`]) and flags silence, clipping, decode errors and durations
//! that disagree with `#EXTINF`. It also asks Kubo (`id`, `version`) and reads the
//! streamer's heartbeat in `stream_state.json`. The result goes to `health.json`
//! (atomically), with a level history ring of the last hour for the meters.
//!
//! Every finding is a [`Problem`] value that carries its severity ([`problem`]): `fail` =
//! listeners hear nothing (Kubo down, no local gateway serves the stream, the stream is
//! stale); `warn` = something to look at (a public gateway down, silence, clipping,
//! decode errors, lag over `max_lag_seconds`).

pub mod levels;
pub mod meters;
pub mod monitor;
pub mod problem;

pub use problem::{Alarm, Problem, Scope, Status};

use crate::health::meters::LevelPoint;
use crate::station::config::HealthConfig;
use crate::station::state::StateDir;
use crate::station::Station;
use chrono::{DateTime, Utc};
use levels::SegmentLevels;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long the level history reaches back, seconds.
pub const HISTORY_SECONDS: i64 = 3600;

/// One fetched and measured segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentCheck {
    /// Media sequence number.
    pub sequence: u64,
    /// URI as written in the playlist.
    pub uri: String,
    /// Program date time (air time), when given.
    pub air_time: Option<DateTime<Utc>>,
    /// `#EXTINF` duration, seconds.
    pub extinf_seconds: f64,
    /// Time to first byte, milliseconds.
    pub ttfb_ms: Option<u64>,
    /// Bytes received.
    pub bytes: u64,
    /// Transfer rate, bytes per second.
    pub bytes_per_second: Option<f64>,
    /// Levels, when it decoded.
    pub levels: Option<SegmentLevels>,
    /// Problems: silence, clipping, decode errors, duration, fetch errors.
    #[serde(default, deserialize_with = "problem::lenient")]
    pub problems: Vec<Problem>,
}

/// One gateway's view of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayCheck {
    /// Gateway base URL.
    pub gateway: String,
    /// Whether it is a public gateway (its failures only warn).
    pub public: bool,
    /// Whether it served a valid, current playlist and decodable segments.
    pub ok: bool,
    /// Milliseconds to resolve and fetch `/ipns/<name>`.
    pub resolve_ms: Option<u64>,
    /// `#EXT-X-MEDIA-SEQUENCE`.
    pub media_sequence: Option<u64>,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE`.
    pub discontinuity_sequence: Option<u64>,
    /// `#EXT-X-TARGETDURATION`, seconds.
    pub target_duration: Option<u64>,
    /// Segments in the playlist.
    pub segment_count: usize,
    /// Seconds a listener starting now would be behind the wall clock.
    pub lag_seconds: Option<f64>,
    /// Whether the media sequence advanced since the previous check (`None` on the first).
    pub advanced: Option<bool>,
    /// What is wrong with its view of the stream.
    #[serde(default, deserialize_with = "problem::lenient")]
    pub problems: Vec<Problem>,
    /// Measured segments.
    pub segments: Vec<SegmentCheck>,
}

/// Kubo's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KuboCheck {
    /// Whether `id` and `version` answered.
    pub ok: bool,
    /// Peer ID.
    pub peer_id: Option<String>,
    /// Kubo version.
    pub version: Option<String>,
    /// Why not.
    pub error: Option<String>,
}

/// `health.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// Overall verdict.
    pub status: Status,
    /// Why, one line per problem (empty when ok): the [`Alarm`]s as sentences.
    pub reasons: Vec<String>,
    /// Every problem found, with where and how severe.
    #[serde(default, deserialize_with = "problem::lenient_alarms")]
    pub alarms: Vec<Alarm>,
    /// The IPNS name checked.
    pub ipns_name: Option<String>,
    /// Kubo.
    pub kubo: KuboCheck,
    /// Whether the streamer's heartbeat is fresh.
    pub streamer_on_air: bool,
    /// Seconds since the streamer's last tick.
    pub streamer_age_seconds: Option<f64>,
    /// Per gateway.
    pub gateways: Vec<GatewayCheck>,
    /// Level history of the last hour (oldest first).
    pub history: Vec<LevelPoint>,
}

impl HealthReport {
    /// The newest measured channel levels (for the meters).
    pub fn latest_levels(&self) -> Vec<levels::ChannelLevels> {
        self.gateways
            .iter()
            .flat_map(|g| g.segments.iter().rev())
            .find_map(|s| s.levels.as_ref().map(|l| l.channels.clone()))
            .unwrap_or_default()
    }
}

/// Everything one check needs.
#[derive(Debug, Clone)]
pub struct Checker {
    health: HealthConfig,
    kubo_api: String,
    state: StateDir,
    /// Segments the streamer publishes past the live edge.
    lookahead_segments: usize,
    /// The IPNS record TTL: how long resolvers may cache a record.
    ipns_ttl: Duration,
    http: reqwest::Client,
}

impl Checker {
    /// A checker for `station`.
    ///
    /// Errors: [`crate::Error::Http`] when the HTTP client cannot be built.
    pub fn new(station: &Station) -> crate::Result<Checker> {
        let health = station.health.clone();
        let http = reqwest::Client::builder()
            .user_agent(concat!("ipfs-station-health/", env!("CARGO_PKG_VERSION")))
            .timeout(health.request_timeout)
            .connect_timeout(health.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| crate::Error::Http {
                what: "the health monitor".into(),
                reason: e.to_string(),
            })?;
        Ok(Checker {
            health,
            kubo_api: station.kubo_api().to_string(),
            state: station.state(),
            lookahead_segments: station.streaming.lookahead_segments,
            ipns_ttl: station.streaming.ipns_ttl.duration(),
            http,
        })
    }

    /// Runs one check at `now`, comparing with `previous` (the last report), and returns
    /// the new report (not yet written).
    pub async fn check(&self, now: DateTime<Utc>, previous: Option<&HealthReport>) -> HealthReport {
        let mut alarms: Vec<Alarm> = Vec::new();
        let mut raise = |problem: Problem, scope: Scope, gateway: Option<&str>, segment| {
            alarms.push(Alarm::new(problem, scope, gateway, segment))
        };
        // Kubo.
        let kubo = match crate::kubo::Kubo::new(&self.kubo_api, self.health.request_timeout) {
            Ok(k) => match (k.id().await, k.version().await) {
                (Ok(id), Ok(v)) => KuboCheck {
                    ok: true,
                    peer_id: Some(id.id),
                    version: Some(v),
                    error: None,
                },
                (Err(e), _) | (_, Err(e)) => KuboCheck {
                    ok: false,
                    peer_id: None,
                    version: None,
                    error: Some(e.to_string()),
                },
            },
            Err(e) => KuboCheck {
                ok: false,
                peer_id: None,
                version: None,
                error: Some(e.to_string()),
            },
        };
        if let Some(e) = &kubo.error {
            raise(
                Problem::KuboDown { error: e.clone() },
                Scope::Station,
                None,
                None,
            );
        }
        // The streamer's heartbeat and the name to check.
        let state = self.state.load_stream_state().ok();
        let streamer_on_air = state.as_ref().is_some_and(|s| s.is_on_air(now));
        let streamer_age_seconds = state
            .as_ref()
            .map(|s| (now - s.last_tick_at).num_milliseconds() as f64 / 1000.0);
        if !streamer_on_air {
            raise(
                Problem::StreamerDown {
                    last_tick_seconds_ago: streamer_age_seconds,
                },
                Scope::Station,
                None,
                None,
            );
        }
        if let Some(st) = state.as_ref().filter(|_| streamer_on_air) {
            if let Some(alarm) = &st.alarm {
                raise(
                    Problem::Programme {
                        detail: alarm.clone(),
                    },
                    Scope::Station,
                    None,
                    None,
                );
            }
            if let Some(mean) = st.publish_stats.mean_ms {
                // The scheduled segments' mean length: what a lookahead segment lasts.
                let segs = &st.schedule.segments;
                let mean_segment = if segs.is_empty() {
                    st.schedule.target_duration as f64
                } else {
                    segs.iter().map(|s| s.duration).sum::<f64>() / segs.len() as f64
                };
                // The newest playlist a gateway has can be this old: a publish runs while
                // the next window waits for it (two publish times), the window waited up to
                // a segment for its tick, and resolvers cache the record for its TTL; the
                // player then wants three target durations ahead of its playhead
                // (RFC 8216 6.3.3).
                let publish_seconds = mean as f64 / 1000.0;
                let needed_seconds = 2.0 * publish_seconds
                    + mean_segment
                    + self.ipns_ttl.as_secs_f64()
                    + 3.0 * st.schedule.target_duration as f64;
                let lookahead_seconds = self.lookahead_segments as f64 * mean_segment;
                if needed_seconds > lookahead_seconds {
                    raise(
                        Problem::SlowPublishes {
                            publish_seconds,
                            needed_seconds,
                            lookahead_seconds,
                        },
                        Scope::Station,
                        None,
                        None,
                    );
                }
            }
        }
        let ipns_name = state.as_ref().and_then(|s| s.ipns_name.clone());
        let mut gateways = Vec::new();
        if let Some(name) = &ipns_name {
            let all = self
                .health
                .gateways
                .iter()
                .map(|g| (g, false))
                .chain(self.health.public_gateways.iter().map(|g| (g, true)));
            for (gw, public) in all {
                let prev = previous.and_then(|p| p.gateways.iter().find(|g| &g.gateway == gw));
                let g = self.check_gateway(gw, public, name, now, prev).await;
                gateways.push(g);
            }
        } else {
            raise(Problem::NotPublished, Scope::Station, None, None);
        }
        let any_local_ok = gateways.iter().any(|g| !g.public && g.ok);
        for g in &gateways {
            let scope = Scope::Gateway {
                public: g.public,
                any_local_ok,
            };
            for p in &g.problems {
                raise(p.clone(), scope, Some(&g.gateway), None);
            }
            for s in &g.segments {
                for p in &s.problems {
                    raise(
                        p.clone(),
                        Scope::Segment,
                        Some(&g.gateway),
                        Some(s.sequence),
                    );
                }
            }
        }
        if ipns_name.is_some() && !gateways.iter().any(|g| !g.public) {
            raise(Problem::NoLocalGateway, Scope::Station, None, None);
        } else if ipns_name.is_some() && !any_local_ok {
            raise(Problem::NoLocalGatewayServes, Scope::Station, None, None);
        }
        let status = alarms
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(Status::Ok);
        let reasons = alarms.iter().map(|a| a.to_string()).collect();
        // Level history: the segments measured on the first gateway that had any.
        let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
        if let Some(g) = gateways
            .iter()
            .find(|g| g.segments.iter().any(|s| s.levels.is_some()))
        {
            for s in &g.segments {
                if let (Some(l), Some(at)) = (&s.levels, s.air_time) {
                    if history.iter().all(|p| p.at != at) {
                        history.push(LevelPoint {
                            at,
                            peak_dbfs: l
                                .channels
                                .iter()
                                .map(|c| c.peak_dbfs)
                                .fold(f64::MIN, f64::max),
                            rms_dbfs: l
                                .channels
                                .iter()
                                .map(|c| c.rms_dbfs)
                                .fold(f64::MIN, f64::max),
                            loudness_lufs: l.loudness_lufs,
                        });
                    }
                }
            }
        }
        history.sort_by_key(|p| p.at);
        history.retain(|p| (now - p.at).num_seconds() <= HISTORY_SECONDS);
        HealthReport {
            checked_at: now,
            status,
            reasons,
            alarms,
            ipns_name,
            kubo,
            streamer_on_air,
            streamer_age_seconds,
            gateways,
            history,
        }
    }

    async fn check_gateway(
        &self,
        gw: &str,
        public: bool,
        name: &str,
        now: DateTime<Utc>,
        prev: Option<&GatewayCheck>,
    ) -> GatewayCheck {
        let mut g = GatewayCheck {
            gateway: gw.to_string(),
            public,
            ok: false,
            resolve_ms: None,
            media_sequence: None,
            discontinuity_sequence: None,
            target_duration: None,
            segment_count: 0,
            lag_seconds: None,
            advanced: None,
            problems: Vec::new(),
            segments: Vec::new(),
        };
        let url = format!("{gw}/ipns/{name}");
        let started = Instant::now();
        // A gateway that has not cached the name resolves it through the DHT first: up
        // to about a minute (`resolve_timeout`, 60 s by default).
        let request = self.http.get(&url).timeout(self.health.resolve_timeout);
        let body = match request.send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    g.problems.push(Problem::Unreachable {
                        detail: format!("reading the playlist failed: {e}"),
                    });
                    return g;
                }
            },
            Ok(r) => {
                g.problems.push(Problem::Unreachable {
                    detail: format!("HTTP {} for /ipns/{name}", r.status().as_u16()),
                });
                return g;
            }
            Err(e) => {
                g.problems.push(Problem::Unreachable {
                    detail: if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        e.to_string()
                    },
                });
                return g;
            }
        };
        g.resolve_ms = Some(started.elapsed().as_millis() as u64);
        let pl = match m3u8_rs::parse_playlist_res(&body) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
            Ok(m3u8_rs::Playlist::MasterPlaylist(_)) => {
                g.problems.push(Problem::Invalid {
                    detail: "a master playlist, not a live media playlist".into(),
                });
                return g;
            }
            Err(_) => {
                g.problems.push(Problem::Invalid {
                    detail: "not an HLS playlist".into(),
                });
                return g;
            }
        };
        g.media_sequence = Some(pl.media_sequence);
        g.discontinuity_sequence = Some(pl.discontinuity_sequence);
        g.target_duration = Some(pl.target_duration);
        g.segment_count = pl.segments.len();
        // RFC 8216 rules, alone and against the previous check.
        if pl.end_list {
            g.problems.push(Problem::Invalid {
                detail: "#EXT-X-ENDLIST in a live playlist".into(),
            });
        }
        if pl.segments.is_empty() {
            g.problems.push(Problem::Invalid {
                detail: "no segments".into(),
            });
            return g;
        }
        for s in &pl.segments {
            if (f64::from(s.duration)).round() as u64 > pl.target_duration {
                g.problems.push(Problem::Invalid {
                    detail: format!(
                        "#EXTINF {} exceeds the target duration {} (RFC 8216 4.3.3.1)",
                        s.duration, pl.target_duration
                    ),
                });
                break;
            }
        }
        let total: f64 = pl.segments.iter().map(|s| f64::from(s.duration)).sum();
        if total < 3.0 * pl.target_duration as f64 {
            g.problems.push(Problem::Invalid {
                detail: format!(
                    "playlist is {total:.1} s, under three target durations (RFC 8216 6.2.2)"
                ),
            });
        }
        if let Some(p) = prev {
            if let (Some(pt), true) = (p.target_duration, p.media_sequence.is_some()) {
                if pt != pl.target_duration {
                    g.problems.push(Problem::Invalid {
                        detail: format!(
                            "target duration changed from {pt} to {} (RFC 8216 6.2.1)",
                            pl.target_duration
                        ),
                    });
                }
            }
            if let (Some(pm), Some(pd)) = (p.media_sequence, p.discontinuity_sequence) {
                if pl.media_sequence < pm {
                    g.problems.push(Problem::Invalid {
                        detail: format!(
                            "media sequence went back from {pm} to {} (RFC 8216 6.2.1)",
                            pl.media_sequence
                        ),
                    });
                }
                if pl.discontinuity_sequence < pd
                    || pl.discontinuity_sequence - pd > pl.media_sequence.saturating_sub(pm)
                {
                    g.problems.push(Problem::Invalid { detail: format!("discontinuity sequence {} is inconsistent with {pd} before (media sequence {pm} -> {}) (RFC 8216 6.2.2)",
                        pl.discontinuity_sequence, pl.media_sequence
                    ) });
                }
                g.advanced = Some(pl.media_sequence > pm);
            }
        }
        // Where a listener starting now lands: the #EXT-X-START point, else three target
        // durations from the end (RFC 8216 6.3.3).
        let from_end = pl
            .start
            .as_ref()
            .map_or(3.0 * pl.target_duration as f64, |s| -s.time_offset);
        let mut acc = 0.0;
        let mut start_idx = 0;
        for (i, s) in pl.segments.iter().enumerate().rev() {
            acc += f64::from(s.duration);
            start_idx = i;
            if acc >= from_end - 1e-3 {
                break;
            }
        }
        let start_seg = &pl.segments[start_idx];
        if let Some(pdt) = start_seg.program_date_time {
            let lag = (now - pdt.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0
                - f64::from(start_seg.duration);
            g.lag_seconds = Some(lag.max(0.0));
            let max_lag = self.health.max_lag.as_secs_f64();
            if lag > max_lag {
                // The playlist is older than the lookahead covers: stale.
                let stale = g.advanced == Some(false) || lag > 2.0 * max_lag;
                g.problems.push(if stale {
                    Problem::Stale {
                        lag_seconds: lag,
                        allowed_seconds: max_lag,
                    }
                } else {
                    Problem::Lagging {
                        lag_seconds: lag,
                        allowed_seconds: max_lag,
                    }
                });
            }
        } else {
            g.problems.push(Problem::Invalid {
                detail: "no #EXT-X-PROGRAM-DATE-TIME to place the live point".into(),
            });
        }
        // The segments at the live point (what listeners hear now), oldest first.
        let n = self.health.segments_per_check.min(start_idx + 1);
        let base = reqwest::Url::parse(&url).ok();
        for i in (start_idx + 1 - n)..=start_idx {
            let s = &pl.segments[i];
            let seq = pl.media_sequence + i as u64;
            let seg_url = base
                .as_ref()
                .and_then(|b| b.join(&s.uri).ok())
                .map(|u| u.to_string())
                .unwrap_or_else(|| s.uri.clone());
            g.segments.push(self.check_segment(seq, s, &seg_url).await);
        }
        g.ok = !g.problems.iter().any(Problem::breaks_gateway)
            && g.segments.iter().all(|s| s.levels.is_some());
        g
    }

    async fn check_segment(
        &self,
        sequence: u64,
        s: &m3u8_rs::MediaSegment,
        url: &str,
    ) -> SegmentCheck {
        let mut c = SegmentCheck {
            sequence,
            uri: s.uri.clone(),
            air_time: s.program_date_time.map(|t| t.with_timezone(&Utc)),
            extinf_seconds: f64::from(s.duration),
            ttfb_ms: None,
            bytes: 0,
            bytes_per_second: None,
            levels: None,
            problems: Vec::new(),
        };
        let started = Instant::now();
        let bytes = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => {
                c.ttfb_ms = Some(started.elapsed().as_millis() as u64);
                match r.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        c.problems.push(Problem::FetchFailed {
                            detail: e.to_string(),
                        });
                        return c;
                    }
                }
            }
            Ok(r) => {
                c.problems.push(Problem::FetchFailed {
                    detail: format!("HTTP {}", r.status().as_u16()),
                });
                return c;
            }
            Err(e) => {
                c.problems.push(Problem::FetchFailed {
                    detail: e.to_string(),
                });
                return c;
            }
        };
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        c.bytes = bytes.len() as u64;
        c.bytes_per_second = Some(bytes.len() as f64 / secs);
        let threshold = self.health.silence_threshold.0;
        let what = s.uri.clone();
        // Decoding is CPU work: off the async runtime.
        let r =
            tokio::task::spawn_blocking(move || levels::analyze_ts(&what, &bytes, threshold)).await;
        match r {
            Ok(Ok(l)) => {
                if l.longest_silence_seconds >= self.health.silence_min.as_secs_f64() {
                    c.problems.push(Problem::Silence {
                        seconds: l.longest_silence_seconds,
                        threshold_dbfs: threshold,
                    });
                }
                if l.channels
                    .iter()
                    .any(|ch| ch.peak_dbfs >= self.health.clip_threshold.0)
                {
                    c.problems.push(Problem::Clipping {
                        threshold_dbfs: self.health.clip_threshold.0,
                    });
                }
                if l.decode_errors > 0 {
                    c.problems.push(Problem::DecodeErrors {
                        detail: format!("{} packets skipped", l.decode_errors),
                    });
                }
                // AAC frames are 1024 samples (23 ms); allow a frame at each end.
                if (l.decoded_seconds - c.extinf_seconds).abs() > 0.1 {
                    c.problems.push(Problem::Duration {
                        decoded_seconds: l.decoded_seconds,
                        extinf_seconds: c.extinf_seconds,
                    });
                }
                c.levels = Some(l);
            }
            Ok(Err(e)) => c
                .problems
                .push(Problem::DecodeErrors { detail: e.reason() }),
            Err(e) => c.problems.push(Problem::DecodeErrors {
                detail: e.to_string(),
            }),
        }
        c
    }
}

/// Runs one check of `station` and writes `health.json`.
///
/// Errors: [`crate::Error::Http`] when no HTTP client can be built; [`crate::Error::Io`]
/// when the report cannot be written.
pub async fn check_once(station: &Station, now: DateTime<Utc>) -> crate::Result<HealthReport> {
    let state = station.state();
    let previous = state.load_health().ok();
    let checker = Checker::new(station)?;
    let report = checker.check(now, previous.as_ref()).await;
    state.save_health(&report)?;
    match report.status {
        Status::Ok => tracing::info!("health ok: {} gateway(s) checked", report.gateways.len()),
        Status::Warn => tracing::warn!("health warn: {}", report.reasons.join("; ")),
        Status::Fail => tracing::error!("health FAIL: {}", report.reasons.join("; ")),
    }
    Ok(report)
}
