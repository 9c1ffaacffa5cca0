//! `station`: the command line of IPFS Station (thin: parse, call one engine function,
//! render the result).

mod cli;
mod exit;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser};
use cli::{BenchRow, Cli, Cmd};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use ipfs_station::air::streamer::{self, Mode};
use ipfs_station::clock::SystemClock;
use ipfs_station::setup::prechunk::ProgressEvent;
use ipfs_station::setup::{self, SetupEvent, SetupReport};
use ipfs_station::station::state::Role;
use ipfs_station::station::{self, text, Station};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Prints to stdout for the operator's terminal: the formatted text, every line of it passed
/// through [`text::terminal`], so an ESC sequence or bidi override in a tag, file name or
/// error message (strangers wrote them) never reaches the terminal. JSON output (`--json`)
/// is printed raw: `serde_json` escapes control characters itself.
macro_rules! say {
    ($($arg:tt)*) => {
        out(&terminal_lines(&format!($($arg)*)))
    };
}

/// [`say!`] for stderr (notes, warnings, errors).
macro_rules! say_err {
    ($($arg:tt)*) => {
        eprintln!("{}", terminal_lines(&format!($($arg)*)))
    };
}

/// Set once stdout's reader has gone ([`out`]).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `text` and a newline to stdout. When the reader has closed the pipe (`station
/// status | head -1`), this and every later line is dropped and the command goes on to
/// its own exit code (`println!` would panic); any other write error is said on stderr
/// once, and output stops the same way.
fn out(text: &str) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{text}").and_then(|()| o.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to stdout: {e}");
        }
    }
}

/// `s` with every line made terminal-safe by [`text::terminal`]; the newlines are kept.
fn terminal_lines(s: &str) -> String {
    s.split('\n')
        .map(text::terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,symphonia=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // A wrong command line is exit::USAGE (clap's own code, said here so that no other
    // outcome takes it); --help and --version print on stdout and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(exit::FAILED);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            say_err!("error: {e:#}");
            std::process::ExitCode::from(exit::FAILED)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.cmd {
        Cmd::Init { dir } => {
            let r = station::init(&dir)?;
            say!("Created station {}", r.dir.display());
            say!(
                "  jingles: {}",
                if r.jingles.is_empty() {
                    "(kept existing)".into()
                } else {
                    r.jingles.join(", ")
                }
            );
            say!(
                "Drop music into {}, then run: station setup --station {}",
                dir.join("music").display(),
                dir.display()
            );
            Ok(exit::OK)
        }
        Cmd::Setup {
            station,
            quiet,
            json,
        } => {
            let station = open(&station)?;
            housekeeping_report(station::housekeeping::before_setup(
                &station,
                chrono::Utc::now(),
            ));
            let report = run_setup(&station, quiet || json).await?;
            send_to_pinning_services(&station, quiet || json).await;
            if json {
                let mut v = serde_json::to_value(&report)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("ok".into(), serde_json::Value::Bool(report.ok()));
                }
                out(&serde_json::to_string_pretty(&v)?);
            } else {
                print_setup_report(&report);
            }
            Ok(if report.ok() { exit::OK } else { exit::FAILED })
        }
        Cmd::Stream {
            station,
            preview,
            port,
            new_stream,
            log,
            log_max_bytes,
        } => {
            if let Some(log) = &log {
                station::process::log_to(log, log_max_bytes, station::process::LOG_KEEP)?;
            }
            let station = open(&station)?;
            housekeeping_report(station::housekeeping::before_stream(
                &station,
                chrono::Utc::now(),
            ));
            stream(&station, preview, port, new_stream).await?;
            Ok(exit::OK)
        }
        Cmd::Stop { station, timeout } => stop(&open(&station)?, timeout),
        Cmd::Status { station, json } => status(&open(&station)?, json),
        Cmd::Schedule {
            station,
            at,
            hours,
            json,
        } => schedule(&open(&station)?, at.as_deref(), hours, json),
        Cmd::History {
            station,
            since,
            until,
            json,
            csv,
        } => history(
            &open(&station)?,
            since.as_deref(),
            until.as_deref(),
            json,
            csv,
        ),
        Cmd::Health {
            station,
            once,
            json,
            svg,
            log,
            log_max_bytes,
        } => {
            if let Some(log) = &log {
                station::process::log_to(log, log_max_bytes, station::process::LOG_KEEP)?;
            }
            health(&open(&station)?, once, json, svg.as_deref()).await
        }
        Cmd::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "station", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .context("writing the completion script")?;
            Ok(exit::OK)
        }
        Cmd::Demo { station, no_stream } => demo(station, no_stream).await,
        Cmd::Bench {
            music,
            items,
            kubo_api,
            only,
        } => bench(music, items, &kubo_api, only).await,
    }
}

