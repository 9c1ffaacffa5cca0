//! A simulated week on air (issue 11): the real streamer through `Streamer::run` on
//! tokio's paused clock, against the natural baseline of its own first day: the live
//! heap (a counting allocator), the peak RSS, and the state files, sampled every
//! simulated day. Two runs: preview mode (only the station's own code allocates), and
//! IPNS mode against the Kubo double with `name/publish` failing two hours in every
//! six. The double runs in this process and keeps every block it is given until its
//! garbage collection (kubo gc/gc.go), run every simulated hour as `--enable-gc` does
//! on a repo over its watermark: the heap there is ours plus what Kubo keeps pinned.
//! `cargo bench --bench week` prints the README's table for seven days; under `cargo
//! test` 36 hours check that nothing grows after the first day (the site's 24 hours of
//! as-run log fill during it).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::clock::{Clock, SimClock};
use ipfs_station::library::ItemKind::{Jingle, Track};
use kubo_double::KuboDouble;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::Arc;

/// The system allocator, counting allocations (`stats_alloc`).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes live on the heap now.
fn live_heap() -> usize {
    let s = GLOBAL.stats();
    // stats_alloc 0.1 already counts a reallocation's growth in `bytes_allocated` and
    // its shrink in `bytes_deallocated` (`bytes_reallocated` is the same net change
    // again), so the live heap is their difference.
    s.bytes_allocated.saturating_sub(s.bytes_deallocated)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn size(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// One sample: simulated hours, live heap bytes, what Kubo stores after its hourly
/// garbage collection and what that freed so far, state file sizes, pins.
#[derive(Debug, Clone, Copy)]
struct Sample {
    hours: u64,
    heap: usize,
    kubo_stored: u64,
    kubo_freed: u64,
    state_json: u64,
    live: u64,
    history: u64,
    pinned: usize,
}

async fn week(mode: Mode, hours: u64, every: u64) -> Vec<Sample> {
    let double = KuboDouble::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    test_support::init_station_without_jingles(&st);
    test_support::patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": double.api_url(), "update_interval": 60,
            "window_size": 30, "lookahead_segments": 12, "publish_timeout": 10}),
    );
    let kubo = test_support::client(&double.api_url());
    let seg = |n: usize| vec![6.0; n];
    let (a, b, c) = (seg(30), seg(24), seg(40));
    test_support::synthetic_processed(
        &st.join("data/processed"),
        &kubo,
        &[
            ("j-1", Jingle, &[4.0]),
            ("t-1", Track, &a),
            ("t-2", Track, &b),
            ("t-3", Track, &c),
        ],
        &["j-1", "t-1", "t-2", "j-1", "t-3"],
    )
    .await;
    let station = ipfs_station::station::Station::open(&st).unwrap();
    tokio::time::pause();
    let clock = Arc::new(SimClock::starting_at(Utc::now()));
    let s = Streamer::open(&station, mode, clock.now()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_air = tokio::spawn(s.run(clock.clone(), async {
        let _ = stopped.await;
    }));
    let state = station.state();
    let mut out = Vec::new();
    let mut freed = 0u64;
    for h in 1..=hours {
        // Publishes fail two hours in every six.
        let failing = mode == Mode::Ipns && h % 6 >= 4;
        double.faults().set_command_error(
            "name/publish",
            failing.then(|| "routing: not enough peers".to_string()),
        );
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        // The managed daemon runs with --enable-gc: Kubo collects every
        // Datastore.GCPeriod (1 h) once the repo is over its watermark, as a station's
        // repo full of its library is. What the station unpinned goes then.
        if mode == Mode::Ipns {
            freed += double.gc().unwrap().1;
        }
        // The double's log of RPC calls is not Kubo's (nor ours): keep it out of the heap.
        double.clear_rpc_calls();
        if h % every == 0 {
            let s = state.load_stream_state().unwrap();
            assert!(s.is_on_air(clock.now()), "off air at hour {h}");
            out.push(Sample {
                hours: h,
                heap: live_heap(),
                kubo_stored: double.stored().1,
                kubo_freed: freed,
                state_json: size(&state.file("stream_state.json")),
                live: size(&state.file("live.m3u8")),
                history: size(&state.file("history.jsonl")),
                pinned: s.pinned_playlists.len(),
            });
        }
    }
    stop.send(()).unwrap();
    on_air.await.unwrap().unwrap();
    tokio::time::resume();
    out
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // The site carries the last 24 hours of the as-run log: the heap is compared from
    // the first sample after a full day, when that has filled.
    let (hours, every) = if full { (7 * 24, 24) } else { (36, 6) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| mode | simulated hours | live heap | Kubo stores (after GC) | freed by GC so far | stream_state.json | live.m3u8 | history.jsonl | pinned sites |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for mode in [Mode::Preview, Mode::Ipns] {
        let samples = rt.block_on(week(mode, hours, every));
        for s in &samples {
            println!(
                "| {mode:?} | {} | {:.1} MB | {:.1} MB | {:.1} MB | {:.1} KB | {:.1} KB | {:.1} KB | {} |",
                s.hours,
                s.heap as f64 / 1e6,
                s.kubo_stored as f64 / 1e6,
                s.kubo_freed as f64 / 1e6,
                s.state_json as f64 / 1e3,
                s.live as f64 / 1e3,
                s.history as f64 / 1e3,
                s.pinned
            );
        }
        let first = samples[0];
        let last = *samples.last().unwrap();
        // The state files do not grow (they hold the window and bounded logs); the
        // as-run log grows by a line per aired item, by design.
        assert!(
            last.state_json <= first.state_json + 4096,
            "{first:?} -> {last:?}"
        );
        assert!(last.live <= first.live + 1024, "{first:?} -> {last:?}");
        assert!(last.pinned <= ipfs_station::air::streamer::PINNED_PLAYLISTS);
        let per_hour = (last.history - first.history) / (last.hours - first.hours);
        assert!(per_hour < 20_000, "as-run log {per_hour} bytes per hour");
        let day = *samples.iter().find(|s| s.hours >= 24).unwrap();
        // Preview: only our code allocates. IPNS: ours, the double's blocks after each
        // hourly garbage collection (bounded by the pins) and its IPNS record history
        // (at most 10,000 records, about 1.5 MB). Both stay flat after the first day.
        let slack = match mode {
            Mode::Preview => 256 * 1024,
            Mode::Ipns => 2 * 1024 * 1024,
        };
        assert!(
            last.heap <= day.heap + day.heap / 10 + slack,
            "the heap grew after the first day: {day:?} -> {last:?}"
        );
        assert!(
            last.kubo_stored <= day.kubo_stored + day.kubo_stored / 4 + 64 * 1024,
            "Kubo's repo grew after GC: {day:?} -> {last:?}"
        );
    }
    println!(
        "peak RSS of the process (both runs, the double included): {:.1} MB",
        peak_rss_kb() as f64 / 1e3
    );
}
