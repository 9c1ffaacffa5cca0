//! The as-run log: every item that airs, appended to `data/state/history.jsonl` as its
//! air start passes: one JSON object per line ([`AsRunEntry`]), what royalty reports
//! and programme logs are made from (`station history --csv`).
//!
//! Exactly once: an entry is appended only when its air start is later than the last
//! entry's in the file (read back from the file's tail when the streamer opens it), and
//! every append is fsynced before the streamer's state is saved. So a streamer killed
//! between the two (even `kill -9`) neither loses nor repeats an item when it comes
//! back: the items that started while it was down (the lookahead it had published
//! plays on) are logged then. A last line cut short by a crash is dropped on open.

use crate::error::{Error, Result};
use crate::library::ItemKind;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the as-run log inside `data/state/`.
pub const HISTORY_FILE: &str = "history.jsonl";

/// Longest line read back (bytes): a longer one is not an entry this program wrote.
const MAX_LINE: usize = 64 * 1024;

/// One aired item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsRunEntry {
    /// Air time of its first segment (UTC, RFC 3339 with milliseconds).
    #[serde(with = "millis")]
    pub air_start: DateTime<Utc>,
    /// When it ends on air (UTC, milliseconds): its start plus what airs of it (a hard
    /// block start cuts it short).
    #[serde(with = "millis")]
    pub air_end: DateTime<Utc>,
    /// Item id.
    pub item_id: String,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Title.
    pub title: String,
    /// Artist, when known.
    #[serde(default)]
    pub artist: Option<String>,
    /// Album, when the source has it.
    #[serde(default)]
    pub album: Option<String>,
    /// ISRC, when the source has it.
    #[serde(default)]
    pub isrc: Option<String>,
    /// Seconds on air (`air_end - air_start`).
    pub duration: f64,
    /// The programme block it aired in.
    pub block: String,
    /// Media sequence number of its first segment (RFC 8216 section 4.3.3.2).
    pub media_sequence: u64,
}

mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// The as-run log of one station, open for appending.
#[derive(Debug)]
pub struct AsRunLog {
    path: PathBuf,
    last_start: Option<DateTime<Utc>>,
}

impl AsRunLog {
    /// Opens (creating) the log at `path`: reads the last entry's air start from the
    /// tail, and cuts off a last line a crash left unfinished.
    ///
    /// Errors: [`Error::Io`] when the file cannot be read or repaired.
    pub fn open(path: &Path) -> Result<AsRunLog> {
        let mut log = AsRunLog {
            path: path.to_path_buf(),
            last_start: None,
        };
        let mut f = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(log),
            Err(e) => return Err(Error::io(path, e)),
        };
        let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        let from = len.saturating_sub(MAX_LINE as u64 * 2);
        f.seek(SeekFrom::Start(from))
            .map_err(|e| Error::io(path, e))?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).map_err(|e| Error::io(path, e))?;
        // An unfinished last line (no newline) is what a crash mid-append leaves.
        if !tail.is_empty() && tail.last() != Some(&b'\n') {
            let keep = tail.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let cut = from + keep as u64;
            tracing::warn!(
                "{}: dropping an unfinished last line ({} bytes) a crash left",
                path.display(),
                len - cut
            );
            f.set_len(cut).map_err(|e| Error::io(path, e))?;
            f.sync_all().map_err(|e| Error::io(path, e))?;
            tail.truncate(keep);
        }
        log.last_start = tail
            .split(|b| *b == b'\n')
            .rev()
            .filter(|l| !l.is_empty())
            .find_map(|l| serde_json::from_slice::<AsRunEntry>(l).ok())
            .map(|e| e.air_start);
        Ok(log)
    }

    /// Air start of the newest entry, if any.
    pub fn last_start(&self) -> Option<DateTime<Utc>> {
        self.last_start
    }

    /// Whether an item starting at `air_start` is not logged yet. Compared in whole
    /// milliseconds, the precision the log keeps (two items never start within one).
    pub fn is_new(&self, air_start: DateTime<Utc>) -> bool {
        self.last_start
            .is_none_or(|l| air_start.timestamp_millis() > l.timestamp_millis())
    }

    /// Appends the entries that are new ([`AsRunLog::is_new`]), in air-start order,
    /// and fsyncs. Returns how many were appended.
    ///
    /// Errors: [`Error::Io`]; nothing is counted as logged then, so the next call tries
    /// the same entries again.
    pub fn append(&mut self, entries: &[AsRunEntry]) -> Result<usize> {
        let mut fresh: Vec<&AsRunEntry> = entries
            .iter()
            .filter(|e| self.is_new(e.air_start))
            .collect();
        fresh.sort_by_key(|e| e.air_start);
        fresh.dedup_by_key(|e| e.air_start.timestamp_millis());
        if fresh.is_empty() {
            return Ok(0);
        }
        let mut text = Vec::new();
        for e in &fresh {
            serde_json::to_writer(&mut text, e)
                .map_err(|err| Error::io(&self.path, std::io::Error::other(err.to_string())))?;
            text.push(b'\n');
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        f.write_all(&text).map_err(|e| Error::io(&self.path, e))?;
        f.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.last_start = fresh.last().map(|e| e.air_start);
        Ok(fresh.len())
    }
}

/// What [`read`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Entries with `since <= air_start < until`, in file order.
    pub entries: Vec<AsRunEntry>,
    /// Lines that are not entries (numbers, 1-based), skipped.
    pub bad_lines: Vec<usize>,
}

