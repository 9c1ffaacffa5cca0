//! The publisher: one per IPNS key (the streamer holds the machine-wide publish lock),
//! decoupled from the air clock.
//!
//! Online, Kubo's `name/publish` stores the record at once and then blocks until the
//! DHT put ends, seconds to minutes (kubo-rpc.md section 3; boxo namesys
//! ipns_publisher.go `PublishWithEOL` -> `PutIPNSRecord`). The on-air tick therefore
//! never waits for it: it renders the window every `update_interval` and
//! [offers](Publisher::offer) it here. The publisher takes the newest offered window
//! whenever the previous publish has returned: never two publishes at once, and a
//! window that waited while a slow publish ran is superseded by a newer one, never
//! queued behind it. Each publish puts the station's site into Kubo
//! ([`crate::air::site::put_site`]: the page, `live.m3u8`, `station.json` and the
//! segments linked in `s/`; the page's files are added once per publisher) and
//! `name/publish`es the site's root CID, bounded by `publish_timeout`. Each of those
//! RPCs is idempotent and retried in place ([`crate::air::retry`]); a window whose
//! steps all failed is given up, and the next one goes at once while Kubo answers at
//! all, else after a backoff (0.5 s doubling, capped at the update interval, on the
//! monotonic clock) while offers keep coming.
//!
//! Site pins stay bounded whatever the publishes do: after each put the oldest pinned
//! roots beyond [`PINNED_PLAYLISTS`] are unpinned, except the one the name points at
//! now (the segments and the page stay pinned on their own).

use crate::air::retry::{Steps, Tally};
use crate::air::site::{self, PageLinks, StationJson};
use crate::clock::Clock;
use crate::kubo::{Kubo, PublishOptions};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Published site roots kept pinned (older ones are unpinned): with a tick every 6 s,
/// two minutes of sites, for listeners whose gateway view is that old.
pub const PINNED_PLAYLISTS: usize = 20;
/// Publish log entries kept.
pub const PUBLISH_LOG: usize = 50;
/// First wait after a publish that Kubo answered no call of; it doubles up to
/// [`PublishTarget::max_backoff`] (a publish that got any answer waits for nothing but
/// the next window).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Failed publishes in a row after which the page and `history.json` are added again
/// (the node may have lost them: a Kubo restarted on another repo); until then what
/// earlier publishes added is linked, not re-added.
pub const READD_AFTER_FAILURES: u32 = 3;

/// One publish attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishRecord {
    /// When the attempt started (UTC).
    pub at: DateTime<Utc>,
    /// Media sequence of the published window.
    pub media_sequence: u64,
    /// The air time the window was rendered for (its age at `at` is how long it waited
    /// for this publish).
    #[serde(default)]
    pub rendered_at: Option<DateTime<Utc>>,
    /// CID of the site's root directory, once put.
    pub cid: Option<String>,
    /// Whether `name/publish` succeeded.
    pub ok: bool,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Milliseconds the add + publish took.
    pub duration_ms: u64,
}

/// A publish under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    /// When it started (UTC).
    pub since: DateTime<Utc>,
    /// Media sequence of the window being published.
    pub media_sequence: u64,
}

/// How long publishes take, over the last [`PUBLISH_LOG`] attempts that went through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishStats {
    /// The newest successful publish, milliseconds.
    pub last_ms: Option<u64>,
    /// Mean, milliseconds.
    pub mean_ms: Option<u64>,
    /// Longest, milliseconds.
    pub max_ms: Option<u64>,
    /// Successful publishes in the log.
    pub ok: usize,
    /// Failed attempts in the log.
    pub failed: usize,
}

impl PublishStats {
    /// The statistics of `log`.
    pub fn of(log: &[PublishRecord]) -> PublishStats {
        let ok: Vec<u64> = log.iter().filter(|r| r.ok).map(|r| r.duration_ms).collect();
        PublishStats {
            last_ms: ok.last().copied(),
            mean_ms: (!ok.is_empty()).then(|| ok.iter().sum::<u64>() / ok.len() as u64),
            max_ms: ok.iter().copied().max(),
            ok: ok.len(),
            failed: log.len() - ok.len(),
        }
    }
}

