//! `station setup` end to end with real ffmpeg on generated audio, against Kubo.

use crate::support::*;
use ipfs_station::library::ItemKind;
use ipfs_station::setup::manifest::{self, Manifest};
use ipfs_station::setup::{self, SetupReport};
use ipfs_station::station::Station;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs setup on the station in `st` (opened anew, as `station setup` does).
pub async fn run_setup(st: &Path) -> SetupReport {
    let station = Station::open(st).unwrap();
    setup::run(&station, Arc::new(|_| {})).await.unwrap()
}

#[tokio::test]
async fn setup_prechunks_adds_and_writes_the_rotation() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let before: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(st.join("music"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!((r.tracks, r.jingles, r.encoded, r.reused), (4, 2, 6, 0));
    assert!(
        r.add_requests >= 1 && r.add_requests < r.segments_added,
        "batched: {r:?}"
    );
    let processed = st.join("data/processed");
    let m = Manifest::load(&processed).unwrap();
    let kubo = client(&node.api_url());
    let pins = kubo.pins().await.unwrap();
    for it in &m.items {
        assert!(
            (it.duration - if it.kind == ItemKind::Track { 5.0 } else { 1.5 }).abs() < 0.2,
            "{}: {}",
            it.id,
            it.duration
        );
        for s in &it.segments {
            let cid = s.cid.as_ref().unwrap();
            assert!(pins.contains(cid), "{cid} pinned");
            let local = std::fs::read(processed.join("items").join(&it.id).join(&s.file)).unwrap();
            assert_eq!(local.len() as u64, s.bytes);
            assert_eq!(
                kubo.cat(&format!("/ipfs/{cid}")).await.unwrap(),
                local,
                "CID content matches the file"
            );
        }
    }
    let t: Vec<&str> = m
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Track)
        .map(|i| i.title.as_str())
        .collect();
    assert_eq!(t, ["Song 0", "Song 1", "Song 2", "Song 3"]);
    assert_eq!(m.items[0].artist.as_deref(), Some("Artist 0"));
    // Rotation: J1, T1..T3, J2, T4.
    let ids = manifest::load_playlist(&processed).unwrap();
    let kinds: Vec<String> = ids
        .iter()
        .map(|id| m.item(id).unwrap().display_title())
        .collect();
    assert_eq!(
        kinds,
        [
            "a-id",
            "Artist 0 - Song 0",
            "Artist 1 - Song 1",
            "Artist 2 - Song 2",
            "b-id",
            "Artist 3 - Song 3"
        ]
    );
    // Sources untouched.
    for (p, b) in before {
        assert_eq!(std::fs::read(&p).unwrap(), b, "{} modified", p.display());
    }
}

#[tokio::test]
async fn config_changes_redo_exactly_what_they_should() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    run_setup(&st).await;
    let processed = st.join("data/processed");
    let m1 = Manifest::load(&processed).unwrap();
    // jingle_cycle: only the playlist changes.
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"jingle_cycle": 1}),
    );
    let r = run_setup(&st).await;
    assert_eq!((r.encoded, r.reused, r.segments_added), (0, 6, 0), "{r:?}");
    assert!(r.playlist_written);
    let m2 = Manifest::load(&processed).unwrap();
    assert_eq!(m1.items, m2.items);
    assert_eq!(manifest::load_playlist(&processed).unwrap().len(), 8);
    // bitrate: everything is encoded and added again.
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"bitrate": "96k"}),
    );
    let r = run_setup(&st).await;
    assert_eq!((r.encoded, r.reused), (6, 0), "{r:?}");
    assert!(r.segments_added > 0);
    // A renamed source is not encoded again; a removed one leaves manifest and items/.
    let music = st.join("music");
    std::fs::rename(
        music.join("Artist 0 - Song 0.ogg"),
        music.join("renamed.ogg"),
    )
    .unwrap();
    std::fs::remove_file(music.join("Artist 3 - Song 3.ogg")).unwrap();
    let gone = Manifest::load(&processed)
        .unwrap()
        .items
        .iter()
        .find(|i| i.title == "Song 3")
        .unwrap()
        .id
        .clone();
    let r = run_setup(&st).await;
    assert_eq!((r.encoded, r.reused), (0, 5), "{r:?}");
    assert_eq!(r.removed, vec![gone.clone()]);
    assert!(!processed.join("items").join(&gone).exists());
    assert!(music.join("renamed.ogg").exists());
}

