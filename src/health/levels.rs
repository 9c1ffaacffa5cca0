//! Audio levels of one HLS segment: demux the MPEG-TS (mpeg2ts), decode the AAC with
//! symphonia, measure per channel peak and RMS in dBFS, the EBU R128 loudness in LUFS
//! (ebur128), the longest silence and the decoded duration.
//!
//! Segments come from strangers' gateways, so measuring is bounded: the levels are
//! accumulated as the packets decode ([`Meter`]: constant memory, no sample is kept), and
//! decoding stops at a limit in seconds of audio ([`analyze_ts`]'s `max_seconds`, the
//! monitor gives the segment's `#EXTINF` plus [`DECODE_MARGIN_SECONDS`]): a few kilobytes
//! that decode to hours of audio cost no more than the limit. Every value reported is
//! finite (a non-finite sample counts as silence).
//!
//! dBFS here: 0 dBFS is a full-scale sample (|x| = 1.0); a full-scale sine has a peak of
//! 0 dBFS and an RMS of -3.01 dBFS. Digital silence is reported as [`FLOOR_DBFS`].

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Level reported for digital silence, dBFS.
pub const FLOOR_DBFS: f64 = -120.0;
/// Highest level reported, dBFS: a sample beyond full scale (AAC can overshoot) is
/// reported as it is up to this, so the value is always finite.
pub const CEILING_DBFS: f64 = 120.0;
/// Window of the silence detector, seconds.
pub const SILENCE_WINDOW: f64 = 0.1;
/// Seconds of audio decoded past a segment's `#EXTINF` before decoding stops: an AAC
/// frame or two of encoder priming, with room to spare.
pub const DECODE_MARGIN_SECONDS: f64 = 2.0;

/// Levels of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelLevels {
    /// Highest absolute sample, dBFS.
    pub peak_dbfs: f64,
    /// Root mean square over the segment, dBFS.
    pub rms_dbfs: f64,
}

/// What one segment sounds like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentLevels {
    /// Per channel, in channel order.
    pub channels: Vec<ChannelLevels>,
    /// EBU R128 integrated loudness, LUFS; `None` when gated out (silence).
    pub loudness_lufs: Option<f64>,
    /// Decoded audio, seconds (at most the limit when [`SegmentLevels::stopped_at_limit`]).
    pub decoded_seconds: f64,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// AAC packets that failed to decode and were skipped.
    pub decode_errors: usize,
    /// Longest run of [`SILENCE_WINDOW`] windows whose RMS (all channels) is under the
    /// threshold given to [`analyze_ts`], seconds.
    pub longest_silence_seconds: f64,
    /// Whether decoding stopped at the limit in seconds with audio left: the segment holds
    /// more audio than it was allowed (a "decode bomb", or an `#EXTINF` that lies).
    #[serde(default)]
    pub stopped_at_limit: bool,
}

fn dbfs(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        FLOOR_DBFS
    } else {
        (20.0 * x.log10()).clamp(FLOOR_DBFS, CEILING_DBFS)
    }
}

/// Levels measured incrementally: feed interleaved samples as they decode
/// ([`Meter::add`]), then [`Meter::finish`]. Memory does not grow with the audio: per
/// channel a peak and a sum of squares, one silence window, and ebur128's 100 ms block
/// energies.
pub struct Meter {
    channels: usize,
    rate: u32,
    threshold_dbfs: f64,
    frames: u64,
    peak: Vec<f64>,
    sq: Vec<f64>,
    /// Samples (all channels) per silence window.
    window: usize,
    window_sq: f64,
    window_len: usize,
    run: u64,
    longest: u64,
    loudness: Option<ebur128::EbuR128>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("channels", &self.channels)
            .field("rate", &self.rate)
            .field("frames", &self.frames)
            .finish()
    }
}

