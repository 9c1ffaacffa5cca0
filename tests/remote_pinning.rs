//! Remote pinning (issue 22): the library pinned on pinning services through the IPFS
//! Pinning Service API, against `crates/pinning-double` (written from
//! ipfs-pinning-service.yaml v1.0.0, each behaviour cited in its own tests) and the Kubo
//! double.
//!
//! Spec behaviour relied on: `POST /pins` answers 202 with a `PinStatus`;
//! `POST /pins/{requestid}` replaces, "the old pin object is deleted automatically";
//! `GET /pins` lists only `pinned` unless `status` says otherwise; errors are
//! `{"error": {"reason", "details"}}`; 429 may carry `Retry-After`.

use crate::setup::run_setup;
use crate::support::*;
use chrono::{Duration as Ch, Utc};
use ipfs_station::pinning::{self, sync_once, RemotePins, REMOTE_PINS_FILE};
use ipfs_station::setup::manifest::Manifest;
use ipfs_station::setup::pins;
use ipfs_station::station::keys::SETUP_FILE;
use ipfs_station::station::state::StateDir;
use ipfs_station::station::Station;
use pinning_double::{Fault, Options, PinningDouble, Status};
use std::path::{Path, PathBuf};

const TOKEN: &str = "tok-3f9a-never-print-me";

/// A token file the station accepts (mode 0600).
fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(format!("{name}.token"));
    std::fs::write(&p, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The small station, set up, with `services` as its `remote_pinning`.
async fn station_with(
    tmp: &Path,
    node: &KuboDouble,
    services: &[(&str, &PinningDouble)],
) -> PathBuf {
    node.faults().set_online(Some(std::time::Duration::ZERO));
    let st = small_station(tmp, &node.api_url());
    let list: Vec<serde_json::Value> = services
        .iter()
        .map(|(name, d)| {
            serde_json::json!({
                "name": name,
                "endpoint": d.endpoint(),
                "access_token_file": token_file(tmp, name, TOKEN),
            })
        })
        .collect();
    patch_config(
        &st,
        SETUP_FILE,
        serde_json::json!({ "remote_pinning": list }),
    );
    let r = run_setup(&st).await;
    assert!(r.ok(), "{r:?}");
    st
}

fn root_of(st: &Path) -> String {
    pins::load(&StateDir::new(st.join("data/state")))
        .root
        .unwrap()
        .cid
}

fn remote_state(st: &Path) -> RemotePins {
    serde_json::from_slice(&std::fs::read(st.join("data/state").join(REMOTE_PINS_FILE)).unwrap())
        .unwrap()
}

async fn double() -> PinningDouble {
    PinningDouble::start(Options::new(TOKEN)).await.unwrap()
}

async fn sync(st: &Path, node: &KuboDouble, at: chrono::DateTime<Utc>) -> pinning::SyncReport {
    let station = Station::open(st).unwrap();
    sync_once(&station, &client(&node.api_url()), None, at)
        .await
        .unwrap()
}

/// A fresh setup: one request per service, for the library root that links every
/// segment of the manifest, named for the station, with this node's `/p2p/` addresses as
/// origins; the next pass sees it pinned and `station status` says so.
#[tokio::test]
async fn a_fresh_setup_is_one_pinned_request_per_service_with_this_nodes_origins() {
    let node = KuboDouble::start().await.unwrap();
    let (a, b) = (double().await, double().await);
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a), ("pinata", &b)]).await;
    let root = root_of(&st);
    let t0 = Utc::now();
    let r = sync(&st, &node, t0).await;
    assert!(r.errors.is_empty(), "{r:?}");
    let station = Station::open(&st).unwrap();
    let key = station.streaming.ipns_key.clone();
    let peer = client(&node.api_url()).id().await.unwrap().id;
    for d in [&a, &b] {
        let p = d.pins();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].cid, root);
        assert_eq!(
            p[0].name.as_deref(),
            Some(format!("ipfs-station:{key}:library").as_str())
        );
        assert!(!p[0].origins.is_empty());
        assert!(
            p[0].origins
                .iter()
                .all(|o| o.ends_with(&format!("/p2p/{peer}"))),
            "{p:?}"
        );
        assert_eq!(p[0].meta.get("station"), Some(&station.name()));
        assert!(p[0].meta.contains_key("library_version"), "{p:?}");
    }
    // The root covers the library: every segment of the manifest is pinned under it.
    let held = client(&node.api_url()).pins().await.unwrap();
    for c in Manifest::load(&st.join("data/processed"))
        .unwrap()
        .segment_cids()
    {
        assert!(held.contains(c), "{c} is under the root sent");
    }
    // The double pins at once; the check 5 s later sees it.
    sync(&st, &node, t0 + Ch::seconds(6)).await;
    let s = pinning::service_statuses(&station);
    assert_eq!(s.len(), 2);
    for x in &s {
        assert_eq!(x.status, "pinned", "{s:?}");
        assert!(x.current && x.pinned_at.is_some(), "{s:?}");
    }
    let out = run_station(&st, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pinned on cluster: pinned"), "{text}");
    assert!(text.contains("pinned on pinata: pinned"), "{text}");
}

