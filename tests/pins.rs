//! A station's pins are its own (issue 18): each library version is ONE pinned root, an
//! earlier root is unpinned an hour after it was replaced (later while the streamer still
//! airs it), setup never unpins a single segment, so two stations on one Kubo that share
//! the bundled jingles keep each other's segments, and an older station's per-segment
//! pins are migrated.
//!
//! Kubo behaviour relied on, as the double models it from Kubo's source: `add` with
//! `wrap-with-directory` pins only the wrapper (core/coreunix/add.go `PinRoot`);
//! `pin/ls?type=all` lists the blocks under recursive pins as `indirect`
//! (core/coreapi/pin.go `pinLsAll`); `pin/rm` of a CID pinned only indirectly is
//! refused (`not pinned or pinned indirectly`, core/coreapi/pin.go `Rm`).

use crate::setup::run_setup;
use crate::support::*;
use ipfs_station::setup::manifest::Manifest;
use ipfs_station::setup::pins::{self, LibraryPins};
use ipfs_station::setup::retire::RETIRE_AFTER;
use ipfs_station::station::state::{StateDir, LIBRARY_PINS_FILE};
use std::collections::HashSet;
use std::path::Path;

fn library_pins(st: &Path) -> LibraryPins {
    pins::load(&StateDir::new(st.join("data/state")))
}

/// Dates every earlier root of the station at `st` an hour and a minute back.
fn age_retired_roots(st: &Path) {
    let file = st.join("data/state").join(LIBRARY_PINS_FILE);
    let mut p: LibraryPins = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(!p.retired_roots.is_empty(), "{p:?}");
    for at in p.retired_roots.values_mut() {
        *at = *at - RETIRE_AFTER - chrono::Duration::minutes(1);
    }
    std::fs::write(&file, serde_json::to_vec(&p).unwrap()).unwrap();
}

fn segment_cids(st: &Path) -> Vec<String> {
    Manifest::load(&st.join("data/processed"))
        .unwrap()
        .segment_cids()
        .map(str::to_string)
        .collect()
}

/// A track removed from the library: the new version is a new root; the old root (which
/// holds the removed track's segments) stays pinned for its hour and past it while the
/// streamer still airs one of them, then it is unpinned. The library's segments stay
/// pinned through the new root and none has a pin of its own; the operator's own pin is
/// never touched.
#[tokio::test]
async fn a_library_version_is_one_root_and_the_old_root_goes_an_hour_later_unless_on_air() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    assert!(r.pin_error.is_none(), "{r:?}");
    assert!(r.library_pins.new_root, "{r:?}");
    let first = library_pins(&st);
    let root1 = first.root.clone().unwrap().cid;
    assert!(first.batches.is_empty(), "add wrappers unpinned: {first:?}");
    let kubo = client(&node.api_url());
    let recursive = kubo.recursive_pins().await.unwrap();
    let all = kubo.pins().await.unwrap();
    let cids = segment_cids(&st);
    assert!(recursive.contains(&root1));
    for c in &cids {
        assert!(all.contains(c), "{c} pinned through the root");
        assert!(!recursive.contains(c), "{c} has a pin of its own");
    }
    // One root and the station's tiny `.station` file: two pins for the whole library.
    assert_eq!(recursive.len(), 2, "{recursive:?}");
    let own = kubo
        .add_bytes("mine.txt", b"not the station's".to_vec(), true)
        .await
        .unwrap();

    // Nothing changed: the same root, no new pin.
    let r = run_setup(&st).await;
    assert!(!r.library_pins.new_root, "{r:?}");
    assert_eq!(library_pins(&st).root.unwrap().cid, root1);

    let processed = st.join("data/processed");
    let gone = Manifest::load(&processed)
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.title == "Song 1")
        .unwrap();
    let gone_cids: Vec<String> = gone
        .segments
        .iter()
        .map(|s| s.cid.clone().unwrap())
        .collect();
    std::fs::remove_file(&gone.source).unwrap();
    let r = run_setup(&st).await;
    assert_eq!(r.removed, std::slice::from_ref(&gone.id), "{r:?}");
    let p = library_pins(&st);
    let root2 = p.root.clone().unwrap().cid;
    assert_ne!(root2, root1);
    assert!(p.retired_roots.contains_key(&root1), "{p:?}");
    let all = kubo.pins().await.unwrap();
    assert!(
        gone_cids.iter().all(|c| all.contains(c)),
        "pinned for the hour still"
    );

    // An hour on, the streamer still airs one of the removed segments: the old root stays.
    age_retired_roots(&st);
    let state = st.join("data/state");
    std::fs::write(
        state.join("stream_state.json"),
        serde_json::json!({"site_segments": [{"sequence": 7, "cid": gone_cids[0],
            "end": "2026-12-01T00:00:00Z"}]})
        .to_string(),
    )
    .unwrap();
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(
        (r.library_pins.roots_unpinned, r.library_pins.roots_waiting),
        (0, 1),
        "{r:?}"
    );
    assert!(kubo.recursive_pins().await.unwrap().contains(&root1));

    // Off air: the old root goes, with the removed track's segments; the library stays.
    std::fs::remove_file(state.join("stream_state.json")).unwrap();
    let r = run_setup(&st).await;
    assert_eq!(
        (r.library_pins.roots_unpinned, r.library_pins.roots_waiting),
        (1, 0),
        "{r:?}"
    );
    let all = kubo.pins().await.unwrap();
    assert!(!all.contains(&root1));
    for c in &gone_cids {
        assert!(
            !all.contains(c),
            "{c} of the removed track is no longer pinned"
        );
    }
    for c in segment_cids(&st) {
        assert!(all.contains(&c), "the library's segment {c} stays pinned");
    }
    assert!(all.contains(&own), "the operator's own pin stays");
}

