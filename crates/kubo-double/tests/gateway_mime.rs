//! Gateway Content-Type, as boxo v0.29.1 gateway/handler_unixfs_file.go `serveFile`
//! computes it: `mime.TypeByExtension(path.Ext(name))` where name is `?filename` or the
//! last path segment below the root CID (gateway/handler.go `getFilename`); when that
//! is empty and the range starts at 0, content sniffing (gabriel-vasile/mimetype);
//! `text/html; ...` is cut to `text/html`.
//!
//! Go's `mime.TypeByExtension` (src/mime/type.go, type_unix.go) is its builtin table
//! plus this host's MIME database: the first of /usr/local/share/mime/globs2 and
//! /usr/share/mime/globs2 that opens (`loadMimeGlobsFile`: the first `weight:type:*.ext`
//! line per extension wins, and builtin entries are never replaced by it), else the
//! mime.types files (`loadMimeFile`, later lines win); `text/*` gets `; charset=utf-8`.
//! On Debian `shared-mime-info` provides globs2 (`apt-get install -y shared-mime-info`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, http};
use kubo_double::KuboDouble;

/// What Go would answer for `ext` (no builtin entry) on this host, read independently:
/// first globs2 line for `*<ext>`, else the last mime.types line listing it.
fn host_type(ext: &str) -> Option<String> {
    let charset = |t: &str| {
        if t.starts_with("text/") && !t.contains("charset=") {
            format!("{t}; charset=utf-8")
        } else {
            t.to_string()
        }
    };
    for g in ["/usr/local/share/mime/globs2", "/usr/share/mime/globs2"] {
        if let Ok(text) = std::fs::read_to_string(g) {
            return text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[2] == format!("*{ext}")).then(|| f[1].to_string())
                })
                .next()
                .map(|t| charset(&t));
        }
    }
    let mut found = None;
    for f in [
        "/etc/mime.types",
        "/etc/apache2/mime.types",
        "/etc/apache/mime.types",
        "/etc/httpd/conf/mime.types",
    ] {
        for l in std::fs::read_to_string(f).unwrap_or_default().lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() > 1 && !w[0].starts_with('#') && w[1..].contains(&&ext[1..]) {
                found = Some(charset(w[0]));
            }
        }
    }
    found
}

async fn content_type(d: &KuboDouble, path: &str) -> Option<String> {
    let r = http()
        .get(format!("{}{path}", d.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
}

/// `.ts` and `.m3u8` get exactly what Go's mime package gives on this host; on Debian's
/// shared-mime-info 2.2 globs2 that is `text/vnd.trolltech.linguist; charset=utf-8`
/// (listed before video/mp2t) and `audio/x-mpegurl` (before
/// application/vnd.apple.mpegurl). A path without extension is still sniffed.
#[tokio::test]
async fn ts_and_m3u8_types_follow_the_host_database() {
    let d = KuboDouble::start().await.unwrap();
    let mut form = reqwest::multipart::Form::new();
    for (name, data) in [
        ("live", &b""[..]),
        ("live/seg_00000.ts", &[0x47u8, 0x40, 0x00, 0x10, 0xff][..]),
        ("live/index.m3u8", &b"#EXTM3U\n#EXT-X-VERSION:3\n"[..]),
        ("live/page.html", &b"<p>hi</p>"[..]),
        ("live/app.js", &b"let x = 1;"[..]),
    ] {
        let mut p = reqwest::multipart::Part::bytes(data.to_vec()).file_name(name);
        if name == "live" {
            p = p.mime_str("application/x-directory").unwrap();
        }
        form = form.part("file", p);
    }
    let body = http()
        .post(format!("{}/api/v0/add", d.api_url()))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = common::last_hash(&body);
    let ts = content_type(&d, &format!("/ipfs/{root}/seg_00000.ts")).await;
    let m3u8 = content_type(&d, &format!("/ipfs/{root}/index.m3u8")).await;
    assert_eq!(
        ts,
        host_type(".ts").or(Some("application/octet-stream".into()))
    );
    assert_eq!(
        m3u8,
        host_type(".m3u8").or(Some("application/vnd.apple.mpegurl".into()))
    );
    let globs = std::fs::read_to_string("/usr/share/mime/globs2").unwrap_or_default();
    let ts_line = globs.find("text/vnd.trolltech.linguist:*.ts");
    if ts_line.is_some() && ts_line < globs.find("video/mp2t:*.ts") {
        assert_eq!(
            ts.as_deref(),
            Some("text/vnd.trolltech.linguist; charset=utf-8")
        );
    }
    let m_line = globs.find("audio/x-mpegurl:*.m3u8");
    if m_line.is_some() && m_line < globs.find("application/vnd.apple.mpegurl:*.m3u8") {
        assert_eq!(m3u8.as_deref(), Some("audio/x-mpegurl"));
    }
    // Builtin entries win over the host database (globs2 lists application/javascript
    // for .js); text/html; charset=utf-8 is cut to text/html.
    assert_eq!(
        content_type(&d, &format!("/ipfs/{root}/app.js"))
            .await
            .as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        content_type(&d, &format!("/ipfs/{root}/page.html"))
            .await
            .as_deref(),
        Some("text/html")
    );
    // ?filename drives the type; no extension below the root: sniffed.
    let (_, out) = add(&d, &[("x", b"#EXTM3U\n")], "").await;
    let cid = common::last_hash(&out);
    assert_eq!(
        content_type(&d, &format!("/ipfs/{cid}")).await.as_deref(),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(
        content_type(&d, &format!("/ipfs/{cid}?filename=live.ts")).await,
        ts
    );
}
