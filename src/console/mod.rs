//! The operations the desktop console offers, as one engine value ([`Console`]): the
//! library ([`library`]: add, remove, audition), on air ([`onair`]: go live, stop, the
//! On air screen's data; [`preview`]: hear the station locally before Kubo exists),
//! Kubo (status, the managed daemon), the settings form
//! ([`settings`]; remote pinning services: [`pinning`]) and audition (`audition`, behind the `audition` feature). The Tauri
//! shell (`src-tauri/`) only maps each command to one call here; the command and event
//! names the page uses come from [`api`].

pub mod api;
#[cfg(feature = "audition")]
pub mod audition;
pub mod library;
pub mod onair;
pub mod pinning;
pub mod preview;
pub mod schedule;
pub mod settings;

use crate::error::Result;
use crate::kubo::node::{self, ManagedKubo, NodeStatus};
use crate::setup::queue::SetupQueue;
use crate::station::Station;
use api::{ConsoleEvent, Emit};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// What the header shows about the open station.
#[derive(Debug, Clone, Serialize)]
pub struct StationInfo {
    /// The station folder.
    pub dir: PathBuf,
    /// Its folder name.
    pub name: String,
    /// Kubo key the stream is published under.
    pub ipns_key: String,
    /// The console's version.
    pub version: &'static str,
    /// What the operator should know about the config files (e.g. a key that moved).
    pub notes: Vec<String>,
}

/// Kubo as the page shows it: the engine's status plus whether the console manages it.
#[derive(Debug, Clone, Serialize)]
pub struct KuboView {
    /// The engine's view.
    #[serde(flatten)]
    pub status: NodeStatus,
    /// Whether the console started this Kubo (and stops it on quit when not on air).
    pub managed: bool,
}

/// The console's state: one open station.
///
/// The station is opened once and kept; when its config files do not validate (a typo
/// in a hand-edited file), the console still opens, every operation that needs the
/// configs returns that error naming the file and key, and the next operation opens the
/// station again, so fixing the file is enough.
pub struct Console {
    dir: PathBuf,
    station: Arc<RwLock<Option<Arc<Station>>>>,
    allowed: Mutex<Vec<PathBuf>>,
    picked_folders: Mutex<Vec<PathBuf>>,
    /// Token files picked in the native dialog ([`Console::allow_token_file`]).
    picked_files: Mutex<Vec<PathBuf>>,
    setup: SetupQueue,
    emit: Emit,
    managed: tokio::sync::Mutex<Option<ManagedKubo>>,
    #[cfg(feature = "audition")]
    audition: std::sync::OnceLock<std::result::Result<audition::Audition, String>>,
    started: Instant,
    first_paint_ms: Mutex<Option<f64>>,
    exit_allowed: AtomicBool,
    programme: Mutex<Option<Arc<crate::air::timeline::TimelineSource>>>,
    meters: Mutex<Option<(chrono::DateTime<chrono::Utc>, String)>>,
    rt: tokio::runtime::Handle,
    preview_meter: preview::PreviewMeter,
    /// The pid of the preview streamer this console started, if it did.
    preview_pid: Mutex<Option<u32>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("dir", &self.dir).finish()
    }
}

impl Console {
    /// A console on the station in `dir` (canonical path): its background work (setup
    /// runs) is spawned on `rt`, and everything it tells the page goes through `emit`.
    /// A station whose configs do not validate is opened later (see [`Console`]).
    pub fn new(dir: &Path, rt: tokio::runtime::Handle, emit: Emit) -> Console {
        let station = Arc::new(RwLock::new(None));
        let (slot, at) = (station.clone(), dir.to_path_buf());
        let events = emit.clone();
        let finished = emit.clone();
        let setup = SetupQueue::new(
            rt.clone(),
            // Each run reads the config files again (a setting may have changed).
            Arc::new(move || open_into(&slot, &at).map(|s| s.as_ref().clone())),
            Arc::new(move |e| events(ConsoleEvent::from_setup(e))),
            Arc::new(move |r| finished(ConsoleEvent::setup_finished(r))),
        );
        if let Err(e) = open_into(&station, dir) {
            tracing::error!("{e}");
        }
        Console {
            dir: dir.to_path_buf(),
            station,
            allowed: Mutex::new(Vec::new()),
            picked_folders: Mutex::new(Vec::new()),
            picked_files: Mutex::new(Vec::new()),
            setup,
            emit,
            managed: tokio::sync::Mutex::new(None),
            #[cfg(feature = "audition")]
            audition: std::sync::OnceLock::new(),
            started: Instant::now(),
            first_paint_ms: Mutex::new(None),
            exit_allowed: AtomicBool::new(false),
            programme: Mutex::new(None),
            meters: Mutex::new(None),
            rt,
            preview_meter: preview::PreviewMeter::default(),
            preview_pid: Mutex::new(None),
        }
    }

