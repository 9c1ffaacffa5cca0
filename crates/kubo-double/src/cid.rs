//! CIDs exactly as Kubo's `ipfs add` computes them (kubo-rpc.md section 2 "DAG bytes"):
//! UnixFS in dag-pb, fixed-size chunker, balanced layout with at most 174 links per node,
//! CIDv0 (base58btc `Qm...`) or CIDv1 (base32 `b...`), optional raw leaves.
//!
//! Limits: directories are always plain UnixFS directories (Kubo turns directories whose
//! link names and CIDs exceed 256 KiB into HAMT shards; the double does not).

use ::cid::multibase::{self, Base};
use sha2::{Digest, Sha256};

/// The `cid` crate's CID with room for digests up to 128 bytes: the largest Kubo takes
/// (boxo verifcid/allowlist.go: `DefaultMaxDigestSize` and `DefaultMaxIdentityDigestSize`,
/// both 128).
type ParsedCid = ::cid::CidGeneric<128>;

/// Multicodec of dag-pb nodes.
pub const DAG_PB: u64 = 0x70;
/// Multicodec of raw leaves.
pub const RAW: u64 = 0x55;
/// Multicodec of libp2p public keys (IPNS names).
pub const LIBP2P_KEY: u64 = 0x72;
/// Kubo's default chunk size in bytes (`size-262144`).
pub const DEFAULT_CHUNK: usize = 262_144;
/// Links per node in the balanced layout (8192 / 47).
pub const MAX_LINKS: usize = 174;

/// Options of `add` that change CIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOptions {
    /// 0 or 1.
    pub cid_version: u8,
    /// Leaves as raw blocks (implied by CIDv1 unless set).
    pub raw_leaves: bool,
    /// Chunk size in bytes.
    pub chunk: usize,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions {
            cid_version: 0,
            raw_leaves: false,
            chunk: DEFAULT_CHUNK,
        }
    }
}

/// A computed node: its CID bytes (binary CIDv1 form, or the multihash for v0), string,
/// and cumulative DAG size in bytes (what `add` prints as `Size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The CID as text (`Qm...` or `b...`).
    pub cid: String,
    /// Binary CID (v0: the multihash alone; v1: version, codec, multihash).
    pub bytes: Vec<u8>,
    /// Cumulative DAG size in bytes.
    pub size: u64,
    /// UnixFS content size (file bytes) for files.
    pub file_size: u64,
}

/// Appends `v` as an unsigned varint (multiformats unsigned-varint, protobuf varint).
pub(crate) fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(field: u32, data: &[u8], out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | 2), out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn field_varint(field: u32, v: u64, out: &mut Vec<u8>) {
    varint(u64::from(field << 3), out);
    varint(v, out);
}

/// sha2-256 multihash of `data`.
pub fn multihash(data: &[u8]) -> Vec<u8> {
    let mut mh = vec![0x12, 0x20];
    mh.extend_from_slice(&Sha256::digest(data));
    mh
}

/// Builds the CID of a block with `codec` under the version in `opts`.
fn make_cid(version: u8, codec: u64, block: &[u8]) -> (String, Vec<u8>) {
    let mh = multihash(block);
    if version == 0 && codec == DAG_PB {
        return (Base::Base58Btc.encode(&mh), mh);
    }
    let mut b = vec![1u8];
    varint(codec, &mut b);
    b.extend_from_slice(&mh);
    (cid_v1_string(&b), b)
}

/// Base32 lower multibase (`b` prefix) of binary CIDv1 bytes (go-cid `String` of a v1).
pub fn cid_v1_string(bytes: &[u8]) -> String {
    multibase::encode(Base::Base32Lower, bytes)
}

/// A dag-pb link.
struct Link<'a> {
    hash: &'a [u8],
    name: &'a str,
    tsize: u64,
}

/// dag-pb node bytes: Links (field 2) before Data (field 1); links always write Name and
/// Tsize (as go-merkledag does).
fn pb_node(links: &[Link<'_>], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in links {
        let mut lb = Vec::new();
        field_bytes(1, l.hash, &mut lb);
        field_bytes(2, l.name.as_bytes(), &mut lb);
        field_varint(3, l.tsize, &mut lb);
        field_bytes(2, &lb, &mut out);
    }
    field_bytes(1, data, &mut out);
    out
}

