//! The On air screen.

use super::{ui, CmdResult};
use ipfs_station::air::timeline::TimelineBlock;
use ipfs_station::console::library::AuditionView;
use ipfs_station::console::onair::OnAirView;
use ipfs_station::console::Console;
use tauri::State;

/// The On air screen's data.
#[tauri::command]
pub async fn onair_view(state: State<'_, Console>) -> CmdResult<OnAirView> {
    Ok(state.onair_view())
}

/// Go live.
#[tauri::command]
pub async fn go_live(state: State<'_, Console>) -> CmdResult<OnAirView> {
    ui(state.go_live().await)
}

/// Preview locally: the streamer in preview mode, without Kubo.
#[tauri::command]
pub async fn preview_start(state: State<'_, Console>) -> CmdResult<OnAirView> {
    ui(state.preview_start().await)
}

/// Listen to the running preview through the audio device.
#[tauri::command]
pub async fn preview_listen(state: State<'_, Console>) -> CmdResult<AuditionView> {
    ui(state.preview_listen())
}

/// Take the station off air (or end the preview).
#[tauri::command]
pub async fn off_air(state: State<'_, Console>) -> CmdResult<OnAirView> {
    ui(state.off_air())
}

/// The rotation ahead for `hours`, optionally with another `jingle_cycle` (a preview).
#[tauri::command]
pub async fn timeline(
    state: State<'_, Console>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> CmdResult<Vec<TimelineBlock>> {
    ui(state.timeline(hours, jingle_cycle))
}
