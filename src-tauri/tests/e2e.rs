//! The console end to end, as an operator uses it: the real app under Xvfb, driven over
//! WebDriver (tauri-driver + WebKitWebDriver) against a temp station and the Kubo double.
//!
//! Adds files through the same command a drop uses (`library_add`; a real drop cannot be
//! sent over WebDriver), watches the progress bars move and every item reach ready, sees
//! a bad file reported, auditions an item on a null ALSA device, and gets a validation
//! error in Settings for a bad value. Screenshots of each screen land in
//! `target/tmp/console-e2e/`.
//!
//! A station without Kubo is previewed locally (issue 15): the live window slides, the
//! meters are drawn from what the preview serves, the preview plays, and once Kubo
//! answers Go live takes over with the media sequence going on.
//!
//! Nothing a test starts outlives it: Xvfb, tauri-driver, the WebKitWebDriver it spawns,
//! the app and its WebKit processes, and the streamer and monitor the app starts in
//! process groups of their own are ended by a guard when the test ends, pass or fail;
//! each test then checks that no process it saw is alive.
//!
//! Needs Xvfb, WebKitWebDriver (Debian's webkit2gtk-driver) and tauri-driver
//! (`cargo install tauri-driver --locked`); `scripts/deps.sh --test` installs them. When
//! any is missing this test fails: it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use fantoccini::{Client, Locator};
use ipfs_station::station::state::{Role, StateDir};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::{
    free_port, need, pid_alive, start_xvfb, still_alive, webdriver_session, ProcessGuard,
};

/// Two and a half minutes of a tone as Ogg Vorbis (or `seconds`).
fn gen_audio(path: &Path, source: &str, seconds: f64) {
    test_support::gen_audio(path, source, seconds, &["-c:a", "libvorbis"]);
}

/// One test at a time: each drives its own Xvfb, tauri-driver and app.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Xvfb + tauri-driver with the app's environment; `session` opens the app on `st`.
/// Every process of it (and of the stations it watches) is ended when it drops;
/// [`Desktop::finish`] drops it and says which of the processes it saw are still alive.
struct Desktop {
    port: u16,
    procs: ProcessGuard,
    /// Every process seen in the guard's tree so far ([`Desktop::snapshot`]).
    seen: Mutex<BTreeSet<u32>>,
}

