//! `time.ParseDuration` (Go `src/time/format.go`): `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or a
//! bare `0`, in int64 nanoseconds, with Go's overflow checks and error messages.

use crate::quote::quote_bytes;
use std::fmt;

/// Nanoseconds in one microsecond (Go `time.Microsecond`; units `us`, `µs`, `μs`).
pub const NANOS_PER_MICROSECOND: i64 = 1_000;
/// Nanoseconds in one millisecond (Go `time.Millisecond`; unit `ms`).
pub const NANOS_PER_MILLISECOND: i64 = 1_000_000;
/// Nanoseconds in one second (Go `time.Second`; unit `s`).
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Nanoseconds in one minute (Go `time.Minute`; unit `m`).
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
/// Nanoseconds in one hour (Go `time.Hour`; unit `h`, the largest: Go has no `d`).
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// `1<<63` as Go's parser compares against it (a `uint64`): the magnitude of the most
/// negative duration, one more than the largest positive one.
const LIMIT: u64 = 1 << 63;

/// Why [`parse_duration`] refused a text; its `Display` is Go's error message, word for
/// word (Go `src/time/format.go`, `ParseDuration`), with the texts quoted by the time
/// package's own `quote` ([`crate::quote`]).
///
/// The texts are bytes because a Go string is: they are the caller's UTF-8 when the input
/// came through [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// `time: invalid duration "<input>"`: empty, no digits (`.s`), a character that
    /// cannot start a number, or out of range for int64 nanoseconds.
    Invalid {
        /// The whole text, as given.
        input: Vec<u8>,
    },
    /// `time: missing unit in duration "<input>"`: a number with no unit after it (`5`).
    MissingUnit {
        /// The whole text, as given.
        input: Vec<u8>,
    },
    /// `time: unknown unit "<unit>" in duration "<input>"`: a unit other than `ns`, `us`,
    /// `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h` (e.g. `d`).
    UnknownUnit {
        /// The unit as written (the run of bytes up to the next digit or `.`).
        unit: Vec<u8>,
        /// The whole text, as given.
        input: Vec<u8>,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid { input } => {
                write!(f, "time: invalid duration {}", quote_bytes(input))
            }
            DurationError::MissingUnit { input } => {
                write!(f, "time: missing unit in duration {}", quote_bytes(input))
            }
            DurationError::UnknownUnit { unit, input } => write!(
                f,
                "time: unknown unit {} in duration {}",
                quote_bytes(unit),
                quote_bytes(input)
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a Go duration, e.g. `300ms`, `-1.5h`, `2h45m`, `0`, into nanoseconds.
///
/// A possibly signed (`-` or `+`) sequence of decimal numbers, each with an optional
/// fraction and a unit: `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h`.
/// A bare `0` (or `-0`, `+0`) needs no unit. The result is int64 nanoseconds, as Go's
/// `time.Duration`: `-9223372036854775808ns` is the least, `9223372036854775807ns` the
/// most; fractions finer than a nanosecond are truncated.
///
/// Source: Go `src/time/format.go`, `func ParseDuration(s string) (Duration, error)`.
///
/// Errors: [`DurationError`], whose text is Go's message.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    parse_duration_bytes(s.as_bytes())
}

/// [`parse_duration`] of a byte string that need not be UTF-8, as a Go `string` may hold
/// (Go's parser works on bytes; a non-UTF-8 text is refused, and its error message writes
/// the bytes as `\xNN`).
///
/// Source: Go `src/time/format.go`, `func ParseDuration(s string) (Duration, error)`.
///
/// Errors: [`DurationError`], whose text is Go's message.
pub fn parse_duration_bytes(orig: &[u8]) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid {
        input: orig.to_vec(),
    };
    let mut s = orig;
    let mut d: u64 = 0;
    let mut neg = false;

    // Consume [-+]?
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    // Special case: if all that is left is "0", this is zero.
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    while let Some(&first) = s.first() {
        // The next character must be [0-9.]
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // Consume [0-9]*
        let before = s.len();
        let (mut v, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let pre = before != s.len(); // whether anything was consumed before a period

        // Consume (\.[0-9]*)?
        let mut post = false;
        let (mut f, mut scale) = (0u64, 1f64); // value = v + f/scale
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            (f, scale, s) = leading_fraction(s);
            post = before != s.len();
        }
        if !pre && !post {
            // no digits (e.g. ".s" or "-.s")
            return Err(invalid());
        }

        // Consume unit.
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(DurationError::MissingUnit {
                input: orig.to_vec(),
            });
        }
        let (u, rest) = s.split_at(i);
        s = rest;
        let Some(unit) = unit_nanos(u) else {
            return Err(DurationError::UnknownUnit {
                unit: u.to_vec(),
                input: orig.to_vec(),
            });
        };
        if v > LIMIT / unit {
            // overflow
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go: float64 is needed to be nanosecond accurate for fractions of hours;
            // f/scale < 1, so this adds less than one unit (at most 3.6e12 for `h`).
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                // overflow
                return Err(invalid());
            }
        }
        // Go adds in uint64, where 1<<63 + 1<<63 wraps to 0; kept so that every input
        // gives Go's answer (both terms are at most 1<<63, so nothing else can wrap).
        d = d.wrapping_add(v);
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // -Duration(d): 1<<63 converts to i64::MIN, whose negation is itself.
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go `unitMap`: nanoseconds per unit.
fn unit_nanos(u: &[u8]) -> Option<u64> {
    let n = match u {
        b"ns" => 1,
        b"us" => NANOS_PER_MICROSECOND,
        b"\xc2\xb5s" => NANOS_PER_MICROSECOND, // "µs": U+00B5 = micro symbol
        b"\xce\xbcs" => NANOS_PER_MICROSECOND, // "μs": U+03BC = Greek letter mu
        b"ms" => NANOS_PER_MILLISECOND,
        b"s" => NANOS_PER_SECOND,
        b"m" => NANOS_PER_MINUTE,
        b"h" => NANOS_PER_HOUR,
        _ => return None,
    };
    u64::try_from(n).ok()
}

/// Go `leadingInt`: consumes the leading `[0-9]*`; `None` past `1<<63`.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if x > LIMIT / 10 {
            return None; // overflow
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None; // overflow
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go `leadingFraction`: consumes the leading `[0-9]*` of a fraction; past what a `u64`
/// holds it stops accumulating precision (the digits are still consumed), so it cannot
/// fail. Returns the digits taken as an integer, `10^(their count)`, and the rest.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1f64;
    let mut overflow = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        i += 1;
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            // It's possible for overflow to give a positive number, so take care.
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}
