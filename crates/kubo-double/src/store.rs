//! What the double holds: blocks by multihash (as boxo's blockstore keys them), the
//! UnixFS files and directories they form, pins, keys, IPNS records, and a log of RPC
//! calls.

use crate::cid::{self, Cid};
use crate::ipld;
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
    /// Every stored block, by multihash (boxo blockstore keys blocks by multihash since
    /// go-ipfs 0.12, whatever the CID's version or codec).
    pub(crate) blocks: HashMap<Vec<u8>, Arc<Vec<u8>>>,
}

/// Why a DAG walk stopped: a block that is not stored (its CID text as Kubo prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Missing(pub String);

impl Missing {
    /// boxo exchange/offline/offline.go `GetBlock` around go-ipld-format `ErrNotFound`:
    /// what an `--offline` node says for a block it does not have.
    pub(crate) fn offline_error(&self) -> String {
        format!(
            "block was not found locally (offline): ipld: could not find {}",
            self.0
        )
    }
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

    pub(crate) fn file(&self, cid_text: &str) -> Option<Arc<Vec<u8>>> {
        match self.entry(&Self::key_of(cid_text)?)? {
            Entry::File(b) => Some(b),
            Entry::Dir(_) => None,
        }
    }

    /// Stores a block under its CID's multihash.
    pub(crate) fn put_block(&mut self, cid: &Cid, data: Vec<u8>) {
        self.blocks
            .entry(cid.multihash.clone())
            .or_insert_with(|| Arc::new(data));
    }

    /// The stored block of a CID, if any.
    pub(crate) fn block(&self, cid: &Cid) -> Option<Arc<Vec<u8>>> {
        self.blocks.get(&cid.multihash).cloned()
    }

