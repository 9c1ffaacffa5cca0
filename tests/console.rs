//! What the console does through the engine: import with per-file refusals, the library
//! overview with statuses, removal to the trash, setting impacts, the managed Kubo, and
//! the console value itself (dropped paths only, the setup queue and its events, Go
//! live, closing while on air) as the Tauri shell calls it.

use crate::support::*;
use ipfs_station::console::settings;
use ipfs_station::kubo::node::{self, ManagedKubo};
use ipfs_station::library::catalog::{self, ItemStatus};
use ipfs_station::library::ItemKind;
use ipfs_station::setup::manifest::{self, Manifest};
use ipfs_station::station::keys::SETUP_FILE;
use ipfs_station::station::Station;
use std::path::Path;
use std::sync::Arc;

fn bytes_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = ipfs_station::library::list_candidates(dir)
        .files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn import_copies_audio_refuses_the_rest_per_file_and_never_touches_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    test_support::init_station(&st);
    let src = tmp.path().join("dropped");
    gen_audio(
        &src.join("one.ogg"),
        "sine=frequency=440",
        1.0,
        &["-c:a", "libvorbis"],
    );
    gen_audio(&src.join("Album/two.mp3"), "sine=frequency=550", 1.0, &[]);
    std::fs::write(src.join("Album/cover.jpg"), b"not really a picture").unwrap();
    std::fs::write(src.join("notes.txt"), b"shopping list").unwrap();
    let before = bytes_of(&src);
    let station = Station::open(&st).unwrap();
    let cfg = &station.setup;

    let r = catalog::import(
        &station,
        ItemKind::Track,
        &[
            src.join("one.ogg"),
            src.join("notes.txt"),
            src.join("Album"),
            src.join("missing.ogg"),
        ],
    )
    .unwrap();
    let added: Vec<String> = r
        .added
        .iter()
        .map(|a| {
            a.to.strip_prefix(&cfg.music_dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(added, ["one.ogg", "Album/two.mp3"]);
    let refused: Vec<(String, &str)> = r
        .refused
        .iter()
        .map(|x| {
            (
                x.path.file_name().unwrap().to_string_lossy().to_string(),
                x.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    let why = |name: &str| refused.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(
        why("cover.jpg").starts_with("not usable audio"),
        "{}",
        why("cover.jpg")
    );
    // Lists (.txt, .m3u, ...) are refused as such, before any probe (issue 11).
    assert!(
        why("notes.txt").contains("a playlist or list (.txt), not audio"),
        "{}",
        why("notes.txt")
    );
    assert!(refused
        .iter()
        .any(|(n, why)| n == "missing.ogg" && why.contains("cannot read")));

    // The same content again is refused; other content under a taken name gets " (2)".
    let r = catalog::import(&station, ItemKind::Track, &[src.join("one.ogg")]).unwrap();
    assert!(r.added.is_empty());
    assert!(
        r.refused[0].reason.contains("already in the library"),
        "{:?}",
        r.refused
    );
    let other = tmp.path().join("other/one.ogg");
    gen_audio(&other, "sine=frequency=660", 1.0, &["-c:a", "libvorbis"]);
    let r = catalog::import(&station, ItemKind::Jingle, std::slice::from_ref(&other)).unwrap();
    assert_eq!(r.added[0].to, cfg.jingles_dir.join("one.ogg"));
    let r = catalog::import(&station, ItemKind::Track, &[other]).unwrap();
    assert_eq!(r.added[0].to, cfg.music_dir.join("one (2).ogg"));
    // A file already inside the library is not copied onto itself.
    let r = catalog::import(&station, ItemKind::Track, &[cfg.music_dir.join("one.ogg")]).unwrap();
    assert!(r.refused[0].reason.contains("already in the library"));

    assert_eq!(bytes_of(&src), before, "sources were modified");
    // No temp files left behind.
    assert!(std::fs::read_dir(&cfg.music_dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[tokio::test]
async fn overview_shows_each_status_and_remove_moves_the_source_to_the_trash() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    std::fs::write(st.join("music/zz-broken.mp3"), b"ID3 but nothing else").unwrap();
    let station = Station::open(&st).unwrap();
    let cfg = &station.setup;

    // Before setup: everything pending.
    let v = catalog::overview(&station).unwrap();
    assert_eq!(v.tracks.len(), 5);
    assert!(v
        .tracks
        .iter()
        .all(|r| r.status == ItemStatus::Pending && r.id.is_none()));

    let report = ipfs_station::setup::run(&station, Arc::new(|_| {}))
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 1);
    let v = catalog::overview(&station).unwrap();
    let broken = v
        .tracks
        .iter()
        .find(|r| r.source.ends_with("zz-broken.mp3"))
        .unwrap();
    assert_eq!(broken.status, ItemStatus::Failed);
    assert!(broken.reason.as_deref().is_some_and(|r| !r.is_empty()));
    let ready: Vec<_> = v
        .tracks
        .iter()
        .filter(|r| r.status == ItemStatus::Ready)
        .collect();
    assert_eq!(ready.len(), 4);
    assert!(ready
        .iter()
        .all(|r| r.duration.unwrap() > 4.0 && r.loudness_lufs.is_some() && r.segments >= 3));
    assert_eq!(v.jingles.len(), 2);
    assert_eq!(v.not_ready, 1);
    assert!(v.last_setup.is_some());

    // Remove one track: source to the trash, item out of manifest, playlist and items/.
    let victim = ready[0].clone();
    let id = victim.id.clone().unwrap();
    let bytes = std::fs::read(&victim.source).unwrap();
    let removed = catalog::remove(&station, &victim.source).unwrap();
    assert!(!victim.source.exists());
    assert!(removed.trashed_to.starts_with(st.join("trash")));
    assert_eq!(std::fs::read(&removed.trashed_to).unwrap(), bytes);
    assert_eq!(removed.item_id.as_deref(), Some(id.as_str()));
    let m = Manifest::load(&cfg.processed_dir).unwrap();
    assert!(m.item(&id).is_none());
    let rotation = manifest::load_playlist(&cfg.processed_dir).unwrap();
    assert!(!rotation.contains(&id));
    assert_eq!(rotation.len(), removed.rotation_len);
    assert!(!cfg.processed_dir.join("items").join(&id).exists());

    // Outside the library: refused; the last track: refused with the reason.
    let outside = tmp.path().join("elsewhere.ogg");
    std::fs::write(&outside, b"x").unwrap();
    assert_eq!(
        catalog::remove(&station, &outside).unwrap_err().code(),
        "bad_source"
    );
    for r in catalog::overview(&station)
        .unwrap()
        .tracks
        .iter()
        .filter(|r| r.status == ItemStatus::Ready)
        .skip(1)
    {
        catalog::remove(&station, &r.source).unwrap();
    }
    let last = catalog::overview(&station)
        .unwrap()
        .tracks
        .into_iter()
        .find(|r| r.status == ItemStatus::Ready)
        .unwrap();
    let e = catalog::remove(&station, &last.source)
        .unwrap_err()
        .to_string();
    assert!(e.contains("last track"), "{e}");
    assert!(last.source.exists());
}

#[tokio::test]
async fn without_kubo_items_wait_for_kubo_and_an_encoding_change_says_what_it_redoes() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback.
    let st = small_station(tmp.path(), "http://127.0.0.1:9");
    let station = Station::open(&st).unwrap();
    let report = ipfs_station::setup::run(&station, Arc::new(|_| {}))
        .await
        .unwrap();
    assert!(report.kubo_error.is_some());
    let v = catalog::overview(&station).unwrap();
    assert!(v
        .tracks
        .iter()
        .chain(&v.jingles)
        .all(|r| r.status == ItemStatus::WaitingForKubo));
    assert!(v.last_setup.unwrap().kubo_error.is_some());

    let mut edits = settings::Edits::new();
    edits
        .entry(SETUP_FILE.into())
        .or_default()
        .insert("segment_duration".into(), "4".into());
    let out = settings::check(&st, &edits).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.impact.reencode_items, 6);
    assert!(
        out.impact.summary[0].contains("re-encodes 6 items"),
        "{:?}",
        out.impact.summary
    );
    // A rotation-only change re-encodes nothing.
    let mut edits = settings::Edits::new();
    edits
        .entry(SETUP_FILE.into())
        .or_default()
        .insert("jingle_cycle".into(), "2".into());
    let out = settings::check(&st, &edits).unwrap();
    assert_eq!(out.impact.reencode_items, 0);
    assert!(out.impact.rotation);
}

/// A stand-in `ipfs` program: records its calls; `config` fails as Kubo does on a repo
/// an older Kubo made (a file `old` in the repo) until `repo migrate` ran; `daemon`
/// refuses such a repo without `--migrate` (cmd/ipfs/kubo/daemon.go: "fs-repo requires
/// migration"), else holds `repo.lock` (as Kubo's fsrepo does) until the test sees the
/// RPC `shutdown` and touches `stop` (the RPC itself is an in-process double on the
/// configured port).
const FAKE_IPFS: &str = r#"#!/bin/sh
echo "$*" >> "$IPFS_PATH.calls"
case "$1" in
  init) mkdir -p "$IPFS_PATH" && echo '{}' > "$IPFS_PATH/config" ;;
  config)
    if [ -f "$IPFS_PATH/old" ]; then
      echo "Error: ipfs repo needs migration, please run migration tool." >&2; exit 1
    fi
    echo "$3" > "$IPFS_PATH/$2" ;;
  repo) rm -f "$IPFS_PATH/old"; echo "Success: fs-repo has been migrated" ;;
  daemon)
    case "$*" in *--migrate*) ;; *) [ -f "$IPFS_PATH/old" ] && { echo "fs-repo requires migration"; exit 1; } ;; esac
    exec flock "$IPFS_PATH/repo.lock" sh -c 'while [ ! -f "$IPFS_PATH/stop" ]; do sleep 0.05; done; echo "daemon stopped"' ;;
