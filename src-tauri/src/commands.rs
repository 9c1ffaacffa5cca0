//! The console's commands: each takes the [`Console`] state, makes one engine call and
//! maps the engine's error to [`UiError`] (`{code, message}`). Long work (setup) runs on
//! a task and reports through events:
//!
//! - `setup://event`: a [`SetupEvent`] other than prechunk progress (`{type: "scanned" |
//!   "adding", ...}`).
//! - `setup://prechunk`: one [`ipfs_station::setup::prechunk::ProgressEvent`] (`{type: "queued" |
//!   "started" | "progress" | "finished" | "failed", id, ...}`), at most every 100 ms per
//!   item ([`ipfs_station::setup::prechunk::PROGRESS_EVERY`]).
//! - `setup://finished`: `{ok, report?, error?}` when a run ends.
//! - `library://dropped`: `{paths, x, y}` (physical pixels) when files are dropped on the
//!   window; the page picks the drop zone and calls `library_add`.
//!
//! Paths from the page are only accepted inside the station folder or when the operator
//! dropped or picked them (recorded on the Rust side, never taken from the page).

use ipfs_station::air::onair::{self, LiveWindow, Role, TimelineBlock};
use ipfs_station::console::audition::{Audition, AuditionInput, AuditionStatus};
use ipfs_station::console::settings::{self, Edits, FieldValue, Outcome};
use ipfs_station::kubo::node::{self, ManagedKubo, NodeStatus};
use ipfs_station::library::catalog::{self, ImportReport, LibraryView, Refused, Removed};
use ipfs_station::library::ItemKind;
use ipfs_station::setup::manifest::ITEMS_DIR;
use ipfs_station::setup::SetupEvent;
use ipfs_station::station::config::{HealthConfig, SetupConfig, StreamingConfig, DEFAULT_GATEWAY};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, State};

/// An error as the page gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UiError {
    /// Stable code ([`ipfs_station::Error::code`], or `bad_request` for bad arguments).
    pub code: String,
    /// What went wrong, naming the file or field.
    pub message: String,
}

