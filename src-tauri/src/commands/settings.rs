//! The Settings screen (settings, remote pinning services and the schedule), and the
//! programme queries.

use super::{ui, CmdResult};
use ipfs_station::air::history::AsRunEntry;
use ipfs_station::air::timeline::ProgrammeAt;
use ipfs_station::console::pinning::PinningRemoved;
use ipfs_station::console::schedule::{ScheduleSaved, ScheduleView};
use ipfs_station::console::settings::{Edits, FieldValue, Outcome};
use ipfs_station::console::Console;
use tauri::{AppHandle, State};

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

/// "Choose…" beside a folder setting: the system folder picker. The folder picked is
/// recorded ([`Console::allow_folders`]: the form may then point the station there) and
/// returned as text for the field; `None` when the operator cancelled.
#[tauri::command]
pub async fn settings_pick_folder(
    state: State<'_, Console>,
    app: AppHandle,
    label: String,
) -> CmdResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title(format!("Choose the {}", label.to_lowercase()))
            .blocking_pick_folder()
    })
    .await
    .map_err(|e| super::UiError {
        code: "bad_request".into(),
        message: format!("folder picker: {e}"),
    })?;
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let text = path
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| super::UiError {
            code: "bad_request".into(),
            message: format!(
            "{}: the folder's path is not valid UTF-8 (the config files are UTF-8 text): rename it",
            path.display()
        ),
        })?;
    state.allow_folders(std::slice::from_ref(&path));
    Ok(Some(text))
}

/// "Add service" in Remote pinning: adds a pinning service to `remote_pinning` (its
/// token file is checked, never read into the answer); every setting after.
#[tauri::command]
pub async fn pinning_add(
    state: State<'_, Console>,
    name: String,
    endpoint: String,
    token_file: String,
) -> CmdResult<Vec<FieldValue>> {
    ui(state.pinning_add(&name, &endpoint, &token_file))
}

/// "Remove" beside a pinning service: with `delete_requests`, deletes the station's
/// requests there first; the service leaves `remote_pinning` either way.
#[tauri::command]
pub async fn pinning_remove(
    state: State<'_, Console>,
    name: String,
    delete_requests: bool,
) -> CmdResult<PinningRemoved> {
    ui(state.pinning_remove(&name, delete_requests).await)
}

/// "Choose…" beside a pinning service's token file: the system file picker (one file).
/// The file picked is recorded ([`Console::allow_token_file`]: a service may then use
/// it) and returned as text for the field; `None` when the operator cancelled.
#[tauri::command]
pub async fn pinning_pick_token_file(
    state: State<'_, Console>,
    app: AppHandle,
) -> CmdResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Choose the pinning service's access token file")
            .blocking_pick_file()
    })
    .await
    .map_err(|e| super::UiError {
        code: "bad_request".into(),
        message: format!("file picker: {e}"),
    })?;
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let text = path
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| super::UiError {
            code: "bad_request".into(),
            message: format!(
                "{}: the file's path is not valid UTF-8 (the config files are UTF-8 text): rename it",
                path.display()
            ),
        })?;
    state.allow_token_file(&path);
    Ok(Some(text))
}
