//! The external programs the library runs (ffprobe, ffmpeg): found on PATH, given an
//! argument vector (never a shell), bounded in time and in what is kept of their output,
//! and never outliving the station.
//!
//! - Time: each run has a limit ([`Tools::probe_limit`] for ffprobe, [`Tools::encode_limit`]
//!   of the source's duration for ffmpeg). A run still going at its limit is killed with
//!   its whole process group and reported for that file; the rest goes on.
//! - Output: stdout is capped ([`STDOUT_MAX_BYTES`]) or handed over line by line; of
//!   stderr only the last [`STDERR_TAIL_BYTES`] are kept.
//! - Lifetime: each program runs in a process group of its own (so a timeout kills what
//!   it started too) and, on Linux, under `setpriv --pdeathsig KILL` (util-linux): the
//!   kernel kills it when the thread that started it ends, `kill -9` of the station
//!   included. The workspace forbids `unsafe`, so `prctl(PR_SET_PDEATHSIG)` cannot run in
//!   a `pre_exec` hook; `setpriv` sets it in the child before it execs the program, with
//!   the same effect. Without `setpriv` the program is started directly (it still dies on
//!   a timeout, and with the station's process group, but not on `kill -9` of the
//!   station alone).

use crate::error::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most bytes of a program's stdout kept when it is collected (ffprobe's JSON of a
/// normal file is a few kilobytes; one with thousands of chapters or tags stays under
/// this).
pub const STDOUT_MAX_BYTES: usize = 4 << 20;
/// Bytes of a program's stderr kept: the end, where ffmpeg says why it failed and
/// `ebur128` prints its summary.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;
/// How long the output of a program that exited is still read (a program it started may
/// hold the pipes open), at most.
const DRAIN: Duration = Duration::from_secs(2);

/// Which programs to run and how long each may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Tools {
    /// ffprobe: a name looked up on PATH, or a path.
    pub ffprobe: OsString,
    /// ffmpeg: a name looked up on PATH, or a path.
    pub ffmpeg: OsString,
    /// Time one ffprobe run may take.
    pub probe_limit: Duration,
    /// Shortest time one ffmpeg run (loudness measure or encode) may take.
    pub min_encode_limit: Duration,
    /// Seconds one ffmpeg run may take per second of the source's audio, beyond
    /// [`Tools::min_encode_limit`].
    pub encode_factor: f64,
}

impl Default for Tools {
    /// `ffprobe` and `ffmpeg` from PATH; 30 s per probe; per ffmpeg run the longer of
    /// 60 s and twice the source's duration (the measured encode runs at about 100 times
    /// real time on two cores).
    fn default() -> Tools {
        Tools {
            ffprobe: "ffprobe".into(),
            ffmpeg: "ffmpeg".into(),
            probe_limit: Duration::from_secs(30),
            min_encode_limit: Duration::from_secs(60),
            encode_factor: 2.0,
        }
    }
}

impl Tools {
    /// The time one ffmpeg run on a source of `duration_seconds` may take: the longer of
    /// [`Tools::min_encode_limit`] and [`Tools::encode_factor`] times the duration (at
    /// most a day; a duration that is not a finite positive number counts as 0).
    pub fn encode_limit(&self, duration_seconds: f64) -> Duration {
        let d = if duration_seconds.is_finite() && duration_seconds > 0.0 {
            duration_seconds
        } else {
            0.0
        };
        let scaled = (d * self.encode_factor).clamp(0.0, 86_400.0);
        self.min_encode_limit.max(Duration::from_secs_f64(scaled))
    }
}

/// How a program ended.
#[derive(Debug)]
pub struct Output {
    /// Its exit status (after a kill: the kill's).
    pub status: ExitStatus,
    /// Whether it was killed at its time limit.
    pub timed_out: bool,
    /// Its stdout, at most [`STDOUT_MAX_BYTES`] (empty when it went to a line callback).
    pub stdout: Vec<u8>,
    /// Whether stdout was longer than [`STDOUT_MAX_BYTES`] (the rest was dropped).
    pub stdout_truncated: bool,
    /// The end of its stderr (at most [`STDERR_TAIL_BYTES`]), lossily as text.
    pub stderr: String,
}

