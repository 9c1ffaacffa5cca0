//! The order prechunk jobs start in: what airs first, then the longest first.

/// Reorders `jobs`, given in air order: the first `parallel` stay first (they go on air
/// first, side by side), the rest go longest first by `cost` (any measure of encode
/// time: seconds of audio, bytes of source), ties kept in air order. No long encode then starts last while the other workers sit
/// idle, so the whole setup ends sooner (longest processing time first: R. L. Graham,
/// "Bounds on multiprocessing timing anomalies", 1969, within 4/3 of the best). An item
/// the streamer reaches before it lands is not in the programme yet and joins it when
/// it does.
pub fn longest_after_first<T>(jobs: &mut [T], parallel: usize, cost: impl Fn(&T) -> f64) {
    let first = parallel.max(1).min(jobs.len());
    jobs[first..].sort_by(|a, b| cost(b).total_cmp(&cost(a)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_airs_first_stays_first_and_the_rest_go_longest_first() {
        // Air order: jingle 1, track 1, track 2, jingle 2, track 3, jingle 3.
        let mut jobs = vec![
            ("j1", 4.0),
            ("t1", 210.0),
            ("t2", 224.0),
            ("j2", 5.0),
            ("t3", 129.0),
            ("j3", f64::NAN),
        ];
        longest_after_first(&mut jobs, 2, |j| j.1);
        let ids: Vec<&str> = jobs.iter().map(|j| j.0).collect();
        // NaN (a duration the probe could not give) sorts first: its length is unknown.
        assert_eq!(ids, ["j1", "t1", "j3", "t2", "t3", "j2"]);
        let mut one = vec![("a", 1.0), ("b", 3.0), ("c", 2.0), ("d", 2.0)];
        longest_after_first(&mut one, 0, |j| j.1);
        assert_eq!(
            one.iter().map(|j| j.0).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        let mut none: Vec<(&str, f64)> = Vec::new();
        longest_after_first(&mut none, 4, |j| j.1);
        assert!(none.is_empty());
    }
}
