//! Loudness in one decode: ffmpeg decodes a source once into 32-bit float PCM at the
//! station's sample rate and channels, the EBU R128 integrated loudness of that PCM is
//! measured with the `ebur128` crate as it arrives, and the PCM is spooled to a file
//! the encode then reads, so normalizing costs no second decode of the source.
//!
//! Why this way (measured, README "Measured"): the encode needs the gain before its
//! first sample (integrated loudness is a property of the whole item, EBU R128 / ITU-R
//! BS.1770-4), so a measure must run first. Running ffmpeg's `ebur128` filter over the
//! source first decoded every source twice and ran ffmpeg's meter (with its momentary
//! and short-term log) besides. Measuring the decoded PCM also measures what is
//! encoded (after resampling and the channel mix), not the source's own layout.

use crate::error::{Error, Result};
use crate::library::ffmpeg_input;
use crate::library::tool::{self, Tools};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Integrated loudness reported for a source whose every block is gated out (silence):
/// the EBU R128 absolute gate, LUFS, as ffmpeg's `ebur128` prints it.
pub const GATED_LUFS: f64 = -70.0;
/// Bytes of the spool read at a time.
const READ_BYTES: usize = 1 << 20;

/// The PCM format ffmpeg writes and reads: 32-bit float little-endian, interleaved.
pub const PCM_FORMAT: &str = "f32le";

/// What one decode found.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// EBU R128 integrated loudness of the decoded PCM, LUFS ([`GATED_LUFS`] for
    /// silence).
    pub lufs: f64,
    /// Seconds of audio decoded.
    pub seconds: f64,
    /// The spooled PCM ([`PCM_FORMAT`], the rate and channels asked for), when one was
    /// asked for and could be written whole; `None` when writing it failed (a full
    /// disk): the encode then reads the source again, and the caller removes the
    /// partial file (it is in the caller's temp folder).
    pub spool: Option<PathBuf>,
    /// Why the spool could not be written, for the log.
    pub spool_error: Option<String>,
}

/// Decodes the first audio stream of `source` once with ffmpeg into PCM at
/// `sample_rate` Hz and `channels` channels (the encode's own resampling,
/// `aresample=async=1:first_pts=0`) and measures its integrated loudness (EBU R128,
/// `ebur128` crate, mode I).
///
/// With `spool`, ffmpeg writes the PCM there (32-bit float: 4 x channels bytes per
/// sample frame, 352.8 kB per second at 44.1 kHz stereo) and the meter reads it back
/// (from the page cache: fewer copies than a pipe through this process). When that
/// decode fails (a full disk, or a bad source), the source is decoded once more into a
/// pipe and measured there; only if that fails too is it the source's error. Without
/// `spool`, the PCM is measured from the pipe as it arrives. ffmpeg is killed after
/// `limit`.
///
/// Errors: [`Error::Ffmpeg`] naming `source` when ffmpeg fails or does not finish in
/// time; [`Error::ToolMissing`]; [`Error::Io`] when ffmpeg cannot be started. A spool
/// that cannot be written is not an error ([`Decoded::spool_error`]).
pub fn decode_and_measure(
    source: &Path,
    sample_rate: u32,
    channels: u32,
    spool: Option<&Path>,
    tools: &Tools,
    limit: Duration,
) -> Result<Decoded> {
    let spool_error = match spool {
        Some(file) => {
            let mut meter = Meter::new(source, sample_rate, channels)?;
            let out = vec!["-y".into(), ffmpeg_input(file)];
            // A timeout (or no ffmpeg) ends it here; a failed decode or an unreadable
            // spool is tried once more through the pipe below.
            let spooled = match run_decode(source, sample_rate, channels, out, tools, limit, None)?
            {
                Ran::Done => meter.read_file(source, file).map_err(|e| e.to_string()),
                Ran::Failed(why) => Err(why),
            };
            match spooled {
                Ok(()) => return meter.finish(source, Some(file.to_path_buf()), None),
                Err(why) => Some(why),
            }
        }
        None => None,
    };
    let mut meter = Meter::new(source, sample_rate, channels)?;
    let pipe = vec!["pipe:1".into()];
    match run_decode(
        source,
        sample_rate,
        channels,
        pipe,
        tools,
        limit,
        Some(&mut meter),
    )? {
        Ran::Done => meter.finish(source, None, spool_error),
        Ran::Failed(reason) => Err(failed(source, reason)),
    }
}

