//! Following the station's pin requests on every service (see the module doc of
//! [`crate::pinning`]): the state file, one pass over the services, the loop.

use super::api::{Client, Pin, PinStatus, ServiceError, Status};
use super::request_name;
use crate::clock::Clock;
use crate::error::Result;
use crate::kubo::Kubo;
use crate::station::remote_pinning::{read_token, RemoteService};
use crate::station::state::{InstanceLock, StateDir};
use crate::station::Station;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `data/state/remote_pins.json`: the station's requests on each service ([`RemotePins`]).
pub const REMOTE_PINS_FILE: &str = "remote_pins.json";
/// The lock one follower holds while it calls the services (the streamer's follower and
/// `station setup` never both write [`REMOTE_PINS_FILE`]).
pub const REMOTE_PINS_LOCK: &str = "remote_pins.lock";
/// [`REMOTE_PINS_FILE`]'s format version.
pub const REMOTE_PINS_FORMAT: u32 = 1;
/// How often the follower looks at what is due (5 s): no service is called more often.
pub const TICK: Duration = Duration::from_secs(5);
/// A `failed` request is sent again as a new one this long after it failed (10 min).
pub const FAILED_RETRY: Duration = Duration::from_secs(600);
/// A `pinned` request is checked again this often (1 h).
pub const PINNED_RECHECK: Duration = Duration::from_secs(3600);
/// The longest wait between two checks of a pending request (5 min).
pub const PENDING_RECHECK_MAX: Duration = Duration::from_secs(300);
/// The longest backoff after failed calls (10 min).
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// The service's list of the station's requests is read this often to delete strays
/// (6 h), besides at every adoption.
pub const SWEEP_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Origins sent at most (components/schemas/Origins: maxItems 20).
pub const MAX_ORIGINS: usize = 20;

/// [`REMOTE_PINS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemotePins {
    /// [`REMOTE_PINS_FORMAT`].
    pub format: u32,
    /// By service name (`remote_pinning[].name`).
    #[serde(default)]
    pub services: BTreeMap<String, ServiceState>,
}

/// One service's side of the station.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The endpoint the requests were made at (a new endpoint starts over).
    pub endpoint: String,
    /// The library's request.
    #[serde(default)]
    pub library: Option<Request>,
    /// The listener page's request.
    #[serde(default)]
    pub page: Option<Request>,
    /// Calls failed in a row.
    #[serde(default)]
    pub failures: u32,
    /// No call before this (backoff, `Retry-After`).
    #[serde(default)]
    pub next_attempt: Option<DateTime<Utc>>,
    /// The last failure, as shown (never the token).
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the service last answered.
    #[serde(default)]
    pub last_ok: Option<DateTime<Utc>>,
    /// When the station's requests were last listed for strays.
    #[serde(default)]
    pub swept_at: Option<DateTime<Utc>>,
}

/// One pin request as the station follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The service's request id.
    pub requestid: String,
    /// The CID it pins.
    pub cid: String,
    /// Its last known status.
    pub status: Status,
    /// When the station made (or adopted) it.
    pub submitted_at: DateTime<Utc>,
    /// When it was first seen `pinned`.
    #[serde(default)]
    pub pinned_at: Option<DateTime<Utc>>,
    /// When it was last seen `failed`.
    #[serde(default)]
    pub failed_at: Option<DateTime<Utc>>,
    /// The next `GET /pins/{requestid}`.
    pub next_check: DateTime<Utc>,
    /// Checks while pending (the wait doubles with each).
    #[serde(default)]
    pub checks: u32,
    /// The service's `info.status_details`, shortened for display.
    #[serde(default)]
    pub details: Option<String>,
}

/// What one [`sync_once`] did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Services called.
    pub services: usize,
    /// API calls made.
    pub calls: usize,
    /// Errors, one line per failed service (no token).
    pub errors: Vec<String>,
    /// Whether another follower held the lock (nothing done).
    pub busy: bool,
}

/// What the station wants held: one subject's CID, name and meta.
#[derive(Debug, Clone)]
struct Want {
    subject: &'static str,
    pin: Pin,
}

fn load(state: &StateDir) -> RemotePins {
    let path = state.file(REMOTE_PINS_FILE);
    match crate::station::atomic::read_json::<RemotePins>(&path) {
        Ok(p) if p.format == REMOTE_PINS_FORMAT => p,
        Ok(p) => {
            tracing::warn!("{}: format {} is not {REMOTE_PINS_FORMAT}: read as empty (requests are adopted from the services' lists)", path.display(), p.format);
            RemotePins::default()
        }
        Err(crate::error::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            RemotePins::default()
        }
        Err(e) => {
            tracing::warn!("{e}: read as empty (requests are adopted from the services' lists)");
            RemotePins::default()
        }
    }
}

