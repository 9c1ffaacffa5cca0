//! Audio levels of one HLS segment: demux the MPEG-TS (mpeg2ts), decode the AAC with
//! symphonia, measure per channel peak and RMS in dBFS, the EBU R128 loudness in LUFS
//! (ebur128), the longest silence and the decoded duration.
//!
//! dBFS here: 0 dBFS is a full-scale sample (|x| = 1.0); a full-scale sine has a peak of
//! 0 dBFS and an RMS of -3.01 dBFS. Digital silence is reported as [`FLOOR_DBFS`].

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Level reported for digital silence, dBFS.
pub const FLOOR_DBFS: f64 = -120.0;
/// Window of the silence detector, seconds.
pub const SILENCE_WINDOW: f64 = 0.1;

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
    /// Decoded audio, seconds.
    pub decoded_seconds: f64,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// AAC packets that failed to decode and were skipped.
    pub decode_errors: usize,
    /// Longest run of [`SILENCE_WINDOW`] windows whose RMS (all channels) is under the
    /// threshold given to [`analyze_ts`], seconds.
    pub longest_silence_seconds: f64,
}

fn dbfs(x: f64) -> f64 {
    if x <= 0.0 {
        FLOOR_DBFS
    } else {
        (20.0 * x.log10()).max(FLOOR_DBFS)
    }
}

/// Extracts the ADTS stream of the first audio elementary stream of an MPEG-TS segment.
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

/// Demuxes, decodes and measures an MPEG-TS segment. Packets that fail to decode are
/// skipped and counted (STYLE.md: the decode loop survives bad packets).
///
/// Errors: [`Error::Decode`] when nothing at all can be decoded.
pub fn analyze_ts(what: &str, ts: &[u8], silence_threshold_dbfs: f64) -> Result<SegmentLevels> {
    let adts = demux_adts(what, ts)?;
    analyze_adts(what, adts, silence_threshold_dbfs)
}

/// Decodes and measures an ADTS AAC stream.
///
/// Errors: [`Error::Decode`] when nothing can be decoded.
pub fn analyze_adts(
    what: &str,
    adts: Vec<u8>,
    silence_threshold_dbfs: f64,
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
    let mut samples: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut channels = 0usize;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut errors = 0usize;
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
        match decoder.decode(&packet) {
            Ok(buf) => {
                channels = buf.num_planes().max(1);
                rate = buf.spec().rate();
                buf.copy_to_vec_interleaved(&mut interleaved);
                samples.extend_from_slice(&interleaved);
            }
            Err(symphonia::core::errors::Error::DecodeError(_)) => errors += 1,
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    if samples.is_empty() || channels == 0 || rate == 0 {
        return Err(bad(format!(
            "no audio could be decoded ({errors} bad packets)"
        )));
    }
    Ok(measure(
        &samples,
        channels,
        rate,
        errors,
        silence_threshold_dbfs,
    ))
}

/// Measures interleaved `samples` (`channels` per frame, `rate` Hz).
pub fn measure(
    samples: &[f32],
    channels: usize,
    rate: u32,
    decode_errors: usize,
    silence_threshold_dbfs: f64,
) -> SegmentLevels {
    let frames = samples.len() / channels.max(1);
    let mut peak = vec![0f64; channels];
    let mut sq = vec![0f64; channels];
    for frame in samples.chunks_exact(channels) {
        for (c, &x) in frame.iter().enumerate() {
            let x = f64::from(x);
            peak[c] = peak[c].max(x.abs());
            sq[c] += x * x;
        }
    }
    let chans = (0..channels)
        .map(|c| ChannelLevels {
            peak_dbfs: dbfs(peak[c]),
            rms_dbfs: dbfs((sq[c] / frames.max(1) as f64).sqrt()),
        })
        .collect();
    // Silence: 100 ms windows whose RMS over all channels is under the threshold.
    let win = ((f64::from(rate) * SILENCE_WINDOW) as usize).max(1) * channels;
    let (mut run, mut longest) = (0usize, 0usize);
    for w in samples.chunks(win) {
        let ms = w.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>() / w.len() as f64;
        if dbfs(ms.sqrt()) < silence_threshold_dbfs {
            run += w.len();
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let loudness_lufs = ebur128::EbuR128::new(channels as u32, rate, ebur128::Mode::I)
        .ok()
        .and_then(|mut m| m.add_frames_f32(samples).ok().map(|_| m))
        .and_then(|m| m.loudness_global().ok())
        .filter(|l| l.is_finite());
    SegmentLevels {
        channels: chans,
        loudness_lufs,
        decoded_seconds: frames as f64 / f64::from(rate),
        sample_rate: rate,
        decode_errors,
        longest_silence_seconds: (longest / channels) as f64 / f64::from(rate),
    }
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
        let l = analyze_ts("sine", &ts, -50.0).unwrap();
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
        let l = analyze_ts("silence", &ts, -50.0).unwrap();
        assert!(l.channels.iter().all(|c| c.rms_dbfs < -90.0), "{l:?}");
        assert!(l.longest_silence_seconds > 3.5, "{l:?}");
        assert!(l.loudness_lufs.is_none());
        let ts = hls_segment("aevalsrc=min(1\\,max(-1\\,3*sin(2*PI*440*t)))|min(1\\,max(-1\\,3*sin(2*PI*440*t))):s=44100", 2.0, 0);
        let l = analyze_ts("clipped", &ts, -50.0).unwrap();
        assert!(l.channels.iter().all(|c| c.peak_dbfs > -0.1), "{l:?}");
    }

    #[test]
    fn corrupt_and_truncated_segments_are_errors_or_partial_never_panics() {
        let ts = hls_segment(&tone(0.3), 4.0, 0);
        let e = analyze_ts("junk", b"definitely not a transport stream", -50.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("junk") && e.contains("MPEG-TS"), "{e}");
        // Truncated: what is there decodes.
        let l = analyze_ts("half", &ts[..ts.len() / 2], -50.0).unwrap();
        assert!(l.decoded_seconds > 1.0 && l.decoded_seconds < 3.5, "{l:?}");
        // Garbage in the middle: bad packets are skipped, the rest decodes.
        let mut bad = ts.clone();
        for b in bad[ts.len() / 3..ts.len() / 3 + 3000].iter_mut() {
            *b ^= 0x5a;
        }
        let r = analyze_ts("damaged", &bad, -50.0);
        if let Ok(l) = r {
            assert!(l.decoded_seconds > 1.0, "{l:?}");
        }
        assert!(analyze_ts("empty", &[], -50.0).is_err());
        assert!(analyze_ts("sync only", &[0x47; 188 * 3], -50.0).is_err());
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
        let l = analyze_ts("mix", &ts, -50.0).unwrap();
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
