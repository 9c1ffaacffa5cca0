//! The station's library: scan the music and jingles folders, probe audio, fingerprint sources.
//!
//! What the scan leaves out, per file, while the rest goes on:
//! - hidden entries (names starting with `.`: the station's own temp files among them);
//! - playlists and other files that only point at audio ([`NOT_AUDIO_EXTENSIONS`]:
//!   `.m3u8`, `.m3u`, `.pls`, `.cue`, `.txt`, ...), skipped without a word; ffprobe would
//!   "probe" an HLS playlist or an ffconcat list as audio and read the files it names
//!   (the probe refuses those formats too, whatever the name: [`NOT_AUDIO_FORMATS`]);
//! - names that are not valid UTF-8, each reported with the reason (the name shown
//!   lossily, with `�` for the bytes that are not UTF-8). They are refused rather than
//!   supported because everything the station writes about a source is UTF-8 text:
//!   `manifest.json` and `last_setup.json` (JSON strings), the `#EXTINF` titles of the
//!   live playlist, the console's JSON. Carrying such a name losslessly would need an
//!   encoding of its own in each of them; renaming the file is the operator's one-step
//!   fix, and the report names the file so they can.

pub mod catalog;
mod ffprobe;
pub mod tool;

use serde::{Deserialize, Serialize};

use crate::station::text;

/// What an item is in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A piece of music from `music_dir`.
    Track,
    /// A station ID / jingle from `jingles_dir`; never counts as a track.
    Jingle,
}

/// Identity of a source file's content: SHA-256 of every byte plus the size.
///
/// Renaming or moving a file keeps its fingerprint; any change of content changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceFingerprint {
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
}

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A source that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFailure {
    /// The file (or dangling link).
    pub path: PathBuf,
    /// Why it is not used.
    pub reason: String,
}

/// File extensions (lowercase) of playlists and lists that only point at audio: the
/// scan skips them and import refuses them.
pub const NOT_AUDIO_EXTENSIONS: &[&str] = &[
    "m3u", "m3u8", "pls", "cue", "txt", "xspf", "asx", "wpl", "ffconcat",
];

/// ffprobe format names of playlists and lists (an HLS playlist, an ffconcat list),
/// refused by [`probe`] whatever the file is called: their "audio" is other files.
pub const NOT_AUDIO_FORMATS: &[&str] = &["hls", "applehttp", "concat"];

/// Why `path` is not taken as a source by its name alone: a playlist extension
/// ([`NOT_AUDIO_EXTENSIONS`]) or a name that is not valid UTF-8. `None` when the name is
/// fine.
pub fn refused_by_name(path: &Path) -> Option<String> {
    if path.to_str().is_none() {
        return Some(
            "the file name is not valid UTF-8 (shown with \u{fffd} for the bytes that are not): rename it; the station keeps every name as UTF-8 text (manifest, playlists, console)"
                .into(),
        );
    }
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    NOT_AUDIO_EXTENSIONS.contains(&ext.as_str()).then(|| {
        format!("a playlist or list (.{ext}), not audio: add the audio files it names instead")
    })
}

/// `path` as text, lossily (`\u{fffd}` for bytes that are not UTF-8), as a path: for
/// reports that must serialize (JSON strings are UTF-8).
pub fn lossy(path: &Path) -> PathBuf {
    PathBuf::from(path.to_string_lossy().into_owned())
}

/// Candidate source files of one folder, before probing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files (symlinks followed), sorted by their path relative to the folder.
    pub files: Vec<PathBuf>,
    /// Entries that cannot be read (dangling links, unreadable folders, link loops) or
    /// whose names are not valid UTF-8.
    pub failures: Vec<SourceFailure>,
    /// Playlists and lists skipped by their extension ([`NOT_AUDIO_EXTENSIONS`]), sorted.
    pub skipped: Vec<PathBuf>,
}

/// What ffprobe found in a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// Duration in seconds.
    pub duration: f64,
    /// Title (tag, else from an `Artist - Title.ext` file name, else the file stem).
    pub title: String,
    /// Artist (tag, else from the file name), when known.
    pub artist: Option<String>,
    /// Album (`album` tag), when the source has it.
    #[serde(default)]
    pub album: Option<String>,
    /// ISRC (`isrc` or `TSRC` tag), when the source has it.
    #[serde(default)]
    pub isrc: Option<String>,
    /// Codec of the first audio stream (e.g. `vorbis`, `mp3`).
    pub codec: String,
    /// Sample rate of the first audio stream, Hz.
    pub sample_rate: u32,
    /// Channels of the first audio stream.
    pub channels: u32,
    /// Whether the file carries cover art: a video stream that ffprobe marks as an
    /// attached picture (`disposition.attached_pic`); dropped by `-vn`.
    pub has_cover_art: bool,
}

