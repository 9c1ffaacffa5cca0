//! The console's schedule editor, "what plays at" and the as-run list: the programme
//! blocks of `schedule.json` (validated as setup validates them, with the block and
//! field named), saved atomically (the previous file kept as `schedule.json.previous`)
//! and set up at once, so the streamer takes the new programme at the next boundary.

use super::Console;
use crate::air::history::{self, AsRunEntry};
use crate::air::timeline::{self, ProgrammeAt, TimelineSource};
use crate::error::{Error, Result};
use crate::setup::schedule::{local_zone, ScheduleSpec, SCHEDULE_FILE};
use serde::Serialize;
use std::sync::Arc;

/// A template for a station without a schedule (the issue's example, in the
/// machine's zone): blocks over the station's `music` folder.
const TEMPLATE: &str = r#"{
  "timezone": "ZONE",
  "default": {"music": ["music"], "jingles": ["jingles"], "jingle_cycle": 3},
  "blocks": [
  ]
}
"#;

/// Most as-run entries one call lists.
pub const MAX_HISTORY: usize = 500;

/// Longest span [`Console::programme_at`] lists, hours.
pub const MAX_PROGRAMME_HOURS: f64 = 24.0;

/// Longest span [`Console::history`] lists, hours (a month).
pub const MAX_HISTORY_HOURS: f64 = 24.0 * 31.0;

/// `hours` from the page when it is a number from 0 to `max`.
///
/// Errors: [`Error::Config`] naming `hours` otherwise (NaN and infinities included).
fn hours_in(hours: f64, max: f64) -> Result<f64> {
    if (0.0..=max).contains(&hours) {
        Ok(hours)
    } else {
        Err(timeline::out_of_range(
            "hours",
            &format!("{hours:?}"),
            &format!("is not a number of hours from 0 to {max}"),
        ))
    }
}

/// The schedule editor's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleView {
    /// `<station>/schedule.json`.
    pub path: String,
    /// Whether the file exists (without it: one rotation, all day).
    pub exists: bool,
    /// Its text, or a template when there is none.
    pub text: String,
    /// Why it is refused, naming the block and field; `None` when valid.
    pub error: Option<String>,
    /// Blocks by name, when valid.
    pub blocks: Vec<String>,
    /// Its zone (or the machine's, without a file).
    pub timezone: String,
}

/// What saving did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSaved {
    /// The editor's content after the save.
    pub view: ScheduleView,
    /// Whether a setup run started for it (else the running one goes again).
    pub setup_started: bool,
}

