//! The Host header routing of the gateway: boxo v0.29.1 gateway/hostname.go
//! `NewHostnameHandler` with the one known gateway Kubo v0.34.1 configures by default
//! (core/corehttp/gateway.go `defaultKnownGateways`: `"localhost"` with
//! `Paths: ["/ipfs/", "/ipns/", "/p2p/"]` and `UseSubdomains: true`; `Gateway.PublicGateways`
//! is empty in a fresh repo, and the double has no DNSLink).
//!
//! - `Host: localhost[:port]` with a path under `/ipfs/`, `/ipns/` or `/p2p/`: 301 to
//!   `http://<root as DNS label>.<ns>.localhost[:port]/<rest>?<query>` (`toSubdomainURL`),
//!   when the root is a CID or a name; an `/ipfs/` root that is not a CID is served as a
//!   path. Other paths on `localhost`: DNSLink of `localhost` (none), so 404.
//! - `Host: <root>.<ns>.localhost[:port]` (`knownSubdomainDetails`): the content root
//!   `/<ns>/<root>` with the URL path inside it; a CID label that is not canonical
//!   (longer than 63 characters, or not libp2p-key under `ipns`) is first redirected.
//! - Any other Host (`127.0.0.1`, `[::1]`, unknown names): a plain path gateway.
//!
//! Only the `Host` header (or `X-Forwarded-Host`, as boxo reads it) is looked at, never
//! the address a client connected to: `*.localhost` names can be resolved by the client
//! however it likes (Chromium maps them to loopback itself; a reqwest test overrides its
//! resolver).

use crate::cid::{self, Cid};

/// The hostname Kubo treats as a subdomain gateway by default.
const LOCALHOST: &str = "localhost";

/// What the Host header makes of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Serve the URL path as a content path (`/ipfs/...`, `/ipns/...`), path gateway.
    Path,
    /// Serve `/<ns>/<root>` + the URL path (a subdomain request).
    Subdomain {
        /// `/<ns>/<root>`.
        prefix: String,
    },
    /// 301 to this absolute URL (`http.Redirect(..., StatusMovedPermanently)`).
    Redirect(String),
    /// `http.NotFound`: `404 page not found`.
    NotFound,
    /// A 400 with this error (`webError(..., StatusBadRequest)`).
    BadRequest(String),
}

/// Go `net.SplitHostPort`-or-self (hostname.go `stripPort`).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, p)) if p.is_empty() || p.starts_with(':') => h,
            _ => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, _)) if !h.contains(':') => h,
        _ => host,
    }
}

/// `hostnameGateways.isKnownHostname`: the exact Host, then without its port.
fn is_known(host: &str) -> bool {
    host == LOCALHOST || strip_port(host) == LOCALHOST
}

/// `isSubdomainNamespace`.
fn is_subdomain_ns(ns: &str) -> bool {
    matches!(ns, "ipfs" | "ipns" | "p2p" | "ipld")
}

/// `isPeerIDNamespace`.
fn is_peer_ns(ns: &str) -> bool {
    matches!(ns, "ipns" | "p2p")
}

