//! The station's library: scan the music and jingles folders, probe audio, fingerprint sources.

pub mod catalog;

use serde::{Deserialize, Serialize};

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
use std::process::Command;

/// A source that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFailure {
    /// The file (or dangling link).
    pub path: PathBuf,
    /// Why it is not used.
    pub reason: String,
}

/// Candidate source files of one folder, before probing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files (symlinks followed), sorted by their path relative to the folder.
    pub files: Vec<PathBuf>,
    /// Entries that cannot be read (dangling links, unreadable folders, link loops).
    pub failures: Vec<SourceFailure>,
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
    /// Whether the file carries cover art (a video stream; dropped by `-vn`).
    pub has_cover_art: bool,
}

/// Lists the candidate files under `dir`, recursively: hidden entries (names starting
/// with `.`) are skipped, symlinks are followed (a link loop or a dangling link is a
/// failure), the result is sorted by relative path for a stable rotation. A missing
/// `dir` is an empty listing.
pub fn list_candidates(dir: &Path) -> Listing {
    let mut out = Listing::default();
    let mut seen_dirs = HashSet::new();
    let mut files = Vec::new();
    walk(dir, dir, &mut seen_dirs, &mut files, &mut out.failures);
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
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(root, &path, seen, files, failures),
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
/// track number is dropped, the first ` - ` splits artist from title.
fn from_file_name(path: &Path) -> (String, Option<String>) {
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
    match stem.split_once(" - ") {
        Some((a, t)) if !a.trim().is_empty() && !t.trim().is_empty() => {
            (t.trim().to_string(), Some(a.trim().to_string()))
        }
        _ => (stem.trim().to_string(), None),
    }
}

/// Runs a program, mapping "not installed" to [`Error::ToolMissing`].
pub(crate) fn run_tool(tool: &str, cmd: &mut Command) -> Result<std::process::Output> {
    cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::ToolMissing {
                tool: tool.into(),
                hint: "install it with `apt-get install ffmpeg` (or scripts/deps.sh)".into(),
            }
        } else {
            Error::io(tool, e)
        }
    })
}

/// Probes `path` with ffprobe (argument vector, never a shell).
///
/// Errors: [`Error::BadSource`] for an empty, truncated, corrupt or non-audio file (with
/// ffprobe's reason), or one without a known positive duration; [`Error::ToolMissing`]
/// without ffprobe.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    let bad = |reason: String| Error::BadSource {
        file: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() == 0 {
        return Err(bad("empty file".into()));
    }
    let out = run_tool(
        "ffprobe",
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
            ])
            .arg(ffmpeg_input(path)),
    )?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
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
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| bad(format!("ffprobe output: {e}")))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let audio = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .ok_or_else(|| bad("not audio (no audio stream found)".into()))?;
    let has_cover_art = streams.iter().any(|s| s["codec_type"] == "video");
    let num = |x: &serde_json::Value| {
        x.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .or_else(|| x.as_f64())
    };
    let duration = num(&v["format"]["duration"])
        .or_else(|| num(&audio["duration"]))
        .unwrap_or(0.0);
    if !(duration.is_finite() && duration > 0.05) {
        return Err(bad("no usable duration (truncated or not audio)".into()));
    }
    // A "text file named .mp3" can still be parsed by a lenient demuxer; require a codec.
    let codec = audio["codec_name"].as_str().unwrap_or("").to_string();
    if codec.is_empty() {
        return Err(bad("not audio (unknown codec)".into()));
    }
    let tag = |key: &str| -> Option<String> {
        for tags in [&v["format"]["tags"], &audio["tags"]] {
            if let Some(obj) = tags.as_object() {
                for (k, val) in obj {
                    if k.eq_ignore_ascii_case(key) {
                        if let Some(s) = val.as_str().map(str::trim).filter(|s| !s.is_empty()) {
                            return Some(s.to_string());
                        }
                    }
                }
            }
        }
        None
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
        sample_rate: audio["sample_rate"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        channels: audio["channels"].as_u64().unwrap_or(0) as u32,
        has_cover_art,
    })
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
