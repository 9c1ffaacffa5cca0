//! What the console does through the engine: import with per-file refusals, the library
//! overview with statuses, removal to the trash, setting impacts, the managed Kubo.

use crate::setup::small_station;
use crate::support::*;
use ipfs_station::console::settings;
use ipfs_station::kubo::node::{self, ManagedKubo};
use ipfs_station::library::catalog::{self, ItemStatus};
use ipfs_station::library::ItemKind;
use ipfs_station::setup::manifest::{self, Manifest};
use ipfs_station::station::config::{SetupConfig, SETUP_FILE};
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
    ipfs_station::station::init(&st).unwrap();
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
    let cfg = SetupConfig::load(&st).unwrap();

    let r = catalog::import(
        &cfg,
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
    for name in ["notes.txt", "cover.jpg"] {
        let (_, why) = refused.iter().find(|(n, _)| n == name).unwrap();
        assert!(why.starts_with("not usable audio"), "{name}: {why}");
    }
    assert!(refused
        .iter()
        .any(|(n, why)| n == "missing.ogg" && why.contains("cannot read")));

    // The same content again is refused; other content under a taken name gets " (2)".
    let r = catalog::import(&cfg, ItemKind::Track, &[src.join("one.ogg")]).unwrap();
    assert!(r.added.is_empty());
    assert!(
        r.refused[0].reason.contains("already in the library"),
        "{:?}",
        r.refused
    );
    let other = tmp.path().join("other/one.ogg");
    gen_audio(&other, "sine=frequency=660", 1.0, &["-c:a", "libvorbis"]);
    let r = catalog::import(&cfg, ItemKind::Jingle, std::slice::from_ref(&other)).unwrap();
    assert_eq!(r.added[0].to, cfg.jingles_dir.join("one.ogg"));
    let r = catalog::import(&cfg, ItemKind::Track, &[other]).unwrap();
    assert_eq!(r.added[0].to, cfg.music_dir.join("one (2).ogg"));
    // A file already inside the library is not copied onto itself.
    let r = catalog::import(&cfg, ItemKind::Track, &[cfg.music_dir.join("one.ogg")]).unwrap();
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
    let cfg = SetupConfig::load(&st).unwrap();

    // Before setup: everything pending.
    let v = catalog::overview(&st, &cfg).unwrap();
    assert_eq!(v.tracks.len(), 5);
    assert!(v
        .tracks
        .iter()
        .all(|r| r.status == ItemStatus::Pending && r.id.is_none()));

    let report = catalog::run_setup(&st, &cfg, Arc::new(|_| {}))
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 1);
    let v = catalog::overview(&st, &cfg).unwrap();
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
    let removed = catalog::remove(&st, &cfg, &victim.source).unwrap();
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
        catalog::remove(&st, &cfg, &outside).unwrap_err().code(),
        "bad_source"
    );
    for r in catalog::overview(&st, &cfg)
        .unwrap()
        .tracks
        .iter()
        .filter(|r| r.status == ItemStatus::Ready)
        .skip(1)
    {
        catalog::remove(&st, &cfg, &r.source).unwrap();
    }
    let last = catalog::overview(&st, &cfg)
        .unwrap()
        .tracks
        .into_iter()
        .find(|r| r.status == ItemStatus::Ready)
        .unwrap();
    let e = catalog::remove(&st, &cfg, &last.source)
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
    let cfg = SetupConfig::load(&st).unwrap();
    let report = catalog::run_setup(&st, &cfg, Arc::new(|_| {}))
        .await
        .unwrap();
    assert!(report.kubo_error.is_some());
    let v = catalog::overview(&st, &cfg).unwrap();
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

/// A stand-in `ipfs` program: records its calls, and its `daemon` runs until the test
/// sees the RPC `shutdown` and touches `stop` (the RPC itself is an in-process double on
/// the configured port).
const FAKE_IPFS: &str = r#"#!/bin/sh
echo "$*" >> "$IPFS_PATH.calls"
case "$1" in
  init) mkdir -p "$IPFS_PATH" && echo '{}' > "$IPFS_PATH/config" ;;
  config) echo "$3" > "$IPFS_PATH/$2" ;;
  daemon) while [ ! -f "$IPFS_PATH/stop" ]; do sleep 0.05; done; echo "daemon stopped" ;;
esac
"#;

