//! IPFS Station's desktop console: a thin Tauri v2 shell over the station engine.
//!
//! Usage: `ipfs-station-console [--station <dir>]` ([`Args`], parsed by clap before
//! anything starts: `--version` and `--help` print and exit 0; an unknown argument is a
//! usage error, exit 2, with a usage line). Without `--station` (or `IPFS_STATION_DIR`) it
//! opens the station opened last, else creates a demo station under the platform data dir
//! (`~/.local/share/ipfs-station/demo`).
//!
//! Every `#[tauri::command]` (in [`commands`], one module per screen) takes the engine's
//! console ([`ipfs_station::console::Console`]), makes one engine call and maps the
//! engine's error to `{code, message}`; progress reaches the page as events
//! ([`ipfs_station::console::api::ConsoleEvent`]). All Kubo calls go through this side:
//! the page has no network access (CSP).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use clap::Parser;
use ipfs_station::console::api::{ConsoleEvent, Emit};
use ipfs_station::console::Console;
use std::path::PathBuf;
use tauri::{Emitter, Manager};

/// The engine's events, sent to the page as Tauri events.
fn emitter(app: &tauri::AppHandle) -> Emit {
    let app = app.clone();
    std::sync::Arc::new(move |e: ConsoleEvent| {
        let _ = app.emit(e.name(), e.payload());
    })
}

/// The console's command line.
#[derive(Debug, Parser)]
#[command(
    name = "ipfs-station-console",
    version,
    about = "IPFS Station's desktop console: library, prechunk progress, on air, health",
    after_help = "Exit codes: 0 closed normally (or --help, --version); 1 the console could \
                  not start or open the station; 2 usage error (the command line)."
)]
struct Args {
    /// The station folder (default: $IPFS_STATION_DIR, else the station opened last, else
    /// the demo station, created on first use).
    #[arg(long, short, env = "IPFS_STATION_DIR", value_name = "DIR")]
    station: Option<PathBuf>,
}

/// The station folder to open: `--station` (or `IPFS_STATION_DIR`, which clap reads), the
/// last opened one, or the demo station (created on first use).
fn pick_station(chosen: Option<PathBuf>) -> Result<PathBuf, String> {
    let chosen = chosen.or_else(ipfs_station::station::last_opened);
    let dir = match chosen {
        Some(d) => d,
        None => {
            let d = ipfs_station::station::default_root().join("demo");
            ipfs_station::station::create_demo(&d).map_err(|e| e.to_string())?;
            d
        }
    };
    if !dir.join(ipfs_station::station::keys::SETUP_FILE).exists() {
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
    // Before anything starts: --help, --version and a bad command line end here (clap
    // prints, exits 0 or 2).
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,symphonia=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let station = match pick_station(args.station) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot open a station: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    tracing::info!("station {}", station.display());
    // Go live starts this program: beside the console when installed (/usr/bin/station).
    tracing::info!(
        "station binary {}",
        ipfs_station::console::onair::station_bin().display()
    );
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let rt = tauri::async_runtime::handle().inner().clone();
            app.manage(Console::new(&station, rt, emitter(app.handle())));
            Ok(())
        })
        // The names are ipfs_station::console::api::COMMANDS (a test checks this list).
        .invoke_handler(tauri::generate_handler![
            commands::app::station_info,
            commands::app::ui_ready,
            commands::app::quit,
            commands::library::library,
            commands::library::library_add,
            commands::library::library_pick,
            commands::library::library_remove,
            commands::library::setup_start,
            commands::library::setup_running,
            commands::library::audition_play,
            commands::library::audition_stop,
            commands::library::audition_status,
            commands::kubo::kubo_status,
            commands::kubo::kubo_start,
            commands::settings::settings_get,
            commands::settings::settings_check,
            commands::settings::settings_apply,
            commands::settings::schedule_get,
            commands::settings::schedule_check,
            commands::settings::schedule_save,
            commands::settings::programme_at,
            commands::settings::history,
            commands::settings::settings_pick_folder,
            commands::settings::pinning_add,
            commands::settings::pinning_remove,
            commands::settings::pinning_pick_token_file,
            commands::onair::onair_view,
            commands::onair::go_live,
            commands::onair::preview_start,
            commands::onair::preview_listen,
            commands::onair::off_air,
            commands::onair::timeline,
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                // On air: ask whether to keep the station on air (the page's dialog
                // defaults to keeping it); the stream runs on either way until told.
                let console = window.state::<Console>();
                if console.close_needs_answer() {
                    api.prevent_close();
                    console.emit(ConsoleEvent::CloseRequested);
                }
                return;
            }
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, position }) =
                event
            {
                let console = window.state::<Console>();
                console.allow_paths(paths);
                console.emit(ConsoleEvent::Dropped {
                    paths: paths.clone(),
                    x: position.x,
                    y: position.y,
                });
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

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::{error::ErrorKind, Parser};

    fn parse(a: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("ipfs-station-console").chain(a.iter().copied()))
    }

    /// `--station` in both spellings; a flag is not a station folder's name; a misspelt argument is a usage error (exit 2),
    /// never the last station opened. The environment variable is covered by the
    /// package test, which runs the binary (a test here must not set the process's env).
    #[test]
    fn arguments_parse_like_a_command_line_tool() {
        let a = parse(&["--station", "/tmp/x"]).unwrap();
        assert_eq!(a.station.as_deref(), Some(std::path::Path::new("/tmp/x")));
        let a = parse(&["--station=/tmp/y"]).unwrap();
        assert_eq!(a.station.as_deref(), Some(std::path::Path::new("/tmp/y")));
        // A flag is never taken as the folder's name.
        assert!(parse(&["--station", "--version"]).is_err());
        assert_eq!(
            parse(&["--version"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        let e = parse(&["--statoin", "/tmp/x"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
        assert_eq!(e.exit_code(), 2);
        assert!(e.render().to_string().contains("Usage:"), "{}", e.render());
        let e = parse(&["/tmp/x"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
    }

    /// The handler list above names exactly the engine's command list, in its order.
    #[test]
    fn the_handlers_are_the_engine_command_list() {
        let main = include_str!("main.rs");
        let start = main.find("generate_handler![").unwrap() + "generate_handler![".len();
        let end = main[start..].find("])").unwrap() + start;
        let handlers: Vec<&str> = main[start..end]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.rsplit("::").next().unwrap())
            .collect();
        assert_eq!(handlers, ipfs_station::console::api::COMMANDS);
    }
}
