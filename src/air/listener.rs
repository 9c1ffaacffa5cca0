//! The listener page: a small static web page (`ui/listener/`), the front of the
//! station's site ([`crate::air::site`]): at `<gateway>/ipns/<name>/` it plays
//! `live.m3u8` and reads `station.json`, both relative to itself, on path and subdomain
//! gateways alike.
//!
//! The page's files are embedded in the binary ([`page_files`]); the publisher adds them
//! once per stream and links them into every site. The page's only third-party file,
//! `vendor/hls.min.js`, comes from the npm registry through `scripts/listener-page.sh`.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// The page's files, relative to its folder, as published.
pub const PAGE_FILES: [&str; 4] = [
    "index.html",
    "listener.js",
    "style.css",
    "vendor/hls.min.js",
];

/// The file the page reads to learn what plays ([`crate::air::site::StationJson`]).
pub const STATION_FILE: &str = "station.json";

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

#[cfg(test)]
mod tests {
    use super::*;

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
