//! Setup requests from the console, coalesced: one worker fed by a queue of requests.
//!
//! Every [`SetupQueue::request`] is served by a run that *starts after* it was made, so
//! a file added while a run is under way is prechunked by the next run (no request is
//! lost), and requests made during a run are served together by one run after it (never
//! two runs at once in this process). Across processes the setup lock
//! ([`crate::setup::run`]) keeps runs apart.

use super::{OnEvent, SetupReport};
use crate::error::Result;
use crate::station::Station;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Gives the station to set up at the moment a run starts (the console's current one,
/// reloaded after a settings change).
pub type StationSource = Arc<dyn Fn() -> Result<Station> + Send + Sync>;
/// Called when a run ends, with its outcome.
pub type OnFinished = Arc<dyn Fn(&Result<SetupReport>) + Send + Sync>;

type Runner = Arc<
    dyn Fn(Station, OnEvent) -> Pin<Box<dyn Future<Output = Result<SetupReport>> + Send>>
        + Send
        + Sync,
>;

#[derive(Debug, Default)]
struct Counters {
    /// Requests made so far (each gets the next number).
    requested: u64,
    /// The newest request a started run serves.
    started: u64,
    /// The newest request a finished run served.
    finished: u64,
    /// Whether the worker runs.
    running: bool,
}

/// The console's setup queue.
#[derive(Clone)]
pub struct SetupQueue {
    counters: Arc<Mutex<Counters>>,
    done: Arc<tokio::sync::Notify>,
    last: Arc<Mutex<Option<std::result::Result<SetupReport, String>>>>,
    rt: tokio::runtime::Handle,
    station: StationSource,
    on_event: OnEvent,
    on_finished: OnFinished,
    runner: Runner,
}

impl std::fmt::Debug for SetupQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupQueue")
            .field("counters", &self.counters)
            .finish()
    }
}

impl SetupQueue {
    /// A queue whose runs are [`crate::setup::run`] on `station()`, spawned on `rt`,
    /// reporting through `on_event` and `on_finished`.
    pub fn new(
        rt: tokio::runtime::Handle,
        station: StationSource,
        on_event: OnEvent,
        on_finished: OnFinished,
    ) -> SetupQueue {
        let runner: Runner = Arc::new(|station: Station, on_event: OnEvent| {
            Box::pin(async move { super::run(&station, on_event).await })
        });
        SetupQueue::with_runner(rt, station, on_event, on_finished, runner)
    }

    fn with_runner(
        rt: tokio::runtime::Handle,
        station: StationSource,
        on_event: OnEvent,
        on_finished: OnFinished,
        runner: Runner,
    ) -> SetupQueue {
        SetupQueue {
            counters: Default::default(),
            done: Arc::new(tokio::sync::Notify::new()),
            last: Default::default(),
            rt,
            station,
            on_event,
            on_finished,
            runner,
        }
    }

    /// Asks for a run. Returns the request's number and whether it started the worker
    /// (`false`: a run is under way, and another one follows it).
    pub fn request(&self) -> (u64, bool) {
        let Ok(mut c) = self.counters.lock() else {
            return (0, false);
        };
        c.requested += 1;
        let ticket = c.requested;
        if c.running {
            return (ticket, false);
        }
        c.running = true;
        drop(c);
        let me = self.clone();
        self.rt.spawn(async move { me.work().await });
        (ticket, true)
    }

    /// Whether a run is under way or due.
    pub fn running(&self) -> bool {
        self.counters.lock().is_ok_and(|c| c.running)
    }

    /// Asks for a run and waits for it: the outcome of a run that started after this
    /// call.
    ///
    /// Errors: the run's error, as text in [`crate::Error::Station`] when it was not
    /// this caller's run alone (the error is shared by everyone it served).
    pub async fn run_and_wait(&self) -> std::result::Result<SetupReport, String> {
        let (ticket, _) = self.request();
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let finished = self.counters.lock().map_or(u64::MAX, |c| c.finished);
            if finished >= ticket {
                return self
                    .last
                    .lock()
                    .ok()
                    .and_then(|l| l.clone())
                    .unwrap_or_else(|| Err("setup did not run".into()));
            }
            notified.await;
        }
    }

    async fn work(self) {
        loop {
            let serving = {
                let Ok(mut c) = self.counters.lock() else {
                    return;
                };
                if c.started >= c.requested {
                    c.running = false;
                    return;
                }
                c.started = c.requested;
                c.started
            };
            let result = match (self.station)() {
                Ok(st) => (self.runner)(st, self.on_event.clone()).await,
                Err(e) => Err(e),
            };
            if let Ok(mut l) = self.last.lock() {
                *l = Some(result.as_ref().map(Clone::clone).map_err(|e| e.to_string()));
            }
            if let Ok(mut c) = self.counters.lock() {
                c.finished = serving;
            }
            (self.on_finished)(&result);
            self.done.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A runner that counts runs and overlaps, each run taking `ms`.
    fn counting(ms: u64) -> (Runner, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let overlap = Arc::new(AtomicUsize::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        let (r, o) = (runs.clone(), overlap.clone());
        let runner: Runner = Arc::new(move |_st, _ev| {
            let (r, o, a) = (r.clone(), o.clone(), active.clone());
            Box::pin(async move {
                if a.fetch_add(1, Ordering::SeqCst) > 0 {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(ms)).await;
                a.fetch_sub(1, Ordering::SeqCst);
                Ok(SetupReport {
                    encoded: r.fetch_add(1, Ordering::SeqCst) + 1,
                    ..Default::default()
                })
            })
        });
        (runner, runs, overlap)
    }

    fn queue(runner: Runner) -> SetupQueue {
        let d = tempfile::tempdir().unwrap();
        let dir = d.keep();
        crate::station::init(&dir).unwrap();
        let station: StationSource = Arc::new(move || Station::open(&dir));
        SetupQueue::with_runner(
            tokio::runtime::Handle::current(),
            station,
            Arc::new(|_| {}),
            Arc::new(|_| {}),
            runner,
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn requests_during_a_run_are_served_by_one_run_after_it_and_none_is_lost() {
        let (runner, runs, overlap) = counting(150);
        let q = queue(runner);
        let (_, started) = q.request();
        assert!(started);
        tokio::time::sleep(Duration::from_millis(30)).await;
        // Five requests while the first run works: one more run serves them all.
        let waits: Vec<_> = (0..5)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.run_and_wait().await })
            })
            .collect();
        for w in waits {
            let r = w.await.unwrap().unwrap();
            // Served by a run that started after the request: the second run.
            assert_eq!(r.encoded, 2);
        }
        let t = std::time::Instant::now();
        while q.running() {
            assert!(t.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(overlap.load(Ordering::SeqCst), 0, "two runs at once");
        // A later request starts the worker again.
        assert_eq!(q.run_and_wait().await.unwrap().encoded, 3);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_request_racing_the_end_of_a_run_is_never_lost() {
        let (runner, runs, overlap) = counting(5);
        let q = queue(runner);
        for i in 0..200 {
            let (_, _) = q.request();
            if i % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        // The last request is served: its run started after it.
        let r = q.run_and_wait().await.unwrap();
        assert!(r.encoded >= 2);
        assert_eq!(overlap.load(Ordering::SeqCst), 0);
        assert_eq!(runs.load(Ordering::SeqCst), r.encoded);
    }
}
