//! Go's `mime.TypeByExtension` on this host, as the gateway (boxo
//! gateway/handler_unixfs_file.go `serveFile`) calls it: Go's builtin table, then the host
//! MIME database read the way Go's src/mime/type_unix.go does (`initMimeUnix`: the first
//! of /usr/local/share/mime/globs2, /usr/share/mime/globs2 that opens, with
//! `loadMimeGlobsFile`; only when neither opens, every one of /etc/mime.types,
//! /etc/apache2/mime.types, /etc/apache/mime.types, /etc/httpd/conf/mime.types with
//! `loadMimeFile`). Text types get `; charset=utf-8` (src/mime/type.go
//! `setExtensionType`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Go src/mime/type.go `builtinTypesLower` (golang/go commit cde61de; later Go releases
/// add `.ico`).
const BUILTIN: &[(&str, &str)] = &[
    (".avif", "image/avif"),
    (".css", "text/css; charset=utf-8"),
    (".gif", "image/gif"),
    (".htm", "text/html; charset=utf-8"),
    (".html", "text/html; charset=utf-8"),
    (".jpeg", "image/jpeg"),
    (".jpg", "image/jpeg"),
    (".js", "text/javascript; charset=utf-8"),
    (".json", "application/json"),
    (".mjs", "text/javascript; charset=utf-8"),
    (".pdf", "application/pdf"),
    (".png", "image/png"),
    (".svg", "image/svg+xml"),
    (".wasm", "application/wasm"),
    (".webp", "image/webp"),
    (".xml", "text/xml; charset=utf-8"),
];

const GLOBS: &[&str] = &["/usr/local/share/mime/globs2", "/usr/share/mime/globs2"];
const TYPE_FILES: &[&str] = &[
    "/etc/mime.types",
    "/etc/apache2/mime.types",
    "/etc/apache/mime.types",
    "/etc/httpd/conf/mime.types",
];

/// The two maps of Go's mime package: exact-case and lower-case extension.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    exact: HashMap<String, String>,
    lower: HashMap<String, String>,
}

impl Table {
    /// Go `initMime` with the given database files.
    pub(crate) fn load(globs: &[&str], type_files: &[&str]) -> Table {
        let mut t = Table::default();
        for (e, v) in BUILTIN {
            t.exact.insert((*e).to_string(), (*v).to_string());
            t.lower.insert((*e).to_string(), (*v).to_string());
        }
        for g in globs {
            if let Ok(text) = std::fs::read(g) {
                t.load_globs(&String::from_utf8_lossy(&text));
                return t;
            }
        }
        for f in type_files {
            if let Ok(text) = std::fs::read(f) {
                t.load_mime_types(&String::from_utf8_lossy(&text));
            }
        }
        t
    }

    /// Go `TypeByExtension`: case-sensitive, then lower-case lookup.
    pub(crate) fn by_extension(&self, ext: &str) -> Option<&str> {
        self.exact
            .get(ext)
            .or_else(|| self.lower.get(&ext.to_lowercase()))
            .map(String::as_str)
    }

    /// Go `setExtensionType`.
    fn set(&mut self, ext: &str, mime: &str) {
        let Some(mime) = with_charset(mime) else {
            return;
        };
        self.exact.insert(ext.to_string(), mime.clone());
        self.lower.insert(ext.to_lowercase(), mime);
    }

    /// Go `loadMimeGlobsFile`: `weight:type:glob` lines in weight order; the first entry
    /// per bare `*.ext` glob wins (also over the builtin table); `[...]` globs expand and
    /// are set without that check; other globs are skipped.
    fn load_globs(&mut self, text: &str) {
        for line in text.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 3 || fields[0].is_empty() || fields[2].len() < 3 {
                continue;
            }
            let glob = fields[2].as_bytes();
            if fields[0].starts_with('#') || glob[0] != b'*' || glob[1] != b'.' {
                continue;
            }
            let ext = &fields[2][1..];
            if ext.contains(['?', '*']) {
                continue;
            }
            if ext.contains('[') {
                if let Some(exts) = expand(ext) {
                    for e in exts {
                        self.set(&e, fields[1]);
                    }
                }
                continue;
            }
            if self.exact.contains_key(ext) {
                continue;
            }
            self.set(ext, fields[1]);
        }
    }

    /// Go `loadMimeFile`: `type ext ext ...` lines; later files and lines override.
    fn load_mime_types(&mut self, text: &str) {
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() <= 1 || fields[0].starts_with('#') {
                continue;
            }
            for ext in &fields[1..] {
                if ext.starts_with('#') {
                    break;
                }
                self.set(&format!(".{ext}"), fields[0]);
            }
        }
    }
}

