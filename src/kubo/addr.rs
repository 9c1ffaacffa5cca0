//! Kubo's addresses both ways: the station's `http://` URLs (`kubo_api`, `gateway`) as
//! the multiaddrs Kubo listens on (`Addresses.API`, `Addresses.Gateway`), and the
//! multiaddr a running daemon announces in `<repo>/api` as the URL to call. URLs are
//! parsed by `reqwest::Url` (the WHATWG URL standard, what the RPC client connects to),
//! multiaddrs by the `multiaddr` crate (multiformats' reference implementation in Rust).

use crate::error::{Error, Result};
use multiaddr::{Multiaddr, Protocol};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// The multiaddr a managed Kubo listens on for the URL `url` of config field `field` of
/// the station's config file `file` (`streaming.config.json` `kubo_api`,
/// `health.config.json` `gateways`):
/// `http://127.0.0.1:5001` -> `/ip4/127.0.0.1/tcp/5001`, `http://[::1]:5001` ->
/// `/ip6/::1/tcp/5001`, `http://localhost:8080/` -> `/ip4/127.0.0.1/tcp/8080`.
///
/// Like the client that connects to it: a URL without a port means http's 80; a user
/// part (`http://user:pass@127.0.0.1:5001`, Kubo's `API.Authorizations` basic auth) and a
/// path are not part of where it listens.
///
/// Errors: [`Error::Config`] naming `file` and `field` for a URL that
/// does not parse, is not plain `http://`, or whose host is not loopback (a managed Kubo
/// only listens on loopback: 127.0.0.0/8, ::1 or `localhost`).
pub fn loopback_multiaddr(file: &str, field: &str, url: &str) -> Result<Multiaddr> {
    let bad = |message: String| Error::Config {
        file: PathBuf::from(file),
        field: field.to_string(),
        message,
    };
    let u = Url::parse(url).map_err(|e| bad(format!("`{url}` is not a URL: {e}")))?;
    if u.scheme() != "http" {
        return Err(bad(format!(
            "`{url}`: a managed Kubo listens on plain http://127.0.0.1:<port>"
        )));
    }
    let not_loopback = || {
        bad(format!(
            "`{url}`: a managed Kubo only listens on loopback (127.0.0.1 or [::1])"
        ))
    };
    let ip: IpAddr = match u.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        _ => return Err(not_loopback()),
    };
    if !ip.is_loopback() {
        return Err(not_loopback());
    }
    // Url leaves the port out when it is the scheme's default.
    let port = u.port_or_known_default().unwrap_or(80);
    Ok(Multiaddr::empty().with(ip.into()).with(Protocol::Tcp(port)))
}

/// The `http://` URL of an RPC API multiaddr as Kubo writes it to `<repo>/api`:
/// `/ip4/127.0.0.1/tcp/5001` -> `http://127.0.0.1:5001`, `/ip6/::1/tcp/5001` ->
/// `http://[::1]:5001`, `/dns4/localhost/tcp/5001` -> `http://localhost:5001`. `None` for
/// what is not TCP over an IP address or a DNS name (a unix socket, a bad multiaddr),
/// and for `/ip4/0.0.0.0` (`/ip6/::`), which names every interface and is dialled on
/// loopback.
pub fn multiaddr_http(m: &str) -> Option<String> {
    let m: Multiaddr = m.trim().parse().ok()?;
    let mut it = m.iter();
    let host = match it.next()? {
        Protocol::Ip4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        Protocol::Ip4(ip) => ip.to_string(),
        Protocol::Ip6(ip) if ip.is_unspecified() => "[::1]".to_string(),
        Protocol::Ip6(ip) => format!("[{ip}]"),
        Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n) => n.to_string(),
        _ => return None,
    };
    let Protocol::Tcp(port) = it.next()? else {
        return None;
    };
    Some(format!("http://{host}:{port}"))
}