impl Meter {
    /// A meter for `channels` interleaved channels at `rate` Hz; windows whose RMS is
    /// under `silence_threshold_dbfs` count as silence. `channels` and `rate` of 0 are
    /// taken as 1.
    pub fn new(channels: usize, rate: u32, silence_threshold_dbfs: f64) -> Meter {
        let channels = channels.max(1);
        let rate = rate.max(1);
        Meter {
            channels,
            rate,
            threshold_dbfs: silence_threshold_dbfs,
            frames: 0,
            peak: vec![0.0; channels],
            sq: vec![0.0; channels],
            window: ((f64::from(rate) * SILENCE_WINDOW) as usize).max(1) * channels,
            window_sq: 0.0,
            window_len: 0,
            run: 0,
            longest: 0,
            loudness: u32::try_from(channels)
                .ok()
                .and_then(|c| ebur128::EbuR128::new(c, rate, ebur128::Mode::I).ok()),
        }
    }

    /// Channels measured.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Sample rate, Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Frames (one sample per channel) measured so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Seconds of audio measured so far.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / f64::from(self.rate)
    }

    /// Adds interleaved samples (whole frames; a trailing partial frame is ignored).
    /// A non-finite sample counts as 0 (silence).
    pub fn add(&mut self, interleaved: &[f32]) {
        let whole = interleaved.len() - interleaved.len() % self.channels;
        let samples = &interleaved[..whole];
        let clean: std::borrow::Cow<'_, [f32]> = if samples.iter().all(|x| x.is_finite()) {
            std::borrow::Cow::Borrowed(samples)
        } else {
            std::borrow::Cow::Owned(
                samples
                    .iter()
                    .map(|x| if x.is_finite() { *x } else { 0.0 })
                    .collect(),
            )
        };
        for frame in clean.chunks_exact(self.channels) {
            for (c, &x) in frame.iter().enumerate() {
                let x = f64::from(x);
                self.peak[c] = self.peak[c].max(x.abs());
                self.sq[c] += x * x;
                self.window_sq += x * x;
            }
            self.window_len += self.channels;
            if self.window_len >= self.window {
                self.close_window();
            }
        }
        self.frames += (clean.len() / self.channels) as u64;
        if let Some(m) = self.loudness.as_mut() {
            if m.add_frames_f32(&clean).is_err() {
                self.loudness = None;
            }
        }
    }

    /// Silence: a window whose RMS over all channels is under the threshold extends the
    /// current run.
    fn close_window(&mut self) {
        if self.window_len == 0 {
            return;
        }
        let ms = self.window_sq / self.window_len as f64;
        if dbfs(ms.sqrt()) < self.threshold_dbfs {
            self.run += self.window_len as u64;
            self.longest = self.longest.max(self.run);
        } else {
            self.run = 0;
        }
        self.window_sq = 0.0;
        self.window_len = 0;
    }

    /// The levels of everything added; `decode_errors` packets were skipped and
    /// `stopped_at_limit` says whether decoding stopped with audio left.
    pub fn finish(mut self, decode_errors: usize, stopped_at_limit: bool) -> SegmentLevels {
        self.close_window();
        let frames = self.frames.max(1) as f64;
        let channels = (0..self.channels)
            .map(|c| ChannelLevels {
                peak_dbfs: dbfs(self.peak[c]),
                rms_dbfs: dbfs((self.sq[c] / frames).sqrt()),
            })
            .collect();
        let loudness_lufs = self
            .loudness
            .as_ref()
            .and_then(|m| m.loudness_global().ok())
            .filter(|l| l.is_finite());
        let rate = f64::from(self.rate);
        SegmentLevels {
            channels,
            loudness_lufs,
            decoded_seconds: self.frames as f64 / rate,
            sample_rate: self.rate,
            decode_errors,
            longest_silence_seconds: (self.longest / self.channels as u64) as f64 / rate,
            stopped_at_limit,
        }
    }
}

/// Extracts the ADTS stream of the first audio elementary stream of an MPEG-TS segment.
/// The result is never larger than `ts`.
///
/// Errors: [`Error::Decode`] when the bytes are not MPEG-TS or hold no audio.
pub fn demux_adts(what: &str, ts: &[u8]) -> Result<Vec<u8>> {
    use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
    use mpeg2ts::ts::TsPacketReader;
    let bad = |reason: String| Error::Decode {
        what: what.to_string(),
        reason,
    };
    if ts.first() != Some(&0x47) {
        return Err(bad("not an MPEG-TS segment (no sync byte)".into()));
    }
    let mut reader = PesPacketReader::new(TsPacketReader::new(std::io::Cursor::new(ts)));
    let mut out = Vec::with_capacity(ts.len());
    let mut audio_id = None;
    loop {
        match reader.read_pes_packet() {
            Ok(Some(p)) => {
                if !p.header.stream_id.is_audio() {
                    continue;
                }
                let id = p.header.stream_id.as_u8();
                if *audio_id.get_or_insert(id) == id {
                    out.extend_from_slice(&p.data);
                }
            }
            Ok(None) => break,
            // A damaged packet late in the segment: keep what was read.
            Err(e) if !out.is_empty() => {
                tracing::debug!("{what}: MPEG-TS demux stopped early: {e}");
                break;
            }
            Err(e) => return Err(bad(format!("MPEG-TS demux failed: {e}"))),
        }
    }
    if out.is_empty() {
        return Err(bad("no audio stream in the segment".into()));
    }
    Ok(out)
}

