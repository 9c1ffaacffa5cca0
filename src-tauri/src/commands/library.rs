//! The Library screen: tables, adding (drop or picker), removing, setup, audition.

use super::{ui, CmdResult};
use ipfs_station::console::library::{AuditionView, AuditionWhat};
use ipfs_station::console::Console;
use ipfs_station::library::catalog::{ImportReport, LibraryView, Removed};
use ipfs_station::library::ItemKind;
use std::path::PathBuf;
use tauri::{AppHandle, State};

/// The library tables.
#[tauri::command]
pub async fn library(state: State<'_, Console>) -> CmdResult<LibraryView> {
    ui(state.library())
}

/// Adds files (the same command a drop uses) as `kind` (`track` | `jingle`).
#[tauri::command]
pub async fn library_add(
    state: State<'_, Console>,
    kind: ItemKind,
    paths: Vec<PathBuf>,
) -> CmdResult<ImportReport> {
    ui(state.add(kind, paths).await)
}

/// "Add files" / "Add folder": the system file picker, then [`library_add`] with what
/// the operator picked.
#[tauri::command]
pub async fn library_pick(
    state: State<'_, Console>,
    app: AppHandle,
    kind: ItemKind,
    folders: bool,
) -> CmdResult<ImportReport> {
    use tauri_plugin_dialog::DialogExt;
    let a = app.clone();
    let picked = tauri::async_runtime::spawn_blocking(move || {
        let d = a.dialog().file().set_title(if folders {
            "Add folders to the library"
        } else {
            "Add audio files to the library"
        });
        if folders {
            d.blocking_pick_folders()
        } else {
            d.blocking_pick_files()
        }
    })
    .await
    .map_err(|e| super::UiError {
        code: "bad_request".into(),
        message: format!("file picker: {e}"),
    })?;
    let paths: Vec<PathBuf> = picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    state.allow_paths(&paths);
    ui(state.add(kind, paths).await)
}

/// Moves a library row's source to the station's trash and takes its item out of the
/// rotation.
#[tauri::command]
pub async fn library_remove(state: State<'_, Console>, source: PathBuf) -> CmdResult<Removed> {
    ui(state.remove(&source))
}

/// Runs setup now (or again after the running one).
#[tauri::command]
pub fn setup_start(state: State<'_, Console>) -> bool {
    state.start_setup()
}

/// Whether setup runs.
#[tauri::command]
pub fn setup_running(state: State<'_, Console>) -> bool {
    state.setup_running()
}

/// Plays an item: `what` = `source` | `segments`.
#[tauri::command]
pub async fn audition_play(
    state: State<'_, Console>,
    source: PathBuf,
    what: AuditionWhat,
) -> CmdResult<AuditionView> {
    ui(state.audition_play(&source, what))
}

/// Stops the audition.
#[tauri::command]
pub async fn audition_stop(state: State<'_, Console>) -> CmdResult<AuditionView> {
    Ok(state.audition_stop())
}

/// Audition availability and position.
#[tauri::command]
pub async fn audition_status(state: State<'_, Console>) -> CmdResult<AuditionView> {
    Ok(state.audition_view())
}