#[tokio::test]
async fn managed_kubo_inits_its_repo_on_loopback_and_stops_with_the_shutdown_command() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    ipfs_station::station::init(&st).unwrap();
    let ipfs = tmp.path().join("bin/ipfs");
    std::fs::create_dir_all(ipfs.parent().unwrap()).unwrap();
    std::fs::write(&ipfs, FAKE_IPFS).unwrap();
    std::fs::set_permissions(&ipfs, std::fs::Permissions::from_mode(0o755)).unwrap();

    let double = kubo_double::KuboDouble::start().await.unwrap();
    let api = double.api_url();
    let port = api.rsplit(':').next().unwrap().to_string();
    let repo = st.join(node::MANAGED_REPO_DIR);
    let stop_file = repo.join("stop");
    let watcher = {
        let stop_file = stop_file.clone();
        async move {
            double.shutdown_requested().await;
            std::fs::write(&stop_file, b"").unwrap();
            double
        }
    };
    let watcher = tokio::spawn(watcher);

    let k = ManagedKubo::start_with(&ipfs, &st, &api, "http://127.0.0.1:18080")
        .await
        .unwrap();
    let calls = std::fs::read_to_string(format!("{}.calls", repo.display())).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(
        lines,
        [
            "init".to_string(),
            format!("config Addresses.API /ip4/127.0.0.1/tcp/{port}"),
            "config Addresses.Gateway /ip4/127.0.0.1/tcp/18080".to_string(),
            format!("config Ipns.MaxCacheTTL {}", node::MANAGED_MAX_CACHE_TTL),
            "daemon".to_string(),
        ]
    );
    let pid_file = st.join("data/state").join(node::MANAGED_PID_FILE);
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        k.pid().to_string()
    );
    let st_now = node::status(
        &api,
        "http://127.0.0.1:18080",
        std::time::Duration::from_secs(3),
    )
    .await;
    assert!(st_now.reachable && st_now.peer_id.is_some(), "{st_now:?}");

    let t = std::time::Instant::now();
    k.stop().await.unwrap();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "stopped by shutdown, not by the kill fallback"
    );
    assert!(!pid_file.exists());
    assert!(std::fs::read_to_string(st.join("data/state/kubo.log"))
        .unwrap()
        .contains("daemon stopped"));
    watcher.await.unwrap().shutdown().await;

    // A non-loopback API is refused before anything runs.
    let e = ManagedKubo::start_with(&ipfs, &st, "http://0.0.0.0:5001", "http://127.0.0.1:18080")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
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
    assert!(s.help.as_deref().is_some_and(|h| h.contains("ipfs daemon")));
}

#[tokio::test]
async fn timeline_and_live_window_follow_a_streamer_started_as_its_own_process() {
    use ipfs_station::air::onair::{self, Role};
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let cfg = SetupConfig::load(&st).unwrap();
    catalog::run_setup(&st, &cfg, Arc::new(|_| {}))
        .await
        .unwrap();

    // Off air: the rotation from now, back to back, 4 tracks then... a jingle first.
    let now = chrono::Utc::now();
    let blocks = onair::timeline(&st, now, 0.5, None).unwrap();
    assert_eq!(blocks[0].start_ms, now.timestamp_millis());
    assert_eq!(blocks[0].kind, ItemKind::Jingle);
    for w in blocks.windows(2) {
        let end = w[0].start_ms + (w[0].duration * 1000.0) as i64;
        assert!((w[1].start_ms - end).abs() <= 1, "gapless: {w:?}");
    }
    assert!(blocks.last().unwrap().start_ms < now.timestamp_millis() + 1_800_000);
    let jingles =
        |b: &[onair::TimelineBlock]| b.iter().filter(|x| x.kind == ItemKind::Jingle).count();
    let every1 = onair::timeline(&st, now, 0.5, Some(1)).unwrap();
    assert!(
        jingles(&every1) > jingles(&blocks),
        "a shorter cycle plays more jingles"
    );

    // On air through the `station` program: the live window and the timeline follow it.
    let bin = Path::new(env!("CARGO_BIN_EXE_station"));
    let pid = onair::start(&st, bin, Role::Stream).unwrap();
    assert_eq!(
        onair::start(&st, bin, Role::Stream).unwrap(),
        pid,
        "one streamer per station"
    );
    let t = std::time::Instant::now();
    let window = loop {
        if let Some(w) = onair::live_window(&st, chrono::Utc::now()).unwrap() {
            break w;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "no live.m3u8"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(window.segments.len(), 12);
    assert_eq!(window.segments.iter().filter(|s| s.live).count(), 1);
    assert_eq!(window.segments.iter().filter(|s| s.lookahead).count(), 3);
    assert!(window.segments[0].discontinuity || window.segments.iter().any(|s| s.discontinuity));
    for (i, s) in window.segments.iter().enumerate() {
        assert_eq!(s.media_sequence, window.media_sequence + i as u64);
        assert!(s.uri.starts_with("/ipfs/"));
    }
    let state = ipfs_station::air::streamer::StreamState::load(&st.join("data/state")).unwrap();
    let on_air = onair::timeline(&st, chrono::Utc::now(), 0.25, None).unwrap();
    let np = state.now_playing.unwrap();
    assert_eq!(
        on_air[0].id, np.item_id,
        "the timeline starts with the item on air"
    );
    assert_eq!(on_air[0].start_ms, np.air_time.timestamp_millis());

    assert!(onair::stop(&st, Role::Stream, std::time::Duration::from_secs(15)).unwrap());
    assert!(!onair::pid_alive(pid));
    assert!(onair::running(&st, Role::Stream).is_none());
    let log = std::fs::read_to_string(st.join("data/state/stream.log")).unwrap();
    assert!(
        log.contains("Off air."),
        "stopped cleanly by SIGTERM: {log}"
    );
    assert!(!onair::stop(&st, Role::Stream, std::time::Duration::from_secs(1)).unwrap());

    // A stream started by hand (no pid file) is found through its heartbeat, so Go live
    // never starts a second streamer, and Stop stops it.
    let mut by_hand = std::process::Command::new(bin)
        .args(["stream", "--station"])
        .arg(&st)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while onair::running(&st, Role::Stream) != Some(by_hand.id()) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "hand-started stream not found"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(onair::start(&st, bin, Role::Stream).unwrap(), by_hand.id());
    assert!(onair::stop(&st, Role::Stream, std::time::Duration::from_secs(15)).unwrap());
    assert!(by_hand.wait().unwrap().success());
}
