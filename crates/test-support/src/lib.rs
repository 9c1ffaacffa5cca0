//! IPFS Station's test fixtures, in one place (STYLE.md "One integration-test binary":
//! a shared support module): generated audio, stations and processed folders, a gateway
//! that misbehaves on purpose, and the processes tests start (Xvfb, WebDriver servers)
//! with a guard that ends them when the test ends, pass or fail.
//!
//! Used by the engine's integration tests (`tests/`), the console's end-to-end test
//! (`src-tauri/tests/`) and the Kubo double's. Helpers panic on failure: in a test a
//! panic is a failed test with a line number.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ipfs_station::kubo::Kubo;
use ipfs_station::library::{ItemKind, SourceFingerprint};
use ipfs_station::setup::manifest::{
    self, Manifest, ManifestItem, ManifestSegment, MANIFEST_FORMAT,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use kubo_double::{KuboDouble, TestNode};

mod output;
pub mod simulated;

pub use output::said;
pub use simulated::SimulatedAir;

/// A Kubo RPC client for `api` (30 s per request).
pub fn client(api: &str) -> Kubo {
    Kubo::new(api, Duration::from_secs(30)).unwrap()
}

/// Generates `seconds` of the lavfi audio `source` (e.g. `sine=frequency=440`) into
/// `path`, with extra output arguments (`-c:a libvorbis`, `-metadata title=...`):
/// [`ipfs_station::bench::lavfi_audio`], the one audio fixture builder.
pub fn gen_audio(path: &Path, source: &str, seconds: f64, extra: &[&str]) {
    ipfs_station::bench::lavfi_audio(path, source, seconds, extra)
        .unwrap_or_else(|e| panic!("generating {}: {e}", path.display()));
}

/// Writes `value`'s keys over `<station>/<file>` (a config file), keeping the others.
pub fn patch_config(station: &Path, file: &str, value: serde_json::Value) {
    let p = station.join(file);
    let mut cur: serde_json::Value = match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).unwrap(),
        Err(_) => serde_json::json!({}),
    };
    for (k, v) in value.as_object().unwrap() {
        cur[k] = v.clone();
    }
    std::fs::write(&p, serde_json::to_vec_pretty(&cur).unwrap()).unwrap();
}

/// `station init` of `st` for a test: network tests touch loopback only, so the public
/// gateways the defaults name (`public_gateways`, checked by the health monitor and
/// warmed by the streamer) are turned off.
pub fn init_station(st: &Path) {
    ipfs_station::station::init(st).unwrap();
    offline(st);
}

/// [`init_station`] without the bundled jingles (`jingles/` left empty): for tests that
/// bring their own items and must not wait for setup to prechunk the bundled ones.
pub fn init_station_without_jingles(st: &Path) {
    init_station(st);
    for e in std::fs::read_dir(st.join("jingles")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
}

/// Turns off the public gateways of the station at `st` (see [`init_station`]): for
/// stations made by the `station init` program.
pub fn offline(st: &Path) {
    patch_config(
        st,
        "health.config.json",
        serde_json::json!({"public_gateways": []}),
    );
}

/// A new station `name` under `root` (`station init`, so the bundled jingles are in),
/// on the Kubo at `api` with its gateway `gateway` as the only gateway checked (no public
/// gateways) and 2 s segments, with `setup`, `streaming` and `health` keys on top.
pub fn station_on(
    root: &Path,
    name: &str,
    api: &str,
    gateway: &str,
    setup: serde_json::Value,
    streaming: serde_json::Value,
    health: serde_json::Value,
) -> PathBuf {
    let st = root.join(name);
    init_station(&st);
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"segment_duration": 2}),
    );
    patch_config(&st, "setup.config.json", setup);
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api}),
    );
    patch_config(&st, "streaming.config.json", streaming);
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"gateways": [gateway], "public_gateways": []}),
    );
    patch_config(&st, "health.config.json", health);
    st
}

