//! Errors in the middle of a streamed reply. go-ipfs-cmds v0.14.1
//! http/responseemitter.go: `doPreamble` declares `Trailer: X-Stream-Error` on every
//! reply; once the preamble (200 and headers) went out, `closeWithError` can only set
//! the `X-Stream-Error` header, which Go's net/http sends as an HTTP/1.1 chunked
//! trailer. Before any output the error is the preamble itself (500 + JSON).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, addr, dechunk, http, last_hash, multipart, raw, split_head};
use kubo_double::KuboDouble;

fn add_request(files: &[(&str, &[u8])]) -> Vec<u8> {
    let (boundary, body) = multipart(files);
    let mut req = format!(
        "POST /api/v0/add?pin=true HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

/// `add` (core/commands/add.go emits one AddEvent per file): with the fault after one
/// line, the raw bytes on the wire are a 200, chunked, the first line, then the last
/// chunk `0` followed by the trailer line `X-Stream-Error: <msg>`. Nothing is pinned
/// (the import stopped before its final pin).
#[tokio::test]
async fn add_error_after_output_is_a_chunked_trailer() {
    let d = KuboDouble::start().await.unwrap();
    d.faults()
        .set_stream_error("add", 1, Some("blockstore: disk full".into()));
    let reply = raw(
        &addr(&d.api_url()),
        &add_request(&[("a.ts", b"first"), ("b.ts", b"second")]),
    )
    .await;
    let (head, rest) = split_head(&reply);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nTransfer-Encoding: chunked"));
    assert!(head.contains("\r\nTrailer: X-Stream-Error"));
    assert!(head.contains("\r\nX-Chunked-Output: 1"));
    let (data, trailer) = dechunk(&rest);
    let text = String::from_utf8(data).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("{\"Name\":\"a.ts\",\"Hash\":\"Qm"));
    assert_eq!(trailer, "X-Stream-Error: blockstore: disk full\r\n\r\n");
    assert!(d.pins().is_empty());

    // A reqwest client (the station's) sees the trailer through http-body.
    let mut form = reqwest::multipart::Form::new();
    for (n, b) in [("a.ts", &b"first"[..]), ("b.ts", &b"second"[..])] {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(b.to_vec()).file_name(n),
        );
    }
    let r = http()
        .post(format!("{}/api/v0/add", d.api_url()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let collected = http_body_util::BodyExt::collect(reqwest::Body::from(r))
        .await
        .unwrap();
    let trailers = collected.trailers().cloned().unwrap();
    assert_eq!(trailers["x-stream-error"], "blockstore: disk full");
    assert_eq!(
        String::from_utf8(collected.to_bytes().to_vec())
            .unwrap()
            .lines()
            .count(),
        1
    );

    // Before any line the error is the preamble: 500 with the JSON error.
    d.faults().set_stream_error("add", 0, Some("early".into()));
    let (s, body) = add(&d, &[("a.ts", b"first")], "").await;
    assert_eq!(
        (s, body.as_str()),
        (
            500,
            "{\"Message\":\"early\",\"Code\":0,\"Type\":\"error\"}\n"
        )
    );
    // Cleared: the reply ends with an empty trailer section.
    d.faults().set_stream_error("add", 0, None);
    let reply = raw(&addr(&d.api_url()), &add_request(&[("a.ts", b"first")])).await;
    let (_, rest) = split_head(&reply);
    assert_eq!(dechunk(&rest).1, "\r\n");
    assert_eq!(d.pins().len(), 1);
}

/// `cat` (core/commands/cat.go: `SetLength(total)` then `Emit(reader)`): the preamble
/// goes out with `X-Stream-Output: 1` and `X-Content-Length` before the bytes are
/// copied (responseemitter.go `flushCopy`), so an error while reading is a 200 with the
/// bytes so far and the trailer; a client must compare with X-Content-Length.
#[tokio::test]
async fn cat_error_after_some_bytes() {
    let d = KuboDouble::start().await.unwrap();
    let (_, out) = add(&d, &[("seg.ts", b"0123456789")], "").await;
    let cid = last_hash(&out);
    d.faults()
        .set_stream_error("cat", 4, Some("context canceled".into()));
    let req =
        format!("POST /api/v0/cat?arg={cid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = raw(&addr(&d.api_url()), req.as_bytes()).await;
    let (head, rest) = split_head(&reply);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.contains("\r\nX-Content-Length: 10"));
    assert!(head.contains("\r\nX-Stream-Output: 1"));
    let (data, trailer) = dechunk(&rest);
    assert_eq!(data, b"0123");
    assert_eq!(trailer, "X-Stream-Error: context canceled\r\n\r\n");
}
