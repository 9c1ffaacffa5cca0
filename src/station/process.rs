//! The station's long-running processes (`station stream`, `station health`) started as
//! processes of their own, found again and stopped, by their locks
//! ([`super::state`]): a process is "running" while it holds its lock ([`lookup`]), and
//! only a holder the kernel names, or one seen to have the lock file open, is ever
//! signalled; pids 0, 1 and negative ones never are ([`stop`]).
//!
//! Started processes get their own process group (closing or killing the console that
//! started them does not take them down) and append their output to `stream.log` /
//! `health.log` in the state folder. Those logs are bounded: a process of weeks on air
//! writes them through [`log_to`] (`station stream|health --log FILE`), which rotates
//! the file at [`LOG_MAX_BYTES`] keeping [`LOG_KEEP`] old ones (`stream.log.1`,
//! `stream.log.2`), and [`start`] rotates a log that is already too long before a new
//! process appends to it. The rotation moves the process's own stdout and stderr to the
//! new file (`dup2`), so everything it prints (tracing, `println!`, a panic message) is
//! in the current log. `tracing-appender` rolls by time only and `file-rotate` rotates
//! only what is written through its writer (not a panic message or a child's output), so
//! the few lines here do it.

use super::state::{Holder, LockInfo, Role, StateDir};
use super::Station;
use crate::error::{Error, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long [`start`] waits for a started process to take its lock.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Size at which a log the console's processes write rotates, bytes.
pub const LOG_MAX_BYTES: u64 = 5 << 20;
/// Rotated logs kept beside the current one (`<log>.1` is the newest).
pub const LOG_KEEP: usize = 2;
/// How often [`log_to`] looks at the size of its log.
pub const LOG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// `<log>.<n>`.
fn rotated(log: &Path, n: usize) -> std::path::PathBuf {
    let mut s = log.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    s.into()
}

/// Rotates `log` when it holds at least `max_bytes`: `<log>.<keep>` is dropped, each
/// `<log>.<n>` becomes `<log>.<n+1>`, and `log` becomes `<log>.1` (with `keep` 0 the
/// log is only removed). Returns whether it rotated; a missing log is not rotated.
///
/// Errors: [`Error::Io`] when a rename fails.
pub fn rotate_log(log: &Path, max_bytes: u64, keep: usize) -> Result<bool> {
    match std::fs::metadata(log) {
        Ok(m) if m.len() >= max_bytes => {}
        _ => return Ok(false),
    }
    if keep == 0 {
        std::fs::remove_file(log).map_err(|e| Error::io(log, e))?;
        return Ok(true);
    }
    let _ = std::fs::remove_file(rotated(log, keep));
    for n in (1..keep).rev() {
        let from = rotated(log, n);
        if from.exists() {
            std::fs::rename(&from, rotated(log, n + 1)).map_err(|e| Error::io(&from, e))?;
        }
    }
    std::fs::rename(log, rotated(log, 1)).map_err(|e| Error::io(log, e))?;
    Ok(true)
}

fn open_append(log: &Path) -> Result<std::fs::File> {
    // A symlink planted at the log's path is refused, not written through.
    crate::station::atomic::open_append(log)
}

/// Sends this process's stdout and stderr to `log` (appended), for the rest of its life,
/// and rotates `log` as it grows: every [`LOG_CHECK_EVERY`] a thread looks at its size,
/// and at `max_bytes` it rotates ([`rotate_log`], `keep` old files) and points stdout and
/// stderr at the new file. A log already too long is rotated first.
///
/// Errors: [`Error::Io`] when the log cannot be opened or stdout/stderr redirected.
pub fn log_to(log: &Path, max_bytes: u64, keep: usize) -> Result<()> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    rotate_log(log, max_bytes, keep)?;
    let file = open_append(log)?;
    redirect(&file).map_err(|e| Error::io(log, e))?;
    let path = log.to_path_buf();
    let log = path.clone();
    std::thread::Builder::new()
        .name("log-rotation".into())
        .spawn(move || {
            let mut current = file;
            loop {
                std::thread::sleep(LOG_CHECK_EVERY);
                if !current.metadata().is_ok_and(|m| m.len() >= max_bytes) {
                    continue;
                }
                use std::io::Write;
                let _ = std::io::stdout().flush();
                let next = rotate_log(&log, max_bytes, keep).and_then(|_| open_append(&log));
                match next {
                    Ok(f) => {
                        if redirect(&f).is_ok() {
                            current = f;
                        }
                    }
                    // Keep writing where it writes; try again at the next look.
                    Err(e) => eprintln!("log rotation: {e}"),
                }
            }
        })
        .map_err(|e| Error::io(&path, e))?;
    Ok(())
}

