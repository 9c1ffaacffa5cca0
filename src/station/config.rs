//! The station's three config files, read key by key from the one key table
//! ([`super::keys::KEYS`]) and validated into the typed configs the engine uses
//! (STYLE.md "Config in two steps": the JSON object as written, then typed values).
//!
//! All three live at the top of the station directory: `setup.config.json` (what to
//! prechunk and how), `streaming.config.json` (the on-air loop and Kubo) and
//! `health.config.json` (the monitor). Every key is optional; a missing key takes the
//! default of the table. Unknown keys, values of the wrong type and out-of-range values
//! are [`Error::Config`] naming the file, the key and what is allowed. Relative paths are
//! relative to the station directory.

use super::keys::{self, LegacyKey, HEALTH_FILE, LEGACY, SETUP_FILE, STREAMING_FILE};
use crate::error::{Error, Result};
use crate::units::{Bitrate, Dbfs, GoDuration, Lufs};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::keys::{DEFAULT_GATEWAY, DEFAULT_KUBO_API};

/// One config file's keys as written, checked against the key table: every key known,
/// missing keys answered with the table's default.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file (absolute, or as given), named in errors.
    path: PathBuf,
    /// Its name in the key table (e.g. `setup.config.json`).
    name: &'static str,
    /// The keys as written.
    values: Map<String, Value>,
    /// Keys of [`LEGACY`] found in it.
    legacy: Vec<(&'static LegacyKey, Value)>,
}

