//! The IPLD codecs `dag/put` uses, as Kubo 0.34.1 links them (core/commands/dag/put.go
//! imports go-codec-dagpb v1.6.0 and go-ipld-prime v0.21.0's dag-cbor, dag-json, json,
//! cbor and raw): decode the input into the data model (`basicnode.Prototype.Any`), then
//! encode it with the store codec.
//!
//! - dag-json / json decoding follows go-ipld-prime codec/dagjson/unmarshal.go over the
//!   polydawn/refmt v0.89.0 JSON tokenizer (json/jsonDecoder.go), including its laxness:
//!   commas between entries are optional and a trailing comma is accepted; `n`, `t`, `f`
//!   are followed by 3, 3, 4 bytes that are not checked. `{"/":"<cid>"}` is a link and
//!   `{"/":{"bytes":"<base64>"}}` bytes (dag-json only).
//! - dag-pb encoding is go-codec-dagpb marshal.go `AppendEncode`: the node must fit the
//!   PBNode schema (`Links` required, `Data` optional; PBLink `Hash` required, `Name`,
//!   `Tsize` optional), links are stably sorted by Name bytes, absent Name/Tsize/Data are
//!   not written.
//! - dag-cbor encoding is go-ipld-prime codec/dagcbor (map keys in RFC 7049 order: shorter
//!   first, then bytewise; floats as 64-bit; links as tag 42 over `00 || cid bytes`).
//! - dag-json encoding is codec/dagjson (`MapSortMode_Lexical`).
//!
//! Limits: cbor/dag-cbor/dag-pb *input* codecs are not decoded by the double (an error
//! that says so); floats are encoded by Rust's shortest representation in dag-json.

use crate::cid::{self, Cid};
use crate::rpc::go_quote;
use base64::Engine;

/// Multicodec codes of the codecs Kubo 0.34.1 has registered for `dag/put`.
pub mod codec {
    /// raw.
    pub const RAW: u64 = 0x55;
    /// dag-pb.
    pub const DAG_PB: u64 = 0x70;
    /// cbor.
    pub const CBOR: u64 = 0x51;
    /// dag-cbor.
    pub const DAG_CBOR: u64 = 0x71;
    /// dag-json.
    pub const DAG_JSON: u64 = 0x0129;
    /// json.
    pub const JSON: u64 = 0x0200;
}

/// A few entries of the multicodec table (go-multicodec v0.9.0 code_table.go), enough for
/// `Code.Set` on the names a client of `dag/put` passes; unknown names give go-multicodec's
/// error `unknown multicodec: "<name>"`.
const MULTICODECS: &[(&str, u64)] = &[
    ("identity", 0x00),
    ("sha1", 0x11),
    ("sha2-256", 0x12),
    ("sha2-512", 0x13),
    ("sha3-512", 0x14),
    ("sha3-384", 0x15),
    ("sha3-256", 0x16),
    ("sha3-224", 0x17),
    ("cbor", 0x51),
    ("raw", 0x55),
    ("dag-pb", 0x70),
    ("dag-cbor", 0x71),
    ("libp2p-key", 0x72),
    ("git-raw", 0x78),
    ("dag-jose", 0x85),
    ("dag-cose", 0x86),
    ("dag-json", 0x0129),
    ("json", 0x0200),
    ("blake2b-256", 0xb220),
    ("blake3", 0x1e),
];

/// go-multicodec `Code.Set`: a known name, or a number (`strconv.ParseUint(text, 0, 64)`)
/// in the table or the reserved range 0x300000..=0x3FFFFF.
pub fn multicodec(text: &str) -> Result<u64, String> {
    let n = if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        text.parse::<u64>().ok()
    };
    if let Some(n) = n {
        if (0x300000..=0x3FFFFF).contains(&n) || MULTICODECS.iter().any(|(_, c)| *c == n) {
            return Ok(n);
        }
    }
    MULTICODECS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, c)| *c)
        .ok_or_else(|| format!("unknown multicodec: {}", go_quote(text)))
}

/// An IPLD data model value (what `basicnode.Prototype.Any` builds).
#[derive(Debug, Clone, PartialEq)]
pub enum Ipld {
    /// null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (int64 in go-ipld-prime).
    Int(i64),
    /// A float (float64).
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Ipld>),
    /// A map, entries in insertion order (basicnode keeps it; encoders sort).
    Map(Vec<(String, Ipld)>),
    /// A link.
    Link(Cid),
}