    /// The UnixFS entry a CID stands for: one `add` recorded, or one read from the stored
    /// blocks (a dag-pb node whose Data is a UnixFS Directory, or a UnixFS file whose
    /// blocks are all here; a raw block is a file). `None` when the root block is not
    /// stored, when it is not UnixFS, or when a file's block is missing.
    pub(crate) fn entry(&self, key: &Key) -> Option<Entry> {
        if let Some(e) = self.entries.get(key) {
            return Some(e.clone());
        }
        let (codec, mh) = key;
        let block = self.blocks.get(mh)?;
        match *codec {
            cid::RAW => Some(Entry::File(block.clone())),
            cid::DAG_PB => {
                let node = ipld::parse_dag_pb(block).ok()?;
                let fs = crate::unixfs::parse(node.data.as_deref()?)?;
                match fs.kind {
                    crate::unixfs::DIRECTORY => {
                        let mut children: Vec<(String, Key, String)> = node
                            .links
                            .iter()
                            .map(|l| {
                                (
                                    l.name.clone().unwrap_or_default(),
                                    (l.hash.codec, l.hash.multihash.clone()),
                                    l.hash.to_string(),
                                )
                            })
                            .collect();
                        children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                        Some(Entry::Dir(children))
                    }
                    crate::unixfs::FILE | crate::unixfs::RAW => {
                        let mut out = Vec::new();
                        self.file_bytes_into(&node, fs.data.as_deref(), &mut out, 0)?;
                        Some(Entry::File(Arc::new(out)))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A UnixFS file's bytes: its own Data, then each child's in link order.
    fn file_bytes_into(
        &self,
        node: &ipld::PbNode,
        data: Option<&[u8]>,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Option<()> {
        if depth > 64 {
            return None;
        }
        out.extend_from_slice(data.unwrap_or_default());
        for l in &node.links {
            let b = self.block(&l.hash)?;
            match l.hash.codec {
                cid::RAW => out.extend_from_slice(&b),
                cid::DAG_PB => {
                    let child = ipld::parse_dag_pb(&b).ok()?;
                    let fs = crate::unixfs::parse(child.data.as_deref()?)?;
                    self.file_bytes_into(&child, fs.data.as_deref(), out, depth + 1)?;
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// The distinct CIDs a recursive walk from `root` visits, root first (merkledag
    /// `FetchGraph` / `Walk`: each block's links, decoded by its codec). `Err` names
    /// the first block that is not stored.
    pub(crate) fn walk(&self, root: &Cid) -> Result<Vec<Cid>, Missing> {
        let mut seen: std::collections::HashSet<Vec<u8>> = Default::default();
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(c) = stack.pop() {
            if !seen.insert(c.multihash.clone()) {
                continue;
            }
            // Identity multihashes carry their block inline.
            let block = if c.multihash.first() == Some(&0x00) {
                Some(Arc::new(c.multihash.get(2..).unwrap_or_default().to_vec()))
            } else {
                self.block(&c)
            };
            let block = block.ok_or_else(|| Missing(c.to_string()))?;
            let links = ipld::block_links(c.codec, &block).unwrap_or_default();
            out.push(c);
            stack.extend(links.into_iter().rev());
        }
        Ok(out)
    }

    /// Kubo's garbage collection (`ipfs repo gc`, and what `ipfs daemon --enable-gc`
    /// runs every `Datastore.GCPeriod` once the repo is over its watermark): kubo
    /// gc/gc.go `GC` marks every recursively pinned block with all its descendants
    /// (`ColoredSet`; this double's pins are all recursive, and it has no MFS root to
    /// keep best-effort), keyed by multihash (`toRawCids`), then deletes every other
    /// block. A pinned DAG with a block missing aborts the whole run before anything is
    /// deleted, with gc.go's `ErrCannotFetchAllLinks`. Returns the blocks and bytes
    /// freed.
    pub(crate) fn gc(&mut self) -> Result<(usize, u64), String> {
        let mut marked: std::collections::HashSet<Vec<u8>> = Default::default();
        for text in self.pins.values() {
            let Some(c) = Cid::decode(text) else { continue };
            let walked = self.walk(&c).map_err(|_| {
                "garbage collection aborted: could not retrieve some links".to_string()
            })?;
            marked.extend(walked.into_iter().map(|c| c.multihash));
        }
        let before = self.blocks.len();
        let mut bytes = 0u64;
        self.blocks.retain(|mh, b| {
            let keep = marked.contains(mh);
            if !keep {
                bytes += b.len() as u64;
            }
            keep
        });
        // The files and directories recorded from `add` go with their root block.
        self.entries.retain(|(_, mh), _| marked.contains(mh));
        Ok((before - self.blocks.len(), bytes))
    }

    /// Blocks stored and their bytes.
    pub(crate) fn stored(&self) -> (usize, u64) {
        (
            self.blocks.len(),
            self.blocks.values().map(|b| b.len() as u64).sum(),
        )
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
        let mut entry = self.entry_or_missing(&key, root)?;
        let mut along = vec![root.to_string()];
        for name in parts {
            let Entry::Dir(children) = &entry else {
                return Err(format!("no link named {name:?} under a file"));
            };
            // boxo path/resolver/resolver.go `ErrNoLink`: `no link named %q under %s`.
            let parent = along.last().cloned().unwrap_or_default();
            let (_, k, text) = children
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| format!("no link named {name:?} under {parent}"))?;
            along.push(text.clone());
            entry = self.entry_or_missing(k, text)?;
        }
        Ok((entry, along))
    }

    /// The entry of `key`, or Kubo's error: the offline not-found error naming the missing
    /// block (the root's own, or for a UnixFS file whose root is here, the first of its
    /// blocks that is not), or boxo ipld/unixfs/unixfs.go `ErrUnrecognizedType` for a
    /// complete DAG that is not a UnixFS file or directory.
    fn entry_or_missing(&self, key: &Key, text: &str) -> Result<Entry, String> {
        if let Some(e) = self.entry(key) {
            return Ok(e);
        }
        let c = Cid::decode(text).unwrap_or(Cid {
            version: 1,
            codec: key.0,
            multihash: key.1.clone(),
        });
        match self.walk(&c) {
            Err(m) => Err(m.offline_error()),
            Ok(_) => Err("unrecognized node type".to_string()),
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
