//! Warming public gateways (issue 12): a gateway that never saw a segment must find a
//! provider for it first (a DHT or IPNI lookup, then a connection to this node): seconds
//! per CID, longer than a segment, so its first listener would stall on every segment.
//! The air order is known minutes ahead, so the streamer asks each warm gateway for
//! every segment as it enters the published window's lookahead (and for the page's
//! files once), long before a listener there needs it; the gateway caches what it
//! fetched, and the listener's request is a cache hit.
//!
//! After each publish it also asks for the new site's `live.m3u8` and `station.json`
//! (`/ipfs/<root>/live.m3u8`), which every player there reloads.
//!
//! Each request is `GET <gateway>/ipfs/<cid>` read to the end and discarded (a body
//! capped at [`MAX_WARM_BYTES`]: bytes from a stranger's gateway are untrusted),
//! bounded by a timeout, at most [`PER_GATEWAY`] at once per gateway
//! ([`CATCH_UP_PER_GATEWAY`] while it catches up, as at Go live), the nearest air time
//! first (a segment whose air time passed while it waited is skipped), redirects only
//! within the gateway's origin or its subdomain gateway
//! ([`crate::health::same_gateway`]). A CID is asked for once per gateway (the last
//! [`REMEMBERED`] are remembered); a failure is counted and the next CID goes on. The
//! counts, per gateway, are in `stream_state.json` (`warming`), `station status` and
//! the console.

use crate::clock::Clock;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests in flight per gateway.
pub const PER_GATEWAY: usize = 4;
/// Requests in flight per gateway while it catches up (more than [`PER_GATEWAY`] CIDs
/// waiting, as at Go live, when the whole lookahead enters at once).
pub const CATCH_UP_PER_GATEWAY: usize = 12;
/// Most bytes read of one warmed segment (a segment of 6 s AAC is ~100 KB).
pub const MAX_WARM_BYTES: usize = 8 * 1024 * 1024;
/// CIDs remembered as asked for, per gateway.
pub const REMEMBERED: usize = 4096;
/// How long after its air time a waiting segment is still asked for: a listener who
/// joins now starts on the segment on air (a segment lasts at most 30 s).
pub const LATE_AFTER: Duration = Duration::from_secs(30);
/// CIDs waiting per gateway; beyond it the oldest waiting are dropped (they air first
/// and would be late anyway).
pub const QUEUE: usize = 512;

/// How warming went at one gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayWarmth {
    /// The gateway's base URL.
    pub gateway: String,
    /// CIDs fetched through it.
    #[serde(default)]
    pub warmed: u64,
    /// Requests that failed.
    #[serde(default)]
    pub failed: u64,
    /// CIDs waiting.
    #[serde(default)]
    pub queued: usize,
    /// Milliseconds the newest successful fetch took.
    #[serde(default)]
    pub last_ms: Option<u64>,
    /// Mean of the successful fetches, milliseconds.
    #[serde(default)]
    pub mean_ms: Option<u64>,
    /// The newest failure.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the newest fetch went through (UTC).
    #[serde(default)]
    pub last_ok_at: Option<DateTime<Utc>>,
    /// How far ahead of its air time the newest warmed segment was in the gateway's
    /// cache, seconds (negative: it was late).
    #[serde(default)]
    pub ahead_seconds: Option<f64>,
    /// The least of those since the streamer started, seconds.
    #[serde(default)]
    pub least_ahead_seconds: Option<f64>,
    /// Segments not asked for because their air time passed while they waited (no new
    /// listener starts on them).
    #[serde(default)]
    pub skipped_late: u64,
}

struct GatewayState {
    base: String,
    waiting: VecDeque<Waiting>,
    asked: HashSet<String>,
    asked_order: VecDeque<String>,
    in_flight: usize,
    report: GatewayWarmth,
    total_ms: u64,
}

struct Shared {
    gateways: Vec<GatewayState>,
}