/// How a decode that ran ended.
enum Ran {
    /// ffmpeg exited 0.
    Done,
    /// ffmpeg failed: its last lines.
    Failed(String),
}

/// Runs the decode of `source` into `output` (ffmpeg's output arguments after the
/// format), its stdout fed to `meter` when given.
///
/// Errors: [`Error::Ffmpeg`] when it did not finish within `limit` (killed); those of
/// starting it. A decode that failed is [`Ran::Failed`].
fn run_decode(
    source: &Path,
    sample_rate: u32,
    channels: u32,
    output: Vec<std::ffi::OsString>,
    tools: &Tools,
    limit: Duration,
    meter: Option<&mut Meter>,
) -> Result<Ran> {
    let mut args: Vec<std::ffi::OsString> = [
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-i",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(ffmpeg_input(source));
    let rest = [
        "-vn".to_string(),
        "-sn".into(),
        "-dn".into(),
        "-map".into(),
        "0:a:0".into(),
        "-af".into(),
        "aresample=async=1:first_pts=0".into(),
        "-ar".into(),
        sample_rate.to_string(),
        "-ac".into(),
        channels.to_string(),
        "-c:a".into(),
        format!("pcm_{PCM_FORMAT}"),
        "-f".into(),
        PCM_FORMAT.into(),
    ];
    args.extend(rest.into_iter().map(Into::into));
    args.extend(output);
    let cmd = tool::command(&tools.ffmpeg, args)?;
    let out = match meter {
        Some(m) => tool::run_streaming("ffmpeg", cmd, limit, &mut |b| m.feed(b))?,
        None => tool::run("ffmpeg", cmd, limit, None)?,
    };
    if out.timed_out {
        return Err(failed(
            source,
            format!(
                "decoding it did not finish within {:.0} s and was stopped",
                limit.as_secs_f64()
            ),
        ));
    }
    if !out.status.success() {
        let err = tool::last_lines(&out.stderr, 3);
        return Ok(Ran::Failed(if err.is_empty() {
            out.status.to_string()
        } else {
            err
        }));
    }
    Ok(Ran::Done)
}

fn failed(source: &Path, reason: String) -> Error {
    Error::Ffmpeg {
        file: crate::library::lossy(source),
        reason,
    }
}

/// The EBU R128 meter over interleaved little-endian f32 bytes that may arrive split
/// anywhere (a pipe, a file read in pieces).
struct Meter {
    ebur: ebur128::EbuR128,
    rate: u32,
    frame_bytes: usize,
    /// The start of a sample frame the last bytes ended inside.
    carry: Vec<u8>,
    samples: Vec<f32>,
    frames: u64,
    error: Option<String>,
}

impl Meter {
    fn new(source: &Path, rate: u32, channels: u32) -> Result<Meter> {
        let ebur = ebur128::EbuR128::new(channels, rate, ebur128::Mode::I).map_err(|e| {
            failed(
                source,
                format!("no loudness meter for {channels} channels at {rate} Hz: {e}"),
            )
        })?;
        Ok(Meter {
            ebur,
            rate,
            frame_bytes: 4 * channels as usize,
            carry: Vec::new(),
            samples: Vec::new(),
            frames: 0,
            error: None,
        })
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        if !self.carry.is_empty() {
            let need = (self.frame_bytes - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..need]);
            bytes = &bytes[need..];
            if self.carry.len() < self.frame_bytes {
                return;
            }
        }
        let whole = bytes.len() - bytes.len() % self.frame_bytes;
        let (body, rest) = bytes.split_at(whole);
        self.samples.clear();
        self.samples.extend(
            self.carry
                .chunks_exact(4)
                .chain(body.chunks_exact(4))
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        self.frames += (self.samples.len() * 4 / self.frame_bytes) as u64;
        if let Err(e) = self.ebur.add_frames_f32(&self.samples) {
            self.error.get_or_insert_with(|| e.to_string());
        }
        self.carry.clear();
        self.carry.extend_from_slice(rest);
    }

    fn read_file(&mut self, source: &Path, file: &Path) -> Result<()> {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
        let mut buf = vec![0u8; READ_BYTES];
        loop {
            match f.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => self.feed(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(failed(
                        source,
                        format!("reading its decoded audio {}: {e}", file.display()),
                    ))
                }
            }
        }
    }

    fn finish(
        self,
        source: &Path,
        spool: Option<PathBuf>,
        spool_error: Option<String>,
    ) -> Result<Decoded> {
        if let Some(e) = self.error {
            return Err(failed(source, format!("measuring its loudness: {e}")));
        }
        let lufs = self
            .ebur
            .loudness_global()
            .ok()
            .filter(|v| v.is_finite())
            .map_or(GATED_LUFS, |v| v.max(GATED_LUFS));
        Ok(Decoded {
            lufs,
            seconds: self.frames as f64 / f64::from(self.rate.max(1)),
            spool,
            spool_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Tools {
        Tools::default()
    }

    #[test]
    fn a_decode_measures_like_ffmpegs_meter_and_spools_every_frame() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("tone.ogg");
        // lavfi's sine (amplitude 1/8) at 48 kHz, resampled to 44.1 kHz by the decode.
        crate::bench::lavfi_audio(
            &src,
            "sine=frequency=997:sample_rate=48000",
            12.0,
            &["-ac", "2", "-c:a", "libvorbis"],
        )
        .unwrap();
        let spool = d.path().join("pcm.f32");
        let got = decode_and_measure(
            &src,
            44100,
            2,
            Some(&spool),
            &tools(),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!((got.seconds - 12.0).abs() < 0.05, "{got:?}");
        assert_eq!(got.spool.as_deref(), Some(spool.as_path()));
        let len = std::fs::metadata(&spool).unwrap().len();
        assert_eq!(len, (got.seconds * 44100.0).round() as u64 * 8, "{got:?}");
        // ffmpeg's own meter, the reference the old two-pass measure used.
        let ffmpeg = ffmpeg_ebur128(&src);
        assert!(
            (got.lufs - ffmpeg).abs() < 0.2,
            "{got:?} vs ffmpeg {ffmpeg}"
        );
    }

    /// ffmpeg's `ebur128` filter's integrated loudness of `path` (the reference meter).
    fn ffmpeg_ebur128(path: &Path) -> f64 {
        let out = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-nostats", "-i"])
            .arg(path)
            .args(["-af", "ebur128", "-f", "null", "-"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let summary = err.rsplit("Integrated loudness:").next().unwrap();
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix("I:"))
            .unwrap()
            .trim()
            .trim_end_matches("LUFS")
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn real_music_measures_like_ffmpegs_meter() {
        // deps.sh installs lincity-ng-data (the demo's music): Vorbis, 44.1 kHz stereo.
        let src = Path::new(crate::station::DEMO_MUSIC)
            .join("03 - Robert van Herk - Architectural Contemplations.ogg");
        assert!(
            src.exists(),
            "{} is missing: scripts/deps.sh installs it",
            src.display()
        );
        let got =
            decode_and_measure(&src, 44100, 2, None, &tools(), Duration::from_secs(120)).unwrap();
        let ffmpeg = ffmpeg_ebur128(&src);
        // ffmpeg prints one decimal; ours meters the PCM at the station's rate.
        assert!(
            (got.lufs - ffmpeg).abs() < 0.15,
            "{got:?} vs ffmpeg {ffmpeg}"
        );
        assert!((got.seconds - 128.7).abs() < 0.1, "{got:?}");
    }

    #[test]
    fn an_encode_decodes_its_source_once_and_leaves_no_spool() {
        use crate::setup::prechunk::{prechunk_item_with, EncodeSettings, PrechunkJob};
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("runs.log");
        let shim = d.path().join("ffmpeg");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec ffmpeg \"$@\"\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let src = d.path().join("Quiet Artist - Quiet Song.ogg");
        crate::bench::lavfi_audio(
            &src,
            "sine=frequency=500:sample_rate=48000",
            14.0,
            &[
                "-ac",
                "1",
                "-c:a",
                "libvorbis",
                "-metadata",
                "title=Tagged Title",
            ],
        )
        .unwrap();
        let items = d.path().join("items");
        let job = PrechunkJob {
            id: "t-1".into(),
            source: src.clone(),
            out_dir: items.join("t-1"),
            settings: EncodeSettings {
                segment_duration: 6.0,
                codec: "aac".into(),
                bitrate: "128k".into(),
                sample_rate: 44100,
                channels: 2,
                loudness_target_lufs: Some(-16.0),
            },
            duration: 0.0,
            probe: true,
        };
        let t = Tools {
            ffmpeg: shim.into_os_string(),
            ..Tools::default()
        };
        let out = prechunk_item_with(&job, &t, &|_| {}).unwrap();
        // Probed in the job: the tag and the duration arrived with the segments.
        let info = out.info.as_ref().unwrap();
        assert_eq!(info.title, "Tagged Title");
        assert!((info.duration - 14.0).abs() < 0.1, "{info:?}");
        let runs = std::fs::read_to_string(&log).unwrap();
        let runs: Vec<&str> = runs.lines().collect();
        assert_eq!(runs.len(), 2, "{runs:#?}");
        let source = crate::library::ffmpeg_input(&src);
        let source = source.to_string_lossy();
        assert_eq!(
            runs.iter().filter(|r| r.contains(source.as_ref())).count(),
            1,
            "{runs:#?}"
        );
        assert!(
            runs[0].contains(source.as_ref()) && runs[0].contains("f32le"),
            "{runs:#?}"
        );
        assert!(
            runs[1].contains(".t-1.pcm-") && runs[1].contains("-f f32le"),
            "{runs:#?}"
        );
        // The gain reached the encode: the encoded audio sits at the target.
        let l = out.loudness.unwrap();
        assert!(
            (l.applied_gain_db - (-16.0 - l.measured_lufs)).abs() < 0.02,
            "{l:?}"
        );
        let seg = job.out_dir.join(&out.segments[0].file);
        let after =
            decode_and_measure(&seg, 44100, 2, None, &tools(), Duration::from_secs(60)).unwrap();
        assert!((after.lufs - -16.0).abs() < 1.0, "{after:?}");
        // Only the item's folder is left: no spool, no temp folder.
        let left: Vec<_> = std::fs::read_dir(&items)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("t-1")]);
    }

    #[test]
    fn a_stalled_decode_is_stopped_once_not_tried_again() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let shim = d.path().join("ffmpeg");
        std::fs::write(&shim, "#!/bin/sh\nsleep 300\n").unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let src = d.path().join("tone.wav");
        crate::bench::lavfi_audio(&src, "sine=frequency=440", 1.0, &[]).unwrap();
        let t = Tools {
            ffmpeg: shim.into_os_string(),
            ..Tools::default()
        };
        let started = std::time::Instant::now();
        let spool = d.path().join("pcm.f32");
        let e = decode_and_measure(&src, 44100, 2, Some(&spool), &t, Duration::from_secs(1))
            .unwrap_err();
        assert!(e.to_string().contains("did not finish within 1 s"), "{e}");
        // One limit, not one per attempt: the fallback is for failures, not stalls.
        assert!(
            started.elapsed() < Duration::from_millis(1900),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn silence_reads_the_absolute_gate_and_a_bad_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("quiet.wav");
        crate::bench::lavfi_audio(&src, "anullsrc=r=44100:cl=mono", 3.0, &[]).unwrap();
        let got =
            decode_and_measure(&src, 44100, 2, None, &tools(), Duration::from_secs(60)).unwrap();
        assert_eq!(got.lufs, GATED_LUFS);
        assert!((got.seconds - 3.0).abs() < 0.05, "{got:?}");
        assert_eq!(got.spool, None);
        let bad = d.path().join("not audio.mp3");
        std::fs::write(&bad, b"garbage").unwrap();
        let e = decode_and_measure(&bad, 44100, 2, None, &tools(), Duration::from_secs(60))
            .unwrap_err();
        assert!(e.to_string().contains("not audio.mp3"), "{e}");
    }

    #[test]
    fn a_spool_that_cannot_be_written_is_reported_and_the_measure_stands() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("tone.wav");
        crate::bench::lavfi_audio(&src, "sine=frequency=440", 3.0, &[]).unwrap();
        // /dev/full answers every write with ENOSPC, as a full disk does.
        let full = Path::new("/dev/full");
        let got = decode_and_measure(
            &src,
            44100,
            2,
            Some(full),
            &tools(),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(got.spool, None);
        assert!(
            got.spool_error
                .as_deref()
                .is_some_and(|e| e.contains("/dev/full")),
            "{got:?}"
        );
        assert!(got.lufs > -30.0 && got.lufs < -10.0, "{got:?}");
        assert!(full.exists(), "the device itself is left alone");
    }
}
