//! Empty fields, field order and exact bodies of the commands the station uses, as Go's
//! `encoding/json` writes Kubo's output types: struct fields in declaration order, map
//! keys sorted, `json:",omitempty"` fields absent when empty (0, "", nil/empty slice or
//! map), fields without the tag always present (`null` for a nil slice).
//!
//! Checked in Kubo v0.34.1 (go-ipfs-cmds v0.14.1, boxo v0.29.1):
//!
//! | command | type (file) | omitempty fields | always present |
//! |---|---|---|---|
//! | `pin/ls` | `PinLsList` (core/commands/pin/pin.go) | `Keys` (no pins: `{}`) | - |
//! | `pin/ls` values | `PinLsType` (same) | - | `Type`, `Name` |
//! | `pin/ls?stream` | `PinLsObject` (same) | `Cid`, `Name`, `Type` | - |
//! | `pin/add` | `AddPinOutput` (same) | `Pins`, `Progress` | - |
//! | `pin/rm` | `PinOutput` (same) | - | `Pins` |
//! | `key/list`, `key/rm` | `KeyOutputList` (core/commands/keystore.go) | - | `Keys` |
//! | `key/gen`, list items | `KeyOutput` (same) | - | `Name`, `Id` |
//! | `add` lines | `AddEvent` (core/commands/add.go) | `Hash`, `Bytes`, `Size`, `Mode`, `Mtime`, `MtimeNsecs` | `Name` |
//! | `id` | `IdOutput` (core/commands/id.go) | - | `ID`, `PublicKey`, `Addresses`, `AgentVersion`, `Protocols` (nil offline: `null`) |
//! | `name/publish` | `IpnsEntry` (core/commands/name/name.go) | - | `Name`, `Value` |
//! | `name/resolve` | `ResolvedPath` (core/commands/name/ipns.go) | - | `Path` |
//! | `version` | `VersionInfo` (version.go) | - | `Version`, `Commit` (`""` without the ldflag), `Repo`, `System`, `Golang` |
//! | errors | `cmds.Error` (go-ipfs-cmds error.go) | - | `Message`, `Code`, `Type` |
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, last_hash, post};
use kubo_double::KuboDouble;

/// core/commands/pin/pin.go `listPinCmd.Run` accumulates into `lgcList` and emits
/// `PinLsList{Keys: lgcList}`; `Keys` is `json:",omitempty"`, so a node with no
/// (matching) pins answers `{}`. With pins, `PinLsType{Type, Name}` keeps both fields.
/// `stream=true` emits `PinLsObject` lines (`Cid`, `Name`, `Type` all omitempty): no
/// pins is an empty NDJSON body.
#[tokio::test]
async fn pin_ls_without_pins_is_an_empty_object() {
    let d = KuboDouble::start().await.unwrap();
    for q in ["pin/ls", "pin/ls?type=recursive", "pin/ls?type=all"] {
        let (s, h, body) = post(&d, q).await;
        assert_eq!((s, body.as_str()), (200, "{}\n"), "{q}");
        assert!(!h.contains_key("x-chunked-output"));
    }
    let (s, h, body) = post(&d, "pin/ls?stream=true").await;
    assert_eq!((s, body.as_str()), (200, ""));
    assert_eq!(h["x-chunked-output"], "1");

    let (_, out) = add(&d, &[("a.txt", b"hello world")], "").await;
    let cid = last_hash(&out);
    assert_eq!(
        post(&d, "pin/ls?type=recursive").await.2,
        format!("{{\"Keys\":{{\"{cid}\":{{\"Type\":\"recursive\",\"Name\":\"\"}}}}}}\n")
    );
    assert_eq!(
        post(&d, "pin/ls?stream=true").await.2,
        format!("{{\"Cid\":\"{cid}\",\"Type\":\"recursive\"}}\n")
    );
    // Still `{}` when nothing matches the type (the double keeps no direct pins).
    assert_eq!(post(&d, "pin/ls?type=direct").await.2, "{}\n");
}

/// `AddPinOutput{Pins, Progress}` are both omitempty (core/commands/pin/pin.go): the
/// plain reply is `{"Pins":[...]}`; with `progress=true` the Run uses `res.Emit`, so
/// NDJSON (`X-Chunked-Output`), a `{"Progress":n}` line only when n != 0, then the pins.
/// `pin/rm` answers `PinOutput{Pins}` (no tag).
#[tokio::test]
async fn pin_add_and_rm_bodies() {
    let d = KuboDouble::start().await.unwrap();
    let (_, out) = add(&d, &[("a.txt", b"hello world")], "pin=false").await;
    let cid = last_hash(&out);
    let (s, _, body) = post(&d, &format!("pin/add?arg={cid}")).await;
    assert_eq!((s, body), (200, format!("{{\"Pins\":[\"{cid}\"]}}\n")));
    let (s, h, body) = post(&d, &format!("pin/add?arg={cid}&progress=true")).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-chunked-output"], "1");
    assert_eq!(
        body,
        format!("{{\"Progress\":1}}\n{{\"Pins\":[\"{cid}\"]}}\n")
    );
    let (s, _, body) = post(&d, &format!("pin/rm?arg={cid}")).await;
    assert_eq!((s, body), (200, format!("{{\"Pins\":[\"{cid}\"]}}\n")));
}

