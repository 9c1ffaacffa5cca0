//! The station's three config files: raw serde structs, validated into the typed config the
//! engine uses (STYLE.md "Config in two steps").
//!
//! All three live at the top of the station directory: `setup.config.json` (what to
//! prechunk and how), `streaming.config.json` (the on-air loop) and `health.config.json`
//! (the monitor). Every key is optional; a missing key takes its documented default.
//! Unknown keys and out-of-range values are errors naming the file, the key and what is
//! allowed. Relative paths are relative to the station directory.

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};

/// File name of the setup config inside a station directory.
pub const SETUP_FILE: &str = "setup.config.json";
/// File name of the streaming config inside a station directory.
pub const STREAMING_FILE: &str = "streaming.config.json";
/// File name of the health config inside a station directory.
pub const HEALTH_FILE: &str = "health.config.json";

/// Default Kubo RPC API address (loopback only: the RPC API is admin access to the node).
pub const DEFAULT_KUBO_API: &str = "http://127.0.0.1:5001";
/// Default Kubo gateway; `127.0.0.1`, not `localhost`, which redirects to a subdomain
/// gateway many clients cannot resolve (kubo-rpc.md section 4).
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:8080";

/// Deserializes a key that may be absent (outer `None`), `null` (`Some(None)`) or a value.
fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Reads a config file into its raw form: [`Error::Io`] when unreadable,
/// [`Error::Parse`] naming the file, line and column (or the unknown key) when malformed.
fn read_raw<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    crate::station::atomic::read_json(path)
}

/// Builds [`Error::Config`] for `file`/`field`.
fn bad(file: &Path, field: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    file: &Path,
    field: &str,
    v: T,
    lo: T,
    hi: T,
    unit: &str,
) -> Result<T> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(bad(
            file,
            field,
            format!("{v} is out of range: allowed {lo} to {hi}{unit}"),
        ))
    }
}

fn finite(file: &Path, field: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad(file, field, "must be a finite number"))
    }
}

fn dir_key(
    station: &Path,
    file: &Path,
    field: &str,
    v: Option<String>,
    default: &str,
) -> Result<PathBuf> {
    let s = v.unwrap_or_else(|| default.to_string());
    if s.trim().is_empty() {
        return Err(bad(file, field, "must be a folder path, not empty"));
    }
    let p = PathBuf::from(s);
    Ok(if p.is_absolute() { p } else { station.join(p) })
}

