//! Go's `time.ParseDuration`, exactly: the syntax, the int64-nanosecond limits and the
//! error messages, so that a duration Kubo would refuse is refused here with Kubo's words.
//!
//! Ported from Go's `src/time/format.go` (`ParseDuration`, `leadingInt`,
//! `leadingFraction`, `unitMap`, and the package's own `quote` that its error messages
//! use); tested with that package's `parseDurationTests` and `parseDurationErrorTests`
//! (`src/time/time_test.go`). A value is a count of nanoseconds in an `i64`, as Go's
//! `time.Duration` is: from `-9223372036854775808ns` (`-2562047h47m16.854775808s`) to
//! `9223372036854775807ns` (`2562047h47m16.854775807s`).
//!
//! ```
//! use go_time::{parse_duration, DurationError, NANOS_PER_SECOND};
//!
//! assert_eq!(parse_duration("1h30m"), Ok(5400 * NANOS_PER_SECOND));
//! assert_eq!(parse_duration("-1.5s"), Ok(-1_500_000_000));
//! let e = parse_duration("2d").unwrap_err();
//! assert!(matches!(e, DurationError::UnknownUnit { .. }));
//! assert_eq!(e.to_string(), r#"time: unknown unit "d" in duration "2d""#);
//! // Past int64 nanoseconds (about 292 years), as Go refuses it.
//! assert!(parse_duration("2562048h").is_err());
//! ```

mod duration;
mod quote;

pub use duration::{
    parse_duration, parse_duration_bytes, DurationError, NANOS_PER_HOUR, NANOS_PER_MICROSECOND,
    NANOS_PER_MILLISECOND, NANOS_PER_MINUTE, NANOS_PER_SECOND,
};
pub use quote::{quote, quote_bytes};
