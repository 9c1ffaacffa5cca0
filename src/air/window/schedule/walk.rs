//! How the air clock walks the programme: the cursor steps one segment at a time (to the
//! next item at the end of one or when the block changes, or cut by a hard block),
//! [`Schedule::advance`] extends and trims the schedule for the wall clock (skipping
//! ahead after time off air), and a copy of the cursor walks ahead to tell what airs when
//! ([`Schedule::items_between`]).

use super::{AirItem, Schedule, ScheduledSegment};
use crate::air::window::seconds;
use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

/// One step of the cursor: the segment placed.
struct Step {
    /// Index of the segment in the cursor's item.
    segment: usize,
    sequence: u64,
    air_time: DateTime<Utc>,
    discontinuity: bool,
}

/// Most cursor steps one walk ahead takes (a week of 1 s segments is 604,800).
const MAX_WALK_STEPS: usize = 2_000_000;

impl Schedule {
    /// Moves the cursor to the next entry of the rotation of the block on air at its air
    /// time (switching to a pending programme first, and keeping the position of the
    /// block it leaves).
    fn next_item(&mut self) {
        if let Some(new) = self.pending.take() {
            let rot = new.rotation_for(&self.cursor.block).1;
            let n = rot.entries.len();
            self.cursor.next_entry = rot
                .entries
                .iter()
                .position(|e| e.id == self.cursor.item.id)
                .map_or(self.cursor.next_entry % n, |p| (p + 1) % n);
            self.programme = new;
        }
        let block = self.programme.block_at(self.cursor.air_time);
        if block != self.cursor.block {
            let block = block.to_string();
            let left = std::mem::replace(&mut self.cursor.block, block.clone());
            self.cursor.positions.insert(left, self.cursor.next_entry);
            self.cursor.next_entry = self.cursor.positions.remove(&block).unwrap_or(0);
        }
        let rot = self.programme.rotation_for(&self.cursor.block).1;
        let n = rot.entries.len();
        let idx = self.cursor.next_entry % n;
        self.cursor.item = rot.entries[idx].as_ref().clone();
        self.cursor.segment = 0;
        self.cursor.next_entry = (idx + 1) % n;
    }

    /// Whether a hard block starts by the cursor's air time, mid-item: the item is cut
    /// at this segment boundary.
    fn hard_cut_due(&self) -> bool {
        let p = &self.programme;
        match p.timetable() {
            Some(t) if t.has_hard_blocks() => {
                let b = p.block_at(self.cursor.air_time);
                b != self.cursor.block && p.is_hard(b)
            }
            _ => false,
        }
    }

    /// Advances the cursor by one segment (to the next item at the end of one, or when
    /// a hard block cuts it).
    fn step(&mut self) -> Step {
        if self.cursor.segment >= self.cursor.item.segments.len()
            || (self.cursor.segment > 0 && self.hard_cut_due())
        {
            self.next_item();
        }
        let c = &mut self.cursor;
        let segment = c.segment;
        let discontinuity = segment == 0 || c.resync;
        c.resync = false;
        if discontinuity {
            c.discontinuity_count += 1;
        }
        let step = Step {
            segment,
            sequence: c.sequence,
            air_time: c.air_time,
            discontinuity,
        };
        c.sequence += 1;
        c.air_time += seconds(c.item.segments[segment].duration);
        c.segment += 1;
        step
    }

    /// Places the next segment.
    fn push_next(&mut self) {
        let st = self.step();
        let c = &self.cursor;
        let seg = &c.item.segments[st.segment];
        self.segments.push_back(ScheduledSegment {
            sequence: st.sequence,
            air_time: st.air_time,
            duration: seg.duration,
            item_id: c.item.id.clone(),
            title: c.item.title.clone(),
            kind: c.item.kind,
            file: seg.file.clone(),
            cid: seg.cid.clone(),
            discontinuity: st.discontinuity,
            discontinuity_count: c.discontinuity_count,
            block: c.block.clone(),
            item_start: Some(st.segment == 0),
        });
    }

