//! Following the station's pin requests on every service (see the module doc of
//! [`crate::pinning`]): one pass over the services and the loop. The state it keeps is
//! [`super::state`].

use super::api::{Client, PinStatus, ServiceError, Status};
use super::state::{chrono_of, load, save, RemotePins, Request, ServiceState, REMOTE_PINS_LOCK};
use super::wants::{origins, page_root, wants, Want};
use crate::clock::Clock;
use crate::error::Result;
use crate::kubo::Kubo;
use crate::station::remote_pinning::{read_token, RemoteService};
use crate::station::state::{InstanceLock, StateDir};
use crate::station::Station;
use chrono::{DateTime, Utc};
use std::time::Duration;

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

/// The wait after `failures` failed calls in a row: 5 s doubling, at most
/// [`BACKOFF_MAX`].
fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(10));
    Duration::from_secs(secs).min(BACKOFF_MAX)
}

/// One pass: for every service of `remote_pinning` that is due, makes what the station
/// wants held (the library root of `library_pins.json`; the page `page`, when given)
/// one request there, follows it, and deletes strays. Holds [`REMOTE_PINS_LOCK`]; when
/// another follower holds it, does nothing (`busy`). A service's failure is recorded
/// in its state and the report; it never fails the pass.
///
/// Errors: [`crate::error::Error::Io`] writing [`super::REMOTE_PINS_FILE`].
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
    let local = crate::setup::pins::load(&state);
    let mut wants = wants(station, &local, page);
    // Retired roots Kubo still holds keep their remote requests until they go here.
    let keep: Vec<String> = local.retired_roots.keys().cloned().collect();
    // Nothing due anywhere: no lock, no call (this runs every TICK).
    let pins = load(&state);
    if !services
        .iter()
        .any(|svc| has_work(pins.services.get(&svc.name), svc, &wants, now))
    {
        return Ok(report);
    }
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
    // Read again under the lock: another follower may have written it since.
    let mut pins = load(&state);
    let addrs = match kubo.id().await {
        Ok(id) => origins(&id.addresses),
        Err(e) => {
            tracing::warn!("remote pinning: no origins, Kubo's id failed: {e}");
            Vec::new()
        }
    };
    for w in &mut wants {
        w.pin.origins = addrs.clone();
    }
    for svc in services {
        if !has_work(pins.services.get(&svc.name), svc, &wants, now) {
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

/// Whether a pass has anything to call `svc` for: it is past its backoff and a request
/// is missing, of another CID, failed long enough ago, due for a check, or the sweep is
/// due (the same decisions as [`sync_service`]).
fn has_work(
    s: Option<&ServiceState>,
    svc: &RemoteService,
    wants: &[Want],
    now: DateTime<Utc>,
) -> bool {
    let Some(s) = s else {
        return true;
    };
    // Backoff first: a token file that cannot be read fails before the endpoint is noted.
    if s.next_attempt.is_some_and(|t| now < t) {
        return false;
    }
    if s.endpoint != svc.endpoint
        || s.failures > 0
        || s.swept_at.is_none_or(|t| now - t >= chrono_of(SWEEP_EVERY))
    {
        return true;
    }
    wants.iter().any(|w| {
        let r = if w.subject == "page" {
            &s.page
        } else {
            &s.library
        };
        match r {
            None => true,
            Some(r) if r.cid != w.pin.cid => true,
            Some(r) if r.status == Status::Failed => r
                .failed_at
                .is_some_and(|t| now - t >= chrono_of(FAILED_RETRY)),
            Some(r) => now >= r.next_check,
        }
    })
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
/// added once Kubo answers. `remote_pinning` is read again from `setup.config.json` at
/// each tick, so a service added or removed (the console's Settings) is followed or
/// left without a restart; while that file does not validate, the last good list is
/// kept (and the error logged once).
pub async fn follow(
    mut station: Station,
    kubo: Kubo,
    clock: std::sync::Arc<dyn Clock>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut page: Option<String> = None;
    let mut config_error: Option<String> = None;
    loop {
        match Station::open(station.dir()) {
            Ok(now) => {
                station.setup.remote_pinning = now.setup.remote_pinning;
                config_error = None;
            }
            Err(e) => {
                let e = e.to_string();
                if config_error.as_ref() != Some(&e) {
                    tracing::warn!("remote pinning: the services stay as they were: {e}");
                    config_error = Some(e);
                }
            }
        }
        if !station.setup.remote_pinning.is_empty() {
            if page.is_none() {
                match page_root(&kubo).await {
                    Ok(c) => page = Some(c),
                    Err(e) => tracing::debug!("remote pinning: the page waits for Kubo: {e}"),
                }
            }
            if let Err(e) = sync_once(&station, &kubo, page.as_deref(), clock.now()).await {
                tracing::warn!("remote pinning: {e}");
            }
        }
        tokio::select! {
            _ = clock.sleep(TICK) => {}
            _ = &mut stop => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::Pin;
    use super::*;
    use std::collections::BTreeMap;

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