/// Validates an `http://` or `https://` base URL and strips a trailing `/`.
fn http_url(file: &Path, field: &str, v: &str) -> Result<String> {
    let u = reqwest::Url::parse(v)
        .map_err(|e| bad(file, field, format!("`{v}` is not a URL ({e})")))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad(
            file,
            field,
            format!("`{v}`: only http:// and https:// are allowed"),
        ));
    }
    if u.host_str().is_none() {
        return Err(bad(file, field, format!("`{v}` has no host")));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// Validates a Go duration string as Kubo accepts it for `lifetime`/`ttl` (e.g. `48h`,
/// `1h30m`, `5s`, `500ms`; units ns, us, µs, ms, s, m, h; no `d`). Returns seconds.
///
/// Source: Go `time.ParseDuration`, used by Kubo's `name publish` (kubo-rpc.md section 3).
pub fn parse_go_duration(s: &str) -> std::result::Result<f64, String> {
    let units: [(&str, f64); 7] = [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("`{s}`: expected a number before `{rest}`"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{s}`: bad number `{}`", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some((_, scale)) = units.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (Go durations: ns, us, ms, s, m, h; no `d`)"
            ));
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// setup.config.json
// ---------------------------------------------------------------------------------------

/// `setup.config.json` as written on disk; every key optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSetupConfig {
    /// Folder of music sources (default `music`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub music_dir: Option<String>,
    /// Folder of jingle sources (default `jingles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jingles_dir: Option<String>,
    /// Output folder, the streamer's only input (default `data/processed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_dir: Option<String>,
    /// Target HLS segment length in seconds (default 6; 1 to 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_duration: Option<f64>,
    /// Audio codec (only `aac`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Audio bitrate like `128k` (32k to 320k).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    /// Output sample rate in Hz (default 44100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Output channels, 1 or 2 (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    /// Tracks between jingles (default 3; 1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jingle_cycle: Option<u32>,
    /// Loudness target in LUFS (default -16; `null` turns normalization off).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub loudness_target_lufs: Option<Option<f64>>,
    /// Kubo RPC API base URL (default `http://127.0.0.1:5001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubo_api: Option<String>,
    /// Parallel ffmpeg jobs (default 0 = all cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<u32>,
    /// Segments per Kubo `add` request (default 50; 1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_batch_size: Option<u32>,
}

/// Validated setup config: what to prechunk and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupConfig {
    /// Absolute (or station-relative resolved) folder of music sources.
    pub music_dir: PathBuf,
    /// Folder of jingle sources.
    pub jingles_dir: PathBuf,
    /// Output folder (`manifest.json`, `playlist.m3u`, `items/`).
    pub processed_dir: PathBuf,
    /// Target segment length in seconds (ffmpeg `-hls_time`).
    pub segment_duration: f64,
    /// Audio codec name for ffmpeg (`aac`).
    pub codec: String,
    /// Audio bitrate as ffmpeg takes it (e.g. `128k`).
    pub bitrate: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (1 or 2).
    pub channels: u32,
    /// Tracks between two jingles in the rotation.
    pub jingle_cycle: u32,
    /// Loudness target in LUFS (EBU R128), `None` = no normalization.
    pub loudness_target_lufs: Option<f64>,
    /// Kubo RPC API base URL without trailing `/`.
    pub kubo_api: String,
    /// Parallel ffmpeg jobs, already resolved (`0` in the file = all cores), at least 1.
    pub jobs: usize,
    /// Segments per Kubo `add` request.
    pub add_batch_size: usize,
}

impl RawSetupConfig {
    /// The file `station init` writes: every key with its default value.
    pub fn defaults() -> Self {
        RawSetupConfig {
            music_dir: Some("music".into()),
            jingles_dir: Some("jingles".into()),
            processed_dir: Some("data/processed".into()),
            segment_duration: Some(6.0),
            codec: Some("aac".into()),
            bitrate: Some("128k".into()),
            sample_rate: Some(44100),
            channels: Some(2),
            jingle_cycle: Some(3),
            loudness_target_lufs: Some(Some(-16.0)),
            kubo_api: Some(DEFAULT_KUBO_API.into()),
            jobs: Some(0),
            add_batch_size: Some(50),
        }
    }

    /// Validates into [`SetupConfig`]; `file` is named in errors, `station` anchors
    /// relative paths.
    ///
    /// Errors: [`Error::Config`] naming `file` and the key, saying what is allowed.
    pub fn validate(self, station: &Path, file: &Path) -> Result<SetupConfig> {
        let segment_duration = finite(
            file,
            "segment_duration",
            self.segment_duration.unwrap_or(6.0),
        )?;
        let segment_duration = in_range(
            file,
            "segment_duration",
            segment_duration,
            1.0,
            30.0,
            " seconds",
        )?;
        let codec = self.codec.unwrap_or_else(|| "aac".into());
        if codec != "aac" {
            return Err(bad(
                file,
                "codec",
                format!("`{codec}` is not supported: allowed \"aac\""),
            ));
        }
        let bitrate = self.bitrate.unwrap_or_else(|| "128k".into());
        let kbps: u32 = bitrate
            .strip_suffix('k')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                bad(
                    file,
                    "bitrate",
                    format!("`{bitrate}`: expected kilobits like \"128k\""),
                )
            })?;
        in_range(file, "bitrate", kbps, 32, 320, " (k)")?;
        let sample_rate = self.sample_rate.unwrap_or(44100);
        const RATES: [u32; 5] = [22050, 24000, 32000, 44100, 48000];
        if !RATES.contains(&sample_rate) {
            return Err(bad(
                file,
                "sample_rate",
                format!("{sample_rate} Hz: allowed {RATES:?}"),
            ));
        }
        let channels = in_range(file, "channels", self.channels.unwrap_or(2), 1, 2, "")?;
        let jingle_cycle = in_range(
            file,
            "jingle_cycle",
            self.jingle_cycle.unwrap_or(3),
            1,
            1000,
            " tracks",
        )?;
        let loudness_target_lufs = match self.loudness_target_lufs {
            None => Some(-16.0),
            Some(None) => None,
            Some(Some(v)) => Some(in_range(
                file,
                "loudness_target_lufs",
                finite(file, "loudness_target_lufs", v)?,
                -40.0,
                -5.0,
                " LUFS (or null for no normalization)",
            )?),
        };
        let kubo_api = http_url(
            file,
            "kubo_api",
            self.kubo_api.as_deref().unwrap_or(DEFAULT_KUBO_API),
        )?;
        let jobs = in_range(
            file,
            "jobs",
            self.jobs.unwrap_or(0),
            0,
            256,
            " (0 = all cores)",
        )? as usize;
        let jobs = if jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            jobs
        };
        let add_batch_size = in_range(
            file,
            "add_batch_size",
            self.add_batch_size.unwrap_or(50),
            1,
            1000,
            " segments",
        )? as usize;
        Ok(SetupConfig {
            music_dir: dir_key(station, file, "music_dir", self.music_dir, "music")?,
            jingles_dir: dir_key(station, file, "jingles_dir", self.jingles_dir, "jingles")?,
            processed_dir: dir_key(
                station,
                file,
                "processed_dir",
                self.processed_dir,
                "data/processed",
            )?,
            segment_duration,
            codec,
            bitrate,
            sample_rate,
            channels,
            jingle_cycle,
            loudness_target_lufs,
            kubo_api,
            jobs,
            add_batch_size,
        })
    }
}

