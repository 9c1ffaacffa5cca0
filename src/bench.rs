//! The `station bench` measurements (issue #2), each against its natural baseline in the
//! same run:
//! 1. a fresh `setup` of a real multi-track library (prechunk, loudness, adds to Kubo)
//!    against the bare single-pass ffmpeg encode of the same files with the same
//!    parallelism (goal: ratio <= 1.10);
//! 2. a second `setup` over an unchanged library of N items (goal: under 1 s), against
//!    the first run that encoded them;
//! 3. one window tick (advance + render, window 50) over a 10,000-item rotation, against
//!    parsing the same playlist with m3u8-rs (goal: under 1 ms).

use crate::air::window::{render, PlayItem, PlaySegment, Programme, Rotation, Schedule, UriStyle};
use crate::error::{Error, Result};
use crate::library::ItemKind;
use crate::setup::prechunk::{self, EncodeSettings, PrechunkJob};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One measured comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What was measured.
    pub name: String,
    /// Our time.
    pub ours: Duration,
    /// What the baseline is.
    pub baseline_name: String,
    /// The baseline's time.
    pub baseline: Duration,
    /// The goal, in words.
    pub goal: String,
}

impl Measurement {
    /// `ours / baseline`.
    pub fn ratio(&self) -> f64 {
        self.ours.as_secs_f64() / self.baseline.as_secs_f64().max(1e-12)
    }
}

/// The default encode settings of a new station (as `station init` writes them).
fn settings() -> EncodeSettings {
    EncodeSettings {
        segment_duration: 6.0,
        codec: "aac".into(),
        bitrate: "128k".into(),
        sample_rate: 44100,
        channels: 2,
        loudness_target_lufs: Some(-16.0),
    }
}

