//! Audition: play one item (its source file, or its prechunked segments), or the local
//! preview of the stream, through the default audio device with rodio, with a position
//! for a progress bar.
//!
//! ffmpeg decodes whatever the station can prechunk (so every source format, the item's
//! local `index.m3u8`, and the preview's live playlist over loopback HTTP, which its HLS
//! demuxer follows as it slides) to 32-bit float PCM, 44.1 kHz stereo; the audio thread
//! feeds rodio half-second buffers, keeping at most a few seconds queued (constant
//! memory for hours of audio). The device is opened once on a thread of its own (rodio's
//! device handle stays on that thread); without a device [`Audition::open`] says why and
//! the console disables the button.

use crate::library::ffmpeg_input;
use serde::Serialize;
use std::io::Read;
use std::num::NonZero;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RATE: u32 = 44_100;
const CHANNELS: u16 = 2;
/// Seconds of audio per buffer handed to rodio.
const CHUNK_SECONDS: f64 = 0.5;
/// Buffers kept queued ahead of the playhead.
const QUEUE_AHEAD: usize = 6;

/// What ffmpeg reads.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditionSource {
    /// A file: a source, or an item's `index.m3u8`.
    File(PathBuf),
    /// A live HLS media playlist (the preview's `http://127.0.0.1:<port>/live.m3u8`),
    /// played from segment `start_index` of the playlist as fetched (the live point, so
    /// the preview is heard at its air time), following the playlist as it slides.
    Live {
        /// The playlist URL.
        url: String,
        /// Index of the first segment to play in the playlist (ffmpeg's
        /// `-live_start_index`; negative counts from the end).
        start_index: i64,
    },
}

/// What to play.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditionInput {
    /// What ffmpeg reads.
    pub source: AuditionSource,
    /// Label for the console (title, "segments of ...").
    pub label: String,
    /// Expected duration in seconds, for the position bar; 0 for a live stream.
    pub duration: f64,
}

/// What the audition player is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditionStatus {
    /// Label of what plays, `None` when idle.
    pub playing: Option<String>,
    /// Seconds played.
    pub position: f64,
    /// Seconds in all.
    pub duration: f64,
    /// Why the last play stopped early (ffmpeg failed), if it did.
    pub error: Option<String>,
    /// Whether what plays is a live stream (the preview): no end, no duration.
    pub live: bool,
}

enum Cmd {
    Play(AuditionInput),
    Stop,
}

/// The audition player: one per console.
#[derive(Debug)]
pub struct Audition {
    tx: mpsc::Sender<Cmd>,
    status: Arc<Mutex<AuditionStatus>>,
}

impl Audition {
    /// Opens the default audio output device on an audio thread.
    ///
    /// Errors: the reason there is no usable device (rodio's message), for the console to
    /// show on the disabled button.
    pub fn open() -> Result<Audition, String> {
        let (tx, rx) = mpsc::channel::<Cmd>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let status = Arc::new(Mutex::new(AuditionStatus::default()));
        let st = status.clone();
        std::thread::Builder::new()
            .name("audition".into())
            .spawn(move || {
                let mut sink = match rodio::DeviceSinkBuilder::open_default_sink() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("no audio output device: {e}")));
                        return;
                    }
                };
                sink.log_on_drop(false);
                let _ = ready_tx.send(Ok(()));
                audio_loop(&sink, rx, st);
            })
            .map_err(|e| format!("cannot start the audio thread: {e}"))?;
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(Audition { tx, status }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the audio device did not open within 10 s".into()),
        }
    }

    /// Starts playing `input`, stopping what played before.
    pub fn play(&self, input: AuditionInput) {
        if let Ok(mut s) = self.status.lock() {
            *s = AuditionStatus {
                playing: Some(input.label.clone()),
                position: 0.0,
                duration: input.duration,
                error: None,
                live: matches!(input.source, AuditionSource::Live { .. }),
            };
        }
        let _ = self.tx.send(Cmd::Play(input));
    }

    /// Stops playback.
    pub fn stop(&self) {
        let _ = self.tx.send(Cmd::Stop);
    }

    /// What plays now and where.
    pub fn status(&self) -> AuditionStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Playing {
    player: rodio::Player,
    ffmpeg: Child,
    appended: usize,
    chunk_samples: usize,
    done_reading: bool,
}

impl Playing {
    fn stop(mut self) {
        self.player.stop();
        let _ = self.ffmpeg.kill();
        let _ = self.ffmpeg.wait();
    }
}

