//! Programming (issue 13) as an operator meets it: `station stream` on a library that is
//! not prechunked goes on air in seconds and ends on the full rotation, the RFC 8216
//! series valid throughout; the as-run log holds every aired item once across `kill -9`;
//! the streamer never goes silent when the library becomes unplayable; a schedule is
//! validated, set up, answered by `station schedule` and taken on air when edited.

use crate::support::*;
use ipfs_station::air::history::{self, AsRunEntry, HISTORY_FILE};
use ipfs_station::library::ItemKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn history_of(st: &Path) -> Vec<AsRunEntry> {
    let h = history::read(&st.join("data/state").join(HISTORY_FILE), None, None).unwrap();
    assert!(h.bad_lines.is_empty(), "bad lines {:?}", h.bad_lines);
    h.entries
}

/// Checks one published window against the previous ones (RFC 8216 sections 4.3.3.1 to
/// 4.3.3.3 and 6.2.1): fixed target duration, media sequence never going back,
/// segments only leaving from the front and unchanged while they stay, the
/// discontinuity sequence counting the tags that slid out.
#[derive(Default)]
struct Series {
    target: Option<u64>,
    last_sequence: u64,
    /// Every segment seen: media sequence -> (URI, duration, discontinuity).
    seen: BTreeMap<u64, (String, f32, bool)>,
    windows: usize,
    items: std::collections::HashSet<String>,
}

impl Series {
    fn check(&mut self, text: &[u8]) {
        let pl = m3u8_rs::parse_media_playlist_res(text).unwrap_or_else(|e| {
            panic!(
                "not a media playlist ({e:?}): {}",
                String::from_utf8_lossy(text)
            )
        });
        let target = *self.target.get_or_insert(pl.target_duration);
        assert_eq!(pl.target_duration, target, "target duration changed");
        assert!(
            pl.media_sequence >= self.last_sequence,
            "media sequence went back"
        );
        assert!(!pl.end_list, "a live playlist has no EXT-X-ENDLIST");
        for (i, s) in pl.segments.iter().enumerate() {
            let seq = pl.media_sequence + i as u64;
            assert!(
                (s.duration.round() as u64) <= target,
                "EXTINF over the target duration"
            );
            let now = (s.uri.clone(), s.duration, s.discontinuity);
            if let Some(before) = self.seen.get(&seq) {
                assert_eq!(before, &now, "segment {seq} changed while in the window");
            }
            self.seen.insert(seq, now);
            if let Some(t) = &s.title {
                self.items.insert(t.clone());
            }
        }
        let first = self.seen.keys().next().copied().unwrap_or(0);
        if pl.media_sequence > first && self.seen.contains_key(&(pl.media_sequence - 1)) {
            // Only countable when every earlier segment was seen.
            let contiguous = (first..pl.media_sequence).all(|s| self.seen.contains_key(&s));
            if contiguous && first == 0 {
                let slid = self
                    .seen
                    .range(..pl.media_sequence)
                    .filter(|(_, v)| v.2)
                    .count() as u64;
                assert_eq!(pl.discontinuity_sequence, slid, "discontinuity sequence");
            }
        }
        self.last_sequence = pl.media_sequence;
        self.windows += 1;
    }
}

