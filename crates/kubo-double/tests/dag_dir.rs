//! UnixFS directories made with `dag/put` (store-codec dag-pb, input-codec dag-json) and
//! served by the path gateway, as Kubo v0.34.1 and the boxo v0.29.1 it ships do:
//!
//! - core/commands/dag/put.go `dagPut`: every multipart part is decoded with the input
//!   codec and encoded with the store codec, the block gets a CIDv1 (`cid.Prefix{Version:
//!   1}`), one `{"Cid":{"/":"<cid>"}}` line is emitted per part; the children are never
//!   looked up.
//! - core/coreapi/dag.go `pinningAdder.AddMany` -> boxo pinning/pinner/dspinner/pin.go
//!   `PinWithMode(Recursive)` -> `doPinRecursive(ctx, c, false, ...)`: with `pin=true` the
//!   node is pinned recursively WITHOUT fetching its DAG (`fetch == false`), so links to
//!   blocks that are not stored are pinned as they are.
//! - go-ipld-prime v0.21.0 codec/dagjson/unmarshal.go and polydawn/refmt v0.89.0
//!   json/jsonDecoder.go for the decode errors; go-codec-dagpb v1.6.0 for the encoding.
//! - boxo gateway/handler_unixfs_dir.go `serveDirectory`: a directory path without a
//!   trailing `/` is a 301 (`http.Redirect`) to the same escaped path plus `/` (query
//!   kept); with `/`, `index.html` is served (`serveFile(..., "text/html")`), else the
//!   HTML listing.
//! - boxo gateway/handler_unixfs_file.go `serveFile` for Content-Type;
//!   gateway/errors.go `webError` (`ipld.IsNotFound` -> 404, as the offline exchange
//!   answers a block it does not have).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, http, last_hash, multipart, post};
use kubo_double::cid::Cid;
use kubo_double::KuboDouble;

/// POST `dag/put?<query>` with one multipart file part per body: (status, headers, body).
async fn dag_put(
    d: &KuboDouble,
    query: &str,
    bodies: &[&str],
) -> (u16, reqwest::header::HeaderMap, String) {
    let files: Vec<(&str, &[u8])> = bodies.iter().map(|b| ("", b.as_bytes())).collect();
    let (boundary, body) = multipart(&files);
    let r = http()
        .post(format!("{}/api/v0/dag/put?{query}", d.api_url()))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

/// What the station sends.
const STATION_QUERY: &str = "store-codec=dag-pb&input-codec=dag-json&pin=true&hash=sha2-256";

/// A UnixFS basic directory in dag-json: `Data` is `{Type: Directory}` (`08 01`, base64
/// `CAE`), links given as (name, cid, tsize).
fn dir_json(links: &[(&str, &str, u64)]) -> String {
    let links: Vec<String> = links
        .iter()
        .map(|(n, c, t)| {
            format!(
                "{{\"Hash\":{{\"/\":\"{c}\"}},\"Name\":{},\"Tsize\":{t}}}",
                serde_json::to_string(n).unwrap()
            )
        })
        .collect();
    format!(
        "{{\"Data\":{{\"/\":{{\"bytes\":\"CAE\"}}}},\"Links\":[{}]}}",
        links.join(",")
    )
}

/// The CID of one `{"Cid":{"/":...}}` line.
fn cid_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["Cid"]["/"].as_str().unwrap().to_string()
}

/// Adds one file with `query`: its CID.
async fn add_file(d: &KuboDouble, name: &str, data: &[u8], query: &str) -> String {
    let (s, body) = add(d, &[(name, data)], query).await;
    assert_eq!(s, 200, "{body}");
    last_hash(&body)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = client().get(url).send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.bytes().await.unwrap().to_vec())
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.to_str().unwrap().to_string())
}

