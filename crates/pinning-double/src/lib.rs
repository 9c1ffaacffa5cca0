//! A test double of the IPFS Pinning Service API v1.0.0 on loopback.
//!
//! It follows `ipfs-pinning-service.yaml` (github.com/ipfs/pinning-services-api-spec,
//! archived at v1.0.0), not what any client expects: the routes `GET /pins`, `POST
//! /pins`, `GET /pins/{requestid}`, `POST /pins/{requestid}` and `DELETE
//! /pins/{requestid}` at the root of [`PinningDouble::endpoint`], bearer-token
//! authentication (`securitySchemes/accessToken`), the `Pin` schema's limits, the
//! `GET /pins` filters and pagination, and the `Failure` error body
//! `{"error":{"reason":"...","details":"..."}}` for every error.
//!
//! Pinning takes time on purpose: a new pin object is `queued` for
//! [`Options::queued_for`], then `pinning` for [`Options::pinning_for`], then `pinned`
//! (or `failed`, for a CID set with [`PinningDouble::fail_cid`]). Elapsed time is
//! measured with [`tokio::time::Instant`], so a test under a paused Tokio clock moves
//! pins along with `tokio::time::advance`.
//!
//! Faults ([`Fault`]) make every request answer an error status, wait, or hang; the
//! double counts calls per route ([`PinningDouble::calls`]) and shows every live pin
//! object ([`PinningDouble::pins`]).

mod service;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The one delegate every `PinStatus.delegates` lists: a multiaddr ending in
/// `/p2p/<peerID>` as the spec's Provider hints section requires ("All multiaddrs MUST end
/// with `/p2p/{peerID}`"). The peer ID is a well-formed Ed25519 libp2p peer ID (identity
/// multihash of a protobuf public key, base58btc) of a key nobody holds; nothing listens
/// there.
pub const DELEGATE: &str =
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBmBTQ73cFafBBHQYVGb5r7zixKALZR1n3MUcmryc69MD";

/// How long a stopping server lets replies in progress finish before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How the double starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The access token every request must carry as `Authorization: Bearer <token>`
    /// (spec `components/securitySchemes/accessToken`). Must not be empty.
    pub token: String,
    /// How long a new pin object stays `queued` (spec `components/schemas/Status`:
    /// "pinning operation is waiting in the queue").
    pub queued_for: Duration,
    /// How long it is `pinning` after that, before it is `pinned` (or `failed`).
    pub pinning_for: Duration,
}

impl Options {
    /// Options with `token` and no delay: a new pin object is `pinned` at once.
    pub fn new(token: &str) -> Options {
        Options {
            token: token.to_string(),
            queued_for: Duration::ZERO,
            pinning_for: Duration::ZERO,
        }
    }
}

impl Default for Options {
    /// Token `pinning-double-token`, no delay.
    fn default() -> Options {
        Options::new("pinning-double-token")
    }
}

/// A fault every request meets, set with [`PinningDouble::set_fault`]. It applies before
/// authentication, to every route (and to paths outside the API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Answer HTTP `status` (meant for 4xx and 5xx; a number that is not an HTTP status
    /// answers 500) with the spec's `Failure` body, and `Retry-After: <seconds>` when
    /// `retry_after` is set (e.g. 429). The `reason` is the spec's for its status
    /// (`BAD_REQUEST` 400, `UNAUTHORIZED` 401, `NOT_FOUND` 404, `INSUFFICIENT_FUNDS` 409,
    /// `INTERNAL_SERVER_ERROR` for any 5xx), else the HTTP reason phrase in the same
    /// style (`TOO_MANY_REQUESTS` 429, `FORBIDDEN` 403), as `components/responses/
    /// CustomServiceError` leaves the reason of other 4xx to the service.
    Status {
        /// The HTTP status code.
        status: u16,
        /// Seconds for a `Retry-After` header, if any.
        retry_after: Option<u64>,
    },
    /// Wait this long (Tokio time) before handling the request normally: a slow service,
    /// to make a client time out.
    Delay(Duration),
    /// Never answer: the request stays open until the client gives up or the double
    /// stops.
    Hang,
}

