//! Kubo HTTP RPC client: add, pin, key, name publish/resolve, cat, id, version.
//!
//! Follows Kubo's RPC contract (kubo-rpc.md beside DESIGN.md): every command is a `POST`
//! to `/api/v0/<command>` with arguments as repeated `arg` query keys; errors before
//! output are non-2xx with a JSON body `{"Message","Code","Type"}`; `add` streams one JSON
//! object per line. An error after output started arrives as the `X-Stream-Error` HTTP
//! trailer (go-ipfs-cmds http/responseemitter.go), which this client reads, and checks by
//! its effect too: `add` must print a line for every file sent, `cat` must deliver
//! `X-Content-Length` bytes.
//!
//! Replies are parsed liberally (kubo-rpc.md section 8): every field Kubo marks
//! `omitempty` has a default (a fresh node answers `pin/ls` with `{}`), and numbers that
//! other versions or implementations send as strings, or strings sent as numbers (js-ipfs
//! sends `add`'s `Size` as a number), are both accepted. Every reply is read with a size
//! cap ([`MAX_REPLY_BYTES`], [`MAX_CAT_BYTES`]).
//!
//! The client sends no `Origin`/`Referer` and a non-browser `User-Agent`, so Kubo's
//! browser protection lets it through.

pub mod addr;
pub mod node;
pub mod unixfs;

use crate::error::{Error, Result};
use serde::Deserialize;
use std::time::Duration;

/// The largest command reply read, bytes (16 MiB: an `add` of a thousand files answers
/// about 150 KB); more is an error, never an unbounded allocation.
pub const MAX_REPLY_BYTES: usize = 16 << 20;
/// The largest file `cat` reads, bytes (64 MiB: a segment is about 100 KB).
pub const MAX_CAT_BYTES: usize = 64 << 20;
/// The most of an error reply kept for the message, bytes.
const MAX_ERROR_BYTES: usize = 64 << 10;

/// Serde helpers for the shapes Kubo versions and other implementations send.
mod lenient {
    use serde::{Deserialize, Deserializer};

    /// A count sent as a decimal string (`"104542"`, Kubo) or a number (`104542`,
    /// js-ipfs); absent or unreadable is `None`.
    pub fn u64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A string that may be absent or `null` (Go's `omitempty`, or a nil slice).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        })
    }

    /// A list that may be absent or `null` (Go's nil slice).
    pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

/// A Kubo RPC client bound to one API base URL.
#[derive(Debug, Clone)]
pub struct Kubo {
    base: String,
    http: reqwest::Client,
}

/// One line of `add` output for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The name the file was sent under.
    pub name: String,
    /// Its CID as Kubo printed it (CIDv0 `Qm...` by default).
    pub cid: String,
    /// Cumulative DAG size in bytes.
    pub size: u64,
}

/// A Kubo key (`key/list`, `key/gen`; core/commands/keystore.go `KeyOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Key {
    /// Key name.
    #[serde(rename = "Name", default, deserialize_with = "lenient::string")]
    pub name: String,
    /// IPNS name of the key (`k51...`).
    #[serde(rename = "Id", default, deserialize_with = "lenient::string")]
    pub id: String,
}

/// The node's identity (`id`; core/commands/id.go `IdOutput`: `Addresses` and
/// `Protocols` are `null` on an offline daemon).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NodeId {
    /// Peer ID (`12D3KooW...`).
    #[serde(rename = "ID", default, deserialize_with = "lenient::string")]
    pub id: String,
    /// e.g. `kubo/0.34.1/`.
    #[serde(rename = "AgentVersion", default, deserialize_with = "lenient::string")]
    pub agent_version: String,
    /// Listen addresses (multiaddrs); empty offline.
    #[serde(rename = "Addresses", default, deserialize_with = "lenient::vec")]
    pub addresses: Vec<String>,
}

