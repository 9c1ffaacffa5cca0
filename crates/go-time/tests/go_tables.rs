//! Go's own test tables for `time.ParseDuration`, row for row: `parseDurationTests` and
//! `parseDurationErrorTests` from Go `src/time/time_test.go` (read at golang/go commit
//! f7396aaea0297a2e95b502a4075b0aed6efda89f), and how `TestParseDurationErrors` checks
//! them (the error message contains the quoted text).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use go_time::{
    parse_duration, parse_duration_bytes, DurationError, NANOS_PER_HOUR as HOUR,
    NANOS_PER_MICROSECOND as MICROSECOND, NANOS_PER_MILLISECOND as MILLISECOND,
    NANOS_PER_MINUTE as MINUTE, NANOS_PER_SECOND as SECOND,
};

const NANOSECOND: i64 = 1;

/// Go `parseDurationTests`.
const PARSE_DURATION_TESTS: &[(&str, i64)] = &[
    // simple
    ("0", 0),
    ("5s", 5 * SECOND),
    ("30s", 30 * SECOND),
    ("1478s", 1478 * SECOND),
    // sign
    ("-5s", -5 * SECOND),
    ("+5s", 5 * SECOND),
    ("-0", 0),
    ("+0", 0),
    // decimal
    ("5.0s", 5 * SECOND),
    ("5.6s", 5 * SECOND + 600 * MILLISECOND),
    ("5.s", 5 * SECOND),
    (".5s", 500 * MILLISECOND),
    ("1.0s", SECOND),
    ("1.00s", SECOND),
    ("1.004s", SECOND + 4 * MILLISECOND),
    ("1.0040s", SECOND + 4 * MILLISECOND),
    ("100.00100s", 100 * SECOND + MILLISECOND),
    // different units
    ("10ns", 10 * NANOSECOND),
    ("11us", 11 * MICROSECOND),
    ("12µs", 12 * MICROSECOND), // U+00B5
    ("12μs", 12 * MICROSECOND), // U+03BC
    ("13ms", 13 * MILLISECOND),
    ("14s", 14 * SECOND),
    ("15m", 15 * MINUTE),
    ("16h", 16 * HOUR),
    // composite durations
    ("3h30m", 3 * HOUR + 30 * MINUTE),
    ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500 * MILLISECOND),
    ("-2m3.4s", -(2 * MINUTE + 3 * SECOND + 400 * MILLISECOND)),
    (
        "1h2m3s4ms5us6ns",
        HOUR + 2 * MINUTE + 3 * SECOND + 4 * MILLISECOND + 5 * MICROSECOND + 6 * NANOSECOND,
    ),
    (
        "39h9m14.425s",
        39 * HOUR + 9 * MINUTE + 14 * SECOND + 425 * MILLISECOND,
    ),
    // large value
    ("52763797000ns", 52763797000 * NANOSECOND),
    // more than 9 digits after decimal point, see https://golang.org/issue/6617
    ("0.3333333333333333333h", 20 * MINUTE),
    // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
    ("9007199254740993ns", ((1 << 53) + 1) * NANOSECOND),
    // largest duration that can be represented by int64 in nanoseconds
    ("9223372036854775807ns", i64::MAX),
    ("9223372036854775.807us", i64::MAX),
    ("9223372036s854ms775us807ns", i64::MAX),
    ("-9223372036854775808ns", i64::MIN),
    ("-9223372036854775.808us", i64::MIN),
    ("-9223372036s854ms775us808ns", i64::MIN),
    // largest negative value
    ("-9223372036854775808ns", i64::MIN),
    // largest negative round trip value, see https://golang.org/issue/48629
    ("-2562047h47m16.854775808s", i64::MIN),
    // huge string; issue 15011.
    ("0.100000000000000000000h", 6 * MINUTE),
    // This value tests the first overflow check in leadingFraction.
    (
        "0.830103483285477580700h",
        49 * MINUTE + 48 * SECOND + 372539827 * NANOSECOND,
    ),
];