/// `components/schemas/Status`: the state of a pin object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// `queued`: waiting in the queue.
    Queued,
    /// `pinning`: pinning in progress.
    Pinning,
    /// `pinned`: pinned successfully.
    Pinned,
    /// `failed`: the service was unable to finish pinning; `info.status_details` says why.
    Failed,
}

impl Status {
    /// The wire value: `queued`, `pinning`, `pinned` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Pinning => "pinning",
            Status::Pinned => "pinned",
            Status::Failed => "failed",
        }
    }

    /// Parses a wire value (exact, lowercase, as the spec's enum); `None` for anything
    /// else.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "queued" => Some(Status::Queued),
            "pinning" => Some(Status::Pinning),
            "pinned" => Some(Status::Pinned),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live pin object as the double holds it, for inspection from a test
/// ([`PinningDouble::pins`]); the same values `GET /pins/{requestid}` answers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinObject {
    /// `PinStatus.requestid`.
    pub requestid: String,
    /// `PinStatus.status`, now.
    pub status: Status,
    /// `PinStatus.created`: RFC 3339, UTC, millisecond precision (`2020-07-27T17:32:28.276Z`).
    pub created: String,
    /// `Pin.cid`, as sent.
    pub cid: String,
    /// `Pin.name`, if sent.
    pub name: Option<String>,
    /// `Pin.origins` as sent (empty when not sent).
    pub origins: Vec<String>,
    /// `Pin.meta` as sent (empty when not sent).
    pub meta: BTreeMap<String, String>,
    /// `PinStatus.info.status_details`: the failure reason when `failed`, else `None`.
    pub status_details: Option<String>,
}

/// `components/schemas/Pin`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub(crate) cid: String,
    pub(crate) name: Option<String>,
    pub(crate) origins: Option<Vec<String>>,
    pub(crate) meta: Option<BTreeMap<String, String>>,
}

/// One pin object.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) requestid: String,
    pub(crate) created: chrono::DateTime<chrono::Utc>,
    /// When it was created, on the Tokio clock.
    pub(crate) born: Instant,
    pub(crate) queued_for: Duration,
    pub(crate) pinning_for: Duration,
    pub(crate) pin: Pin,
    /// `Some(reason)`: it ends `failed`.
    pub(crate) failure: Option<String>,
}

impl Record {
    pub(crate) fn status_at(&self, now: Instant) -> Status {
        let age = now.saturating_duration_since(self.born);
        if age < self.queued_for {
            Status::Queued
        } else if age < self.queued_for.saturating_add(self.pinning_for) {
            Status::Pinning
        } else if self.failure.is_some() {
            Status::Failed
        } else {
            Status::Pinned
        }
    }

    pub(crate) fn created_string(&self) -> String {
        self.created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    fn object(&self, now: Instant) -> PinObject {
        let status = self.status_at(now);
        PinObject {
            requestid: self.requestid.clone(),
            status,
            created: self.created_string(),
            cid: self.pin.cid.clone(),
            name: self.pin.name.clone(),
            origins: self.pin.origins.clone().unwrap_or_default(),
            meta: self.pin.meta.clone().unwrap_or_default(),
            status_details: match status {
                Status::Failed => self.failure.clone(),
                _ => None,
            },
        }
    }
}

/// Everything the server and the handle share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) token: String,
    pub(crate) queued_for: Duration,
    pub(crate) pinning_for: Duration,
    /// Live pin objects, oldest first (`created` strictly increasing).
    pub(crate) pins: Vec<Record>,
    /// Every requestid ever issued, so none is issued twice.
    pub(crate) issued: HashSet<String>,
    /// CID -> failure reason for pins that must end `failed`.
    pub(crate) failing: BTreeMap<String, String>,
    pub(crate) fault: Fault,
    /// `Some(n)`: the fault applies to `n` more requests.
    pub(crate) fault_left: Option<usize>,
    pub(crate) calls: BTreeMap<String, usize>,
    pub(crate) seen_authorization: Vec<String>,
    /// Wall-clock time at `anchor_instant`: `created` is this plus Tokio time elapsed.
    pub(crate) anchor_wall: chrono::DateTime<chrono::Utc>,
    pub(crate) anchor_instant: Instant,
    pub(crate) last_created: Option<chrono::DateTime<chrono::Utc>>,
}