/// After setup: the new library version sent to every pinning service at once (one
/// bounded pass; the streamer's follower goes on from there). A service that fails is
/// said on stderr and never fails setup.
async fn send_to_pinning_services(station: &Station, quiet: bool) {
    if station.setup.remote_pinning.is_empty() {
        return;
    }
    let Ok(kubo) = ipfs_station::kubo::Kubo::new(
        &station.streaming.kubo_api,
        std::time::Duration::from_secs(10),
    ) else {
        return;
    };
    let pass = ipfs_station::pinning::sync_once(station, &kubo, None, chrono::Utc::now());
    match tokio::time::timeout(std::time::Duration::from_secs(120), pass).await {
        Ok(Ok(r)) => {
            for e in &r.errors {
                say_err!("remote pinning: {}", terminal_lines(e));
            }
            if !quiet && r.errors.is_empty() && !r.busy {
                for s in ipfs_station::pinning::service_statuses(station) {
                    say_err!("remote pinning: {}: {}", s.service, s.status);
                }
            }
        }
        Ok(Err(e)) => say_err!("remote pinning: {e}"),
        Err(_) => say_err!(
            "remote pinning: the services did not answer within 120 s; the streamer goes on trying"
        ),
    }
}

/// Says what housekeeping removed (stale temp files, expired trash).
fn housekeeping_report(h: station::housekeeping::Housekeeping) {
    for p in &h.temps_removed {
        say_err!("removed a stale temp file: {}", p.display());
    }
    for p in &h.trash_removed {
        say_err!(
            "deleted from the trash (older than trash_retention_days): {}",
            p.display()
        );
    }
    for e in &h.errors {
        say_err!("warning: housekeeping: {e}");
    }
}

/// Opens the station in `dir`, saying what the operator should know about its files.
fn open(dir: &Path) -> anyhow::Result<Station> {
    let station = Station::open(dir)?;
    for note in station.notes() {
        say_err!("note: {note}");
    }
    Ok(station)
}

/// Runs setup with progress bars (none when `quiet`: log lines on stderr instead).
async fn run_setup(station: &Station, quiet: bool) -> anyhow::Result<SetupReport> {
    let mp = if quiet {
        MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    };
    let overall = mp.add(ProgressBar::new(0));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40.green/white}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    overall.set_prefix("scanning");
    let item_style =
        ProgressStyle::with_template("{prefix:>10} [{bar:40.cyan/blue}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    let bars: Arc<Mutex<HashMap<String, ProgressBar>>> = Default::default();
    let names: Arc<Mutex<HashMap<String, String>>> = Default::default();
    let (mp2, overall2) = (mp.clone(), overall.clone());
    let on_event: setup::OnEvent = Arc::new(move |ev| match ev {
        SetupEvent::Scanned {
            tracks,
            jingles,
            to_encode,
        } => {
            overall2.set_prefix("prechunk");
            overall2.set_length(to_encode as u64);
            overall2.set_message(format!(
                "{tracks} tracks, {jingles} jingles, {to_encode} to encode"
            ));
            if quiet {
                say_err!("scanned: {tracks} tracks, {jingles} jingles, {to_encode} to encode");
            }
        }
        SetupEvent::Prechunk(p) => {
            let Ok(mut bars) = bars.lock() else { return };
            match p {
                ProgressEvent::Queued { id, name, .. } => {
                    if let Ok(mut n) = names.lock() {
                        n.insert(id, terminal_lines(&name));
                    }
                }
                ProgressEvent::Started { id } => {
                    let b = mp2.insert_before(&overall2, ProgressBar::new(1000));
                    b.set_style(item_style.clone());
                    b.set_prefix("encoding");
                    b.set_message(
                        names
                            .lock()
                            .ok()
                            .and_then(|n| n.get(&id).cloned())
                            .unwrap_or_else(|| terminal_lines(&id)),
                    );
                    bars.insert(id, b);
                }
                ProgressEvent::Progress {
                    id,
                    done_seconds,
                    total_seconds,
                } => {
                    if let Some(b) = bars.get(&id) {
                        let f = if total_seconds > 0.0 {
                            (done_seconds / total_seconds).clamp(0.0, 1.0)
                        } else {
                            0.0
                        };
                        b.set_position((f * 1000.0) as u64);
                    }
                }
                ProgressEvent::Finished { id } => {
                    if let Some(b) = bars.remove(&id) {
                        b.finish_and_clear();
                    }
                    overall2.inc(1);
                }
                ProgressEvent::Failed { id, error } => {
                    if let Some(b) = bars.remove(&id) {
                        b.finish_and_clear();
                    }
                    overall2.inc(1);
                    let name = names
                        .lock()
                        .ok()
                        .and_then(|n| n.get(&id).cloned())
                        .unwrap_or_else(|| id.clone());
                    let _ = mp2.println(terminal_lines(&format!("failed {name}: {error}")));
                }
            }
        }
        SetupEvent::Waiting { pid } => {
            let line = format!(
                "another setup of this station is running{}: waiting for it to finish",
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            );
            if quiet {
                say_err!("{line}");
            } else {
                let _ = mp2.println(line);
            }
        }
        SetupEvent::Adding { done, total } => {
            overall2.set_prefix("adding");
            overall2.set_length(total as u64);
            overall2.set_position(done as u64);
            overall2.set_message("segments to IPFS");
        }
    });
    let report = setup::run(station, on_event).await;
    overall.finish_and_clear();
    Ok(report?)
}

