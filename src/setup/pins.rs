//! A station's pins are its own: each library version is pinned as ONE root.
//!
//! Kubo pins are per CID, not per station: two stations on one Kubo that air the same
//! jingle hold the same segment CIDs, so a station that unpinned "its" segments unpinned
//! the other's too (and `--enable-gc` then deleted them). So setup never unpins a single
//! segment. Instead:
//!
//! - **Adding**: each add request is ONE wrapped directory (`add?wrap-with-directory=true
//!   &pin=true`) holding the batch's segments and the station's `.station` file
//!   ([`station_tag`]); Kubo pins only the wrapper (core/coreunix/add.go `PinRoot`), whose
//!   CID no other station can have. The segments are safe from garbage collection from
//!   the moment they are added. Each wrapper is noted in [`LIBRARY_PINS_FILE`].
//! - **The library root**: when the run's manifest differs from the pinned root's, setup
//!   writes a UnixFS directory with `dag/put` (the way the site's directories are
//!   written, [`crate::kubo::unixfs`]): `.station`, then `segments-0000`,
//!   `segments-0001`, ... each linking up to [`LINKS_PER_NODE`] segments by
//!   `<item id>_<segment file>`, and pins it recursively, named [`pin_name`]
//!   (`ipfs-station:<IPNS key>`; `pin add --name`, Kubo 0.26+). Then the batch wrappers
//!   are unpinned: the root holds their segments now.
//! - **Retiring**: the previous version's root is unpinned only [`RETIRE_AFTER`] after
//!   it was replaced, and not while the streamer still airs a segment the new root lacks
//!   (what it has on air, [`crate::setup::retire::on_air_cids`]). A segment another
//!   station airs stays pinned through that station's root.
//! - **Migrating**: a station set up before this kept one pin per segment (`add?pin=true`
//!   of loose files). Once its first root is pinned, those pins of its current segments
//!   are removed (once; the root keeps the segments). Until every station on a shared
//!   Kubo runs this version, an older one still unpins shared segments itself.
//!
//! One root also turns thousands of pins into one, and it is what a remote pinning
//! service is sent.

use crate::error::Result;
use crate::kubo::unixfs::{directory_node, Link};
use crate::kubo::Kubo;
use crate::setup::manifest::Manifest;
use crate::setup::retire::RETIRE_AFTER;
use crate::station::state::{StateDir, LIBRARY_PINS_FILE};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

/// [`LIBRARY_PINS_FILE`]'s format version.
pub const LIBRARY_PINS_FORMAT: u32 = 1;

/// Segment links per directory node under the root: 1,024 links of ~100 bytes keep each
/// node near 100 KiB, far below Kubo's 1 MiB block limit (boxo `SoftBlockLimit`), for a
/// library of any size (the root links one node per 1,024 segments).
pub const LINKS_PER_NODE: usize = 1024;

/// Name of the station's own file in every wrapper and root.
pub const STATION_FILE: &str = ".station";

/// `data/state/library_pins.json`: what the station pinned in Kubo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryPins {
    /// [`LIBRARY_PINS_FORMAT`].
    pub format: u32,
    /// The pinned root of the current library version.
    #[serde(default)]
    pub root: Option<LibraryRoot>,
    /// Roots of earlier versions, still pinned, with when each was replaced (UTC).
    #[serde(default)]
    pub retired_roots: BTreeMap<String, DateTime<Utc>>,
    /// Wrapper directories of add requests (pinned, holding their segments until a root
    /// holds them), by CID.
    #[serde(default)]
    pub batches: Vec<String>,
    /// Whether the per-segment pins of an older version were removed.
    #[serde(default)]
    pub migrated: bool,
}

/// One pinned library root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryRoot {
    /// The root directory's CID.
    pub cid: String,
    /// SHA-256 (hex) of its segment links ([`links_hash`]): the same hash means the same
    /// root.
    pub links_hash: String,
    /// Segments it links.
    pub segments: usize,
    /// When it was pinned (UTC).
    pub pinned_at: DateTime<Utc>,
}

/// What [`pin_library`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PinReport {
    /// The root pinned now (new or kept), if any.
    pub root: Option<String>,
    /// Whether a new root was written and pinned in this run.
    pub new_root: bool,
    /// Earlier roots unpinned in this run.
    pub roots_unpinned: usize,
    /// Earlier roots still pinned (within their hour, or the streamer still airs them).
    pub roots_waiting: usize,
    /// Add wrappers unpinned (the root holds their segments).
    pub batches_unpinned: usize,
    /// Per-segment pins of an older version removed (migration, once).
    pub migrated_pins: usize,
}