/// `hasPrefix(path, gw.Paths...)` for Kubo's `defaultPaths`.
fn has_known_prefix(path: &str) -> bool {
    ["/ipfs", "/ipns", "/p2p"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// go-libp2p core/peer `Decode`: `Qm...`/`1...` are base58 multihashes, anything else a
/// CID that must be libp2p-key. The peer ID as a CIDv1 libp2p-key (`peer.ToCid`).
fn peer_decode(s: &str) -> Option<Cid> {
    if s.starts_with("Qm") || s.starts_with('1') {
        let mh = bs58::decode(s).into_vec().ok()?;
        let (_, rest) = cid::read_varint(&mh)?;
        let (len, digest) = cid::read_varint(rest)?;
        return (digest.len() as u64 == len).then_some(Cid {
            version: 1,
            codec: cid::LIBP2P_KEY,
            multihash: mh,
        });
    }
    let c = Cid::decode(s)?;
    (c.codec == cid::LIBP2P_KEY).then_some(c)
}

/// `toDNSLabel`: the label as given when it fits in 63 characters, else CIDv1 base36,
/// else boxo's error.
fn to_dns_label(root_id: &str, c: &Cid) -> Result<String, String> {
    if root_id.len() <= 63 {
        return Ok(root_id.to_string());
    }
    let b36 = c.to_base36();
    if b36.len() <= 63 {
        return Ok(b36);
    }
    Err(format!(
        "CID incompatible with DNS label length limit of 63: {b36}"
    ))
}

/// Go `url.URL.EscapedPath` of a path without a valid RawPath (`escape(path,
/// encodePath)`): everything but unreserved characters and `$&+,/:;=@` is
/// percent-encoded (upper-case hex). With `segment`, `url.PathEscape`
/// (`encodePathSegment`): `/`, `;` and `,` are encoded too.
pub(crate) fn go_escape_path(s: &str, segment: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || matches!(b, b'$' | b'&' | b'+' | b'=' | b':' | b'@')
            || (!segment && matches!(b, b'/' | b';' | b','));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `toSubdomainURL(hostname, path, r, inlineDNSLink=false, ...)`: the redirect URL, or
/// `None` when the path is not one to redirect (`""` in Go). `path` is the decoded URL
/// path, `query` the raw query.
fn to_subdomain_url(
    hostname: &str,
    path: &str,
    query: Option<&str>,
    https: bool,
) -> Result<Option<String>, String> {
    let parts: Vec<&str> = path.splitn(4, '/').collect();
    let (ns, mut root_id, rest) = match parts.len() {
        4 => (parts[1], parts[2].to_string(), parts[3]),
        3 => (parts[1], parts[2].to_string(), ""),
        _ => return Ok(None),
    };
    if !is_subdomain_ns(ns) {
        return Ok(None);
    }
    // Normalize peer IDs (e.g. ed25519 identity `12D3KooW...`) to their CID form.
    if is_peer_ns(ns) {
        if let Some(p) = peer_decode(&root_id) {
            root_id = p.to_string();
        }
    }
    if let Some(c) = Cid::decode(&root_id) {
        let c = Cid {
            version: 1,
            // PeerIDs as CIDv1 must be libp2p-key: fixed on the fly.
            codec: if is_peer_ns(ns) {
                cid::LIBP2P_KEY
            } else {
                c.codec
            },
            multihash: c.multihash,
        };
        // Base36 under /ipns/ and /p2p/, base32 otherwise.
        root_id = if is_peer_ns(ns) {
            c.to_base36()
        } else {
            c.to_string()
        };
        root_id = to_dns_label(&root_id, &c)?;
    } else if ns == "ipfs" {
        // Not a CID in the IPFS namespace: the path handler answers.
        return Ok(None);
    }
    // (Inlining DNSLink names needs DNSLink, which the double has none of.)
    if root_id.is_empty() {
        return Ok(None);
    }
    let scheme = if https { "https" } else { "http" };
    let mut url = format!(
        "{scheme}://{root_id}.{ns}.{hostname}/{}",
        go_escape_path(rest, false)
    );
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    Ok(Some(url))
}

/// Routes a request by its Host (`X-Forwarded-Host` when set), decoded URL path and raw
/// query. `https`: the request came through a TLS proxy (`X-Forwarded-Proto: https`,
/// hostname.go `isHTTPSRequest`), so redirects keep `https`.
pub(crate) fn route(host: &str, path: &str, query: Option<&str>, https: bool) -> Route {
    if is_known(host) {
        if !has_known_prefix(path) {
            // DNSLink for the hostname itself: the double resolves none.
            return Route::NotFound;
        }
        return match to_subdomain_url(host, path, query, https) {
            Ok(Some(url)) => Route::Redirect(url),
            Ok(None) => Route::Path,
            Err(e) => Route::BadRequest(e),
        };
    }
    let labels: Vec<&str> = host.split('.').collect();
    for i in (2..labels.len()).rev() {
        let fqdn = labels[i..].join(".");
        if !is_known(&fqdn) {
            continue;
        }
        let ns = labels[i - 1];
        if !is_subdomain_ns(ns) {
            continue;
        }
        let root_id = labels[..i - 1].join(".");
        let prefix = format!("/{ns}/{root_id}");
        if !has_known_prefix(&prefix) {
            return Route::NotFound;
        }
        if let Some(c) = Cid::decode(&root_id) {
            let label = match to_dns_label(&root_id, &c) {
                Ok(l) => l,
                Err(e) => return Route::BadRequest(e),
            };
            if !host.starts_with(&label) {
                return match to_subdomain_url(&fqdn, &format!("/{ns}/{label}{path}"), query, https)
                {
                    Ok(Some(url)) => Route::Redirect(url),
                    Ok(None) => Route::Subdomain { prefix },
                    Err(e) => Route::BadRequest(e),
                };
            }
            if is_peer_ns(ns) && c.codec != cid::LIBP2P_KEY {
                return match to_subdomain_url(&fqdn, &format!("{prefix}{path}"), query, https) {
                    Ok(Some(url)) => Route::Redirect(url),
                    Ok(None) => Route::Subdomain { prefix },
                    Err(e) => Route::BadRequest(e),
                };
            }
        }
        return Route::Subdomain { prefix };
    }
    Route::Path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_hosts() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("localhost"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "::1");
        assert!(is_known("localhost:1") && !is_known("127.0.0.1:1"));
        assert_eq!(route("127.0.0.1:8080", "/ipfs/x", None, false), Route::Path);
        assert_eq!(
            route("localhost:8080", "/foo", None, false),
            Route::NotFound
        );
        // Not a CID under /ipfs/: no redirect, the path handler answers (400 there).
        assert_eq!(
            route("localhost:8080", "/ipfs/nope/a", None, false),
            Route::Path
        );
        assert_eq!(route("localhost:8080", "/ipfs", None, false), Route::Path);
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(go_escape_path("a b/c%d;e", false), "a%20b/c%25d;e");
        assert_eq!(go_escape_path("x=1&y=/", true), "x=1&y=%2F");
    }
}