/// What the publisher knows, as the streamer writes it into `stream_state.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// The IPNS name of the key, once known.
    pub ipns_name: Option<String>,
    /// The newest attempt.
    pub last: Option<PublishRecord>,
    /// Recent attempts, newest last (at most [`PUBLISH_LOG`]).
    pub log: Vec<PublishRecord>,
    /// Site root CIDs pinned by the streamer, oldest first.
    pub pinned: Vec<String>,
    /// The publish under way, if any.
    pub in_flight: Option<InFlight>,
    /// How many offers were handled (published, failed or found unchanged).
    pub handled: u64,
}

/// A rendered window offered for publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The playlist text.
    pub playlist: String,
    /// Its `#EXT-X-MEDIA-SEQUENCE`.
    pub media_sequence: u64,
    /// The air time it was rendered for.
    pub rendered_at: DateTime<Utc>,
    /// The rest of the site: segment links and `station.json`.
    pub site: SiteContent,
    /// The offer's number (1, 2, ...).
    pub id: u64,
}

/// What the site holds besides the page and the playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteContent {
    /// The segments linked in `s/`: `(media sequence, CID)`, oldest first.
    pub segments: Vec<(u64, String)>,
    /// `station.json`, its `ipns_name` filled in by the publisher.
    pub station: StationJson,
    /// `history.json`'s bytes ([`site::SiteHistory`]); the same `Arc` while the as-run
    /// log did not change, so it is added once per change.
    pub history: Arc<Vec<u8>>,
}

/// What a publisher needs to publish.
#[derive(Debug, Clone)]
pub struct PublishTarget {
    /// The Kubo client (its timeout bounds every request).
    pub kubo: Kubo,
    /// `name/publish` options (key, lifetime, ttl).
    pub options: PublishOptions,
    /// How long one add + publish may take.
    pub timeout: Duration,
    /// The longest wait between windows after failed publishes: the update interval,
    /// so the first publish after an outage lands within one interval of Kubo answering.
    pub max_backoff: Duration,
}

/// The running publisher of one stream.
#[derive(Debug)]
pub struct Publisher {
    offers: tokio::sync::watch::Sender<Option<Arc<Offer>>>,
    shared: Arc<Mutex<Published>>,
    handled: tokio::sync::watch::Receiver<u64>,
    idle: tokio::sync::watch::Receiver<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    next_id: u64,
}

impl Drop for Publisher {
    /// A dropped publisher publishes nothing more.
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Publisher {
    /// Starts the publisher of `target` on `clock`, continuing from `start` (the IPNS
    /// name, log and pins of the saved state).
    pub fn spawn(target: PublishTarget, start: Published, clock: Arc<dyn Clock>) -> Publisher {
        let (offers, rx) = tokio::sync::watch::channel(None);
        let (handled_tx, handled) = tokio::sync::watch::channel(0);
        let (idle_tx, idle) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Mutex::new(start));
        let task = tokio::spawn(work(
            target,
            rx,
            shared.clone(),
            Signals {
                handled: handled_tx,
                idle: idle_tx,
            },
            clock,
        ));
        Publisher {
            offers,
            shared,
            handled,
            idle,
            task: Some(task),
            next_id: 0,
        }
    }

    /// Offers the newest rendered window: it replaces an offer not taken yet. Returns
    /// the offer's number.
    pub fn offer(
        &mut self,
        playlist: String,
        media_sequence: u64,
        rendered_at: DateTime<Utc>,
        site: SiteContent,
    ) -> u64 {
        self.next_id += 1;
        self.offers.send_replace(Some(Arc::new(Offer {
            playlist,
            media_sequence,
            rendered_at,
            site,
            id: self.next_id,
        })));
        self.next_id
    }

    /// Takes back the offer not taken yet, if any: after a failed publish the publisher
    /// then waits for a new offer instead of trying the same window again.
    pub fn withdraw(&mut self) {
        self.offers.send_replace(None);
    }

    /// Waits until the publisher would take an offer at once: not publishing, not
    /// backing off after a failure.
    pub async fn ready(&mut self) {
        let _ = self.idle.wait_for(|idle| *idle).await;
    }

