//! Remote pinning's API calls (issue 22), against the natural baseline in the same run:
//! one pin request per segment. A library of N items of S segments each is added to the
//! Kubo double and pinned as the station's library root; three pinning-service doubles
//! (`crates/pinning-double`, pins `queued` 30 s then `pinning` 60 s) each follow it:
//!
//! - **station**: the real follower (`pinning::follow` on tokio's paused clock): one
//!   request for the library root (and one for the listener page), replaced on change;
//! - **per segment, each followed**: one `POST /pins` per segment, each request then
//!   followed as the station follows its one (`GET /pins/{requestid}` 5 s after, doubling
//!   to 5 min while pending, hourly once pinned);
//! - **per segment, listed**: the same requests, followed by listing the pending (then the
//!   pinned) ones 1,000 per page (`GET /pins?status=...&limit=1000&before=...`).
//!
//! Counted by the doubles (every request that reached them): the first library until
//! pinned, a change of 10 items (10 out, 10 in) until pinned, and the calls per hour on
//! air once pinned. `cargo bench --bench pinning` runs the README's 1,000-item library;
//! under `cargo test` a small one checks the same bounds.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use ipfs_station::clock::{Clock, SimClock};
use ipfs_station::library::ItemKind::Track;
use ipfs_station::pinning::api::{Client, Pin, Status, LIST_LIMIT};
use ipfs_station::setup::manifest::Manifest;
use ipfs_station::setup::pins;
use ipfs_station::station::remote_pinning::{read_token, RemoteService};
use ipfs_station::station::Station;
use kubo_double::KuboDouble;
use pinning_double::{Options, PinningDouble};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "bench-token";
const QUEUED: Duration = Duration::from_secs(30);
const PINNING: Duration = Duration::from_secs(60);
const TICK: Duration = ipfs_station::pinning::TICK;

/// The station's follow policy for a pending request (`checked` in pinning/follow.rs):
/// 5 s after it was made, doubling, at most 5 min.
fn pending_wait(checks: u32) -> Duration {
    Duration::from_secs(5u64 << checks.min(10)).min(Duration::from_secs(300))
}

async fn service(tmp: &Path, name: &str) -> (PinningDouble, Client, RemoteService) {
    use std::os::unix::fs::PermissionsExt;
    let mut o = Options::new(TOKEN);
    o.queued_for = QUEUED;
    o.pinning_for = PINNING;
    let d = PinningDouble::start(o).await.unwrap();
    let token = tmp.join(format!("{name}.token"));
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let svc = RemoteService {
        name: name.into(),
        endpoint: d.endpoint(),
        access_token_file: token,
    };
    let c = Client::new(&svc, read_token(&svc).unwrap()).unwrap();
    (d, c, svc)
}

fn total(d: &PinningDouble) -> usize {
    d.calls().values().sum()
}

/// One request per segment of `cids`, each followed until pinned with the station's
/// policy. Returns the request ids.
async fn per_segment_followed(c: &Client, cids: &[String], name: &str) -> Vec<String> {
    struct Tracked {
        id: String,
        next: tokio::time::Instant,
        checks: u32,
        pinned: bool,
    }
    let mut reqs = Vec::new();
    for cid in cids {
        let s = c.add(&pin(cid, name)).await.unwrap();
        let now = tokio::time::Instant::now();
        reqs.push(Tracked {
            id: s.requestid,
            next: now + pending_wait(0),
            checks: 1,
            pinned: s.status == Status::Pinned,
        });
    }
    while reqs.iter().any(|r| !r.pinned) {
        tokio::time::sleep(TICK).await;
        let now = tokio::time::Instant::now();
        for r in reqs.iter_mut().filter(|r| !r.pinned && now >= r.next) {
            let s = c.get(&r.id).await.unwrap().unwrap();
            r.pinned = s.status == Status::Pinned;
            r.next = now + pending_wait(r.checks);
            r.checks += 1;
        }
    }
    reqs.into_iter().map(|r| r.id).collect()
}

/// Pages through the requests named `name` in `statuses`; returns how many there are.
async fn list_pages(c: &Client, name: &str, statuses: &[Status]) -> usize {
    let mut n = 0;
    let mut before = None;
    loop {
        let page = c.list(name, statuses, before).await.unwrap();
        n += page.results.len();
        if page.results.len() < LIST_LIMIT {
            return n;
        }
        before = page.results.iter().filter_map(|s| s.created).min();
    }
}