fn bad(file: &Path, field: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

impl ConfigFile {
    /// Reads `<station>/<name>`; a missing file is an empty object (every default).
    ///
    /// Errors: [`Error::Io`] when unreadable, [`Error::Parse`] (file, line, column) when
    /// not JSON or not an object, [`Error::Config`] naming an unknown key.
    pub fn read(station: &Path, name: &'static str) -> Result<ConfigFile> {
        let path = station.join(name);
        let values = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(Error::Parse {
                        file: path,
                        message: "expected a JSON object of settings".into(),
                    })
                }
                Err(e) => {
                    return Err(Error::Parse {
                        file: path,
                        message: e.to_string(),
                    })
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        ConfigFile::from_map(path, name, values)
    }

    /// Wraps keys already parsed (e.g. the settings form's merged edits); `path` is named
    /// in errors.
    ///
    /// Errors: [`Error::Config`] naming an unknown key.
    pub fn from_map(
        path: PathBuf,
        name: &'static str,
        values: Map<String, Value>,
    ) -> Result<ConfigFile> {
        let mut legacy = Vec::new();
        for (k, v) in &values {
            if keys::spec(name, k).is_some() {
                continue;
            }
            if let Some(l) = LEGACY.iter().find(|l| l.file == name && l.key == k) {
                legacy.push((l, v.clone()));
                continue;
            }
            let known: Vec<&str> = keys::keys_of(name).map(|s| s.key).collect();
            return Err(bad(
                &path,
                k,
                format!("unknown key (the keys of {name} are: {})", known.join(", ")),
            ));
        }
        Ok(ConfigFile {
            path,
            name,
            values,
            legacy,
        })
    }

    /// The file, as named in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keys from older versions found in this file, with their values.
    pub fn legacy(&self) -> &[(&'static LegacyKey, Value)] {
        &self.legacy
    }

    /// The value of `key`: the file's, else the table's default.
    pub(crate) fn value(&self, key: &str) -> Value {
        match self.values.get(key) {
            Some(v) => v.clone(),
            None => keys::spec(self.name, key).map_or(Value::Null, |s| s.default_value()),
        }
    }

    fn number(&self, key: &str) -> Result<f64> {
        match self.value(key) {
            Value::Number(n) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&self.path, key, "must be a finite number")),
            other => Err(bad(
                &self.path,
                key,
                format!("must be a number, not {other}"),
            )),
        }
    }

    fn optional_number(&self, key: &str) -> Result<Option<f64>> {
        match self.value(key) {
            Value::Null => Ok(None),
            _ => self.number(key).map(Some),
        }
    }

    fn in_range(&self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<f64> {
        if v >= lo && v <= hi {
            Ok(v)
        } else {
            Err(bad(
                &self.path,
                key,
                format!("{v} is out of range: allowed {lo} to {hi}{unit}"),
            ))
        }
    }

    /// A number in `lo..=hi`.
    fn number_in(&self, key: &str, lo: f64, hi: f64, unit: &str) -> Result<f64> {
        let v = self.number(key)?;
        self.in_range(key, v, lo, hi, unit)
    }

    /// Seconds in `lo..=hi`, as a duration.
    fn seconds_in(&self, key: &str, lo: f64, hi: f64) -> Result<Duration> {
        Ok(Duration::from_secs_f64(
            self.number_in(key, lo, hi, " seconds")?,
        ))
    }

    /// A whole number in `lo..=hi`.
    fn integer_in(&self, key: &str, lo: u64, hi: u64, unit: &str) -> Result<u64> {
        let v = self.value(key);
        let n = v.as_u64().ok_or_else(|| {
            bad(
                &self.path,
                key,
                format!("must be a whole number (0 or more), not {v}"),
            )
        })?;
        if n >= lo && n <= hi {
            Ok(n)
        } else {
            Err(bad(
                &self.path,
                key,
                format!("{n} is out of range: allowed {lo} to {hi}{unit}"),
            ))
        }
    }

    fn boolean(&self, key: &str) -> Result<bool> {
        match self.value(key) {
            Value::Bool(b) => Ok(b),
            other => Err(bad(
                &self.path,
                key,
                format!("must be true or false, not {other}"),
            )),
        }
    }

    fn string(&self, key: &str) -> Result<String> {
        match self.value(key) {
            Value::String(s) => Ok(s),
            other => Err(bad(
                &self.path,
                key,
                format!("must be a string, not {other}"),
            )),
        }
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>> {
        match self.value(key) {
            Value::Null => Ok(None),
            _ => self.string(key).map(Some),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.value(key) {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    other => Err(bad(
                        &self.path,
                        &format!("{key}[{i}]"),
                        format!("must be a string, not {other}"),
                    )),
                })
                .collect(),
            other => Err(bad(
                &self.path,
                key,
                format!("must be a list of strings, not {other}"),
            )),
        }
    }

    /// A folder: absolute, or relative to `station`.
    fn dir(&self, station: &Path, key: &str) -> Result<PathBuf> {
        let s = self.string(key)?;
        if s.trim().is_empty() {
            return Err(bad(&self.path, key, "must be a folder path, not empty"));
        }
        let p = PathBuf::from(s);
        Ok(if p.is_absolute() { p } else { station.join(p) })
    }

    /// An `http://` or `https://` base URL, trailing `/` stripped.
    pub(crate) fn http_url(&self, key: &str, v: &str) -> Result<String> {
        let u = reqwest::Url::parse(v)
            .map_err(|e| bad(&self.path, key, format!("`{v}` is not a URL ({e})")))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(bad(
                &self.path,
                key,
                format!("`{v}`: only http:// and https:// are allowed"),
            ));
        }
        if u.host_str().is_none() {
            return Err(bad(&self.path, key, format!("`{v}` has no host")));
        }
        Ok(v.trim_end_matches('/').to_string())
    }

    fn go_duration(&self, key: &str) -> Result<GoDuration> {
        GoDuration::parse(&self.string(key)?).map_err(|m| bad(&self.path, key, m))
    }
}

// ---------------------------------------------------------------------------------------
// setup.config.json
// ---------------------------------------------------------------------------------------

/// Validated setup config: what to prechunk and how (`setup.config.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct SetupConfig {
    /// Folder of music sources (absolute, or resolved against the station folder).
    pub music_dir: PathBuf,
    /// Folder of jingle sources.
    pub jingles_dir: PathBuf,
    /// Output folder (`manifest.json`, `playlist.m3u`, `items/`): the streamer's only
    /// input.
    pub processed_dir: PathBuf,
    /// Target segment length (ffmpeg `-hls_time`), 1 to 30 s.
    pub segment_duration: Duration,
    /// Audio codec name for ffmpeg (`aac`).
    pub codec: String,
    /// Audio bitrate, 32k to 320k.
    pub bitrate: Bitrate,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (1 or 2).
    pub channels: u32,
    /// Tracks between two jingles in the rotation.
    pub jingle_cycle: u32,
    /// Loudness target (EBU R128 integrated), `None` = no normalization.
    pub loudness_target: Option<Lufs>,
    /// Parallel ffmpeg jobs, already resolved (`0` in the file = all cores), at least 1.
    pub jobs: usize,
    /// Segments per Kubo `add` request.
    pub add_batch_size: usize,
    /// Days a removed source stays in `trash/` before setup deletes it; `None` keeps the
    /// trash forever (0 in the file).
    pub trash_retention: Option<Duration>,
    /// Pinning services the library is sent to (`remote_pinning`), in the file's order;
    /// empty: none ([`super::remote_pinning`]).
    pub remote_pinning: Vec<super::remote_pinning::RemoteService>,
}