/// The warmer: [`Warmer::warm`] queues CIDs, tasks fetch them. Dropping it stops
/// nothing in flight (each request ends within its timeout).
#[derive(Clone)]
pub struct Warmer {
    shared: Arc<Mutex<Shared>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Warmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warmer").finish_non_exhaustive()
    }
}

impl Warmer {
    /// A warmer for `gateways` (base URLs, no trailing `/`), each request bounded by
    /// `timeout`. `None` when there is no gateway to warm or the HTTP client cannot be
    /// built (logged).
    pub fn new(gateways: &[String], timeout: Duration, clock: Arc<dyn Clock>) -> Option<Warmer> {
        if gateways.is_empty() {
            return None;
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(crate::health::redirect_policy())
            .build()
            .map_err(|e| tracing::warn!("warming is off: the HTTP client cannot be built: {e}"))
            .ok()?;
        let gateways = gateways
            .iter()
            .map(|g| GatewayState {
                base: g.trim_end_matches('/').to_string(),
                waiting: VecDeque::new(),
                asked: HashSet::new(),
                asked_order: VecDeque::new(),
                in_flight: 0,
                report: GatewayWarmth {
                    gateway: g.trim_end_matches('/').to_string(),
                    ..Default::default()
                },
                total_ms: 0,
            })
            .collect();
        Some(Warmer {
            shared: Arc::new(Mutex::new(Shared { gateways })),
            http,
            clock,
        })
    }

    /// Queues `paths` (a CID, or `<cid>/<path>`, in air order, each with its air time
    /// when it is a segment) at every gateway that was not asked for them yet, and starts
    /// requests up to [`PER_GATEWAY`] per gateway. Never waits; must be called inside a
    /// tokio runtime.
    pub fn warm<'a>(&self, paths: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>) {
        let paths: Vec<(&str, Option<DateTime<Utc>>)> = paths.into_iter().collect();
        if let Ok(mut s) = self.shared.lock() {
            for g in &mut s.gateways {
                for (c, air) in &paths {
                    if g.asked.contains(*c) {
                        continue;
                    }
                    g.asked.insert(c.to_string());
                    g.asked_order.push_back(c.to_string());
                    if g.asked_order.len() > REMEMBERED {
                        if let Some(old) = g.asked_order.pop_front() {
                            g.asked.remove(&old);
                        }
                    }
                    enqueue(&mut g.waiting, c, *air);
                    if g.waiting.len() > QUEUE {
                        g.waiting.pop_front();
                    }
                }
            }
        }
        self.pump();
    }

    /// Starts what the limits allow, nearest air time first.
    fn pump(&self) {
        let mut start = Vec::new();
        let now = self.clock.now();
        if let Ok(mut s) = self.shared.lock() {
            for (i, g) in s.gateways.iter_mut().enumerate() {
                let (next, late) = next_batch(&mut g.waiting, now, g.in_flight);
                g.report.skipped_late += late.len() as u64;
                // Not asked for: the same CID airing again (a jingle) is queued again.
                for cid in late {
                    g.asked.remove(&cid);
                }
                for (cid, air) in next {
                    g.in_flight += 1;
                    start.push((i, format!("{}/ipfs/{cid}", g.base), air));
                }
                g.report.queued = g.waiting.len();
            }
        }
        for (i, url, air) in start {
            let me = self.clone();
            tokio::spawn(async move {
                let t = std::time::Instant::now();
                let outcome = fetch_discard(&me.http, &url).await;
                let ms = t.elapsed().as_millis() as u64;
                if let Ok(mut s) = me.shared.lock() {
                    if let Some(g) = s.gateways.get_mut(i) {
                        g.in_flight = g.in_flight.saturating_sub(1);
                        match outcome {
                            Ok(()) => {
                                g.report.warmed += 1;
                                g.total_ms += ms;
                                g.report.last_ms = Some(ms);
                                g.report.mean_ms = Some(g.total_ms / g.report.warmed);
                                let now = me.clock.now();
                                g.report.last_ok_at = Some(now);
                                if let Some(air) = air {
                                    let ahead = (air - now).num_milliseconds() as f64 / 1000.0;
                                    g.report.ahead_seconds = Some(ahead);
                                    g.report.least_ahead_seconds = Some(
                                        g.report
                                            .least_ahead_seconds
                                            .map_or(ahead, |l| l.min(ahead)),
                                    );
                                }
                            }
                            Err(e) => {
                                g.report.failed += 1;
                                g.report.last_error = Some(format!("{url}: {e}"));
                            }
                        }
                    }
                }
                me.pump();
            });
        }
    }

