//! The gateway (boxo v0.29.1 gateway, as Kubo v0.34.1 mounts it): the Host header is
//! routed first (`hostname.rs`: `localhost` is a subdomain gateway, every other host a
//! path gateway), then content paths `/ipfs/<cid>[/path]` and `/ipns/<name>[/path]` are
//! served as kubo-rpc.md section 4 describes: UnixFS files (blocks stored by `add` or
//! `dag/put`), directories (301 to add the `/`, `index.html`, else a listing), Range,
//! `If-None-Match`, Content-Type by extension (`mime.rs`, this host's database) or sniffed.

use crate::hostname::Route;
use crate::store::Entry;
use crate::{get, Shared};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn cors(h: &mut HeaderMap) {
    h.insert("Access-Control-Allow-Origin", HeaderValue::from_static("*"));
    h.insert(
        "Access-Control-Allow-Methods",
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    for v in ["Content-Type", "Range", "User-Agent", "X-Requested-With"] {
        h.append("Access-Control-Allow-Headers", HeaderValue::from_static(v));
    }
    for v in [
        "Content-Length",
        "Content-Range",
        "X-Chunked-Output",
        "X-Ipfs-Path",
        "X-Ipfs-Roots",
        "X-Stream-Output",
    ] {
        h.append("Access-Control-Expose-Headers", HeaderValue::from_static(v));
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response();
    cors(r.headers_mut());
    r
}

/// Go `http.Redirect(w, r, url, 301)`: `Location` (non-ASCII hex-escaped), and for GET
/// and HEAD `Content-Type: text/html; charset=utf-8`, for GET the body
/// `<a href="<url, HTML-escaped>">Moved Permanently</a>.` and two newlines
/// (`fmt.Fprintln` of a line that already ends in one). CORS headers as everywhere.
fn redirect(method: &Method, url: &str) -> Response {
    let mut loc = String::new();
    for b in url.bytes() {
        if b.is_ascii() {
            loc.push(b as char);
        } else {
            loc.push_str(&format!("%{b:02x}"));
        }
    }
    let body = if method == Method::GET {
        let esc = loc
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;");
        format!("<a href=\"{esc}\">Moved Permanently</a>.\n\n")
    } else {
        String::new()
    };
    let mut r = (StatusCode::MOVED_PERMANENTLY, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    cors(r.headers_mut());
    r
}

/// Content sniffing for a file without an extension type (gabriel-vasile/mimetype in
/// Kubo; a few cases here, kubo-rpc.md section 4).
fn sniff(data: &[u8]) -> &'static str {
    if data.starts_with(b"#EXTM3U") {
        "application/vnd.apple.mpegurl"
    } else if std::str::from_utf8(&data[..data.len().min(512)]).is_ok()
        && !data.iter().take(512).any(|b| *b == 0)
    {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// boxo gateway/handler_unixfs_file.go `serveFile`: `mime.TypeByExtension(path.Ext(name))`
/// (this host's table, see `mime.rs`), else sniffed when the range starts at 0, else
/// none; `text/html; ...` is cut to `text/html`.
fn content_type(name: Option<&str>, data: Option<&[u8]>) -> Option<String> {
    let by_ext = name.and_then(|n| crate::mime::type_by_extension(crate::mime::go_ext(n)));
    let ct = by_ext.or_else(|| data.map(|d| sniff(d).to_string()))?;
    Some(if ct.starts_with("text/html;") {
        "text/html".to_string()
    } else {
        ct
    })
}

/// RFC 7231 date of a system time.
pub(crate) fn http_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

async fn handle(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method == Method::OPTIONS {
        let mut r = StatusCode::OK.into_response();
        cors(r.headers_mut());
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} not allowed: read only access\n"),
        );
    }
    let delay = get(&sh.faults.gateway_delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(code) = get(&sh.faults.gateway_status).flatten() {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return text(status, format!("{code} injected by the Kubo double\n"));
    }
    if uri.path() == "/version" {
        // The gateway server has VersionOption too (Kubo cmd/ipfs/kubo/daemon.go
        // `serveHTTPGateway`; core/corehttp/gateway.go `VersionOption`).
        return text(
            StatusCode::OK,
            format!("Commit: \nClient Version: kubo/{}/\n", crate::KUBO_VERSION),
        );
    }
    // Go's r.URL.Path: the path percent-decoded (`+` stays a `+`).
    let url_path = crate::rpc::query_unescape(&uri.path().replace('+', "%2B"))
        .unwrap_or_else(|| uri.path().to_string());
    let query = uri.query().unwrap_or("");
    // hostname.go: `r.Host`, or X-Forwarded-Host when a proxy set it.
    let host = headers
        .get("X-Forwarded-Host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let https = headers
        .get("X-Forwarded-Proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let path = match crate::hostname::route(host, &url_path, uri.query(), https) {
        Route::Path => url_path,
        Route::Subdomain { prefix } => format!("{prefix}{url_path}"),
        Route::Redirect(url) => return redirect(&method, &url),
        Route::NotFound => return text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
        Route::BadRequest(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let filename = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("filename="))
        .and_then(crate::rpc::query_unescape);
    let (ipfs_path, ipns_ttl) = if let Some(rest) = path.strip_prefix("/ipns/") {
        let (name, sub) = rest.split_once('/').map_or((rest, ""), |(a, b)| (a, b));
        let lag = get(&sh.faults.ipns_lag).unwrap_or_default();
        let rec = sh.store.lock().ok().and_then(|s| s.ipns_at(name, lag));
        let Some(rec) = rec else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                // handler.go `handleRequestErrors`: the whole content path.
                format!("failed to resolve {path}: could not resolve name\n"),
            );
        };
        let sub = if sub.is_empty() {
            String::new()
        } else {
            format!("/{sub}")
        };
        (format!("{}{sub}", rec.value), Some((rec.ttl, rec.wall)))
    } else if path.starts_with("/ipfs/") {
        (path.clone(), None)
    } else {
        return text(StatusCode::NOT_FOUND, "404 page not found\n".into());
    };
    let resolved = sh.store.lock().ok().map(|s| s.resolve(&ipfs_path));
    // handler.go `handleRequestErrors` / `handleWebRequestErrors`: `failed to resolve
    // <content path>: <err>`, status by errors.go `webError` (400 for a bad CID, 404 for
    // `ErrNoLink` and `ipld.ErrNotFound`, which the offline exchange wraps).
    let failed =
        |status: StatusCode, e: &str| text(status, format!("failed to resolve {path}: {e}\n"));
    let (entry, roots) = match resolved {
        Some(Ok(x)) => x,
        Some(Err(e)) if e.contains("invalid") => return failed(StatusCode::BAD_REQUEST, &e),
        Some(Err(e)) if e.contains("no link named") => return failed(StatusCode::NOT_FOUND, &e),
        Some(Err(e)) if e.contains("not found locally") => {
            // Online, the block is asked of the network: boxo v0.29.1 has no retrieval
            // timeout (Gateway.RetrievalTimeout came in Kubo 0.37), so the request waits
            // until the client gives up.
            if get(&sh.faults.online).flatten().is_some() {
                std::future::pending::<()>().await;
            }
            return failed(StatusCode::NOT_FOUND, &e);
        }
        Some(Err(e)) => return failed(StatusCode::INTERNAL_SERVER_ERROR, &e),
        None => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store unavailable\n".into(),
            )
        }
    };
    let mut h = HeaderMap::new();
    cors(&mut h);
    if let Ok(v) = HeaderValue::from_str(&path) {
        h.insert("X-Ipfs-Path", v);
    }
    if let Ok(v) = HeaderValue::from_str(&roots.join(",")) {
        h.insert("X-Ipfs-Roots", v);
    }
    match ipns_ttl {
        Some((ttl, wall)) => {
            if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", ttl.as_secs())) {
                h.insert(header::CACHE_CONTROL, v);
            }
            if let Ok(v) = HeaderValue::from_str(&http_date(wall)) {
                h.insert(header::LAST_MODIFIED, v);
            }
        }
        None => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=29030400, immutable"),
            );
        }
    }
    let last_cid = roots.last().cloned().unwrap_or_default();
    let bytes = match entry {
        Entry::Dir(children) => {
            // handler_unixfs_dir.go `serveDirectory`: the ORIGINAL request path (on a
            // subdomain host, the path inside the content root) gets its `/`; the query
            // is kept, `url.PathEscape`d; a path with `%` escapes is re-escaped by Go.
            if !uri.path().ends_with('/') && !query.split('&').any(|kv| kv == "go-get=1") {
                let orig = if uri.path().contains('%') {
                    crate::hostname::go_escape_path(
                        &crate::rpc::query_unescape(&uri.path().replace('+', "%2B"))
                            .unwrap_or_else(|| uri.path().to_string()),
                        false,
                    )
                } else {
                    uri.path().to_string()
                };
                let mut to = format!("{orig}/");
                if !query.is_empty() {
                    to = format!("{to}?{}", crate::hostname::go_escape_path(query, true));
                }
                let mut r = redirect(&method, &to);
                for (k, v) in h.iter() {
                    if !r.headers().contains_key(k) {
                        r.headers_mut().insert(k, v.clone());
                    }
                }
                return r;
            }
            if children.iter().any(|(n, _, _)| n == "index.html") {
                let p = format!(
                    "{}index.html",
                    ipfs_path.trim_end_matches('/').to_string() + "/"
                );
                let idx = sh.store.lock().ok().and_then(|s| s.resolve(&p).ok());
                match idx {
                    Some((Entry::File(b), _)) => {
                        // handler_unixfs_dir.go serves index.html with serveFile(...,
                        // "text/html"): the directory path has no extension.
                        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                        b
                    }
                    _ => return text(StatusCode::NOT_FOUND, "no index.html\n".into()),
                }
            } else {
                let list: String = children
                    .iter()
                    .map(|(n, _, c)| format!("<li><a href=\"{n}\">{n}</a> {c}</li>"))
                    .collect();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                Arc::new(format!("<!DOCTYPE html><html><body><h1>Index of {path}</h1><ul>{list}</ul></body></html>").into_bytes())
            }
        }
        Entry::File(b) => b,
    };
    let etag = format!("\"{last_cid}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(f) = &filename {
        if let Ok(v) =
            HeaderValue::from_str(&format!("inline; filename=\"{f}\"; filename*=UTF-8''{f}"))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    let total = bytes.len();
    let mut status = StatusCode::OK;
    let (mut start, mut end) = (0usize, total);
    if let Some(range) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
    {
        let first = range.split(',').next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            let (s, e) = if a.is_empty() {
                let n: usize = b.parse().unwrap_or(0);
                (total.saturating_sub(n), total)
            } else {
                let s: usize = a.parse().unwrap_or(0);
                let e = b.parse::<usize>().map_or(total, |e| (e + 1).min(total));
                (s, e)
            };
            if s >= total {
                let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, h).into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
            status = StatusCode::PARTIAL_CONTENT;
            (start, end) = (s, e.max(s));
            if let Ok(v) =
                HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end.saturating_sub(1)))
            {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
    }
    if !h.contains_key(header::CONTENT_TYPE) {
        // The name is ?filename, else the last path segment when the path goes past
        // `/ipfs/<cid>` (handler.go `getFilename`); sniffing only when the range starts
        // at 0.
        let name = filename.clone().or_else(|| {
            (ipfs_path.trim_start_matches("/ipfs/").contains('/'))
                .then(|| path.rsplit('/').next().unwrap_or("").to_string())
        });
        let sniff_data = (start == 0).then_some(&bytes[..]);
        if let Some(ct) = content_type(name.as_deref(), sniff_data) {
            if let Ok(v) = HeaderValue::from_str(&ct) {
                h.insert(header::CONTENT_TYPE, v);
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes[start..end].to_vec())
    };
    (status, h, body).into_response()
}
