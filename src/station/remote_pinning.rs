//! `remote_pinning` in `setup.config.json`: the pinning services the station's library is
//! sent to (the IPFS Pinning Service API, ipfs/pinning-services-api-spec
//! `ipfs-pinning-service.yaml` v1.0.0; IPFS Cluster serves it from its `pinsvcapi`
//! section). The services are followed by [`crate::pinning`]; this module holds their
//! configuration and their access tokens.
//!
//! ```json
//! "remote_pinning": [{"name": "cluster", "endpoint": "https://pins.example.org",
//!                     "access_token_file": "/home/radio/.config/cluster.token"}]
//! ```
//!
//! - `name`: 1 to 64 letters, digits, `-`, `_`, `.`; unique in the list (the station's
//!   state and its status lines are keyed by it).
//! - `endpoint`: the API's base URL without `/pins`, normalized as Kubo's
//!   `ipfs pin remote service add` does (kubo core/commands/pin/remotepin.go
//!   `normalizeEndpoint`: duplicate and trailing `/` cleaned, no query, no `/pins`
//!   suffix). `https://`, or `http://` on this machine only (a token sent in clear over a
//!   network is a token given away). No user part: credentials go in the token file.
//! - `access_token_file`: the file holding the access token (absolute, or relative to
//!   the station folder). It is read at each use, so a rotated token is picked up
//!   without a restart, and refused when others may read it (any group or other
//!   permission bit, as ssh refuses a private key). The token itself is never written
//!   to a log, a state file, `station status`, `health.json`, the console or an error
//!   message: [`AccessToken`] has no `Display` and its `Debug` prints `<redacted>`.

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The config key.
pub const KEY: &str = "remote_pinning";

/// Largest token file read, in bytes (a JWT from IPFS Cluster's `POST /token` or a
/// service's key is a few hundred bytes).
pub const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// One pinning service of `remote_pinning`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteService {
    /// The operator's name for it (`cluster`, `pinata`).
    pub name: String,
    /// The API base URL, normalized (see the module doc), without `/pins`.
    pub endpoint: String,
    /// Where the access token is (absolute).
    pub access_token_file: PathBuf,
}

/// An access token, read from a [`RemoteService::access_token_file`]: sent only in the
/// `Authorization: Bearer` header of that service's requests.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

fn bad(file: &Path, field: String, message: impl Into<String>) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        field,
        message: message.into(),
    }
}

/// Validates the `remote_pinning` value `v` of the setup config `file`; `station`
/// anchors relative token files.
///
/// Errors: [`Error::Config`] naming the file, the entry (`remote_pinning[1] ("cluster")`)
/// and the field (`.endpoint`), saying what is allowed.
pub fn parse(file: &Path, station: &Path, v: &Value) -> Result<Vec<RemoteService>> {
    let list = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => {
            return Err(bad(
                file,
                KEY.into(),
                format!("must be a list of services ({{\"name\", \"endpoint\", \"access_token_file\"}}), not {other}"),
            ))
        }
    };
    let mut out: Vec<RemoteService> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let Value::Object(o) = entry else {
            return Err(bad(
                file,
                format!("{KEY}[{i}]"),
                format!("must be an object {{\"name\", \"endpoint\", \"access_token_file\"}}, not {entry}"),
            ));
        };
        let label = match o.get("name") {
            Some(Value::String(n)) => {
                format!("{KEY}[{i}] ({:?})", crate::station::text::terminal(n))
            }
            _ => format!("{KEY}[{i}]"),
        };
        if let Some(k) = o
            .keys()
            .find(|k| !["name", "endpoint", "access_token_file"].contains(&k.as_str()))
        {
            return Err(bad(
                file,
                format!("{label}.{}", crate::station::text::terminal(k)),
                "unknown field: allowed `name`, `endpoint`, `access_token_file`",
            ));
        }
        let text = |field: &str| -> Result<String> {
            match o.get(field) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                Some(Value::String(_)) | None => {
                    Err(bad(file, format!("{label}.{field}"), "is missing or empty"))
                }
                Some(other) => Err(bad(
                    file,
                    format!("{label}.{field}"),
                    format!("must be a string, not {other}"),
                )),
            }
        };
        let name = text("name")?;
        if name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                file,
                format!("{label}.name"),
                "must be 1 to 64 letters, digits, `-`, `_` or `.`",
            ));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(bad(
                file,
                format!("{label}.name"),
                format!("`{name}` is named twice: each service needs its own name"),
            ));
        }
        let endpoint = normalize_endpoint(&text("endpoint")?)
            .map_err(|m| bad(file, format!("{label}.endpoint"), m))?;
        let token = PathBuf::from(text("access_token_file")?);
        let access_token_file = if token.is_absolute() {
            token
        } else {
            station.join(token)
        };
        out.push(RemoteService {
            name,
            endpoint,
            access_token_file,
        });
    }
    Ok(out)
}

