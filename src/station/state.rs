//! The state folder (`data/state/`, or `state_dir` of `streaming.config.json`): every
//! file in it, its type, its atomic write, and the single-instance locks.
//!
//! | file | type | written by |
//! |---|---|---|
//! | `stream_state.json` | [`StreamState`] | the streamer, every tick |
//! | `live.m3u8` | the newest rendered live playlist (RFC 8216 text) | the streamer (not fsynced) |
//! | `health.json` | [`HealthReport`] | the health monitor, every check |
//! | `last_setup.json` | [`LastSetup`] | setup, when a run ends (not fsynced) |
//! | `library_pins.json` | [`crate::setup::pins::LibraryPins`] | setup, as it pins |
//! | `stream.lock`, `health.lock`, `setup.lock` | [`LockInfo`] (JSON) | the holder, on acquiring |
//! | `stream.log`, `health.log`, `setup.log` | text | processes the console starts |
//! | `kubo.pid`, `kubo.log` | text | the managed Kubo daemon |
//!
//! Single instance by advisory lock (STYLE.md "One process per directory, by lock"):
//! the streamer, the health monitor and setup each hold an exclusive `flock` (through
//! `fs4`) on their lock file for their whole life. "Running" means the lock is held;
//! the pid written inside is information only, and a process is signalled only when
//! the kernel says it holds the lock (`/proc/locks` on Linux). The kernel frees the lock
//! when its holder exits in any way, `kill -9` included, so a stale file can never
//! block a start or name a process to signal.

use super::atomic;
use crate::air::streamer::StreamState;
use crate::error::{Error, Result};
use crate::health::HealthReport;
use crate::setup::LastSetup;
use chrono::{DateTime, Utc};
use fs4::FileExt;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `stream_state.json`: the streamer's state ([`StreamState`]).
pub const STREAM_STATE_FILE: &str = "stream_state.json";
/// `health.json`: the last health check ([`HealthReport`]).
pub const HEALTH_FILE: &str = "health.json";
/// `live.m3u8`: the newest live playlist the streamer rendered, for the console.
pub const LIVE_FILE: &str = "live.m3u8";
/// `last_setup.json`: the outcome of the last setup run ([`LastSetup`]).
pub const LAST_SETUP_FILE: &str = "last_setup.json";
/// `retired_segments.json`: segment CIDs that left the manifest, unpinned an hour later
/// ([`crate::setup::retire`]).
pub const RETIRED_FILE: &str = "retired_segments.json";
/// `library_pins.json`: the station's pinned library root, its earlier roots and add
/// wrappers ([`crate::setup::pins`]).
pub const LIBRARY_PINS_FILE: &str = "library_pins.json";
/// `kubo.pid`: the managed Kubo daemon's process id while it runs.
pub const KUBO_PID_FILE: &str = "kubo.pid";
/// `kubo.log`: the managed Kubo daemon's output.
pub const KUBO_LOG_FILE: &str = "kubo.log";

/// What [`StateDir::load_health_or_keep`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthFile {
    /// No `health.json` yet.
    Missing,
    /// The last report.
    Read(Box<HealthReport>),
    /// `health.json` could not be read; it was moved aside.
    Corrupt {
        /// Where it is now (`health.json.corrupt-<unix time>`; `health.json` itself when
        /// it could not be moved).
        kept_as: PathBuf,
        /// Why it could not be read.
        reason: String,
        /// The level points that could still be read from it.
        history: Vec<crate::health::meters::LevelPoint>,
    },
}

/// A long-running part of the station, at most one per station at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `station stream`: the on-air loop.
    Stream,
    /// `station health`: the monitor.
    Health,
    /// A setup run (CLI or console).
    Setup,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Stream, Role::Health, Role::Setup];

    /// The lock file inside the state folder.
    pub fn lock_file(self) -> &'static str {
        match self {
            Role::Stream => "stream.lock",
            Role::Health => "health.lock",
            Role::Setup => "setup.lock",
        }
    }

    /// The log file inside the state folder (output of a process the console started).
    pub fn log_file(self) -> &'static str {
        match self {
            Role::Stream => "stream.log",
            Role::Health => "health.log",
            Role::Setup => "setup.log",
        }
    }

    /// How the operator calls it: `streamer`, `health monitor`, `setup`.
    pub fn noun(self) -> &'static str {
        match self {
            Role::Stream => "streamer",
            Role::Health => "health monitor",
            Role::Setup => "setup",
        }
    }
}