/// Points stdout and stderr at `file`.
#[cfg(unix)]
fn redirect(file: &std::fs::File) -> std::io::Result<()> {
    nix::unistd::dup2_stdout(file).map_err(std::io::Error::from)?;
    nix::unistd::dup2_stderr(file).map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn redirect(_file: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "redirecting output is only supported on Unix",
    ))
}

/// The process running `role` for the station of `state`: the holder of its lock when
/// [`lookup`] can name it (`None` when the lock is free or its holder is unknown).
pub fn running(state: &StateDir, role: Role) -> Option<Holder> {
    match lookup(state, role) {
        LockState::Held(h) => Some(h),
        LockState::Free | LockState::HeldByUnknown { .. } => None,
    }
}

/// Who holds a station's lock file, as [`lookup`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Nobody (or there is no lock file).
    Free,
    /// This process holds it; its pid is always greater than 1.
    Held(Holder),
    /// Held by a process this one cannot name (e.g. a service on the host seen from a
    /// sandboxed console, in another pid namespace): nothing to signal.
    HeldByUnknown {
        /// Why, for the operator: the lock file and what was tried.
        why: String,
    },
}

/// Who holds `role`'s lock of `state`: [`lookup_with`] the kernel's lock table
/// (`/proc/locks`; without one, [`super::state::holder_of`]).
pub fn lookup(state: &StateDir, role: Role) -> LockState {
    #[cfg(target_os = "linux")]
    let table = std::fs::read_to_string("/proc/locks").ok();
    #[cfg(not(target_os = "linux"))]
    let table: Option<String> = None;
    lookup_with(&state.lock_path(role), table.as_deref())
}

/// Who holds the lock file `path`, given `table`, the text of `/proc/locks`:
///
/// 1. The pid of the exclusive `FLOCK` on the file's device and inode
///    ([`holder_in_lock_table`]). Without one, a pid on its inode alone (btrfs,
///    overlayfs) whose open files include the lock file (`/proc/<pid>/fd`), or the only
///    such pid when its open files cannot be read and the lock is held (2.).
/// 2. Else a shared lock is tried for an instant on a new descriptor: granted, the lock
///    is free. Refused, it is held: by the pid the holder wrote into it ([`LockInfo`])
///    when that process has it open, else [`LockState::HeldByUnknown`]. (For a holder
///    outside the reader's pid namespace the table prints pid 0, or, as Linux fs/locks.c
///    `locks_show` does now, no line at all.)
///
/// `table` `None` (unreadable, not Linux): [`super::state::holder_of`].
pub fn lookup_with(path: &Path, table: Option<&str>) -> LockState {
    let unknown = |detail: String| LockState::HeldByUnknown {
        why: format!(
            "its lock {} is held by a process this one cannot identify ({detail}); stop \
             it where it was started (e.g. by its service manager)",
            path.display()
        ),
    };
    let Some(table) = table else {
        return match super::state::holder_of(path) {
            Some(h) if signal_target(i64::from(h.pid)).is_ok() => LockState::Held(h),
            Some(h) => unknown(format!("the lock file names pid {}", h.pid)),
            None => LockState::Free,
        };
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return LockState::Free;
    };
    let info: Option<LockInfo> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let held = |pid| {
        LockState::Held(Holder {
            pid,
            info: info.clone(),
        })
    };
    let (dev, ino) = dev_ino(&meta);
    // A lone candidate on the inode whose files cannot be read, if the lock is held.
    let mut unverified = None;
    match holder_in_lock_table(table, dev, ino) {
        TableHolder::Pid(p) => return held(p),
        TableHolder::Absent | TableHolder::Unknown => {}
        TableHolder::SameInode(pids) => {
            let seen: Vec<(u32, Option<bool>)> = pids
                .iter()
                .map(|&p| (p, has_open(p, path, &meta)))
                .collect();
            let open: Vec<u32> = seen
                .iter()
                .filter(|s| s.1 == Some(true))
                .map(|s| s.0)
                .collect();
            match (&open[..], &seen[..]) {
                ([p], _) => return held(*p),
                ([], [(p, None)]) => unverified = Some(*p),
                _ => {}
            }
        }
    }
    if !shared_lock_refused(path) {
        return LockState::Free;
    }
    let recorded = info.as_ref().map(|i| i.pid);
    match (unverified, recorded) {
        (Some(p), _) => held(p),
        (None, Some(p))
            if signal_target(i64::from(p)).is_ok() && has_open(p, path, &meta) == Some(true) =>
        {
            held(p)
        }
        (None, Some(p)) => unknown(format!(
            "/proc/locks names no holder this process can see or verify, and pid {p}, which \
             the lock file names, does not have it open here"
        )),
        (None, None) => {
            unknown("/proc/locks names no holder this process can see or verify".into())
        }
    }
}