impl SetupConfig {
    /// Reads and validates `<station>/setup.config.json`.
    ///
    /// Errors: [`Error::Io`] when missing or unreadable, [`Error::Parse`] or
    /// [`Error::Config`] naming the file and key.
    pub fn load(station: &Path) -> Result<Self> {
        let file = station.join(SETUP_FILE);
        read_raw::<RawSetupConfig>(&file)?.validate(station, &file)
    }
}

// ---------------------------------------------------------------------------------------
// streaming.config.json
// ---------------------------------------------------------------------------------------

/// How segment URIs are written in the live playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentUriStyle {
    /// `/ipfs/<cid>?filename=<segment file>`: resolves against whatever path gateway
    /// served the playlist; the `.ts` file name satisfies players that check extensions.
    Path,
    /// `/ipfs/<cid>` exactly (players that check segment extensions, like ffmpeg's, refuse it).
    Bare,
    /// `<base>/ipfs/<cid>` with a fixed gateway base URL (no trailing `/`).
    Absolute(String),
}

/// `streaming.config.json` as written on disk; every key optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawStreamingConfig {
    /// The streamer's input (default `data/processed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_dir: Option<String>,
    /// Where `stream_state.json` lives (default `data/state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// Segments in each published playlist, lookahead included (default 50; 3 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_size: Option<u32>,
    /// Segments past the live edge (default 10; less than `window_size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookahead_segments: Option<u32>,
    /// Seconds between ticks; `null` = the rotation's segment duration.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_interval: Option<Option<f64>>,
    /// Kubo key name the stream is published under (default `ipfs-station`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipns_key: Option<String>,
    /// IPNS record lifetime, Go duration (default `48h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipns_lifetime: Option<String>,
    /// IPNS record TTL, Go duration (default `5s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipns_ttl: Option<String>,
    /// Kubo RPC API base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubo_api: Option<String>,
    /// `path` (default), `bare` or `absolute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_uri_style: Option<String>,
    /// Gateway base URL for `absolute` segment URIs.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment_base_url: Option<Option<String>>,
    /// Seconds one `name/publish` may take before it is abandoned (default 120).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_timeout: Option<f64>,
    /// Loopback port of `station stream --preview` (default 8090).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_port: Option<u16>,
}

