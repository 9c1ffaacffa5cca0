//! The RPC API (`/api/v0/*`): transport rules and the commands the station uses.

// Handlers return early with a ready HTTP response as the error value; boxing it would
// only add noise in a test double.
#![allow(clippy::result_large_err)]

use crate::store::{Entry, Record, Store};
use crate::{cid, get, Shared};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;
use std::time::{Duration, Instant};

const COMMANDS: &[&str] = &[
    "shutdown",
    "add",
    "cat",
    "pin/add",
    "pin/rm",
    "pin/ls",
    "key/gen",
    "key/list",
    "key/rm",
    "name/publish",
    "name/resolve",
    "id",
    "version",
];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Go's `encoding/json` escapes `<`, `>`, `&` (they only occur inside strings).
pub(crate) fn go_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn base_headers(h: &mut HeaderMap) {
    h.insert(
        header::SERVER,
        HeaderValue::from_static("kubo/0.32.1-double"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert("Trailer", HeaderValue::from_static("X-Stream-Error"));
    h.insert(
        "Access-Control-Allow-Headers",
        HeaderValue::from_static("X-Stream-Output, X-Chunked-Output, X-Content-Length"),
    );
    h.insert(
        "Access-Control-Expose-Headers",
        HeaderValue::from_static("X-Stream-Output, X-Chunked-Output, X-Content-Length"),
    );
}

/// A command error before output: HTTP 500 (or 400 for client errors) with Kubo's JSON.
fn cmd_error(msg: &str) -> Response {
    let code = 0;
    let body = go_json(&serde_json::json!({"Message": msg, "Code": code, "Type": "error"})) + "\n";
    let mut r = (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    base_headers(r.headers_mut());
    r
}

fn json(v: serde_json::Value) -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        go_json(&v) + "\n",
    )
        .into_response();
    base_headers(r.headers_mut());
    r
}

/// Decodes a query component like Go's `url.QueryUnescape` (`+` is a space); malformed
/// escapes give `None`.
pub(crate) fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

struct Args(Vec<(String, String)>);

impl Args {
    fn parse(q: Option<&str>) -> Args {
        Args(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (
                        query_unescape(k).unwrap_or_else(|| k.into()),
                        query_unescape(v).unwrap_or_else(|| v.into()),
                    )
                })
                .collect(),
        )
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn get(&self, keys: &[&str]) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| keys.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    }
    /// Go `strconv.ParseBool`, with Kubo's 400 message on a bad value.
    fn flag(&self, keys: &[&str], default: bool) -> Result<bool, Response> {
        match self.get(keys) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(text(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "could not convert value \"{v}\" to type \"bool\" (for option \"-{}\")",
                        keys[0]
                    ),
                )),
            },
        }
    }
    fn required(&self, what: &str) -> Result<String, Response> {
        self.get(&["arg"]).ok_or_else(|| {
            text(
                StatusCode::BAD_REQUEST,
                &format!("argument \"{what}\" is required"),
            )
        })
    }
}

/// Go `time.ParseDuration` acceptance (no `d` unit).
fn go_duration(s: &str) -> Option<Duration> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * scale;
        rest = &rest[u..];
    }
    Some(Duration::from_secs_f64(total))
}

fn origin_allowed(origin: &str, api_port: u16) -> bool {
    ["http", "https"].iter().any(|s| {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| origin == format!("{s}://{h}:{api_port}"))
    })
}

