//! Remote pinning: the library (and the listener page) kept by pinning services, so the
//! station's content outlives this machine (issue 22). The stage above setup and air: it
//! reads what they pinned in Kubo (`library_pins.json`, the page's files) and keeps ONE
//! pin request per subject on every service of `remote_pinning`
//! ([`crate::station::remote_pinning`]), through the IPFS Pinning Service API
//! ([`api`], ipfs-pinning-service.yaml v1.0.0).
//!
//! - **One request per library version**: the library root (the dag-pb directory that
//!   links every segment, [`crate::setup::pins`]) is sent as one `Pin`, named
//!   `ipfs-station:<IPNS key>:library`, with this node's addresses as `origins` and the
//!   station and library version as `meta`. A new version replaces it
//!   (`POST /pins/{requestid}`: the old request is deleted by the service). The page's
//!   wrapped directory is one more request, `ipfs-station:<IPNS key>:page`. The live
//!   site roots are not sent: they change every few seconds and this node serves them.
//! - **Following**: a request is checked with `GET /pins/{requestid}` 5 s after it was
//!   made, then at doubling intervals up to 5 minutes while `queued` or `pinning`, and
//!   hourly once `pinned`. `failed` is reported and sent again as a new request after
//!   [`FAILED_RETRY`]. The state ([`REMOTE_PINS_FILE`], no token in it) keeps the request
//!   ids, so a restart follows the same requests; with no id (a first run, a lost
//!   state, a crash between a request and its save) the service's own list by name is
//!   read first and a matching request adopted, so a station never holds two.
//! - **Never fatal**: a service that is down, times out or answers 401/403/429/5xx
//!   fails neither setup nor the stream. It is retried with backoff (5 s doubling to 10
//!   minutes, at least a minute for a refused token, at least what `Retry-After` asks),
//!   and its last error is shown.
//! - **Unpinning**: requests of the station's name that are not the current ones are
//!   deleted when found (at adoption and every [`SWEEP_EVERY`]), except those of a
//!   retired library root Kubo still holds (its retire delay): they go once it is
//!   unpinned here.

pub mod api;
mod follow;
mod forget;
mod state;
mod wants;

pub use follow::{follow, sync_once, SyncReport, FAILED_RETRY, SWEEP_EVERY, TICK};
pub use forget::{forget_service, Forgotten};
pub use state::{
    service_statuses, unpinned_library_hours, RemotePins, Request, ServiceState, ServiceStatus,
    REMOTE_PINS_FILE, UNPINNED_WARN_AFTER,
};
pub use wants::{page_root, MAX_ORIGINS};

/// The request name of `subject` (`library` or `page`) for the station whose IPNS key is
/// `ipns_key`: `ipfs-station:<key>:<subject>` (at most 255 characters: the key is at
/// most 64).
pub fn request_name(ipns_key: &str, subject: &str) -> String {
    format!("ipfs-station:{ipns_key}:{subject}")
}