/// Whether two URLs name the same loopback endpoint: the same scheme and port (an absent
/// one is the scheme's default), with `localhost`, `127.0.0.1` and `[::1]` one host.
/// Paths, user parts and a trailing `/` do not matter. Unparsable URLs compare as text.
pub fn same_endpoint(a: &str, b: &str) -> bool {
    fn key(u: &str) -> Option<(String, String, u16)> {
        let u = Url::parse(u).ok()?;
        let host = match u.host()? {
            url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => "loopback".into(),
            url::Host::Ipv4(ip) if ip.is_loopback() => "loopback".into(),
            url::Host::Ipv6(ip) if ip.is_loopback() => "loopback".into(),
            h => h.to_string(),
        };
        Some((u.scheme().to_string(), host, u.port_or_known_default()?))
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::keys::{HEALTH_FILE as HEALTH, STREAMING_FILE as STREAMING};

    #[test]
    fn managed_addresses_are_loopback_only() {
        let ma = |f: &str, u: &str| loopback_multiaddr(STREAMING, f, u).map(|m| m.to_string());
        assert_eq!(
            ma("kubo_api", "http://127.0.0.1:5001").unwrap(),
            "/ip4/127.0.0.1/tcp/5001"
        );
        assert_eq!(
            ma("gateway", "http://localhost:8080/").unwrap(),
            "/ip4/127.0.0.1/tcp/8080"
        );
        assert_eq!(
            ma("kubo_api", "http://[::1]:5001").unwrap(),
            "/ip6/::1/tcp/5001"
        );
        // No port: http's own, as the client connects. A user part (basic auth) and a
        // path are not where it listens.
        assert_eq!(
            ma("kubo_api", "http://127.0.0.1").unwrap(),
            "/ip4/127.0.0.1/tcp/80"
        );
        assert_eq!(
            ma("kubo_api", "http://station:secret@127.0.0.1:5001/api/v0").unwrap(),
            "/ip4/127.0.0.1/tcp/5001"
        );
        assert_eq!(
            ma("kubo_api", "http://LOCALHOST:5001").unwrap(),
            "/ip4/127.0.0.1/tcp/5001"
        );
        assert_eq!(
            ma("kubo_api", "http://127.0.0.2:5001").unwrap(),
            "/ip4/127.0.0.2/tcp/5001"
        );
        for (url, why) in [
            ("http://0.0.0.0:5001", "loopback"),
            ("http://192.168.1.2:5001", "loopback"),
            ("http://example.org:5001", "loopback"),
            ("https://127.0.0.1:5001", "plain http"),
            ("127.0.0.1:5001", "not a URL"),
            ("http://127.0.0.1:99999", "not a URL"),
        ] {
            let e = loopback_multiaddr(STREAMING, "kubo_api", url)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(e.contains("kubo_api"), "{url}: {e}");
            assert!(e.contains(STREAMING), "{url}: {e}");
        }
        let e = loopback_multiaddr(HEALTH, "gateways", "http://10.0.0.1:8080")
            .unwrap_err()
            .to_string();
        assert!(e.contains(HEALTH) && e.contains("gateways"), "{e}");
    }

    /// What Kubo writes to `<repo>/api` (repo/fsrepo/fsrepo.go `SetAPIAddr`: the
    /// listener's multiaddr as text, e.g. `/ip4/127.0.0.1/tcp/5001`).
    #[test]
    fn announced_api_multiaddrs_become_urls() {
        assert_eq!(
            multiaddr_http("/ip4/127.0.0.1/tcp/5001\n").as_deref(),
            Some("http://127.0.0.1:5001")
        );
        assert_eq!(
            multiaddr_http("/ip6/::1/tcp/5001").as_deref(),
            Some("http://[::1]:5001")
        );
        assert_eq!(
            multiaddr_http("/ip4/0.0.0.0/tcp/5001").as_deref(),
            Some("http://127.0.0.1:5001")
        );
        assert_eq!(
            multiaddr_http("/dns4/localhost/tcp/5001").as_deref(),
            Some("http://localhost:5001")
        );
        assert_eq!(multiaddr_http("/unix/tmp/kubo.sock"), None);
        assert_eq!(multiaddr_http("/ip4/127.0.0.1/udp/5001"), None);
        assert_eq!(multiaddr_http("/ip4/999.0.0.1/tcp/5001"), None);
        assert_eq!(multiaddr_http("garbage"), None);
    }

    #[test]
    fn loopback_spellings_are_one_endpoint() {
        assert!(same_endpoint(
            "http://127.0.0.1:5001",
            "http://localhost:5001/"
        ));
        assert!(same_endpoint("http://[::1]:5001", "http://127.0.0.1:5001"));
        assert!(same_endpoint("http://127.0.0.1", "http://127.0.0.1:80"));
        assert!(!same_endpoint(
            "http://127.0.0.1:5001",
            "http://127.0.0.1:5002"
        ));
        assert!(!same_endpoint(
            "http://127.0.0.1:5001",
            "https://127.0.0.1:5001"
        ));
    }
}