async fn handle(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    if path == "/version" {
        return text(StatusCode::OK, "Client Version:   0.32.1-double\n");
    }
    let Some(cmd) = path.strip_prefix("/api/v0/").map(str::to_string) else {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    };
    if !COMMANDS.contains(&cmd.as_str()) {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    }
    if let Ok(mut s) = sh.store.lock() {
        s.calls
            .push((path.clone(), uri.query().unwrap_or("").to_string()));
    }
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    if method != Method::POST {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
        return r;
    }
    let api_port = get(&sh.api_port).unwrap_or(0);
    let hv = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (origin, referer, ua) = (
        hv(header::ORIGIN),
        hv(header::REFERER),
        hv(header::USER_AGENT).unwrap_or_default(),
    );
    let forbidden = match (&origin, &referer) {
        (Some(o), _) => !origin_allowed(o, api_port),
        (None, Some(r)) => !["http", "https"].iter().any(|s| {
            ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
                r.starts_with(&format!("{s}://{h}:{api_port}/"))
                    || *r == format!("{s}://{h}:{api_port}")
            })
        }),
        (None, None) => ua.starts_with("Mozilla") && !ua.contains("Electron"),
    };
    if forbidden {
        return text(StatusCode::FORBIDDEN, "403 - Forbidden");
    }
    let delay = get(&sh.faults.rpc_delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(msg) = get(&sh.faults.rpc_error).flatten() {
        return cmd_error(&msg);
    }
    if let Some((_, msg)) = get(&sh.faults.command_errors)
        .unwrap_or_default()
        .into_iter()
        .find(|(c, _)| cmd.ends_with(c.as_str()))
    {
        return cmd_error(&msg);
    }
    let args = Args::parse(uri.query());
    let result = match cmd.as_str() {
        "add" => add(&sh, &args, &headers, body).await,
        "cat" => cat(&sh, &args),
        "pin/add" | "pin/rm" | "pin/ls" => pins(&sh, &cmd, &args),
        "key/gen" | "key/list" | "key/rm" => keys(&sh, &cmd, &args),
        "name/publish" => publish(&sh, &args),
        "name/resolve" => resolve(&sh, &args),
        "id" => id(&sh),
        "shutdown" => {
            sh.shutdown.notify_one();
            Ok(StatusCode::OK.into_response())
        }
        _ => Ok(json(
            serde_json::json!({"Version":"0.32.1","Commit":"","Repo":"16","System":"amd64/linux","Golang":"go1.23.4"}),
        )),
    };
    result.unwrap_or_else(|r| r)
}

type R = Result<Response, Response>;

fn lock(sh: &Shared) -> Result<std::sync::MutexGuard<'_, Store>, Response> {
    sh.store.lock().map_err(|_| cmd_error("store poisoned"))
}

/// One part of an `add` request.
struct Part {
    name: String,
    dir: bool,
    data: Vec<u8>,
}

/// Cleans a relative path like Go's `path.Clean` (no leading `/`, no `.`/`..`).
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

