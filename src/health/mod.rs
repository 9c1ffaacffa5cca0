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
//! Gateways are strangers: every byte read from them is capped while it is read
//! ([`PLAYLIST_MAX_BYTES`], [`SEGMENT_MAX_BYTES`]), decoding stops at the segment's
//! `#EXTINF` plus [`levels::DECODE_MARGIN_SECONDS`], numbers from the playlist are
//! checked (overflow, non-finite, absurd) before anything uses or stores them, redirects
//! are followed only within the gateway's own origin (its subdomain gateway
//! `<name>.ipns.<host>` included) and segment URIs that resolve elsewhere are reported,
//! not fetched. The level history is bounded by count ([`HISTORY_MAX_POINTS`]) and by
//! time on both sides ([`HISTORY_SECONDS`] back, [`HISTORY_AHEAD_SECONDS`] ahead).
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
/// How far ahead of the check's clock a history point may be dated, seconds (a point
/// further ahead is dropped: the streamer's clock or the playlist is wrong).
pub const HISTORY_AHEAD_SECONDS: i64 = 60;
/// Most points kept in the level history (the newest).
pub const HISTORY_MAX_POINTS: usize = 720;
/// Most bytes read for the playlist `/ipns/<name>`, bytes: a live window of 1,000
/// segments is about 150 KB. A longer body is cut off there and reported.
pub const PLAYLIST_MAX_BYTES: usize = 1 << 20;
/// Most bytes read for one segment, bytes: a 6 s segment at 128 kbit/s is about 100 KB,
/// 30 s at 320 kbit/s about 1.2 MB. A longer body is cut off there and reported.
pub const SEGMENT_MAX_BYTES: usize = 8 << 20;
/// Largest `#EXT-X-TARGETDURATION` and `#EXTINF` taken as a value, seconds; more is an
/// invalid playlist.
pub const MAX_SEGMENT_SECONDS: f64 = 3600.0;
/// Most redirects followed for one request (all within the gateway's origin).
pub const MAX_REDIRECTS: usize = 5;

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
    /// How the streamer's warming of the public gateways goes (from its state at the
    /// check; [`crate::air::warm`]): per gateway, segments fetched ahead of air, failures,
    /// how far ahead of air time.
    #[serde(default)]
    pub warming: Vec<crate::air::warm::GatewayWarmth>,
    /// Level history of the last hour (oldest first), at most [`HISTORY_MAX_POINTS`].
    /// Points that cannot be read (an older version's `null`) are dropped on load.
    #[serde(default, deserialize_with = "lenient_points")]
    pub history: Vec<LevelPoint>,
}

/// Reads the level history, dropping points that do not read as a [`LevelPoint`] with
/// finite levels.
fn lenient_points<'de, D>(d: D) -> std::result::Result<Vec<LevelPoint>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(points_of(raw))
}

/// The readable, finite level points among `raw`.
pub(crate) fn points_of(raw: Vec<serde_json::Value>) -> Vec<LevelPoint> {
    raw.into_iter()
        .filter_map(|v| serde_json::from_value::<LevelPoint>(v).ok())
        .filter(|p| {
            p.peak_dbfs.is_finite()
                && p.rms_dbfs.is_finite()
                && p.loudness_lufs.is_none_or(f64::is_finite)
        })
        .collect()
}

