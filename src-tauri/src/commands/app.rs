//! The window and the station: what is open, first paint, quit.

use super::{ui, CmdResult};
use ipfs_station::console::{Console, StationInfo};
use tauri::{AppHandle, State};

/// The open station.
#[tauri::command]
pub fn station_info(state: State<'_, Console>) -> StationInfo {
    state.info()
}

/// The page drew the library for the first time: returns ms since launch.
#[tauri::command]
pub fn ui_ready(state: State<'_, Console>, rows: usize) -> f64 {
    state.ui_ready(rows)
}

/// Quits the console; `keep_on_air: false` stops the stream first.
#[tauri::command]
pub async fn quit(state: State<'_, Console>, app: AppHandle, keep_on_air: bool) -> CmdResult<()> {
    if !keep_on_air {
        ui(state.off_air())?;
    }
    state.allow_exit();
    app.exit(0);
    Ok(())
}
