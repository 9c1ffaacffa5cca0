//! One window tick (advance the schedule + render the live playlist, window 50) over a
//! 10,000-item rotation, against the natural baseline in the same run: parsing the same
//! playlist with m3u8-rs (what every player does on each reload). Goal: a tick < 1 ms.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use ipfs_station::air::window::{render, Programme, Schedule, UriStyle};

fn bench(c: &mut Criterion) {
    let rot = ipfs_station::bench::synthetic_rotation(10_000);
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut sched = Schedule::new(std::sync::Arc::new(Programme::single(rot)), t0);
    let mut now = t0;
    // Warm up past the start so the window is in steady state.
    for _ in 0..200 {
        sched.advance(now, 50, 10);
        now += Duration::seconds(6);
    }
    let mut g = c.benchmark_group("window_tick_10k_items_w50");
    g.bench_function("advance+render", |b| {
        b.iter(|| {
            now += Duration::milliseconds(6006);
            sched.advance(now, 50, 10);
            let w = sched.window(now, 50);
            render(&w, &UriStyle::IpfsPath)
                .map(|s| s.len())
                .unwrap_or(0)
        })
    });
    let w = sched.window(now, 50);
    let text = render(&w, &UriStyle::IpfsPath).unwrap_or_default();
    g.bench_function("baseline: m3u8-rs parse of the same playlist", |b| {
        b.iter(|| {
            m3u8_rs::parse_media_playlist_res(text.as_bytes())
                .map(|p| p.segments.len())
                .unwrap_or(0)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
