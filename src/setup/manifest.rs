//! `manifest.json` and `playlist.m3u`: what was prechunked, with CIDs, and the rotation.
//!
//! Both live in the processed folder (`data/processed/`), the streamer's only input, and
//! are written atomically. `manifest.json` lists every item with its source fingerprint,
//! the hash of the encode settings that produced it, loudness and its segments
//! (`{file, cid, duration, bytes}`). `playlist.m3u` is the rotation in air order as
//! extended M3U, one entry per item, each pointing at the item's own `index.m3u8`.

use crate::error::{Error, Result};
use crate::library::{ItemKind, SourceFingerprint};
use crate::setup::prechunk::Loudness;
use crate::station::text;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File name of the manifest inside the processed folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the rotation playlist inside the processed folder.
pub const PLAYLIST_FILE: &str = "playlist.m3u";
/// Folder of per-item segment folders inside the processed folder.
pub const ITEMS_DIR: &str = "items";
/// Current manifest format version.
pub const MANIFEST_FORMAT: u32 = 1;

/// `manifest.json`: every prechunked item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// Hash of the encode settings that produced the items (hex SHA-256).
    pub config_hash: String,
    /// Configured target segment duration in seconds.
    pub segment_duration: f64,
    /// Tracks between jingles used for `playlist.m3u`.
    pub jingle_cycle: u32,
    /// Every item, tracks then jingles, each in library order.
    pub items: Vec<ManifestItem>,
}

/// One prechunked source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestItem {
    /// Item id, derived from the source's content (e.g. `t-0123456789abcdef`).
    pub id: String,
    /// Track or jingle.
    pub kind: ItemKind,
    /// Title (from tags or the file name).
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// Album, when the source's tags have it (for the as-run log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// ISRC, when the source's tags have it (for the as-run log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isrc: Option<String>,
    /// Source path as found (absolute).
    pub source: PathBuf,
    /// Source content fingerprint.
    pub source_fingerprint: SourceFingerprint,
    /// Source modification time (seconds since the Unix epoch), to skip re-hashing
    /// unchanged files.
    pub source_mtime: i64,
    /// Duration in seconds (sum of the segment durations).
    pub duration: f64,
    /// Loudness normalization applied, `None` when off.
    pub loudness: Option<Loudness>,
    /// Hash of the encode settings that produced the segments.
    pub encode_hash: String,
    /// Segments in play order.
    pub segments: Vec<ManifestSegment>,
}

/// One segment of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSegment {
    /// File name inside `items/<id>/`.
    pub file: String,
    /// CID once added to Kubo; `None` while Kubo was unreachable.
    pub cid: Option<String>,
    /// Duration in seconds.
    pub duration: f64,
    /// Size in bytes.
    pub bytes: u64,
}

impl ManifestItem {
    /// `Artist - Title`, or the title alone: the `#EXTINF` title of the item's segments.
    /// Goes through [`text::display_text`] (capped at `2 * MAX_TAG_CHARS + 3` characters), so
    /// a manifest written before import sanitized tags, or edited by hand, still cannot
    /// break a playlist line or carry a control character.
    pub fn display_title(&self) -> String {
        let s = match &self.artist {
            Some(a) if !a.is_empty() => format!("{a} - {}", self.title),
            _ => self.title.clone(),
        };
        text::display_text(&s, 2 * text::MAX_TAG_CHARS + 3)
    }

    /// Whether every segment has a CID.
    pub fn has_all_cids(&self) -> bool {
        self.segments.iter().all(|s| s.cid.is_some())
    }
}

/// A safe file name inside an item folder: no separators, no `..`, not empty.
fn safe_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

impl Manifest {
    /// Path of the manifest in `processed_dir`.
    pub fn path(processed_dir: &Path) -> PathBuf {
        processed_dir.join(MANIFEST_FILE)
    }

    /// Reads `manifest.json` from `processed_dir` and checks it.
    ///
    /// Errors: [`Error::Io`] when missing, [`Error::Parse`] when not JSON of this shape,
    /// [`Error::Manifest`] when inconsistent (duplicate ids, unsafe file names, empty or
    /// non-positive segment durations).
    pub fn load(processed_dir: &Path) -> Result<Manifest> {
        let file = Self::path(processed_dir);
        let mut m: Manifest = crate::station::atomic::read_json(&file)?;
        m.check(&file)?;
        m.sanitize_text();
        Ok(m)
    }