/// Demuxes, decodes and measures an MPEG-TS segment, decoding at most `max_seconds` of
/// audio (the rest is not decoded and [`SegmentLevels::stopped_at_limit`] says so).
/// Packets that fail to decode are skipped and counted (STYLE.md: the decode loop
/// survives bad packets).
///
/// Errors: [`Error::Decode`] when nothing at all can be decoded.
pub fn analyze_ts(
    what: &str,
    ts: &[u8],
    silence_threshold_dbfs: f64,
    max_seconds: f64,
) -> Result<SegmentLevels> {
    let adts = demux_adts(what, ts)?;
    analyze_adts(what, adts, silence_threshold_dbfs, max_seconds)
}

/// Decodes and measures an ADTS AAC stream, at most `max_seconds` of audio (a
/// non-finite limit decodes everything).
///
/// Errors: [`Error::Decode`] when nothing can be decoded.
pub fn analyze_adts(
    what: &str,
    adts: Vec<u8>,
    silence_threshold_dbfs: f64,
    max_seconds: f64,
) -> Result<SegmentLevels> {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::{FormatOptions, FormatReader};
    use symphonia::core::io::MediaSourceStream;
    let bad = |reason: String| Error::Decode {
        what: what.to_string(),
        reason,
    };
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(adts)), Default::default());
    let mut reader =
        symphonia::default::formats::AdtsReader::try_new(mss, FormatOptions::default())
            .map_err(|e| bad(format!("not an ADTS AAC stream: {e}")))?;
    let params = reader
        .tracks()
        .first()
        .and_then(|t| t.codec_params.as_ref())
        .and_then(|p| p.audio())
        .cloned()
        .ok_or_else(|| bad("no audio track".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| bad(format!("no AAC decoder: {e}")))?;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut meter: Option<Meter> = None;
    let mut errors = 0usize;
    let mut stopped = false;
    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(symphonia::core::errors::Error::DecodeError(_)) => {
                errors += 1;
                continue;
            }
            Err(_) => break,
        };
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(symphonia::core::errors::Error::DecodeError(_)) => {
                errors += 1;
                continue;
            }
            Err(_) => {
                errors += 1;
                break;
            }
        };
        let channels = buf.num_planes().max(1);
        let rate = buf.spec().rate();
        if rate == 0 {
            errors += 1;
            continue;
        }
        let m = meter.get_or_insert_with(|| Meter::new(channels, rate, silence_threshold_dbfs));
        if m.channels() != channels || m.rate() != rate {
            // The stream changed its layout mid-segment: not one signal to measure.
            errors += 1;
            continue;
        }
        let max_frames = if max_seconds.is_finite() {
            (max_seconds.max(0.0) * f64::from(rate)).ceil() as u64
        } else {
            u64::MAX
        };
        let left = max_frames.saturating_sub(m.frames());
        if left == 0 {
            stopped = true;
            break;
        }
        buf.copy_to_vec_interleaved(&mut interleaved);
        let frames = (interleaved.len() / channels) as u64;
        if frames > left {
            let keep = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .saturating_mul(channels);
            m.add(&interleaved[..keep.min(interleaved.len())]);
            stopped = true;
            break;
        }
        m.add(&interleaved);
    }
    match meter {
        Some(m) if m.frames() > 0 => Ok(m.finish(errors, stopped)),
        _ => Err(bad(format!(
            "no audio could be decoded ({errors} bad packets)"
        ))),
    }
}