/// The Kubo vector of kubo-rpc.md section 6: `planets` {mars.txt, venus.txt} added with
/// cid-version=1 is bafybeih7e5d...; the same node written as dag-json and put with
/// store-codec dag-pb is the same block, so the same CID (dag/put makes CIDv1 dag-pb
/// with sha2-256 exactly like `add` with cid-version=1). The reply is Kubo's: 200,
/// `X-Chunked-Output: 1` (a `res.Emit` of a non-Single value), one line per node.
#[tokio::test]
async fn dag_put_of_a_unixfs_directory_matches_kubo_vectors() {
    let d = KuboDouble::start().await.unwrap();
    let mars = add_file(&d, "mars.txt", b"Hello Mars!\n", "cid-version=1").await;
    let venus = add_file(&d, "venus.txt", b"Hello Venus!\n", "cid-version=1").await;
    // Links are written out of order: go-codec-dagpb sorts them by name when encoding.
    let json = dir_json(&[("venus.txt", &venus, 13), ("mars.txt", &mars, 12)]);
    let (s, h, body) = dag_put(&d, STATION_QUERY, &[&json]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        header(&h, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(&h, "x-chunked-output").as_deref(), Some("1"));
    assert_eq!(
        body,
        "{\"Cid\":{\"/\":\"bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi\"}}\n"
    );
    // The block is exactly dag-pb: links (field 2) before Data (field 1) `0a 02 08 01`.
    let block = d.block(&cid_of(&body)).unwrap();
    assert!(block.ends_with(&[0x0a, 0x02, 0x08, 0x01]), "{block:02x?}");
    // pin=true: pinned recursively, by the CID printed.
    let pins = d.pins();
    assert!(
        pins.contains(&"bafybeih7e5dmkyk25up5vxug4q3hrg2fxbzf23dfrac2fns5h7z4aa7ioi".to_string()),
        "{pins:?}"
    );

    // The same directory added with cid-version=1 is this very block, and so is the
    // raw-leaves v0 one (QmfWfQ..., same bytes, CIDv0): dag/put prints the CIDv1.
    let v0 = Cid::decode("QmfWfQfKCY5Ukv9peBbxM5vqWM9BzmqUSXvdCgjT2wsiBT").unwrap();
    assert_eq!(cid_of(&body), v0.to_v1().to_string());

    // Kubo vector: planets added with the defaults is QmWSgS32... over the CIDv0 dag-pb
    // files QmPrrH... (block 20 bytes) and QmU5kp... (21 bytes). Links to CIDv0 are the
    // bare multihash in dag-pb; dag/put prints the CIDv1 of the same multihash.
    let mars_v0 = add_file(&d, "mars.txt", b"Hello Mars!\n", "").await;
    let venus_v0 = add_file(&d, "venus.txt", b"Hello Venus!\n", "").await;
    assert_eq!(mars_v0, "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN");
    let json = dir_json(&[("mars.txt", &mars_v0, 20), ("venus.txt", &venus_v0, 21)]);
    let (s, _, body) = dag_put(&d, STATION_QUERY, &[&json]).await;
    assert_eq!(s, 200, "{body}");
    let v0 = Cid::decode("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY").unwrap();
    assert_eq!(cid_of(&body), v0.to_v1().to_string());
    assert!(cid_of(&body).starts_with("bafybei"));
}

/// Several parts: one line per part, in order (put.go emits after each `b.Add`); `pin`
/// omitted is false (`cmds.BoolOption("pin")` has no default): stored, not pinned.
#[tokio::test]
async fn dag_put_without_pin_stores_but_does_not_pin_and_answers_one_line_per_part() {
    let d = KuboDouble::start().await.unwrap();
    let leaf = add_file(&d, "a.ts", b"segment", "cid-version=1&pin=false").await;
    let a = dir_json(&[("a.ts", &leaf, 7)]);
    let b = dir_json(&[]);
    let (s, _, body) = dag_put(&d, "store-codec=dag-pb&input-codec=dag-json", &[&a, &b]).await;
    assert_eq!(s, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body}");
    // The empty directory: the block `0a 02 08 01`, Kubo's well-known empty dir CID.
    assert_eq!(
        cid_of(lines[1]),
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    );
    assert!(d.block(&cid_of(lines[0])).is_some());
    assert!(d.pins().is_empty(), "{:?}", d.pins());
    // Served all the same (stored blocks are content, pinned or not).
    let (s, _, got) = get(&format!(
        "{}/ipfs/{}/a.ts",
        d.gateway_url(),
        cid_of(lines[0])
    ))
    .await;
    assert_eq!((s, got), (200, b"segment".to_vec()));
}

/// dag/put does not look at the children (put.go never fetches links; the pinning adder
/// pins with `fetch == false`): a directory linking to blocks this node has never seen
/// is stored, printed and pinned, offline as online. Walking into the missing child is
/// what fails: the offline exchange's not-found error, a 404 on the gateway (boxo
/// gateway/errors.go `isErrNotFound` -> `ipld.IsNotFound`), and `pin/add` of the same
/// root (which does fetch, `FetchGraph`) fails with it too.
#[tokio::test]
async fn dag_put_with_missing_children_pins_without_fetching() {
    let d = KuboDouble::start().await.unwrap();
    // Hashes of bytes never added.
    let absent_raw = Cid::v1_sha256(0x55, b"never added").to_string();
    let absent_dir = Cid::v1_sha256(0x70, b"\x0a\x02\x08\x01never").to_string();
    let json = dir_json(&[("s", &absent_dir, 100), ("live.m3u8", &absent_raw, 11)]);
    let (s, _, body) = dag_put(&d, STATION_QUERY, &[&json]).await;
    assert_eq!(s, 200, "{body}");
    let root = cid_of(&body);
    assert_eq!(d.pins(), vec![root.clone()]);
    assert!(d.block(&absent_raw).is_none());

    // The directory itself is listed (from its own block).
    let (s, _, page) = get(&format!("{}/ipfs/{root}/", d.gateway_url())).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&page).contains("live.m3u8"));
    // The missing child: 404 with the offline exchange's error.
    let (s, _, e) = get(&format!("{}/ipfs/{root}/live.m3u8", d.gateway_url())).await;
    assert_eq!(s, 404, "{}", String::from_utf8_lossy(&e));
    assert_eq!(
        String::from_utf8_lossy(&e),
        format!(
            "failed to resolve /ipfs/{root}/live.m3u8: block was not found locally \
             (offline): ipld: could not find {absent_raw}\n"
        )
    );
    // pin/add fetches the whole DAG, so it fails where dag/put did not.
    let (s, _, e) = post(&d, &format!("pin/add?arg={root}")).await;
    assert_eq!(s, 500);
    assert!(
        e.contains("pin: block was not found locally (offline)"),
        "{e}"
    );
}