/// `st_dev` and `st_ino` of `meta` (zeros where there are none).
fn dev_ino(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    let ids = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let ids = (0, 0);
    ids
}

/// Whether process `pid` has the file of `meta` (at `path`) open: a `/proc/<pid>/fd/*`
/// link ends in the file's name, and `stat` through it gives the file's device and inode
/// (as `stat` of `path` does, on btrfs too). `None`: its descriptors cannot be read
/// (another user's process, gone, no `/proc`).
fn has_open(pid: u32, path: &Path, meta: &std::fs::Metadata) -> Option<bool> {
    let name = path.file_name()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        // The name first: no `stat` of sockets, pipes or files on a hung mount.
        std::fs::read_link(fd.path()).is_ok_and(|t| t.file_name() == Some(name))
            && std::fs::metadata(fd.path()).is_ok_and(|m| dev_ino(&m) == dev_ino(meta))
    }))
}

/// Whether a shared `flock` on a new descriptor of `path` is refused now (one granted is
/// released at once): the lock is held, listed in `/proc/locks` or not.
fn shared_lock_refused(path: &Path) -> bool {
    use fs4::FileExt;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    match FileExt::try_lock_shared(&file) {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            false
        }
        Err(e) => matches!(e, fs4::TryLockError::WouldBlock),
    }
}

/// What `/proc/locks` says about the exclusive `flock` on one file
/// ([`holder_in_lock_table`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableHolder {
    /// No line is a granted exclusive `FLOCK` on the file's inode.
    Absent,
    /// A granted exclusive `FLOCK` on the file's device and inode, held by this pid
    /// (2 ..= `i32::MAX`, in the pid namespace of the `/proc` read).
    Pid(u32),
    /// One on the file's device and inode whose pid is no pid to signal (≤ 1, or not a
    /// number): the kernel prints 0 for a holder outside the reader's pid namespace and -1
    /// for an OFD lock (fs/locks.c `locks_translate_pid`).
    Unknown,
    /// None on the file's device and inode, but these pids (as in [`TableHolder::Pid`],
    /// in table order, no repeats) hold one on an inode of that number under another
    /// device number: candidates to verify. On btrfs (a subvolume's `st_dev` is not the
    /// superblock's `s_dev` the table prints) and overlayfs the two differ; util-linux
    /// `lslocks` and `lsof` match by inode too.
    SameInode(Vec<u32>),
}