impl SetupConfig {
    /// Validates `file` (a [`SETUP_FILE`]); `station` anchors relative paths.
    ///
    /// Errors: [`Error::Config`] naming the file and the first invalid key, saying what
    /// is allowed.
    pub fn from_file(station: &Path, file: &ConfigFile) -> Result<SetupConfig> {
        let segment_duration = file.seconds_in("segment_duration", 1.0, 30.0)?;
        let codec = file.string("codec")?;
        if codec != "aac" {
            return Err(bad(
                file.path(),
                "codec",
                format!("`{codec}` is not supported: allowed \"aac\""),
            ));
        }
        let bitrate =
            Bitrate::parse(&file.string("bitrate")?).map_err(|m| bad(file.path(), "bitrate", m))?;
        file.in_range("bitrate", f64::from(bitrate.kbps), 32.0, 320.0, " (k)")?;
        let sample_rate = file.integer_in("sample_rate", 0, u64::from(u32::MAX), " Hz")? as u32;
        const RATES: [u32; 5] = [22050, 24000, 32000, 44100, 48000];
        if !RATES.contains(&sample_rate) {
            return Err(bad(
                file.path(),
                "sample_rate",
                format!("{sample_rate} Hz: allowed {RATES:?}"),
            ));
        }
        let channels = file.integer_in("channels", 1, 2, "")? as u32;
        let jingle_cycle = file.integer_in("jingle_cycle", 1, 1000, " tracks")? as u32;
        let loudness_target = match file.optional_number("loudness_target_lufs")? {
            None => None,
            Some(v) => Some(Lufs(file.in_range(
                "loudness_target_lufs",
                v,
                -40.0,
                -5.0,
                " LUFS (or null for no normalization)",
            )?)),
        };
        let jobs = file.integer_in("jobs", 0, 256, " (0 = all cores)")? as usize;
        let jobs = if jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            jobs
        };
        let add_batch_size = file.integer_in("add_batch_size", 1, 1000, " segments")? as usize;
        let trash_days = file.integer_in(
            "trash_retention_days",
            0,
            36500,
            " days (0 keeps the trash)",
        )?;
        let trash_retention = (trash_days > 0).then(|| Duration::from_secs(trash_days * 86_400));
        Ok(SetupConfig {
            music_dir: file.dir(station, "music_dir")?,
            jingles_dir: file.dir(station, "jingles_dir")?,
            processed_dir: file.dir(station, "processed_dir")?,
            segment_duration,
            codec,
            bitrate,
            sample_rate,
            channels,
            jingle_cycle,
            loudness_target,
            jobs,
            add_batch_size,
            trash_retention,
            remote_pinning: super::remote_pinning::parse(
                file.path(),
                station,
                &file.value(super::remote_pinning::KEY),
            )?,
        })
    }

    /// Reads and validates `<station>/setup.config.json` (missing: every default).
    ///
    /// Errors: [`Error::Io`] when unreadable, [`Error::Parse`] or [`Error::Config`]
    /// naming the file and key.
    pub fn load(station: &Path) -> Result<Self> {
        SetupConfig::from_file(station, &ConfigFile::read(station, SETUP_FILE)?)
    }
}

// ---------------------------------------------------------------------------------------
// streaming.config.json
// ---------------------------------------------------------------------------------------

/// How segment URIs are written in the live playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentUriStyle {
    /// `s/<media sequence>.ts`, relative to `live.m3u8` in the station's site
    /// ([`crate::air::site`]): the same on path and subdomain gateways.
    Relative,
    /// `/ipfs/<cid>?filename=<segment file>`: resolves against whatever path gateway
    /// served the playlist; the `.ts` file name satisfies players that check extensions.
    Path,
    /// `/ipfs/<cid>` exactly (players that check segment extensions, like ffmpeg's, refuse it).
    Bare,
    /// `<base>/ipfs/<cid>` with a fixed gateway base URL (no trailing `/`).
    Absolute(String),
}