/// A new library, nothing prechunked: `station stream` starts setup itself, is on air
/// (a published window) while setup still runs, takes the items as they land, and ends
/// on the rotation a full setup of the same library writes; every window published on
/// the way is a valid continuation of the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_on_a_new_library_is_on_air_in_seconds_and_ends_on_the_full_rotation() {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let make = |name: &str| -> PathBuf {
        let st = tmp.path().join(name);
        test_support::init_station_without_jingles(&st);
        patch_config(
            &st,
            "setup.config.json",
            serde_json::json!({"segment_duration": 2, "jingle_cycle": 3, "jobs": 1}),
        );
        patch_config(
            &st,
            "streaming.config.json",
            serde_json::json!({"kubo_api": node.api_url(), "window_size": 12, "lookahead_segments": 3, "update_interval": 0.5}),
        );
        st
    };
    let a = make("a");
    for i in 0..10 {
        gen_audio(
            &a.join(format!("music/Artist {i} - Song {i}.ogg")),
            &format!("sine=frequency={}", 220 + 40 * i),
            20.0,
            &["-c:a", "libvorbis"],
        );
    }
    for i in 0..2 {
        gen_audio(
            &a.join(format!("jingles/id-{i}.wav")),
            &format!("sine=frequency={}", 1000 + 100 * i),
            2.0,
            &[],
        );
    }
    // The same library in a second station, set up in full for comparison.
    let b = make("b");
    for dir in ["music", "jingles"] {
        for e in std::fs::read_dir(a.join(dir)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, b.join(dir).join(p.file_name().unwrap())).unwrap();
        }
    }

    let mut guard = ProcessGuard::new();
    let log = tmp.path().join("stream.log");
    let started = Instant::now();
    spawn_station(&a, &["stream"], &log, &mut guard);
    let state = a.join("data/state");
    let processed = a.join("data/processed");
    let mut series = Series::default();
    let mut on_air_at = None;
    let mut items_at_air = 0;
    let mut last_live = Vec::new();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "setup did not finish; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        if on_air_at.is_none() {
            if let Some(s) =
                stream_state(&a).filter(|s| s.last_publish.as_ref().is_some_and(|p| p.ok))
            {
                on_air_at = Some(started.elapsed());
                items_at_air = ipfs_station::setup::manifest::Manifest::load(&processed)
                    .map_or(0, |m| m.items.len());
                assert!(
                    !state.join("last_setup.json").exists(),
                    "on air only after setup ended"
                );
                assert!(s.now_playing.is_some());
            }
        }
        if let Ok(text) = std::fs::read(state.join("live.m3u8")) {
            if text != last_live {
                series.check(&text);
                last_live = text;
            }
        }
        if state.join("last_setup.json").exists() && on_air_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let setup_done_at = started.elapsed();
    let on_air_at = on_air_at.unwrap();
    assert!(
        items_at_air < 12,
        "on air with {items_at_air} of 12 items ready"
    );
    eprintln!(
        "on air after {:.1} s with {items_at_air} of 12 items; setup ended after {:.1} s",
        on_air_at.as_secs_f64(),
        setup_done_at.as_secs_f64()
    );
    // The full programme takes over at the next item boundary: within the longest item
    // (20 s) plus the lookahead the streamer had already scheduled (3 segments of 2 s)
    // after setup wrote it; a few more windows are checked on the way.
    let (full, _) = ipfs_station::air::streamer::load_programme(&processed, true).unwrap();
    let more = Instant::now();
    let mut taken_after = None;
    while more.elapsed() < Duration::from_secs(40) {
        if let Ok(text) = std::fs::read(state.join("live.m3u8")) {
            if text != last_live {
                series.check(&text);
                last_live = text;
            }
        }
        if taken_after.is_none()
            && stream_state(&a).is_some_and(|s| s.schedule.rotation_hash == full.hash())
        {
            taken_after = Some(more.elapsed());
        }
        if taken_after.is_some() && more.elapsed() >= Duration::from_secs(8) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let taken_after = taken_after.unwrap_or_else(|| {
        panic!(
            "the streamer did not take the full programme within 40 s of setup ending (20 s items); log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    eprintln!(
        "the full programme on air {:.1} s after setup ended",
        taken_after.as_secs_f64()
    );
    assert!(series.windows >= 6, "{} windows", series.windows);
    assert!(on_air_at < setup_done_at, "on air before setup ended");

    // The full rotation, the same as a full setup of the same library.
    let out = run_station(&b, &["setup", "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pa = std::fs::read_to_string(processed.join("playlist.m3u")).unwrap();
    let pb = std::fs::read_to_string(b.join("data/processed/playlist.m3u")).unwrap();
    assert_eq!(pa, pb, "the rotation a full setup writes");
    let last: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("last_setup.json")).unwrap()).unwrap();
    assert_eq!(last["rotation_len"], 14, "{last}");
    // Every item reached the air clock: the stream's programme is still the full one.
    let s = stream_state(&a).unwrap();
    assert_eq!(
        s.schedule.rotation_hash,
        full.hash(),
        "the streamer took the full programme"
    );
    let out = run_station(&a, &["stop"]);
    assert!(out.status.success());
}

/// Synthetic station (no encoding): a jingle of one 2 s segment and three tracks of two,
/// window 12, lookahead 6, a tick every 0.5 s.
async fn quick_station(root: &Path, api: &str) -> PathBuf {
    let st = root.join("st");
    test_support::init_station_without_jingles(&st);
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api, "window_size": 12, "lookahead_segments": 6, "update_interval": 0.5}),
    );
    patch_config(
        &st,
        "setup.config.json",
        serde_json::json!({"segment_duration": 2}),
    );
    let mut m = synthetic_processed(
        &st.join("data/processed"),
        &client(api),
        &[
            ("j-1", ItemKind::Jingle, &[2.0]),
            ("t-1", ItemKind::Track, &[2.0, 2.0]),
            ("t-2", ItemKind::Track, &[2.0, 2.0]),
            ("t-3", ItemKind::Track, &[2.0, 2.0]),
        ],
        &["j-1", "t-1", "t-2", "t-3"],
    )
    .await;
    m.segment_duration = 2.0;
    m.items[1].album = Some("First Album".into());
    m.items[1].isrc = Some("USRC17607839".into());
    m.save(&st.join("data/processed")).unwrap();
    st
}