/// The holder of the exclusive `flock` on the file whose `stat` gives device `dev`
/// (`st_dev`, glibc's encoding of major and minor) and inode `ino`, in `table`, the text
/// of `/proc/locks`. Pure: the caller reads the table.
///
/// One lock a line, as Linux fs/locks.c `lock_get_status` prints it:
/// `<id>: [-> ]<class> <access> <pid> <major>:<minor>:<inode> <start> <end>`, e.g.
/// `2: FLOCK  ADVISORY  WRITE 4321 fd:01:1234 0 EOF`. `-> ` (indented one space a
/// level) marks a blocked waiter; the class is `FLOCK  ADVISORY`, `POSIX  ADVISORY`,
/// `OFDLCK ADVISORY`, `LEASE  ACTIVE`, …; the access `READ`, `WRITE` or `UNLCK`; the pid
/// is `%d`, major and minor (of the superblock's `s_dev`) `%02x`, the inode `%lu`
/// (`<none>:0` without an inode). Only granted `FLOCK  ADVISORY  WRITE` lines count. A
/// line on device and inode wins; only without one do lines on the inode alone count.
pub fn holder_in_lock_table(table: &str, dev: u64, ino: u64) -> TableHolder {
    // glibc's gnu_dev_major / gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let mut same_inode = Vec::new();
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A waiter's second field is `->`.
        let [_, "FLOCK", "ADVISORY", "WRITE", pid, id, ..] = f[..] else {
            continue;
        };
        let id: Vec<&str> = id.split(':').collect();
        let [ma, mi, no] = id[..] else { continue };
        if no.parse::<u64>().ok() != Some(ino) {
            continue;
        }
        let pid = pid.parse().ok().and_then(|p| signal_target(p).ok());
        let pid = pid.and_then(|p| u32::try_from(p).ok());
        let same_dev = u64::from_str_radix(ma, 16).ok() == Some(major)
            && u64::from_str_radix(mi, 16).ok() == Some(minor);
        match (same_dev, pid) {
            (true, Some(p)) => return TableHolder::Pid(p),
            (true, None) => return TableHolder::Unknown,
            (false, Some(p)) if !same_inode.contains(&p) => same_inode.push(p),
            (false, _) => {}
        }
    }
    if same_inode.is_empty() {
        TableHolder::Absent
    } else {
        TableHolder::SameInode(same_inode)
    }
}

/// The `station` subcommand that runs `role`.
fn subcommand(role: Role) -> Result<&'static str> {
    match role {
        Role::Stream => Ok("stream"),
        Role::Health => Ok("health"),
        Role::Setup => Err(Error::Process {
            what: "setup".into(),
            reason: "setup runs in the process that asks for it, not as a process of its own"
                .into(),
        }),
    }
}

/// What [`start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A new process took the lock: its pid.
    New(u32),
    /// One was running already (nothing was started): its pid.
    AlreadyRunning(u32),
}

impl Started {
    /// The pid of the running process.
    pub fn pid(self) -> u32 {
        match self {
            Started::New(p) | Started::AlreadyRunning(p) => p,
        }
    }
}

/// How [`start_with`] starts a process beyond its role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// `station stream --preview`: the streamer serves the live window on
    /// `http://127.0.0.1:<preview_port>/live.m3u8` from local files and never calls Kubo
    /// (only for [`Role::Stream`]).
    pub preview: bool,
    /// After the process took its lock, how long to watch it: exiting within this time
    /// is an error (with its log), e.g. a preview whose port is taken. Zero: return as
    /// soon as it holds the lock.
    pub settle: Duration,
}

/// Starts `<station_bin> stream|health --station <dir> --log <state>/<role>.log` for
/// `role` as a process of its own (its log rotated first when it is over
/// [`LOG_MAX_BYTES`]) and waits (at most [`START_TIMEOUT`]) until it holds its lock. When
/// one runs already, starts nothing. Same as [`start_with`] with no options.
///
/// Errors: as [`start_with`].
pub fn start(station: &Station, station_bin: &Path, role: Role) -> Result<Started> {
    start_with(station, station_bin, role, StartOptions::default())
}

