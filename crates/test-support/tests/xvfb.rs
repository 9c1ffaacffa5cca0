//! The X server the console tests run on: found on a machine that ran the suite many
//! times before, and gone with its socket when the test ends.
//!
//! CI once failed with "Xvfb did not start on any display from :90 to :139": every
//! earlier run had SIGKILLed its Xvfb, each left `/tmp/.X<n>-lock` and
//! `/tmp/.X11-unix/X<n>` behind, and the helper skipped every number with such a file.
//! Now Xvfb picks the number itself (`-displayfd`, Xorg `os/connection.c`) and is ended
//! with SIGTERM.

use std::path::Path;
use test_support::{start_xvfb, ProcessGuard};

fn socket(display: &str) -> String {
    format!("/tmp/.X11-unix/X{}", display.trim_start_matches(':'))
}

#[test]
fn xvfb_starts_over_what_killed_servers_left_and_leaves_nothing_behind() {
    let mut guard = ProcessGuard::new();
    let first = start_xvfb(&mut guard);
    assert!(
        Path::new(&socket(&first)).exists(),
        "{first}: no socket while running"
    );
    drop(guard);
    assert!(
        !Path::new(&socket(&first)).exists(),
        "{first}: socket left behind"
    );

    // What a SIGKILLed server leaves: its socket file (nobody listening on it) and a lock
    // naming a dead pid.
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let n = first.trim_start_matches(':');
    let stale_lock = format!("/tmp/.X{n}-lock");
    let had_lock = Path::new(&stale_lock).exists();
    if !had_lock {
        std::fs::write(&stale_lock, format!("{dead:>10}\n")).unwrap();
    }
    drop(std::os::unix::net::UnixListener::bind(socket(&first)).unwrap());

    let mut guard = ProcessGuard::new();
    let second = start_xvfb(&mut guard);
    // The lowest free number is free again: the leftovers do not take it (a server
    // started elsewhere on this machine meanwhile would, and fail this assertion).
    assert_eq!(
        second, first,
        "Xvfb did not reuse the display a dead server left"
    );
    let ok = std::process::Command::new("xdpyinfo")
        .args(["-display", &second])
        .output()
        .unwrap_or_else(|e| panic!("xdpyinfo (scripts/deps.sh --test installs it): {e}"));
    assert!(ok.status.success(), "{second} does not answer X clients");
    drop(guard);
    assert!(
        !Path::new(&socket(&second)).exists(),
        "{second}: socket left behind"
    );
    if !had_lock {
        let _ = std::fs::remove_file(&stale_lock);
    }
}