impl From<ipfs_station::Error> for UiError {
    fn from(e: ipfs_station::Error) -> Self {
        UiError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

fn bad_request(message: impl Into<String>) -> UiError {
    UiError {
        code: "bad_request".into(),
        message: message.into(),
    }
}

/// Sends one event to the page: `(event name, JSON payload)`.
pub type Emit = Arc<dyn Fn(&str, serde_json::Value) + Send + Sync>;

fn emitter(app: &AppHandle) -> Emit {
    let app = app.clone();
    Arc::new(move |name, payload| {
        let _ = app.emit(name, payload);
    })
}

/// Forwards a setup run's events to the page: prechunk progress as `setup://prechunk`,
/// the rest as `setup://event`.
fn setup_events(emit: &Emit) -> ipfs_station::setup::OnEvent {
    let emit = emit.clone();
    Arc::new(move |e| {
        let (name, v) = match &e {
            SetupEvent::Prechunk(p) => ("setup://prechunk", serde_json::to_value(p)),
            other => ("setup://event", serde_json::to_value(other)),
        };
        if let Ok(v) = v {
            emit(name, v);
        }
    })
}

/// The `setup://finished` payload: `{ok, report}` or `{ok: false, error: {code, message}}`.
fn finished_payload(
    result: &Result<ipfs_station::setup::SetupReport, ipfs_station::Error>,
) -> serde_json::Value {
    match result {
        Ok(r) => serde_json::json!({"ok": r.ok(), "report": r}),
        Err(e) => serde_json::json!({
            "ok": false,
            "error": UiError { code: e.code().into(), message: e.to_string() },
        }),
    }
}

/// The gateway listeners use locally: the first gateway the health monitor checks, else
/// Kubo's default (`http://127.0.0.1:8080`).
fn local_gateway(health: Option<&HealthConfig>) -> String {
    health
        .and_then(|h| h.gateways.first().cloned())
        .unwrap_or_else(|| DEFAULT_GATEWAY.into())
}

/// What the header shows about the open station.
#[derive(Debug, Clone, Serialize)]
pub struct StationInfo {
    /// The station folder.
    pub dir: PathBuf,
    /// Its folder name.
    pub name: String,
    /// Kubo key the stream is published under, when the streaming config is valid.
    pub ipns_key: Option<String>,
    /// The console's version.
    pub version: &'static str,
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

/// Audition availability and state.
#[derive(Debug, Clone, Serialize)]
pub struct AuditionView {
    /// Whether an audio device is open.
    pub available: bool,
    /// Why not, when unavailable.
    pub reason: Option<String>,
    /// What plays.
    pub status: AuditionStatus,
}

/// The console's state: one open station.
pub struct Console {
    station: PathBuf,
    allowed: Mutex<Vec<PathBuf>>,
    setup_running: Arc<AtomicBool>,
    setup_again: Arc<AtomicBool>,
    managed: tokio::sync::Mutex<Option<ManagedKubo>>,
    audition: OnceLock<Result<Audition, String>>,
    started: Instant,
    first_paint_ms: Mutex<Option<f64>>,
    exit_allowed: AtomicBool,
    programme: Mutex<Option<Arc<onair::Programme>>>,
    meters: Mutex<Option<(chrono::DateTime<chrono::Utc>, String)>>,
}

impl Console {
    /// A console on the station folder `station` (canonical path).
    pub fn new(station: PathBuf) -> Console {
        Console {
            station,
            allowed: Mutex::new(Vec::new()),
            setup_running: Arc::new(AtomicBool::new(false)),
            setup_again: Arc::new(AtomicBool::new(false)),
            managed: tokio::sync::Mutex::new(None),
            audition: OnceLock::new(),
            started: Instant::now(),
            first_paint_ms: Mutex::new(None),
            exit_allowed: AtomicBool::new(false),
            programme: Mutex::new(None),
            meters: Mutex::new(None),
        }
    }

    /// Records paths the operator dropped or picked: the only paths outside the station
    /// folder the console reads.
    pub fn allow_paths(&self, paths: &[PathBuf]) {
        if let Ok(mut a) = self.allowed.lock() {
            a.extend(paths.iter().filter_map(|p| p.canonicalize().ok()));
        }
    }

    /// Whether `path` may be read: inside the station, or dropped/picked (or inside a
    /// dropped/picked folder).
    fn is_allowed(&self, path: &Path) -> bool {
        let Ok(c) = path.canonicalize() else {
            return false;
        };
        if c.starts_with(&self.station) {
            return true;
        }
        self.allowed
            .lock()
            .map(|a| a.iter().any(|p| c.starts_with(p)))
            .unwrap_or(false)
    }

    fn setup_cfg(&self) -> Result<SetupConfig, UiError> {
        Ok(SetupConfig::load(&self.station)?)
    }

    /// The open station.
    pub fn info(&self) -> StationInfo {
        StationInfo {
            dir: self.station.clone(),
            name: self
                .station
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().to_string()),
            ipns_key: StreamingConfig::load(&self.station)
                .ok()
                .map(|c| c.ipns_key),
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// The library tables ([`catalog::overview`]).
    ///
    /// Errors: the setup config is invalid (`config`), or the state cannot be read.
    pub fn library(&self) -> Result<LibraryView, UiError> {
        let cfg = self.setup_cfg()?;
        Ok(catalog::overview(&self.station, &cfg)?)
    }

    /// Copies the audio among `paths` into the station (`kind` is `track` or `jingle`,
    /// [`catalog::import`]) and starts setup when anything was added. Paths neither in
    /// the station nor dropped/picked are refused, each with the reason.
    ///
    /// Errors: unknown `kind` (`bad_request`); invalid setup config; ffprobe missing.
    pub async fn add(
        &self,
        kind: &str,
        paths: Vec<String>,
        emit: Emit,
    ) -> Result<ImportReport, UiError> {
        let kind = match kind {
            "track" | "music" => ItemKind::Track,
            "jingle" | "jingles" => ItemKind::Jingle,
            other => {
                return Err(bad_request(format!(
                    "kind `{other}`: expected track or jingle"
                )))
            }
        };
        let cfg = self.setup_cfg()?;
        let mut refused = Vec::new();
        let mut ok = Vec::new();
        for p in paths.into_iter().map(PathBuf::from) {
            if self.is_allowed(&p) {
                ok.push(p);
            } else {
                refused.push(Refused {
                    path: p,
                    reason: "not dropped or picked: the console only reads files you drop on it or pick with Add files".into(),
                });
            }
        }
        let mut report = tokio::task::spawn_blocking(move || catalog::import(&cfg, kind, &ok))
            .await
            .map_err(|e| bad_request(format!("import stopped: {e}")))??;
        report.refused.splice(0..0, refused);
        if !report.added.is_empty() {
            self.start_setup(emit);
        }
        Ok(report)
    }

    /// Starts a setup run on a task unless one runs; then the running one goes again
    /// when it ends (so files added meanwhile are prechunked too). Returns whether a new
    /// run started.
    pub fn start_setup(&self, emit: Emit) -> bool {
        if self.setup_running.swap(true, Ordering::SeqCst) {
            self.setup_again.store(true, Ordering::SeqCst);
            return false;
        }
        let station = self.station.clone();
        let running = self.setup_running.clone();
        let again = self.setup_again.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                again.store(false, Ordering::SeqCst);
                let on_event = setup_events(&emit);
                let result = match SetupConfig::load(&station) {
                    Ok(cfg) => catalog::run_setup(&station, &cfg, on_event).await,
                    Err(e) => Err(e),
                };
                let payload = finished_payload(&result);
                if !again.load(Ordering::SeqCst) {
                    running.store(false, Ordering::SeqCst);
                    emit("setup://finished", payload);
                    break;
                }
                emit("setup://finished", payload);
            }
        });
        true
    }

    /// Whether a setup run is going on.
    pub fn setup_running(&self) -> bool {
        self.setup_running.load(Ordering::SeqCst)
    }

    /// Takes a source out of the library ([`catalog::remove`]: to the station's trash).
    ///
    /// Errors: the path is not a source of this station (`bad_source`); I/O.
    pub fn remove(&self, source: &str) -> Result<Removed, UiError> {
        let cfg = self.setup_cfg()?;
        Ok(catalog::remove(&self.station, &cfg, Path::new(source))?)
    }

    fn kubo_endpoints(&self) -> (String, String) {
        let api = StreamingConfig::load(&self.station)
            .map(|c| c.kubo_api)
            .unwrap_or_else(|_| ipfs_station::station::config::DEFAULT_KUBO_API.into());
        let gateway = local_gateway(HealthConfig::load(&self.station).ok().as_ref());
        (api, gateway)
    }

    /// Is Kubo there ([`node::status`], 3 s per call)?
    pub async fn kubo_status(&self) -> KuboView {
        let (api, gateway) = self.kubo_endpoints();
        KuboView {
            status: node::status(&api, &gateway, Duration::from_secs(3)).await,
            managed: self.managed.lock().await.is_some(),
        }
    }

    /// Starts the managed Kubo ([`ManagedKubo::start`]) unless one answers already.
    ///
    /// Errors: no `ipfs` on PATH (`tool_missing`); the daemon did not come up
    /// (`kubo_unreachable`, with its log's last lines); a non-loopback API (`config`).
    pub async fn kubo_start(&self) -> Result<KuboView, UiError> {
        let current = self.kubo_status().await;
        if current.status.reachable {
            return Ok(current);
        }
        let (api, gateway) = self.kubo_endpoints();
        let mut managed = self.managed.lock().await;
        let daemon = ManagedKubo::start(&self.station, &api, &gateway).await?;
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
    /// Errors: a config file is not JSON (`parse`).
    pub fn settings(&self) -> Result<Vec<FieldValue>, UiError> {
        Ok(settings::load(&self.station)?)
    }

    /// Validates edits and says what they redo ([`settings::check`]).
    ///
    /// Errors: as [`Console::settings`].
    pub fn settings_check(&self, edits: &Edits) -> Result<Outcome, UiError> {
        Ok(settings::check(&self.station, edits)?)
    }

    /// Validates and writes edits ([`settings::apply`]).
    ///
    /// Errors: as [`Console::settings`].
    pub fn settings_apply(&self, edits: &Edits) -> Result<Outcome, UiError> {
        Ok(settings::apply(&self.station, edits)?)
    }

    fn audition(&self) -> &Result<Audition, String> {
        self.audition.get_or_init(Audition::open)
    }

    /// Audition state; opens the audio device on first use.
    pub fn audition_view(&self) -> AuditionView {
        match self.audition() {
            Ok(a) => AuditionView {
                available: true,
                reason: None,
                status: a.status(),
            },
            Err(e) => AuditionView {
                available: false,
                reason: Some(e.clone()),
                status: AuditionStatus::default(),
            },
        }
    }

    /// Plays the item of `source`: `what` = `source` (the file) or `segments` (its
    /// prechunked segments, through the item's `index.m3u8`).
    ///
    /// Errors: no audio device (`audio`), not a source of the library, or not prechunked
    /// yet for `segments` (`bad_request`).
    pub fn audition_play(&self, source: &str, what: &str) -> Result<AuditionView, UiError> {
        let player = self.audition().as_ref().map_err(|e| UiError {
            code: "audio".into(),
            message: e.clone(),
        })?;
        let cfg = self.setup_cfg()?;
        let view = catalog::overview(&self.station, &cfg)?;
        let row = view
            .tracks
            .iter()
            .chain(view.jingles.iter())
            .find(|r| r.source == Path::new(source))
            .ok_or_else(|| bad_request(format!("{source} is not in the library")))?;
        let input = match what {
            "source" => AuditionInput {
                path: row.source.clone(),
                label: row.title.clone(),
                duration: row.duration.unwrap_or(0.0),
            },
            "segments" => {
                let id = row
                    .id
                    .clone()
                    .ok_or_else(|| bad_request(format!("{} is not prechunked yet", row.title)))?;
                AuditionInput {
                    path: cfg
                        .processed_dir
                        .join(ITEMS_DIR)
                        .join(&id)
                        .join("index.m3u8"),
                    label: format!("{} (prechunked)", row.title),
                    duration: row.duration.unwrap_or(0.0),
                }
            }
            other => {
                return Err(bad_request(format!(
                    "`{other}`: expected source or segments"
                )))
            }
        };
        let input = if input.duration > 0.0 {
            input
        } else {
            let d = ipfs_station::library::probe(&input.path).map_or(0.0, |i| i.duration);
            AuditionInput {
                duration: d,
                ..input
            }
        };
        player.play(input);
        Ok(self.audition_view())
    }

    /// Stops the audition.
    pub fn audition_stop(&self) -> AuditionView {
        if let Ok(a) = self.audition() {
            a.stop();
        }
        self.audition_view()
    }

    /// Whether closing the window needs the operator's answer first: the station is on
    /// air and they have not chosen yet.
    pub fn close_needs_answer(&self) -> bool {
        !self.exit_allowed.load(Ordering::SeqCst)
            && onair::running(&self.station, Role::Stream).is_some()
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
                eprintln!("ipfs-station-console: first library paint {ms:.0} ms after launch ({rows} rows)");
            }
            return f.unwrap_or(ms);
        }
        ms
    }

