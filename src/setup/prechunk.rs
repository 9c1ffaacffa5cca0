//! Prechunking: ffmpeg HLS segmenting of one source per job, progress events, parallel pool.

use serde::{Deserialize, Serialize};

/// One prechunked HLS segment of an item, as recorded in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFile {
    /// File name inside `items/<item-id>/` (e.g. `seg_00000.ts`).
    pub file: String,
    /// Duration in seconds, from ffmpeg's `#EXTINF` for this segment.
    pub duration: f64,
    /// Size in bytes.
    pub bytes: u64,
}

/// Loudness normalization applied to one item (EBU R128 integrated loudness).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Measured integrated loudness of the source, in LUFS.
    pub measured_lufs: f64,
    /// The target, in LUFS (`loudness_target_lufs`).
    pub target_lufs: f64,
    /// Gain applied in the encode, in dB (target - measured, limited).
    pub applied_gain_db: f64,
}

use crate::error::{Error, Result};
use crate::library::ffmpeg_input;
use crate::library::tool::{self, Tools};
use crate::setup::loudness;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the encode recipe; bumping it re-encodes every station's items.
pub const FORMAT_VERSION: u32 = 1;
/// Largest boost applied by loudness normalization, dB (quiet sources are not pumped up
/// without bound).
pub const MAX_GAIN_DB: f64 = 20.0;
/// Largest cut applied by loudness normalization, dB.
pub const MIN_GAIN_DB: f64 = -30.0;
/// Integrated loudness at or below which a source counts as silent (EBU R128 absolute
/// gate is -70 LUFS): no gain is applied to it.
pub const SILENT_LUFS: f64 = -69.0;
/// Minimum time between two progress events of one item.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Output-relevant encode settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    /// `-hls_time`, seconds.
    pub segment_duration: f64,
    /// Codec (`aac`).
    pub codec: String,
    /// Bitrate like `128k`.
    pub bitrate: String,
    /// Output sample rate, Hz.
    pub sample_rate: u32,
    /// Output channels.
    pub channels: u32,
    /// Loudness target in LUFS; `None` = no normalization.
    pub loudness_target_lufs: Option<f64>,
}

impl EncodeSettings {
    /// Hex SHA-256 of exactly the settings that change the output, plus
    /// [`FORMAT_VERSION`]: equal hashes mean equal encodes.
    pub fn encode_hash(&self) -> String {
        let canon = format!(
            "v{FORMAT_VERSION}|seg={}|codec={}|br={}|ar={}|ac={}|lufs={}",
            self.segment_duration,
            self.codec,
            self.bitrate,
            self.sample_rate,
            self.channels,
            self.loudness_target_lufs
                .map_or("off".to_string(), |v| v.to_string())
        );
        hex::encode(Sha256::digest(canon.as_bytes()))
    }
}

/// One prechunk job: encode `source` into `out_dir` (`items/<id>/`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrechunkJob {
    /// Item id.
    pub id: String,
    /// The source file (read only).
    pub source: PathBuf,
    /// The item's final folder; replaced atomically when the encode is complete.
    pub out_dir: PathBuf,
    /// Encode settings.
    pub settings: EncodeSettings,
    /// Source duration in seconds (from the probe), for progress and the time limits.
    pub duration: f64,
    /// Probe the source in the worker first ([`crate::library::probe_with`]): its
    /// duration replaces `duration` and its tags come back in [`PrechunkOutput::info`].
    /// Probing in the workers keeps every core encoding instead of waiting for a
    /// probe of the whole library first.
    pub probe: bool,
}

/// The result of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct PrechunkOutput {
    /// Segments in play order.
    pub segments: Vec<SegmentFile>,
    /// Loudness normalization applied, when enabled.
    pub loudness: Option<Loudness>,
    /// What the probe found, when the job asked for one ([`PrechunkJob::probe`]).
    pub info: Option<crate::library::AudioInfo>,
}

/// Progress of prechunk jobs, for progress bars (CLI) and events (console).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Waiting for a worker.
    Queued {
        /// Item id.
        id: String,
        /// The source's file name, for display.
        name: String,
        /// The source file (absolute), so a display can match the event to its file.
        path: PathBuf,
    },
    /// ffmpeg started.
    Started {
        /// Item id.
        id: String,
    },
    /// Encoded `done_seconds` of `total_seconds` (at most every [`PROGRESS_EVERY`]).
    Progress {
        /// Item id.
        id: String,
        /// Seconds of audio encoded.
        done_seconds: f64,
        /// Seconds of audio in the source.
        total_seconds: f64,
    },
    /// Done: segments are in place.
    Finished {
        /// Item id.
        id: String,
    },
    /// Failed, with the reason.
    Failed {
        /// Item id.
        id: String,
        /// Why.
        error: String,
    },
}

