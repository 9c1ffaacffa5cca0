//! `station`'s exit codes: each means one thing, so a script or a monitoring system can
//! tell "the stream failed its check" from "the command line was wrong".
//!
//! 0 is success and 2 a wrong command line (clap's `Error::exit` for usage errors, as
//! `grep` and `diff` use it); the check results sit on codes of their own, 3 and up, that
//! no error uses. A Nagios-style wrapper maps them (Nagios plugins read 0
//! OK, 1 WARNING, 2 CRITICAL: `health --once` → 0, 3 → 1, 4 → 2).

use ipfs_station::health::Status;

/// Success: the command did what it was asked; `health --once`: the stream is OK;
/// `status`: on air.
pub const OK: u8 = 0;
/// The command failed: an error stopped it (said on stderr), or part of the work failed
/// (`setup`: a source failed or Kubo could not be reached, each named in the report;
/// `bench`: a measurement could not be made).
pub const FAILED: u8 = 1;
/// The command line was wrong (clap's usage error: an unknown command or argument, a
/// missing or bad value). Set by clap itself; listed here so that no other outcome uses it.
pub const USAGE: u8 = 2;
/// `health --once`: the stream works, with something to look at (a public gateway down,
/// silence, clipping, lag).
pub const HEALTH_WARN: u8 = 3;
/// `health --once`: listeners hear nothing (Kubo down, no local gateway serves the
/// stream, the stream is stale or off air).
pub const HEALTH_FAIL: u8 = 4;
/// `status`: the station is off air (stopped, or never streamed).
pub const OFF_AIR: u8 = 5;

/// The exit codes as `--help` lists them (after the commands).
pub const HELP: &str = "\
Exit codes:
  0  ok (health --once: OK; status: on air)
  1  the command failed (an error, or setup with a failed source)
  2  usage error (the command line)
  3  health --once: WARN
  4  health --once: FAIL
  5  status: off air

Environment:
  IPFS_STATION_DIR  the station folder when --station is not given";

/// The exit code of a `health --once` result: [`OK`], [`HEALTH_WARN`] or [`HEALTH_FAIL`].
pub fn of_health(status: Status) -> u8 {
    match status {
        Status::Ok => OK,
        Status::Warn => HEALTH_WARN,
        Status::Fail => HEALTH_FAIL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code means one thing: no two outcomes share one, and `--help` lists each.
    #[test]
    fn codes_are_distinct_and_listed() {
        let codes = [OK, FAILED, USAGE, HEALTH_WARN, HEALTH_FAIL, OFF_AIR];
        let mut sorted = codes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len());
        for c in codes {
            assert!(HELP.contains(&format!("\n  {c}  ")), "{c} is not in --help");
        }
        assert_eq!(of_health(Status::Warn), HEALTH_WARN);
        assert_eq!(of_health(Status::Fail), HEALTH_FAIL);
        assert_eq!(of_health(Status::Ok), OK);
    }
}
