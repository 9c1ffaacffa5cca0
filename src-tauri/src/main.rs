//! IPFS Station's desktop console: a thin Tauri v2 shell over the station engine.
//!
//! Usage: `ipfs-station-console [--station <dir>]`. Without `--station` (or
//! `IPFS_STATION_DIR`) it opens the station opened last, else creates a demo station under
//! the platform data dir (`~/.local/share/ipfs-station/demo`).
//!
//! Every `#[tauri::command]` (in [`commands`]) takes the console state, makes one engine
//! call and maps the engine's error to `{code, message}`; progress reaches the page as
//! events. All Kubo calls go through this side: the page has no network access (CSP).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use commands::Console;
use std::path::PathBuf;
use tauri::{Emitter, Manager};

/// The station folder to open: `--station`, `IPFS_STATION_DIR`, the last opened one, or
/// the demo station (created on first use).
fn pick_station() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    let mut chosen: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        if a == "--station" {
            chosen = args.next().map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--station=") {
            chosen = Some(PathBuf::from(v));
        }
    }
    let chosen = chosen
        .or_else(|| std::env::var_os("IPFS_STATION_DIR").map(PathBuf::from))
        .or_else(ipfs_station::station::last_opened);
    let dir = match chosen {
        Some(d) => d,
        None => {
            let d = ipfs_station::station::default_root().join("demo");
            ipfs_station::station::create_demo(&d).map_err(|e| e.to_string())?;
            d
        }
    };
    if !dir.join(ipfs_station::station::config::SETUP_FILE).exists() {
        ipfs_station::station::init(&dir).map_err(|e| e.to_string())?;
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Err(e) = ipfs_station::station::remember_opened(&dir) {
        tracing::warn!("cannot remember the station for next time: {e}");
    }
    Ok(dir)
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,symphonia=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let station = match pick_station() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot open a station: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing::info!("station {}", station.display());
    let console = Console::new(station);
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(console)
        .invoke_handler(tauri::generate_handler![
            commands::station_info,
            commands::library,
            commands::library_add,
            commands::library_pick,
            commands::library_remove,
            commands::setup_start,
            commands::setup_running,
            commands::kubo_status,
            commands::kubo_start,
            commands::settings_get,
            commands::settings_check,
            commands::settings_apply,
            commands::audition_play,
            commands::audition_stop,
            commands::audition_status,
            commands::ui_ready,
            commands::onair_view,
            commands::go_live,
            commands::off_air,
            commands::timeline,
            commands::quit,
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                // On air: ask whether to keep the station on air (the page's dialog
                // defaults to keeping it); the stream runs on either way until told.
                if window.state::<Console>().close_needs_answer() {
                    api.prevent_close();
                    let _ = window.emit("console://close-requested", ());
                }
                return;
            }
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, position }) =
                event
            {
                let console = window.state::<Console>();
                console.allow_paths(paths);
                let _ = window.emit(
                    "library://dropped",
                    serde_json::json!({"paths": paths, "x": position.x, "y": position.y}),
                );
            }
        })
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: cannot start the console: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let console = handle.state::<Console>();
            tauri::async_runtime::block_on(console.on_exit());
        }
    });
    std::process::ExitCode::SUCCESS
}