/// UnixFS `Data` message: Type, Data (omitted when empty), filesize, blocksizes.
fn unixfs(kind: u64, data: &[u8], filesize: Option<u64>, blocksizes: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    field_varint(1, kind, &mut out);
    if !data.is_empty() {
        field_bytes(2, data, &mut out);
    }
    if let Some(fs) = filesize {
        field_varint(3, fs, &mut out);
    }
    for b in blocksizes {
        field_varint(4, *b, &mut out);
    }
    out
}

const T_DIRECTORY: u64 = 1;
const T_FILE: u64 = 2;

/// One block produced while importing (CID bytes -> block bytes), for a block store.
pub type Blocks = Vec<(Vec<u8>, Vec<u8>)>;

fn leaf(chunk: &[u8], opts: &AddOptions, blocks: &mut Blocks) -> Node {
    if opts.raw_leaves {
        let (cid, bytes) = make_cid(1, RAW, chunk);
        blocks.push((bytes.clone(), chunk.to_vec()));
        return Node {
            cid,
            bytes,
            size: chunk.len() as u64,
            file_size: chunk.len() as u64,
        };
    }
    let block = pb_node(&[], &unixfs(T_FILE, chunk, Some(chunk.len() as u64), &[]));
    let (cid, bytes) = make_cid(opts.cid_version, DAG_PB, &block);
    let size = block.len() as u64;
    blocks.push((bytes.clone(), block));
    Node {
        cid,
        bytes,
        size,
        file_size: chunk.len() as u64,
    }
}

fn internal(children: &[Node], opts: &AddOptions, blocks: &mut Blocks) -> Node {
    let file_size: u64 = children.iter().map(|c| c.file_size).sum();
    let sizes: Vec<u64> = children.iter().map(|c| c.file_size).collect();
    let links: Vec<Link<'_>> = children
        .iter()
        .map(|c| Link {
            hash: &c.bytes,
            name: "",
            tsize: c.size,
        })
        .collect();
    let block = pb_node(&links, &unixfs(T_FILE, &[], Some(file_size), &sizes));
    let (cid, bytes) = make_cid(opts.cid_version, DAG_PB, &block);
    let size = block.len() as u64 + children.iter().map(|c| c.size).sum::<u64>();
    blocks.push((bytes.clone(), block));
    Node {
        cid,
        bytes,
        size,
        file_size,
    }
}

/// Imports `data` as a UnixFS file (balanced layout, go-unixfs `balanced.Layout`);
/// returns the root and every block.
pub fn file(data: &[u8], opts: &AddOptions) -> (Node, Blocks) {
    let mut blocks = Vec::new();
    let chunk = opts.chunk.max(1);
    let mut chunks = data.chunks(chunk).peekable();
    let root = match chunks.next() {
        None => {
            // Empty file: a leaf with no data (raw: the empty raw block).
            if opts.raw_leaves {
                leaf(&[], opts, &mut blocks)
            } else {
                let block = pb_node(&[], &unixfs(T_FILE, &[], Some(0), &[]));
                let (cid, bytes) = make_cid(opts.cid_version, DAG_PB, &block);
                let size = block.len() as u64;
                blocks.push((bytes.clone(), block));
                Node {
                    cid,
                    bytes,
                    size,
                    file_size: 0,
                }
            }
        }
        Some(first) => {
            let mut root = leaf(first, opts, &mut blocks);
            let mut depth = 1;
            while chunks.peek().is_some() {
                let mut children = vec![root];
                fill(&mut children, depth, &mut chunks, opts, &mut blocks);
                root = internal(&children, opts, &mut blocks);
                depth += 1;
            }
            root
        }
    };
    (root, blocks)
}

/// `fillNodeRec`: adds children of `depth` to `children` until full or out of data.
fn fill<'a, I: Iterator<Item = &'a [u8]>>(
    children: &mut Vec<Node>,
    depth: usize,
    chunks: &mut std::iter::Peekable<I>,
    opts: &AddOptions,
    blocks: &mut Blocks,
) {
    while children.len() < MAX_LINKS && chunks.peek().is_some() {
        if depth == 1 {
            if let Some(c) = chunks.next() {
                children.push(leaf(c, opts, blocks));
            }
        } else {
            let mut sub = Vec::new();
            fill(&mut sub, depth - 1, chunks, opts, blocks);
            children.push(internal(&sub, opts, blocks));
        }
    }
}