impl Desktop {
    fn start(tmp: &Path, extra_env: &[(&str, &Path)]) -> Desktop {
        let tauri_driver = need("tauri-driver");
        need("WebKitWebDriver");
        let mut procs = ProcessGuard::new();
        let display = start_xvfb(&mut procs);
        let port = free_port();
        let native = free_port();
        let mut cmd = Command::new(&tauri_driver);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("DISPLAY", &display)
        .env("XDG_CONFIG_HOME", tmp.join("config"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        // Its own process group: WebKitWebDriver and the app end with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        procs.push(cmd.spawn().unwrap());
        Desktop {
            port,
            procs,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Also ends the streamer and monitor of the station with state folder `state` (the
    /// app starts them in process groups of their own, so they outlive a killed app).
    fn watch_station(&mut self, state: &Path) {
        self.procs.watch_station(state);
    }

    /// Records every process the guard would end now (the app, WebKitWebDriver, the
    /// WebKit processes, a streamer...), for the check at the end; returns how many.
    fn snapshot(&self) -> usize {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(self.procs.tree());
        seen.len()
    }

    /// Ends everything and returns the processes seen ([`Desktop::snapshot`], taken once
    /// more now) that are still alive: none, or the guard failed.
    fn finish(self) -> (usize, Vec<u32>) {
        self.snapshot();
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        drop(self);
        (seen.len(), still_alive(&seen))
    }

    async fn session(&self, st: &Path) -> Client {
        let app = env!("CARGO_BIN_EXE_ipfs-station-console");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({"application": app, "args": ["--station", st.to_str().unwrap()]}),
        );
        webdriver_session(
            &format!("http://127.0.0.1:{}", self.port),
            caps,
            "tauri-driver",
        )
        .await
    }
}

/// A new station `name` under `root` on the Kubo double: segments of 2 s, its gateway
/// the only one checked, with `setup`, `streaming` and `health` keys on top.
fn station_on(
    root: &Path,
    name: &str,
    kubo: &kubo_double::KuboDouble,
    setup: Value,
    streaming: Value,
    health: Value,
) -> PathBuf {
    test_support::station_on(
        root,
        name,
        &kubo.api_url(),
        &kubo.gateway_url(),
        setup,
        streaming,
        health,
    )
}

struct Shots(PathBuf);
impl Shots {
    /// Screenshots go to `target/tmp/console-e2e/`.
    fn new() -> Shots {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-e2e");
        std::fs::create_dir_all(&dir).unwrap();
        Shots(dir)
    }

    async fn take(&self, c: &Client, name: &str) {
        let png = c.screenshot().await.unwrap();
        std::fs::write(self.0.join(format!("{name}.png")), png).unwrap();
    }
}

/// Clicks the element `css` selects, as the operator would.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Runs `script` (a JS function body returning a value) in the page.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Waits until `script` returns a truthy value; panics with `what` after `secs`.
async fn wait_for(c: &Client, script: &str, secs: u64, what: &str) -> Value {
    let t = Instant::now();
    loop {
        let v = js(c, script).await;
        if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
            return v;
        }
        if t.elapsed() > Duration::from_secs(secs) {
            panic!("timed out after {secs} s waiting for {what} (last: {v})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ROWS: &str = r#"return [...document.querySelectorAll('#table-track .row, #table-jingle .row')].map(r => ({
    title: r.querySelector('.cell').textContent,
    status: r.dataset.status,
    label: r.querySelector('.status .label').textContent,
    fill: r.querySelector('.status .fill').style.transform,
    bar: !r.querySelector('.status .bar').hidden,
}));"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_adds_files_shows_progress_and_validates_settings() {
    let _one = SERIAL.lock().await;
    let shots = Shots::new();

    // A station on the Kubo double, with files waiting in the station's inbox folder.
    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station_on(
        tmp.path(),
        "Night Shift FM",
        &kubo,
        json!({"jobs": 1}),
        json!({}),
        json!({}),
    );
    let inbox = st.join("inbox");
    let tracks: Vec<PathBuf> = (1..=3)
        .map(|i| {
            let p = inbox.join(format!("Track {i}.ogg"));
            gen_audio(&p, &format!("sine=frequency={}", 200 + 110 * i), 150.0);
            p
        })
        .collect();
    std::fs::write(inbox.join("broken.mp3"), b"ID3\x03\x00 not an mp3 at all").unwrap();
    std::fs::write(inbox.join("notes.txt"), b"playlist ideas").unwrap();
    let alsa = tmp.path().join("asound.conf");
    std::fs::write(
        &alsa,
        "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
    )
    .unwrap();

    let desktop = Desktop::start(tmp.path(), &[("ALSA_CONFIG_PATH", &alsa)]);
    let c = desktop.session(&st).await;
    desktop.snapshot();

    // The library opens with the station's bundled jingles; setup runs for them.
    wait_for(
        &c,
        "return document.getElementById('station-path').textContent.includes('Night Shift FM')",
        20,
        "the station path",
    )
    .await;
    wait_for(
        &c,
        &format!(
            "return document.getElementById('kubo-title').textContent.startsWith('Kubo {}')",
            kubo_double::KUBO_VERSION
        ),
        20,
        "Kubo found",
    )
    .await;
    wait_for(
        &c,
        "return document.querySelectorAll('#table-jingle .row[data-status=ready]').length === 3",
        60,
        "bundled jingles ready",
    )
    .await;
    shots.take(&c, "1-library-start").await;

    // Record what the page receives, then add files with the command a drop uses.
    js(&c, "window.__seen = []; window.__TAURI__.event.listen('setup://prechunk', e => window.__seen.push(e.payload)); return true;").await;
    let paths: Vec<String> = tracks
        .iter()
        .chain([inbox.join("broken.mp3"), inbox.join("notes.txt")].iter())
        .map(|p| p.display().to_string())
        .collect();
    let outside = tmp.path().join("not-dropped.ogg");
    std::fs::copy(&tracks[0], &outside).unwrap();
    let mut all = paths.clone();
    all.push(outside.display().to_string());
    let report = c
        .execute_async(
            "const [paths, done] = arguments; window.stationConsole.addFiles('track', paths).then(done);",
            vec![json!(all)],
        )
        .await
        .unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 3, "{report}");
    let refused = report["refused"].as_array().unwrap();
    let reason = |name: &str| -> String {
        refused
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not refused: {report}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("broken.mp3").starts_with("not usable audio"));
    // Lists (.txt, .m3u, ...) are refused as such, before any probe (issue 11).
    assert!(
        reason("notes.txt").contains("a playlist or list (.txt), not audio"),
        "{}",
        reason("notes.txt")
    );
    assert!(reason("not-dropped.ogg").contains("not dropped or picked"));
    // The page lists each refused file with its reason.
    let notices = js(&c, "return document.getElementById('notices').textContent;").await;
    let notices = notices.as_str().unwrap();
    assert!(
        notices.contains("3 files were not added to Music"),
        "{notices}"
    );
    assert!(
        notices.contains("broken.mp3 — not usable audio"),
        "{notices}"
    );
    assert!(
        notices.contains("not-dropped.ogg — not dropped or picked"),
        "{notices}"
    );

    // Progress: rows go queued -> prechunking with a moving bar -> ready.
    let mut fills_seen: Vec<f64> = Vec::new();
    let mut queued_seen = false;
    let mut shot_progress = false;
    let t = Instant::now();
    loop {
        let rows = js(&c, ROWS).await;
        let rows = rows.as_array().unwrap();
        for r in rows {
            if r["status"] == "queued" {
                queued_seen = true;
            }
            if r["status"] == "prechunking" {
                let f = r["fill"].as_str().unwrap_or("");
                if let Some(v) = f.strip_prefix("scaleX(").and_then(|v| v.strip_suffix(')')) {
                    let v: f64 = v.parse().unwrap();
                    if v > 0.0 && v < 1.0 {
                        fills_seen.push(v);
                    }
                }
                assert!(
                    r["bar"].as_bool().unwrap(),
                    "a prechunking row shows its bar"
                );
                if !shot_progress && fills_seen.len() >= 2 {
                    shots.take(&c, "2-library-prechunking").await;
                    shot_progress = true;
                }
            }
        }
        let tracks_ready = rows
            .iter()
            .filter(|r| r["status"] == "ready" && r["title"].as_str().unwrap().starts_with("Track"))
            .count();
        if tracks_ready == 3 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "tracks not ready: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(queued_seen, "no row was shown queued");
    let distinct: std::collections::BTreeSet<u64> =
        fills_seen.iter().map(|f| (f * 1000.0) as u64).collect();
    assert!(
        distinct.len() >= 3,
        "the progress bars did not move: {fills_seen:?}"
    );
    let seen = js(&c, "return window.__seen;").await;
    let seen = seen.as_array().unwrap();
    let progress_per_item: std::collections::BTreeMap<String, usize> = seen
        .iter()
        .filter(|e| e["type"] == "progress")
        .fold(Default::default(), |mut m, e| {
            *m.entry(e["id"].as_str().unwrap().to_string()).or_default() += 1;
            m
        });
    assert_eq!(progress_per_item.len(), 3, "{seen:?}");
    let finished = seen.iter().filter(|e| e["type"] == "finished").count();
    assert_eq!(finished, 3);

    // Every item ready; the refused files were listed with their reasons.
    let rows = wait_for(
        &c,
        "const r = [...document.querySelectorAll('#table-track .row, #table-jingle .row')]; return r.length === 6 && r.every(x => x.dataset.status === 'ready') && r.length;",
        60,
        "all 6 items ready",
    )
    .await;
    assert_eq!(rows, json!(6));
    let overall = js(
        &c,
        "return document.getElementById('overall-text').textContent;",
    )
    .await;
    assert!(
        overall
            .as_str()
            .unwrap()
            .starts_with("3 tracks · 3 jingles ready"),
        "{overall}"
    );
    let durations = js(&c, "return [...document.querySelectorAll('#table-track .row')].map(r => r.children[2].textContent + ' ' + r.children[3].textContent);").await;
    for d in durations.as_array().unwrap() {
        assert!(
            d.as_str().unwrap().starts_with("2:30 -"),
            "duration and loudness shown: {d}"
        );
    }
    // Setup wrote the rotation: 3 tracks, 1 jingle every 3 tracks.
    let playlist = std::fs::read_to_string(st.join("data/processed/playlist.m3u")).unwrap();
    assert_eq!(playlist.matches("items/").count(), 4, "{playlist}");

    shots.take(&c, "3-library-ready").await;

    // Audition on the null ALSA device: the position advances.
    click(&c, "#table-track .row .play-src").await;
    wait_for(
        &c,
        "return document.getElementById('audition-label').textContent.startsWith('Playing: Track')",
        10,
        "audition playing",
    )
    .await;
    // The null device takes samples without a clock, so only "it moved" is checked.
    wait_for(&c, "const t = document.getElementById('audition-time').textContent; return /^\\d+:\\d\\d \\/ 2:30$/.test(t) && !t.startsWith('0:00 ') && t;", 20, "audition position advancing").await;
    shots.take(&c, "4-library-audition").await;
    click(&c, "#audition-stop").await;
    wait_for(
        &c,
        "return document.getElementById('audition-stop').disabled",
        5,
        "audition stopped",
    )
    .await;

    // Settings: a bad value is refused next to its field, nothing written.
    click(&c, "#tab-settings").await;
    let field = c
        .find(Locator::Css(
            "[data-file='setup.config.json'][data-key='segment_duration']",
        ))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys("45").await.unwrap();
    click(&c, "#settings-apply").await;
    let err = wait_for(
        &c,
        "return document.querySelector(\".field[data-field='setup.config.json:segment_duration'] .error\").textContent;",
        10,
        "the validation error",
    )
    .await;
    assert!(err.as_str().unwrap().contains("30"), "{err}");
    let on_disk = std::fs::read_to_string(st.join("setup.config.json")).unwrap();
    assert!(on_disk.contains("\"segment_duration\": 2"), "{on_disk}");
    shots.take(&c, "5-settings-error").await;

    // A valid encoding change says what it redoes before it is applied.
    field.clear().await.unwrap();
    field.send_keys("4").await.unwrap();
    click(&c, "#settings-apply").await;
    let impact = wait_for(
        &c,
        "const b = document.getElementById('settings-impact'); return !b.hidden && b.textContent;",
        10,
        "the impact summary",
    )
    .await;
    assert!(
        impact.as_str().unwrap().contains("re-encodes 6 items"),
        "{impact}"
    );
    assert!(std::fs::read_to_string(st.join("setup.config.json"))
        .unwrap()
        .contains("\"segment_duration\": 2"));
    shots.take(&c, "6-settings-impact").await;
    click(&c, "#settings-apply").await;
    wait_for(
        &c,
        "return document.getElementById('settings-status').textContent === 'Saved.'",
        10,
        "saved",
    )
    .await;
    let cfg = ipfs_station::station::config::SetupConfig::load(&st).unwrap();
    assert_eq!(cfg.segment_duration, Duration::from_secs(4));

    desktop.snapshot();
    c.close().await.unwrap();
    kubo.shutdown().await;
    let (seen, alive) = desktop.finish();
    assert!(
        alive.is_empty(),
        "of {seen} processes the test saw, these outlived it: {alive:?}"
    );
}

/// `(media sequence, last tick)` from `stream_state.json`: both move while the stream runs.
fn stream_progress(state: &Path) -> (u64, String) {
    let v: Value =
        serde_json::from_slice(&std::fs::read(state.join("stream_state.json")).unwrap()).unwrap();
    (
        v["media_sequence"].as_u64().unwrap(),
        v["last_tick_at"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_goes_live_shows_the_window_timeline_and_meters_and_reattaches() {
    let _one = SERIAL.lock().await;
    let station_bin =
        Path::new(env!("CARGO_BIN_EXE_ipfs-station-console")).with_file_name("station");
    assert!(
        station_bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build --bin station`)",
        station_bin.display()
    );
    let shots = Shots::new();

    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station_on(
        tmp.path(),
        "Morning FM",
        &kubo,
        json!({}),
        json!({"window_size": 20, "lookahead_segments": 10}),
        json!({"interval": 3, "max_lag_seconds": 60}),
    );
    for i in 1..=3 {
        gen_audio(
            &st.join(format!("music/Song {i}.ogg")),
            &format!("sine=frequency={}", 300 + 100 * i),
            40.0,
        );
    }
    let station = ipfs_station::station::Station::open(&st).unwrap();
    ipfs_station::setup::run(&station, std::sync::Arc::new(|_| {}))
        .await
        .unwrap();
    let state = st.join("data/state");
    let locks = StateDir::new(&state);

    let mut desktop = Desktop::start(tmp.path(), &[("IPFS_STATION_BIN", &station_bin)]);
    desktop.watch_station(&state);
    let c = desktop.session(&st).await;
    wait_for(
        &c,
        "return document.querySelectorAll('#table-track .row[data-status=ready]').length === 3",
        30,
        "library ready",
    )
    .await;
    click(&c, "#tab-onair").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'Off air'",
        10,
        "off air",
    )
    .await;

    // Timeline: the rotation ahead; another jingle cycle redraws it as a preview.
    let blocks = |cycle: Option<u32>| {
        let c = c.clone();
        async move {
            let b = c
                .execute_async(
                    "const [cycle, done] = arguments; window.__TAURI__.core.invoke('timeline', {hours: 1, jingleCycle: cycle}).then(done, e => done({error: e}));",
                    vec![json!(cycle)],
                )
                .await
                .unwrap();
            b.as_array().unwrap_or_else(|| panic!("{b}")).clone()
        }
    };
    let every3 = blocks(None).await;
    let jingles3 = every3.iter().filter(|b| b["kind"] == "jingle").count();
    let every1 = blocks(Some(1)).await;
    let jingles1 = every1.iter().filter(|b| b["kind"] == "jingle").count();
    assert!(
        jingles1 > jingles3 * 2,
        "cycle 1: {jingles1} jingles, cycle 3: {jingles3}"
    );
    let cycle = c.find(Locator::Css("#tl-cycle")).await.unwrap();
    cycle.clear().await.unwrap();
    cycle.send_keys("1").await.unwrap();
    wait_for(&c, "return document.getElementById('tl-note').textContent.startsWith('Preview with a jingle every 1 tracks') && !document.getElementById('tl-apply').hidden", 10, "the timeline preview").await;
    js(
        &c,
        "document.getElementById('timeline').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shots.take(&c, "7-onair-timeline-preview").await;
    cycle.clear().await.unwrap();
    cycle.send_keys("3").await.unwrap();
    wait_for(&c, "return document.getElementById('tl-note').textContent.includes('items in the next 1 hour') && document.getElementById('tl-apply').hidden", 10, "the timeline back to the saved cycle").await;

    // Go live: streamer and monitor start as their own processes.
    click(&c, "#go-live").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'On air'",
        60,
        "on air",
    )
    .await;
    // Both hold their locks: the streamer and the monitor run.
    let stream_pid = locks.holder(Role::Stream).expect("the streamer runs").pid;
    assert!(locks.holder(Role::Health).is_some(), "the monitor runs");
    desktop.snapshot();
    // The live window slides with the media sequence.
    let first = wait_for(&c, "const s = document.querySelector('#live-window .seg'); return s && document.querySelector('#live-window .seg.live') && Number(s.dataset.seq) + 1;", 30, "the live window").await;
    let first = first.as_u64().unwrap() - 1;
    let lookahead = js(
        &c,
        "return document.querySelectorAll('#live-window .seg.lookahead').length;",
    )
    .await;
    assert!(
        lookahead.as_u64().unwrap() >= 4,
        "lookahead marked: {lookahead}"
    );
    wait_for(&c, &format!("const s = document.querySelector('#live-window .seg'); return s && Number(s.dataset.seq) > {first};"), 30, "the window to slide").await;
    let now = js(
        &c,
        "return document.getElementById('now-playing').textContent;",
    )
    .await;
    assert!(
        !now.as_str().unwrap().starts_with('—'),
        "now playing: {now}"
    );
    let urls = js(&c, "return document.getElementById('urls').textContent;").await;
    assert!(
        urls.as_str().unwrap().contains("/ipns/k51"),
        "listener URLs: {urls}"
    );
    // The station's site under the IPNS name is the link to share; it serves the page.
    let page = wait_for(
        &c,
        "const c = [...document.querySelectorAll('#urls code')].map(x => x.textContent).find(t => t.endsWith('/') && t.includes('/ipns/')); return c || '';",
        20,
        "the site URL",
    )
    .await;
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.starts_with(&kubo.gateway_url()) && page.ends_with('/'),
        "{page}"
    );
    let body = reqwest::get(&page).await.unwrap().text().await.unwrap();
    assert!(body.contains("<script"), "the listener page: {body}");
    let station_json = reqwest::get(format!("{page}station.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        station_json.contains("k51") && station_json.contains("Morning FM"),
        "{station_json}"
    );
    // The monitor's meters and gateway lights.
    wait_for(&c, "return !document.getElementById('meters').hidden && document.querySelectorAll('#gateways .light.ok').length >= 2;", 60, "meters and gateway lights").await;
    let log_rows = js(&c, "return document.querySelectorAll('#publog tr').length;").await;
    assert!(log_rows.as_u64().unwrap() >= 1);
    shots.take(&c, "8-onair-live").await;
    js(
        &c,
        "document.getElementById('timeline').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shots.take(&c, "8b-onair-live-timeline").await;

    // The as-run log lists what aired; "what plays at" answers from the running stream.
    wait_for(
        &c,
        "return document.querySelectorAll('#asrun tr').length >= 1 && document.getElementById('asrun').textContent.includes('Song');",
        40,
        "the as-run log",
    )
    .await;
    js(
        &c,
        "const d = new Date(Date.now() + 20 * 60e3); const p = n => String(n).padStart(2, '0'); document.getElementById('whatat-when').value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; return true;",
    )
    .await;
    click(&c, "#whatat-form button[type=submit]").await;
    let answer = wait_for(
        &c,
        "const t = document.getElementById('whatat-answer').textContent; return t.includes('On air:') ? t : '';",
        20,
        "the answer to what plays at",
    )
    .await;
    let answer = answer.as_str().unwrap().to_string();
    assert!(
        answer.contains("block default") && answer.contains("as the running stream plays it"),
        "{answer}"
    );
    js(
        &c,
        "document.getElementById('whatat-answer').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shots.take(&c, "8c-onair-whatat-asrun").await;

    // The schedule editor: an invalid schedule is refused naming the block and field; a
    // valid one with a hard block covering now is saved and taken on air.
    click(&c, "#tab-settings").await;
    let text = c.find(Locator::Css("#schedule-text")).await.unwrap();
    text.clear().await.unwrap();
    text.send_keys(r#"{"timezone": "UTC", "blocks": [{"name": "A", "start": "06:00", "end": "10:00"}, {"name": "B", "start": "09:30", "end": "11:00"}]}"#)
        .await
        .unwrap();
    let refused = wait_for(
        &c,
        "const s = document.getElementById('schedule-status'); return s.classList.contains('bad') ? s.textContent : '';",
        10,
        "the schedule refused",
    )
    .await;
    assert!(
        refused.as_str().unwrap().contains("blocks[1] (B)")
            && refused.as_str().unwrap().contains("overlaps `A`"),
        "{refused}"
    );
    assert_eq!(
        js(
            &c,
            "return document.getElementById('schedule-save').disabled;"
        )
        .await,
        json!(true)
    );
    js(
        &c,
        "document.querySelector('.schedule-editor').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    shots.take(&c, "10-settings-schedule-refused").await;
    let now = chrono::Utc::now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    text.clear().await.unwrap();
    text.send_keys(&format!(
        r#"{{"timezone": "UTC", "blocks": [{{"name": "Evening", "start": "{}", "end": "{}", "jingle_cycle": 1, "hard": true}}]}}"#,
        hhmm(now - chrono::Duration::minutes(30)),
        hhmm(now + chrono::Duration::minutes(90))
    ))
    .await
    .unwrap();
    wait_for(
        &c,
        "const s = document.getElementById('schedule-status'); return s.classList.contains('ok') && s.textContent.includes('Evening') && !document.getElementById('schedule-save').disabled;",
        10,
        "the schedule valid",
    )
    .await;
    click(&c, "#schedule-save").await;
    wait_for(
        &c,
        "return document.getElementById('notices').textContent.includes('Schedule saved');",
        10,
        "the schedule saved",
    )
    .await;
    assert!(st.join("schedule.json").exists());
    click(&c, "#tab-onair").await;
    wait_for(
        &c,
        "return document.getElementById('now-playing').textContent.includes('block Evening');",
        60,
        "the Evening block on air",
    )
    .await;
    let b = c
        .execute_async(
            "const [done] = arguments; window.__TAURI__.core.invoke('timeline', {hours: 1, jingleCycle: null}).then(done, e => done({error: e}));",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        b.as_array()
            .unwrap_or_else(|| panic!("{b}"))
            .iter()
            .any(|x| x["block"] == "Evening"),
        "the timeline draws the block: {b}"
    );
    js(
        &c,
        "document.getElementById('timeline').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    shots.take(&c, "8d-onair-evening-block").await;
    js(
        &c,
        "document.querySelector('main').scrollTop = 0; return true;",
    )
    .await;

    // Kill the console: the stream keeps publishing.
    let app_pids = Command::new("pgrep")
        .args([
            "-f",
            &format!("ipfs-station-console --station {}", st.display()),
        ])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&app_pids.stdout).to_string();
    assert!(!pids.trim().is_empty(), "console process not found");
    for pid in pids.split_whitespace() {
        Command::new("kill").args(["-KILL", pid]).status().unwrap();
    }
    let _ = c.close().await;
    let (seq0, tick0) = stream_progress(&state);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (seq1, tick1) = stream_progress(&state);
    assert!(
        seq1 > seq0 && tick1 != tick0,
        "the stream stopped with the console: {seq0} -> {seq1}"
    );
    assert!(pid_alive(stream_pid));

    // A new console shows the running stream.
    let c = desktop.session(&st).await;
    wait_for(&c, "return document.getElementById('onair-badge').textContent === 'On air' && !document.getElementById('screen-onair').hidden", 30, "the console reattached").await;
    wait_for(
        &c,
        "return document.querySelectorAll('#live-window .seg').length > 0",
        20,
        "the live window after reattaching",
    )
    .await;
    shots.take(&c, "9-onair-reattached").await;

    // Stop ends the stream cleanly.
    click(&c, "#go-off").await;
    click(&c, "#go-off").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'Off air'",
        30,
        "off air after Stop",
    )
    .await;
    assert!(!pid_alive(stream_pid));
    let log = std::fs::read_to_string(state.join("stream.log")).unwrap();
    assert!(log.contains("Off air."), "clean stop: {log}");
    desktop.snapshot();
    c.close().await.unwrap();
    kubo.shutdown().await;
    let (seen, alive) = desktop.finish();
    assert!(
        alive.is_empty(),
        "of {seen} processes the test saw, these outlived it: {alive:?}"
    );
}

/// Issue 15: a new station without Kubo. The rows and the setup notice say "waiting for
/// Kubo" once, the Kubo banner says it in one sentence with the detail behind a toggle;
/// Preview locally plays the station from 127.0.0.1 (live window sliding, meters drawn
/// from what the preview serves, the preview heard through the audition player) and
/// touches neither Kubo nor IPNS; once Kubo answers, Go live publishes at once with the
/// media sequence going on; quitting the console during a preview ends it; and nothing
/// the test started is alive after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_previews_a_station_without_kubo_then_goes_live() {
    let _one = SERIAL.lock().await;
    let station_bin =
        Path::new(env!("CARGO_BIN_EXE_ipfs-station-console")).with_file_name("station");
    assert!(
        station_bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build --bin station`)",
        station_bin.display()
    );
    let shots = Shots::new();

    // Kubo is down from the start: its ports refuse connections until the test says.
    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    kubo.faults().set_down(true).await;
    let tmp = tempfile::tempdir().unwrap();
    let preview_port = free_port();
    let st = station_on(
        tmp.path(),
        "First Run FM",
        &kubo,
        json!({"jobs": 1}),
        json!({"window_size": 20, "lookahead_segments": 10, "preview_port": preview_port}),
        json!({"interval": 3, "max_lag_seconds": 60}),
    );
    for i in 1..=3 {
        gen_audio(
            &st.join(format!("music/Song {i}.ogg")),
            &format!("sine=frequency={}", 300 + 100 * i),
            40.0,
        );
    }
    let alsa = tmp.path().join("asound.conf");
    std::fs::write(
        &alsa,
        "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
    )
    .unwrap();
    let state = st.join("data/state");
    let locks = StateDir::new(&state);

    let mut desktop = Desktop::start(
        tmp.path(),
        &[
            ("IPFS_STATION_BIN", &station_bin),
            ("ALSA_CONFIG_PATH", &alsa),
        ],
    );
    desktop.watch_station(&state);
    let c = desktop.session(&st).await;
    desktop.snapshot();
    // Every status label a row shows, sampled from the first paint on.
    js(
        &c,
        "window.__labels = new Set(); setInterval(() => document.querySelectorAll('.row .status .label').forEach(l => window.__labels.add(l.textContent)), 50); return true;",
    )
    .await;

    // The console prechunks the new library; with no Kubo every item waits for it.
    wait_for(
        &c,
        "return document.querySelectorAll('#table-track .row[data-status=waiting_for_kubo], #table-jingle .row[data-status=waiting_for_kubo]').length === 6",
        120,
        "every item waiting for Kubo",
    )
    .await;
    let labels = js(&c, "return [...window.__labels];").await;
    assert!(
        labels
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l != "adding to IPFS"),
        "a row said 'adding to IPFS' without Kubo: {labels}"
    );
    assert!(
        labels
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "waiting for Kubo"),
        "{labels}"
    );
    wait_for(
        &c,
        "return document.getElementById('overall-text').textContent.includes('6 prechunked, waiting for Kubo') && document.getElementById('last-setup').textContent.startsWith('Last setup') && !document.getElementById('last-setup').textContent.includes('Kubo');",
        30,
        "the overall bar to say what waits for Kubo",
    )
    .await;
    // Say it once: the banner is one sentence with one action, the detail behind a
    // closed toggle; the setup notice is one sentence, its detail behind a toggle too.
    let banner = wait_for(
        &c,
        "const b = document.getElementById('kubo-help'); const t = b.querySelector('.help-text'); const d = b.querySelector('details'); return !b.hidden && t && d && !d.open && {text: t.textContent, detail: d.textContent};",
        20,
        "the Kubo banner",
    )
    .await;
    let text = banner["text"].as_str().unwrap();
    assert!(
        text.starts_with("Kubo is not")
            && text.ends_with('.')
            && !text.contains("no Kubo answers")
            && !text.contains("refused"),
        "one sentence, no nested error: {text}"
    );
    assert_eq!(text.matches(". ").count(), 0, "one sentence: {text}");
    assert!(
        banner["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("no answer from {}", kubo.api_url())),
        "{banner}"
    );
    let setup_notice = wait_for(
        &c,
        "const n = document.querySelector('#notices .notice[data-key=setup]'); return n && {head: n.querySelector('.notice-head span').textContent, list: n.querySelectorAll('ul').length, detail: n.querySelector('details') ? n.querySelector('details').textContent : ''};",
        20,
        "the setup notice",
    )
    .await;
    let head = setup_notice["head"].as_str().unwrap();
    assert!(
        head.contains("wait for Kubo")
            && head.contains("Preview locally")
            && !head.contains("no Kubo answers"),
        "{setup_notice}"
    );
    assert_eq!(setup_notice["list"], json!(0), "{setup_notice}");
    assert!(
        setup_notice["detail"].as_str().unwrap().contains("Kubo"),
        "{setup_notice}"
    );
    shots.take(&c, "11-library-waiting-for-kubo").await;

    // On air: Go live waits for Kubo, Preview locally is the thing to do.
    click(&c, "#tab-onair").await;
    wait_for(
        &c,
        "const p = document.getElementById('preview-start'); const g = document.getElementById('go-live'); return !p.hidden && p.classList.contains('big') && g.disabled;",
        20,
        "Preview locally offered, Go live waiting for Kubo",
    )
    .await;
    click(&c, "#preview-start").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'Preview'",
        60,
        "the preview on air",
    )
    .await;
    let preview_pid = locks
        .holder(Role::Stream)
        .expect("the preview streamer runs")
        .pid;
    assert!(
        locks.holder(Role::Health).is_none(),
        "no monitor for a preview"
    );
    desktop.snapshot();
    let note = js(
        &c,
        "const n = document.getElementById('preview-note'); return !n.hidden && n.textContent;",
    )
    .await;
    let note = note.as_str().unwrap_or_default().to_string();
    assert!(
        note.starts_with("Nothing is published:") && note.contains("Go live"),
        "{note}"
    );
    let urls = js(&c, "return document.getElementById('urls').textContent;").await;
    let preview_url = format!("http://127.0.0.1:{preview_port}/live.m3u8");
    assert!(
        urls.as_str().unwrap().contains(&preview_url) && !urls.as_str().unwrap().contains("/ipns/"),
        "{urls}"
    );
    // The preview serves the live window on 127.0.0.1 as a player gets it.
    let (status, body) = test_support::get(&preview_url).await;
    let body = String::from_utf8_lossy(&body).to_string();
    assert!(
        status == 200 && body.contains("#EXTINF") && body.contains("/segments/"),
        "{status} {body}"
    );

    // The live window slides.
    let first = wait_for(&c, "const s = document.querySelector('#live-window .seg'); return s && document.querySelector('#live-window .seg.live') && Number(s.dataset.seq) + 1;", 30, "the preview's live window").await;
    let first = first.as_u64().unwrap() - 1;
    wait_for(&c, &format!("const s = document.querySelector('#live-window .seg'); return s && Number(s.dataset.seq) > {first};"), 30, "the preview's window to slide").await;
    let now = js(
        &c,
        "return document.getElementById('now-playing').textContent;",
    )
    .await;
    let now = now.as_str().unwrap();
    assert!(
        now.starts_with("Song") && !now.contains("null"),
        "now playing: {now}"
    );
    // The meters, measured from what the preview serves.
    wait_for(
        &c,
        "const m = document.getElementById('meters'); return !m.hidden && m.src.startsWith('data:image/svg+xml') && document.getElementById('health-badge').textContent === 'preview ok' && document.getElementById('levels-when').textContent.includes('preview');",
        60,
        "the preview's meters",
    )
    .await;
    let levels = js(
        &c,
        "return decodeURIComponent(document.getElementById('meters').src.split(',')[1]);",
    )
    .await;
    let levels = levels.as_str().unwrap();
    assert!(
        levels.contains("<svg") && levels.contains("dBFS"),
        "meters drawn ({} bytes of SVG)",
        levels.len()
    );

    // Listen: the audition player plays the preview live.
    click(&c, "#preview-listen").await;
    wait_for(
        &c,
        "return document.getElementById('audition-label').textContent.includes('the preview') && document.getElementById('audition-time').textContent.endsWith('live') && document.getElementById('preview-listen').textContent === 'Stop listening';",
        20,
        "the preview playing",
    )
    .await;
    let pos = |c: Client| async move {
        let t = js(
            &c,
            "return document.getElementById('audition-time').textContent;",
        )
        .await;
        let t = t.as_str().unwrap().trim_end_matches(" live").to_string();
        let (m, s) = t.split_once(':').unwrap();
        m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap()
    };
    let p0 = pos(c.clone()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p1 = pos(c.clone()).await;
    assert!(p1 > p0, "the preview plays on: {p0} s -> {p1} s");
    js(
        &c,
        "document.querySelector('main').scrollTop = 0; return true;",
    )
    .await;
    shots.take(&c, "12-onair-preview").await;
    js(
        &c,
        "document.getElementById('live-window').scrollIntoView({block: 'center'}); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shots.take(&c, "12b-onair-preview-window").await;
    js(
        &c,
        "document.querySelector('main').scrollTop = 0; return true;",
    )
    .await;

    // The preview never touched Kubo: it was down, and the preview says nothing of it.
    let s: Value =
        serde_json::from_slice(&std::fs::read(state.join("stream_state.json")).unwrap()).unwrap();
    assert_eq!(s["mode"], "preview");
    assert!(
        s["ipns_name"].is_null() && s["last_publish"].is_null(),
        "{s}"
    );
    let log = std::fs::read_to_string(state.join("stream.log")).unwrap();
    assert!(!log.contains("publishing under key"), "{log}");

    // Kubo comes up: the operator asks the header again; the preview says Go live now.
    kubo.faults().set_down(false).await;
    click(&c, "#kubo-retry").await;
    wait_for(
        &c,
        "return document.getElementById('kubo-help').hidden && document.getElementById('preview-note').textContent.includes('Kubo answers now') && !document.getElementById('go-live').hidden && !document.getElementById('go-live').disabled;",
        30,
        "Go live offered once Kubo answers",
    )
    .await;
    // Up to now, nobody asked Kubo for a key or a publish: the preview touched no IPNS.
    let calls = kubo.rpc_calls();
    assert!(
        !calls
            .iter()
            .any(|(cmd, _)| cmd.contains("/name/") || cmd.contains("/key/")),
        "{calls:?}"
    );
    // What waited for Kubo is added now: every row ready.
    wait_for(
        &c,
        "return document.querySelectorAll('#table-track .row[data-status=ready], #table-jingle .row[data-status=ready]').length === 6",
        60,
        "every item added to IPFS",
    )
    .await;
    let before: u64 = js(
        &c,
        "return Math.max(...[...document.querySelectorAll('#live-window .seg')].map(s => Number(s.dataset.seq)));",
    )
    .await
    .as_u64()
    .unwrap();
    let seq_before = stream_progress(&state).0;

    // Go live: the stream goes on where the preview was, published through Kubo.
    click(&c, "#go-live").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'On air'",
        60,
        "on air after the preview",
    )
    .await;
    assert!(!pid_alive(preview_pid), "the preview streamer ended");
    let stream_pid = locks.holder(Role::Stream).expect("the streamer runs").pid;
    assert_ne!(stream_pid, preview_pid);
    desktop.snapshot();
    // The first publish comes at once (not after the preview's segments slid out).
    let published = wait_for(
        &c,
        "const r = document.querySelector('#publog tr td:nth-child(2)'); return r && Number(r.textContent) + 1;",
        20,
        "the first publish after the preview",
    )
    .await
    .as_u64()
    .unwrap()
        - 1;
    assert!(
        published >= seq_before,
        "the media sequence went back: preview at {seq_before}, first publish {published}"
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(state.join("stream_state.json")).unwrap()).unwrap();
    assert_eq!(s["mode"], "ipns");
    let first_live = s["media_sequence"].as_u64().unwrap();
    assert!(
        first_live >= seq_before && first_live <= before + 20,
        "media sequence {seq_before} (preview) -> {first_live} (live)"
    );
    let log = std::fs::read_to_string(state.join("stream.log")).unwrap();
    assert!(!log.contains("has no CID"), "{log}");
    let urls = wait_for(
        &c,
        "const t = document.getElementById('urls').textContent; return t.includes('/ipns/k51') && t;",
        20,
        "the listener URLs",
    )
    .await;
    assert!(
        !urls.as_str().unwrap().contains("this computer only"),
        "{urls}"
    );
    // Go live ended the preview's audition.
    wait_for(
        &c,
        "return !document.getElementById('audition-label').textContent.startsWith('Playing')",
        10,
        "the audition of the preview stopped",
    )
    .await;
    shots.take(&c, "13-onair-live-after-preview").await;

    // Stop, preview again, and quit: a preview ends with the console (no question
    // asked); nothing it started stays.
    click(&c, "#go-off").await;
    click(&c, "#go-off").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'Off air'",
        30,
        "off air after Stop",
    )
    .await;
    assert!(!pid_alive(stream_pid));
    click(&c, "#preview-start").await;
    wait_for(
        &c,
        "return document.getElementById('onair-badge').textContent === 'Preview' && !document.getElementById('preview-start').disabled",
        60,
        "the preview again",
    )
    .await;
    let again = locks.holder(Role::Stream).expect("the preview runs").pid;
    desktop.snapshot();
    // Quit as the window's close does once nothing needs asking (WebDriver's own
    // "close window" tears the webview down without the app's exit path).
    // (Later than the script's answer: the app may be gone before WebDriver replies.)
    js(
        &c,
        "setTimeout(() => window.__TAURI__.core.invoke('quit', {keepOnAir: true}), 200); return true;",
    )
    .await;
    let t = Instant::now();
    while pid_alive(again) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the preview outlived the console: {}",
            std::fs::read_to_string(state.join("stream.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = c.close().await;
    let log = std::fs::read_to_string(state.join("stream.log")).unwrap();
    assert!(log.trim_end().ends_with("Off air."), "a clean stop: {log}");

    kubo.shutdown().await;
    let (seen, alive) = desktop.finish();
    assert!(
        alive.is_empty(),
        "of {seen} processes the test saw, these outlived it: {alive:?}"
    );
}