/// The pin name of the station whose IPNS key is `ipns_key`: `ipfs-station:<key>`.
pub fn pin_name(ipns_key: &str) -> String {
    format!("ipfs-station:{ipns_key}")
}

/// The bytes of the station's [`STATION_FILE`]: its pin name and a SHA-256 of its
/// folder's canonical path (so two stations never write the same wrapper or root, and
/// the path, which names the operator's account, is not published).
pub fn station_tag(ipns_key: &str, station_dir: &std::path::Path) -> Vec<u8> {
    // Canonical, so the CLI, the console and a service opening the station by other
    // spellings of its path write the same root.
    let dir = std::fs::canonicalize(station_dir).unwrap_or_else(|_| station_dir.to_path_buf());
    let dir = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    format!("{}\nstation {}\n", pin_name(ipns_key), hex(&dir[..16])).into_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Loads the state (absent or unreadable: empty, logged; an empty state makes the next
/// run pin a new root, which loses nothing).
pub fn load(state: &StateDir) -> LibraryPins {
    crate::station::atomic::read_versioned(
        &state.file(LIBRARY_PINS_FILE),
        LIBRARY_PINS_FORMAT,
        |p: &LibraryPins| p.format,
        "read as empty",
    )
}

fn save(state: &StateDir, pins: &mut LibraryPins) -> Result<()> {
    pins.format = LIBRARY_PINS_FORMAT;
    crate::station::atomic::write_json_atomic(&state.file(LIBRARY_PINS_FILE), pins)
}

/// Notes the wrapper `cid` of an add request (see the module doc).
///
/// Errors: [`crate::error::Error::Io`] writing [`LIBRARY_PINS_FILE`].
pub fn note_batch(state: &StateDir, cid: &str) -> Result<()> {
    let mut p = load(state);
    if !p.batches.iter().any(|b| b == cid) {
        p.batches.push(cid.to_string());
        save(state, &mut p)?;
    }
    Ok(())
}

/// The manifest's segments with a CID as root links: `<item id>_<segment file>`
/// (the names they were added under), `Tsize` their size in bytes, sorted by name.
pub fn segment_links(manifest: &Manifest) -> Vec<Link> {
    let mut links: Vec<Link> = manifest
        .items
        .iter()
        .flat_map(|i| {
            i.segments.iter().filter_map(move |s| {
                Some(Link {
                    name: format!("{}_{}", i.id, s.file),
                    cid: s.cid.clone()?,
                    tsize: Some(s.bytes),
                })
            })
        })
        .collect();
    links.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    links
}

/// SHA-256 (hex) over `name cid` lines of `links`.
pub fn links_hash(links: &[Link]) -> String {
    let mut h = Sha256::new();
    for l in links {
        h.update(l.name.as_bytes());
        h.update(b" ");
        h.update(l.cid.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// Pins `manifest` as the station's library root (new when its segments changed or the
/// pinned root is gone from Kubo), then unpins the add wrappers it covers, the migrated
/// per-segment pins (once) and the earlier roots that are due: replaced at least
/// [`RETIRE_AFTER`] before `now`, and only while nothing in `on_air` is missing from
/// the new root. `tag` is [`station_tag`]. Nothing is pinned while the manifest has no
/// segment with a CID.
///
/// Errors: Kubo's, from the first call that fails (the state written so far is kept;
/// the next run goes on); [`crate::error::Error::Io`] writing [`LIBRARY_PINS_FILE`].
pub async fn pin_library(
    state: &StateDir,
    kubo: &Kubo,
    manifest: &Manifest,
    ipns_key: &str,
    tag: Vec<u8>,
    on_air: &HashSet<String>,
    now: DateTime<Utc>,
) -> Result<PinReport> {
    let mut pins = load(state);
    let mut report = PinReport::default();
    let links = segment_links(manifest);
    if links.is_empty() {
        return Ok(report);
    }
    let hash = links_hash(&links);
    let recursive = kubo.recursive_pins().await?;
    let kept = pins
        .root
        .as_ref()
        .filter(|r| r.links_hash == hash && recursive.contains(&r.cid))
        .map(|r| r.cid.clone());
    let root = match kept {
        Some(c) => c,
        None => {
            let cid = put_root(kubo, &links, tag).await?;
            kubo.pin_add(&cid, &pin_name(ipns_key)).await?;
            if let Some(old) = pins.root.take() {
                if old.cid != cid {
                    pins.retired_roots.entry(old.cid).or_insert(now);
                }
            }
            pins.retired_roots.remove(&cid);
            pins.root = Some(LibraryRoot {
                cid: cid.clone(),
                links_hash: hash,
                segments: links.len(),
                pinned_at: now,
            });
            save(state, &mut pins)?;
            report.new_root = true;
            cid
        }
    };
    report.root = Some(root.clone());

    // The root holds every segment of the manifest: the add wrappers can go.
    while let Some(b) = pins.batches.first().cloned() {
        if b != root {
            kubo.unpin(&b).await?;
            report.batches_unpinned += 1;
        }
        pins.batches.remove(0);
        save(state, &mut pins)?;
    }
    if !pins.migrated {
        let own: std::collections::BTreeSet<&str> = manifest.segment_cids().collect();
        for c in own {
            if recursive.contains(c) {
                kubo.unpin(c).await?;
                report.migrated_pins += 1;
            }
        }
        pins.migrated = true;
        save(state, &mut pins)?;
    }

    // Earlier roots: after their hour, and only while the streamer airs nothing the new
    // root lacks.
    let in_root: HashSet<&str> = links.iter().map(|l| l.cid.as_str()).collect();
    let still_aired = on_air.iter().any(|c| !in_root.contains(c.as_str()));
    let due: Vec<String> = pins
        .retired_roots
        .iter()
        .filter(|(c, at)| **c != root && !still_aired && now - **at >= RETIRE_AFTER)
        .map(|(c, _)| c.clone())
        .collect();
    for c in due {
        kubo.unpin(&c).await?;
        pins.retired_roots.remove(&c);
        report.roots_unpinned += 1;
        save(state, &mut pins)?;
    }
    report.roots_waiting = pins.retired_roots.len();
    Ok(report)
}

/// Writes the root directory of `links` (see the module doc) with `dag/put`, unpinned
/// (the caller pins it by name); returns its CID.
async fn put_root(kubo: &Kubo, links: &[Link], tag: Vec<u8>) -> Result<String> {
    let tag_len = tag.len() as u64;
    let station = kubo.add_bytes(STATION_FILE, tag, true).await?;
    let mut root_links = vec![Link {
        name: STATION_FILE.into(),
        cid: station,
        tsize: Some(tag_len),
    }];
    for (i, chunk) in links.chunks(LINKS_PER_NODE).enumerate() {
        let cid = kubo.dag_put_dag_pb(&directory_node(chunk), false).await?;
        root_links.push(Link {
            name: format!("segments-{i:04}"),
            cid,
            tsize: Some(chunk.iter().filter_map(|l| l.tsize).sum()),
        });
    }
    kubo.dag_put_dag_pb(&directory_node(&root_links), false)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_station_tag_names_the_station_and_hides_its_path() {
        let a = station_tag(
            "ipfs-station-radio",
            std::path::Path::new("/home/alice/radio"),
        );
        let b = station_tag("ipfs-station-radio", std::path::Path::new("/srv/radio"));
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(text.starts_with("ipfs-station:ipfs-station-radio\nstation "));
        assert!(!text.contains("alice"));
        assert_ne!(a, b, "two stations never write the same wrapper or root");
        // One station opened by two spellings of its path: one tag.
        let d = tempfile::tempdir().unwrap();
        let st = d.path().join("radio");
        std::fs::create_dir(&st).unwrap();
        assert_eq!(
            station_tag("k", &st),
            station_tag("k", &d.path().join("./radio/../radio"))
        );
    }

    #[test]
    fn links_hash_changes_with_any_link() {
        let l = |n: &str, c: &str| Link {
            name: n.into(),
            cid: c.into(),
            tsize: Some(1),
        };
        let a = links_hash(&[l("a_seg_00000.ts", "Qm1"), l("b_seg_00000.ts", "Qm2")]);
        assert_eq!(
            a,
            links_hash(&[l("a_seg_00000.ts", "Qm1"), l("b_seg_00000.ts", "Qm2")])
        );
        assert_ne!(
            a,
            links_hash(&[l("a_seg_00000.ts", "Qm1"), l("b_seg_00000.ts", "Qm3")])
        );
        assert_ne!(a, links_hash(&[l("a_seg_00000.ts", "Qm1")]));
    }
}
