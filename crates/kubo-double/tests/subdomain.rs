//! The gateway as Kubo v0.34.1's default subdomain gateway on `localhost`
//! (core/corehttp/gateway.go `defaultKnownGateways`: `"localhost"` with Paths `/ipfs/`,
//! `/ipns/`, `/p2p/` and `UseSubdomains: true`), routed by boxo v0.29.1
//! gateway/hostname.go `NewHostnameHandler`:
//!
//! - `Host: localhost:<port>` + `/ipfs/<cid>/<rest>`: `toSubdomainURL` -> 301 (Go
//!   `http.Redirect`) to `http://<CIDv1 base32>.ipfs.localhost:<port>/<rest>?<query>`;
//!   `/ipns/<name>`: peer IDs (`12D3KooW...`, `Qm...`) and CIDs become CIDv1 libp2p-key
//!   base36 (`k51...`), other names stay as they are.
//! - `Host: <root>.<ns>.localhost:<port>` (`knownSubdomainDetails`): the path is rewritten
//!   to `/<ns>/<root><path>` and served; a CID that is not libp2p-key under `ipns` is
//!   redirected to its libp2p-key form first.
//! - `Host: 127.0.0.1:<port>`: not a known gateway, no DNSLink: a plain path gateway.
//!
//! `*.localhost` is resolved by the client (reqwest `resolve` overrides here, as the
//! station's tests do); the server only reads the Host header.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, last_hash, multipart, post};
use kubo_double::cid::Cid;
use kubo_double::KuboDouble;
use std::net::SocketAddr;

/// A client that resolves `localhost` and each of `names` to the double's gateway and
/// follows no redirects.
fn client(d: &KuboDouble, names: &[&str]) -> reqwest::Client {
    let addr: SocketAddr = common::addr(&d.gateway_url()).parse().unwrap();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr);
    for n in names {
        b = b.resolve(n, addr);
    }
    b.build().unwrap()
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = c.get(url).send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.to_str().unwrap().to_string())
}

