//! The console's commands, one module per screen. Each takes the engine's
//! [`Console`](ipfs_station::console::Console) as state, makes one engine call and maps
//! the engine's error to [`UiError`] (`{code, message}`). The names are
//! [`ipfs_station::console::api::COMMANDS`]; the page imports them from
//! `ui/console/js/bindings.js`.

pub mod app;
pub mod kubo;
pub mod library;
pub mod onair;
pub mod settings;

pub use ipfs_station::console::api::UiError;

/// What every command returns.
pub type CmdResult<T> = Result<T, UiError>;

/// The engine's result as the page gets it.
pub fn ui<T>(r: ipfs_station::Result<T>) -> CmdResult<T> {
    r.map_err(UiError::from)
}
