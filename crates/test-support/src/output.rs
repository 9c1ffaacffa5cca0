//! A finished process's output, for a failed assertion's message.

use std::process::Output;

/// `out` as one text: its exit code, then stdout and stderr under labels (lossy UTF-8),
/// so a failed assertion on a command shows everything it said.
pub fn said(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
