//! IPFS Station: the headless engine of a 24/7 internet radio station on IPFS.
//!
//! The engine is laid out by stage, in the order a station runs them:
//!
//! - [`station`]: the station folder, its three validated config files, the state folder.
//! - [`library`]: the operator's sources (scan, probe, fingerprint, import, trash).
//! - [`setup`]: prechunk every source once with ffmpeg ([`setup::prechunk`]), add the
//!   segments to Kubo, write `manifest.json` and the rotation `playlist.m3u`
//!   ([`setup::manifest`], [`setup::rotation`]).
//! - [`air`]: slide a live HLS window ([`air::window`]) over the rotation and re-publish
//!   it under one IPNS name ([`air::streamer`]).
//! - [`health`]: hear the stream through the gateways, decode it, measure levels.
//! - [`kubo`]: the Kubo RPC client and the managed daemon.
//! - [`console`]: the operations the desktop console offers.
//!
//! ```
//! use ipfs_station::setup::rotation::{build_rotation, RotationEntry};
//! use ipfs_station::library::ItemKind;
//!
//! // Two jingles, five tracks, a jingle every two tracks.
//! let jingles = ["j1", "j2"];
//! let tracks = ["t1", "t2", "t3", "t4", "t5"];
//! let order = build_rotation(&tracks, &jingles, 2).unwrap();
//! let ids: Vec<&str> = order.iter().map(|e| e.id).collect();
//! assert_eq!(ids, ["j1", "t1", "t2", "j2", "t3", "t4", "j1", "t5"]);
//! assert_eq!(order[0].kind, ItemKind::Jingle);
//! ```

pub mod air;
pub mod bench;
pub mod clock;
pub mod console;
pub mod error;
pub mod health;
pub mod kubo;
pub mod library;
pub mod pinning;
pub mod setup;
pub mod station;
pub mod units;

pub use error::{Error, Result};