#[tokio::test]
async fn kubo_down_during_setup_loses_no_work() {
    // Fault injection needs the double, also where a real Kubo is installed.
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &double.api_url());
    double.faults().set_down(true).await;
    let r = run_setup(&st).await;
    assert_eq!(r.encoded, 6);
    assert!(!r.ok());
    let e = r.kubo_error.clone().unwrap();
    assert!(
        e.contains("no Kubo answers") && e.contains("ipfs daemon"),
        "{e}"
    );
    assert!(r.missing_cids > 0);
    assert_eq!(
        manifest::load_playlist(&st.join("data/processed"))
            .unwrap()
            .len(),
        6
    );
    double.faults().set_down(false).await;
    let r = run_setup(&st).await;
    assert_eq!((r.encoded, r.reused), (0, 6), "{r:?}");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.missing_cids, 0);
}

#[tokio::test]
async fn no_tracks_is_a_clear_error() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    test_support::init_station(&st);
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": node.api_url()}),
    );
    let station = Station::open(&st).unwrap();
    let e = setup::run(&station, Arc::new(|_| {}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no tracks"), "{e}");
}

/// An error in the middle of `add`'s reply (the `X-Stream-Error` trailer, go-ipfs-cmds
/// http/responseemitter.go) is seen, and that add is tried again: setup ends with every
/// segment added and pinned.
#[tokio::test]
async fn a_mid_stream_error_on_add_is_seen_and_retried() {
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &double.api_url());
    // The first add stops after two lines with Kubo's error in the trailer.
    double
        .faults()
        .set_stream_error_times("add", 2, "blockstore: write failed: no space left", 1);
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.missing_cids, 0);
    // Each item is added as it lands (so it can go on air before the rest): one add per
    // item, and the one that failed went through the second time.
    let items = r.tracks + r.jingles;
    assert_eq!(
        r.add_requests,
        items + 1,
        "one add per item, the failed one tried once more: {r:?}"
    );
    // And one more for the library root's `.station` file (setup::pins).
    assert_eq!(double.add_requests(), items + 2);
    let m = Manifest::load(&st.join("data/processed")).unwrap();
    // Pinned through the library root (`pin/ls?type=all` lists them as indirect).
    let pins = client(&double.api_url()).pins().await.unwrap();
    for s in m.items.iter().flat_map(|i| &i.segments) {
        assert!(
            pins.contains(s.cid.as_ref().unwrap()),
            "{} not pinned",
            s.file
        );
    }
    // Without the retry the trailer is still seen: a lasting fault is reported.
    double
        .faults()
        .set_stream_error("add", 1, Some("blockstore: write failed".into()));
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"bitrate": "96k"}),
    );
    let r = run_setup(&st).await;
    let e = r.kubo_error.unwrap();
    assert!(
        e.contains("X-Stream-Error") && e.contains("blockstore: write failed"),
        "{e}"
    );
}

/// `station setup` killed (`kill -9`, its ffmpeg children with it) at twenty points of
/// its run while the library changes between runs (issue 11): after every kill the
/// processed folder is the old library or the new one, never a rotation naming an item
/// the manifest lacks; a setup after the last kill repairs everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_killed_at_random_points_leaves_a_loadable_folder_and_the_next_repairs_it() {
    use std::os::unix::process::CommandExt;
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let processed = st.join("data/processed");
    // A fixed pseudo-random sequence of kill times (0 to 2.5 s), reproducible.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 2500
    };
    let mut loaded = 0;
    for round in 0..20 {
        // The library changes: a track comes and goes, the jingle cycle changes.
        let extra = st.join(format!("music/Extra {}.ogg", round % 3));
        if round % 2 == 0 {
            gen_audio(
                &extra,
                &format!("sine=frequency={}", 700 + round * 10),
                4.0,
                &["-c:a", "libvorbis"],
            );
        } else {
            for i in 0..3 {
                let _ = std::fs::remove_file(st.join(format!("music/Extra {i}.ogg")));
            }
        }
        patch_config(
            &st,
            "setup.config.json",
            serde_json::json!({"jingle_cycle": 1 + round % 3}),
        );
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_station"))
            .args(["setup", "--quiet", "--station"])
            .arg(&st)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(next())).await;
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        // Old or new library: whatever is on disk loads, or nothing was written yet.
        if processed.join("playlist.m3u").exists() {
            ipfs_station::air::streamer::load_programme(&processed, false).unwrap_or_else(|e| {
                panic!("round {round}: the processed folder does not load: {e}")
            });
            loaded += 1;
        }
    }
    assert!(loaded >= 10, "only {loaded} of 20 kills left a programme");
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    let (p, _) = ipfs_station::air::streamer::load_programme(&processed, true).unwrap();
    let m = Manifest::load(&processed).unwrap();
    assert_eq!(m.items.len(), r.tracks + r.jingles, "no item left behind");
    assert_eq!(p.default_rotation().entries.len(), r.rotation_len);
    let station = Station::open(&st).unwrap();
    let lib = ipfs_station::library::catalog::overview(&station).unwrap();
    assert!(lib
        .tracks
        .iter()
        .chain(&lib.jingles)
        .all(|r| r.status == ipfs_station::library::catalog::ItemStatus::Ready));
}