esac
"#;

/// The stand-in `ipfs` in `dir/bin`, and a station whose Kubo API is `double`'s and
/// whose local gateway is the double's gateway.
fn managed_station(dir: &Path, double: &kubo_double::KuboDouble) -> (std::path::PathBuf, Station) {
    use std::os::unix::fs::PermissionsExt;
    let st = dir.join("st");
    test_support::init_station(&st);
    let ipfs = dir.join("bin/ipfs");
    std::fs::create_dir_all(ipfs.parent().unwrap()).unwrap();
    std::fs::write(&ipfs, FAKE_IPFS).unwrap();
    std::fs::set_permissions(&ipfs, std::fs::Permissions::from_mode(0o755)).unwrap();
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": double.api_url()}),
    );
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"gateways": [double.gateway_url()]}),
    );
    (ipfs, Station::open(&st).unwrap())
}

fn calls(station: &Station) -> Vec<String> {
    let repo = station.dir().join(node::MANAGED_REPO_DIR);
    std::fs::read_to_string(format!("{}.calls", repo.display()))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn port(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_string()
}

/// Stops the stand-in daemon when the double sees the RPC `shutdown`.
fn stop_on_shutdown(
    double: kubo_double::KuboDouble,
    station: &Station,
) -> tokio::task::JoinHandle<kubo_double::KuboDouble> {
    let stop = station.dir().join(node::MANAGED_REPO_DIR).join("stop");
    tokio::spawn(async move {
        double.shutdown_requested().await;
        std::fs::write(&stop, b"").unwrap();
        double
    })
}

/// `ipns_pubsub`: the managed daemon runs with IPNS over PubSub (Kubo
/// cmd/ipfs/kubo/daemon.go `--enable-namesys-pubsub`); off by default (above).
#[tokio::test]
async fn managed_kubo_runs_ipns_over_pubsub_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let double = kubo_double::KuboDouble::start().await.unwrap();
    let (ipfs, station) = managed_station(tmp.path(), &double);
    patch_config(
        station.dir(),
        "streaming.config.json",
        serde_json::json!({"ipns_pubsub": true}),
    );
    let station = Station::open(station.dir()).unwrap();
    let watcher = stop_on_shutdown(double, &station);
    let k = ManagedKubo::start_with(&ipfs, &station).await.unwrap();
    assert_eq!(
        calls(&station).last().unwrap(),
        "daemon --migrate --enable-gc --enable-namesys-pubsub"
    );
    k.stop().await.unwrap();
    watcher.await.unwrap().shutdown().await;
}

