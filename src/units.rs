//! Units as types (STYLE.md "Units as types"): levels in dBFS, loudness in LUFS, audio
//! bitrates, and Kubo's Go durations. Durations in seconds are [`std::time::Duration`].
//!
//! The level types serialize as bare numbers (`#[serde(transparent)]`), so the JSON files
//! the station writes keep their shape.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A level relative to digital full scale, in dB (0 dBFS = the largest sample value;
/// silence is far below, e.g. -50 dBFS). Peak and RMS levels use it alike.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dbfs(pub f64);

impl std::fmt::Display for Dbfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} dBFS", self.0)
    }
}

/// Loudness in LUFS (EBU R128 / ITU-R BS.1770 integrated loudness, K-weighted); broadcast
/// and streaming targets sit between -23 and -14 LUFS.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lufs(pub f64);

impl std::fmt::Display for Lufs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} LUFS", self.0)
    }
}

/// An audio bitrate in kilobits per second, written as ffmpeg takes it (`128k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bitrate {
    /// Kilobits (1000 bits) per second.
    pub kbps: u32,
}

impl Bitrate {
    /// Parses ffmpeg's `<n>k` form (e.g. `128k`).
    ///
    /// Errors: the message for the operator when the text is not `<digits>k`.
    pub fn parse(text: &str) -> std::result::Result<Bitrate, String> {
        text.strip_suffix('k')
            .and_then(|n| n.parse().ok())
            .map(|kbps| Bitrate { kbps })
            .ok_or_else(|| format!("`{text}`: expected kilobits like \"128k\""))
    }
}

impl std::fmt::Display for Bitrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}k", self.kbps)
    }
}

/// A duration as Kubo takes it on the command line and RPC (`name/publish` `lifetime`,
/// `ttl`): Go's `time.ParseDuration` syntax, e.g. `48h`, `1h30m`, `5s`, `500ms`. Keeps
/// the text as the operator wrote it (it is passed to Kubo unchanged) beside its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoDuration {
    text: String,
    value: Duration,
}

impl GoDuration {
    /// Parses Go duration syntax: numbers with units ns, us, µs, ms, s, m, h (no `d`).
    ///
    /// Source: Go `time.ParseDuration`, which Kubo's `name publish` uses for
    /// `--lifetime` and `--ttl` (kubo-rpc.md section 3).
    ///
    /// Errors: the message for the operator (empty, unknown unit, bad number).
    pub fn parse(s: &str) -> std::result::Result<GoDuration, String> {
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
        let value = Duration::try_from_secs_f64(total)
            .map_err(|_| format!("`{s}` is out of range for a duration"))?;
        Ok(GoDuration {
            text: s.to_string(),
            value,
        })
    }

    /// The text as written (what is sent to Kubo).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The duration it stands for.
    pub fn duration(&self) -> Duration {
        self.value
    }
}

impl std::fmt::Display for GoDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        assert_eq!(
            GoDuration::parse("1h30m").unwrap().duration(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            GoDuration::parse("500ms").unwrap().duration(),
            Duration::from_millis(500)
        );
        assert_eq!(GoDuration::parse("48h").unwrap().as_str(), "48h");
        assert!(GoDuration::parse("h").is_err());
        assert!(GoDuration::parse("").is_err());
        assert!(GoDuration::parse("2d").unwrap_err().contains("no `d`"));
    }

    #[test]
    fn bitrates_read_and_write_ffmpeg_form() {
        assert_eq!(Bitrate::parse("128k").unwrap(), Bitrate { kbps: 128 });
        assert_eq!(Bitrate { kbps: 96 }.to_string(), "96k");
        assert!(Bitrate::parse("fast").unwrap_err().contains("128k"));
    }

    #[test]
    fn levels_serialize_as_bare_numbers() {
        assert_eq!(serde_json::to_string(&Dbfs(-12.5)).unwrap(), "-12.5");
        let l: Lufs = serde_json::from_str("-16").unwrap();
        assert_eq!(l, Lufs(-16.0));
    }
}