/// Go `parseDurationErrorTests`: the input (bytes: three rows are not UTF-8, which a Go
/// string may be) and the quoted text the error must contain.
const PARSE_DURATION_ERROR_TESTS: &[(&[u8], &str)] = &[
    // invalid
    (b"", r#""""#),
    (b"3", r#""3""#),
    (b"-", r#""-""#),
    (b"s", r#""s""#),
    (b".", r#"".""#),
    (b"-.", r#""-.""#),
    (b".s", r#"".s""#),
    (b"+.s", r#""+.s""#),
    (b"1d", r#""1d""#),
    (b"\x85\x85", r#""\x85\x85""#),
    (b"\xffff", r#""\xffff""#),
    (b"hello \xffff world", r#""hello \xffff world""#),
    ("\u{FFFD}".as_bytes(), r#""\xef\xbf\xbd""#), // utf8.RuneError
    (
        "\u{FFFD} hello \u{FFFD} world".as_bytes(),
        r#""\xef\xbf\xbd hello \xef\xbf\xbd world""#,
    ), // utf8.RuneError
    // overflow
    (b"9223372036854775810ns", r#""9223372036854775810ns""#),
    (b"9223372036854775808ns", r#""9223372036854775808ns""#),
    (b"-9223372036854775809ns", r#""-9223372036854775809ns""#),
    (b"9223372036854776us", r#""9223372036854776us""#),
    (b"3000000h", r#""3000000h""#),
    (b"9223372036854775.808us", r#""9223372036854775.808us""#),
    (
        b"9223372036854ms775us808ns",
        r#""9223372036854ms775us808ns""#,
    ),
];

/// Go `TestParseDuration`.
#[test]
fn go_parse_duration_tests() {
    for &(input, want) in PARSE_DURATION_TESTS {
        assert_eq!(parse_duration(input), Ok(want), "ParseDuration({input:?})");
    }
}

/// Go `TestParseDurationErrors`: an error, whose text contains the expected quoting.
#[test]
fn go_parse_duration_error_tests() {
    for &(input, expect) in PARSE_DURATION_ERROR_TESTS {
        let e = parse_duration_bytes(input).expect_err(&format!("ParseDuration({input:?})"));
        let msg = e.to_string();
        assert!(
            msg.contains(expect),
            "ParseDuration({input:?}) = {msg:?}, does not contain {expect:?}"
        );
        // The UTF-8 rows give the same answer through the &str entry point.
        if let Ok(s) = std::str::from_utf8(input) {
            assert_eq!(parse_duration(s), Err(e));
        }
    }
}

/// Go `TestParseDurationRoundTrip`'s fixed half: `Duration(math.MaxInt64).String()` and
/// `Duration(math.MinInt64).String()` parse back to themselves (golang.org/issue/48629).
#[test]
fn go_round_trip_of_the_extremes() {
    assert_eq!(parse_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
    assert_eq!(parse_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
}

/// The three messages, whole, as `ParseDuration` builds them in Go `src/time/format.go`.
#[test]
fn messages_are_gos_word_for_word() {
    let msg = |s: &str| parse_duration(s).unwrap_err().to_string();
    assert_eq!(msg(""), r#"time: invalid duration """#);
    assert_eq!(msg("2562048h"), r#"time: invalid duration "2562048h""#);
    assert_eq!(msg("5"), r#"time: missing unit in duration "5""#);
    assert_eq!(msg("1h5"), r#"time: missing unit in duration "1h5""#);
    assert_eq!(msg("2d"), r#"time: unknown unit "d" in duration "2d""#);
    assert_eq!(msg("1 s"), r#"time: unknown unit " s" in duration "1 s""#);
    // The unit runs to the next digit or '.', so a non-ASCII one is quoted byte by byte.
    assert_eq!(
        msg("3ŝ"),
        r#"time: unknown unit "\xc5\x9d" in duration "3\xc5\x9d""#
    );
    assert_eq!(
        parse_duration("2d"),
        Err(DurationError::UnknownUnit {
            unit: b"d".to_vec(),
            input: b"2d".to_vec()
        })
    );
}

/// Limits derived from reading `ParseDuration` (not rows of Go's tables): the engine's
/// interest is 2562047h being the last whole hour that fits in int64 nanoseconds.
#[test]
fn the_int64_limits() {
    assert_eq!(parse_duration("2562047h"), Ok(2562047 * HOUR));
    assert!(parse_duration("2562048h").is_err());
    assert!(parse_duration("-2562048h").is_err());
    assert!(parse_duration("2562047h47m16.854775808s").is_err());
    assert!(parse_duration("9223372036854775807ns1ns").is_err());
    // Go sums the parts in uint64 and only refuses a sum above 1<<63; 1<<63 twice wraps
    // to 0 there, so Go's ParseDuration answers 0 (read from format.go, kept as is).
    assert_eq!(
        parse_duration("9223372036854775808ns9223372036854775808ns"),
        Ok(0)
    );
    // A fraction's extra digits are dropped, not refused (leadingFraction).
    assert_eq!(
        parse_duration("1.0000000000000000000000000001s"),
        Ok(SECOND)
    );
    assert_eq!(parse_duration("0.0000000001s"), Ok(0));
}
