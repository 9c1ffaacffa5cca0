//! RPC transport details that follow go-ipfs-cmds v0.14.1 and Kubo v0.34.1: the order of
//! the request checks, Go's `http.Error` bodies, the version the double reports, and
//! `shutdown` stopping both servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{addr, http, post, raw, split_head};
use kubo_double::{KuboDouble, KUBO_VERSION};
use std::time::Duration;

/// go-ipfs-cmds http/handler.go `ServeHTTP` checks the method first ("First of all,
/// check if we are allowed to handle the request method": OPTIONS -> 204, anything but
/// POST -> 405 `405 - Method Not Allowed` with `Allow: OPTIONS, POST`), then
/// `allowOrigin`/`allowReferer`/`allowUserAgent` (403), and only then `parseRequest`
/// (http/parse.go), whose `root.Resolve` failure is `ErrNotFound` (404). Kubo mounts it
/// at `/api/v0/` (core/corehttp/commands.go `commandsOption`). Every error is Go's
/// `http.Error`: text/plain, `X-Content-Type-Options: nosniff`, message + "\n".
#[tokio::test]
async fn method_is_checked_before_the_command_lookup() {
    let d = KuboDouble::start().await.unwrap();
    let c = http();
    let url = format!("{}/api/v0/no/such/command", d.api_url());
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "OPTIONS, POST");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["vary"], "Origin");
    assert_eq!(r.text().await.unwrap(), "405 - Method Not Allowed\n");
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["allow"], "OPTIONS, POST");
    // POST from a foreign origin to an unknown command: 403 comes before 404.
    let r = c
        .post(&url)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (403, "403 - Forbidden\n".to_string())
    );
    let r = c.post(&url).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (404, "404 page not found\n".to_string())
    );
    // Nothing was run or recorded for the unknown command.
    assert!(d.rpc_calls().is_empty());
}

/// The double reports Kubo 0.34.1 everywhere (version.go `CurrentVersionNumber`): the
/// `Server` header is `kubo/<CurrentVersionNumber>` (core/corehttp/commands.go
/// `addHeadersFromConfig`), `/version` prints `Commit: <CurrentCommit>` and
/// `Client Version: <GetUserAgentVersion()>` (core/corehttp/gateway.go
/// `VersionOption`), `version` says 0.34.1; 0.34.1 is the first release whose
/// `name/publish` TTL defaults to 5m (publish.go `WithDefault(ipns.DefaultRecordTTL)`,
/// boxo v0.29.1 ipns/defaults.go).
#[tokio::test]
async fn version_is_consistent() {
    let d = KuboDouble::start().await.unwrap();
    assert_eq!(KUBO_VERSION, "0.34.1");
    let (_, h, body) = post(&d, "version").await;
    assert_eq!(h["server"], "kubo/0.34.1");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Version"], KUBO_VERSION);
    let r = http()
        .get(format!("{}/version", d.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        r.text().await.unwrap(),
        "Commit: \nClient Version: kubo/0.34.1/\n"
    );
    // The gateway port serves it too: `serveHTTPGateway` (cmd/ipfs/kubo/daemon.go)
    // lists `corehttp.VersionOption()` among its options, so a client can poll the
    // gateway for "ready" the same way.
    let r = http()
        .get(format!("{}/version", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "Commit: \nClient Version: kubo/0.34.1/\n"
    );
}

/// Command replies are chunked with the `Trailer: X-Stream-Error` declaration
/// (go-ipfs-cmds http/responseemitter.go `doPreamble`; Go's net/http chunks a reply that
/// declares trailers), and Go writes header lines canonical and sorted by name.
#[tokio::test]
async fn command_replies_are_chunked_like_go() {
    let d = KuboDouble::start().await.unwrap();
    let reply = raw(
        &addr(&d.api_url()),
        b"POST /api/v0/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, rest) = split_head(&reply);
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "HTTP/1.1 200 OK");
    assert!(lines.contains(&"Transfer-Encoding: chunked"), "{head}");
    assert!(lines.contains(&"Trailer: X-Stream-Error"));
    assert!(lines.contains(&"Connection: close"));
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(':').next().unwrap())
        .take_while(|n| *n != "Date")
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let (data, trailer) = common::dechunk(&rest);
    assert!(String::from_utf8(data).unwrap().starts_with("{\"Version\""));
    assert_eq!(trailer, "\r\n");
}

/// core/commands/shutdown.go: the Run closes the node and returns nil without emitting:
/// an empty 200 reply with the default preamble (`X-Chunked-Output: 1`,
/// responseemitter.go `doPreamble(nil)`). Closing the node makes core/corehttp/corehttp.go
/// `Serve` call `server.Shutdown` on every HTTP server: both the RPC and the gateway port
/// stop accepting connections (the daemon then exits).
#[tokio::test]
async fn shutdown_stops_both_ports() {
    let d = KuboDouble::start().await.unwrap();
    let (api, gw) = (addr(&d.api_url()), addr(&d.gateway_url()));
    let (s, h, body) = post(&d, "shutdown").await;
    assert_eq!((s, body.as_str()), (200, ""));
    assert_eq!(h["x-chunked-output"], "1");
    tokio::time::timeout(Duration::from_secs(2), d.shutdown_requested())
        .await
        .unwrap();
    let mut refused = false;
    for _ in 0..100 {
        let a = tokio::net::TcpStream::connect(&api).await.is_err();
        let g = tokio::net::TcpStream::connect(&gw).await.is_err();
        if a && g {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "both ports still accept connections");
    d.shutdown().await;
}