impl State {
    /// A `created` timestamp for a pin object made now: the wall clock (as of the Tokio
    /// clock), at millisecond precision, and at least 1 ms after the last one, so every
    /// value is unique and increasing (spec "Pagination and filtering": "pagination by
    /// the `created` timestamp requires each value to be globally unique").
    pub(crate) fn next_created(&mut self, now: Instant) -> chrono::DateTime<chrono::Utc> {
        let elapsed = now.saturating_duration_since(self.anchor_instant);
        let wall = chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|d| self.anchor_wall.checked_add_signed(d))
            .unwrap_or(self.anchor_wall);
        let ms = chrono::DurationRound::duration_trunc(wall, chrono::Duration::milliseconds(1))
            .unwrap_or(wall);
        let created = match self.last_created {
            Some(last) if ms <= last => last + chrono::Duration::milliseconds(1),
            _ => ms,
        };
        self.last_created = Some(created);
        created
    }

    /// A fresh opaque requestid (UUID version 4 form, random).
    pub(crate) fn next_requestid(&mut self) -> String {
        loop {
            let mut b: [u8; 16] = rand::random();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let id = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            if self.issued.insert(id.clone()) {
                return id;
            }
        }
    }

    /// Creates a pin object for `pin` now and returns its index.
    pub(crate) fn create(&mut self, pin: Pin) -> usize {
        let now = Instant::now();
        let record = Record {
            requestid: self.next_requestid(),
            created: self.next_created(now),
            born: now,
            queued_for: self.queued_for,
            pinning_for: self.pinning_for,
            failure: self.failing.get(&pin.cid).cloned(),
            pin,
        };
        self.pins.push(record);
        self.pins.len() - 1
    }
}

/// What the server tasks and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// `true` once the double is stopping.
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// The state; a poisoned lock is taken over (a panicking test thread must not make
    /// the double panic too).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once the double is stopping.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// A running pinning service double on a loopback port. Dropping it stops the server
