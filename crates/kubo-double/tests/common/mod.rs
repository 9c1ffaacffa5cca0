//! Helpers shared by the double's HTTP tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kubo_double::KuboDouble;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client that never uses a proxy.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POST `/api/v0/<cmd>`: (status, headers, body).
pub async fn post(d: &KuboDouble, cmd: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = http()
        .post(format!("{}/api/v0/{cmd}", d.api_url()))
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

/// `add` of `files` (name, bytes) with `query`: (status, body).
pub async fn add(d: &KuboDouble, files: &[(&str, &[u8])], query: &str) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (name, data) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(data.to_vec()).file_name(name.to_string()),
        );
    }
    let r = http()
        .post(format!("{}/api/v0/add?{query}", d.api_url()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `Hash` of the last line of an `add` reply.
pub fn last_hash(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
    v["Hash"].as_str().unwrap().to_string()
}

/// A multipart body with one file part per entry, as Kubo's Go client sends it.
pub fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kubodoubleboundary".to_string();
    let mut body = Vec::new();
    for (name, data) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

/// Sends `request` (raw bytes, with `Connection: close`) to `addr` (`127.0.0.1:port`) and
/// reads the raw reply until the server closes the connection.
pub async fn raw(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// `127.0.0.1:port` of a `http://127.0.0.1:port` URL.
pub fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Decodes a chunked body (the bytes after the head): (data, trailer section text).
pub fn dechunk(mut rest: &[u8]) -> (Vec<u8>, String) {
    let mut data = Vec::new();
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..i]).unwrap(), 16).unwrap();
        rest = &rest[i + 2..];
        if size == 0 {
            return (data, String::from_utf8(rest.to_vec()).unwrap());
        }
        data.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n");
        rest = &rest[size + 2..];
    }
}

/// Splits a raw HTTP reply into (head text, rest bytes).
pub fn split_head(reply: &[u8]) -> (String, Vec<u8>) {
    let i = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8(reply[..i].to_vec()).unwrap(),
        reply[i + 4..].to_vec(),
    )
}