    /// How warming goes, per gateway.
    pub fn report(&self) -> Vec<GatewayWarmth> {
        self.shared
            .lock()
            .map(|s| s.gateways.iter().map(|g| g.report.clone()).collect())
            .unwrap_or_default()
    }
}

/// A CID waiting to be asked for, with its air time when it is a segment.
type Waiting = (String, Option<DateTime<Utc>>);

/// Queues `cid` in `waiting`, kept in air order: files with no air time (the site's
/// playlist, the page) first, then segments by air time, the same air time in arrival
/// order.
fn enqueue(waiting: &mut VecDeque<Waiting>, cid: &str, air: Option<DateTime<Utc>>) {
    let at = waiting.partition_point(|(_, a)| a.is_none() || (air.is_some() && *a <= air));
    waiting.insert(at, (cid.to_string(), air));
}

/// Takes from `waiting` what may start with `in_flight` requests under way: up to
/// [`PER_GATEWAY`] in flight, [`CATCH_UP_PER_GATEWAY`] while more than [`PER_GATEWAY`]
/// wait; segments whose air time was more than [`LATE_AFTER`] before `now` are dropped
/// and returned (the second value): no new listener starts on them.
fn next_batch(
    waiting: &mut VecDeque<Waiting>,
    now: DateTime<Utc>,
    in_flight: usize,
) -> (Vec<Waiting>, Vec<String>) {
    let mut late = Vec::new();
    let cutoff = now - chrono::TimeDelta::from_std(LATE_AFTER).unwrap_or_default();
    let mut out = Vec::new();
    let limit = if waiting.len() > PER_GATEWAY {
        CATCH_UP_PER_GATEWAY
    } else {
        PER_GATEWAY
    };
    while in_flight + out.len() < limit {
        let Some((cid, air)) = waiting.pop_front() else {
            break;
        };
        if air.is_some_and(|a| a < cutoff) {
            late.push(cid);
            continue;
        }
        out.push((cid, air));
    }
    (out, late)
}

