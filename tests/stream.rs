//! The streamer against Kubo: publish, restart, failures, hot reload, preview.

use crate::support::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::library::ItemKind::{Jingle, Track};
use ipfs_station::setup::manifest;
use ipfs_station::station::Station;
use std::path::Path;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// The station in `dir` (its processed folder made by [`station`]) on the Kubo at
/// `api`: window 8 with lookahead 2, key `ipfs-station`.
fn cfg(dir: &Path, api: &str) -> Station {
    if !dir.join("setup.config.json").exists() {
        test_support::init_station(dir);
    }
    patch_config(
        dir,
        "streaming.config.json",
        serde_json::json!({"window_size": 8, "lookahead_segments": 2, "kubo_api": api,
            "publish_timeout": 10, "ipns_key": "ipfs-station"}),
    );
    Station::open(dir).unwrap()
}

const ITEMS: &[(&str, ipfs_station::library::ItemKind, &[f64])] = &[
    ("j-1", Jingle, &[4.0]),
    ("t-1", Track, &[6.0, 6.0, 6.0, 3.0]),
    ("t-2", Track, &[6.0, 6.0, 2.0]),
    ("t-3", Track, &[6.0, 6.0, 6.0, 6.0, 6.0]),
];

/// A Kubo, a temp station and a synthetic processed folder on it (rotation
/// j-1, t-1, t-2, j-1, t-3); returns the manifest too.
async fn station() -> (
    TestNode,
    tempfile::TempDir,
    ipfs_station::kubo::Kubo,
    ipfs_station::setup::manifest::Manifest,
) {
    station_on_node(TestNode::start().await.unwrap()).await
}

/// [`station`] on the given Kubo.
async fn station_on_node(
    node: TestNode,
) -> (
    TestNode,
    tempfile::TempDir,
    ipfs_station::kubo::Kubo,
    ipfs_station::setup::manifest::Manifest,
) {
    let dir = tempfile::tempdir().unwrap();
    let kubo = client(&node.api_url());
    let m = synthetic_processed(
        &dir.path().join("data/processed"),
        &kubo,
        ITEMS,
        &["j-1", "t-1", "t-2", "j-1", "t-3"],
    )
    .await;
    (node, dir, kubo, m)
}

#[tokio::test]
async fn publishes_the_live_window_under_ipns() {
    let (node, dir, kubo, _) = station().await;
    let mut s = Streamer::open(&cfg(dir.path(), &node.api_url()), Mode::Ipns, t0()).unwrap();
    let out = s.tick(t0()).await.unwrap();
    assert!(
        out.offered.is_some(),
        "the first window is offered to the publisher"
    );
    let rec = s.settled().await.unwrap().expect("a publish");
    assert!(rec.ok, "{:?}", rec.error);
    let name = s.state().ipns_name.clone().unwrap();
    assert!(name.starts_with("k51"), "{name}");
    // The name resolves to the station's site (the root put last), through the RPC;
    // through the gateway the site holds the playlist we rendered, with segment URIs
    // relative to it that resolve inside the site.
    let path = kubo.resolve(&name).await.unwrap();
    assert_eq!(path, format!("/ipfs/{}", rec.cid.clone().unwrap()));
    let site = format!("{}/ipns/{name}/", node.gateway_url());
    let (status, body) = get(&format!("{site}live.m3u8")).await;
    assert_eq!(status, 200);
    assert_eq!(body, out.playlist.as_bytes());
    let pl = m3u8_rs::parse_media_playlist_res(&body).unwrap();
    // Issue 19: a new stream's first window starts at its birth (nothing back-dated):
    // the live segment j-1 (4 s) and the lookahead of 2, t-1's 6 + 6 s, then one more
    // to last three target durations (RFC 8216 section 6.2.2: 16 s < 18 s).
    assert_eq!(pl.segments.len(), 4);
    assert_eq!(
        pl.segments[0].program_date_time.unwrap().timestamp_millis(),
        t0().timestamp_millis(),
        "the oldest segment is dated at the stream's birth"
    );
    assert_eq!(pl.target_duration, 6);
    // Every segment URI is fetchable from the gateway, inside the site.
    for (i, seg) in pl.segments.iter().enumerate() {
        assert_eq!(seg.uri, format!("s/{}.ts", pl.media_sequence + i as u64));
        let (st, bytes) = get(&format!("{site}{}", seg.uri)).await;
        assert_eq!(st, 200, "{}", seg.uri);
        assert!(bytes.starts_with(b"segment "));
    }
    // station.json: the station, the name, what plays.
    let (status, body) = get(&format!("{site}station.json")).await;
    assert_eq!(status, 200);
    let sj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sj["format"], 1);
    assert_eq!(sj["ipns_name"], serde_json::json!(name));
    assert_eq!(sj["stream"], "live.m3u8");
    assert!(sj["now_playing"]["title"]
        .as_str()
        .unwrap()
        .starts_with("Title "));
    assert_eq!(sj["next_up"][0]["artist"], "Artist", "{sj}");
    // The page is in the site too.
    let (status, body) = get(&site).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("listener.js"));
    // Published as configured: the site's root CID under the key, ttl, lifetime, offline ok.
    if let Some(d) = node.double() {
        let publish = d
            .rpc_calls()
            .into_iter()
            .find(|(p, _)| p == "/api/v0/name/publish")
            .unwrap()
            .1;
        for part in [
            "key=ipfs-station",
            "lifetime=48h",
            "ttl=5s",
            "allow-offline=true",
        ] {
            assert!(publish.contains(part), "{part} in {publish}");
        }
        assert!(publish.contains(&rec.cid.clone().unwrap()), "{publish}");
    }
    // The state file tells the console what is on air.
    let st = ipfs_station::station::state::StateDir::new(dir.path().join("data/state"))
        .load_stream_state()
        .unwrap();
    assert!(st.is_on_air(t0()));
    // Now playing is the live-edge segment's item (a new stream's first segment).
    let live = &pl.segments[0];
    let np = st.now_playing.unwrap();
    assert_eq!(Some(format!("Artist - Title {}", np.item_id)), live.title);
    assert!(np.air_time <= t0());
    let order = ["j-1", "t-1", "t-2", "j-1", "t-3"];
    let pos = order.iter().position(|x| *x == np.item_id).unwrap();
    assert_eq!(st.next_up[0].item_id, order[(pos + 1) % order.len()]);
    assert!(st.next_up[0].air_time > t0());
    assert_eq!(st.last_publish.unwrap().cid, rec.cid);
}

