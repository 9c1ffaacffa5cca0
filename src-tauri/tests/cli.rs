//! The console's command line (issue 24), run as an operator runs it: clap parses it
//! before anything starts, so a misspelt argument is a usage error and the station folder
//! comes from `--station` or `IPFS_STATION_DIR`. None of these cases opens a window.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use test_support::said;

fn console(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ipfs-station-console"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("IPFS_STATION_DIR");
    cmd
}

/// `--statoin` used to open the last station silently; now it is exit 2 with a usage
/// line that names the right flag.
#[test]
fn a_misspelt_argument_is_a_usage_error() {
    let out = console(&["--statoin", "/tmp/x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage:"), "{}", said(&out));
    assert!(err.contains("--station"), "{}", said(&out));
    let out = console(&["--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("IPFS_STATION_DIR"), "{help}");
    assert!(help.contains("Exit codes"), "{help}");
    let out = console(&["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ipfs-station-console {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `IPFS_STATION_DIR` names the station: one that cannot be created (a file stands where
/// its parent would be) ends the console with exit 1 and names that folder, before any
/// window; `--station` wins over the variable.
#[test]
fn the_station_folder_comes_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("station");
    let out = console(&[])
        .env("IPFS_STATION_DIR", &bad)
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open a station"), "{}", said(&out));
    assert!(err.contains("a-file"), "{}", said(&out));
    let other = file.join("other");
    let out = console(&["--station"])
        .arg(&other)
        .env("IPFS_STATION_DIR", &bad)
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other"), "--station wins: {}", said(&out));
    assert!(!err.contains("a-file/station"), "{}", said(&out));
}