/// Measures interleaved `samples` (`channels` per frame, `rate` Hz) at once: a
/// [`Meter`] fed one buffer.
pub fn measure(
    samples: &[f32],
    channels: usize,
    rate: u32,
    decode_errors: usize,
    silence_threshold_dbfs: f64,
) -> SegmentLevels {
    let mut m = Meter::new(channels, rate, silence_threshold_dbfs);
    m.add(samples);
    m.finish(decode_errors, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Segment `index` of ffmpeg's HLS encode (AAC 128k, 6 s segments) of lavfi
    /// `source`, `seconds` long: a segment cut from continuous audio, as on air.
    pub(crate) fn hls_segment(source: &str, seconds: f64, index: usize) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        crate::bench::encode_lavfi_hls(source, seconds, 6.0, d.path()).unwrap();
        std::fs::read(d.path().join(format!("seg_{index:05}.ts"))).unwrap()
    }

    fn tone(amplitude: f64) -> String {
        format!("aevalsrc={amplitude}*sin(2*PI*997*t)|{amplitude}*sin(2*PI*997*t):s=44100")
    }

    #[test]
    fn a_minus_6_dbfs_sine_measures_minus_6_peak_and_minus_9_rms() {
        // Amplitude 10^(-6/20) on both channels; the second segment of a continuous tone.
        let ts = hls_segment(&tone(0.50119), 12.0, 1);
        let l = analyze_ts("sine", &ts, -50.0, 60.0).unwrap();
        assert_eq!(l.channels.len(), 2);
        for c in &l.channels {
            assert!((c.peak_dbfs - -6.0).abs() < 0.1, "{l:?}");
            assert!((c.rms_dbfs - -9.0).abs() < 0.1, "{l:?}");
        }
        assert!((l.decoded_seconds - 6.0).abs() < 0.1, "{l:?}");
        assert_eq!(l.decode_errors, 0);
        // EBU R128: two channels at -9.03 dB RMS sum to -6.02 dB; K-weighting at 997 Hz
        // (+0.69 dB) and the -0.691 offset cancel: about -6.0 LUFS.
        assert!((l.loudness_lufs.unwrap() - -6.0).abs() < 0.3, "{l:?}");
        assert!(l.longest_silence_seconds < 0.2, "{l:?}");
    }

    #[test]
    fn silence_and_clipping_are_measured() {
        let ts = hls_segment("anullsrc=r=44100:cl=stereo", 4.0, 0);
        let l = analyze_ts("silence", &ts, -50.0, 60.0).unwrap();
        assert!(l.channels.iter().all(|c| c.rms_dbfs < -90.0), "{l:?}");
        assert!(l.longest_silence_seconds > 3.5, "{l:?}");
        assert!(l.loudness_lufs.is_none());
        let ts = hls_segment("aevalsrc=min(1\\,max(-1\\,3*sin(2*PI*440*t)))|min(1\\,max(-1\\,3*sin(2*PI*440*t))):s=44100", 2.0, 0);
        let l = analyze_ts("clipped", &ts, -50.0, 60.0).unwrap();
        assert!(l.channels.iter().all(|c| c.peak_dbfs > -0.1), "{l:?}");
    }

    #[test]
    fn corrupt_and_truncated_segments_are_errors_or_partial_never_panics() {
        let ts = hls_segment(&tone(0.3), 4.0, 0);
        let e = analyze_ts("junk", b"definitely not a transport stream", -50.0, 60.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("junk") && e.contains("MPEG-TS"), "{e}");
        // Truncated: what is there decodes.
        let l = analyze_ts("half", &ts[..ts.len() / 2], -50.0, 60.0).unwrap();
        assert!(l.decoded_seconds > 1.0 && l.decoded_seconds < 3.5, "{l:?}");
        // Garbage in the middle: bad packets are skipped, the rest decodes.
        let mut bad = ts.clone();
        for b in bad[ts.len() / 3..ts.len() / 3 + 3000].iter_mut() {
            *b ^= 0x5a;
        }
        let r = analyze_ts("damaged", &bad, -50.0, 60.0);
        if let Ok(l) = r {
            assert!(l.decoded_seconds > 1.0, "{l:?}");
        }
        assert!(analyze_ts("empty", &[], -50.0, 60.0).is_err());
        assert!(analyze_ts("sync only", &[0x47; 188 * 3], -50.0, 60.0).is_err());
    }

    /// A decode bomb: one segment holding 60 s of audio, measured with a limit of 3 s
    /// (an `#EXTINF` of 1 s plus the margin), decodes 3 s and says it stopped.
    #[test]
    fn decoding_stops_at_the_limit_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        crate::bench::encode_lavfi_hls(&tone(0.3), 60.0, 60.0, d.path()).unwrap();
        let ts = std::fs::read(d.path().join("seg_00000.ts")).unwrap();
        let t = std::time::Instant::now();
        let l = analyze_ts("bomb", &ts, -50.0, 1.0 + DECODE_MARGIN_SECONDS).unwrap();
        assert!(l.stopped_at_limit, "{l:?}");
        assert!((l.decoded_seconds - 3.0).abs() < 1e-6, "{l:?}");
        let all = analyze_ts("bomb", &ts, -50.0, 600.0).unwrap();
        assert!(
            !all.stopped_at_limit && all.decoded_seconds > 59.0,
            "{all:?}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn the_meter_measures_buffer_by_buffer_as_at_once_and_stays_finite() {
        let rate = 44100u32;
        let samples: Vec<f32> = (0..rate as usize * 3 * 2)
            .map(|i| {
                let t = (i / 2) as f32 / rate as f32;
                if t > 1.0 && t < 2.5 {
                    0.0
                } else {
                    0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                }
            })
            .collect();
        let once = measure(&samples, 2, rate, 0, -50.0);
        let mut m = Meter::new(2, rate, -50.0);
        for chunk in samples.chunks(2048) {
            m.add(chunk);
        }
        let split = m.finish(0, false);
        assert_eq!(once, split);
        assert!(
            (once.longest_silence_seconds - 1.5).abs() < 0.11,
            "{once:?}"
        );
        assert!((once.channels[0].peak_dbfs - 20.0 * 0.4f64.log10()).abs() < 0.01);
        // Non-finite samples count as silence: every value stays finite.
        let mut m = Meter::new(2, rate, -50.0);
        m.add(&[
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.5,
            1.0e30,
            -1.0e30,
        ]);
        let l = m.finish(0, false);
        for c in &l.channels {
            assert!(c.peak_dbfs.is_finite() && c.rms_dbfs.is_finite(), "{l:?}");
        }
        assert!(l.loudness_lufs.is_none_or(f64::is_finite));
        let channels = serde_json::to_string(&l.channels).unwrap();
        assert!(!channels.contains("null"), "{channels}");
    }

    #[test]
    fn levels_match_ffmpeg_volumedetect_on_a_two_channel_mix() {
        let d = tempfile::tempdir().unwrap();
        let ts = hls_segment("aevalsrc=0.3*sin(2*PI*220*t)*sin(2*PI*3*t)+0.1*sin(2*PI*1870*t)|0.25*sin(2*PI*330*t)+0.05*sin(2*PI*4400*t):s=44100", 12.0, 1);
        let p = d.path().join("mix.ts");
        std::fs::write(&p, &ts).unwrap();
        let out = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-i"])
            .arg(&p)
            .args(["-af", "volumedetect", "-f", "null", "-"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        let grab = |key: &str| -> f64 {
            text.lines()
                .find_map(|l| l.split(key).nth(1))
                .unwrap()
                .trim()
                .trim_end_matches(" dB")
                .parse()
                .unwrap()
        };
        let (mean, max) = (grab("mean_volume:"), grab("max_volume:"));
        let l = analyze_ts("mix", &ts, -50.0, 60.0).unwrap();
        let peak = l
            .channels
            .iter()
            .map(|c| c.peak_dbfs)
            .fold(f64::MIN, f64::max);
        // volumedetect's mean is the RMS over all channels together.
        let ms: f64 = l
            .channels
            .iter()
            .map(|c| 10f64.powf(c.rms_dbfs / 10.0))
            .sum::<f64>()
            / l.channels.len() as f64;
        assert!((peak - max).abs() < 0.15, "peak {peak} vs ffmpeg {max}");
        assert!(
            (10.0 * ms.log10() - mean).abs() < 0.15,
            "rms {} vs ffmpeg {mean}",
            10.0 * ms.log10()
        );
    }
}