async fn add(sh: &Shared, args: &Args, headers: &HeaderMap, body: Body) -> R {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Ok(boundary) = multer::parse_boundary(ct) else {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "file argument 'path' is required",
        ));
    };
    let pin = args.flag(&["pin"], true)?;
    let only_hash = args.flag(&["only-hash", "n"], false)?;
    let progress = args.flag(&["progress", "p"], false)?;
    let wrap = args.flag(&["wrap-with-directory", "w"], false)?;
    let cid_version: u8 = match args.get(&["cid-version"]).as_deref() {
        None | Some("0") => 0,
        Some("1") => 1,
        Some(v) => return Err(cmd_error(&format!("unknown CID version: {v}"))),
    };
    if let Some(h) = args.get(&["hash"]) {
        if h != "sha2-256" {
            return Err(cmd_error(&format!(
                "the Kubo double supports only sha2-256, not {h}"
            )));
        }
    }
    let raw_leaves = args.flag(&["raw-leaves"], cid_version == 1)?;
    let chunk = match args.get(&["chunker", "s"]) {
        None => cid::DEFAULT_CHUNK,
        Some(c) => match c
            .strip_prefix("size-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n > 0 && n <= 1_048_576 => n,
            _ => {
                return Err(cmd_error(&format!(
                    "chunker {c:?} is not supported by the double (use size-N, N <= 1 MiB)"
                )))
            }
        },
    };
    let opts = cid::AddOptions {
        cid_version,
        raw_leaves,
        chunk,
    };
    let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut parts = Vec::new();
    loop {
        match mp.next_field().await {
            Ok(Some(mut field)) => {
                let raw = field.file_name().map(str::to_string).unwrap_or_default();
                let name = clean(&query_unescape(&raw).unwrap_or(raw));
                let dir = field.content_type().is_some_and(|m| {
                    m.essence_str() == "application/x-directory"
                        || m.essence_str() == "multipart/form-data"
                });
                let mut data = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(c)) => data.extend_from_slice(&c),
                        Ok(None) => break,
                        Err(e) => {
                            return Err(text(
                                StatusCode::BAD_REQUEST,
                                &format!("bad multipart body: {e}"),
                            ))
                        }
                    }
                }
                parts.push(Part { name, dir, data });
            }
            Ok(None) => break,
            Err(e) => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    &format!("bad multipart body: {e}"),
                ))
            }
        }
    }
    if parts.is_empty() {
        return Err(cmd_error("expected a file argument"));
    }
    let mut lines = Vec::new();
    let mut store = lock(sh)?;
    let import =
        |name: &str, data: &[u8], lines: &mut Vec<String>, store: &mut Store| -> cid::Node {
            if progress {
                let mut at = 0usize;
                while at + 262_144 < data.len() {
                    at += 262_144;
                    lines.push(format!(
                        "{{\"Name\":{},\"Bytes\":{at}}}",
                        serde_json::Value::from(name)
                    ));
                }
                lines.push(if data.is_empty() {
                    format!("{{\"Name\":{}}}", serde_json::Value::from(name))
                } else {
                    format!(
                        "{{\"Name\":{},\"Bytes\":{}}}",
                        serde_json::Value::from(name),
                        data.len()
                    )
                });
            }
            let (node, _) = cid::file(data, &opts);
            if !only_hash {
                if let Some(k) = Store::key_of(&node.cid) {
                    store
                        .entries
                        .insert(k, Entry::File(Arc::new(data.to_vec())));
                }
            }
            let shown = if name.is_empty() {
                node.cid.clone()
            } else {
                name.to_string()
            };
            lines.push(line(&shown, &node));
            node
        };
    // Group consecutive parts by first path segment; each group is one top-level entry.
    let mut tops: Vec<(String, cid::Node)> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let first = parts[i].name.split('/').next().unwrap_or("").to_string();
        let mut j = i + 1;
        while j < parts.len()
            && parts[j].name.split('/').next() == Some(first.as_str())
            && (parts[i].dir || parts[i].name.contains('/'))
        {
            j += 1;
        }
        let group = &parts[i..j];
        let node = if group.len() == 1 && !group[0].dir && !group[0].name.contains('/') {
            import(&group[0].name, &group[0].data, &mut lines, &mut store)
        } else {
            // A directory tree: files as they come, then directories in post-order.
            let mut files: Vec<(String, cid::Node)> = Vec::new();
            let mut dirs: Vec<String> = vec![first.clone()];
            for p in group {
                if p.dir {
                    if !dirs.contains(&p.name) {
                        dirs.push(p.name.clone());
                    }
                } else {
                    let n = import(&p.name, &p.data, &mut lines, &mut store);
                    let mut anc = p.name.as_str();
                    while let Some((parent, _)) = anc.rsplit_once('/') {
                        if !dirs.iter().any(|d| d == parent) {
                            dirs.push(parent.to_string());
                        }
                        anc = parent;
                    }
                    files.push((p.name.clone(), n));
                }
            }
            build_dir(
                &first, &files, &dirs, &opts, only_hash, &mut store, &mut lines,
            )
        };
        tops.push((first, node));
        i = j;
    }
    if wrap {
        let (node, _) = cid::directory(&tops, &opts);
        if !only_hash {
            store_dir(&mut store, &node, &tops);
            if pin {
                if let Some(k) = Store::key_of(&node.cid) {
                    store.pins.insert(k, node.cid.clone());
                }
            }
        }
        lines.push(line("", &node));
    } else if pin && !only_hash {
        for (_, n) in &tops {
            if let Some(k) = Store::key_of(&n.cid) {
                store.pins.insert(k, n.cid.clone());
            }
        }
    }
    drop(store);
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        lines.join("\n") + "\n",
    )
        .into_response();
    base_headers(r.headers_mut());
    r.headers_mut()
        .insert("X-Chunked-Output", HeaderValue::from_static("1"));
    Ok(r)
}

