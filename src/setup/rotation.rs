//! The rotation: the air order of the station, jingles interleaved every N tracks.
//!
//! Rule (DESIGN.md "The station directory", issue #2): jingle 1, then `jingle_cycle`
//! tracks, jingle 2, then `jingle_cycle` tracks, ..., cycling through the jingles. A group
//! at the end may hold fewer tracks. Without jingles the rotation is the tracks alone;
//! without tracks there is no rotation. Jingles never count as tracks. The rotation loops:
//! after its last entry the first one plays again.

use crate::error::{Error, Result};
use crate::library::ItemKind;

/// One entry of the rotation, borrowing the item id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationEntry<'a> {
    /// The item id (e.g. `t-0123456789abcdef`).
    pub id: &'a str,
    /// Track or jingle.
    pub kind: ItemKind,
}

/// Builds the air order from tracks and jingles (each in library order).
///
/// Shape: `J1, T1..Tc, J2, Tc+1..T2c, ...` with `c = jingle_cycle`, jingles cycling
/// `J1..Jm, J1..`; the number of jingle slots is `ceil(tracks / c)`.
///
/// Errors: [`Error::Rotation`] when there are no tracks or `jingle_cycle` is 0.
pub fn build_rotation<'a, T, J>(
    tracks: &'a [T],
    jingles: &'a [J],
    jingle_cycle: u32,
) -> Result<Vec<RotationEntry<'a>>>
where
    T: AsRef<str>,
    J: AsRef<str>,
{
    if tracks.is_empty() {
        return Err(Error::Rotation(
            "no tracks: add music to the station's music folder (jingles alone are not a programme)".into(),
        ));
    }
    if jingle_cycle == 0 {
        return Err(Error::Rotation("jingle_cycle must be at least 1".into()));
    }
    let cycle = jingle_cycle as usize;
    let mut out = Vec::with_capacity(tracks.len() + tracks.len().div_ceil(cycle));
    for (group, chunk) in tracks.chunks(cycle).enumerate() {
        if !jingles.is_empty() {
            out.push(RotationEntry {
                id: jingles[group % jingles.len()].as_ref(),
                kind: ItemKind::Jingle,
            });
        }
        out.extend(chunk.iter().map(|t| RotationEntry {
            id: t.as_ref(),
            kind: ItemKind::Track,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(tracks: usize, jingles: usize, cycle: u32) -> Vec<String> {
        let t: Vec<String> = (1..=tracks).map(|i| format!("t{i}")).collect();
        let j: Vec<String> = (1..=jingles).map(|i| format!("j{i}")).collect();
        build_rotation(&t, &j, cycle)
            .unwrap()
            .iter()
            .map(|e| e.id.to_string())
            .collect()
    }

    #[test]
    fn no_jingles_is_tracks_only() {
        assert_eq!(ids(3, 0, 2), ["t1", "t2", "t3"]);
    }

    #[test]
    fn one_jingle_repeats_every_cycle() {
        assert_eq!(
            ids(5, 1, 2),
            ["j1", "t1", "t2", "j1", "t3", "t4", "j1", "t5"]
        );
    }

    #[test]
    fn three_jingles_cycle_in_order() {
        assert_eq!(
            ids(7, 3, 1),
            ["j1", "t1", "j2", "t2", "j3", "t3", "j1", "t4", "j2", "t5", "j3", "t6", "j1", "t7"]
        );
    }

    #[test]
    fn no_tracks_is_a_clear_error() {
        let j = ["j1"];
        let t: [&str; 0] = [];
        let e = build_rotation(&t, &j, 3).unwrap_err().to_string();
        assert!(e.contains("no tracks"), "{e}");
    }

    proptest! {
        #[test]
        fn rotation_rules_hold(tracks in 1usize..60, jingles in 0usize..4, cycle in 1u32..8) {
            let out = ids(tracks, jingles, cycle);
            let t: Vec<&String> = out.iter().filter(|s| s.starts_with('t')).collect();
            // Every track exactly once, in library order.
            let expect: Vec<String> = (1..=tracks).map(|i| format!("t{i}")).collect();
            prop_assert_eq!(t.iter().map(|s| s.as_str()).collect::<Vec<_>>(), expect.iter().map(|s| s.as_str()).collect::<Vec<_>>());
            let js: Vec<&String> = out.iter().filter(|s| s.starts_with('j')).collect();
            if jingles == 0 {
                prop_assert!(js.is_empty());
            } else {
                // Starts with a jingle; jingles cycle j1..jm; one per started group.
                prop_assert!(out[0].starts_with('j'));
                prop_assert_eq!(js.len(), tracks.div_ceil(cycle as usize));
                for (k, j) in js.iter().enumerate() {
                    let want = format!("j{}", k % jingles + 1);
                    prop_assert_eq!(j.as_str(), want.as_str());
                }
                // Never more than `cycle` tracks between jingles, never two jingles in a row.
                let mut run = 0;
                for w in out.windows(2) {
                    prop_assert!(!(w[0].starts_with('j') && w[1].starts_with('j')));
                }
                for s in &out {
                    if s.starts_with('t') { run += 1; prop_assert!(run <= cycle); } else { run = 0; }
                }
            }
        }
    }
}
