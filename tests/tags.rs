//! Strangers' tags and file names as an operator meets them (issue 18): tracks tagged with
//! line separators that would end the stream or splice in a foreign segment, a 100 KB
//! title, terminal escape sequences and a spreadsheet formula import, air and show as
//! plain text: every published `live.m3u8` is small, has no control or line-separator
//! character and only `s/<n>.ts` URIs, hls.js in Chromium reads it as live with only the
//! station's segments, `station status`/`history`/`schedule` print no ESC and the CSV
//! export opens no formula.

use crate::listener::{fresh_browser, require_browser};
use crate::support::*;
use serde_json::{json, Value};
use std::path::Path;

/// A CID that is not the station's (the `hello world` vector of ../shared/kubo-rpc.md).
const FOREIGN_CID: &str = "bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa";

/// True for what may never reach a playlist line, a terminal or a page as text: controls
/// (Cc) but the line's own `\n`, format characters such as bidi overrides (a sample of
/// Cf), the line and paragraph separators and NEL.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{0085}' | '\u{202e}' | '\u{200b}'
        )
}

/// Checks one published `live.m3u8`: small, plain text, only the station's own segment
/// URIs. Returns its media sequence.
fn check_playlist(body: &[u8]) -> u64 {
    assert!(
        body.len() < 64 * 1024,
        "live.m3u8 is {} bytes: a tag made it grow",
        body.len()
    );
    let text = std::str::from_utf8(body).expect("live.m3u8 is UTF-8");
    if let Some(c) = text.chars().find(|&c| unsafe_char(c)) {
        panic!("live.m3u8 holds {c:?}:\n{text}");
    }
    // The hostile text shows inside `#EXTINF` titles, never as a line of its own.
    assert!(
        !text.lines().any(|l| l.starts_with("#EXT-X-ENDLIST")),
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let n = line
            .strip_prefix("s/")
            .and_then(|l| l.strip_suffix(".ts"))
            .unwrap_or_else(|| panic!("a URI that is not the station's: {line:?}\n{text}"));
        assert!(n.parse::<u64>().is_ok(), "{line:?}");
    }
    m3u8_rs::parse_media_playlist_res(body)
        .expect("live.m3u8 parses")
        .media_sequence
}

