//! The health monitor's loop (`station health`): a check every `interval`, until shut
//! down. A failed check (a half-saved config, a full disk) is logged and the loop goes
//! on; a shutdown is answered at once, also in the middle of a check.

use super::{check_once, HealthReport};
use crate::clock::Clock;
use crate::station::Station;
use std::future::Future;
use std::sync::Arc;

/// Checks `station` every `station.health.interval` on `clock` until `shutdown`
/// resolves, handing each report to `on_report` (after it is written to `health.json`).
/// A check in progress when `shutdown` resolves is abandoned (nothing half-written: the
/// report is written atomically, or not at all).
pub async fn run(
    station: &Station,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
    mut on_report: impl FnMut(&HealthReport),
) {
    tokio::pin!(shutdown);
    let interval = station.health.interval;
    loop {
        let started = clock.monotonic();
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            r = check_once(station, clock.now()) => match r {
                Ok(report) => on_report(&report),
                Err(e) => tracing::error!("health check failed (the monitor goes on): {e}"),
            },
        }
        let wait = (started + interval).saturating_duration_since(clock.monotonic());
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = clock.sleep(wait) => {}
        }
    }
}