    /// The station folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The open station as last (re)loaded; opened again when it could not be before.
    ///
    /// Errors: as [`Station::open`] (the config file and key that do not validate).
    pub fn station(&self) -> Result<Arc<Station>> {
        if let Some(st) = self.station.read().ok().and_then(|s| s.clone()) {
            return Ok(st);
        }
        open_into(&self.station, &self.dir)
    }

    /// The state folder: the station's, or `data/state` while its configs do not
    /// validate (so a running stream is still found and shown).
    pub fn state_dir(&self) -> crate::station::state::StateDir {
        match self.station() {
            Ok(st) => st.state(),
            Err(_) => crate::station::state::StateDir::new(self.dir.join("data/state")),
        }
    }

    /// Reads the station's config files again (after a settings change).
    ///
    /// Errors: as [`Station::open`]; the console then has no station until the files
    /// validate again.
    pub fn reload(&self) -> Result<Arc<Station>> {
        open_into(&self.station, &self.dir)
    }

    /// Sends an event to the page.
    pub fn emit(&self, event: ConsoleEvent) {
        (self.emit)(event)
    }

    /// Records paths the operator dropped or picked: the only paths outside the station
    /// folder the console reads.
    pub fn allow_paths(&self, paths: &[PathBuf]) {
        if let Ok(mut a) = self.allowed.lock() {
            a.extend(paths.iter().filter_map(|p| p.canonicalize().ok()));
        }
    }

    /// Records folders the operator picked in the native folder dialog for a folder
    /// setting (`music_dir`, `jingles_dir`, `processed_dir`, `state_dir`): the only
    /// folders outside the station folder the settings form may point the station at
    /// (the station writes and deletes in some of them). Dropped paths do not count.
    pub fn allow_folders(&self, folders: &[PathBuf]) {
        if let Ok(mut a) = self.picked_folders.lock() {
            a.extend(
                folders
                    .iter()
                    .filter_map(|p| p.canonicalize().ok())
                    .filter(|p| p.is_dir()),
            );
        }
    }

    /// The folders recorded by [`Console::allow_folders`] and the token files recorded
    /// by [`Console::allow_token_file`].
    fn picked(&self) -> Vec<PathBuf> {
        let mut out = self
            .picked_folders
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        if let Ok(f) = self.picked_files.lock() {
            out.extend(f.iter().cloned());
        }
        out
    }

    /// Whether `path` may be read: inside the station, or dropped/picked (or inside a
    /// dropped/picked folder).
    pub fn is_allowed(&self, path: &Path) -> bool {
        let Ok(c) = path.canonicalize() else {
            return false;
        };
        if c.starts_with(&self.dir) {
            return true;
        }
        self.allowed
            .lock()
            .map(|a| a.iter().any(|p| c.starts_with(p)))
            .unwrap_or(false)
    }