/// Escapes `%` for ffmpeg's segment file name pattern.
fn pattern_escape(p: &Path) -> String {
    p.to_string_lossy().replace('%', "%%")
}

/// The normalization for a source measured at `measured` LUFS: gain to `target`,
/// limited to [`MIN_GAIN_DB`]..[`MAX_GAIN_DB`], none for silence ([`SILENT_LUFS`]);
/// the measure and the gain kept to 0.01 (LU, dB).
pub fn loudness_for(measured: f64, target: f64) -> Loudness {
    let gain = if measured <= SILENT_LUFS {
        0.0
    } else {
        (target - measured).clamp(MIN_GAIN_DB, MAX_GAIN_DB)
    };
    Loudness {
        measured_lufs: (measured * 100.0).round() / 100.0,
        target_lufs: target,
        applied_gain_db: (gain * 100.0).round() / 100.0,
    }
}

/// The ffmpeg arguments of one encode from the source, up to (not including)
/// `-progress` and the output playlist: input as `file:<abs path>`, `-vn` (drops cover
/// art), the first audio stream, resampling, the loudness gain (with a limiter when
/// boosting), AAC at the configured bitrate/rate/channels, and the HLS muxer
/// (`-hls_time`, `-hls_list_size 0`, MPEG-TS segments `seg_%05d.ts` in `dir`). With
/// `loudness` `None` this is the bare single-pass encode.
pub fn encode_args(
    job: &PrechunkJob,
    loudness: Option<&Loudness>,
    dir: &Path,
) -> Vec<std::ffi::OsString> {
    let input = vec!["-i".into(), ffmpeg_input(&job.source)];
    let mut filters = vec!["aresample=async=1:first_pts=0".to_string()];
    filters.extend(gain_filters(loudness));
    encode_args_with(input, &filters, &job.settings, dir)
}

/// [`encode_args`] reading the PCM [`loudness::decode_and_measure`] spooled at `pcm`
/// (32-bit float at the settings' rate and channels, already resampled) instead of the
/// source.
pub fn encode_args_from_pcm(
    job: &PrechunkJob,
    pcm: &Path,
    loudness: Option<&Loudness>,
    dir: &Path,
) -> Vec<std::ffi::OsString> {
    let s = &job.settings;
    let input = [
        "-f".to_string(),
        loudness::PCM_FORMAT.into(),
        "-ar".into(),
        s.sample_rate.to_string(),
        "-ac".into(),
        s.channels.to_string(),
        "-i".into(),
    ]
    .into_iter()
    .map(Into::into)
    .chain([ffmpeg_input(pcm)])
    .collect();
    encode_args_with(input, &gain_filters(loudness), s, dir)
}

/// The gain of `loudness` as ffmpeg filters: `volume`, and a limiter keeping boosted
/// peaks under -0.5 dBFS.
fn gain_filters(loudness: Option<&Loudness>) -> Vec<String> {
    let mut filters = Vec::new();
    if let Some(l) = loudness {
        if l.applied_gain_db != 0.0 {
            filters.push(format!("volume={:.2}dB", l.applied_gain_db));
        }
        if l.applied_gain_db > 0.0 {
            filters.push("alimiter=limit=0.944:level=false:latency=true".into());
        }
    }
    filters
}

fn encode_args_with(
    input: Vec<std::ffi::OsString>,
    filters: &[String],
    s: &EncodeSettings,
    dir: &Path,
) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = [
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
    ]
    .iter()
    .map(Into::into)
    .collect();
    v.extend(input);
    let mut rest = vec![
        "-vn".to_string(),
        "-sn".into(),
        "-dn".into(),
        "-map".into(),
        "0:a:0".into(),
        "-map_metadata".into(),
        "-1".into(),
    ];
    if !filters.is_empty() {
        rest.extend(["-af".into(), filters.join(",")]);
    }
    rest.extend([
        "-c:a".into(),
        s.codec.clone(),
        "-b:a".into(),
        s.bitrate.clone(),
        "-ar".into(),
        s.sample_rate.to_string(),
        "-ac".into(),
        s.channels.to_string(),
        "-f".into(),
        "hls".into(),
        "-hls_time".into(),
        s.segment_duration.to_string(),
        "-hls_list_size".into(),
        "0".into(),
        "-hls_segment_type".into(),
        "mpegts".into(),
        "-hls_flags".into(),
        "independent_segments".into(),
        "-hls_segment_filename".into(),
        format!("{}/seg_%05d.ts", pattern_escape(dir)),
    ]);
    v.extend(rest.into_iter().map(Into::into));
    v
}

