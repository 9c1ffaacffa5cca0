//! The engine's one error type: a variant per failure the operator can act on.
//!
//! Every variant names the file, field, tool or endpoint it is about, so the shells (CLI,
//! console) can show the operator what went wrong and where without further context.

use std::path::PathBuf;

/// The engine's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
///
/// Shells render it with `Display`; [`Error::code`] gives a stable machine-readable code
/// (used by the console's `{code, message}` replies).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config file holds a value that is not allowed: names the file and the key.
    #[error("{}: `{field}`: {message}", file.display())]
    Config {
        /// The config file (e.g. `setup.config.json`).
        file: PathBuf,
        /// The key, dotted for nested keys (e.g. `gateways[1]`).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A config or state file is not valid JSON, or has the wrong shape.
    #[error("{}: {message}", file.display())]
    Parse {
        /// The file that could not be read.
        file: PathBuf,
        /// The parser's message, with line and column where known.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A source file is not usable audio (empty, truncated, not audio, unreadable).
    #[error("{}: {reason}", file.display())]
    BadSource {
        /// The source file.
        file: PathBuf,
        /// Why it cannot be used (from ffprobe/ffmpeg where they said something).
        reason: String,
    },
    /// ffmpeg failed on one source.
    #[error("{}: ffmpeg failed: {reason}", file.display())]
    Ffmpeg {
        /// The source file being encoded.
        file: PathBuf,
        /// The last lines ffmpeg printed on stderr, or the exit status.
        reason: String,
    },
    /// A required external program is not installed.
    #[error("`{tool}` was not found on PATH: {hint}")]
    ToolMissing {
        /// The program name (`ffmpeg`, `ffprobe`).
        tool: String,
        /// How to install it.
        hint: String,
    },
    /// No Kubo answers at the configured RPC address (connection refused, timeout, DNS).
    #[error("no Kubo answers at {url}: {reason} (start it with `ipfs daemon`, or set `kubo_api`)")]
    KuboUnreachable {
        /// The RPC base URL (e.g. `http://127.0.0.1:5001`).
        url: String,
        /// The transport error.
        reason: String,
    },
    /// Kubo answered a command with a non-2xx status; keeps the evidence.
    #[error("Kubo {endpoint} failed with HTTP {status}: {message}")]
    KuboStatus {
        /// The RPC command path (e.g. `/api/v0/add`).
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// Kubo's `Message` field, or the raw body when it was not Kubo's JSON error.
        message: String,
    },
    /// Kubo answered 2xx but the body or the `X-Stream-Error` trailer says it failed.
    #[error("Kubo {endpoint}: {message}")]
    KuboResponse {
        /// The RPC command path.
        endpoint: String,
        /// What was wrong with the reply.
        message: String,
    },
    /// `manifest.json` or `playlist.m3u` is missing, corrupt or inconsistent.
    #[error("{}: {message}", file.display())]
    Manifest {
        /// The manifest or playlist file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The rotation cannot be built (e.g. no tracks at all).
    #[error("rotation: {0}")]
    Rotation(String),
    /// A live playlist cannot be produced (e.g. a segment longer than the stream's target
    /// duration, RFC 8216 section 4.3.3.1).
    #[error("live window: {0}")]
    Window(String),
    /// A media segment cannot be demuxed or decoded at all.
    #[error("{what}: {reason}")]
    Decode {
        /// The segment (URI, CID or file).
        what: String,
        /// What failed.
        reason: String,
    },
    /// Another process holds a single-instance lock: a second streamer, monitor or
    /// setup on the same station, or a second streamer under the same IPNS key of the
    /// same Kubo.
    #[error("{what} is already running{} (lock {})", pid.map(|p| format!(" as pid {p}")).unwrap_or_default(), lock.display())]
    Locked {
        /// What holds it (e.g. `the streamer of /srv/radio`).
        what: String,
        /// The holder's process id, as the kernel reports it.
        pid: Option<u32>,
        /// The lock file.
        lock: PathBuf,
    },
    /// A process of the station did not start or stopped at once (with what its log
    /// said).
    #[error("{what}: {reason}")]
    Process {
        /// Which process (e.g. `the streamer (station stream)`).
        what: String,
        /// What happened.
        reason: String,
    },
    /// Signalling a process failed (it exited meanwhile, or it is not ours).
    #[error("cannot signal process {pid}: {reason}")]
    Signal {
        /// The process id.
        pid: u32,
        /// Why.
        reason: String,
    },
    /// An HTTP client could not be set up (e.g. the TLS backend failed to load).
    #[error("cannot set up the HTTP client for {what}: {reason}")]
    Http {
        /// What it was for (e.g. `the health monitor`).
        what: String,
        /// The error.
        reason: String,
    },
    /// No audio device can be opened for audition.
    #[error("audition unavailable: {reason}")]
    Audio {
        /// Why (from the audio backend).
        reason: String,
    },
    /// A station directory is missing or already initialized.
    #[error("{}: {message}", dir.display())]
    Station {
        /// The station directory.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// A stable, machine-readable code for this error kind (e.g. `"config"`,
    /// `"kubo_unreachable"`), for UIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Parse { .. } => "parse",
            Error::Io { .. } => "io",
            Error::BadSource { .. } => "bad_source",
            Error::Ffmpeg { .. } => "ffmpeg",
            Error::ToolMissing { .. } => "tool_missing",
            Error::KuboUnreachable { .. } => "kubo_unreachable",
            Error::KuboStatus { .. } => "kubo_status",
            Error::KuboResponse { .. } => "kubo_response",
            Error::Manifest { .. } => "manifest",
            Error::Rotation(_) => "rotation",
            Error::Window(_) => "window",
            Error::Decode { .. } => "decode",
            Error::Locked { .. } => "locked",
            Error::Process { .. } => "process",
            Error::Signal { .. } => "signal",
            Error::Http { .. } => "http",
            Error::Audio { .. } => "audio",
            Error::Station { .. } => "station",
        }
    }

    /// The message without the file name, for reports that list the file beside it
    /// (e.g. `not audio (no audio stream found)` instead of `x.mp3: not audio ...`).
    pub fn reason(&self) -> String {
        match self {
            Error::BadSource { reason, .. } => reason.clone(),
            Error::Ffmpeg { reason, .. } => format!("ffmpeg failed: {reason}"),
            Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// Shorthand for an [`Error::Io`] about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