#[tokio::test]
async fn media_sequence_continues_across_restart_and_air_follows_the_clock() {
    let (node, dir, _, _) = station().await;
    let c = cfg(dir.path(), &node.api_url());
    let mut s = Streamer::open(&c, Mode::Ipns, t0()).unwrap();
    let mut last = None;
    for i in 0..10 {
        last = Some(s.tick(t0() + Duration::seconds(6 * i)).await.unwrap());
    }
    let before = last.unwrap();
    // On air (a publish landed), then killed: no clean shutdown.
    assert!(s.settled().await.unwrap().unwrap().ok);
    drop(s);
    // Back 30 s later.
    let again = t0() + Duration::seconds(54 + 30);
    let mut s = Streamer::open(&c, Mode::Ipns, again).unwrap();
    let after = s.tick(again).await.unwrap();
    assert!(
        after.media_sequence > before.media_sequence,
        "{} then {}",
        before.media_sequence,
        after.media_sequence
    );
    let before_pl = m3u8_rs::parse_media_playlist_res(before.playlist.as_bytes()).unwrap();
    let after_pl = m3u8_rs::parse_media_playlist_res(after.playlist.as_bytes()).unwrap();
    assert_eq!(before_pl.target_duration, after_pl.target_duration);
    // Segments present in both windows are the same segments (same sequence, same URI).
    for (i, seg) in after_pl.segments.iter().enumerate() {
        let seq = after_pl.media_sequence + i as u64;
        if seq >= before_pl.media_sequence
            && seq < before_pl.media_sequence + before_pl.segments.len() as u64
        {
            assert_eq!(
                seg.uri,
                before_pl.segments[(seq - before_pl.media_sequence) as usize].uri
            );
        }
    }
    // The live point is the wall clock.
    let live = after_pl.segments.len() - 1 - 2;
    let pdt = after_pl.segments[live].program_date_time.unwrap();
    let end = pdt + Duration::milliseconds((after_pl.segments[live].duration * 1000.0) as i64);
    assert!(
        pdt <= again && again < end,
        "live edge {pdt} .. {end} vs {again}"
    );
}