/// Two library changes later: still one request per service, for the newest root; each
/// change cost one replace, not a request per segment.
#[tokio::test]
async fn each_library_change_replaces_the_one_request() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    let mut t = Utc::now();
    sync(&st, &node, t).await;
    let first = a.pins()[0].requestid.clone();
    for i in 0..2 {
        gen_audio(
            &st.join(format!("music/New {i}.ogg")),
            &format!("sine=frequency={}", 700 + i * 50),
            4.0,
            &["-c:a", "libvorbis"],
        );
        let r = run_setup(&st).await;
        assert!(r.ok() && r.library_pins.new_root, "{r:?}");
        t += Ch::seconds(10);
        let rep = sync(&st, &node, t).await;
        assert!(rep.errors.is_empty(), "{rep:?}");
        let p = a.pins();
        assert_eq!(p.len(), 1, "one live request per service: {p:?}");
        assert_eq!(p[0].cid, root_of(&st));
        assert_ne!(p[0].requestid, first);
    }
    assert_eq!(a.calls_to("POST /pins"), 1, "{:?}", a.calls());
    assert_eq!(a.calls_to("POST /pins/{requestid}"), 2, "{:?}", a.calls());
}

/// A service answering 503 fails neither setup nor the pass; the station says so and
/// backs off, and once the service recovers the library is pinned there.
#[tokio::test]
async fn a_service_that_answers_503_is_retried_and_catches_up() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    a.set_fault(Fault::Status {
        status: 503,
        retry_after: Some(30),
    });
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    let t0 = Utc::now();
    let r = sync(&st, &node, t0).await;
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert!(r.errors[0].contains("HTTP 503"), "{r:?}");
    let station = Station::open(&st).unwrap();
    let s = &pinning::service_statuses(&station)[0];
    assert_eq!(s.status, "failing");
    assert!(s.last_error.as_deref().unwrap().contains("503"), "{s:?}");
    // Pinned nowhere: health warns once the version is an hour old.
    let state = station.state();
    let services = &station.setup.remote_pinning;
    assert_eq!(pinning::unpinned_library_hours(&state, services, t0), None);
    let later = t0 + Ch::minutes(90);
    assert!(pinning::unpinned_library_hours(&state, services, later).unwrap() >= 1.0);
    // Retry-After: 30 is honoured: nothing is sent 10 s later.
    let calls = a.calls().values().sum::<usize>();
    let r = sync(&st, &node, t0 + Ch::seconds(10)).await;
    assert_eq!(r.services, 0, "{r:?}");
    assert_eq!(a.calls().values().sum::<usize>(), calls);
    a.set_fault(Fault::None);
    let r = sync(&st, &node, t0 + Ch::seconds(31)).await;
    assert!(r.errors.is_empty(), "{r:?}");
    sync(&st, &node, t0 + Ch::seconds(40)).await;
    let s = &pinning::service_statuses(&station)[0];
    assert_eq!(s.status, "pinned", "{s:?}");
    assert!(s.last_error.is_none());
    assert_eq!(a.pins().len(), 1);
    assert_eq!(
        pinning::unpinned_library_hours(&state, services, later),
        None
    );
}