/// Validated streaming config: the on-air loop.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingConfig {
    /// The streamer's only input folder.
    pub processed_dir: PathBuf,
    /// Folder of `stream_state.json`.
    pub state_dir: PathBuf,
    /// Segments per published playlist, lookahead included.
    pub window_size: usize,
    /// Segments published past the live edge.
    pub lookahead_segments: usize,
    /// Seconds between ticks; `None` = the rotation's segment duration.
    pub update_interval: Option<f64>,
    /// Kubo key name.
    pub ipns_key: String,
    /// IPNS record lifetime as given (Go duration).
    pub ipns_lifetime: String,
    /// IPNS record TTL as given (Go duration).
    pub ipns_ttl: String,
    /// Kubo RPC API base URL without trailing `/`.
    pub kubo_api: String,
    /// How segment URIs are written.
    pub segment_uri_style: SegmentUriStyle,
    /// Seconds one publish may take.
    pub publish_timeout: f64,
    /// Loopback port of the preview server.
    pub preview_port: u16,
}

impl RawStreamingConfig {
    /// The file `station init` writes: every key with its default value.
    pub fn defaults() -> Self {
        RawStreamingConfig {
            processed_dir: Some("data/processed".into()),
            state_dir: Some("data/state".into()),
            window_size: Some(50),
            lookahead_segments: Some(10),
            update_interval: Some(None),
            ipns_key: Some("ipfs-station".into()),
            ipns_lifetime: Some("48h".into()),
            ipns_ttl: Some("5s".into()),
            kubo_api: Some(DEFAULT_KUBO_API.into()),
            segment_uri_style: Some("path".into()),
            segment_base_url: Some(None),
            publish_timeout: Some(120.0),
            preview_port: Some(8090),
        }
    }

    /// Validates into [`StreamingConfig`].
    ///
    /// Errors: [`Error::Config`] naming `file` and the key, saying what is allowed.
    pub fn validate(self, station: &Path, file: &Path) -> Result<StreamingConfig> {
        let window_size = in_range(
            file,
            "window_size",
            self.window_size.unwrap_or(50),
            3,
            1000,
            " segments",
        )? as usize;
        let lookahead_segments = self.lookahead_segments.unwrap_or(10) as usize;
        if lookahead_segments >= window_size {
            return Err(bad(
                file,
                "lookahead_segments",
                format!("{lookahead_segments} must be less than window_size ({window_size})"),
            ));
        }
        let update_interval = match self.update_interval.flatten() {
            None => None,
            Some(v) => Some(in_range(
                file,
                "update_interval",
                finite(file, "update_interval", v)?,
                0.5,
                600.0,
                " seconds",
            )?),
        };
        let ipns_key = self.ipns_key.unwrap_or_else(|| "ipfs-station".into());
        if ipns_key.is_empty()
            || ipns_key.len() > 64
            || !ipns_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                file,
                "ipns_key",
                format!("`{ipns_key}`: a Kubo key name of 1-64 letters, digits, '-', '_', '.'"),
            ));
        }
        let ipns_lifetime = self.ipns_lifetime.unwrap_or_else(|| "48h".into());
        let life = parse_go_duration(&ipns_lifetime).map_err(|m| bad(file, "ipns_lifetime", m))?;
        if life < 60.0 {
            return Err(bad(
                file,
                "ipns_lifetime",
                format!("`{ipns_lifetime}` is too short: at least 1m"),
            ));
        }
        let ipns_ttl = self.ipns_ttl.unwrap_or_else(|| "5s".into());
        let ttl = parse_go_duration(&ipns_ttl).map_err(|m| bad(file, "ipns_ttl", m))?;
        if !(1.0..=3600.0).contains(&ttl) {
            return Err(bad(
                file,
                "ipns_ttl",
                format!("`{ipns_ttl}`: allowed 1s to 1h"),
            ));
        }
        let kubo_api = http_url(
            file,
            "kubo_api",
            self.kubo_api.as_deref().unwrap_or(DEFAULT_KUBO_API),
        )?;
        let segment_uri_style = match self.segment_uri_style.as_deref().unwrap_or("path") {
            "path" => SegmentUriStyle::Path,
            "bare" => SegmentUriStyle::Bare,
            "absolute" => {
                let base = self.segment_base_url.flatten().ok_or_else(|| {
                    bad(
                        file,
                        "segment_base_url",
                        "required when segment_uri_style is \"absolute\"",
                    )
                })?;
                SegmentUriStyle::Absolute(http_url(file, "segment_base_url", &base)?)
            }
            other => {
                return Err(bad(
                    file,
                    "segment_uri_style",
                    format!("`{other}`: allowed \"path\", \"bare\" or \"absolute\""),
                ))
            }
        };
        let publish_timeout = in_range(
            file,
            "publish_timeout",
            finite(
                file,
                "publish_timeout",
                self.publish_timeout.unwrap_or(120.0),
            )?,
            1.0,
            3600.0,
            " seconds",
        )?;
        let preview_port = in_range(
            file,
            "preview_port",
            self.preview_port.unwrap_or(8090),
            1,
            65535,
            "",
        )?;
        Ok(StreamingConfig {
            processed_dir: dir_key(
                station,
                file,
                "processed_dir",
                self.processed_dir,
                "data/processed",
            )?,
            state_dir: dir_key(station, file, "state_dir", self.state_dir, "data/state")?,
            window_size,
            lookahead_segments,
            update_interval,
            ipns_key,
            ipns_lifetime,
            ipns_ttl,
            kubo_api,
            segment_uri_style,
            publish_timeout,
            preview_port,
        })
    }
}