fn line(name: &str, n: &cid::Node) -> String {
    format!(
        "{{\"Name\":{},\"Hash\":\"{}\",\"Size\":\"{}\"}}",
        go_json(&serde_json::Value::from(name)),
        n.cid,
        n.size
    )
}

fn store_dir(store: &mut Store, node: &cid::Node, children: &[(String, cid::Node)]) {
    let mut entries: Vec<(String, crate::store::Key, String)> = children
        .iter()
        .filter_map(|(n, c)| Some((n.clone(), Store::key_of(&c.cid)?, c.cid.clone())))
        .collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if let Some(k) = Store::key_of(&node.cid) {
        store.entries.insert(k, Entry::Dir(entries));
    }
}

/// Builds directory `dir` (a relative path) from `files` and sub-`dirs`, printing every
/// directory in post-order with children sorted by name.
fn build_dir(
    dir: &str,
    files: &[(String, cid::Node)],
    dirs: &[String],
    opts: &cid::AddOptions,
    only_hash: bool,
    store: &mut Store,
    lines: &mut Vec<String>,
) -> cid::Node {
    let prefix = format!("{dir}/");
    let mut children: Vec<(String, cid::Node)> = Vec::new();
    let mut subdirs: Vec<&String> = dirs
        .iter()
        .filter(|d| d.strip_prefix(&prefix).is_some_and(|r| !r.contains('/')))
        .collect();
    subdirs.sort();
    for sd in subdirs {
        let n = build_dir(sd, files, dirs, opts, only_hash, store, lines);
        children.push((sd[prefix.len()..].to_string(), n));
    }
    for (path, n) in files {
        if let Some(name) = path.strip_prefix(&prefix).filter(|r| !r.contains('/')) {
            children.push((name.to_string(), n.clone()));
        }
    }
    let (node, _) = cid::directory(&children, opts);
    if !only_hash {
        store_dir(store, &node, &children);
    }
    lines.push(line(dir, &node));
    node
}

fn cat(sh: &Shared, args: &Args) -> R {
    let path = args.required("ipfs-path")?;
    let offset: i64 = args
        .get(&["offset"])
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if offset < 0 {
        return Err(cmd_error("cannot specify negative offset"));
    }
    let length: Option<i64> = args.get(&["length", "l"]).and_then(|v| v.parse().ok());
    if length.is_some_and(|l| l < 0) {
        return Err(cmd_error("cannot specify negative length"));
    }
    let store = lock(sh)?;
    let path = if let Some(n) = path.strip_prefix("/ipns/") {
        let (name, rest) = n.split_once('/').unwrap_or((n, ""));
        let v = store
            .ipns_current(name)
            .ok_or_else(|| cmd_error("could not resolve name"))?;
        format!("{v}/{rest}")
    } else {
        path
    };
    let (entry, _) = store.resolve(&path).map_err(|e| cmd_error(&e))?;
    let Entry::File(bytes) = entry else {
        return Err(cmd_error("this dag node is a directory"));
    };
    let start = (offset as usize).min(bytes.len());
    let end = length.map_or(bytes.len(), |l| (start + l as usize).min(bytes.len()));
    let body = Bytes::copy_from_slice(&bytes[start..end]);
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response();
    base_headers(r.headers_mut());
    r.headers_mut()
        .insert("X-Stream-Output", HeaderValue::from_static("1"));
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        r.headers_mut().insert("X-Content-Length", v);
    }
    Ok(r)
}