#[tokio::test]
async fn managed_kubo_inits_its_repo_on_loopback_and_stops_with_the_shutdown_command() {
    let tmp = tempfile::tempdir().unwrap();
    let double = kubo_double::KuboDouble::start().await.unwrap();
    let (ipfs, station) = managed_station(tmp.path(), &double);
    let (api, gateway) = (double.api_url(), double.gateway_url());
    let watcher = stop_on_shutdown(double, &station);

    let k = ManagedKubo::start_with(&ipfs, &station).await.unwrap();
    assert!(k.started_here());
    assert_eq!(
        calls(&station),
        [
            "init".to_string(),
            format!("config Addresses.API /ip4/127.0.0.1/tcp/{}", port(&api)),
            format!(
                "config Addresses.Gateway /ip4/127.0.0.1/tcp/{}",
                port(&gateway)
            ),
            "daemon --migrate --enable-gc".to_string(),
        ]
    );
    let pid_file = station
        .state()
        .file(ipfs_station::station::state::KUBO_PID_FILE);
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        k.pid().to_string()
    );
    // Its own process group: closing the console's terminal does not reach it.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", k.pid())).unwrap();
    let pgrp = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(2)
        .unwrap();
    assert_eq!(pgrp, k.pid().to_string(), "the daemon leads its own group");
    let st_now = node::status(&api, &gateway, std::time::Duration::from_secs(3)).await;
    assert!(st_now.reachable && st_now.peer_id.is_some(), "{st_now:?}");

    let t = std::time::Instant::now();
    k.stop().await.unwrap();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "stopped by shutdown, not by the kill fallback"
    );
    assert!(!pid_file.exists());
    assert!(std::fs::read_to_string(station.state().file("kubo.log"))
        .unwrap()
        .contains("daemon stopped"));
    watcher.await.unwrap().shutdown().await;

    // A non-loopback API is refused before anything runs.
    patch_config(
        station.dir(),
        "streaming.config.json",
        serde_json::json!({"kubo_api": "http://0.0.0.0:5001", "allow_remote_kubo": true}),
    );
    let e = ManagedKubo::start_with(&ipfs, &station.reload().unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
}

/// A repo an older Kubo made: `ipfs config` says it needs migration, so the repo is
/// migrated first, and the daemon is told `--migrate` (without it, on a closed stdin,
/// it answers "no" to the prompt and exits).
#[tokio::test]
async fn managed_kubo_migrates_an_older_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let double = kubo_double::KuboDouble::start().await.unwrap();
    let (ipfs, station) = managed_station(tmp.path(), &double);
    let repo = station.dir().join(node::MANAGED_REPO_DIR);
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("config"), "{}").unwrap();
    std::fs::write(repo.join("old"), "repo version 15").unwrap();
    let api = double.api_url();
    let watcher = stop_on_shutdown(double, &station);
    let k = ManagedKubo::start_with(&ipfs, &station).await.unwrap();
    let c = calls(&station);
    assert_eq!(
        c[0],
        format!("config Addresses.API /ip4/127.0.0.1/tcp/{}", port(&api))
    );
    assert_eq!(c[1], "repo migrate");
    assert!(c[2].starts_with("config Addresses.API"), "{c:?}");
    assert!(c[3].starts_with("config Addresses.Gateway"), "{c:?}");
    assert_eq!(c[4], "daemon --migrate --enable-gc");
    assert!(
        !c.contains(&"init".to_string()),
        "an existing repo is not initialized again"
    );
    k.stop().await.unwrap();
    watcher.await.unwrap().shutdown().await;
}

/// A Kubo already running on the station's repo is found before anything touches the
/// repo (no `ipfs config`, which would go through that daemon, and no second `ipfs
/// daemon`, which would fail on `repo.lock` and orphan the first): at the configured API
/// it is used as it is and not stopped on quit; elsewhere, or not answering, it is
/// reported.
#[tokio::test]
async fn managed_kubo_finds_a_daemon_already_on_its_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let double = kubo_double::KuboDouble::start().await.unwrap();
    let (ipfs, station) = managed_station(tmp.path(), &double);
    let repo = station.dir().join(node::MANAGED_REPO_DIR);
    std::fs::create_dir_all(&repo).unwrap();
    let mut guard = ProcessGuard::new();
    // Another process holds repo.lock, as a running daemon does.
    let holder = std::process::Command::new("flock")
        .arg(repo.join(node::REPO_LOCK_FILE))
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    let holder_pid = guard.push(holder);
    wait_until(5, "the repo lock", || node::repo_holder(&repo).is_some()).await;
    // No API announced: reported with the holder's pid, nothing run.
    let e = ManagedKubo::start_with(&ipfs, &station).await.unwrap_err();
    assert!(
        e.to_string().contains(&format!("pid {holder_pid}"))
            && e.to_string().contains("does not answer"),
        "{e}"
    );
    // Its API elsewhere: reported with both addresses.
    let other = kubo_double::KuboDouble::start().await.unwrap();
    std::fs::write(
        repo.join(node::REPO_API_FILE),
        format!("/ip4/127.0.0.1/tcp/{}", port(&other.api_url())),
    )
    .unwrap();
    let e = ManagedKubo::start_with(&ipfs, &station).await.unwrap_err();
    assert!(
        e.to_string().contains(&other.api_url()) && e.to_string().contains(&double.api_url()),
        "{e}"
    );
    // At the configured API: used as it is.
    std::fs::write(
        repo.join(node::REPO_API_FILE),
        format!("/ip4/127.0.0.1/tcp/{}", port(&double.api_url())),
    )
    .unwrap();
    let k = ManagedKubo::start_with(&ipfs, &station).await.unwrap();
    assert!(!k.started_here());
    assert_eq!(k.pid(), holder_pid);
    k.stop().await.unwrap();
    assert!(
        pid_alive(holder_pid),
        "a daemon found running is not stopped"
    );
    assert!(
        calls(&station).is_empty(),
        "the repo was touched: {:?}",
        calls(&station)
    );
}