/// Starts the process of `role` as [`start`] does, with `options` (e.g. the streamer in
/// preview mode: `station stream --preview --station <dir>`). When a process of `role`
/// runs already, starts nothing, whatever mode it runs in (the caller reads
/// `stream_state.json` to tell).
///
/// Errors: [`Error::Process`] for options the role does not take (preview for the
/// health monitor), when the process exits before taking its lock or does not take it
/// in time (with the last lines of its log); [`Error::ToolMissing`] when `station_bin`
/// cannot be run; [`Error::Io`].
pub fn start_with(
    station: &Station,
    station_bin: &Path,
    role: Role,
    options: StartOptions,
) -> Result<Started> {
    if options.preview && role != Role::Stream {
        return Err(Error::Process {
            what: format!("the {}", role.noun()),
            reason: "only the streamer has a preview mode".into(),
        });
    }
    let state = station.state();
    match lookup(&state, role) {
        LockState::Held(h) => return Ok(Started::AlreadyRunning(h.pid)),
        LockState::HeldByUnknown { why } => {
            tracing::warn!("the {}: {why}", role.noun());
            return Err(Error::Locked {
                what: format!("the {}", role.noun()),
                pid: None,
                lock: state.lock_path(role),
            });
        }
        LockState::Free => {}
    }
    state.create()?;
    let log_path = state.log_path(role);
    rotate_log(&log_path, LOG_MAX_BYTES, LOG_KEEP)?;
    let log = open_append(&log_path)?;
    let log_len = log.metadata().map_or(0, |m| m.len());
    let log2 = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
    let mut cmd = Command::new(station_bin);
    cmd.arg(subcommand(role)?);
    if options.preview {
        cmd.arg("--preview");
    }
    cmd.arg("--station")
        .arg(station.dir())
        // The process writes its log itself from here on, rotating it (`log_to`); what
        // it prints before that goes to the same file through the redirection.
        .arg("--log")
        .arg(&log_path)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| Error::ToolMissing {
        tool: station_bin.display().to_string(),
        hint: format!("cannot run it ({e}); build it with `cargo build --release --bin station`"),
    })?;
    let pid = child.id();
    let started = Instant::now();
    let mut locked_at: Option<Instant> = None;
    let outcome = loop {
        if locked_at.is_none() && running(&state, role).is_some_and(|h| h.pid == pid) {
            locked_at = Some(Instant::now());
        }
        if locked_at.is_some_and(|t| t.elapsed() >= options.settle) {
            break Ok(Started::New(pid));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(match locked_at {
                Some(t) => format!(
                    "exited ({status}) {:.1} s after it started",
                    t.elapsed().as_secs_f64()
                ),
                None => format!("exited ({status}) before it started"),
            });
        }
        if locked_at.is_none() && started.elapsed() > START_TIMEOUT {
            break Err(format!(
                "did not take its lock within {} s",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    // Reap the child whenever it exits, so no zombie stays behind while this process
    // lives; it is not stopped when this process ends.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    outcome.map_err(|why| Error::Process {
        what: format!(
            "the {} (`station {}{}`)",
            role.noun(),
            subcommand(role).unwrap_or(""),
            if options.preview { " --preview" } else { "" }
        ),
        reason: format!("{why}; {}", log_tail(&log_path, log_len)),
    })
}

/// The last lines written to `log` after byte `from`, for an error message.
fn log_tail(log: &Path, from: u64) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let new = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default()).to_string();
    let lines: Vec<&str> = new.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(4)..].join(" | ");
    if tail.is_empty() {
        format!("see {}", log.display())
    } else {
        format!("it said: {tail} (log {})", log.display())
    }
}

