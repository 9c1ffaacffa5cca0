//! Test fixtures shared by the window's tests: a small rotation (three tracks and a
//! jingle that airs twice a loop), its programme, and the air clock's start.

use super::{PlayItem, PlaySegment, Programme, Rotation};
use crate::library::ItemKind;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;

pub(super) fn item(id: &str, kind: ItemKind, durs: &[f64]) -> Arc<PlayItem> {
    Arc::new(PlayItem {
        id: id.into(),
        title: format!("Artist - {id}"),
        kind,
        segments: durs
            .iter()
            .enumerate()
            .map(|(i, d)| PlaySegment {
                file: format!("seg_{i:05}.ts"),
                cid: Some(format!("Qm{id}x{i}")),
                duration: *d,
            })
            .collect(),
    })
}

pub(super) fn rotation() -> Arc<Rotation> {
    let j = item("j1", ItemKind::Jingle, &[4.1]);
    Arc::new(Rotation::new(vec![
        j.clone(),
        item("t1", ItemKind::Track, &[6.006, 6.006, 6.006, 2.5]),
        item("t2", ItemKind::Track, &[6.006, 6.006, 1.2]),
        j,
        item("t3", ItemKind::Track, &[6.006; 7]),
    ]))
}

pub(super) fn prog(r: Arc<Rotation>) -> Arc<Programme> {
    Arc::new(Programme::single(r))
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}
