//! The health monitor against a live stream on the Kubo double's gateway.

use crate::support::*;
use chrono::{Duration as D, Utc};
use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::health::{Checker, Problem, Status};
use ipfs_station::station::Station;
use std::path::Path;
use std::time::Duration;

const TONE: &str = "aevalsrc=0.50119*sin(2*PI*997*t)|0.50119*sin(2*PI*997*t):s=44100";
const TONE2: &str = "aevalsrc=0.25*sin(2*PI*660*t)|0.25*sin(2*PI*660*t):s=44100";

/// The station in `dir` on the Kubo at `api`: window 20 with lookahead 8 (32 s of 4 s
/// segments: enough for a fast publish, a segment, the 5 s TTL and three target
/// durations).
fn streaming(dir: &Path, api: &str) -> Station {
    test_support::init_station(dir);
    patch_config(
        dir,
        "streaming.config.json",
        serde_json::json!({"window_size": 20, "lookahead_segments": 8, "kubo_api": api}),
    );
    Station::open(dir).unwrap()
}

/// A checker of `station` through `gateways` (no public ones; 2 s per request, 60 s of
/// lag allowed).
fn checker(gateways: Vec<String>, station: &Station) -> Checker {
    patch_config(
        station.dir(),
        "health.config.json",
        serde_json::json!({"gateways": gateways, "public_gateways": [],
            "request_timeout": 2, "resolve_timeout": 2, "max_lag_seconds": 60}),
    );
    Checker::new(&station.reload().unwrap()).unwrap()
}