/// Lists the candidate files under `dir`, recursively: hidden entries (names starting
/// with `.`) and playlists ([`NOT_AUDIO_EXTENSIONS`]) are skipped, symlinks are followed
/// (a link loop or a dangling link is a failure), a file or folder whose path is not
/// valid UTF-8 is a failure (reported with its name shown lossily, see the module
/// docs), the result is sorted by relative path for a stable rotation. A missing `dir`
/// is an empty listing. Every path in [`Listing::files`] is valid UTF-8; every path in
/// [`Listing::failures`] is too (lossy where the real one is not).
pub fn list_candidates(dir: &Path) -> Listing {
    let mut out = Listing::default();
    if dir.to_str().is_none() {
        out.failures.push(SourceFailure {
            path: lossy(dir),
            reason: "the folder's path is not valid UTF-8: rename it (the station keeps every name as UTF-8 text)".into(),
        });
        return out;
    }
    let mut seen_dirs = HashSet::new();
    let mut files = Vec::new();
    walk(
        dir,
        dir,
        &mut seen_dirs,
        &mut files,
        &mut out.failures,
        &mut out.skipped,
    );
    out.skipped.sort();
    files.sort_by(|a: &(String, PathBuf), b| a.0.cmp(&b.0));
    out.files = files.into_iter().map(|(_, p)| p).collect();
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    files: &mut Vec<(String, PathBuf)>,
    failures: &mut Vec<SourceFailure>,
    skipped: &mut Vec<PathBuf>,
) {
    let Ok(canon) = dir.canonicalize() else {
        return;
    };
    if !seen.insert(canon) {
        failures.push(SourceFailure {
            path: dir.to_path_buf(),
            reason: "folder link loop (skipped)".into(),
        });
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => return,
        Err(e) => {
            failures.push(SourceFailure {
                path: dir.to_path_buf(),
                reason: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    for entry in rd.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.to_str().is_none() {
            let what = if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                "the folder name is not valid UTF-8: its files are not used; rename it (the station keeps every name as UTF-8 text)".to_string()
            } else {
                refused_by_name(&path).unwrap_or_default()
            };
            failures.push(SourceFailure {
                path: lossy(&path),
                reason: what,
            });
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(root, &path, seen, files, failures, skipped),
            Ok(m) if m.is_file() && refused_by_name(&path).is_some() => skipped.push(path),
            Ok(m) if m.is_file() => {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((rel, path));
            }
            Ok(_) => failures.push(SourceFailure {
                path,
                reason: "not a regular file".into(),
            }),
            Err(e) => failures.push(SourceFailure {
                path,
                reason: if std::fs::symlink_metadata(entry.path())
                    .is_ok_and(|m| m.file_type().is_symlink())
                {
                    "dangling symbolic link".into()
                } else {
                    e.to_string()
                },
            }),
        }
    }
}

/// SHA-256 and size of a file, streamed (constant memory).
///
/// Errors: [`Error::Io`] naming the file.
pub fn fingerprint(path: &Path) -> Result<SourceFingerprint> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(SourceFingerprint {
        sha256: hex::encode(h.finalize()),
        bytes,
    })
}

/// The item id of a source: `t-` (track) or `j-` (jingle) and the first 16 hex digits of
/// its SHA-256, so a renamed or moved file keeps its id.
pub fn item_id(kind: ItemKind, fp: &SourceFingerprint) -> String {
    let p = match kind {
        ItemKind::Track => "t",
        ItemKind::Jingle => "j",
    };
    format!("{p}-{}", &fp.sha256[..16.min(fp.sha256.len())])
}

/// The argument that names `path` to ffmpeg/ffprobe as a plain file: `file:` + absolute
/// path, so a name starting with `-` or holding `:` can be neither an option nor a
/// protocol.
pub fn ffmpeg_input(path: &Path) -> std::ffi::OsString {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = std::ffi::OsString::from("file:");
    s.push(abs.as_os_str());
    s
}

/// `(title, artist)` from a file stem shaped `[NN - |NN. ]Artist - Title`: a leading
/// track number is dropped, the first ` - ` splits artist from title (both made
/// display-safe, as tags are).
pub fn from_file_name(path: &Path) -> (String, Option<String>) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    let stem = if (1..=3).contains(&digits) {
        let rest = &stem[digits..];
        rest.strip_prefix(" - ")
            .or_else(|| rest.strip_prefix(". "))
            .map_or(stem.clone(), str::to_string)
    } else {
        stem
    };
    match stem
        .split_once(" - ")
        .map(|(a, t)| (text::tag_text(a), text::tag_text(t)))
    {
        Some((Some(a), Some(t))) => (t, Some(a)),
        _ => (text::display_text(&stem, text::MAX_TAG_CHARS), None),
    }
}