/// Issue 19: a stream nobody heard (its first publish never landed) airs nothing: the
/// as-run log stays empty, and a streamer started after it starts a new stream, born
/// when it starts, not one continued from the unheard one.
#[tokio::test]
async fn a_stream_whose_first_publish_never_landed_is_not_continued() {
    let (node, dir, _, _) =
        station_on_node(TestNode::Double(KuboDouble::start().await.unwrap())).await;
    let double = node.double().unwrap();
    double.faults().set_rpc_error(Some("repo is locked".into()));
    let c = cfg(dir.path(), &node.api_url());
    let mut s = Streamer::open(&c, Mode::Ipns, t0()).unwrap();
    for i in 0..4 {
        s.tick(t0() + Duration::seconds(6 * i)).await.unwrap();
        assert!(!s.settled().await.unwrap().unwrap().ok);
    }
    assert!(s.state().provisional, "not on air before a publish lands");
    drop(s);
    let history = dir.path().join("data/state/history.jsonl");
    let h = ipfs_station::air::history::read(&history, None, None).unwrap();
    assert!(h.entries.is_empty(), "nobody heard: {:?}", h.entries);
    // Kubo answers again; a streamer started a minute later is a new stream.
    double.faults().set_rpc_error(None);
    let again = t0() + Duration::seconds(60);
    let mut s = Streamer::open(&c, Mode::Ipns, again).unwrap();
    let out = s.tick(again).await.unwrap();
    assert_eq!(out.media_sequence, 0);
    let pl = m3u8_rs::parse_media_playlist_res(out.playlist.as_bytes()).unwrap();
    assert_eq!(
        pl.segments[0].program_date_time.unwrap().timestamp_millis(),
        again.timestamp_millis()
    );
    assert!(s.settled().await.unwrap().unwrap().ok);
    assert!(!s.state().provisional, "on air once a publish landed");
    s.tick(again + Duration::seconds(1)).await.unwrap();
    let h = ipfs_station::air::history::read(&history, None, None).unwrap();
    assert_eq!(h.entries.len(), 1, "{:?}", h.entries);
    assert_eq!(h.entries[0].air_start, again);
    assert_eq!(h.entries[0].media_sequence, 0);
}

#[tokio::test]
async fn kubo_failing_is_retried_with_backoff_and_the_stream_resumes() {
    // Fault injection needs the double, also where a real Kubo is installed.
    let (node, dir, _, _) =
        station_on_node(TestNode::Double(KuboDouble::start().await.unwrap())).await;
    let double = node.double().unwrap();
    let mut s = Streamer::open(&cfg(dir.path(), &node.api_url()), Mode::Ipns, t0()).unwrap();
    s.tick(t0()).await.unwrap();
    assert!(s.settled().await.unwrap().unwrap().ok);
    // Kubo answers 500 to everything: the publish's first step (the site's add; the
    // name and the page are known) is tried STEP_ATTEMPTS times in place, then the
    // window is given up.
    double.faults().set_rpc_error(Some("repo is locked".into()));
    let calls = double.rpc_calls().len();
    s.tick(t0() + Duration::seconds(6)).await.unwrap();
    let r = s.settled().await.unwrap().unwrap();
    assert!(!r.ok);
    assert!(
        r.error.as_deref().unwrap().contains("repo is locked"),
        "{:?}",
        r.error
    );
    let tried: Vec<String> = double.rpc_calls()[calls..]
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    assert_eq!(
        tried,
        vec!["/api/v0/add"; ipfs_station::air::retry::STEP_ATTEMPTS],
        "the failed step, tried in place"
    );
    // Kubo answered no call: within the backoff (500 ms) no new attempt is made; the
    // window still advances, and the tick is not held up.
    let calls = double.rpc_calls().len();
    let t = std::time::Instant::now();
    let quiet = s.tick(t0() + Duration::seconds(13)).await.unwrap();
    assert!(
        quiet.offered.is_some(),
        "the newer window waits for the publisher"
    );
    assert!(t.elapsed() < std::time::Duration::from_millis(200));
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(
        double.rpc_calls().len(),
        calls,
        "an attempt within the backoff"
    );
    // Kubo gone entirely: after the backoff the newest window is tried, and fails.
    double.faults().set_rpc_error(None);
    double.faults().set_down(true).await;
    let r = s.settled().await.unwrap().unwrap();
    assert!(
        !r.ok && r.error.as_deref().unwrap().contains("no Kubo answers"),
        "{:?}",
        r.error
    );
    assert_eq!(r.media_sequence, quiet.media_sequence, "the newest window");
    let st = ipfs_station::station::state::StateDir::new(dir.path().join("data/state"))
        .load_stream_state()
        .unwrap();
    assert!(!st.last_publish.as_ref().unwrap().ok);
    // Back: the newest window is published (after a backoff of at most the update
    // interval).
    double.faults().set_down(false).await;
    let out = s.tick(t0() + Duration::seconds(30)).await.unwrap();
    let r = s.settled().await.unwrap().unwrap();
    assert!(r.ok, "{:?}", r.error);
    assert_eq!(r.media_sequence, out.media_sequence);
    let name = s.state().ipns_name.clone().unwrap();
    assert_eq!(
        double.ipns_value(&name).unwrap(),
        format!("/ipfs/{}", r.cid.unwrap())
    );
    let log = &s.state().publish_log;
    assert!(log.iter().filter(|p| !p.ok).count() >= 2);
    assert_eq!(s.state().publish_stats.failed, 2);
}

