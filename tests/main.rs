//! Engine integration tests: one binary, a module per area, shared `support`.
//!
//! Kubo is the loopback double from `crates/kubo-double` (or a real Kubo in a temp repo
//! when an `ipfs` binary is on PATH); audio is generated with the real ffmpeg.

// Test code: a failed unwrap is a failed test with its line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod bench;
mod cli;
mod console;
mod conventions;
mod health;
mod listener;
mod locks;
mod pins;
mod programme;
mod publishing;
mod reach;
mod remote_pinning;
mod setup;
mod stream;
mod tags;
