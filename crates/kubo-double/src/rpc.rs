//! The RPC API (`/api/v0/*`): transport rules and the commands the station uses.

// Handlers return early with a ready HTTP response as the error value; boxing it would
// only add noise in a test double.
#![allow(clippy::result_large_err)]

use crate::store::{Entry, Record, Store};
use crate::{cid, get, InFlight, Shared, KUBO_VERSION};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::Frame;
use http_body_util::StreamBody;
use std::sync::Arc;
use std::time::{Duration, Instant};

const COMMANDS: &[&str] = &[
    "shutdown",
    "add",
    "cat",
    "pin/add",
    "pin/rm",
    "pin/ls",
    "dag/put",
    "block/stat",
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

/// Go `http.Error` (net/http server.go): text/plain, `X-Content-Type-Options: nosniff`,
/// the message and a newline (`fmt.Fprintln`). go-ipfs-cmds answers every transport error
/// (405, 403, 404, 400 from http/handler.go `ServeHTTP` and http/parse.go) this way.
fn http_error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

/// Headers of every command reply: go-ipfs-cmds http/responseemitter.go `doPreamble`
/// (Allow/Expose headers, `Trailer`), Kubo core/corehttp/commands.go
/// `addHeadersFromConfig` (`Server: kubo/<version>`), rs/cors (`Vary: Origin`).
fn base_headers(h: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&format!("kubo/{KUBO_VERSION}")) {
        h.insert(header::SERVER, v);
    }
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
    // cmds.Error{Message, Code, Type} in struct order.
    let body = obj(&[
        ("Message", js(msg)),
        ("Code", js(code)),
        ("Type", js("error")),
    ]) + "\n";
    let mut r = (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    base_headers(r.headers_mut());
    r
}

/// One JSON value as Go's encoder writes it.
fn js(v: impl Into<serde_json::Value>) -> String {
    go_json(&v.into())
}

/// A JSON object with its fields in the given order (Go encodes struct fields in
/// declaration order; only maps are key-sorted). Values are already encoded.
fn obj(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", js(*k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A single-value command reply (`cmds.EmitOnce`): one JSON object and a newline.
fn json(v: String) -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v + "\n",
    )
        .into_response();
    base_headers(r.headers_mut());
    r
}

/// A body sent as `chunks` (each flushed on its own, as go-ipfs-cmds flushes after every
/// `Emit`), ended by the `X-Stream-Error: <err>` trailer when `err` is set
/// (responseemitter.go `closeWithError` after the preamble).
fn streamed(chunks: Vec<Bytes>, err: Option<&str>) -> Body {
    let mut frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
        chunks.into_iter().map(|c| Ok(Frame::data(c))).collect();
    if let Some(msg) = err {
        // Go's header writer turns CR and LF into spaces (net/http header.go).
        let clean = msg.replace(['\r', '\n'], " ");
        let mut t = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(clean.as_bytes()) {
            t.insert("X-Stream-Error", v);
        }
        frames.push(Ok(Frame::trailers(t)));
    }
    Body::new(StreamBody::new(futures_util::stream::iter(frames)))
}

/// A multi-value command reply (`X-Chunked-Output: 1`): one JSON line per value.
fn ndjson(lines: Vec<String>, err: Option<&str>) -> Response {
    let chunks = lines.into_iter().map(|l| Bytes::from(l + "\n")).collect();
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        streamed(chunks, err),
    )
        .into_response();
    base_headers(r.headers_mut());
    r.headers_mut()
        .insert("X-Chunked-Output", HeaderValue::from_static("1"));
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
                _ => Err(http_error(
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
            http_error(
                StatusCode::BAD_REQUEST,
                &format!("argument \"{what}\" is required"),
            )
        })
    }
}

/// Go `strconv.Quote` (`%q`) of a string, for Kubo's error messages that format with
/// `%q` (multicodec names, dag-json map keys, strconv parse errors).
///
/// `"` and `\\` are backslashed; a printable rune (Go `unicode.IsPrint`, [`go_is_print`])
/// is written as itself; otherwise `\a \b \f \n \r \t \v`, then `\xNN` below U+0020
/// and for DEL (U+007F, since Go 1.19: golang/go#52062), `\uXXXX` below U+10000, and
/// `\UXXXXXXXX` above, in lower-case hex. (A Rust `&str` is valid UTF-8, so Go's `\xNN`
/// for an invalid byte never arises here.)
///
/// Source: Go `src/strconv/quote.go` (`Quote`, `appendQuotedWith`, `appendEscapedRune`).
/// Not for `time.ParseDuration`'s messages, which use the time package's own quote
/// ([`go_time::quote`]).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if go_is_print(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c < ' ' || c == '\x7f' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Go `unicode.IsPrint` (which `strconv.IsPrint` mirrors): letters, marks, numbers,
/// punctuation and symbols (general categories L, M, N, P, S) and the ASCII space; not
/// other spaces (Zs, e.g. U+00A0, U+3000), line and paragraph separators, controls,
/// format characters (U+00AD, U+200B, U+FEFF), private use, surrogates or unassigned
/// code points.
///
/// Categories come from `unicode-general-category`, at Unicode 16.0.0. Go's tables are at
/// Unicode 15.0.0 since Go 1.21 (Go api/go1.21.txt), so a character first assigned in 16.0
/// prints as itself here where a Go on 15.0 escapes it as unassigned.
fn go_is_print(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    c == ' '
        || !matches!(
            get_general_category(c),
            G::Control
                | G::Format
                | G::Surrogate
                | G::PrivateUse
                | G::Unassigned
                | G::SpaceSeparator
                | G::LineSeparator
                | G::ParagraphSeparator
        )
}

