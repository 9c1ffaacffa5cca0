//! The `station` command line behaves like the tools around it (issue 24): exit codes that
//! each mean one thing, the station folder from `IPFS_STATION_DIR`, `--json` on `setup`
//! and `health --once`, shell completions.

use crate::support::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `station <args>` to its end, stdin closed, `IPFS_STATION_DIR` as given (unset for
/// `None`, whatever the test runner's environment holds).
fn station(args: &[&str], station_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(station_bin());
    cmd.args(args).stdin(Stdio::null());
    match station_dir {
        Some(d) => cmd.env("IPFS_STATION_DIR", d),
        None => cmd.env_remove("IPFS_STATION_DIR"),
    };
    cmd.output().unwrap()
}

/// A wrong command line is 2 with a usage line or a pointer to `--help`; an error of a well-formed command is 1;
/// `--help` lists every exit code and the environment variable.
#[test]
fn usage_errors_and_failures_exit_differently() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["statsu"][..],
        &["status", "--statoin", "/tmp/x"],
        &["bench", "--only", "windw"],
        &["health", "--json", "--station", "/tmp/x"],
    ] {
        let out = station(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", said(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Usage:") || err.contains("try '--help'"),
            "{args:?}: {}",
            said(&out)
        );
    }
    // Well formed, but the folder cannot be a station: a file stands where it would be.
    let file = tmp.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let out = station(&["status", "--station"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing value: {}",
        said(&out)
    );
    let out = Command::new(station_bin())
        .args(["setup", "--quiet", "--station"])
        .arg(file.join("station"))
        .env_remove("IPFS_STATION_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not-a-folder"),
        "the error names the folder: {}",
        said(&out)
    );
    let out = station(&["--help"], None);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "0  ok",
        "1  the command failed",
        "2  usage error",
        "3  health --once: WARN",
        "4  health --once: FAIL",
        "5  status: off air",
        "IPFS_STATION_DIR",
    ] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

/// `health --once` on a stream that is not on air fails its check: 4, not an error's 1
/// and not a usage error's 2; `--json` prints the report `health.json` holds.
#[test]
fn a_failed_health_check_has_a_code_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    init_station(&st);
    let out = run_station(&st, &["health", "--once"]);
    assert_eq!(out.status.code(), Some(4), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("health FAIL"));
    let out = run_station(&st, &["health", "--once", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", said(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", said(&out)));
    assert_eq!(v["status"], "fail", "{v}");
    assert!(
        v["reasons"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains("never streamed")))),
        "{v}"
    );
}

/// Every command that takes `--station` takes the folder from `IPFS_STATION_DIR`;
/// `--station` wins over it; `status` off air is 5.
#[test]
fn the_station_folder_comes_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    init_station(&st);
    let out = station(&["status"], Some(&st));
    assert_eq!(out.status.code(), Some(5), "{}", said(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&st.display().to_string()),
        "{}",
        said(&out)
    );
    let out = station(&["status", "--json"], Some(&st));
    assert_eq!(out.status.code(), Some(5), "{}", said(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["on_air"], false);
    let out = station(&["stop"], Some(&st));
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("was not running"));
    // --station wins: the environment names a folder that is not a station.
    let elsewhere = tmp.path().join("file");
    std::fs::write(&elsewhere, b"x").unwrap();
    let out = Command::new(station_bin())
        .args(["status", "--station"])
        .arg(&st)
        .env("IPFS_STATION_DIR", &elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", said(&out));
    // Neither: a usage error that names both ways.
    let out = station(&["status"], None);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--station"));
}

/// `setup --json`: the report on stdout, nothing else there; exit 0 when everything was
/// processed.
#[tokio::test(flavor = "multi_thread")]
async fn setup_prints_its_report_as_json() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let st = small_station(tmp.path(), &node.api_url());
    std::fs::write(st.join("music/broken.mp3"), b"not audio").unwrap();
    let out = tokio::task::spawn_blocking(move || run_station(&st, &["setup", "--json"]))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a source failed: {}",
        said(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", said(&out)));
    assert_eq!(v["tracks"], 4, "{v}");
    assert_eq!(v["jingles"], 2, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["missing_cids"], 0, "{v}");
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{v}");
    assert!(
        failures[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("broken.mp3"),
        "{v}"
    );
}

/// `station completions <shell>` prints a script the shell loads, naming the commands and
/// their flags.
#[test]
fn completions_for_the_usual_shells() {
    for (shell, marker, flag) in [
        ("bash", "_station()", "--station"),
        ("zsh", "#compdef station", "--station"),
        ("fish", "complete -c station", "-l station"),
    ] {
        let out = station(&["completions", shell], None);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", said(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains(flag), "{shell}");
        assert!(script.contains("history"), "{shell}");
    }
    let out = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let script = station(&["completions", "bash"], None).stdout;
            c.stdin.take().unwrap().write_all(&script)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "bash -n: {}", said(&out));
}

/// A reader that closes the pipe early (`station status | head -1`) ends nothing: the
/// command runs to its own exit code, without a panic.
#[test]
fn a_closed_stdout_is_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("station");
    init_station(&st);
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["health", "--once"],
    ] {
        let mut child = Command::new(station_bin())
            .args(args)
            .arg("--station")
            .arg(&st)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The read end closes before the program writes its first line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let want = if args[0] == "status" { 5 } else { 4 };
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
    }
}
