//! Atomic file writes: temp file in the same directory, fsync, rename.
//!
//! A crash at any instant leaves either the old or the new file, never half of one
//! (DESIGN.md "The station directory").
//!
//! Symbolic links are not followed: the temp file is created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`, and logs opened for appending ([`open_append`],
//! [`open_no_follow`]) refuse a symlink planted at their path, so a link in the state
//! folder cannot make the station write to a file elsewhere. (The rename replaces a
//! symlink at the destination itself, never what it points to.)

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Prefix of the temp files [`write_atomic`] writes beside their target.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Removes the temp files of atomic writes that never finished (a crash or `kill -9`
/// between the temp file and the rename): files in `dir` (not below it) named
/// [`TEMP_PREFIX`]`*` and last modified more than `older_than` ago (a write in progress
/// takes milliseconds). Returns what it removed; what cannot be read or removed is left.
pub fn sweep_stale_temps(dir: &Path, older_than: std::time::Duration) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = std::time::SystemTime::now();
    let mut removed = Vec::new();
    for e in rd.flatten() {
        if !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > older_than);
        if meta.is_file() && old && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// Opens `path` with `options` plus `O_NOFOLLOW`: when `path` itself is a symbolic link
/// the open fails (the link and what it points to are left alone) with an error that
/// says so and names the link's target. Links in the directories above `path` are
/// followed as usual.
///
/// Errors: the `std::io::Error` of the open; for a symlink, one reading
/// `is a symbolic link (to <target>): refusing to follow it ...`, which callers wrap in
/// [`Error::Io`] naming `path`.
pub fn open_no_follow(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    options
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refuse_symlink(path, e))
}

/// Opens (creating) the log `path` for appending, refusing a symlink at `path`
/// ([`open_no_follow`]).
///
/// Errors: [`Error::Io`] naming `path`.
pub fn open_append(path: &Path) -> Result<File> {
    open_no_follow(path, OpenOptions::new().create(true).append(true))
        .map_err(|e| Error::io(path, e))
}

/// `e` (from opening `path` with `O_NOFOLLOW`), or a clear error when `path` is a
/// symbolic link (the kernel only says `ELOOP`, "too many levels of symbolic links").
fn refuse_symlink(path: &Path, e: std::io::Error) -> std::io::Error {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let target = std::fs::read_link(path)
                .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "is a symbolic link (to {target}): refusing to follow it; state files \
                     and logs must be regular files (remove the link)"
                ),
            )
        }
        _ => e,
    }
}

/// A new temp file beside a target in `dir`: `<dir>/.tmp-<random>`, created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600 (a name that exists, even as a dangling
/// symlink, is skipped for another), removed again when dropped unpersisted.
fn temp_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile<File>> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(dir, |p| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(p)
        })
}

/// Writes `bytes` to `path` atomically: a temp file beside it is written and fsynced, then
/// renamed over `path`, then the directory is fsynced. Creates missing parent directories.
///
/// Errors: [`Error::Io`] naming `path` (or its directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = temp_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file and a rename, without fsync: a crash of
/// the process still leaves the old or the new file, never half of one, but a power cut
/// may lose the newest version. For records that are rewritten often and can be made
/// again (the last setup's report, the console's copy of the live playlist), where two
/// fsyncs would cost more than the record is worth.
///
/// Errors: [`Error::Io`] naming `path` (or its directory).
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = temp_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Serializes `value` as pretty JSON (with a trailing newline) and writes it atomically.
///
/// Errors: [`Error::Io`] naming `path`.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        )
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads and parses a JSON file into `T`.
///
/// Errors: [`Error::Io`] when it cannot be read, [`Error::Parse`] (with line and column)
/// when it is not valid JSON of the expected shape.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
        file: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads a versioned state file: `T` from `path` when `format_of` gives `format`;
/// otherwise `T::default()`: silently when the file is absent, with a warning naming the
/// file and `if_unusable` (what the caller does instead, e.g. "read as empty") when it
/// cannot be read, does not parse, or has another format version. For state a station
/// rebuilds (pins, request ids): an unusable file never stops it.
pub fn read_versioned<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
    format: u32,
    format_of: impl Fn(&T) -> u32,
    if_unusable: &str,
) -> T {
    match read_json::<T>(path) {
        Ok(v) if format_of(&v) == format => v,
        Ok(v) => {
            tracing::warn!(
                "{}: format {} is not {format}: {if_unusable}",
                path.display(),
                format_of(&v)
            );
            T::default()
        }
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            T::default()
        }
        Err(e) => {
            tracing::warn!("{e}: {if_unusable}");
            T::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct State {
        format: u32,
        n: u32,
    }

    #[test]
    fn a_versioned_state_file_of_another_format_or_broken_reads_as_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let read = |p: &Path| read_versioned(p, 2, |s: &State| s.format, "read as empty");
        assert_eq!(read(&p), State::default());
        write_json_atomic(&p, &State { format: 2, n: 7 }).unwrap();
        assert_eq!(read(&p), State { format: 2, n: 7 });
        write_json_atomic(&p, &State { format: 3, n: 7 }).unwrap();
        assert_eq!(read(&p), State::default());
        std::fs::write(&p, b"{\"format\": 2, \"n\": ").unwrap();
        assert_eq!(read(&p), State::default());
        // Read only: the broken file is left as it was for the operator to see.
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"format\": 2, \"n\": ");
    }

    #[test]
    fn write_atomic_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        write_atomic(&p, b"old contents").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn a_symlinked_log_is_refused_naming_it_and_its_target_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, b"precious").unwrap();
        let log = dir.path().join("stream.log");
        std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
        let err = open_append(&log).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("stream.log"), "{msg}");
        assert!(msg.contains("symbolic link"), "{msg}");
        assert!(msg.contains("elsewhere.txt"), "{msg}");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"precious");
        // A dangling link is refused too (not created through).
        let dangling = dir.path().join("health.log");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open_append(&dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
        // A regular file opens, appends and is created when missing.
        let plain = dir.path().join("setup.log");
        open_append(&plain).unwrap().write_all(b"a\n").unwrap();
        open_append(&plain).unwrap().write_all(b"b\n").unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"a\nb\n");
    }

    #[test]
    fn write_atomic_replaces_a_symlink_without_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, b"precious").unwrap();
        let state = dir.path().join("stream_state.json");
        std::os::unix::fs::symlink(&elsewhere, &state).unwrap();
        write_atomic(&state, b"{}").unwrap();
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"precious");
        assert!(!std::fs::symlink_metadata(&state)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&state).unwrap(), b"{}");
        write_replace(&state, b"[]").unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"[]");
    }

    #[test]
    fn stale_temps_are_swept_and_fresh_ones_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".tmp-abc123");
        let fresh = dir.path().join(".tmp-def456");
        let other = dir.path().join("stream_state.json");
        for p in [&stale, &fresh, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join(".tmp-dir")).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        for p in [&stale, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let removed = sweep_stale_temps(dir.path(), std::time::Duration::from_secs(60));
        assert_eq!(removed, vec![stale.clone()]);
        assert!(!stale.exists() && fresh.exists() && other.exists());
        assert!(dir.path().join(".tmp-dir").exists());
        assert!(
            sweep_stale_temps(&dir.path().join("missing"), std::time::Duration::ZERO).is_empty()
        );
    }

    #[test]
    fn read_json_reports_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, "{\n  \"a\": ,\n}").unwrap();
        let err = read_json::<serde_json::Value>(&p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad.json"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }
}
