//! What the double holds: added files and directories by CID, pins, keys, IPNS records,
//! and a log of RPC calls.

use crate::cid;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lookup key of a CID: codec and multihash, whatever its text form (v0/v1, base).
pub(crate) type Key = (u64, Vec<u8>);

/// A stored root.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A file's bytes.
    File(Arc<Vec<u8>>),
    /// A directory's `(name, child key, child CID text)` entries, sorted by name.
    Dir(Vec<(String, Key, String)>),
}

/// A Kubo key.
#[derive(Debug, Clone)]
pub(crate) struct KeyInfo {
    pub name: String,
    pub ipns_name: String,
    pub peer_id: String,
    pub public_key: [u8; 32],
}

/// One IPNS record version.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub at: Instant,
    pub wall: std::time::SystemTime,
    pub value: String,
    pub ttl: Duration,
    pub sequence: u64,
}

/// The double's state.
#[derive(Debug)]
pub struct Store {
    pub(crate) calls: Vec<(String, String)>,
    pub(crate) entries: HashMap<Key, Entry>,
    pub(crate) pins: HashMap<Key, String>,
    pub(crate) keys: Vec<KeyInfo>,
    pub(crate) ipns: HashMap<String, Vec<Record>>,
    /// Distinct blocks of each stored file's DAG.
    pub(crate) blocks: HashMap<Key, usize>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty node with its `self` key.
    pub fn new() -> Store {
        let mut s = Store {
            calls: Vec::new(),
            entries: HashMap::new(),
            pins: HashMap::new(),
            keys: Vec::new(),
            ipns: HashMap::new(),
            blocks: HashMap::new(),
        };
        s.new_key("self");
        s
    }

    pub(crate) fn new_key(&mut self, name: &str) -> KeyInfo {
        let public_key: [u8; 32] = rand::random();
        let (ipns_name, peer_id) = cid::ed25519_names(&public_key);
        let k = KeyInfo {
            name: name.to_string(),
            ipns_name,
            peer_id,
            public_key,
        };
        self.keys.push(k.clone());
        k
    }

    pub(crate) fn key_of(cid_text: &str) -> Option<Key> {
        cid::parse(cid_text)
    }

    pub(crate) fn file(&self, cid_text: &str) -> Option<&[u8]> {
        match self.entries.get(&Self::key_of(cid_text)?)? {
            Entry::File(b) => Some(b.as_slice()),
            Entry::Dir(_) => None,
        }
    }

    pub(crate) fn pin_list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.pins.values().cloned().collect();
        v.sort();
        v
    }

    /// Resolves `/ipfs/<cid>[/a/b]` (or a bare CID) to its entry and the CIDs along the
    /// path. Errors are Kubo's messages.
    pub(crate) fn resolve(&self, path: &str) -> Result<(Entry, Vec<String>), String> {
        let p = path
            .strip_prefix("/ipfs/")
            .unwrap_or(path.trim_start_matches('/'));
        let mut parts = p.split('/').filter(|s| !s.is_empty());
        let root = parts
            .next()
            .ok_or_else(|| "invalid path: empty".to_string())?;
        let key =
            Self::key_of(root).ok_or_else(|| format!("invalid path {path:?}: invalid cid"))?;
        let mut entry = self.entries.get(&key).cloned().ok_or_else(|| {
            "block was not found locally (offline): ipld: could not find node".to_string()
        })?;
        let mut along = vec![root.to_string()];
        for name in parts {
            let Entry::Dir(children) = &entry else {
                return Err(format!("no link named {name:?} under a file"));
            };
            let (_, k, text) = children
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| format!("no link named {name:?}"))?;
            along.push(text.clone());
            entry = self
                .entries
                .get(k)
                .cloned()
                .ok_or_else(|| "block was not found locally (offline)".to_string())?;
        }
        Ok((entry, along))
    }

    /// Nodes a recursive walk from `key` visits: a file's blocks, a directory's node plus
    /// its children's (what Kubo's pin progress counts, boxo merkledag `ProgressTracker`).
    pub(crate) fn dag_blocks(&self, key: &Key) -> usize {
        self.dag_blocks_depth(key, 0)
    }

    fn dag_blocks_depth(&self, key: &Key, depth: usize) -> usize {
        match self.entries.get(key) {
            Some(Entry::File(_)) => self.blocks.get(key).copied().unwrap_or(1),
            Some(Entry::Dir(children)) if depth < 1_000 => {
                1 + children
                    .iter()
                    .map(|(_, k, _)| self.dag_blocks_depth(k, depth + 1))
                    .sum::<usize>()
            }
            _ => 1,
        }
    }

    pub(crate) fn find_key(&self, name_or_id: &str) -> Option<&KeyInfo> {
        self.keys
            .iter()
            .find(|k| k.name == name_or_id || k.ipns_name == name_or_id || k.peer_id == name_or_id)
    }

    /// The IPNS name (`k51...`) for any accepted form (k51, peer ID).
    pub(crate) fn normalize_name(&self, name: &str) -> String {
        let n = name.trim_start_matches("/ipns/");
        self.keys
            .iter()
            .find(|k| k.peer_id == n)
            .map_or(n.to_string(), |k| k.ipns_name.clone())
    }

    pub(crate) fn ipns_current(&self, name: &str) -> Option<String> {
        let n = self.normalize_name(name);
        self.ipns.get(&n)?.last().map(|r| r.value.clone())
    }

    /// The record a resolver that cached `lag` ago would still serve.
    pub(crate) fn ipns_at(&self, name: &str, lag: Duration) -> Option<Record> {
        let n = self.normalize_name(name);
        let hist = self.ipns.get(&n)?;
        if lag.is_zero() {
            return hist.last().cloned();
        }
        let cutoff = Instant::now().checked_sub(lag)?;
        hist.iter().rev().find(|r| r.at <= cutoff).cloned()
    }
}