/// Stops the process running `role`: SIGTERM to the lock holder (the streamer then
/// publishes nothing more and writes its state), then up to `timeout` for it to let the
/// lock go, then SIGKILL if the same process still holds it. Returns the pid stopped, or
/// `None` when nothing was running. Only the holder [`lookup`] names is signalled (a pid
/// file naming some other process is ignored), and never pid 0, 1 or a negative one.
///
/// Errors: [`Error::Process`] when the lock is held by a process that cannot be
/// identified ([`LockState::HeldByUnknown`]: nothing is signalled); [`Error::Signal`]
/// when the holder cannot be signalled (e.g. it belongs to another user).
pub fn stop(state: &StateDir, role: Role, timeout: Duration) -> Result<Option<u32>> {
    let pid = match lookup(state, role) {
        LockState::Free => return Ok(None),
        LockState::Held(h) => h.pid,
        LockState::HeldByUnknown { why } => {
            return Err(Error::Process {
                what: format!("the {}", role.noun()),
                reason: why,
            })
        }
    };
    signal(pid, Signal::Term)?;
    let held_by_it = || running(state, role).is_some_and(|h| h.pid == pid);
    let t = Instant::now();
    while held_by_it() && t.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(50));
    }
    if held_by_it() {
        tracing::warn!(
            "the {} (pid {pid}) did not stop within {} s: killing it",
            role.noun(),
            timeout.as_secs()
        );
        signal(pid, Signal::Kill)?;
        let t = Instant::now();
        while held_by_it() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(Some(pid))
}

/// The signals [`stop`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Term,
    Kill,
}

/// `pid` as `kill(2)` takes it when it names one process other than init: 2 ..=
/// `i32::MAX`. (`kill` with 0 signals the caller's own process group, with -1 every
/// process it may signal, with another negative number a process group.)
///
/// Errors: [`Error::Signal`] for any other number.
fn signal_target(pid: i64) -> Result<i32> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| Error::Signal {
            pid: u32::try_from(pid).unwrap_or(0),
            reason: format!("{pid} is not the pid of one process to stop (never 0, 1 or < 0)"),
        })
}

/// Sends `sig` to `pid`, after [`signal_target`] (the one place this module signals).
#[cfg(unix)]
fn signal(pid: u32, sig: Signal) -> Result<()> {
    use nix::sys::signal::{kill, Signal as S};
    let raw = signal_target(i64::from(pid))?;
    let s = match sig {
        Signal::Term => S::SIGTERM,
        Signal::Kill => S::SIGKILL,
    };
    match kill(nix::unistd::Pid::from_raw(raw), s) {
        // Gone between the lock check and the signal: stopped all the same.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::Signal {
            pid,
            reason: e.desc().to_string(),
        }),
    }
}

