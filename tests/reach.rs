//! Reach (issue 12): the station's site under the IPNS name on path and subdomain
//! gateways, a few RPCs per publish with no segment added twice, enough of the past
//! linked for gateways with a fresher view than the player's playlist, `station status`
//! saying where listeners go, and cold public gateways warmed with every segment before
//! it airs.

use crate::support::*;
use ipfs_station::air::history::{self, AsRunEntry, HISTORY_FILE};
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::library::ItemKind;
use ipfs_station::setup::manifest::Manifest;
use ipfs_station::station::Station;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A synthetic station (no encoding): a jingle of one 2 s segment and three tracks of
/// four, window 12, lookahead 6, a tick every 0.5 s, on the Kubo at `api`.
async fn quick_station(root: &Path, api: &str) -> (PathBuf, Manifest) {
    let st = root.join("Reach FM");
    test_support::init_station_without_jingles(&st);
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api, "window_size": 12, "lookahead_segments": 6,
            "update_interval": 0.5, "publish_timeout": 10}),
    );
    let four: &[f64] = &[2.0, 2.0, 2.0, 2.0];
    let m = synthetic_processed(
        &st.join("data/processed"),
        &client(api),
        &[
            ("j-1", ItemKind::Jingle, &[2.0]),
            ("t-1", ItemKind::Track, four),
            ("t-2", ItemKind::Track, four),
            ("t-3", ItemKind::Track, four),
        ],
        &["j-1", "t-1", "t-2", "t-3"],
    )
    .await;
    (st, m)
}

/// [`quick_station`] in a fresh temporary folder on a fresh Kubo double, opened: the
/// double, the folder (removed when dropped), the station folder and the station.
async fn quick_station_on_the_double() -> (KuboDouble, tempfile::TempDir, PathBuf, Station) {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (st, _) = quick_station(tmp.path(), &node.api_url()).await;
    let station = Station::open(&st).unwrap();
    (node, tmp, st, station)
}

