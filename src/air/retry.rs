//! Retrying one idempotent step of a publish in place (issue 19).
//!
//! A publish is four to five RPCs (`add` of the site's files, two `dag/put`s,
//! `name/publish`, the page's `add` once). All of them are idempotent: `add` and
//! `dag/put` are content-addressed (the same bytes give the same CID, Kubo's
//! core/commands/add.go and dag/put.go store blocks by hash), and `name/publish` of the
//! same path only makes a newer record. Through a flaky node, a step that fails is
//! therefore tried again at once, a few times with short delays, and what the earlier
//! steps returned is kept: with 30% of RPCs failing, a step fails four times in a row
//! with probability 0.3^4 < 1%, where throwing the window away at the first failure
//! lost three windows in four.
//!
//! Only failures that may pass are retried: the node not answering, a reply that broke
//! off, HTTP 5xx. go-ipfs-cmds answers a command error that is the caller's fault
//! (`cmds.ErrClient`) with 400 (http/responseemitter.go `errorStatus`): trying it again
//! would only fail again.

use crate::clock::Clock;
use crate::error::{Error, Result};
use std::future::Future;
use std::time::Duration;

/// How often one step is tried at most, the first try included.
pub const STEP_ATTEMPTS: usize = 4;

/// The waits before the second, third and fourth try of a step (on the monotonic clock):
/// short, so that a window retried in place is still new when it lands.
pub const STEP_DELAYS: [Duration; STEP_ATTEMPTS - 1] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
];

/// What the node said during one publish: whether any call was answered (the node is
/// there and the next window may go at once) and how many tries failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls that succeeded.
    pub answered: u32,
    /// Tries that failed and were retried or given up.
    pub failed: u32,
}

/// Whether `e` may pass if the same call is made again: the node unreachable or timed
/// out ([`Error::KuboUnreachable`]), a reply broken off or cut by an `X-Stream-Error`
/// trailer ([`Error::KuboResponse`]), or HTTP 5xx ([`Error::KuboStatus`]). HTTP 4xx is
/// the request's own fault and is not retried (go-ipfs-cmds http/responseemitter.go).
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::KuboUnreachable { .. } | Error::KuboResponse { .. } => true,
        Error::KuboStatus { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Runs the steps of one publish, each [tried again](Steps::step) in place, and keeps
/// their [`Tally`].
#[derive(Debug)]
pub struct Steps<'a> {
    clock: &'a dyn Clock,
    /// What the node said so far.
    pub tally: Tally,
    /// The step under way or the last one run (its `what`), for a publish that timed out.
    pub current: Option<String>,
}

impl<'a> Steps<'a> {
    /// Steps waiting on `clock` (the injected clock: simulated time in tests).
    pub fn new(clock: &'a dyn Clock) -> Steps<'a> {
        Steps {
            clock,
            tally: Tally::default(),
            current: None,
        }
    }

    /// Runs `call` until it succeeds, at most [`STEP_ATTEMPTS`] times, waiting
    /// [`STEP_DELAYS`] between tries of a [transient](is_transient) failure; each outcome
    /// is counted in the tally. `what` names the step in the log.
    ///
    /// Errors: the last failure, when every try failed or a failure is not transient.
    pub async fn step<T, F, Fut>(&mut self, what: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut tries = 0;
        self.current = Some(what.to_string());
        loop {
            match call().await {
                Ok(v) => {
                    self.tally.answered += 1;
                    return Ok(v);
                }
                Err(e) => {
                    self.tally.failed += 1;
                    let Some(delay) = STEP_DELAYS.get(tries).filter(|_| is_transient(&e)) else {
                        return Err(e);
                    };
                    tries += 1;
                    tracing::debug!(
                        "{what} failed (try {tries} of {STEP_ATTEMPTS}, again in {} ms): {e}",
                        delay.as_millis()
                    );
                    self.clock.sleep(*delay).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SimClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn unreachable() -> Error {
        Error::KuboUnreachable {
            url: "http://127.0.0.1:5001".into(),
            reason: "connection refused or failed".into(),
        }
    }

    fn status(code: u16) -> Error {
        Error::KuboStatus {
            endpoint: "/api/v0/dag/put".into(),
            status: code,
            message: "boom".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_is_tried_again_and_what_it_returns_is_kept() {
        let clock = SimClock::starting_at(chrono::Utc::now());
        let calls = AtomicUsize::new(0);
        let mut steps = Steps::new(&clock);
        let t0 = tokio::time::Instant::now();
        let got = steps
            .step("dag/put", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(unreachable()),
                    1 => Err(status(500)),
                    _ => Ok("bafy"),
                }
            })
            .await
            .unwrap();
        assert_eq!(got, "bafy");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            steps.tally,
            Tally {
                answered: 1,
                failed: 2
            }
        );
        // Two waits, 100 + 250 ms, on the injected clock.
        assert_eq!(t0.elapsed(), Duration::from_millis(350));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_gives_up_after_its_last_try_with_the_last_error() {
        let clock = SimClock::starting_at(chrono::Utc::now());
        let calls = AtomicUsize::new(0);
        let mut steps = Steps::new(&clock);
        let err = steps
            .step("add", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(status(503))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::KuboStatus { status: 503, .. }));
        assert_eq!(calls.load(Ordering::SeqCst), STEP_ATTEMPTS);
        assert_eq!(
            steps.tally,
            Tally {
                answered: 0,
                failed: STEP_ATTEMPTS as u32
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_error_is_not_tried_again() {
        let clock = SimClock::starting_at(chrono::Utc::now());
        let calls = AtomicUsize::new(0);
        let mut steps = Steps::new(&clock);
        let err = steps
            .step("name/publish", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(status(400))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::KuboStatus { status: 400, .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!is_transient(&Error::Window("x".into())));
    }
}