impl Console {
    /// The schedule editor's content.
    ///
    /// Errors: the station cannot be opened; [`Error::Io`] when the file is unreadable.
    pub fn schedule_get(&self) -> Result<ScheduleView> {
        let st = self.station()?;
        let path = st.dir().join(SCHEDULE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(self.view_of(&st, text, true)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = TEMPLATE.replace("ZONE", &local_zone());
                let mut v = self.view_of(&st, text, false);
                v.error = None;
                Ok(v)
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn view_of(&self, st: &crate::station::Station, text: String, exists: bool) -> ScheduleView {
        let path = st.dir().join(SCHEDULE_FILE);
        let parsed = ScheduleSpec::parse(st, &path, &text);
        ScheduleView {
            path: path.display().to_string(),
            exists,
            blocks: parsed
                .as_ref()
                .map(|s| s.blocks.iter().map(|b| b.name.clone()).collect())
                .unwrap_or_default(),
            timezone: parsed
                .as_ref()
                .map_or_else(|_| local_zone(), |s| s.timezone.clone()),
            error: parsed.err().map(|e| e.to_string()),
            text,
        }
    }

    /// Validates `text` as the station's schedule without saving it.
    ///
    /// Errors: the station cannot be opened.
    pub fn schedule_check(&self, text: &str) -> Result<ScheduleView> {
        let st = self.station()?;
        let exists = st.dir().join(SCHEDULE_FILE).exists();
        Ok(self.view_of(&st, text.to_string(), exists))
    }

    /// Saves `text` as `<station>/schedule.json` when it is valid (an empty text removes
    /// the schedule: one rotation all day), keeping the previous file as
    /// `schedule.json.previous`, and starts setup so the programme follows.
    ///
    /// Errors: the schedule's own error naming the block and field (nothing is saved);
    /// [`Error::Io`].
    pub fn schedule_save(&self, text: &str) -> Result<ScheduleSaved> {
        let st = self.station()?;
        let path = st.dir().join(SCHEDULE_FILE);
        let previous = st.dir().join(format!("{SCHEDULE_FILE}.previous"));
        if text.trim().is_empty() {
            if path.exists() {
                std::fs::rename(&path, &previous).map_err(|e| Error::io(&path, e))?;
            }
        } else {
            ScheduleSpec::parse(&st, &path, text)?;
            if path.exists() {
                std::fs::copy(&path, &previous).map_err(|e| Error::io(&previous, e))?;
            }
            crate::station::atomic::write_atomic(&path, text.as_bytes())?;
        }
        let setup_started = self.start_setup();
        Ok(ScheduleSaved {
            view: self.schedule_get()?,
            setup_started,
        })
    }

    /// What plays at `at_ms` (milliseconds since the Unix epoch, UTC) and for `hours`
    /// (0 to 24) after ([`timeline::programme_at`]).
    ///
    /// Errors: [`Error::Config`] naming `at` or `hours` when out of range (checked
    /// before anything is read: `at_ms` outside chrono's years -262143 to 262142, or
    /// `hours` NaN, infinite or outside 0 to 24), never a panic; no programme yet.
    pub fn programme_at(&self, at_ms: i64, hours: f64) -> Result<ProgrammeAt> {
        let at = chrono::DateTime::from_timestamp_millis(at_ms).ok_or_else(|| {
            timeline::out_of_range("at", &at_ms.to_string(), "ms is not a time chrono can hold")
        })?;
        let hours = hours_in(hours, MAX_PROGRAMME_HOURS)?;
        let st = self.station()?;
        let src = self.timeline_source(&st)?;
        timeline::programme_at(&src, &st, chrono::Utc::now(), at, hours)
    }

    /// The as-run log of the last `hours` (0 to 24 * 31), newest first, at most
    /// [`MAX_HISTORY`] entries.
    ///
    /// Errors: [`Error::Config`] naming `hours` when it is NaN, infinite or outside 0 to
    /// 24 * 31; [`Error::Io`] when the log is unreadable.
    pub fn history(&self, hours: f64) -> Result<Vec<AsRunEntry>> {
        let hours = hours_in(hours, MAX_HISTORY_HOURS)?;
        let state = self.state_dir();
        // In range by the check above: at most 2.7e9 ms, far from overflowing.
        let back =
            chrono::TimeDelta::try_milliseconds((hours * 3_600_000.0) as i64).unwrap_or_default();
        let since = chrono::Utc::now().checked_sub_signed(back);
        let mut h = history::read(&state.file(history::HISTORY_FILE), since, None)?.entries;
        h.reverse();
        h.truncate(MAX_HISTORY);
        Ok(h)
    }

    /// The parsed programme, kept while the processed folder is unchanged.
    pub(crate) fn timeline_source(
        &self,
        st: &crate::station::Station,
    ) -> Result<Arc<TimelineSource>> {
        let cached = self
            .programme
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .filter(|p| p.is_current(st));
        match cached {
            Some(p) => Ok(p),
            None => {
                let p = Arc::new(TimelineSource::load(st)?);
                if let Ok(mut slot) = self.programme.lock() {
                    *slot = Some(p.clone());
                }
                Ok(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programme_at_and_history_refuse_numbers_out_of_range() {
        let d = tempfile::tempdir().unwrap();
        crate::bench::timeline(8, 1, d.path()).unwrap();
        let dir = d.path().join("timeline-station").canonicalize().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let console = Console::new(&dir, rt.handle().clone(), Arc::new(|_| {}));
        let now = chrono::Utc::now().timestamp_millis();
        let max = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
        let min = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis();
        for (at_ms, hours, field) in [
            (i64::MAX, 1.0, "at"),
            (i64::MIN, 1.0, "at"),
            (max, 1.0, "hours"),
            (min, 1.0, "at"),
            (now, f64::INFINITY, "hours"),
            (now, f64::NAN, "hours"),
            (now, 1e300, "hours"),
            (now, -1.0, "hours"),
        ] {
            let e = console.programme_at(at_ms, hours).unwrap_err();
            assert!(
                matches!(&e, Error::Config { field: f, .. } if f == field),
                "{at_ms} {hours}: {e}"
            );
        }
        // A minute ahead: the air clock's estimate (`now` itself is past by the call).
        let a = console.programme_at(now + 60_000, 1.0).unwrap();
        assert!(a.item.is_some(), "{a:?}");
        for hours in [f64::NAN, f64::INFINITY, 1e300, -1.0] {
            let e = console.history(hours).unwrap_err();
            assert!(e.to_string().contains("`hours`"), "{hours}: {e}");
        }
        assert!(console.history(24.0).unwrap().is_empty());
    }
}