/// One request per segment of `cids`, followed by listing the pending ones on the
/// station's schedule until none is left.
async fn per_segment_listed(c: &Client, cids: &[String], name: &str) {
    for cid in cids {
        c.add(&pin(cid, name)).await.unwrap();
    }
    let mut checks = 0;
    loop {
        tokio::time::sleep(pending_wait(checks)).await;
        checks += 1;
        if list_pages(c, name, &[Status::Queued, Status::Pinning]).await == 0 {
            return;
        }
    }
}

fn pin(cid: &str, name: &str) -> Pin {
    Pin {
        cid: cid.to_string(),
        name: Some(name.to_string()),
        ..Pin::default()
    }
}

/// Waits (simulated) until every service of the station holds the current root pinned.
async fn until_pinned(station: &Station) -> Duration {
    let start = tokio::time::Instant::now();
    let root = pins::load(&station.state()).root.unwrap().cid;
    loop {
        let st = ipfs_station::pinning::service_statuses(station);
        if st
            .iter()
            .all(|s| s.status == "pinned" && s.cid.as_deref() == Some(&root))
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(3600), "{st:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn pin_root(
    station: &Station,
    kubo: &ipfs_station::kubo::Kubo,
    m: &Manifest,
    now: chrono::DateTime<Utc>,
) {
    let key = &station.streaming.ipns_key;
    let r = pins::pin_library(
        &station.state(),
        kubo,
        m,
        key,
        pins::station_tag(key, station.dir()),
        &HashSet::new(),
        now,
    )
    .await
    .unwrap();
    assert!(r.new_root, "{r:?}");
}

/// [`pin_root`] on the real clock: pinning a root of tens of thousands of segments takes
/// the Kubo double real seconds, which a paused clock would count as a timeout.
async fn pin_root_unpaused(
    station: &Station,
    kubo: &ipfs_station::kubo::Kubo,
    m: &Manifest,
    now: chrono::DateTime<Utc>,
) {
    tokio::time::resume();
    pin_root(station, kubo, m, now).await;
    tokio::time::pause();
}

#[derive(Debug, Default, Clone, Copy)]
struct Row {
    first: usize,
    change: usize,
    hour: f64,
    held: usize,
}

async fn run(items: usize, segments: usize) -> (Row, Row, Row, Duration) {
    let node = KuboDouble::start().await.unwrap();
    node.faults().set_online(Some(Duration::ZERO));
    let kubo = test_support::client(&node.api_url());
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    test_support::init_station_without_jingles(&st);
    let (ours, _, svc) = service(tmp.path(), "cluster").await;
    let (each, each_c, _) = service(tmp.path(), "each").await;
    let (listed, listed_c, _) = service(tmp.path(), "listed").await;
    test_support::patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": node.api_url()}),
    );
    test_support::patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"remote_pinning": [{"name": svc.name, "endpoint": svc.endpoint,
            "access_token_file": svc.access_token_file}]}),
    );
    // The library, and the 10 items a change brings in.
    let ids: Vec<String> = (0..items + 10).map(|i| format!("t-{i:05}")).collect();
    let durs = vec![6.0; segments];
    let list: Vec<(&str, _, &[f64])> = ids
        .iter()
        .map(|i| (i.as_str(), Track, durs.as_slice()))
        .collect();
    let all = test_support::synthetic_processed(
        &st.join("data/processed"),
        &kubo,
        &list,
        &[ids[0].as_str()],
    )
    .await;
    let mut first = all.clone();
    first.items.truncate(items);
    let mut changed = all.clone();
    changed.items.drain(..10);
    let seg_cids = |m: &[ipfs_station::setup::manifest::ManifestItem]| -> Vec<String> {
        m.iter()
            .flat_map(|i| i.segments.iter().filter_map(|s| s.cid.clone()))
            .collect()
    };
    let cids_first = seg_cids(&first.items);
    let cids_in = seg_cids(&all.items[items..]);
    let cids_out = seg_cids(&first.items[..10]);

    tokio::time::pause();
    let clock = Arc::new(SimClock::starting_at(Utc::now()));
    let station = Station::open(&st).unwrap();
    pin_root_unpaused(&station, &kubo, &first, clock.now()).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(ipfs_station::pinning::follow(
        station.clone(),
        kubo.clone(),
        clock.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut o = Row::default();
    let took = until_pinned(&station).await;
    o.first = total(&ours);
    let first_calls = ours.calls();
    ours.clear_calls();
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    o.hour = total(&ours) as f64 / 24.0;
    ours.clear_calls();
    pin_root_unpaused(&station, &kubo, &changed, clock.now()).await;
    until_pinned(&station).await;
    o.change = total(&ours);
    let change_calls = ours.calls();
    // A second change (the first library again): still one request per subject.
    tokio::time::sleep(Duration::from_secs(600)).await;
    pin_root_unpaused(&station, &kubo, &first, clock.now()).await;
    until_pinned(&station).await;
    o.held = ours.pins().len();
    stop.send(()).unwrap();
    follower.await.unwrap();

    let name = "ipfs-station:bench:segment";
    let mut e = Row::default();
    let ids = per_segment_followed(&each_c, &cids_first, name).await;
    e.first = total(&each);
    each.clear_calls();
    // Once pinned, each request is checked hourly: one hour's checks.
    for id in &ids {
        each_c.get(id).await.unwrap();
    }
    e.hour = total(&each) as f64;
    each.clear_calls();
    per_segment_followed(&each_c, &cids_in, name).await;
    let held = each.pins();
    for p in held.iter().filter(|p| cids_out.contains(&p.cid)) {
        each_c.delete(&p.requestid).await.unwrap();
    }
    e.change = total(&each);
    e.held = each.pins().len();

    let mut l = Row::default();
    per_segment_listed(&listed_c, &cids_first, name).await;
    l.first = total(&listed);
    listed.clear_calls();
    // Once pinned, the pinned ones are listed hourly.
    assert_eq!(
        list_pages(&listed_c, name, &[Status::Pinned]).await,
        cids_first.len()
    );
    l.hour = total(&listed) as f64;
    listed.clear_calls();
    per_segment_listed(&listed_c, &cids_in, name).await;
    // Finding the requests of the items that went: the pinned ones listed, then deleted.
    let mut before = None;
    let mut out = Vec::new();
    loop {
        let page = listed_c
            .list(name, &[Status::Pinned], before)
            .await
            .unwrap();
        let n = page.results.len();
        before = page.results.iter().filter_map(|s| s.created).min();
        out.extend(
            page.results
                .into_iter()
                .filter(|s| cids_out.contains(&s.pin.cid)),
        );
        if n < LIST_LIMIT {
            break;
        }
    }
    for s in out {
        listed_c.delete(&s.requestid).await.unwrap();
    }
    l.change = total(&listed);
    l.held = listed.pins().len();
    tokio::time::resume();
    println!("the station's calls: first library {first_calls:?}; a change {change_calls:?}");
    (o, e, l, took)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (items, segments) = if full { (1000, 40) } else { (40, 5) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (o, e, l, took) = rt.block_on(run(items, segments));
    let n = items * segments;
    println!(
        "{items} items, {n} segments; a change: 10 items out, 10 in ({} segments each way); \
         the station's library pinned {:.0} s after it was made",
        10 * segments,
        took.as_secs_f64()
    );
    println!("| requests | first library, until pinned | a change, until pinned | per hour on air | requests held |");
    println!("|---|---|---|---|---|");
    for (what, r) in [
        (
            "the station: one per library version (and one for the page)",
            o,
        ),
        ("one per segment, each followed", e),
        ("one per segment, listed 1,000 per page", l),
    ] {
        println!(
            "| {what} | {} | {} | {:.1} | {} |",
            r.first, r.change, r.hour, r.held
        );
    }
    // The station's side stays a handful of calls, whatever the library's size.
    // The first library: the name listed for adoption, the request, its checks while
    // queued then pinning, the sweep; for the library and the page.
    assert!(o.first <= 30, "{o:?}");
    assert!(o.change <= 10, "{o:?}");
    assert!(o.hour <= 3.0, "{o:?}");
    // The library's request (and one replacing it for a moment) and the page's.
    assert!(o.held <= 3, "{o:?}");
    assert!(
        e.first >= n && e.change >= 20 * segments && e.hour >= n as f64,
        "{e:?}"
    );
    assert!(l.first >= n && l.change >= 20 * segments, "{l:?}");
}