/// A Go `time.Duration` (int64 nanoseconds) as a `Duration`; a negative one is zero.
fn nanos(n: i64) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

fn origin_allowed(origin: &str, api_port: u16) -> bool {
    ["http", "https"].iter().any(|s| {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| origin == format!("{s}://{h}:{api_port}"))
    })
}

/// Go `runtime.GOARCH + "/" + runtime.GOOS` for this host.
fn go_system() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        a => a,
    };
    format!("{arch}/{}", std::env::consts::OS)
}

/// Order of checks, as go-ipfs-cmds http/handler.go `ServeHTTP` (behind the `/api/v0`
/// prefix handler, http/apiprefix.go) runs them: method (OPTIONS 204, anything but POST
/// 405) first, then Origin/Referer/User-Agent (403), then the command lookup in
/// http/parse.go `parseRequest` (404) and its argument checks (400). So a GET to an
/// unknown command is a 405, not a 404.
async fn handle(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    if path == "/version" {
        // Kubo core/corehttp/gateway.go `VersionOption`; Go sniffs text/plain.
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("Commit: \nClient Version: kubo/{KUBO_VERSION}/\n"),
        )
            .into_response();
    }
    let Some(cmd) = path.strip_prefix("/api/v0/").map(str::to_string) else {
        return http_error(StatusCode::NOT_FOUND, "404 page not found");
    };
    let mut r = transport(&sh, &method, &cmd, uri.query(), &headers, body).await;
    // rs/cors wraps the whole handler and always adds `Vary: Origin`.
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    r
}

async fn transport(
    sh: &Shared,
    method: &Method,
    cmd: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let known = COMMANDS.contains(&cmd);
    if known {
        if let Ok(mut s) = sh.store.lock() {
            s.calls
                .push((format!("/api/v0/{cmd}"), query.unwrap_or("").to_string()));
        }
    }
    let allow = |mut r: Response| {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
        r
    };
    if *method == Method::OPTIONS {
        return allow(StatusCode::NO_CONTENT.into_response());
    }
    if *method != Method::POST {
        return allow(http_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 - Method Not Allowed",
        ));
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
        return http_error(StatusCode::FORBIDDEN, "403 - Forbidden");
    }
    if !known {
        return http_error(StatusCode::NOT_FOUND, "404 page not found");
    }
    let _in_flight = (cmd == "name/publish").then(|| InFlight::new(sh));
    let delay = get(&sh.faults.rpc_delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(msg) = get(&sh.faults.rpc_error).flatten() {
        return cmd_error(&msg);
    }
    if sh.faults.flaky_fails() {
        return cmd_error("injected failure (a flaky node)");
    }
    if let Some((_, msg)) = get(&sh.faults.command_errors)
        .unwrap_or_default()
        .into_iter()
        .find(|(c, _)| cmd.ends_with(c.as_str()))
    {
        return cmd_error(&msg);
    }
    let args = Args::parse(query);
    let result = match cmd {
        "add" => add(sh, &args, headers, body).await,
        "cat" => cat(sh, &args),
        "pin/add" | "pin/rm" | "pin/ls" => pins(sh, cmd, &args).await,
        "dag/put" => dag_put(sh, &args, headers, body).await,
        "block/stat" => block_stat(sh, &args).await,
        "key/gen" | "key/list" | "key/rm" => keys(sh, cmd, &args),
        "name/publish" => publish(sh, &args).await,
        "name/resolve" => resolve(sh, &args),
        "id" => id(sh),
        "shutdown" => Ok(shutdown(sh)),
        // version.go `VersionInfo` has no json tags: Commit is "" (not omitted) for a
        // build without the Makefile's CurrentCommit ldflag.
        _ => Ok(json(obj(&[
            ("Version", js(KUBO_VERSION)),
            ("Commit", js("")),
            ("Repo", js("16")),
            ("System", js(go_system())),
            ("Golang", js("go1.24.2")),
        ]))),
    };
    result.unwrap_or_else(|r| r)
}