/// Probes `path` with ffprobe (argument vector, never a shell), within 30 s
/// ([`tool::Tools::default`]).
///
/// ffprobe's JSON is read into types, liberally (a field missing or sent as another
/// type reads as unknown). The first audio stream gives the codec, sample rate and
/// channels; the container's duration, else that stream's, is the duration; tags are
/// looked up without regard to case, the container's before the stream's, and made
/// display-safe. A video stream that ffprobe marks as an attached picture
/// (`disposition.attached_pic`: ID3 `APIC`, FLAC `PICTURE`, MP4 `covr`) is cover art
/// ([`AudioInfo::has_cover_art`]); a video stream that is not one is a film, and the file
/// is refused. A video stream without any `attached_pic` flag (an ffprobe that does not
/// report dispositions) counts as cover art, so such an ffprobe turns no music away.
///
/// Errors: [`Error::BadSource`] for an empty, truncated, corrupt or non-audio file (with
/// ffprobe's reason), a playlist ([`NOT_AUDIO_EXTENSIONS`], [`NOT_AUDIO_FORMATS`]), a
/// name that is not valid UTF-8, a video (an audio stream beside a video stream that is
/// not an attached picture, e.g. an MP4 music video: the reason names its codec and the
/// ffmpeg command that takes the audio out), one without a known positive duration, or
/// one ffprobe did not finish within its limit (it is killed); [`Error::Io`] when the
/// file cannot be read; [`Error::ToolMissing`] without ffprobe.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    probe_with(path, &tool::Tools::default())
}