/// Prints what a setup run did, for the operator's terminal.
fn print_setup_report(report: &SetupReport) {
    say!(
        "setup: {} tracks, {} jingles; {} encoded, {} reused; {} segments added in {} request(s); rotation of {} entries",
        report.tracks, report.jingles, report.encoded, report.reused, report.segments_added, report.add_requests, report.rotation_len
    );
    for f in &report.failures {
        say!("  FAILED {}: {}", f.path.display(), f.reason);
    }
    if !report.removed.is_empty() {
        say!(
            "  removed {} item(s) whose source is gone",
            report.removed.len()
        );
    }
    if report.segments_unpinned > 0 {
        say!(
            "  unpinned {} segment(s) an older version retired over an hour ago",
            report.segments_unpinned
        );
    }
    if report.segments_retired > 0 {
        say!(
            "  {} segment(s) an older version retired stay pinned until an hour after they left",
            report.segments_retired
        );
    }
    let pins = &report.library_pins;
    if let Some(root) = &pins.root {
        say!(
            "  library root {root} pinned{}",
            if pins.new_root { " (new version)" } else { "" }
        );
    }
    if pins.roots_unpinned > 0 {
        say!(
            "  unpinned {} earlier library root(s), replaced over an hour ago",
            pins.roots_unpinned
        );
    }
    if pins.roots_waiting > 0 {
        say!(
            "  {} earlier library root(s) stay pinned until an hour after they were replaced (and while on air)",
            pins.roots_waiting
        );
    }
    if pins.migrated_pins > 0 {
        say!(
            "  moved {} per-segment pin(s) of an older version into the library root",
            pins.migrated_pins
        );
    }
    if let Some(e) = &report.pin_error {
        say!("  pinning the library root: {e}");
    }
    if let Some(e) = &report.kubo_error {
        say!("  Kubo: {e}");
    }
    if report.missing_cids > 0 {
        say!("  {} segment(s) still wait for a CID", report.missing_cids);
    }
}

