//! The `station` binary as an operator runs it: cache hits proven by a PATH shim that
//! logs every ffmpeg/ffprobe run, hostile input, kill -9 and restart, and an HLS client
//! (ffmpeg) playing `/ipns/<name>` from the gateway.

use crate::support::*;
use ipfs_station::air::streamer::StreamState;
use ipfs_station::station::state::StateDir;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A folder with `ffmpeg` and `ffprobe` wrappers that append their arguments to `log`
/// and exec the real programs.
fn shim(dir: &Path, log: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for tool in ["ffmpeg", "ffprobe"] {
        let script = format!(
            "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            need(tool).display()
        );
        let p = dir.join(tool);
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn setup_cli(st: &Path, path_env: &str) -> (i32, String) {
    let out = Command::new(station_bin())
        .args(["setup", "--quiet", "--station"])
        .arg(st)
        .env("PATH", path_env)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

// Multi-threaded: the test blocks on subprocesses while the double serves them.
#[tokio::test(flavor = "multi_thread")]
async fn second_setup_runs_no_ffmpeg_and_makes_no_add() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let log = tmp.path().join("tools.log");
    let path = shim(&tmp.path().join("bin"), &log);
    let (code, out) = setup_cli(&st, &path);
    assert_eq!(code, 0, "{out}");
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(
        first.lines().filter(|l| l.starts_with("ffmpeg")).count() >= 6,
        "{first}"
    );
    let adds = node.double().map(|d| d.add_requests());
    std::fs::remove_file(&log).unwrap();
    let (code, out) = setup_cli(&st, &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        !log.exists(),
        "a cached setup ran tools: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    if let Some(d) = node.double() {
        assert_eq!(
            Some(d.add_requests()),
            adds,
            "a cached setup made an add request"
        );
    }
    assert!(out.contains("0 encoded, 6 reused"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_is_reported_per_file_and_the_rest_goes_on() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let music = st.join("music");
    std::fs::write(music.join("empty.mp3"), b"").unwrap();
    std::fs::write(music.join("notes.mp3"), b"this is not audio, just text\n").unwrap();
    let good_mp3 = tmp.path().join("good.mp3");
    gen_audio(
        &good_mp3,
        "sine=frequency=300",
        4.0,
        &[
            "-c:a",
            "libmp3lame",
            "-metadata",
            "title=Tagged",
            "-metadata",
            "artist=Tagger",
        ],
    );
    let bytes = std::fs::read(&good_mp3).unwrap();
    std::fs::write(music.join("truncated.mp3"), &bytes[..600]).unwrap();
    std::fs::copy(&good_mp3, music.join("-leading dash.mp3")).ok();
    gen_audio(
        &music.join("quotes 'single' \"double\" ünïcødé ♪.ogg"),
        "sine=frequency=350",
        3.0,
        &["-c:a", "libvorbis"],
    );
    let outside = tmp.path().join("outside.ogg");
    gen_audio(&outside, "sine=frequency=370", 3.0, &["-c:a", "libvorbis"]);
    std::os::unix::fs::symlink(&outside, music.join("link.ogg")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("nowhere.ogg"), music.join("dangling.ogg")).unwrap();
    // An mp3 with cover art (a video stream that must be dropped).
    let png = tmp.path().join("cover.png");
    assert!(Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64",
            "-frames:v",
            "1"
        ])
        .arg(&png)
        .status()
        .unwrap()
        .success());
    assert!(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&good_mp3)
        .arg("-i")
        .arg(&png)
        .args([
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:a",
            "copy",
            "-c:v",
            "png",
            "-disposition:v",
            "attached_pic",
            "-id3v2_version",
            "3"
        ])
        .arg(music.join("cover art.mp3"))
        .status()
        .unwrap()
        .success());
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.exists())
            .map(|p| {
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&music);
    let (code, out) = setup_cli(&st, &std::env::var("PATH").unwrap());
    assert_eq!(code, 1, "some items failed: {out}");
    for bad in ["empty.mp3", "notes.mp3", "truncated.mp3", "dangling.ogg"] {
        assert!(
            out.lines().any(|l| l.contains("FAILED") && l.contains(bad)),
            "{bad} not reported: {out}"
        );
    }
    for good in ["-leading dash.mp3", "ünïcødé", "link.ogg", "cover art.mp3"] {
        assert!(
            !out.lines()
                .any(|l| l.contains("FAILED") && l.contains(good)),
            "{good} failed: {out}"
        );
    }
    let m = ipfs_station::setup::manifest::Manifest::load(&st.join("data/processed")).unwrap();
    let tracks = m
        .items
        .iter()
        .filter(|i| i.kind == ipfs_station::library::ItemKind::Track)
        .count();
    // 4 generated + leading dash (same content as cover art? no: cover art has a picture) + quotes + link + cover art
    assert!(tracks >= 7, "{tracks} tracks: {out}");
    assert!(m
        .items
        .iter()
        .any(|i| i.title == "Tagged" && i.artist.as_deref() == Some("Tagger")));
    assert_eq!(snapshot(&music), before, "sources were modified");
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn publishes(st: &Path) -> Option<StreamState> {
    StateDir::new(st.join("data/state"))
        .load_stream_state()
        .ok()
        .filter(|s| s.last_publish.as_ref().is_some_and(|p| p.ok))
}

/// A small station on a fresh Kubo, ticking every `update_interval` s, set up by the
/// CLI.
async fn set_up_and_prechunk(update_interval: f64) -> (TestNode, tempfile::TempDir, PathBuf) {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    patch_config(
        &st,
        "streaming.config.json",
        // 10 segments (of 2 s at most) ahead: enough for a fast publish, the 5 s TTL and three
        // target durations (the monitor warns otherwise).
        serde_json::json!({ "update_interval": update_interval, "window_size": 18,
            "lookahead_segments": 10 }),
    );
    let (code, out) = setup_cli(&st, &std::env::var("PATH").unwrap());
    assert_eq!(code, 0, "{out}");
    (node, tmp, st)
}

/// `station stream` as its own process.
fn spawn_stream(st: &Path) -> std::process::Child {
    Command::new(station_bin())
        .args(["stream", "--station"])
        .arg(st)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_and_restart_continue_the_media_sequence() {
    let (node, tmp, st) = set_up_and_prechunk(0.5).await;
    let mut child = spawn_stream(&st);
    let first = wait_for("two publishes", Duration::from_secs(30), || {
        publishes(&st).filter(|s| s.publish_log.iter().filter(|p| p.ok).count() >= 2)
    });
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = StateDir::new(st.join("data/state"))
        .load_stream_state()
        .unwrap();
    assert!(killed.on_air, "kill -9 leaves no clean shutdown mark");
    assert!(killed.media_sequence >= first.media_sequence);
    let name = killed.ipns_name.clone().unwrap();
    // Status says off air once the heartbeat is stale; on air again after restart.
    let mut child = spawn_stream(&st);
    let again = wait_for("a publish after restart", Duration::from_secs(30), || {
        publishes(&st).filter(|s| {
            s.pid != killed.pid && s.last_publish.as_ref().unwrap().at > killed.last_tick_at
        })
    });
    assert!(
        again.media_sequence >= killed.media_sequence,
        "{} after {}",
        again.media_sequence,
        killed.media_sequence
    );
    assert_eq!(
        again.ipns_name.as_deref(),
        Some(name.as_str()),
        "same IPNS name after restart"
    );
    let out = Command::new(station_bin())
        .args(["status", "--json", "--station"])
        .arg(&st)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["on_air"], true);
    assert_eq!(v["ipns_name"], name);
    // The health monitor hears the restarted stream: exit 0, and a readable SVG.
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"gateways": [node.gateway_url()], "public_gateways": []}),
    );
    let svg = tmp.path().join("meters.svg");
    let out = Command::new(station_bin())
        .args(["health", "--once", "--station"])
        .arg(&st)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    let report = StateDir::new(st.join("data/state")).load_health().unwrap();
    assert_eq!(
        report.status,
        ipfs_station::health::Status::Ok,
        "{:?}",
        report.reasons
    );
    // SIGTERM: a clean stop marks the state off air.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    child.wait().unwrap();
    let stopped = StateDir::new(st.join("data/state"))
        .load_stream_state()
        .unwrap();
    assert!(!stopped.on_air);
    // Off air: the monitor fails (exit 4) and says why.
    let out = Command::new(station_bin())
        .args(["health", "--once", "--station"])
        .arg(&st)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("streamer is not running"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hls_client_plays_the_ipns_stream_for_20_seconds() {
    let (node, tmp, st) = set_up_and_prechunk(1.0).await;
    let mut child = spawn_stream(&st);
    let s = wait_for("first publish", Duration::from_secs(30), || publishes(&st));
    // The station's site: live.m3u8 with segment URIs relative to it.
    let url = format!(
        "{}/ipns/{}/live.m3u8",
        node.gateway_url(),
        s.ipns_name.unwrap()
    );
    let wav = tmp.path().join("heard.wav");
    let started = Instant::now();
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "hls",
            "-i",
            &url,
            "-t",
            "20",
            "-ac",
            "1",
            "-ar",
            "8000",
        ])
        .arg(&wav)
        .output()
        .unwrap();
    child.kill().ok();
    child.wait().ok();
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.trim().is_empty(), "ffmpeg reported errors: {errors}");
    // 20 s of audio at 8 kHz mono s16 (plus a 44-byte header), heard in about real time.
    let len = std::fs::metadata(&wav).unwrap().len();
    assert!(len >= 44 + 19 * 8000 * 2, "only {len} bytes of audio");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "live, not a download"
    );
    // It is the station's sine tones, not silence.
    let vd = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(&wav)
        .args(["-af", "volumedetect", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&vd.stderr);
    let mean: f64 = text
        .lines()
        .find_map(|l| l.split("mean_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches(" dB").parse().ok())
        .unwrap();
    assert!(mean > -40.0, "mean volume {mean} dB: silence?");
}

/// Headless parity with Go live: `station stream` on a station whose sources wait for
/// setup prechunks them first, then goes on air and publishes the station's site.
#[tokio::test(flavor = "multi_thread")]
async fn stream_sets_up_what_waits_then_goes_on_air() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    assert!(!st.join("data/processed/manifest.json").exists());
    let mut guard = ProcessGuard::new();
    guard.push(spawn_stream(&st));
    let on_air = wait_for("the first publish", Duration::from_secs(90), || {
        publishes(&st)
    });
    // On air as soon as a jingle and a track are ready; setup goes on beside the
    // streamer until every source is prechunked.
    let m = ipfs_station::setup::manifest::Manifest::load(&st.join("data/processed")).unwrap();
    assert!(
        m.items
            .iter()
            .any(|i| i.kind == ipfs_station::library::ItemKind::Jingle)
            && m.items
                .iter()
                .any(|i| i.kind == ipfs_station::library::ItemKind::Track),
        "on air with a jingle and a track ready"
    );
    wait_for("setup beside the streamer", Duration::from_secs(90), || {
        ipfs_station::setup::manifest::Manifest::load(&st.join("data/processed"))
            .ok()
            .filter(|m| m.items.len() == 6)
    });
    assert!(on_air.ipns_name.is_some());
    // The site under the name holds the listener page.
    let name = on_air.ipns_name.unwrap();
    let (code, body) = get(&format!("{}/ipns/{name}/", node.gateway_url())).await;
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("listener.js"));
}