    /// On quit: stop the managed Kubo unless the station is on air.
    pub async fn on_exit(&self) {
        let on_air = StreamingConfig::load(&self.station)
            .ok()
            .and_then(|c| ipfs_station::air::streamer::StreamState::load(&c.state_dir).ok())
            .is_some_and(|s| s.is_on_air(chrono::Utc::now()));
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

/// Where listeners find the station.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerUrl {
    /// Gateway label (`local` or the public gateway's host).
    pub gateway: String,
    /// The live playlist: `<gateway>/ipns/<name>`.
    pub stream: String,
    /// The listener page, once published: `<gateway>/ipfs/<cid>/`.
    pub page: Option<String>,
}

/// Everything the On air screen shows.
#[derive(Debug, Clone, Serialize)]
pub struct OnAirView {
    /// Whether the streamer's heartbeat is fresh.
    pub on_air: bool,
    /// Process id of the running `station stream`, if any.
    pub stream_pid: Option<u32>,
    /// Process id of the running `station health`, if any.
    pub health_pid: Option<u32>,
    /// `stream_state.json` (now playing, next up, IPNS name, publish log).
    pub state: Option<ipfs_station::air::streamer::StreamState>,
    /// The live window listeners see.
    pub window: Option<LiveWindow>,
    /// `health.json`.
    pub health: Option<ipfs_station::health::HealthReport>,
    /// Level meters and the level history, as SVG (plotters).
    pub meters_svg: Option<String>,
    /// Listener URLs on the local gateway and on each public gateway.
    pub urls: Vec<ListenerUrl>,
    /// Why the last go-live step failed, if it did.
    pub problem: Option<String>,
}

/// The `station` program the console runs the streamer and monitor with:
/// `IPFS_STATION_BIN`, else `station` beside the console's own executable, else on PATH.
fn station_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("IPFS_STATION_BIN") {
        return PathBuf::from(p);
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("station")))
        .filter(|p| p.is_file())
    {
        return beside;
    }
    PathBuf::from("station")
}

