//! The console's interface to its page, in one place: the command names ([`COMMANDS`]),
//! the events ([`ConsoleEvent`], [`EVENTS`]) and their payloads. The page imports the
//! same names from `ui/console/js/bindings.js`, which [`bindings_js`] generates; tests
//! check that the file, the Tauri handler list and every call in the page agree.

use crate::setup::prechunk::ProgressEvent;
use crate::setup::{SetupEvent, SetupReport};
use serde::Serialize;
use std::sync::Arc;

/// Sends one event to the page.
pub type Emit = Arc<dyn Fn(ConsoleEvent) + Send + Sync>;

/// Every command the console answers (Tauri's `invoke` names), by screen.
pub const COMMANDS: &[&str] = &[
    // The window and the station.
    "station_info",
    "ui_ready",
    "quit",
    // Library.
    "library",
    "library_add",
    "library_pick",
    "library_remove",
    "setup_start",
    "setup_running",
    "audition_play",
    "audition_stop",
    "audition_status",
    // Kubo.
    "kubo_status",
    "kubo_start",
    // Settings.
    "settings_get",
    "settings_check",
    "settings_apply",
    // Schedule (settings screen) and programme.
    "schedule_get",
    "schedule_check",
    "schedule_save",
    "programme_at",
    "history",
    "settings_pick_folder",
    // Remote pinning (settings screen).
    "pinning_add",
    "pinning_remove",
    "pinning_pick_token_file",
    // On air.
    "onair_view",
    "go_live",
    "preview_start",
    "preview_listen",
    "off_air",
    "timeline",
];

/// Every event the page listens to: `(name in bindings.js, event name)`. The last two
/// are Tauri's own drag-and-drop events.
pub const EVENTS: &[(&str, &str)] = &[
    ("setup_event", "setup://event"),
    ("setup_prechunk", "setup://prechunk"),
    ("setup_finished", "setup://finished"),
    ("library_dropped", "library://dropped"),
    ("close_requested", "console://close-requested"),
    ("drag_over", "tauri://drag-over"),
    ("drag_leave", "tauri://drag-leave"),
];

/// The `setup://finished` payload.
#[derive(Debug, Clone, Serialize)]
pub struct SetupFinished {
    /// Whether every source was processed and every segment has a CID.
    pub ok: bool,
    /// What the run did, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<SetupReport>>,
    /// Why it stopped as a whole, when it did: `{code, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<UiError>,
}

/// An error as the page gets it: a stable code ([`crate::Error::code`]) and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UiError {
    /// Stable code, e.g. `config`, `kubo_unreachable`.
    pub code: String,
    /// What went wrong, naming the file or field.
    pub message: String,
}

