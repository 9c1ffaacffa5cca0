//! Shared helpers: Kubo double, station fixtures, generated audio.
#![allow(dead_code)]

use ipfs_station::kubo::Kubo;
use ipfs_station::library::{ItemKind, SourceFingerprint};
use ipfs_station::setup::manifest::{
    self, Manifest, ManifestItem, ManifestSegment, MANIFEST_FORMAT,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use kubo_double::TestNode;

/// A Kubo RPC client for `api`.
pub fn client(api: &str) -> Kubo {
    Kubo::new(api, Duration::from_secs(30)).unwrap()
}

/// Generates audio with ffmpeg's lavfi sources: `source` like `sine=frequency=440`,
/// `seconds` long, plus extra output arguments (codec, metadata), into `path`.
pub fn gen_audio(path: &Path, source: &str, seconds: f64, extra: &[&str]) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("{source}:duration={seconds}"))
        .args(["-ac", "2"])
        .args(extra)
        .arg(path)
        .output()
        .expect("ffmpeg must be installed (scripts/deps.sh)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `value`'s keys over `<station>/<file>` (a config file).
pub fn patch_config(station: &Path, file: &str, value: serde_json::Value) {
    let p = station.join(file);
    let mut cur: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    for (k, v) in value.as_object().unwrap() {
        cur[k] = v.clone();
    }
    std::fs::write(&p, serde_json::to_vec_pretty(&cur).unwrap()).unwrap();
}

/// A synthetic processed folder: each item's segments are small distinct byte strings
/// added to Kubo, so streaming can be tested without encoding. Items are
/// `(id, kind, segment durations)`; `rotation` lists ids in air order.
pub async fn synthetic_processed(
    processed: &Path,
    kubo: &Kubo,
    items: &[(&str, ItemKind, &[f64])],
    rotation: &[&str],
) -> Manifest {
    let mut out = Vec::new();
    for (id, kind, durs) in items {
        let dir = processed.join(manifest::ITEMS_DIR).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut segments = Vec::new();
        for (i, d) in durs.iter().enumerate() {
            let file = format!("seg_{i:05}.ts");
            let bytes = format!("segment {i} of {id}").into_bytes();
            std::fs::write(dir.join(&file), &bytes).unwrap();
            let cid = kubo
                .add_bytes(&format!("{id}_{file}"), bytes.clone(), true)
                .await
                .unwrap();
            segments.push(ManifestSegment {
                file,
                cid: Some(cid),
                duration: *d,
                bytes: bytes.len() as u64,
            });
        }
        out.push(ManifestItem {
            id: id.to_string(),
            kind: *kind,
            title: format!("Title {id}"),
            artist: Some("Artist".into()),
            source: PathBuf::from(format!("/nonexistent/{id}.ogg")),
            source_fingerprint: SourceFingerprint {
                sha256: "0".repeat(64),
                bytes: 1,
            },
            source_mtime: 0,
            duration: durs.iter().sum(),
            loudness: None,
            encode_hash: "synthetic".into(),
            segments,
        });
    }
    let m = Manifest {
        format: MANIFEST_FORMAT,
        config_hash: "synthetic".into(),
        segment_duration: 6.0,
        jingle_cycle: 1,
        items: out,
    };
    m.save(processed).unwrap();
    let text = manifest::render_playlist(&m, rotation).unwrap();
    manifest::save_playlist(processed, &text).unwrap();
    m
}

/// GET `url` (loopback) and return status + body.
pub async fn get(url: &str) -> (u16, Vec<u8>) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.bytes().await.unwrap().to_vec())
}

/// A processed folder of real audio: each `(id, source)` item is ffmpeg's HLS encode
/// (AAC, `segment` s segments) of the lavfi `source` (`seconds` long), added to Kubo.
pub async fn real_processed(
    processed: &Path,
    kubo: &Kubo,
    items: &[(&str, &str, f64)],
    segment: f64,
) -> Manifest {
    let mut out = Vec::new();
    for (id, source, seconds) in items {
        let dir = processed.join(manifest::ITEMS_DIR).join(id);
        ipfs_station::bench::encode_lavfi_hls(source, *seconds, segment, &dir).unwrap();
        let pl = m3u8_rs::parse_media_playlist_res(&std::fs::read(dir.join("index.m3u8")).unwrap())
            .unwrap();
        let mut segments = Vec::new();
        for s in &pl.segments {
            let bytes = std::fs::read(dir.join(&s.uri)).unwrap();
            let cid = kubo
                .add_bytes(&format!("{id}_{}", s.uri), bytes.clone(), true)
                .await
                .unwrap();
            segments.push(ManifestSegment {
                file: s.uri.clone(),
                cid: Some(cid),
                duration: f64::from(s.duration),
                bytes: bytes.len() as u64,
            });
        }
        out.push(ManifestItem {
            id: id.to_string(),
            kind: ItemKind::Track,
            title: format!("Tone {id}"),
            artist: Some("Test".into()),
            source: PathBuf::from(format!("/nonexistent/{id}.wav")),
            source_fingerprint: SourceFingerprint {
                sha256: "0".repeat(64),
                bytes: 1,
            },
            source_mtime: 0,
            duration: segments.iter().map(|s| s.duration).sum(),
            loudness: None,
            encode_hash: "test".into(),
            segments,
        });
    }
    let ids: Vec<&str> = items.iter().map(|i| i.0).collect();
    let m = Manifest {
        format: MANIFEST_FORMAT,
        config_hash: "test".into(),
        segment_duration: segment,
        jingle_cycle: 1,
        items: out,
    };
    m.save(processed).unwrap();
    manifest::save_playlist(processed, &manifest::render_playlist(&m, &ids).unwrap()).unwrap();
    m
}

/// A loopback HTTP proxy in front of `upstream` that can be told to answer a status or
/// to stall: for gateway fault tests where another gateway must keep working.
pub struct FaultyProxy {
    pub url: String,
    pub mode: std::sync::Arc<std::sync::Mutex<(Option<u16>, Duration)>>,
}

impl FaultyProxy {
    pub async fn start(upstream: String) -> FaultyProxy {
        use axum::extract::State;
        use axum::http::{StatusCode, Uri};
        use axum::response::IntoResponse;
        type Mode = std::sync::Arc<std::sync::Mutex<(Option<u16>, Duration)>>;
        let mode: Mode = Default::default();
        async fn fwd(
            State((up, mode)): State<(String, Mode)>,
            uri: Uri,
        ) -> axum::response::Response {
            let (status, delay) = *mode.lock().unwrap();
            tokio::time::sleep(delay).await;
            if let Some(s) = status {
                return (StatusCode::from_u16(s).unwrap(), "injected").into_response();
            }
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(format!("{up}{uri}"))
                .send()
                .await
                .unwrap();
            let st = StatusCode::from_u16(r.status().as_u16()).unwrap();
            (st, r.bytes().await.unwrap().to_vec()).into_response()
        }
        let app = axum::Router::new()
            .fallback(fwd)
            .with_state((upstream, mode.clone()));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        FaultyProxy { url, mode }
    }

    pub fn set(&self, status: Option<u16>, delay: Duration) {
        *self.mode.lock().unwrap() = (status, delay);
    }
}
