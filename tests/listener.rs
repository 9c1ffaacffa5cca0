//! The listener page (ui/listener/) in Debian's headless Chromium, driven through
//! chromedriver: the streamer publishes the station's site (page, live.m3u8 with
//! relative segment URIs, station.json, segments linked by CID) under its IPNS name on
//! the Kubo double, and the page plays it at the true air time from
//! `<gateway>/ipns/<name>/` on the path gateway (127.0.0.1) and on Kubo's subdomain
//! gateway (`localhost`, redirected to `<name>.ipns.localhost`), also through a gateway
//! whose IPNS view is 60 s old.

use crate::support::*;
use chrono::Utc;
use fantoccini::Client;
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::clock::SystemClock;
use ipfs_station::station::Station;
use kubo_double::KuboDouble;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const SEGMENT: f64 = 4.0;
/// 20 segments of 4 s past the live edge: 80 s, more than the 60 s IPNS lag below.
const LOOKAHEAD: u32 = 20;
const WINDOW: u32 = 30;

pub(crate) fn require_browser() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: the listener page test needs Debian's headless Chromium; \
             install the `chromium chromium-driver` Debian packages \
             (sudo apt-get install chromium chromium-driver)"
        );
    }
}

/// chromedriver in its own process group (Chromium and its helpers join it), ended as a
/// group by the returned guard when the test ends, also on a failed assertion: no
/// browser outlives the test.
async fn start_driver(profile: &Path, log: &Path) -> (ProcessGuard, Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {CHROMEDRIVER} ({e}): install the `chromium chromium-driver` Debian packages")
        });
    let mut guard = ProcessGuard::new();
    guard.push(child);
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-crash-reporter",
                "--disable-breakpad",
                "--window-size=900,760",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let caps = caps.as_object().unwrap().clone();
    let what = format!("chromedriver (its log: {})", log.display());
    let client = webdriver_session(&format!("http://127.0.0.1:{port}"), caps, &what).await;
    (guard, client)
}

/// A browser with a fresh profile (`<root>/chromium-<name>`, so nothing cached from an
/// earlier phase) and its chromedriver log (`<root>/chromedriver-<name>.log`).
pub(crate) async fn fresh_browser(root: &Path, name: &str) -> (ProcessGuard, Client) {
    let profile = root.join(format!("chromium-{name}"));
    std::fs::create_dir_all(&profile).unwrap();
    start_driver(&profile, &root.join(format!("chromedriver-{name}.log"))).await
}

/// `window.listenerState` plus the browser's wall clock and what the page shows.
async fn state(c: &Client) -> Value {
    c.execute(
        "const s = window.listenerState || null;
         return {
           s: s ? Object.assign({}, s) : null,
           now: Date.now(),
           status: (document.getElementById('status') || {}).textContent || '',
           error: (document.getElementById('error') || {}).textContent || '',
         };",
        vec![],
    )
    .await
    .unwrap()
}

