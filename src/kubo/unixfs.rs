//! UnixFS directories as dag-pb nodes written in dag-json, for `dag/put`: the site's
//! directories ([`crate::air::site`]) and the library root a station pins
//! ([`crate::setup::pins`]).

use serde::{Deserialize, Serialize};

/// One entry of a directory node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The entry's name (no `/`).
    pub name: String,
    /// The CID it links to.
    pub cid: String,
    /// Cumulative size of the linked DAG in bytes (`Tsize`), when known.
    pub tsize: Option<u64>,
}

/// The dag-json of a UnixFS basic directory with `links` (go-codec-dagpb `PBNode`:
/// `Data` is the UnixFS protobuf `{Type: Directory}` = bytes `08 01`, base64 `CAE`
/// unpadded as dag-json writes bytes; `Links` sorted by name bytes, as dag-pb requires
/// (go-codec-dagpb marshal.go)). An absent `Tsize` is left out (it is optional).
pub fn directory_node(links: &[Link]) -> serde_json::Value {
    let mut links: Vec<&Link> = links.iter().collect();
    links.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let links: Vec<serde_json::Value> = links
        .into_iter()
        .map(|l| {
            let mut o = serde_json::json!({"Hash": {"/": l.cid}, "Name": l.name});
            if let Some(t) = l.tsize {
                o["Tsize"] = serde_json::json!(t);
            }
            o
        })
        .collect();
    serde_json::json!({"Data": {"/": {"bytes": "CAE"}}, "Links": links})
}