/// The listener page's CID, recorded when it was published.
const LISTENER_FILE: &str = "listener.json";

impl Console {
    fn state_dir(&self) -> PathBuf {
        ipfs_station::station::state_dir(&self.station)
    }

    /// The level meters and history of `h` as SVG, drawn once per health check (the page
    /// polls every 2 s; the monitor checks every `interval`).
    fn meters_svg(
        &self,
        h: &ipfs_station::health::HealthReport,
        cfg: Option<&HealthConfig>,
    ) -> String {
        let cached = self
            .meters
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| *at == h.checked_at);
        if let Some((_, svg)) = cached {
            return svg;
        }
        let (silence, clip) = cfg.map_or((-50.0, -0.1), |c| {
            (c.silence_threshold_dbfs, c.clip_threshold_dbfs)
        });
        let svg = ipfs_station::health::meters::render_svg(
            &h.latest_levels(),
            &h.history,
            silence,
            clip,
            560,
            300,
        );
        if let Ok(mut cache) = self.meters.lock() {
            *cache = Some((h.checked_at, svg.clone()));
        }
        svg
    }

    /// The On air screen's data, from the state files (works for a stream started by an
    /// earlier console or by hand).
    pub fn onair_view(&self) -> OnAirView {
        let now = chrono::Utc::now();
        let state_dir = self.state_dir();
        let state = ipfs_station::air::streamer::StreamState::load(&state_dir).ok();
        let health = ipfs_station::health::HealthReport::load(&state_dir).ok();
        let hcfg = HealthConfig::load(&self.station).ok();
        let meters_svg = health.as_ref().map(|h| self.meters_svg(h, hcfg.as_ref()));
        let local = local_gateway(hcfg.as_ref());
        let listener: Option<String> =
            ipfs_station::station::atomic::read_json::<serde_json::Value>(
                &state_dir.join(LISTENER_FILE),
            )
            .ok()
            .and_then(|v| v["cid"].as_str().map(str::to_string));
        let mut urls = Vec::new();
        if let Some(name) = state.as_ref().and_then(|s| s.ipns_name.clone()) {
            let mut gateways = vec![("local".to_string(), local)];
            for g in hcfg.map(|c| c.public_gateways).unwrap_or_default() {
                let label = g.split("://").nth(1).unwrap_or(&g).to_string();
                gateways.push((label, g));
            }
            for (label, base) in gateways {
                urls.push(ListenerUrl {
                    gateway: label,
                    stream: format!("{base}/ipns/{name}"),
                    page: listener.as_ref().map(|c| format!("{base}/ipfs/{c}/")),
                });
            }
        }
        OnAirView {
            on_air: state.as_ref().is_some_and(|s| s.is_on_air(now)),
            stream_pid: onair::running(&self.station, Role::Stream),
            health_pid: onair::running(&self.station, Role::Health),
            window: onair::live_window(&self.station, now).ok().flatten(),
            state,
            health,
            meters_svg,
            urls,
            problem: None,
        }
    }

    /// Go live: setup first when sources wait for it, then Kubo must answer, then the
    /// streamer and the health monitor start as processes of their own, then the
    /// listener page is published.
    ///
    /// Errors: setup failed as a whole; no Kubo (`kubo_unreachable`, with how to get
    /// one); the `station` program cannot be run (`tool_missing`).
    pub async fn go_live(&self, emit: Emit) -> Result<OnAirView, UiError> {
        let cfg = self.setup_cfg()?;
        let view = catalog::overview(&self.station, &cfg)?;
        let pending = view.tracks.iter().chain(&view.jingles).any(|r| {
            r.status != catalog::ItemStatus::Ready && r.status != catalog::ItemStatus::Failed
        });
        if pending && !self.setup_running() {
            let r = catalog::run_setup(&self.station, &cfg, setup_events(&emit)).await;
            let payload = finished_payload(&r);
            emit("setup://finished", payload);
            r?;
        }
        let k = self.kubo_status().await;
        if !k.status.reachable {
            return Err(UiError {
                code: "kubo_unreachable".into(),
                message: format!(
                    "Going live publishes through Kubo, and none answers at {}. {}",
                    k.status.api,
                    k.status.help.unwrap_or_default()
                ),
            });
        }
        let bin = station_bin();
        onair::start(&self.station, &bin, Role::Stream)?;
        onair::start(&self.station, &bin, Role::Health)?;
        let problem = self
            .publish_listener_page()
            .await
            .err()
            .map(|e| format!("the listener page was not published: {}", e.message));
        let mut view = self.onair_view();
        view.problem = problem;
        Ok(view)
    }

    /// Adds the listener page (`ui/listener/`, or `IPFS_STATION_LISTENER_DIR`) to Kubo as
    /// a directory with the station's IPNS name in its `station.json`, and records its
    /// CID in `data/state/listener.json`.
    async fn publish_listener_page(&self) -> Result<String, UiError> {
        let scfg = StreamingConfig::load(&self.station)?;
        let kubo = ipfs_station::kubo::Kubo::new(&scfg.kubo_api, Duration::from_secs(60))?;
        let key = kubo.ensure_key(&scfg.ipns_key).await?;
        let page_dir = std::env::var_os("IPFS_STATION_LISTENER_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(ipfs_station::air::listener::source_page_dir);
        let info = ipfs_station::air::listener::ListenerInfo {
            ipns_name: key.id.clone(),
            title: self.info().name,
        };
        let cid =
            ipfs_station::air::listener::publish_listener_page(&kubo, &page_dir, &info).await?;
        ipfs_station::station::atomic::write_json_atomic(
            &self.state_dir().join(LISTENER_FILE),
            &serde_json::json!({
                "cid": cid,
                "ipns_name": key.id,
                "published_at": chrono::Utc::now().to_rfc3339(),
            }),
        )?;
        Ok(cid)
    }

    /// Takes the station off air: stops the streamer and the monitor (SIGTERM, then
    /// SIGKILL after 15 s).
    ///
    /// Errors: `kill` cannot be run (`io`).
    pub fn off_air(&self) -> Result<OnAirView, UiError> {
        onair::stop(&self.station, Role::Stream, Duration::from_secs(15))?;
        onair::stop(&self.station, Role::Health, Duration::from_secs(15))?;
        Ok(self.onair_view())
    }

    /// The rotation ahead ([`onair::timeline_of`]); the parsed programme is kept while
    /// `manifest.json` and `playlist.m3u` are unchanged, so a zoom or jingle-cycle change
    /// redraws at once.
    ///
    /// Errors: no rotation yet (`manifest`, `rotation`, `io`).
    pub fn timeline(
        &self,
        hours: f64,
        jingle_cycle: Option<u32>,
    ) -> Result<Vec<TimelineBlock>, UiError> {
        let cached = self
            .programme
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .filter(|p| p.is_current(&self.station));
        let programme = match cached {
            Some(p) => p,
            None => {
                let p = Arc::new(onair::Programme::load(&self.station)?);
                if let Ok(mut slot) = self.programme.lock() {
                    *slot = Some(p.clone());
                }
                p
            }
        };
        Ok(onair::timeline_of(
            &programme,
            &self.station,
            chrono::Utc::now(),
            hours.clamp(0.05, 24.0),
            jingle_cycle,
        )?)
    }
}