impl Ipld {
    /// go-ipld-prime's kind name (datamodel/kind.go `Kind.String`).
    fn kind(&self) -> &'static str {
        match self {
            Ipld::Null => "null",
            Ipld::Bool(_) => "bool",
            Ipld::Int(_) => "int",
            Ipld::Float(_) => "float",
            Ipld::String(_) => "string",
            Ipld::Bytes(_) => "bytes",
            Ipld::List(_) => "list",
            Ipld::Map(_) => "map",
            Ipld::Link(_) => "link",
        }
    }

    /// Every link in the value, depth first (what a DAG walk follows).
    pub fn links(&self, out: &mut Vec<Cid>) {
        match self {
            Ipld::Link(c) => out.push(c.clone()),
            Ipld::List(v) => v.iter().for_each(|x| x.links(out)),
            Ipld::Map(m) => m.iter().for_each(|(_, x)| x.links(out)),
            _ => {}
        }
    }
}

/// `datamodel.ErrWrongKind` text for a schema type (go-ipld-prime datamodel/errors.go).
fn wrong_kind(type_name: &str, method: &str, actual: &str, appropriate: &str) -> String {
    format!(
        "func called on wrong kind: \"{method}\" called on a {type_name} node (kind: {actual}), but only makes sense on {appropriate}"
    )
}

/// refmt v0.89.0 JSON tokens.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    MapOpen,
    MapClose,
    ArrOpen,
    ArrClose,
    Null,
    Bool(bool),
    Str(String),
    Int(i64),
    Float(f64),
}

impl Tok {
    /// refmt tok.TokenType `String()` names, as dag-json's "unexpected ... token" says.
    fn name(&self) -> &'static str {
        match self {
            Tok::MapOpen => "<{>",
            Tok::MapClose => "<}>",
            Tok::ArrOpen => "<[>",
            Tok::ArrClose => "<]>",
            Tok::Null => "<null>",
            Tok::Bool(_) => "<bool>",
            Tok::Str(_) => "<string>",
            Tok::Int(_) => "<int>",
            Tok::Float(_) => "<float64>",
        }
    }
}

/// Where the tokenizer is (refmt json/jsonDecoder.go's step functions).
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Inside a map: key or `}` next; `some` = an entry was read.
    MapKey { some: bool },
    /// Inside a map after `key:`.
    MapValue,
    /// Inside an array.
    Arr { some: bool },
}

/// refmt's JSON decoder over a byte slice.
struct Tokenizer<'a> {
    b: &'a [u8],
    i: usize,
    stack: Vec<Phase>,
    started: bool,
}

const EOF: &str = "EOF";

impl<'a> Tokenizer<'a> {
    fn new(b: &'a [u8]) -> Self {
        Tokenizer {
            b,
            i: 0,
            stack: Vec::new(),
            started: false,
        }
    }

    /// `readn1`: the next byte, or Go's `io.EOF` text.
    fn read(&mut self) -> Result<u8, String> {
        let c = *self.b.get(self.i).ok_or_else(|| EOF.to_string())?;
        self.i += 1;
        Ok(c)
    }

