//! Shared helpers: the project's one test-support crate (Kubo double, station fixtures,
//! generated audio, process guards).
#![allow(unused_imports)]

pub use test_support::*;

use ipfs_station::air::streamer::StreamState;
use ipfs_station::station::state::StateDir;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `station` binary cargo built for these tests.
pub fn station_bin() -> &'static str {
    env!("CARGO_BIN_EXE_station")
}

/// `station <args> --station <st>` to its end, stdin closed.
pub fn run_station(st: &Path, args: &[&str]) -> Output {
    Command::new(station_bin())
        .args(args)
        .arg("--station")
        .arg(st)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `station <args> --station <st>` as its own process in its own process group (so the
/// guard ends its ffmpeg children too), output appended to `log`; returns its pid.
pub fn spawn_station(st: &Path, args: &[&str], log: &Path, guard: &mut ProcessGuard) -> u32 {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(station_bin())
        .args(args)
        .arg("--station")
        .arg(st)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    guard.push(child)
}

/// `data/state/stream_state.json` of the station at `st`, when it reads.
pub fn stream_state(st: &Path) -> Option<StreamState> {
    StateDir::new(st.join("data/state"))
        .load_stream_state()
        .ok()
}

/// Waits (30 s at most) until the streamer of the station at `st` has published once
/// (`last_publish.ok` in its `stream_state.json`).
pub async fn wait_for_a_publish(st: &Path) {
    wait_until(30, "a publish", || {
        stream_state(st).is_some_and(|s| s.last_publish.is_some_and(|p| p.ok))
    })
    .await;
}
