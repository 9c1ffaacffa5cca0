//! Display text from strangers: tags and file names made safe for every place they are shown.
//!
//! Tags (ID3, Vorbis comments, MP4 atoms) and file names were written by whoever made the
//! file. They reach the live playlist's `#EXTINF` titles, `station.json`, `history.json`,
//! the console, the operator's terminal and the as-run CSV. [`display_text`] is the one
//! sanitizer, applied once at import so every surface shows the same value; the helpers
//! [`csv_cell`] and [`terminal`] are the last guard of their own surface.

use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_normalization::UnicodeNormalization;

/// The longest title, artist or album kept, in characters (Unicode scalar values); longer
/// values are cut and end with `…`. Keeps a playlist line, an as-run line and a page row
/// small whatever a tag holds.
pub const MAX_TAG_CHARS: usize = 256;

/// Whether `c` must never reach a reader as itself: general categories Cc (controls, ESC
/// among them, and U+0085 NEXT LINE), Cf (format: bidi overrides, zero-width joiners, BOM),
/// Zl (U+2028 LINE SEPARATOR) and Zp (U+2029 PARAGRAPH SEPARATOR). hls.js splits playlist
/// lines with a regex in which `.` stops at U+2028/U+2029, so those break a line there.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || c == '\u{85}'
}

/// Whether `c` ends a line for any reader: LF, VT, FF, CR, U+0085, U+2028, U+2029 (the
/// Unicode line terminators, UAX #14 BK/CR/LF/NL classes).
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// The first line of `text` (split on `\n`, 1-based) that holds an [`is_unsafe_char`],
/// with that character: the playlist writers' defence in depth behind [`display_text`],
/// since hls.js and other players split lines on CR, VT, FF, U+0085, U+2028 or U+2029 and
/// would read what follows as a tag or a URI. `None` when every line is clean.
pub fn first_unsafe_line(text: &str) -> Option<(usize, char)> {
    text.split('\n').enumerate().find_map(|(n, line)| {
        line.chars()
            .find(|&c| is_unsafe_char(c))
            .map(|c| (n + 1, c))
    })
}

/// `raw` as display text: NFC-normalized, every [`is_unsafe_char`] replaced by a space,
/// runs of whitespace collapsed to one space, trimmed, and cut to at most `max_chars`
/// characters (the last one `…` when cut). Total: any input gives a value, possibly empty.
pub fn display_text(raw: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars * 4));
    let mut pending_space = false;
    let mut count = 0usize;
    let mut cut = false;
    for c in raw.nfc() {
        if is_unsafe_char(c) || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        let need = usize::from(pending_space) + 1;
        if count + need > max_chars {
            cut = true;
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    if cut && max_chars > 0 {
        while count >= max_chars {
            out.pop();
            count -= 1;
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('…');
    }
    out
}

/// A tag value (title, artist, album) as display text capped at [`MAX_TAG_CHARS`]; `None`
/// when nothing printable is left.
pub fn tag_text(raw: &str) -> Option<String> {
    Some(display_text(raw, MAX_TAG_CHARS)).filter(|s| !s.is_empty())
}

/// `cell` as a spreadsheet-safe CSV cell: a value that opens with `=`, `+`, `-`, `@`, TAB or
/// CR gets a leading `'`, so a spreadsheet shows it as text instead of running a formula
/// (OWASP, "CSV Injection").
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// `s` for the operator's terminal: every [`is_unsafe_char`] (ESC and the other controls,
/// line separators, bidi overrides) replaced by a space; newlines are the caller's. Guards
/// against values that reached a state file without going through [`display_text`]
/// (older manifests, hand-edited files).
pub fn terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_unsafe_char) {
        s.chars()
            .map(|c| if is_unsafe_char(c) { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_separators_and_controls_become_one_space() {
        let hostile = "Tone\u{2028}#EXT-X-ENDLIST\u{2029}/ipfs/bafy/x.ts";
        assert_eq!(
            display_text(hostile, 256),
            "Tone #EXT-X-ENDLIST /ipfs/bafy/x.ts"
        );
        assert_eq!(display_text("a\r\n\n\u{85}b", 256), "a b");
        assert_eq!(
            display_text("\u{1b}[2J\u{1b}]0;pwned\u{7}Song", 256),
            "[2J ]0;pwned Song"
        );
        assert_eq!(display_text("  a \t  b  ", 256), "a b");
    }

    #[test]
    fn format_characters_are_removed() {
        // U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE, U+FEFF BOM: category Cf.
        assert_eq!(
            display_text("\u{feff}evil\u{202e}gpj.exe\u{200b}", 256),
            "evil gpj.exe"
        );
    }

    #[test]
    fn text_is_nfc_normalized() {
        // "e" + COMBINING ACUTE ACCENT composes to U+00E9.
        assert_eq!(display_text("Cafe\u{301}", 256), "Caf\u{e9}");
    }

    #[test]
    fn long_values_are_capped_in_characters() {
        let long = "é".repeat(100_000);
        let s = display_text(&long, MAX_TAG_CHARS);
        assert_eq!(s.chars().count(), MAX_TAG_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(display_text("abc", 3), "abc");
        assert_eq!(display_text("abcd", 3), "ab…");
        assert_eq!(display_text("ab cd", 4), "ab…");
    }

    #[test]
    fn empty_after_cleaning_is_no_tag() {
        assert_eq!(tag_text("\u{1b}\u{2028} \t"), None);
        assert_eq!(tag_text(" x ").as_deref(), Some("x"));
    }

    #[test]
    fn every_unicode_line_break_is_unsafe() {
        for c in [
            '\n', '\u{0B}', '\u{0C}', '\r', '\u{85}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_line_break(c) && is_unsafe_char(c), "{c:?}");
        }
    }

    #[test]
    fn csv_cells_never_open_a_formula() {
        for f in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(csv_cell(f), format!("'{f}"));
        }
        assert_eq!(csv_cell("Song = good"), "Song = good");
    }

    #[test]
    fn terminal_output_has_no_escape() {
        assert_eq!(terminal("a\u{1b}[31mb"), "a [31mb");
        assert_eq!(terminal("plain"), "plain");
    }
}