fn save(state: &StateDir, pins: &mut RemotePins) -> Result<()> {
    pins.format = REMOTE_PINS_FORMAT;
    crate::station::atomic::write_json_atomic(&state.file(REMOTE_PINS_FILE), pins)
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The wait after `failures` failed calls in a row: 5 s doubling, at most
/// [`BACKOFF_MAX`].
fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(10));
    Duration::from_secs(secs).min(BACKOFF_MAX)
}

/// The listener page's wrapped directory as the streamer adds it
/// ([`crate::air::site::add_page`]: the same files, so the same CID): added (pinned)
/// again, which stores nothing new.
///
/// Errors: as [`Kubo::add_tree`].
pub async fn page_root(kubo: &Kubo) -> Result<String> {
    let added = kubo
        .add_tree(crate::air::listener::page_files()?, true)
        .await?;
    added
        .into_iter()
        .find(|a| a.name.is_empty())
        .map(|a| a.cid)
        .ok_or_else(|| crate::error::Error::KuboResponse {
            endpoint: "/api/v0/add".into(),
            message: "the reply has no wrapping directory".into(),
        })
}

/// This node's addresses for `origins`: those ending in `/p2p/<peer ID>` (the spec's
/// Provider hints: "All multiaddrs MUST end with /p2p/{peerID}"), public ones only when
/// it has any ("Avoid sending addresses from local networks"), else its local ones (a
/// Cluster peer on the same network can dial those); at most [`MAX_ORIGINS`].
fn origins(addresses: &[String]) -> Vec<String> {
    let p2p: Vec<&String> = addresses.iter().filter(|a| a.contains("/p2p/")).collect();
    let local = |a: &str| {
        let host = a.split('/').nth(2).unwrap_or("");
        match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v)) => v.is_loopback() || v.is_private() || v.is_link_local(),
            Ok(std::net::IpAddr::V6(v)) => {
                v.is_loopback()
                    || (v.segments()[0] & 0xfe00) == 0xfc00
                    || (v.segments()[0] & 0xffc0) == 0xfe80
            }
            Err(_) => false,
        }
    };
    let public: Vec<String> = p2p
        .iter()
        .filter(|a| !local(a))
        .map(|a| a.to_string())
        .collect();
    let mut out = if public.is_empty() {
        p2p.iter().map(|a| a.to_string()).collect()
    } else {
        public
    };
    out.truncate(MAX_ORIGINS);
    out
}