    /// Puts every item's title, artist, album and ISRC through [`text::tag_text`], as import
    /// does, so a manifest written by an older version or edited by hand shows the same
    /// plain text on every surface. A title left empty becomes the item id.
    pub fn sanitize_text(&mut self) {
        for it in &mut self.items {
            it.title = text::tag_text(&it.title).unwrap_or_else(|| it.id.clone());
            for field in [&mut it.artist, &mut it.album, &mut it.isrc] {
                *field = field.as_deref().and_then(text::tag_text);
            }
        }
    }

    fn check(&self, file: &Path) -> Result<()> {
        let bad = |message: String| Error::Manifest {
            file: file.to_path_buf(),
            message,
        };
        if self.format != MANIFEST_FORMAT {
            return Err(bad(format!(
                "format {} is not supported (expected {MANIFEST_FORMAT})",
                self.format
            )));
        }
        let mut seen = HashSet::new();
        for it in &self.items {
            if !safe_name(&it.id) || !seen.insert(it.id.as_str()) {
                return Err(bad(format!("item id `{}` is unsafe or duplicated", it.id)));
            }
            if it.segments.is_empty() {
                return Err(bad(format!("item `{}` has no segments", it.id)));
            }
            for s in &it.segments {
                if !safe_name(&s.file) {
                    return Err(bad(format!(
                        "item `{}`: unsafe segment file name `{}`",
                        it.id, s.file
                    )));
                }
                if !(s.duration.is_finite() && s.duration > 0.0 && s.duration < 3600.0) {
                    return Err(bad(format!(
                        "item `{}`: segment `{}` has duration {}",
                        it.id, s.file, s.duration
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes `manifest.json` atomically into `processed_dir`, only when its contents
    /// changed (so an unchanged setup does not wake the streamer). Returns whether it wrote.
    ///
    /// Errors: [`Error::Io`].
    pub fn save(&self, processed_dir: &Path) -> Result<bool> {
        let file = Self::path(processed_dir);
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(&file, std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        write_if_changed(&file, &bytes)
    }

    /// The CID of every segment that has one, item by item (a CID twice when two
    /// segments have the same bytes).
    pub fn segment_cids(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .flat_map(|i| &i.segments)
            .filter_map(|s| s.cid.as_deref())
    }

    /// The item with `id`.
    pub fn item(&self, id: &str) -> Option<&ManifestItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// Writes `bytes` to `file` atomically unless it already holds exactly them.
pub(crate) fn write_if_changed(file: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(file).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    crate::station::atomic::write_atomic(file, bytes)?;
    Ok(true)
}

/// The relative URI of an item's playlist inside the processed folder.
pub fn item_playlist_uri(id: &str) -> String {
    format!("{ITEMS_DIR}/{id}/index.m3u8")
}

/// Renders `playlist.m3u`: `#EXTM3U`, then per rotation entry
/// `#EXTINF:<whole seconds>,<Artist - Title>` and `items/<id>/index.m3u8`.
///
/// Errors: [`Error::Manifest`] when an id is not in `manifest`.
pub fn render_playlist(manifest: &Manifest, rotation_ids: &[&str]) -> Result<String> {
    let mut out = String::from("#EXTM3U\n#PLAYLIST:IPFS Station rotation\n");
    for id in rotation_ids {
        let item = manifest.item(id).ok_or_else(|| Error::Manifest {
            file: PathBuf::from(PLAYLIST_FILE),
            message: format!("rotation names item `{id}` that the manifest does not have"),
        })?;
        out.push_str(&format!(
            "#EXTINF:{},{}\n{}\n",
            item.duration.round() as i64,
            item.display_title(),
            item_playlist_uri(id)
        ));
    }
    if let Some((line, c)) = text::first_unsafe_line(&out) {
        return Err(Error::Manifest {
            file: PathBuf::from(PLAYLIST_FILE),
            message: format!(
                "refusing to write line {line}: it holds U+{:04X}, a line break or control character",
                c as u32
            ),
        });
    }
    Ok(out)
}

/// Writes `playlist.m3u` into `processed_dir` atomically when it changed; returns whether
/// it wrote.
///
/// Errors: [`Error::Io`].
pub fn save_playlist(processed_dir: &Path, contents: &str) -> Result<bool> {
    write_if_changed(&processed_dir.join(PLAYLIST_FILE), contents.as_bytes())
}

/// Reads `playlist.m3u` from `processed_dir` into the rotation's item ids, in air order.
///
/// Accepts entries written as `items/<id>/index.m3u8` (as [`render_playlist`] writes
/// them) or a bare `<id>`; comment and tag lines (`#...`) and blank lines are skipped.
///
/// Errors: [`Error::Io`] when unreadable; [`Error::Manifest`] naming the line for an
/// entry that is not an item reference, or when it holds no entries.
pub fn load_playlist(processed_dir: &Path) -> Result<Vec<String>> {
    let file = processed_dir.join(PLAYLIST_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = line
            .strip_prefix(&format!("{ITEMS_DIR}/"))
            .and_then(|r| r.strip_suffix("/index.m3u8"))
            .unwrap_or(line);
        if !safe_name(id) {
            return Err(Error::Manifest {
                file: file.clone(),
                message: format!("line {}: `{line}` is not an item entry", n + 1),
            });
        }
        ids.push(id.to_string());
    }
    if ids.is_empty() {
        return Err(Error::Manifest {
            file,
            message: "the rotation is empty".into(),
        });
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn item(id: &str, kind: ItemKind, durs: &[f64]) -> ManifestItem {
        ManifestItem {
            id: id.into(),
            kind,
            title: format!("Title {id}"),
            artist: Some("Artist".into()),
            album: None,
            isrc: None,
            source: PathBuf::from(format!("/src/{id}.ogg")),
            source_fingerprint: SourceFingerprint {
                sha256: "00".repeat(32),
                bytes: 1,
            },
            source_mtime: 0,
            duration: durs.iter().sum(),
            loudness: None,
            encode_hash: "h".into(),
            segments: durs
                .iter()
                .enumerate()
                .map(|(i, d)| ManifestSegment {
                    file: format!("seg_{i:05}.ts"),
                    cid: Some(format!("Qm{id}{i}")),
                    duration: *d,
                    bytes: 1000,
                })
                .collect(),
        }
    }

    #[test]
    fn manifest_round_trips_and_is_written_only_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            format: MANIFEST_FORMAT,
            config_hash: "abc".into(),
            segment_duration: 6.0,
            jingle_cycle: 3,
            items: vec![item("t-1", ItemKind::Track, &[6.0, 2.5])],
        };
        assert!(m.save(dir.path()).unwrap());
        assert!(!m.save(dir.path()).unwrap());
        assert_eq!(Manifest::load(dir.path()).unwrap(), m);
    }

    #[test]
    fn inconsistent_manifest_is_rejected_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest {
            format: MANIFEST_FORMAT,
            config_hash: "abc".into(),
            segment_duration: 6.0,
            jingle_cycle: 3,
            items: vec![item("t-1", ItemKind::Track, &[6.0])],
        };
        m.items[0].segments[0].file = "../../etc/passwd".into();
        m.save(dir.path()).unwrap();
        let e = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json") && e.contains("unsafe"), "{e}");
    }

    #[test]
    fn playlist_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            format: MANIFEST_FORMAT,
            config_hash: "abc".into(),
            segment_duration: 6.0,
            jingle_cycle: 3,
            items: vec![
                item("j-1", ItemKind::Jingle, &[4.0]),
                item("t-1", ItemKind::Track, &[6.0, 6.0]),
            ],
        };
        let text = render_playlist(&m, &["j-1", "t-1", "j-1"]).unwrap();
        assert!(text.starts_with("#EXTM3U\n"));
        assert!(text.contains("#EXTINF:12,Artist - Title t-1\nitems/t-1/index.m3u8\n"));
        save_playlist(dir.path(), &text).unwrap();
        assert_eq!(load_playlist(dir.path()).unwrap(), ["j-1", "t-1", "j-1"]);
        assert!(render_playlist(&m, &["nope"]).is_err());
    }

    #[test]
    fn playlist_with_a_bad_line_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PLAYLIST_FILE),
            "#EXTM3U\nitems/a/index.m3u8\n../x/y\n",
        )
        .unwrap();
        let e = load_playlist(dir.path()).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
