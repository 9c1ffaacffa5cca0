//! The listener page (ui/listener/) in Debian's headless Chromium, driven through
//! chromedriver: it plays the live stream of a real AAC-in-MPEG-TS station published by
//! the streamer on the Kubo double, at the true air time, also through a gateway whose
//! IPNS view is 60 s old.

use crate::support::*;
use chrono::Utc;
use fantoccini::Client;
use ipfs_station::air::listener::{publish_listener_page, ListenerInfo};
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

fn require_browser() {
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
async fn fresh_browser(root: &Path, name: &str) -> (ProcessGuard, Client) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_page_plays_the_live_stream_at_air_time_in_chromium() {
    require_browser();
    let double = KuboDouble::start().await.unwrap();
    let kubo = client(&double.api_url());
    let tmp = tempfile::tempdir().unwrap();
    let station = tmp.path().join("st");

    // A station of real AAC-in-MPEG-TS segments (4 s), three items in rotation.
    real_processed(
        &station.join("data/processed"),
        &kubo,
        &[
            ("a", "sine=frequency=440", 40.0),
            ("b", "sine=frequency=550", 36.0),
            ("c", "sine=frequency=660", 44.0),
        ],
        SEGMENT,
    )
    .await;
    ipfs_station::station::init(&station).unwrap();
    patch_config(
        &station,
        "streaming.config.json",
        json!({"window_size": WINDOW, "lookahead_segments": LOOKAHEAD, "update_interval": 1,
            "kubo_api": double.api_url(), "publish_timeout": 10}),
    );
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

    // The page, published as one directory with its station.json.
    let info = ListenerInfo {
        ipns_name: name.clone(),
        title: "Loopback FM".into(),
    };
    let cid = publish_listener_page(&kubo, &info).await.unwrap();
    assert!(double.pins().contains(&cid), "the page directory is pinned");
    let url = format!("{}/ipfs/{cid}/", double.gateway_url());
    // What was published is the source checkout's page (embedded at build time).
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/listener");
    for (file, want) in [
        (
            "index.html",
            std::fs::read(page.join("index.html")).unwrap(),
        ),
        (
            "vendor/hls.min.js",
            std::fs::read(page.join("vendor/hls.min.js")).unwrap(),
        ),
        ("station.json", info.station_json(&page).unwrap()),
    ] {
        let (st, body) = get(&format!("{url}{file}")).await;
        assert_eq!(st, 200, "{file}");
        assert!(body == want, "{file} differs from what was published");
    }

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
    let current = get(&format!("{}/ipns/{name}", double.gateway_url())).await;
    double.faults().set_ipns_lag(Duration::from_secs(60));
    let lagged = get(&format!("{}/ipns/{name}", double.gateway_url())).await;
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

    // A name no gateway can resolve: the page says so instead of spinning.
    double.faults().set_ipns_lag(Duration::ZERO);
    let nowhere = kubo.ensure_key("never-published").await.unwrap();
    let dead = publish_listener_page(
        &kubo,
        &ListenerInfo {
            ipns_name: nowhere.id.clone(),
            title: "Off Air FM".into(),
        },
    )
    .await
    .unwrap();
    c.goto(&format!("{}/ipfs/{dead}/", double.gateway_url()))
        .await
        .unwrap();
    let t = Instant::now();
    let v = loop {
        let v = state(&c).await;
        if !v["s"]["fatal"].is_null() {
            break v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no error shown for an unresolvable name: {v}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("cannot resolve") && msg.contains(&nowhere.id),
        "error shown: {v}"
    );
    let hidden = c
        .execute("return document.getElementById('error').hidden", vec![])
        .await
        .unwrap();
    assert_eq!(hidden, json!(false));
    let shot = screenshot(&c, "3-unresolvable-name").await;
    eprintln!("screenshot: {}", shot.display());

    c.close().await.unwrap();
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    double.shutdown().await;
}
