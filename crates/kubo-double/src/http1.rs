//! A small HTTP/1.1 server for the RPC port that frames replies the way Go's `net/http`
//! does for Kubo, which hyper's server does not:
//!
//! - HTTP trailers (`X-Stream-Error`, go-ipfs-cmds http/responseemitter.go) are sent on
//!   every chunked reply. hyper 1.x sends trailers only when the request carried
//!   `TE: trailers` (hyper src/proto/h1/conn.rs `write_trailers`); Go sends them always,
//!   and a reqwest client never sends `TE`.
//! - A reply that declares a `Trailer` is chunked (Go computes a `Content-Length` only when
//!   the handler finished, declared no trailers and wrote little: net/http server.go
//!   `chunkWriter.writeHeader`); other small replies get a `Content-Length`.
//! - Header lines are written in canonical form, sorted by name, then `Date`,
//!   `Content-Length`, `Connection`, `Transfer-Encoding` (net/http `Header.WriteSubset`,
//!   `extraHeader.Write`).
//! - A client that closes its connection while a command runs cancels that command (Go's
//!   background read cancels the request context; Kubo commands obey it).
//!
//! Requests are read whole (`Content-Length` or chunked) before the handler runs.

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::http::{Uri, Version};
use axum::Router;
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

const MAX_HEAD: usize = 64 * 1024;
const MAX_LINE: usize = 8 * 1024;
const MAX_BODY: usize = 1 << 30;

/// Resolves once `rx` holds `true` (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true. Then the listener closes at once
/// (new connections are refused), idle connections close, and busy ones get `grace` to
/// finish their reply before they are dropped (Go `http.Server.Shutdown`).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            acc = listener.accept() => match acc {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, app.clone(), stop.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

enum ReadErr {
    /// The peer closed the connection or it broke.
    Closed,
    /// A malformed request: answer this status and close.
    Bad(StatusCode),
}

struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

/// Reads more bytes into `buf`; `Ok(0)` at end of stream. Cancel-safe.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut tmp = [0u8; 16 * 1024];
    let n = stream.read(&mut tmp).await?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n)
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ReadErr> {
    match read_more(stream, buf).await {
        Ok(0) | Err(_) => Err(ReadErr::Closed),
        Ok(_) => Ok(()),
    }
}

async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Head, ReadErr> {
    loop {
        // Go tolerates empty lines before a request line (net/http readRequest).
        while buf.starts_with(b"\r\n") || buf.starts_with(b"\n") {
            let n = if buf.starts_with(b"\r\n") { 2 } else { 1 };
            buf.drain(..n);
        }
        if !buf.is_empty() {
            let mut hs = [httparse::EMPTY_HEADER; 128];
            let mut req = httparse::Request::new(&mut hs);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let head = build_head(&req);
                    buf.drain(..n);
                    return head;
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(ReadErr::Bad(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
                }
                Err(_) => return Err(ReadErr::Bad(StatusCode::BAD_REQUEST)),
            }
            if buf.len() > MAX_HEAD {
                return Err(ReadErr::Bad(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
            }
        }
        fill(stream, buf).await?;
    }
}

fn build_head(req: &httparse::Request<'_, '_>) -> Result<Head, ReadErr> {
    let bad = || ReadErr::Bad(StatusCode::BAD_REQUEST);
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| bad())?;
    let uri: Uri = req.path.unwrap_or("").parse().map_err(|_| bad())?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::new();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok(Head {
        method,
        uri,
        version,
        headers,
    })
}

async fn read_exact(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    n: usize,
) -> Result<Vec<u8>, ReadErr> {
    while buf.len() < n {
        fill(stream, buf).await?;
    }
    Ok(buf.drain(..n).collect())
}

async fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadErr> {
    loop {
        if let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = buf.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if buf.len() > MAX_LINE {
            return Err(ReadErr::Bad(StatusCode::BAD_REQUEST));
        }
        fill(stream, buf).await?;
    }
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadErr> {
    let bad = || ReadErr::Bad(StatusCode::BAD_REQUEST);
    let mut body = Vec::new();
    loop {
        let line = read_line(stream, buf).await?;
        let text = std::str::from_utf8(&line).map_err(|_| bad())?;
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        if size == 0 {
            // Trailer section, up to the empty line.
            while !read_line(stream, buf).await?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadErr::Bad(StatusCode::PAYLOAD_TOO_LARGE));
        }
        body.extend(read_exact(stream, buf, size).await?);
        if !read_line(stream, buf).await?.is_empty() {
            return Err(bad());
        }
    }
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

async fn connection(mut stream: TcpStream, app: Router, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let head = tokio::select! {
            h = read_head(&mut stream, &mut buf) => h,
            _ = stopped(&mut stop) => return,
        };
        let head = match head {
            Ok(h) => h,
            Err(ReadErr::Closed) => return,
            Err(ReadErr::Bad(status)) => {
                let _ = write_bad(&mut stream, status).await;
                return;
            }
        };
        let chunked = has_token(&head.headers, header::TRANSFER_ENCODING, "chunked");
        let length = match head.headers.get(header::CONTENT_LENGTH) {
            None => None,
            Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()) {
                Some(n) if n <= MAX_BODY => Some(n),
                Some(_) => {
                    let _ = write_bad(&mut stream, StatusCode::PAYLOAD_TOO_LARGE).await;
                    return;
                }
                None => {
                    let _ = write_bad(&mut stream, StatusCode::BAD_REQUEST).await;
                    return;
                }
            },
        };
        if has_token(&head.headers, header::EXPECT, "100-continue")
            && (chunked || length.unwrap_or(0) > 0)
            && stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let body = if chunked {
            read_chunked(&mut stream, &mut buf).await
        } else {
            read_exact(&mut stream, &mut buf, length.unwrap_or(0)).await
        };
        let body = match body {
            Ok(b) => b,
            Err(ReadErr::Closed) => return,
            Err(ReadErr::Bad(status)) => {
                let _ = write_bad(&mut stream, status).await;
                return;
            }
        };
        let http10 = head.version == Version::HTTP_10;
        let keep_alive = !http10 && !has_token(&head.headers, header::CONNECTION, "close");
        let is_head = head.method == Method::HEAD;
        let mut req = Request::new(Body::from(body));
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = head.version;
        *req.headers_mut() = head.headers;
        let fut = app.clone().oneshot(req);
        tokio::pin!(fut);
        let resp = loop {
            tokio::select! {
                r = &mut fut => break r,
                n = read_more(&mut stream, &mut buf), if buf.len() < MAX_HEAD => {
                    if !matches!(n, Ok(k) if k > 0) {
                        // The client went away: drop the command, as Go cancels the
                        // request context.
                        return;
                    }
                }
            }
        };
        let resp = match resp {
            Ok(r) => r,
            Err(never) => match never {},
        };
        match write_response(&mut stream, resp, is_head, http10, keep_alive).await {
            Ok(true) if !*stop.borrow() => {}
            _ => return,
        }
    }
}

