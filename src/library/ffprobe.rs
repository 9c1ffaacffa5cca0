//! ffprobe's description of a file (`-print_format json -show_format -show_streams`), read
//! into types.
//!
//! Only the fields [`super::probe`] uses are read; the rest is ignored. The reading is
//! liberal, because builds and versions of ffprobe differ in how they send a value:
//! - every field may be missing (the default: `None`, empty, no streams);
//! - a number may come as a string and a string as a number: ffprobe 5.1 writes
//!   `sample_rate` and `duration` as strings (`print_val`, `print_time`) and `channels`
//!   and the dispositions as numbers (`print_int`), see `fftools/ffprobe.c`
//!   `show_stream`; a string that starts with a number (`"44100 Hz"`, from `-unit`)
//!   reads as that number;
//! - a value of a type that makes no sense for its field (an object for a number, a
//!   string for the stream list) reads as missing, as does one stream or tag of such a
//!   type, and the rest is kept.
//!
//! Only output that is not JSON at all is an error.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// What ffprobe said about a file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Probe {
    /// The file's streams, in ffprobe's order.
    #[serde(deserialize_with = "streams")]
    pub streams: Vec<Stream>,
    /// The container.
    #[serde(deserialize_with = "or_default")]
    pub format: Format,
}

/// One stream of the file (`streams[]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Stream {
    /// Codec (`mp3`, `aac`, `h264`, `mjpeg`, ...).
    #[serde(deserialize_with = "text")]
    pub codec_name: Option<String>,
    /// `audio`, `video`, `subtitle`, `data`, `attachment`.
    #[serde(deserialize_with = "text")]
    pub codec_type: Option<String>,
    /// Sample rate, Hz (audio streams).
    #[serde(deserialize_with = "number")]
    pub sample_rate: Option<f64>,
    /// Channels (audio streams).
    #[serde(deserialize_with = "number")]
    pub channels: Option<f64>,
    /// Duration, seconds, when the container gives one per stream.
    #[serde(deserialize_with = "number")]
    pub duration: Option<f64>,
    /// The stream's disposition flags.
    #[serde(deserialize_with = "or_default")]
    pub disposition: Disposition,
    /// The stream's tags.
    #[serde(deserialize_with = "tags")]
    pub tags: Tags,
}

impl Stream {
    /// Whether ffprobe calls this stream `kind` (`"audio"`, `"video"`).
    pub fn is(&self, kind: &str) -> bool {
        self.codec_type.as_deref() == Some(kind)
    }
}

/// A stream's disposition (`streams[].disposition`): only the flag the probe reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Disposition {
    /// `attached_pic`: the stream is one picture attached to the file (cover art from an
    /// ID3 `APIC` frame, a FLAC `PICTURE` block, an MP4 `covr` atom, a Matroska image
    /// attachment, a QuickTime chapter image), not a moving picture. `None` when ffprobe
    /// did not say.
    #[serde(deserialize_with = "flag")]
    pub attached_pic: Option<bool>,
}

/// The container (`format`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Format {
    /// Demuxer names, comma-separated (`mp3`, `mov,mp4,m4a,3gp,3g2,mj2`, `hls`).
    #[serde(deserialize_with = "text")]
    pub format_name: Option<String>,
    /// Duration, seconds.
    #[serde(deserialize_with = "number")]
    pub duration: Option<f64>,
    /// The container's tags.
    #[serde(deserialize_with = "tags")]
    pub tags: Tags,
}

/// Tags as ffprobe sent them (keys in the case the file has: `title`, `TITLE`), sorted
/// by key; numbers sent as tag values are kept as their text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// The values whose key is `key`, compared without regard to ASCII case, in key order.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads ffprobe's JSON output.
///
/// Errors: only when `json` is not JSON (see the module docs for what is taken).
pub(crate) fn parse(json: &[u8]) -> serde_json::Result<Probe> {
    Ok(serde_json::from_slice::<Lenient<Probe>>(json)?.or_default())
}

/// A JSON scalar as it was sent, whatever its field expects.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Flag(bool),
    /// `null`, an object, an array.
    Other(IgnoredAny),
}

impl Scalar {
    /// A number, or a string that starts with one (`"44100"`, `"44100 Hz"`).
    fn number(self) -> Option<f64> {
        match self {
            Scalar::Text(s) => s.split_whitespace().next()?.parse().ok(),
            Scalar::Int(i) => Some(i as f64),
            Scalar::UInt(u) => Some(u as f64),
            Scalar::Float(f) => Some(f),
            Scalar::Flag(_) | Scalar::Other(_) => None,
        }
    }

