//! `station bench` as an operator runs it: the fresh setup measured against the bare
//! encode with the adds going to a Kubo, a clear refusal without one, and no free-text
//! row names.

use crate::support::*;
use std::process::Command;

fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(station_bin())
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

// Multi-threaded: the test blocks on the subprocess while the double serves it.
#[tokio::test(flavor = "multi_thread")]
async fn the_fresh_setup_is_measured_with_its_adds_and_refused_without_a_kubo() {
    let node = TestNode::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    for (i, f) in [330, 550].iter().enumerate() {
        test_support::gen_audio(
            &music.join(format!("Bench Artist - Song {i}.ogg")),
            &format!("sine=frequency={f}"),
            4.0,
            &["-c:a", "libvorbis"],
        );
    }
    let music = music.to_string_lossy().to_string();
    let api = node.api_url();
    let (code, out, err) = bench(&[
        "--only",
        "fresh-setup",
        "--music",
        &music,
        "--kubo-api",
        &api,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Two tracks and the three bundled jingles, every segment added.
    let row = out
        .lines()
        .find(|l| l.starts_with("| fresh setup of 5 files"))
        .unwrap_or_else(|| panic!("no fresh-setup row: {out}"));
    assert!(
        row.contains("segments added to Kubo") && row.contains("bare single-pass"),
        "{row}"
    );
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let ratio: f64 = cells[4].parse().unwrap();
    assert!(ratio.is_finite() && ratio > 0.0, "{row}");
    if let Some(d) = node.double() {
        assert!(d.add_requests() > 0, "the setup added nothing");
    }
    // No Kubo at the address: the row is not measured, said so, exit 1.
    let (code, out, err) = bench(&[
        "--only",
        "prechunk",
        "--music",
        &music,
        "--kubo-api",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("| fresh setup"), "{out}");
    assert!(
        err.contains("fresh setup: not measured") && err.contains("http://127.0.0.1:9"),
        "{err}"
    );
    // A row name that does not exist is a usage error, not an empty run.
    let (code, _, err) = bench(&["--only", "prechunck"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fresh-setup"), "{err}");
}
