//! Publishing against an online Kubo whose `name/publish` waits for the DHT put (the
//! double's online mode, 20 s and 60 s puts), with the station's default streaming
//! settings: publishes per minute, the age of the window each publish takes and lands,
//! and what a listener whose gateway view of the name is 60 s stale gets (distance from
//! air time at start, stalls). `cargo bench --bench publish` prints the table the README
//! shows; under `cargo test` a short run checks the same invariants.
//!
//! It all runs on tokio's paused clock with the double in the same runtime: half an
//! hour of air passes in seconds, the streamer and publisher are the real ones, and the
//! DHT delay passes in simulated time too.
//!
//! The listener model (as the listener page plays): it asks its gateway for the
//! playlist every target duration; the gateway serves the newest record whose DHT put
//! ended at least `lag` before (a record reaches a remote gateway once the put is done).
//! On the first playlist it starts at the segment whose program date time covers the
//! wall clock, or at the playlist's `#EXT-X-START` point when the wall clock is past its
//! end; it then plays at real-time speed and stalls when its playhead reaches the end
//! of the newest playlist it has.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration as D, Utc};
use ipfs_station::air::streamer::{Mode, PublishRecord};
use ipfs_station::clock::Clock;
use ipfs_station::library::ItemKind::{Jingle, Track};
use ipfs_station::station::Station;
use kubo_double::KuboDouble;
use std::time::Duration;

/// One rotation of 6 s segments: a jingle and three tracks of two to four minutes.
const ITEMS: &[(&str, ipfs_station::library::ItemKind, usize)] = &[
    ("j-1", Jingle, 2),
    ("t-1", Track, 30),
    ("t-2", Track, 24),
    ("t-3", Track, 40),
];

struct Run {
    /// Every publish attempt, with the playlist it published (by its CID).
    publishes: Vec<(PublishRecord, Option<String>)>,
    minutes: f64,
}

/// Streams for `minutes` of simulated air against a double whose DHT put takes `put`,
/// with the default streaming settings but `lookahead` segments (`None`: the default).
async fn run(put: Duration, minutes: u64, lookahead: Option<usize>) -> Run {
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    test_support::synthetic_station(
        &st,
        &double.api_url(),
        ITEMS,
        6.006,
        &["j-1", "t-1", "t-2", "j-1", "t-3"],
    )
    .await;
    if let Some(n) = lookahead {
        test_support::patch_config(
            &st,
            "streaming.config.json",
            serde_json::json!({"lookahead_segments": n}),
        );
    }
    let station = Station::open(&st).unwrap();
    double.faults().set_online(Some(put));
    let air = test_support::SimulatedAir::start(&station, Mode::Ipns);
    let clock = air.clock.clone();
    let state = station.state();
    let mut publishes: Vec<PublishRecord> = Vec::new();
    for _ in 0..minutes * 60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(st) = state.load_stream_state() {
            assert!(st.is_on_air(clock.now()), "the heartbeat went stale");
            for p in st.publish_log {
                if !publishes.iter().any(|q| q.at == p.at) {
                    publishes.push(p);
                }
            }
        }
    }
    air.stop().await;
    assert_eq!(double.max_publishes_in_flight(), 1, "two publishes at once");
    // The playlists' text (live.m3u8 in each published site): the listener model reads
    // them.
    let publishes = publishes
        .into_iter()
        .map(|p| {
            let text = p
                .cid
                .as_ref()
                .and_then(|c| double.path_bytes(&format!("/ipfs/{c}/live.m3u8")))
                .map(|b| String::from_utf8_lossy(&b).to_string());
            (p, text)
        })
        .collect();
    tokio::time::resume();
    Run {
        publishes,
        minutes: minutes as f64,
    }
}

/// A playlist as the listener model needs it: segments `(air time, seconds)` and the
/// `#EXT-X-START` offset from the end, seconds.
struct Pl {
    segments: Vec<(DateTime<Utc>, f64)>,
    start_from_end: f64,
    target: f64,
}

fn parse(text: &str) -> Pl {
    let pl = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    Pl {
        segments: pl
            .segments
            .iter()
            .map(|s| {
                (
                    s.program_date_time.unwrap().with_timezone(&Utc),
                    f64::from(s.duration),
                )
            })
            .collect(),
        start_from_end: pl.start.map_or(0.0, |s| -s.time_offset),
        target: pl.target_duration as f64,
    }
}

fn end(pl: &Pl) -> DateTime<Utc> {
    let (t, d) = *pl.segments.last().unwrap();
    t + D::milliseconds((d * 1000.0) as i64)
}

/// What a listener starting at `t0` for `secs` gets through a gateway `lag` behind.
struct Listener {
    start_behind: f64,
    stall_seconds: f64,
    stalls: usize,
    end_behind: f64,
}