/// One pass: for every service of `remote_pinning` that is due, makes what the station
/// wants held (the library root of `library_pins.json`; the page `page`, when given)
/// one request there, follows it, and deletes strays. Holds [`REMOTE_PINS_LOCK`]; when
/// another follower holds it, does nothing (`busy`). A service's failure is recorded
/// in its state and the report; it never fails the pass.
///
/// Errors: [`crate::error::Error::Io`] writing [`REMOTE_PINS_FILE`].
pub async fn sync_once(
    station: &Station,
    kubo: &Kubo,
    page: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let services = &station.setup.remote_pinning;
    if services.is_empty() {
        return Ok(report);
    }
    let state = station.state();
    state.create()?;
    let _lock = match InstanceLock::try_acquire(
        &state.file(REMOTE_PINS_LOCK),
        &format!("remote pinning of {}", station.dir().display()),
    ) {
        Ok(l) => l,
        Err(crate::error::Error::Locked { .. }) => {
            report.busy = true;
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    let local = crate::setup::pins::load(&state);
    let key = &station.streaming.ipns_key;
    let mut wants = Vec::new();
    let due = |s: Option<&ServiceState>| s.and_then(|s| s.next_attempt).is_none_or(|t| now >= t);
    let mut pins = load(&state);
    if !services.iter().any(|s| due(pins.services.get(&s.name))) {
        return Ok(report);
    }
    let addrs = match kubo.id().await {
        Ok(id) => origins(&id.addresses),
        Err(e) => {
            tracing::warn!("remote pinning: no origins, Kubo's id failed: {e}");
            Vec::new()
        }
    };
    if let Some(root) = &local.root {
        let mut meta = BTreeMap::new();
        meta.insert("app".into(), "ipfs-station".into());
        meta.insert(
            "station".into(),
            crate::station::text::display_text(&station.name(), 200),
        );
        meta.insert("subject".into(), "library".into());
        meta.insert(
            "library_version".into(),
            root.links_hash.chars().take(16).collect(),
        );
        meta.insert("made_at".into(), root.pinned_at.to_rfc3339());
        meta.insert("segments".into(), root.segments.to_string());
        wants.push(Want {
            subject: "library",
            pin: Pin {
                cid: root.cid.clone(),
                name: Some(request_name(key, "library")),
                origins: addrs.clone(),
                meta,
            },
        });
    }
    if let Some(page) = page {
        let mut meta = BTreeMap::new();
        meta.insert("app".into(), "ipfs-station".into());
        meta.insert(
            "station".into(),
            crate::station::text::display_text(&station.name(), 200),
        );
        meta.insert("subject".into(), "page".into());
        meta.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        wants.push(Want {
            subject: "page",
            pin: Pin {
                cid: page.to_string(),
                name: Some(request_name(key, "page")),
                origins: addrs.clone(),
                meta,
            },
        });
    }
    // Retired roots Kubo still holds keep their remote requests until they go here.
    let keep: Vec<String> = local.retired_roots.keys().cloned().collect();
    for svc in services {
        if !due(pins.services.get(&svc.name)) {
            continue;
        }
        report.services += 1;
        let mut calls = 0usize;
        let result = sync_service(&state, &mut pins, svc, &wants, &keep, now, &mut calls).await;
        report.calls += calls;
        let s = pins.services.entry(svc.name.clone()).or_default();
        match result {
            Ok(()) => {
                s.failures = 0;
                s.last_error = None;
                s.next_attempt = None;
                if calls > 0 {
                    s.last_ok = Some(now);
                }
            }
            Err(Failed::Service(e)) => {
                s.failures = s.failures.saturating_add(1);
                let mut wait = backoff(s.failures);
                if e.is_auth() {
                    wait = wait.max(Duration::from_secs(60));
                }
                if let Some(r) = e.retry_after {
                    wait = wait.max(r);
                }
                s.next_attempt = Some(now + chrono_of(wait));
                let line = format!("{e} (next try in {} s)", wait.as_secs());
                tracing::warn!("remote pinning: {line}");
                s.last_error = Some(e.to_string());
                report.errors.push(line);
            }
            Err(Failed::Setup(e)) => {
                s.failures = s.failures.saturating_add(1);
                s.next_attempt = Some(now + chrono_of(Duration::from_secs(60)));
                s.last_error = Some(e.to_string());
                report.errors.push(e.to_string());
            }
            Err(Failed::Io(e)) => return Err(e),
        }
        save(&state, &mut pins)?;
    }
    Ok(report)
}

enum Failed {
    /// The service failed a call.
    Service(ServiceError),
    /// The token file (or the client) is not usable: the operator has to act.
    Setup(crate::error::Error),
    /// Writing the state.
    Io(crate::error::Error),
}

async fn sync_service(
    state: &StateDir,
    pins: &mut RemotePins,
    svc: &RemoteService,
    wants: &[Want],
    keep: &[String],
    now: DateTime<Utc>,
    calls: &mut usize,
) -> std::result::Result<(), Failed> {
    let token = read_token(svc).map_err(Failed::Setup)?;
    let client = Client::new(svc, token).map_err(Failed::Setup)?;
    {
        let s = pins.services.entry(svc.name.clone()).or_default();
        if s.endpoint != svc.endpoint {
            // Another service under the same name: its requests are elsewhere.
            *s = ServiceState {
                endpoint: svc.endpoint.clone(),
                ..ServiceState::default()
            };
        }
    }
    for want in wants {
        let current = slot(pins, &svc.name, want.subject).clone();
        let next = match current {
            None => Some(adopt_or_add(&client, want, keep, now, calls).await?),
            Some(r) if r.cid != want.pin.cid => {
                *calls += 1;
                match client.replace(&r.requestid, &want.pin).await {
                    Ok(s) => Some(made(&s, &want.pin.cid, now)),
                    Err(e) if e.status() == Some(404) => {
                        Some(adopt_or_add(&client, want, keep, now, calls).await?)
                    }
                    Err(e) => return Err(Failed::Service(e)),
                }
            }
            Some(r) if r.status == Status::Failed => {
                if r.failed_at
                    .is_some_and(|t| now - t >= chrono_of(FAILED_RETRY))
                {
                    *calls += 2;
                    client.delete(&r.requestid).await.map_err(Failed::Service)?;
                    let s = client.add(&want.pin).await.map_err(Failed::Service)?;
                    Some(made(&s, &want.pin.cid, now))
                } else {
                    Some(r)
                }
            }
            Some(r) if now >= r.next_check => {
                *calls += 1;
                match client.get(&r.requestid).await.map_err(Failed::Service)? {
                    None => Some(adopt_or_add(&client, want, keep, now, calls).await?),
                    Some(s) => Some(checked(r, &s, now)),
                }
            }
            Some(r) => Some(r),
        };
        *slot(pins, &svc.name, want.subject) = next;
        save(state, pins).map_err(Failed::Io)?;
    }
    let swept = pins.services.get(&svc.name).and_then(|s| s.swept_at);
    if swept.is_none_or(|t| now - t >= chrono_of(SWEEP_EVERY)) {
        for want in wants {
            let own = slot(pins, &svc.name, want.subject)
                .as_ref()
                .map(|r| r.requestid.clone());
            sweep(&client, want, own.as_deref(), keep, calls).await?;
        }
        pins.services.entry(svc.name.clone()).or_default().swept_at = Some(now);
    }
    Ok(())
}

fn slot<'a>(pins: &'a mut RemotePins, service: &str, subject: &str) -> &'a mut Option<Request> {
    let s = pins.services.entry(service.to_string()).or_default();
    if subject == "page" {
        &mut s.page
    } else {
        &mut s.library
    }
}