fn start(sink: &rodio::MixerDeviceSink, input: &AuditionInput) -> Result<Playing, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error"]);
    match &input.source {
        AuditionSource::File(path) => {
            cmd.arg("-i").arg(ffmpeg_input(path));
        }
        AuditionSource::Live { url, start_index } => {
            cmd.args(["-live_start_index", &start_index.to_string(), "-i", url]);
        }
    }
    let ffmpeg = cmd
        .args(["-vn", "-f", "f32le", "-ac", "2", "-ar", "44100", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    Ok(Playing {
        player: rodio::Player::connect_new(sink.mixer()),
        ffmpeg,
        appended: 0,
        chunk_samples: (CHUNK_SECONDS * RATE as f64) as usize * CHANNELS as usize,
        done_reading: false,
    })
}

/// Reads one chunk from ffmpeg into the player; false at the end of the audio.
fn feed(p: &mut Playing) -> bool {
    let Some(out) = p.ffmpeg.stdout.as_mut() else {
        return false;
    };
    let mut bytes = vec![0u8; p.chunk_samples * 4];
    let mut filled = 0;
    while filled < bytes.len() {
        match out.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let whole = filled / 4 / CHANNELS as usize * CHANNELS as usize;
    if whole == 0 {
        return false;
    }
    let samples: Vec<f32> = bytes[..whole * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let (Some(ch), Some(rate)) = (NonZero::new(CHANNELS), NonZero::new(RATE)) else {
        return false;
    };
    p.player
        .append(rodio::buffer::SamplesBuffer::new(ch, rate, samples));
    p.appended += 1;
    filled == bytes.len()
}

fn audio_loop(
    sink: &rodio::MixerDeviceSink,
    rx: mpsc::Receiver<Cmd>,
    status: Arc<Mutex<AuditionStatus>>,
) {
    let mut current: Option<Playing> = None;
    loop {
        let cmd = if current.is_some() {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => break,
            }
        };
        match cmd {
            Some(Cmd::Play(input)) => {
                if let Some(p) = current.take() {
                    p.stop();
                }
                match start(sink, &input) {
                    Ok(p) => current = Some(p),
                    Err(e) => {
                        if let Ok(mut s) = status.lock() {
                            s.playing = None;
                            s.error = Some(e);
                        }
                    }
                }
            }
            Some(Cmd::Stop) => {
                if let Some(p) = current.take() {
                    p.stop();
                }
                if let Ok(mut s) = status.lock() {
                    s.playing = None;
                    s.position = 0.0;
                }
            }
            None => {}
        }
        let Some(p) = current.as_mut() else { continue };
        while !p.done_reading && p.player.len() < QUEUE_AHEAD {
            if !feed(p) {
                p.done_reading = true;
            }
        }
        let queued = p.player.len();
        let played = p.appended.saturating_sub(queued);
        let position = played as f64 * CHUNK_SECONDS
            + if queued > 0 {
                p.player.get_pos().as_secs_f64().min(CHUNK_SECONDS)
            } else {
                0.0
            };
        let finished = p.done_reading && queued == 0;
        if let Ok(mut s) = status.lock() {
            s.position = position.min(s.duration.max(position));
            if finished {
                s.playing = None;
                if p.appended == 0 {
                    s.error = Some("ffmpeg decoded no audio from this file".into());
                }
            }
        }
        if finished {
            if let Some(p) = current.take() {
                p.stop();
            }
        }
    }
    if let Some(p) = current.take() {
        p.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(dir: &std::path::Path, name: &str, seconds: u32) -> PathBuf {
        let wav = dir.join(name);
        crate::bench::lavfi_audio(&wav, "sine=frequency=440", f64::from(seconds), &[]).unwrap();
        wav
    }

    /// ALSA's null device takes samples as fast as they come (no clock), so this checks
    /// the mechanics: the position grows to the duration, playback ends on its own, and
    /// stop works mid-play. Pacing is the device's job.
    #[test]
    fn plays_to_the_null_device_reports_the_position_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("asound.conf");
        std::fs::write(
            &conf,
            "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
        )
        .unwrap();
        // Only this test opens ALSA in this binary; ALSA reads the variable on first use.
        std::env::set_var("ALSA_CONFIG_PATH", &conf);
        let a = Audition::open().unwrap();

        a.play(AuditionInput {
            source: AuditionSource::File(sine(dir.path(), "short.wav", 3)),
            label: "short".into(),
            duration: 3.0,
        });
        assert_eq!(a.status().playing.as_deref(), Some("short"));
        let start = std::time::Instant::now();
        let mut positions = Vec::new();
        while a.status().playing.is_some() {
            positions.push(a.status().position);
            assert!(start.elapsed() < Duration::from_secs(10), "{positions:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
        let s = a.status();
        assert!((s.position - 3.0).abs() < 0.05, "{s:?}");
        assert!(s.error.is_none());

        a.play(AuditionInput {
            source: AuditionSource::File(sine(dir.path(), "long.wav", 600)),
            label: "long".into(),
            duration: 600.0,
        });
        let start = std::time::Instant::now();
        while a.status().position == 0.0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = a.status();
        assert!(
            s.playing.is_some() && s.position > 0.0 && s.position < 600.0,
            "{s:?}"
        );
        a.stop();
        let start = std::time::Instant::now();
        while a.status().playing.is_some() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = a.status();
        assert!(s.playing.is_none() && s.position == 0.0, "{s:?}");

        a.play(AuditionInput {
            source: AuditionSource::File(dir.path().join("missing.wav")),
            label: "missing".into(),
            duration: 1.0,
        });
        let start = std::time::Instant::now();
        while a.status().playing.is_some() {
            assert!(start.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(a.status().error.is_some(), "{:?}", a.status());
    }
}