fn port(d: &KuboDouble) -> u16 {
    common::addr(&d.gateway_url())
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A station-like site: `index.html`, `live.m3u8` and `s/123.ts` (files added, the two
/// directories made with dag/put), published under the key `radio`: (root CID, k51 name).
async fn site(d: &KuboDouble) -> (String, String) {
    let mut cids = Vec::new();
    for (name, data) in [
        ("index.html", &b"<p>radio</p>"[..]),
        ("live.m3u8", b"#EXTM3U\n"),
        ("123.ts", b"\x47\x47"),
    ] {
        let (s, body) = add(d, &[(name, data)], "cid-version=1").await;
        assert_eq!(s, 200, "{body}");
        cids.push(last_hash(&body));
    }
    let dir = |links: &[(&str, &str)]| {
        let l: Vec<String> = links
            .iter()
            .map(|(n, c)| format!("{{\"Hash\":{{\"/\":\"{c}\"}},\"Name\":\"{n}\",\"Tsize\":1}}"))
            .collect();
        format!(
            "{{\"Data\":{{\"/\":{{\"bytes\":\"CAE\"}}}},\"Links\":[{}]}}",
            l.join(",")
        )
    };
    let put = |json: String| async move {
        let (boundary, body) = multipart(&[("", json.as_bytes())]);
        let r = common::http()
            .post(format!(
                "{}/api/v0/dag/put?store-codec=dag-pb&input-codec=dag-json&pin=true&hash=sha2-256",
                d.api_url()
            ))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        v["Cid"]["/"].as_str().unwrap().to_string()
    };
    let sub = put(dir(&[("123.ts", &cids[2])])).await;
    let root = put(dir(&[
        ("index.html", &cids[0]),
        ("live.m3u8", &cids[1]),
        ("s", &sub),
    ]))
    .await;
    let (s, _, _) = post(d, "key/gen?arg=radio").await;
    assert_eq!(s, 200);
    let (s, _, out) = post(
        d,
        &format!("name/publish?arg=/ipfs/{root}&key=radio&allow-offline=true&ttl=5s"),
    )
    .await;
    assert_eq!(s, 200, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (root, v["Name"].as_str().unwrap().to_string())
}

/// `localhost` + `/ipfs/...` and `/ipns/...`: 301 to the subdomain URL, Go's
/// `http.Redirect` body, CORS headers (Kubo wraps the hostname handler in
/// `gateway.NewHeaders(...).ApplyCors()`); peer IDs and CIDs under `/ipns/` become base36
/// libp2p-key, `/ipfs/` CIDv0 becomes CIDv1 base32.
#[tokio::test]
async fn localhost_paths_redirect_to_subdomains() {
    let d = KuboDouble::start().await.unwrap();
    let (root, name) = site(&d).await;
    let c = client(&d, &[]);
    let p = port(&d);
    let base = d.subdomain_gateway_url();
    assert_eq!(base, format!("http://localhost:{p}"));

    let (s, h, body) = get(&c, &format!("{base}/ipfs/{root}/s/123.ts?x=1&y=2")).await;
    assert_eq!(s, 301);
    let want = format!("http://{root}.ipfs.localhost:{p}/s/123.ts?x=1&y=2");
    assert_eq!(header(&h, "location"), Some(want.clone()));
    assert_eq!(
        header(&h, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        body,
        format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            want.replace('&', "&amp;")
        )
    );
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    // The bare root gets `/`.
    let (s, h, _) = get(&c, &format!("{base}/ipfs/{root}")).await;
    assert_eq!(s, 301);
    assert_eq!(
        header(&h, "location"),
        Some(format!("http://{root}.ipfs.localhost:{p}/"))
    );
    // CIDv0 -> CIDv1 base32 (dag-pb keeps its codec).
    let (s, body) = add(&d, &[("f", b"hello world")], "").await;
    assert_eq!(s, 200);
    let v0 = last_hash(&body);
    assert_eq!(v0, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
    let (s, h, _) = get(&c, &format!("{base}/ipfs/{v0}")).await;
    assert_eq!(s, 301);
    let v1 = Cid::decode(&v0).unwrap().to_v1().to_string();
    assert!(v1.starts_with("bafybei"), "{v1}");
    assert_eq!(
        header(&h, "location"),
        Some(format!("http://{v1}.ipfs.localhost:{p}/"))
    );

    // IPNS: the k51 name stays; its peer ID (12D3KooW...) and its base32 CID become it.
    let want = format!("http://{name}.ipns.localhost:{p}/live.m3u8");
    let key = Cid::decode(&name).unwrap();
    let peer_id = bs58::encode(&key.multihash).into_string();
    assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
    for form in [name.clone(), peer_id, key.to_string()] {
        let (s, h, _) = get(&c, &format!("{base}/ipns/{form}/live.m3u8")).await;
        assert_eq!(s, 301, "{form}");
        assert_eq!(header(&h, "location"), Some(want.clone()), "{form}");
    }
    // A name that is not a key (DNSLink-style) is put in the label as it is.
    let (s, h, _) = get(&c, &format!("{base}/ipns/radio/")).await;
    assert_eq!(s, 301);
    assert_eq!(
        header(&h, "location"),
        Some(format!("http://radio.ipns.localhost:{p}/"))
    );

    // Not a CID under /ipfs/: no redirect; the path handler's 400.
    let (s, _, _) = get(&c, &format!("{base}/ipfs/notacid/x")).await;
    assert_eq!(s, 400);
    // A path outside /ipfs/, /ipns/, /p2p/ on localhost: no DNSLink, `http.NotFound`.
    let (s, _, body) = get(&c, &format!("{base}/index.html")).await;
    assert_eq!((s, body.as_str()), (404, "404 page not found\n"));
    // /version is on the daemon's mux before the hostname handler.
    let (s, _, _) = get(&c, &format!("{base}/version")).await;
    assert_eq!(s, 200);
    // 127.0.0.1 stays a path gateway.
    let (s, _, body) = get(&c, &format!("{}/ipfs/{root}/live.m3u8", d.gateway_url())).await;
    assert_eq!((s, body.as_str()), (200, "#EXTM3U\n"));
}

/// `<root>.ipfs.localhost` and `<name>.ipns.localhost` serve the content root with the
/// URL path inside it: `index.html` for `/`, files below, a directory without `/` is a
/// 301 to the ORIGINAL path plus `/` (handler_unixfs_dir.go uses the request URI, not
/// the rewritten content path); X-Ipfs-Path is the content path.
#[tokio::test]
async fn subdomain_hosts_serve_their_content_root() {
    let d = KuboDouble::start().await.unwrap();
    let (root, name) = site(&d).await;
    let p = port(&d);
    let ipfs_host = format!("{root}.ipfs.localhost");
    let ipns_host = format!("{name}.ipns.localhost");
    let c = client(&d, &[&ipfs_host, &ipns_host]);

    let (s, h, body) = get(&c, &format!("http://{ipfs_host}:{p}/")).await;
    assert_eq!((s, body.as_str()), (200, "<p>radio</p>"));
    assert_eq!(header(&h, "content-type").as_deref(), Some("text/html"));
    assert_eq!(header(&h, "x-ipfs-path"), Some(format!("/ipfs/{root}/")));
    let (s, _, body) = get(&c, &format!("http://{ipfs_host}:{p}/s/123.ts")).await;
    assert_eq!((s, body.as_str()), (200, "GG"));
    let (s, h, _) = get(&c, &format!("http://{ipfs_host}:{p}/s?a=b")).await;
    assert_eq!(s, 301);
    assert_eq!(header(&h, "location").as_deref(), Some("/s/?a=b"));

    let (s, h, body) = get(&c, &format!("http://{ipns_host}:{p}/live.m3u8")).await;
    assert_eq!((s, body.as_str()), (200, "#EXTM3U\n"));
    assert_eq!(
        header(&h, "x-ipfs-path"),
        Some(format!("/ipns/{name}/live.m3u8"))
    );
    assert_eq!(
        header(&h, "cache-control").as_deref(),
        Some("public, max-age=5")
    );
    let (s, _, body) = get(&c, &format!("http://{ipns_host}:{p}/s/123.ts")).await;
    assert_eq!((s, body.as_str()), (200, "GG"));
    // An absolute /ipfs/ path resolves INSIDE the root: no link named "ipfs".
    let (s, _, body) = get(&c, &format!("http://{ipns_host}:{p}/ipfs/{root}/live.m3u8")).await;
    assert_eq!(s, 404, "{body}");
    assert!(body.contains("no link named \"ipfs\""), "{body}");
}

/// The odd hosts: a name that resolves to nothing (500 `failed to resolve <content
/// path>: could not resolve name`, handler.go `handleRequestErrors`), a CID whose block
/// is absent (404, the offline exchange's not-found), a dag-pb CID under `ipns` (301 to
/// its libp2p-key base36 form), a namespace Kubo's localhost gateway does not list
/// (`ipld`: `http.NotFound`), an unknown root that is not a CID under `ipfs` (400).
#[tokio::test]
async fn unknown_and_odd_subdomain_hosts() {
    let d = KuboDouble::start().await.unwrap();
    let (root, name) = site(&d).await;
    let p = port(&d);
    let absent = Cid::v1_sha256(0x55, b"absent").to_string();
    let unknown_key = Cid {
        version: 1,
        codec: 0x72,
        multihash: Cid::decode(&name).unwrap().multihash[..10]
            .iter()
            .chain([0u8; 28].iter())
            .copied()
            .collect(),
    }
    .to_base36();
    let hosts = [
        "nosuch.ipns.localhost".to_string(),
        format!("{unknown_key}.ipns.localhost"),
        format!("{absent}.ipfs.localhost"),
        format!("{root}.ipns.localhost"),
        format!("{root}.ipld.localhost"),
        "notacid.ipfs.localhost".to_string(),
    ];
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let c = client(&d, &names);

    let (s, _, body) = get(&c, &format!("http://nosuch.ipns.localhost:{p}/live.m3u8")).await;
    assert_eq!(s, 500);
    assert_eq!(
        body,
        "failed to resolve /ipns/nosuch/live.m3u8: could not resolve name\n"
    );
    let (s, _, body) = get(&c, &format!("http://{unknown_key}.ipns.localhost:{p}/")).await;
    assert_eq!(s, 500);
    assert_eq!(
        body,
        format!("failed to resolve /ipns/{unknown_key}/: could not resolve name\n")
    );
    let (s, _, body) = get(&c, &format!("http://{absent}.ipfs.localhost:{p}/")).await;
    assert_eq!(s, 404);
    assert_eq!(
        body,
        format!(
            "failed to resolve /ipfs/{absent}/: block was not found locally (offline): \
             ipld: could not find {absent}\n"
        )
    );
    let (s, h, _) = get(&c, &format!("http://{root}.ipns.localhost:{p}/x")).await;
    assert_eq!(s, 301);
    let as_key = Cid {
        version: 1,
        codec: 0x72,
        multihash: Cid::decode(&root).unwrap().multihash,
    }
    .to_base36();
    assert_eq!(
        header(&h, "location"),
        Some(format!("http://{as_key}.ipns.localhost:{p}/x"))
    );
    let (s, _, body) = get(&c, &format!("http://{root}.ipld.localhost:{p}/")).await;
    assert_eq!((s, body.as_str()), (404, "404 page not found\n"));
    let (s, _, _) = get(&c, &format!("http://notacid.ipfs.localhost:{p}/")).await;
    assert_eq!(s, 400);
    // The double itself never looks at where the request went: a Host header is all.
    let raw = common::raw(
        &common::addr(&d.gateway_url()),
        format!(
            "GET /live.m3u8 HTTP/1.1\r\nHost: {name}.ipns.localhost:{p}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let (head, rest) = common::split_head(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&rest).contains("#EXTM3U"));
}