/// The as-run log across a `kill -9` of the streamer: every item once, none lost (the
/// items that started while it was down, from the lookahead it had published, are
/// logged when it comes back), back to back, with the manifest's tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_as_run_log_holds_every_aired_item_once_across_kill_9() {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = quick_station(tmp.path(), &node.api_url()).await;
    let log = tmp.path().join("stream.log");
    let mut guard = ProcessGuard::new();
    let pid = spawn_station(&st, &["stream"], &log, &mut guard);
    wait_until(30, "three logged items", || history_of(&st).len() >= 3).await;
    // Killed without warning, down for 4 s (inside the 12 s lookahead it published).
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until(10, "the streamer to die", || !pid_alive(pid)).await;
    let before = history_of(&st).len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        history_of(&st).len(),
        before,
        "nothing logs while it is down"
    );
    spawn_station(&st, &["stream"], &log, &mut guard);
    wait_until(40, "more items after the restart", || {
        history_of(&st).len() >= before + 5
    })
    .await;
    let out = run_station(&st, &["stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let h = history_of(&st);
    for p in h.windows(2) {
        assert!(
            p[1].air_start > p[0].air_start,
            "once each, in order: {p:?}"
        );
        assert_eq!(
            p[1].air_start, p[0].air_end,
            "back to back, nothing lost: {p:?}"
        );
        assert_eq!(
            p[1].media_sequence,
            p[0].media_sequence + (p[0].duration / 2.0).round() as u64
        );
    }
    let order = ["j-1", "t-1", "t-2", "t-3"];
    let first = order.iter().position(|i| *i == h[0].item_id).unwrap();
    for (n, e) in h.iter().enumerate() {
        assert_eq!(e.item_id, order[(first + n) % 4], "rotation order");
        assert_eq!(e.block, "default");
        assert_eq!(e.title, format!("Title {}", e.item_id));
        assert_eq!(e.artist.as_deref(), Some("Artist"));
        if e.item_id == "t-1" {
            assert_eq!(e.album.as_deref(), Some("First Album"));
            assert_eq!(e.isrc.as_deref(), Some("USRC17607839"));
        }
        assert!((e.duration - if e.kind == ItemKind::Jingle { 2.0 } else { 4.0 }).abs() < 1e-6);
    }
    // The CSV royalty reports are made from: a header and a row per item.
    let out = run_station(&st, &["history", "--csv"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "air_start,air_end,duration,kind,title,artist,album,isrc,block,item_id,media_sequence"
    );
    assert_eq!(lines.count(), h.len());
    let since = h[2].air_start.to_rfc3339();
    let out = run_station(&st, &["history", "--json", "--since", &since]);
    let listed: Vec<AsRunEntry> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), h.len() - 2);
}