/// `station <args>` must succeed; returns its stdout and stderr, checked for ESC and the
/// other characters a terminal must not get.
fn run_clean(st: &Path, args: &[&str]) -> String {
    let out = run_station(st, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "station {args:?}: {stdout}{stderr}");
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        if let Some(c) = text.chars().find(|&c| unsafe_char(c)) {
            panic!("station {args:?} printed {c:?} on {what}:\n{text}");
        }
    }
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tags_import_air_and_show_as_plain_text() {
    require_browser();
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    let music = st.join("music");
    for f in std::fs::read_dir(&music).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let splice = format!("Tone\u{2028}#EXT-X-ENDLIST\u{2029}/ipfs/{FOREIGN_CID}/x.ts");
    let huge = "A".repeat(100 * 1024);
    let escapes = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mRed\u{202e}txt.exe";
    let formula = r#"=HYPERLINK("http://evil.example/","click")"#;
    let tagged: [(&str, &str, &str); 4] = [
        ("splice.ogg", &splice, "Splicer"),
        ("huge.ogg", &huge, "Big"),
        ("escapes.ogg", escapes, "\u{1b}[1mBold"),
        ("formula.ogg", formula, "+1 Caller"),
    ];
    for (i, (file, title, artist)) in tagged.iter().enumerate() {
        gen_audio(
            &music.join(file),
            &format!("sine=frequency={}", 300 + 50 * i),
            4.0,
            &[
                "-c:a",
                "libvorbis",
                "-metadata",
                &format!("title={title}"),
                "-metadata",
                &format!("artist={artist}"),
            ],
        );
    }
    // No tags: the file name is the title.
    gen_audio(
        &music.join("Namer - Song\u{2028}#EXT-X-ENDLIST.ogg"),
        "sine=frequency=520",
        4.0,
        &["-c:a", "libvorbis"],
    );
    patch_config(
        &st,
        "streaming.config.json",
        json!({"update_interval": 1, "publish_timeout": 10}),
    );
    let setup = run_clean(&st, &["setup", "--quiet"]);
    eprintln!("setup: {setup}");

    // The manifest holds the sanitized values, capped at 256 characters a field.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(st.join("data/processed/manifest.json")).unwrap())
            .unwrap();
    let items = manifest["items"].as_array().unwrap();
    let field = |i: &Value, k: &str| i[k].as_str().unwrap_or_default().to_string();
    for i in items {
        for k in ["title", "artist", "album"] {
            let v = field(i, k);
            assert!(!v.chars().any(unsafe_char), "manifest {k} {v:?}");
            assert!(
                v.chars().count() <= 256,
                "manifest {k} of {} chars",
                v.chars().count()
            );
        }
    }
    let titles: Vec<String> = items.iter().map(|i| field(i, "title")).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Tone #EXT-X-ENDLIST /ipfs/")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("=HYPERLINK(")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t == "Song #EXT-X-ENDLIST"),
        "{titles:?}"
    );
    assert!(titles
        .iter()
        .any(|t| t.starts_with("AAAA") && t.ends_with('\u{2026}')));
    assert!(
        titles
            .iter()
            .any(|t| t.contains("pwned") && t.contains("Red")),
        "{titles:?}"
    );

    let mut guard = ProcessGuard::new();
    spawn_station(&st, &["stream"], &tmp.path().join("stream.log"), &mut guard);
    wait_for_a_publish(&st).await;
    let name = stream_state(&st).unwrap().ipns_name.expect("an IPNS name");
    let site = format!("{}/ipns/{name}/", node.gateway_url());

    // Every playlist published while the five items air (each 4 s) is clean.
    let mut seen = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let (status, body) = get(&format!("{site}live.m3u8")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        seen.insert(check_playlist(&body));
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    assert!(
        seen.len() >= 5,
        "only {} playlists seen: {seen:?}",
        seen.len()
    );

    // hls.js (the bundled build, on the station's own page's origin) reads the playlist
    // as live, with only the station's segments.
    let (_driver, c) = fresh_browser(tmp.path(), "tags").await;
    c.goto(&site).await.unwrap();
    let read = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const hls = new Hls({ autoStartLoad: true });
             hls.on(Hls.Events.LEVEL_LOADED, (_e, d) => done({
               live: d.details.live,
               endList: !!d.details.endList || d.details.type === 'VOD',
               uris: d.details.fragments.map(f => f.relurl),
               titles: d.details.fragments.map(f => f.title || ''),
             }));
             hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) done({ error: d.details }); });
             hls.loadSource('live.m3u8');
             hls.attachMedia(document.createElement('audio'));",
            vec![],
        )
        .await
        .unwrap();
    assert!(read["error"].is_null(), "hls.js: {read}");
    assert_eq!(
        read["live"],
        json!(true),
        "hls.js reads the stream as ended: {read}"
    );
    assert_eq!(read["endList"], json!(false), "{read}");
    let uris = read["uris"].as_array().unwrap();
    assert!(!uris.is_empty(), "{read}");
    for u in uris {
        let u = u.as_str().unwrap();
        assert!(
            u.starts_with("s/") && u.ends_with(".ts") && !u.contains(FOREIGN_CID),
            "hls.js would fetch {u:?}: {read}"
        );
    }
    let page = c
        .execute("return document.body.innerText", vec![])
        .await
        .unwrap();
    assert!(!page.as_str().unwrap().chars().any(unsafe_char), "{page}");

    // The operator's terminal and spreadsheet.
    let status = run_clean(&st, &["status"]);
    assert!(status.contains("ON AIR"), "{status}");
    let history = run_clean(&st, &["history"]);
    eprintln!("history:\n{history}");
    let schedule = run_clean(&st, &["schedule"]);
    assert!(schedule.contains("on air:"), "{schedule}");
    let csv = run_clean(&st, &["history", "--csv"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let mut aired = Vec::new();
    for row in rows.records() {
        let row = row.unwrap();
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a CSV cell opens a formula: {cell:?}\n{csv}"
            );
        }
        aired.push(row[4].to_string());
    }
    assert!(
        aired.iter().any(|t| t.starts_with("'=HYPERLINK(")),
        "the formula track aired and shows as text: {aired:?}"
    );
    assert!(
        aired.iter().any(|t| t.starts_with("Tone #EXT-X-ENDLIST")),
        "{aired:?}"
    );
}