    /// `readn1skippingWhitespace`.
    fn read_ws(&mut self) -> Result<u8, String> {
        loop {
            let c = self.read()?;
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                return Ok(c);
            }
        }
    }

    /// `Readnzc(n)`: skips n bytes unchecked (refmt's FIXME).
    fn skip(&mut self, n: usize) {
        self.i = (self.i + n).min(self.b.len());
    }

    /// `Decoder.Step`: the next token. Top level: the first call reads a value.
    fn step(&mut self) -> Result<Tok, String> {
        if !self.started {
            self.started = true;
            let c = self.read_ws()?;
            return self.accept_value(c);
        }
        match self.stack.last().copied() {
            None => Err(EOF.to_string()),
            Some(Phase::MapKey { some }) => {
                let mut c = self.read_ws()?;
                if some && c == b',' {
                    c = self.read_ws()?;
                }
                if c == b'}' {
                    self.stack.pop();
                    return Ok(Tok::MapClose);
                }
                let key = self.accept_value(c)?;
                let colon = self.read_ws()?;
                if colon != b':' {
                    return Err(format!("expected colon after map key; got 0x{colon:x}"));
                }
                if let Some(top) = self.stack.last_mut() {
                    *top = Phase::MapValue;
                }
                Ok(key)
            }
            Some(Phase::MapValue) => {
                let c = self.read_ws()?;
                let n = self.stack.len();
                self.stack[n - 1] = Phase::MapKey { some: true };
                self.accept_value(c)
            }
            Some(Phase::Arr { some }) => {
                let mut c = self.read_ws()?;
                if some && c == b',' {
                    c = self.read_ws()?;
                }
                if c == b']' {
                    self.stack.pop();
                    return Ok(Tok::ArrClose);
                }
                let n = self.stack.len();
                self.stack[n - 1] = Phase::Arr { some: true };
                self.accept_value(c)
            }
        }
    }

    /// `stepHelper_acceptValue`.
    fn accept_value(&mut self, c: u8) -> Result<Tok, String> {
        match c {
            b'{' => {
                self.stack.push(Phase::MapKey { some: false });
                Ok(Tok::MapOpen)
            }
            b'[' => {
                self.stack.push(Phase::Arr { some: false });
                Ok(Tok::ArrOpen)
            }
            b'n' => {
                self.skip(3);
                Ok(Tok::Null)
            }
            b'f' => {
                self.skip(4);
                Ok(Tok::Bool(false))
            }
            b't' => {
                self.skip(3);
                Ok(Tok::Bool(true))
            }
            b'"' => self.string().map(Tok::Str),
            b'-' | b'0'..=b'9' => self.number(c),
            _ => Err(format!(
                "Invalid byte while expecting start of value: 0x{c:x}"
            )),
        }
    }

    /// jsonDecoderTerminals.go `decodeString` (the opening quote was read).
    fn string(&mut self) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.read()?;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = self.read()?;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut r = self.hex4()?;
                            if (0xD800..0xDC00).contains(&r)
                                && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                r = if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                };
                            }
                            let ch = char::from_u32(r).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(format!("invalid byte in string escape sequence: 0x{e:x}"))
                        }
                    }
                }
                c if c < 0x20 => {
                    return Err(format!(
                        "invalid unprintable byte in string literal: 0x{c:x}"
                    ))
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.read()?;
            let d = (c as char).to_digit(16).ok_or_else(|| {
                format!("invalid byte in \\u hexadecimal character escape: 0x{c:x}")
            })?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// `decodeNumber`: scan like refmt's numscan states (whose errors are dropped: a
    /// step that fails ends the number), then `strconv.ParseInt`, else `ParseFloat`.
    fn number(&mut self, first: u8) -> Result<Tok, String> {
        let start = self.i - 1;
        #[derive(Clone, Copy)]
        enum S {
            Neg,
            Zero,
            One,
            Dot,
            Dot0,
            E,
            ESign,
            E0,
        }
        let mut s = match first {
            b'-' => S::Neg,
            b'0' => S::Zero,
            _ => S::One,
        };
        while let Some(&c) = self.b.get(self.i) {
            let next = match (s, c) {
                (S::Neg, b'0') => Some(S::Zero),
                (S::Neg, b'1'..=b'9') => Some(S::One),
                (S::One, b'0'..=b'9') => Some(S::One),
                (S::Zero | S::One, b'.') => Some(S::Dot),
                (S::Zero | S::One | S::Dot0, b'e' | b'E') => Some(S::E),
                (S::Dot | S::Dot0, b'0'..=b'9') => Some(S::Dot0),
                (S::E, b'+' | b'-') => Some(S::ESign),
                (S::E | S::ESign | S::E0, b'0'..=b'9') => Some(S::E0),
                _ => None,
            };
            match next {
                Some(n) => {
                    s = n;
                    self.i += 1;
                }
                None => break,
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
        let digits_only = text
            .strip_prefix('-')
            .unwrap_or(text)
            .bytes()
            .all(|b| b.is_ascii_digit());
        if digits_only && !text.is_empty() && text != "-" {
            return text.parse::<i64>().map(Tok::Int).map_err(|_| {
                format!(
                    "strconv.ParseInt: parsing {}: value out of range",
                    go_quote(text)
                )
            });
        }
        text.parse::<f64>()
            .ok()
            .filter(|_| !text.ends_with(['.', 'e', 'E', '+', '-']))
            .map(Tok::Float)
            .ok_or_else(|| {
                format!(
                    "strconv.ParseFloat: parsing {}: invalid syntax",
                    go_quote(text)
                )
            })
    }
}

/// go-ipld-prime dagjson `unmarshalState`: tokens with a 6-token lookahead buffer for
/// the link and bytes forms.
struct Unmarshal<'a> {
    t: Tokenizer<'a>,
    ahead: std::collections::VecDeque<Tok>,
    dag: bool,
}

impl Unmarshal<'_> {
    fn next(&mut self) -> Result<Tok, String> {
        match self.ahead.pop_front() {
            Some(t) => Ok(t),
            None => self.t.step(),
        }
    }

    /// Peeks the `n`th token after the current one (1-based), like `ensure`.
    fn peek(&mut self, n: usize) -> Result<&Tok, String> {
        while self.ahead.len() < n {
            let t = self.t.step()?;
            self.ahead.push_back(t);
        }
        Ok(&self.ahead[n - 1])
    }

    fn value(&mut self, tok: Tok) -> Result<Ipld, String> {
        match tok {
            Tok::MapOpen => {
                if self.dag {
                    if let Some(v) = self.link_lookahead()? {
                        return Ok(v);
                    }
                    if let Some(v) = self.bytes_lookahead()? {
                        return Ok(v);
                    }
                }
                let mut entries: Vec<(String, Ipld)> = Vec::new();
                loop {
                    match self.next()? {
                        Tok::MapClose => return Ok(Ipld::Map(entries)),
                        Tok::Str(k) => {
                            // basicnode plainMap: a repeated key is ErrRepeatedMapKey.
                            if entries.iter().any(|(e, _)| *e == k) {
                                return Err(format!("cannot repeat map key {}", go_quote(&k)));
                            }
                            let t = self.next()?;
                            let v = self.value(t)?;
                            entries.push((k, v));
                        }
                        t => {
                            return Err(format!(
                                "unexpected {} token while expecting map key",
                                t.name()
                            ))
                        }
                    }
                }
            }
            Tok::MapClose => Err("unexpected mapClose token".into()),
            Tok::ArrOpen => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        Tok::ArrClose => return Ok(Ipld::List(items)),
                        t => items.push(self.value(t)?),
                    }
                }
            }
            Tok::ArrClose => Err("unexpected arrClose token".into()),
            Tok::Null => Ok(Ipld::Null),
            Tok::Bool(b) => Ok(Ipld::Bool(b)),
            Tok::Str(s) => Ok(Ipld::String(s)),
            Tok::Int(i) => Ok(Ipld::Int(i)),
            Tok::Float(f) => Ok(Ipld::Float(f)),
        }
    }

    /// `linkLookahead`: `{"/":"<cid>"}`; a string that is not a CID is an error.
    fn link_lookahead(&mut self) -> Result<Option<Ipld>, String> {
        if self.peek(1)? != &Tok::Str("/".into()) {
            return Ok(None);
        }
        let Tok::Str(text) = self.peek(2)?.clone() else {
            return Ok(None);
        };
        if self.peek(3)? != &Tok::MapClose {
            return Ok(None);
        }
        let c = decode_cid(&text)?;
        self.ahead.drain(..3);
        Ok(Some(Ipld::Link(c)))
    }

    /// `bytesLookahead`: `{"/":{"bytes":"<base64>"}}`, RawStdEncoding, else StdEncoding
    /// on a corrupt-input error.
    fn bytes_lookahead(&mut self) -> Result<Option<Ipld>, String> {
        if self.peek(1)? != &Tok::Str("/".into())
            || self.peek(2)? != &Tok::MapOpen
            || self.peek(3)? != &Tok::Str("bytes".into())
        {
            return Ok(None);
        }
        let Tok::Str(b64) = self.peek(4)?.clone() else {
            return Ok(None);
        };
        if self.peek(5)? != &Tok::MapClose || self.peek(6)? != &Tok::MapClose {
            return Ok(None);
        }
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(&b64))
            .map_err(|_| {
                let at = b64
                    .bytes()
                    .position(|c| !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/'))
                    .unwrap_or(b64.len());
                format!("illegal base64 data at input byte {at}")
            })?;
        self.ahead.drain(..6);
        Ok(Some(Ipld::Bytes(bytes)))
    }
}