/// A restart follows the same request (its id is in the state); a lost state adopts the
/// service's request by name instead of making a second one.
#[tokio::test]
async fn a_restart_follows_the_same_request_and_a_lost_state_adopts_it() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    let t0 = Utc::now();
    sync(&st, &node, t0).await;
    let id = a.pins()[0].requestid.clone();
    assert_eq!(
        remote_state(&st).services["cluster"]
            .library
            .as_ref()
            .unwrap()
            .requestid,
        id
    );
    a.clear_calls();
    // A new process (a new Station, a new client) an hour later: a status check only.
    sync(&st, &node, t0 + Ch::hours(2)).await;
    assert_eq!(a.calls_to("POST /pins"), 0, "{:?}", a.calls());
    assert_eq!(a.calls_to("GET /pins/{requestid}"), 1, "{:?}", a.calls());
    std::fs::remove_file(st.join("data/state").join(REMOTE_PINS_FILE)).unwrap();
    sync(&st, &node, t0 + Ch::hours(3)).await;
    assert_eq!(
        a.calls_to("POST /pins"),
        0,
        "adopted, not sent again: {:?}",
        a.calls()
    );
    assert_eq!(a.pins().len(), 1);
    assert_eq!(
        remote_state(&st).services["cluster"]
            .library
            .as_ref()
            .unwrap()
            .requestid,
        id
    );
}

/// The token goes in the Authorization header and nowhere else: not in the state files,
/// `station status` (text or JSON), or the errors of a service that echoes it.
#[tokio::test]
async fn the_token_appears_in_no_state_file_output_or_error() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    sync(&st, &node, Utc::now()).await;
    assert!(a
        .seen_authorization()
        .iter()
        .all(|h| h == &format!("Bearer {TOKEN}")));
    // A refused token (the file holds another one): the error names the file to check.
    let wrong = token_file(tmp.path(), "cluster", "tok-other-secret");
    assert!(wrong.exists());
    std::fs::remove_file(st.join("data/state").join(REMOTE_PINS_FILE)).unwrap();
    let r = sync(&st, &node, Utc::now()).await;
    assert!(
        r.errors[0].contains("401") && r.errors[0].contains("access token file"),
        "{r:?}"
    );
    let mut seen = String::new();
    for e in std::fs::read_dir(st.join("data/state")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            seen.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    for args in [&["status"][..], &["status", "--json"][..]] {
        let out = run_station(&st, args);
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    seen.push_str(&r.errors.join("\n"));
    assert!(
        !seen.contains(TOKEN) && !seen.contains("tok-other-secret"),
        "{seen}"
    );
    assert!(seen.contains("401"), "the refusal is shown: {seen}");
}

/// A request the service gives up on (`failed`) is reported and sent again as a new
/// request after the retry delay; the failed one is deleted.
#[tokio::test]
async fn a_failed_request_is_reported_and_sent_again_later() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    let root = root_of(&st);
    a.fail_cid(&root, "DAG too big for your plan");
    let t0 = Utc::now();
    sync(&st, &node, t0).await;
    sync(&st, &node, t0 + Ch::seconds(6)).await;
    let station = Station::open(&st).unwrap();
    let s = &pinning::service_statuses(&station)[0];
    assert_eq!(s.status, "failed", "{s:?}");
    assert!(
        s.last_error.as_deref().unwrap().contains("DAG too big"),
        "{s:?}"
    );
    let failed = a.pins()[0].requestid.clone();
    a.clear_fail_cid(&root);
    sync(&st, &node, t0 + Ch::seconds(6 + 60)).await;
    assert_eq!(a.pins()[0].requestid, failed, "not before the retry delay");
    sync(&st, &node, t0 + Ch::seconds(6 + 601)).await;
    let p = a.pins();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_ne!(p[0].requestid, failed);
    sync(&st, &node, t0 + Ch::seconds(6 + 610)).await;
    assert_eq!(pinning::service_statuses(&station)[0].status, "pinned");
    assert!(p.iter().all(|x| x.status != Status::Failed));
}

