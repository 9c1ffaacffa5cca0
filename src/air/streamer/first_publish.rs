//! A new stream goes on air when its first window lands (issue 19): until the first
//! publish of an IPNS stream returns, nobody can fetch anything, so the schedule is born
//! again for each attempt at the moment its window is handed to the publisher, nothing
//! is logged as aired, and once a publish lands the air clock starts that window's birth
//! behind the wall clock by how long the publish took. In air time the first window's
//! live point is then "now" at the instant listeners can first fetch it: no segment is
//! dated before anyone could hear it, and the as-run log starts with what they heard.

use super::Streamer;
use crate::air::site::SiteSegments;
use crate::air::window::Schedule;
use crate::clock::Clock;
use crate::error::Result;
use chrono::TimeDelta;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

impl Streamer {
    /// Publishes a new stream's first window (IPNS mode, [`super::StreamState::provisional`]
    /// set): waits until the publisher can take a window at once, bears the schedule at
    /// that instant, renders and offers its window and waits for the outcome; a failed
    /// attempt is withdrawn (never retried stale) and the next one is born anew once the
    /// publisher's backoff is over. Ticks keep the state file fresh meanwhile (the
    /// heartbeat), each one a new birth.
    ///
    /// Returns the air clock's lag behind the wall clock (how long the landed publish
    /// took, when that is at most one update interval; else zero: a lag as long as a
    /// DHT put would shorten every later window's lookahead by as much), or `None` when
    /// `shutdown` resolved first.
    ///
    /// Errors: only when the state cannot be written.
    pub(super) async fn first_publish<S: Future<Output = ()> + Unpin>(
        &mut self,
        clock: &Arc<dyn Clock>,
        shutdown: &mut S,
    ) -> Result<Option<TimeDelta>> {
        let interval = Duration::from_secs_f64(self.state.update_interval);
        let mut attempts = 0u32;
        while self.state.provisional {
            // The publisher takes a window at once only when it is idle (not publishing,
            // not backing off): the window is made for that instant.
            while let Some(p) = self.publisher_mut() {
                tokio::select! {
                    biased;
                    _ = &mut *shutdown => return Ok(None),
                    _ = p.ready() => break,
                    _ = clock.sleep(interval) => {}
                }
                self.heartbeat(clock.as_ref())?;
            }
            let born = clock.now();
            self.schedule = Schedule::born(self.schedule.programme().clone(), born);
            self.born_at = Some(born);
            self.site = SiteSegments::default();
            self.last_offered = None;
            attempts += 1;
            let offered = match self.tick(born).await {
                Ok(out) => out.offered,
                Err(e) => {
                    tracing::error!("the first window cannot be made (tried again): {e}");
                    None
                }
            };
            if offered.is_none() {
                tokio::select! {
                    biased;
                    _ = &mut *shutdown => return Ok(None),
                    _ = clock.sleep(interval) => {}
                }
                continue;
            }
            // Online, a publish can take a minute: the state file's heartbeat goes on.
            while let Some(p) = self.publisher.as_mut() {
                tokio::select! {
                    biased;
                    _ = &mut *shutdown => return Ok(None),
                    _ = p.settled() => break,
                    _ = clock.sleep(interval) => {}
                }
                self.heartbeat(clock.as_ref())?;
            }
            // What the publisher knows clears `provisional` once a publish of a window
            // made since `born` landed (`absorb`).
            self.merge_published();
            self.persist()?;
            if !self.state.provisional {
                let took = (clock.now() - born).max(TimeDelta::zero());
                // Every later window takes about as long to land: an air clock that lags
                // by a slow publish (online, the DHT put: tens of seconds) would cost
                // listeners that much lookahead for the whole stream. Past one update
                // interval the air clock follows the wall clock instead.
                let lag = if took <= TimeDelta::from_std(interval).unwrap_or_default() {
                    took
                } else {
                    tracing::info!(
                        "the first publish took {:.1} s (longer than the update interval): its live point was dated when it was made, the air clock follows the wall clock",
                        took.num_milliseconds() as f64 / 1000.0
                    );
                    TimeDelta::zero()
                };
                self.state.air_lag_seconds = lag.num_milliseconds() as f64 / 1000.0;
                self.persist()?;
                tracing::info!(
                    "on air: the first window landed {:.2} s after it was made (attempt {attempts}); the air clock starts {:.2} s behind the wall clock",
                    took.num_milliseconds() as f64 / 1000.0,
                    self.state.air_lag_seconds
                );
                return Ok(Some(lag));
            }
            // Not heard: the next attempt is a new birth, not this window again.
            if let Some(p) = self.publisher.as_mut() {
                p.withdraw();
            }
        }
        Ok(Some(TimeDelta::milliseconds(
            (self.state.air_lag_seconds * 1000.0) as i64,
        )))
    }

    /// Writes the state with the wall clock as the last tick (nothing is on air yet,
    /// so air time is the wall clock) and what the publisher knows.
    fn heartbeat(&mut self, clock: &dyn Clock) -> Result<()> {
        self.state.last_tick_at = clock.now();
        self.merge_published();
        self.persist()
    }
}
