//! The station's site: what the IPNS name points at (issue 12).
//!
//! `https://<gateway>/ipns/<name>/` is the one link an operator shares. The name points
//! at a UnixFS directory the publisher rebuilds for every published window:
//!
//! ```text
//! index.html listener.js style.css vendor/   the listener page (embedded in the binary)
//! live.m3u8                                  the live window, segment URIs relative: s/<media sequence>.ts
//! station.json                               station, now playing, next up, programme, history
//! history.json                               the as-run log of the last 24 hours
//! s/<media sequence>.ts                      every segment of the window and SITE_PAST seconds before it
//! ```
//!
//! Everything the page and the playlist load is relative to the site, so it resolves
//! the same on a path gateway (`/ipns/<name>/s/12.ts`) and on a subdomain gateway
//! (`<name>.ipns.<gateway>/s/12.ts`, where absolute `/ipfs/...` paths break). A segment
//! is linked by the CID setup gave it: no segment byte is added twice.
//!
//! Why `dag/put` (Kubo core/commands/dag/put.go) and not MFS: the directory is a plain
//! dag-pb node (UnixFS `Data` = Directory; go-codec-dagpb's `PBNode` with named links,
//! boxo ipld/unixfs/pb) that the publisher writes in dag-json and Kubo stores as
//! dag-pb, so the whole site costs two `dag/put` per publish (the `s/` directory, then
//! the root, pinned recursively) plus one multipart `add` of `live.m3u8` and
//! `station.json`. MFS would need a `files/cp` per new segment, a `files/rm` per old
//! one and a `files/stat` for the root CID: tens of RPCs per publish, and a mutable
//! tree to keep consistent across crashes. The page's files are added once per
//! streamer (one `add`, wrapped, pinned) and linked by CID from every root.
//!
//! Why past segments: a player's segment requests go through the IPNS name again, and
//! gateway nodes behind one load balancer hold different views of it. A node with a
//! fresher root than the player's playlist must still hold the older segments the
//! player asks for ([`SITE_PAST`] of them); a node with a staler root holds the newer
//! ones because every published window reaches `lookahead_segments` past the live edge.

use crate::air::history::AsRunEntry;
use crate::air::listener;
use crate::air::retry::Steps;
use crate::error::{Error, Result};
use crate::kubo::Kubo;
use crate::library::ItemKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Seconds of aired segments kept linked in `s/` (ten minutes: gateways whose view of
/// the name is that much fresher than a player's playlist still serve what it asks for).
pub const SITE_PAST: f64 = 600.0;
/// The live playlist's name in the site.
pub const PLAYLIST_FILE: &str = "live.m3u8";
/// The folder of segment links in the site.
pub const SEGMENTS_DIR: &str = "s";
/// `station.json`'s format version.
pub const STATION_FORMAT: u32 = 1;
/// The site's copy of the as-run log of the last [`HISTORY_HOURS`].
pub const HISTORY_FILE: &str = "history.json";
/// Hours of the as-run log the site carries.
pub const HISTORY_HOURS: i64 = 24;
/// Bytes of the blocks `history.json` is cut into when added (`chunker=size-16384`).
/// It changes once an item, at its end; its front moves on whole hours only
/// ([`history_since`]). Cut into small blocks, each version shares every block but the
/// last few with the one before, so Kubo stores kilobytes per aired item instead of the
/// whole day's log again (about 170 KB at a day's end).
pub const HISTORY_CHUNK: usize = 16 * 1024;

/// Where `history.json` starts at `now`: the start of the hour [`HISTORY_HOURS`]
/// before the hour of `now` (so it holds 24 to 25 hours, and its first bytes change
/// once an hour, not with every item: see [`HISTORY_CHUNK`]). Entries whose air start
/// is at or after it are in.
pub fn history_since(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour = now.timestamp().div_euclid(3600) * 3600;
    DateTime::<Utc>::from_timestamp(hour, 0).unwrap_or(now) - chrono::Duration::hours(HISTORY_HOURS)
}

/// `history.json`: the as-run log's entries since [`history_since`] (the last
/// [`HISTORY_HOURS`] hours, from a whole hour), oldest
/// first, as `data/state/history.jsonl` holds them ([`AsRunEntry`]: air start and end,
/// item id, kind, title, artist, album, ISRC, seconds, block, media sequence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteHistory {
    /// 1.
    pub format: u32,
    /// How many hours back it reaches.
    pub hours: i64,
    /// The entries, oldest first.
    pub items: Vec<AsRunEntry>,
}