/// A station on air on the double: two real tone items, 4 s segments, one tick now.
async fn on_air(node: &TestNode, dir: &Path, items: &[(&str, &str, f64)]) -> (Station, Streamer) {
    let kubo = client(&node.api_url());
    real_processed(&dir.join("data/processed"), &kubo, items, 4.0).await;
    let cfg = streaming(dir, &node.api_url());
    let mut s = Streamer::open(&cfg, Mode::Ipns, Utc::now()).unwrap();
    s.tick(Utc::now()).await.unwrap();
    assert!(s.settled().await.unwrap().unwrap().ok);
    (cfg, s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_stream_is_ok_with_levels() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(
        &node,
        dir.path(),
        &[("t-a", TONE, 16.0), ("t-b", TONE2, 16.0)],
    )
    .await;
    let r = checker(vec![node.gateway_url()], &cfg)
        .check(Utc::now(), None)
        .await;
    assert_eq!(r.status, Status::Ok, "{:?}", r.reasons);
    assert!(r.kubo.ok && r.streamer_on_air);
    let g = &r.gateways[0];
    assert!(g.ok, "{g:?}");
    assert_eq!(g.segments.len(), 2);
    assert!(g.lag_seconds.unwrap() < 5.0);
    for s in &g.segments {
        let l = s.levels.as_ref().unwrap();
        assert!(s.ttfb_ms.is_some() && s.bytes > 0);
        if s.extinf_seconds < 1.0 {
            continue; // ffmpeg's one-frame tail segment: encoder flush, no tone in it
        }
        assert!(
            l.channels
                .iter()
                .all(|c| c.peak_dbfs < -5.0 && c.peak_dbfs > -13.0),
            "{l:?}"
        );
    }
    assert!(!r.history.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_gateway_fails_alone_and_the_others_still_report() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    let proxy = FaultyProxy::start(node.gateway_url()).await;
    let c = checker(vec![proxy.url.clone(), node.gateway_url()], &cfg);
    let r = c.check(Utc::now(), None).await;
    assert_eq!(
        r.status,
        Status::Ok,
        "through the proxy too: {:?}",
        r.reasons
    );
    proxy.set(Some(500), Duration::ZERO);
    let r = c.check(Utc::now(), None).await;
    assert_eq!(r.status, Status::Warn, "{:?}", r.reasons);
    // The failing gateway's alarm warns (another local gateway serves the stream).
    let alarm = r
        .alarms
        .iter()
        .find(|a| a.gateway.as_deref() == Some(proxy.url.as_str()))
        .unwrap();
    assert_eq!(alarm.severity, Status::Warn);
    assert!(
        !r.gateways[0].ok
            && matches!(&r.gateways[0].problems[0],
                Problem::Unreachable { detail } if detail.contains("HTTP 500")),
        "{:?}",
        r.gateways[0]
    );
    assert!(r.gateways[1].ok);
    proxy.set(None, Duration::from_secs(3));
    let r = c.check(Utc::now(), None).await;
    assert!(
        matches!(&r.gateways[0].problems[0],
            Problem::Unreachable { detail } if detail.contains("timed out")),
        "{:?}",
        r.gateways[0]
    );
    assert!(r.gateways[1].ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_stops_advancing_is_stale_and_kubo_down_fails() {
    // Kubo going down needs the double, also where a real Kubo is installed.
    let node = TestNode::Double(KuboDouble::start().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (cfg, s) = on_air(
        &node,
        dir.path(),
        &[("t-a", TONE, 16.0), ("t-b", TONE2, 16.0)],
    )
    .await;
    drop(s); // the streamer stops
    let c = checker(vec![node.gateway_url()], &cfg);
    let first = c.check(Utc::now(), None).await;
    assert_eq!(first.status, Status::Ok, "{:?}", first.reasons);
    // Five minutes later nothing has been published.
    let later = Utc::now() + D::seconds(300);
    let r = c.check(later, Some(&first)).await;
    assert_eq!(r.status, Status::Fail, "{:?}", r.reasons);
    assert_eq!(r.gateways[0].advanced, Some(false));
    assert!(
        r.alarms
            .iter()
            .any(|a| matches!(a.problem, Problem::Stale { .. }) && a.severity == Status::Fail),
        "{:?}",
        r.alarms
    );
    assert!(
        r.reasons.iter().any(|x| x.contains("stale")),
        "{:?}",
        r.reasons
    );
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("streamer is not running")),
        "{:?}",
        r.reasons
    );
    node.double().unwrap().faults().set_down(true).await;
    let r = c.check(Utc::now(), Some(&first)).await;
    assert_eq!(r.status, Status::Fail);
    assert!(!r.kubo.ok);
    assert!(
        r.reasons
            .iter()
            .any(|x| x.starts_with("Kubo: no Kubo answers")),
        "{:?}",
        r.reasons
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_on_air_is_flagged() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(
        &node,
        dir.path(),
        &[("t-quiet", "anullsrc=r=44100:cl=stereo", 16.0)],
    )
    .await;
    let r = checker(vec![node.gateway_url()], &cfg)
        .check(Utc::now(), None)
        .await;
    assert_eq!(r.status, Status::Warn, "{:?}", r.reasons);
    assert!(
        r.reasons.iter().any(|x| x.contains("silence")),
        "{:?}",
        r.reasons
    );
}

/// The monitor's loop: a failed check (here: the state folder cannot be written) is
/// logged and the loop goes on, and a shutdown is answered at once, also in the middle
/// of a check that waits on a stalled gateway.
#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_loop_survives_a_failed_check_and_stops_mid_check() {
    use ipfs_station::clock::SystemClock;
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (station, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    let proxy = FaultyProxy::start(node.gateway_url()).await;
    patch_config(
        station.dir(),
        "health.config.json",
        serde_json::json!({"gateways": [proxy.url], "public_gateways": [],
            "request_timeout": 30, "interval": 1}),
    );
    // The state folder replaced by a file: the first checks cannot be written.
    let state_dir = dir.path().join("data/state");
    let stream_state = std::fs::read(state_dir.join("stream_state.json")).unwrap();
    std::fs::rename(&state_dir, dir.path().join("state-aside")).unwrap();
    std::fs::write(&state_dir, b"not a folder").unwrap();
    let station = station.reload().unwrap();
    let reports = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let counted = reports.clone();
    let monitor = {
        let station = station.clone();
        tokio::spawn(async move {
            ipfs_station::health::monitor::run(
                &station,
                std::sync::Arc::new(SystemClock),
                async {
                    let _ = stopped.await;
                },
                move |_| *counted.lock().unwrap() += 1,
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(*reports.lock().unwrap(), 0, "no check could be written");
    assert!(
        !monitor.is_finished(),
        "the loop went on after failed checks"
    );
    // Fixed: the next check is written.
    std::fs::remove_file(&state_dir).unwrap();
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("stream_state.json"), stream_state).unwrap();
    wait_until(10, "a check after the fix", || {
        *reports.lock().unwrap() >= 1
    })
    .await;
    // A gateway that stalls: the check waits on it, and the shutdown ends it anyway.
    proxy.set(None, Duration::from_secs(25));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), monitor)
        .await
        .expect("the monitor did not stop in the middle of a check")
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
}

/// Publishes slower than the lookahead covers (a long DHT put) are flagged with what
/// listeners need, and only warn: the station is still on air.
#[tokio::test(flavor = "multi_thread")]
async fn publishes_slower_than_the_lookahead_warn() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (station, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    let c = checker(vec![node.gateway_url()], &station);
    let state = station.state();
    let r = c.check(Utc::now(), None).await;
    assert!(
        !r.alarms
            .iter()
            .any(|a| matches!(a.problem, Problem::SlowPublishes { .. })),
        "a fast publish is fine: {:?}",
        r.reasons
    );
    // Publishes of 50 s: 2 x 50 + a segment + 5 (TTL) + 3 target durations of buffer >
    // 8 segments of lookahead.
    let mut st = state.load_stream_state().unwrap();
    st.publish_stats.mean_ms = Some(50_000);
    state.save_stream_state(&st).unwrap();
    let r = c.check(Utc::now(), None).await;
    let slow = r
        .alarms
        .iter()
        .find(|a| matches!(a.problem, Problem::SlowPublishes { .. }))
        .unwrap_or_else(|| panic!("{:?}", r.reasons));
    assert_eq!(slow.severity, Status::Warn);
    match &slow.problem {
        Problem::SlowPublishes {
            publish_seconds,
            needed_seconds,
            ..
        } => {
            assert_eq!(*publish_seconds, 50.0);
            let target = st.schedule.target_duration as f64;
            let segs = &st.schedule.segments;
            let mean_segment = segs.iter().map(|s| s.duration).sum::<f64>() / segs.len() as f64;
            assert!((*needed_seconds - (100.0 + mean_segment + 5.0 + 3.0 * target)).abs() < 1e-9);
        }
        other => panic!("{other}"),
    }
    assert!(slow.message.contains("raise lookahead_segments"));
}

/// The problem texts of one gateway's check, gateway and segments together.
fn problems_of(r: &ipfs_station::health::HealthReport, gw: &str) -> Vec<String> {
    let g = r.gateways.iter().find(|g| g.gateway == gw).unwrap();
    g.problems
        .iter()
        .chain(g.segments.iter().flat_map(|s| &s.problems))
        .map(|p| p.to_string())
        .collect()
}

/// Issue 11: a gateway that attacks the monitor. Every attack is a clear problem of that
/// gateway, nothing panics, nothing unbounded is read or kept, nothing is fetched from
/// another origin, `health.json` loads back and its history stays bounded; and
/// `station health --once` against all the attacks at once stays small in memory.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_gateway_gives_clear_problems_and_bounded_reads() {
    use ipfs_station::health::meters::LevelPoint;
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    let seg = tempfile::tempdir().unwrap();
    ipfs_station::bench::encode_lavfi_hls(TONE, 12.0, 6.0, seg.path()).unwrap();
    let good: Vec<Vec<u8>> = (0..2)
        .map(|i| std::fs::read(seg.path().join(format!("seg_{i:05}.ts"))).unwrap())
        .collect();
    let bomb_dir = tempfile::tempdir().unwrap();
    ipfs_station::bench::encode_lavfi_hls(TONE2, 60.0, 60.0, bomb_dir.path()).unwrap();
    let bomb = std::fs::read(bomb_dir.path().join("seg_00000.ts")).unwrap();
    assert!(bomb.len() < 2 << 20, "the bomb is small: {}", bomb.len());
    let hostile = HostileGateway::start(good, bomb).await;
    let gateways: Vec<String> = HOSTILE_ATTACKS.iter().map(|a| hostile.gateway(a)).collect();
    patch_config(
        cfg.dir(),
        "health.config.json",
        serde_json::json!({"gateways": gateways, "public_gateways": [],
            "request_timeout": 10, "resolve_timeout": 10, "max_lag_seconds": 60}),
    );
    let station = cfg.reload().unwrap();
    // A previous report with a history far too long and dated on both sides of now.
    let now = Utc::now();
    let checker = Checker::new(&station).unwrap();
    let mut previous = checker.check(now - D::seconds(30), None).await;
    previous.history = (-3000..3000)
        .map(|i| LevelPoint {
            at: now + D::seconds(i * 2),
            peak_dbfs: -6.0,
            rms_dbfs: -9.0,
            loudness_lufs: Some(-10.0),
        })
        .collect();
    hostile
        .endless_bytes
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::Instant::now();
    let r = checker.check(now, Some(&previous)).await;
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "the check took {:?}",
        t.elapsed()
    );
    let has = |gw: &str, what: &str| {
        let ps = problems_of(&r, &hostile.gateway(gw));
        assert!(
            ps.iter().any(|p| p.contains(what)),
            "{gw}: no problem saying {what:?} in {ps:?}"
        );
    };
    has(
        "overflow",
        "#EXT-X-MEDIA-SEQUENCE 18446744073709551615 overflows",
    );
    has("huge-extinf", "#EXTINF inf");
    has("endless-playlist", "the playlist is larger than 1024 KiB");
    has("endless-segment", "larger than 8192 KiB");
    has("decode-bomb", "decode limit");
    has("future", "ahead of this clock");
    has("redirect-away", "redirected to another origin");
    has("absolute-away", "another origin");
    for gw in ["overflow", "huge-extinf", "endless-playlist"] {
        let g = r
            .gateways
            .iter()
            .find(|g| g.gateway == hostile.gateway(gw))
            .unwrap();
        assert!(
            !g.ok && g.media_sequence.is_none() && g.target_duration.is_none(),
            "{g:?}"
        );
    }
    // A bomb decodes no further than #EXTINF and the margin.
    let bombs = &r
        .gateways
        .iter()
        .find(|g| g.gateway == hostile.gateway("decode-bomb"))
        .unwrap()
        .segments;
    assert_eq!(bombs.len(), 2);
    for s in bombs {
        let l = s.levels.as_ref().unwrap();
        assert!(
            l.stopped_at_limit && l.decoded_seconds <= 3.0 + 1e-6,
            "{l:?}"
        );
    }
    // The control: a redirect within the origin and relative segment URIs play.
    let control = r
        .gateways
        .iter()
        .find(|g| g.gateway == hostile.gateway("relative"))
        .unwrap();
    assert!(control.ok, "{control:?}");
    assert!(control.segments.iter().all(|s| s.levels.is_some()));
    // Nothing was asked of the other origin; the endless bodies were cut off (two
    // segments of 8 MiB, one playlist of 1 MiB, and what the sockets buffered).
    assert_eq!(
        hostile
            .elsewhere_hits
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let sent = hostile
        .endless_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64 << 20, "the endless bodies sent {sent} bytes");
    // The history: bounded by count, nothing older than an hour or more than a minute
    // ahead, no future-dated segment in it.
    assert!(r.history.len() <= ipfs_station::health::HISTORY_MAX_POINTS);
    assert!(r
        .history
        .iter()
        .all(|p| p.at >= now - D::seconds(3600) && p.at <= now + D::seconds(60)));
    assert!(r.history.windows(2).all(|w| w[0].at < w[1].at));
    // health.json is written and loads back, every value finite.
    let state = station.state();
    state.save_health(&r).unwrap();
    let back = state.load_health().unwrap();
    assert_eq!(back.gateways.len(), HOSTILE_ATTACKS.len());
    let text = std::fs::read_to_string(state.path().join("health.json")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf,"), "{text}");

    // The binary, as cron runs it, against every attack at once: its peak memory, beside
    // the same check of the healthy stream alone.
    let (attacked, code) = max_rss_of_health_once(station.dir());
    patch_config(
        cfg.dir(),
        "health.config.json",
        serde_json::json!({"gateways": [node.gateway_url()]}),
    );
    let (healthy, _) = max_rss_of_health_once(station.dir());
    eprintln!(
        "station health --once: max RSS {:.1} MB against {} hostile gateways (exit {code}), {:.1} MB against the healthy one alone",
        attacked as f64 / 1024.0,
        HOSTILE_ATTACKS.len(),
        healthy as f64 / 1024.0
    );
    assert!(attacked < 150 * 1024, "max RSS {attacked} kB");
    // A check result (0 ok, 3 warn, 4 fail), never an error's 1 or a crash.
    assert!([0, 3, 4].contains(&code), "exit {code}");
    state.load_health().unwrap();
}

/// `station health --once --station <dir>` under `/usr/bin/time -v`: (max RSS in kB,
/// exit status). `STATION_BIN` names another build to measure (the README's figure is
/// the release build's).
fn max_rss_of_health_once(dir: &Path) -> (u64, i32) {
    let bin = std::env::var("STATION_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_station").into());
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(["health", "--once", "--station"])
        .arg(dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let rss_kb: u64 = err
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .unwrap_or_else(|| panic!("no max RSS in {err}"))
        .trim()
        .parse()
        .unwrap();
    (rss_kb, out.status.code().unwrap_or(-1))
}

/// Issue 11: a `health.json` that does not load is kept aside, said so, and its level
/// points are not lost.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_health_file_is_kept_and_its_history_survives() {
    let node = TestNode::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _s) = on_air(&node, dir.path(), &[("t-a", TONE, 16.0)]).await;
    patch_config(
        cfg.dir(),
        "health.config.json",
        serde_json::json!({"gateways": [node.gateway_url()], "public_gateways": [],
            "request_timeout": 5, "resolve_timeout": 5, "max_lag_seconds": 60}),
    );
    let station = cfg.reload().unwrap();
    let now = Utc::now();
    let first = ipfs_station::health::check_once(&station, now)
        .await
        .unwrap();
    assert!(!first.history.is_empty());
    // A null where a number belongs (what serde wrote for a NaN before): the report no
    // longer loads, its other points still do.
    let path = station.state().path().join("health.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["streamer_on_air"] = serde_json::Value::Null;
    let mut bad_point = v["history"][0].clone();
    bad_point["peak_dbfs"] = serde_json::Value::Null;
    v["history"].as_array_mut().unwrap().push(bad_point);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(station.state().load_health().is_err());
    let r = ipfs_station::health::check_once(&station, now + D::seconds(1))
        .await
        .unwrap();
    let alarm = r
        .alarms
        .iter()
        .find(|a| matches!(a.problem, Problem::CorruptHealthFile { .. }))
        .unwrap_or_else(|| panic!("{:?}", r.reasons));
    assert_eq!(alarm.severity, Status::Warn);
    assert!(
        alarm.message.contains("health.json.corrupt-"),
        "{}",
        alarm.message
    );
    for p in &first.history {
        assert!(r.history.iter().any(|q| q.at == p.at), "lost {p:?}");
    }
    let kept: Vec<_> = std::fs::read_dir(station.state().path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("health.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    station.state().load_health().unwrap();
}