/// A station with 4 short tracks (5 s) and 2 jingles (1.5 s), 2 s segments, a jingle every
/// 3 tracks, window 12 with lookahead 3, on the Kubo at `api`.
pub fn small_station(root: &Path, api: &str) -> PathBuf {
    let st = root.join("station");
    // Short generated jingles instead of the bundled ones (faster tests).
    init_station_without_jingles(&st);
    let music = st.join("music");
    for (i, f) in [330, 440, 550, 660].iter().enumerate() {
        gen_audio(
            &music.join(format!("Artist {i} - Song {i}.ogg")),
            &format!("sine=frequency={f}"),
            5.0,
            &["-c:a", "libvorbis"],
        );
    }
    gen_audio(&st.join("jingles/a-id.wav"), "sine=frequency=880", 1.5, &[]);
    gen_audio(&st.join("jingles/b-id.wav"), "sine=frequency=990", 1.5, &[]);
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"segment_duration": 2, "jingle_cycle": 3, "jobs": 2}),
    );
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api, "window_size": 12, "lookahead_segments": 3}),
    );
    st
}

/// [`synthetic_processed`] of items of uniform segments, `(id, kind, segment count)`
/// each `segment` seconds long, in a station `st` made by [`init_station_without_jingles`]
/// streaming through the Kubo at `api`: what the publishing benches air.
pub async fn synthetic_station(
    st: &Path,
    api: &str,
    items: &[(&str, ItemKind, usize)],
    segment: f64,
    rotation: &[&str],
) {
    init_station_without_jingles(st);
    patch_config(
        st,
        "streaming.config.json",
        serde_json::json!({ "kubo_api": api }),
    );
    let durs: Vec<Vec<f64>> = items.iter().map(|(_, _, n)| vec![segment; *n]).collect();
    let items: Vec<(&str, ItemKind, &[f64])> = items
        .iter()
        .zip(&durs)
        .map(|((id, k, _), d)| (*id, *k, d.as_slice()))
        .collect();
    synthetic_processed(&st.join("data/processed"), &client(api), &items, rotation).await;
}

/// A synthetic processed folder: each item's segments are small distinct byte strings
/// added to Kubo, so streaming can be tested without encoding. Items are
/// `(id, kind, segment durations)`; `rotation` lists ids in air order.
pub async fn synthetic_processed(
    processed: &Path,
    kubo: &Kubo,
    items: &[(&str, ItemKind, &[f64])],
    rotation: &[&str],
) -> Manifest {
    let mut out = Vec::new();
    for (id, kind, durs) in items {
        let dir = processed.join(manifest::ITEMS_DIR).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut segments = Vec::new();
        for (i, d) in durs.iter().enumerate() {
            let file = format!("seg_{i:05}.ts");
            let bytes = format!("segment {i} of {id}").into_bytes();
            std::fs::write(dir.join(&file), &bytes).unwrap();
            let cid = kubo
                .add_bytes(&format!("{id}_{file}"), bytes.clone(), true)
                .await
                .unwrap();
            segments.push(ManifestSegment {
                file,
                cid: Some(cid),
                duration: *d,
                bytes: bytes.len() as u64,
            });
        }
        out.push(item(id, *kind, format!("Title {id}"), "Artist", segments));
    }
    let m = Manifest {
        format: MANIFEST_FORMAT,
        config_hash: "synthetic".into(),
        segment_duration: 6.0,
        jingle_cycle: 1,
        items: out,
    };
    m.save(processed).unwrap();
    let text = manifest::render_playlist(&m, rotation).unwrap();
    manifest::save_playlist(processed, &text).unwrap();
    m
}

fn item(
    id: &str,
    kind: ItemKind,
    title: String,
    artist: &str,
    segments: Vec<ManifestSegment>,
) -> ManifestItem {
    ManifestItem {
        id: id.to_string(),
        kind,
        title,
        artist: Some(artist.into()),
        album: None,
        isrc: None,
        source: PathBuf::from(format!("/nonexistent/{id}.ogg")),
        source_fingerprint: SourceFingerprint {
            sha256: "0".repeat(64),
            bytes: 1,
        },
        source_mtime: 0,
        duration: segments.iter().map(|s| s.duration).sum(),
        loudness: None,
        encode_hash: "test".into(),
        segments,
    }
}