impl StreamingConfig {
    /// Reads and validates `<station>/streaming.config.json`.
    ///
    /// Errors: as [`SetupConfig::load`].
    pub fn load(station: &Path) -> Result<Self> {
        let file = station.join(STREAMING_FILE);
        read_raw::<RawStreamingConfig>(&file)?.validate(station, &file)
    }
}

// ---------------------------------------------------------------------------------------
// health.config.json
// ---------------------------------------------------------------------------------------

/// `health.config.json` as written on disk; every key optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawHealthConfig {
    /// Gateways to check (default `["http://127.0.0.1:8080"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateways: Option<Vec<String>>,
    /// Public gateways to check (default `["https://ipfs.io", "https://dweb.link"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_gateways: Option<Vec<String>>,
    /// Seconds between checks (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// Newest segments fetched per check (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_per_check: Option<u32>,
    /// RMS level under which audio counts as silence, dBFS (default -50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence_threshold_dbfs: Option<f64>,
    /// Seconds of silence before it is flagged (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence_min_seconds: Option<f64>,
    /// Peak level at or over which audio counts as clipped, dBFS (default -0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_threshold_dbfs: Option<f64>,
    /// Seconds the live point may lag the wall clock (default 120).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lag_seconds: Option<f64>,
    /// Seconds per HTTP request (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<f64>,
}

/// Validated health config.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Local gateways (base URLs without trailing `/`).
    pub gateways: Vec<String>,
    /// Public gateways (base URLs); empty turns them off.
    pub public_gateways: Vec<String>,
    /// Seconds between checks.
    pub interval: f64,
    /// Newest segments fetched per check.
    pub segments_per_check: usize,
    /// Silence threshold, dBFS RMS.
    pub silence_threshold_dbfs: f64,
    /// Minimum silence length, seconds.
    pub silence_min_seconds: f64,
    /// Clipping threshold, dBFS peak.
    pub clip_threshold_dbfs: f64,
    /// Allowed lag of the live point behind the wall clock, seconds.
    pub max_lag_seconds: f64,
    /// Per-request timeout, seconds.
    pub request_timeout: f64,
}