/// go-cid v0.5.0 `Decode` for a link's text: errors are `ErrInvalidCid` (`invalid cid:
/// <cause>`); the causes for a short text (`ErrCidTooShort`) and for a multibase prefix
/// go-multibase does not know (`ErrUnsupportedEncoding`) are exact, any other failure
/// (bad digits, a bad CID inside) is `invalid cid: <text>` here, not go-cid's cause.
fn decode_cid(text: &str) -> Result<Cid, String> {
    if text.len() < 2 {
        return Err("invalid cid: cid too short".into());
    }
    // go-multibase v0.2.0 multibase.go `Decode`'s cases (base8/base10 are not decoded).
    let known = text.starts_with("Qm")
        || text.starts_with([
            '\0',
            '0',
            'f',
            'F',
            'b',
            'B',
            'c',
            'C',
            'v',
            'V',
            't',
            'T',
            'k',
            'K',
            'z',
            'Z',
            'm',
            'M',
            'u',
            'U',
            '\u{1F680}',
        ]);
    if !known {
        return Err("invalid cid: selected encoding not supported".into());
    }
    Cid::decode(text).ok_or_else(|| format!("invalid cid: {text}"))
}

/// Decodes `input` with go-ipld-prime's dag-json (`dag == true`) or json codec,
/// including dagjson.go `Decode`'s check that only whitespace follows the value.
pub fn decode_json(input: &[u8], dag: bool) -> Result<Ipld, String> {
    let mut u = Unmarshal {
        t: Tokenizer::new(input),
        ahead: Default::default(),
        dag,
    };
    let first = match u.next() {
        Ok(t) => t,
        // Unmarshal: io.EOF on the first token is io.ErrUnexpectedEOF.
        Err(e) if e == EOF => return Err("unexpected EOF".into()),
        Err(e) => return Err(e),
    };
    let v = u.value(first)?;
    let rest = &input[u.t.i.min(input.len())..];
    if rest
        .iter()
        .any(|c| !matches!(c, b' ' | 0 | b'\t' | b'\r' | b'\n'))
    {
        return Err("unexpected content after end of json object".into());
    }
    Ok(v)
}

