//! Time under control (STYLE.md "Clocks you can simulate"): the long-running loops (the
//! streamer, the health monitor) read the wall clock, measure intervals and sleep only
//! through a [`Clock`], so tests drive hours of air time in seconds through the loops
//! themselves.
//!
//! [`SystemClock`] is the real one. [`SimClock`] runs on tokio's clock: under
//! `#[tokio::test(start_paused = true)]` (or `tokio::time::pause()`) its sleeps return
//! as soon as every task waits, with the time advanced, and its wall clock follows; a
//! test can also step its wall clock (as NTP or a wrong RTC would) without the
//! monotonic clock moving.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// A sleep of a [`Clock`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where a loop gets its time from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The wall clock (UTC): air times, program date times, heartbeats. It may jump.
    fn now(&self) -> DateTime<Utc>;

    /// A clock that never goes back, for intervals and timeouts.
    fn monotonic(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    /// Resolves after `d` of monotonic time.
    fn sleep(&self, d: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The system's clocks: `Utc::now()` and tokio's monotonic timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A simulated clock on tokio's timer: its wall clock starts at a given instant and
/// advances with tokio's clock (paused in tests, so hours pass in milliseconds), plus any
/// [`SimClock::step`] applied to the wall clock alone.
#[derive(Debug)]
pub struct SimClock {
    wall_start: DateTime<Utc>,
    mono_start: tokio::time::Instant,
    step: Mutex<chrono::Duration>,
}

impl SimClock {
    /// A clock whose wall time is `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> SimClock {
        SimClock {
            wall_start: start,
            mono_start: tokio::time::Instant::now(),
            step: Mutex::new(chrono::Duration::zero()),
        }
    }

    /// Steps the wall clock by `by` (negative: back), as an NTP correction would; the
    /// monotonic clock does not move.
    pub fn step(&self, by: chrono::Duration) {
        if let Ok(mut s) = self.step.lock() {
            *s += by;
        }
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.mono_start;
        let step = self.step.lock().map(|s| *s).unwrap_or_default();
        self.wall_start
            + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
            + step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test(start_paused = true)]
    async fn a_simulated_day_passes_at_once_and_steps_move_only_the_wall_clock() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let c = SimClock::starting_at(t0);
        let real = std::time::Instant::now();
        let m0 = c.monotonic();
        c.sleep(Duration::from_secs(86_400)).await;
        assert!(real.elapsed() < Duration::from_secs(2));
        assert_eq!(c.now() - t0, chrono::Duration::days(1));
        c.step(chrono::Duration::minutes(-10));
        assert_eq!(
            c.now() - t0,
            chrono::Duration::days(1) - chrono::Duration::minutes(10)
        );
        assert_eq!(c.monotonic() - m0, Duration::from_secs(86_400));
    }
}