/// A request for `cid` just made or adopted, from its status `s`. The CID is the one the
/// station sent, not the reply's: a service that spells it another way (CIDv0 as v1)
/// must not look like another version, or every pass would replace it.
fn made(s: &PinStatus, cid: &str, now: DateTime<Utc>) -> Request {
    let r = Request {
        requestid: s.requestid.clone(),
        cid: cid.to_string(),
        status: Status::Queued,
        submitted_at: now,
        pinned_at: None,
        failed_at: None,
        next_check: now,
        checks: 0,
        details: None,
    };
    checked(r, s, now)
}

/// `r` after the service said `s`: status, details, and when to look again.
fn checked(mut r: Request, s: &PinStatus, now: DateTime<Utc>) -> Request {
    if s.status != r.status {
        r.checks = 0;
    }
    r.status = s.status;
    r.details = s
        .info
        .get("status_details")
        .map(|d| crate::station::text::display_text(d, 200));
    let wait = match s.status {
        Status::Queued | Status::Pinning => {
            let w = Duration::from_secs(5u64 << r.checks.min(10)).min(PENDING_RECHECK_MAX);
            r.checks = r.checks.saturating_add(1);
            w
        }
        Status::Pinned => {
            r.pinned_at.get_or_insert(now);
            PINNED_RECHECK
        }
        Status::Failed => {
            r.failed_at.get_or_insert(now);
            FAILED_RETRY
        }
    };
    r.next_check = now + chrono_of(wait);
    r
}

/// With no request id for `want`: the service's list of the station's requests by name,
/// a live one for the same CID adopted, else one for another CID replaced, else a new
/// request; the others deleted ([`sweep`]).
async fn adopt_or_add(
    client: &Client,
    want: &Want,
    keep: &[String],
    now: DateTime<Utc>,
    calls: &mut usize,
) -> std::result::Result<Request, Failed> {
    let name = want.pin.name.clone().unwrap_or_default();
    *calls += 1;
    let listed = client.list_all(&name).await.map_err(Failed::Service)?;
    let live = |s: &&PinStatus| s.status != Status::Failed;
    let mut replaced = None;
    let chosen = if let Some(s) = listed
        .iter()
        .filter(live)
        .find(|s| s.pin.cid == want.pin.cid)
    {
        s.clone()
    } else if let Some(old) = listed
        .iter()
        .filter(live)
        .find(|s| !keep.contains(&s.pin.cid))
    {
        *calls += 1;
        replaced = Some(old.requestid.clone());
        client
            .replace(&old.requestid, &want.pin)
            .await
            .map_err(Failed::Service)?
    } else {
        *calls += 1;
        client.add(&want.pin).await.map_err(Failed::Service)?
    };
    // The rest are strays: a second request for the same CID, a failed one, one of a
    // version no longer held here (the replaced one the service deleted itself).
    for s in &listed {
        let other = s.requestid != chosen.requestid && Some(&s.requestid) != replaced.as_ref();
        if other && (s.pin.cid == want.pin.cid || !keep.contains(&s.pin.cid)) {
            *calls += 1;
            client.delete(&s.requestid).await.map_err(Failed::Service)?;
        }
    }
    Ok(made(&chosen, &want.pin.cid, now))
}

