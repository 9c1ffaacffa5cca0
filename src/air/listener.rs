//! The listener page: a small static web page (`ui/listener/`) that plays the station's
//! live stream from `/ipns/<name>` on whatever gateway it is opened from.
//!
//! The page's files are embedded in the binary ([`page_files`]).
//! [`publish_listener_page`] adds them plus a generated `station.json`
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

/// `listener.json` in the state folder: where the listener page was published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerRecord {
    /// The page directory's CID: listeners open `<gateway>/ipfs/<cid>/`.
    pub cid: String,
    /// The IPNS name the page plays.
    pub ipns_name: String,
    /// When it was published (UTC).
    pub published_at: chrono::DateTime<chrono::Utc>,
}

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

/// The page's files as built into this binary (see the crate's `build.rs`).
static EMBEDDED: [(&str, &[u8]); 4] = [
    (
        PAGE_FILES[0],
        include_bytes!(concat!(env!("OUT_DIR"), "/listener/index.html")),
    ),
    (
        PAGE_FILES[1],
        include_bytes!(concat!(env!("OUT_DIR"), "/listener/listener.js")),
    ),
    (
        PAGE_FILES[2],
        include_bytes!(concat!(env!("OUT_DIR"), "/listener/style.css")),
    ),
    (
        PAGE_FILES[3],
        include_bytes!(concat!(env!("OUT_DIR"), "/listener/vendor/hls.min.js")),
    ),
];

/// The listener page's files, `(relative path, bytes)`, as embedded in the binary (the
/// page needs no source checkout).
///
/// Errors: [`Error::Station`] when a file was missing at build time (an empty file is
/// embedded then), with the hint to run `scripts/listener-page.sh` and build again.
pub fn page_files() -> Result<Vec<(String, Vec<u8>)>> {
    checked(&EMBEDDED)
}

fn checked(files: &[(&str, &[u8])]) -> Result<Vec<(String, Vec<u8>)>> {
    files
        .iter()
        .map(|(rel, bytes)| {
            if bytes.is_empty() {
                Err(Error::Station {
                    dir: PathBuf::from("ui/listener"),
                    message: format!(
                        "the listener page file `{rel}` was missing when this program was built: run scripts/listener-page.sh (it fetches hls.js from the npm registry into vendor/), then build again"
                    ),
                })
            } else {
                Ok((rel.to_string(), bytes.to_vec()))
            }
        })
        .collect()
}

/// Adds the listener page (index.html, listener.js, style.css, vendor/hls.min.js, as
/// embedded) plus a `station.json` made from `station` to Kubo as one directory, in a
/// single multipart `add` request (`wrap-with-directory`, pinned), and returns the
/// directory's CID. The page is then at `/ipfs/<cid>/` on any path gateway.
///
/// Errors: as [`page_files`] and [`ListenerInfo::station_json`]; Kubo failures as
/// [`Kubo::add_directory`].
pub async fn publish_listener_page(kubo: &Kubo, station: &ListenerInfo) -> Result<String> {
    let mut files = page_files()?;
    files.push((
        STATION_FILE.to_string(),
        station.station_json(Path::new("ui/listener"))?,
    ));
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
        let e = checked(&[("index.html", b"<!DOCTYPE html>"), ("listener.js", b"")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("listener.js") && e.contains("scripts/listener-page.sh"),
            "{e}"
        );
    }

    #[test]
    fn the_page_is_embedded_whole() {
        let files = page_files().unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, PAGE_FILES);
        let index = String::from_utf8(files[0].1.clone()).unwrap();
        assert!(index.contains("listener.js"), "{index}");
    }
}