#[tokio::test]
async fn node_status_says_how_to_get_kubo_when_none_answers() {
    let s = node::status(
        "http://127.0.0.1:9",
        "http://127.0.0.1:8080",
        std::time::Duration::from_secs(2),
    )
    .await;
    assert!(!s.reachable);
    assert!(s
        .error
        .as_deref()
        .is_some_and(|e| e.contains("127.0.0.1:9")));
    // One sentence with the one action: Start Kubo when an `ipfs` program is there,
    // else install Kubo and run it; the technical detail stays in `error`.
    let help = s.help.as_deref().unwrap_or_default();
    match &s.ipfs_binary {
        Some(_) => assert!(help.contains("press Start Kubo"), "{help}"),
        None => assert!(
            help.contains("install it") && help.contains("ipfs daemon"),
            "{help}"
        ),
    }
    assert!(
        help.ends_with('.') && !help.contains(". ") && !help.contains("127.0.0.1:9"),
        "one sentence, no nested error: {help}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_and_live_window_follow_a_streamer_started_as_its_own_process() {
    use ipfs_station::air::live::live_window;
    use ipfs_station::air::timeline::{self, TimelineBlock};
    use ipfs_station::station::process::{self, Started};
    use ipfs_station::station::state::Role;
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let station = Station::open(&st).unwrap();
    ipfs_station::setup::run(&station, Arc::new(|_| {}))
        .await
        .unwrap();
    let state = station.state();

    // Off air: the rotation from now, back to back, 4 tracks then... a jingle first.
    let now = chrono::Utc::now();
    let blocks = timeline::timeline(&station, now, 0.5, None).unwrap();
    assert_eq!(blocks[0].start_ms, now.timestamp_millis());
    assert_eq!(blocks[0].kind, ItemKind::Jingle);
    for w in blocks.windows(2) {
        let end = w[0].start_ms + (w[0].duration * 1000.0) as i64;
        assert!((w[1].start_ms - end).abs() <= 1, "gapless: {w:?}");
    }
    assert!(blocks.last().unwrap().start_ms < now.timestamp_millis() + 1_800_000);
    let jingles = |b: &[TimelineBlock]| b.iter().filter(|x| x.kind == ItemKind::Jingle).count();
    let every1 = timeline::timeline(&station, now, 0.5, Some(1)).unwrap();
    assert!(
        jingles(&every1) > jingles(&blocks),
        "a shorter cycle plays more jingles"
    );

    // On air through the `station` program: the live window and the timeline follow it.
    let bin = Path::new(env!("CARGO_BIN_EXE_station"));
    let Started::New(pid) = process::start(&station, bin, Role::Stream).unwrap() else {
        panic!("a streamer was running already");
    };
    assert_eq!(
        process::start(&station, bin, Role::Stream).unwrap(),
        Started::AlreadyRunning(pid),
        "one streamer per station"
    );
    let t = std::time::Instant::now();
    let window = loop {
        if let Some(w) = live_window(&state, chrono::Utc::now()).unwrap() {
            break w;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "no live.m3u8"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // A new stream's window starts at its birth and grows to the window size (12) as it
    // airs (issue 19): the live segment, what aired since, the lookahead of 3.
    assert!(window.segments.len() <= 12, "{}", window.segments.len());
    assert_eq!(window.segments.iter().filter(|s| s.live).count(), 1);
    // At least the lookahead of 3 after it; more while the young window is filled to
    // three target durations (RFC 8216 section 6.2.2).
    let live = window.segments.iter().position(|s| s.live).unwrap();
    let ahead = window.segments.iter().filter(|s| s.lookahead).count();
    assert!(ahead >= 3, "{ahead}");
    assert_eq!(
        live + 1 + ahead,
        window.segments.len(),
        "the lookahead follows the live segment"
    );
    assert!(window.segments.iter().any(|s| s.discontinuity));
    for (i, s) in window.segments.iter().enumerate() {
        assert_eq!(s.media_sequence, window.media_sequence + i as u64);
        assert_eq!(
            s.uri,
            format!("s/{}.ts", s.media_sequence),
            "relative to the site"
        );
    }
    let stream_state = state.load_stream_state().unwrap();
    let on_air = timeline::timeline(&station, chrono::Utc::now(), 0.25, None).unwrap();
    let np = stream_state.now_playing.unwrap();
    assert_eq!(
        on_air[0].id, np.item_id,
        "the timeline starts with the item on air"
    );
    assert_eq!(on_air[0].start_ms, np.air_time.timestamp_millis());

    // The headless streamer published the station's site itself: the page and
    // station.json under the IPNS name.
    wait_until(20, "the IPNS name in the state", || {
        state
            .load_stream_state()
            .is_ok_and(|s| s.ipns_name.is_some())
    })
    .await;
    let name = state.load_stream_state().unwrap().ipns_name.unwrap();
    let (code, body) = get(&format!("{}/ipns/{name}/", node.gateway_url())).await;
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("listener.js"));
    let (code, body) = get(&format!("{}/ipns/{name}/station.json", node.gateway_url())).await;
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains(&name));

    assert_eq!(
        process::stop(&state, Role::Stream, std::time::Duration::from_secs(15)).unwrap(),
        Some(pid)
    );
    assert!(!pid_alive(pid));
    assert!(process::running(&state, Role::Stream).is_none());
    let log = std::fs::read_to_string(state.log_path(Role::Stream)).unwrap();
    assert!(
        log.contains("Off air."),
        "stopped cleanly by SIGTERM: {log}"
    );
    assert_eq!(
        process::stop(&state, Role::Stream, std::time::Duration::from_secs(1)).unwrap(),
        None
    );

    // A stream started by hand holds the same lock: Go live starts no second streamer,
    // and Stop stops it.
    let mut by_hand = std::process::Command::new(bin)
        .args(["stream", "--station"])
        .arg(&st)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hand = by_hand.id();
    wait_until(20, "the hand-started stream's lock", || {
        process::running(&state, Role::Stream).is_some_and(|h| h.pid == hand)
    })
    .await;
    assert_eq!(
        process::start(&station, bin, Role::Stream).unwrap(),
        Started::AlreadyRunning(hand)
    );
    assert_eq!(
        process::stop(&state, Role::Stream, std::time::Duration::from_secs(15)).unwrap(),
        Some(hand)
    );
    assert!(by_hand.wait().unwrap().success());
}

/// What the Tauri shell hands the engine: an event sink that records every event, with
/// `_t`, seconds since the capture began.
type Events = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

fn capture() -> (ipfs_station::console::api::Emit, Events) {
    let seen: Events = Default::default();
    let s = seen.clone();
    let t0 = std::time::Instant::now();
    (
        Arc::new(move |e: ipfs_station::console::api::ConsoleEvent| {
            let mut v = e.payload();
            if v.is_object() {
                v["_t"] = t0.elapsed().as_secs_f64().into();
            }
            s.lock().unwrap().push((e.name().to_string(), v))
        }),
        seen,
    )
}

async fn finished(seen: &Events, n: usize) {
    let t = std::time::Instant::now();
    while seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| e == "setup://finished")
        .count()
        < n
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(120),
            "setup did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A station for the console: bundled jingles, 2 s segments, on the Kubo at `api`.
fn console_station(root: &Path, api: &str) -> std::path::PathBuf {
    let st = station_on(
        root,
        "st",
        api,
        "http://127.0.0.1:8080",
        serde_json::json!({}),
        serde_json::json!({}),
        serde_json::json!({}),
    );
    st.canonicalize().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_reads_only_dropped_or_station_paths_and_runs_setup_with_events() {
    use ipfs_station::console::Console;
    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), &kubo.api_url());
    let outside = tmp.path().join("desk/song.ogg");
    gen_audio(&outside, "sine=frequency=440", 60.0, &["-c:a", "libvorbis"]);
    let (emit, seen) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);

    // Not dropped or picked: refused, nothing copied, no setup.
    let r = console
        .add(ItemKind::Track, vec![outside.clone()])
        .await
        .unwrap();
    assert!(r.added.is_empty());
    assert!(r.refused[0].reason.contains("not dropped or picked"));
    assert!(!console.setup_running());

    // Dropped: copied and prechunked; the page gets progress and a finish event.
    console.allow_paths(std::slice::from_ref(&outside));
    let r = console
        .add(ItemKind::Track, vec![outside.clone()])
        .await
        .unwrap();
    assert_eq!(r.added.len(), 1);
    finished(&seen, 1).await;
    wait_until(10, "the setup queue to empty", || !console.setup_running()).await;
    let events = seen.lock().unwrap().clone();
    let kinds: Vec<String> = events
        .iter()
        .filter(|(e, _)| e == "setup://prechunk")
        .map(|(_, v)| v["type"].as_str().unwrap().to_string())
        .collect();
    for k in ["queued", "started", "progress", "finished"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing: {kinds:?}");
    }
    let queued = events
        .iter()
        .find(|(e, v)| {
            e == "setup://prechunk"
                && v["type"] == "queued"
                && v["path"].as_str().unwrap().ends_with("song.ogg")
        })
        .unwrap();
    assert!(queued.1["id"].as_str().unwrap().starts_with("t-"));
    assert!(events
        .iter()
        .any(|(e, v)| e == "setup://event" && v["type"] == "scanned"));
    // Throttled: at most ~10 progress events per second per item.
    let mut times: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (_, v) in events
        .iter()
        .filter(|(e, v)| e == "setup://prechunk" && v["type"] == "progress")
    {
        times
            .entry(v["id"].as_str().unwrap().to_string())
            .or_default()
            .push(v["_t"].as_f64().unwrap());
    }
    let track = times.iter().find(|(id, _)| id.starts_with("t-")).unwrap().1;
    assert!(track.len() >= 2, "{times:?}");
    // The last one (100 %, ffmpeg's `progress=end`) is always sent.
    for (id, t) in &times {
        let throttled = &t[..t.len() - 1];
        assert!(
            throttled.windows(2).all(|w| w[1] - w[0] >= 0.09),
            "{id}: progress faster than 10/s: {t:?}"
        );
    }
    let (_, done) = events
        .iter()
        .find(|(e, _)| e == "setup://finished")
        .unwrap();
    assert_eq!(done["ok"], true, "{done}");

    let lib = console.library().unwrap();
    assert_eq!(lib.tracks.len(), 1);
    assert_eq!(lib.tracks[0].status, ItemStatus::Ready);
    assert_eq!(lib.jingles.len(), 3);

    // Remove: the engine's refusal (last track), and only rows of the library.
    let e = console.remove(&lib.tracks[0].source).unwrap_err();
    assert_eq!(e.code(), "bad_source");
    assert!(e.to_string().contains("last track"), "{e}");
    let e = console.remove(&st.join("setup.config.json")).unwrap_err();
    assert!(e.to_string().contains("not a source in the library"), "{e}");
    assert!(st.join("setup.config.json").exists());
    kubo.shutdown().await;
}

