//! The station's programme schedule: `schedule.json` at the top of the station folder,
//! programme blocks by weekday and time of day, each with its own music and jingle
//! folders and jingle rule; the default fills every hour no block covers. No file: the
//! whole library in one rotation, as without a schedule.
//!
//! ```json
//! {"timezone": "Europe/Berlin",
//!  "default": {"music": ["music"], "jingles": ["jingles"], "jingle_cycle": 3},
//!  "blocks": [
//!    {"name": "Morning", "days": ["mon","tue","wed","thu","fri"], "start": "06:00",
//!     "end": "10:00", "music": ["music/morning"], "jingle_cycle": 2},
//!    {"name": "Night", "start": "22:00", "end": "06:00", "music": ["music/night"],
//!     "jingles": ["jingles/night"], "jingle_cycle": 5, "hard": true}]}
//! ```
//!
//! Rules: `timezone` is an IANA name or `UTC` (absent: the machine's zone); times are
//! local wall-clock times, so blocks follow daylight saving time. `days` absent means
//! every day; a block whose `end` is before its `start` runs past midnight (its `days`
//! are the days it starts). Folders are inside the station folder; absent `music` or
//! `jingles` or `jingle_cycle` are the default's. Blocks may not overlap. A block takes
//! over at the first item boundary after its start; a `hard` one at the first segment
//! boundary (the item on air is cut there). [`ScheduleSpec::parse`] refuses a bad file
//! naming the block and the field.
//!
//! Setup validates the file and writes the validated schedule into the processed folder
//! (`data/processed/schedule.json`), the streamer's only input; [`Timetable`] answers
//! which block is on at an instant.

use crate::error::{Error, Result};
use crate::library::ItemKind;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the schedule, at the top of the station folder and (validated) in the
/// processed folder.
pub const SCHEDULE_FILE: &str = "schedule.json";
/// Name of the block that fills every hour no other block covers.
pub const DEFAULT_BLOCK: &str = "default";

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    timezone: Option<String>,
    default: Option<RawBlock>,
    blocks: Option<Vec<RawBlock>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    name: Option<String>,
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    music: Option<Vec<String>>,
    jingles: Option<Vec<String>>,
    jingle_cycle: Option<u32>,
    hard: Option<bool>,
}

/// One programme block, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    /// Its name (`default` for the default).
    pub name: String,
    /// The days it starts on, `mon` ... `sun` (all seven for the default).
    pub days: Vec<String>,
    /// Local start time, minutes after midnight (0 for the default).
    pub start_minute: u16,
    /// Local end time, minutes after midnight; not after `start_minute`: past midnight.
    pub end_minute: u16,
    /// Music folders (absolute).
    pub music: Vec<PathBuf>,
    /// Jingle folders (absolute).
    pub jingles: Vec<PathBuf>,
    /// Tracks between two jingles.
    pub jingle_cycle: u32,
    /// Takes over at the first segment boundary after its start (the item on air is
    /// cut), not at the first item boundary.
    pub hard: bool,
}

impl BlockSpec {
    fn folders_of(&self, kind: ItemKind) -> &[PathBuf] {
        match kind {
            ItemKind::Track => &self.music,
            ItemKind::Jingle => &self.jingles,
        }
    }

    fn covers_minute_of_week(&self, day: usize, minute: u16) -> bool {
        let on = |d: usize| {
            self.days
                .iter()
                .any(|x| DAYS.iter().position(|(n, _)| n == x) == Some(d))
        };
        if self.start_minute < self.end_minute {
            on(day) && (self.start_minute..self.end_minute).contains(&minute)
        } else {
            (on(day) && minute >= self.start_minute)
                || (on((day + 6) % 7) && minute < self.end_minute)
        }
    }
}

/// A validated schedule: the zone, the default and the blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// IANA time zone name (or `UTC`) the block times are in.
    pub timezone: String,
    /// The block that fills every hour no other block covers.
    pub default: BlockSpec,
    /// The blocks, in file order.
    pub blocks: Vec<BlockSpec>,
}