/// A processed folder of real audio: each `(id, source)` item is ffmpeg's HLS encode
/// (AAC, `segment` s segments) of the lavfi `source` (`seconds` long), added to Kubo.
pub async fn real_processed(
    processed: &Path,
    kubo: &Kubo,
    items: &[(&str, &str, f64)],
    segment: f64,
) -> Manifest {
    let mut out = Vec::new();
    for (id, source, seconds) in items {
        let dir = processed.join(manifest::ITEMS_DIR).join(id);
        ipfs_station::bench::encode_lavfi_hls(source, *seconds, segment, &dir).unwrap();
        let pl = m3u8_rs::parse_media_playlist_res(&std::fs::read(dir.join("index.m3u8")).unwrap())
            .unwrap();
        let mut segments = Vec::new();
        for s in &pl.segments {
            let bytes = std::fs::read(dir.join(&s.uri)).unwrap();
            let cid = kubo
                .add_bytes(&format!("{id}_{}", s.uri), bytes.clone(), true)
                .await
                .unwrap();
            segments.push(ManifestSegment {
                file: s.uri.clone(),
                cid: Some(cid),
                duration: f64::from(s.duration),
                bytes: bytes.len() as u64,
            });
        }
        out.push(item(
            id,
            ItemKind::Track,
            format!("Tone {id}"),
            "Test",
            segments,
        ));
    }
    let ids: Vec<&str> = items.iter().map(|i| i.0).collect();
    let m = Manifest {
        format: MANIFEST_FORMAT,
        config_hash: "test".into(),
        segment_duration: segment,
        jingle_cycle: 1,
        items: out,
    };
    m.save(processed).unwrap();
    manifest::save_playlist(processed, &manifest::render_playlist(&m, &ids).unwrap()).unwrap();
    m
}

/// GET `url` (loopback, no proxy) and return status + body.
pub async fn get(url: &str) -> (u16, Vec<u8>) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.bytes().await.unwrap().to_vec())
}

/// A loopback HTTP proxy in front of `upstream` that can be told to answer a status or
/// to stall: for gateway fault tests where another gateway must keep working.
pub struct FaultyProxy {
    /// Its base URL.
    pub url: String,
    /// `(status to answer instead of forwarding, delay before answering)`.
    pub mode: std::sync::Arc<std::sync::Mutex<(Option<u16>, Duration)>>,
}

impl FaultyProxy {
    /// Starts one on `127.0.0.1:0`.
    pub async fn start(upstream: String) -> FaultyProxy {
        use axum::extract::State;
        use axum::http::{StatusCode, Uri};
        use axum::response::IntoResponse;
        type Mode = std::sync::Arc<std::sync::Mutex<(Option<u16>, Duration)>>;
        let mode: Mode = Default::default();
        async fn fwd(
            State((up, mode)): State<(String, Mode)>,
            uri: Uri,
        ) -> axum::response::Response {
            let (status, delay) = *mode.lock().unwrap();
            tokio::time::sleep(delay).await;
            if let Some(s) = status {
                return (StatusCode::from_u16(s).unwrap(), "injected").into_response();
            }
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(format!("{up}{uri}"))
                .send()
                .await
                .unwrap();
            let st = StatusCode::from_u16(r.status().as_u16()).unwrap();
            (st, r.bytes().await.unwrap().to_vec()).into_response()
        }
        let app = axum::Router::new()
            .fallback(fwd)
            .with_state((upstream, mode.clone()));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        FaultyProxy { url, mode }
    }

    /// Answers `status` (or forwards when `None`) after `delay`.
    pub fn set(&self, status: Option<u16>, delay: Duration) {
        *self.mode.lock().unwrap() = (status, delay);
    }
}

/// A cold public gateway in front of `upstream` (a Kubo double's gateway), as a gateway
/// that never saw a CID behaves: its first request for a CID waits `cold` (the provider
/// lookup and connection a real gateway needs, seconds per CID) before the answer, later
/// ones are cache hits. The CID of a request is the last of the upstream's
/// `X-Ipfs-Roots` (the file's own CID, also for `/ipns/<name>/s/3.ts`); when each CID was
/// first asked for is recorded.
pub struct ColdGateway {
    /// Its base URL.
    pub url: String,
    /// CID -> when it was first asked for (UTC).
    pub first_seen: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
    >,
}