/// Go live (issue 13): without Kubo it refuses at once, before any setup, saying why;
/// with Kubo it starts setup through the queue (its progress shows in the library) and
/// the streamer without waiting for setup: the streamer joins it and is on air before it
/// ends.
#[tokio::test(flavor = "multi_thread")]
async fn go_live_needs_kubo_and_goes_on_air_before_setup_ends() {
    use ipfs_station::console::Console;
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), "http://127.0.0.1:9");
    for i in 0..6 {
        gen_audio(
            &st.join(format!("music/song {i}.ogg")),
            &format!("sine=frequency={}", 300 + 60 * i),
            12.0,
            &["-c:a", "libvorbis"],
        );
    }
    patch_config(&st, "setup.config.json", serde_json::json!({"jobs": 1}));
    let (emit, seen) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);
    let t = std::time::Instant::now();
    let e = console.go_live().await.unwrap_err();
    assert_eq!(e.code(), "kubo_unreachable", "{e}");
    assert!(
        e.to_string().contains("going live publishes through Kubo"),
        "{e}"
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "refused at once"
    );
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(e, _)| e.starts_with("setup://")),
        "no setup ran for a station that cannot go live"
    );
    assert!(console.onair_view().stream_pid.is_none(), "nothing started");

    // With Kubo.
    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": kubo.api_url(), "window_size": 12, "lookahead_segments": 3, "update_interval": 0.5}),
    );
    console.reload().unwrap();
    std::env::set_var("IPFS_STATION_BIN", env!("CARGO_BIN_EXE_station"));
    let v = console.go_live().await.unwrap();
    assert!(v.stream_pid.is_some() && v.health_pid.is_some(), "{v:?}");
    let state = console.state_dir();
    wait_until(60, "the first publish", || {
        state
            .load_stream_state()
            .is_ok_and(|s| s.last_publish.is_some_and(|p| p.ok))
    })
    .await;
    let finished_before_air = seen
        .lock()
        .unwrap()
        .iter()
        .any(|(e, _)| e == "setup://finished");
    assert!(!finished_before_air, "on air before setup ended");
    finished(&seen, 1).await;
    wait_until(30, "every track ready", || {
        console
            .library()
            .is_ok_and(|l| l.tracks.iter().all(|r| r.status == ItemStatus::Ready))
    })
    .await;
    console.off_air().unwrap();
    assert!(console.onair_view().stream_pid.is_none());
}