/// Two stations on one Kubo share the bundled jingles (the same segment CIDs). Station A
/// removes one and its cleanup runs after the retire delay: every segment of station B
/// is still pinned.
#[tokio::test]
async fn two_stations_on_one_kubo_keep_each_others_shared_segments() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut stations = Vec::new();
    for (name, tone) in [("a", 330), ("b", 440)] {
        let st = tmp.path().join(name);
        init_station(&st);
        patch_config(
            &st,
            "setup.config.json",
            serde_json::json!({"segment_duration": 2, "jobs": 2}),
        );
        patch_config(
            &st,
            "streaming.config.json",
            serde_json::json!({"kubo_api": node.api_url()}),
        );
        gen_audio(
            &st.join(format!("music/Tone {tone}.ogg")),
            &format!("sine=frequency={tone}"),
            4.0,
            &["-c:a", "libvorbis"],
        );
        let r = run_setup(&st).await;
        assert!(r.ok() && r.pin_error.is_none(), "{name}: {r:?}");
        stations.push(st);
    }
    let (a, b) = (&stations[0], &stations[1]);
    let b_cids = segment_cids(b);
    let shared: HashSet<&String> = segment_cids(a)
        .iter()
        .filter(|c| b_cids.contains(c))
        .map(|c| b_cids.iter().find(|x| x == &c).unwrap())
        .collect();
    assert!(
        shared.len() >= 3,
        "the bundled jingles are the same segments on both stations: {shared:?}"
    );
    let (ra, rb) = (
        library_pins(a).root.unwrap().cid,
        library_pins(b).root.unwrap().cid,
    );
    assert_ne!(ra, rb, "each station pins its own root");

    // Station A removes a jingle, and its cleanup runs after the retire delay.
    let jingle = std::fs::read_dir(a.join("jingles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ogg"))
        .unwrap();
    std::fs::remove_file(&jingle).unwrap();
    let r = run_setup(a).await;
    assert!(r.library_pins.new_root, "{r:?}");
    age_retired_roots(a);
    let r = run_setup(a).await;
    assert_eq!(r.library_pins.roots_unpinned, 1, "{r:?}");
    assert!(r.pin_error.is_none(), "{r:?}");

    let kubo = client(&node.api_url());
    let all = kubo.pins().await.unwrap();
    assert!(!all.contains(&ra), "A's old root is gone");
    for c in &b_cids {
        assert!(all.contains(c), "station B's segment {c} is still pinned");
    }
    for c in segment_cids(a) {
        assert!(all.contains(&c), "station A's segment {c} is still pinned");
    }
}

/// A station set up by an older version holds one pin per segment: the first run of
/// this version pins its root and removes those pins, once; the segments stay pinned.
#[tokio::test]
async fn per_segment_pins_of_an_older_version_are_migrated_to_the_root() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    // What an older version left: every segment pinned on its own, no library_pins.json.
    let kubo = client(&node.api_url());
    let root = library_pins(&st).root.unwrap().cid;
    let cids = segment_cids(&st);
    for c in &cids {
        kubo.pin_add(c, "").await.unwrap();
    }
    kubo.unpin(&root).await.unwrap();
    std::fs::remove_file(st.join("data/state").join(LIBRARY_PINS_FILE)).unwrap();
    let recursive = kubo.recursive_pins().await.unwrap();
    assert!(cids.iter().all(|c| recursive.contains(c)));

    let r = run_setup(&st).await;
    assert!(r.ok() && r.pin_error.is_none(), "{r:?}");
    let distinct: HashSet<&String> = cids.iter().collect();
    assert_eq!(r.library_pins.migrated_pins, distinct.len(), "{r:?}");
    let recursive = kubo.recursive_pins().await.unwrap();
    let all = kubo.pins().await.unwrap();
    for c in &cids {
        assert!(!recursive.contains(c), "{c}: its own pin was migrated");
        assert!(all.contains(c), "{c} stays pinned through the root");
    }
    let r = run_setup(&st).await;
    assert_eq!(r.library_pins.migrated_pins, 0, "once: {r:?}");
}