impl RawHealthConfig {
    /// The file `station init` writes: every key with its default value.
    pub fn defaults() -> Self {
        RawHealthConfig {
            gateways: Some(vec![DEFAULT_GATEWAY.into()]),
            public_gateways: Some(vec!["https://ipfs.io".into(), "https://dweb.link".into()]),
            interval: Some(30.0),
            segments_per_check: Some(2),
            silence_threshold_dbfs: Some(-50.0),
            silence_min_seconds: Some(2.0),
            clip_threshold_dbfs: Some(-0.1),
            max_lag_seconds: Some(120.0),
            request_timeout: Some(20.0),
        }
    }

    /// Validates into [`HealthConfig`].
    ///
    /// Errors: [`Error::Config`] naming `file` and the key, saying what is allowed.
    pub fn validate(self, file: &Path) -> Result<HealthConfig> {
        let d = RawHealthConfig::defaults();
        let urls =
            |field: &str, v: Option<Vec<String>>, dv: Option<Vec<String>>| -> Result<Vec<String>> {
                v.or(dv)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, u)| http_url(file, &format!("{field}[{i}]"), u))
                    .collect()
            };
        let num = |field: &str,
                   v: Option<f64>,
                   dv: Option<f64>,
                   lo: f64,
                   hi: f64,
                   unit: &str|
         -> Result<f64> {
            let x = finite(file, field, v.or(dv).unwrap_or(lo))?;
            in_range(file, field, x, lo, hi, unit)
        };
        Ok(HealthConfig {
            gateways: urls("gateways", self.gateways, d.gateways)?,
            public_gateways: urls("public_gateways", self.public_gateways, d.public_gateways)?,
            interval: num(
                "interval",
                self.interval,
                d.interval,
                1.0,
                86400.0,
                " seconds",
            )?,
            segments_per_check: in_range(
                file,
                "segments_per_check",
                self.segments_per_check.unwrap_or(2),
                1,
                50,
                " segments",
            )? as usize,
            silence_threshold_dbfs: num(
                "silence_threshold_dbfs",
                self.silence_threshold_dbfs,
                d.silence_threshold_dbfs,
                -120.0,
                0.0,
                " dBFS",
            )?,
            silence_min_seconds: num(
                "silence_min_seconds",
                self.silence_min_seconds,
                d.silence_min_seconds,
                0.1,
                3600.0,
                " seconds",
            )?,
            clip_threshold_dbfs: num(
                "clip_threshold_dbfs",
                self.clip_threshold_dbfs,
                d.clip_threshold_dbfs,
                -20.0,
                0.0,
                " dBFS",
            )?,
            max_lag_seconds: num(
                "max_lag_seconds",
                self.max_lag_seconds,
                d.max_lag_seconds,
                1.0,
                86400.0,
                " seconds",
            )?,
            request_timeout: num(
                "request_timeout",
                self.request_timeout,
                d.request_timeout,
                0.5,
                600.0,
                " seconds",
            )?,
        })
    }
}