/// Issue 15: Preview locally without Kubo, as the On air screen calls it: the streamer
/// in preview mode serves the window on 127.0.0.1, the console measures it for the
/// meters, a second press starts nothing, Go live still needs Kubo, closing asks
/// nothing (quitting ends a preview), a preview whose port is taken says why, and Stop
/// ends it.
#[tokio::test(flavor = "multi_thread")]
async fn preview_locally_serves_the_window_without_kubo_and_is_measured() {
    use ipfs_station::console::Console;
    use ipfs_station::station::state::Role;
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), "http://127.0.0.1:9");
    for i in 0..2 {
        gen_audio(
            &st.join(format!("music/song {i}.ogg")),
            &format!("sine=frequency={}", 300 + 60 * i),
            12.0,
            &["-c:a", "libvorbis"],
        );
    }
    let port = free_port();
    patch_config(&st, "setup.config.json", serde_json::json!({"jobs": 1}));
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"window_size": 12, "lookahead_segments": 3, "preview_port": port}),
    );
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"interval": 1}),
    );
    std::env::set_var("IPFS_STATION_BIN", env!("CARGO_BIN_EXE_station"));
    let (emit, _seen) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);

    let v = console.preview_start().await.unwrap();
    let pid = v.stream_pid.expect("the preview streamer runs");
    assert!(v.preview, "{v:?}");
    assert!(v.health_pid.is_none(), "no monitor for a preview");
    assert!(
        !console.close_needs_answer(),
        "a preview asks nothing on close"
    );
    let url = format!("http://127.0.0.1:{port}/live.m3u8");
    let t = std::time::Instant::now();
    let check = loop {
        let v = console.onair_view();
        if let (Some(c), Some(_)) = (&v.preview_check, &v.meters_svg) {
            if c.ok && !c.latest_levels().is_empty() {
                assert_eq!(v.preview_url.as_deref(), Some(url.as_str()));
                assert!(v.urls.is_empty(), "nothing published: {:?}", v.urls);
                assert!(v.window.is_some(), "the live window is shown");
                break c.clone();
            }
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(90),
            "no measured preview: {v:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(check.url, url);
    assert!(
        check
            .latest_levels()
            .iter()
            .all(|c| c.rms_dbfs > -40.0 && c.peak_dbfs < 0.0),
        "a tone is heard: {check:?}"
    );
    let state = console.state_dir();
    let s = state.load_stream_state().unwrap();
    assert!(s.ipns_name.is_none() && s.last_publish.is_none(), "{s:?}");

    // A second press starts nothing; Go live still needs Kubo and leaves the preview.
    assert_eq!(console.preview_start().await.unwrap().stream_pid, Some(pid));
    let e = console.go_live().await.unwrap_err();
    assert_eq!(e.code(), "kubo_unreachable", "{e}");
    assert_eq!(state.holder(Role::Stream).map(|h| h.pid), Some(pid));

    // Stop ends it.
    console.off_air().unwrap();
    assert!(console.onair_view().stream_pid.is_none());
    // (Stop returns once the lock is free; the process ends a moment later.)
    wait_until(10, "the preview streamer to end", || !pid_alive(pid)).await;

    // A preview whose port is taken says so, with what the streamer said.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let e = console.preview_start().await.unwrap_err();
    assert_eq!(e.code(), "process", "{e}");
    assert!(e.to_string().contains("cannot listen on 127.0.0.1"), "{e}");
    assert!(state.holder(Role::Stream).is_none());
}

#[test]
fn closing_asks_only_while_a_stream_runs_until_the_operator_answers() {
    use ipfs_station::console::Console;
    use ipfs_station::station::state::Role;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    test_support::init_station(&st);
    let (emit, _) = capture();
    let console = Console::new(&st.canonicalize().unwrap(), rt.handle().clone(), emit);
    assert!(
        !console.close_needs_answer(),
        "off air: the window just closes"
    );
    // A pid file naming a live process is not a streamer: only the lock counts.
    std::fs::write(
        st.join("data/state/stream.pid"),
        std::process::id().to_string(),
    )
    .unwrap();
    assert!(
        !console.close_needs_answer(),
        "a pid file is not a streamer"
    );
    // The stream lock held stands for a running streamer.
    let _lock = Station::open(&st)
        .unwrap()
        .state()
        .lock(Role::Stream, "a test streamer")
        .unwrap();
    assert!(console.close_needs_answer(), "on air: ask first");
    console.allow_exit();
    assert!(!console.close_needs_answer(), "answered: close");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubo_status_and_settings_go_through_the_engine_and_a_broken_config_is_named() {
    use ipfs_station::console::Console;
    let kubo = kubo_double::KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), &kubo.api_url());
    let (emit, _) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);
    let k = console.kubo_status().await;
    assert!(k.status.reachable && !k.managed);
    assert!(k.status.version.is_some());
    kubo.shutdown().await;
    let k = console.kubo_status().await;
    assert!(!k.status.reachable);
    assert!(k.status.help.is_some());
    let v = serde_json::to_value(&k).unwrap();
    assert_eq!(v["reachable"], false, "flattened for the page: {v}");

    let fields = console.settings().unwrap();
    assert!(fields
        .iter()
        .any(|f| f.spec.key == "window_size" && f.value == "60"));
    let mut edits = settings::Edits::new();
    edits
        .entry("streaming.config.json".into())
        .or_default()
        .insert("window_size".into(), "2".into());
    let out = console.settings_apply(&edits).unwrap();
    assert!(!out.applied);
    assert_eq!(out.errors[0].key, "window_size");
    edits
        .entry("streaming.config.json".into())
        .or_default()
        .insert("window_size".into(), "80".into());
    let out = console.settings_apply(&edits).unwrap();
    assert!(out.applied && out.impact.stream_restart);
    // The console's station is the new one at once.
    assert_eq!(console.station().unwrap().streaming.window_size, 80);

    // A broken config file: the console still answers, naming the file; fixed, it opens.
    let good = std::fs::read(st.join("setup.config.json")).unwrap();
    std::fs::write(st.join("setup.config.json"), "{ nope").unwrap();
    console.reload().unwrap_err();
    let e = console.library().unwrap_err();
    assert_eq!(e.code(), "parse");
    assert!(e.to_string().contains("setup.config.json"), "{e}");
    assert!(console.info().notes[0].contains("setup.config.json"));
    assert!(console.onair_view().problem.is_some());
    std::fs::write(st.join("setup.config.json"), good).unwrap();
    assert!(console.library().is_ok());
}