/// Kubo core/commands/shutdown.go: the Run closes the node and returns nil without
/// emitting, so the reply is an empty 200 with the default `X-Chunked-Output` preamble
/// (responseemitter.go `doPreamble(nil)`); the daemon then stops both HTTP servers.
fn shutdown(sh: &Shared) -> Response {
    sh.shutdown.notify_one();
    let faults = sh.faults.clone();
    tokio::spawn(async move { faults.stop_servers().await });
    ndjson(Vec::new(), None)
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

/// The parts of a `multipart/form-data` body (go-ipfs-cmds http/parse.go hands them to
/// the command as files): name from the `filename` parameter, URL-unescaped and cleaned;
/// `application/x-directory` (or `multipart/form-data`) parts are directories.
async fn read_parts(body: Body, boundary: String) -> Result<Vec<Part>, Response> {
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
                            return Err(http_error(
                                StatusCode::BAD_REQUEST,
                                &format!("bad multipart body: {e}"),
                            ))
                        }
                    }
                }
                parts.push(Part { name, dir, data });
            }
            Ok(None) => return Ok(parts),
            Err(e) => {
                return Err(http_error(
                    StatusCode::BAD_REQUEST,
                    &format!("bad multipart body: {e}"),
                ))
            }
        }
    }
}

/// Stores the blocks an import produced (binary CID, block bytes).
fn store_blocks(store: &mut Store, blocks: cid::Blocks) {
    for (c, b) in blocks {
        if let Some(c) = cid::Cid::from_bytes(&c) {
            store.put_block(&c, b);
        }
    }
}

/// The multipart boundary of a request whose command takes the required file argument
/// named `arg` (`path` for `add`, `object data` for `dag/put`); without a multipart
/// body, go-ipfs-cmds http/parse.go's 400 `file argument '<arg>' is required`.
fn multipart_boundary(headers: &HeaderMap, arg: &str) -> Result<String, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    multer::parse_boundary(ct).map_err(|_| {
        http_error(
            StatusCode::BAD_REQUEST,
            &format!("file argument '{arg}' is required"),
        )
    })
}

