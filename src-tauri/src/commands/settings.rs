//! The Settings screen.

use super::{ui, CmdResult};
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