/// Validated streaming config: the on-air loop and Kubo (`streaming.config.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingConfig {
    /// The station's state folder (`stream_state.json`, `health.json`, locks, logs).
    pub state_dir: PathBuf,
    /// Segments per published playlist, lookahead included.
    pub window_size: usize,
    /// Segments published past the live edge.
    pub lookahead_segments: usize,
    /// Time between ticks; `None` = the rotation's segment duration.
    pub update_interval: Option<Duration>,
    /// Kubo key name.
    pub ipns_key: String,
    /// IPNS record lifetime.
    pub ipns_lifetime: GoDuration,
    /// IPNS record TTL.
    pub ipns_ttl: GoDuration,
    /// Kubo RPC API base URL without trailing `/` (setup adds through it too); on
    /// loopback unless [`StreamingConfig::allow_remote_kubo`].
    pub kubo_api: String,
    /// Whether `kubo_api` may name another machine (the RPC API is admin access).
    pub allow_remote_kubo: bool,
    /// How segment URIs are written.
    pub segment_uri_style: SegmentUriStyle,
    /// How long one add + publish may take.
    pub publish_timeout: Duration,
    /// Whether the public gateways are warmed (`warm_public_gateways`).
    pub warm_public_gateways: bool,
    /// The gateways warmed with every segment ahead of air ([`crate::air::warm`]): the
    /// health file's `public_gateways` when [`StreamingConfig::warm_public_gateways`],
    /// filled in by [`crate::station::Station::open`] (empty from this file alone).
    pub warm_gateways: Vec<String>,
    /// Whether the managed Kubo daemon runs with IPNS over PubSub
    /// (`--enable-namesys-pubsub`, Kubo cmd/ipfs/kubo/daemon.go; it overrides the repo's
    /// `Ipns.UsePubsub`).
    pub ipns_pubsub: bool,
    /// Loopback port of the preview server.
    pub preview_port: u16,
}

impl StreamingConfig {
    /// Validates `file` (a [`STREAMING_FILE`]); `station` anchors relative paths.
    ///
    /// Errors: [`Error::Config`] naming the file and the first invalid key, saying what
    /// is allowed.
    pub fn from_file(station: &Path, file: &ConfigFile) -> Result<StreamingConfig> {
        let window_size = file.integer_in("window_size", 3, 1000, " segments")? as usize;
        let lookahead_segments =
            file.integer_in("lookahead_segments", 0, 1000, " segments")? as usize;
        if lookahead_segments >= window_size {
            return Err(bad(
                file.path(),
                "lookahead_segments",
                format!("{lookahead_segments} must be less than window_size ({window_size})"),
            ));
        }
        let update_interval = match file.optional_number("update_interval")? {
            None => None,
            Some(v) => Some(Duration::from_secs_f64(file.in_range(
                "update_interval",
                v,
                0.5,
                600.0,
                " seconds",
            )?)),
        };
        let ipns_key = file.string("ipns_key")?;
        if ipns_key.is_empty()
            || ipns_key.len() > 64
            || !ipns_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                file.path(),
                "ipns_key",
                format!("`{ipns_key}`: a Kubo key name of 1-64 letters, digits, '-', '_', '.'"),
            ));
        }
        let ipns_lifetime = file.go_duration("ipns_lifetime")?;
        if ipns_lifetime.duration() < Duration::from_secs(60) {
            return Err(bad(
                file.path(),
                "ipns_lifetime",
                format!("`{ipns_lifetime}` is too short: at least 1m"),
            ));
        }
        let ipns_ttl = file.go_duration("ipns_ttl")?;
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&ipns_ttl.duration()) {
            return Err(bad(
                file.path(),
                "ipns_ttl",
                format!("`{ipns_ttl}`: allowed 1s to 1h"),
            ));
        }
        let kubo_api = file.http_url("kubo_api", &file.string("kubo_api")?)?;
        let allow_remote_kubo = file.boolean("allow_remote_kubo")?;
        if !allow_remote_kubo && !is_loopback_url(&kubo_api) {
            return Err(bad(
                file.path(),
                "kubo_api",
                format!("`{kubo_api}` is not on this machine (loopback: 127.0.0.1, localhost, [::1]): Kubo's RPC API is admin access to the node (keys, pins, config, shutdown); set allow_remote_kubo to true to use another machine's"),
            ));
        }
        let segment_uri_style = match file.string("segment_uri_style")?.as_str() {
            "relative" => SegmentUriStyle::Relative,
            "path" => SegmentUriStyle::Path,
            "bare" => SegmentUriStyle::Bare,
            "absolute" => {
                let base = file.optional_string("segment_base_url")?.ok_or_else(|| {
                    bad(
                        file.path(),
                        "segment_base_url",
                        "required when segment_uri_style is \"absolute\"",
                    )
                })?;
                SegmentUriStyle::Absolute(file.http_url("segment_base_url", &base)?)
            }
            other => {
                return Err(bad(
                    file.path(),
                    "segment_uri_style",
                    format!("`{other}`: allowed \"relative\", \"path\", \"bare\" or \"absolute\""),
                ))
            }
        };
        let publish_timeout = file.seconds_in("publish_timeout", 1.0, 3600.0)?;
        let ipns_pubsub = file.boolean("ipns_pubsub")?;
        let warm_public_gateways = file.boolean("warm_public_gateways")?;
        let preview_port = file.integer_in("preview_port", 1, 65535, "")? as u16;
        Ok(StreamingConfig {
            state_dir: file.dir(station, "state_dir")?,
            window_size,
            lookahead_segments,
            update_interval,
            ipns_key,
            ipns_lifetime,
            ipns_ttl,
            kubo_api,
            allow_remote_kubo,
            segment_uri_style,
            publish_timeout,
            warm_public_gateways,
            warm_gateways: Vec::new(),
            ipns_pubsub,
            preview_port,
        })
    }

    /// Reads and validates `<station>/streaming.config.json` (missing: every default).
    ///
    /// Errors: as [`SetupConfig::load`].
    pub fn load(station: &Path) -> Result<Self> {
        StreamingConfig::from_file(station, &ConfigFile::read(station, STREAMING_FILE)?)
    }
}

