//! Segments that left the library are unpinned, an hour later.
//!
//! Setup pins every segment it adds (`add?pin=true`). When an item leaves the library
//! (its source removed, re-encoded with new settings, a failed re-encode), its old
//! segments are no longer in the manifest, but they may still air: the window and its
//! lookahead, the site's ten minutes of past ([`crate::air::site::SITE_PAST`]), a
//! streamer still airing the last good programme. So setup does not unpin them at once:
//! it notes them with the time they left in [`RETIRED_FILE`], and a setup run at least
//! [`RETIRE_AFTER`] later unpins those that are neither back in the manifest nor in what
//! the streamer has on air (`on_air_programme.json`, `stream_state.json`). Kubo's garbage
//! collection (`--enable-gc` on the managed daemon) then frees them; without this, every
//! track ever removed stayed in Kubo's repo for good.
//!
//! Only CIDs setup itself noted are ever unpinned: pins the operator made on a shared
//! Kubo are never touched.

use crate::error::Result;
use crate::kubo::Kubo;
use crate::setup::manifest::Manifest;
use crate::station::state::{StateDir, RETIRED_FILE, STREAM_STATE_FILE};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// How long a segment that left the manifest stays pinned: an hour, far longer than
/// any window, lookahead or the site's ten minutes of past.
pub const RETIRE_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// [`RETIRED_FILE`]'s format version.
pub const RETIRED_FORMAT: u32 = 1;

/// `data/state/retired_segments.json`: segment CIDs that left the manifest, with when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retired {
    /// [`RETIRED_FORMAT`].
    pub format: u32,
    /// CID -> when setup first saw it gone from the manifest (UTC).
    pub segments: BTreeMap<String, DateTime<Utc>>,
}

/// Loads the list (absent: empty). An unreadable one is logged and read as empty: its
/// segments then stay pinned, which loses nothing.
pub fn load(state: &StateDir) -> Retired {
    let path = state.file(RETIRED_FILE);
    match crate::station::atomic::read_json::<Retired>(&path) {
        Ok(r) if r.format == RETIRED_FORMAT => r,
        Ok(r) => {
            tracing::warn!(
                "{}: format {} is not {RETIRED_FORMAT}: its segments stay pinned",
                path.display(),
                r.format
            );
            Retired::default()
        }
        Err(crate::error::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Retired::default()
        }
        Err(e) => {
            tracing::warn!("{e}: the segments it listed stay pinned");
            Retired::default()
        }
    }
}

/// Notes the segments of `old` that `new` no longer has as retired at `now` (those
/// already noted keep their time), and forgets those `new` has again. Writes the list
/// atomically when it changed; returns it.
///
/// Errors: [`crate::error::Error::Io`] writing the list.
pub fn note(
    state: &StateDir,
    old: Option<&Manifest>,
    new: &Manifest,
    now: DateTime<Utc>,
) -> Result<Retired> {
    let mut list = load(state);
    let before = list.clone();
    list.format = RETIRED_FORMAT;
    let kept: HashSet<&str> = new.segment_cids().collect();
    if let Some(old) = old {
        for c in old.segment_cids() {
            if !kept.contains(c) {
                list.segments.entry(c.to_string()).or_insert(now);
            }
        }
    }
    list.segments.retain(|c, _| !kept.contains(c.as_str()));
    if list != before {
        crate::station::atomic::write_json_atomic(&state.file(RETIRED_FILE), &list)?;
    }
    Ok(list)
}

/// Every CID the streamer may still air: each `"cid"` string in `on_air_programme.json`
/// (the programme on air) and `stream_state.json` (the window, the saved item, the
/// site's segments). Unreadable files add nothing (their segments are then protected
/// only by [`RETIRE_AFTER`]).
pub fn on_air_cids(state: &StateDir) -> HashSet<String> {
    fn walk(v: &serde_json::Value, out: &mut HashSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("cid", serde_json::Value::String(c)) => {
                            out.insert(c.clone());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = HashSet::new();
    for f in [
        crate::air::streamer::ON_AIR_PROGRAMME_FILE,
        STREAM_STATE_FILE,
    ] {
        if let Ok(b) = std::fs::read(state.file(f)) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                walk(&v, &mut out);
            }
        }
    }
    out
}