#[tokio::test]
async fn rewritten_rotation_takes_over_at_the_next_item_boundary() {
    let (node, dir, _, m) = station().await;
    let processed = dir.path().join("data/processed");
    let mut s = Streamer::open(&cfg(dir.path(), &node.api_url()), Mode::Ipns, t0()).unwrap();
    let first = s.tick(t0() + Duration::seconds(1)).await.unwrap();
    // Setup rewrites the rotation: only t-3 from now on.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let text = manifest::render_playlist(&m, &["t-3"]).unwrap();
    manifest::save_playlist(&processed, &text).unwrap();
    let mut items = Vec::new();
    let mut seq_prev = first.media_sequence;
    for i in 1..40 {
        let out = s.tick(t0() + Duration::seconds(1 + 6 * i)).await.unwrap();
        assert!(out.media_sequence >= seq_prev);
        seq_prev = out.media_sequence;
        let pl = m3u8_rs::parse_media_playlist_res(out.playlist.as_bytes()).unwrap();
        for seg in pl.segments.iter().filter(|s| s.discontinuity) {
            let t = seg.title.clone().unwrap();
            let at = seg.program_date_time.unwrap();
            if !items.iter().any(|(a, _)| *a == at) {
                items.push((at, t));
            }
        }
    }
    let titles: Vec<&str> = items.iter().map(|(_, t)| t.as_str()).collect();
    // What was already published plays out; then only t-3.
    let first_only_t3 = titles
        .iter()
        .position(|t| *t == "Artist - Title t-3")
        .unwrap();
    assert!(
        titles[first_only_t3..]
            .iter()
            .all(|t| *t == "Artist - Title t-3"),
        "{titles:?}"
    );
    assert!(titles.len() - first_only_t3 >= 3, "{titles:?}");
}

