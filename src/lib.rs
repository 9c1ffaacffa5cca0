//! IPFS Station: the headless engine of a 24/7 internet radio station on IPFS.
//!
//! The operator drops music and jingles into a station directory; [`setup`] prechunks
//! every source once with ffmpeg into HLS segments ([`prechunk`]), adds the segments to a
//! local Kubo node ([`kubo`]), writes `manifest.json` and the rotation `playlist.m3u`
//! ([`manifest`], [`rotation`]). The [`streamer`] then slides a live HLS window
//! ([`window`]) over the rotation and re-publishes it under one IPNS name.
//!
//! Everything of one station lives in one folder ([`station`]); the three config files
//! are read and validated by [`config`].
//!
//! ```
//! use ipfs_station::rotation::{build_rotation, RotationEntry};
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

#[cfg(feature = "audition")]
pub mod audition;
pub mod bench;
pub mod catalog;
pub mod config;
pub mod error;
pub mod fsutil;
pub mod health;
pub mod kubo;
pub mod levels;
pub mod library;
pub mod listener;
pub mod manifest;
pub mod meters;
pub mod node;
pub mod onair;
pub mod prechunk;
pub mod rotation;
pub mod settings;
pub mod setup;
pub mod station;
pub mod streamer;
pub mod window;

pub use error::{Error, Result};