/// The input codecs: go-ipld-prime's registered decoder for `code`
/// (multicodec/registry.go `LookupDecoder`).
pub fn decode(code: u64, input: &[u8]) -> Result<Ipld, String> {
    match code {
        codec::DAG_JSON => decode_json(input, true),
        codec::JSON => decode_json(input, false),
        // codec/raw: the whole input as one Bytes node.
        codec::RAW => Ok(Ipld::Bytes(input.to_vec())),
        codec::DAG_PB => decode_dag_pb(input),
        codec::DAG_CBOR | codec::CBOR => Err(format!(
            "the Kubo double does not decode input-codec 0x{code:x} (dag-json, json, raw and dag-pb only)"
        )),
        _ => Err(format!(
            "no decoder registered for multicodec code {code} (0x{code:x})"
        )),
    }
}

/// The store codecs: `multicodec.LookupEncoder` then the encoder.
pub fn encode(code: u64, node: &Ipld) -> Result<Vec<u8>, String> {
    match code {
        codec::DAG_PB => encode_dag_pb(node),
        codec::DAG_CBOR => {
            let mut out = Vec::new();
            cbor(node, &mut out);
            Ok(out)
        }
        codec::DAG_JSON => {
            let mut out = String::new();
            dag_json(node, &mut out);
            Ok(out.into_bytes())
        }
        // codec/raw `Encode`: `node.AsBytes()`.
        codec::RAW => match node {
            Ipld::Bytes(b) => Ok(b.clone()),
            other => Err(format!(
                "func called on wrong kind: \"AsBytes\" called on a {} node, but only makes sense on bytes",
                other.kind()
            )),
        },
        codec::JSON | codec::CBOR => Err(format!(
            "the Kubo double does not encode store-codec 0x{code:x} (dag-pb, dag-cbor, dag-json and raw only)"
        )),
        _ => Err(format!(
            "no encoder registered for multicodec code {code} (0x{code:x})"
        )),
    }
}

/// Whether go-ipld-prime has an encoder registered for `code` in Kubo (the codecs
/// put.go imports).
pub fn has_encoder(code: u64) -> bool {
    matches!(
        code,
        codec::RAW | codec::DAG_PB | codec::CBOR | codec::DAG_CBOR | codec::DAG_JSON | codec::JSON
    )
}

fn field(field: u32, wire: u32, out: &mut Vec<u8>) {
    cid::varint(u64::from(field << 3 | wire), out);
}