/// What a lock holder writes into its lock file: information, never trusted alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Process id of the holder.
    pub pid: u32,
    /// When it took the lock (UTC).
    pub since: DateTime<Utc>,
    /// What holds it (e.g. `streamer of /srv/radio`).
    pub what: String,
}

/// An exclusive lock held for the life of this value (released on drop, or by the
/// kernel when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive lock on `path` without waiting and writes `what` (how the
    /// holder describes itself, e.g. `the streamer of /srv/radio`) and this process's
    /// pid into it. A probe by [`holder_of`] on another platform than Linux
    /// holds a shared lock for microseconds, so a refused attempt is retried for 100 ms.
    ///
    /// Errors: [`Error::Locked`] naming the holder's pid when another process holds it;
    /// [`Error::Io`] when the file cannot be opened.
    pub fn try_acquire(path: &Path, what: &str) -> Result<InstanceLock> {
        let file = open_lock_file(path)?;
        for attempt in 0..6 {
            match FileExt::try_lock(&file) {
                Ok(()) => return InstanceLock::written(file, path, what),
                Err(fs4::TryLockError::WouldBlock) if attempt < 5 => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    // Name the holder as it described itself (it may be another station).
                    let holder = holder_of(path);
                    return Err(Error::Locked {
                        what: holder
                            .as_ref()
                            .and_then(|h| h.info.as_ref())
                            .map_or_else(|| what.to_string(), |i| i.what.clone()),
                        pid: holder.as_ref().map(|h| h.pid),
                        lock: path.to_path_buf(),
                    });
                }
                Err(fs4::TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
        Err(Error::Locked {
            what: what.to_string(),
            pid: None,
            lock: path.to_path_buf(),
        })
    }

    /// Takes the exclusive lock on `path`, waiting as long as another process holds it
    /// (blocking: call from a blocking thread), then writes `what` and this pid.
    ///
    /// Errors: [`Error::Io`] when the file cannot be opened or locked.
    pub fn acquire_blocking(path: &Path, what: &str) -> Result<InstanceLock> {
        let file = open_lock_file(path)?;
        FileExt::lock(&file).map_err(|e| Error::io(path, e))?;
        InstanceLock::written(file, path, what)
    }

    fn written(file: File, path: &Path, what: &str) -> Result<InstanceLock> {
        let info = LockInfo {
            pid: std::process::id(),
            since: Utc::now(),
            what: what.to_string(),
        };
        let mut bytes = serde_json::to_vec(&info)
            .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        // Truncate only now that the lock is ours: the previous holder's info stays
        // readable until then. Not synced: it is information only (the kernel's lock is
        // what counts), and an fsync would cost every setup run milliseconds.
        (|| -> std::io::Result<()> {
            file.set_len(0)?;
            (&file).write_all(&bytes)
        })()
        .map_err(|e| Error::io(path, e))?;
        Ok(InstanceLock {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// The process holding a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Its process id, as the kernel reports it for the lock.
    pub pid: u32,
    /// What it wrote into the lock file, when readable.
    pub info: Option<LockInfo>,
}

/// Who holds the exclusive lock on `path`, if anyone.
///
/// On Linux the kernel's lock table (`/proc/locks`) is read: the pid is the one the
/// kernel records for the `flock` on this file's device and inode, so it is never a
/// stale pid. Elsewhere a shared lock is tried for an instant on a new descriptor; when
/// that is refused the lock is held and the pid is the one the holder wrote.
pub fn holder_of(path: &Path) -> Option<Holder> {
    let meta = std::fs::metadata(path).ok()?;
    let info: Option<LockInfo> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(table) = kernel_lock_table() {
        return kernel_holder(&table, &meta).map(|pid| Holder { pid, info });
    }
    let file = File::open(path).ok()?;
    match FileExt::try_lock_shared(&file) {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            None
        }
        Err(_) => info.map(|i| Holder {
            pid: i.pid,
            info: Some(i),
        }),
    }
}

#[cfg(target_os = "linux")]
fn kernel_lock_table() -> Option<String> {
    std::fs::read_to_string("/proc/locks").ok()
}

#[cfg(not(target_os = "linux"))]
fn kernel_lock_table() -> Option<String> {
    None
}

/// The pid of any process holding a lock (`flock` or POSIX `fcntl`, shared or
/// exclusive) on `path`, as the kernel lists it (`/proc/locks`); `None` when no lock is
/// held or the table cannot be read. For files other programs lock, such as Kubo's
/// `repo.lock`.
pub fn any_lock_holder(path: &Path) -> Option<u32> {
    let meta = std::fs::metadata(path).ok()?;
    let table = kernel_lock_table()?;
    kernel_lock(&table, &meta, false)
}

/// The pid of the exclusive `FLOCK` on the file of `meta` in a `/proc/locks` table
/// (lines like `1: FLOCK  ADVISORY  WRITE 18402 fe:00:10010681 0 EOF`; see the kernel's
/// fs/locks.c `lock_get_status`).
#[cfg(unix)]
fn kernel_holder(table: &str, meta: &std::fs::Metadata) -> Option<u32> {
    kernel_lock(table, meta, true)
}

/// The pid of a lock on the file of `meta` in a `/proc/locks` table: with
/// `exclusive_flock`, only an exclusive `FLOCK`; else any granted lock (`FLOCK`,
/// `POSIX`, `OFDLCK`; read or write).
#[cfg(unix)]
fn kernel_lock(table: &str, meta: &std::fs::Metadata, exclusive_flock: bool) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let dev = meta.dev();
    // glibc's gnu_dev_major / gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let ino = meta.ino();
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A blocked waiter is listed as `1: -> FLOCK ...`: skip it.
        if f.len() < 6 || f[1] == "->" {
            return None;
        }
        if exclusive_flock && (f[1] != "FLOCK" || f[3] != "WRITE") {
            return None;
        }
        let mut id = f[5].split(':');
        let (ma, mi, no) = (id.next()?, id.next()?, id.next()?);
        let same = u64::from_str_radix(ma, 16).ok()? == major
            && u64::from_str_radix(mi, 16).ok()? == minor
            && no.parse::<u64>().ok()? == ino;
        same.then(|| f[4].parse().ok()).flatten()
    })
}

