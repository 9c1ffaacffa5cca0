//! The double over HTTP: RPC transport rules, add output, pins, keys, IPNS, gateway,
//! and the fault knobs (kubo-rpc.md sections 1-5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubo_double::KuboDouble;
use std::time::Duration;

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn add(
    d: &KuboDouble,
    files: &[(&str, &[u8])],
    query: &str,
) -> (u16, String, reqwest::header::HeaderMap) {
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
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, r.text().await.unwrap(), h)
}

#[tokio::test]
async fn transport_rules() {
    let d = KuboDouble::start().await.unwrap();
    let c = http();
    let r = c
        .get(format!("{}/api/v0/id", d.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "OPTIONS, POST");
    assert_eq!(r.text().await.unwrap(), "405 - Method Not Allowed\n");
    let r = c
        .post(format!("{}/api/v0/nope", d.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (404, "404 page not found\n".to_string())
    );
    let r = c
        .post(format!("{}/api/v0/id", d.api_url()))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (403, "403 - Forbidden\n".to_string())
    );
    let r = c
        .post(format!("{}/api/v0/id", d.api_url()))
        .header("User-Agent", "Mozilla/5.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/api/v0/id", d.api_url()))
        .header("Origin", d.api_url())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["ID"].as_str().unwrap().starts_with("12D3KooW"));
    let r = c
        .post(format!("{}/api/v0/cat", d.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (400, "argument \"ipfs-path\" is required\n".to_string())
    );
    let (s, body, _) = add(&d, &[("a", b"x")], "pin=maybe").await;
    assert_eq!(
        (s, body.as_str()),
        (
            400,
            "could not convert value \"maybe\" to type \"bool\" (for option \"-pin\")\n"
        )
    );
    let r = c
        .post(format!("{}/api/v0/add", d.api_url()))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (400, "file argument 'path' is required\n".to_string())
    );
    let r = c
        .post(format!(
            "{}/api/v0/cat?arg=QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
            d.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["Code"].as_i64(), v["Type"].as_str()),
        (Some(0), Some("error"))
    );
}