fn pins(sh: &Shared, cmd: &str, args: &Args) -> R {
    let mut store = lock(sh)?;
    match cmd {
        "pin/add" => {
            let arg = args.required("ipfs-path")?;
            let mut out = Vec::new();
            for a in args.all("arg") {
                let root = a
                    .strip_prefix("/ipfs/")
                    .unwrap_or(&a)
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                store.resolve(&a).map_err(|e| cmd_error(&e))?;
                if let Some(k) = Store::key_of(&root) {
                    store.pins.insert(k, root.clone());
                }
                out.push(root);
            }
            let _ = arg;
            Ok(json(serde_json::json!({"Pins": out})))
        }
        "pin/rm" => {
            args.required("ipfs-path")?;
            let mut out = Vec::new();
            for a in args.all("arg") {
                let root = a.strip_prefix("/ipfs/").unwrap_or(&a).to_string();
                let k = Store::key_of(&root)
                    .ok_or_else(|| cmd_error(&format!("invalid path {a:?}")))?;
                if store.pins.remove(&k).is_none() {
                    return Err(cmd_error("not pinned or pinned indirectly"));
                }
                out.push(root);
            }
            Ok(json(serde_json::json!({"Pins": out})))
        }
        _ => {
            let typ = args.get(&["type", "t"]).unwrap_or_else(|| "all".into());
            let stream = args.flag(&["stream", "s"], false)?;
            let mut keys: Vec<String> = if typ == "direct" || typ == "indirect" {
                Vec::new()
            } else {
                store.pin_list()
            };
            let asked = args.all("arg");
            if !asked.is_empty() {
                let mut sel = Vec::new();
                for a in asked {
                    let root = a.strip_prefix("/ipfs/").unwrap_or(&a).to_string();
                    let k = Store::key_of(&root)
                        .ok_or_else(|| cmd_error(&format!("invalid path {a:?}")))?;
                    match store.pins.get(&k) {
                        Some(c) => sel.push(c.clone()),
                        None => {
                            return Err(cmd_error(&format!("path '/ipfs/{root}' is not pinned")))
                        }
                    }
                }
                keys = sel;
            }
            if stream {
                let body: String = keys
                    .iter()
                    .map(|k| go_json(&serde_json::json!({"Cid": k, "Type": "recursive"})) + "\n")
                    .collect();
                let mut r = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response();
                base_headers(r.headers_mut());
                r.headers_mut()
                    .insert("X-Chunked-Output", HeaderValue::from_static("1"));
                return Ok(r);
            }
            let map: serde_json::Map<String, serde_json::Value> = keys
                .into_iter()
                .map(|k| (k, serde_json::json!({"Type": "recursive", "Name": ""})))
                .collect();
            Ok(json(serde_json::json!({"Keys": map})))
        }
    }
}