/// The relative URI of the segment with media sequence `sequence` in the site's
/// `live.m3u8`: `s/<sequence>.ts` (the `.ts` extension satisfies players that check it,
/// like ffmpeg's HLS demuxer).
pub fn segment_uri(sequence: u64) -> String {
    format!("{SEGMENTS_DIR}/{sequence}.ts")
}

/// One named link of a UnixFS directory.
pub use crate::kubo::unixfs::{directory_node, Link};

/// One segment the site links, as `stream_state.json` keeps it
/// ([`crate::air::streamer::StreamState::site_segments`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSegment {
    /// Its media sequence number (`s/<sequence>.ts`).
    pub sequence: u64,
    /// Its CID.
    pub cid: String,
    /// When it ends on air (UTC).
    pub end: DateTime<Utc>,
}

/// The segments linked in `s/`: the window's and the [`SITE_PAST`] seconds before it,
/// by media sequence.
#[derive(Debug, Clone, Default)]
pub struct SiteSegments {
    by_sequence: BTreeMap<u64, (String, DateTime<Utc>)>,
}

impl SiteSegments {
    /// The segments a streamer linked before it stopped (saved with its state), so a
    /// restarted one links the same past: players whose playlist predates the restart
    /// still find what they ask for. Later entries of a sequence win.
    pub fn from_saved(saved: &[SiteSegment]) -> SiteSegments {
        let mut s = SiteSegments::default();
        for e in saved {
            s.insert(e.sequence, &e.cid, e.end);
        }
        s
    }

    /// Every segment linked, oldest first, for saving.
    pub fn saved(&self) -> Vec<SiteSegment> {
        self.by_sequence
            .iter()
            .map(|(s, (c, e))| SiteSegment {
                sequence: *s,
                cid: c.clone(),
                end: *e,
            })
            .collect()
    }

    /// Records the segment `sequence` (its CID, its end on air). A sequence seen again
    /// with another CID (a new stream) replaces the old one.
    pub fn insert(&mut self, sequence: u64, cid: &str, end: DateTime<Utc>) {
        self.by_sequence.insert(sequence, (cid.to_string(), end));
    }

    /// Drops segments that ended more than [`SITE_PAST`] seconds before `now`, and every
    /// segment past `newest` (a stream restarted behind them).
    pub fn trim(&mut self, now: DateTime<Utc>, newest: u64) {
        let horizon = now - chrono::Duration::milliseconds((SITE_PAST * 1000.0) as i64);
        self.by_sequence
            .retain(|seq, (_, end)| *end >= horizon && *seq <= newest);
    }

    /// The links of `s/`: `<sequence>.ts` -> CID, oldest first.
    pub fn links(&self) -> Vec<(u64, String)> {
        self.by_sequence
            .iter()
            .map(|(s, (c, _))| (*s, c.clone()))
            .collect()
    }

    /// How many segments are linked.
    pub fn len(&self) -> usize {
        self.by_sequence.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_sequence.is_empty()
    }
}

/// An item as `station.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteItem {
    /// Title (without the artist).
    pub title: String,
    /// Artist, when known.
    pub artist: Option<String>,
    /// `track` or `jingle`.
    pub kind: ItemKind,
    /// Air time of its first segment (UTC, RFC 3339 with milliseconds).
    pub air_start: String,
    /// Seconds it airs.
    pub duration: f64,
}

impl SiteItem {
    /// From an as-run entry.
    pub fn aired(e: &AsRunEntry) -> SiteItem {
        SiteItem {
            title: e.title.clone(),
            artist: e.artist.clone(),
            kind: e.kind,
            air_start: rfc3339(e.air_start),
            duration: e.duration,
        }
    }
}

/// A programme block's span in `station.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteBlock {
    /// The block's name (`default` outside every block).
    pub block: String,
    /// When it starts (UTC, RFC 3339).
    pub start: String,
    /// When it ends (UTC, RFC 3339).
    pub end: String,
}

/// `station.json`: what the page (and any other app) shows besides the stream. The page
/// reads every field as optional (ui/listener/listener.js `normStation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationJson {
    /// [`STATION_FORMAT`].
    pub format: u32,
    /// The station's name.
    pub station: String,
    /// The IPNS name the site is published under (`k51...`, base36: it fits a DNS
    /// label on subdomain gateways).
    pub ipns_name: Option<String>,
    /// The live playlist, relative to the site: [`PLAYLIST_FILE`].
    pub stream: String,
    /// When this was rendered (UTC, RFC 3339).
    pub updated_at: String,
    /// The item on air.
    pub now_playing: Option<SiteItem>,
    /// The next items, in air order.
    pub next_up: Vec<SiteItem>,
    /// The programme blocks of the next 24 hours (empty without a schedule).
    pub programme: Vec<SiteBlock>,
    /// The last items aired before the one on air, oldest first.
    pub history: Vec<SiteItem>,
}