#[cfg(not(unix))]
fn signal(pid: u32, _sig: Signal) -> Result<()> {
    Err(Error::Signal {
        pid,
        reason: "stopping a process is only supported on Unix".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `st_dev` of `major:minor` (glibc's `gnu_dev_makedev`).
    fn dev(major: u64, minor: u64) -> u64 {
        ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
    }

    #[test]
    fn a_holder_with_pid_0_or_minus_1_is_unknown_and_such_pids_are_never_signalled() {
        let (d, ino) = (dev(0xfd, 1), 1234);
        for pid in ["0", "-1", "1", "x", "4294967296"] {
            let line = format!("2: FLOCK  ADVISORY  WRITE {pid} fd:01:1234 0 EOF\n");
            assert_eq!(
                holder_in_lock_table(&line, d, ino),
                TableHolder::Unknown,
                "{line}"
            );
            // Nor is it a candidate on the inode alone.
            assert_eq!(
                holder_in_lock_table(&line, dev(0, 53), ino),
                TableHolder::Absent
            );
        }
        // The guard in front of every kill(2): nothing is sent.
        for pid in [0, 1, -1, -2, i64::from(i32::MAX) + 1] {
            let e = signal_target(pid).unwrap_err();
            assert!(matches!(e, Error::Signal { .. }), "{pid}: {e}");
        }
        assert_eq!(signal_target(2).unwrap(), 2);
    }

    #[test]
    fn a_lock_listed_under_another_device_number_is_found_by_its_inode() {
        // btrfs: `stat` says 0:53 (0x35), the table the superblock's 00:2f.
        let on_btrfs = "1: FLOCK  ADVISORY  WRITE 4321 00:2f:5678 0 EOF\n";
        assert_eq!(
            holder_in_lock_table(on_btrfs, dev(0, 53), 5678),
            TableHolder::SameInode(vec![4321])
        );
        // Same types only: a POSIX lock or a shared flock there is no candidate.
        let others = "1: POSIX  ADVISORY  WRITE 11 00:2f:5678 0 EOF\n\
                      2: FLOCK  ADVISORY  READ 12 00:2f:5678 0 EOF\n";
        assert_eq!(
            holder_in_lock_table(others, dev(0, 53), 5678),
            TableHolder::Absent
        );
        // Two candidates on two other devices, and the one on the file's device wins.
        let table = format!("{on_btrfs}2: FLOCK  ADVISORY  WRITE 77 00:30:5678 0 EOF\n");
        assert_eq!(
            holder_in_lock_table(&table, dev(0, 53), 5678),
            TableHolder::SameInode(vec![4321, 77])
        );
        let exact = format!("{table}3: FLOCK  ADVISORY  WRITE 88 00:35:5678 0 EOF\n");
        assert_eq!(
            holder_in_lock_table(&exact, dev(0, 53), 5678),
            TableHolder::Pid(88)
        );
    }

    #[test]
    fn real_proc_locks_lines_are_read_and_blocked_waiters_are_never_holders() {
        let table = "1: POSIX  ADVISORY  WRITE 1234 00:2f:5678 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4321 fd:01:1234 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 99 fd:01:1234 0 EOF\n";
        assert_eq!(
            holder_in_lock_table(table, dev(0xfd, 1), 1234),
            TableHolder::Pid(4321)
        );
        // A POSIX lock is no flock holder; no lock on other inodes.
        assert_eq!(
            holder_in_lock_table(table, dev(0, 0x2f), 5678),
            TableHolder::Absent
        );
        assert_eq!(
            holder_in_lock_table(table, dev(0xfd, 1), 1),
            TableHolder::Absent
        );
        let not_holders = "1: -> FLOCK  ADVISORY  WRITE 99 fd:01:1234 0 EOF\n\
                           1:  -> FLOCK  ADVISORY  WRITE 98 fd:01:1234 0 EOF\n\
                           1: -> FLOCK  ADVISORY  WRITE 0 fd:01:1234 0 EOF\n\
                           3: OFDLCK ADVISORY  WRITE -1 fd:01:1234 0 EOF\n\
                           4: LEASE  ACTIVE    WRITE 97 fd:01:1234 0 EOF\n\
                           5: FLOCK  ADVISORY  WRITE 96 <none>:0 0 EOF\n\
                           6: FLOCK  ADVISORY  WRITE 95 fd:01:1234:9 0 EOF\n\
                           not a lock line\n\n";
        for d in [dev(0xfd, 1), dev(0, 53)] {
            assert_eq!(
                holder_in_lock_table(not_holders, d, 1234),
                TableHolder::Absent
            );
        }
    }

    #[test]
    fn a_log_rotates_at_its_size_keeping_the_newest_old_ones() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("stream.log");
        assert!(
            !rotate_log(&log, 10, 2).unwrap(),
            "no log, nothing to rotate"
        );
        for round in 0..4u8 {
            std::fs::write(&log, vec![b'a' + round; 9]).unwrap();
            assert!(!rotate_log(&log, 10, 2).unwrap(), "under the limit");
            std::fs::write(&log, vec![b'a' + round; 10]).unwrap();
            assert!(rotate_log(&log, 10, 2).unwrap());
            assert!(!log.exists());
        }
        assert_eq!(std::fs::read(rotated(&log, 1)).unwrap(), vec![b'd'; 10]);
        assert_eq!(std::fs::read(rotated(&log, 2)).unwrap(), vec![b'c'; 10]);
        assert!(!rotated(&log, 3).exists());
        let names = std::fs::read_dir(d.path()).unwrap().count();
        assert_eq!(names, 2);
    }
}
