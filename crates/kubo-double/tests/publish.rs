//! `name/publish` as Kubo v0.34.1 runs it, offline (the default, `ipfs daemon
//! --offline`) and online ([`kubo_double::Faults::set_online`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, http, last_hash, post};
use kubo_double::KuboDouble;
use std::time::{Duration, Instant};

async fn setup(d: &KuboDouble) -> (String, String) {
    let (_, k) = (0, post(d, "key/gen?arg=radio").await.2);
    let name = serde_json::from_str::<serde_json::Value>(&k).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, out) = add(d, &[("live.m3u8", b"#EXTM3U\n#EXT-X-VERSION:3\n")], "").await;
    (name, last_hash(&out))
}

async fn gateway_value(d: &KuboDouble, name: &str) -> (u16, String, String) {
    let r = http()
        .get(format!("{}/ipns/{name}", d.gateway_url()))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let cc = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (s, cc, r.text().await.unwrap())
}

/// Offline: core/coreapi/name.go `Publish` calls `checkOnline(options.AllowOffline)`
/// (core/coreapi/coreapi.go: `!n.IsOnline && !allowOffline` -> `ErrOffline`), which
/// core/commands/name/publish.go turns into `errAllowOffline`. The Run parses lifetime
/// (`error parsing lifetime option: <time.ParseDuration error>`) and ttl (the bare
/// error) and resolves the path before that check. The ttl default is
/// `ipns.DefaultRecordTTL` = 5m (boxo v0.29.1 ipns/defaults.go), which the gateway sends
/// as `max-age` (boxo gateway: Cache-Control max-age = record TTL).
#[tokio::test]
async fn offline_needs_allow_offline_and_ttl_defaults_to_5m() {
    let d = KuboDouble::start().await.unwrap();
    let (name, cid) = setup(&d).await;
    let (s, _, e) = post(&d, &format!("name/publish?arg={cid}&key=radio")).await;
    assert_eq!(
        (s, e.as_str()),
        (500, "{\"Message\":\"can't publish while offline: pass `--allow-offline` to override\",\"Code\":0,\"Type\":\"error\"}\n")
    );
    let (_, _, e) = post(
        &d,
        &format!("name/publish?arg={cid}&key=radio&allow-offline=true&lifetime=2d"),
    )
    .await;
    assert!(e.contains(
        "error parsing lifetime option: time: unknown unit \\\"d\\\" in duration \\\"2d\\\""
    ));
    let (_, _, e) = post(
        &d,
        &format!("name/publish?arg={cid}&key=radio&allow-offline=true&ttl=5"),
    )
    .await;
    assert!(e.contains("\"Message\":\"time: missing unit in duration \\\"5\\\"\""));
    // The path is resolved before the offline check.
    let (_, _, e) = post(
        &d,
        "name/publish?arg=QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH&key=radio",
    )
    .await;
    assert!(!e.contains("offline: pass"), "{e}");
    let (s, _, _) = post(
        &d,
        &format!("name/publish?arg={cid}&key=radio&allow-offline=true"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, cc, body) = gateway_value(&d, &name).await;
    assert_eq!((s, cc.as_str()), (200, "public, max-age=300"));
    assert!(body.starts_with("#EXTM3U"));
}

/// Online: boxo namesys/ipns_publisher.go `Publish` runs `updateRecord` (sequence, then
/// the record into the local datastore) and then `PublishIPNSRecord` -> `PutIPNSRecord`,
/// which blocks on the routing put (seconds to minutes on the DHT). The record is on the
/// node before the call returns, so this node's `name/resolve` and gateway serve the new
/// value while the publish is still running. `allow-offline` is not needed online.
#[tokio::test]
async fn online_publish_stores_at_once_and_answers_after_the_dht_put() {
    let d = KuboDouble::start().await.unwrap();
    let (name, cid) = setup(&d).await;
    let delay = Duration::from_millis(1500);
    d.faults().set_online(Some(delay));
    let url = format!("{}/api/v0/name/publish?arg={cid}&key=radio", d.api_url());
    let t0 = Instant::now();
    let call = tokio::spawn(async move { http().post(url).send().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(d.publishes_in_flight(), 1);
    assert_eq!(d.ipns_value(&name), Some(format!("/ipfs/{cid}")));
    let (s, _, body) = gateway_value(&d, &name).await;
    assert_eq!(s, 200);
    assert!(body.starts_with("#EXTM3U"));
    let (_, _, r) = post(&d, &format!("name/resolve?arg={name}")).await;
    assert_eq!(r, format!("{{\"Path\":\"/ipfs/{cid}\"}}\n"));
    let r = call.await.unwrap();
    assert!(t0.elapsed() >= delay);
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        format!("{{\"Name\":\"{name}\",\"Value\":\"/ipfs/{cid}\"}}\n")
    );
    assert_eq!(d.publishes_in_flight(), 0);
    assert_eq!(d.max_publishes_in_flight(), 1);
}

/// Kubo takes no per-key lock around a publish: core/coreapi/name.go `Publish` goes
/// straight to `namesys.Publish`; the only lock is boxo `IPNSPublisher.mu`, held in
/// `updateRecord` (read sequence, write record) and released before the DHT put. Two
/// publishes on the same key therefore both store their record at once, both wait for
/// their own put concurrently, and both succeed; the last stored record is current.
#[tokio::test]
async fn concurrent_publishes_on_one_key_run_concurrently() {
    let d = KuboDouble::start().await.unwrap();
    let (name, cid) = setup(&d).await;
    let (_, out) = add(&d, &[("live.m3u8", b"#EXTM3U\n#EXT-X-VERSION:4\n")], "").await;
    let cid2 = last_hash(&out);
    let delay = Duration::from_millis(1200);
    d.faults().set_online(Some(delay));
    let t0 = Instant::now();
    let mut calls = Vec::new();
    for c in [&cid, &cid2] {
        let url = format!("{}/api/v0/name/publish?arg={c}&key=radio", d.api_url());
        calls.push(tokio::spawn(async move {
            http().post(url).send().await.unwrap()
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.publishes_in_flight(), 2);
    assert_eq!(d.ipns_value(&name), Some(format!("/ipfs/{cid2}")));
    for c in calls {
        assert_eq!(c.await.unwrap().status(), 200);
    }
    assert!(t0.elapsed() < delay * 2, "the puts ran one after the other");
    assert_eq!(d.max_publishes_in_flight(), 2);
    assert_eq!(d.publishes_in_flight(), 0);
}

/// A failed DHT put (`PutIPNSRecord` error): namesys.go `Publish` returns it (500), but
/// `updateRecord` already wrote the record locally, so this node keeps serving it. A
/// client that gives up cancels the request context (Go's net/http); the publish stops
/// counting as in flight and the stored record stays.
#[tokio::test]
async fn failed_or_abandoned_put_keeps_the_local_record() {
    let d = KuboDouble::start().await.unwrap();
    let (name, cid) = setup(&d).await;
    d.faults().set_online(Some(Duration::from_millis(300)));
    d.faults()
        .set_dht_put_error(Some("failed to find any peer in table".into()));
    let (s, _, e) = post(&d, &format!("name/publish?arg={cid}&key=radio")).await;
    assert_eq!(s, 500);
    assert!(e.contains("failed to find any peer in table"));
    assert_eq!(d.ipns_value(&name), Some(format!("/ipfs/{cid}")));
    d.faults().set_dht_put_error(None);
    d.faults().set_online(Some(Duration::from_secs(20)));
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = quick
        .post(format!(
            "{}/api/v0/name/publish?arg={cid}&key=radio",
            d.api_url()
        ))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    let mut gone = false;
    for _ in 0..50 {
        if d.publishes_in_flight() == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "an abandoned publish still counts as in flight");
    assert_eq!(d.ipns_value(&name), Some(format!("/ipfs/{cid}")));
}

/// The test-only backdate knob: publishes recorded as of moments in the past build an
/// IPNS history that [`kubo_double::Faults::set_ipns_lag`] serves from, as if the stream
/// had run that long.
#[tokio::test]
async fn backdated_publishes_make_a_history_the_lagging_gateway_serves() {
    let d = KuboDouble::start().await.unwrap();
    let (name, _) = setup(&d).await;
    for (i, back) in [100u64, 50, 0].into_iter().enumerate() {
        let (_, out) = add(
            &d,
            &[(&format!("p{i}.m3u8"), format!("#EXTM3U\n#{i}\n").as_bytes())],
            "",
        )
        .await;
        let cid = last_hash(&out);
        d.faults().set_publish_backdate(Duration::from_secs(back));
        let (s, _, body) = post(
            &d,
            &format!("name/publish?arg=/ipfs/{cid}&key=radio&allow-offline=true"),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    d.faults().set_publish_backdate(Duration::ZERO);
    for (lag, want) in [(60, 0), (30, 1), (0, 2)] {
        d.faults().set_ipns_lag(Duration::from_secs(lag));
        let (s, _, body) = gateway_value(&d, &name).await;
        assert_eq!(s, 200);
        assert_eq!(body, format!("#EXTM3U\n#{want}\n"), "lag {lag} s");
    }
}
