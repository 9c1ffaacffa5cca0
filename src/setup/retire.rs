//! An older version's per-segment retired list, drained; and what the streamer has on air.
//!
//! Before library roots ([`crate::setup::pins`]), setup pinned every segment on its own
//! and, when an item left the library, noted its segments in [`RETIRED_FILE`] and
//! unpinned them an hour later, which also unpinned another station's identical
//! segments on a shared Kubo. Setup no longer notes anything here: it only drains a list
//! an older version left ([`unpin_due`]), so the per-segment pins that version made do not
//! stay in Kubo for good. [`on_air_cids`] (every CID the streamer may still air) and
//! [`RETIRE_AFTER`] also guard the retirement of library roots.

use crate::error::Result;
use crate::kubo::Kubo;
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
    crate::station::atomic::read_versioned(
        &state.file(RETIRED_FILE),
        RETIRED_FORMAT,
        |p: &Retired| p.format,
        "its segments stay pinned",
    )
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