/// A pass with nothing due (the request pinned, its hourly check not yet come) calls
/// neither the service nor Kubo's `id`, and takes no lock: the follower runs one every
/// 5 s for weeks.
#[tokio::test]
async fn a_pass_with_nothing_due_calls_nothing() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[("cluster", &a)]).await;
    let t0 = Utc::now();
    let mut at = t0;
    // The first passes send the request, see it pinned and sweep.
    for _ in 0..3 {
        let r = sync(&st, &node, at).await;
        assert!(r.errors.is_empty(), "{r:?}");
        at += Ch::seconds(10);
    }
    a.clear_calls();
    node.clear_rpc_calls();
    for i in 0..10 {
        let r = sync(&st, &node, at + Ch::minutes(i)).await;
        assert_eq!((r.services, r.calls), (0, 0), "{r:?}");
    }
    assert!(a.calls().is_empty(), "{:?}", a.calls());
    let kubo: Vec<_> = node.rpc_calls();
    assert!(kubo.is_empty(), "{kubo:?}");
    // An hour on, the check is due again: one GET of the request, one `id`.
    let r = sync(&st, &node, at + Ch::minutes(61)).await;
    assert_eq!((r.services, r.calls), (1, 1), "{r:?}");
    assert_eq!(a.calls_to("GET /pins/{requestid}"), 1, "{:?}", a.calls());
}

/// A running follower reads `remote_pinning` at every tick: a service added while on air
/// gets the library within a tick or two, and one taken out is called no more.
#[tokio::test]
async fn a_running_follower_follows_services_added_and_removed_on_air() {
    let node = KuboDouble::start().await.unwrap();
    let a = double().await;
    let tmp = tempfile::tempdir().unwrap();
    let st = station_with(tmp.path(), &node, &[]).await;
    let root = root_of(&st);
    let station = Station::open(&st).unwrap();
    tokio::time::pause();
    let clock = std::sync::Arc::new(ipfs_station::clock::SimClock::starting_at(Utc::now()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(pinning::follow(
        station,
        client(&node.api_url()),
        clock,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert!(a.calls().is_empty(), "{:?}", a.calls());
    let service = serde_json::json!([{
        "name": "cluster",
        "endpoint": a.endpoint(),
        "access_token_file": token_file(tmp.path(), "cluster", TOKEN),
    }]);
    patch_config(
        &st,
        SETUP_FILE,
        serde_json::json!({ "remote_pinning": service }),
    );
    let mut waited = 0;
    while !a.pins().iter().any(|p| p.cid == root) {
        assert!(waited < 60, "not sent within 60 s: {:?}", a.pins());
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        waited += 1;
    }
    assert!(waited <= 2 * pinning::TICK.as_secs(), "{waited} s");
    patch_config(&st, SETUP_FILE, serde_json::json!({ "remote_pinning": [] }));
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    a.clear_calls();
    tokio::time::sleep(std::time::Duration::from_secs(3 * 3600)).await;
    assert!(a.calls().is_empty(), "{:?}", a.calls());
    stop.send(()).unwrap();
    follower.await.unwrap();
    tokio::time::resume();
}