/// Registers the SIGTERM and SIGINT handlers now, so a signal that arrives while the
/// process still starts up (before the future is first polled) is not lost and does not
/// kill the process the default way, and returns a future that resolves on the first.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {},
                        _ = i.recv() => {},
                    }
                }
                (Ok(mut t), Err(_)) => {
                    t.recv().await;
                }
                (Err(_), Ok(mut i)) => {
                    i.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Streams until Ctrl-C / SIGTERM.
async fn stream(
    station: &Station,
    preview: bool,
    port: Option<u16>,
    new_stream: bool,
) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    let cfg = &station.streaming;
    let mode = if preview { Mode::Preview } else { Mode::Ipns };
    let on_event: setup::OnEvent = Arc::new(|ev| match ev {
        SetupEvent::Scanned { to_encode, .. } if to_encode > 0 => {
            say_err!("setup: {to_encode} source(s) to prechunk; on air as soon as a jingle and a track are ready")
        }
        SetupEvent::Waiting { pid } => say_err!(
            "another setup of this station is running{}: waiting for it",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        SetupEvent::Prechunk(ProgressEvent::Failed { id, error }) => {
            say_err!("setup: {id} failed: {error}")
        }
        _ => {}
    });
    tokio::pin!(shutdown);
    // The preview's port first: a port that is taken ends the process at once, before it
    // runs setup (the console reports its log); when it is taken because this station
    // is on air already, that is what it says (naming the streamer's pid).
    let preview_listener = if preview {
        let port = port.unwrap_or(cfg.preview_port);
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => Some(l),
            Err(e) => {
                drop(streamer::lock_stream(station, mode)?);
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot listen on 127.0.0.1:{port} (set --port or preview_port)"
                )));
            }
        }
    } else {
        None
    };
    // A stop asked for while setup runs before going on air ends the process at once.
    let on_air = tokio::select! {
        r = ipfs_station::air::prepare(station, mode, new_stream, on_event.clone()) => r?,
        _ = &mut shutdown => {
            say!("Stopped before going on air.");
            return Ok(());
        }
    };
    let _locks = on_air.locks;
    let mut s = on_air.streamer;
    if on_air.setup.is_some() {
        say!("On air with what is prechunked; setup goes on, each item joins the rotation as it lands.");
    }
    // An edited schedule.json is set up again (validated, new folders prechunked); the
    // streamer takes the new programme at the next boundary.
    let watcher = tokio::spawn(watch_schedule(station.clone(), on_air.setup, on_event));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server = None;
    if let Some(listener) = preview_listener {
        let url = format!("http://{}/live.m3u8", listener.local_addr()?);
        say!("Preview on air: {url}");
        say!("Listen with: ffplay {url}   (or any HLS player)");
        s.set_preview_url(url);
        let mut rx = stop_rx.clone();
        server = Some(tokio::spawn(streamer::serve_preview(
            listener,
            s.live_playlist(),
            s.processed_dir(),
            async move {
                let _ = rx.changed().await;
            },
        )));
    } else {
        say!(
            "On air: publishing every {:.1} s under key `{}` via Kubo at {}",
            s.update_interval(),
            cfg.ipns_key,
            cfg.kubo_api
        );
        // Name the listener URL up front when Kubo answers (the streamer retries otherwise).
        let kubo =
            ipfs_station::kubo::Kubo::new(&cfg.kubo_api, std::time::Duration::from_secs(10))?;
        match kubo.ensure_key(&cfg.ipns_key).await {
            Ok(k) => {
                say!("Listeners go to the station's site (the page, the stream, station.json):");
                for (gw, url) in ipfs_station::air::site::listen_urls(
                    &k.id,
                    &station.local_gateway(),
                    &station.health.public_gateways,
                ) {
                    say!("  {gw:<12} {url}");
                }
                say!("  (on any gateway: /ipns/{}/)", k.id);
            }
            Err(e) => {
                say!("Kubo is not answering yet ({e}); the stream is published as soon as it does.")
            }
        }
    }
    // The library (and the page) kept by the pinning services, followed while on air.
    let pinning = if preview {
        None
    } else {
        let kubo =
            ipfs_station::kubo::Kubo::new(&cfg.kubo_api, std::time::Duration::from_secs(30))?;
        let mut rx = stop_rx.clone();
        Some(tokio::spawn(ipfs_station::pinning::follow(
            station.clone(),
            kubo,
            Arc::new(SystemClock),
            async move {
                let _ = rx.changed().await;
            },
        )))
    };
    let mut rx = stop_rx;
    let run = s.run(Arc::new(SystemClock), async move {
        let _ = rx.changed().await;
    });
    tokio::pin!(run);
    tokio::select! {
        r = &mut run => r?,
        _ = shutdown => {
            let _ = stop_tx.send(true);
            run.await?;
        }
    }
    watcher.abort();
    if let Some(h) = pinning {
        h.abort();
    }
    if let Some(h) = server {
        let _ = h.await;
    }
    say!("Off air.");
    Ok(())
}

/// Runs setup again whenever the station's `schedule.json` changes (looked at every
/// 2 s), after the setup run `running` (if any) ends; one run at a time. An invalid
/// schedule is refused by setup with the block and field named, and the programme on
/// air stays.
async fn watch_schedule(
    station: Station,
    mut running: Option<tokio::task::JoinHandle<ipfs_station::Result<setup::SetupReport>>>,
    on_event: setup::OnEvent,
) {
    let file = station
        .dir()
        .join(ipfs_station::setup::schedule::SCHEDULE_FILE);
    let stamp = || {
        std::fs::metadata(&file)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut seen = stamp();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if running.as_ref().is_some_and(|t| t.is_finished()) {
            if let Some(task) = running.take() {
                match task.await {
                    Ok(Ok(r)) => say_err!(
                        "setup: done ({} tracks, {} jingles, {} entries in the default rotation{})",
                        r.tracks,
                        r.jingles,
                        r.rotation_len,
                        if r.ok() {
                            ""
                        } else {
                            "; some sources failed or wait for Kubo: see `station status`"
                        }
                    ),
                    Ok(Err(e)) => say_err!("setup stopped, the programme on air stays: {e}"),
                    Err(e) => say_err!("setup stopped: {e}"),
                }
            }
        }
        let now = stamp();
        if now == seen || running.is_some() {
            continue;
        }
        seen = now;
        say_err!("{} changed: setting it up", file.display());
        let st = station.clone();
        let ev = on_event.clone();
        running = Some(tokio::spawn(async move { setup::run(&st, ev).await }));
    }
}