/// Waits until the page plays (ready, time advancing), failing on a fatal error.
async fn wait_playing(c: &Client, what: &str) -> Value {
    let t = Instant::now();
    loop {
        let v = state(c).await;
        let s = &v["s"];
        assert!(s["fatal"].is_null(), "{what}: fatal error on the page: {v}");
        if s["ready"] == json!(true) && s["currentTime"].as_f64().unwrap_or(0.0) > 0.5 {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "{what}: the page did not start playing within 40 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Plays for `secs` of media time, checking every 500 ms: no fatal error, the playhead's
/// program date time within 2 s of the browser's wall clock, no stall (current time
/// advances at least 3 s every 5 s). Returns the media time played.
async fn check_playing(c: &Client, what: &str, secs: f64) -> f64 {
    let first = state(c).await;
    let start = first["s"]["currentTime"].as_f64().unwrap();
    let t = Instant::now();
    let mut mark = (Instant::now(), start);
    let mut worst: f64 = 0.0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v = state(c).await;
        let s = &v["s"];
        assert!(s["fatal"].is_null(), "{what}: fatal error: {v}");
        let now = v["now"].as_f64().unwrap();
        let pdt = s["playheadPdtMs"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: no program date time at the playhead: {v}"));
        let off = (pdt - now) / 1000.0;
        worst = worst.max(off.abs());
        assert!(
            off.abs() <= 2.0,
            "{what}: playhead air time is {off:+.2} s from the wall clock: {v}"
        );
        let cur = s["currentTime"].as_f64().unwrap();
        if mark.0.elapsed() >= Duration::from_secs(5) {
            assert!(
                cur - mark.1 >= 3.0,
                "{what}: stalled: current time {:.2} -> {cur:.2} in {:?}: {v}",
                mark.1,
                mark.0.elapsed()
            );
            mark = (Instant::now(), cur);
        }
        if cur - start >= secs {
            eprintln!(
                "{what}: played {:.1} s in {:.1} s, worst air-time offset {worst:.2} s, now playing {}",
                cur - start,
                t.elapsed().as_secs_f64(),
                s["nowPlaying"]
            );
            return cur - start;
        }
        assert!(
            t.elapsed() < Duration::from_secs_f64(secs + 20.0),
            "{what}: only {:.1} s played in {:?}: {v}",
            cur - start,
            t.elapsed()
        );
    }
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("listener");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, c.screenshot().await.unwrap()).unwrap();
    path
}

/// A station at `st` of real AAC-in-MPEG-TS segments (4 s), three items in rotation, on
/// `double`: window [`WINDOW`], lookahead [`LOOKAHEAD`], a tick a second, with
/// `streaming` keys on top.
async fn tone_station(st: &Path, double: &KuboDouble, streaming: Value) {
    real_processed(
        &st.join("data/processed"),
        &client(&double.api_url()),
        &[
            ("a", "sine=frequency=440", 40.0),
            ("b", "sine=frequency=550", 36.0),
            ("c", "sine=frequency=660", 44.0),
        ],
        SEGMENT,
    )
    .await;
    test_support::init_station(st);
    patch_config(
        st,
        "streaming.config.json",
        json!({"window_size": WINDOW, "lookahead_segments": LOOKAHEAD, "update_interval": 1,
            "kubo_api": double.api_url(), "publish_timeout": 10}),
    );
    patch_config(st, "streaming.config.json", streaming);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_page_plays_the_live_stream_at_air_time_in_chromium() {
    require_browser();
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The station's name is its folder's: the page shows it.
    let station = tmp.path().join("Loopback FM");

    tone_station(&station, &double, json!({})).await;
    let cfg = Station::open(&station).unwrap();
    let state_dir = cfg.state();

    // Two minutes of the stream's past, built in a second instead of waited for: the
    // streamer ticks once a second from two minutes ago to now, and the double records
    // each publish as of the tick's time, so a gateway with a lagging view finds the
    // playlist it would have found on a station that ran that long.
    let history = 120;
    let born = Utc::now() - chrono::Duration::seconds(history);
    let mut streamer = Streamer::open(&cfg, Mode::Ipns, born).unwrap();
    for k in (1..=history).rev() {
        double
            .faults()
            .set_publish_backdate(Duration::from_secs(k as u64));
        streamer
            .tick(Utc::now() - chrono::Duration::seconds(k))
            .await
            .unwrap();
        let rec = streamer.settled().await.unwrap().unwrap();
        assert!(rec.ok, "{:?}", rec.error);
    }
    double.faults().set_publish_backdate(Duration::ZERO);
    // From now on the streamer runs on the wall clock, in-process.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_air = tokio::spawn(streamer.run(Arc::new(SystemClock), async {
        let _ = stopped.await;
    }));
    let name = state_dir
        .load_stream_state()
        .unwrap()
        .ipns_name
        .expect("published");

    // The site under the name: the source checkout's page (embedded at build time), the
    // live playlist with relative segment URIs that resolve inside the site, and
    // station.json.
    let url = format!("{}/ipns/{name}/", double.gateway_url());
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/listener");
    for file in ipfs_station::air::listener::PAGE_FILES {
        let (st, body) = get(&format!("{url}{file}")).await;
        assert_eq!(st, 200, "{file}");
        assert!(
            body == std::fs::read(page.join(file)).unwrap(),
            "{file} differs from the page"
        );
    }
    let (st, body) = get(&format!("{url}live.m3u8")).await;
    assert_eq!(st, 200);
    let pl = m3u8_rs::parse_media_playlist_res(&body).unwrap();
    for (i, seg) in pl.segments.iter().enumerate() {
        assert_eq!(seg.uri, format!("s/{}.ts", pl.media_sequence + i as u64));
    }
    let (st, seg) = get(&format!("{url}{}", pl.segments[0].uri)).await;
    assert_eq!(st, 200);
    assert_eq!(seg[0], 0x47, "an MPEG-TS segment");
    let (st, body) = get(&format!("{url}station.json")).await;
    assert_eq!(st, 200);
    let sj: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sj["format"], 1, "{sj}");
    assert_eq!(sj["station"], "Loopback FM", "{sj}");
    assert_eq!(sj["ipns_name"], json!(name), "{sj}");
    assert_eq!(sj["stream"], "live.m3u8", "{sj}");
    assert!(sj["now_playing"]["title"].is_string(), "{sj}");
    assert_eq!(sj["next_up"].as_array().unwrap().len(), 5, "{sj}");
    assert!(!sj["history"].as_array().unwrap().is_empty(), "{sj}");

    // Chromium opens the page on the gateway: it plays at air time.
    let (_driver, c) = fresh_browser(tmp.path(), "live").await;
    c.goto(&url).await.unwrap();
    let v = wait_playing(&c, "live").await;
    eprintln!("live: playing: {v}");
    let played = check_playing(&c, "live", 20.0).await;
    assert!(played >= 20.0);
    let v = state(&c).await;
    let s = &v["s"];
    let np = s["nowPlaying"].as_str().unwrap_or_default();
    assert!(np.starts_with("Test - Tone "), "now playing: {v}");
    assert!(
        s["behindLiveSeconds"].as_f64().unwrap() < 2.0,
        "behind live: {v}"
    );
    let title = c
        .execute(
            "return document.getElementById('station-title').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(title, json!("Loopback FM"));
    let shown = c
        .execute(
            "return document.getElementById('ipns-name').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(name));
    let shot = screenshot(&c, "1-live").await;
    eprintln!("screenshot: {}", shot.display());

    // A gateway whose IPNS view is 60 s old: the page still starts at air time and plays
    // on (the lookahead of 80 s covers the lag) across playlist reloads.
    let current = get(&format!("{url}live.m3u8")).await;
    double.faults().set_ipns_lag(Duration::from_secs(60));
    let lagged = get(&format!("{url}live.m3u8")).await;
    assert_eq!(lagged.0, 200, "{}", String::from_utf8_lossy(&lagged.1));
    let seq = |b: &[u8]| m3u8_rs::parse_media_playlist_res(b).unwrap().media_sequence;
    assert!(
        seq(&lagged.1) + 10 <= seq(&current.1),
        "the gateway serves an old playlist: sequence {} vs {}",
        seq(&lagged.1),
        seq(&current.1)
    );
    // A fresh browser (new profile): the first browser's HTTP cache still holds a fresher
    // playlist, which would hide the lag.
    c.close().await.unwrap();
    drop(_driver);
    let (_driver, c) = fresh_browser(tmp.path(), "lag60").await;
    c.goto(&url).await.unwrap();
    let v = wait_playing(&c, "60 s old IPNS view").await;
    eprintln!("60 s old IPNS view: playing: {v}");
    let played = check_playing(&c, "60 s old IPNS view", 20.0).await;
    assert!(played >= 20.0);
    let shot = screenshot(&c, "2-ipns-lag-60s").await;
    eprintln!("screenshot: {}", shot.display());

    // A gateway 100 s behind, more than the 80 s lookahead: the whole playlist it serves
    // is in the past. The page falls back to `#EXT-X-START` (that playlist's live point)
    // and says how far behind live the listener is. Again a fresh browser.
    double.faults().set_ipns_lag(Duration::from_secs(100));
    c.close().await.unwrap();
    drop(_driver);
    let (_driver, c) = fresh_browser(tmp.path(), "lag100").await;
    c.goto(&url).await.unwrap();
    wait_playing(&c, "100 s old IPNS view").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = state(&c).await;
    eprintln!("100 s old IPNS view: {v}");
    let behind = v["s"]["behindLiveSeconds"].as_f64().unwrap();
    assert!(
        (85.0..120.0).contains(&behind),
        "behind live by about the gateway's lag (100 s): {v}"
    );
    assert!(
        v["status"].as_str().unwrap().contains("s behind live"),
        "the page says how far behind: {v}"
    );
    let shot = screenshot(&c, "2b-ipns-lag-past-the-lookahead").await;
    eprintln!("screenshot: {}", shot.display());

    // Kubo's subdomain gateway: `localhost` redirects /ipns/<name>/ to
    // <name>.ipns.localhost, where absolute /ipfs/ paths would not resolve; the site's
    // relative URIs do. Chromium resolves *.localhost to loopback itself.
    double.faults().set_ipns_lag(Duration::ZERO);
    c.close().await.unwrap();
    drop(_driver);
    let (_driver, c) = fresh_browser(tmp.path(), "subdomain").await;
    c.goto(&format!("{}/ipns/{name}/", double.subdomain_gateway_url()))
        .await
        .unwrap();
    let v = wait_playing(&c, "subdomain gateway").await;
    let at = c.current_url().await.unwrap();
    assert_eq!(
        at.host_str().unwrap(),
        format!("{name}.ipns.localhost"),
        "redirected to the subdomain gateway: {v}"
    );
    eprintln!("subdomain gateway ({at}): playing: {v}");
    let played = check_playing(&c, "subdomain gateway", 15.0).await;
    assert!(played >= 15.0);
    let shot = screenshot(&c, "3-subdomain-gateway").await;
    eprintln!("screenshot: {}", shot.display());

    // A fixed copy of the site (/ipfs/<root>/, e.g. shared by mistake): the page says it
    // is one and links the live site.
    let root = state_dir
        .load_stream_state()
        .unwrap()
        .last_publish
        .and_then(|p| p.cid)
        .expect("a root");
    c.goto(&format!("{}/ipfs/{root}/", double.gateway_url()))
        .await
        .unwrap();
    let t = Instant::now();
    loop {
        let hidden = c
            .execute("return document.getElementById('snapshot').hidden", vec![])
            .await
            .unwrap();
        if hidden == json!(false) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the fixed copy is not flagged"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let link = c
        .execute(
            "return document.getElementById('snapshot-link').href",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(link, json!(url), "the live site is linked");
    let shot = screenshot(&c, "4-fixed-copy").await;
    eprintln!("screenshot: {}", shot.display());

    c.close().await.unwrap();
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    double.shutdown().await;
}

/// The page's pure helpers (playlist parsing, where to start, player choice, URLs on
/// path and subdomain gateways, station.json) under node's own test runner
/// (`ui/listener/test/unit.test.js`). Needs Node.js (Debian's `nodejs`, which
/// `scripts/deps.sh` installs with npm); without it this test fails.
#[test]
fn the_page_helpers_pass_their_unit_tests_under_node() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .args(["--test", "ui/listener/test/"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install Debian's nodejs (scripts/deps.sh does)")
        });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("# fail 0"), "{text}");
    let passed: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed >= 7, "{text}");
}