/// Invalid input is the decoder's error as a 500 with Kubo's JSON error body (the Run
/// returned before anything was emitted): an empty part is `io.ErrUnexpectedEOF`
/// (dagjson.Unmarshal), a bad byte is refmt's text, and a dag-json that is not a
/// PBNode is go-codec-dagpb's schema error. A bad part after a good one: the good line
/// is already out, so 200 and the error in the `X-Stream-Error` trailer, and nothing of
/// the batch is stored (the batch is committed only at the end).
#[tokio::test]
async fn invalid_dag_json_is_kubos_error() {
    let d = KuboDouble::start().await.unwrap();
    let cases = [
        ("", "unexpected EOF"),
        ("x", "Invalid byte while expecting start of value: 0x78"),
        (
            "{\"Links\":[]} {}",
            "unexpected content after end of json object",
        ),
        (
            "{\"Data\":{\"/\":{\"bytes\":\"CAE\"}}}",
            "missing required fields: Links",
        ),
        (
            "{\"Links\":[{\"Hash\":{\"/\":\"nope\"}}]}",
            "invalid cid: selected encoding not supported",
        ),
    ];
    for (input, msg) in cases {
        let (s, h, body) = dag_put(&d, STATION_QUERY, &[input]).await;
        assert_eq!(s, 500, "{input:?}: {body}");
        assert_eq!(
            header(&h, "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            body,
            format!("{{\"Message\":\"{msg}\",\"Code\":0,\"Type\":\"error\"}}\n"),
            "{input:?}"
        );
    }
    // Not multipart: go-ipfs-cmds' required file argument.
    let r = http()
        .post(format!("{}/api/v0/dag/put?{STATION_QUERY}", d.api_url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "file argument 'object data' is required\n"
    );
    // Unknown codec name: go-multicodec `Code.Set`.
    let (s, _, body) = dag_put(&d, "store-codec=dag-pbx", &["{}"]).await;
    assert_eq!(s, 500);
    assert!(
        body.contains("unknown multicodec: \\\"dag-pbx\\\""),
        "{body}"
    );
    assert!(d.pins().is_empty());
}

/// A good part then a bad one: 200, the first line, then the trailer; the good node is
/// not stored or pinned (its batch was never committed).
#[tokio::test]
async fn error_after_a_line_is_a_trailer_and_commits_nothing() {
    let d = KuboDouble::start().await.unwrap();
    let (boundary, body) = multipart(&[("", dir_json(&[]).as_bytes()), ("", b"x")]);
    let request = format!(
        "POST /api/v0/dag/put?{STATION_QUERY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut raw = request.into_bytes();
    raw.extend_from_slice(&body);
    let reply = common::raw(&common::addr(&d.api_url()), &raw).await;
    let (head, rest) = common::split_head(&reply);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (data, trailer) = common::dechunk(&rest);
    assert_eq!(
        String::from_utf8(data).unwrap(),
        "{\"Cid\":{\"/\":\"bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354\"}}\n"
    );
    assert!(
        trailer.contains("X-Stream-Error: Invalid byte while expecting start of value: 0x78"),
        "{trailer}"
    );
    assert!(d.pins().is_empty());
    assert!(d
        .block("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354")
        .is_none());
}

/// The station's site: files added (raw-leaf CIDv1 and CIDv0 dag-pb), a sub-directory
/// and the root made with dag/put, served at `/ipfs/<dir>/`, `/ipfs/<dir>/s/123.ts` and
/// through IPNS at `/ipns/<name>/live.m3u8`. Content-Type is Go's `mime.TypeByExtension`
/// of the last segment (builtin table for html/js/css/json; this host's MIME database
/// for .ts/.m3u8, compared with what `?filename=` gives for the same bytes). On Debian 12
/// Go finds `.ts` -> `text/vnd.trolltech.linguist; charset=utf-8` in both databases
/// (shared-mime-info's globs2 lists it before video/mp2t; media-types' /etc/mime.types
/// has only it), `.m3u8` -> `audio/x-mpegurl` (globs2) or
/// `application/vnd.apple.mpegurl` (mime.types only); with neither (busybox image)
/// `.ts` is sniffed to `application/octet-stream`. tests/gateway_mime.rs checks the
/// values against the host's files.
#[tokio::test]
async fn the_gateway_serves_a_dag_put_directory_by_path_and_through_ipns() {
    let d = KuboDouble::start().await.unwrap();
    let index = add_file(&d, "index.html", b"<p>radio</p>", "cid-version=1").await;
    let js = add_file(&d, "app.js", b"play()", "").await;
    let css = add_file(&d, "s.css", b"p{}", "cid-version=1").await;
    let json = add_file(&d, "now.json", b"{}", "cid-version=1").await;
    let m3u8 = add_file(&d, "live.m3u8", b"#EXTM3U\n", "cid-version=1").await;
    let ts = add_file(&d, "123.ts", &[0x47u8; 188], "cid-version=1").await;
    assert!(js.starts_with("Qm"));
    let (_, _, sub) = dag_put(&d, STATION_QUERY, &[&dir_json(&[("123.ts", &ts, 188)])]).await;
    let sub = cid_of(&sub);
    let root_json = dir_json(&[
        ("index.html", &index, 12),
        ("app.js", &js, 14),
        ("s.css", &css, 3),
        ("now.json", &json, 2),
        ("live.m3u8", &m3u8, 8),
        ("s", &sub, 250),
    ]);
    let (_, _, root) = dag_put(&d, STATION_QUERY, &[&root_json]).await;
    let root = cid_of(&root);
    let gw = d.gateway_url();

    // `/ipfs/<dir>/` is index.html as text/html (serveFile's fallback type; .html's own
    // type is `text/html; charset=utf-8`, cut to `text/html`).
    let (s, h, body) = get(&format!("{gw}/ipfs/{root}/")).await;
    assert_eq!((s, body), (200, b"<p>radio</p>".to_vec()));
    assert_eq!(header(&h, "content-type").as_deref(), Some("text/html"));
    assert_eq!(
        header(&h, "cache-control").as_deref(),
        Some("public, max-age=29030400, immutable")
    );
    // No trailing slash: 301 to the same path plus `/`, query kept.
    let (s, h, _) = get(&format!("{gw}/ipfs/{root}")).await;
    assert_eq!(s, 301);
    assert_eq!(
        header(&h, "location").as_deref(),
        Some(format!("/ipfs/{root}/").as_str())
    );
    let (s, h, _) = get(&format!("{gw}/ipfs/{root}/s?x=1")).await;
    assert_eq!(s, 301);
    assert_eq!(
        header(&h, "location").as_deref(),
        Some(format!("/ipfs/{root}/s/?x=1").as_str())
    );
    // A file two levels down, with X-Ipfs-Roots along the path.
    let (s, h, body) = get(&format!("{gw}/ipfs/{root}/s/123.ts")).await;
    assert_eq!((s, body.len()), (200, 188));
    assert_eq!(
        header(&h, "x-ipfs-roots").as_deref(),
        Some(format!("{root},{sub},{ts}").as_str())
    );
    assert_eq!(
        header(&h, "etag").as_deref(),
        Some(format!("\"{ts}\"").as_str())
    );

    // Content-Type by extension.
    for (path, want) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"),
        ("now.json", "application/json"),
        ("index.html", "text/html"),
    ] {
        let (s, h, _) = get(&format!("{gw}/ipfs/{root}/{path}")).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(header(&h, "content-type").as_deref(), Some(want), "{path}");
    }
    for (path, file, name) in [("s/123.ts", &ts, "x.ts"), ("live.m3u8", &m3u8, "x.m3u8")] {
        let (_, h, _) = get(&format!("{gw}/ipfs/{root}/{path}")).await;
        let (_, by_name, _) = get(&format!("{gw}/ipfs/{file}?filename={name}")).await;
        assert_eq!(
            header(&h, "content-type"),
            header(&by_name, "content-type"),
            "{path}"
        );
    }

    // IPNS: a name published to `/ipfs/<dir>` serves its files.
    let (s, _, _) = post(&d, "key/gen?arg=radio").await;
    assert_eq!(s, 200);
    let (s, _, out) = post(
        &d,
        &format!("name/publish?arg=/ipfs/{root}&key=radio&allow-offline=true&ttl=5s"),
    )
    .await;
    assert_eq!(s, 200, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let name = v["Name"].as_str().unwrap().to_string();
    let (s, h, body) = get(&format!("{gw}/ipns/{name}/live.m3u8")).await;
    assert_eq!((s, body), (200, b"#EXTM3U\n".to_vec()));
    assert_eq!(
        header(&h, "x-ipfs-path").as_deref(),
        Some(format!("/ipns/{name}/live.m3u8").as_str())
    );
    assert_eq!(
        header(&h, "cache-control").as_deref(),
        Some("public, max-age=5")
    );
    let (s, h, _) = get(&format!("{gw}/ipns/{name}")).await;
    assert_eq!(s, 301);
    assert_eq!(
        header(&h, "location").as_deref(),
        Some(format!("/ipns/{name}/").as_str())
    );
}

/// A directory without index.html: boxo renders its HTML listing (assets/directory.html;
/// the double writes a plain list with the same entries, not boxo's template) as
/// `text/html`.
#[tokio::test]
async fn a_directory_without_index_html_is_listed() {
    let d = KuboDouble::start().await.unwrap();
    let a = add_file(&d, "a.ts", b"aaaa", "cid-version=1").await;
    let (_, _, root) = dag_put(
        &d,
        STATION_QUERY,
        &[&dir_json(&[("a.ts", &a, 4), ("b.ts", &a, 4)])],
    )
    .await;
    let root = cid_of(&root);
    let (s, h, body) = get(&format!("{}/ipfs/{root}/", d.gateway_url())).await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type").as_deref(), Some("text/html"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("a.ts") && page.contains("b.ts"), "{page}");
}

/// A link whose name holds a `/`: neither go-codec-dagpb nor dag/put checks names, so
/// the node is stored; a gateway path is split on `/` (boxo path.Path segments, after
/// Go's URL decoding turns `%2F` into `/`), so the entry cannot be reached: looking for
/// a link named `a` is boxo path/resolver `ErrNoLink`, a 404.
#[tokio::test]
async fn a_link_named_with_a_slash_is_stored_but_unreachable() {
    let d = KuboDouble::start().await.unwrap();
    let f = add_file(&d, "x", b"hidden", "cid-version=1").await;
    let (s, _, root) = dag_put(&d, STATION_QUERY, &[&dir_json(&[("a/b", &f, 6)])]).await;
    assert_eq!(s, 200, "{root}");
    let root = cid_of(&root);
    for p in ["a/b", "a%2Fb"] {
        let (s, _, body) = get(&format!("{}/ipfs/{root}/{p}", d.gateway_url())).await;
        assert_eq!(s, 404, "{p}: {}", String::from_utf8_lossy(&body));
    }
}

/// After a dag/put pin over absent children: `pin/ls?type=recursive` lists the root
/// (no walk), the default `type=all` walks every recursive pin (core/coreapi/pin.go
/// `pinLsAll`, `merkledag.Walk`) and fails on the absent block offline, and `pin/rm`
/// of the bare CID needs no block (boxo path/resolver `ResolveToLastNode` returns a root
/// without a remainder as is; core/coreapi/pin.go `Rm`).
#[tokio::test]
async fn pins_over_absent_children_list_recursive_fail_all_and_unpin() {
    let d = KuboDouble::start().await.unwrap();
    let absent = Cid::v1_sha256(0x55, b"absent").to_string();
    let (_, _, body) = dag_put(&d, STATION_QUERY, &[&dir_json(&[("a.ts", &absent, 6)])]).await;
    let root = cid_of(&body);
    let (s, _, body) = post(&d, "pin/ls?type=recursive").await;
    assert_eq!(s, 200);
    assert_eq!(
        body,
        format!("{{\"Keys\":{{\"{root}\":{{\"Type\":\"recursive\",\"Name\":\"\"}}}}}}\n")
    );
    let (s, _, body) = post(&d, "pin/ls").await;
    assert_eq!(s, 500, "{body}");
    assert!(
        body.contains(&format!(
            "block was not found locally (offline): ipld: could not find {absent}"
        )),
        "{body}"
    );
    let (s, _, body) = post(&d, &format!("block/stat?arg={root}")).await;
    assert_eq!(s, 200, "{body}");
    let (s, _, body) = post(&d, &format!("pin/rm?arg={root}")).await;
    assert_eq!((s, body), (200, format!("{{\"Pins\":[\"{root}\"]}}\n")));
    assert!(d.pins().is_empty());
}

/// Garbage collection, as kubo gc/gc.go `GC` does it: every block reachable from a
/// recursive pin is kept (a `dag/put` directory's children too), every other block is
/// deleted; a pinned DAG missing a block (a `dag/put` pins without fetching, see
/// above) aborts the run before anything is deleted (`ErrCannotFetchAllLinks`).
#[tokio::test]
async fn gc_frees_what_no_pin_reaches_and_aborts_on_a_pinned_dag_with_a_missing_block() {
    let d = KuboDouble::start().await.unwrap();
    let kept = add_file(&d, "kept.txt", b"pinned by add\n", "cid-version=1").await;
    let loose = add_file(
        &d,
        "loose.txt",
        b"nobody pins me\n",
        "cid-version=1&pin=false",
    )
    .await;
    let child = add_file(
        &d,
        "child.txt",
        b"linked from a pinned dir\n",
        "cid-version=1&pin=false",
    )
    .await;
    let (s, _, body) = dag_put(
        &d,
        STATION_QUERY,
        &[&dir_json(&[("child.txt", &child, 25)])],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let dir = cid_of(body.lines().next().unwrap());
    let (blocks, bytes) = d.stored();
    assert_eq!(blocks, 4, "three raw leaves and the directory");

    let (freed, freed_bytes) = d.gc().unwrap();
    assert_eq!(freed, 1);
    assert_eq!(freed_bytes, 15);
    assert_eq!(d.stored(), (blocks - 1, bytes - 15));
    assert!(d.file_bytes(&loose).is_none(), "the unpinned file is gone");
    assert_eq!(d.file_bytes(&kept).unwrap(), b"pinned by add\n");
    assert_eq!(
        d.path_bytes(&format!("/ipfs/{dir}/child.txt")).unwrap(),
        b"linked from a pinned dir\n"
    );

    // Unpinned, the next run frees it.
    let (s, _, body) = post(&d, &format!("pin/rm?arg={kept}")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(d.gc().unwrap(), (1, 14));
    assert!(d.file_bytes(&kept).is_none());

    // A pinned directory linking the freed file: the walk cannot fetch it, nothing goes.
    let (s, _, body) = dag_put(
        &d,
        STATION_QUERY,
        &[&dir_json(&[("loose.txt", &loose, 15)])],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let before = d.stored();
    assert_eq!(
        d.gc().unwrap_err(),
        "garbage collection aborted: could not retrieve some links"
    );
    assert_eq!(d.stored(), before, "an aborted run deletes nothing");
}