/// (in the background); [`PinningDouble::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct PinningDouble {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl PinningDouble {
    /// Starts on `127.0.0.1:0` (a free port) in the current Tokio runtime.
    ///
    /// Errors: an empty [`Options::token`] (`InvalidInput`), or a port that cannot be
    /// bound.
    pub async fn start(opts: Options) -> std::io::Result<PinningDouble> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), opts).await
    }

    /// Starts on `addr` (port 0: any free port), which must be a loopback address.
    ///
    /// Errors: a non-loopback address or an empty token (`InvalidInput`), or a port that
    /// cannot be bound.
    pub async fn start_on(addr: SocketAddr, opts: Options) -> std::io::Result<PinningDouble> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the pinning service double only listens on loopback",
            ));
        }
        if opts.token.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the access token must not be empty",
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                token: opts.token,
                queued_for: opts.queued_for,
                pinning_for: opts.pinning_for,
                pins: Vec::new(),
                issued: HashSet::new(),
                failing: BTreeMap::new(),
                fault: Fault::None,
                fault_left: None,
                calls: BTreeMap::new(),
                seen_authorization: Vec::new(),
                anchor_wall: chrono::Utc::now(),
                anchor_instant: Instant::now(),
                last_created: None,
            }),
            stop,
        });
        let app = service::router(shared.clone());
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { sh.stopped().await })
                .await;
        });
        Ok(PinningDouble {
            shared,
            addr,
            task: Some(task),
        })
    }

    /// The API root, `http://127.0.0.1:<port>` (without `/pins`), as Kubo's `ipfs pin
    /// remote service add <name> <endpoint> <key>` takes it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access token requests must carry.
    pub fn token(&self) -> String {
        self.shared.lock().token.clone()
    }

    /// Every request from now on meets `fault` ([`Fault::None`] answers normally again).
    pub fn set_fault(&self, fault: Fault) {
        let mut s = self.shared.lock();
        s.fault = fault;
        s.fault_left = None;
    }

    /// The next `requests` requests meet `fault`, then the double answers normally
    /// again (a passing outage, for retries). `requests == 0` clears any fault.
    pub fn set_fault_for(&self, fault: Fault, requests: usize) {
        let mut s = self.shared.lock();
        if requests == 0 {
            s.fault = Fault::None;
            s.fault_left = None;
        } else {
            s.fault = fault;
            s.fault_left = Some(requests);
        }
    }

    /// Pin objects for `cid` (compared as the exact string sent in `Pin.cid`) end
    /// `failed` with `info.status_details` = `reason` instead of `pinned`: those created
    /// from now on, and live ones that are still `queued` or `pinning`. Ones already
    /// `pinned` stay so.
    pub fn fail_cid(&self, cid: &str, reason: &str) {
        let mut s = self.shared.lock();
        s.failing.insert(cid.to_string(), reason.to_string());
        let now = Instant::now();
        for r in s.pins.iter_mut() {
            if r.pin.cid == cid && matches!(r.status_at(now), Status::Queued | Status::Pinning) {
                r.failure = Some(reason.to_string());
            }
        }
    }

    /// Undoes [`PinningDouble::fail_cid`]: pin objects for `cid` created from now on, and
    /// live ones still `queued` or `pinning`, end `pinned`. Ones already `failed` stay so.
    pub fn clear_fail_cid(&self, cid: &str) {
        let mut s = self.shared.lock();
        s.failing.remove(cid);
        let now = Instant::now();
        for r in s.pins.iter_mut() {
            if r.pin.cid == cid && matches!(r.status_at(now), Status::Queued | Status::Pinning) {
                r.failure = None;
            }
        }
    }

    /// How long pin objects created from now on stay `queued`, then `pinning` (live ones
    /// keep the durations they were created with).
    pub fn set_timing(&self, queued_for: Duration, pinning_for: Duration) {
        let mut s = self.shared.lock();
        s.queued_for = queued_for;
        s.pinning_for = pinning_for;
    }

    /// Every live pin object, in any status, oldest `created` first, with its status now.
    pub fn pins(&self) -> Vec<PinObject> {
        let now = Instant::now();
        self.shared
            .lock()
            .pins
            .iter()
            .map(|r| r.object(now))
            .collect()
    }

    /// Requests received per route, counted on arrival (before faults and
    /// authentication, so refused and faulted ones count too): keys `GET /pins`, `POST
    /// /pins`, `GET /pins/{requestid}`, `POST /pins/{requestid}`, `DELETE
    /// /pins/{requestid}`; a request outside these routes counts under its method and
    /// raw path (e.g. `PUT /pins`).
    pub fn calls(&self) -> BTreeMap<String, usize> {
        self.shared.lock().calls.clone()
    }

    /// Requests received on the route `key` (as in [`PinningDouble::calls`]), 0 if none.
    pub fn calls_to(&self, key: &str) -> usize {
        self.shared.lock().calls.get(key).copied().unwrap_or(0)
    }

    /// Forgets the calls counted so far (and the `Authorization` values seen).
    pub fn clear_calls(&self) {
        let mut s = self.shared.lock();
        s.calls.clear();
        s.seen_authorization.clear();
    }

    /// Every `Authorization` header value received, in order (requests without one add
    /// nothing; a value that is not UTF-8 is kept lossily).
    pub fn seen_authorization(&self) -> Vec<String> {
        self.shared.lock().seen_authorization.clone()
    }

    /// Stops the server and waits for it (at most 5 s for replies in progress, then it
    /// is aborted). Hanging requests ([`Fault::Hang`]) are answered 503 on the way out.
    pub async fn shutdown(mut self) {
        self.shared.stop.send_replace(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for PinningDouble {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
    }
}