/// RFC 3339 with milliseconds, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The page's part of every root: `index.html`, `listener.js`, `style.css`, `vendor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLinks {
    /// The top-level links of the page's directory.
    pub links: Vec<Link>,
}

/// Adds the listener page's files (as embedded, [`listener::page_files`]) as one wrapped
/// directory (one multipart `add`, pinned) and returns its top-level entries, to be
/// linked from every root.
///
/// Errors: as [`listener::page_files`] and [`Kubo::add_tree`]; [`Error::KuboResponse`]
/// when a top-level entry is missing from the reply.
pub async fn add_page(kubo: &Kubo) -> Result<PageLinks> {
    let files = listener::page_files()?;
    let mut top: Vec<String> = files
        .iter()
        .map(|(p, _)| p.split('/').next().unwrap_or(p).to_string())
        .collect();
    top.dedup();
    let added = kubo.add_tree(files, true).await?;
    let links = top
        .iter()
        .map(|name| {
            added
                .iter()
                .find(|a| &a.name == name)
                .map(|a| Link {
                    name: name.clone(),
                    cid: a.cid.clone(),
                    tsize: Some(a.size),
                })
                .ok_or_else(|| Error::KuboResponse {
                    endpoint: "/api/v0/add".into(),
                    message: format!("the reply has no line for the page's `{name}`"),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PageLinks { links })
}

/// One site as published: its root CID and what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedSite {
    /// The root directory's CID (`/ipfs/<root>` is what the name points at).
    pub root: String,
    /// The `s/` directory's CID.
    pub segments_dir: String,
    /// The CID of `live.m3u8`.
    pub playlist: String,
    /// The link of `history.json`, to reuse while it does not change.
    pub history: Option<Link>,
}

/// `history.json` for a put: its bytes to add, or the link of the same bytes added
/// before (the as-run log changes once an item, the site every window).
#[derive(Debug, Clone, Copy)]
pub enum HistoryPart<'a> {
    /// Add these bytes.
    Add(&'a [u8]),
    /// Link this, added before.
    Linked(&'a Link),
}

/// Puts one site into Kubo: `live.m3u8`, `station.json` (and `history.json` when it
/// changed) in one `add` in blocks of [`HISTORY_CHUNK`] (not pinned on their own: the
/// root pins them), the `s/`
/// directory of `segments` (`(media sequence, CID)`) and the root (page, playlist,
/// station.json, history.json, `s`), pinned recursively. Three RPCs, each retried in
/// place ([`Steps::step`]): what an earlier one returned
/// is kept. The segments and the page must already be in the node.
///
/// Errors: as [`Kubo::add_files`] and [`Kubo::dag_put_dag_pb`], once a step's tries are
/// spent.
pub async fn put_site(
    kubo: &Kubo,
    steps: &mut Steps<'_>,
    page: &PageLinks,
    playlist: &str,
    station_json: &[u8],
    history: HistoryPart<'_>,
    segments: &[(u64, String)],
) -> Result<PublishedSite> {
    let mut files = vec![
        (PLAYLIST_FILE.to_string(), playlist.as_bytes().to_vec()),
        (listener::STATION_FILE.to_string(), station_json.to_vec()),
    ];
    if let HistoryPart::Add(bytes) = history {
        files.push((HISTORY_FILE.to_string(), bytes.to_vec()));
    }
    let mut added = steps
        .step("the site's add", || {
            kubo.add_files_chunked(files.clone(), false, Some(HISTORY_CHUNK))
        })
        .await?;
    if let HistoryPart::Linked(l) = history {
        added.push(crate::kubo::Added {
            name: HISTORY_FILE.into(),
            cid: l.cid.clone(),
            size: l.tsize.unwrap_or(0),
        });
    }
    let seg_links: Vec<Link> = segments
        .iter()
        .map(|(seq, cid)| Link {
            name: format!("{seq}.ts"),
            cid: cid.clone(),
            tsize: None,
        })
        .collect();
    let s_node = directory_node(&seg_links);
    let s = steps
        .step("the s/ directory's dag/put", || {
            kubo.dag_put_dag_pb(&s_node, false)
        })
        .await?;
    let mut links = page.links.clone();
    links.extend(added.iter().map(|a| Link {
        name: a.name.clone(),
        cid: a.cid.clone(),
        tsize: Some(a.size),
    }));
    links.push(Link {
        name: SEGMENTS_DIR.into(),
        cid: s.clone(),
        tsize: None,
    });
    let root_node = directory_node(&links);
    let root = steps
        .step("the root's dag/put", || {
            kubo.dag_put_dag_pb(&root_node, true)
        })
        .await?;
    let find = |name: &str| added.iter().find(|a| a.name == name);
    Ok(PublishedSite {
        root,
        segments_dir: s,
        playlist: find(PLAYLIST_FILE)
            .map(|a| a.cid.clone())
            .unwrap_or_default(),
        history: find(HISTORY_FILE).map(|a| Link {
            name: HISTORY_FILE.into(),
            cid: a.cid.clone(),
            tsize: Some(a.size),
        }),
    })
}

/// Where listeners go: `<gateway>/ipns/<name>/` for the local gateway and each public
/// one (a subdomain gateway such as dweb.link or Kubo's `localhost` redirects that path
/// to `<name>.ipns.<gateway>/`, where the site works the same).
pub fn listen_urls(name: &str, local: &str, public: &[String]) -> Vec<(String, String)> {
    let mut out = vec![(
        "local".to_string(),
        format!("{}/ipns/{name}/", local.trim_end_matches('/')),
    )];
    for g in public {
        let label = g.split("://").nth(1).unwrap_or(g).trim_end_matches('/');
        out.push((
            label.to_string(),
            format!("{}/ipns/{name}/", g.trim_end_matches('/')),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_node_is_sorted_dag_json_with_directory_data() {
        let n = directory_node(&[
            Link {
                name: "s".into(),
                cid: "bafybeis".into(),
                tsize: None,
            },
            Link {
                name: "index.html".into(),
                cid: "QmIndex".into(),
                tsize: Some(12),
            },
            Link {
                name: "live.m3u8".into(),
                cid: "QmLive".into(),
                tsize: Some(3),
            },
        ]);
        assert_eq!(n["Data"]["/"]["bytes"], "CAE");
        let names: Vec<&str> = n["Links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["index.html", "live.m3u8", "s"]);
        assert_eq!(n["Links"][0]["Hash"]["/"], "QmIndex");
        assert_eq!(n["Links"][0]["Tsize"], 12);
        assert!(n["Links"][2].get("Tsize").is_none());
        // Sorted by bytes, as dag-pb wants: "10.ts" before "9.ts".
        let s = directory_node(&[
            Link {
                name: "9.ts".into(),
                cid: "a".into(),
                tsize: None,
            },
            Link {
                name: "10.ts".into(),
                cid: "b".into(),
                tsize: None,
            },
        ]);
        assert_eq!(s["Links"][0]["Name"], "10.ts");
    }

    #[test]
    fn site_segments_keep_ten_minutes_of_the_past_and_nothing_past_a_restart() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut s = SiteSegments::default();
        for i in 0..200u64 {
            s.insert(
                i,
                &format!("cid{i}"),
                t0 + chrono::Duration::seconds(6 * (i as i64 + 1)),
            );
        }
        let now = t0 + chrono::Duration::seconds(6 * 150);
        s.trim(now, 199);
        let links = s.links();
        // Segments ending at or after now - 600 s: end 6(i+1) >= 900 - 600 -> i >= 49.
        assert_eq!(links.first().unwrap().0, 49);
        assert_eq!(links.last().unwrap().0, 199);
        s.trim(now, 120);
        assert_eq!(s.links().last().unwrap().0, 120);
        assert_eq!(segment_uri(42), "s/42.ts");
        // What a restarted streamer gets back from its saved state is what it linked.
        let json = serde_json::to_string(&s.saved()).unwrap();
        let back =
            SiteSegments::from_saved(&serde_json::from_str::<Vec<SiteSegment>>(&json).unwrap());
        assert_eq!(back.links(), s.links());
    }

    #[test]
    fn history_starts_on_the_whole_hour_a_day_before() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(
            history_since(at("2026-12-01T14:10:31Z")),
            at("2026-11-30T14:00:00Z")
        );
        assert_eq!(
            history_since(at("2026-12-01T14:59:59.999Z")),
            at("2026-11-30T14:00:00Z")
        );
        assert_eq!(
            history_since(at("2026-12-01T15:00:00Z")),
            at("2026-11-30T15:00:00Z")
        );
    }

    #[test]
    fn listen_urls_are_the_site_on_every_gateway() {
        let u = listen_urls(
            "k51abc",
            "http://127.0.0.1:8080/",
            &["https://dweb.link".into(), "https://ipfs.io/".into()],
        );
        assert_eq!(
            u,
            [
                (
                    "local".to_string(),
                    "http://127.0.0.1:8080/ipns/k51abc/".to_string()
                ),
                (
                    "dweb.link".to_string(),
                    "https://dweb.link/ipns/k51abc/".to_string()
                ),
                (
                    "ipfs.io".to_string(),
                    "https://ipfs.io/ipns/k51abc/".to_string()
                ),
            ]
        );
    }
}