/// Bounds a level history at `now`: sorted by air time, one point per air time, none
/// dated more than [`HISTORY_SECONDS`] before `now` or more than
/// [`HISTORY_AHEAD_SECONDS`] after it, at most [`HISTORY_MAX_POINTS`] (the newest).
pub fn bound_history(history: &mut Vec<LevelPoint>, now: DateTime<Utc>) {
    let oldest = now - chrono::Duration::seconds(HISTORY_SECONDS);
    let newest = now + chrono::Duration::seconds(HISTORY_AHEAD_SECONDS);
    history.retain(|p| {
        p.at >= oldest
            && p.at <= newest
            && p.peak_dbfs.is_finite()
            && p.rms_dbfs.is_finite()
            && p.loudness_lufs.is_none_or(f64::is_finite)
    });
    history.sort_by_key(|p| p.at);
    history.dedup_by_key(|p| p.at);
    let extra = history.len().saturating_sub(HISTORY_MAX_POINTS);
    history.drain(..extra);
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
    /// The configured `segment_base_url` (`absolute` segment URIs): segments there are
    /// fetched whatever gateway served the playlist.
    segment_base: Option<reqwest::Url>,
    /// The pinning services of `remote_pinning` (setup.config.json).
    remote_pinning: Vec<crate::station::remote_pinning::RemoteService>,
    http: reqwest::Client,
}

/// Whether `to` is on the gateway `from`'s own origin: the same scheme, port and host,
/// or the host's subdomain gateway (`<cid>.ipfs.<host>`, `<name>.ipns.<host>`, where
/// path gateways such as dweb.link and Kubo's `localhost` redirect `/ipns/<name>`).
pub fn same_gateway(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    if from.scheme() != to.scheme() || from.port_or_known_default() != to.port_or_known_default() {
        return false;
    }
    match (from.host_str(), to.host_str()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            a == b
                || [".ipfs.", ".ipns."].iter().any(|sub| {
                    b.strip_suffix(&a)
                        .and_then(|rest| rest.strip_suffix(sub))
                        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
                })
        }
        _ => false,
    }
}

/// The redirect policy of the monitor's client: at most [`MAX_REDIRECTS`], each within
/// the first URL's gateway ([`same_gateway`]); any other is refused, and the request
/// fails with the reason.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            let why = format!("more than {MAX_REDIRECTS} redirects");
            return attempt.error(why);
        }
        let within = attempt
            .previous()
            .first()
            .is_some_and(|first| same_gateway(first, attempt.url()));
        if within {
            attempt.follow()
        } else {
            let why = format!(
                "redirected to another origin ({}): not followed",
                attempt.url()
            );
            attempt.error(why)
        }
    })
}

/// Why a capped fetch did not bring a body.
#[derive(Debug, Clone, PartialEq)]
enum FetchError {
    /// A non-2xx status.
    Status(u16),
    /// The body is longer than the cap (bytes): cut off.
    TooLarge(usize),
    /// The request timed out.
    TimedOut,
    /// A redirect was refused (another origin, too many).
    Redirect(String),
    /// Connecting or reading failed.
    Transport(String),
}

impl FetchError {
    fn of(e: &reqwest::Error) -> FetchError {
        // The reason is at the bottom of the chain (our redirect refusal, the I/O error).
        let mut chain = vec![e.to_string()];
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            chain.push(s.to_string());
            source = s.source();
        }
        let reason = chain.last().cloned().unwrap_or_default();
        if e.is_timeout() {
            FetchError::TimedOut
        } else if e.is_redirect() {
            FetchError::Redirect(reason)
        } else {
            FetchError::Transport(chain.join(": "))
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Status(s) => write!(f, "HTTP {s}"),
            FetchError::TooLarge(cap) => write!(
                f,
                "the body is larger than {} KiB: cut off there",
                cap / 1024
            ),
            FetchError::TimedOut => f.write_str("timed out"),
            FetchError::Redirect(why) | FetchError::Transport(why) => f.write_str(why),
        }
    }
}

/// A body read within its cap.
struct Fetched {
    body: Vec<u8>,
    /// The URL it came from, after redirects.
    url: reqwest::Url,
    /// Time to the response headers.
    ttfb: Duration,
}

impl Checker {
    /// A checker for `station`.
    ///
    /// Errors: [`crate::Error::Http`] when the HTTP client cannot be built.
    pub fn new(station: &Station) -> crate::Result<Checker> {
        let health = station.health.clone();
        let http = reqwest::Client::builder()
            .user_agent(concat!("ipfs-station-health/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect_policy())
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
            segment_base: match &station.streaming.segment_uri_style {
                crate::station::config::SegmentUriStyle::Absolute(b) => reqwest::Url::parse(b).ok(),
                _ => None,
            },
            remote_pinning: station.setup.remote_pinning.clone(),
            http,
        })
    }