/// A reqwest client that sends `*.localhost` to loopback (Chromium does so itself;
/// reqwest's resolver asks the system, which may not).
fn localhost_client(host: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The site on the path gateway and on Kubo's `localhost` subdomain gateway: the same
/// playlist, segments that resolve relative to it on both; three RPCs and a publish per
/// window (no segment added again); ten minutes of the past linked, so a gateway whose
/// view is fresher than the player's playlist still serves its segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_resolves_on_path_and_subdomain_gateways_with_a_few_rpcs_per_publish() {
    let (node, _tmp, st, station) = quick_station_on_the_double().await;
    let t0 = chrono::Utc::now();
    let mut s = Streamer::open(&station, Mode::Ipns, t0).unwrap();
    s.tick(t0).await.unwrap();
    let first = s.settled().await.unwrap().unwrap();
    assert!(first.ok, "{:?}", first.error);
    let name = s.state().ipns_name.clone().unwrap();

    // A publish of the next window: add (live.m3u8 + station.json), dag/put (s/),
    // dag/put (the root, pinned), name/publish. Nothing else, no segment added again.
    let before = node.rpc_calls().len();
    let out = s.tick(t0 + chrono::Duration::seconds(2)).await.unwrap();
    let rec = s.settled().await.unwrap().unwrap();
    assert!(rec.ok, "{:?}", rec.error);
    let calls: Vec<String> = node.rpc_calls()[before..]
        .iter()
        .map(|(p, _)| p.trim_start_matches("/api/v0/").to_string())
        .collect();
    assert_eq!(
        calls,
        ["add", "dag/put", "dag/put", "name/publish"],
        "{calls:?}"
    );
    let root = rec.cid.clone().unwrap();
    assert!(node.pins().contains(&root), "the root is pinned");

    // Path gateway.
    let path_site = format!("{}/ipns/{name}/", node.gateway_url());
    let (code, body) = get(&format!("{path_site}live.m3u8")).await;
    assert_eq!(code, 200);
    assert_eq!(body, out.playlist.as_bytes());
    let pl = m3u8_rs::parse_media_playlist_res(&body).unwrap();
    for seg in &pl.segments {
        let (code, bytes) = get(&format!("{path_site}{}", seg.uri)).await;
        assert_eq!(code, 200, "{}", seg.uri);
        assert!(bytes.starts_with(b"segment "), "{}", seg.uri);
    }

    // Subdomain gateway: localhost redirects the path to <name>.ipns.localhost, which
    // serves the same site at its root.
    let sub = node.subdomain_gateway_url();
    let port: u16 = sub.rsplit(':').next().unwrap().parse().unwrap();
    let host = format!("{name}.ipns.localhost");
    let http = localhost_client(&host, port);
    let r = http
        .get(format!("{sub}/ipns/{name}/live.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 301, "localhost is a subdomain gateway");
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, format!("http://{host}:{port}/live.m3u8"));
    let body = http.get(&to).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(body, out.playlist.as_bytes());
    for seg in &pl.segments {
        let url = reqwest::Url::parse(&to).unwrap().join(&seg.uri).unwrap();
        assert_eq!(url.host_str(), Some(host.as_str()), "{url}");
        let r = http.get(url.clone()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
        assert!(r.bytes().await.unwrap().starts_with(b"segment "));
    }
    // The page loads its script and station.json relative to itself there too.
    for file in ["", "listener.js", "station.json", "vendor/hls.min.js"] {
        let r = http
            .get(format!("http://{host}:{port}/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "/{file}");
    }

    // Ten minutes on: every segment of the first window is still in the site (a
    // gateway with this fresher view serves a player still on the first playlist),
    // the older past is not.
    let first_pl = pl;
    let mut now = t0 + chrono::Duration::seconds(2);
    while now < t0 + chrono::Duration::seconds(560) {
        now += chrono::Duration::seconds(2);
        s.tick(now).await.unwrap();
    }
    let rec = s.settled().await.unwrap().unwrap();
    assert!(rec.ok, "{:?}", rec.error);
    for seg in &first_pl.segments {
        let (code, _) = get(&format!("{path_site}{}", seg.uri)).await;
        assert_eq!(code, 200, "{} after 9 minutes", seg.uri);
    }
    while now < t0 + chrono::Duration::seconds(700) {
        now += chrono::Duration::seconds(2);
        s.tick(now).await.unwrap();
    }
    let rec = s.settled().await.unwrap().unwrap();
    assert!(rec.ok, "{:?}", rec.error);
    let (code, _) = get(&format!("{path_site}{}", first_pl.segments[0].uri)).await;
    assert_eq!(
        code, 404,
        "eleven minutes later the first window left the site"
    );
    // history.json: the as-run log of the last 24 hours, up to the newest aired item.
    let (code, body) = get(&format!("{path_site}history.json")).await;
    assert_eq!(code, 200);
    let h: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (h["format"].clone(), h["hours"].clone()),
        (1.into(), 24.into())
    );
    let logged = history::read(&st.join("data/state").join(HISTORY_FILE), None, None)
        .unwrap()
        .entries;
    let items = h["items"].as_array().unwrap();
    assert!(items.len() >= 20, "{} items", items.len());
    assert_eq!(
        items.len(),
        logged.len(),
        "every logged item of the last 24 h is in the site"
    );
    assert_eq!(
        items.last().unwrap()["item_id"],
        serde_json::json!(logged.last().unwrap().item_id)
    );
    // Site pins stay bounded.
    assert!(
        s.state().pinned_playlists.len() <= ipfs_station::air::publisher::PINNED_PLAYLISTS,
        "{}",
        s.state().pinned_playlists.len()
    );
}

/// A streamer restarted (killed, back 20 s later) links the same past in the site as
/// the one before it: a player whose playlist predates the restart, asking a gateway
/// with the restarted stream's view, still gets every segment of it. Before, the new
/// streamer linked only the saved window until ten minutes had aired again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_streamer_links_the_past_the_one_before_it_linked() {
    let (node, _tmp, _, station) = quick_station_on_the_double().await;
    let t0 = chrono::Utc::now();
    let mut s = Streamer::open(&station, Mode::Ipns, t0).unwrap();
    // Four minutes on air; the playlist a player loaded two minutes in.
    let mut now = t0;
    let mut early = None;
    while now < t0 + chrono::Duration::seconds(240) {
        let out = s.tick(now).await.unwrap();
        if early.is_none() && now >= t0 + chrono::Duration::seconds(120) {
            let rec = s.settled().await.unwrap().unwrap();
            assert!(rec.ok, "{:?}", rec.error);
            early = Some(out.playlist);
        }
        now += chrono::Duration::seconds(2);
    }
    let rec = s.settled().await.unwrap().unwrap();
    assert!(rec.ok, "{:?}", rec.error);
    let name = s.state().ipns_name.clone().unwrap();
    let linked_before = s.state().site_segments.clone();
    drop(s); // as if killed

    let back = now + chrono::Duration::seconds(20);
    let mut s = Streamer::open(&station, Mode::Ipns, back).unwrap();
    let out = s.tick(back).await.unwrap();
    let rec = s.settled().await.unwrap().unwrap();
    assert!(rec.ok, "{:?}", rec.error);
    let early = m3u8_rs::parse_media_playlist_res(early.unwrap().as_bytes()).unwrap();
    let now_pl = m3u8_rs::parse_media_playlist_res(out.playlist.as_bytes()).unwrap();
    assert!(
        early.media_sequence + (early.segments.len() as u64) < now_pl.media_sequence,
        "the early playlist ({}) is older than the restarted window ({})",
        early.media_sequence,
        now_pl.media_sequence
    );
    let site = format!("{}/ipns/{name}/", node.gateway_url());
    for seg in &early.segments {
        let (code, bytes) = get(&format!("{site}{}", seg.uri)).await;
        assert_eq!(code, 200, "{} after the restart", seg.uri);
        assert!(bytes.starts_with(b"segment "), "{}", seg.uri);
    }
    // Everything linked before the restart that is not ten minutes old is linked still.
    let after: std::collections::BTreeMap<u64, String> = s
        .state()
        .site_segments
        .iter()
        .map(|e| (e.sequence, e.cid.clone()))
        .collect();
    for e in &linked_before {
        assert_eq!(after.get(&e.sequence), Some(&e.cid), "s/{}.ts", e.sequence);
    }
}

/// The leaf block CIDs of the `history.json` of the site `root` in `node` (the file's
/// own CID when it is one block).
fn history_leaves(node: &KuboDouble, root: &str) -> Vec<String> {
    use kubo_double::ipld::parse_dag_pb;
    let dir = parse_dag_pb(&node.block(root).unwrap()).unwrap();
    let h = dir
        .links
        .iter()
        .find(|l| l.name.as_deref() == Some(HISTORY_FILE_IN_SITE))
        .unwrap()
        .hash
        .to_string();
    let file = parse_dag_pb(&node.block(&h).unwrap()).unwrap();
    if file.links.is_empty() {
        vec![h]
    } else {
        file.links.iter().map(|l| l.hash.to_string()).collect()
    }
}

const HISTORY_FILE_IN_SITE: &str = ipfs_station::air::site::HISTORY_FILE;

/// `history.json` grows at its end once an item and its front moves on whole hours;
/// added in 16 KiB blocks, each version shares every block but its last with the one
/// before, so Kubo stores kilobytes per aired item, not the whole log again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_json_is_added_again_as_its_new_last_blocks_only() {
    let (node, _tmp, st, station) = quick_station_on_the_double().await;
    // Mid-hour, so the twenty minutes below stay in one hour.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:05:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut s = Streamer::open(&station, Mode::Ipns, t0).unwrap();
    let mut roots = Vec::new();
    let mut now = t0;
    for minutes in [10, 20] {
        while now < t0 + chrono::Duration::minutes(minutes) {
            s.tick(now).await.unwrap();
            now += chrono::Duration::seconds(2);
        }
        let rec = s.settled().await.unwrap().unwrap();
        assert!(rec.ok, "{:?}", rec.error);
        roots.push(rec.cid.unwrap());
    }
    let (a, b) = (
        history_leaves(&node, &roots[0]),
        history_leaves(&node, &roots[1]),
    );
    let a_bytes = node
        .path_bytes(&format!("/ipfs/{}/{HISTORY_FILE_IN_SITE}", roots[0]))
        .unwrap()
        .len();
    assert!(
        a.len() >= 2,
        "ten minutes of items ({a_bytes} bytes) fill more than one block: {a:?}"
    );
    assert!(b.len() > a.len(), "{} then {} blocks", a.len(), b.len());
    assert_eq!(
        b[..a.len() - 1],
        a[..a.len() - 1],
        "the later history.json reuses the earlier one's full blocks"
    );
    // And it is the whole as-run log still.
    let name = s.state().ipns_name.clone().unwrap();
    let body = node
        .path_bytes(&format!("/ipfs/{}/{HISTORY_FILE_IN_SITE}", roots[1]))
        .unwrap();
    let h: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let logged = history::read(&st.join("data/state").join(HISTORY_FILE), None, None)
        .unwrap()
        .entries;
    assert_eq!(h["items"].as_array().unwrap().len(), logged.len());
    let (code, served) = get(&format!(
        "{}/ipns/{name}/{HISTORY_FILE_IN_SITE}",
        node.gateway_url()
    ))
    .await;
    assert_eq!((code, served), (200, body));
}

/// `station stream` as a user runs it: it says where listeners go, `station status`
/// lists the site on every gateway (`--json` too), and a cold public gateway (seconds
/// per CID it never saw) has every segment asked for before it airs, while a gateway
/// not warmed would make its first listener wait that long per segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_public_gateways_are_warmed_before_each_segment_airs() {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (st, m) = quick_station(tmp.path(), &node.api_url()).await;
    let cold = Duration::from_secs(3);
    let warm_gw = ColdGateway::start(node.gateway_url(), cold).await;
    // The one list of public gateways: warmed by the streamer, checked by the monitor.
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"gateways": [node.gateway_url()], "public_gateways": [warm_gw.url]}),
    );
    let log = tmp.path().join("stream.log");
    let mut guard = ProcessGuard::new();
    spawn_station(&st, &["stream"], &log, &mut guard);
    wait_for_a_publish(&st).await;
    let started = chrono::Utc::now();
    // 30 s on air: two rotations and more.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let s = stream_state(&st).unwrap();
    let name = s.ipns_name.clone().unwrap();

    // Where listeners go.
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(
        printed.contains(&format!("{}/ipns/{name}/", node.gateway_url())),
        "{printed}"
    );
    let status = run_station(&st, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    for want in [
        format!("listen (local): {}/ipns/{name}/", node.gateway_url()),
        format!("/ipns/{name}/"),
        "warming".to_string(),
    ] {
        assert!(text.contains(&want), "{want} in {text}");
    }
    let status = run_station(&st, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        v["listen"]["page"],
        serde_json::json!(format!("{}/ipns/{name}/", node.gateway_url())),
        "{v}"
    );
    assert_eq!(
        v["listen"]["stream"],
        serde_json::json!(format!("{}/ipns/{name}/live.m3u8", node.gateway_url())),
        "{v}"
    );
    assert_eq!(
        v["listen"]["public"][0]["page"],
        serde_json::json!(format!("{}/ipns/{name}/", warm_gw.url)),
        "{v}"
    );
    let ahead = v["warming"][0]["ahead_seconds"].as_f64().unwrap();
    assert!(ahead > 0.0, "warmed ahead of air: {v}");
    assert!(v["warming"][0]["warmed"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["warming"][0]["failed"], 0, "{v}");

    // Each segment's air time, from the as-run log and the manifest: every one that aired
    // after the first lookahead (6 segments of 2 s) was asked for at the cold gateway
    // at least its cold delay before it aired, so its first listener there gets a cache
    // hit.
    let h: Vec<AsRunEntry> = history::read(&st.join("data/state").join(HISTORY_FILE), None, None)
        .unwrap()
        .entries;
    let from = started + chrono::Duration::seconds(14);
    let mut checked = 0;
    for e in &h {
        let item = m.items.iter().find(|i| i.id == e.item_id).unwrap();
        let mut at = e.air_start;
        for seg in &item.segments {
            let cid = seg.cid.clone().unwrap();
            if at >= from && at <= chrono::Utc::now() {
                let seen = warm_gw
                    .first_seen(&cid)
                    .unwrap_or_else(|| panic!("{cid} ({} of {}) never warmed", seg.file, item.id));
                let ahead = (at - seen).num_milliseconds() as f64 / 1000.0;
                assert!(
                    ahead >= cold.as_secs_f64(),
                    "{} of {} asked for {ahead:.1} s before it aired at {at}",
                    seg.file,
                    item.id
                );
                checked += 1;
            }
            at += chrono::Duration::milliseconds((seg.duration * 1000.0) as i64);
        }
    }
    assert!(checked >= 5, "{checked} segments checked; history {h:?}");
    // A segment the warmer never asked for (not on air): its first listener waits.
    let t = std::time::Instant::now();
    let unaired = warm_gw.url.clone() + "/ipns/" + &name + "/index.html";
    let (code, _) = get(&unaired).await;
    assert_eq!(code, 200);
    assert!(
        t.elapsed() >= cold,
        "the cold gateway model: a first fetch waits"
    );
    let out = run_station(&st, &["stop"]);
    assert!(out.status.success());
}
