//! A streamer on air through `Streamer::run` on a simulated clock (tokio's paused time),
//! for the tests and benches that watch minutes of publishing pass in seconds.

use ipfs_station::air::streamer::{Mode, Streamer};
use ipfs_station::clock::{Clock, SimClock};
use ipfs_station::station::Station;
use std::sync::Arc;

/// A streamer running on a [`SimClock`] started at the wall clock's now.
pub struct SimulatedAir {
    /// The clock the streamer runs on.
    pub clock: Arc<SimClock>,
    /// The stream's update interval, seconds.
    pub update_interval: f64,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<ipfs_station::Result<()>>,
}

impl SimulatedAir {
    /// Pauses tokio's clock, opens `station`'s streamer in `mode` and spawns its
    /// `run`. Panics (a failed test) when the streamer does not open.
    pub fn start(station: &Station, mode: Mode) -> SimulatedAir {
        tokio::time::pause();
        let clock = Arc::new(SimClock::starting_at(chrono::Utc::now()));
        let s = Streamer::open(station, mode, clock.now()).unwrap();
        let update_interval = s.update_interval();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(s.run(clock.clone(), async {
            let _ = stopped.await;
        }));
        SimulatedAir {
            clock,
            update_interval,
            stop,
            task,
        }
    }

    /// Stops the streamer and waits for its clean shutdown. Panics when it failed.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}