/// The On air screen's data.
#[tauri::command]
pub async fn onair_view(state: State<'_, Console>) -> Result<OnAirView, UiError> {
    Ok(state.onair_view())
}

/// Go live.
#[tauri::command]
pub async fn go_live(state: State<'_, Console>, app: AppHandle) -> Result<OnAirView, UiError> {
    state.go_live(emitter(&app)).await
}

/// Take the station off air.
#[tauri::command]
pub async fn off_air(state: State<'_, Console>) -> Result<OnAirView, UiError> {
    state.off_air()
}

/// The rotation ahead for `hours`, optionally with another `jingle_cycle` (a preview).
#[tauri::command]
pub async fn timeline(
    state: State<'_, Console>,
    hours: f64,
    jingle_cycle: Option<u32>,
) -> Result<Vec<TimelineBlock>, UiError> {
    state.timeline(hours, jingle_cycle)
}

/// Quits the console; `keep_on_air: false` stops the stream first.
#[tauri::command]
pub async fn quit(
    state: State<'_, Console>,
    app: AppHandle,
    keep_on_air: bool,
) -> Result<(), UiError> {
    if !keep_on_air {
        state.off_air()?;
    }
    state.allow_exit();
    app.exit(0);
    Ok(())
}

/// The open station.
#[tauri::command]
pub fn station_info(state: State<'_, Console>) -> StationInfo {
    state.info()
}