    /// The open station; its notes carry the config error while the files do not
    /// validate.
    pub fn info(&self) -> StationInfo {
        let name = self
            .dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().to_string());
        match self.station() {
            Ok(st) => StationInfo {
                dir: self.dir.clone(),
                name,
                ipns_key: st.streaming.ipns_key.clone(),
                version: env!("CARGO_PKG_VERSION"),
                notes: st.notes().to_vec(),
            },
            Err(e) => StationInfo {
                dir: self.dir.clone(),
                name,
                ipns_key: String::new(),
                version: env!("CARGO_PKG_VERSION"),
                notes: vec![e.to_string()],
            },
        }
    }

    /// Starts a setup run unless one runs; then the running one goes again when it ends
    /// (so files added meanwhile are prechunked too). Returns whether a new run started.
    /// First the station's housekeeping runs ([`crate::station::housekeeping::before_setup`]:
    /// stale temp files, the trash past `trash_retention_days`).
    pub fn start_setup(&self) -> bool {
        if let Ok(st) = self.station() {
            let h = crate::station::housekeeping::before_setup(&st, chrono::Utc::now());
            for e in &h.errors {
                tracing::warn!("housekeeping: {e}");
            }
        }
        self.setup.request().1
    }

    /// Whether a setup run is under way (or due).
    pub fn setup_running(&self) -> bool {
        self.setup.running()
    }

    /// Is Kubo there ([`node::status`], 3 s per call)?
    pub async fn kubo_status(&self) -> KuboView {
        let (api, gateway) = match self.station() {
            Ok(st) => (st.kubo_api().to_string(), st.local_gateway()),
            Err(_) => (
                crate::station::keys::DEFAULT_KUBO_API.to_string(),
                crate::station::keys::DEFAULT_GATEWAY.to_string(),
            ),
        };
        KuboView {
            status: node::status(&api, &gateway, Duration::from_secs(3)).await,
            managed: self.managed.lock().await.is_some(),
        }
    }

    /// Starts the managed Kubo ([`ManagedKubo::start`]) unless one answers already.
    ///
    /// Errors: no `ipfs` on PATH ([`Error::ToolMissing`]); the daemon did not come up
    /// ([`Error::KuboUnreachable`], with its log's last lines); a non-loopback API
    /// ([`Error::Config`]).
    pub async fn kubo_start(&self) -> Result<KuboView> {
        let current = self.kubo_status().await;
        if current.status.reachable {
            return Ok(current);
        }
        let mut managed = self.managed.lock().await;
        let daemon = ManagedKubo::start(&*self.station()?).await?;
        tracing::info!(
            "started Kubo (pid {}) on {}",
            daemon.pid(),
            daemon.repo().display()
        );
        *managed = Some(daemon);
        drop(managed);
        Ok(self.kubo_status().await)
    }

    /// Every setting with its value ([`settings::load`]).
    ///
    /// Errors: a config file is not JSON ([`Error::Parse`]).
    pub fn settings(&self) -> Result<Vec<settings::FieldValue>> {
        settings::load(&self.dir)
    }

    /// Validates edits and says what they redo ([`settings::check_picked`]): a folder
    /// setting may name a folder inside the station or one recorded by
    /// [`Console::allow_folders`].
    ///
    /// Errors: as [`Console::settings`].
    pub fn settings_check(&self, edits: &settings::Edits) -> Result<settings::Outcome> {
        settings::check_picked(&self.dir, edits, &self.picked())
    }

    /// Validates and writes edits ([`settings::apply_picked`], folders as
    /// [`Console::settings_check`]), then reads the station again.
    ///
    /// Errors: as [`Console::settings`].
    pub fn settings_apply(&self, edits: &settings::Edits) -> Result<settings::Outcome> {
        let out = settings::apply_picked(&self.dir, edits, &self.picked())?;
        if out.applied {
            self.reload()?;
        }
        Ok(out)
    }

    /// Whether closing the window needs the operator's answer first: the station is on
    /// air (a published stream, not a local preview, which ends with the console) and
    /// they have not chosen yet.
    pub fn close_needs_answer(&self) -> bool {
        let state = self.state_dir();
        !self.exit_allowed.load(Ordering::SeqCst)
            && crate::station::process::running(&state, crate::station::state::Role::Stream)
                .is_some()
            && !self.preview_running(&state)
    }

    /// The operator chose: the window may close.
    pub fn allow_exit(&self) {
        self.exit_allowed.store(true, Ordering::SeqCst);
    }

    /// Records the first drawn library: milliseconds since the console started.
    pub fn ui_ready(&self, rows: usize) -> f64 {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut f) = self.first_paint_ms.lock() {
            if f.is_none() {
                *f = Some(ms);
                tracing::info!("first library paint {ms:.0} ms after launch ({rows} rows)");
                eprintln!(
                    "ipfs-station-console: first library paint {ms:.0} ms after launch ({rows} rows)"
                );
            }
            return f.unwrap_or(ms);
        }
        ms
    }

    /// On quit: end a local preview (only this console plays it; nothing is published),
    /// and stop the managed Kubo unless the station is on air.
    pub async fn on_exit(&self) {
        let state = self.state_dir();
        if self.preview_running(&state) {
            match crate::station::process::stop(
                &state,
                crate::station::state::Role::Stream,
                onair::STOP_TIMEOUT,
            ) {
                Ok(pid) => tracing::info!("the local preview ended with the console ({pid:?})"),
                Err(e) => tracing::warn!("ending the local preview: {e}"),
            }
        }
        let on_air = state
            .load_stream_state()
            .is_ok_and(|s| s.is_on_air(chrono::Utc::now()));
        if let Some(daemon) = self.managed.lock().await.take() {
            if on_air {
                tracing::info!(
                    "the station is on air: Kubo keeps running (pid {})",
                    daemon.pid()
                );
                daemon.detach();
            } else if let Err(e) = daemon.stop().await {
                tracing::warn!("stopping Kubo: {e}");
            }
        }
    }
}

/// Opens the station in `dir` into `slot` (clearing it when the configs do not validate).
fn open_into(slot: &RwLock<Option<Arc<Station>>>, dir: &Path) -> Result<Arc<Station>> {
    let opened = Station::open(dir).map(Arc::new);
    if let Ok(mut s) = slot.write() {
        *s = opened.as_ref().ok().cloned();
    }
    opened
}