/// `; charset=utf-8` added to `text/*` types without a charset (Go `setExtensionType`,
/// which formats with `FormatMediaType`: lower-case type, sorted parameters). `None`
/// when Go's `ParseMediaType` would refuse the type.
fn with_charset(mime: &str) -> Option<String> {
    let mut parts = mime.split(';');
    let typ = parts.next()?.trim().to_ascii_lowercase();
    let (major, minor) = typ.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    if !token(major) || !token(minor) {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let (k, v) = p.split_once('=')?;
        params.push((
            k.trim().to_ascii_lowercase(),
            v.trim().trim_matches('"').to_string(),
        ));
    }
    if !mime.starts_with("text/") || params.iter().any(|(k, v)| k == "charset" && !v.is_empty()) {
        return Some(mime.to_string());
    }
    params.retain(|(k, _)| k != "charset");
    params.push(("charset".into(), "utf-8".into()));
    params.sort();
    let mut out = typ;
    for (k, v) in params {
        out.push_str(&format!("; {k}={v}"));
    }
    Some(out)
}

/// Go type_unix.go `expand`: `.anim[1-9j]` -> `.anim1` .. `.anim9`, `.animj`.
fn expand(glob: &str) -> Option<Vec<String>> {
    if !glob.is_ascii() {
        return None;
    }
    let b = glob.as_bytes();
    let (mut open, mut close): (Option<usize>, Option<usize>) = (None, None);
    let mut prefix: Vec<u8> = Vec::new();
    let mut suffix: Vec<u8> = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        let mux = if open.is_some() {
            &mut suffix
        } else {
            &mut prefix
        };
        match c {
            b'[' => {
                if mux.last() == Some(&b'\\') {
                    if let Some(l) = mux.last_mut() {
                        *l = c;
                    }
                    continue;
                }
                if open.is_some() {
                    if close.is_some() {
                        return None;
                    }
                    continue;
                }
                open = Some(i);
            }
            b']' => {
                let Some(o) = open else {
                    mux.push(b']');
                    continue;
                };
                if i == o + 1 {
                    continue;
                }
                close = Some(i);
            }
            _ => {
                if open.is_some() && close.is_none() {
                    continue;
                }
                mux.push(c);
            }
        }
    }
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    match (open, close) {
        (None, None) => return Some(vec![text(&prefix)]),
        (Some(o), None) => return Some(vec![format!("{}{}", text(&prefix), &glob[o..])]),
        _ => {}
    }
    let (o, c) = (open?, close?);
    let range = &b[o + 1..c];
    let mut expansion: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < range.len() {
        let r = range[i];
        if r == b'!' && i == 0 {
            return None;
        }
        if r != b'-' {
            expansion.push(r);
            i += 1;
            continue;
        }
        if i == 0 || i == range.len() - 1 {
            expansion.push(b'-');
            i += 1;
            continue;
        }
        let (lo, hi) = (range[i - 1], range[i + 1]);
        if hi < lo {
            return None;
        }
        let mut ch = lo.saturating_add(1);
        while ch <= hi {
            if ch != b'/' {
                expansion.push(ch);
            }
            if ch == u8::MAX {
                break;
            }
            ch += 1;
        }
        i += 2;
    }
    Some(
        expansion
            .iter()
            .map(|e| format!("{}{}{}", text(&prefix), *e as char, text(&suffix)))
            .collect(),
    )
}

/// Go's `mime.TypeByExtension(ext)` on this host (`ext` with its leading dot).
pub(crate) fn type_by_extension(ext: &str) -> Option<String> {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE
        .get_or_init(|| Table::load(GLOBS, TYPE_FILES))
        .by_extension(ext)
        .map(str::to_string)
}

/// Go `path.Ext`: the suffix from the last `.` in the last `/`-separated element.
pub(crate) fn go_ext(name: &str) -> &str {
    let last = name.rsplit('/').next().unwrap_or("");
    last.rfind('.').map_or("", |i| &last[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_first_entry_wins_and_builtin_stays() {
        let mut t = Table::load(&[], &[]);
        t.load_globs(
            "# comment\n50:text/vnd.trolltech.linguist:*.ts\n50:video/mp2t:*.ts\n\
             50:application/javascript:*.js\n50:video/x-anim:*.anim[1-3j]\n\
             60:application/x-sharedlib:*.so.[0-9]*\n",
        );
        assert_eq!(
            t.by_extension(".ts"),
            Some("text/vnd.trolltech.linguist; charset=utf-8")
        );
        assert_eq!(t.by_extension(".TS"), t.by_extension(".ts"));
        assert_eq!(
            t.by_extension(".js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(t.by_extension(".anim2"), Some("video/x-anim"));
        assert_eq!(t.by_extension(".animj"), Some("video/x-anim"));
        assert_eq!(t.by_extension(".so.1"), None);
    }

    #[test]
    fn mime_types_file_later_lines_override() {
        let mut t = Table::load(&[], &[]);
        t.load_mime_types("# x\napplication/vnd.apple.mpegurl m3u8\ntext/plain txt # c\n");
        assert_eq!(
            t.by_extension(".m3u8"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(t.by_extension(".txt"), Some("text/plain; charset=utf-8"));
        assert_eq!(go_ext("/ipfs/x/seg.00001.ts"), ".ts");
        assert_eq!(go_ext("a.b/c"), "");
    }
}