    /// What the publisher knows now.
    pub fn snapshot(&self) -> Published {
        self.shared.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until every offer made so far was handled (published, failed, or skipped
    /// as unchanged or superseded), and returns the newest attempt.
    pub async fn settled(&mut self) -> Option<PublishRecord> {
        let want = self.next_id;
        let _ = self.handled.wait_for(|h| *h >= want).await;
        self.snapshot().last
    }

    /// Stops the publisher; a publish under way is abandoned (its record is stored in
    /// Kubo already; the next streamer publishes again).
    pub async fn stop(mut self) -> Published {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let mut p = self.shared.lock().map(|s| s.clone()).unwrap_or_default();
        p.in_flight = None;
        p
    }
}

/// What the publisher's task tells its [`Publisher`].
struct Signals {
    /// The number of the newest offer handled.
    handled: tokio::sync::watch::Sender<u64>,
    /// Whether it waits for an offer (neither publishing nor backing off).
    idle: tokio::sync::watch::Sender<bool>,
}

async fn work(
    target: PublishTarget,
    mut offers: tokio::sync::watch::Receiver<Option<Arc<Offer>>>,
    shared: Arc<Mutex<Published>>,
    signals: Signals,
    clock: Arc<dyn Clock>,
) {
    let Signals { handled, idle } = signals;
    let mut last_published: Option<String> = None;
    let mut backoff = Duration::ZERO;
    let mut failures = 0u32;
    let mut page: Option<PageLinks> = None;
    let mut history: Option<(Arc<Vec<u8>>, site::Link)> = None;
    loop {
        idle.send_replace(true);
        if offers.changed().await.is_err() {
            return;
        }
        let Some(offer) = offers.borrow_and_update().clone() else {
            continue;
        };
        idle.send_replace(false);
        if last_published.as_deref() == Some(offer.playlist.as_str()) {
            handled.send_replace(offer.id);
            continue;
        }
        let at = clock.now();
        if let Ok(mut s) = shared.lock() {
            s.in_flight = Some(InFlight {
                since: at,
                media_sequence: offer.media_sequence,
            });
        }
        let started = clock.monotonic();
        let ipns_name = shared.lock().ok().and_then(|s| s.ipns_name.clone());
        let mut steps = Steps::new(clock.as_ref());
        let outcome = tokio::time::timeout(
            target.timeout,
            publish_once(&target, &mut steps, &offer, ipns_name, &mut page, &mut history),
        )
        .await
        .unwrap_or_else(|_| {
            Err((
                None,
                format!(
                    "the publish did not return within {} s (publish_timeout; waiting for {}); the newest window is published next",
                    target.timeout.as_secs(),
                    steps.current.as_deref().unwrap_or("the first step")
                ),
            ))
        });
        let tally = steps.tally;
        let duration_ms = (clock.monotonic() - started).as_millis() as u64;
        let (cid, name, error) = match outcome {
            Ok((cid, name)) => (Some(cid), Some(name), None),
            Err((cid, e)) => (cid, None, Some(e)),
        };
        let rec = PublishRecord {
            at,
            media_sequence: offer.media_sequence,
            rendered_at: Some(offer.rendered_at),
            cid: cid.clone(),
            ok: error.is_none(),
            error,
            duration_ms,
        };
        // Book-keeping: the log, the pins (bounded whatever the outcome), the name.
        let to_unpin = {
            let Ok(mut s) = shared.lock() else { return };
            s.in_flight = None;
            if let Some(n) = name {
                s.ipns_name = Some(n);
            }
            if let Some(c) = &cid {
                s.pinned.push(c.clone());
            }
            s.last = Some(rec.clone());
            s.log.push(rec.clone());
            let excess = s.log.len().saturating_sub(PUBLISH_LOG);
            s.log.drain(..excess);
            let published_cid = s
                .log
                .iter()
                .rev()
                .find(|r| r.ok)
                .and_then(|r| r.cid.clone());
            let mut out = Vec::new();
            let mut i = 0;
            while s.pinned.len() - out.len() > PINNED_PLAYLISTS && i < s.pinned.len() {
                if Some(&s.pinned[i]) != published_cid.as_ref() && !out.contains(&s.pinned[i]) {
                    out.push(s.pinned[i].clone());
                }
                i += 1;
            }
            out
        };
        for old in to_unpin {
            match target.kubo.unpin(&old).await {
                Ok(()) => {
                    if let Ok(mut s) = shared.lock() {
                        if let Some(p) = s.pinned.iter().position(|c| *c == old) {
                            s.pinned.remove(p);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("could not unpin old site {old} (tried again later): {e}");
                    break;
                }
            }
        }
        if let Ok(mut s) = shared.lock() {
            // Never more than three times the bound, even if Kubo refuses every unpin.
            let cap = 3 * PINNED_PLAYLISTS;
            let excess = s.pinned.len().saturating_sub(cap);
            s.pinned.drain(..excess);
        }
        if rec.ok {
            last_published = Some(offer.playlist.clone());
            backoff = Duration::ZERO;
            failures = 0;
        } else {
            failures += 1;
            if failures >= READD_AFTER_FAILURES {
                page = None;
                history = None;
            }
            backoff = next_backoff(backoff, tally, target.max_backoff);
            tracing::warn!(
                "publish failed ({} of its tries), trying the newest window in {:.1} s: {}",
                tally.failed,
                backoff.as_secs_f64(),
                rec.error.as_deref().unwrap_or("")
            );
        }
        handled.send_replace(offer.id);
        if !backoff.is_zero() {
            clock.sleep(backoff).await;
            // Offers made while backing off are published now (the newest one).
            offers.mark_changed();
        }
    }
}

/// The wait before the next window after a failed publish: none when Kubo answered
/// any call of it (it is there: the newest window goes at once, each step already
/// retried in place), else `previous` doubled from [`FIRST_BACKOFF`], at most `cap`.
fn next_backoff(previous: Duration, tally: Tally, cap: Duration) -> Duration {
    if tally.answered > 0 {
        Duration::ZERO
    } else if previous.is_zero() {
        FIRST_BACKOFF.min(cap)
    } else {
        (previous * 2).min(cap)
    }
}

/// One put of the site + publish: `Ok((root CID, ipns name))`, or `Err((root CID if
/// put, why))`. The IPNS name comes from the key when not known yet (`station.json`
/// carries it); the page's files are added on the first call that gets that far.
async fn publish_once(
    target: &PublishTarget,
    steps: &mut Steps<'_>,
    offer: &Offer,
    ipns_name: Option<String>,
    page: &mut Option<PageLinks>,
    history: &mut Option<(Arc<Vec<u8>>, site::Link)>,
) -> std::result::Result<(String, String), (Option<String>, String)> {
    let name = match ipns_name {
        Some(n) => n,
        None => {
            let key = steps
                .step("the key", || target.kubo.ensure_key(&target.options.key))
                .await
                .map_err(|e| (None, e.to_string()))?;
            tracing::info!("publishing under key `{}`: /ipns/{}/", key.name, key.id);
            key.id
        }
    };
    if page.is_none() {
        *page = Some(
            steps
                .step("the page's add", || site::add_page(&target.kubo))
                .await
                .map_err(|e| (None, e.to_string()))?,
        );
    }
    let Some(page) = page.as_ref() else {
        return Err((None, "the listener page was not added".into()));
    };
    let mut station = offer.site.station.clone();
    station.ipns_name = Some(name);
    let station_json =
        serde_json::to_vec_pretty(&station).map_err(|e| (None, format!("station.json: {e}")))?;
    let linked = history
        .as_ref()
        .filter(|(bytes, _)| {
            Arc::ptr_eq(bytes, &offer.site.history) || **bytes == *offer.site.history
        })
        .map(|(_, l)| l.clone());
    let part = match &linked {
        Some(l) => site::HistoryPart::Linked(l),
        None => site::HistoryPart::Add(&offer.site.history),
    };
    let put = site::put_site(
        &target.kubo,
        steps,
        page,
        &offer.playlist,
        &station_json,
        part,
        &offer.site.segments,
    )
    .await
    .map_err(|e| (None, e.to_string()))?;
    if let Some(l) = put.history.clone() {
        *history = Some((offer.site.history.clone(), l));
    }
    let path = format!("/ipfs/{}", put.root);
    let published = steps
        .step("name/publish", || {
            target.kubo.publish(&path, &target.options)
        })
        .await
        .map_err(|e| (Some(put.root.clone()), e.to_string()))?;
    Ok((put.root, published.name))
}