/// Deletes the requests named as `want` that are not `own` and do not pin a root in
/// `keep`.
async fn sweep(
    client: &Client,
    want: &Want,
    own: Option<&str>,
    keep: &[String],
    calls: &mut usize,
) -> std::result::Result<(), Failed> {
    let name = want.pin.name.clone().unwrap_or_default();
    *calls += 1;
    for s in client.list_all(&name).await.map_err(Failed::Service)? {
        if Some(s.requestid.as_str()) != own && !keep.contains(&s.pin.cid) {
            *calls += 1;
            client.delete(&s.requestid).await.map_err(Failed::Service)?;
        }
    }
    Ok(())
}

/// Follows the station's requests until `stop` resolves: a [`sync_once`] every
/// [`TICK`] on `clock` (each service is called only when something is due), the page
/// added once Kubo answers.
pub async fn follow(
    station: Station,
    kubo: Kubo,
    clock: std::sync::Arc<dyn Clock>,
    stop: impl std::future::Future<Output = ()>,
) {
    if station.setup.remote_pinning.is_empty() {
        return;
    }
    tokio::pin!(stop);
    let mut page: Option<String> = None;
    loop {
        if page.is_none() {
            match page_root(&kubo).await {
                Ok(c) => page = Some(c),
                Err(e) => tracing::debug!("remote pinning: the page waits for Kubo: {e}"),
            }
        }
        if let Err(e) = sync_once(&station, &kubo, page.as_deref(), clock.now()).await {
            tracing::warn!("remote pinning: {e}");
        }
        tokio::select! {
            _ = clock.sleep(TICK) => {}
            _ = &mut stop => return,
        }
    }
}

/// One service's line for `station status`, its `--json` and the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    /// The service's name.
    pub service: String,
    /// `pinned`, `pinning`, `queued`, `failed`, `failing` (calls fail: see
    /// `last_error`), or `not sent` (no request yet).
    pub status: String,
    /// The library request's id.
    pub requestid: Option<String>,
    /// The CID it pins.
    pub cid: Option<String>,
    /// Whether that CID is the library's current root.
    pub current: bool,
    /// When the service was first seen holding it.
    pub pinned_at: Option<DateTime<Utc>>,
    /// The last failure (never the token), or the `failed` request's details.
    pub last_error: Option<String>,
}

/// Every configured service's library status, from the state files alone (no call).
pub fn service_statuses(station: &Station) -> Vec<ServiceStatus> {
    let state = station.state();
    let pins = load(&state);
    let root = crate::setup::pins::load(&state).root.map(|r| r.cid);
    station
        .setup
        .remote_pinning
        .iter()
        .map(|svc| {
            let s = pins
                .services
                .get(&svc.name)
                .filter(|s| s.endpoint == svc.endpoint);
            let req = s.and_then(|s| s.library.as_ref());
            let last_error = s.and_then(|s| s.last_error.clone());
            let current = req.is_some_and(|r| Some(&r.cid) == root.as_ref());
            let status = match (req, &last_error) {
                (_, Some(_)) => "failing".to_string(),
                (None, None) => "not sent".to_string(),
                (Some(_), None) if !current => "replacing".to_string(),
                (Some(r), None) => r.status.as_str().to_string(),
            };
            ServiceStatus {
                service: svc.name.clone(),
                status,
                requestid: req.map(|r| r.requestid.clone()),
                cid: req.map(|r| r.cid.clone()),
                current,
                pinned_at: req.and_then(|r| r.pinned_at),
                last_error: last_error.or_else(|| {
                    req.filter(|r| r.status == Status::Failed)
                        .and_then(|r| r.details.clone())
                }),
            }
        })
        .collect()
}

/// What [`forget_service`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Requests deleted on the service.
    pub deleted: usize,
    /// Why the service's requests could not be deleted (they are left there), if so.
    pub error: Option<String>,
}

