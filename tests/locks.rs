//! One streamer, one monitor and one setup per station, by lock (issue 9): what an
//! operator sees when they start a second one, after a crash or a reboot with stale
//! files, and with `station stop`; and (issue 18) a holder in another pid namespace or
//! on btrfs, whose lock `/proc/locks` lists with pid 0 or another device number.

use crate::support::*;
use ipfs_station::station::process::{lookup_with, LockState};
use ipfs_station::station::state::{LockInfo, Role, StateDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A station with a synthetic processed folder on the Kubo at `api` (no encoding).
async fn station(root: &Path, name: &str, api: &str) -> PathBuf {
    let st = root.join(name);
    // Only the synthetic items: nothing waits for setup.
    test_support::init_station_without_jingles(&st);
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": api, "window_size": 8, "lookahead_segments": 2}),
    );
    let kubo = client(api);
    use ipfs_station::library::ItemKind::{Jingle, Track};
    synthetic_processed(
        &st.join("data/processed"),
        &kubo,
        &[
            ("j-1", Jingle, &[4.0]),
            ("t-1", Track, &[6.0, 6.0, 6.0, 6.0]),
        ],
        &["j-1", "t-1"],
    )
    .await;
    st
}

/// `station <args> --station <st>` as its own process.
fn spawn(st: &Path, args: &[&str], guard: &mut ProcessGuard) -> u32 {
    let child = Command::new(station_bin())
        .args(args)
        .arg("--station")
        .arg(st)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    guard.push(child)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

async fn holds(state: &StateDir, role: Role, pid: u32) {
    wait_until(
        20,
        &format!("pid {pid} to hold the {} lock", role.noun()),
        || state.holder(role).is_some_and(|h| h.pid == pid),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_streamer_refuses_at_once_naming_the_first_and_stop_ends_it() {
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station(tmp.path(), "radio", &kubo.api_url()).await;
    let state = StateDir::new(st.join("data/state"));
    let mut procs = ProcessGuard::new();
    let first = spawn(&st, &["stream"], &mut procs);
    holds(&state, Role::Stream, first).await;

    let t = std::time::Instant::now();
    let second = run_station(&st, &["stream"]);
    assert!(t.elapsed() < Duration::from_secs(5), "refused at once");
    assert_ne!(second.status.code(), Some(0), "{}", text(&second));
    let said = text(&second);
    assert!(
        said.contains("already running") && said.contains(&first.to_string()),
        "names the running streamer's pid: {said}"
    );
    // The first one never noticed.
    assert_eq!(state.holder(Role::Stream).unwrap().pid, first);

    // `station stop`: SIGTERM to the holder, waits, reports.
    let out = run_station(&st, &["stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("Stopped the streamer (pid {first})")),
        "{}",
        text(&out)
    );
    assert!(state.holder(Role::Stream).is_none());
    assert!(!pid_alive(first));
    let stream_state = state.load_stream_state().unwrap();
    assert!(!stream_state.on_air, "a clean stop marks the state off air");
    let again = run_station(&st, &["stop"]);
    assert!(text(&again).contains("The streamer was not running"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_pid_file_naming_an_unrelated_process_is_never_signalled() {
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station(tmp.path(), "radio", &kubo.api_url()).await;
    let state = StateDir::new(st.join("data/state"));
    state.create().unwrap();
    let mut procs = ProcessGuard::new();
    // After a reboot the old pid now names some other live process.
    let unrelated: Child = Command::new("sleep").arg("120").spawn().unwrap();
    let victim = procs.push(unrelated);
    std::fs::write(state.file("stream.pid"), victim.to_string()).unwrap();
    std::fs::write(state.file("health.pid"), victim.to_string()).unwrap();
    std::fs::write(
        state.lock_path(Role::Stream),
        serde_json::to_vec(&LockInfo {
            pid: victim,
            since: chrono::Utc::now(),
            what: "the streamer of a station that crashed".into(),
        })
        .unwrap(),
    )
    .unwrap();
    // Nothing runs: stop signals nobody.
    let out = run_station(&st, &["stop"]);
    assert!(
        text(&out).contains("The streamer was not running"),
        "{}",
        text(&out)
    );
    assert!(pid_alive(victim), "an unrelated process was signalled");
    // `station stream` starts, and stopping it leaves the unrelated process alone.
    let streamer = spawn(&st, &["stream"], &mut procs);
    holds(&state, Role::Stream, streamer).await;
    let out = run_station(&st, &["stop"]);
    assert!(
        text(&out).contains(&format!("pid {streamer}")),
        "{}",
        text(&out)
    );
    assert!(!pid_alive(streamer));
    assert!(pid_alive(victim), "an unrelated process was signalled");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_a_holder_frees_its_lock() {
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station(tmp.path(), "radio", &kubo.api_url()).await;
    let state = StateDir::new(st.join("data/state"));
    let mut procs = ProcessGuard::new();
    let first = spawn(&st, &["stream"], &mut procs);
    holds(&state, Role::Stream, first).await;
    Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    wait_until(10, "the lock to be free", || {
        state.holder(Role::Stream).is_none()
    })
    .await;
    let second = spawn(&st, &["stream"], &mut procs);
    holds(&state, Role::Stream, second).await;
    // The monitor's lock is its own.
    let monitor = spawn(&st, &["health"], &mut procs);
    holds(&state, Role::Health, monitor).await;
    let out = run_station(&st, &["stop"]);
    assert!(
        text(&out).contains(&format!("Stopped the health monitor (pid {monitor})")),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stations_cannot_publish_under_one_ipns_key_of_one_kubo() {
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = station(tmp.path(), "a", &kubo.api_url()).await;
    let b = station(tmp.path(), "b", &kubo.api_url()).await;
    for st in [&a, &b] {
        patch_config(
            st,
            "streaming.config.json",
            serde_json::json!({"ipns_key": "shared-key"}),
        );
    }
    let mut procs = ProcessGuard::new();
    let first = spawn(&a, &["stream"], &mut procs);
    holds(&StateDir::new(a.join("data/state")), Role::Stream, first).await;
    let second = run_station(&b, &["stream"]);
    assert_ne!(second.status.code(), Some(0));
    let said = text(&second);
    assert!(
        said.contains("shared-key") && said.contains(&first.to_string()),
        "{said}"
    );
    // Preview needs no key: it runs beside the first.
    let preview = spawn(&b, &["stream", "--preview", "--port", "0"], &mut procs);
    holds(&StateDir::new(b.join("data/state")), Role::Stream, preview).await;
}

/// An `ffmpeg` that logs when each run starts and ends (with the `station` process that
/// ran it), then runs the real one.
fn timing_shim(dir: &Path, log: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let real = need("ffmpeg").display().to_string();
    let script = format!(
        "#!/bin/sh\necho \"start $PPID $(date +%s.%N)\" >> '{log}'\n'{real}' \"$@\"\nst=$?\necho \"end $PPID $(date +%s.%N)\" >> '{log}'\nexit $st\n",
        log = log.display(),
    );
    let p = dir.join("ffmpeg");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_setups_never_encode_at_once_and_neither_loses_work() {
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &kubo.api_url());
    let log = tmp.path().join("ffmpeg.log");
    let path = timing_shim(&tmp.path().join("bin"), &log);
    let setup = |quiet: bool| {
        let mut c = Command::new(station_bin());
        c.arg("setup");
        if quiet {
            c.arg("--quiet");
        }
        c.arg("--station")
            .arg(&st)
            .env("PATH", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = setup(true);
    // The second starts while the first encodes.
    wait_until(20, "the first encode", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("start"))
    })
    .await;
    let b = setup(true);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    assert!(
        text(&b).contains("another setup of this station is running"),
        "the second says it waits: {}",
        text(&b)
    );
    // Every ffmpeg run of one setup ended before any of the other's started.
    let runs = std::fs::read_to_string(&log).unwrap();
    let mut spans: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for line in runs.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let t: f64 = f[2].parse().unwrap();
        let e = spans.entry(f[1].to_string()).or_insert((f64::MAX, 0.0));
        if f[0] == "start" {
            e.0 = e.0.min(t);
        } else {
            e.1 = e.1.max(t);
        }
    }
    let spans: Vec<(f64, f64)> = spans.into_values().collect();
    for (i, x) in spans.iter().enumerate() {
        for y in &spans[i + 1..] {
            assert!(
                x.1 <= y.0 || y.1 <= x.0,
                "two setups encoded at once: {spans:?}\n{runs}"
            );
        }
    }
    // The waiting one found the work done and lost none: everything is in.
    assert!(text(&b).contains("0 encoded, 6 reused"), "{}", text(&b));
    let m = ipfs_station::setup::manifest::Manifest::load(&st.join("data/processed")).unwrap();
    assert_eq!(m.items.len(), 6);
    assert!(m.items.iter().all(|i| i.has_all_cids()));
}

/// Issue 11: the log of a process the console starts is bounded: `--log FILE` rotates
/// it at its size (here 4 kB instead of 5 MiB), keeping two old files.
#[tokio::test(flavor = "multi_thread")]
async fn a_monitor_log_rotates_at_its_size_keeping_two_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    test_support::init_station(&st);
    // A monitor with nothing to check: every second a check that fails and says why.
    patch_config(
        &st,
        "health.config.json",
        serde_json::json!({"interval": 1, "gateways": ["http://127.0.0.1:9"], "public_gateways": [], "request_timeout": 1}),
    );
    patch_config(
        &st,
        "streaming.config.json",
        serde_json::json!({"kubo_api": "http://127.0.0.1:9"}),
    );
    let log = tmp.path().join("health.log");
    std::fs::write(&log, vec![b'x'; 10_000]).unwrap();
    let mut guard = ProcessGuard::new();
    guard.push(
        std::process::Command::new(station_bin())
            .args(["health", "--station"])
            .arg(&st)
            .arg("--log")
            .arg(&log)
            .args(["--log-max-bytes", "4000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let old = |n: usize| tmp.path().join(format!("health.log.{n}"));
    // The oversized log was rotated at the start, then the output fills and rotates.
    wait_until(60, "two rotations", || old(2).exists() && log.exists()).await;
    let first = std::fs::read(old(2)).unwrap_or_default();
    wait_until(60, "a third rotation", || {
        std::fs::read(old(2)).is_ok_and(|b| b != first)
    })
    .await;
    assert!(!old(3).exists(), "only two old files are kept");
    for p in [log.clone(), old(1)] {
        let len = std::fs::metadata(&p).map_or(0, |m| m.len());
        // Checked every second: at most a second's output over the limit.
        assert!(len < 4000 + 64 * 1024, "{}: {len} bytes", p.display());
    }
    let text = String::from_utf8_lossy(&std::fs::read(old(1)).unwrap()).to_string();
    assert!(
        text.contains("health"),
        "the monitor's output is in the log: {text}"
    );
}

/// Issue 18: the `MAJOR:MINOR` (hex, as `/proc/locks` prints them) and inode of `path`.
fn kernel_id(path: &Path) -> (String, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    let (dev, ino) = (m.dev(), m.ino());
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (format!("{major:02x}:{minor:02x}"), ino)
}

/// A `/proc/locks` line: an exclusive flock by `pid` on inode `ino` of device `dev`.
fn flock_line(pid: impl std::fmt::Display, dev: &str, ino: u64) -> String {
    format!("1: FLOCK  ADVISORY  WRITE {pid} {dev}:{ino} 0 EOF\n")
}

/// Rewrites the pid a holder wrote into its lock file.
fn record_pid(lock: &Path, pid: u32) {
    let info = LockInfo {
        pid,
        since: chrono::Utc::now(),
        what: "the streamer of test".into(),
    };
    std::fs::write(lock, serde_json::to_vec(&info).unwrap()).unwrap();
}

fn held_by(state: LockState) -> Option<u32> {
    match state {
        LockState::Held(h) => Some(h.pid),
        LockState::Free | LockState::HeldByUnknown { .. } => None,
    }
}

/// Issue 18: a holder the table lists with pid 0 (outside this pid namespace, older
/// kernels) or not at all (newer ones) is the pid in the lock file only when that process
/// has the lock file open; otherwise it is unknown, never pid 0.
#[test]
fn issue_18_a_holder_listed_with_pid_0_or_not_listed_is_only_a_pid_that_has_the_lock_open() {
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::new(d.path());
    let path = state.lock_path(Role::Stream);
    let lock = state.lock(Role::Stream, "the streamer of test").unwrap();
    let me = std::process::id();
    let (dev, ino) = kernel_id(&path);
    let tables = [
        flock_line(0, &dev, ino),
        flock_line(-1, &dev, ino),
        String::new(),
    ];
    for t in &tables {
        // This process holds it and wrote its pid: verified by its open files.
        assert_eq!(held_by(lookup_with(&path, Some(t))), Some(me), "{t}");
    }
    let mut procs = ProcessGuard::new();
    let other = procs.push(Command::new("sleep").arg("30").spawn().unwrap());
    for recorded in [other, 1, 0] {
        record_pid(&path, recorded);
        for t in &tables {
            let found = lookup_with(&path, Some(t));
            let LockState::HeldByUnknown { why } = &found else {
                panic!("pid {recorded} in the lock file, table {t:?}: {found:?}");
            };
            assert!(why.contains("cannot identify"), "{why}");
        }
    }
    drop(lock);
    for t in &tables {
        assert_eq!(lookup_with(&path, Some(t)), LockState::Free, "{t}");
    }
}

/// Issue 18: on btrfs and overlayfs `/proc/locks` prints another device number than
/// `stat` gives: the holder is found by the inode, verified by its open files.
#[test]
fn issue_18_a_lock_listed_under_another_device_number_is_found_by_inode_and_open_files() {
    let d = tempfile::tempdir().unwrap();
    let state = StateDir::new(d.path());
    let path = state.lock_path(Role::Stream);
    let lock = state.lock(Role::Stream, "the streamer of test").unwrap();
    let me = std::process::id();
    let (dev, ino) = kernel_id(&path);
    let elsewhere = if dev == "00:2f" { "00:30" } else { "00:2f" };
    let mut procs = ProcessGuard::new();
    // Holds no lock file open: a lock of its on the same inode of another file system.
    let other = procs.push(Command::new("sleep").arg("30").spawn().unwrap());
    record_pid(&path, 1);
    let mine = flock_line(me, elsewhere, ino);
    let theirs = flock_line(other, "00:31", ino);
    for t in [mine.clone(), theirs.clone() + &mine, mine.clone() + &theirs] {
        assert_eq!(held_by(lookup_with(&path, Some(&t))), Some(me), "{t}");
    }
    // The only candidate on the inode has not got the file open: not the holder.
    assert!(matches!(
        lookup_with(&path, Some(&theirs)),
        LockState::HeldByUnknown { .. }
    ));
    // A line on the right device and inode needs no check.
    let exact = flock_line(other, &dev, ino);
    assert_eq!(held_by(lookup_with(&path, Some(&exact))), Some(other));
    drop(lock);
    assert_eq!(lookup_with(&path, Some(&mine)), LockState::Free);
}

/// Issue 18: `station stop` in another pid namespace than the streamer's (a sandboxed
/// console; here `unshare --pid`) sees the lock held but cannot name the holder: it says
/// so and signals nothing, instead of "not running" (or `kill(0, …)` on older kernels,
/// which list such a holder with pid 0).
#[tokio::test(flavor = "multi_thread")]
async fn issue_18_a_stop_that_cannot_see_the_holder_says_so_and_signals_nothing() {
    let ns = [
        "--user",
        "--map-root-user",
        "--pid",
        "--fork",
        "--mount-proc",
    ];
    let works = Command::new("unshare").args(ns).arg("true").status();
    if !works.is_ok_and(|s| s.success()) {
        eprintln!("skipped: `unshare {}` is not available here", ns.join(" "));
        return;
    }
    let kubo = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = station(tmp.path(), "radio", &kubo.api_url()).await;
    let state = StateDir::new(st.join("data/state"));
    let mut procs = ProcessGuard::new();
    let first = spawn(&st, &["stream"], &mut procs);
    holds(&state, Role::Stream, first).await;

    let out = Command::new("unshare")
        .args(ns)
        .arg(station_bin())
        .args(["stop", "--station"])
        .arg(&st)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&out);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("cannot identify") && !said.contains("not running"),
        "{said}"
    );
    assert!(pid_alive(first), "the streamer was signalled: {said}");
    assert_eq!(state.holder(Role::Stream).map(|h| h.pid), Some(first));
    // From its own namespace it stops as ever.
    let out = run_station(&st, &["stop"]);
    assert!(
        text(&out).contains(&format!("Stopped the streamer (pid {first})")),
        "{}",
        text(&out)
    );
}