/// The last `n` non-empty lines of `s` (a program's stderr), trimmed, in order, joined
/// with ` | `: where ffmpeg says why it failed, on one line.
pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The install hint of a missing tool.
fn missing(tool: &OsStr) -> Error {
    Error::ToolMissing {
        tool: tool.to_string_lossy().into_owned(),
        hint: "install it with `apt-get install ffmpeg` (or scripts/deps.sh)".into(),
    }
}

fn executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// The program `tool` names: itself when it holds a `/`, else the first executable file
/// of that name on PATH.
///
/// Errors: [`Error::ToolMissing`] when there is none.
pub fn find(tool: &OsStr) -> Result<PathBuf> {
    let p = Path::new(tool);
    if p.components().count() > 1 {
        return if executable(p) {
            Ok(p.to_path_buf())
        } else {
            Err(missing(tool))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(tool))
        .find(|c| executable(c))
        .ok_or_else(|| missing(tool))
}

/// `setpriv`, when it can set the parent-death signal here (checked once per process).
fn setpriv() -> Option<&'static Path> {
    static SETPRIV: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            if !cfg!(target_os = "linux") {
                return None;
            }
            let p = find(OsStr::new("setpriv")).ok()?;
            let works = Command::new(&p)
                .args(["--pdeathsig", "KILL", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !works {
                tracing::warn!(
                    "setpriv --pdeathsig does not work here: ffmpeg may outlive a killed station"
                );
            }
            works.then_some(p)
        })
        .as_deref()
}

/// A command that runs `tool` with `args`: found on PATH, under `setpriv --pdeathsig
/// KILL` where it works, in a process group of its own, stdin closed.
///
/// Errors: [`Error::ToolMissing`] when `tool` is not found.
pub fn command<I, S>(tool: &OsStr, args: I) -> Result<Command>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = find(tool)?;
    let mut cmd = match setpriv() {
        Some(sp) => {
            let mut c = Command::new(sp);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&program);
            c
        }
        None => Command::new(&program),
    };
    cmd.args(args).stdin(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    Ok(cmd)
}

/// Kills the process group led by `pid` (the program and what it started).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(raw),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Runs `cmd` (from [`command`]) for at most `limit`. Its stdout goes to `on_line` line by
/// line when given, else is collected (at most [`STDOUT_MAX_BYTES`]); the last
/// [`STDERR_TAIL_BYTES`] of stderr are kept. At the limit the program's process group is
/// killed and [`Output::timed_out`] is set.
///
/// Errors: [`Error::Io`] naming `what` when it cannot be started or waited for.
pub fn run(
    what: &str,
    cmd: Command,
    limit: Duration,
    on_line: Option<&mut dyn FnMut(&str)>,
) -> Result<Output> {
    match on_line {
        Some(f) => run_into(what, cmd, limit, Sink::Lines(f)),
        None => run_into(what, cmd, limit, Sink::Collect),
    }
}

/// [`run`] with stdout handed to `on_bytes` as it arrives, in chunks of up to
/// [`CHUNK_BYTES`] and of any length (a decoder's PCM), none kept in
/// [`Output::stdout`].
///
/// Errors: as [`run`].
pub fn run_streaming(
    what: &str,
    cmd: Command,
    limit: Duration,
    on_bytes: &mut dyn FnMut(&[u8]),
) -> Result<Output> {
    run_into(what, cmd, limit, Sink::Bytes(on_bytes))
}