/// The result of `name/publish` (core/commands/name/name.go `IpnsEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Published {
    /// The IPNS name (`k51...`).
    #[serde(rename = "Name", default, deserialize_with = "lenient::string")]
    pub name: String,
    /// The published path (`/ipfs/<cid>`).
    #[serde(rename = "Value", default, deserialize_with = "lenient::string")]
    pub value: String,
}

/// Options of one `name/publish` call (kubo-rpc.md section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    /// Key name (or its id).
    pub key: String,
    /// Record lifetime, a Go duration (e.g. `48h`).
    pub lifetime: String,
    /// Record TTL, a Go duration (e.g. `5s`): how long resolvers may cache it.
    pub ttl: String,
    /// Publish even when the node is offline.
    pub allow_offline: bool,
}

#[derive(Deserialize)]
struct KuboErrorBody {
    #[serde(rename = "Message", default, deserialize_with = "lenient::string")]
    message: String,
}

/// `raw`, a CID in a reply of `endpoint`, parsed (multibase, version, codec, multihash:
/// the `cid` crate, as go-cid `cid.Decode`) and printed again in its canonical form
/// (base58btc for CIDv0, base32 lower for CIDv1), so nothing but a CID reaches a playlist
/// URI or a state file whatever the reply held.
///
/// Errors: [`Error::KuboResponse`] naming the endpoint and the (capped, sanitized) value.
pub fn checked_cid(endpoint: &str, raw: &str) -> Result<String> {
    cid::Cid::try_from(raw)
        .map(|c| c.to_string())
        .map_err(|e| Error::KuboResponse {
            endpoint: format!("/api/v0/{endpoint}"),
            message: format!(
                "not a CID ({e}): {:?}",
                raw.chars().take(100).collect::<String>()
            ),
        })
}

/// One `add` output line (core/commands/add.go `AddEvent`: `Hash`, `Bytes`, `Size` are
/// `omitempty`; progress lines carry only `Name` and `Bytes`).
#[derive(Deserialize)]
struct AddLine {
    #[serde(rename = "Name", default, deserialize_with = "lenient::string")]
    name: String,
    #[serde(rename = "Hash", default)]
    hash: Option<String>,
    #[serde(rename = "Size", default, deserialize_with = "lenient::u64_opt")]
    size: Option<u64>,
}