    /// After a long silence (station off for longer than a rotation loop), skips whole
    /// loops arithmetically: sequence and discontinuity counts advance as if they aired.
    /// Only without a timetable (with one, the blocks decide what airs when).
    fn skip_loops(&mut self, until: DateTime<Utc>) {
        if self.programme.timetable().is_some() {
            return;
        }
        let rot = self.programme.default_rotation().clone();
        let n = rot.entries.len();
        let at_start_of_entry = self.pending.is_none()
            && self.cursor.segment == 0
            && rot.entries[(self.cursor.next_entry + n - 1) % n].id == self.cursor.item.id;
        if !at_start_of_entry {
            return;
        }
        let (loop_d, loop_segs, loop_items) = rot.loop_totals();
        if loop_d <= Duration::zero() {
            return;
        }
        let gap = until - self.cursor.air_time;
        if gap <= loop_d {
            return;
        }
        let loops = (gap.num_microseconds().unwrap_or(i64::MAX)
            / loop_d.num_microseconds().unwrap_or(i64::MAX).max(1)) as u64;
        if loops == 0 {
            return;
        }
        self.cursor.sequence += loops * loop_segs;
        self.cursor.discontinuity_count += loops * loop_items;
        self.cursor.air_time += loop_d * loops as i32;
        self.segments.clear();
    }

    /// Extends and trims the schedule for wall-clock `now`: after it, the live edge
    /// exists, at least `lookahead` segments follow it, and the window of `window_size`
    /// segments is scheduled. Segments before the window start are dropped (they slid
    /// out). Work is bounded after weeks off air: whole loops are skipped arithmetically
    /// without a schedule, and the cursor walks without placing segments with one.
    pub fn advance(&mut self, now: DateTime<Utc>, window_size: usize, lookahead: usize) {
        let window_size = window_size.max(1);
        let lookahead = lookahead.min(window_size - 1);
        // Far behind the wall clock (station was off): drop the past, skip ahead.
        let history = (window_size - lookahead) as i32;
        let horizon = now - seconds(self.programme.longest_segment().max(1.0)) * history;
        if self.cursor.air_time < horizon {
            if self.programme.timetable().is_some() {
                let mut steps = 0;
                while self.cursor.air_time < horizon && steps < MAX_WALK_STEPS {
                    self.step();
                    steps += 1;
                }
                self.segments.clear();
            } else {
                // Finish the current item first so the loop skip starts on a boundary.
                while self.cursor.segment < self.cursor.item.segments.len()
                    && self.cursor.air_time < horizon
                {
                    self.push_next();
                    self.trim_before(horizon, window_size);
                }
                if self.cursor.segment >= self.cursor.item.segments.len()
                    && self.cursor.air_time < horizon
                {
                    self.next_item();
                }
                self.skip_loops(horizon);
            }
            // What was skipped never aired: the next segment starts afresh.
            self.cursor.resync = true;
        }
        // The live edge and the lookahead.
        loop {
            let future = self
                .segments
                .iter()
                .rev()
                .take_while(|s| s.air_time > now)
                .count();
            if self.cursor.air_time <= now || future < lookahead {
                self.push_next();
                self.trim_before(horizon, window_size);
            } else {
                break;
            }
        }
        // Window start: `window_size - lookahead - 1` segments before the live edge, or
        // the oldest kept (a new stream has aired nothing yet: its window is the live
        // segment and the lookahead, growing as it airs, never back-dated). A window
        // always lasts three target durations (RFC 8216 section 6.2.2), from future
        // segments when the lookahead is that short.
        let live = self.live_index(now);
        let start = live.saturating_sub(window_size - lookahead - 1);
        self.segments.drain(..start);
        let least = 3.0 * self.target_duration as f64;
        while self.segments.len() < window_size
            && self.segments.iter().map(|s| s.duration).sum::<f64>() < least
        {
            self.push_next();
        }
    }