/// Before `service` is taken out of `remote_pinning`: deletes the station's requests
/// there (with `delete_requests`: every request named for the station's library and
/// page, listed from the service) and forgets its state. Call it while the service is
/// still configured (its token is needed). A failing service leaves its requests and
/// says why; the state is forgotten either way.
///
/// Errors: [`crate::error::Error::Io`] writing [`REMOTE_PINS_FILE`].
pub async fn forget_service(
    station: &Station,
    service: &RemoteService,
    delete_requests: bool,
) -> Result<Forgotten> {
    let mut out = Forgotten::default();
    if delete_requests {
        let deleted = async {
            let token = read_token(service).map_err(|e| e.to_string())?;
            let client = Client::new(service, token).map_err(|e| e.to_string())?;
            let mut n = 0;
            for subject in ["library", "page"] {
                let name = request_name(&station.streaming.ipns_key, subject);
                for s in client.list_all(&name).await.map_err(|e| e.to_string())? {
                    if client
                        .delete(&s.requestid)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        n += 1;
                    }
                }
            }
            Ok::<usize, String>(n)
        };
        match deleted.await {
            Ok(n) => out.deleted = n,
            Err(e) => out.error = Some(e),
        }
    }
    let state = station.state();
    let mut pins = load(&state);
    if pins.services.remove(&service.name).is_some() {
        save(&state, &mut pins)?;
    }
    Ok(out)
}

/// How long the library may go unpinned on every service before the health monitor warns
/// (1 h).
pub const UNPINNED_WARN_AFTER: Duration = Duration::from_secs(3600);

/// When services are configured and the current library root was made more than
/// [`UNPINNED_WARN_AFTER`] before `now` without any of `services` holding it: its age in
/// hours. `None` otherwise (pinned somewhere, younger, no services or no root).
pub fn unpinned_library_hours(
    state: &StateDir,
    services: &[RemoteService],
    now: DateTime<Utc>,
) -> Option<f64> {
    if services.is_empty() {
        return None;
    }
    let root = crate::setup::pins::load(state).root?;
    let age = now - root.pinned_at;
    if age < chrono_of(UNPINNED_WARN_AFTER) {
        return None;
    }
    let pins = load(state);
    let held = services.iter().any(|svc| {
        pins.services
            .get(&svc.name)
            .filter(|s| s.endpoint == svc.endpoint)
            .and_then(|s| s.library.as_ref())
            .is_some_and(|r| r.cid == root.cid && r.status == Status::Pinned)
    });
    (!held).then(|| age.num_seconds() as f64 / 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_prefer_public_p2p_addresses() {
        let id = "/p2p/12D3KooWExample";
        let a = |s: &str| format!("{s}{id}");
        let all = vec![
            a("/ip4/127.0.0.1/tcp/4001"),
            a("/ip4/192.168.1.5/tcp/4001"),
            a("/ip4/203.0.113.7/tcp/4001"),
            "/ip4/203.0.113.7/tcp/4002".to_string(),
            a("/ip6/::1/tcp/4001"),
        ];
        assert_eq!(origins(&all), vec![a("/ip4/203.0.113.7/tcp/4001")]);
        let local = vec![a("/ip4/127.0.0.1/tcp/4001"), a("/ip4/192.168.1.5/tcp/4001")];
        assert_eq!(origins(&local), local);
        let many: Vec<String> = (0..30)
            .map(|i| a(&format!("/ip4/203.0.113.{i}/tcp/4001")))
            .collect();
        assert_eq!(origins(&many).len(), MAX_ORIGINS);
    }

    #[test]
    fn checks_back_off_while_pending_and_slow_down_once_pinned() {
        let now = Utc::now();
        let status = |st: Status| PinStatus {
            requestid: "r".into(),
            status: st,
            created: None,
            pin: Pin {
                cid: "bafy".into(),
                ..Pin::default()
            },
            delegates: vec![],
            info: BTreeMap::new(),
        };
        let mut r = made(&status(Status::Queued), "bafy", now);
        assert_eq!(r.next_check - now, chrono::Duration::seconds(5));
        r = checked(r, &status(Status::Queued), now);
        assert_eq!(r.next_check - now, chrono::Duration::seconds(10));
        for _ in 0..10 {
            r = checked(r, &status(Status::Queued), now);
        }
        assert_eq!(r.next_check - now, chrono_of(PENDING_RECHECK_MAX));
        r = checked(r, &status(Status::Pinned), now);
        assert_eq!(r.pinned_at, Some(now));
        assert_eq!(r.next_check - now, chrono_of(PINNED_RECHECK));
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(30), BACKOFF_MAX);
    }
}