impl Kubo {
    /// A client for the RPC API at `base` (e.g. `http://127.0.0.1:5001`); `timeout` bounds
    /// every request (seconds); connecting is bounded to 5 s.
    ///
    /// Errors: [`Error::KuboUnreachable`] when the HTTP client cannot be built.
    pub fn new(base: &str, timeout: Duration) -> Result<Kubo> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ipfs-station/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::KuboUnreachable {
                url: base.into(),
                reason: e.to_string(),
            })?;
        Ok(Kubo {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, cmd: &str) -> String {
        format!("{}/api/v0/{cmd}", self.base)
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        Error::KuboUnreachable {
            url: self.base.clone(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "connection refused or failed".into()
            } else {
                e.to_string()
            },
        }
    }

    /// Sends `req`, turns non-2xx into [`Error::KuboStatus`] with Kubo's message.
    async fn send(&self, cmd: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = self
            .read(cmd, resp, MAX_ERROR_BYTES)
            .await
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        let message = serde_json::from_str::<KuboErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| body.trim().to_string());
        Err(Error::KuboStatus {
            endpoint: format!("/api/v0/{cmd}"),
            status: status.as_u16(),
            message,
        })
    }

    /// Reads a reply body of at most `cap` bytes and its trailers: an `X-Stream-Error`
    /// trailer (an error after output started) is an [`Error::KuboResponse`] with Kubo's
    /// message, and so is a reply over `cap`.
    async fn read(&self, cmd: &str, resp: reqwest::Response, cap: usize) -> Result<Vec<u8>> {
        use http_body_util::BodyExt;
        let endpoint = format!("/api/v0/{cmd}");
        let body = http_body_util::Limited::new(reqwest::Body::from(resp), cap);
        let collected = body.collect().await.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::KuboResponse {
                    endpoint: endpoint.clone(),
                    message: format!("the reply is larger than {cap} bytes: refused"),
                }
            } else {
                Error::KuboUnreachable {
                    url: self.base.clone(),
                    reason: format!("the reply broke off: {e}"),
                }
            }
        })?;
        if let Some(msg) = collected
            .trailers()
            .and_then(|t| t.get("x-stream-error"))
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            return Err(Error::KuboResponse {
                endpoint,
                message: format!(
                    "Kubo reported an error after its reply started (X-Stream-Error): {msg}"
                ),
            });
        }
        Ok(collected.to_bytes().to_vec())
    }

    /// POSTs a command with query `args` and parses its single JSON reply.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        cmd: &str,
        args: &[(&str, &str)],
    ) -> Result<T> {
        let resp = self
            .send(cmd, self.http.post(self.url(cmd)).query(args))
            .await?;
        let body = self.read(cmd, resp, MAX_REPLY_BYTES).await?;
        serde_json::from_slice(&body).map_err(|e| Error::KuboResponse {
            endpoint: format!("/api/v0/{cmd}"),
            message: format!(
                "unexpected reply ({e}): {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        })
    }

    /// `id`: the node's identity; the cheapest "is Kubo there" check.
    ///
    /// Errors: [`Error::KuboUnreachable`], [`Error::KuboStatus`], [`Error::KuboResponse`].
    pub async fn id(&self) -> Result<NodeId> {
        self.call("id", &[]).await
    }

    /// `version`: Kubo's version string (e.g. `0.32.1`).
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn version(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct V {
            #[serde(rename = "Version", default, deserialize_with = "lenient::string")]
            version: String,
        }
        Ok(self.call::<V>("version", &[]).await?.version)
    }

    /// `shutdown`: asks the daemon to stop (it answers, then exits).
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn shutdown(&self) -> Result<()> {
        self.send("shutdown", self.http.post(self.url("shutdown")))
            .await
            .map(|_| ())
    }

    /// `add` of many files in one multipart request, each a top-level file named by its
    /// `name` (names must be unique in the batch; `[A-Za-z0-9._-]` keeps them exact).
    /// Returns one [`Added`] per file, in input order.
    ///
    /// Errors: as [`Kubo::id`]; [`Error::KuboResponse`] when Kubo's reply lacks a file
    /// (an error arrived in the `X-Stream-Error` trailer).
    pub async fn add_files(&self, files: Vec<(String, Vec<u8>)>, pin: bool) -> Result<Vec<Added>> {
        self.add_files_chunked(files, pin, None).await
    }

    /// [`Kubo::add_files`] with the files cut into blocks of `chunk_size` bytes (Kubo
    /// `add` `chunker=size-<n>`, boxo chunker/parse.go; at most 1 MiB) instead of Kubo's
    /// default 256 KiB: a file that grows at its end is added again as new last blocks
    /// only, the blocks before them being the same ones.
    ///
    /// Errors: as [`Kubo::add_files`].
    pub async fn add_files_chunked(
        &self,
        files: Vec<(String, Vec<u8>)>,
        pin: bool,
        chunk_size: Option<usize>,
    ) -> Result<Vec<Added>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str("application/octet-stream")
                .map_err(|e| self.transport(e))?;
            form = form.part("file", part);
        }
        let mut got = std::collections::HashMap::new();
        let chunker = chunk_size.map(|n| format!("size-{n}"));
        for l in self
            .add_multipart(form, pin, false, chunker.as_deref())
            .await?
        {
            if let Some(hash) = l.hash {
                got.insert(l.name, (hash, l.size.unwrap_or(0)));
            }
        }
        names
            .into_iter()
            .map(|name| match got.remove(&name) {
                Some((cid, size)) => Ok(Added { name, cid, size }),
                None => Err(Error::KuboResponse {
                    endpoint: "/api/v0/add".into(),
                    message: format!("the reply ended before `{name}` was added (Kubo reported the error in the X-Stream-Error trailer)"),
                }),
            })
            .collect()
    }

    /// `add` of a directory tree as ONE wrapped directory, in one multipart request,
    /// like [`Kubo::add_directory`], returning every line of the reply: each file and
    /// sub-directory by its relative path (`vendor/hls.min.js`, `vendor`) and the
    /// wrapping directory under the empty name, with CIDs and cumulative sizes.
    ///
    /// Errors: as [`Kubo::add_directory`].
    pub async fn add_tree(&self, files: Vec<(String, Vec<u8>)>, pin: bool) -> Result<Vec<Added>> {
        let (form, names) = self.tree_form(files)?;
        let mut out = Vec::new();
        for l in self.add_multipart(form, pin, true, None).await? {
            if let Some(hash) = l.hash {
                out.push(Added {
                    name: l.name,
                    cid: hash,
                    size: l.size.unwrap_or(0),
                });
            }
        }
        if let Some(missing) = names.iter().find(|n| !out.iter().any(|a| &a.name == *n)) {
            return Err(Error::KuboResponse {
                endpoint: "/api/v0/add".into(),
                message: format!("the reply ended before `{missing}` was added (Kubo reported the error in the X-Stream-Error trailer)"),
            });
        }
        if !out.iter().any(|a| a.name.is_empty()) {
            return Err(Error::KuboResponse {
                endpoint: "/api/v0/add".into(),
                message: "the reply has no wrapping directory (the last line, with an empty Name)"
                    .into(),
            });
        }
        Ok(out)
    }

    /// `dag/put` of ONE dag-pb node given as dag-json (`store-codec=dag-pb`,
    /// `input-codec=dag-json`, sha2-256; Kubo core/commands/dag/put.go), pinned
    /// recursively with `pin` (its children must be in the node then: the pinner walks
    /// the DAG). Returns the node's CID (CIDv1, `bafy...`) from the reply's
    /// `{"Cid":{"/":"..."}}` (a plain string is accepted too).
    ///
    /// Errors: as [`Kubo::id`]; [`Error::KuboResponse`] when the reply has no CID.
    pub async fn dag_put_dag_pb(&self, node: &serde_json::Value, pin: bool) -> Result<String> {
        let bytes = serde_json::to_vec(node).map_err(|e| Error::KuboResponse {
            endpoint: "/api/v0/dag/put".into(),
            message: format!("the node cannot be written as JSON: {e}"),
        })?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("node.json")
            .mime_str("application/octet-stream")
            .map_err(|e| self.transport(e))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let query = [
            ("store-codec", "dag-pb"),
            ("input-codec", "dag-json"),
            ("hash", "sha2-256"),
            ("pin", if pin { "true" } else { "false" }),
        ];
        let req = self
            .http
            .post(self.url("dag/put"))
            .query(&query)
            .multipart(form);
        let resp = self.send("dag/put", req).await?;
        let body = self.read("dag/put", resp, MAX_REPLY_BYTES).await?;
        let text = String::from_utf8_lossy(&body);
        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let cid = match &v["Cid"] {
            serde_json::Value::Object(o) => o.get("/").and_then(|c| c.as_str()),
            serde_json::Value::String(c) => Some(c.as_str()),
            _ => None,
        };
        cid.filter(|c| !c.is_empty())
            .map(|c| checked_cid("dag/put", c))
            .transpose()?
            .ok_or_else(|| Error::KuboResponse {
                endpoint: "/api/v0/dag/put".into(),
                message: format!(
                    "no CID in the reply: {}",
                    line.chars().take(200).collect::<String>()
                ),
            })
    }

    /// `add` of a directory tree as ONE wrapped directory, in one multipart request
    /// (`wrap-with-directory=true`): `files` are `(relative path, bytes)` like
    /// `index.html` or `vendor/hls.min.js` (`/`-separated, no `.`/`..` segments, unique).
    /// Every sub-directory is sent as an `application/x-directory` part before its
    /// entries, entries in path order (kubo-rpc.md section 2). Returns the CID of the
    /// wrapping directory, which holds the files at their relative paths; with `pin` it is
    /// pinned (and with it everything inside).
    ///
    /// Errors: as [`Kubo::id`]; [`Error::KuboResponse`] when a path is not a clean
    /// relative path, or Kubo's reply lacks a file or the wrapper (an error arrived in the
    /// `X-Stream-Error` trailer).
    pub async fn add_directory(&self, files: Vec<(String, Vec<u8>)>, pin: bool) -> Result<String> {
        self.add_tree(files, pin)
            .await?
            .into_iter()
            .find(|a| a.name.is_empty())
            .map(|a| a.cid)
            .ok_or_else(|| Error::KuboResponse {
                endpoint: "/api/v0/add".into(),
                message: "the reply has no wrapping directory (the last line, with an empty Name)"
                    .into(),
            })
    }

    /// The multipart form of a directory add (sub-directories as
    /// `application/x-directory` parts before their entries, entries in path order) and
    /// the file names sent.
    fn tree_form(
        &self,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<(reqwest::multipart::Form, Vec<String>)> {
        let bad = |message: String| Error::KuboResponse {
            endpoint: "/api/v0/add".into(),
            message,
        };
        let mut files = files;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (path, _)) in files.iter().enumerate() {
            let clean = !path.is_empty()
                && path
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != "..");
            if !clean {
                return Err(bad(format!(
                    "`{path}` is not a relative path for a directory add"
                )));
            }
            if i > 0 && files[i - 1].0 == *path {
                return Err(bad(format!("`{path}` is given twice")));
            }
        }
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let mut form = reqwest::multipart::Form::new();
        let mut dirs_sent: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (path, bytes) in files {
            // Parent directories first, outermost first, once each.
            let segments: Vec<&str> = path.split('/').collect();
            for depth in 1..segments.len() {
                let dir = segments[..depth].join("/");
                if dirs_sent.insert(dir.clone()) {
                    let part = reqwest::multipart::Part::bytes(Vec::new())
                        .file_name(dir)
                        .mime_str("application/x-directory")
                        .map_err(|e| self.transport(e))?;
                    form = form.part("file", part);
                }
            }
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(path)
                .mime_str("application/octet-stream")
                .map_err(|e| self.transport(e))?;
            form = form.part("file", part);
        }
        Ok((form, names))
    }

    /// POSTs one multipart `add` (CIDv0, pinned when `pin`, no progress lines, wrapped
    /// in a directory when `wrap`) and parses Kubo's newline-delimited JSON reply.
    async fn add_multipart(
        &self,
        form: reqwest::multipart::Form,
        pin: bool,
        wrap: bool,
        chunker: Option<&str>,
    ) -> Result<Vec<AddLine>> {
        let mut query = vec![
            ("pin", if pin { "true" } else { "false" }),
            ("cid-version", "0"),
            ("progress", "false"),
        ];
        if wrap {
            query.push(("wrap-with-directory", "true"));
        }
        if let Some(c) = chunker {
            query.push(("chunker", c));
        }
        let req = self
            .http
            .post(self.url("add"))
            .query(&query)
            .multipart(form);
        let resp = self.send("add", req).await?;
        let body = self.read("add", resp, MAX_REPLY_BYTES).await?;
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut l: AddLine =
                    serde_json::from_str(line).map_err(|e| Error::KuboResponse {
                        endpoint: "/api/v0/add".into(),
                        message: format!(
                            "bad output line ({e}): {}",
                            crate::station::text::terminal(
                                &line.chars().take(200).collect::<String>()
                            )
                        ),
                    })?;
                l.hash = l.hash.map(|h| checked_cid("add", &h)).transpose()?;
                Ok(l)
            })
            .collect()
    }

    /// `add` of one file; returns its CID.
    ///
    /// Errors: as [`Kubo::add_files`].
    pub async fn add_bytes(&self, name: &str, bytes: Vec<u8>, pin: bool) -> Result<String> {
        let mut v = self.add_files(vec![(name.to_string(), bytes)], pin).await?;
        Ok(v.remove(0).cid)
    }

    /// `pin/ls?type=all`: every pinned CID, the roots of recursive pins and every block
    /// under them (`indirect`), so a segment pinned only through its station's library
    /// root ([`crate::setup::pins`]) counts as pinned. Kubo walks each recursive pin's DAG
    /// for this (core/coreapi/pin.go `pinLsAll`). A node with no pins answers `{}`
    /// (`PinLsList.Keys` is `omitempty`, core/commands/pin/pin.go): none.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn pins(&self) -> Result<std::collections::HashSet<String>> {
        self.pin_ls("all").await
    }

    /// `pin/ls?type=recursive`: the roots of recursive pins only (fast: no DAG walk).
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn recursive_pins(&self) -> Result<std::collections::HashSet<String>> {
        self.pin_ls("recursive").await
    }

    /// `pin/ls?type=<typ>` as a set of CIDs (each parsed and re-printed).
    async fn pin_ls(&self, typ: &str) -> Result<std::collections::HashSet<String>> {
        #[derive(Deserialize)]
        struct Ls {
            #[serde(rename = "Keys", default)]
            keys: Option<std::collections::HashMap<String, serde_json::Value>>,
        }
        let ls: Ls = self.call("pin/ls", &[("type", typ)]).await?;
        ls.keys
            .unwrap_or_default()
            .into_keys()
            .map(|c| checked_cid("pin/ls", &c))
            .collect()
    }

    /// `pin/add?arg=<cid>&recursive=true&name=<name>`: pins `cid` and everything under it,
    /// named `name` (read back with `pin ls --names`; pinning again with another name
    /// renames the pin: core/commands/pin/pin.go `addPinCmd`, Kubo 0.26 and later). Kubo
    /// walks the whole DAG first (`FetchGraph`): a block it does not have fails the pin
    /// offline and is fetched from the network online.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn pin_add(&self, cid: &str, name: &str) -> Result<()> {
        self.call::<serde_json::Value>(
            "pin/add",
            &[("arg", cid), ("recursive", "true"), ("name", name)],
        )
        .await
        .map(|_| ())
    }

    /// `pin/rm?arg=<cid>`; a CID that is not pinned is not an error.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn unpin(&self, cid: &str) -> Result<()> {
        match self
            .call::<serde_json::Value>("pin/rm", &[("arg", cid)])
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::KuboStatus { message, .. }) if message.contains("not pinned") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `key/list`.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn keys(&self) -> Result<Vec<Key>> {
        #[derive(Deserialize)]
        struct L {
            #[serde(rename = "Keys", default, deserialize_with = "lenient::vec")]
            keys: Vec<Key>,
        }
        Ok(self.call::<L>("key/list", &[]).await?.keys)
    }

    /// The key named `name`, generated (ed25519) when it does not exist yet.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn ensure_key(&self, name: &str) -> Result<Key> {
        if let Some(k) = self.keys().await?.into_iter().find(|k| k.name == name) {
            return Ok(k);
        }
        self.call("key/gen", &[("arg", name), ("type", "ed25519")])
            .await
    }

    /// `name/publish` of `path` (e.g. `/ipfs/<cid>`) under the key in `opts`.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn publish(&self, path: &str, opts: &PublishOptions) -> Result<Published> {
        let allow = if opts.allow_offline { "true" } else { "false" };
        self.call(
            "name/publish",
            &[
                ("arg", path),
                ("key", &opts.key),
                ("lifetime", &opts.lifetime),
                ("ttl", &opts.ttl),
                ("allow-offline", allow),
            ],
        )
        .await
    }

    /// `name/resolve?arg=<name>&nocache=true`: the current path of an IPNS name.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn resolve(&self, name: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct R {
            #[serde(rename = "Path", default, deserialize_with = "lenient::string")]
            path: String,
        }
        Ok(self
            .call::<R>("name/resolve", &[("arg", name), ("nocache", "true")])
            .await?
            .path)
    }

    /// `cat?arg=<path>`: the bytes of a file.
    ///
    /// Errors: as [`Kubo::id`]; [`Error::KuboResponse`] when fewer bytes arrive than
    /// `X-Content-Length` announced.
    pub async fn cat(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(
                "cat",
                self.http.post(self.url("cat")).query(&[("arg", path)]),
            )
            .await?;
        let expect: Option<u64> = resp
            .headers()
            .get("x-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = self.read("cat", resp, MAX_CAT_BYTES).await?;
        if let Some(n) = expect {
            if n != body.len() as u64 {
                return Err(Error::KuboResponse {
                    endpoint: "/api/v0/cat".into(),
                    message: format!("got {} of {n} bytes of {path}", body.len()),
                });
            }
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The empty and odd shapes real nodes send (kubo-rpc.md section 8, Kubo 0.34.1
    /// core/commands: pin/pin.go `PinLsList{Keys omitempty}`, add.go `AddEvent`, id.go
    /// `IdOutput` offline, keystore.go `KeyOutputList`), and js-ipfs 0.66's numeric
    /// `Size`.
    #[test]
    fn empty_and_foreign_reply_shapes_parse() {
        #[derive(Deserialize)]
        struct Ls {
            #[serde(rename = "Keys", default)]
            keys: Option<std::collections::HashMap<String, serde_json::Value>>,
        }
        let ls: Ls = serde_json::from_str("{}").unwrap();
        assert!(ls.keys.is_none());
        let id: NodeId = serde_json::from_str(
            r#"{"ID":"12D3KooWx","PublicKey":"CAES","Addresses":null,"AgentVersion":"kubo/0.34.1/","Protocols":null}"#,
        )
        .unwrap();
        assert!(id.addresses.is_empty());
        let line: AddLine =
            serde_json::from_str(r#"{"Name":"a.ts","Hash":"QmX","Size":104542}"#).unwrap();
        assert_eq!(line.size, Some(104542));
        let line: AddLine =
            serde_json::from_str(r#"{"Name":"a.ts","Hash":"QmX","Size":"104542"}"#).unwrap();
        assert_eq!(line.size, Some(104542));
        let progress: AddLine = serde_json::from_str(r#"{"Name":"a.ts"}"#).unwrap();
        assert!(progress.hash.is_none() && progress.size.is_none());
        let key: Key = serde_json::from_str(r#"{"Name":"self","Id":"k51x"}"#).unwrap();
        assert_eq!(key.id, "k51x");
        let p: Published = serde_json::from_str(r#"{"Name":"k51","Value":"/ipfs/Qm"}"#).unwrap();
        assert_eq!(p.value, "/ipfs/Qm");
    }

    #[test]
    fn cids_from_kubo_are_parsed_and_reprinted() {
        // Test vectors from ../shared/kubo-rpc.md: the empty file, CIDv0 and CIDv1 raw.
        let v0 = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH";
        assert_eq!(checked_cid("add", v0).unwrap(), v0);
        let v1 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        assert_eq!(checked_cid("add", v1).unwrap(), v1);
        for bad in [
            "QmX",
            "",
            "bafy\u{2028}#EXT-X-ENDLIST",
            "../../etc/passwd",
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH/x.ts",
        ] {
            let e = checked_cid("add", bad).unwrap_err().to_string();
            assert!(e.contains("not a CID"), "{bad}: {e}");
        }
    }
}