fn listen(
    publishes: &[(PublishRecord, Option<String>)],
    lag: f64,
    t0: DateTime<Utc>,
    secs: i64,
) -> Listener {
    let visible = |t: DateTime<Utc>| -> Option<Pl> {
        publishes
            .iter()
            .filter(|(p, _)| p.ok)
            .filter(|(p, _)| {
                let landed = p.at + D::milliseconds(p.duration_ms as i64);
                landed + D::milliseconds((lag * 1000.0) as i64) <= t
            })
            .max_by_key(|(p, _)| p.media_sequence)
            .and_then(|(_, text)| text.as_deref())
            .map(parse)
    };
    let first = visible(t0).expect("no playlist visible at the listener's start");
    let mut playhead = if end(&first) > t0 {
        t0
    } else {
        // #EXT-X-START: that far from the playlist's end.
        end(&first) - D::milliseconds((first.start_from_end * 1000.0) as i64)
    };
    let start_behind = (t0 - playhead).num_milliseconds() as f64 / 1000.0;
    let refresh = first.target;
    let mut available = end(&first);
    let (mut stall_seconds, mut stalls, mut stalled) = (0.0, 0, false);
    let mut since_refresh = 0.0;
    let step = 0.1;
    let mut t = t0;
    while t < t0 + D::seconds(secs) {
        t += D::milliseconds(100);
        since_refresh += step;
        if since_refresh >= refresh {
            since_refresh = 0.0;
            if let Some(pl) = visible(t) {
                available = available.max(end(&pl));
            }
        }
        if playhead + D::milliseconds(100) <= available {
            playhead += D::milliseconds(100);
            stalled = false;
        } else {
            stall_seconds += step;
            if !stalled {
                stalls += 1;
                stalled = true;
            }
        }
    }
    Listener {
        start_behind,
        stall_seconds,
        stalls,
        end_behind: (t - playhead).num_milliseconds() as f64 / 1000.0,
    }
}

fn report(put: Duration, lookahead: usize, r: &Run) -> String {
    let ok: Vec<&PublishRecord> = r
        .publishes
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.ok)
        .collect();
    let waited: Vec<f64> = ok
        .iter()
        .map(|p| (p.at - p.rendered_at.unwrap()).num_milliseconds() as f64 / 1000.0)
        .collect();
    let landed: Vec<f64> = ok
        .iter()
        .map(|p| {
            (p.at + D::milliseconds(p.duration_ms as i64) - p.rendered_at.unwrap())
                .num_milliseconds() as f64
                / 1000.0
        })
        .collect();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    // Listeners start every 30 s through the second half of the run, for 5 minutes.
    let first = ok.first().unwrap().at;
    let mut rows = Vec::new();
    for lag in [0.0, 60.0] {
        let mut ls = Vec::new();
        // Not before three minutes: the first publish must have reached a lagging gateway.
        let mut t = first + D::seconds(((r.minutes * 30.0) as i64 - 300).max(180));
        let last = first + D::seconds((r.minutes * 60.0) as i64 - 420);
        while t < last {
            ls.push(listen(&r.publishes, lag, t, 300));
            t += D::seconds(30);
        }
        let starts: Vec<f64> = ls.iter().map(|l| l.start_behind).collect();
        let ends: Vec<f64> = ls.iter().map(|l| l.end_behind).collect();
        let stall: Vec<f64> = ls.iter().map(|l| l.stall_seconds).collect();
        rows.push(format!(
            "| {} s | {lookahead} | {lag:.0} s | {:.1} | {:.1} s / {:.1} s | {:.1} s / {:.1} s | {} listeners: {:.1} s at start (max {:.1}), {:.1} s after 5 min (max {:.1}); stalled {:.1} s per listener (max {:.1}), {} stalls |",
            put.as_secs(),
            ok.len() as f64 / r.minutes,
            mean(&waited),
            max(&waited),
            mean(&landed),
            max(&landed),
            ls.len(),
            mean(&starts),
            max(&starts),
            mean(&ends),
            max(&ends),
            mean(&stall),
            max(&stall),
            ls.iter().map(|l| l.stalls).sum::<usize>(),
        ));
    }
    rows.join("\n")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (puts, minutes) = if full {
        (vec![20, 60], 30)
    } else {
        (vec![20], 12)
    };
    let default = ipfs_station::station::keys::spec("streaming.config.json", "lookahead_segments")
        .and_then(|s| s.default.parse::<usize>().ok())
        .unwrap();
    println!("| DHT put | lookahead (segments of 6 s) | gateway lag | publishes/min | window age when its publish starts (mean / max) | window age when it lands (mean / max) | listeners (behind air time, stalls) |");
    println!("|---|---|---|---|---|---|---|");
    for put in puts {
        let put = Duration::from_secs(put);
        // The baseline: 16 segments, which covers a publish time but not the next window
        // waiting behind it.
        let lookaheads = if full {
            vec![16, default]
        } else {
            vec![default]
        };
        for lookahead in lookaheads {
            let r = rt.block_on(run(put, minutes, Some(lookahead)));
            let ok = r.publishes.iter().filter(|(p, _)| p.ok).count();
            assert!(
                ok as f64 >= r.minutes * 60.0 / (put.as_secs_f64() + 10.0),
                "{ok} publishes"
            );
            println!("{}", report(put, lookahead, &r));
        }
    }
}
