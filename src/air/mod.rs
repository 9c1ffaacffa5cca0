//! On air: the live window over the rotation ([`window`]), the on-air loop that publishes
//! it under the IPNS name ([`streamer`]), the listener page ([`listener`]), and what the
//! console shows of a running stream ([`onair`]).

pub mod listener;
pub mod onair;
pub mod streamer;
pub mod window;