#[cfg(not(unix))]
fn kernel_holder(_table: &str, _meta: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(not(unix))]
fn kernel_lock(_table: &str, _meta: &std::fs::Metadata, _exclusive_flock: bool) -> Option<u32> {
    None
}

/// The machine-wide lock of one IPNS key on one Kubo: two stations publishing under the
/// same key of the same node would overwrite each other's records. The lock file is
/// named after the Kubo API (loopback host names counted as one) and the key, in the
/// user's runtime folder (`$XDG_RUNTIME_DIR/ipfs-station`, else the cache folder).
pub fn publish_lock_path(kubo_api: &str, ipns_key: &str) -> PathBuf {
    use sha2::Digest;
    let api = kubo_api
        .trim_end_matches('/')
        .replace("://localhost", "://127.0.0.1")
        .replace("://[::1]", "://127.0.0.1");
    let mut h = sha2::Sha256::new();
    h.update(api.as_bytes());
    h.update(b"\n");
    h.update(ipns_key.as_bytes());
    let name = format!("publish-{}.lock", &hex::encode(h.finalize())[..24]);
    dirs::runtime_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("ipfs-station")
        .join(name)
}

/// The state folder of one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state folder at `dir` (not created until something is written).
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the folder.
    ///
    /// Errors: [`Error::Io`].
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// `stream_state.json`.
    ///
    /// Errors: [`Error::Io`] (not found: never streamed), [`Error::Parse`].
    pub fn load_stream_state(&self) -> Result<StreamState> {
        atomic::read_json(&self.file(STREAM_STATE_FILE))
    }

    /// Writes `stream_state.json` atomically.
    ///
    /// Errors: [`Error::Io`].
    pub fn save_stream_state(&self, s: &StreamState) -> Result<()> {
        atomic::write_json_atomic(&self.file(STREAM_STATE_FILE), s)
    }

    /// Moves an unreadable `stream_state.json` aside as `stream_state.json.corrupt-<unix
    /// time>` (kept for the operator) and returns where it went.
    pub fn keep_corrupt_stream_state(&self, now: DateTime<Utc>) -> PathBuf {
        let from = self.file(STREAM_STATE_FILE);
        let to = self.file(&format!("{STREAM_STATE_FILE}.corrupt-{}", now.timestamp()));
        let _ = std::fs::rename(&from, &to);
        to
    }

    /// `health.json`.
    ///
    /// Errors: [`Error::Io`], [`Error::Parse`].
    pub fn load_health(&self) -> Result<HealthReport> {
        atomic::read_json(&self.file(HEALTH_FILE))
    }

    /// `health.json` for the monitor's next check, never losing the level history
    /// silently: a file that cannot be read is moved aside as
    /// `health.json.corrupt-<unix time>` (kept for the operator, like an unreadable
    /// `stream_state.json`), and the level points that can still be read from it are
    /// returned.
    pub fn load_health_or_keep(&self, now: DateTime<Utc>) -> HealthFile {
        let path = self.file(HEALTH_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HealthFile::Missing,
            Err(e) => {
                return HealthFile::Corrupt {
                    kept_as: path,
                    reason: e.to_string(),
                    history: Vec::new(),
                }
            }
        };
        let reason = match serde_json::from_slice::<HealthReport>(&bytes) {
            Ok(r) => return HealthFile::Read(Box::new(r)),
            Err(e) => e.to_string(),
        };
        let history = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|mut v| v.get_mut("history").map(serde_json::Value::take))
            .and_then(|h| match h {
                serde_json::Value::Array(a) => Some(crate::health::points_of(a)),
                _ => None,
            })
            .unwrap_or_default();
        let kept_as = self.file(&format!("{HEALTH_FILE}.corrupt-{}", now.timestamp()));
        let kept_as = match std::fs::rename(&path, &kept_as) {
            Ok(()) => kept_as,
            Err(_) => path,
        };
        HealthFile::Corrupt {
            kept_as,
            reason,
            history,
        }
    }

    /// Writes `health.json` atomically. A report that would not read back (it cannot
    /// happen: every value is checked finite before it is stored) is refused rather than
    /// written, so the file on disk always loads.
    ///
    /// Errors: [`Error::Io`]; [`Error::Parse`] when the report would not read back.
    pub fn save_health(&self, r: &HealthReport) -> Result<()> {
        let path = self.file(HEALTH_FILE);
        let mut bytes = serde_json::to_vec_pretty(r).map_err(|e| Error::Parse {
            file: path.clone(),
            message: e.to_string(),
        })?;
        if let Err(e) = serde_json::from_slice::<HealthReport>(&bytes) {
            return Err(Error::Parse {
                file: path,
                message: format!("refusing to write a report that would not read back: {e}"),
            });
        }
        bytes.push(b'\n');
        atomic::write_atomic(&path, &bytes)
    }

    /// The bytes of `live.m3u8`, when the streamer wrote one.
    pub fn read_live(&self) -> Option<Vec<u8>> {
        std::fs::read(self.file(LIVE_FILE)).ok()
    }

    /// Writes `live.m3u8` atomically.
    ///
    /// Errors: [`Error::Io`].
    pub fn write_live(&self, playlist: &str) -> Result<()> {
        // The console's copy: replaced every tick, not worth two fsyncs each time.
        atomic::write_replace(&self.file(LIVE_FILE), playlist.as_bytes())
    }

    /// `last_setup.json`, when a setup ran.
    pub fn load_last_setup(&self) -> Option<LastSetup> {
        atomic::read_json(&self.file(LAST_SETUP_FILE)).ok()
    }

    /// Writes `last_setup.json` atomically.
    ///
    /// Errors: [`Error::Io`].
    pub fn save_last_setup(&self, r: &LastSetup) -> Result<()> {
        // A report the next run makes again: atomic, not fsynced (two fsyncs would double
        // the cost of a setup that finds nothing to do).
        let mut bytes = serde_json::to_vec_pretty(r)
            .map_err(|e| Error::io(self.file(LAST_SETUP_FILE), std::io::Error::other(e)))?;
        bytes.push(b'\n');
        atomic::write_replace(&self.file(LAST_SETUP_FILE), &bytes)
    }

    /// The log file of `role`.
    pub fn log_path(&self, role: Role) -> PathBuf {
        self.file(role.log_file())
    }

    /// The lock file of `role`.
    pub fn lock_path(&self, role: Role) -> PathBuf {
        self.file(role.lock_file())
    }

    /// Takes `role`'s lock for this process without waiting.
    ///
    /// Errors: [`Error::Locked`] naming the running holder's pid; [`Error::Io`].
    pub fn lock(&self, role: Role, what: &str) -> Result<InstanceLock> {
        InstanceLock::try_acquire(&self.lock_path(role), what)
    }

    /// Takes `role`'s lock, waiting while another process holds it (blocking).
    ///
    /// Errors: [`Error::Io`].
    pub fn lock_blocking(&self, role: Role, what: &str) -> Result<InstanceLock> {
        InstanceLock::acquire_blocking(&self.lock_path(role), what)
    }

    /// The process running `role` for this station: the holder of its lock.
    pub fn holder(&self, role: Role) -> Option<Holder> {
        holder_of(&self.lock_path(role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let state = StateDir::new(d.path());
        assert!(state.holder(Role::Stream).is_none());
        let lock = state.lock(Role::Stream, "streamer of test").unwrap();
        let h = state.holder(Role::Stream).unwrap();
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.info.unwrap().what, "streamer of test");
        // A second open file description of the same file is refused (flock locks are
        // per open file description, so this stands for a second process).
        let e = state.lock(Role::Stream, "another").unwrap_err();
        match &e {
            Error::Locked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("{other}"),
        }
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        // Other roles are independent.
        let _health = state.lock(Role::Health, "monitor").unwrap();
        drop(lock);
        assert!(state.holder(Role::Stream).is_none());
        state.lock(Role::Stream, "again").unwrap();
    }

    #[test]
    fn a_stale_lock_file_is_not_a_holder() {
        let d = tempfile::tempdir().unwrap();
        let state = StateDir::new(d.path());
        // A file naming a live process (this one) that holds no lock.
        std::fs::write(
            state.lock_path(Role::Stream),
            serde_json::to_vec(&LockInfo {
                pid: std::process::id(),
                since: Utc::now(),
                what: "old".into(),
            })
            .unwrap(),
        )
        .unwrap();
        assert!(state.holder(Role::Stream).is_none());
        let lock = state.lock(Role::Stream, "new").unwrap();
        let info: LockInfo = serde_json::from_slice(&std::fs::read(lock.path()).unwrap()).unwrap();
        assert_eq!(info.what, "new");
    }

    #[test]
    fn the_kernel_lock_table_is_parsed_by_device_and_inode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        std::fs::write(&p, b"").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        let dev = meta.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
        let table = format!(
            "1: POSIX  ADVISORY  WRITE 11 {id} 0 EOF\n2: FLOCK  ADVISORY  READ 12 {id} 0 EOF\n3: -> FLOCK  ADVISORY  WRITE 13 {id} 0 EOF\n4: FLOCK  ADVISORY  WRITE 14 {id} 0 EOF\n"
        );
        assert_eq!(kernel_holder(&table, &meta), Some(14));
        assert_eq!(
            kernel_holder("1: FLOCK  ADVISORY  WRITE 9 00:01:2 0 EOF\n", &meta),
            None
        );
    }

    #[test]
    fn publish_locks_name_the_node_and_key() {
        let a = publish_lock_path("http://127.0.0.1:5001", "k");
        assert_eq!(a, publish_lock_path("http://localhost:5001/", "k"));
        assert_ne!(a, publish_lock_path("http://127.0.0.1:5002", "k"));
        assert_ne!(a, publish_lock_path("http://127.0.0.1:5001", "other"));
    }
}