/// The settings form's edits of `(file, key, text)`.
fn form(list: &[(&str, &str, &str)]) -> ipfs_station::console::settings::Edits {
    let mut e = ipfs_station::console::settings::Edits::new();
    for (f, k, v) in list {
        e.entry(f.to_string())
            .or_default()
            .insert(k.to_string(), v.to_string());
    }
    e
}

/// Issue 11: over the console's IPC a folder setting stays inside the station folder
/// unless the operator picked the folder in the native dialog (a dropped path does not
/// count, `..` and links out of the station are refused), and `kubo_api` off loopback
/// needs `allow_remote_kubo`, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn settings_keep_folders_in_the_station_unless_picked_and_kubo_on_loopback() {
    use ipfs_station::console::Console;
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), "http://127.0.0.1:5001");
    let (emit, _seen) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("music")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, st.join("link-out")).unwrap();
    let setup_file = std::fs::read_to_string(st.join("setup.config.json")).unwrap();
    let refused = |text: &str, key: &str| {
        let out = console
            .settings_apply(&form(&[("setup.config.json", key, text)]))
            .unwrap();
        assert!(!out.applied, "{text}");
        let e = out.errors.iter().find(|e| e.key == key).unwrap();
        e.message.clone()
    };
    let outside = elsewhere.join("music");
    let m = refused(outside.to_str().unwrap(), "music_dir");
    assert!(
        m.contains("outside the station folder") && m.contains("picker"),
        "{m}"
    );
    assert!(refused("../elsewhere/music", "music_dir").contains("`..`"));
    assert!(refused("link-out/music", "processed_dir").contains("outside the station"));
    // A dropped path is for reading audio, not for pointing the station at.
    console.allow_paths(std::slice::from_ref(&outside));
    assert!(refused(outside.to_str().unwrap(), "jingles_dir").contains("outside"));
    assert_eq!(
        std::fs::read_to_string(st.join("setup.config.json")).unwrap(),
        setup_file,
        "nothing was written"
    );
    // Inside the station (a folder that does not exist yet included): fine.
    let out = console
        .settings_apply(&form(&[(
            "setup.config.json",
            "music_dir",
            "sources/music",
        )]))
        .unwrap();
    assert!(out.applied, "{:?}", out.errors);
    // Picked in the dialog: fine, also a folder inside the picked one.
    console.allow_folders(std::slice::from_ref(&elsewhere));
    let out = console
        .settings_apply(&form(&[
            ("setup.config.json", "music_dir", outside.to_str().unwrap()),
            (
                "streaming.config.json",
                "state_dir",
                elsewhere.join("state").to_str().unwrap(),
            ),
        ]))
        .unwrap();
    assert!(out.applied, "{:?}", out.errors);
    let station = console.station().unwrap();
    assert_eq!(station.setup.music_dir, outside.canonicalize().unwrap());

    // kubo_api: another machine only with allow_remote_kubo, and the form says why.
    let out = console
        .settings_apply(&form(&[(
            "streaming.config.json",
            "kubo_api",
            "http://192.0.2.7:5001",
        )]))
        .unwrap();
    assert!(!out.applied);
    let e = out.errors.iter().find(|e| e.key == "kubo_api").unwrap();
    assert!(
        e.message.contains("admin access") && e.message.contains("allow_remote_kubo"),
        "{e:?}"
    );
    let fields = console.settings().unwrap();
    let allow = fields
        .iter()
        .find(|f| f.spec.key == "allow_remote_kubo")
        .unwrap();
    assert_eq!(allow.value, "false");
    assert!(
        allow.spec.help.contains("admin access"),
        "{}",
        allow.spec.help
    );
    let out = console
        .settings_apply(&form(&[
            ("streaming.config.json", "kubo_api", "http://192.0.2.7:5001"),
            ("streaming.config.json", "allow_remote_kubo", "true"),
        ]))
        .unwrap();
    assert!(out.applied, "{:?}", out.errors);
    assert!(console.station().unwrap().streaming.allow_remote_kubo);
    // A hand-edited file with a remote API and no allow_remote_kubo is named too.
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"allow_remote_kubo": false}),
    );
    let e = ipfs_station::station::Station::open(&st)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kubo_api") && e.contains("allow_remote_kubo"),
        "{e}"
    );
}

