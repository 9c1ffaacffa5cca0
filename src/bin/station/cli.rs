//! The command line's grammar (clap): every command, argument and its help. The exit
//! codes it documents are [`exit`]'s.

use super::exit;
use clap::{Parser, Subcommand};
use ipfs_station::station;
use std::path::PathBuf;

/// The environment variable that names the station folder when `--station` is not given
/// (also read by the console, `ipfs-station-console`).
pub const STATION_DIR_ENV: &str = "IPFS_STATION_DIR";

/// `station`'s command line.
#[derive(Parser)]
#[command(
    name = "station",
    version,
    about = "IPFS Station: a 24/7 internet radio station on IPFS",
    after_help = exit::HELP
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The commands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Create a station directory with default configs and the bundled jingles.
    Init {
        /// The new station's folder.
        dir: PathBuf,
    },
    /// Prechunk every source, add segments to Kubo, write manifest.json and playlist.m3u.
    Setup {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// No progress bars (log lines only).
        #[arg(long)]
        quiet: bool,
        /// Print the report as JSON on stdout (no progress bars; notes and progress lines
        /// go to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Go on air: slide the live window and publish it under the IPNS name.
    Stream {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// Serve the live window from local files at http://127.0.0.1:<port>/live.m3u8
        /// instead of publishing (no Kubo needed).
        #[arg(long)]
        preview: bool,
        /// Preview port (default: `preview_port` of streaming.config.json).
        #[arg(long)]
        port: Option<u16>,
        /// Start a new stream (media sequence 0) instead of continuing the saved one:
        /// needed to change the segment length of a stream on air.
        #[arg(long)]
        new_stream: bool,
        /// Write all output to FILE (appended), rotated at 5 MiB keeping 2 old files
        /// (FILE.1, FILE.2): what the console gives the processes it starts.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Rotation size of --log, bytes (for tests).
        #[arg(long, hide = true, default_value_t = station::process::LOG_MAX_BYTES)]
        log_max_bytes: u64,
    },
    /// Stop the station's streamer and health monitor (SIGTERM to the lock holders, wait).
    Stop {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// Seconds to wait for each to stop before it is killed.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
    },
    /// Show whether the station is on air (exit 0) or off air (exit 5), its IPNS name,
    /// now playing and the last publish.
    Status {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// Print the state as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What plays when: the programme block and the item on air at an instant, and the
    /// programme ahead (from the running stream's schedule; off air, as a stream started
    /// now would play; the past from the as-run log).
    Schedule {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// The instant, RFC 3339 (default: now), e.g. 2026-12-08T09:45:00+01:00.
        #[arg(long)]
        at: Option<String>,
        /// Hours of programme after it.
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The as-run log: every item that aired, with its air start and end (UTC), block,
    /// title, artist, album and ISRC.
    History {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// Only items that started at or after this instant (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only items that started before this instant (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Print JSON (an array).
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header row (for royalty reports).
        #[arg(long)]
        csv: bool,
    },
    /// Check the stream as listeners get it: gateways, playlist rules, levels, Kubo.
    Health {
        /// The station folder (default: $IPFS_STATION_DIR).
        #[arg(long, short, env = STATION_DIR_ENV)]
        station: PathBuf,
        /// One check, then exit 0 (ok), 3 (warn) or 4 (fail).
        #[arg(long)]
        once: bool,
        /// With --once: print the report as JSON (the shape of data/state/health.json).
        #[arg(long, requires = "once")]
        json: bool,
        /// Write the level meters and history as SVG to FILE after each check.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Write all output to FILE (appended), rotated at 5 MiB keeping 2 old files
        /// (FILE.1, FILE.2): what the console gives the processes it starts.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Rotation size of --log, bytes (for tests).
        #[arg(long, hide = true, default_value_t = station::process::LOG_MAX_BYTES)]
        log_max_bytes: u64,
    },
    /// Measure: a fresh setup vs a bare encode, a cached second setup, one window tick,
    /// a level check, the console's timeline; each against its baseline in the same run.
    Bench {
        /// Music for the fresh setup (default: the demo's tracks from lincity-ng-data).
        #[arg(long)]
        music: Option<PathBuf>,
        /// Items in the second-setup measurement.
        #[arg(long, default_value_t = 200)]
        items: usize,
        /// The Kubo RPC API the fresh setup adds its segments to.
        #[arg(long, default_value = "http://127.0.0.1:5001")]
        kubo_api: String,
        /// Run one measurement only.
        #[arg(long, value_enum)]
        only: Option<BenchRow>,
    },
    /// Print a shell completion script, e.g. `station completions bash >
    /// ~/.local/share/bash-completion/completions/station`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Create a demo station with real music, set it up and put it on air.
    Demo {
        /// Folder of the demo station (default: <data dir>/ipfs-station/demo).
        #[arg(long, short)]
        station: Option<PathBuf>,
        /// Only set up; do not start streaming.
        #[arg(long)]
        no_stream: bool,
    },
}

/// One `station bench` measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchRow {
    /// A fresh setup (prechunk, loudness, adds) vs the bare single-pass encode.
    #[value(alias = "prechunk")]
    FreshSetup,
    /// A second setup over an unchanged library vs the first.
    #[value(alias = "setup")]
    SecondSetup,
    /// One window tick vs parsing the playlist.
    Window,
    /// A segment's level check vs ffmpeg's volumedetect.
    Levels,
    /// The console's rotation timeline vs reading the manifest.
    Timeline,
}