/// GETs `url` and reads the body to its end (at most [`MAX_WARM_BYTES`]), discarding it.
async fn fetch_discard(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let mut resp = http.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else {
            let mut why = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                why = s.to_string();
                src = s.source();
            }
            why
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let mut read = 0usize;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                read += c.len();
                if read > MAX_WARM_BYTES {
                    return Err(format!(
                        "the body is larger than {} KiB: cut off there",
                        MAX_WARM_BYTES / 1024
                    ));
                }
            }
            Ok(None) => return Ok(()),
            Err(e) if e.is_timeout() => return Err("timed out".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    /// A loopback gateway that counts `GET /ipfs/<cid>` and answers 200 with 10 bytes,
    /// or 404 for CIDs starting with `missing`.
    async fn counting_gateway() -> (String, Arc<Mutex<Vec<String>>>) {
        use axum::extract::Path;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let app = axum::Router::new().route(
            "/ipfs/{cid}",
            axum::routing::get(move |Path(cid): Path<String>| {
                let seen = s2.clone();
                async move {
                    seen.lock().unwrap().push(cid.clone());
                    if cid.starts_with("missing") {
                        (axum::http::StatusCode::NOT_FOUND, "no")
                    } else {
                        (axum::http::StatusCode::OK, "0123456789")
                    }
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, seen)
    }

    /// Issue 19: nearest air time first, late segments dropped and counted, more
    /// requests at once while catching up.
    #[test]
    fn the_queue_starts_the_nearest_segment_first_and_catches_up_wider() {
        let t = |s: i64| Some(chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(s));
        let mut q = VecDeque::new();
        for (cid, air) in [
            ("s30", t(30)),
            ("s10", t(10)),
            ("page", None),
            ("s20", t(20)),
            ("s5", t(5)),
        ] {
            enqueue(&mut q, cid, air);
        }
        for s in 40..60 {
            enqueue(&mut q, &format!("s{s}"), t(s));
        }
        enqueue(&mut q, "live.m3u8", None);
        let order: Vec<&str> = q.iter().take(6).map(|(c, _)| c.as_str()).collect();
        assert_eq!(order, ["page", "live.m3u8", "s5", "s10", "s20", "s30"]);
        // At t = 42 s: s5 and s10 aired more than 30 s ago (s20 is still joined), 25
        // wait: 12 start at once (2 in flight already).
        let (next, late) = next_batch(&mut q, t(42).unwrap(), 2);
        assert_eq!(late, ["s5", "s10"]);
        let names: Vec<&str> = next.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names.len(), CATCH_UP_PER_GATEWAY - 2);
        assert_eq!(&names[..4], ["page", "live.m3u8", "s20", "s30"]);
        // Caught up: a few waiting get the normal width.
        let mut few: VecDeque<_> = q.drain(..).take(3).collect();
        let (next, _) = next_batch(&mut few, t(42).unwrap(), 2);
        assert_eq!(next.len(), PER_GATEWAY - 2);
    }

    #[tokio::test]
    async fn every_cid_is_asked_for_once_per_gateway_and_failures_are_counted() {
        let (a, seen_a) = counting_gateway().await;
        let (b, seen_b) = counting_gateway().await;
        let w = Warmer::new(
            &[a.clone(), format!("{b}/")],
            Duration::from_secs(5),
            Arc::new(SystemClock),
        )
        .unwrap();
        let cids: Vec<String> = (0..10).map(|i| format!("bafy{i}")).collect();
        let air = chrono::Utc::now() + chrono::Duration::seconds(60);
        w.warm(cids.iter().map(|c| (c.as_str(), Some(air))));
        w.warm(cids.iter().map(|c| (c.as_str(), None)).take(5));
        w.warm([("missing1", None)]);
        let t = std::time::Instant::now();
        while w.report().iter().any(|g| g.warmed + g.failed < 11) {
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", w.report());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for seen in [&seen_a, &seen_b] {
            let mut got = seen.lock().unwrap().clone();
            got.sort();
            let mut want: Vec<String> = cids.clone();
            want.push("missing1".into());
            want.sort();
            assert_eq!(got, want, "each CID once");
        }
        let r = w.report();
        assert_eq!(r[1].gateway, b);
        for g in &r {
            assert_eq!((g.warmed, g.failed, g.queued), (10, 1, 0), "{g:?}");
            assert!(g.last_error.as_deref().unwrap().contains("HTTP 404"));
            assert!(g.mean_ms.is_some() && g.last_ok_at.is_some());
            let ahead = g.least_ahead_seconds.unwrap();
            assert!((50.0..=60.0).contains(&ahead), "{g:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_gateway_fails_each_request_and_nothing_else() {
        // Port 9 (discard) on loopback: connection refused.
        let w = Warmer::new(
            &["http://127.0.0.1:9".to_string()],
            Duration::from_secs(2),
            Arc::new(SystemClock),
        )
        .unwrap();
        w.warm([("bafy1", None), ("bafy2", None)]);
        let t = std::time::Instant::now();
        while w.report()[0].failed < 2 {
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", w.report());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(w.report()[0].warmed, 0);
        assert!(Warmer::new(&[], Duration::from_secs(1), Arc::new(SystemClock)).is_none());
    }
}
