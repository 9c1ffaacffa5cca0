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
    /// Parses Go duration syntax exactly as Kubo will ([`go_time::parse_duration`], a port
    /// of Go's `time.ParseDuration`, src/time/format.go): signed numbers with optional
    /// fractions and units ns, us, µs, μs, ms, s, m, h (no `d`), or a bare `0`; at most
    /// 2562047h47m16.854775807s (int64 nanoseconds), so a value Kubo would refuse at
    /// publish time is refused here. A negative duration is refused too: what this holds
    /// is an IPNS record lifetime or TTL.
    ///
    /// Source: Go `time.ParseDuration`, which Kubo's `name publish` uses for
    /// `--lifetime` and `--ttl` (kubo-rpc.md section 3).
    ///
    /// Errors: the message for the operator: Go's own (`time: invalid duration "3000000h"`,
    /// `time: missing unit in duration "5"`, `time: unknown unit "d" in duration "2d"`,
    /// the last with a reminder of the units), or that the value is negative.
    pub fn parse(s: &str) -> std::result::Result<GoDuration, String> {
        let nanos = go_time::parse_duration(s).map_err(|e| match e {
            go_time::DurationError::UnknownUnit { .. } => {
                format!("{e} (Go durations: ns, us, ms, s, m, h; no `d`)")
            }
            e => e.to_string(),
        })?;
        let nanos = u64::try_from(nanos).map_err(|_| {
            format!("`{s}` is negative: an IPNS lifetime or TTL cannot be negative")
        })?;
        Ok(GoDuration {
            text: s.to_string(),
            value: Duration::from_nanos(nanos),
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

    /// Issue 24: Go accepts a bare `0`, a leading `+` and U+03BC μ; the text is kept as
    /// written, since it goes to Kubo unchanged.
    #[test]
    fn go_durations_accept_what_go_accepts() {
        let zero = GoDuration::parse("0").unwrap();
        assert_eq!((zero.duration(), zero.as_str()), (Duration::ZERO, "0"));
        let plus = GoDuration::parse("+5s").unwrap();
        assert_eq!(
            (plus.duration(), plus.as_str()),
            (Duration::from_secs(5), "+5s")
        );
        assert_eq!(
            GoDuration::parse("12\u{3bc}s").unwrap().duration(),
            Duration::from_micros(12)
        );
        assert_eq!(
            GoDuration::parse("12\u{b5}s").unwrap().duration(),
            Duration::from_micros(12)
        );
        assert_eq!(
            GoDuration::parse("2562047h").unwrap().duration(),
            Duration::from_secs(2562047 * 3600)
        );
    }

    /// Issue 24: past int64 nanoseconds (Go's limit, ~2562047h) is refused here, not by
    /// Kubo at publish time; a negative lifetime or TTL is refused with its reason.
    #[test]
    fn go_durations_refuse_what_go_or_ipns_refuses() {
        let e = GoDuration::parse("2562048h").unwrap_err();
        assert_eq!(e, r#"time: invalid duration "2562048h""#);
        let e = GoDuration::parse("-5s").unwrap_err();
        assert!(e.contains("`-5s`") && e.contains("negative"), "{e}");
        // "-0" is zero in Go, not negative.
        assert_eq!(GoDuration::parse("-0").unwrap().duration(), Duration::ZERO);
        assert_eq!(
            GoDuration::parse("5").unwrap_err(),
            r#"time: missing unit in duration "5""#
        );
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
