//! What the station asks each service to hold (see the module doc of
//! [`crate::pinning`]): the library root and the listener page as pins, each with its
//! name, `meta` and this node's addresses as `origins`.

use super::api::Pin;
use super::request_name;
use crate::error::Result;
use crate::kubo::Kubo;
use crate::setup::pins::LibraryPins;
use crate::station::Station;
use std::collections::BTreeMap;

/// Origins sent at most (components/schemas/Origins: maxItems 20).
pub const MAX_ORIGINS: usize = 20;

/// What the station wants held: one subject's CID, name and meta.
#[derive(Debug, Clone)]
pub(super) struct Want {
    /// `library` or `page`.
    pub(super) subject: &'static str,
    /// The pin, `origins` empty until the pass reads Kubo's `id`.
    pub(super) pin: Pin,
}

/// The pins the station wants held: the library root of `local` (when setup made one)
/// and the page `page` (when given), named [`request_name`], with `meta` = `app`,
/// `station`, `subject`, and `library_version`, `made_at`, `segments` for the library
/// (`version` of the station for the page). `origins` are left empty.
pub(super) fn wants(station: &Station, local: &LibraryPins, page: Option<&str>) -> Vec<Want> {
    let key = &station.streaming.ipns_key;
    let mut wants = Vec::new();
    if let Some(root) = &local.root {
        let mut meta = BTreeMap::new();
        meta.insert("app".into(), "ipfs-station".into());
        meta.insert(
            "station".into(),
            crate::station::text::display_text(&station.name(), 200),
        );
        meta.insert("subject".into(), "library".into());
        meta.insert(
            "library_version".into(),
            root.links_hash.chars().take(16).collect(),
        );
        meta.insert("made_at".into(), root.pinned_at.to_rfc3339());
        meta.insert("segments".into(), root.segments.to_string());
        wants.push(Want {
            subject: "library",
            pin: Pin {
                cid: root.cid.clone(),
                name: Some(request_name(key, "library")),
                origins: Vec::new(),
                meta,
            },
        });
    }
    if let Some(page) = page {
        let mut meta = BTreeMap::new();
        meta.insert("app".into(), "ipfs-station".into());
        meta.insert(
            "station".into(),
            crate::station::text::display_text(&station.name(), 200),
        );
        meta.insert("subject".into(), "page".into());
        meta.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        wants.push(Want {
            subject: "page",
            pin: Pin {
                cid: page.to_string(),
                name: Some(request_name(key, "page")),
                origins: Vec::new(),
                meta,
            },
        });
    }
    wants
}

/// The listener page's wrapped directory as the streamer adds it
/// ([`crate::air::site::add_page`]: the same files, so the same CID): added (pinned)
/// again, which stores nothing new.
///
/// Errors: as [`Kubo::add_tree`].
pub async fn page_root(kubo: &Kubo) -> Result<String> {
    let added = kubo
        .add_tree(crate::air::listener::page_files()?, true)
        .await?;
    added
        .into_iter()
        .find(|a| a.name.is_empty())
        .map(|a| a.cid)
        .ok_or_else(|| crate::error::Error::KuboResponse {
            endpoint: "/api/v0/add".into(),
            message: "the reply has no wrapping directory".into(),
        })
}

/// This node's addresses for `origins`: those ending in `/p2p/<peer ID>` (the spec's
/// Provider hints: "All multiaddrs MUST end with /p2p/{peerID}"), public ones only when
/// it has any ("Avoid sending addresses from local networks"), else its local ones (a
/// Cluster peer on the same network can dial those); at most [`MAX_ORIGINS`].
pub(super) fn origins(addresses: &[String]) -> Vec<String> {
    let p2p: Vec<&String> = addresses.iter().filter(|a| a.contains("/p2p/")).collect();
    let local = |a: &str| {
        let host = a.split('/').nth(2).unwrap_or("");
        match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v)) => v.is_loopback() || v.is_private() || v.is_link_local(),
            Ok(std::net::IpAddr::V6(v)) => {
                v.is_loopback()
                    || (v.segments()[0] & 0xfe00) == 0xfc00
                    || (v.segments()[0] & 0xffc0) == 0xfe80
            }
            Err(_) => false,
        }
    };
    let public: Vec<String> = p2p
        .iter()
        .filter(|a| !local(a))
        .map(|a| a.to_string())
        .collect();
    let mut out = if public.is_empty() {
        p2p.iter().map(|a| a.to_string()).collect()
    } else {
        public
    };
    out.truncate(MAX_ORIGINS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_prefer_public_p2p_addresses() {
        let id = "/p2p/12D3KooWExample";
        let a = |s: &str| format!("{s}{id}");
        let all = vec![
            a("/ip4/127.0.0.1/tcp/4001"),
            a("/ip4/192.168.1.5/tcp/4001"),
            a("/ip4/203.0.113.7/tcp/4001"),
            "/ip4/203.0.113.7/tcp/4002".to_string(),
            a("/ip6/::1/tcp/4001"),
        ];
        assert_eq!(origins(&all), vec![a("/ip4/203.0.113.7/tcp/4001")]);
        let local = vec![a("/ip4/127.0.0.1/tcp/4001"), a("/ip4/192.168.1.5/tcp/4001")];
        assert_eq!(origins(&local), local);
        let many: Vec<String> = (0..30)
            .map(|i| a(&format!("/ip4/203.0.113.{i}/tcp/4001")))
            .collect();
        assert_eq!(origins(&many).len(), MAX_ORIGINS);
    }
}