/// A fresh `station setup` of `sources` (copied into the `music/` of a new station
/// beside its bundled jingles, `jobs` = `parallel`, the Kubo at `kubo_api`): every
/// source probed, decoded once, measured and encoded loudness-normalized, every segment
/// added to Kubo, the manifest, rotation and library root written; against the bare
/// single-pass encode of the same files ([`prechunk::encode_args`] without a gain, the
/// plain `ffmpeg -i source ... -f hls`), `parallel` at a time, in the same run.
///
/// Errors: ffmpeg failures, I/O in `work`, [`Error::Station`] when the setup did not
/// finish whole (a failed source, a segment Kubo did not take).
pub async fn setup_vs_bare_encode(
    sources: &[PathBuf],
    parallel: usize,
    work: &Path,
    kubo_api: &str,
) -> Result<Measurement> {
    let st = work.join("station");
    crate::station::init(&st)?;
    for (i, p) in sources.iter().enumerate() {
        let name = p.file_name().map_or_else(
            || format!("source {i}"),
            |n| n.to_string_lossy().into_owned(),
        );
        let to = st.join("music").join(format!("{i:03} {name}"));
        std::fs::copy(p, &to).map_err(|e| Error::io(&to, e))?;
    }
    let patch = |file: &str, key: &str, value: serde_json::Value| -> Result<()> {
        let path = st.join(file);
        let mut raw: serde_json::Map<String, serde_json::Value> =
            crate::station::atomic::read_json(&path)?;
        raw.insert(key.into(), value);
        crate::station::atomic::write_json_atomic(&path, &raw)
    };
    patch(crate::station::keys::SETUP_FILE, "jobs", parallel.into())?;
    patch(
        crate::station::keys::STREAMING_FILE,
        "kubo_api",
        kubo_api.into(),
    )?;
    let station = crate::station::Station::open(&st)?;
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["music", "jingles"] {
        files.extend(crate::library::list_candidates(&st.join(dir)).files);
    }
    let audio: f64 = files
        .iter()
        .filter_map(|p| crate::library::probe(p).ok())
        .map(|i| i.duration)
        .sum();
    // Ours: the whole setup.
    let t = Instant::now();
    let report = crate::setup::run(&station, Arc::new(|_| {})).await?;
    let ours = t.elapsed();
    if !report.ok() || report.encoded != files.len() {
        return Err(Error::Station {
            dir: st,
            message: format!(
                "the benchmark's setup did not finish whole: {} of {} encoded, {} failed, {} segments without a CID{}",
                report.encoded,
                files.len(),
                report.failures.len(),
                report.missing_cids,
                report
                    .kubo_error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", Kubo: {e}"))
            ),
        });
    }
    // Bare: one plain encode per file, a plain worker pool.
    let s = settings();
    let bare_jobs: Vec<PrechunkJob> = files
        .iter()
        .enumerate()
        .map(|(i, p)| PrechunkJob {
            id: format!("t-{i}"),
            source: p.clone(),
            out_dir: work.join("bare").join(format!("t-{i}")),
            settings: s.clone(),
            duration: 0.0,
            probe: false,
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(None);
    let t = Instant::now();
    std::thread::scope(|sc| {
        for _ in 0..parallel.max(1) {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = bare_jobs.get(i) else { break };
                let r = (|| -> Result<()> {
                    std::fs::create_dir_all(&job.out_dir)
                        .map_err(|e| Error::io(&job.out_dir, e))?;
                    let st = Command::new("ffmpeg")
                        .args(prechunk::encode_args(job, None, &job.out_dir))
                        .arg(job.out_dir.join("index.m3u8"))
                        .status()
                        .map_err(|e| Error::io("ffmpeg", e))?;
                    if st.success() {
                        Ok(())
                    } else {
                        Err(Error::Ffmpeg {
                            file: job.source.clone(),
                            reason: st.to_string(),
                        })
                    }
                })();
                if let (Err(e), Ok(mut f)) = (r, failed.lock()) {
                    *f = Some(e);
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    let bare = t.elapsed();
    Ok(Measurement {
        name: format!(
            "fresh setup of {} files ({:.0} s of audio; loudness-normalized, {} segments added to Kubo), {parallel} jobs",
            files.len(),
            audio,
            report.segments_added
        ),
        ours,
        baseline_name: "bare single-pass ffmpeg encode of the same files, same jobs".into(),
        baseline: bare,
        goal: "ratio <= 1.10".into(),
    })
}

/// Sets up a station of `items` generated 1 s tracks twice (no Kubo: `kubo_api` points
/// at a closed loopback port) and times both runs.
///
/// Errors: setup failures.
pub async fn second_setup(items: usize, work: &Path) -> Result<Measurement> {
    let st = work.join("station");
    crate::station::init(&st)?;
    let music = st.join("music");
    for i in 0..items {
        let p = music.join(format!("Bench Artist - Track {i:04}.wav"));
        lavfi_audio(&p, &format!("sine=frequency={}", 200 + i % 800), 1.0, &[])?;
    }
    // No Kubo: setup's own work only (the encode, then the cache check).
    let streaming = st.join(crate::station::keys::STREAMING_FILE);
    let mut raw: serde_json::Map<String, serde_json::Value> =
        crate::station::atomic::read_json(&streaming)?;
    raw.insert("kubo_api".into(), "http://127.0.0.1:9".into());
    crate::station::atomic::write_json_atomic(&streaming, &raw)?;
    let station = crate::station::Station::open(&st)?;
    let t = Instant::now();
    crate::setup::run(&station, Arc::new(|_| {})).await?;
    let first = t.elapsed();
    let t = Instant::now();
    let r = crate::setup::run(&station, Arc::new(|_| {})).await?;
    let second = t.elapsed();
    if r.encoded != 0 {
        return Err(Error::Station {
            dir: st,
            message: format!("the second run encoded {} items", r.encoded),
        });
    }
    Ok(Measurement {
        name: format!("second setup, {} unchanged items", r.tracks + r.jingles),
        ours: second,
        baseline_name: "first setup (encodes everything)".into(),
        baseline: first,
        goal: "second run < 1 s".into(),
    })
}

/// A rotation of `items` items, every fourth a jingle, with 3 to 42 segments of 6.006 s
/// each (CIDs are placeholders): the window benchmarks' input.
pub fn synthetic_rotation(items: usize) -> Arc<Rotation> {
    let entries = (0..items)
        .map(|i| {
            Arc::new(PlayItem {
                id: format!("t-{i:016x}"),
                title: format!("Artist {i} - Title {i}"),
                kind: if i % 4 == 0 {
                    ItemKind::Jingle
                } else {
                    ItemKind::Track
                },
                segments: (0..(3 + i % 40))
                    .map(|s| PlaySegment {
                        file: format!("seg_{s:05}.ts"),
                        cid: Some(format!("QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQN{i:05}")),
                        duration: 6.006,
                    })
                    .collect(),
            })
        })
        .collect();
    Arc::new(Rotation::new(entries))
}

/// One window tick over a rotation of `items` items (3-42 segments each), window 50,
/// lookahead 10; the mean of `ticks` ticks, against parsing the rendered playlist.
pub fn window_tick(items: usize, ticks: u32) -> Measurement {
    let rot = synthetic_rotation(items);
    let mut now = chrono::Utc::now();
    let mut sched = Schedule::born(Arc::new(Programme::single(rot)), now);
    sched.advance(now, 50, 10);
    let mut text = String::new();
    let t = Instant::now();
    for _ in 0..ticks {
        now += chrono::Duration::milliseconds(6006);
        sched.advance(now, 50, 10);
        text = render(&sched.window(now, 50), &UriStyle::IpfsPath).unwrap_or_default();
    }
    let ours = t.elapsed() / ticks.max(1);
    let t = Instant::now();
    for _ in 0..ticks {
        let _ = m3u8_rs::parse_media_playlist_res(text.as_bytes());
    }
    let baseline = t.elapsed() / ticks.max(1);
    Measurement {
        name: format!("window tick, {items}-item rotation, window 50"),
        ours,
        baseline_name: "m3u8-rs parse of the same playlist".into(),
        baseline,
        goal: "< 1 ms".into(),
    }
}

/// The in-process level check of one segment (read from disk, demux, decode, levels),
/// `runs` times, against `ffmpeg -af volumedetect -f null -` on the same file.
///
/// Errors: when ffmpeg cannot make or read the segment.
pub fn level_check(segment: &Path, runs: u32) -> Result<Measurement> {
    let t = Instant::now();
    let mut audio = 0.0;
    for _ in 0..runs {
        let bytes = std::fs::read(segment).map_err(|e| Error::io(segment, e))?;
        audio = crate::health::levels::analyze_ts("bench", &bytes, -50.0, 3600.0)?.decoded_seconds;
    }
    let ours = t.elapsed() / runs.max(1);
    let t = Instant::now();
    for _ in 0..runs {
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-i"])
            .arg(segment)
            .args(["-af", "volumedetect", "-f", "null", "-"])
            .output()
            .map_err(|e| Error::io("ffmpeg", e))?;
        if !out.status.success() {
            return Err(Error::Ffmpeg {
                file: segment.to_path_buf(),
                reason: out.status.to_string(),
            });
        }
    }
    let baseline = t.elapsed() / runs.max(1);
    Ok(Measurement {
        name: format!(
            "level check of a {audio:.1} s AAC segment ({:.0}x realtime)",
            audio / ours.as_secs_f64().max(1e-9)
        ),
        ours,
        baseline_name: "ffmpeg -af volumedetect".into(),
        baseline,
        goal: "at least 5x faster than ffmpeg".into(),
    })
}

/// Writes `seconds` of the ffmpeg lavfi audio `source` (e.g. `sine=frequency=440`; note
/// that `sine` has amplitude 1/8, about -18 dBFS) as a stereo file at `path`, encoded as
/// its extension says or as `extra` output arguments ask (`-c:a libvorbis`, `-metadata
/// title=...`). The one generator of audio fixtures: benchmarks and every test use it.
///
/// Errors: [`Error::Ffmpeg`] naming `path` with what ffmpeg said; [`Error::Io`].
pub fn lavfi_audio(path: &Path, source: &str, seconds: f64, extra: &[&str]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("{source}:duration={seconds}"))
        .args(["-ac", "2"])
        .args(extra)
        .arg(path)
        .output()
        .map_err(|e| Error::ToolMissing {
            tool: "ffmpeg".into(),
            hint: format!("{e}: install ffmpeg (scripts/deps.sh)"),
        })?;
    if !out.status.success() {
        return Err(Error::Ffmpeg {
            file: path.to_path_buf(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Encodes `seconds` of the ffmpeg lavfi audio `source` (e.g. `aevalsrc=...` or
/// `anullsrc=...`) as HLS into `dir`: AAC 128 kbit/s, 44.1 kHz, `segment` s MPEG-TS
/// segments `seg_00000.ts`... and `index.m3u8`. Test and benchmark fixtures use it.
///
/// Errors: [`Error::Ffmpeg`] when ffmpeg fails; [`Error::Io`].
pub fn encode_lavfi_hls(source: &str, seconds: f64, segment: f64, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{source}:d={seconds}"))
        .args([
            "-ar",
            "44100",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "hls",
            "-hls_time",
        ])
        .arg(segment.to_string())
        .args(["-hls_list_size", "0", "-hls_segment_filename"])
        .arg(dir.join("seg_%05d.ts"))
        .arg(dir.join("index.m3u8"))
        .status()
        .map_err(|e| Error::io("ffmpeg", e))?;
    if !st.success() {
        return Err(Error::Ffmpeg {
            file: PathBuf::from(source),
            reason: st.to_string(),
        });
    }
    Ok(())
}

/// Makes a 6 s, 128 kbit/s AAC MPEG-TS segment of a two-tone mix in `work` (the second
/// segment of a 12 s encode, so it is cut from continuous audio).
///
/// Errors: when ffmpeg fails.
pub fn make_segment(work: &Path) -> Result<PathBuf> {
    encode_lavfi_hls(
        "aevalsrc=0.3*sin(2*PI*220*t)*sin(2*PI*3*t)+0.1*sin(2*PI*1870*t)|0.25*sin(2*PI*330*t)+0.05*sin(2*PI*4400*t):s=44100",
        12.0,
        6.0,
        work,
    )?;
    Ok(work.join("seg_00001.ts"))
}

/// The rotation timeline the console draws: 12 hours ahead over a station whose
/// manifest holds `items` items (one in four a jingle), mean of `runs`, against the
/// part it cannot avoid: reading and parsing that `manifest.json`.
///
/// Errors: I/O in `work`.
pub fn timeline(items: usize, runs: u32, work: &Path) -> Result<Measurement> {
    use crate::setup::manifest::{Manifest, ManifestItem, ManifestSegment};
    let st = work.join("timeline-station");
    if !st.join(crate::station::keys::SETUP_FILE).exists() {
        crate::station::init(&st)?;
    }
    let station = crate::station::Station::open(&st)?;
    let cfg = &station.setup;
    let rot = synthetic_rotation(items);
    let manifest = Manifest {
        format: crate::setup::manifest::MANIFEST_FORMAT,
        config_hash: "bench".into(),
        segment_duration: 6.0,
        jingle_cycle: 3,
        items: rot
            .entries
            .iter()
            .map(|e| ManifestItem {
                id: e.id.clone(),
                kind: e.kind,
                title: e.title.clone(),
                artist: None,
                album: None,
                isrc: None,
                source: st.join("music").join(format!("{}.ogg", e.id)),
                source_fingerprint: crate::library::SourceFingerprint {
                    sha256: "0".repeat(64),
                    bytes: 1,
                },
                source_mtime: 0,
                duration: e.segments.iter().map(|s| s.duration).sum(),
                loudness: None,
                encode_hash: "bench".into(),
                segments: e
                    .segments
                    .iter()
                    .map(|s| ManifestSegment {
                        file: s.file.clone(),
                        cid: s.cid.clone(),
                        duration: s.duration,
                        bytes: 100_000,
                    })
                    .collect(),
            })
            .collect(),
    };
    manifest.save(&cfg.processed_dir)?;
    let ids: Vec<&str> = manifest.items.iter().map(|i| i.id.as_str()).collect();
    crate::setup::manifest::save_playlist(
        &cfg.processed_dir,
        &crate::setup::manifest::render_playlist(&manifest, &ids)?,
    )?;
    let now = chrono::Utc::now();
    let programme = crate::air::timeline::TimelineSource::load(&station)?;
    let mut blocks = 0;
    let t = Instant::now();
    for i in 0..runs {
        // Alternate the plain rotation and a jingle-cycle preview, as the console does.
        let cycle = (i % 2 == 1).then_some(2);
        blocks = crate::air::timeline::timeline_of(&programme, &station, now, 12.0, cycle)?.len();
    }
    let ours = t.elapsed() / runs.max(1);
    let t = Instant::now();
    for _ in 0..runs {
        let _ = Manifest::load(&cfg.processed_dir)?;
    }
    let baseline = t.elapsed() / runs.max(1);
    Ok(Measurement {
        name: format!(
            "rotation timeline, 12 h ({blocks} items) of a {items}-item rotation, programme parsed once (as the console keeps it)"
        ),
        ours,
        baseline_name: "reading and parsing its manifest.json once".into(),
        baseline,
        goal: "< 16 ms (a redraw within one frame)".into(),
    })
}