impl HealthConfig {
    /// Reads and validates `<station>/health.config.json`.
    ///
    /// Errors: as [`SetupConfig::load`].
    pub fn load(station: &Path) -> Result<Self> {
        let file = station.join(HEALTH_FILE);
        read_raw::<RawHealthConfig>(&file)?.validate(&file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(json: &str) -> Result<SetupConfig> {
        let raw: RawSetupConfig = serde_json::from_str(json).map_err(|e| Error::Parse {
            file: "setup.config.json".into(),
            message: e.to_string(),
        })?;
        raw.validate(Path::new("/st"), Path::new("setup.config.json"))
    }

    #[test]
    fn empty_setup_file_takes_defaults() {
        let c = setup("{}").unwrap();
        assert_eq!(c.music_dir, PathBuf::from("/st/music"));
        assert_eq!(c.processed_dir, PathBuf::from("/st/data/processed"));
        assert_eq!(c.segment_duration, 6.0);
        assert_eq!(c.jingle_cycle, 3);
        assert_eq!(c.loudness_target_lufs, Some(-16.0));
        assert!(c.jobs >= 1);
    }

    #[test]
    fn defaults_written_by_init_validate_to_the_same_config() {
        let raw = RawSetupConfig::defaults();
        let json = serde_json::to_string(&raw).unwrap();
        assert!(json.contains("\"loudness_target_lufs\":-16"));
        assert_eq!(setup(&json).unwrap(), setup("{}").unwrap());
        let s = RawStreamingConfig::defaults();
        let back: RawStreamingConfig =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        back.validate(Path::new("/st"), Path::new("s.json"))
            .unwrap();
        RawHealthConfig::defaults()
            .validate(Path::new("h.json"))
            .unwrap();
    }

    #[test]
    fn null_loudness_turns_normalization_off() {
        assert_eq!(
            setup(r#"{"loudness_target_lufs": null}"#)
                .unwrap()
                .loudness_target_lufs,
            None
        );
    }

    #[test]
    fn errors_name_file_key_and_what_is_allowed() {
        let e = setup(r#"{"segment_duration": 0.2}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("setup.config.json")
                && e.contains("segment_duration")
                && e.contains("1 to 30"),
            "{e}"
        );
        let e = setup(r#"{"bitrate": "fast"}"#).unwrap_err().to_string();
        assert!(e.contains("bitrate") && e.contains("128k"), "{e}");
        let e = setup(r#"{"codec": "mp3"}"#).unwrap_err().to_string();
        assert!(e.contains("codec") && e.contains("aac"), "{e}");
        let e = setup(r#"{"jingle_cycle": 0}"#).unwrap_err().to_string();
        assert!(e.contains("jingle_cycle"), "{e}");
        let e = setup(r#"{"kubo_api": "ftp://x"}"#).unwrap_err().to_string();
        assert!(e.contains("kubo_api"), "{e}");
        let e = setup(r#"{"sample_rate": 12345}"#).unwrap_err().to_string();
        assert!(e.contains("sample_rate") && e.contains("44100"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = setup(r#"{"segment_durration": 6}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("segment_durration"), "{e}");
    }

    #[test]
    fn streaming_lookahead_must_fit_in_window() {
        let raw: RawStreamingConfig =
            serde_json::from_str(r#"{"window_size": 5, "lookahead_segments": 5}"#).unwrap();
        let e = raw
            .validate(Path::new("/st"), Path::new("streaming.config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lookahead_segments") && e.contains("window_size"),
            "{e}"
        );
    }

    #[test]
    fn streaming_durations_are_go_durations() {
        let raw: RawStreamingConfig = serde_json::from_str(r#"{"ipns_lifetime": "2d"}"#).unwrap();
        let e = raw
            .validate(Path::new("/st"), Path::new("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ipns_lifetime") && e.contains("no `d`"), "{e}");
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_go_duration("500ms").unwrap(), 0.5);
        assert!(parse_go_duration("h").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn absolute_uri_style_needs_a_base_url() {
        let raw: RawStreamingConfig =
            serde_json::from_str(r#"{"segment_uri_style": "absolute"}"#).unwrap();
        let e = raw
            .validate(Path::new("/st"), Path::new("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("segment_base_url"), "{e}");
        let raw: RawStreamingConfig = serde_json::from_str(
            r#"{"segment_uri_style": "absolute", "segment_base_url": "https://gw.example/"}"#,
        )
        .unwrap();
        let c = raw.validate(Path::new("/st"), Path::new("s.json")).unwrap();
        assert_eq!(
            c.segment_uri_style,
            SegmentUriStyle::Absolute("https://gw.example".into())
        );
    }

    #[test]
    fn health_gateway_errors_name_the_index() {
        let raw: RawHealthConfig =
            serde_json::from_str(r#"{"gateways": ["http://127.0.0.1:8080", "nope"]}"#).unwrap();
        let e = raw
            .validate(Path::new("health.config.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gateways[1]"), "{e}");
        let raw: RawHealthConfig = serde_json::from_str(r#"{"public_gateways": []}"#).unwrap();
        assert!(raw
            .validate(Path::new("h.json"))
            .unwrap()
            .public_gateways
            .is_empty());
    }
}
