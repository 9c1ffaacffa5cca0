//! The air clock walking a looping rotation: the window sliding by the rules of RFC 8216
//! for hours, a restart following the wall clock, a new programme taking over at an item
//! boundary, what airs next.

use crate::air::window::fixtures::{item, prog, rotation, t0};
use crate::air::window::{LiveWindow, Rotation, Schedule, ScheduleState, ScheduledSegment};
use crate::library::ItemKind;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// Checks one window against RFC 8216 and our own rules, and against the previous one.
fn check(
    w: &LiveWindow<'_>,
    now: DateTime<Utc>,
    prev: Option<&(u64, Vec<ScheduledSegment>)>,
    all_tags_before: &dyn Fn(u64) -> u64,
) {
    let segs = &w.segments;
    // Contiguous sequence numbers and air times.
    for p in segs.windows(2) {
        assert_eq!(p[1].sequence, p[0].sequence + 1);
        assert_eq!(p[1].air_time, p[0].end_time());
    }
    assert_eq!(w.media_sequence, segs[0].sequence);
    assert!(w.duration() >= 3.0 * w.target_duration as f64);
    for s in segs {
        assert!(s.duration.round() as u64 <= w.target_duration);
    }
    // Live edge: on air now.
    let live = w.live();
    assert!(
        live.air_time <= now && now < live.end_time(),
        "live edge {} not at {now}",
        live.air_time
    );
    // Discontinuity sequence = tags that slid out.
    assert_eq!(w.discontinuity_sequence, all_tags_before(w.media_sequence));
    if let Some((prev_seq, prev_segs)) = prev {
        assert!(w.media_sequence >= *prev_seq, "media sequence went back");
        // Only removal from the front and appending (RFC 8216 6.2.1).
        for s in prev_segs.iter().filter(|s| s.sequence >= w.media_sequence) {
            let now_s = segs
                .iter()
                .find(|x| x.sequence == s.sequence)
                .expect("segment vanished from the middle");
            assert_eq!(*now_s, s);
        }
    }
}

#[test]
fn window_slides_by_the_rules_for_hours() {
    let rot = rotation();
    let mut s = Schedule::new(prog(rot.clone()), t0());
    assert_eq!(s.target_duration(), 7);
    let (ws, la) = (12, 3);
    let mut all: std::collections::BTreeMap<u64, ScheduledSegment> = Default::default();
    let mut prev: Option<(u64, Vec<ScheduledSegment>)> = None;
    let mut now = t0();
    for tick in 0..1500i64 {
        s.advance(now, ws, la);
        let w = s.window(now, ws);
        for seg in &w.segments {
            all.insert(seg.sequence, (*seg).clone());
        }
        let tags_before =
            |seq: u64| all.range(..seq).filter(|(_, x)| x.discontinuity).count() as u64;
        check(&w, now, prev.as_ref(), &tags_before);
        // A new stream's window grows from the live segment and its lookahead (at
        // least three target durations) to the window size, never back-dated.
        assert!(w.segments.len() <= ws);
        assert!(w.segments[0].air_time >= t0());
        if tick > ws as i64 {
            assert_eq!(w.segments.len(), ws);
            assert_eq!(
                w.segments.len() - 1 - w.live_index,
                la,
                "lookahead after warm-up"
            );
        }
        prev = Some((
            w.media_sequence,
            w.segments.iter().map(|x| (*x).clone()).collect(),
        ));
        now += Duration::milliseconds(5_000 + (tick % 3) * 700);
    }
    // Every item starts with a discontinuity; items follow the rotation order.
    let firsts: Vec<&str> = all
        .values()
        .filter(|x| x.discontinuity)
        .map(|x| x.item_id.as_str())
        .take(10)
        .collect();
    assert_eq!(
        firsts,
        ["j1", "t1", "t2", "j1", "t3", "j1", "t1", "t2", "j1", "t3"]
    );
}

#[test]
fn restart_continues_the_sequence_and_follows_the_wall_clock() {
    let rot = rotation();
    let mut s = Schedule::new(prog(rot.clone()), t0());
    let mut now = t0();
    for _ in 0..40 {
        s.advance(now, 12, 3);
        now += Duration::seconds(6);
    }
    let before = s.window(now - Duration::seconds(6), 12).media_sequence;
    let state: ScheduleState =
        serde_json::from_str(&serde_json::to_string(&s.state()).unwrap()).unwrap();
    // Quick restart: same window continues.
    let mut r = Schedule::resume(state.clone(), prog(rot.clone())).unwrap();
    r.advance(now, 12, 3);
    let w = r.window(now, 12);
    assert!(w.media_sequence >= before);
    assert!(w.live().air_time <= now && now < w.live().end_time());
    // Five minutes off air: sequence continues as if aired; live edge at the wall clock.
    let later = now + Duration::seconds(300);
    let mut r = Schedule::resume(state.clone(), prog(rot.clone())).unwrap();
    r.advance(later, 12, 3);
    let w2 = r.window(later, 12);
    assert!(
        w2.media_sequence > before + 40,
        "{} vs {before}",
        w2.media_sequence
    );
    assert!(w2.live().air_time <= later && later < w2.live().end_time());
    // Three weeks off air: bounded work, same rules.
    let weeks = now + Duration::days(21);
    let mut r = Schedule::resume(state, prog(rot.clone())).unwrap();
    let t = std::time::Instant::now();
    r.advance(weeks, 12, 3);
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    let w3 = r.window(weeks, 12);
    assert!(w3.live().air_time <= weeks && weeks < w3.live().end_time());
    let per_loop: f64 = rot
        .entries
        .iter()
        .flat_map(|e| e.segments.iter())
        .map(|x| x.duration)
        .sum();
    let loops = 21.0 * 86400.0 / per_loop;
    let segs_per_loop = rot.entries.iter().map(|e| e.segments.len()).sum::<usize>() as f64;
    let expect = before as f64 + loops * segs_per_loop;
    assert!(
        (w3.media_sequence as f64 - expect).abs() < 2.0 * segs_per_loop,
        "{} vs {expect}",
        w3.media_sequence
    );
    // Discontinuity sequence consistent with a tag per item.
    assert!(w3.discontinuity_sequence > w2.discontinuity_sequence);
}

