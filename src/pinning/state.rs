//! The station's side of its remote pin requests: [`REMOTE_PINS_FILE`] (request ids,
//! statuses, backoff; never a token) and what is read from it alone, with no call:
//! the status lines and the health monitor's "not pinned anywhere" age.

use super::api::Status;
use crate::error::Result;
use crate::station::remote_pinning::RemoteService;
use crate::station::state::StateDir;
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

/// Loads [`REMOTE_PINS_FILE`] (absent, unreadable or of another format: empty, logged;
/// requests are then adopted from the services' lists).
pub(super) fn load(state: &StateDir) -> RemotePins {
    crate::station::atomic::read_versioned(
        &state.file(REMOTE_PINS_FILE),
        REMOTE_PINS_FORMAT,
        |p: &RemotePins| p.format,
        "read as empty (requests are adopted from the services' lists)",
    )
}

/// Writes [`REMOTE_PINS_FILE`] atomically.
///
/// Errors: [`crate::error::Error::Io`].
pub(super) fn save(state: &StateDir, pins: &mut RemotePins) -> Result<()> {
    pins.format = REMOTE_PINS_FORMAT;
    crate::station::atomic::write_json_atomic(&state.file(REMOTE_PINS_FILE), pins)
}

/// `d` as a chrono duration (saturating).
pub(super) fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
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
