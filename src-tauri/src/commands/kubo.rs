//! Kubo in the header: status and the managed daemon.

use super::{ui, CmdResult};
use ipfs_station::console::{Console, KuboView};
use tauri::State;

/// Kubo's status.
#[tauri::command]
pub async fn kubo_status(state: State<'_, Console>) -> CmdResult<KuboView> {
    Ok(state.kubo_status().await)
}

/// Starts the managed Kubo.
#[tauri::command]
pub async fn kubo_start(state: State<'_, Console>) -> CmdResult<KuboView> {
    ui(state.kubo_start().await)
}