fn keys(sh: &Shared, cmd: &str, args: &Args) -> R {
    let mut store = lock(sh)?;
    match cmd {
        "key/gen" => {
            let name = args.required("name")?;
            if name == "self" {
                return Err(cmd_error("cannot create key with name 'self'"));
            }
            if store.keys.iter().any(|k| k.name == name) {
                return Err(cmd_error(&format!("key with name '{name}' already exists")));
            }
            if let Some(t) = args.get(&["type", "t"]) {
                if t != "ed25519" {
                    return Err(cmd_error(&format!(
                        "the Kubo double makes only ed25519 keys, not {t}"
                    )));
                }
            }
            let k = store.new_key(&name);
            Ok(json(serde_json::json!({"Name": k.name, "Id": k.ipns_name})))
        }
        "key/rm" => {
            let name = args.required("name")?;
            if name == "self" {
                return Err(cmd_error("cannot remove key with name 'self'"));
            }
            let pos = store
                .keys
                .iter()
                .position(|k| k.name == name)
                .ok_or_else(|| cmd_error(&format!("no key named {name} was found")))?;
            let k = store.keys.remove(pos);
            Ok(json(
                serde_json::json!({"Keys": [{"Name": k.name, "Id": k.ipns_name}]}),
            ))
        }
        _ => {
            let mut list: Vec<&crate::store::KeyInfo> =
                store.keys.iter().filter(|k| k.name != "self").collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(s) = store.keys.iter().find(|k| k.name == "self") {
                list.insert(0, s);
            }
            let v: Vec<serde_json::Value> = list
                .iter()
                .map(|k| serde_json::json!({"Name": k.name, "Id": k.ipns_name}))
                .collect();
            Ok(json(serde_json::json!({"Keys": v})))
        }
    }
}

fn publish(sh: &Shared, args: &Args) -> R {
    let arg = args.required("ipfs-path")?;
    let value = if arg.starts_with('/') {
        arg
    } else {
        format!("/ipfs/{arg}")
    };
    let key = args.get(&["key", "k"]).unwrap_or_else(|| "self".into());
    let lifetime = args.get(&["lifetime", "t"]).unwrap_or_else(|| "48h".into());
    go_duration(&lifetime)
        .ok_or_else(|| cmd_error(&format!("time: invalid duration \"{lifetime}\"")))?;
    let ttl = match args.get(&["ttl"]) {
        Some(t) => {
            go_duration(&t).ok_or_else(|| cmd_error(&format!("time: invalid duration \"{t}\"")))?
        }
        None => Duration::from_secs(3600),
    };
    if !args.flag(&["allow-offline"], false)? {
        return Err(cmd_error(
            "can't publish while offline: pass `--allow-offline` to override",
        ));
    }
    let resolve = args.flag(&["resolve"], true)?;
    let mut store = lock(sh)?;
    if resolve && value.starts_with("/ipfs/") {
        store.resolve(&value).map_err(|e| cmd_error(&e))?;
    }
    let k = store.find_key(&key).cloned().ok_or_else(|| {
        cmd_error(&format!(
            "no key by the given name or PeerID was found: {key}"
        ))
    })?;
    let hist = store.ipns.entry(k.ipns_name.clone()).or_default();
    let sequence = match hist.last() {
        Some(r) if r.value == value => r.sequence,
        Some(r) => r.sequence + 1,
        None => 0,
    };
    hist.push(Record {
        at: Instant::now(),
        wall: std::time::SystemTime::now(),
        value: value.clone(),
        ttl,
        sequence,
    });
    if hist.len() > 10_000 {
        hist.drain(..5_000);
    }
    Ok(json(
        serde_json::json!({"Name": k.ipns_name, "Value": value}),
    ))
}

fn resolve(sh: &Shared, args: &Args) -> R {
    let store = lock(sh)?;
    let name = args
        .get(&["arg"])
        .unwrap_or_else(|| store.keys[0].ipns_name.clone());
    let v = store
        .ipns_current(&name)
        .ok_or_else(|| cmd_error("could not resolve name"))?;
    Ok(json(serde_json::json!({"Path": v})))
}

fn id(sh: &Shared) -> R {
    use base64::Engine;
    let store = lock(sh)?;
    let me = &store.keys[0];
    let mut pb = vec![0x08, 0x01, 0x12, 0x20];
    pb.extend_from_slice(&me.public_key);
    Ok(json(serde_json::json!({
        "ID": me.peer_id,
        "PublicKey": base64::engine::general_purpose::STANDARD.encode(pb),
        "Addresses": serde_json::Value::Null,
        "AgentVersion": "kubo/0.32.1/",
        "Protocols": serde_json::Value::Null,
    })))
}
