//! The station's library: scan the music and jingles folders, probe audio, fingerprint sources.

use serde::{Deserialize, Serialize};

/// What an item is in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A piece of music from `music_dir`.
    Track,
    /// A station ID / jingle from `jingles_dir`; never counts as a track.
    Jingle,
}

/// Identity of a source file's content: SHA-256 of every byte plus the size.
///
/// Renaming or moving a file keeps its fingerprint; any change of content changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceFingerprint {
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
}
