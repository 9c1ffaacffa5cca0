//! The station's long-running processes (`station stream`, `station health`) started as
//! processes of their own, found again and stopped, by their locks
//! ([`super::state`]): a process is "running" while it holds its lock, and only the
//! holder the kernel names is ever signalled.
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

use super::state::{Holder, Role, StateDir};
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
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(log, e))
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

/// The process running `role` for the station of `state`: the holder of its lock.
pub fn running(state: &StateDir, role: Role) -> Option<Holder> {
    state.holder(role)
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
    if let Some(h) = running(&state, role) {
        return Ok(Started::AlreadyRunning(h.pid));
    }
    state.create()?;
    let log_path = state.log_path(role);
    rotate_log(&log_path, LOG_MAX_BYTES, LOG_KEEP)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
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
/// `None` when nothing was running. A process that does not hold the lock is never
/// signalled (a pid file naming some other process is ignored).
///
/// Errors: [`Error::Signal`] when the holder cannot be signalled (e.g. it belongs to
/// another user).
pub fn stop(state: &StateDir, role: Role, timeout: Duration) -> Result<Option<u32>> {
    let Some(holder) = running(state, role) else {
        return Ok(None);
    };
    let pid = holder.pid;
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

#[cfg(unix)]
fn signal(pid: u32, sig: Signal) -> Result<()> {
    use nix::sys::signal::{kill, Signal as S};
    let raw = i32::try_from(pid).map_err(|_| Error::Signal {
        pid,
        reason: "not a process id".into(),
    })?;
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