/// The library tables.
#[tauri::command]
pub async fn library(state: State<'_, Console>) -> Result<LibraryView, UiError> {
    state.library()
}

/// Adds files (the same command a drop uses): `kind` = `track` | `jingle`.
#[tauri::command]
pub async fn library_add(
    state: State<'_, Console>,
    app: AppHandle,
    kind: String,
    paths: Vec<String>,
) -> Result<ImportReport, UiError> {
    state.add(&kind, paths, emitter(&app)).await
}

/// "Add files" / "Add folder": the system file picker, then [`library_add`].
#[tauri::command]
pub async fn library_pick(
    state: State<'_, Console>,
    app: AppHandle,
    kind: String,
    folders: bool,
) -> Result<ImportReport, UiError> {
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
    .map_err(|e| bad_request(format!("file picker: {e}")))?;
    let paths: Vec<PathBuf> = picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    state.allow_paths(&paths);
    let paths = paths
        .into_iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    state.add(&kind, paths, emitter(&app)).await
}

/// Moves a source to the station's trash and takes its item out of the rotation.
#[tauri::command]
pub async fn library_remove(state: State<'_, Console>, source: String) -> Result<Removed, UiError> {
    state.remove(&source)
}

/// Runs setup now (or again after the running one).
#[tauri::command]
pub fn setup_start(state: State<'_, Console>, app: AppHandle) -> bool {
    state.start_setup(emitter(&app))
}

/// Whether setup runs.
#[tauri::command]
pub fn setup_running(state: State<'_, Console>) -> bool {
    state.setup_running()
}