/// Every item removed from the library: setup refuses to write a programme without
/// tracks and leaves the one on air loadable. A processed folder that no longer loads
/// (a manifest torn by hand or by a disk): the streamer keeps the programme on air,
/// raises an alarm (status, health), and after a restart still goes on air with the last
/// good programme.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplayable_library_keeps_the_last_good_programme_on_air_with_an_alarm() {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = quick_station(tmp.path(), &node.api_url()).await;
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"gateways": [node.gateway_url()], "public_gateways": []}),
    );
    let log = tmp.path().join("stream.log");
    let mut guard = ProcessGuard::new();
    spawn_station(&st, &["stream"], &log, &mut guard);
    wait_for_a_publish(&st).await;
    // The synthetic items have no sources: a setup run finds the library empty.
    let out = run_station(&st, &["setup", "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tracks"));
    let processed = st.join("data/processed");
    ipfs_station::air::streamer::load_programme(&processed, true)
        .expect("a setup that found no tracks leaves the programme on air loadable");
    // Torn by something else than setup: the streamer cannot load the folder any more.
    let manifest = processed.join("manifest.json");
    let bytes = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &bytes[..bytes.len() / 2]).unwrap();
    let seq = stream_state(&st).unwrap().media_sequence;
    wait_until(30, "the alarm", || {
        stream_state(&st).is_some_and(|s| s.alarm.is_some())
    })
    .await;
    wait_until(20, "the stream to go on", || {
        stream_state(&st).is_some_and(|s| s.media_sequence > seq + 3)
    })
    .await;
    let s = stream_state(&st).unwrap();
    assert!(
        s.alarm.as_deref().unwrap().contains("cannot be loaded"),
        "{:?}",
        s.alarm
    );
    let out = run_station(&st, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALARM"), "{text}");
    let out = run_station(&st, &["health", "--once"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("programme:"), "{text}");

    // Restarted on the broken folder: on air with the saved programme, alarm raised.
    let out = run_station(&st, &["stop"]);
    assert!(out.status.success());
    let seq = stream_state(&st).unwrap().media_sequence;
    spawn_station(&st, &["stream"], &log, &mut guard);
    wait_until(30, "on air again", || {
        stream_state(&st).is_some_and(|s| {
            s.on_air && s.media_sequence > seq + 2 && s.last_publish.as_ref().is_some_and(|p| p.ok)
        })
    })
    .await;
    let s = stream_state(&st).unwrap();
    assert!(
        s.alarm.as_deref().unwrap().contains("last good programme"),
        "{:?}",
        s.alarm
    );
    let out = run_station(&st, &["stop"]);
    assert!(out.status.success());
}

/// A schedule as an operator writes it: set up (each block's own music), answered by
/// `station schedule`, refused with the block and field named when invalid (the
/// previous one stays), and taken on air at the next segment boundary when a hard block
/// covering now is saved while the station streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_set_up_answered_refused_when_invalid_and_hot_reloaded() {
    let node = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"update_interval": 0.5}),
    );
    std::fs::create_dir_all(st.join("music/night")).unwrap();
    for i in 0..2 {
        gen_audio(
            &st.join(format!("music/night/Night {i}.ogg")),
            &format!("sine=frequency={}", 300 + 50 * i),
            5.0,
            &["-c:a", "libvorbis"],
        );
    }
    let schedule = |text: &str| std::fs::write(st.join("schedule.json"), text).unwrap();
    schedule(
        r#"{"timezone": "UTC", "default": {"jingle_cycle": 3},
            "blocks": [{"name": "Night", "start": "22:00", "end": "06:00",
                        "music": ["music/night"], "jingle_cycle": 1, "hard": true}]}"#,
    );
    let out = run_station(&st, &["setup", "--quiet"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let processed = st.join("data/processed");
    let snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(processed.join("schedule.json")).unwrap()).unwrap();
    let night: Vec<String> = serde_json::from_value(snap["blocks"][0]["rotation"].clone()).unwrap();
    // Jingle, night track, jingle, night track: a jingle every track.
    assert_eq!(night.len(), 4, "{night:?}");
    assert!(night[0].starts_with("j-") && night[1].starts_with("t-") && night[2].starts_with("j-"));
    let default = ipfs_station::setup::manifest::load_playlist(&processed).unwrap();
    assert!(
        !default
            .iter()
            .any(|id| night.contains(id) && id.starts_with("t-")),
        "the default's music is what no block claims"
    );
    // What plays at 23:00 UTC tomorrow (off air: as a stream started now would play).
    let day = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let out = run_station(
        &st,
        &[
            "schedule",
            "--at",
            &format!("{day}T23:00:00Z"),
            "--hours",
            "0.1",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["block"], "Night", "{v}");
    assert!(
        night.contains(&v["item"]["id"].as_str().unwrap().to_string()),
        "{v}"
    );
    let out = run_station(
        &st,
        &["schedule", "--at", &format!("{day}T12:00:00Z"), "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["block"], "default", "{v}");

    // Invalid: refused with the block and field named; the processed schedule stays.
    let before = std::fs::read(processed.join("schedule.json")).unwrap();
    schedule(
        r#"{"timezone": "UTC", "blocks": [
            {"name": "Night", "start": "22:00", "end": "06:00", "music": ["music/night"]},
            {"name": "Early", "start": "05:00", "end": "07:00"}]}"#,
    );
    let out = run_station(&st, &["setup", "--quiet"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("blocks[1] (Early)") && err.contains("overlaps `Night`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(processed.join("schedule.json")).unwrap(),
        before
    );

    // On air without a block covering now; then a hard block covering now is saved.
    schedule(r#"{"timezone": "UTC", "blocks": []}"#);
    let log = tmp.path().join("stream.log");
    let mut guard = ProcessGuard::new();
    spawn_station(&st, &["stream"], &log, &mut guard);
    wait_until(60, "on air", || {
        stream_state(&st).is_some_and(|s| s.last_publish.is_some_and(|p| p.ok))
    })
    .await;
    assert_eq!(stream_state(&st).unwrap().block.as_deref(), Some("default"));
    let now = chrono::Utc::now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    schedule(&format!(
        r#"{{"timezone": "UTC", "blocks": [{{"name": "Now", "start": "{}", "end": "{}",
            "music": ["music/night"], "hard": true}}]}}"#,
        hhmm(now - chrono::Duration::minutes(30)),
        hhmm(now + chrono::Duration::minutes(90))
    ));
    let saved = Instant::now();
    wait_until(60, "the Now block on air", || {
        stream_state(&st).is_some_and(|s| s.block.as_deref() == Some("Now"))
    })
    .await;
    eprintln!(
        "the edited schedule was on air {:.1} s after the save",
        saved.elapsed().as_secs_f64()
    );
    let s = stream_state(&st).unwrap();
    let np = s.now_playing.unwrap();
    assert!(
        night.contains(&np.item_id),
        "a Now (night folder) item: {np:?}"
    );
    let out = run_station(&st, &["stop"]);
    assert!(out.status.success());
    let h = history_of(&st);
    assert!(h.iter().any(|e| e.block == "Now") && h.iter().any(|e| e.block == "default"));
}
