//! Shared helpers: the project's one test-support crate (Kubo double, station fixtures,
//! generated audio, process guards).
#![allow(unused_imports)]

pub use test_support::*;