fn bad(file: &Path, field: String, message: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        field,
        message: message.into(),
    }
}

fn parse_time(file: &Path, field: String, t: &str) -> Result<u16> {
    let parsed = NaiveTime::parse_from_str(t, "%H:%M")
        .map_err(|_| bad(file, field.clone(), format!("`{t}`: a time like \"06:00\"")))?;
    Ok((parsed.hour() * 60 + parsed.minute()) as u16)
}

/// The machine's time zone (IANA name), `UTC` when it cannot be told.
pub fn local_zone() -> String {
    iana_time_zone::get_timezone()
        .ok()
        .filter(|z| z.parse::<chrono_tz::Tz>().is_ok())
        .unwrap_or_else(|| "UTC".into())
}

impl ScheduleSpec {
    /// Reads `<station>/schedule.json`: `Ok(None)` when there is none.
    ///
    /// Errors: as [`ScheduleSpec::parse`]; [`Error::Io`] when unreadable.
    pub fn load(station: &crate::station::Station) -> Result<Option<ScheduleSpec>> {
        let path = station.dir().join(SCHEDULE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => ScheduleSpec::parse(station, &path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Validates the schedule text of `file` for `station`.
    ///
    /// Errors: [`Error::Parse`] for bad JSON or an unknown key; [`Error::Config`] naming
    /// the block (`blocks[1] (Night)`) and field, for an unknown time zone, day, time
    /// (`HH:MM`), a block without a name or times, two blocks of one name, a folder
    /// outside the station or missing, a jingle cycle out of 1 to 1000, or two blocks
    /// that overlap (naming both and the first minute they share).
    pub fn parse(
        station: &crate::station::Station,
        file: &Path,
        text: &str,
    ) -> Result<ScheduleSpec> {
        let raw: RawSchedule = serde_json::from_str(text).map_err(|e| Error::Parse {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
        let timezone = match raw.timezone {
            Some(z) => {
                z.parse::<chrono_tz::Tz>().map_err(|_| {
                    bad(
                        file,
                        "timezone".into(),
                        format!(
                            "`{z}` is not an IANA time zone (like \"Europe/Berlin\" or \"UTC\")"
                        ),
                    )
                })?;
                z
            }
            None => local_zone(),
        };
        let dir = station.dir();
        let folders = |field: String, list: &[String], kind: &str| -> Result<Vec<PathBuf>> {
            if list.is_empty() {
                return Err(bad(file, field, format!("at least one {kind} folder")));
            }
            list.iter()
                .map(|f| {
                    let p = PathBuf::from(f);
                    let abs = if p.is_absolute() { p } else { dir.join(p) };
                    let canon = abs.canonicalize().map_err(|_| {
                        bad(
                            file,
                            field.clone(),
                            format!("`{f}` is not a folder of the station"),
                        )
                    })?;
                    let station_canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
                    if !canon.starts_with(&station_canon) || !canon.is_dir() {
                        return Err(bad(
                            file,
                            field.clone(),
                            format!("`{f}` must be a folder inside the station folder"),
                        ));
                    }
                    Ok(abs)
                })
                .collect()
        };
        let cycle = |field: String, v: u32| -> Result<u32> {
            if (1..=1000).contains(&v) {
                Ok(v)
            } else {
                Err(bad(
                    file,
                    field,
                    format!("{v} is out of range: allowed 1 to 1000 tracks"),
                ))
            }
        };
        let d = raw.default.unwrap_or(RawBlock {
            name: None,
            days: None,
            start: None,
            end: None,
            music: None,
            jingles: None,
            jingle_cycle: None,
            hard: None,
        });
        if d.days.is_some() || d.start.is_some() || d.end.is_some() || d.hard.is_some() {
            return Err(bad(
                file,
                "default".into(),
                "the default fills every hour no block covers: it has no days, start, end or hard",
            ));
        }
        let rel = |p: &Path| {
            p.strip_prefix(dir)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        let default = BlockSpec {
            name: DEFAULT_BLOCK.into(),
            days: DAYS.iter().map(|(n, _)| n.to_string()).collect(),
            start_minute: 0,
            end_minute: 0,
            music: folders(
                "default.music".into(),
                &d.music
                    .unwrap_or_else(|| vec![rel(&station.setup.music_dir)]),
                "music",
            )?,
            jingles: match d.jingles {
                Some(j) if j.is_empty() => Vec::new(),
                Some(j) => folders("default.jingles".into(), &j, "jingle")?,
                None => folders(
                    "default.jingles".into(),
                    &[rel(&station.setup.jingles_dir)],
                    "jingle",
                )
                .unwrap_or_default(),
            },
            jingle_cycle: cycle(
                "default.jingle_cycle".into(),
                d.jingle_cycle.unwrap_or(station.setup.jingle_cycle),
            )?,
            hard: false,
        };
        let mut blocks: Vec<BlockSpec> = Vec::new();
        for (i, b) in raw.blocks.unwrap_or_default().into_iter().enumerate() {
            let label = |name: &Option<String>| match name {
                Some(n) => format!("blocks[{i}] ({n})"),
                None => format!("blocks[{i}]"),
            };
            let at = label(&b.name);
            let name = b
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| bad(file, format!("{at}.name"), "every block needs a name"))?;
            if name == DEFAULT_BLOCK || blocks.iter().any(|x| x.name == name) {
                return Err(bad(
                    file,
                    format!("{at}.name"),
                    format!("the name `{name}` is taken"),
                ));
            }
            let days = match b.days {
                None => DAYS.iter().map(|(n, _)| n.to_string()).collect(),
                Some(list) => {
                    let mut out = Vec::new();
                    for day in list {
                        let d = day.to_lowercase();
                        if !DAYS.iter().any(|(n, _)| *n == d) {
                            return Err(bad(
                                file,
                                format!("{at}.days"),
                                format!("`{day}`: days are mon, tue, wed, thu, fri, sat, sun"),
                            ));
                        }
                        if !out.contains(&d) {
                            out.push(d);
                        }
                    }
                    if out.is_empty() {
                        return Err(bad(
                            file,
                            format!("{at}.days"),
                            "no days: leave `days` out for every day",
                        ));
                    }
                    out
                }
            };
            let start = b
                .start
                .as_deref()
                .ok_or_else(|| bad(file, format!("{at}.start"), "a start time like \"06:00\""))?;
            let end = b
                .end
                .as_deref()
                .ok_or_else(|| bad(file, format!("{at}.end"), "an end time like \"10:00\""))?;
            let start_minute = parse_time(file, format!("{at}.start"), start)?;
            let end_minute = parse_time(file, format!("{at}.end"), end)?;
            if start_minute == end_minute {
                return Err(bad(
                    file,
                    format!("{at}.end"),
                    "the same as the start: a block lasts less than 24 hours",
                ));
            }
            blocks.push(BlockSpec {
                name,
                days,
                start_minute,
                end_minute,
                music: match &b.music {
                    Some(m) => folders(format!("{at}.music"), m, "music")?,
                    None => default.music.clone(),
                },
                jingles: match &b.jingles {
                    Some(j) if j.is_empty() => Vec::new(),
                    Some(j) => folders(format!("{at}.jingles"), j, "jingle")?,
                    None => default.jingles.clone(),
                },
                jingle_cycle: cycle(
                    format!("{at}.jingle_cycle"),
                    b.jingle_cycle.unwrap_or(default.jingle_cycle),
                )?,
                hard: b.hard.unwrap_or(false),
            });
        }
        // No two blocks on the same minute of the week.
        for (day, (day_name, _)) in DAYS.iter().enumerate() {
            for minute in 0..1440u16 {
                let on: Vec<&BlockSpec> = blocks
                    .iter()
                    .filter(|b| b.covers_minute_of_week(day, minute))
                    .collect();
                if on.len() > 1 {
                    let i = blocks
                        .iter()
                        .position(|b| b.name == on[1].name)
                        .unwrap_or(0);
                    return Err(bad(
                        file,
                        format!("blocks[{i}] ({})", on[1].name),
                        format!(
                            "overlaps `{}` on {} at {:02}:{:02}",
                            on[0].name,
                            day_name,
                            minute / 60,
                            minute % 60
                        ),
                    ));
                }
            }
        }
        Ok(ScheduleSpec {
            timezone,
            default,
            blocks,
        })
    }

    /// Every folder the schedule names, with the kind of its sources, each once.
    pub fn folders(&self) -> Vec<(ItemKind, PathBuf)> {
        let mut out: Vec<(ItemKind, PathBuf)> = Vec::new();
        for b in std::iter::once(&self.default).chain(&self.blocks) {
            for (kind, list) in [(ItemKind::Track, &b.music), (ItemKind::Jingle, &b.jingles)] {
                for f in list {
                    if !out.iter().any(|(k, p)| *k == kind && p == f) {
                        out.push((kind, f.clone()));
                    }
                }
            }
        }
        out
    }

    /// Whether the source at `path` of `kind` belongs to `block`: it is inside one of
    /// the block's folders of that kind, and not inside a deeper folder another block
    /// names (so `music` in the default means the music no block claims, when blocks
    /// name `music/morning` and `music/night`).
    pub fn holds(&self, block: &BlockSpec, kind: ItemKind, path: &Path) -> bool {
        let own = block.folders_of(kind);
        let Some(home) = own
            .iter()
            .filter(|f| path.starts_with(f))
            .max_by_key(|f| f.components().count())
        else {
            return false;
        };
        !std::iter::once(&self.default)
            .chain(&self.blocks)
            .filter(|b| b.name != block.name)
            .flat_map(|b| b.folders_of(kind))
            .any(|g| g != home && g.starts_with(home) && path.starts_with(g) && !own.contains(g))
    }

    /// The block named `name` (the default included).
    pub fn block(&self, name: &str) -> Option<&BlockSpec> {
        std::iter::once(&self.default)
            .chain(&self.blocks)
            .find(|b| b.name == name)
    }

    /// The timetable the air clock follows.
    ///
    /// Errors: [`Error::Config`] when the zone is unknown.
    pub fn timetable(&self) -> Result<Timetable> {
        Timetable::new(
            &self.timezone,
            self.blocks.iter().map(|b| {
                (
                    b.name.as_str(),
                    b.days.as_slice(),
                    b.start_minute,
                    b.end_minute,
                    b.hard,
                )
            }),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TimedBlock {
    name: String,
    /// Monday first.
    days: [bool; 7],
    start_minute: u16,
    end_minute: u16,
    hard: bool,
}

/// When each block is on: answers [`Timetable::block_at`] an instant, in the schedule's
/// zone (daylight saving time included: times are local wall-clock times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timetable {
    tz: chrono_tz::Tz,
    blocks: Vec<TimedBlock>,
}

impl Timetable {
    /// A timetable in `zone` (IANA name) of blocks `(name, days, start minute, end
    /// minute, hard)`; days are `mon` ... `sun`.
    ///
    /// Errors: [`Error::Config`] for an unknown zone.
    pub fn new<'a>(
        zone: &str,
        blocks: impl Iterator<Item = (&'a str, &'a [String], u16, u16, bool)>,
    ) -> Result<Timetable> {
        let tz = zone.parse::<chrono_tz::Tz>().map_err(|_| {
            bad(
                Path::new(SCHEDULE_FILE),
                "timezone".into(),
                format!("`{zone}` is not an IANA time zone"),
            )
        })?;
        Ok(Timetable {
            tz,
            blocks: blocks
                .map(|(name, days, start_minute, end_minute, hard)| TimedBlock {
                    name: name.to_string(),
                    days: DAYS.map(|(n, _)| days.iter().any(|d| d == n)),
                    start_minute,
                    end_minute,
                    hard,
                })
                .collect(),
        })
    }

    /// Whether any block takes over hard.
    pub fn has_hard_blocks(&self) -> bool {
        self.blocks.iter().any(|b| b.hard)
    }

    /// The block on at `t`: its name, or [`DEFAULT_BLOCK`].
    pub fn block_at(&self, t: DateTime<Utc>) -> &str {
        let local = t.with_timezone(&self.tz);
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.blocks
            .iter()
            .find(|b| {
                if b.start_minute < b.end_minute {
                    b.days[day] && (b.start_minute..b.end_minute).contains(&minute)
                } else {
                    (b.days[day] && minute >= b.start_minute)
                        || (b.days[(day + 6) % 7] && minute < b.end_minute)
                }
            })
            .map_or(DEFAULT_BLOCK, |b| b.name.as_str())
    }

    /// Whether the block `name` takes over at a segment boundary (`hard`).
    pub fn is_hard(&self, name: &str) -> bool {
        self.blocks.iter().any(|b| b.name == name && b.hard)
    }

    /// The first start of a hard block strictly after `after` and at or before `until`:
    /// `(instant, block name)`.
    pub fn hard_start_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, &str)> {
        if until <= after {
            return None;
        }
        let first = after.with_timezone(&self.tz).date_naive();
        let days = (until - after).num_days() + 2;
        let mut best: Option<(DateTime<Utc>, &str)> = None;
        for offset in -1..=days {
            let date = first + Duration::days(offset);
            let day = date.weekday().num_days_from_monday() as usize;
            for b in self.blocks.iter().filter(|b| b.hard && b.days[day]) {
                let naive = date.and_hms_opt(
                    u32::from(b.start_minute / 60),
                    u32::from(b.start_minute % 60),
                    0,
                );
                let Some(naive) = naive else { continue };
                // A start in the spring-forward gap happens when the clocks jump.
                let at = match self.tz.from_local_datetime(&naive) {
                    chrono::LocalResult::Single(t) => t,
                    chrono::LocalResult::Ambiguous(t, _) => t,
                    chrono::LocalResult::None => {
                        match self.tz.from_local_datetime(&(naive + Duration::hours(1))) {
                            chrono::LocalResult::Single(t)
                            | chrono::LocalResult::Ambiguous(t, _) => t,
                            chrono::LocalResult::None => continue,
                        }
                    }
                }
                .with_timezone(&Utc);
                if at > after && at <= until && best.is_none_or(|(t, _)| at < t) {
                    best = Some((at, b.name.as_str()));
                }
            }
        }
        best
    }

    /// The zone's name.
    pub fn zone(&self) -> &str {
        self.tz.name()
    }
}

/// Format version of [`ProcessedSchedule`].
pub const PROCESSED_SCHEDULE_FORMAT: u32 = 1;

/// The schedule as setup leaves it for the streamer in `data/processed/schedule.json`:
/// the timetable, and each block's rotation as item ids of `manifest.json` in air order.
/// The default's rotation is `playlist.m3u`. No file: no schedule (one rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedSchedule {
    /// [`PROCESSED_SCHEDULE_FORMAT`].
    pub format: u32,
    /// IANA time zone name of the block times.
    pub timezone: String,
    /// The blocks; an empty `rotation` means the block has nothing playable (the
    /// default plays in its hours and the streamer raises an alarm).
    pub blocks: Vec<ProcessedBlock>,
}

/// One block of [`ProcessedSchedule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedBlock {
    /// Block name.
    pub name: String,
    /// Days it starts on (`mon` ... `sun`).
    pub days: Vec<String>,
    /// Local start, minutes after midnight.
    pub start_minute: u16,
    /// Local end, minutes after midnight (not after the start: past midnight).
    pub end_minute: u16,
    /// Takes over at a segment boundary.
    pub hard: bool,
    /// Tracks between two jingles.
    pub jingle_cycle: u32,
    /// Item ids in air order.
    pub rotation: Vec<String>,
}

impl ProcessedSchedule {
    /// Reads `schedule.json` from the processed folder: `Ok(None)` without one.
    ///
    /// Errors: [`Error::Io`]; [`Error::Parse`] naming the file.
    pub fn load(processed: &Path) -> Result<Option<ProcessedSchedule>> {
        let path = processed.join(SCHEDULE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Parse {
                    file: path,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes it to the processed folder atomically unless unchanged; returns whether
    /// it wrote.
    ///
    /// Errors: [`Error::Io`].
    pub fn save(&self, processed: &Path) -> Result<bool> {
        let path = processed.join(SCHEDULE_FILE);
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        crate::setup::manifest::write_if_changed(&path, &bytes)
    }

    /// Removes the processed folder's schedule (the station has none any more); returns
    /// whether there was one.
    ///
    /// Errors: [`Error::Io`].
    pub fn remove(processed: &Path) -> Result<bool> {
        let path = processed.join(SCHEDULE_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The timetable the air clock follows.
    ///
    /// Errors: [`Error::Config`] for an unknown zone (a hand-edited file).
    pub fn timetable(&self) -> Result<Timetable> {
        Timetable::new(
            &self.timezone,
            self.blocks.iter().map(|b| {
                (
                    b.name.as_str(),
                    b.days.as_slice(),
                    b.start_minute,
                    b.end_minute,
                    b.hard,
                )
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station() -> (tempfile::TempDir, crate::station::Station) {
        let d = tempfile::tempdir().unwrap();
        crate::station::init(d.path()).unwrap();
        for f in ["music/morning", "music/night", "jingles/night"] {
            std::fs::create_dir_all(d.path().join(f)).unwrap();
        }
        let st = crate::station::Station::open(d.path()).unwrap();
        (d, st)
    }

    const ISSUE: &str = r#"{"timezone": "Europe/Berlin",
 "default": {"music": ["music"], "jingles": ["jingles"], "jingle_cycle": 3},
 "blocks": [
   {"name": "Morning", "days": ["mon","tue","wed","thu","fri"], "start": "06:00", "end": "10:00",
    "music": ["music/morning"], "jingle_cycle": 2},
   {"name": "Night", "start": "22:00", "end": "06:00", "music": ["music/night"],
    "jingles": ["jingles/night"], "jingle_cycle": 5, "hard": true}]}"#;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_issue_example_parses_and_answers_by_local_time_across_dst() {
        let (d, st) = station();
        let spec = ScheduleSpec::parse(&st, &d.path().join(SCHEDULE_FILE), ISSUE).unwrap();
        assert_eq!(spec.blocks.len(), 2);
        assert_eq!(
            spec.blocks[0].jingles, spec.default.jingles,
            "absent jingles: the default's"
        );
        let tt = spec.timetable().unwrap();
        // Tuesday 2026-03-24 07:00 in Berlin (CET, UTC+1) is 06:00 UTC.
        assert_eq!(tt.block_at(at("2026-03-24T06:00:00Z")), "Morning");
        assert_eq!(tt.block_at(at("2026-03-24T04:59:00Z")), "Night");
        assert_eq!(tt.block_at(at("2026-03-24T09:00:00Z")), "default");
        // After the spring change (2026-03-29), 06:00 Berlin is 04:00 UTC.
        assert_eq!(tt.block_at(at("2026-03-30T04:00:00Z")), "Morning");
        assert_eq!(tt.block_at(at("2026-03-30T03:59:00Z")), "Night");
        // Saturday morning: no Morning block; the Night ends at 06:00 and the default
        // follows.
        assert_eq!(tt.block_at(at("2026-03-28T05:30:00Z")), "default");
        // The next hard start after Tuesday noon is Tuesday 22:00 Berlin.
        let (t, name) = tt
            .hard_start_between(at("2026-03-24T11:00:00Z"), at("2026-03-25T11:00:00Z"))
            .unwrap();
        assert_eq!((t, name), (at("2026-03-24T21:00:00Z"), "Night"));
        assert!(tt
            .hard_start_between(at("2026-03-24T11:00:00Z"), at("2026-03-24T20:00:00Z"))
            .is_none());
    }

    #[test]
    fn bad_schedules_name_the_block_and_field() {
        let (d, st) = station();
        let f = d.path().join(SCHEDULE_FILE);
        let err = |text: &str| ScheduleSpec::parse(&st, &f, text).unwrap_err().to_string();
        let e = err(r#"{"timezone": "Mars/Olympus"}"#);
        assert!(e.contains("timezone") && e.contains("IANA"), "{e}");
        let e = err(
            r#"{"blocks": [{"name": "A", "start": "06:00", "end": "10:00"},
                                  {"name": "B", "start": "09:30", "end": "11:00"}]}"#,
        );
        assert!(
            e.contains("blocks[1] (B)") && e.contains("overlaps `A`") && e.contains("09:30"),
            "{e}"
        );
        let e = err(r#"{"blocks": [{"name": "A", "start": "6am", "end": "10:00"}]}"#);
        assert!(
            e.contains("blocks[0] (A).start") && e.contains("06:00"),
            "{e}"
        );
        let e = err(
            r#"{"blocks": [{"name": "A", "days": ["monday"], "start": "06:00", "end": "10:00"}]}"#,
        );
        assert!(
            e.contains("blocks[0] (A).days") && e.contains("monday"),
            "{e}"
        );
        let e = err(
            r#"{"blocks": [{"name": "A", "start": "06:00", "end": "10:00", "music": ["music/jazz"]}]}"#,
        );
        assert!(
            e.contains("blocks[0] (A).music") && e.contains("music/jazz"),
            "{e}"
        );
        let e = err(
            r#"{"blocks": [{"name": "A", "start": "06:00", "end": "10:00", "music": ["/etc"]}]}"#,
        );
        assert!(e.contains("inside the station"), "{e}");
        let e = err(r#"{"blocks": [{"start": "06:00", "end": "10:00"}]}"#);
        assert!(e.contains("blocks[0].name"), "{e}");
        let e = err(
            r#"{"blocks": [{"name": "A", "start": "06:00", "end": "10:00", "jingle_cycle": 0}]}"#,
        );
        assert!(e.contains("jingle_cycle"), "{e}");
        let e = err(r#"{"blockz": []}"#);
        assert!(e.contains("blockz"), "{e}");
        // Past midnight on Sunday overlaps Monday's early block.
        let e = err(
            r#"{"blocks": [{"name": "Late", "days": ["sun"], "start": "23:00", "end": "02:00"},
                                  {"name": "Early", "days": ["mon"], "start": "01:00", "end": "03:00"}]}"#,
        );
        assert!(
            e.contains("Early") && e.contains("overlaps `Late`") && e.contains("mon at 01:00"),
            "{e}"
        );
    }

    #[test]
    fn folders_are_named_once() {
        let (d, st) = station();
        let spec = ScheduleSpec::parse(&st, &d.path().join(SCHEDULE_FILE), ISSUE).unwrap();
        let f = spec.folders();
        assert_eq!(f.len(), 5, "{f:?}");
        let night = &spec.blocks[1];
        assert!(spec.holds(night, ItemKind::Track, &d.path().join("music/night/a.ogg")));
        assert!(!spec.holds(night, ItemKind::Track, &d.path().join("music/a.ogg")));
        // The default's `music` is what no block claims.
        assert!(spec.holds(
            &spec.default,
            ItemKind::Track,
            &d.path().join("music/a.ogg")
        ));
        assert!(spec.holds(
            &spec.default,
            ItemKind::Track,
            &d.path().join("music/other/a.ogg")
        ));
        assert!(!spec.holds(
            &spec.default,
            ItemKind::Track,
            &d.path().join("music/night/a.ogg")
        ));
        // Morning names no jingles: it has the default's.
        let morning = &spec.blocks[0];
        assert!(spec.holds(morning, ItemKind::Jingle, &d.path().join("jingles/a.ogg")));
        assert!(!spec.holds(
            morning,
            ItemKind::Jingle,
            &d.path().join("jingles/night/a.ogg")
        ));
    }
}