#[tokio::test]
async fn add_prints_ndjson_with_real_cids_and_pins() {
    let d = KuboDouble::start().await.unwrap();
    let (s, body, h) = add(
        &d,
        &[("hello.txt", b"Hello Worlds!\n"), ("w.txt", b"hello world")],
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["x-chunked-output"], "1");
    assert_eq!(h["trailer"], "X-Stream-Error");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"Name":"hello.txt","Hash":"QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH","Size":"22"}"#
    );
    assert!(lines[1].contains("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"));
    assert!(d
        .pins()
        .contains(&"QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH".to_string()));
    assert_eq!(
        d.file_bytes("QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH")
            .unwrap(),
        b"Hello Worlds!\n"
    );
    // Directory parts: files, then the directory (post-order); only it is pinned.
    let mut form = reqwest::multipart::Form::new();
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(Vec::new())
            .file_name("planets")
            .mime_str("application/x-directory")
            .unwrap(),
    );
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(b"Hello Mars!\n".to_vec()).file_name("planets/mars.txt"),
    );
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(b"Hello Venus!\n".to_vec()).file_name("planets/venus.txt"),
    );
    let body = http()
        .post(format!("{}/api/v0/add?pin=true", d.api_url()))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["planets/mars.txt", "planets/venus.txt", "planets"]);
    assert!(body
        .lines()
        .last()
        .unwrap()
        .contains("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"));
    // The gateway walks into the directory.
    let r = http()
        .get(format!(
            "{}/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/venus.txt",
            d.gateway_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ipfs-roots"], "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY,QmU5kp3BH3B8tnWUU2Pikdb2maksBNkb92FHRr56hyghh4");
    assert_eq!(r.text().await.unwrap(), "Hello Venus!\n");
    // cid-version=1 and only-hash.
    let (_, body, _) = add(
        &d,
        &[("w.txt", b"hello world")],
        "cid-version=1&only-hash=true&pin=false",
    )
    .await;
    assert!(body.contains("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"));
    assert!(d
        .file_bytes("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
        .is_none());
    assert_eq!(d.add_requests(), 3);
}

#[tokio::test]
async fn ipns_publish_resolve_and_gateway() {
    let d = KuboDouble::start().await.unwrap();
    let c = http();
    let post = |q: String| {
        let c = c.clone();
        let url = format!("{}/api/v0/{q}", d.api_url());
        async move { c.post(url).send().await.unwrap() }
    };
    let k: serde_json::Value = post("key/gen?arg=radio&type=ed25519".into())
        .await
        .json()
        .await
        .unwrap();
    let name = k["Id"].as_str().unwrap().to_string();
    assert!(name.starts_with("k51"));
    let r = post("key/gen?arg=radio".into()).await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("key with name 'radio' already exists"));
    let (_, body, _) = add(
        &d,
        &[("live.m3u8", b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n")],
        "",
    )
    .await;
    let cid = serde_json::from_str::<serde_json::Value>(body.lines().next().unwrap()).unwrap()
        ["Hash"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(format!("name/publish?arg={cid}&key=radio")).await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("can't publish while offline"));
    let v: serde_json::Value = post(format!(
        "name/publish?arg={cid}&key=radio&allow-offline=true&ttl=5s&lifetime=48h"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["Name"], name);
    assert_eq!(v["Value"], format!("/ipfs/{cid}"));
    let r = post(format!(
        "name/publish?arg={cid}&key=radio&allow-offline=true&lifetime=2d"
    ))
    .await;
    assert_eq!(r.status(), 500);
    let v: serde_json::Value = post(format!("name/resolve?arg={name}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["Path"], format!("/ipfs/{cid}"));
    let r = c
        .get(format!("{}/ipns/{name}", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=5");
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert!(r.headers().contains_key("last-modified"));
    let r = c
        .get(format!("{}/ipns/k51qzi5uqu5dunknown", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    // A stale view: the gateway serves what was current 60 s ago (nothing yet).
    d.faults().set_ipns_lag(Duration::from_secs(60));
    let r = c
        .get(format!("{}/ipns/{name}", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    d.faults().set_ipns_lag(Duration::ZERO);
    // Range, conditional and read-only rules.
    let r = c
        .get(format!("{}/ipfs/{cid}", d.gateway_url()))
        .header("Range", "bytes=1-6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().await.unwrap(), "EXTM3U");
    let r = c
        .get(format!("{}/ipfs/{cid}", d.gateway_url()))
        .header("Range", "bytes=9999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let r = c
        .get(format!("{}/ipfs/{cid}", d.gateway_url()))
        .header("If-None-Match", format!("\"{cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = c
        .post(format!("{}/ipfs/{cid}", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c
        .get(format!("{}/ipfs/not-a-cid", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn faults_fail_and_recover() {
    let d = KuboDouble::start().await.unwrap();
    let c = http();
    let id = format!("{}/api/v0/id", d.api_url());
    d.faults().set_rpc_error(Some("boom".into()));
    let r = c.post(&id).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["Message"],
        "boom"
    );
    d.faults().set_rpc_error(None);
    d.faults()
        .set_command_error("name/publish", Some("no peers".into()));
    assert_eq!(c.post(&id).send().await.unwrap().status(), 200);
    assert_eq!(
        c.post(format!("{}/api/v0/name/publish?arg=x", d.api_url()))
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    d.faults().set_command_error("name/publish", None);
    let (_, body, _) = add(&d, &[("a", b"kept across downtime")], "").await;
    let cid = serde_json::from_str::<serde_json::Value>(body.lines().next().unwrap()).unwrap()
        ["Hash"]
        .as_str()
        .unwrap()
        .to_string();
    d.faults().set_down(true).await;
    let fresh = http();
    assert!(fresh.post(&id).send().await.unwrap_err().is_connect());
    d.faults().set_down(false).await;
    assert_eq!(fresh.post(&id).send().await.unwrap().status(), 200);
    assert_eq!(d.file_bytes(&cid).unwrap(), b"kept across downtime");
    d.faults().set_gateway_status(Some(502));
    assert_eq!(
        c.get(format!("{}/ipfs/{cid}", d.gateway_url()))
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    d.faults().set_gateway_status(None);
    d.faults().set_gateway_delay(Duration::from_millis(300));
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(quick
        .get(format!("{}/ipfs/{cid}", d.gateway_url()))
        .send()
        .await
        .unwrap_err()
        .is_timeout());
}