/// What [`unpin_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Unpinned {
    /// Segments unpinned.
    pub unpinned: usize,
    /// Segments retired and still pinned (not due yet, on air, or Kubo failed).
    pub waiting: usize,
    /// Why unpinning stopped, if it did (Kubo not answering): tried again next run.
    pub error: Option<String>,
}

/// Unpins the segments of `list` retired at least [`RETIRE_AFTER`] before `now` that
/// are not in `on_air`, with `kubo`'s `pin/rm` (a CID no longer pinned counts as
/// done); removes them from the list and writes it. The first Kubo failure stops the
/// run (the rest wait for the next one).
///
/// Errors: [`crate::error::Error::Io`] writing the list.
pub async fn unpin_due(
    state: &StateDir,
    kubo: &Kubo,
    mut list: Retired,
    on_air: &HashSet<String>,
    now: DateTime<Utc>,
) -> Result<Unpinned> {
    let due: Vec<String> = list
        .segments
        .iter()
        .filter(|(c, at)| now - **at >= RETIRE_AFTER && !on_air.contains(c.as_str()))
        .map(|(c, _)| c.clone())
        .collect();
    let mut out = Unpinned::default();
    for c in due {
        match kubo.unpin(&c).await {
            Ok(()) => {
                list.segments.remove(&c);
                out.unpinned += 1;
            }
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        }
    }
    out.waiting = list.segments.len();
    if out.unpinned > 0 {
        crate::station::atomic::write_json_atomic(&state.file(RETIRED_FILE), &list)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::manifest::{ManifestItem, ManifestSegment};

    fn manifest(items: &[(&str, &[&str])]) -> Manifest {
        Manifest {
            format: crate::setup::manifest::MANIFEST_FORMAT,
            config_hash: "x".into(),
            segment_duration: 6.0,
            jingle_cycle: 3,
            items: items
                .iter()
                .map(|(id, cids)| ManifestItem {
                    id: id.to_string(),
                    kind: crate::library::ItemKind::Track,
                    title: id.to_string(),
                    artist: None,
                    album: None,
                    isrc: None,
                    source: format!("/m/{id}.flac").into(),
                    source_fingerprint: crate::library::SourceFingerprint {
                        sha256: "00".repeat(32),
                        bytes: 1,
                    },
                    source_mtime: 0,
                    duration: 6.0 * cids.len() as f64,
                    loudness: None,
                    encode_hash: "e".into(),
                    segments: cids
                        .iter()
                        .enumerate()
                        .map(|(i, c)| ManifestSegment {
                            file: format!("seg_{i:05}.ts"),
                            cid: Some(c.to_string()),
                            duration: 6.0,
                            bytes: 1,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn segments_gone_from_the_manifest_are_noted_once_and_forgotten_when_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let t0 = Utc::now();
        // "shared" is in both items (the same bytes, e.g. a silent segment).
        let old = manifest(&[("a", &["a1", "shared"]), ("b", &["b1", "shared"])]);
        let new = manifest(&[("b", &["b1", "shared"])]);
        let l = note(&state, Some(&old), &new, t0).unwrap();
        assert_eq!(l.segments.keys().collect::<Vec<_>>(), ["a1"]);
        // Noted again later: the first time stays.
        let later = t0 + chrono::Duration::minutes(5);
        let l = note(&state, Some(&new), &new, later).unwrap();
        assert_eq!(l.segments["a1"], t0);
        assert_eq!(load(&state), l, "written to {RETIRED_FILE}");
        // Back in the library before it was unpinned: forgotten.
        let l = note(&state, Some(&new), &old, later).unwrap();
        assert!(l.segments.is_empty());
        assert!(load(&state).segments.is_empty());
    }

    #[test]
    fn on_air_cids_are_every_cid_the_streamer_state_names() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        std::fs::write(
            state.file(crate::air::streamer::ON_AIR_PROGRAMME_FILE),
            r#"{"default": [{"segments": [{"cid": "p1"}, {"cid": null}]}]}"#,
        )
        .unwrap();
        std::fs::write(
            state.file(STREAM_STATE_FILE),
            r#"{"site_segments": [{"sequence": 1, "cid": "s1"}], "schedule": {"window": [{"cid": "w1"}]}}"#,
        )
        .unwrap();
        let got = on_air_cids(&state);
        let mut got: Vec<&str> = got.iter().map(String::as_str).collect();
        got.sort();
        assert_eq!(got, ["p1", "s1", "w1"]);
    }
}