/// `endpoint` normalized as Kubo normalizes a remote service's (kubo
/// core/commands/pin/remotepin.go `normalizeEndpoint`): an http(s) URL, its path cleaned
/// of duplicate and trailing `/`, refused with a query or a `/pins` suffix; and, for the
/// token's sake, https unless on this machine, no user part, no fragment.
///
/// Errors: what is wrong, as text (the caller names the field).
pub fn normalize_endpoint(endpoint: &str) -> std::result::Result<String, String> {
    let shown = crate::station::text::terminal(endpoint);
    let mut u =
        reqwest::Url::parse(endpoint).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
    match u.scheme() {
        "https" => {}
        "http" if crate::station::config::is_loopback_url(endpoint) => {}
        "http" => {
            return Err(format!(
                "`{shown}`: http:// only on this machine (127.0.0.1, [::1], localhost); a pinning service elsewhere needs https://, or the access token crosses the network in clear"
            ))
        }
        _ => return Err(format!("`{shown}`: only https:// (or http:// on this machine)")),
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{shown}` has no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "`{shown}` has a user part: put the credentials in access_token_file instead"
        ));
    }
    if u.query().is_some() {
        return Err(format!(
            "`{shown}`: the endpoint is given without query parameters (as `ipfs pin remote service add` takes it)"
        ));
    }
    if u.fragment().is_some() {
        return Err(format!("`{shown}` has a #fragment"));
    }
    let mut path = String::new();
    for part in u.path().split('/').filter(|p| !p.is_empty() && *p != ".") {
        path.push('/');
        path.push_str(part);
    }
    if path.ends_with("/pins") {
        return Err(format!(
            "`{shown}`: the endpoint is given without the /pins suffix (as `ipfs pin remote service add` takes it)"
        ));
    }
    u.set_path(&path);
    Ok(u.as_str().trim_end_matches('/').to_string())
}

/// Reads the access token of `service` from its [`RemoteService::access_token_file`]:
/// the file's text without surrounding whitespace.
///
/// Errors: [`Error::Config`] naming the service and the file (never the token): the
/// file missing, not a regular file, readable or writable by group or others (mode
/// `& 0o077`, "chmod 600 it"), larger than [`MAX_TOKEN_BYTES`], empty, or holding
/// characters an HTTP header cannot carry.
pub fn read_token(service: &RemoteService) -> Result<AccessToken> {
    let path = &service.access_token_file;
    let fail = |message: String| Error::Config {
        file: path.clone(),
        field: format!("{KEY} ({:?}).access_token_file", service.name),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(fail("is not a file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "is open to others (mode {mode:04o}): the token is refused until only its owner can read it (`chmod 600 {}`), as ssh refuses such a private key",
                path.display()
            )));
        }
    }
    if meta.len() > MAX_TOKEN_BYTES {
        return Err(fail(format!(
            "is {} bytes: an access token is at most {MAX_TOKEN_BYTES}",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("is not UTF-8 text".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("is empty".into()));
    }
    // An HTTP header value carries visible ASCII and spaces (RFC 9110 section 5.5).
    if !token.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(fail(
            "holds characters an HTTP header cannot carry (only visible ASCII)".into(),
        ));
    }
    Ok(AccessToken(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_one(v: Value) -> Result<Vec<RemoteService>> {
        parse(Path::new("/st/setup.config.json"), Path::new("/st"), &v)
    }

    #[test]
    fn endpoints_are_normalized_as_kubo_does() {
        // kubo core/commands/pin/remotepin.go normalizeEndpoint: path.Clean, trailing `/`
        // and `.` trimmed, no query, no /pins suffix.
        assert_eq!(
            normalize_endpoint("https://pins.example.org//api//v1/").unwrap(),
            "https://pins.example.org/api/v1"
        );
        assert_eq!(
            normalize_endpoint("https://pins.example.org/").unwrap(),
            "https://pins.example.org"
        );
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:9097").unwrap(),
            "http://127.0.0.1:9097"
        );
        assert!(normalize_endpoint("https://p.example/pins")
            .unwrap_err()
            .contains("/pins suffix"));
        assert!(normalize_endpoint("https://p.example/?key=1")
            .unwrap_err()
            .contains("query"));
        assert!(normalize_endpoint("http://pins.example.org")
            .unwrap_err()
            .contains("https://"));
        assert!(normalize_endpoint("https://u:secret@p.example")
            .unwrap_err()
            .contains("user part"));
        assert!(normalize_endpoint("ftp://p.example").is_err());
        assert!(normalize_endpoint("pins.example.org").is_err());
    }

    #[test]
    fn validation_names_the_service_and_the_field() {
        let e = parse_one(json!([{"name": "cluster", "endpoint": "http://10.0.0.5:9097", "access_token_file": "t"}]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("remote_pinning[0] (\"cluster\").endpoint"),
            "{e}"
        );
        let e = parse_one(json!([{"name": "a", "endpoint": "https://a.example", "access_token_file": "t"},
                                 {"name": "a", "endpoint": "https://b.example", "access_token_file": "t"}]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("remote_pinning[1] (\"a\").name") && e.contains("twice"),
            "{e}"
        );
        let e = parse_one(json!([{"name": "a", "endpoint": "https://a.example"}]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(".access_token_file") && e.contains("missing"),
            "{e}"
        );
        let e = parse_one(json!([{"name": "a", "endpoint": "https://a.example", "access_token_file": "t", "token": "x"}]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(".token") && e.contains("unknown field"), "{e}");
        let e = parse_one(json!([{"name": "no spaces", "endpoint": "https://a.example", "access_token_file": "t"}]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(".name"), "{e}");
        assert!(parse_one(json!("cluster")).is_err());
        assert!(parse_one(json!([])).unwrap().is_empty());
    }

    #[test]
    fn relative_token_files_are_in_the_station_folder() {
        let s = parse_one(json!([{"name": "c", "endpoint": "https://a.example/", "access_token_file": "secrets/c.token"}]))
            .unwrap();
        assert_eq!(s[0].access_token_file, Path::new("/st/secrets/c.token"));
        assert_eq!(s[0].endpoint, "https://a.example");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_others_can_read_is_refused_and_never_printed() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t");
        std::fs::write(&path, "s3cr3t-token\n").unwrap();
        let svc = RemoteService {
            name: "c".into(),
            endpoint: "https://a.example".into(),
            access_token_file: path.clone(),
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token(&svc).unwrap_err().to_string();
        assert!(e.contains("0644") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = read_token(&svc).unwrap();
        assert_eq!(t.secret(), "s3cr3t-token");
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
        std::fs::write(&path, "  \n").unwrap();
        assert!(read_token(&svc).unwrap_err().to_string().contains("empty"));
        std::fs::write(&path, "tok\u{e9}n").unwrap();
        assert!(read_token(&svc).unwrap_err().to_string().contains("ASCII"));
        std::fs::remove_file(&path).unwrap();
        assert!(read_token(&svc)
            .unwrap_err()
            .to_string()
            .contains("cannot be read"));
    }
}