fn bytes_field(f: u32, data: &[u8], out: &mut Vec<u8>) {
    field(f, 2, out);
    cid::varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// One link of a dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// The linked CID.
    pub hash: Cid,
    /// Name, when present.
    pub name: Option<String>,
    /// Cumulative size of the linked DAG, when present.
    pub tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PbNode {
    /// Links in block order.
    pub links: Vec<PbLink>,
    /// Data, when present.
    pub data: Option<Vec<u8>>,
}

/// go-codec-dagpb `AppendEncode`: assigns `node` to the PBNode schema type (errors are
/// go-ipld-prime's schema errors), sorts the links stably by name, writes each link
/// (Hash, then Name and Tsize when present) as field 2, then Data (field 1) if present.
pub fn encode_dag_pb(node: &Ipld) -> Result<Vec<u8>, String> {
    let pb = to_pb_node(node)?;
    Ok(pb_bytes(&pb))
}

/// The bytes of a PBNode (links sorted stably by name, as `AppendEncode` does).
pub fn pb_bytes(pb: &PbNode) -> Vec<u8> {
    let mut links: Vec<&PbLink> = pb.links.iter().collect();
    links.sort_by(|a, b| {
        a.name
            .as_deref()
            .unwrap_or("")
            .as_bytes()
            .cmp(b.name.as_deref().unwrap_or("").as_bytes())
    });
    let mut out = Vec::new();
    for l in links {
        let mut lb = Vec::new();
        bytes_field(1, &l.hash.to_bytes(), &mut lb);
        if let Some(n) = &l.name {
            bytes_field(2, n.as_bytes(), &mut lb);
        }
        if let Some(t) = l.tsize {
            field(3, 0, &mut lb);
            cid::varint(t, &mut lb);
        }
        bytes_field(2, &lb, &mut out);
    }
    if let Some(d) = &pb.data {
        bytes_field(1, d, &mut out);
    }
    out
}

/// `Type.PBNode.NewBuilder().AssignNode(n)` (ipldsch_satisfaction.go).
fn to_pb_node(node: &Ipld) -> Result<PbNode, String> {
    let Ipld::Map(entries) = node else {
        return Err(wrong_kind("dagpb.PBNode", "AssignNode", node.kind(), "map"));
    };
    let mut pb = PbNode::default();
    let mut have_links = false;
    for (k, v) in entries {
        match k.as_str() {
            "Links" => {
                let Ipld::List(items) = v else {
                    return Err(wrong_kind("dagpb.PBLinks", "AssignNode", v.kind(), "list"));
                };
                for it in items {
                    pb.links.push(to_pb_link(it)?);
                }
                have_links = true;
            }
            "Data" => match v {
                Ipld::Bytes(b) => pb.data = Some(b.clone()),
                other => {
                    return Err(wrong_kind(
                        "dagpb.Bytes",
                        "AssignNode",
                        other.kind(),
                        "bytes",
                    ))
                }
            },
            other => {
                return Err(format!(
                    "invalid key for map dagpb.PBNode: {}: no such field",
                    go_quote(other)
                ))
            }
        }
    }
    if !have_links {
        return Err("missing required fields: Links".into());
    }
    Ok(pb)
}

fn to_pb_link(node: &Ipld) -> Result<PbLink, String> {
    let Ipld::Map(entries) = node else {
        return Err(wrong_kind("dagpb.PBLink", "AssignNode", node.kind(), "map"));
    };
    let (mut hash, mut name, mut tsize) = (None, None, None);
    for (k, v) in entries {
        match (k.as_str(), v) {
            ("Hash", Ipld::Link(c)) => hash = Some(c.clone()),
            ("Hash", other) => {
                return Err(wrong_kind("dagpb.Link", "AssignNode", other.kind(), "link"))
            }
            ("Name", Ipld::String(s)) => name = Some(s.clone()),
            ("Name", other) => {
                return Err(wrong_kind(
                    "dagpb.String",
                    "AssignNode",
                    other.kind(),
                    "string",
                ))
            }
            ("Tsize", Ipld::Int(i)) => {
                if *i < 0 {
                    return Err(format!("Link has negative Tsize value [{i}]"));
                }
                tsize = Some(*i as u64);
            }
            ("Tsize", other) => {
                return Err(wrong_kind("dagpb.Int", "AssignNode", other.kind(), "int"))
            }
            (other, _) => {
                return Err(format!(
                    "invalid key for map dagpb.PBLink: {}: no such field",
                    go_quote(other)
                ))
            }
        }
    }
    let hash = hash.ok_or_else(|| "missing required fields: Hash".to_string())?;
    Ok(PbLink { hash, name, tsize })
}

/// Decodes dag-pb bytes (go-codec-dagpb unmarshal.go: Links (field 2) before Data
/// (field 1); within a link Hash (1), Name (2), Tsize (3) in that order).
pub fn parse_dag_pb(b: &[u8]) -> Result<PbNode, String> {
    let mut pb = PbNode::default();
    let mut i = 0;
    while i < b.len() {
        let (key, rest) = cid::read_varint(&b[i..]).ok_or("dag-pb: bad varint")?;
        let (len, rest) = cid::read_varint(rest).ok_or("dag-pb: bad length")?;
        i = b.len() - rest.len();
        let len = usize::try_from(len).map_err(|_| "dag-pb: length overflow")?;
        let body = b
            .get(i..i.saturating_add(len))
            .ok_or("dag-pb: truncated field")?;
        i += len;
        match key {
            0x12 => {
                if pb.data.is_some() {
                    return Err("dag-pb: Links after Data".into());
                }
                pb.links.push(parse_pb_link(body)?);
            }
            0x0a => {
                if pb.data.is_some() {
                    return Err("dag-pb: duplicate Data".into());
                }
                pb.data = Some(body.to_vec());
            }
            _ => return Err(format!("dag-pb: unexpected field key 0x{key:x}")),
        }
    }
    Ok(pb)
}

fn parse_pb_link(b: &[u8]) -> Result<PbLink, String> {
    let (mut hash, mut name, mut tsize) = (None, None, None);
    let mut i = 0;
    while i < b.len() {
        let (key, rest) = cid::read_varint(&b[i..]).ok_or("dag-pb link: bad varint")?;
        if key == 0x18 {
            let (v, rest) = cid::read_varint(rest).ok_or("dag-pb link: bad Tsize")?;
            i = b.len() - rest.len();
            tsize = Some(v);
            continue;
        }
        let (len, rest) = cid::read_varint(rest).ok_or("dag-pb link: bad length")?;
        i = b.len() - rest.len();
        let len = usize::try_from(len).map_err(|_| "dag-pb link: length overflow")?;
        let body = b
            .get(i..i.saturating_add(len))
            .ok_or("dag-pb link: truncated")?;
        i += len;
        match key {
            0x0a => hash = Some(Cid::from_bytes(body).ok_or("dag-pb link: bad CID")?),
            0x12 => name = Some(String::from_utf8(body.to_vec()).map_err(|e| e.to_string())?),
            _ => return Err(format!("dag-pb link: unexpected field key 0x{key:x}")),
        }
    }
    let hash = hash.ok_or("dag-pb link: no Hash")?;
    Ok(PbLink { hash, name, tsize })
}

/// dag-pb bytes as the data model (`{"Links":[...],"Data":...}`), for input-codec dag-pb.
fn decode_dag_pb(b: &[u8]) -> Result<Ipld, String> {
    let pb = parse_dag_pb(b)?;
    let links = pb
        .links
        .into_iter()
        .map(|l| {
            let mut m = vec![("Hash".to_string(), Ipld::Link(l.hash))];
            if let Some(n) = l.name {
                m.push(("Name".into(), Ipld::String(n)));
            }
            if let Some(t) = l.tsize {
                m.push(("Tsize".into(), Ipld::Int(t as i64)));
            }
            Ipld::Map(m)
        })
        .collect();
    let mut m = vec![("Links".to_string(), Ipld::List(links))];
    if let Some(d) = pb.data {
        m.push(("Data".into(), Ipld::Bytes(d)));
    }
    Ok(Ipld::Map(m))
}

fn cbor_head(major: u8, v: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match v {
        0..=23 => out.push(m | v as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, v as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// dag-cbor (go-ipld-prime codec/dagcbor marshal.go with `MapSortMode_RFC7049`).
fn cbor(n: &Ipld, out: &mut Vec<u8>) {
    match n {
        Ipld::Null => out.push(0xf6),
        Ipld::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Ipld::Int(i) if *i >= 0 => cbor_head(0, *i as u64, out),
        Ipld::Int(i) => cbor_head(1, (-1 - *i) as u64, out),
        Ipld::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Ipld::String(s) => {
            cbor_head(3, s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Ipld::Bytes(b) => {
            cbor_head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Ipld::List(v) => {
            cbor_head(4, v.len() as u64, out);
            v.iter().for_each(|x| cbor(x, out));
        }
        Ipld::Map(m) => {
            let mut sorted: Vec<&(String, Ipld)> = m.iter().collect();
            sorted.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
            cbor_head(5, m.len() as u64, out);
            for (k, v) in sorted {
                cbor_head(3, k.len() as u64, out);
                out.extend_from_slice(k.as_bytes());
                cbor(v, out);
            }
        }
        Ipld::Link(c) => {
            cbor_head(6, 42, out);
            let mut b = vec![0u8];
            b.extend_from_slice(&c.to_bytes());
            cbor_head(2, b.len() as u64, out);
            out.extend_from_slice(&b);
        }
    }
}

/// Links of a dag-cbor block (tag 42 byte strings), for DAG walks. `None` when the bytes
/// are not well-formed CBOR.
pub fn cbor_links(b: &[u8]) -> Option<Vec<Cid>> {
    fn item(b: &[u8], i: &mut usize, out: &mut Vec<Cid>, depth: usize) -> Option<()> {
        if depth > 256 {
            return None;
        }
        let ib = *b.get(*i)?;
        *i += 1;
        let (major, info) = (ib >> 5, ib & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                let s = b.get(*i..i.saturating_add(n))?;
                *i += n;
                s.iter().fold(0u64, |a, x| a << 8 | u64::from(*x))
            }
            _ => return None,
        };
        match major {
            0 | 1 | 7 => Some(()),
            2 | 3 => {
                let n = usize::try_from(arg).ok()?;
                b.get(*i..i.saturating_add(n))?;
                *i += n;
                Some(())
            }
            4 => (0..arg).try_for_each(|_| item(b, i, out, depth + 1)),
            5 => (0..arg * 2).try_for_each(|_| item(b, i, out, depth + 1)),
            6 => {
                let start = *i;
                item(b, i, out, depth + 1)?;
                if arg == 42 {
                    // A byte string `00 || cid`: re-read its payload.
                    let mut j = start;
                    let hb = *b.get(j)?;
                    j += 1;
                    let len = match hb & 0x1f {
                        n @ 0..=23 => usize::from(n),
                        24 => {
                            j += 1;
                            usize::from(*b.get(j - 1)?)
                        }
                        25 => {
                            j += 2;
                            usize::from(u16::from_be_bytes([*b.get(j - 2)?, *b.get(j - 1)?]))
                        }
                        _ => return None,
                    };
                    let payload = b.get(j..j + len)?;
                    out.push(Cid::from_bytes(payload.get(1..)?)?);
                }
                Some(())
            }
            _ => None,
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    item(b, &mut i, &mut out, 0)?;
    Some(out)
}

/// dag-json (go-ipld-prime codec/dagjson marshal.go, `MapSortMode_Lexical`).
fn dag_json(n: &Ipld, out: &mut String) {
    match n {
        Ipld::Null => out.push_str("null"),
        Ipld::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Ipld::Int(i) => out.push_str(&i.to_string()),
        Ipld::Float(f) => out.push_str(&f.to_string()),
        Ipld::String(s) => json_string(s, out),
        Ipld::Bytes(b) => {
            out.push_str("{\"/\":{\"bytes\":\"");
            out.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(b));
            out.push_str("\"}}");
        }
        Ipld::List(v) => {
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                dag_json(x, out);
            }
            out.push(']');
        }
        Ipld::Map(m) => {
            let mut sorted: Vec<&(String, Ipld)> = m.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                dag_json(v, out);
            }
            out.push('}');
        }
        Ipld::Link(c) => {
            out.push_str("{\"/\":\"");
            out.push_str(&c.to_string());
            out.push_str("\"}");
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Links of a stored block of `codec`, for DAG walks (pins, `pin/ls` indirect);
/// `None` when the block does not decode.
pub fn block_links(codec: u64, block: &[u8]) -> Option<Vec<Cid>> {
    match codec {
        codec::DAG_PB => Some(
            parse_dag_pb(block)
                .ok()?
                .links
                .into_iter()
                .map(|l| l.hash)
                .collect(),
        ),
        codec::DAG_CBOR => cbor_links(block),
        codec::DAG_JSON => {
            let mut out = Vec::new();
            decode_json(block, true).ok()?.links(&mut out);
            Some(out)
        }
        _ => Some(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refmt_laxness_and_errors() {
        // Commas are optional and a trailing one is accepted (jsonDecoder.go).
        assert_eq!(
            decode_json(br#"{"a":1 "b":[1 2,]}"#, false).unwrap(),
            Ipld::Map(vec![
                ("a".into(), Ipld::Int(1)),
                ("b".into(), Ipld::List(vec![Ipld::Int(1), Ipld::Int(2)]))
            ])
        );
        assert_eq!(
            decode_json(b"x", true).unwrap_err(),
            "Invalid byte while expecting start of value: 0x78"
        );
        assert_eq!(decode_json(b"", true).unwrap_err(), "unexpected EOF");
        assert_eq!(decode_json(b"{\"a\":", true).unwrap_err(), "EOF");
        assert_eq!(
            decode_json(b"{} {}", true).unwrap_err(),
            "unexpected content after end of json object"
        );
        assert_eq!(
            decode_json(b"{\"a\" 1}", true).unwrap_err(),
            "expected colon after map key; got 0x31"
        );
        assert_eq!(decode_json(b"1.5e3", true).unwrap(), Ipld::Float(1500.0));
        assert_eq!(decode_json(b"-12", true).unwrap(), Ipld::Int(-12));
    }

    #[test]
    fn dag_json_links_and_bytes() {
        let v = decode_json(
            br#"{"Data":{"/":{"bytes":"CAE"}},"l":{"/":"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"}}"#,
            true,
        )
        .unwrap();
        let Ipld::Map(m) = &v else { panic!() };
        assert_eq!(m[0].1, Ipld::Bytes(vec![8, 1]));
        assert!(matches!(&m[1].1, Ipld::Link(c) if c.version == 0));
        // Plain json: the same text is nested maps.
        let Ipld::Map(m) = decode_json(br#"{"/":{"bytes":"CAE"}}"#, false).unwrap() else {
            panic!()
        };
        assert_eq!(m[0].0, "/");
        assert_eq!(
            decode_json(br#"{"/":"nope"}"#, true).unwrap_err(),
            "invalid cid: selected encoding not supported"
        );
    }

    #[test]
    fn dag_pb_schema_errors() {
        let e = |s: &str| encode_dag_pb(&decode_json(s.as_bytes(), true).unwrap()).unwrap_err();
        assert_eq!(
            e(r#"{"Data":{"/":{"bytes":"CAE"}}}"#),
            "missing required fields: Links"
        );
        assert_eq!(
            e(r#"{"Links":[],"x":1}"#),
            "invalid key for map dagpb.PBNode: \"x\": no such field"
        );
        assert_eq!(
            e(r#"{"Links":[{"Name":"a"}]}"#),
            "missing required fields: Hash"
        );
        // An empty node is the empty block.
        assert_eq!(
            encode_dag_pb(&decode_json(br#"{"Links":[]}"#, true).unwrap()).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn dag_cbor_canonical_order() {
        let v = decode_json(br#"{"bb":1,"a":2,"c":[true,null]}"#, true).unwrap();
        let mut out = Vec::new();
        cbor(&v, &mut out);
        // {"a":2,"c":[true,null],"bb":1}: length-first key order.
        assert_eq!(
            out,
            vec![0xa3, 0x61, b'a', 0x02, 0x61, b'c', 0x82, 0xf5, 0xf6, 0x62, b'b', b'b', 0x01]
        );
    }
}