    /// GETs `url` within `timeout`, reading the body as it comes and stopping at `limit`
    /// bytes (a longer body is [`FetchError::TooLarge`], never held whole).
    async fn fetch(
        &self,
        url: reqwest::Url,
        timeout: Duration,
        limit: usize,
    ) -> std::result::Result<Fetched, FetchError> {
        let started = Instant::now();
        let mut r = self
            .http
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| FetchError::of(&e))?;
        let ttfb = started.elapsed();
        if !r.status().is_success() {
            return Err(FetchError::Status(r.status().as_u16()));
        }
        if r.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge(limit));
        }
        let url = r.url().clone();
        let hint = r.content_length().map_or(64 * 1024, |n| n as usize);
        let mut body = Vec::with_capacity(hint.min(limit));
        while let Some(chunk) = r.chunk().await.map_err(|e| FetchError::of(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, url, ttfb })
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
        let streamer_age_seconds = state.as_ref().map(|s| s.heartbeat_age(now));
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
        if let Some(hours) =
            crate::pinning::unpinned_library_hours(&self.state, &self.remote_pinning, now)
        {
            raise(
                Problem::LibraryNotPinned {
                    hours,
                    services: self.remote_pinning.len(),
                },
                Scope::Station,
                None,
                None,
            );
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
        // Level history: the segments measured on the first gateway that serves the
        // stream well, else on the first that had any.
        let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
        let measured = |g: &&GatewayCheck| g.segments.iter().any(|s| s.levels.is_some());
        if let Some(g) = gateways
            .iter()
            .filter(measured)
            .find(|g| g.ok)
            .or_else(|| gateways.iter().find(measured))
        {
            for s in &g.segments {
                if let (Some(l), Some(at)) = (&s.levels, s.air_time) {
                    if history.iter().all(|p| p.at != at) && !l.channels.is_empty() {
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
        bound_history(&mut history, now);
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
            warming: state.map(|s| s.warming).unwrap_or_default(),
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
        let (base, url) = match (
            reqwest::Url::parse(gw),
            reqwest::Url::parse(&playlist_url(gw, name)),
        ) {
            (Ok(b), Ok(u)) => (b, u),
            (Err(e), _) | (_, Err(e)) => {
                g.problems.push(Problem::Unreachable {
                    detail: format!("not a URL: {e}"),
                });
                return g;
            }
        };
        // A gateway that has not cached the name resolves it through the DHT first: up
        // to about a minute (`resolve_timeout`, 60 s by default).
        let fetched = match self
            .fetch(url, self.health.resolve_timeout, PLAYLIST_MAX_BYTES)
            .await
        {
            Ok(f) => f,
            Err(FetchError::TooLarge(cap)) => {
                g.problems.push(Problem::Invalid {
                    detail: format!(
                        "the playlist is larger than {} KiB: cut off there, not read",
                        cap / 1024
                    ),
                });
                return g;
            }
            Err(FetchError::Status(code)) => {
                g.problems.push(Problem::Unreachable {
                    detail: format!(
                        "HTTP {code} for /ipns/{name}/{}",
                        crate::air::site::PLAYLIST_FILE
                    ),
                });
                return g;
            }
            Err(e) => {
                g.problems.push(Problem::Unreachable {
                    detail: e.to_string(),
                });
                return g;
            }
        };
        g.resolve_ms = Some(u64::try_from(fetched.ttfb.as_millis()).unwrap_or(u64::MAX));
        // m3u8-rs on a stranger's bytes: a panic in the parser is an invalid playlist.
        let parsed =
            std::panic::catch_unwind(|| m3u8_rs::parse_playlist_res(&fetched.body).map_err(|_| ()));
        let pl = match parsed {
            Ok(Ok(m3u8_rs::Playlist::MediaPlaylist(p))) => p,
            Ok(Ok(m3u8_rs::Playlist::MasterPlaylist(_))) => {
                g.problems.push(Problem::Invalid {
                    detail: "a master playlist, not a live media playlist".into(),
                });
                return g;
            }
            Ok(Err(())) | Err(_) => {
                g.problems.push(Problem::Invalid {
                    detail: "not an HLS playlist".into(),
                });
                return g;
            }
        };
        // Numbers from a stranger: checked before anything uses or stores them.
        if let Some(detail) = unusable_numbers(&pl) {
            g.problems.push(Problem::Invalid { detail });
            return g;
        }
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
            if (f64::from(s.duration)).round() > pl.target_duration as f64 {
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
            if lag < -(HISTORY_AHEAD_SECONDS as f64) {
                g.problems.push(Problem::FutureDated {
                    ahead_seconds: -lag,
                });
            } else if lag > max_lag {
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
        // The segments at the live point (what listeners hear now), oldest first: the
        // live one and those before it, or after it while a new stream has aired fewer
        // (its window starts at its live point, issue 19). URIs relative to where the
        // playlist came from (after redirects), only on this gateway's origin or the
        // configured segment base.
        let n = self.health.segments_per_check.min(pl.segments.len());
        let first = (start_idx + 1).saturating_sub(n);
        for i in first..(first + n).min(pl.segments.len()) {
            let s = &pl.segments[i];
            // Cannot overflow: unusable_numbers checked media sequence + segment count.
            let seq = pl.media_sequence.saturating_add(i as u64);
            let check = match fetched.url.join(&s.uri) {
                Ok(u)
                    if same_gateway(&base, &u)
                        || self
                            .segment_base
                            .as_ref()
                            .is_some_and(|b| same_gateway(b, &u)) =>
                {
                    self.check_segment(seq, s, u).await
                }
                Ok(u) => {
                    let mut c = SegmentCheck::new(seq, s);
                    c.problems.push(Problem::OffOrigin {
                        url: shorten(u.as_str()),
                    });
                    c
                }
                Err(e) => {
                    let mut c = SegmentCheck::new(seq, s);
                    c.problems.push(Problem::FetchFailed {
                        detail: format!("the segment URI is not a URL: {e}"),
                    });
                    c
                }
            };
            g.segments.push(check);
        }
        g.ok = !g.problems.iter().any(Problem::breaks_gateway)
            && g.segments.iter().all(|s| s.levels.is_some());
        g
    }

    async fn check_segment(
        &self,
        sequence: u64,
        s: &m3u8_rs::MediaSegment,
        url: reqwest::Url,
    ) -> SegmentCheck {
        let mut c = SegmentCheck::new(sequence, s);
        let started = Instant::now();
        let fetched = match self
            .fetch(url, self.health.request_timeout, SEGMENT_MAX_BYTES)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                c.problems.push(Problem::FetchFailed {
                    detail: e.to_string(),
                });
                return c;
            }
        };
        c.ttfb_ms = Some(u64::try_from(fetched.ttfb.as_millis()).unwrap_or(u64::MAX));
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        let bytes = fetched.body;
        c.bytes = bytes.len() as u64;
        c.bytes_per_second = Some(bytes.len() as f64 / secs);
        let threshold = self.health.silence_threshold.0;
        let what = c.uri.clone();
        // Decode what #EXTINF says and a margin, no more: a segment that decodes to
        // hours stops there.
        let limit = c.extinf_seconds + levels::DECODE_MARGIN_SECONDS;
        // Decoding is CPU work: off the async runtime.
        let r = tokio::task::spawn_blocking(move || {
            levels::analyze_ts(&what, &bytes, threshold, limit)
        })
        .await;
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
                if l.stopped_at_limit {
                    c.problems.push(Problem::DecodeLimit {
                        extinf_seconds: c.extinf_seconds,
                        limit_seconds: l.decoded_seconds,
                    });
                } else if (l.decoded_seconds - c.extinf_seconds).abs() > 0.1 {
                    // AAC frames are 1024 samples (23 ms); allow a frame at each end.
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

impl SegmentCheck {
    /// The check of segment `sequence` before anything was fetched.
    fn new(sequence: u64, s: &m3u8_rs::MediaSegment) -> SegmentCheck {
        SegmentCheck {
            sequence,
            uri: shorten(&s.uri),
            air_time: s.program_date_time.map(|t| t.with_timezone(&Utc)),
            extinf_seconds: f64::from(s.duration),
            ttfb_ms: None,
            bytes: 0,
            bytes_per_second: None,
            levels: None,
            problems: Vec::new(),
        }
    }
}

/// Most characters of a stranger's text (a URI) kept in a report.
const MAX_TEXT_CHARS: usize = 300;

/// `text`, cut to [`MAX_TEXT_CHARS`] characters (with `…`) for the report.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The URL the monitor asks `gateway` for the stream of `name`: the live playlist of
/// the station's site, `<gateway>/ipns/<name>/live.m3u8` ([`crate::air::site`]).
pub fn playlist_url(gateway: &str, name: &str) -> String {
    format!(
        "{}/ipns/{name}/{}",
        gateway.trim_end_matches('/'),
        crate::air::site::PLAYLIST_FILE
    )
}

/// Why the numbers of `pl` cannot be used, if they cannot: a media sequence that
/// overflows with the segment count, a target duration or `#EXTINF` that is not finite,
/// negative or over [`MAX_SEGMENT_SECONDS`], a non-finite `#EXT-X-START` offset.
fn unusable_numbers(pl: &m3u8_rs::MediaPlaylist) -> Option<String> {
    if pl
        .media_sequence
        .checked_add(pl.segments.len() as u64)
        .is_none()
    {
        return Some(format!(
            "#EXT-X-MEDIA-SEQUENCE {} overflows with {} segments (a 64-bit sequence number)",
            pl.media_sequence,
            pl.segments.len()
        ));
    }
    if pl.target_duration as f64 > MAX_SEGMENT_SECONDS {
        return Some(format!(
            "#EXT-X-TARGETDURATION {} is not a usable length (at most {MAX_SEGMENT_SECONDS} s)",
            pl.target_duration
        ));
    }
    if let Some(s) = pl.segments.iter().find(|s| {
        let d = f64::from(s.duration);
        !(d.is_finite() && (0.0..=MAX_SEGMENT_SECONDS).contains(&d))
    }) {
        return Some(format!(
            "#EXTINF {} of {} is not a usable duration (0 to {MAX_SEGMENT_SECONDS} s)",
            s.duration,
            shorten(&s.uri)
        ));
    }
    if let Some(st) = &pl.start {
        if !(st.time_offset.is_finite() && st.time_offset.abs() <= 1e9) {
            return Some(format!(
                "#EXT-X-START TIME-OFFSET {} is not a usable offset",
                st.time_offset
            ));
        }
    }
    None
}

/// Runs one check of `station` and writes `health.json`.
///
/// Errors: [`crate::Error::Http`] when no HTTP client can be built; [`crate::Error::Io`]
/// when the report cannot be written.
pub async fn check_once(station: &Station, now: DateTime<Utc>) -> crate::Result<HealthReport> {
    use crate::station::state::HealthFile;
    let state = station.state();
    let (previous, corrupt) = match state.load_health_or_keep(now) {
        HealthFile::Missing => (None, None),
        HealthFile::Read(r) => (Some(*r), None),
        HealthFile::Corrupt {
            kept_as,
            reason,
            history,
        } => {
            tracing::warn!(
                "health.json could not be read ({reason}): kept as {}; {} level points of it kept",
                kept_as.display(),
                history.len()
            );
            (None, Some((kept_as, reason, history)))
        }
    };
    let checker = Checker::new(station)?;
    let mut report = checker.check(now, previous.as_ref()).await;
    if let Some((kept_as, reason, history)) = corrupt {
        report.history.extend(history);
        bound_history(&mut report.history, now);
        let alarm = Alarm::new(
            Problem::CorruptHealthFile {
                kept_as: kept_as.display().to_string(),
                reason,
            },
            Scope::Station,
            None,
            None,
        );
        report.status = report.status.max(alarm.severity);
        report.reasons.push(alarm.to_string());
        report.alarms.push(alarm);
    }
    state.save_health(&report)?;
    match report.status {
        Status::Ok => tracing::info!("health ok: {} gateway(s) checked", report.gateways.len()),
        Status::Warn => tracing::warn!("health warn: {}", report.reasons.join("; ")),
        Status::Fail => tracing::error!("health FAIL: {}", report.reasons.join("; ")),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn a_gateway_origin_includes_its_subdomain_gateway_only() {
        let gw = url("https://dweb.link");
        assert!(same_gateway(&gw, &url("https://dweb.link/ipns/k51/")));
        assert!(same_gateway(
            &gw,
            &url("https://k51abc.ipns.dweb.link/s/1.ts")
        ));
        assert!(same_gateway(&gw, &url("https://bafy.ipfs.DWEB.link/")));
        for other in [
            "http://dweb.link/",
            "https://dweb.link:444/",
            "https://evil.example/",
            "https://a.b.ipns.dweb.link/",
            "https://.ipns.dweb.link/",
            "https://xdweb.link/",
            "https://ipns.dweb.link.evil.example/",
        ] {
            assert!(!same_gateway(&gw, &url(other)), "{other}");
        }
        let local = url("http://127.0.0.1:8080/prefix");
        assert!(same_gateway(&local, &url("http://127.0.0.1:8080/ipfs/x")));
        assert!(!same_gateway(&local, &url("http://127.0.0.1:8081/ipfs/x")));
    }

    fn media(text: &str) -> m3u8_rs::MediaPlaylist {
        m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap()
    }

    #[test]
    fn playlist_numbers_are_checked_before_use() {
        let seg = "#EXTINF:6.0,\na.ts\n";
        let ok = media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18446744073709551612\n{seg}{seg}{seg}"
        ));
        assert_eq!(unusable_numbers(&ok), None);
        let over = media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n{seg}{seg}"
        ));
        assert!(unusable_numbers(&over).unwrap().contains("overflows"));
        let inf = media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:{}.5,\na.ts\n",
            "9".repeat(40)
        ));
        assert!(unusable_numbers(&inf).unwrap().contains("#EXTINF inf"));
        let target = media("#EXTM3U\n#EXT-X-TARGETDURATION:99999999999\n#EXTINF:6.0,\na.ts\n");
        assert!(unusable_numbers(&target)
            .unwrap()
            .contains("TARGETDURATION"));
        assert_eq!(
            shorten(&"x".repeat(1000)).chars().count(),
            MAX_TEXT_CHARS + 1
        );
    }

    #[test]
    fn the_history_is_bounded_by_count_and_by_time_on_both_sides() {
        let now = Utc::now();
        let point = |s: i64, peak: f64| LevelPoint {
            at: now + chrono::Duration::seconds(s),
            peak_dbfs: peak,
            rms_dbfs: -9.0,
            loudness_lufs: None,
        };
        let mut h: Vec<LevelPoint> = (-5000..5000).rev().map(|s| point(s, -6.0)).collect();
        h.push(point(0, -6.0));
        h.push(point(1, f64::NAN));
        bound_history(&mut h, now);
        assert_eq!(h.len(), HISTORY_MAX_POINTS);
        assert!(h.windows(2).all(|w| w[0].at < w[1].at));
        assert_eq!(h.last().unwrap().at, now + chrono::Duration::seconds(60));
        assert!(h.iter().all(|p| p.peak_dbfs.is_finite()));
        let mut old = vec![point(-3601, -6.0), point(61, -6.0), point(-10, -6.0)];
        bound_history(&mut old, now);
        assert_eq!(old, vec![point(-10, -6.0)]);
    }
}