    /// Drops segments that ended before `horizon`, keeping at most `keep` of them.
    fn trim_before(&mut self, horizon: DateTime<Utc>, keep: usize) {
        while self.segments.len() > keep
            && self
                .segments
                .front()
                .is_some_and(|s| s.end_time() < horizon)
        {
            self.segments.pop_front();
        }
    }

    /// Index of the newest scheduled segment whose air time has come (0 if none has).
    fn live_index(&self, now: DateTime<Utc>) -> usize {
        self.segments
            .iter()
            .rposition(|s| s.air_time <= now)
            .unwrap_or(0)
    }

    /// The items that air (or aired) at some instant of `[from, until)`, in air order,
    /// at most `max`: first from the scheduled segments, then by walking a copy of the
    /// cursor over the programme (blocks, hard cuts and pending programmes included), so
    /// the times are the ones listeners will hear. Work is proportional to the
    /// segments walked (at most two million).
    pub fn items_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        max: usize,
    ) -> Vec<AirItem> {
        let mut out: Vec<AirItem> = Vec::new();
        let mut cur: Option<AirItem> = None;
        let close = |cur: &mut Option<AirItem>, out: &mut Vec<AirItem>| {
            if let Some(c) = cur.take() {
                if c.end_time() > from && c.air_time < until {
                    out.push(c);
                }
            }
        };
        for s in &self.segments {
            if s.starts_item() || cur.as_ref().is_none_or(|c| c.item_id != s.item_id) {
                close(&mut cur, &mut out);
                if out.len() >= max {
                    return out;
                }
                cur = Some(AirItem {
                    item_id: s.item_id.clone(),
                    title: s.title.clone(),
                    kind: s.kind,
                    block: s.block.clone(),
                    air_time: s.air_time,
                    duration: 0.0,
                    media_sequence: s.sequence,
                });
            }
            if let Some(c) = cur.as_mut() {
                c.duration += s.duration;
            }
        }
        let mut sim = Schedule {
            target_duration: self.target_duration,
            programme: self.programme.clone(),
            pending: self.pending.clone(),
            segments: VecDeque::new(),
            cursor: self.cursor.clone(),
        };
        let mut steps = 0;
        while steps < MAX_WALK_STEPS {
            steps += 1;
            let st = sim.step();
            let c = &sim.cursor;
            let duration = c.item.segments[st.segment].duration;
            if st.segment == 0 || cur.is_none() {
                close(&mut cur, &mut out);
                if out.len() >= max || st.air_time >= until {
                    return out;
                }
                cur = Some(AirItem {
                    item_id: c.item.id.clone(),
                    title: c.item.title.clone(),
                    kind: c.item.kind,
                    block: c.block.clone(),
                    air_time: st.air_time,
                    duration: 0.0,
                    media_sequence: st.sequence,
                });
            }
            if let Some(c) = cur.as_mut() {
                c.duration += duration;
            }
        }
        close(&mut cur, &mut out);
        out
    }

    /// Upcoming items after the one on air at `now`, up to `n` ([`Self::items_between`]).
    pub fn next_up(&self, now: DateTime<Utc>, n: usize) -> Vec<AirItem> {
        self.items_between(now, DateTime::<Utc>::MAX_UTC, n + 1)
            .into_iter()
            .filter(|i| i.air_time > now)
            .take(n)
            .collect()
    }

    /// When the item whose first segment has media sequence `sequence` ends on air (as
    /// far as the schedule and the programme tell now), or `None` when that segment is
    /// not scheduled.
    pub fn item_end(&self, sequence: u64) -> Option<DateTime<Utc>> {
        let first = self.segments.iter().find(|s| s.sequence == sequence)?;
        self.items_between(first.air_time, first.end_time(), 1)
            .into_iter()
            .find(|i| i.media_sequence == sequence)
            .map(|i| i.end_time())
    }
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "timetable_tests.rs"]
mod timetable_tests;
