//! The operations the desktop console offers, as engine calls: the settings form
//! ([`settings`]) and audition (`audition`, behind the `audition` feature).

#[cfg(feature = "audition")]
pub mod audition;
pub mod settings;