async fn write_bad(stream: &mut TcpStream, status: StatusCode) -> std::io::Result<()> {
    // Go net/http answers a malformed request like this and closes the connection.
    let text = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let msg = format!(
        "HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{text}"
    );
    stream.write_all(msg.as_bytes()).await?;
    stream.flush().await
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-stream-error` -> `X-Stream-Error`.
fn canonical(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            up = c == '-';
            out
        })
        .collect()
}

fn header_lines(out: &mut Vec<u8>, headers: &HeaderMap, skip: &[HeaderName]) {
    let mut names: Vec<&HeaderName> = headers.keys().filter(|k| !skip.contains(k)).collect();
    names.sort_by_key(|k| canonical(k.as_str()));
    for name in names {
        let cname = canonical(name.as_str());
        for v in headers.get_all(name) {
            out.extend_from_slice(cname.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Writes one reply; `Ok(true)` when the connection may serve another request.
async fn write_response(
    stream: &mut TcpStream,
    resp: axum::response::Response,
    is_head: bool,
    http10: bool,
    keep_alive: bool,
) -> std::io::Result<bool> {
    let (parts, mut body) = resp.into_parts();
    let status = parts.status;
    let mut headers = parts.headers;
    // A reply that declares trailers is always chunked (Go ignores the length then).
    if headers.contains_key(header::TRAILER) {
        headers.remove(header::CONTENT_LENGTH);
    }
    let keep_alive = keep_alive && !has_token(&headers, header::CONNECTION, "close");
    let no_body = is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok());
    let exact = HttpBody::size_hint(&body).exact();
    let chunked = !no_body
        && declared.is_none()
        && !http10
        && (headers.contains_key(header::TRAILER) || exact.is_none());
    let mut length = None;
    let mut close_delimited = false;
    if declared.is_none() && !chunked && !no_body {
        match exact {
            Some(n) => length = Some(n),
            None => close_delimited = true,
        }
    }
    let keep_alive = keep_alive && !close_delimited;
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    header_lines(
        &mut out,
        &headers,
        &[header::DATE, header::CONNECTION, header::TRANSFER_ENCODING],
    );
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(crate::gateway::http_date(std::time::SystemTime::now()).as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(n) = length {
        out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    stream.write_all(&out).await?;
    if no_body {
        stream.flush().await?;
        return Ok(keep_alive);
    }
    let mut trailers: Option<HeaderMap> = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // A broken body: end the connection without the last chunk.
            return Ok(false);
        };
        match frame.into_data() {
            Ok(data) => write_data(stream, &data, chunked).await?,
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    if chunked {
        let mut end = b"0\r\n".to_vec();
        if let Some(t) = &trailers {
            header_lines(&mut end, t, &[]);
        }
        end.extend_from_slice(b"\r\n");
        stream.write_all(&end).await?;
    }
    stream.flush().await?;
    Ok(keep_alive)
}

async fn write_data(stream: &mut TcpStream, data: &Bytes, chunked: bool) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    if chunked {
        stream
            .write_all(format!("{:x}\r\n", data.len()).as_bytes())
            .await?;
        stream.write_all(data).await?;
        stream.write_all(b"\r\n").await
    } else {
        stream.write_all(data).await
    }
}
