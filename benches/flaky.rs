//! Publishing through a flaky Kubo (issue 19): a share of all RPCs fail (HTTP 500, the
//! double's seeded `set_rpc_failure_rate`), with the station's default streaming
//! settings. Measured per failure rate: publish attempts and how many landed, the
//! longest time between landed publishes, RPCs per landed publish. The baseline in the
//! same run is the same stream with no failures (one publish per new window).
//! `cargo bench --bench flaky` prints the table the README shows (30 simulated minutes
//! at 0, 10, 30 and 50%); under `cargo test` a 5-minute run at 30% checks that no gap
//! is longer than three update intervals.
//!
//! It runs on tokio's paused clock with the double in the same runtime: the streamer
//! and publisher are the real ones, the retries' waits pass in simulated time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use ipfs_station::air::streamer::{Mode, PublishRecord};
use ipfs_station::clock::Clock;
use ipfs_station::library::ItemKind::{Jingle, Track};
use ipfs_station::station::Station;
use kubo_double::KuboDouble;
use std::time::Duration;

/// One rotation of 6 s segments: a jingle and two tracks.
const ITEMS: &[(&str, ipfs_station::library::ItemKind, usize)] =
    &[("j-1", Jingle, 2), ("t-1", Track, 30), ("t-2", Track, 24)];

struct Run {
    /// Every publish attempt.
    publishes: Vec<PublishRecord>,
    /// RPCs the double received while on air.
    rpcs: usize,
    /// The update interval, seconds.
    interval: f64,
    minutes: u64,
}

async fn run(rate: f64, minutes: u64) -> Run {
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    test_support::synthetic_station(
        &st,
        &double.api_url(),
        ITEMS,
        6.006,
        &["j-1", "t-1", "j-1", "t-2"],
    )
    .await;
    let station = Station::open(&st).unwrap();
    let air = test_support::SimulatedAir::start(&station, Mode::Ipns);
    let (clock, interval) = (air.clock.clone(), air.update_interval);
    let state = station.state();
    // On air first, then the failures start.
    tokio::time::sleep(Duration::from_secs(10)).await;
    double.clear_rpc_calls();
    double.faults().set_rpc_failure_rate(Some((rate, 19)));
    let from = clock.now();
    let mut publishes: Vec<PublishRecord> = Vec::new();
    for _ in 0..minutes * 60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(st) = state.load_stream_state() {
            for p in st.publish_log {
                if p.at >= from && !publishes.iter().any(|q| q.at == p.at) {
                    publishes.push(p);
                }
            }
        }
    }
    let rpcs = double.rpc_calls().len();
    double.faults().set_rpc_failure_rate(None);
    air.stop().await;
    tokio::time::resume();
    Run {
        publishes,
        rpcs,
        interval,
        minutes,
    }
}

fn landed(p: &PublishRecord) -> DateTime<Utc> {
    p.at + chrono::TimeDelta::milliseconds(p.duration_ms as i64)
}

/// The longest time between landed publishes, seconds.
fn longest_gap(r: &Run) -> f64 {
    let times: Vec<DateTime<Utc>> = r.publishes.iter().filter(|p| p.ok).map(landed).collect();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .fold(0.0, f64::max)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rates, minutes) = if full {
        (vec![0.0, 0.1, 0.3, 0.5], 30)
    } else {
        (vec![0.3], 5)
    };
    println!("| RPCs failing | publish attempts | landed | longest gap between landed publishes | RPCs per landed publish |");
    println!("|---|---|---|---|---|");
    for rate in rates {
        let r = rt.block_on(run(rate, minutes));
        let ok = r.publishes.iter().filter(|p| p.ok).count();
        let gap = longest_gap(&r);
        println!(
            "| {:.0}% | {} | {} ({:.1}%) | {:.1} s ({:.1} update intervals) | {:.1} |",
            rate * 100.0,
            r.publishes.len(),
            ok,
            100.0 * ok as f64 / r.publishes.len().max(1) as f64,
            gap,
            gap / r.interval,
            r.rpcs as f64 / ok.max(1) as f64
        );
        assert!(
            ok as f64 >= r.minutes as f64 * 60.0 / 12.0,
            "{ok} publishes landed in {} min",
            r.minutes
        );
        if rate <= 0.3 {
            assert!(
                gap <= 3.0 * r.interval,
                "a gap of {gap:.1} s at {:.0}% (interval {} s)",
                rate * 100.0,
                r.interval
            );
        }
    }
}