impl From<crate::Error> for UiError {
    fn from(e: crate::Error) -> Self {
        UiError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// Something the console tells the page.
#[derive(Debug, Clone)]
pub enum ConsoleEvent {
    /// `setup://event`: a setup event other than prechunk progress (`{type: "scanned" |
    /// "waiting" | "adding", ...}`).
    Setup(SetupEvent),
    /// `setup://prechunk`: one prechunk progress event (`{type: "queued" | "started" |
    /// "progress" | "finished" | "failed", id, ...}`), at most every 100 ms per item.
    Prechunk(ProgressEvent),
    /// `setup://finished`: a setup run ended.
    SetupFinished(SetupFinished),
    /// `library://dropped`: files were dropped on the window at `(x, y)` (physical
    /// pixels); the page picks the drop zone and calls `library_add`.
    Dropped {
        /// The dropped paths (sent to the page as text, lossily where a name is not
        /// valid UTF-8).
        paths: Vec<std::path::PathBuf>,
        /// Drop position, x.
        x: f64,
        /// Drop position, y.
        y: f64,
    },
    /// `console://close-requested`: the window is asked to close while on air.
    CloseRequested,
}

impl ConsoleEvent {
    /// The event for a setup event (prechunk progress has its own).
    pub fn from_setup(e: SetupEvent) -> ConsoleEvent {
        match e {
            SetupEvent::Prechunk(p) => ConsoleEvent::Prechunk(p),
            other => ConsoleEvent::Setup(other),
        }
    }

    /// The event for a finished setup run.
    pub fn setup_finished(r: &crate::Result<SetupReport>) -> ConsoleEvent {
        ConsoleEvent::SetupFinished(match r {
            Ok(report) => SetupFinished {
                ok: report.ok(),
                report: Some(Box::new(report.clone())),
                error: None,
            },
            Err(e) => SetupFinished {
                ok: false,
                report: None,
                error: Some(UiError {
                    code: e.code().into(),
                    message: e.to_string(),
                }),
            },
        })
    }

    /// Its event name (one of [`EVENTS`]).
    pub fn name(&self) -> &'static str {
        match self {
            ConsoleEvent::Setup(_) => "setup://event",
            ConsoleEvent::Prechunk(_) => "setup://prechunk",
            ConsoleEvent::SetupFinished(_) => "setup://finished",
            ConsoleEvent::Dropped { .. } => "library://dropped",
            ConsoleEvent::CloseRequested => "console://close-requested",
        }
    }

    /// Its payload as JSON.
    pub fn payload(&self) -> serde_json::Value {
        let v = match self {
            ConsoleEvent::Setup(e) => serde_json::to_value(e),
            ConsoleEvent::Prechunk(p) => serde_json::to_value(p),
            ConsoleEvent::SetupFinished(f) => serde_json::to_value(f),
            ConsoleEvent::Dropped { paths, x, y } => {
                // Paths as text, lossily: a name that is not UTF-8 cannot be a JSON
                // string (the add that follows then says so, for that file).
                let paths: Vec<String> = paths
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                Ok(serde_json::json!({"paths": paths, "x": x, "y": y}))
            }
            ConsoleEvent::CloseRequested => Ok(serde_json::Value::Null),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// The text of `ui/console/js/bindings.js`: the command and event names as frozen
/// objects `CMD` and `EVT`.
pub fn bindings_js() -> String {
    let mut out = String::from(
        "// Generated from ipfs_station::console::api (COMMANDS, EVENTS): the only names the\n// page may call or listen to. A test fails when this file and the Rust side disagree.\n\nexport const CMD = Object.freeze({\n",
    );
    for c in COMMANDS {
        out.push_str(&format!("  {c}: \"{c}\",\n"));
    }
    out.push_str("});\n\nexport const EVT = Object.freeze({\n");
    for (k, v) in EVENTS {
        out.push_str(&format!("  {k}: \"{v}\",\n"));
    }
    out.push_str("});\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's bindings are generated from the lists above; regenerate the file with
    /// the text this test prints when it fails.
    #[test]
    fn the_page_bindings_are_the_engine_lists() {
        let file = include_str!("../../ui/console/js/bindings.js");
        assert!(
            file == bindings_js(),
            "ui/console/js/bindings.js is out of date; it must read:\n{}",
            bindings_js()
        );
    }

    /// Every `call(...)` and `on(...)` in the page uses a name from the bindings, never a
    /// string of its own.
    #[test]
    fn the_page_calls_only_bound_names() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/console/js");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "bindings.js") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                for pat in ["call(\"", "call('", "call(`", "on(\"", "on('", "on(`"] {
                    assert!(
                        !line.contains(pat),
                        "{}:{}: a literal name; use CMD.x / EVT.x from bindings.js: {line}",
                        path.display(),
                        i + 1
                    );
                }
                for (prefix, names) in [
                    ("CMD.", COMMANDS.to_vec()),
                    ("EVT.", EVENTS.iter().map(|(k, _)| *k).collect()),
                ] {
                    let mut rest = line;
                    while let Some(p) = rest.find(prefix) {
                        let name: String = rest[p + 4..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        assert!(
                            names.contains(&name.as_str()),
                            "{}:{}: {prefix}{name} is not in the console's api",
                            path.display(),
                            i + 1
                        );
                        rest = &rest[p + 4..];
                    }
                }
            }
        }
    }

    /// Issue 11: a dropped file whose name is not UTF-8 reaches the page as text (a
    /// non-UTF-8 path is not a JSON string; serde_json's `json!` would panic on it).
    #[test]
    fn a_dropped_non_utf8_name_reaches_the_page_lossily() {
        use std::os::unix::ffi::OsStrExt;
        let e = ConsoleEvent::Dropped {
            paths: vec![std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
                b"/x/a\xff.ogg",
            ))],
            x: 1.0,
            y: 2.0,
        };
        assert_eq!(e.payload()["paths"][0], "/x/a\u{fffd}.ogg");
    }

    #[test]
    fn every_event_has_its_name_in_the_list() {
        let events = [
            ConsoleEvent::Setup(SetupEvent::Waiting { pid: None }),
            ConsoleEvent::Prechunk(ProgressEvent::Started { id: "x".into() }),
            ConsoleEvent::setup_finished(&Ok(SetupReport::default())),
            ConsoleEvent::Dropped {
                paths: vec![],
                x: 0.0,
                y: 0.0,
            },
            ConsoleEvent::CloseRequested,
        ];
        for e in events {
            assert!(EVENTS.iter().any(|(_, n)| *n == e.name()), "{}", e.name());
        }
        let f = ConsoleEvent::setup_finished(&Err(crate::Error::Rotation("empty".into())));
        assert_eq!(f.payload()["ok"], false);
        assert_eq!(f.payload()["error"]["code"], "rotation");
    }
}