/// `KeyOutputList{Keys}` and `KeyOutput{Name, Id}` carry no tags
/// (core/commands/keystore.go): fields in that order, self first.
#[tokio::test]
async fn key_bodies_in_struct_order() {
    let d = KuboDouble::start().await.unwrap();
    let (_, _, gen) = post(&d, "key/gen?arg=radio").await;
    let radio: serde_json::Value = serde_json::from_str(&gen).unwrap();
    assert!(gen.starts_with("{\"Name\":\"radio\",\"Id\":\"k51"), "{gen}");
    let (_, _, list) = post(&d, "key/list").await;
    assert!(list.starts_with("{\"Keys\":[{\"Name\":\"self\",\"Id\":\"k51"));
    assert!(list.ends_with(&format!(
        "{{\"Name\":\"radio\",\"Id\":\"{}\"}}]}}\n",
        radio["Id"].as_str().unwrap()
    )));
}

/// `AddEvent` (core/commands/add.go): `Name` always, the rest omitempty. Progress lines
/// carry no Hash/Size; `Bytes` 0 is omitted, so an empty file's progress line is
/// `{"Name":"e"}`; core/coreunix/add.go `progressReader.Read` reports each 256 KiB and
/// the EOF read, so an exact multiple of 256 KiB repeats the total. No `Mode`/`Mtime`
/// unless the part carries them.
#[tokio::test]
async fn add_lines_omit_empty_fields() {
    let d = KuboDouble::start().await.unwrap();
    let (_, body) = add(&d, &[("e", b"")], "progress=true").await;
    assert_eq!(
        body,
        "{\"Name\":\"e\"}\n{\"Name\":\"e\",\"Hash\":\"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH\",\"Size\":\"6\"}\n"
    );
    let big = vec![7u8; 262_144];
    let (_, body) = add(&d, &[("b", &big)], "progress=true").await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "{\"Name\":\"b\",\"Bytes\":262144}",
            "{\"Name\":\"b\",\"Bytes\":262144}"
        ]
    );
    assert_eq!(lines.len(), 3);
    let (_, body) = add(&d, &[("b", &big[..300_000.min(big.len())])], "").await;
    assert!(!body.contains("Bytes") && !body.contains("Mode") && !body.contains("Mtime"));
}

/// `IdOutput` has no omitempty (core/commands/id.go); `printSelf` fills `Addresses` and
/// `Protocols` only when `node.PeerHost != nil`, which an `--offline` daemon lacks: both
/// are `null`. AgentVersion is version.go `GetUserAgentVersion`, `kubo/0.34.1/` with an
/// empty CurrentCommit.
#[tokio::test]
async fn id_offline_has_null_addresses_and_protocols() {
    let d = KuboDouble::start().await.unwrap();
    let (_, _, body) = post(&d, "id").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["ID"].as_str().unwrap();
    let pk = v["PublicKey"].as_str().unwrap();
    assert_eq!(
        body,
        format!("{{\"ID\":\"{id}\",\"PublicKey\":\"{pk}\",\"Addresses\":null,\"AgentVersion\":\"kubo/0.34.1/\",\"Protocols\":null}}\n")
    );
    d.faults().set_online(Some(std::time::Duration::ZERO));
    let v: serde_json::Value = serde_json::from_str(&post(&d, "id").await.2).unwrap();
    assert!(v["Addresses"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(v["Protocols"].as_array().is_some_and(|a| !a.is_empty()));
}

/// version.go `VersionInfo` has no json tags, so `Commit` is present and `""` for a build
/// without the Makefile's `-X CurrentCommit` (cmd/ipfs/Rules.mk). Repo is
/// repo/fsrepo/fsrepo.go `RepoVersion` = 16 at v0.34.1. `IpnsEntry{Name, Value}` and
/// `ResolvedPath{Path}` carry no tags. `cmds.Error` is `{Message, Code, Type}`.
#[tokio::test]
async fn version_publish_resolve_and_error_bodies() {
    let d = KuboDouble::start().await.unwrap();
    let (_, _, v) = post(&d, "version").await;
    assert!(
        v.starts_with("{\"Version\":\"0.34.1\",\"Commit\":\"\",\"Repo\":\"16\",\"System\":\""),
        "{v}"
    );
    assert!(v.ends_with("\"Golang\":\"go1.24.2\"}\n"));
    let (_, out) = add(&d, &[("a", b"x")], "").await;
    let cid = last_hash(&out);
    let (_, _, p) = post(&d, &format!("name/publish?arg={cid}&allow-offline=true")).await;
    let name = serde_json::from_str::<serde_json::Value>(&p).unwrap()["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        p,
        format!("{{\"Name\":\"{name}\",\"Value\":\"/ipfs/{cid}\"}}\n")
    );
    assert_eq!(
        post(&d, &format!("name/resolve?arg={name}")).await.2,
        format!("{{\"Path\":\"/ipfs/{cid}\"}}\n")
    );
    let (s, _, e) = post(&d, "name/resolve?arg=k51qzi5uqu5dnobody").await;
    assert_eq!(
        (s, e.as_str()),
        (
            500,
            "{\"Message\":\"could not resolve name\",\"Code\":0,\"Type\":\"error\"}\n"
        )
    );
}