/// A UnixFS directory of `(name, child)` entries (sorted by name bytes here).
pub fn directory(entries: &[(String, Node)], opts: &AddOptions) -> (Node, Blocks) {
    let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let links: Vec<Link<'_>> = sorted
        .iter()
        .map(|(n, c)| Link {
            hash: &c.bytes,
            name: n,
            tsize: c.size,
        })
        .collect();
    let block = pb_node(&links, &unixfs(T_DIRECTORY, &[], None, &[]));
    let (cid, bytes) = make_cid(opts.cid_version, DAG_PB, &block);
    let size = block.len() as u64 + sorted.iter().map(|(_, c)| c.size).sum::<u64>();
    (
        Node {
            cid: cid.clone(),
            bytes: bytes.clone(),
            size,
            file_size: 0,
        },
        vec![(bytes, block)],
    )
}

/// Decodes a CID string ([`Cid::decode`]) into `(codec, multihash)`. `None` when it is
/// not a CID.
pub fn parse(s: &str) -> Option<(u64, Vec<u8>)> {
    Cid::decode(s).map(|c| (c.codec, c.multihash))
}

/// A decoded CID: what go-cid `cid.Decode` accepts, for the forms the double knows
/// (`Qm...` v0; multibase `b` base32, `k` base36, `z` base58btc v1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cid {
    /// 0 or 1.
    pub version: u8,
    /// Multicodec of the block (0x70 dag-pb, 0x55 raw, 0x71 dag-cbor, 0x0129 dag-json,
    /// 0x72 libp2p-key, ...).
    pub codec: u64,
    /// The multihash (code, length, digest).
    pub multihash: Vec<u8>,
}

impl Cid {
    /// Decodes CID text; `None` when it is not one (go-cid `Decode` fails). As go-cid
    /// (cid.go `Decode`): 46 characters starting `Qm` are a base58btc v0; anything else
    /// is multibase (go-multibase: every base it knows, `b`/`B` base32, `k`/`K` base36,
    /// `z` base58btc, `f` hex, `m`/`u` base64, ...; base32 in either case, even mixed, as
    /// go-base32's `NewEncodingCI` decodes it) holding binary CID bytes
    /// ([`Cid::from_bytes`]).
    /// The `multibase` crate decodes the text; unlike the `cid` crate's own `FromStr` no
    /// `/ipfs/` prefix is stripped.
    pub fn decode(s: &str) -> Option<Cid> {
        let bytes = if s.len() == 46 && s.starts_with("Qm") {
            Base::Base58Btc.decode(s).ok()?
        } else {
            multibase::decode(s).ok()?.1
        };
        Cid::from_bytes(&bytes)
    }

    /// Decodes binary CID bytes (v0: a bare sha2-256 multihash `12 20 ...`; v1: version,
    /// codec, multihash), as go-cid `Cast` does: varints minimal (go-varint refuses
    /// others, `ErrNotMinimal`), the multihash's length its digest's, no trailing bytes
    /// (`Cast`: "trailing bytes in data"). `None` when malformed. Read by the `cid` crate
    /// (`read_bytes`, whose varints are `unsigned-varint`'s, minimal only); the trailing
    /// bytes are checked here because `TryFrom<&[u8]>` ignores them.
    pub fn from_bytes(b: &[u8]) -> Option<Cid> {
        let mut rest = b;
        let c = ParsedCid::read_bytes(&mut rest).ok()?;
        if !rest.is_empty() {
            return None;
        }
        Some(Cid {
            version: match c.version() {
                ::cid::Version::V0 => 0,
                ::cid::Version::V1 => 1,
            },
            codec: c.codec(),
            multihash: c.hash().to_bytes(),
        })
    }

    /// A CIDv1 of `codec` over the sha2-256 of `block` (what `dag/put` makes: Kubo
    /// core/commands/dag/put.go, `cid.Prefix{Version: 1, ...}.Sum`).
    pub fn v1_sha256(codec: u64, block: &[u8]) -> Cid {
        Cid {
            version: 1,
            codec,
            multihash: multihash(block),
        }
    }

    /// Binary form (go-cid `Bytes`): the multihash alone for v0.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.version == 0 {
            return self.multihash.clone();
        }
        let mut b = vec![1u8];
        varint(self.codec, &mut b);
        b.extend_from_slice(&self.multihash);
        b
    }

    /// The same content as CIDv1 (go-cid `NewCidV1(c.Type(), c.Hash())`).
    pub fn to_v1(&self) -> Cid {
        Cid {
            version: 1,
            ..self.clone()
        }
    }

    /// Base36 lower multibase (`k...`) of the CIDv1 bytes (go-cid
    /// `StringOfBase(mbase.Base36)`).
    pub fn to_base36(&self) -> String {
        base36(&self.to_v1().to_bytes())
    }
}