/// Reads the entries of the log at `path` that started in `[since, until)` (either
/// bound open when `None`). A missing file is an empty log; lines that are not entries
/// are skipped and reported, never fatal.
///
/// Errors: [`Error::Io`] when the file cannot be read.
pub fn read(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<History> {
    use std::io::BufRead;
    let mut out = History::default();
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut reader = std::io::BufReader::new(f);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        let got = reader
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if got == 0 {
            break;
        }
        n += 1;
        if line.len() > MAX_LINE {
            out.bad_lines.push(n);
            // Skip the rest of an over-long line.
            let mut rest = Vec::new();
            reader
                .read_until(b'\n', &mut rest)
                .map_err(|e| Error::io(path, e))?;
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<AsRunEntry>(text) {
            Ok(e) => {
                if since.is_none_or(|s| e.air_start >= s) && until.is_none_or(|u| e.air_start < u) {
                    out.entries.push(e);
                }
            }
            Err(_) => out.bad_lines.push(n),
        }
    }
    Ok(out)
}

/// Writes `entries` as CSV with a header row (`air_start,air_end,duration,kind,title,
/// artist,album,isrc,block,item_id,media_sequence`; times RFC 3339 UTC with
/// milliseconds, duration in seconds), quoted by the `csv` crate (RFC 4180).
///
/// Errors: [`Error::Io`] naming `what` (the output) when writing fails.
pub fn write_csv(entries: &[AsRunEntry], out: impl Write, what: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| Error::io(what, std::io::Error::other(e.to_string()));
    w.write_record([
        "air_start",
        "air_end",
        "duration",
        "kind",
        "title",
        "artist",
        "album",
        "isrc",
        "block",
        "item_id",
        "media_sequence",
    ])
    .map_err(io)?;
    for e in entries {
        w.write_record([
            e.air_start.to_rfc3339_opts(SecondsFormat::Millis, true),
            e.air_end.to_rfc3339_opts(SecondsFormat::Millis, true),
            format!("{:.3}", e.duration),
            match e.kind {
                ItemKind::Track => "track".into(),
                ItemKind::Jingle => "jingle".into(),
            },
            e.title.clone(),
            e.artist.clone().unwrap_or_default(),
            e.album.clone().unwrap_or_default(),
            e.isrc.clone().unwrap_or_default(),
            e.block.clone(),
            e.item_id.clone(),
            e.media_sequence.to_string(),
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|e| Error::io(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(min: u32, title: &str) -> AsRunEntry {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, min, 0).unwrap();
        AsRunEntry {
            air_start: start + chrono::Duration::milliseconds(123),
            air_end: start + chrono::Duration::seconds(180),
            item_id: format!("t-{min}"),
            kind: ItemKind::Track,
            title: title.into(),
            artist: Some("Artist, \"The\"".into()),
            album: None,
            isrc: Some("USRC17607839".into()),
            duration: 179.877,
            block: "Morning".into(),
            media_sequence: u64::from(min) * 30,
        }
    }

    #[test]
    fn appends_each_item_once_across_reopening_and_a_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(HISTORY_FILE);
        let mut log = AsRunLog::open(&p).unwrap();
        assert_eq!(log.append(&[entry(0, "a"), entry(3, "b")]).unwrap(), 2);
        assert_eq!(log.append(&[entry(3, "b")]).unwrap(), 0, "already logged");
        // The log keeps milliseconds; the air clock has microseconds: reopened, the same
        // item (its start a few microseconds past the logged millisecond) is not new.
        let mut precise = entry(3, "b");
        precise.air_start += chrono::Duration::microseconds(456);
        assert!(!AsRunLog::open(&p).unwrap().is_new(precise.air_start));
        // A crash mid-append leaves half a line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"air_start":"2026-12-01T09:06:00.123Z","air_e"#)
            .unwrap();
        drop(f);
        let mut log = AsRunLog::open(&p).unwrap();
        assert_eq!(log.last_start(), Some(entry(3, "b").air_start));
        assert_eq!(log.append(&[entry(3, "b"), entry(6, "c")]).unwrap(), 1);
        let h = read(&p, None, None).unwrap();
        assert!(h.bad_lines.is_empty(), "{:?}", h.bad_lines);
        let titles: Vec<&str> = h.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["a", "b", "c"]);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains(r#""air_start":"2026-12-01T09:00:00.123Z""#),
            "{text}"
        );
        // Time filters: since inclusive, until exclusive.
        let h = read(
            &p,
            Some(entry(3, "").air_start),
            Some(entry(6, "").air_start),
        )
        .unwrap();
        assert_eq!(h.entries.len(), 1);
        assert_eq!(h.entries[0].title, "b");
    }

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(HISTORY_FILE);
        let mut text = serde_json::to_string(&entry(0, "a")).unwrap();
        text.push_str("\nnot json\n\n");
        text.push_str(&"x".repeat(MAX_LINE + 10));
        text.push('\n');
        text.push_str(&serde_json::to_string(&entry(3, "b")).unwrap());
        text.push('\n');
        std::fs::write(&p, text).unwrap();
        let h = read(&p, None, None).unwrap();
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.bad_lines, [2, 4]);
    }

    #[test]
    fn csv_has_a_header_and_quotes_what_needs_it() {
        let mut out = Vec::new();
        write_csv(&[entry(0, "Hello, World")], &mut out, Path::new("-")).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "air_start,air_end,duration,kind,title,artist,album,isrc,block,item_id,media_sequence"
        );
        assert_eq!(
            lines.next().unwrap(),
            r#"2026-12-01T09:00:00.123Z,2026-12-01T09:03:00.000Z,179.877,track,"Hello, World","Artist, ""The""",,USRC17607839,Morning,t-0,0"#
        );
    }
}
