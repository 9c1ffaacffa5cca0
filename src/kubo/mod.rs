//! Kubo HTTP RPC client: add, pin, key, name publish/resolve, cat, id, version.
//!
//! Follows Kubo's RPC contract (kubo-rpc.md beside DESIGN.md): every command is a `POST`
//! to `/api/v0/<command>` with arguments as repeated `arg` query keys; errors before
//! output are non-2xx with a JSON body `{"Message","Code","Type"}`; `add` streams one JSON
//! object per line. An error after output started arrives only as the `X-Stream-Error`
//! HTTP trailer, which this client detects by its effect: `add` must print a line for
//! every file sent, `cat` must deliver `X-Content-Length` bytes.
//!
//! The client sends no `Origin`/`Referer` and a non-browser `User-Agent`, so Kubo's
//! browser protection lets it through.

pub mod node;

use crate::error::{Error, Result};
use serde::Deserialize;
use std::time::Duration;

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

/// A Kubo key (`key/list`, `key/gen`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Key {
    /// Key name.
    #[serde(rename = "Name")]
    pub name: String,
    /// IPNS name of the key (`k51...`).
    #[serde(rename = "Id")]
    pub id: String,
}

/// The node's identity (`id`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NodeId {
    /// Peer ID (`12D3KooW...`).
    #[serde(rename = "ID")]
    pub id: String,
    /// e.g. `kubo/0.32.1/`.
    #[serde(rename = "AgentVersion", default)]
    pub agent_version: String,
    /// Listen addresses (multiaddrs).
    #[serde(rename = "Addresses", default)]
    pub addresses: Option<Vec<String>>,
}

/// The result of `name/publish`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Published {
    /// The IPNS name (`k51...`).
    #[serde(rename = "Name")]
    pub name: String,
    /// The published path (`/ipfs/<cid>`).
    #[serde(rename = "Value")]
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
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
struct AddLine {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Hash")]
    hash: Option<String>,
    #[serde(rename = "Size")]
    size: Option<String>,
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
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<KuboErrorBody>(&body)
            .map(|b| b.message)
            .unwrap_or_else(|_| body.trim().to_string());
        Err(Error::KuboStatus {
            endpoint: format!("/api/v0/{cmd}"),
            status: status.as_u16(),
            message,
        })
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
        let body = resp.bytes().await.map_err(|e| self.transport(e))?;
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
            #[serde(rename = "Version")]
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
        for l in self.add_multipart(form, pin, false).await? {
            if let Some(hash) = l.hash {
                let size = l.size.and_then(|s| s.parse().ok()).unwrap_or(0);
                got.insert(l.name, (hash, size));
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
        let mut got = std::collections::HashSet::new();
        let mut root = None;
        for l in self.add_multipart(form, pin, true).await? {
            if let Some(hash) = l.hash {
                if l.name.is_empty() {
                    root = Some(hash);
                } else {
                    got.insert(l.name);
                }
            }
        }
        if let Some(missing) = names.iter().find(|n| !got.contains(*n)) {
            return Err(bad(format!("the reply ended before `{missing}` was added (Kubo reported the error in the X-Stream-Error trailer)")));
        }
        root.ok_or_else(|| {
            bad("the reply has no wrapping directory (the last line, with an empty Name)".into())
        })
    }

    /// POSTs one multipart `add` (CIDv0, pinned when `pin`, no progress lines, wrapped
    /// in a directory when `wrap`) and parses Kubo's newline-delimited JSON reply.
    async fn add_multipart(
        &self,
        form: reqwest::multipart::Form,
        pin: bool,
        wrap: bool,
    ) -> Result<Vec<AddLine>> {
        let mut query = vec![
            ("pin", if pin { "true" } else { "false" }),
            ("cid-version", "0"),
            ("progress", "false"),
        ];
        if wrap {
            query.push(("wrap-with-directory", "true"));
        }
        let req = self
            .http
            .post(self.url("add"))
            .query(&query)
            .multipart(form);
        let resp = self.send("add", req).await?;
        let body = resp.text().await.map_err(|e| self.transport(e))?;
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).map_err(|e| Error::KuboResponse {
                    endpoint: "/api/v0/add".into(),
                    message: format!("bad output line ({e}): {line}"),
                })
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

    /// `pin/ls?type=recursive`: every recursively pinned CID.
    ///
    /// Errors: as [`Kubo::id`].
    pub async fn pins(&self) -> Result<std::collections::HashSet<String>> {
        #[derive(Deserialize)]
        struct Ls {
            #[serde(rename = "Keys")]
            keys: std::collections::HashMap<String, serde_json::Value>,
        }
        let ls: Ls = self.call("pin/ls", &[("type", "recursive")]).await?;
        Ok(ls.keys.into_keys().collect())
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
            #[serde(rename = "Keys")]
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
            #[serde(rename = "Path")]
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
        let body = resp.bytes().await.map_err(|e| self.transport(e))?;
        if let Some(n) = expect {
            if n != body.len() as u64 {
                return Err(Error::KuboResponse {
                    endpoint: "/api/v0/cat".into(),
                    message: format!("got {} of {n} bytes of {path}", body.len()),
                });
            }
        }
        Ok(body.to_vec())
    }
}
