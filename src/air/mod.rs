//! On air: the live window over the rotation ([`window`]), the on-air loop that publishes
//! it under the IPNS name ([`streamer`]), the listener page ([`listener`]), and what the
//! console shows of a running stream: the live window listeners see ([`live`]) and the
//! rotation ahead ([`timeline`]).

pub mod listener;
pub mod live;
pub mod streamer;
pub mod timeline;
pub mod window;