/// Encodes one item: probes it first when [`PrechunkJob::probe`] asks; when a loudness
/// target is set, decodes the source once and measures it as ffmpeg spools the PCM
/// ([`loudness::decode_and_measure`]); then runs ffmpeg on the spool (on the source when
/// no spool could be written): HLS muxer, `-vn`, AAC at the configured
/// bitrate/rate/channels, gain to the target with a limiter when boosting, into a temp
/// folder beside `out_dir`. Parses `-progress` into [`ProgressEvent`]s, reads
/// `index.m3u8` for segment durations, then replaces `out_dir` atomically. The source is
/// only read. Emits `Started`, `Progress`..., then `Finished` or `Failed`.
///
/// Errors: [`Error::BadSource`] from the probe; [`Error::Ffmpeg`] with ffmpeg's last
/// lines; [`Error::Io`]; [`Error::ToolMissing`]. No partial `out_dir` is left behind.
pub fn prechunk_item(
    job: &PrechunkJob,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Result<PrechunkOutput> {
    prechunk_item_with(job, &Tools::default(), on_progress)
}

/// [`prechunk_item`] with the ffmpeg and the time limits of `tools`: the loudness
/// measure and the encode each get [`Tools::encode_limit`] of the job's duration, and a
/// run still going then is killed and the job fails with the reason.
///
/// Errors: as [`prechunk_item`].
pub fn prechunk_item_with(
    job: &PrechunkJob,
    tools: &Tools,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Result<PrechunkOutput> {
    on_progress(ProgressEvent::Started { id: job.id.clone() });
    let r = probe_then_encode(job, tools, on_progress);
    match &r {
        Ok(_) => on_progress(ProgressEvent::Finished { id: job.id.clone() }),
        Err(e) => on_progress(ProgressEvent::Failed {
            id: job.id.clone(),
            error: e.to_string(),
        }),
    }
    r
}

fn probe_then_encode(
    job: &PrechunkJob,
    tools: &Tools,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Result<PrechunkOutput> {
    if !job.probe {
        return encode(job, tools, on_progress);
    }
    let info = crate::library::probe_with(&job.source, tools)?;
    let probed = PrechunkJob {
        duration: info.duration,
        probe: false,
        ..job.clone()
    };
    let mut out = encode(&probed, tools, on_progress)?;
    out.info = Some(info);
    Ok(out)
}

fn encode(
    job: &PrechunkJob,
    tools: &Tools,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Result<PrechunkOutput> {
    let s = &job.settings;
    let parent = job.out_dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.tmp-", job.id))
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let limit = tools.encode_limit(job.duration);
    // Normalizing: one decode, measured as it is spooled; the encode reads the spool.
    let mut spool = None;
    let loudness = match s.loudness_target_lufs {
        Some(target) => {
            let file = tempfile::Builder::new()
                .prefix(&format!(".{}.pcm-", job.id))
                .tempfile_in(parent)
                .map_err(|e| Error::io(parent, e))?;
            let d = loudness::decode_and_measure(
                &job.source,
                s.sample_rate,
                s.channels,
                Some(file.path()),
                tools,
                limit,
            )?;
            if let Some(why) = &d.spool_error {
                tracing::warn!(
                    "{}: the decoded audio could not be kept ({}); encoding from the source again",
                    crate::station::text::terminal(&job.source.to_string_lossy()),
                    crate::station::text::terminal(why)
                );
            } else {
                spool = Some(file);
            }
            Some(loudness_for(d.lufs, target))
        }
        None => None,
    };
    let mut args = match &spool {
        Some(pcm) => encode_args_from_pcm(job, pcm.path(), loudness.as_ref(), tmp.path()),
        None => encode_args(job, loudness.as_ref(), tmp.path()),
    };
    args.extend(["-progress".into(), "pipe:1".into()]);
    args.push(tmp.path().join("index.m3u8").into_os_string());
    let cmd = tool::command(&tools.ffmpeg, args)?;
    let mut last = Instant::now() - PROGRESS_EVERY;
    let mut on_line = |line: &str| {
        let Some((k, v)) = line.split_once('=') else {
            return;
        };
        let done = match k {
            "out_time_us" | "out_time_ms" => v.trim().parse::<f64>().ok().map(|us| us / 1e6),
            "progress" if v.trim() == "end" => Some(job.duration),
            _ => None,
        };
        if let Some(done) = done.filter(|d| d.is_finite()) {
            if last.elapsed() >= PROGRESS_EVERY || k == "progress" {
                last = Instant::now();
                on_progress(ProgressEvent::Progress {
                    id: job.id.clone(),
                    done_seconds: done.clamp(0.0, job.duration.max(0.0)),
                    total_seconds: job.duration,
                });
            }
        }
    };
    let out = tool::run("ffmpeg", cmd, limit, Some(&mut on_line))?;
    drop(spool);
    if out.timed_out {
        return Err(Error::Ffmpeg {
            file: job.source.clone(),
            reason: format!(
                "the encode did not finish within {:.0} s (twice the source's duration, at least {:.0} s) and was stopped",
                limit.as_secs_f64(),
                tools.min_encode_limit.as_secs_f64()
            ),
        });
    }
    if !out.status.success() {
        return Err(Error::Ffmpeg {
            file: job.source.clone(),
            reason: if out.stderr.trim().is_empty() {
                out.status.to_string()
            } else {
                tool::last_lines(&out.stderr, 3)
            },
        });
    }
    let segments = read_segments(tmp.path()).map_err(|reason| Error::Ffmpeg {
        file: job.source.clone(),
        reason,
    })?;
    // Swap the complete folder in: old -> aside, new -> place, old removed.
    let tmp_path = tmp.keep();
    let aside = parent.join(format!(".{}.old-{}", job.id, std::process::id()));
    let had_old = job.out_dir.exists();
    if had_old {
        std::fs::rename(&job.out_dir, &aside).map_err(|e| Error::io(&job.out_dir, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp_path, &job.out_dir) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        if had_old {
            let _ = std::fs::rename(&aside, &job.out_dir);
        }
        return Err(Error::io(&job.out_dir, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&aside);
    }
    Ok(PrechunkOutput {
        segments,
        loudness,
        info: None,
    })
}

/// Reads ffmpeg's `index.m3u8` in `dir`: segment names, `#EXTINF` durations, file sizes.
fn read_segments(dir: &Path) -> std::result::Result<Vec<SegmentFile>, String> {
    let bytes = std::fs::read(dir.join("index.m3u8")).map_err(|e| format!("no index.m3u8: {e}"))?;
    let pl = m3u8_rs::parse_media_playlist_res(&bytes)
        .map_err(|e| format!("unreadable index.m3u8: {e:?}"))?;
    let mut out = Vec::with_capacity(pl.segments.len());
    for s in &pl.segments {
        let file = s.uri.rsplit('/').next().unwrap_or(&s.uri).to_string();
        let bytes = std::fs::metadata(dir.join(&file))
            .map_err(|e| format!("{file}: {e}"))?
            .len();
        if s.duration <= 0.0 {
            continue;
        }
        out.push(SegmentFile {
            file,
            duration: (f64::from(s.duration) * 1e6).round() / 1e6,
            bytes,
        });
    }
    if out.is_empty() {
        return Err("ffmpeg produced no segments (no decodable audio?)".into());
    }
    Ok(out)
}

/// Runs `jobs` on `parallel` worker threads (0 = all cores). One failing job never stops
/// the rest. Results come back in the order of `jobs`, with the item id.
pub fn run_pool(
    jobs: Vec<PrechunkJob>,
    parallel: usize,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Vec<(String, Result<PrechunkOutput>)> {
    run_pool_with(jobs, parallel, &Tools::default(), on_progress)
}

/// [`run_pool`] with the ffmpeg and the time limits of `tools` ([`prechunk_item_with`]).
pub fn run_pool_with(
    jobs: Vec<PrechunkJob>,
    parallel: usize,
    tools: &Tools,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Vec<(String, Result<PrechunkOutput>)> {
    let results: Vec<std::sync::Mutex<Option<Result<PrechunkOutput>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    run_pool_each_with(&jobs, parallel, tools, on_progress, &|i, r| {
        if let Ok(mut slot) = results[i].lock() {
            *slot = Some(r);
        }
    });
    jobs.into_iter()
        .zip(results)
        .map(|(j, r)| {
            let r = r.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Error::Ffmpeg {
                    file: j.source.clone(),
                    reason: "worker stopped".into(),
                })
            });
            (j.id, r)
        })
        .collect()
}

/// Runs `jobs` on `parallel` worker threads (0 = all cores), taking them in the given
/// order, and hands each result to `on_done(index in jobs, result)` as soon as its job
/// ends (from the worker's thread), so a caller can use an item before the others are
/// done. One failing job never stops the rest. Returns when every job ended.
pub fn run_pool_each(
    jobs: &[PrechunkJob],
    parallel: usize,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
    on_done: &(dyn Fn(usize, Result<PrechunkOutput>) + Sync),
) {
    run_pool_each_with(jobs, parallel, &Tools::default(), on_progress, on_done)
}

/// [`run_pool_each`] with the ffmpeg and the time limits of `tools`
/// ([`prechunk_item_with`]).
pub fn run_pool_each_with(
    jobs: &[PrechunkJob],
    parallel: usize,
    tools: &Tools,
    on_progress: &(dyn Fn(ProgressEvent) + Sync),
    on_done: &(dyn Fn(usize, Result<PrechunkOutput>) + Sync),
) {
    let parallel = if parallel == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        parallel
    };
    for j in jobs {
        on_progress(ProgressEvent::Queued {
            id: j.id.clone(),
            name: j
                .source
                .file_name()
                .map_or_else(|| j.id.clone(), |n| n.to_string_lossy().to_string()),
            path: j.source.clone(),
        });
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..parallel.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                on_done(i, prechunk_item_with(job, tools, on_progress));
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::Mutex;

    /// A still picture (cover art) from lavfi's `color` source.
    fn picture(path: &Path, src: &str) {
        assert!(Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", src])
            .args(["-frames:v", "1"])
            .arg(path)
            .status()
            .unwrap()
            .success());
    }

    fn settings(lufs: Option<f64>) -> EncodeSettings {
        EncodeSettings {
            segment_duration: 6.0,
            codec: "aac".into(),
            bitrate: "128k".into(),
            sample_rate: 44100,
            channels: 2,
            loudness_target_lufs: lufs,
        }
    }

    #[test]
    fn encode_hash_changes_with_output_settings_only() {
        let a = settings(Some(-16.0));
        let mut b = a.clone();
        assert_eq!(a.encode_hash(), b.encode_hash());
        b.bitrate = "96k".into();
        assert_ne!(a.encode_hash(), b.encode_hash());
        assert_ne!(a.encode_hash(), settings(None).encode_hash());
    }

    #[test]
    fn prechunks_into_segments_with_progress_and_loudness() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("-tone.wav");
        // lavfi sine is -18 dBFS peak (-21.7 LUFS); 8 dB down makes about -29.7 LUFS.
        crate::bench::lavfi_audio(&src, "sine=frequency=440", 20.0, &["-af", "volume=-8dB"])
            .unwrap();
        let before = std::fs::read(&src).unwrap();
        let events = Mutex::new(Vec::new());
        let job = PrechunkJob {
            id: "t-1".into(),
            source: src.clone(),
            out_dir: d.path().join("items/t-1"),
            settings: settings(Some(-16.0)),
            duration: 20.0,
            probe: false,
        };
        let out = prechunk_item(&job, &|e| events.lock().unwrap().push(e)).unwrap();
        assert_eq!(out.segments.len(), 4, "{:?}", out.segments);
        let total: f64 = out.segments.iter().map(|s| s.duration).sum();
        assert!((total - 20.0).abs() < 0.15, "{total}");
        for s in &out.segments {
            assert!(s.bytes > 0);
            assert_eq!(
                std::fs::metadata(job.out_dir.join(&s.file)).unwrap().len(),
                s.bytes
            );
        }
        assert!(job.out_dir.join("index.m3u8").exists());
        let l = out.loudness.unwrap();
        // Measured like ffmpeg -af ebur128 on the source: about -29.7 LUFS.
        assert!((l.measured_lufs - -29.7).abs() < 0.5, "{l:?}");
        assert!(
            (l.applied_gain_db - (-16.0 - l.measured_lufs)).abs() < 0.05,
            "{l:?}"
        );
        let after = loudness::decode_and_measure(
            &job.out_dir.join("seg_00001.ts"),
            44100,
            2,
            None,
            &Tools::default(),
            Duration::from_secs(60),
        )
        .unwrap()
        .lufs;
        assert!((after - -16.0).abs() < 1.5, "encoded loudness {after}");
        let ev = events.lock().unwrap();
        assert!(matches!(ev.first(), Some(ProgressEvent::Started { .. })));
        assert!(matches!(ev.last(), Some(ProgressEvent::Finished { .. })));
        assert!(ev.iter().any(|e| matches!(e, ProgressEvent::Progress { done_seconds, .. } if (*done_seconds - 20.0).abs() < 0.01)));
        assert_eq!(std::fs::read(&src).unwrap(), before, "source modified");
        // No temp folders left.
        let left: Vec<_> = std::fs::read_dir(d.path().join("items"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("t-1")]);
    }

    #[test]
    fn pool_keeps_order_and_one_bad_job_does_not_stop_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        for i in 0..4 {
            let src = d.path().join(format!("s{i}.ogg"));
            if i == 2 {
                std::fs::write(&src, b"garbage, not audio").unwrap();
            } else {
                crate::bench::lavfi_audio(&src, "sine=frequency=300", 3.0, &["-c:a", "libvorbis"])
                    .unwrap();
            }
            jobs.push(PrechunkJob {
                id: format!("t-{i}"),
                source: src,
                out_dir: d.path().join(format!("items/t-{i}")),
                settings: settings(None),
                duration: 3.0,
                probe: false,
            });
        }
        let r = run_pool(jobs, 2, &|_| {});
        let ids: Vec<&str> = r.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["t-0", "t-1", "t-2", "t-3"]);
        assert!(r[0].1.is_ok() && r[1].1.is_ok() && r[3].1.is_ok());
        let e = r[2].1.as_ref().unwrap_err().to_string();
        assert!(e.contains("s2.ogg"), "{e}");
        assert!(!d.path().join("items/t-2").exists());
    }

    /// Issue 11: an ffmpeg that stalls on one source is stopped at its limit and that job
    /// fails with the reason; the others encode.
    #[test]
    fn a_stalled_ffmpeg_is_stopped_at_its_limit_and_the_rest_goes_on() {
        let d = tempfile::tempdir().unwrap();
        let shim = d.path().join("ffmpeg");
        std::fs::write(
            &shim,
            "#!/bin/sh\ncase \"$*\" in *stall*) sleep 300;; esac\nexec ffmpeg \"$@\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let jobs: Vec<PrechunkJob> = ["a", "stall", "b"]
            .iter()
            .map(|n| {
                let src = d.path().join(format!("{n}.wav"));
                crate::bench::lavfi_audio(&src, "sine=frequency=300", 2.0, &[]).unwrap();
                PrechunkJob {
                    id: format!("t-{n}"),
                    source: src,
                    out_dir: d.path().join(format!("items/t-{n}")),
                    settings: settings(Some(-16.0)),
                    duration: 2.0,
                    probe: false,
                }
            })
            .collect();
        let tools = Tools {
            ffmpeg: shim.into_os_string(),
            min_encode_limit: Duration::from_secs(2),
            encode_factor: 0.0,
            ..Tools::default()
        };
        let t = Instant::now();
        let r = run_pool_with(jobs, 2, &tools, &|_| {});
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        assert!(r[0].1.is_ok() && r[2].1.is_ok(), "{r:?}");
        let e = r[1].1.as_ref().unwrap_err().to_string();
        assert!(
            e.contains("stall.wav") && e.contains("did not finish within 2 s"),
            "{e}"
        );
        assert!(!d.path().join("items/t-stall").exists());
    }

    #[test]
    fn cover_art_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let png = d.path().join("c.png");
        picture(&png, "color=c=blue:s=32x32");
        let mp3 = d.path().join("a.mp3");
        crate::bench::lavfi_audio(&mp3, "sine=frequency=440", 3.0, &[]).unwrap();
        let with = d.path().join("cover.mp3");
        assert!(Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(&mp3)
            .arg("-i")
            .arg(&png)
            .args([
                "-map",
                "0:a",
                "-map",
                "1:v",
                "-c:a",
                "copy",
                "-c:v",
                "png",
                "-disposition:v",
                "attached_pic"
            ])
            .arg(&with)
            .status()
            .unwrap()
            .success());
        assert!(crate::library::probe(&with).unwrap().has_cover_art);
        let job = PrechunkJob {
            id: "t-c".into(),
            source: with,
            out_dir: d.path().join("items/t-c"),
            settings: settings(None),
            duration: 3.0,
            probe: false,
        };
        let out = prechunk_item(&job, &|_| {}).unwrap();
        assert!(!out.segments.is_empty());
    }
}
