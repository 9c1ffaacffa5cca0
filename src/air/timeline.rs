//! The programme ahead as a timeline, for the console and `station schedule`: items with
//! their air times and programme blocks, from the streamer's own schedule when on air
//! (the times listeners will hear), else as a stream starting now would play; with
//! another jingle cycle as a preview of that setting.

use crate::air::history;
use crate::air::streamer::load_programme;
use crate::air::window::{AirItem, Programme, Rotation, Schedule};
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::manifest;
use crate::setup::schedule::SCHEDULE_FILE;
use crate::station::Station;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// One item on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineBlock {
    /// Item id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Air time of its first segment, milliseconds since the Unix epoch (UTC).
    pub start_ms: i64,
    /// Seconds it airs (less than the item when a hard block start cuts it).
    pub duration: f64,
    /// The programme block it airs in (`default` without a schedule).
    pub block: String,
}

type Stamp = Vec<Option<std::time::SystemTime>>;

fn stamp(processed: &Path) -> Stamp {
    [
        manifest::MANIFEST_FILE,
        manifest::PLAYLIST_FILE,
        SCHEDULE_FILE,
    ]
    .iter()
    .map(|f| {
        std::fs::metadata(processed.join(f))
            .and_then(|m| m.modified())
            .ok()
    })
    .collect()
}

/// The programme the timeline is drawn from, as the streamer loads it from the processed
/// folder ([`load_programme`]), parsed once and reused while the files are unchanged
/// (parsing a 10,000-item manifest dominates the timeline's cost).
#[derive(Debug)]
pub struct TimelineSource {
    programme: Arc<Programme>,
    stamp: Stamp,
    /// The last jingle-cycle preview built ([`TimelineSource::with_cycle`]): redraws of
    /// the same preview reuse it (building one hashes every segment of the rotation).
    cycled: std::sync::Mutex<Option<(u32, Arc<Programme>)>>,
}

impl TimelineSource {
    /// Reads the station's processed folder.
    ///
    /// Errors: as [`load_programme`] (no rotation yet).
    pub fn load(station: &Station) -> Result<TimelineSource> {
        let processed = station.processed_dir();
        let stamp = stamp(processed);
        let (programme, _) = load_programme(processed, false)?;
        Ok(TimelineSource {
            programme: Arc::new(programme),
            stamp,
            cycled: std::sync::Mutex::new(None),
        })
    }

    /// Whether the files on disk are still the ones read.
    pub fn is_current(&self, station: &Station) -> bool {
        stamp(station.processed_dir()) == self.stamp
    }

    /// The programme.
    pub fn programme(&self) -> &Arc<Programme> {
        &self.programme
    }

    /// The programme with the default rotation's tracks and jingles (in their order)
    /// interleaved every `cycle` tracks instead; the last one built is kept.
    fn with_cycle(&self, cycle: u32) -> Result<Arc<Programme>> {
        let mut kept = self.cycled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, p)) = kept.as_ref() {
            if *c == cycle {
                return Ok(p.clone());
            }
        }
        let built = self.build_with_cycle(cycle)?;
        *kept = Some((cycle, built.clone()));
        Ok(built)
    }

    fn build_with_cycle(&self, cycle: u32) -> Result<Arc<Programme>> {
        let p = &self.programme;
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&Arc<crate::air::window::PlayItem>> = p
            .default_rotation()
            .entries
            .iter()
            .filter(|e| seen.insert(e.id.clone()))
            .collect();
        let ids = |k: ItemKind| -> Vec<&str> {
            unique
                .iter()
                .filter(|e| e.kind == k)
                .map(|e| e.id.as_str())
                .collect()
        };
        let (tracks, jingles) = (ids(ItemKind::Track), ids(ItemKind::Jingle));
        let order = crate::setup::rotation::build_rotation(&tracks, &jingles, cycle.max(1))?;
        let by_id: std::collections::HashMap<&str, &Arc<crate::air::window::PlayItem>> =
            unique.iter().map(|e| (e.id.as_str(), *e)).collect();
        let entries = order
            .iter()
            .filter_map(|o| by_id.get(o.id).map(|e| Arc::clone(e)))
            .collect();
        Ok(Arc::new(Programme::new(
            Arc::new(Rotation::new(entries)),
            p.blocks().to_vec(),
            p.schedule().cloned(),
            p.nominal_segment(),
            p.all_meta().clone(),
        )))
    }
}