/// [`probe`] with the ffprobe and the time limit of `tools`.
///
/// Errors: as [`probe`].
pub fn probe_with(path: &Path, tools: &tool::Tools) -> Result<AudioInfo> {
    let bad = |reason: String| Error::BadSource {
        file: lossy(path),
        reason,
    };
    if let Some(reason) = refused_by_name(path) {
        return Err(bad(reason));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() == 0 {
        return Err(bad("empty file".into()));
    }
    let cmd = tool::command(
        &tools.ffprobe,
        [
            "-v".into(),
            "error".into(),
            "-print_format".into(),
            "json".into(),
            "-show_format".into(),
            "-show_streams".into(),
            ffmpeg_input(path),
        ],
    )?;
    let out = tool::run("ffprobe", cmd, tools.probe_limit, None)?;
    if out.timed_out {
        return Err(bad(format!(
            "ffprobe did not finish within {} s and was stopped (a damaged file, or not audio)",
            tools.probe_limit.as_secs_f64()
        )));
    }
    if out.stdout_truncated {
        return Err(bad(format!(
            "ffprobe described it in more than {} MiB: not a usable source",
            tool::STDOUT_MAX_BYTES >> 20
        )));
    }
    if !out.status.success() {
        let err = &out.stderr;
        let last = err.lines().last().unwrap_or("").trim();
        // ffprobe prefixes the input name ("file:/abs/path: ..."): the file is named already.
        let input = ffmpeg_input(path).to_string_lossy().to_string();
        let last = last
            .strip_prefix(&format!("{input}: "))
            .unwrap_or(last)
            .to_string();
        return Err(bad(format!(
            "not readable audio ({})",
            if last.is_empty() {
                "ffprobe failed".into()
            } else {
                last
            }
        )));
    }
    let probe = ffprobe::parse(&out.stdout).map_err(|e| bad(format!("ffprobe output: {e}")))?;
    let format = probe.format.format_name.as_deref().unwrap_or("");
    if let Some(f) = format
        .split(',')
        .find(|f| NOT_AUDIO_FORMATS.contains(&f.trim()))
    {
        return Err(bad(format!(
            "a playlist or list ({f}), not audio: add the audio files it names instead"
        )));
    }
    let audio = probe
        .streams
        .iter()
        .find(|s| s.is("audio"))
        .ok_or_else(|| bad("not audio (no audio stream found)".into()))?;
    // Cover art is a picture ffprobe marks as attached; any other video stream is a
    // film. An ffprobe that does not say (no `disposition`) keeps the file.
    let (pictures, films): (Vec<_>, Vec<_>) = probe
        .streams
        .iter()
        .filter(|s| s.is("video"))
        .partition(|s| s.disposition.attached_pic != Some(false));
    if let Some(film) = films.first() {
        return Err(bad(video_reason(path, film, audio)));
    }
    let has_cover_art = !pictures.is_empty();
    let duration = probe.format.duration.or(audio.duration).unwrap_or(0.0);
    if !(duration.is_finite() && duration > 0.05) {
        return Err(bad("no usable duration (truncated or not audio)".into()));
    }
    // A "text file named .mp3" can still be parsed by a lenient demuxer; require a codec.
    let codec = audio.codec_name.clone().unwrap_or_default();
    if codec.is_empty() {
        return Err(bad("not audio (unknown codec)".into()));
    }
    let tag = |key: &str| -> Option<String> {
        [&probe.format.tags, &audio.tags]
            .into_iter()
            .flat_map(|tags| tags.values(key))
            .find_map(text::tag_text)
    };
    let (name_title, name_artist) = from_file_name(path);
    let title = tag("title").unwrap_or(name_title);
    let artist = tag("artist")
        .or_else(|| tag("album_artist"))
        .or(name_artist);
    Ok(AudioInfo {
        duration,
        title,
        artist,
        album: tag("album"),
        isrc: tag("isrc").or_else(|| tag("tsrc")),
        codec,
        sample_rate: whole(audio.sample_rate),
        channels: whole(audio.channels),
        has_cover_art,
    })
}

/// `n` as a `u32` when it is one (finite, not negative, in range; a fraction is cut),
/// else 0.
fn whole(n: Option<f64>) -> u32 {
    n.filter(|n| n.is_finite() && (0.0..=f64::from(u32::MAX)).contains(n))
        .map_or(0, |n| n as u32)
}

/// Why a file with a moving-picture stream (`film`, not cover art) is refused, and how to
/// take its audio out: `audio`'s codec copied into a container that holds it.
fn video_reason(path: &Path, film: &ffprobe::Stream, audio: &ffprobe::Stream) -> String {
    let codec = |s: &ffprobe::Stream| {
        s.codec_name
            .as_deref()
            .map(|c| text::display_text(c, 32))
            .filter(|c| !c.is_empty())
    };
    let what = codec(film).map_or("a video stream".to_string(), |c| {
        format!("{c} video stream")
    });
    let input = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| (1..=8).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map_or("in".to_string(), |e| format!("in.{e}"));
    let output = match codec(audio).as_deref() {
        Some("aac" | "alac") => "m4a",
        Some("mp3") => "mp3",
        Some("flac") => "flac",
        Some("opus") => "opus",
        Some("vorbis") => "ogg",
        _ => "mka",
    };
    format!(
        "a video ({what}), not audio: add its audio instead, taken out without re-encoding with `ffmpeg -i {input} -vn -c:a copy out.{output}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(path: &Path, secs: f64, extra: &[&str]) {
        crate::bench::lavfi_audio(path, "sine=frequency=440", secs, extra).unwrap();
    }

    #[test]
    fn probe_reads_tags_file_names_and_refuses_non_audio() {
        let d = tempfile::tempdir().unwrap();
        let tagged = d.path().join("x.mp3");
        gen(
            &tagged,
            2.0,
            &[
                "-metadata",
                "title=The Title",
                "-metadata",
                "artist=The Artist",
            ],
        );
        let i = probe(&tagged).unwrap();
        assert_eq!(
            (i.title.as_str(), i.artist.as_deref()),
            ("The Title", Some("The Artist"))
        );
        assert!((i.duration - 2.0).abs() < 0.1);
        assert_eq!(i.codec, "mp3");
        let named = d.path().join("-Some Artist - Some Title.wav");
        gen(&named, 1.0, &[]);
        let i = probe(&named).unwrap();
        assert_eq!(
            (i.title.as_str(), i.artist.as_deref()),
            ("Some Title", Some("-Some Artist"))
        );
        let numbered = d
            .path()
            .join("03 - Robert van Herk - Architectural Contemplations.flac");
        gen(&numbered, 1.0, &[]);
        let i = probe(&numbered).unwrap();
        assert_eq!(
            (i.title.as_str(), i.artist.as_deref()),
            ("Architectural Contemplations", Some("Robert van Herk"))
        );
        for ext in ["ogg", "opus", "flac", "m4a"] {
            let p = d.path().join(format!("a.{ext}"));
            gen(&p, 1.0, &[]);
            assert!(probe(&p).is_ok(), "{ext}");
        }
        let empty = d.path().join("empty.mp3");
        std::fs::write(&empty, b"").unwrap();
        assert!(probe(&empty).unwrap_err().to_string().contains("empty"));
        let text = d.path().join("text.mp3");
        std::fs::write(&text, "hello, this is text, not audio\n".repeat(20)).unwrap();
        let e = probe(&text).unwrap_err().to_string();
        assert!(e.contains("text.mp3"), "{e}");
    }

    /// Runs ffmpeg with `args` (quiet, overwriting), asserting success.
    fn ffmpeg(args: &[&str], out: &Path) {
        let st = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .arg(out)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    /// Issue 24: cover art is a video stream marked as an attached picture, whatever
    /// the container; the rest of the probe is unchanged by it.
    #[test]
    fn attached_pictures_are_cover_art() {
        let d = tempfile::tempdir().unwrap();
        let plain = d.path().join("plain.mp3");
        gen(&plain, 2.0, &[]);
        assert!(!probe(&plain).unwrap().has_cover_art);
        let picture = [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64:d=1",
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-frames:v",
            "1",
            "-disposition:v",
            "attached_pic",
            "-metadata",
            "title=With a Cover",
        ];
        for (name, extra) in [
            ("cover.mp3", &["-c:v", "mjpeg", "-id3v2_version", "3"][..]),
            ("cover.flac", &["-c:v", "png"]),
            ("cover.m4a", &["-c:a", "aac", "-c:v", "mjpeg"]),
        ] {
            let p = d.path().join(name);
            ffmpeg(&[&picture[..], extra].concat(), &p);
            let i = probe(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(i.has_cover_art, "{name}: {i:?}");
            assert_eq!(i.title, "With a Cover", "{name}");
            assert!((i.duration - 2.0).abs() < 0.1, "{name}: {i:?}");
        }
    }

    /// Issue 24: a real video (a music video: h264 beside the audio) is not cover art;
    /// it is refused as a video, with the command that takes the audio out.
    #[test]
    fn videos_are_refused_as_videos() {
        let d = tempfile::tempdir().unwrap();
        let film = [
            "-f",
            "lavfi",
            "-i",
            "testsrc=d=3:s=160x120",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-shortest",
        ];
        for (name, extra, out) in [
            ("clip.mp4", &[][..], "out.m4a"),
            ("clip.mkv", &["-c:a", "libvorbis"], "out.ogg"),
        ] {
            let p = d.path().join(name);
            ffmpeg(&[&film[..], extra].concat(), &p);
            let e = probe(&p).unwrap_err();
            assert!(matches!(e, Error::BadSource { .. }), "{name}: {e}");
            let reason = e.reason();
            assert!(
                reason.starts_with("a video (h264 video stream), not audio"),
                "{name}: {reason}"
            );
            let ext = name.rsplit('.').next().unwrap();
            assert!(
                reason.contains(&format!("`ffmpeg -i in.{ext} -vn -c:a copy {out}`")),
                "{name}: {reason}"
            );
            assert!(e.to_string().contains(name), "{e}");
        }
        // Without audio, a video is what it was before: no audio stream.
        let silent = d.path().join("silent.mp4");
        ffmpeg(&["-f", "lavfi", "-i", "testsrc=d=1:s=160x120"], &silent);
        let e = probe(&silent).unwrap_err().to_string();
        assert!(e.contains("no audio stream"), "{e}");
    }

    #[test]
    fn listing_is_sorted_skips_hidden_and_reports_dangling_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::write(d.path().join("b/c/z.ogg"), b"1").unwrap();
        std::fs::write(d.path().join("a.ogg"), b"2").unwrap();
        std::fs::write(d.path().join(".hidden.ogg"), b"3").unwrap();
        std::os::unix::fs::symlink(d.path().join("nope"), d.path().join("dangling.ogg")).unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("b/loop")).unwrap();
        let l = list_candidates(d.path());
        let names: Vec<String> = l
            .files
            .iter()
            .map(|p| {
                p.strip_prefix(d.path())
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.ogg", "b/c/z.ogg"]);
        assert!(l.failures.iter().any(|f| f.reason.contains("dangling")));
        assert!(list_candidates(&d.path().join("missing")).files.is_empty());
    }

    /// Issue 11: a name that is not UTF-8 is a failure naming the file (lossily), per
    /// file; a playlist dropped among the music is skipped; a folder with such a name is
    /// one failure; the rest is listed.
    #[test]
    fn non_utf8_names_fail_per_file_and_playlists_are_skipped() {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("good.ogg"), b"1").unwrap();
        let bad = d
            .path()
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9 \xff.mp3"));
        std::fs::write(&bad, b"2").unwrap();
        let bad_dir = d.path().join(std::ffi::OsStr::from_bytes(b"dir \xfe"));
        std::fs::create_dir(&bad_dir).unwrap();
        std::fs::write(bad_dir.join("inside.ogg"), b"3").unwrap();
        for p in [
            "live.m3u8",
            "list.M3U",
            "radio.pls",
            "album.cue",
            "notes.txt",
        ] {
            std::fs::write(d.path().join(p), b"#EXTM3U\n").unwrap();
        }
        let l = list_candidates(d.path());
        assert_eq!(l.files, vec![d.path().join("good.ogg")]);
        assert_eq!(l.skipped.len(), 5, "{:?}", l.skipped);
        assert_eq!(l.failures.len(), 2, "{:?}", l.failures);
        for f in &l.failures {
            assert!(f.path.to_str().is_some(), "lossy: {:?}", f.path);
            assert!(
                f.reason.contains("UTF-8") && f.reason.contains("rename"),
                "{f:?}"
            );
            // The failures serialize (the console and last_setup.json are JSON).
            serde_json::to_string(f).unwrap();
        }
        assert!(l.failures.iter().any(|f| f
            .path
            .to_string_lossy()
            .contains("caf\u{fffd} \u{fffd}.mp3")));
        let e = probe(&bad).unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        serde_json::to_string(&e.to_string()).unwrap();
    }

    /// ffprobe reads an HLS playlist or an ffconcat list as audio: refused by name and,
    /// under any other name, by format.
    #[test]
    fn playlists_are_refused_by_name_and_by_format() {
        let d = tempfile::tempdir().unwrap();
        crate::bench::encode_lavfi_hls("sine=frequency=440", 12.0, 6.0, d.path()).unwrap();
        let e = probe(&d.path().join("index.m3u8")).unwrap_err().to_string();
        assert!(e.contains("playlist") && e.contains(".m3u8"), "{e}");
        let disguised = d.path().join("song.mp3");
        std::fs::copy(d.path().join("index.m3u8"), &disguised).unwrap();
        let e = probe(&disguised).unwrap_err().to_string();
        assert!(e.contains("playlist") && e.contains("hls"), "{e}");
        let list = d.path().join("list.ogg");
        std::fs::write(&list, "ffconcat version 1.0\nfile seg_00000.ts\n").unwrap();
        let e = probe(&list).unwrap_err().to_string();
        assert!(e.contains("concat"), "{e}");
    }

    /// A stalled ffprobe is stopped at its limit and reported for that file.
    #[test]
    fn a_stalled_ffprobe_is_stopped_at_its_limit() {
        let d = tempfile::tempdir().unwrap();
        let shim = d.path().join("ffprobe");
        std::fs::write(&shim, "#!/bin/sh\nsleep 300\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let src = d.path().join("a.wav");
        gen(&src, 1.0, &[]);
        let tools = tool::Tools {
            ffprobe: shim.into_os_string(),
            probe_limit: std::time::Duration::from_millis(700),
            ..tool::Tools::default()
        };
        let t = std::time::Instant::now();
        let e = probe_with(&src, &tools).unwrap_err();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(4),
            "{:?}",
            t.elapsed()
        );
        assert!(matches!(e, Error::BadSource { .. }), "{e}");
        assert!(e.to_string().contains("did not finish within 0.7 s"), "{e}");
        assert!(probe(&src).is_ok(), "the real ffprobe still works");
    }

    #[test]
    fn ids_follow_content_not_names() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"same").unwrap();
        std::fs::write(d.path().join("b"), b"same").unwrap();
        let (fa, fb) = (
            fingerprint(&d.path().join("a")).unwrap(),
            fingerprint(&d.path().join("b")).unwrap(),
        );
        assert_eq!(fa, fb);
        assert_eq!(fa.bytes, 4);
        assert_eq!(
            item_id(ItemKind::Track, &fa),
            format!("t-{}", &fa.sha256[..16])
        );
        assert_ne!(
            item_id(ItemKind::Track, &fa),
            item_id(ItemKind::Jingle, &fa)
        );
    }
}
