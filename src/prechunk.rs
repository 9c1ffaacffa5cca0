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