/// Kubo's status.
#[tauri::command]
pub async fn kubo_status(state: State<'_, Console>) -> Result<KuboView, UiError> {
    Ok(state.kubo_status().await)
}

/// Starts the managed Kubo.
#[tauri::command]
pub async fn kubo_start(state: State<'_, Console>) -> Result<KuboView, UiError> {
    state.kubo_start().await
}

/// Every setting.
#[tauri::command]
pub async fn settings_get(state: State<'_, Console>) -> Result<Vec<FieldValue>, UiError> {
    state.settings()
}

/// Validates edits without writing.
#[tauri::command]
pub async fn settings_check(state: State<'_, Console>, edits: Edits) -> Result<Outcome, UiError> {
    state.settings_check(&edits)
}

/// Validates and writes edits.
#[tauri::command]
pub async fn settings_apply(state: State<'_, Console>, edits: Edits) -> Result<Outcome, UiError> {
    state.settings_apply(&edits)
}

/// Plays an item: `what` = `source` | `segments`.
#[tauri::command]
pub async fn audition_play(
    state: State<'_, Console>,
    source: String,
    what: String,
) -> Result<AuditionView, UiError> {
    state.audition_play(&source, &what)
}

/// Stops the audition.
#[tauri::command]
pub async fn audition_stop(state: State<'_, Console>) -> Result<AuditionView, UiError> {
    Ok(state.audition_stop())
}

/// Audition availability and position.
#[tauri::command]
pub async fn audition_status(state: State<'_, Console>) -> Result<AuditionView, UiError> {
    Ok(state.audition_view())
}

