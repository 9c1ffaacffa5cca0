//! The time package's own `quote` (Go `src/time/format.go`), which `time.ParseDuration`'s
//! error messages use. It is not `strconv.Quote`: the time package cannot import strconv,
//! so it writes every byte of a non-ASCII or control rune as `\xNN` and passes DEL (0x7f).

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's time-package `quote` of `s`: `s` in double quotes, with `"` and `\` backslashed
/// and every byte of a rune that is not ASCII or is below `' '` written as `\xNN`
/// (lower-case hex); DEL (0x7f) and the rest of printable ASCII pass unchanged.
///
/// E.g. `quote("\u{FFFD}")` is `"\xef\xbf\xbd"` (with the quotes), where
/// `strconv.Quote` would print `"�"`.
///
/// Source: Go `src/time/format.go`, `func quote(s string) string`.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// [`quote`] of a byte string that need not be UTF-8, as a Go `string` may hold: each
/// invalid byte is written as `\xNN` too.
///
/// Go's loop decodes runes and, for a non-ASCII or control one, writes all of its bytes as
/// `\xNN` (an invalid byte decodes as `RuneError` of width 1: that one byte). So the result
/// is the same as deciding byte by byte, which this does.
///
/// Source: Go `src/time/format.go`, `func quote(s string) string`.
pub fn quote_bytes(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        // Go: `c >= runeSelf || c < ' '` is written as bytes; ' ' through DEL is ASCII.
        if (b' '..0x80).contains(&b) {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        } else {
            out.push_str("\\x");
            out.push(char::from(LOWER_HEX[usize::from(b >> 4)]));
            out.push(char::from(LOWER_HEX[usize::from(b & 0xF)]));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bytes_of_non_ascii_and_controls_only() {
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("\u{FFFD}"), r#""\xef\xbf\xbd""#);
        assert_eq!(quote("µs"), r#""\xc2\xb5s""#);
        assert_eq!(quote("\t\n\x07"), r#""\x09\x0a\x07""#);
        // DEL is ASCII and not below ' ': it passes, unlike in strconv.Quote.
        assert_eq!(quote("\x7f"), "\"\x7f\"");
        assert_eq!(quote_bytes(b"\x85\x85"), r#""\x85\x85""#);
        assert_eq!(quote_bytes(b"\xffff"), r#""\xffff""#);
    }
}