/// Whether `url`'s host is this machine: `localhost` (or a name under it), an IPv4
/// address in 127.0.0.0/8, or `[::1]`.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

// ---------------------------------------------------------------------------------------
// health.config.json
// ---------------------------------------------------------------------------------------

/// Validated health config: the monitor (`health.config.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Local gateways (base URLs without trailing `/`).
    pub gateways: Vec<String>,
    /// Public gateways (base URLs); empty turns them off.
    pub public_gateways: Vec<String>,
    /// Time between checks.
    pub interval: Duration,
    /// Newest segments fetched per check.
    pub segments_per_check: usize,
    /// Silence threshold (RMS).
    pub silence_threshold: Dbfs,
    /// Minimum silence length before it is flagged.
    pub silence_min: Duration,
    /// Clipping threshold (peak).
    pub clip_threshold: Dbfs,
    /// Allowed lag of the live point behind the wall clock.
    pub max_lag: Duration,
    /// Per-request timeout for segments.
    pub request_timeout: Duration,
    /// Timeout of the playlist request (IPNS resolution may wait for the DHT).
    pub resolve_timeout: Duration,
}

impl HealthConfig {
    /// Validates `file` (a [`HEALTH_FILE`]).
    ///
    /// Errors: [`Error::Config`] naming the file and the first invalid key (a gateway by
    /// its index, e.g. `gateways[1]`), saying what is allowed.
    pub fn from_file(file: &ConfigFile) -> Result<HealthConfig> {
        let urls = |key: &str| -> Result<Vec<String>> {
            file.strings(key)?
                .iter()
                .enumerate()
                .map(|(i, u)| file.http_url(&format!("{key}[{i}]"), u))
                .collect()
        };
        Ok(HealthConfig {
            gateways: urls("gateways")?,
            public_gateways: urls("public_gateways")?,
            interval: file.seconds_in("interval", 1.0, 86400.0)?,
            segments_per_check: file.integer_in("segments_per_check", 1, 50, " segments")? as usize,
            silence_threshold: Dbfs(file.number_in(
                "silence_threshold_dbfs",
                -120.0,
                0.0,
                " dBFS",
            )?),
            silence_min: file.seconds_in("silence_min_seconds", 0.1, 3600.0)?,
            clip_threshold: Dbfs(file.number_in("clip_threshold_dbfs", -20.0, 0.0, " dBFS")?),
            max_lag: file.seconds_in("max_lag_seconds", 1.0, 86400.0)?,
            request_timeout: file.seconds_in("request_timeout", 0.5, 600.0)?,
            resolve_timeout: file.seconds_in("resolve_timeout", 1.0, 600.0)?,
        })
    }