#[test]
fn new_rotation_takes_over_at_the_next_unscheduled_item_boundary() {
    let rot = rotation();
    let mut s = Schedule::new(prog(rot.clone()), t0());
    // Inside t1's third segment: the lookahead of 2 reaches t2's first segment.
    let now = t0() + Duration::seconds(20);
    s.advance(now, 6, 2);
    let scheduled: Vec<ScheduledSegment> = s.segments().cloned().collect();
    let new = Arc::new(Rotation::new(vec![
        item("n1", ItemKind::Track, &[5.0, 5.0]),
        item("n2", ItemKind::Track, &[5.0]),
    ]));
    s.set_programme(prog(new)).unwrap();
    assert!(s.has_pending_programme());
    let mut later = now;
    let mut seen = Vec::new();
    for _ in 0..20 {
        later += Duration::seconds(5);
        s.advance(later, 6, 2);
        for x in s.segments() {
            if !seen
                .iter()
                .any(|y: &ScheduledSegment| y.sequence == x.sequence)
            {
                seen.push(x.clone());
            }
        }
    }
    // What was scheduled before the reload aired unchanged.
    for x in &scheduled {
        if let Some(y) = seen.iter().find(|y| y.sequence == x.sequence) {
            assert_eq!(x, y);
        }
    }
    // The item in progress finished; then the new rotation started on a boundary.
    let last_old = scheduled.last().unwrap();
    let first_new = seen.iter().find(|x| x.item_id.starts_with('n')).unwrap();
    assert!(first_new.discontinuity);
    let before_new: Vec<&ScheduledSegment> = seen
        .iter()
        .filter(|x| x.sequence < first_new.sequence)
        .collect();
    let old_item_segments = before_new
        .iter()
        .filter(|x| x.item_id == last_old.item_id)
        .count();
    assert!(old_item_segments >= 1);
    // The item in progress is not in the new rotation: it goes on from the same
    // position (index) in the new one, then cycles in order.
    let ids: Vec<&str> = seen
        .iter()
        .filter(|x| x.sequence >= first_new.sequence && x.discontinuity)
        .map(|x| x.item_id.as_str())
        .take(4)
        .collect();
    assert_eq!(ids, ["n2", "n1", "n2", "n1"]);
}

#[test]
fn new_rotation_continues_after_the_item_in_progress_when_it_is_kept() {
    let mut s = Schedule::new(prog(rotation()), t0());
    let now = t0() + Duration::seconds(20);
    s.advance(now, 6, 2);
    // Scheduled so far: j1, t1 x4, t2 seg 0 -> t2 is in progress.
    assert_eq!(s.segments().last().unwrap().item_id, "t2");
    let t2 = rotation().entries[2].clone();
    let new = Arc::new(Rotation::new(vec![
        item("n1", ItemKind::Track, &[5.0]),
        t2,
        item("n2", ItemKind::Track, &[5.0]),
    ]));
    s.set_programme(prog(new)).unwrap();
    s.advance(now + Duration::seconds(60), 6, 2);
    let order: Vec<&str> = s
        .segments()
        .filter(|x| x.discontinuity)
        .map(|x| x.item_id.as_str())
        .collect();
    let pos = order.iter().position(|x| *x == "n2").unwrap();
    assert_eq!(&order[pos..pos + 3], ["n2", "n1", "t2"]);
}

#[test]
fn next_up_lists_upcoming_items_in_order() {
    let mut s = Schedule::new(prog(rotation()), t0());
    s.advance(t0(), 6, 2);
    let up: Vec<String> = s.next_up(t0(), 6).into_iter().map(|x| x.item_id).collect();
    assert_eq!(up, ["t1", "t2", "j1", "t3", "j1", "t1"]);
    let times: Vec<DateTime<Utc>> = s.next_up(t0(), 3).into_iter().map(|x| x.air_time).collect();
    assert_eq!(times[0], t0() + Duration::milliseconds(4100));
    assert_eq!(
        times[1],
        t0() + Duration::milliseconds(4100 + 6006 * 3 + 2500)
    );
}