    /// A string, or a number as its text.
    fn text(self) -> Option<String> {
        match self {
            Scalar::Text(s) => Some(s),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::UInt(u) => Some(u.to_string()),
            Scalar::Float(f) => Some(f.to_string()),
            Scalar::Flag(_) | Scalar::Other(_) => None,
        }
    }

    /// A flag: `1`/`0` (ffprobe's way), `true`/`false`, or either as a string.
    fn flag(self) -> Option<bool> {
        match self {
            Scalar::Flag(b) => Some(b),
            Scalar::Text(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Scalar::Text(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            other => other.number().map(|n| n != 0.0),
        }
    }
}

/// A `T`, or anything else (then `T::default()`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Value(T),
    Other(IgnoredAny),
}

impl<T: Default> Lenient<T> {
    fn or_default(self) -> T {
        match self {
            Lenient::Value(v) => v,
            Lenient::Other(_) => T::default(),
        }
    }
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Scalar::deserialize(d)?.number())
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Scalar::deserialize(d)?.text())
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Scalar::deserialize(d)?.flag())
}

fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Lenient::<T>::deserialize(d)?.or_default())
}

/// The stream list; an entry that is not an object is left out.
fn streams<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Stream>, D::Error> {
    let all: Vec<Lenient<Stream>> = or_default(d)?;
    Ok(all
        .into_iter()
        .filter_map(|s| match s {
            Lenient::Value(s) => Some(s),
            Lenient::Other(_) => None,
        })
        .collect())
}

/// A tags object; a value that is neither a string nor a number is left out.
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
    let all: BTreeMap<String, Scalar> = or_default(d)?;
    Ok(Tags(
        all.into_iter()
            .filter_map(|(k, v)| Some((k, v.text()?)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers sent as strings and strings as numbers, fields missing or of a type that
    /// makes no sense, extra fields: each field reads as what it can be, the rest as
    /// missing.
    #[test]
    fn parses_liberally() {
        let json = br#"{
            "streams": [
                {"index": 0, "codec_name": "flac", "codec_type": "audio",
                 "sample_rate": 48000, "channels": "2", "duration": 12.5,
                 "disposition": {"default": 1, "attached_pic": 0},
                 "tags": {"TITLE": "Song", "track": 3, "odd": {"x": 1}, "gone": null},
                 "some_future_field": [1, 2, 3]},
                "not a stream",
                {"codec_type": "video", "codec_name": "png",
                 "disposition": {"attached_pic": "1"}},
                {"codec_type": "video", "codec_name": "h264", "disposition": {}},
                {"codec_type": "video", "disposition": {"attached_pic": true},
                 "sample_rate": {"hz": 1}, "channels": null, "tags": "none"},
                {}
            ],
            "format": {"format_name": "flac", "duration": "12.500000 s",
                       "tags": {"title": "Other"}}
        }"#;
        let p = parse(json).unwrap();
        assert_eq!(p.streams.len(), 5, "the string entry is left out: {p:?}");
        let a = &p.streams[0];
        assert!(a.is("audio"));
        assert_eq!(a.codec_name.as_deref(), Some("flac"));
        assert_eq!(
            (a.sample_rate, a.channels, a.duration),
            (Some(48000.0), Some(2.0), Some(12.5))
        );
        assert_eq!(a.disposition.attached_pic, Some(false));
        assert_eq!(a.tags.values("title").collect::<Vec<_>>(), ["Song"]);
        assert_eq!(a.tags.values("TRACK").collect::<Vec<_>>(), ["3"]);
        assert_eq!(a.tags.0.len(), 2, "{:?}", a.tags);
        assert_eq!(p.streams[1].disposition.attached_pic, Some(true));
        assert_eq!(p.streams[2].disposition.attached_pic, None);
        assert_eq!(p.streams[2].codec_name.as_deref(), Some("h264"));
        let odd = &p.streams[3];
        assert_eq!(odd.disposition.attached_pic, Some(true));
        assert_eq!((odd.sample_rate, odd.channels), (None, None));
        assert_eq!(odd.codec_name, None);
        assert!(odd.tags.0.is_empty());
        assert_eq!(p.streams[4], Stream::default());
        assert_eq!(p.format.format_name.as_deref(), Some("flac"));
        assert_eq!(p.format.duration, Some(12.5));
        assert_eq!(p.format.tags.values("TITLE").collect::<Vec<_>>(), ["Other"]);
    }

    #[test]
    fn missing_or_misshapen_sections_read_as_empty() {
        for json in [
            &b"{}"[..],
            b"[]",
            b"null",
            b"3",
            br#"{"streams": "none", "format": null}"#,
            br#"{"streams": [], "format": {"duration": "N/A"}}"#,
        ] {
            assert_eq!(
                parse(json).unwrap(),
                Probe::default(),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        assert!(parse(b"{\"streams\": [").is_err());
        assert!(parse(b"not json").is_err());
    }
}
