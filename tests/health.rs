//! The health monitor against a live stream on the Kubo double's gateway.

use crate::support::*;
use chrono::{Duration as D, Utc};
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::health::{Checker, Status};
use ipfs_station::station::config::{RawHealthConfig, RawStreamingConfig, StreamingConfig};
use std::path::Path;
use std::time::Duration;

const TONE: &str = "aevalsrc=0.50119*sin(2*PI*997*t)|0.50119*sin(2*PI*997*t):s=44100";
const TONE2: &str = "aevalsrc=0.25*sin(2*PI*660*t)|0.25*sin(2*PI*660*t):s=44100";

fn streaming(station: &Path, api: &str) -> StreamingConfig {
    let mut raw = RawStreamingConfig::defaults();
    raw.window_size = Some(8);
    raw.lookahead_segments = Some(2);
    raw.kubo_api = Some(api.to_string());
    raw.validate(station, &station.join("streaming.config.json"))
        .unwrap()
}

fn checker(gateways: Vec<String>, s: &StreamingConfig) -> Checker {
    let mut raw = RawHealthConfig::defaults();
    raw.gateways = Some(gateways);
    raw.public_gateways = Some(vec![]);
    raw.request_timeout = Some(2.0);
    raw.max_lag_seconds = Some(60.0);
    Checker::new(
        raw.validate(Path::new("health.config.json")).unwrap(),
        s.clone(),
    )
    .unwrap()
}

/// A station on air on the double: two real tone items, 4 s segments, one tick now.
async fn on_air(
    node: &TestNode,
    dir: &Path,
    items: &[(&str, &str, f64)],
) -> (StreamingConfig, Streamer) {
    let kubo = client(&node.api_url());
    real_processed(&dir.join("data/processed"), &kubo, items, 4.0).await;
    let cfg = streaming(dir, &node.api_url());
    let mut s = Streamer::open(cfg.clone(), Mode::Ipns, Utc::now()).unwrap();
    let out = s.tick(Utc::now()).await.unwrap();
    assert!(out.publish.unwrap().ok);
    (cfg, s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_stream_is_ok_with_levels() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(
        &node,
        dir.path(),
        &[("t-a", TONE, 16.0), ("t-b", TONE2, 16.0)],
    )
    .await;
    let r = checker(vec![node.gateway_url()], &cfg)
        .check(Utc::now(), None)
        .await;
    assert_eq!(r.status, Status::Ok, "{:?}", r.reasons);
    assert!(r.kubo.ok && r.streamer_on_air);
    let g = &r.gateways[0];
    assert!(g.ok, "{g:?}");
    assert_eq!(g.segments.len(), 2);
    assert!(g.lag_seconds.unwrap() < 5.0);
    for s in &g.segments {
        let l = s.levels.as_ref().unwrap();
        assert!(s.ttfb_ms.is_some() && s.bytes > 0);
        if s.extinf_seconds < 1.0 {
            continue; // ffmpeg's one-frame tail segment: encoder flush, no tone in it
        }
        assert!(
            l.channels
                .iter()
                .all(|c| c.peak_dbfs < -5.0 && c.peak_dbfs > -13.0),
            "{l:?}"
        );
    }
    assert!(!r.history.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_gateway_fails_alone_and_the_others_still_report() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    let proxy = FaultyProxy::start(node.gateway_url()).await;
    let c = checker(vec![proxy.url.clone(), node.gateway_url()], &cfg);
    let r = c.check(Utc::now(), None).await;
    assert_eq!(
        r.status,
        Status::Ok,
        "through the proxy too: {:?}",
        r.reasons
    );
    proxy.set(Some(500), Duration::ZERO);
    let r = c.check(Utc::now(), None).await;
    assert_eq!(r.status, Status::Warn, "{:?}", r.reasons);
    assert!(
        !r.gateways[0].ok && r.gateways[0].problems[0].contains("HTTP 500"),
        "{:?}",
        r.gateways[0]
    );
    assert!(r.gateways[1].ok);
    proxy.set(None, Duration::from_secs(3));
    let r = c.check(Utc::now(), None).await;
    assert!(
        r.gateways[0].problems[0].contains("timed out"),
        "{:?}",
        r.gateways[0]
    );
    assert!(r.gateways[1].ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_stops_advancing_is_stale_and_kubo_down_fails() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, s) = on_air(
        &node,
        dir.path(),
        &[("t-a", TONE, 16.0), ("t-b", TONE2, 16.0)],
    )
    .await;
    drop(s); // the streamer stops
    let c = checker(vec![node.gateway_url()], &cfg);
    let first = c.check(Utc::now(), None).await;
    assert_eq!(first.status, Status::Ok, "{:?}", first.reasons);
    // Five minutes later nothing has been published.
    let later = Utc::now() + D::seconds(300);
    let r = c.check(later, Some(&first)).await;
    assert_eq!(r.status, Status::Fail, "{:?}", r.reasons);
    assert_eq!(r.gateways[0].advanced, Some(false));
    assert!(
        r.reasons.iter().any(|x| x.contains("stale")),
        "{:?}",
        r.reasons
    );
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("streamer is not running")),
        "{:?}",
        r.reasons
    );
    if let Some(d) = node.double() {
        d.faults().set_down(true).await;
        let r = c.check(Utc::now(), Some(&first)).await;
        assert_eq!(r.status, Status::Fail);
        assert!(!r.kubo.ok);
        assert!(
            r.reasons
                .iter()
                .any(|x| x.starts_with("Kubo: no Kubo answers")),
            "{:?}",
            r.reasons
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_on_air_is_flagged() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(
        &node,
        dir.path(),
        &[("t-quiet", "anullsrc=r=44100:cl=stereo", 16.0)],
    )
    .await;
    let r = checker(vec![node.gateway_url()], &cfg)
        .check(Utc::now(), None)
        .await;
    assert_eq!(r.status, Status::Warn, "{:?}", r.reasons);
    assert!(
        r.reasons.iter().any(|x| x.contains("silence")),
        "{:?}",
        r.reasons
    );
}