/// Bytes read from a program's stdout at a time.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Where a program's stdout goes.
enum Sink<'a> {
    /// Kept, at most [`STDOUT_MAX_BYTES`].
    Collect,
    /// Line by line.
    Lines(&'a mut dyn FnMut(&str)),
    /// As it arrives.
    Bytes(&'a mut dyn FnMut(&[u8])),
}

fn run_into(what: &str, mut cmd: Command, limit: Duration, mut sink: Sink<'_>) -> Result<Output> {
    let io = |e: std::io::Error| Error::io(what, e);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    let deadline = Instant::now() + limit;
    let pid = child.id();
    // Both pipes on threads of their own, so neither can fill up and block the program.
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    if let Some(mut out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; CHUNK_BYTES];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
    }
    let (etx, erx) = mpsc::channel::<Vec<u8>>();
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
            let _ = etx.send(tail);
        });
    }
    let mut stdout = Vec::new();
    let mut truncated = false;
    let mut pending: Vec<u8> = Vec::new();
    let mut take = |chunk: Vec<u8>, sink: &mut Sink<'_>| match sink {
        Sink::Bytes(f) => f(&chunk),
        Sink::Lines(f) => {
            pending.extend_from_slice(&chunk);
            while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                f(String::from_utf8_lossy(&line).trim_end());
            }
            if pending.len() > STDOUT_MAX_BYTES {
                // One endless line: not progress output.
                pending.clear();
            }
        }
        Sink::Collect => {
            let room = STDOUT_MAX_BYTES - stdout.len();
            if chunk.len() > room {
                truncated = true;
            }
            stdout.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    };
    let mut timed_out = false;
    let mut open = true;
    let status = loop {
        if open {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(chunk) => {
                    take(chunk, &mut sink);
                    if Instant::now() < deadline {
                        continue;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(status) = child.try_wait().map_err(io)? {
            break status;
        }
        if Instant::now() >= deadline {
            // Not reaped yet, so the pid is still this child's: the group is its own.
            kill_group(pid);
            let _ = child.kill();
            timed_out = true;
            break child.wait().map_err(io)?;
        }
    };
    // What it wrote before it ended, unless something it started holds the pipe.
    let until = Instant::now() + DRAIN;
    if open {
        while let Ok(chunk) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            take(chunk, &mut sink);
        }
    }
    if !pending.is_empty() {
        if let Sink::Lines(f) = &mut sink {
            f(String::from_utf8_lossy(&pending).trim_end());
        }
    }
    let stderr = erx
        .recv_timeout(until.saturating_duration_since(Instant::now()))
        .map(|t| {
            let from = t.len().saturating_sub(STDERR_TAIL_BYTES);
            String::from_utf8_lossy(&t[from..]).into_owned()
        })
        .unwrap_or_default();
    Ok(Output {
        status,
        timed_out,
        stdout,
        stdout_truncated: truncated,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script `name` in `dir` with `body` (after `#!/bin/sh`).
    pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn a_stalled_program_and_what_it_started_are_killed_at_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let pids = d.path().join("pids");
        // The script starts a child (a sleep holding the pipes) and stalls.
        let s = script(
            d.path(),
            "stall",
            &format!(
                "echo started\nsleep 300 &\necho $! > '{}'\nwait",
                pids.display()
            ),
        );
        let t = Instant::now();
        let out = run(
            "stall",
            command(s.as_os_str(), ["x"]).unwrap(),
            Duration::from_millis(800),
            None,
        )
        .unwrap();
        assert!(out.timed_out);
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
        let sleeper: u32 = std::fs::read_to_string(&pids)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let t = Instant::now();
        while std::path::Path::new(&format!("/proc/{sleeper}")).exists()
            && t.elapsed() < Duration::from_secs(3)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let gone = std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
            .map_or(true, |s| s.contains(") Z "));
        assert!(gone, "the sleep the script started outlived the limit");
    }

    #[test]
    fn output_is_bounded_lines_are_handed_over_and_missing_tools_named() {
        let d = tempfile::tempdir().unwrap();
        let s = script(
            d.path(),
            "chatty",
            "printf 'a=1\\nb=2\\nno newline'; head -c 200000 /dev/zero | tr '\\0' x >&2; exit 3",
        );
        let mut lines = Vec::new();
        let mut on = |l: &str| lines.push(l.to_string());
        let out = run(
            "chatty",
            command(s.as_os_str(), Vec::<&str>::new()).unwrap(),
            Duration::from_secs(10),
            Some(&mut on),
        )
        .unwrap();
        assert!(!out.timed_out);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(lines, ["a=1", "b=2", "no newline"]);
        assert!(out.stderr.len() <= STDERR_TAIL_BYTES && out.stderr.len() > 1000);
        let e = command(OsStr::new("no-such-tool-here"), ["x"]).unwrap_err();
        assert!(matches!(e, Error::ToolMissing { .. }), "{e}");
        let t = Tools::default();
        assert_eq!(t.encode_limit(10.0), Duration::from_secs(60));
        assert_eq!(t.encode_limit(600.0), Duration::from_secs(1200));
        assert_eq!(t.encode_limit(f64::NAN), Duration::from_secs(60));
        assert_eq!(t.encode_limit(1e300), Duration::from_secs(86_400));
    }
}