/// [`timeline_of`] with the programme read from disk.
///
/// Errors: as [`TimelineSource::load`] and [`timeline_of`].
pub fn timeline(
    station: &Station,
    now: DateTime<Utc>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> Result<Vec<TimelineBlock>> {
    timeline_of(
        &TimelineSource::load(station)?,
        station,
        now,
        hours,
        jingle_cycle,
    )
}

/// The air clock as it stands at `now`: the streamer's own schedule when it is on air
/// (with `programme` taking over at its next item boundary when it differs), else a
/// stream starting at `now`. The second value says whether it is the streamer's.
fn air_clock(programme: Arc<Programme>, station: &Station, now: DateTime<Utc>) -> (Schedule, bool) {
    let on_air = station
        .state()
        .load_stream_state()
        .ok()
        .filter(|s| s.is_on_air(now));
    match on_air.and_then(|s| Schedule::resume(s.schedule, programme.clone()).ok()) {
        Some(s) => (s, true),
        None => (Schedule::new(programme, now), false),
    }
}

fn block_of(p: &Programme, i: AirItem) -> TimelineBlock {
    let meta = p.meta(&i.item_id);
    TimelineBlock {
        title: meta.map_or_else(|| i.title.clone(), |m| m.title.clone()),
        artist: meta.and_then(|m| m.artist.clone()),
        id: i.item_id,
        kind: i.kind,
        start_ms: i.air_time.timestamp_millis(),
        duration: i.duration,
        block: i.block,
    }
}

/// Most items one timeline lists.
const MAX_ITEMS: usize = 100_000;

/// What plays from `now` for `hours`: items with their air times and blocks.
///
/// On air, the streamer's own schedule (`stream_state.json`) is continued, so the
/// times are the ones listeners will hear. Off air, a stream starting now. With
/// `jingle_cycle`, the default rotation is rebuilt with that cycle (a preview of the
/// setting) and takes over after the item on air. The cost is the segments inside the
/// horizon, not the rotation's length.
///
/// Errors: [`Error::Rotation`] when the rotation has no track; [`Error::Config`] for
/// `hours` out of range ([`horizon`]).
pub fn timeline_of(
    src: &TimelineSource,
    station: &Station,
    now: DateTime<Utc>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> Result<Vec<TimelineBlock>> {
    let programme = match jingle_cycle {
        Some(c) => src.with_cycle(c)?,
        None => src.programme.clone(),
    };
    let horizon = horizon(now, hours)?;
    let (clock, _) = air_clock(programme.clone(), station, now);
    Ok(clock
        .items_between(now, horizon, MAX_ITEMS)
        .into_iter()
        .map(|i| block_of(&programme, i))
        .collect())
}

/// The answer to "what plays at `at`?" ([`programme_at`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgrammeAt {
    /// The instant asked about (UTC).
    pub at: DateTime<Utc>,
    /// The schedule's time zone (`None` without a schedule).
    pub timezone: Option<String>,
    /// `at` in that zone (or UTC), RFC 3339.
    pub local_time: String,
    /// The programme block on at `at`.
    pub block: String,
    /// The item on air at `at`, when known.
    pub item: Option<TimelineBlock>,
    /// The items after it, for the hours asked.
    pub ahead: Vec<TimelineBlock>,
    /// Where the answer comes from: `as-run log` (the past), `streamer` (the running
    /// stream's schedule), `estimate` (off air: as a stream starting now would play).
    pub basis: &'static str,
}

/// What plays at `at` and for `hours` after: the past from the as-run log, the future
/// from the air clock (see [`timeline_of`]). Walking to a time days ahead costs the
/// segments in between (a week of 6 s segments: about 100,000 steps).
///
/// Errors: as [`TimelineSource::load`]; [`Error::Io`] when the as-run log is unreadable;
/// [`Error::Config`] naming `hours` or `at` when `hours` is out of range ([`horizon`])
/// or `at` is within a day of the earliest instant chrono represents.
pub fn programme_at(
    src: &TimelineSource,
    station: &Station,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
    hours: f64,
) -> Result<ProgrammeAt> {
    let p = src.programme.clone();
    let timetable = p.timetable();
    let local_time = match timetable.and_then(|t| t.zone().parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => at.with_timezone(&tz).to_rfc3339(),
        None => at.to_rfc3339(),
    };
    let horizon = horizon(at, hours)?;
    let mut answer = ProgrammeAt {
        at,
        timezone: timetable.map(|t| t.zone().to_string()),
        local_time,
        block: p.block_at(at).to_string(),
        item: None,
        ahead: Vec::new(),
        basis: "estimate",
    };
    if at < now {
        // A day back: the item on air at `at` started before it.
        let since = at
            .checked_sub_signed(TimeDelta::hours(24))
            .ok_or_else(|| out_of_range("at", &at.to_rfc3339(), "is too far in the past"))?;
        let h = history::read(
            &station.state().file(history::HISTORY_FILE),
            Some(since),
            Some(horizon),
        )?;
        answer.basis = "as-run log";
        for e in h.entries.into_iter().filter(|e| e.air_end > at) {
            let b = TimelineBlock {
                id: e.item_id,
                title: e.title,
                artist: e.artist,
                kind: e.kind,
                start_ms: e.air_start.timestamp_millis(),
                duration: e.duration,
                block: e.block,
            };
            if answer.item.is_none() && e.air_start <= at {
                answer.block = b.block.clone();
                answer.item = Some(b);
            } else {
                answer.ahead.push(b);
            }
        }
        return Ok(answer);
    }
    let (clock, streamer) = air_clock(p.clone(), station, now);
    if streamer {
        answer.basis = "streamer";
    }
    let mut items = clock.items_between(at, horizon, MAX_ITEMS).into_iter();
    if let Some(first) = items.next() {
        answer.block = first.block.clone();
        answer.item = Some(block_of(&p, first));
    }
    answer.ahead = items.map(|i| block_of(&p, i)).collect();
    Ok(answer)
}

/// The instant `hours` (a number of hours, fractions allowed) after `from`: the end of a
/// timeline or "what plays at" span, from the page or the command line.
///
/// Errors: [`Error::Config`] naming `hours` when it is NaN, infinite or negative, or the
/// instant is past the latest one chrono represents (year 262142); never a panic.
pub fn horizon(from: DateTime<Utc>, hours: f64) -> Result<DateTime<Utc>> {
    let value = format!("{hours:?}");
    if !hours.is_finite() || hours < 0.0 {
        return Err(out_of_range(
            "hours",
            &value,
            "is not a number of hours (0 or more)",
        ));
    }
    let ms = hours * 3_600_000.0;
    // `i64::MAX as f64` rounds up to 2^63: `<` keeps the cast below exact-or-saturating.
    (ms < i64::MAX as f64)
        .then(|| TimeDelta::try_milliseconds(ms as i64))
        .flatten()
        .and_then(|d| from.checked_add_signed(d))
        .ok_or_else(|| {
            out_of_range(
                "hours",
                &value,
                &format!("is too far ahead of {}", from.to_rfc3339()),
            )
        })
}

/// An error for a number or time argument out of range: `value` of `field` and why.
pub fn out_of_range(field: &str, value: &str, why: &str) -> Error {
    Error::Config {
        file: "command line".into(),
        field: field.into(),
        message: format!("`{value}` {why}"),
    }
}

/// An error for a time argument that is not RFC 3339.
pub fn bad_time(field: &str, value: &str) -> Error {
    Error::Config {
        file: "command line".into(),
        field: field.into(),
        message: format!("`{value}` is not an RFC 3339 time like 2026-12-01T09:45:00+01:00"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A station with a small programme (no schedule), as the timeline bench makes it.
    fn fixture(dir: &Path) -> (Station, TimelineSource) {
        crate::bench::timeline(8, 1, dir).unwrap();
        let st = Station::open(&dir.join("timeline-station")).unwrap();
        let src = TimelineSource::load(&st).unwrap();
        (st, src)
    }

    fn field_of(e: &Error) -> &str {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn programme_at_the_ends_of_time_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let (st, src) = fixture(d.path());
        let now = Utc::now();
        let (max, min) = (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
        for (at, hours, field) in [
            (max, 1.0, "hours"),
            (max - TimeDelta::minutes(30), 1.0, "hours"),
            (min, 1.0, "at"),
            (min + TimeDelta::hours(23), 0.0, "at"),
            (now, f64::INFINITY, "hours"),
            (now, f64::NEG_INFINITY, "hours"),
            (now, f64::NAN, "hours"),
            (now, 1e300, "hours"),
            (now, 3e12, "hours"),
            (now, -1.0, "hours"),
        ] {
            let e = programme_at(&src, &st, now, at, hours).unwrap_err();
            assert_eq!(field_of(&e), field, "{at} {hours}: {e}");
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
        // In range: an answer.
        let a = programme_at(&src, &st, now, now, 1.0).unwrap();
        assert!(a.item.is_some());
        assert!(programme_at(&src, &st, now, max, 0.0).is_ok());
    }

    #[test]
    fn the_timeline_refuses_hours_out_of_range() {
        let d = tempfile::tempdir().unwrap();
        let (st, src) = fixture(d.path());
        let now = Utc::now();
        for hours in [f64::NAN, f64::INFINITY, 1e300, -0.5] {
            let e = timeline_of(&src, &st, now, hours, None).unwrap_err();
            assert_eq!(field_of(&e), "hours", "{hours}: {e}");
        }
        assert!(!timeline_of(&src, &st, now, 0.5, None).unwrap().is_empty());
    }

    #[test]
    fn a_jingle_cycle_preview_is_built_once_per_cycle_and_interleaves_as_asked() {
        let d = tempfile::tempdir().unwrap();
        let (st, src) = fixture(d.path());
        let two = src.with_cycle(2).unwrap();
        assert!(
            Arc::ptr_eq(&two, &src.with_cycle(2).unwrap()),
            "rebuilt for a redraw"
        );
        let three = src.with_cycle(3).unwrap();
        assert!(!Arc::ptr_eq(&two, &three));
        let kinds = |p: &Programme| -> Vec<ItemKind> {
            p.default_rotation()
                .entries
                .iter()
                .map(|e| e.kind)
                .collect()
        };
        // The fixture's 8 items: every fourth a jingle (6 tracks, 2 jingles); a rotation
        // opens with a jingle (`build_rotation`).
        let (t, j) = (ItemKind::Track, ItemKind::Jingle);
        assert_eq!(kinds(&two)[..6], [j, t, t, j, t, t]);
        assert_eq!(kinds(&three)[..5], [j, t, t, t, j]);
        // The preview drives the timeline: a jingle after every third track.
        let now = Utc::now();
        let blocks = timeline_of(&src, &st, now, 1.0, Some(3)).unwrap();
        assert!(blocks.iter().any(|b| b.kind == j), "{blocks:?}");
    }

    #[test]
    fn horizon_adds_checked() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000).unwrap();
        assert_eq!(horizon(t, 1.5).unwrap(), t + TimeDelta::minutes(90));
        assert_eq!(horizon(t, 0.0).unwrap(), t);
        let max_h = (DateTime::<Utc>::MAX_UTC - t).num_hours() as f64;
        assert!(horizon(t, max_h).is_ok());
        assert!(horizon(t, max_h + 1.0).is_err());
        assert!(horizon(t, 9.3e18 / 3.6e6).is_err(), "past i64 milliseconds");
    }
}
