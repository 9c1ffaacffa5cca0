//! A week of a scheduled programme on the air clock (issue 13): every block in its
//! hours in its zone across the end of daylight saving time, each block's jingle
//! rule, soft and hard switches, blocks resuming their rotation the next day.

use crate::air::window::{
    BlockRotation, PlayItem, PlaySegment, Programme, Rotation, Schedule, ScheduleState,
    ScheduledSegment,
};
use crate::library::ItemKind;
use crate::setup::schedule::DEFAULT_BLOCK;
use crate::setup::schedule::{ProcessedBlock, ProcessedSchedule};
use chrono::{DateTime, Duration, Utc};
use chrono::{Datelike, TimeZone};
use chrono_tz::Europe::Berlin;
use std::collections::HashMap;
use std::sync::Arc;

fn item(id: &str, kind: ItemKind, segs: usize, last: f64) -> Arc<PlayItem> {
    Arc::new(PlayItem {
        id: id.into(),
        title: id.into(),
        kind,
        segments: (0..segs)
            .map(|i| PlaySegment {
                file: format!("seg_{i:05}.ts"),
                cid: Some(format!("Qm{id}x{i}")),
                duration: if i + 1 == segs { last } else { 6.0 },
            })
            .collect(),
    })
}

/// The rotation rule (jingle, `cycle` tracks, next jingle, ...), as setup builds it.
fn rotation(tracks: &[Arc<PlayItem>], jingles: &[Arc<PlayItem>], cycle: usize) -> Arc<Rotation> {
    let t: Vec<&str> = tracks.iter().map(|x| x.id.as_str()).collect();
    let j: Vec<&str> = jingles.iter().map(|x| x.id.as_str()).collect();
    let order = crate::setup::rotation::build_rotation(&t, &j, cycle as u32).unwrap();
    Arc::new(Rotation::new(
        order
            .iter()
            .map(|e| {
                tracks
                    .iter()
                    .chain(jingles)
                    .find(|x| x.id == e.id)
                    .unwrap()
                    .clone()
            })
            .collect(),
    ))
}

fn block(
    name: &str,
    days: &[&str],
    start: u16,
    end: u16,
    hard: bool,
    rot: &Rotation,
) -> ProcessedBlock {
    ProcessedBlock {
        name: name.into(),
        days: days.iter().map(|d| d.to_string()).collect(),
        start_minute: start,
        end_minute: end,
        hard,
        jingle_cycle: 0,
        rotation: rot.entries.iter().map(|e| e.id.clone()).collect(),
    }
}

struct Week {
    programme: Arc<Programme>,
    rotations: HashMap<String, Arc<Rotation>>,
}