    /// Reads and validates `<station>/health.config.json` (missing: every default).
    ///
    /// Errors: as [`SetupConfig::load`].
    pub fn load(station: &Path) -> Result<Self> {
        HealthConfig::from_file(&ConfigFile::read(station, HEALTH_FILE)?)
    }
}

/// Validates one file's keys with the engine's rules: used by [`super::Station::open`]
/// and by the settings form on merged edits.
///
/// Errors: as the file's `from_file`.
pub fn validate_file(station: &Path, file: &ConfigFile) -> Result<()> {
    match file.name {
        SETUP_FILE => SetupConfig::from_file(station, file).map(|_| ()),
        STREAMING_FILE => StreamingConfig::from_file(station, file).map(|_| ()),
        _ => HealthConfig::from_file(file).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &'static str, json: &str) -> Result<ConfigFile> {
        let v: Value = serde_json::from_str(json).unwrap();
        ConfigFile::from_map(PathBuf::from(name), name, v.as_object().unwrap().clone())
    }

    fn setup(json: &str) -> Result<SetupConfig> {
        SetupConfig::from_file(Path::new("/st"), &file(SETUP_FILE, json)?)
    }

    fn streaming(json: &str) -> Result<StreamingConfig> {
        StreamingConfig::from_file(Path::new("/st"), &file(STREAMING_FILE, json)?)
    }

    #[test]
    fn empty_setup_file_takes_defaults() {
        let c = setup("{}").unwrap();
        assert_eq!(c.music_dir, PathBuf::from("/st/music"));
        assert_eq!(c.processed_dir, PathBuf::from("/st/data/processed"));
        assert_eq!(c.segment_duration, Duration::from_secs(6));
        assert_eq!(c.bitrate, Bitrate { kbps: 128 });
        assert_eq!(c.jingle_cycle, 3);
        assert_eq!(c.loudness_target, Some(Lufs(-16.0)));
        assert!(c.jobs >= 1);
    }

    #[test]
    fn defaults_written_by_init_validate_to_the_same_config() {
        for name in keys::CONFIG_FILES {
            let written = Value::Object(keys::defaults(name)).to_string();
            let f = file(name, &written).unwrap();
            validate_file(Path::new("/st"), &f).unwrap();
        }
        let written = Value::Object(keys::defaults(SETUP_FILE)).to_string();
        assert!(
            written.contains("\"loudness_target_lufs\":-16"),
            "{written}"
        );
        assert_eq!(setup(&written).unwrap(), setup("{}").unwrap());
        assert_eq!(
            streaming(&Value::Object(keys::defaults(STREAMING_FILE)).to_string()).unwrap(),
            streaming("{}").unwrap()
        );
    }

    #[test]
    fn null_loudness_turns_normalization_off() {
        assert_eq!(
            setup(r#"{"loudness_target_lufs": null}"#)
                .unwrap()
                .loudness_target,
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
        let e = setup(r#"{"sample_rate": 12345}"#).unwrap_err().to_string();
        assert!(e.contains("sample_rate") && e.contains("44100"), "{e}");
        let e = setup(r#"{"jingle_cycle": "three"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("jingle_cycle") && e.contains("whole number"),
            "{e}"
        );
        let e = streaming(r#"{"kubo_api": "ftp://x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("kubo_api"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = setup(r#"{"segment_durration": 6}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("segment_durration") && e.contains("unknown key"),
            "{e}"
        );
    }

    #[test]
    fn moved_keys_are_accepted_and_not_read() {
        let f = file(SETUP_FILE, r#"{"kubo_api": "http://127.0.0.1:9999"}"#).unwrap();
        assert_eq!(f.legacy().len(), 1);
        assert_eq!(f.legacy()[0].0.rules_in, STREAMING_FILE);
        SetupConfig::from_file(Path::new("/st"), &f).unwrap();
        let f = file(STREAMING_FILE, r#"{"processed_dir": "elsewhere"}"#).unwrap();
        assert_eq!(f.legacy()[0].0.key, "processed_dir");
    }

    #[test]
    fn streaming_lookahead_must_fit_in_window() {
        let e = streaming(r#"{"window_size": 5, "lookahead_segments": 5}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lookahead_segments") && e.contains("window_size"),
            "{e}"
        );
    }

    #[test]
    fn streaming_durations_are_go_durations() {
        let e = streaming(r#"{"ipns_lifetime": "2d"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ipns_lifetime") && e.contains("no `d`"), "{e}");
        let c = streaming(r#"{"ipns_ttl": "1m30s"}"#).unwrap();
        assert_eq!(c.ipns_ttl.duration(), Duration::from_secs(90));
        assert_eq!(c.ipns_ttl.as_str(), "1m30s");
        // Issue 24: Go accepts these, the station's bounds still refuse them.
        for (json, key) in [
            (r#"{"ipns_lifetime": "0"}"#, "ipns_lifetime"),
            (r#"{"ipns_lifetime": "-48h"}"#, "ipns_lifetime"),
            (r#"{"ipns_lifetime": "2562048h"}"#, "ipns_lifetime"),
            (r#"{"ipns_ttl": "0"}"#, "ipns_ttl"),
            (r#"{"ipns_ttl": "-5s"}"#, "ipns_ttl"),
        ] {
            let e = streaming(json).unwrap_err().to_string();
            assert!(e.contains(key), "{json}: {e}");
        }
        let c = streaming(r#"{"ipns_lifetime": "+48h", "ipns_ttl": "5μs5s"}"#).unwrap();
        assert_eq!(c.ipns_lifetime.as_str(), "+48h");
        assert_eq!(c.ipns_ttl.duration(), Duration::from_micros(5_000_005));
    }

    #[test]
    fn absolute_uri_style_needs_a_base_url() {
        let e = streaming(r#"{"segment_uri_style": "absolute"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("segment_base_url"), "{e}");
        let c = streaming(
            r#"{"segment_uri_style": "absolute", "segment_base_url": "https://gw.example/"}"#,
        )
        .unwrap();
        assert_eq!(
            c.segment_uri_style,
            SegmentUriStyle::Absolute("https://gw.example".into())
        );
    }

    /// Issue 11: the RPC API is admin access to the node: another machine's only with
    /// `allow_remote_kubo`.
    #[test]
    fn a_kubo_api_off_loopback_needs_allow_remote_kubo() {
        for ok in [
            "http://127.0.0.1:5001",
            "http://127.8.9.10:5001",
            "http://localhost:5001",
            "http://[::1]:5001",
        ] {
            let c = streaming(&format!(r#"{{"kubo_api": "{ok}"}}"#)).unwrap();
            assert!(!c.allow_remote_kubo, "{ok}");
        }
        for remote in [
            "http://0.0.0.0:5001",
            "http://192.0.2.7:5001",
            "https://kubo.example",
        ] {
            let e = streaming(&format!(r#"{{"kubo_api": "{remote}"}}"#))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("kubo_api")
                    && e.contains("admin access")
                    && e.contains("allow_remote_kubo"),
                "{e}"
            );
            let c = streaming(&format!(
                r#"{{"kubo_api": "{remote}", "allow_remote_kubo": true}}"#
            ))
            .unwrap();
            assert!(c.allow_remote_kubo);
        }
        let e = streaming(r#"{"allow_remote_kubo": "yes"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("true or false"), "{e}");
    }

    #[test]
    fn trash_retention_is_days_and_zero_keeps_it() {
        assert_eq!(
            setup("{}").unwrap().trash_retention,
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            setup(r#"{"trash_retention_days": 0}"#)
                .unwrap()
                .trash_retention,
            None
        );
        assert!(setup(r#"{"trash_retention_days": -1}"#).is_err());
    }

    #[test]
    fn health_gateway_errors_name_the_index() {
        let e = HealthConfig::from_file(
            &file(
                HEALTH_FILE,
                r#"{"gateways": ["http://127.0.0.1:8080", "nope"]}"#,
            )
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("gateways[1]"), "{e}");
        let h = HealthConfig::from_file(&file(HEALTH_FILE, r#"{"public_gateways": []}"#).unwrap())
            .unwrap();
        assert!(h.public_gateways.is_empty());
        assert_eq!(h.interval, Duration::from_secs(30));
        assert_eq!(h.silence_threshold, Dbfs(-50.0));
    }
}