impl std::fmt::Display for Cid {
    /// go-cid `String`: base58btc multihash for v0, base32 lower (`b...`) for v1.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.version == 0 {
            f.write_str(&Base::Base58Btc.encode(&self.multihash))
        } else {
            f.write_str(&cid_v1_string(&self.to_bytes()))
        }
    }
}

/// Reads one unsigned protobuf varint (dag-pb and UnixFS fields: protobuf decoders take
/// non-minimal encodings, unlike CID varints, which [`Cid::from_bytes`] reads); `None`
/// when it does not end within 9 bytes.
pub(crate) fn read_varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(9) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

/// Base36 lower multibase (`k` prefix) of bytes (go-multibase `Base36`), as Kubo writes
/// IPNS names and subdomain-gateway labels.
pub fn base36(bytes: &[u8]) -> String {
    multibase::encode(Base::Base36Lower, bytes)
}

/// IPNS name (`k51...`) and peer ID (`12D3KooW...`) of an ed25519 public key.
pub fn ed25519_names(public_key: &[u8; 32]) -> (String, String) {
    let mut pb = vec![0x08, 0x01, 0x12, 0x20];
    pb.extend_from_slice(public_key);
    let mut mh = vec![0x00, pb.len() as u8];
    mh.extend_from_slice(&pb);
    let peer_id = Base::Base58Btc.encode(&mh);
    let mut cid = vec![1u8];
    varint(LIBP2P_KEY, &mut cid);
    cid.extend_from_slice(&mh);
    (base36(&cid), peer_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::cipher::{KeyIvInit, StreamCipher};

    fn v0() -> AddOptions {
        AddOptions::default()
    }

    fn seeded(seed: &str, len: usize) -> Vec<u8> {
        let key: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
        let mut c = chacha20::ChaCha20::new(&key.into(), &[0u8; 12].into());
        let mut buf = vec![0u8; len];
        c.apply_keystream(&mut buf);
        buf
    }

    #[test]
    fn vectors_small_files() {
        assert_eq!(
            file(b"hello world", &v0()).0.cid,
            "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
        );
        let v1 = AddOptions {
            cid_version: 1,
            raw_leaves: true,
            ..v0()
        };
        assert_eq!(
            file(b"hello world", &v1).0.cid,
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
        let v1pb = AddOptions {
            cid_version: 1,
            raw_leaves: false,
            ..v0()
        };
        assert_eq!(
            file(b"hello world", &v1pb).0.cid,
            "bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa"
        );
        let (n, _) = file(b"Hello Worlds!\n", &v0());
        assert_eq!(n.cid, "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH");
        assert_eq!(n.size, 22);
        assert_eq!(
            file(b"Helloo Worlds!\n", &v0()).0.cid,
            "Qmf35k66MZNW2GijohUmXQEWKZU4cCGTCwK6idfnt152wJ"
        );
        assert_eq!(
            file(b"", &v0()).0.cid,
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            file(b"", &v1).0.cid,
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(
            file(b"IPFS\n", &v0()).0.cid,
            "QmdFyxZXsFiP4csgfM5uPu99AvFiKH62CSPDw5TP92nr7w"
        );
        // cid-base=base32 upgrades v0 to v1 (dag-pb leaf).
        assert_eq!(
            file(b"base32 test\n", &v1pb).0.cid,
            "bafybeibyosqxljd2eptb4ebbtvk7pb4aoxzqa6ttdsflty6rsslz5y6i34"
        );
    }

    #[test]
    fn vectors_directories() {
        let planets = |o: &AddOptions| {
            let mars = file(b"Hello Mars!\n", o).0;
            let venus = file(b"Hello Venus!\n", o).0;
            let d = directory(
                &[
                    ("venus.txt".into(), venus.clone()),
                    ("mars.txt".into(), mars.clone()),
                ],
                o,
            )
            .0;
            (d, mars, venus)
        };
        let (d, mars, venus) = planets(&v0());
        assert_eq!(d.cid, "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY");
        assert_eq!(mars.cid, "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN");
        assert_eq!(venus.cid, "QmU5kp3BH3B8tnWUU2Pikdb2maksBNkb92FHRr56hyghh4");
        assert_eq!(
            planets(&AddOptions {
                cid_version: 1,
                raw_leaves: true,
                ..v0()
            })
            .0
            .cid,
            "bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi"
        );
        let (d, mars, _) = planets(&AddOptions {
            raw_leaves: true,
            ..v0()
        });
        assert_eq!(d.cid, "QmfWfQfKCY5Ukv9peBbxM5vqWM9BzmqUSXvdCgjT2wsiBT");
        assert_eq!(
            mars.cid,
            "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"
        );
        let empty = file(b"", &v0()).0;
        assert_eq!(
            directory(&[("example.jpg".into(), empty)], &v0()).0.cid,
            "QmaG4FuMqEBnQNn3C8XJ5bpW8kLs7zq2ZXgHptJHbKDDVx"
        );
    }

    #[test]
    fn vectors_chunked_and_balanced() {
        assert_eq!(
            file(&seeded("chunk-v0-seed", 262_144), &v0()).0.cid,
            "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE"
        );
        assert_eq!(
            file(&seeded("chunk-v0-seed", 262_145), &v0()).0.cid,
            "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ"
        );
        let big = seeded("v0-seed", 174 * 262_144 + 1);
        assert_eq!(
            file(&big[..174 * 262_144], &v0()).0.cid,
            "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"
        );
        assert_eq!(
            file(&big, &v0()).0.cid,
            "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW"
        );
        let o = AddOptions {
            cid_version: 1,
            raw_leaves: true,
            chunk: 1_048_576,
        };
        assert_eq!(
            file(&seeded("chunk-v1-seed", 1_048_577), &o).0.cid,
            "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64"
        );
    }

    #[test]
    fn parse_round_trips_and_names_have_their_shape() {
        let n = file(b"hello world", &v0()).0;
        assert_eq!(parse(&n.cid).unwrap().1, n.bytes);
        let n1 = file(
            b"hello world",
            &AddOptions {
                cid_version: 1,
                raw_leaves: true,
                ..v0()
            },
        )
        .0;
        assert_eq!(parse(&n1.cid).unwrap().0, RAW);
        assert!(parse("Qmnotacid").is_none());
        assert!(parse("").is_none());
        let (name, peer) = ed25519_names(&[7u8; 32]);
        assert!(name.starts_with("k51qzi5uqu5d"), "{name}");
        assert!(peer.starts_with("12D3KooW"), "{peer}");
        assert_eq!(parse(&name).unwrap().0, LIBP2P_KEY);
        assert_eq!(
            multibase::decode(base36(&[0, 0, 1, 2, 255])).unwrap().1,
            vec![0, 0, 1, 2, 255]
        );
    }

    /// What go-cid refuses stays refused (cid.go `Decode`/`Cast`, go-varint
    /// `ErrNotMinimal`), and what it takes in other bases and cases is the same CID.
    #[test]
    fn cids_decode_as_go_cid_does() {
        let n1 = file(
            b"hello world",
            &AddOptions {
                cid_version: 1,
                raw_leaves: true,
                ..v0()
            },
        )
        .0;
        let c = Cid::decode(&n1.cid).unwrap();
        assert_eq!(c.to_string(), n1.cid);
        let bytes = c.to_bytes();
        // The same bytes in base32 upper, base36, base58btc and hex.
        for base in [
            Base::Base32Upper,
            Base::Base36Lower,
            Base::Base36Upper,
            Base::Base58Btc,
            Base::Base16Lower,
        ] {
            let text = multibase::encode(base, &bytes);
            assert_eq!(Cid::decode(&text).as_ref(), Some(&c), "{text}");
        }
        // Mixed case under a lower-case prefix is the same CID: go-multibase decodes
        // base32 with go-base32's `RawStdEncoding`, `NewEncodingCI` (base32.go: "case
        // insensitive"), and so does the multibase crate.
        let mut mixed = n1.cid.clone();
        mixed.replace_range(1..4, &n1.cid[1..4].to_ascii_uppercase());
        assert_eq!(Cid::decode(&mixed).as_ref(), Some(&c), "{mixed}");
        // A non-minimal varint (the codec 0x55 as 0xd5 0x00).
        let mut non_minimal = vec![0x01, 0xd5, 0x00];
        non_minimal.extend_from_slice(&bytes[2..]);
        assert_eq!(Cid::from_bytes(&non_minimal), None);
        // Trailing bytes, a short digest, a path: not CIDs.
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(Cid::from_bytes(&trailing), None);
        assert_eq!(Cid::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Cid::decode(&format!("/ipfs/{}", n1.cid)), None);
        // v0 text and v0 bytes in a multibase string are v0.
        let v0n = file(b"hello world", &v0()).0;
        let c0 = Cid::decode(&v0n.cid).unwrap();
        assert_eq!(c0.version, 0);
        assert_eq!(c0.to_string(), v0n.cid);
        let in_b32 = multibase::encode(Base::Base32Lower, &c0.multihash);
        assert_eq!(Cid::decode(&in_b32).map(|c| c.version), Some(0));
    }
}