/// Issue 19: a library `station setup` prepared goes on air with no setup beside the
/// streamer, whatever spelling of the station's folder each command was given (a
/// relative path for setup, a symlink for the stream).
#[tokio::test(flavor = "multi_thread")]
async fn a_prepared_library_goes_on_air_with_no_setup_beside_it() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let out = Command::new(station_bin())
        .args(["setup", "--quiet", "--station", "station"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let link = tmp.path().join("radio-link");
    std::os::unix::fs::symlink(&st, &link).unwrap();
    let log = tmp.path().join("stream.log");
    let spawned = chrono::Utc::now();
    let file = std::fs::File::create(&log).unwrap();
    let mut guard = ProcessGuard::new();
    guard.push(
        Command::new(station_bin())
            .args(["stream", "--station"])
            .arg(&link)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    let on_air = wait_for("the first publish", Duration::from_secs(60), || {
        publishes(&st)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("sources wait for setup"), "{text}");
    assert!(
        !text.contains("setup: done") && !text.contains("setup goes on"),
        "a setup ran beside the streamer: {text}"
    );
    // The air clock starts at the first publish: the stream's oldest segment (media
    // sequence 0, the window grows from it) is dated no earlier than the streamer's
    // start, and no later than the first publish landed.
    let first = on_air.publish_log.iter().find(|p| p.ok).cloned().unwrap();
    let landed = first.at + chrono::TimeDelta::milliseconds(first.duration_ms as i64);
    let name = on_air.ipns_name.unwrap();
    let (code, body) = get(&format!("{}/ipns/{name}/live.m3u8", node.gateway_url())).await;
    assert_eq!(code, 200);
    let pl = m3u8_rs::parse_media_playlist_res(&body).unwrap();
    assert_eq!(pl.media_sequence, 0, "a young window starts at the birth");
    let oldest = pl.segments[0].program_date_time.unwrap().to_utc();
    assert!(
        oldest >= spawned - chrono::TimeDelta::milliseconds(1),
        "dated {oldest}, before the streamer started at {spawned}"
    );
    assert!(
        oldest <= landed,
        "dated {oldest}, after the publish landed at {landed}"
    );
    // The as-run log starts with what listeners heard first: the item at that point.
    let history = st.join("data/state/history.jsonl");
    let entry = wait_for("the first as-run entry", Duration::from_secs(30), || {
        ipfs_station::air::history::read(&history, None, None)
            .ok()
            .and_then(|h| h.entries.first().cloned())
    });
    assert_eq!(entry.media_sequence, 0);
    assert_eq!(
        entry.air_start.timestamp_millis(),
        oldest.timestamp_millis(),
        "the as-run log starts at the first window's oldest segment"
    );
}

/// Issue 11: a file name that is not UTF-8 (and a folder of one), and a playlist
/// dropped among the music: setup reports the name (lossily) and goes on, a second run
/// runs no ffmpeg or ffprobe at all, and the library overview still serializes (the
/// console's JSON) with the file as a failed row.
#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_names_and_playlists_neither_abort_nor_reencode_setup() {
    use std::os::unix::ffi::OsStrExt;
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let music = st.join("music");
    let some_audio = std::fs::read(music.join("Artist 0 - Song 0.ogg")).unwrap();
    gen_audio(
        &music.join(std::ffi::OsStr::from_bytes(b"Caf\xe9 \xff.ogg")),
        "sine=frequency=777",
        2.0,
        &["-c:a", "libvorbis"],
    );
    let odd_dir = music.join(std::ffi::OsStr::from_bytes(b"Album \xfe"));
    std::fs::create_dir(&odd_dir).unwrap();
    std::fs::write(odd_dir.join("inside.ogg"), &some_audio).unwrap();
    let hls = tmp.path().join("hls");
    ipfs_station::bench::encode_lavfi_hls("sine=frequency=500", 6.0, 2.0, &hls).unwrap();
    let playlist = std::fs::read_to_string(hls.join("index.m3u8"))
        .unwrap()
        .replace("seg_", &format!("{}/seg_", hls.display()));
    std::fs::write(music.join("live.m3u8"), &playlist).unwrap();
    std::fs::write(music.join("disguised.mp3"), &playlist).unwrap();
    let log = tmp.path().join("tools.log");
    let path = shim(&tmp.path().join("bin"), &log);
    let (code, out) = setup_cli(&st, &path);
    assert_eq!(code, 1, "the odd names are failures: {out}");
    assert!(
        out.lines().any(|l| l.contains("FAILED")
            && l.contains("Caf\u{fffd} \u{fffd}.ogg")
            && l.contains("UTF-8")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("FAILED") && l.contains("Album \u{fffd}") && l.contains("UTF-8")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("FAILED") && l.contains("disguised.mp3") && l.contains("playlist")),
        "{out}"
    );
    assert!(!out.contains("live.m3u8"), "the playlist is skipped: {out}");
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(
        !first.contains("live.m3u8"),
        "ffprobe never reads the playlist: {first}"
    );
    let m = ipfs_station::setup::manifest::Manifest::load(&st.join("data/processed")).unwrap();
    assert_eq!(m.items.len(), 6, "the 4 tracks and 2 jingles are in");
    StateDir::new(st.join("data/state"))
        .load_last_setup()
        .expect("last_setup.json is written and loads");
    // Again: nothing is encoded or probed (only the disguised playlist, refused by format).
    std::fs::write(&log, "").unwrap();
    let (code, out) = setup_cli(&st, &path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0 encoded, 6 reused"), "{out}");
    let second = std::fs::read_to_string(&log).unwrap();
    assert!(
        second.lines().all(|l| l.contains("disguised.mp3")),
        "a second run runs ffmpeg/ffprobe only to refuse the disguised playlist: {second}"
    );
    // The console's library overview: failed rows with lossy names, as JSON.
    let station = ipfs_station::station::Station::open(&st).unwrap();
    let view = ipfs_station::library::catalog::overview(&station).unwrap();
    let json = serde_json::to_string(&view).expect("the overview serializes");
    assert!(json.contains("Caf\u{fffd} \u{fffd}.ogg"), "{json}");
    let failed: Vec<_> = view
        .tracks
        .iter()
        .filter(|r| r.status == ipfs_station::library::catalog::ItemStatus::Failed)
        .collect();
    assert!(
        failed
            .iter()
            .any(|r| r.reason.as_deref().is_some_and(|x| x.contains("UTF-8"))),
        "{failed:?}"
    );
    assert!(view.tracks.iter().all(|r| !r.source.ends_with("live.m3u8")));
}

/// The pids of processes whose command line mentions `needle` (Linux `/proc`).
fn pids_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Issue 11: ffmpeg dies with `station setup`: after `kill -9` of the setup process its
/// encoders are gone within moments, not left running.
#[tokio::test(flavor = "multi_thread")]
async fn ffmpeg_children_die_with_a_killed_setup() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    for i in 0..2 {
        gen_audio(
            &st.join(format!("music/long-sources-{i}.wav")),
            "sine=frequency=440",
            120.0,
            &["-ar", "8000", "-ac", "1"],
        );
    }
    // ffmpeg at real time (`-re`): each run on a long source takes minutes.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = need("ffmpeg").display().to_string();
    let p = bin.join("ffmpeg");
    std::fs::write(&p, format!("#!/bin/sh\nexec '{real}' -re \"$@\"\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut guard = ProcessGuard::new();
    let pid = guard.push(
        Command::new(station_bin())
            .args(["setup", "--quiet", "--station"])
            .arg(&st)
            .env("PATH", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let encoders = wait_for(
        "ffmpeg on the long sources",
        Duration::from_secs(60),
        || {
            let p = pids_mentioning("long-sources-");
            (!p.is_empty()).then_some(p)
        },
    );
    assert!(!encoders.contains(&pid));
    // SIGKILL: no handler runs in the setup process.
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    while !pids_mentioning("long-sources-").is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = pids_mentioning("long-sources-");
    for p in &left {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
    }
    assert!(
        left.is_empty(),
        "ffmpeg outlived the killed setup: {left:?} (was {encoders:?})"
    );
}