#[tokio::test]
async fn preview_serves_the_window_and_segment_files() {
    let (_node, dir, _, _) = station().await;
    let processed = dir.path().join("data/processed");
    let mut s =
        Streamer::open(&cfg(dir.path(), "http://127.0.0.1:9"), Mode::Preview, t0()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ipfs_station::air::streamer::serve_preview(
        listener,
        s.live_playlist(),
        processed.clone(),
        async {
            let _ = rx.await;
        },
    ));
    let out = s.tick(t0()).await.unwrap();
    assert!(out.offered.is_none(), "preview mode publishes nothing");
    let (st, body) = get(&format!("{base}/live.m3u8")).await;
    assert_eq!(st, 200);
    assert_eq!(body, out.playlist.as_bytes());
    let pl = m3u8_rs::parse_media_playlist_res(&body).unwrap();
    assert!(pl.segments[0].uri.starts_with("/segments/j-1/"));
    let (st, seg) = get(&format!("{base}{}", pl.segments[0].uri)).await;
    assert_eq!(st, 200);
    assert_eq!(seg, b"segment 0 of j-1");
    let (st, _) = get(&format!("{base}/segments/..%2F..%2Fmanifest.json/x")).await;
    assert!(st == 400 || st == 404, "{st}");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Hours of air time through `Streamer::run` itself, on a simulated clock (tokio's
/// paused time): ticks paced at the update interval, the media sequence and the air
/// clock advance together, the state is written as it goes and marked off air at
/// shutdown.
#[tokio::test]
async fn run_drives_three_hours_of_air_on_a_simulated_clock() {
    use ipfs_station::clock::SimClock;
    let (_node, dir, _, m) = station().await;
    let station = cfg(dir.path(), "http://127.0.0.1:9");
    // From here on only the loop's own work: no network (preview mode).
    tokio::time::pause();
    let clock = std::sync::Arc::new(SimClock::starting_at(t0()));
    let s = Streamer::open(&station, Mode::Preview, t0()).unwrap();
    let interval = s.update_interval();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let real = std::time::Instant::now();
    let on_air = tokio::spawn(s.run(clock.clone(), async {
        let _ = stopped.await;
    }));
    let hours = 3;
    tokio::time::sleep(std::time::Duration::from_secs(hours * 3600)).await;
    let state = station.state();
    let mid = state.load_stream_state().unwrap();
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    eprintln!(
        "{hours} h of air in {:.1} s of wall clock",
        real.elapsed().as_secs_f64()
    );
    assert!(
        real.elapsed() < std::time::Duration::from_secs(60),
        "the simulated hours took {:?}",
        real.elapsed()
    );
    let end = t0() + Duration::hours(hours as i64);
    // The last tick was at most one interval before the end, on the simulated clock.
    let behind = (end - mid.last_tick_at).num_milliseconds() as f64 / 1000.0;
    assert!(
        (0.0..=interval + 0.01).contains(&behind),
        "last tick {behind} s before the end (interval {interval} s)"
    );
    // The media sequence is what that much air time holds: one loop of the rotation
    // (j-1, t-1, t-2, j-1, t-3) is 73 s in 14 segments.
    let order = ["j-1", "t-1", "t-2", "j-1", "t-3"];
    let loop_s: f64 = order.iter().map(|id| m.item(id).unwrap().duration).sum();
    let loop_segments: usize = order
        .iter()
        .map(|id| m.item(id).unwrap().segments.len())
        .sum();
    assert_eq!((loop_s, loop_segments), (73.0, 14));
    let expect = (hours * 3600) as f64 / loop_s * loop_segments as f64;
    let got = mid.media_sequence as f64;
    assert!(
        (got - expect).abs() < 30.0,
        "media sequence {got} after {hours} h, about {expect} expected"
    );
    let live = m3u8_rs::parse_media_playlist_res(&state.read_live().unwrap()).unwrap();
    assert_eq!(live.media_sequence, mid.media_sequence);
    let last = live.segments.last().unwrap().program_date_time.unwrap();
    assert!(last > end - Duration::seconds(60) && last < end + Duration::seconds(60));
    let stopped = state.load_stream_state().unwrap();
    assert!(!stopped.on_air, "off air after shutdown");
}

/// The station on `double`'s Kubo, ticking on a simulated clock through `run` itself
/// (tokio's paused time; the double in the same runtime, so its DHT delay passes in
/// simulated time too). Samples the state file every simulated second for `secs`,
/// asserting the heartbeat is fresh, then stops the stream and returns the final state
/// and the samples `(simulated time, media sequence in the state)`.
async fn on_air_simulated(
    double: &KuboDouble,
    dir: &std::path::Path,
    secs: u64,
) -> (
    ipfs_station::air::streamer::StreamState,
    Vec<(DateTime<Utc>, u64)>,
) {
    use ipfs_station::clock::{Clock, SimClock};
    cfg(dir, &double.api_url());
    // Kubo's publish may take as long as the DHT put (the default 120 s).
    patch_config(
        dir,
        "streaming.config.json",
        serde_json::json!({"publish_timeout": 120}),
    );
    let station = Station::open(dir).unwrap();
    tokio::time::pause();
    let clock = std::sync::Arc::new(SimClock::starting_at(Utc::now()));
    let s = Streamer::open(&station, Mode::Ipns, clock.now()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_air = tokio::spawn(s.run(clock.clone(), async {
        let _ = stopped.await;
    }));
    let state = station.state();
    let mut samples = Vec::new();
    for i in 0..secs {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if let Ok(st) = state.load_stream_state() {
            samples.push((clock.now(), st.media_sequence));
        }
        if i > 10 {
            let st = state.load_stream_state().unwrap();
            assert!(
                st.is_on_air(clock.now()),
                "off air at {i} s: last tick {} at {}",
                st.last_tick_at,
                clock.now()
            );
        }
    }
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    (state.load_stream_state().unwrap(), samples)
}

/// Online, `name/publish` answers only after the DHT put (20 s here): the air clock
/// never waits for it. The heartbeat stays fresh, the window keeps moving, publishes
/// never overlap, and each publish takes the newest window when it starts.
#[tokio::test]
async fn a_20_s_dht_put_never_holds_up_the_air_clock() {
    let (node, dir, _, _) =
        station_on_node(TestNode::Double(KuboDouble::start().await.unwrap())).await;
    let double = node.double().unwrap();
    double
        .faults()
        .set_online(Some(std::time::Duration::from_secs(20)));
    let (st, samples) = on_air_simulated(double, dir.path(), 180).await;
    assert_eq!(double.max_publishes_in_flight(), 1, "two publishes at once");
    let ok: Vec<_> = st.publish_log.iter().filter(|p| p.ok).collect();
    assert!(
        (7..=10).contains(&ok.len()),
        "about one publish per 20 s in 180 s: {} ({:?})",
        ok.len(),
        st.publish_log.iter().map(|p| &p.error).collect::<Vec<_>>()
    );
    for p in &ok {
        assert!(
            (20_000..21_000).contains(&p.duration_ms),
            "each publish waits for the DHT: {} ms",
            p.duration_ms
        );
        // Taken when the publisher became free: the newest window rendered by then (at
        // least the one the state showed at the last sample before it started).
        let newest_before = samples
            .iter()
            .rev()
            .find(|(t, _)| *t <= p.at)
            .map_or(0, |(_, m)| *m);
        assert!(
            p.media_sequence >= newest_before && p.rendered_at.unwrap() <= p.at,
            "published window {} at {}, but window {newest_before} was rendered before",
            p.media_sequence,
            p.at
        );
    }
    // The window moved every tick while publishes were in flight: 180 s of air.
    assert!(
        st.media_sequence >= 25,
        "media sequence {} after 180 s",
        st.media_sequence
    );
    assert_eq!(st.publish_stats.ok, ok.len());
    assert!(st.publish_stats.mean_ms.unwrap() >= 20_000);
}

/// Publishes that keep failing (the DHT put fails; the add went through and pinned
/// the playlist) never let the pinned playlists grow: the oldest are unpinned whatever
/// the publishes do.
#[tokio::test]
async fn pinned_playlists_stay_bounded_while_publishes_fail() {
    use ipfs_station::air::streamer::PINNED_PLAYLISTS;
    let (node, dir, _, _) =
        station_on_node(TestNode::Double(KuboDouble::start().await.unwrap())).await;
    let double = node.double().unwrap();
    double.faults().set_command_error(
        "name/publish",
        Some("routing: not found (no peers to put the record to)".into()),
    );
    // 40 simulated minutes: backoff 2 s doubling to 60 s, about 45 attempts, each an
    // add that pins.
    let (st, _) = on_air_simulated(double, dir.path(), 2400).await;
    let attempts = st.publish_log.len();
    assert!(attempts > PINNED_PLAYLISTS + 5, "{attempts} attempts");
    assert!(st.publish_log.iter().all(|p| !p.ok));
    assert!(
        st.pinned_playlists.len() <= PINNED_PLAYLISTS,
        "{} playlists pinned",
        st.pinned_playlists.len()
    );
    let playlists_pinned = double
        .pins()
        .iter()
        .filter(|c| {
            double
                .file_bytes(c)
                .is_some_and(|b| b.starts_with(b"#EXTM3U"))
        })
        .count();
    assert!(
        playlists_pinned <= PINNED_PLAYLISTS,
        "Kubo holds {playlists_pinned} pinned playlists"
    );
}

/// The air clock against clock steps (issue 11), through `Streamer::run` on a simulated
/// clock: the wall clock stepped back an hour, the window keeps sliding at segment pace
/// and no program date time goes back or changes; stepped forward two hours, the stream
/// skips ahead to the wall clock at a segment boundary with a discontinuity.
#[tokio::test]
async fn clock_steps_never_stall_the_window_or_take_air_times_back() {
    use ipfs_station::clock::SimClock;
    let (_node, dir, _, _) = station().await;
    let station = cfg(dir.path(), "http://127.0.0.1:9");
    tokio::time::pause();
    let clock = std::sync::Arc::new(SimClock::starting_at(t0()));
    let s = Streamer::open(&station, Mode::Preview, t0()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_air = tokio::spawn(s.run(clock.clone(), async {
        let _ = stopped.await;
    }));
    let state = station.state();
    // media sequence -> (program date time, discontinuity) as first published
    let mut seen: std::collections::BTreeMap<u64, (DateTime<Utc>, bool)> = Default::default();
    let sample = |seen: &mut std::collections::BTreeMap<u64, (DateTime<Utc>, bool)>| -> u64 {
        let pl = m3u8_rs::parse_media_playlist_res(&state.read_live().unwrap()).unwrap();
        for (i, s) in pl.segments.iter().enumerate() {
            let seq = pl.media_sequence + i as u64;
            let pdt = s.program_date_time.unwrap().with_timezone(&Utc);
            let prev = seen.insert(seq, (pdt, s.discontinuity));
            if let Some(p) = prev {
                assert_eq!(
                    p,
                    (pdt, s.discontinuity),
                    "segment {seq} changed once published"
                );
            }
        }
        pl.media_sequence
    };
    let mut before = 0;
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        before = sample(&mut seen);
    }
    // An hour back (a wrong RTC, an NTP correction).
    clock.step(Duration::hours(-1));
    let mut after = 0;
    for _ in 0..600 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        after = sample(&mut seen);
    }
    // 600 s of 73 s loops of 14 segments: about 115 segments slid by.
    assert!(
        (100..=130).contains(&(after - before)),
        "the window slid {} segments in the 10 minutes after the step",
        after - before
    );
    let st = state.load_stream_state().unwrap();
    let behind = st.clock_behind_seconds.expect("the step is reported");
    assert!((3590.0..3610.0).contains(&behind), "{behind}");
    // Two hours forward: an hour past where the air clock was.
    clock.step(Duration::hours(2));
    let skip_from = *seen.keys().last().unwrap();
    for _ in 0..120 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        sample(&mut seen);
    }
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    // Program date times never go back, segment after segment.
    let pdts: Vec<(u64, DateTime<Utc>, bool)> = seen.iter().map(|(k, v)| (*k, v.0, v.1)).collect();
    for p in pdts.windows(2) {
        assert!(
            p[1].1 > p[0].1,
            "program date time went back at {}: {p:?}",
            p[1].0
        );
    }
    // The skip: the first segment published after it starts afresh and airs at the
    // wall clock's time.
    let jump = pdts
        .windows(2)
        .find(|p| p[0].0 >= skip_from && (p[1].1 - p[0].1) > Duration::minutes(30))
        .expect("the stream skipped ahead");
    assert!(jump[1].2, "a discontinuity where it skipped ahead");
    let wall_at_jump = t0() + Duration::seconds(300 + 600) + Duration::hours(1);
    assert!(
        (jump[1].1 - wall_at_jump).num_seconds().abs() < 120,
        "skipped to {}, the wall clock said {wall_at_jump}",
        jump[1].1
    );
    assert!(state
        .load_stream_state()
        .unwrap()
        .clock_behind_seconds
        .is_none());
}

/// A restart on longer segments (issue 11): the stream's target duration stays, the
/// programme with the longer segments waits with a notice while the last good one stays
/// on air; `--new-stream` (open_with) starts a new stream on it.
#[tokio::test]
async fn a_restart_on_longer_segments_keeps_the_target_duration_and_says_why() {
    let (node, dir, kubo, _) = station().await;
    let station = cfg(dir.path(), &node.api_url());
    let mut s = Streamer::open(&station, Mode::Ipns, t0()).unwrap();
    let first = s.tick(t0()).await.unwrap();
    let target = m3u8_rs::parse_media_playlist_res(first.playlist.as_bytes())
        .unwrap()
        .target_duration;
    s.tick(t0() + Duration::seconds(6)).await.unwrap();
    assert!(s.settled().await.unwrap().is_some_and(|p| p.ok));
    assert!(s.state().ipns_name.is_some());
    drop(s);
    // Re-encoded with 10 s segments.
    synthetic_processed(
        &dir.path().join("data/processed"),
        &kubo,
        &[("j-9", Jingle, &[4.0]), ("t-9", Track, &[10.0, 10.0, 10.0])],
        &["j-9", "t-9"],
    )
    .await;
    let later = t0() + Duration::seconds(30);
    let mut s = Streamer::open(&station, Mode::Ipns, later).unwrap();
    let notice = s.state().notice.clone().unwrap();
    assert!(
        notice.contains("--new-stream") && notice.contains("target duration"),
        "{notice}"
    );
    for i in 0..20 {
        let out = s.tick(later + Duration::seconds(6 * i)).await.unwrap();
        let pl = m3u8_rs::parse_media_playlist_res(out.playlist.as_bytes()).unwrap();
        assert_eq!(pl.target_duration, target);
        for seg in &pl.segments {
            assert!(
                seg.duration.round() as u64 <= target,
                "EXTINF {} over {target}",
                seg.duration
            );
            assert!(
                !seg.title.as_deref().unwrap_or_default().contains("t-9"),
                "{:?}",
                seg.title
            );
        }
    }
    drop(s);
    // A new stream on the new segments, asked for.
    let mut s = Streamer::open_with(&station, Mode::Ipns, later, true).unwrap();
    let out = s.tick(later).await.unwrap();
    let pl = m3u8_rs::parse_media_playlist_res(out.playlist.as_bytes()).unwrap();
    assert_eq!(pl.target_duration, 10);
    assert!(s.state().ipns_name.is_some(), "the IPNS name carries over");
}

/// The as-run log is what listeners heard: a local preview logs nothing, and the IPNS
/// stream that continues it (same media sequence) logs only items that end after it
/// took over.
#[tokio::test]
async fn a_preview_airs_nothing_in_the_as_run_log_and_go_live_logs_from_its_start() {
    let (node, dir, _, _) = station().await;
    let c = cfg(dir.path(), &node.api_url());
    let log = dir
        .path()
        .join("data/state")
        .join(ipfs_station::air::history::HISTORY_FILE);
    let mut s = Streamer::open(&c, Mode::Preview, t0()).unwrap();
    for i in 0..30 {
        s.tick(t0() + Duration::seconds(2 * i)).await.unwrap();
    }
    let seq = s.state().media_sequence;
    drop(s);
    let logged = ipfs_station::air::history::read(&log, None, None).unwrap();
    assert!(logged.entries.is_empty(), "{:?}", logged.entries);
    let live_at = t0() + Duration::seconds(62);
    let mut s = Streamer::open(&c, Mode::Ipns, live_at).unwrap();
    for i in 0..30 {
        s.tick(live_at + Duration::seconds(2 * i)).await.unwrap();
    }
    assert!(
        s.state().media_sequence >= seq,
        "the media sequence goes on"
    );
    let logged = ipfs_station::air::history::read(&log, None, None)
        .unwrap()
        .entries;
    assert!(!logged.is_empty());
    for e in &logged {
        assert!(
            e.air_end > live_at,
            "{} ended at {} before Go live at {live_at}",
            e.item_id,
            e.air_end
        );
    }
}

/// The station's Kubo repo made anew (or its pins removed by hand): the manifest names
/// CIDs the node does not have. Going on air runs setup beside the streamer, which adds
/// every segment again (nothing is encoded again); with every segment pinned, going on
/// air starts no setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_on_air_on_a_new_kubo_repo_adds_the_segments_again() {
    use ipfs_station::setup::manifest::Manifest;
    let first = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = test_support::small_station(tmp.path(), &first.api_url());
    let station = ipfs_station::station::Station::open(&st).unwrap();
    let r = ipfs_station::setup::run(&station, std::sync::Arc::new(|_| {}))
        .await
        .unwrap();
    assert!(r.ok(), "{r:?}");
    let m = Manifest::load(&st.join("data/processed")).unwrap();
    let cids: Vec<String> = m
        .items
        .iter()
        .flat_map(|i| &i.segments)
        .map(|s| s.cid.clone().unwrap())
        .collect();

    let fresh = KuboDouble::start().await.unwrap();
    test_support::patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": fresh.api_url()}),
    );
    let station = ipfs_station::station::Station::open(&st).unwrap();
    let on_air =
        ipfs_station::air::prepare(&station, Mode::Ipns, false, std::sync::Arc::new(|_| {}))
            .await
            .unwrap();
    let report = on_air
        .setup
        .expect("a setup beside the streamer")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.segments_added, cids.len(), "{report:?}");
    assert_eq!(report.encoded, 0, "nothing encoded again: {report:?}");
    // Pinned through the add wrappers and the library root (indirect pins).
    let pins = test_support::client(&fresh.api_url()).pins().await.unwrap();
    for c in &cids {
        assert!(pins.contains(c), "{c} pinned in the new repo");
        assert!(fresh.file_bytes(c).is_some(), "{c} stored");
    }
    drop(on_air.streamer);
    drop(on_air.locks);

    let on_air =
        ipfs_station::air::prepare(&station, Mode::Ipns, false, std::sync::Arc::new(|_| {}))
            .await
            .unwrap();
    assert!(on_air.setup.is_none(), "every segment pinned: no setup");
}