/// Issue 11: what the console gets of a dropped folder holding a playlist and a name
/// that is not UTF-8 serializes (the page's JSON), each refused with its reason.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_of_odd_names_and_playlists_refuses_each_and_serializes() {
    use ipfs_station::console::Console;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), "http://127.0.0.1:9");
    let (emit, _seen) = capture();
    let console = Console::new(&st, tokio::runtime::Handle::current(), emit);
    let folder = tmp.path().join("album");
    gen_audio(
        &folder.join("good.ogg"),
        "sine=frequency=500",
        1.0,
        &["-c:a", "libvorbis"],
    );
    std::fs::write(folder.join("album.m3u8"), "#EXTM3U\ngood.ogg\n").unwrap();
    std::fs::write(folder.join("album.cue"), "FILE \"good.ogg\" WAVE\n").unwrap();
    std::fs::copy(
        folder.join("good.ogg"),
        folder.join(std::ffi::OsStr::from_bytes(b"bad \xff name.ogg")),
    )
    .unwrap();
    console.allow_paths(std::slice::from_ref(&folder));
    let r = console
        .add(ItemKind::Track, vec![folder.clone()])
        .await
        .unwrap();
    let json = serde_json::to_string(&r).expect("the import report serializes");
    assert_eq!(r.added.len(), 1, "{json}");
    for (what, why) in [
        ("album.m3u8", "playlist"),
        ("album.cue", "playlist"),
        ("bad \u{fffd} name.ogg", "UTF-8"),
    ] {
        assert!(
            r.refused
                .iter()
                .any(|x| x.path.to_string_lossy().ends_with(what) && x.reason.contains(why)),
            "{what}: {json}"
        );
    }
    // A lossy name sent back by the page is refused with the reason, not a crash.
    let lossy = folder.join("bad \u{fffd} name.ogg");
    let r = console.add(ItemKind::Track, vec![lossy]).await.unwrap();
    assert!(r.refused[0].reason.contains("UTF-8"), "{:?}", r.refused);
    let view = console.library().unwrap();
    serde_json::to_string(&view).unwrap();
}

/// Issue 11: bounded growth. The trash keeps `trash_retention_days` (by the time the
/// removal wrote into each name, not the source's own modification time), the library
/// overview reports its size, and housekeeping sweeps the temp files of interrupted
/// atomic writes (older than a minute) from every folder the station writes.
#[test]
fn trash_retention_trash_size_and_stale_temps() {
    use ipfs_station::library::catalog;
    use ipfs_station::station::housekeeping;
    let tmp = tempfile::tempdir().unwrap();
    let st = console_station(tmp.path(), "http://127.0.0.1:9");
    let station = Station::open(&st).unwrap();
    let now = chrono::Utc::now();
    let trash = st.join("trash");
    std::fs::create_dir_all(&trash).unwrap();
    let day = 86_400;
    let old = trash.join(format!("{}-old song.ogg", now.timestamp() - 31 * day));
    let old2 = trash.join(format!("{}-2-old song.ogg", now.timestamp() - 40 * day));
    let recent = trash.join(format!("{}-recent.ogg", now.timestamp() - 2 * day));
    let theirs = trash.join("put here by hand.ogg");
    for (p, n) in [(&old, 1000), (&old2, 500), (&recent, 200), (&theirs, 50)] {
        std::fs::write(p, vec![0u8; n]).unwrap();
    }
    let view = catalog::overview(&station).unwrap();
    assert_eq!(
        view.trash,
        catalog::TrashInfo {
            files: 4,
            bytes: 1750,
            retention_days: Some(30)
        }
    );
    // Stale temp files in the folders the station writes, and a fresh one.
    let item = st.join("data/processed/items/t-1");
    std::fs::create_dir_all(&item).unwrap();
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let mut stale = Vec::new();
    for dir in [
        st.clone(),
        st.join("data/state"),
        st.join("data/processed"),
        item.clone(),
    ] {
        let p = dir.join(".tmp-Xy12ab");
        std::fs::write(&p, b"half a file").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        stale.push(p);
    }
    let fresh = st.join("data/state/.tmp-inflight");
    std::fs::write(&fresh, b"being written").unwrap();
    let h = housekeeping::before_setup(&station, now);
    let mut removed = h.temps_removed.clone();
    removed.sort();
    stale.sort();
    assert_eq!(removed, stale);
    assert!(fresh.exists());
    let mut gone = vec![old.clone(), old2.clone()];
    gone.sort();
    assert_eq!(h.trash_removed, gone);
    assert!(!old.exists() && !old2.exists() && recent.exists() && theirs.exists());
    assert!(h.errors.is_empty(), "{:?}", h.errors);
    assert_eq!(catalog::overview(&station).unwrap().trash.files, 2);
    // 0 keeps the trash forever.
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"trash_retention_days": 0}),
    );
    let station = station.reload().unwrap();
    let later = now + chrono::Duration::days(3650);
    assert!(catalog::expire_trash(&station, later).unwrap().is_empty());
    assert_eq!(
        catalog::overview(&station).unwrap().trash.retention_days,
        None
    );
}