impl ColdGateway {
    /// Starts one on `127.0.0.1:0`.
    pub async fn start(upstream: String, cold: Duration) -> ColdGateway {
        use axum::extract::State;
        use axum::http::{header, HeaderValue, StatusCode, Uri};
        use axum::response::IntoResponse;
        type Seen = std::sync::Arc<
            std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
        >;
        let seen: Seen = Default::default();
        async fn fwd(
            State((up, cold, seen)): State<(String, Duration, Seen)>,
            uri: Uri,
        ) -> axum::response::Response {
            let r = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(format!("{up}{uri}"))
                .send()
                .await
                .unwrap();
            let st = StatusCode::from_u16(r.status().as_u16()).unwrap();
            let cid = r
                .headers()
                .get("x-ipfs-roots")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::to_string);
            let ctype = r.headers().get(header::CONTENT_TYPE).cloned();
            let body = r.bytes().await.unwrap().to_vec();
            if let Some(cid) = cid.filter(|_| st.is_success()) {
                let first = {
                    let mut seen = seen.lock().unwrap();
                    let first = !seen.contains_key(&cid);
                    seen.entry(cid).or_insert_with(chrono::Utc::now);
                    first
                };
                if first {
                    tokio::time::sleep(cold).await;
                }
            }
            let mut resp = (st, body).into_response();
            if let Some(c) = ctype {
                resp.headers_mut().insert(header::CONTENT_TYPE, c);
            }
            resp.headers_mut()
                .insert("access-control-allow-origin", HeaderValue::from_static("*"));
            resp
        }
        let app = axum::Router::new()
            .fallback(fwd)
            .with_state((upstream, cold, seen.clone()));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        ColdGateway {
            url,
            first_seen: seen,
        }
    }

    /// When `cid` was first asked for, if it was.
    pub fn first_seen(&self, cid: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.first_seen.lock().unwrap().get(cid).copied()
    }
}

/// Processes a test started, ended when the guard drops: at the end of the test, pass
/// or fail, so nothing a test started outlives it.
///
/// At drop it ends every process it guards together with everything they started: each
/// guarded child, every process descending from one (found by parent pid in `/proc`,
/// before anything is killed, so a grandchild is found even when its parent goes first),
/// every process in a process group a guarded child leads (started with
/// `process_group(0)`: e.g. tauri-driver's WebKitWebDriver, whose parent may die
/// first), and the processes holding the stream and health locks of each watched
/// station ([`ProcessGuard::watch_station`]: the streamer and monitor a console starts
/// in their own process groups, which outlive a killed console), with their groups.
/// Each gets SIGKILL, rounds repeat until none is left (a process forking meanwhile is
/// caught by the next round), and the guard waits until each is gone. X servers
/// ([`ProcessGuard::push_x_server`]) go last, with SIGTERM.
#[derive(Default)]
pub struct ProcessGuard {
    children: Vec<Child>,
    stations: Vec<PathBuf>,
    /// X servers, ended after everything else with SIGTERM ([`ProcessGuard::push_x_server`]).
    x_servers: Vec<Child>,
}

impl ProcessGuard {
    /// An empty guard.
    pub fn new() -> ProcessGuard {
        ProcessGuard::default()
    }