async fn add(sh: &Shared, args: &Args, headers: &HeaderMap, body: Body) -> R {
    let boundary = multipart_boundary(headers, "path")?;
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
    let parts = read_parts(body, boundary).await?;
    if parts.is_empty() {
        return Err(cmd_error("expected a file argument"));
    }
    let mut lines = Vec::new();
    let mut store = lock(sh)?;
    let import =
        |name: &str, data: &[u8], lines: &mut Vec<String>, store: &mut Store| -> cid::Node {
            if progress {
                // Kubo core/coreunix/add.go `progressReader.Read`: an event each time
                // 256 KiB more were read and on the read that returns EOF; a chunk-sized
                // file's last full read is followed by a (0, EOF) read, so an exact
                // multiple of 256 KiB repeats its total. Bytes=0 is omitted (AddEvent
                // `json:",omitempty"`, core/commands/add.go).
                let q = go_json(&serde_json::Value::from(name));
                let step = 262_144usize;
                let mut at = 0usize;
                while at + step < data.len() {
                    at += step;
                    lines.push(format!("{{\"Name\":{q},\"Bytes\":{at}}}"));
                }
                if data.is_empty() {
                    lines.push(format!("{{\"Name\":{q}}}"));
                } else {
                    let n = data.len();
                    lines.push(format!("{{\"Name\":{q},\"Bytes\":{n}}}"));
                    if n % step == 0 {
                        lines.push(format!("{{\"Name\":{q},\"Bytes\":{n}}}"));
                    }
                }
            }
            let (node, blocks) = cid::file(data, &opts);
            if !only_hash {
                if let Some(k) = Store::key_of(&node.cid) {
                    store_blocks(store, blocks);
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
    // An error injected in the stream: the lines before it go out, then the trailer;
    // the import stops before its final pin (Kubo pins the roots at the end).
    let cut = sh.faults.stream_error("add");
    let pin = pin && cut.is_none();
    if wrap {
        let (node, blocks) = cid::directory(&tops, &opts);
        if !only_hash {
            store_blocks(&mut store, blocks);
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
    match cut {
        None => Ok(ndjson(lines, None)),
        Some((0, msg)) => Err(cmd_error(&msg)),
        Some((after, msg)) => {
            lines.truncate(after);
            Ok(ndjson(lines, Some(&msg)))
        }
    }
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
    let (node, blocks) = cid::directory(&children, opts);
    if !only_hash {
        store_blocks(store, blocks);
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
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = length.map_or(bytes.len(), |l| {
        start
            .saturating_add(usize::try_from(l).unwrap_or(usize::MAX))
            .min(bytes.len())
    });
    // Kubo core/commands/cat.go: `SetLength` then `Emit(reader)`; go-ipfs-cmds
    // responseemitter.go `flushCopy` writes and flushes 4096 bytes at a time. An error
    // while copying ends the 200 reply with the X-Stream-Error trailer.
    let cut = sh.faults.stream_error("cat");
    let sent_end = match &cut {
        Some((after, _)) => start.saturating_add(*after).min(end),
        None => end,
    };
    let chunks: Vec<Bytes> = bytes[start..sent_end]
        .chunks(4096)
        .map(Bytes::copy_from_slice)
        .collect();
    let body = streamed(chunks, cut.as_ref().map(|(_, m)| m.as_str()));
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response();
    base_headers(r.headers_mut());
    r.headers_mut()
        .insert("X-Stream-Output", HeaderValue::from_static("1"));
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        r.headers_mut().insert("X-Content-Length", v);
    }
    Ok(r)
}

/// Online, a block that is not stored is asked of the network: the request waits for
/// it (boxo blockservice `GetBlock` through bitswap has no timeout of its own) until the
/// client gives up. Nobody provides it here, so the wait ends only with the connection.
/// Offline it is the offline exchange's not-found error.
async fn missing_block(sh: &Shared, m: crate::store::Missing, prefix: &str) -> Response {
    if get(&sh.faults.online).flatten().is_some() {
        std::future::pending::<()>().await;
    }
    cmd_error(&format!("{prefix}{}", m.offline_error()))
}

/// The CID a path resolves to (Kubo `ResolvePath(...).RootCid()`): the last CID along
/// `/ipfs/<cid>/a/b` as the store names it. A path that is only a CID resolves without
/// its block (boxo path/resolver/resolver.go `ResolveToLastNode`: no remainder, the root
/// CID as is), so pins of any codec, or of absent blocks, can be named.
fn resolved_cid(store: &Store, arg: &str) -> Result<cid::Cid, String> {
    let path = if arg.starts_with('/') {
        arg.to_string()
    } else {
        format!("/ipfs/{arg}")
    };
    if let Some(root) = path.strip_prefix("/ipfs/") {
        let root = root.trim_end_matches('/');
        if !root.contains('/') {
            if let Some(c) = cid::Cid::decode(root) {
                return Ok(c);
            }
        }
    }
    let (_, along) = store.resolve(&path)?;
    along
        .last()
        .and_then(|t| cid::Cid::decode(t))
        .ok_or_else(|| format!("invalid path {arg:?}"))
}

/// Recursive pins, in their key order, as CIDs.
fn recursive_pins(store: &Store) -> Vec<cid::Cid> {
    store
        .pin_list()
        .iter()
        .filter_map(|t| cid::Cid::decode(t))
        .collect()
}

async fn pins(sh: &Shared, cmd: &str, args: &Args) -> R {
    match cmd {
        "pin/add" => pin_add(sh, args).await,
        "pin/rm" => {
            let mut store = lock(sh)?;
            args.required("ipfs-path")?;
            let mut out = Vec::new();
            for a in args.all("arg") {
                // core/coreapi/pin.go `Rm`: ResolvePath, then pinner `Unpin` of the root
                // CID; a CID pinned only through a recursive pin is `ErrNotPinned`.
                let c = resolved_cid(&store, &a).map_err(|e| cmd_error(&e))?;
                if store.pins.remove(&(c.codec, c.multihash.clone())).is_none() {
                    return Err(cmd_error("not pinned or pinned indirectly"));
                }
                out.push(c.to_string());
            }
            Ok(json(obj(&[("Pins", js(out))])))
        }
        _ => pin_ls(sh, args).await,
    }
}

/// core/commands/pin/pin.go `addPinCmd` -> core/coreapi/pin.go `Add`: resolve the path
/// (`pin: ` + error), then boxo pinning/pinner/dspinner `Pin` with fetch: merkledag
/// `FetchGraph` walks the whole DAG, so a block that is not stored fails the pin offline
/// (`pin: block was not found locally (offline): ipld: could not find <cid>`) and waits
/// on the network online. The CID pinned is the one the path resolves to.
async fn pin_add(sh: &Shared, args: &Args) -> R {
    args.required("ipfs-path")?;
    let progress = args.flag(&["progress"], false)?;
    let mut out = Vec::new();
    let mut blocks = 0usize;
    for a in args.all("arg") {
        let walked = {
            let store = lock(sh)?;
            let c = resolved_cid(&store, &a).map_err(|e| cmd_error(&format!("pin: {e}")))?;
            store.walk(&c).map(|v| (c, v.len()))
        };
        let (c, n) = match walked {
            Ok(x) => x,
            Err(m) => return Err(missing_block(sh, m, "pin: ").await),
        };
        blocks += n;
        let text = c.to_string();
        lock(sh)?
            .pins
            .insert((c.codec, c.multihash.clone()), text.clone());
        out.push(text);
    }
    if !progress {
        return Ok(json(obj(&[("Pins", js(out))])));
    }
    // core/commands/pin/pin.go `addPinCmd` with --progress: `res.Emit` (not EmitOnce) of
    // AddPinOutput values, so NDJSON; a pin that finishes before the first 500 ms tick
    // emits `{"Progress":<nodes walked>}` when that is not 0 (AddPinOutput.Progress is
    // omitempty), then `{"Pins":[...]}`.
    let mut lines = Vec::new();
    if blocks != 0 {
        lines.push(obj(&[("Progress", js(blocks))]));
    }
    lines.push(obj(&[("Pins", js(out))]));
    Ok(ndjson(lines, None))
}

/// core/commands/pin/pin.go `listPinCmd`. With `arg`: `pinLsKeys` (ResolvePath, then
/// pinner `IsPinnedWithType`: recursive, direct, else a walk of every recursive pin's
/// DAG, `indirect through <root>`). Without: core/coreapi/pin.go `pinLsAll` (recursive
/// keys, then for `all`/`indirect` a `merkledag.Walk` of each recursive pin, children
/// listed once as `indirect`). A walk that meets a block that is not stored fails
/// offline and waits online, like every DAG walk.
async fn pin_ls(sh: &Shared, args: &Args) -> R {
    let typ = args.get(&["type", "t"]).unwrap_or_else(|| "all".into());
    let stream = args.flag(&["stream", "s"], false)?;
    if !["all", "direct", "indirect", "recursive"].contains(&typ.as_str()) {
        return Err(cmd_error(&format!(
            "invalid type '{typ}', must be one of {{direct, indirect, recursive, all}}"
        )));
    }
    let asked = args.all("arg");
    // The store is read in a synchronous step: no guard lives across an await.
    let listed = pin_ls_list(&*lock(sh)?, &typ, &asked)?;
    let keys = match listed {
        Ok(k) => k,
        Err((emitted, m)) => {
            if get(&sh.faults.online).flatten().is_some() {
                std::future::pending::<()>().await;
            }
            if stream && asked.is_empty() {
                // Stream: what was emitted goes out, then the error as a trailer.
                let lines = emitted.iter().map(|(c, t)| pin_ls_line(c, t)).collect();
                return Ok(ndjson(lines, Some(&m.offline_error())));
            }
            return Err(cmd_error(&m.offline_error()));
        }
    };
    if stream {
        let lines = keys.iter().map(|(c, t)| pin_ls_line(c, t)).collect();
        return Ok(ndjson(lines, None));
    }
    // PinLsList.Keys is `json:",omitempty"` (core/commands/pin/pin.go): no pins (a fresh
    // repo, or none of this type) is `{}`.
    if keys.is_empty() {
        return Ok(json("{}".into()));
    }
    // A Go map: keys sorted; PinLsType{Type, Name} in struct order.
    let mut map: std::collections::BTreeMap<String, String> = Default::default();
    for (c, t) in keys {
        map.entry(c).or_insert(t);
    }
    let entries: Vec<String> = map
        .iter()
        .map(|(k, t)| {
            format!(
                "{}:{}",
                js(k.as_str()),
                obj(&[("Type", js(t.as_str())), ("Name", js(""))])
            )
        })
        .collect();
    Ok(json(obj(&[("Keys", format!("{{{}}}", entries.join(",")))])))
}

/// (CID text, type) pairs in emit order.
type PinRows = Vec<(String, String)>;

/// The rows `pin/ls` lists: `Ok(Ok(rows))`, or `Ok(Err((rows emitted before, missing
/// block)))` when a DAG walk met a block that is not stored; `Err` for an answer
/// decided here (bad path, not pinned).
fn pin_ls_list(
    store: &Store,
    typ: &str,
    asked: &[String],
) -> Result<Result<PinRows, (PinRows, crate::store::Missing)>, Response> {
    let roots = recursive_pins(store);
    if !asked.is_empty() {
        let mut sel = Vec::new();
        for a in asked {
            let c = resolved_cid(store, a).map_err(|e| cmd_error(&e))?;
            let p = if a.starts_with('/') {
                a.clone()
            } else {
                format!("/ipfs/{a}")
            };
            let key = (c.codec, c.multihash.clone());
            let mut found = None;
            if store.pins.contains_key(&key) && (typ == "all" || typ == "recursive") {
                found = Some("recursive".to_string());
            } else if typ == "all" || typ == "indirect" {
                for r in &roots {
                    match store.walk(r) {
                        Ok(v) => {
                            if v.iter().skip(1).any(|x| x.multihash == c.multihash) {
                                found = Some(format!("indirect through {r}"));
                                break;
                            }
                        }
                        Err(m) => return Ok(Err((sel, m))),
                    }
                }
            }
            match found {
                Some(t) => sel.push((c.to_string(), t)),
                None => return Err(cmd_error(&format!("path '{p}' is not pinned"))),
            }
        }
        return Ok(Ok(sel));
    }
    let mut v: PinRows = Vec::new();
    if typ == "all" || typ == "recursive" {
        v.extend(
            store
                .pin_list()
                .into_iter()
                .map(|c| (c, "recursive".to_string())),
        );
    }
    if typ == "all" || typ == "indirect" {
        let mut emitted: std::collections::HashSet<Vec<u8>> =
            roots.iter().map(|r| r.multihash.clone()).collect();
        for r in &roots {
            match store.walk(r) {
                Ok(walked) => {
                    for c in walked.into_iter().skip(1) {
                        if emitted.insert(c.multihash.clone()) {
                            v.push((c.to_string(), "indirect".to_string()));
                        }
                    }
                }
                Err(m) => return Ok(Err((v, m))),
            }
        }
    }
    Ok(Ok(v))
}

/// PinLsObject{Cid, Name, Type}, all omitempty (no Name without --names).
fn pin_ls_line(c: &str, t: &str) -> String {
    obj(&[("Cid", js(c)), ("Type", js(t))])
}

/// go-ipld-format batch.go: `NewBatch` splits its default buffer (8 MiB, 128 nodes) over
/// `parallelCommits = runtime.NumCPU()` commits; `Add` commits when either is exceeded.
fn batch_limits() -> (usize, usize) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    ((8 << 20) / n, 128 / n)
}

/// Stores a batch of `dag/put` blocks, and with `pin` pins each recursively without
/// fetching (core/coreapi/dag.go `pinningAdder.AddMany` -> dspinner `PinWithMode(...,
/// Recursive)` -> `doPinRecursive(ctx, c, false, ...)`: children are not looked up, so a
/// link to a block that is not stored is pinned as it is, online or offline).
fn commit(store: &mut Store, batch: &mut Vec<(cid::Cid, Vec<u8>)>, pin: bool) {
    for (c, b) in batch.drain(..) {
        store.put_block(&c, b);
        if pin {
            store
                .pins
                .insert((c.codec, c.multihash.clone()), c.to_string());
        }
    }
}

/// Kubo core/commands/dag/put.go `dagPut` (v0.34.1). Options: `store-codec` (default
/// dag-cbor), `input-codec` (dag-json), `pin` (false), `hash` (`Import.HashFunction`,
/// sha2-256), `allow-big-block` (false). Each part of the multipart body is one object:
/// decoded with the input codec into the data model, encoded with the store codec, given
/// a CIDv1 and emitted as `{"Cid":{"/":"<cid>"}}` (OutputObject; go-cid `MarshalJSON`),
/// one NDJSON line each (`res.Emit`, so `X-Chunked-Output: 1`). Nodes go through a
/// go-ipld-format `Batch` that is committed at the end: an error before the first line is
/// a 500; after it, the lines so far and the `X-Stream-Error` trailer, and the objects of
/// the uncommitted batch are neither stored nor pinned.
async fn dag_put(sh: &Shared, args: &Args, headers: &HeaderMap, body: Body) -> R {
    let boundary = multipart_boundary(headers, "object data")?;
    let pin = args.flag(&["pin"], false)?;
    let allow_big = args.flag(&["allow-big-block"], false)?;
    let parts = read_parts(body, boundary).await?;
    let input = args
        .get(&["input-codec"])
        .unwrap_or_else(|| "dag-json".into());
    let store_codec = args
        .get(&["store-codec"])
        .unwrap_or_else(|| "dag-cbor".into());
    let hash = args
        .get(&["hash"])
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sha2-256".into());
    let icodec = crate::ipld::multicodec(&input).map_err(|e| cmd_error(&e))?;
    let scodec = crate::ipld::multicodec(&store_codec).map_err(|e| cmd_error(&e))?;
    let mh = crate::ipld::multicodec(&hash).map_err(|e| cmd_error(&e))?;
    if !crate::ipld::has_encoder(icodec) {
        return Err(cmd_error(&format!(
            "no decoder registered for multicodec code {icodec} (0x{icodec:x})"
        )));
    }
    if !crate::ipld::has_encoder(scodec) {
        return Err(cmd_error(&format!(
            "no encoder registered for multicodec code {scodec} (0x{scodec:x})"
        )));
    }
    if mh != 0x12 {
        return Err(cmd_error(&format!(
            "the Kubo double hashes dag/put blocks with sha2-256 only, not {hash}"
        )));
    }
    let (max_size, max_nodes) = batch_limits();
    let mut lines = Vec::new();
    let mut batch: Vec<(cid::Cid, Vec<u8>)> = Vec::new();
    let mut batch_size = 0usize;
    let mut failure = None;
    for p in parts {
        if p.dir {
            failure = Some("expected a regular file".to_string());
            break;
        }
        let encoded = crate::ipld::decode(icodec, &p.data)
            .and_then(|n| crate::ipld::encode(scodec, &n))
            .and_then(|b| {
                // core/commands/cmdutils/utils.go `CheckBlockSize` (SoftBlockLimit 1 MiB).
                if !allow_big && b.len() > 1024 * 1024 {
                    Err("produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override".to_string())
                } else {
                    Ok(b)
                }
            });
        let block = match encoded {
            Ok(b) => b,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let c = cid::Cid::v1_sha256(scodec, &block);
        lines.push(obj(&[("Cid", obj(&[("/", js(c.to_string()))]))]));
        batch_size += block.len();
        batch.push((c, block));
        if batch_size > max_size || batch.len() > max_nodes {
            let mut store = lock(sh)?;
            commit(&mut store, &mut batch, pin);
            batch_size = 0;
        }
    }
    match failure {
        None => {
            let mut store = lock(sh)?;
            commit(&mut store, &mut batch, pin);
            Ok(ndjson(lines, None))
        }
        Some(e) if lines.is_empty() => Err(cmd_error(&e)),
        Some(e) => Ok(ndjson(lines, Some(&e))),
    }
}

/// Kubo core/commands/block.go `blockStatCmd` -> core/coreapi/block.go `Stat`:
/// ResolvePath, then the block of the resolved CID; `BlockStat{Key, Size}` (Key =
/// `cid.String()`, Size = block bytes), EmitOnce. A block that is not stored fails
/// offline and waits on the network online.
async fn block_stat(sh: &Shared, args: &Args) -> R {
    let arg = args.required("cid")?;
    let found = {
        let store = lock(sh)?;
        let c = resolved_cid(&store, &arg).map_err(|e| cmd_error(&e))?;
        let b = store.block(&c);
        (c, b)
    };
    match found {
        (c, Some(b)) => Ok(json(obj(&[
            ("Key", js(c.to_string())),
            ("Size", js(b.len())),
        ]))),
        (c, None) => Err(missing_block(sh, crate::store::Missing(c.to_string()), "").await),
    }
}

/// KeyOutput{Name, Id} (core/commands/keystore.go), no omitempty.
fn key_obj(k: &crate::store::KeyInfo) -> String {
    obj(&[
        ("Name", js(k.name.as_str())),
        ("Id", js(k.ipns_name.as_str())),
    ])
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
            Ok(json(key_obj(&k)))
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
            Ok(json(obj(&[("Keys", format!("[{}]", key_obj(&k)))])))
        }
        _ => {
            let mut list: Vec<&crate::store::KeyInfo> =
                store.keys.iter().filter(|k| k.name != "self").collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(s) = store.keys.iter().find(|k| k.name == "self") {
                list.insert(0, s);
            }
            // KeyOutputList{Keys []KeyOutput{Name, Id}} (core/commands/keystore.go).
            let v: Vec<String> = list.iter().map(|k| key_obj(k)).collect();
            Ok(json(obj(&[("Keys", format!("[{}]", v.join(",")))])))
        }
    }
}

/// Kubo core/commands/name/publish.go (v0.34.1) `PublishCmd.Run`, in its order: lifetime
/// and ttl parsed, the path resolved (`resolve`, default true), then core/coreapi/name.go
/// `Publish`: the offline check, the key lookup, the record (boxo namesys/ipns_publisher.go
/// `updateRecord`: sequence +1 only when the value changes), then the DHT put (online).
async fn publish(sh: &Shared, args: &Args) -> R {
    let arg = args.required("ipfs-path")?;
    let allow_offline = args.flag(&["allow-offline"], false)?;
    let resolve = args.flag(&["resolve"], true)?;
    let key = args.get(&["key", "k"]).unwrap_or_else(|| "self".into());
    let lifetime = args
        .get(&["lifetime", "t"])
        .unwrap_or_else(|| "48h0m0s".into());
    go_time::parse_duration(&lifetime)
        .map_err(|e| cmd_error(&format!("error parsing lifetime option: {e}")))?;
    // Default: ipns.DefaultRecordTTL, 5m since boxo v0.29.1 (Kubo 0.34).
    let ttl = nanos(
        go_time::parse_duration(&args.get(&["ttl"]).unwrap_or_else(|| "5m0s".into()))
            .map_err(|e| cmd_error(&e.to_string()))?,
    );
    // cmdutils.PathOrCidPath: a bare CID becomes /ipfs/<cid>.
    let value = if arg.starts_with('/') {
        arg
    } else {
        format!("/ipfs/{arg}")
    };
    let online = get(&sh.faults.online).flatten();
    let ipns_name = {
        let mut store = lock(sh)?;
        if resolve && value.starts_with("/ipfs/") {
            store.resolve(&value).map_err(|e| cmd_error(&e))?;
        }
        if online.is_none() && !allow_offline {
            return Err(cmd_error(
                "can't publish while offline: pass `--allow-offline` to override",
            ));
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
        // A test can record the publish as of a moment in the past (see
        // `Faults::set_publish_backdate`), to build a stream's history without waiting.
        let back = get(&sh.faults.publish_backdate).unwrap_or_default();
        hist.push(Record {
            at: Instant::now()
                .checked_sub(back)
                .unwrap_or_else(Instant::now),
            wall: std::time::SystemTime::now()
                .checked_sub(back)
                .unwrap_or_else(std::time::SystemTime::now),
            value: value.clone(),
            ttl,
            sequence,
        });
        if hist.len() > 10_000 {
            hist.drain(..5_000);
        }
        k.ipns_name
    };
    if let Some(delay) = online {
        // PublishIPNSRecord -> PutIPNSRecord: the routing put blocks the reply.
        tokio::time::sleep(delay).await;
        if let Some(msg) = get(&sh.faults.dht_put_error).flatten() {
            return Err(cmd_error(&msg));
        }
    }
    // IpnsEntry{Name, Value} (core/commands/name/name.go).
    Ok(json(obj(&[("Name", js(ipns_name)), ("Value", js(value))])))
}

fn resolve(sh: &Shared, args: &Args) -> R {
    let store = lock(sh)?;
    let name = match args.get(&["arg"]) {
        Some(n) => n,
        None => store
            .keys
            .first()
            .map(|k| k.ipns_name.clone())
            .unwrap_or_default(),
    };
    let v = store
        .ipns_current(&name)
        .ok_or_else(|| cmd_error("could not resolve name"))?;
    // ResolvedPath{Path} (core/commands/name/ipns.go).
    Ok(json(obj(&[("Path", js(v))])))
}

/// Kubo core/commands/id.go `printSelf`: `Addresses` and `Protocols` (no omitempty) are
/// filled only when the node has a libp2p host; an `--offline` daemon has none, so both
/// are `null`. Online they are sorted lists (illustrative values here).
fn id(sh: &Shared) -> R {
    use base64::Engine;
    let store = lock(sh)?;
    let me = store.keys.first().ok_or_else(|| cmd_error("no self key"))?;
    let mut pb = vec![0x08, 0x01, 0x12, 0x20];
    pb.extend_from_slice(&me.public_key);
    let online = get(&sh.faults.online).flatten().is_some();
    let (addresses, protocols) = if online {
        let mut a = vec![
            format!("/ip4/127.0.0.1/tcp/4001/p2p/{}", me.peer_id),
            format!("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/{}", me.peer_id),
        ];
        a.sort();
        let p = [
            "/ipfs/bitswap",
            "/ipfs/bitswap/1.0.0",
            "/ipfs/bitswap/1.1.0",
            "/ipfs/bitswap/1.2.0",
            "/ipfs/id/1.0.0",
            "/ipfs/id/push/1.0.0",
            "/ipfs/kad/1.0.0",
            "/ipfs/ping/1.0.0",
            "/libp2p/circuit/relay/0.2.0/stop",
            "/x/",
        ];
        (js(a), js(p.to_vec()))
    } else {
        ("null".to_string(), "null".to_string())
    };
    // IdOutput{ID, PublicKey, Addresses, AgentVersion, Protocols}.
    Ok(json(obj(&[
        ("ID", js(me.peer_id.as_str())),
        (
            "PublicKey",
            js(base64::engine::general_purpose::STANDARD.encode(pb)),
        ),
        ("Addresses", addresses),
        ("AgentVersion", js(format!("kubo/{KUBO_VERSION}/"))),
        ("Protocols", protocols),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go `quotetests` (src/strconv/quote_test.go), the `Quote` column, row for row, with
    /// the `"\x7f"` row that Go 1.19 added (golang/go#52062). The row `"abc\xffdef"` ->
    /// `"abc\xffdef"` is left out only because its input is not UTF-8, which a Rust `&str`
    /// cannot hold.
    #[test]
    fn go_quote_is_strconv_quote() {
        let quotetests: &[(&str, &str)] = &[
            ("\x07\x08\x0c\r\n\t\x0b", r#""\a\b\f\r\n\t\v""#),
            ("\\", r#""\\""#),
            ("\u{263a}", r#""☺""#),
            ("\u{10ffff}", r#""\U0010ffff""#),
            ("\x04", r#""\x04""#),
            // Some non-printable but graphic runes.
            (
                "!\u{00a0}!\u{2000}!\u{3000}!",
                r#""!\u00a0!\u2000!\u3000!""#,
            ),
            ("\x7f", r#""\x7f""#),
        ];
        for &(input, want) in quotetests {
            assert_eq!(go_quote(input), want, "Quote({input:?})");
        }
        // Format characters (Cf) are not printable: zero-width space, BOM, soft hyphen.
        assert_eq!(go_quote("a\u{200b}b"), r#""a\u200bb""#);
        assert_eq!(go_quote("\u{feff}x"), r#""\ufeffx""#);
        assert_eq!(go_quote("\u{ad}"), r#""\u00ad""#);
        // Line and paragraph separators, private use, unassigned: escaped.
        assert_eq!(go_quote("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(go_quote("\u{e000}"), r#""\ue000""#);
        assert_eq!(go_quote("\u{378}"), r#""\u0378""#);
        assert_eq!(go_quote("\u{e0080}"), r#""\U000e0080""#);
        // Printable beyond the BMP, quotes and backslashes, C1 controls.
        assert_eq!(go_quote("😀"), r#""😀""#);
        assert_eq!(go_quote(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
        assert_eq!(go_quote("\x00\x1b"), r#""\x00\x1b""#);
    }

    /// `name/publish` parses lifetime and ttl with Go's `time.ParseDuration`, whose
    /// messages quote with the time package's own quote (src/time/format.go), not
    /// strconv.Quote: a non-ASCII unit is written byte by byte.
    #[test]
    fn durations_are_gos_with_the_time_quote() {
        assert_eq!(
            go_time::parse_duration("48h0m0s"),
            Ok(48 * 3600 * 1_000_000_000)
        );
        assert_eq!(
            go_time::parse_duration("2ж").unwrap_err().to_string(),
            r#"time: unknown unit "\xd0\xb6" in duration "2\xd0\xb6""#
        );
        assert_eq!(nanos(-5), Duration::ZERO);
        assert_eq!(nanos(300_000_000_000), Duration::from_secs(300));
    }
}