/// The page drew the library for the first time: returns ms since launch.
#[tauri::command]
pub fn ui_ready(state: State<'_, Console>, rows: usize) -> f64 {
    state.ui_ready(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::Value;

    fn gen_audio(path: &Path, freq: u32, seconds: f64) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let ok = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={freq}:duration={seconds}"))
            .args(["-ac", "2", "-c:a", "libvorbis"])
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn station(root: &Path, api: &str) -> PathBuf {
        let st = root.join("st");
        ipfs_station::station::init(&st).unwrap();
        let mut cfg: Value =
            serde_json::from_slice(&std::fs::read(st.join("setup.config.json")).unwrap()).unwrap();
        cfg["kubo_api"] = api.into();
        cfg["segment_duration"] = 2.into();
        std::fs::write(st.join("setup.config.json"), cfg.to_string()).unwrap();
        let mut s: Value =
            serde_json::from_slice(&std::fs::read(st.join("streaming.config.json")).unwrap())
                .unwrap();
        s["kubo_api"] = api.into();
        std::fs::write(st.join("streaming.config.json"), s.to_string()).unwrap();
        st.canonicalize().unwrap()
    }

    type Events = Arc<Mutex<Vec<(String, Value)>>>;

    /// Captures events; each payload gets `_t`, seconds since the capture began.
    fn capture() -> (Emit, Events) {
        let seen: Events = Default::default();
        let s = seen.clone();
        let t0 = Instant::now();
        (
            Arc::new(move |name: &str, mut v: Value| {
                v["_t"] = t0.elapsed().as_secs_f64().into();
                s.lock().unwrap().push((name.to_string(), v))
            }),
            seen,
        )
    }

    async fn finished(seen: &Events, n: usize) {
        let t = Instant::now();
        while seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e == "setup://finished")
            .count()
            < n
        {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "setup did not finish"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn add_reads_only_dropped_or_station_paths_and_runs_setup_with_events() {
        let kubo = kubo_double::KuboDouble::start().await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let st = station(tmp.path(), &kubo.api_url());
        let outside = tmp.path().join("desk/song.ogg");
        gen_audio(&outside, 440, 60.0);
        let console = Console::new(st.clone());
        let (emit, seen) = capture();

        // Not dropped or picked: refused, nothing copied, no setup.
        let r = console
            .add("track", vec![outside.display().to_string()], emit.clone())
            .await
            .unwrap();
        assert!(r.added.is_empty());
        assert!(r.refused[0].reason.contains("not dropped or picked"));
        assert!(!console.setup_running());

        // Dropped: copied and prechunked; the page gets progress and a finish event.
        console.allow_paths(std::slice::from_ref(&outside));
        let r = console
            .add("track", vec![outside.display().to_string()], emit.clone())
            .await
            .unwrap();
        assert_eq!(r.added.len(), 1);
        finished(&seen, 1).await;
        assert!(!console.setup_running());
        let events = seen.lock().unwrap().clone();
        let kinds: Vec<String> = events
            .iter()
            .filter(|(e, _)| e == "setup://prechunk")
            .map(|(_, v)| v["type"].as_str().unwrap().to_string())
            .collect();
        for k in ["queued", "started", "progress", "finished"] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing: {kinds:?}");
        }
        let queued = events
            .iter()
            .find(|(e, v)| {
                e == "setup://prechunk"
                    && v["type"] == "queued"
                    && v["path"].as_str().unwrap().ends_with("song.ogg")
            })
            .unwrap();
        assert!(queued.1["id"].as_str().unwrap().starts_with("t-"));
        assert!(events
            .iter()
            .any(|(e, v)| e == "setup://event" && v["type"] == "scanned"));
        // Throttled: at most ~10 progress events per second per item.
        let mut times: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for (_, v) in events
            .iter()
            .filter(|(e, v)| e == "setup://prechunk" && v["type"] == "progress")
        {
            times
                .entry(v["id"].as_str().unwrap().to_string())
                .or_default()
                .push(v["_t"].as_f64().unwrap());
        }
        let track = times.iter().find(|(id, _)| id.starts_with("t-")).unwrap().1;
        assert!(track.len() >= 2, "{times:?}");
        // The last one (100 %, ffmpeg's `progress=end`) is always sent.
        for (id, t) in &times {
            let throttled = &t[..t.len() - 1];
            assert!(
                throttled.windows(2).all(|w| w[1] - w[0] >= 0.09),
                "{id}: progress faster than 10/s: {t:?}"
            );
        }
        let (_, done) = events
            .iter()
            .find(|(e, _)| e == "setup://finished")
            .unwrap();
        assert_eq!(done["ok"], true, "{done}");

        let lib = console.library().unwrap();
        assert_eq!(lib.tracks.len(), 1);
        assert_eq!(lib.tracks[0].status, catalog::ItemStatus::Ready);
        assert_eq!(lib.jingles.len(), 3);

        // Unknown kind: a clear bad request.
        let e = console
            .add("podcast", vec![], emit.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code, "bad_request");
        assert!(e.message.contains("podcast"));

        // Remove: maps the engine's refusal (last track) to {code, message}.
        let e = console
            .remove(&lib.tracks[0].source.display().to_string())
            .unwrap_err();
        assert_eq!(e.code, "bad_source");
        assert!(e.message.contains("last track"), "{}", e.message);
        kubo.shutdown().await;
    }

    #[test]
    fn closing_asks_only_while_a_stream_runs_until_the_operator_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let st = tmp.path().join("st");
        ipfs_station::station::init(&st).unwrap();
        let console = Console::new(st.canonicalize().unwrap());
        assert!(
            !console.close_needs_answer(),
            "off air: the window just closes"
        );
        // A live process named in the pid file stands for a running streamer.
        std::fs::write(
            st.join("data/state/stream.pid"),
            std::process::id().to_string(),
        )
        .unwrap();
        assert!(console.close_needs_answer(), "on air: ask first");
        console.allow_exit();
        assert!(!console.close_needs_answer(), "answered: close");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn kubo_status_and_settings_go_through_the_engine() {
        let kubo = kubo_double::KuboDouble::start().await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let st = station(tmp.path(), &kubo.api_url());
        let console = Console::new(st.clone());
        let k = console.kubo_status().await;
        assert!(k.status.reachable && !k.managed);
        assert_eq!(k.status.version.as_deref(), Some("0.32.1"));
        kubo.shutdown().await;
        let k = console.kubo_status().await;
        assert!(!k.status.reachable);
        assert!(k.status.help.is_some());
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v["reachable"], false, "flattened for the page: {v}");

        let fields = console.settings().unwrap();
        assert!(fields
            .iter()
            .any(|f| f.spec.key == "window_size" && f.value == "50"));
        let mut edits = Edits::new();
        edits
            .entry("streaming.config.json".into())
            .or_default()
            .insert("window_size".into(), "2".into());
        let out = console.settings_apply(&edits).unwrap();
        assert!(!out.applied);
        assert_eq!(out.errors[0].key, "window_size");
        edits
            .entry("streaming.config.json".into())
            .or_default()
            .insert("window_size".into(), "60".into());
        let out = console.settings_apply(&edits).unwrap();
        assert!(out.applied && out.impact.stream_restart);
        assert_eq!(StreamingConfig::load(&st).unwrap().window_size, 60);

        // A broken config file is reported with its name.
        std::fs::write(st.join("setup.config.json"), "{ nope").unwrap();
        let e = console.library().unwrap_err();
        assert_eq!(e.code, "parse");
        assert!(e.message.contains("setup.config.json"), "{}", e.message);
    }
}