/// Stall counters on the page's `<audio>`: `waiting` events after now and the time spent
/// in them.
async fn count_stalls(c: &Client) {
    c.execute(
        "const a = document.getElementById('audio');
         window.__stalls = {n: 0, ms: 0, since: null};
         a.addEventListener('waiting', () => {
           if (window.__stalls.since === null) { window.__stalls.since = performance.now(); window.__stalls.n++; }
         });
         a.addEventListener('playing', () => {
           const s = window.__stalls;
           if (s.since !== null) { s.ms += performance.now() - s.since; s.since = null; }
         });
         return true;",
        vec![],
    )
    .await
    .unwrap();
}

/// `(stalls, seconds stalled)` since [`count_stalls`], a stall under way included.
async fn stalls(c: &Client) -> (u64, f64) {
    let v = c
        .execute(
            "const s = window.__stalls;
             return [s.n, (s.ms + (s.since === null ? 0 : performance.now() - s.since)) / 1000];",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_u64().unwrap(), v[1].as_f64().unwrap())
}

/// Issue 12: a public gateway that never saw a CID needs seconds to find it (here 6 s,
/// longer than a 4 s segment; `ColdGateway`). The station warms it with every segment
/// as it enters the lookahead, so a listener there plays 60 s at air time without a
/// stall; in the same run a cold gateway that is not warmed is measured for comparison
/// (the README's numbers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_on_a_cold_public_gateway_plays_without_a_stall_when_it_is_warmed() {
    require_browser();
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let station = tmp.path().join("Cold FM");
    let cold = Duration::from_secs(6);
    let warmed = ColdGateway::start(double.gateway_url(), cold).await;
    let unwarmed = ColdGateway::start(double.gateway_url(), cold).await;
    tone_station(&station, &double, json!({})).await;
    // The one list of public gateways: checked by the monitor, warmed by the streamer.
    patch_config(
        &station,
        "health.config.json",
        json!({"public_gateways": [warmed.url]}),
    );
    let cfg = Station::open(&station).unwrap();
    let streamer = Streamer::open(&cfg, Mode::Ipns, Utc::now()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_air = tokio::spawn(streamer.run(Arc::new(SystemClock), async {
        let _ = stopped.await;
    }));
    let state_dir = cfg.state();
    wait_for_a_publish(&station).await;
    let name = state_dir.load_stream_state().unwrap().ipns_name.unwrap();

    // The warmed gateway: the page's own files are cold there (fetched once, by this
    // first listener), the stream is not.
    let (_driver, c) = fresh_browser(tmp.path(), "warmed").await;
    let opened = Instant::now();
    c.goto(&format!("{}/ipns/{name}/", warmed.url))
        .await
        .unwrap();
    wait_playing(&c, "warmed cold gateway").await;
    let start_s = opened.elapsed().as_secs_f64();
    count_stalls(&c).await;
    let played = check_playing(&c, "warmed cold gateway", 60.0).await;
    assert!(played >= 60.0);
    let (n, secs) = stalls(&c).await;
    let behind = state(&c).await["s"]["behindLiveSeconds"]
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!(
        "MEASURED warmed cold gateway: playing {start_s:.1} s after opening, {n} stalls ({secs:.1} s) in 60 s, {behind:.1} s behind live"
    );
    assert_eq!(n, 0, "no stall on the warmed gateway");
    let warming = state_dir.load_stream_state().unwrap().warming;
    eprintln!("warming: {warming:?}");
    assert!(
        warming[0].warmed > 0 && warming[0].failed == 0,
        "{warming:?}"
    );
    c.close().await.unwrap();
    drop(_driver);

    // The same cold gateway model, not warmed: measured, for the README.
    let (_driver, c) = fresh_browser(tmp.path(), "unwarmed").await;
    let opened = Instant::now();
    c.goto(&format!("{}/ipns/{name}/", unwarmed.url))
        .await
        .unwrap();
    let started = loop {
        let v = state(&c).await;
        if v["s"]["ready"] == json!(true) && v["s"]["currentTime"].as_f64().unwrap_or(0.0) > 0.5 {
            break Some(opened.elapsed().as_secs_f64());
        }
        if opened.elapsed() > Duration::from_secs(90) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    count_stalls(&c).await;
    let t0 = state(&c).await["s"]["currentTime"].as_f64().unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let v = state(&c).await;
    let (n, secs) = stalls(&c).await;
    eprintln!(
        "MEASURED unwarmed cold gateway: playing {} after opening, {n} stalls ({secs:.1} s) and {:.1} s of audio in 60 s, {:.1} s behind live",
        started.map_or("never".to_string(), |s| format!("{s:.1} s")),
        v["s"]["currentTime"].as_f64().unwrap_or(0.0) - t0,
        v["s"]["behindLiveSeconds"].as_f64().unwrap_or(f64::NAN)
    );
    let shot = screenshot(&c, "5-unwarmed-cold-gateway").await;
    eprintln!("screenshot: {}", shot.display());
    c.close().await.unwrap();
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    double.shutdown().await;
}