fn parse_time(field: &str, value: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    Ok(chrono::DateTime::parse_from_rfc3339(value)
        .map_err(|_| ipfs_station::air::timeline::bad_time(field, value))?
        .with_timezone(&chrono::Utc))
}

/// `station schedule`: what plays at an instant and after.
fn schedule(station: &Station, at: Option<&str>, hours: f64, json: bool) -> anyhow::Result<u8> {
    use ipfs_station::air::timeline::{programme_at, TimelineSource};
    let now = chrono::Utc::now();
    let at = match at {
        Some(t) => parse_time("--at", t)?,
        None => now,
    };
    let src = TimelineSource::load(station).with_context(|| {
        format!(
            "no programme yet: run `station setup --station {}`",
            station.dir().display()
        )
    })?;
    let answer = programme_at(&src, station, now, at, hours.clamp(0.0, 24.0 * 7.0))?;
    if json {
        out(&serde_json::to_string_pretty(&answer)?);
        return Ok(exit::OK);
    }
    let tz: Option<chrono_tz::Tz> = answer.timezone.as_deref().and_then(|z| z.parse().ok());
    let local = |ms: i64| {
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match tz {
            Some(tz) => t
                .with_timezone(&tz)
                .format("%a %Y-%m-%d %H:%M:%S")
                .to_string(),
            None => t.format("%a %Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    };
    say!(
        "{} ({}{}): block `{}`",
        answer.local_time,
        answer.timezone.as_deref().unwrap_or("UTC"),
        match answer.basis {
            "streamer" => ", as the running stream plays it",
            "as-run log" => ", from the as-run log",
            _ => ", off air: as a stream started now would play it",
        },
        answer.block
    );
    match &answer.item {
        Some(i) => say!(
            "  on air:  {}{} ({}, {:.0} s from {})",
            i.artist
                .as_deref()
                .map(|a| format!("{a} - "))
                .unwrap_or_default(),
            i.title,
            if i.kind == ipfs_station::library::ItemKind::Jingle {
                "jingle"
            } else {
                "track"
            },
            i.duration,
            local(i.start_ms)
        ),
        None => say!("  on air:  nothing known"),
    }
    let mut block = answer.block.clone();
    for i in &answer.ahead {
        if i.block != block {
            say!("  -- block `{}` --", i.block);
            block = i.block.clone();
        }
        say!(
            "  {}  {}{}",
            local(i.start_ms),
            i.artist
                .as_deref()
                .map(|a| format!("{a} - "))
                .unwrap_or_default(),
            i.title
        );
    }
    Ok(exit::OK)
}

/// `station history`: the as-run log.
fn history(
    station: &Station,
    since: Option<&str>,
    until: Option<&str>,
    json: bool,
    csv: bool,
) -> anyhow::Result<u8> {
    use ipfs_station::air::history;
    let since = since.map(|t| parse_time("--since", t)).transpose()?;
    let until = until.map(|t| parse_time("--until", t)).transpose()?;
    let path = station.state().file(history::HISTORY_FILE);
    let h = history::read(&path, since, until)?;
    if !h.bad_lines.is_empty() {
        say_err!(
            "note: {}: {} line(s) are not entries and were skipped (lines {})",
            path.display(),
            h.bad_lines.len(),
            h.bad_lines
                .iter()
                .take(10)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if csv {
        history::write_csv(&h.entries, std::io::stdout().lock(), Path::new("stdout"))?;
    } else if json {
        out(&serde_json::to_string_pretty(&h.entries)?);
    } else if h.entries.is_empty() {
        say!(
            "Nothing aired in that time (as-run log: {}).",
            path.display()
        );
    } else {
        for e in &h.entries {
            say!(
                "{}  {:>6.1}s  {:<8} {:<7} {}{}",
                e.air_start.format("%Y-%m-%d %H:%M:%S%.3fZ"),
                e.duration,
                e.block,
                if e.kind == ipfs_station::library::ItemKind::Jingle {
                    "jingle"
                } else {
                    "track"
                },
                e.artist
                    .as_deref()
                    .map(|a| format!("{a} - "))
                    .unwrap_or_default(),
                e.title
            );
        }
    }
    Ok(exit::OK)
}

/// Stops the streamer and the monitor of `station`.
fn stop(station: &Station, timeout: u64) -> anyhow::Result<u8> {
    let timeout = std::time::Duration::from_secs(timeout);
    for role in [Role::Stream, Role::Health] {
        match station::process::stop(&station.state(), role, timeout)? {
            Some(pid) => say!("Stopped the {} (pid {pid}).", role.noun()),
            None => say!("The {} was not running.", role.noun()),
        }
    }
    Ok(exit::OK)
}

fn status(station: &Station, json: bool) -> anyhow::Result<u8> {
    let st = match station.state().load_stream_state() {
        Ok(s) => s,
        Err(ipfs_station::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            if json {
                let v = serde_json::json!({
                    "on_air": false,
                    "state": null,
                    "remote_pinning": ipfs_station::pinning::service_statuses(station),
                });
                out(&serde_json::to_string_pretty(&v)?);
            } else {
                say!(
                    "Never streamed: start with `station stream --station {}`",
                    station.dir().display()
                );
                say_remote_pinning(station);
            }
            return Ok(exit::OFF_AIR);
        }
        Err(e) => return Err(e.into()),
    };
    let now = chrono::Utc::now();
    let on_air = st.is_on_air(now);
    if json {
        let mut v = serde_json::to_value(&st)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("schedule");
            o.insert("on_air".into(), serde_json::Value::Bool(on_air));
            // [{"service", "status", "requestid", "cid", "current", "pinned_at", "last_error"}]
            o.insert(
                "remote_pinning".into(),
                serde_json::to_value(ipfs_station::pinning::service_statuses(station))?,
            );
            if let (Mode::Ipns, Some(n)) = (&st.mode, &st.ipns_name) {
                // {"page", "stream", "public": [{"gateway", "page", "stream"}]}: the site
                // (the link to share) and its playlist, on the local gateway and each
                // public one.
                let urls = ipfs_station::air::site::listen_urls(
                    n,
                    &station.local_gateway(),
                    &station.health.public_gateways,
                );
                let stream =
                    |site: &str| format!("{site}{}", ipfs_station::air::site::PLAYLIST_FILE);
                let public: Vec<serde_json::Value> = urls[1..]
                    .iter()
                    .map(|(gateway, site)| {
                        serde_json::json!({"gateway": gateway, "page": site, "stream": stream(site)})
                    })
                    .collect();
                o.insert(
                    "listen".into(),
                    serde_json::json!({"page": urls[0].1, "stream": stream(&urls[0].1), "public": public}),
                );
            }
        }
        out(&serde_json::to_string_pretty(&v)?);
        return Ok(if on_air { exit::OK } else { exit::OFF_AIR });
    }
    say!("{}", if on_air { "ON AIR" } else { "off air" });
    match (&st.mode, &st.ipns_name, &st.preview_url) {
        (Mode::Preview, _, Some(u)) => say!("  preview:        {u}"),
        (_, Some(n), _) => {
            say!("  IPNS name:      {n}");
            for (gw, url) in ipfs_station::air::site::listen_urls(
                n,
                &station.local_gateway(),
                &station.health.public_gateways,
            ) {
                say!("  listen ({gw}): {url}");
            }
        }
        _ => say!("  IPNS name:      (not published yet)"),
    }
    say!("  media sequence: {}", st.media_sequence);
    if let Some(b) = &st.block {
        say!("  block:          {b}");
    }
    if let Some(a) = &st.alarm {
        say!("  ALARM:          {a}");
    }
    if let Some(np) = &st.now_playing {
        say!(
            "  now playing:    {} (since {})",
            np.title,
            np.air_time.format("%H:%M:%S")
        );
    }
    for n in st.next_up.iter().take(3) {
        say!(
            "  next up:        {} at {}",
            n.title,
            n.air_time.format("%H:%M:%S")
        );
    }
    match &st.last_publish {
        Some(p) if p.ok => say!(
            "  last publish:   {} ok ({} ms) site /ipfs/{}/",
            p.at.format("%H:%M:%S"),
            p.duration_ms,
            p.cid.as_deref().unwrap_or("-")
        ),
        Some(p) => say!(
            "  last publish:   {} FAILED: {}",
            p.at.format("%H:%M:%S"),
            p.error.as_deref().unwrap_or("?")
        ),
        None => say!("  last publish:   none"),
    }
    if let Some(f) = &st.publishing {
        say!(
            "  publishing:     window {} since {} ({} s: online, a publish waits for the DHT)",
            f.media_sequence,
            f.since.format("%H:%M:%S"),
            (now - f.since).num_seconds()
        );
    }
    let stats = &st.publish_stats;
    if let (Some(mean), Some(max)) = (stats.mean_ms, stats.max_ms) {
        say!(
            "  publishes:      {} ok, {} failed; {:.1} s on average, {:.1} s at most",
            stats.ok,
            stats.failed,
            mean as f64 / 1000.0,
            max as f64 / 1000.0
        );
    }
    say!(
        "  last tick:      {} ({:.0} s ago)",
        st.last_tick_at.format("%H:%M:%S"),
        st.heartbeat_age(now)
    );
    for w in &st.warming {
        let how = match (w.warmed, w.mean_ms) {
            (0, _) | (_, None) => String::new(),
            (_, Some(ms)) => format!(", {:.1} s on average", ms as f64 / 1000.0),
        };
        say!(
            "  warming {}: {} segments fetched ahead of air, {} failed{how}{}",
            w.gateway,
            w.warmed,
            w.failed,
            w.last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(" (last error: {e})"))
        );
    }
    if let Some(n) = &st.notice {
        say!("  notice:         {n}");
    }
    say_remote_pinning(station);
    Ok(if on_air { exit::OK } else { exit::OFF_AIR })
}

/// One line per pinning service of `remote_pinning`: the library request's status.
fn say_remote_pinning(station: &Station) {
    for s in ipfs_station::pinning::service_statuses(station) {
        let since = s
            .pinned_at
            .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M")))
            .unwrap_or_default();
        let id = s
            .requestid
            .as_deref()
            .map(|r| format!(" (request {})", terminal_lines(r)))
            .unwrap_or_default();
        let err = s
            .last_error
            .as_deref()
            .map(|e| format!(": {}", terminal_lines(e)))
            .unwrap_or_default();
        say!("  pinned on {}: {}{since}{id}{err}", s.service, s.status);
    }
}

async fn demo(dir: Option<PathBuf>, no_stream: bool) -> anyhow::Result<u8> {
    let dir = dir.unwrap_or_else(|| station::default_root().join("demo"));
    let fresh = !dir.join(ipfs_station::station::keys::SETUP_FILE).exists();
    let copied = station::create_demo(&dir)?;
    if fresh {
        say!("Created demo station {}", dir.display());
    }
    if copied > 0 {
        say!("Copied {copied} demo tracks from {}", station::DEMO_MUSIC);
    }
    let station = open(&dir)?;
    let report = run_setup(&station, false).await?;
    print_setup_report(&report);
    if report.rotation_len == 0 {
        bail!("setup produced no rotation");
    }
    if no_stream {
        return Ok(if report.ok() { exit::OK } else { exit::FAILED });
    }
    let kubo =
        ipfs_station::kubo::Kubo::new(station.kubo_api(), std::time::Duration::from_secs(5))?;
    let preview = match kubo.id().await {
        Ok(id) if report.missing_cids == 0 => {
            say!(
                "Kubo {} answers at {}: publishing under IPNS",
                id.id,
                station.kubo_api()
            );
            false
        }
        Ok(_) => {
            say!("Kubo answers but some segments have no CID yet: previewing locally");
            true
        }
        Err(e) => {
            say!("{e}\nPreviewing locally instead (the station is heard without Kubo).");
            true
        }
    };
    stream(&station, preview, None, false).await?;
    Ok(exit::OK)
}

async fn bench(
    music: Option<PathBuf>,
    items: usize,
    kubo_api: &str,
    only: Option<BenchRow>,
) -> anyhow::Result<u8> {
    use ipfs_station::bench;
    let dir = music.unwrap_or_else(|| PathBuf::from(station::DEMO_MUSIC));
    let sources = ipfs_station::library::list_candidates(&dir).files;
    let sources: Vec<PathBuf> = sources
        .into_iter()
        .filter(|p| ipfs_station::library::probe(p).is_ok())
        .collect();
    if sources.is_empty() {
        bail!(
            "no audio in {} (apt-get install lincity-ng-data, or pass --music DIR)",
            dir.display()
        );
    }
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let work = tempfile::tempdir()?;
    say!("machine: {} cores, {}", parallel, std::env::consts::ARCH);
    let want = |row: BenchRow| only.is_none_or(|o| o == row);
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    if want(BenchRow::FreshSetup) {
        match bench::setup_vs_bare_encode(&sources, parallel, &work.path().join("fresh"), kubo_api)
            .await
        {
            Ok(m) => rows.push(m),
            Err(e) => missed.push(format!(
                "fresh setup: not measured ({e}); it needs a Kubo at {kubo_api} (--kubo-api)"
            )),
        }
    }
    if want(BenchRow::SecondSetup) {
        rows.push(bench::second_setup(items, &work.path().join("setup")).await?);
    }
    if want(BenchRow::Window) {
        rows.push(bench::window_tick(10_000, 2_000));
    }
    if want(BenchRow::Levels) {
        let seg = bench::make_segment(&work.path().join("levels"))?;
        rows.push(bench::level_check(&seg, 50)?);
    }
    if want(BenchRow::Timeline) {
        rows.push(bench::timeline(10_000, 5, work.path())?);
    }
    say!("| measurement | ours | baseline | ratio | goal |");
    say!("|---|---|---|---|---|");
    for m in rows {
        say!(
            "| {} | {:.3} ms | {:.3} ms ({}) | {:.2} | {} |",
            m.name,
            m.ours.as_secs_f64() * 1e3,
            m.baseline.as_secs_f64() * 1e3,
            m.baseline_name,
            m.ratio(),
            m.goal
        );
    }
    for why in &missed {
        say_err!("{why}");
    }
    Ok(if missed.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// Prints one health report and writes the SVG when asked.
fn print_health(
    r: &ipfs_station::health::HealthReport,
    svg: Option<&Path>,
    cfg: &ipfs_station::station::config::HealthConfig,
) -> anyhow::Result<()> {
    use ipfs_station::health::Status;
    let word = match r.status {
        Status::Ok => "OK",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    };
    say!(
        "{} health {word}: {}",
        r.checked_at.format("%H:%M:%S"),
        r.ipns_name.as_deref().unwrap_or("(no IPNS name)")
    );
    for g in &r.gateways {
        let lv = g.segments.iter().rev().find_map(|s| s.levels.as_ref());
        say!(
            "  {} {}: seq {} lag {} resolve {} {}",
            if g.ok { "ok  " } else { "FAIL" },
            g.gateway,
            g.media_sequence.map_or("-".into(), |v| v.to_string()),
            g.lag_seconds.map_or("-".into(), |v| format!("{v:.0} s")),
            g.resolve_ms.map_or("-".into(), |v| format!("{v} ms")),
            lv.map_or(String::new(), |l| l
                .channels
                .iter()
                .map(|c| format!("peak {:.1} rms {:.1} dBFS", c.peak_dbfs, c.rms_dbfs))
                .collect::<Vec<_>>()
                .join(" | ")),
        );
    }
    for why in &r.reasons {
        say!("  - {why}");
    }
    write_svg(r, svg, cfg)
}

/// Writes the level meters and history of `r` as SVG to `svg`, when given (atomically).
fn write_svg(
    r: &ipfs_station::health::HealthReport,
    svg: Option<&Path>,
    cfg: &ipfs_station::station::config::HealthConfig,
) -> anyhow::Result<()> {
    if let Some(path) = svg {
        let text = ipfs_station::health::meters::render_svg(
            &r.latest_levels(),
            &r.history,
            cfg.silence_threshold.0,
            cfg.clip_threshold.0,
            800,
            500,
        );
        ipfs_station::station::atomic::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

async fn health(
    station: &Station,
    once: bool,
    json: bool,
    svg: Option<&Path>,
) -> anyhow::Result<u8> {
    if once {
        let r = ipfs_station::health::check_once(station, chrono::Utc::now()).await?;
        if json {
            // The SVG is still written when asked; the text report is not printed.
            write_svg(&r, svg, &station.health)?;
            out(&serde_json::to_string_pretty(&r)?);
        } else {
            print_health(&r, svg, &station.health)?;
        }
        return Ok(exit::of_health(r.status));
    }
    let shutdown = shutdown_signal();
    let state = station.state();
    state.create()?;
    let _lock = state.lock(
        Role::Health,
        &format!("the health monitor of {}", station.dir().display()),
    )?;
    ipfs_station::health::monitor::run(station, Arc::new(SystemClock), shutdown, |r| {
        if let Err(e) = print_health(r, svg, &station.health) {
            say_err!("error: {e:#}");
        }
    })
    .await;
    Ok(exit::OK)
}
