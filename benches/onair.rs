//! Time to air on a new library (issue 13): `station stream` on a library nothing of
//! which is prechunked, against the natural baseline in the same run: a full
//! `station setup` of the same library (what going on air took before). Measured: the
//! full setup's wall time; from `station stream` to its first published window; from
//! `station stream` to the end of the setup it runs beside the stream.
//! `cargo bench --bench onair` uses 40 minutes of music (12 tracks of 200 s, 3 jingles)
//! with the default settings and prints the README's table; under `cargo test` a short
//! library checks that the stream is on air before its setup ends.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use kubo_double::KuboDouble;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn station_bin() -> &'static str {
    env!("CARGO_BIN_EXE_station")
}

fn library(st: &Path, api: &str, tracks: usize, seconds: f64) {
    test_support::init_station_without_jingles(st);
    test_support::patch_config(
        st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api}),
    );
    for i in 0..tracks {
        test_support::gen_audio(
            &st.join(format!("music/Artist {i} - Song {i}.ogg")),
            &format!("sine=frequency={}:sample_rate=44100", 200 + 37 * i),
            seconds,
            &["-ac", "2", "-c:a", "libvorbis"],
        );
    }
    for i in 0..3 {
        test_support::gen_audio(
            &st.join(format!("jingles/Station ID {i}.wav")),
            &format!("sine=frequency={}", 900 + 150 * i),
            4.0,
            &[],
        );
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (tracks, seconds) = if full { (12, 200.0) } else { (3, 20.0) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let double = rt.block_on(KuboDouble::start()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    library(&a, &double.api_url(), tracks, seconds);
    library(&b, &double.api_url(), tracks, seconds);

    // Baseline: a full setup, as going on air needed before.
    let t = Instant::now();
    let out = Command::new(station_bin())
        .args(["setup", "--quiet", "--station"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full_setup = t.elapsed();

    // `station stream` on the same library, nothing prechunked.
    let t = Instant::now();
    let mut child = Command::new(station_bin())
        .args(["stream", "--station"])
        .arg(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = ipfs_station::station::state::StateDir::new(a.join("data/state"));
    let mut first_publish = None;
    let setup_end = loop {
        assert!(t.elapsed() < Duration::from_secs(1800), "no end");
        if first_publish.is_none()
            && state
                .load_stream_state()
                .is_ok_and(|s| s.last_publish.is_some_and(|p| p.ok))
        {
            first_publish = Some(t.elapsed());
        }
        if state.load_last_setup().is_some() && first_publish.is_some() {
            break t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let first_publish = first_publish.unwrap();
    let _ = Command::new(station_bin())
        .args(["stop", "--station"])
        .arg(&a)
        .status();
    let _ = child.wait();
    assert!(first_publish < setup_end, "on air before its setup ended");

    // Issue 19: `station stream` on the library the baseline's setup prepared: the
    // first publish, with nothing left to set up (the goal is 2 s).
    let t = Instant::now();
    let mut child = Command::new(station_bin())
        .args(["stream", "--station"])
        .arg(&b)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = ipfs_station::station::state::StateDir::new(b.join("data/state"));
    let prepared = loop {
        assert!(t.elapsed() < Duration::from_secs(120), "no first publish");
        if state
            .load_stream_state()
            .is_ok_and(|s| s.last_publish.is_some_and(|p| p.ok))
        {
            break t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = Command::new(station_bin())
        .args(["stop", "--station"])
        .arg(&b)
        .status();
    let _ = child.wait();
    // The goal holds the release build (`--bench`); `cargo test` runs a debug build.
    assert!(
        !full || prepared < Duration::from_secs(2),
        "a prepared library's first publish took {prepared:?} (goal: 2 s)"
    );
    println!("| library | full `station setup` | `station stream`: first publish | `station stream`: its setup done | prepared library: `station stream` to first publish |");
    println!("|---|---|---|---|---|");
    println!(
        "| {tracks} tracks of {seconds:.0} s ({:.0} min) + 3 jingles | {} | {} | {} | {:.2} s |",
        tracks as f64 * seconds / 60.0,
        secs(full_setup),
        secs(first_publish),
        secs(setup_end),
        prepared.as_secs_f64()
    );
}