    /// Guards `child` (started with `process_group(0)` when it starts children of its
    /// own, so they end with it); returns its pid.
    pub fn push(&mut self, child: Child) -> u32 {
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Guards the X server `child`, ended at drop after every other process (its clients
    /// go first) with SIGTERM, so it removes its `/tmp/.X11-unix/X<n>` socket file;
    /// SIGKILL after 5 s.
    pub fn push_x_server(&mut self, child: Child) {
        self.x_servers.push(child);
    }

    /// Also ends, at drop, the streamer and the health monitor of the station whose
    /// state folder is `state` (the holders of `stream.lock` and `health.lock`, as the
    /// kernel names them), with their process groups and descendants.
    pub fn watch_station(&mut self, state: &Path) {
        self.stations.push(state.to_path_buf());
    }

    /// Every process the guard would end now: see [`ProcessGuard`].
    pub fn tree(&self) -> BTreeSet<u32> {
        let mut roots: Vec<u32> = self.children.iter().map(Child::id).collect();
        for st in &self.stations {
            let state = ipfs_station::station::state::StateDir::new(st);
            for role in [
                ipfs_station::station::state::Role::Stream,
                ipfs_station::station::state::Role::Health,
            ] {
                if let Some(h) = state.holder(role) {
                    roots.push(h.pid);
                }
            }
        }
        process_tree(&roots)
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let mut seen = BTreeSet::new();
        for _ in 0..10 {
            let alive: Vec<u32> = self.tree().into_iter().filter(|p| pid_alive(*p)).collect();
            if alive.is_empty() {
                break;
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .args(alive.iter().map(u32::to_string))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            seen.extend(alive);
            // Reap the direct children, so their pids go (and their groups with them).
            for c in &mut self.children {
                let _ = c.try_wait();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The others are reaped by whoever inherited them; wait until they are gone.
        let t = Instant::now();
        while seen.iter().any(|p| pid_alive(*p)) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for x in &mut self.x_servers {
            let _ = Command::new("kill")
                .args(["-TERM", &x.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for x in &mut self.x_servers {
            let t = Instant::now();
            while matches!(x.try_wait(), Ok(None)) && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = x.kill();
            let _ = x.wait();
        }
    }
}

/// `(pid, parent pid, process group)` of every process (Linux `/proc`).
fn process_table() -> Vec<(u32, u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command name in parentheses: state, ppid, pgrp, ...
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
        let _state = rest.next()?;
        let ppid = rest.next()?.parse().ok()?;
        let pgrp = rest.next()?.parse().ok()?;
        Some((pid, ppid, pgrp))
    })
    .collect()
}

/// `roots` with every process descending from one of them, and every process in a
/// process group one of them (or a descendant) leads, as of now (Linux `/proc`).
pub fn process_tree(roots: &[u32]) -> BTreeSet<u32> {
    let table = process_table();
    let mut out: BTreeSet<u32> = roots.iter().copied().collect();
    loop {
        let before = out.len();
        for &(pid, ppid, pgrp) in &table {
            if out.contains(&ppid) || out.contains(&pgrp) {
                out.insert(pid);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// The processes among `pids` that are still alive (not gone, not zombies).
pub fn still_alive(pids: &BTreeSet<u32>) -> Vec<u32> {
    pids.iter().copied().filter(|p| pid_alive(*p)).collect()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path of `tool` on PATH (or in `~/.cargo/bin`); panics with how to install it: a
/// test that cannot run fails, it never skips.
pub fn need(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{tool}` is not installed: run scripts/deps.sh --test (the browser and console tests need Xvfb, WebKitWebDriver, tauri-driver, chromium and chromedriver)")
        })
}

/// Starts Xvfb under `guard` on a display it picks itself; returns the display (`:3`).
///
/// With `-displayfd` Xvfb takes the first display number whose sockets it can bind (the
/// abstract `@/tmp/.X11-unix/X<n>` is the one a live server holds; a socket file left
/// by a killed one is replaced) and writes the number once it accepts connections
/// (Xorg `os/connection.c`, `CreateWellKnownSockets`). Picking a number here instead
/// skipped every number with a leftover `/tmp/.X<n>-lock` and ran out of numbers on a
/// machine that had run the suite fifty times. The guard ends it with SIGTERM, so it
/// removes its socket file ([`ProcessGuard::push_x_server`]). Panics with Xvfb's own
/// error output when it does not start within 30 s.
pub fn start_xvfb(guard: &mut ProcessGuard) -> String {
    use std::io::{BufRead, BufReader, Read};
    let xvfb = need("Xvfb");
    let mut child = Command::new(&xvfb)
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", xvfb.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    match line.trim().parse::<u32>() {
        Ok(n) => {
            // Xvfb writes warnings for the whole of its life: drain them so it never
            // blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            guard.push_x_server(child);
            format!(":{n}")
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            let _ = stderr.read_to_string(&mut err);
            panic!("Xvfb did not start within 30 s (displayfd said {line:?}); its output:\n{err}");
        }
    }
}

/// Opens a WebDriver session with `caps` on the driver at `url`, retrying for 30 s
/// while the driver starts; `what` names the driver in the panic message.
pub async fn webdriver_session(
    url: &str,
    caps: serde_json::Map<String, serde_json::Value>,
    what: &str,
) -> fantoccini::Client {
    let t = Instant::now();
    loop {
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        match fantoccini::ClientBuilder::new(conn)
            .capabilities(caps.clone())
            .connect(url)
            .await
        {
            Ok(c) => return c,
            Err(e) if t.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session from {what}: {e}"),
        }
    }
}

/// Whether process `pid` exists and is not a zombie (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// Waits up to `secs` for `cond`, polling every 50 ms; panics with `what`.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attacks [`HostileGateway`] serves, one per gateway base URL
/// (`<base>/<attack>`): each name says what `/ipns/<name>` gets.
pub const HOSTILE_ATTACKS: &[&str] = &[
    // #EXT-X-MEDIA-SEQUENCE:18446744073709551615 (u64::MAX) with four segments.
    "overflow",
    // An #EXTINF of 40 digits (parses to infinity as an f32).
    "huge-extinf",
    // A playlist body that never ends.
    "endless-playlist",
    // A valid playlist whose segments never end.
    "endless-segment",
    // Segments that hold 60 s of audio each while #EXTINF says 1 s.
    "decode-bomb",
    // Program date times an hour in the future.
    "future",
    // A redirect of /ipns/<name> to another origin.
    "redirect-away",
    // Absolute segment URIs on another origin.
    "absolute-away",
    // The control: a redirect within the origin to `/ipns/<name>/`, relative segment
    // URIs `s/<n>.ts`, valid audio.
    "relative",
];

/// A gateway on loopback that attacks the health monitor: `<base>/<attack>` behaves as a
/// gateway base URL serving one of [`HOSTILE_ATTACKS`] for any `/ipns/<name>`. A second
/// server, "elsewhere" (another port: another origin), is where the redirect and the
/// absolute URIs point; it counts the requests it gets (the monitor must make none).
pub struct HostileGateway {
    /// Base URL (`http://127.0.0.1:<port>`).
    pub base: String,
    /// Base URL of the other origin.
    pub elsewhere: String,
    /// Requests the other origin got.
    pub elsewhere_hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Bytes the endless bodies sent, all requests together.
    pub endless_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl HostileGateway {
    /// Starts both servers on `127.0.0.1:0`. `good` are valid 6 s MPEG-TS segments (the
    /// `relative`, `future` and other playlists play them); `bomb` is a segment holding
    /// 60 s of audio.
    pub async fn start(good: Vec<Vec<u8>>, bomb: Vec<u8>) -> HostileGateway {
        use axum::http::{header, StatusCode, Uri};
        use axum::response::{IntoResponse, Response};
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
        use std::sync::Arc;
        let hits = Arc::new(AtomicUsize::new(0));
        let endless_bytes = Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let away = axum::Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (StatusCode::OK, "elsewhere")
            }
        });
        let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere = format!("http://{}", l2.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l2, away).await;
        });
        fn endless(first: &'static [u8], fill: u8, sent: Arc<AtomicU64>) -> Response {
            let chunk = axum::body::Bytes::from(vec![fill; 64 * 1024]);
            let head = std::iter::once(axum::body::Bytes::from_static(first));
            let body = head.chain(std::iter::repeat_with(move || {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                chunk.clone()
            }));
            let stream = futures_util::stream::iter(body.map(Ok::<_, std::convert::Infallible>));
            Response::new(axum::body::Body::from_stream(stream))
        }
        /// A live playlist of `n` segments: media sequence `seq`, target `target`,
        /// `#EXTINF` `extinf` (text as written), air times from `first_air` on, URIs from
        /// `uri(i)`.
        fn playlist(
            seq: &str,
            target: u64,
            extinf: &str,
            seconds: f64,
            n: usize,
            first_air: chrono::DateTime<chrono::Utc>,
            uri: impl Fn(usize) -> String,
        ) -> String {
            let mut p = format!(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{seq}\n#EXT-X-START:TIME-OFFSET=-{}\n",
                2.0 * seconds
            );
            for i in 0..n {
                let at = first_air
                    + chrono::Duration::milliseconds((i as f64 * seconds * 1000.0) as i64);
                p.push_str(&format!(
                    "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{extinf},Hostile\n{}\n",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    uri(i)
                ));
            }
            p
        }
        let good = Arc::new(good);
        let bomb = Arc::new(bomb);
        let (el, sent) = (elsewhere.clone(), endless_bytes.clone());
        let handler = move |uri: Uri| {
            let (good, bomb, el, sent) = (good.clone(), bomb.clone(), el.clone(), sent.clone());
            async move {
                let path = uri.path().to_string();
                let mut parts = path.trim_start_matches('/').splitn(2, '/');
                let attack = parts.next().unwrap_or("").to_string();
                let rest = parts.next().unwrap_or("").to_string();
                let now = chrono::Utc::now();
                // Segments: `<attack>/seg/<n>.ts` or `.../s/<n>.ts`.
                if let Some(file) = rest.rsplit('/').next().filter(|f| f.ends_with(".ts")) {
                    let i: usize = file.trim_end_matches(".ts").parse().unwrap_or(0);
                    return match attack.as_str() {
                        "endless-segment" => endless(&[0x47], 0xff, sent),
                        "decode-bomb" => (StatusCode::OK, bomb.as_ref().clone()).into_response(),
                        _ => (StatusCode::OK, good[i % good.len()].clone()).into_response(),
                    };
                }
                let name = rest.strip_prefix("ipns/").unwrap_or("").to_string();
                let seg = |i: usize| format!("/{attack}/seg/{i}.ts");
                let past = now - chrono::Duration::seconds(24);
                let text = match attack.as_str() {
                    "overflow" => playlist("18446744073709551615", 6, "6.0", 6.0, 4, past, seg),
                    "huge-extinf" => playlist(
                        "100",
                        6,
                        &format!("1{}.0", "0".repeat(39)),
                        6.0,
                        4,
                        past,
                        seg,
                    ),
                    "endless-playlist" => {
                        return endless(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#", b'X', sent)
                    }
                    "endless-segment" => playlist("100", 6, "6.0", 6.0, 4, past, seg),
                    "decode-bomb" => playlist(
                        "100",
                        1,
                        "1.0",
                        1.0,
                        6,
                        now - chrono::Duration::seconds(6),
                        seg,
                    ),
                    "future" => playlist(
                        "100",
                        6,
                        "6.0",
                        6.0,
                        4,
                        now + chrono::Duration::seconds(3600),
                        seg,
                    ),
                    "redirect-away" => {
                        return (
                            StatusCode::FOUND,
                            [(header::LOCATION, format!("{el}/ipns/{name}"))],
                        )
                            .into_response()
                    }
                    "absolute-away" => playlist("100", 6, "6.0", 6.0, 4, past, |i| {
                        format!("{el}/seg/{i}.ts")
                    }),
                    "relative" if !name.ends_with('/') => {
                        return (
                            StatusCode::MOVED_PERMANENTLY,
                            [(header::LOCATION, format!("/{attack}/ipns/{name}/"))],
                        )
                            .into_response()
                    }
                    "relative" => playlist("100", 6, "6.0", 6.0, 4, past, |i| format!("s/{i}.ts")),
                    _ => return (StatusCode::NOT_FOUND, "no such attack").into_response(),
                };
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")],
                    text,
                )
                    .into_response()
            }
        };
        let app = axum::Router::new().fallback(handler);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        HostileGateway {
            base,
            elsewhere,
            elsewhere_hits: hits,
            endless_bytes,
        }
    }

    /// The gateway base URL of `attack` (one of [`HOSTILE_ATTACKS`]).
    pub fn gateway(&self, attack: &str) -> String {
        format!("{}/{attack}", self.base)
    }
}
