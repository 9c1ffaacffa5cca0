//! The listener page: a small static web page (`ui/listener/`) that plays the station's
//! live stream from `/ipns/<name>` on whatever gateway it is opened from.
//!
//! [`publish_listener_page`] adds the page's files plus a generated `station.json`
//! (`{"ipns_name": "k51...", "title": "..."}`, which the page reads relative to itself) to
//! Kubo as ONE directory and returns its CID: listeners open
//! `http://<gateway>/ipfs/<cid>/`. The page's only third-party file,
//! `vendor/hls.min.js`, comes from the npm registry through `scripts/listener-page.sh`.

use crate::error::{Error, Result};
use crate::kubo::Kubo;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The page's files, relative to its folder, as published.
pub const PAGE_FILES: [&str; 4] = [
    "index.html",
    "listener.js",
    "style.css",
    "vendor/hls.min.js",
];

/// The file the page reads to learn which stream to play.
pub const STATION_FILE: &str = "station.json";

/// What the page shows and plays: the content of `station.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerInfo {
    /// The IPNS name the live playlist is published under (`k51...`).
    pub ipns_name: String,
    /// The station's name, shown as the page's title.
    pub title: String,
}

impl ListenerInfo {
    /// The `station.json` bytes (pretty JSON).
    ///
    /// Errors: [`Error::Station`] (naming `page_dir`) when the IPNS name is not a plain
    /// name of letters and digits (the page would refuse it).
    pub fn station_json(&self, page_dir: &Path) -> Result<Vec<u8>> {
        let name = &self.ipns_name;
        if name.len() < 10 || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::Station {
                dir: page_dir.to_path_buf(),
                message: format!(
                    "`{name}` is not an IPNS name (letters and digits, like `k51...`)"
                ),
            });
        }
        serde_json::to_vec_pretty(self).map_err(|e| Error::Station {
            dir: page_dir.to_path_buf(),
            message: format!("cannot write {STATION_FILE}: {e}"),
        })
    }
}

/// The listener page's folder in a source checkout (`<repo>/ui/listener`).
pub fn source_page_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("ui")
        .join("listener")
}

/// Reads the page's files from `page_dir`.
///
/// Errors: [`Error::Station`] when the folder or a file is missing (with the hint to run
/// `scripts/listener-page.sh` for `vendor/hls.min.js`); [`Error::Io`] naming the file
/// when it cannot be read.
pub fn read_page(page_dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if !page_dir.is_dir() {
        return Err(Error::Station {
            dir: page_dir.to_path_buf(),
            message: "the listener page folder is missing (it ships as ui/listener/; run scripts/listener-page.sh to fetch hls.js into it)".into(),
        });
    }
    let mut out = Vec::with_capacity(PAGE_FILES.len() + 1);
    for rel in PAGE_FILES {
        let path = page_dir.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => {
                return Err(Error::Station {
                    dir: page_dir.to_path_buf(),
                    message: format!(
                        "the listener page file `{rel}` is empty: run scripts/listener-page.sh"
                    ),
                })
            }
            Ok(bytes) => out.push((rel.to_string(), bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Station {
                    dir: page_dir.to_path_buf(),
                    message: format!(
                        "the listener page file `{rel}` is missing: run scripts/listener-page.sh (it fetches hls.js from the npm registry into vendor/)"
                    ),
                })
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(out)
}

/// Adds the listener page in `page_dir` (index.html, listener.js, style.css,
/// vendor/hls.min.js) plus a `station.json` made from `station` to Kubo as one directory,
/// in a single multipart `add` request (`wrap-with-directory`, pinned), and returns the
/// directory's CID. The page is then at `/ipfs/<cid>/` on any path gateway.
///
/// Errors: as [`read_page`] and [`ListenerInfo::station_json`]; Kubo failures as
/// [`Kubo::add_directory`].
pub async fn publish_listener_page(
    kubo: &Kubo,
    page_dir: &Path,
    station: &ListenerInfo,
) -> Result<String> {
    let mut files = read_page(page_dir)?;
    files.push((STATION_FILE.to_string(), station.station_json(page_dir)?));
    kubo.add_directory(files, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_json_round_trips_and_refuses_odd_names() {
        let info = ListenerInfo {
            ipns_name: "k51qzi5uqu5dexample0000000000".into(),
            title: "Night \"Shift\" FM".into(),
        };
        let bytes = info.station_json(Path::new("/x")).unwrap();
        let back: ListenerInfo = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, info);
        let bad = ListenerInfo {
            ipns_name: "../../etc".into(),
            title: String::new(),
        };
        assert_eq!(
            bad.station_json(Path::new("/x")).unwrap_err().code(),
            "station"
        );
    }

    #[test]
    fn a_missing_page_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), b"<!DOCTYPE html>").unwrap();
        let e = read_page(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("listener.js") && e.contains("scripts/listener-page.sh"),
            "{e}"
        );
    }
}
