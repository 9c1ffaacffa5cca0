//! The Settings screen (settings and the schedule), and the programme queries.

use super::{ui, CmdResult};
use ipfs_station::air::history::AsRunEntry;
use ipfs_station::air::timeline::ProgrammeAt;
use ipfs_station::console::schedule::{ScheduleSaved, ScheduleView};
use ipfs_station::console::settings::{Edits, FieldValue, Outcome};
use ipfs_station::console::Console;
use tauri::State;

/// Every setting.
#[tauri::command]
pub async fn settings_get(state: State<'_, Console>) -> CmdResult<Vec<FieldValue>> {
    ui(state.settings())
}

/// Validates edits without writing.
#[tauri::command]
pub async fn settings_check(state: State<'_, Console>, edits: Edits) -> CmdResult<Outcome> {
    ui(state.settings_check(&edits))
}

/// Validates and writes edits.
#[tauri::command]
pub async fn settings_apply(state: State<'_, Console>, edits: Edits) -> CmdResult<Outcome> {
    ui(state.settings_apply(&edits))
}

/// The schedule editor's content (`schedule.json`, or a template).
#[tauri::command]
pub async fn schedule_get(state: State<'_, Console>) -> CmdResult<ScheduleView> {
    ui(state.schedule_get())
}

/// Validates a schedule text without saving it.
#[tauri::command]
pub async fn schedule_check(state: State<'_, Console>, text: String) -> CmdResult<ScheduleView> {
    ui(state.schedule_check(&text))
}

/// Saves a valid schedule (empty text: no schedule) and sets it up.
#[tauri::command]
pub async fn schedule_save(state: State<'_, Console>, text: String) -> CmdResult<ScheduleSaved> {
    ui(state.schedule_save(&text))
}

/// What plays at `at_ms` (milliseconds since the Unix epoch) and for `hours` after.
#[tauri::command]
pub async fn programme_at(
    state: State<'_, Console>,
    at_ms: i64,
    hours: f64,
) -> CmdResult<ProgrammeAt> {
    ui(state.programme_at(at_ms, hours))
}

/// The as-run log of the last `hours`, newest first.
#[tauri::command]
pub async fn history(state: State<'_, Console>, hours: f64) -> CmdResult<Vec<AsRunEntry>> {
    ui(state.history(hours))
}