fn week_programme() -> Week {
    let tracks = |p: &str, n: usize| -> Vec<Arc<PlayItem>> {
        (0..n)
            .map(|i| {
                item(
                    &format!("{p}{i}"),
                    ItemKind::Track,
                    25 + 7 * i,
                    2.5 + i as f64,
                )
            })
            .collect()
    };
    let jingles = |p: &str, n: usize| -> Vec<Arc<PlayItem>> {
        (0..n)
            .map(|i| item(&format!("{p}{i}"), ItemKind::Jingle, 1, 4.0 + i as f64))
            .collect()
    };
    let default = rotation(&tracks("d", 5), &jingles("j", 2), 3);
    let morning = rotation(&tracks("m", 4), &jingles("j", 2), 2);
    let night = rotation(&tracks("n", 6), &jingles("nj", 1), 5);
    let weekdays = ["mon", "tue", "wed", "thu", "fri"];
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let schedule = ProcessedSchedule {
        format: 1,
        timezone: "Europe/Berlin".into(),
        blocks: vec![
            block("Morning", &weekdays, 6 * 60, 10 * 60, false, &morning),
            block("Night", &all, 22 * 60, 6 * 60, true, &night),
        ],
    };
    let programme = Programme::new(
        default.clone(),
        vec![
            BlockRotation {
                name: "Morning".into(),
                rotation: Some(morning.clone()),
            },
            BlockRotation {
                name: "Night".into(),
                rotation: Some(night.clone()),
            },
        ],
        Some(schedule),
        6.0,
        HashMap::new(),
    );
    Week {
        programme: Arc::new(programme),
        rotations: [
            (DEFAULT_BLOCK.to_string(), default),
            ("Morning".to_string(), morning),
            ("Night".to_string(), night),
        ]
        .into(),
    }
}

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// Every segment the air clock places from `start` until `end`, ticking every 6 s.
fn air(p: &Arc<Programme>, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<ScheduledSegment> {
    let mut s = Schedule::new(p.clone(), start);
    let mut all: Vec<ScheduledSegment> = Vec::new();
    let mut now = start;
    while now < end {
        s.advance(now, 20, 8);
        for seg in s.segments() {
            if all.last().is_none_or(|l| seg.sequence > l.sequence) {
                all.push(seg.clone());
            }
        }
        now += Duration::seconds(6);
    }
    all
}

/// Items as aired: `(first segment, segments aired)`.
fn items(all: &[ScheduledSegment]) -> Vec<(&ScheduledSegment, usize)> {
    let mut out: Vec<(&ScheduledSegment, usize)> = Vec::new();
    for s in all {
        if s.discontinuity {
            out.push((s, 1));
        } else if let Some(last) = out.last_mut() {
            last.1 += 1;
        }
    }
    out
}

#[test]
fn a_week_of_blocks_in_their_hours_across_the_end_of_summer_time() {
    let w = week_programme();
    let tt = w.programme.timetable().unwrap().clone();
    // Monday 2026-10-19 00:00 Berlin to Tuesday 2026-10-27 12:00: summer time ends on
    // Sunday 2026-10-25 at 03:00 (clocks go back to 02:00).
    let start = berlin(2026, 10, 19, 0, 0);
    let end = berlin(2026, 10, 27, 12, 0);
    let all = air(&w.programme, start, end);
    assert!(all.len() > 100_000, "{} segments", all.len());

    // RFC 8216 series: contiguous sequence and air times, a discontinuity per item.
    for p in all.windows(2) {
        assert_eq!(p[1].sequence, p[0].sequence + 1);
        assert_eq!(p[1].air_time, p[0].end_time());
        assert_eq!(
            p[1].discontinuity_count,
            p[0].discontinuity_count + u64::from(p[1].discontinuity)
        );
    }
    let aired = items(&all);
    // Each item airs in the block on at its start (the one on air keeps its block
    // when a soft block begins: it started before).
    for (first, _) in &aired {
        assert_eq!(
            first.block,
            tt.block_at(first.air_time),
            "{} at {}",
            first.item_id,
            first.air_time
        );
    }
    // Each block plays its own rotation in order, picking up where it left off the
    // day before; hard cuts count as aired (the rotation goes on after them).
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (first, _) in &aired {
        let rot = &w.rotations[first.block.as_str()];
        let pos = position.entry(first.block.as_str()).or_insert(0);
        assert_eq!(
            first.item_id,
            rot.entries[*pos % rot.entries.len()].id,
            "{} block item {} at {}",
            first.block,
            *pos,
            first.air_time
        );
        *pos += 1;
    }
    // Jingle rules hold per block: Morning every 2 tracks, Night every 5, default 3.
    for (block, cycle) in [("Morning", 2), ("Night", 5), (DEFAULT_BLOCK, 3)] {
        let kinds: Vec<ItemKind> = aired
            .iter()
            .filter(|(f, _)| f.block == block)
            .map(|(f, _)| f.kind)
            .collect();
        let mut run = 0;
        for k in &kinds {
            match k {
                ItemKind::Track => {
                    run += 1;
                    assert!(run <= cycle, "{block}: {run} tracks in a row");
                }
                ItemKind::Jingle => run = 0,
            }
        }
        assert!(kinds.len() > 20, "{block} aired {} items", kinds.len());
    }
    let starts_of = |block: &str| -> Vec<(usize, &(&ScheduledSegment, usize))> {
        aired
            .iter()
            .enumerate()
            .filter(|(i, (f, _))| f.block == block && (*i == 0 || aired[i - 1].0.block != block))
            .collect()
    };
    // Morning: weekdays only, soft: from the first item boundary at or after 06:00
    // local; the item before it aired whole.
    let mornings = starts_of("Morning");
    let days: Vec<String> = mornings
        .iter()
        .map(|(_, (f, _))| {
            f.air_time
                .with_timezone(&Berlin)
                .format("%a %d")
                .to_string()
        })
        .collect();
    assert_eq!(
        days,
        ["Mon 19", "Tue 20", "Wed 21", "Thu 22", "Fri 23", "Mon 26", "Tue 27"]
    );
    for (i, (f, _)) in &mornings {
        let local = f.air_time.with_timezone(&Berlin);
        let six = berlin(local.year(), local.month(), local.day(), 6, 0);
        let (prev, n) = aired[i - 1];
        let full = w.rotations[prev.block.as_str()]
            .entries
            .iter()
            .find(|e| e.id == prev.item_id)
            .unwrap()
            .segments
            .len();
        assert!(
            prev.air_time < six && f.air_time >= six,
            "soft switch at {}",
            f.air_time
        );
        assert_eq!(n, full, "the item on air at 06:00 finishes");
    }
    // Across the change: 06:00 Berlin is 04:00 UTC on Friday (CEST) and 05:00 UTC
    // on Monday (CET).
    let fri = mornings[4].1 .0.air_time;
    let mon = mornings[5].1 .0.air_time;
    assert!(
        fri >= Utc.with_ymd_and_hms(2026, 10, 23, 4, 0, 0).unwrap()
            && fri < Utc.with_ymd_and_hms(2026, 10, 23, 4, 10, 0).unwrap(),
        "{fri}"
    );
    assert!(
        mon >= Utc.with_ymd_and_hms(2026, 10, 26, 5, 0, 0).unwrap()
            && mon < Utc.with_ymd_and_hms(2026, 10, 26, 5, 10, 0).unwrap(),
        "{mon}"
    );
    // Night: hard, every day: the first segment boundary at or after 22:00 local; the
    // item on air then is cut there (its next segment never airs).
    let nights = starts_of("Night");
    assert_eq!(
        nights.len(),
        9,
        "on at the start, then 22:00 on each of the 8 days"
    );
    let mut cuts = 0;
    for (i, (f, _)) in nights.iter().skip(1) {
        let local = f.air_time.with_timezone(&Berlin);
        let ten = berlin(local.year(), local.month(), local.day(), 22, 0);
        assert!(
            f.air_time >= ten && f.air_time < ten + Duration::seconds(7),
            "hard switch at {local}"
        );
        let (prev, n) = aired[i - 1];
        let full = w.rotations[prev.block.as_str()]
            .entries
            .iter()
            .find(|e| e.id == prev.item_id)
            .unwrap()
            .segments
            .len();
        assert!(n <= full);
        if n < full {
            cuts += 1;
        }
    }
    assert!(
        cuts >= 6,
        "the item on air at 22:00 is cut ({cuts} of 8 cut)"
    );
    // The night of the change (Saturday 22:00 CEST to Sunday 06:00 CET) lasts nine
    // hours of air time.
    let sat = nights
        .iter()
        .find(|(_, (f, _))| f.air_time.with_timezone(&Berlin).format("%a").to_string() == "Sat")
        .unwrap();
    let after = aired[sat.0..]
        .iter()
        .find(|(f, _)| f.block != "Night")
        .unwrap()
        .0
        .air_time;
    let hours = (after - sat.1 .0.air_time).num_minutes() as f64 / 60.0;
    assert!((9.0..9.2).contains(&hours), "{hours} h");
}

#[test]
fn a_block_with_nothing_playable_plays_the_default_and_says_so() {
    let w = week_programme();
    let mut blocks = w.programme.blocks().to_vec();
    blocks[0].rotation = None;
    let p = Arc::new(Programme::new(
        w.rotations[DEFAULT_BLOCK].clone(),
        blocks,
        w.programme.schedule().cloned(),
        6.0,
        HashMap::new(),
    ));
    assert_eq!(p.empty_blocks(), ["Morning"]);
    let all = air(&p, berlin(2026, 10, 20, 5, 0), berlin(2026, 10, 20, 11, 0));
    assert!(all.iter().all(|s| s.block != "Morning"));
    assert!(all.iter().any(|s| s.block == DEFAULT_BLOCK
        && s.air_time > berlin(2026, 10, 20, 7, 0)
        && s.air_time < berlin(2026, 10, 20, 9, 0)));
}

#[test]
fn after_days_off_air_the_blocks_are_where_the_clock_says() {
    let w = week_programme();
    let mut s = Schedule::new(w.programme.clone(), berlin(2026, 10, 19, 12, 0));
    s.advance(berlin(2026, 10, 19, 12, 0), 20, 8);
    let state: ScheduleState =
        serde_json::from_str(&serde_json::to_string(&s.state()).unwrap()).unwrap();
    // Three days later, Thursday 07:30: Morning is on.
    let later = berlin(2026, 10, 22, 7, 30);
    let mut r = Schedule::resume(state, w.programme.clone()).unwrap();
    let t = std::time::Instant::now();
    r.advance(later, 20, 8);
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let win = r.window(later, 20);
    assert_eq!(win.live().block, "Morning");
    assert!(win.live().air_time <= later && later < win.live().end_time());
    // What plays ahead follows the timetable: the default after 10:00.
    let ahead = r.items_between(later, berlin(2026, 10, 22, 10, 30), 1000);
    assert!(ahead.iter().any(|i| i.block == DEFAULT_BLOCK));
    for p in ahead.windows(2) {
        assert_eq!(p[1].air_time, p[0].end_time(), "gapless");
    }
}
