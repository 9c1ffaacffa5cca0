//! Publishing through a flaky or absent Kubo (issue 19): each step retried in place,
//! the backoff between windows capped at the update interval, on a simulated clock.

use crate::support::*;
use chrono::{DateTime, Utc};
use ipfs_station::air::publisher::PublishRecord;
use ipfs_station::air::streamer::Mode;
use ipfs_station::clock::Clock;
use ipfs_station::library::ItemKind::{Jingle, Track};
use ipfs_station::station::Station;
use std::time::Duration;

/// The update interval of these tests, seconds (the station).
const INTERVAL: f64 = 3.0;

/// A station with a synthetic processed folder on `double`, ticking every
/// [`INTERVAL`].
async fn station(double: &KuboDouble) -> (tempfile::TempDir, Station) {
    let dir = tempfile::tempdir().unwrap();
    test_support::init_station(dir.path());
    synthetic_processed(
        &dir.path().join("data/processed"),
        &client(&double.api_url()),
        &[
            ("j-1", Jingle, &[4.0]),
            ("t-1", Track, &[6.0, 6.0, 6.0, 3.0]),
            ("t-2", Track, &[6.0, 6.0, 6.0, 6.0, 6.0]),
        ],
        &["j-1", "t-1", "t-2"],
    )
    .await;
    patch_config(
        dir.path(),
        "streaming.config.json",
        serde_json::json!({"window_size": 12, "lookahead_segments": 4,
            "kubo_api": double.api_url(), "publish_timeout": 10,
            "ipns_key": "ipfs-station", "update_interval": INTERVAL}),
    );
    let station = Station::open(dir.path()).unwrap();
    (dir, station)
}

/// When a publish landed: its start plus how long it took.
fn landed(p: &PublishRecord) -> DateTime<Utc> {
    p.at + chrono::TimeDelta::milliseconds(p.duration_ms as i64)
}

/// When the first publish in `log` that landed after `t` landed.
fn first_landed_after(log: &[PublishRecord], t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    log.iter().filter(|p| p.ok).map(landed).find(|l| *l > t)
}

/// The longest time between landed publishes in `log` within `[from, to]`, seconds,
/// counting from `from` to the first and from the last to `to`.
fn longest_gap(log: &[PublishRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let mut times: Vec<DateTime<Utc>> = log
        .iter()
        .filter(|p| p.ok)
        .map(landed)
        .filter(|t| *t >= from && *t <= to)
        .collect();
    times.insert(0, from);
    times.push(to);
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .fold(0.0, f64::max)
}

/// With 30% of RPCs failing for 20 s (seeded), publishes keep landing: no gap between
/// landed publishes longer than three update intervals, and one lands within one
/// interval after the failures stop. Then Kubo is gone for 20 s: the first publish
/// after it answers again lands within one update interval.
#[tokio::test]
async fn publishes_keep_landing_through_a_flaky_kubo_and_resume_at_once_after_an_outage() {
    let double = KuboDouble::start().await.unwrap();
    let (_dir, station) = station(&double).await;
    let air = SimulatedAir::start(&station, Mode::Ipns);
    let clock = air.clock.clone();
    let sleep = |secs: u64| tokio::time::sleep(Duration::from_secs(secs));
    sleep(10).await;
    let state = station.state();
    assert!(
        state.load_stream_state().unwrap().publish_stats.ok >= 1,
        "on air before the failures"
    );

    // 30% of RPCs fail for 20 s.
    let flaky_from = clock.now();
    double.faults().set_rpc_failure_rate(Some((0.3, 19)));
    let calls = double.rpc_calls().len();
    sleep(20).await;
    double.faults().set_rpc_failure_rate(None);
    let flaky_to = clock.now();
    let flaky_calls = double.rpc_calls().len() - calls;
    sleep(10).await;
    let st = state.load_stream_state().unwrap();
    let log = st.publish_log.clone();
    let gap = longest_gap(&log, flaky_from, flaky_to);
    let failed = log
        .iter()
        .filter(|p| !p.ok && p.at >= flaky_from && p.at <= flaky_to)
        .count();
    let ok = log
        .iter()
        .filter(|p| p.ok && p.at >= flaky_from && p.at <= flaky_to)
        .count();
    eprintln!(
        "30% failing for 20 s: {ok} publishes landed, {failed} windows given up, {flaky_calls} RPCs, longest gap {gap:.1} s"
    );
    assert!(
        flaky_calls > 10,
        "the failures were exercised: {flaky_calls} RPCs"
    );
    assert!(
        gap <= 3.0 * INTERVAL,
        "a gap of {gap:.1} s between landed publishes (interval {INTERVAL} s): {log:#?}"
    );
    let after = first_landed_after(&log, flaky_to).expect("a publish after the failures");
    let wait = (after - flaky_to).num_milliseconds() as f64 / 1000.0;
    assert!(
        wait <= INTERVAL,
        "the first publish after the failures landed {wait:.2} s later"
    );

    // Kubo gone for 20 s, then back.
    double.faults().set_down(true).await;
    sleep(20).await;
    let before_back = state.load_stream_state().unwrap();
    assert!(
        !before_back.last_publish.as_ref().unwrap().ok,
        "publishes fail while Kubo is down"
    );
    double.faults().set_down(false).await;
    let back = clock.now();
    sleep(10).await;
    air.stop().await;
    let st = state.load_stream_state().unwrap();
    let first = first_landed_after(&st.publish_log, back).expect("a publish after Kubo came back");
    let wait = (first - back).num_milliseconds() as f64 / 1000.0;
    eprintln!("after 20 s of outage, the first publish landed {wait:.2} s after Kubo answered");
    assert!(
        wait <= INTERVAL,
        "the first publish after the outage landed {wait:.2} s after Kubo answered"
    );
}
