//! The Kubo node as the console sees it: is one answering at the configured RPC API
//! ([`status`]), and a managed daemon on the station's own repo when none is
//! ([`ManagedKubo`]).
//!
//! The managed daemon follows Kubo's documented CLI and source (kubo-rpc.md section 7;
//! [`ManagedKubo::start`] says what each step is for): `IPFS_PATH=<station>/data/kubo`,
//! a daemon already on the repo found before anything touches it, `ipfs init` once,
//! `ipfs config Addresses.API|Addresses.Gateway` on 127.0.0.1, then `ipfs daemon
//! --migrate --enable-gc` in its own process group; it is stopped with the RPC
//! `shutdown` command (Kubo's clean stop), killed only if that does not work.
//!
//! Each `ipfs` subcommand run before the daemon has a time limit ([`CommandLimits`]):
//! one still running at its limit is killed with what it started (its process group,
//! [`crate::library::tool::run`]) and the start fails naming it. Each start of a daemon
//! begins a new `kubo.log`: the previous one is rotated to `kubo.log.1` (and that one to
//! `kubo.log.2`), [`KUBO_LOG_KEEP`] old logs kept, as the station's own logs rotate
//! ([`crate::station::process::rotate_log`]).

use crate::error::{Error, Result};
use crate::kubo::addr::{loopback_multiaddr, multiaddr_http, same_endpoint};
use crate::kubo::Kubo;
use crate::station::keys;
use crate::station::state::{KUBO_LOG_FILE, KUBO_PID_FILE};
use crate::station::Station;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repo folder of a station's managed Kubo, inside the station.
pub const MANAGED_REPO_DIR: &str = "data/kubo";
/// How long [`ManagedKubo::start`] waits for the API to answer, seconds.
pub const START_TIMEOUT_SECS: u64 = 60;
/// Default time limit of `ipfs init` and of each `ipfs config`, seconds (both take well
/// under a second on a healthy disk).
pub const COMMAND_TIMEOUT_SECS: u64 = 60;
/// Default time limit of `ipfs repo migrate`, seconds: it may fetch the migrations it
/// runs before running them.
pub const MIGRATE_TIMEOUT_SECS: u64 = 600;
/// Old `kubo.log`s kept beside the current one (`kubo.log.1` is the previous start's),
/// as many as the station keeps of its own logs.
pub const KUBO_LOG_KEEP: usize = crate::station::process::LOG_KEEP;

/// Time limits of the `ipfs` subcommands [`ManagedKubo::start`] runs before the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLimits {
    /// `ipfs init` and each `ipfs config`, seconds ([`COMMAND_TIMEOUT_SECS`]).
    pub command_secs: u64,
    /// `ipfs repo migrate`, seconds ([`MIGRATE_TIMEOUT_SECS`]).
    pub migrate_secs: u64,
}

impl Default for CommandLimits {
    fn default() -> CommandLimits {
        CommandLimits {
            command_secs: COMMAND_TIMEOUT_SECS,
            migrate_secs: MIGRATE_TIMEOUT_SECS,
        }
    }
}

/// Runs `ipfs <args>` for each of `commands` in turn on the repo `repo`, each for at most
/// `limit_secs` ([`crate::library::tool::run`] on a blocking thread: a process group of
/// its own, stdin closed, killed with what it started at the limit).
///
/// Errors: the reason as text (for [`Error::KuboUnreachable`]) of the first that could
/// not run, failed (with the end of its stderr) or did not finish within `limit_secs`.
async fn run_ipfs(
    ipfs: &Path,
    repo: &Path,
    commands: &[&[&str]],
    limit_secs: u64,
) -> std::result::Result<(), String> {
    use crate::library::tool;
    for args in commands {
        let shown = format!("ipfs {}", args.join(" "));
        let mut cmd = tool::command(ipfs.as_os_str(), *args)
            .map_err(|_| format!("`{shown}`: no program at {}", ipfs.display()))?;
        cmd.env("IPFS_PATH", repo);
        let what = shown.clone();
        let limit = Duration::from_secs(limit_secs);
        let out = tokio::task::spawn_blocking(move || tool::run(&what, cmd, limit, None))
            .await
            .map_err(|e| format!("`{shown}`: {e}"))?
            .map_err(|e| e.to_string())?;
        if out.timed_out {
            return Err(format!(
                "`{shown}` did not finish within {limit_secs} s: stopped (killed with what it started)"
            ));
        }
        if !out.status.success() {
            return Err(format!("`{shown}` failed: {}", out.stderr.trim()));
        }
    }
    Ok(())
}

/// What the console shows about Kubo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStatus {
    /// The RPC API asked (e.g. `http://127.0.0.1:5001`).
    pub api: String,
    /// The gateway listeners use locally (first configured health gateway).
    pub gateway: String,
    /// Whether `id` and `version` answered.
    pub reachable: bool,
    /// Peer ID (`12D3KooW...`), when reachable.
    pub peer_id: Option<String>,
    /// Kubo's version (e.g. `0.32.1`), when reachable.
    pub version: Option<String>,
    /// Why it is not reachable: the technical detail (which URL, what the transport
    /// said), without advice.
    pub error: Option<String>,
    /// An `ipfs` binary on PATH, which "Start Kubo" would run.
    pub ipfs_binary: Option<PathBuf>,
    /// What to do when no Kubo answers, for the operator: one sentence, one action.
    pub help: Option<String>,
}

/// Asks the Kubo at `api` for `id` and `version` (each bounded to `timeout`), and looks
/// for an `ipfs` binary on PATH.
pub async fn status(api: &str, gateway: &str, timeout: Duration) -> NodeStatus {
    let ipfs_binary = find_ipfs();
    let mut st = NodeStatus {
        api: api.to_string(),
        gateway: gateway.to_string(),
        reachable: false,
        peer_id: None,
        version: None,
        error: None,
        ipfs_binary: ipfs_binary.clone(),
        help: None,
    };
    let answer = async {
        let kubo = Kubo::new(api, timeout)?;
        let id = kubo.id().await?;
        let version = kubo.version().await?;
        Ok::<_, Error>((id, version))
    };
    match answer.await {
        Ok((id, version)) => {
            st.reachable = true;
            st.peer_id = Some(id.id);
            st.version = Some(version);
        }
        Err(e) => {
            st.error = Some(match e {
                Error::KuboUnreachable { url, reason } => format!("no answer from {url}: {reason}"),
                other => other.to_string(),
            });
            st.help = Some(match ipfs_binary {
                Some(_) => "Kubo is not running, so nothing is published yet: press Start Kubo.".into(),
                None => "Kubo is not installed, so nothing is published yet: install it (https://docs.ipfs.tech/install/command-line/) and run `ipfs daemon`.".into(),
            });
        }
    }
    st
}

/// The first `ipfs` executable on `PATH`.
pub fn find_ipfs() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ipfs"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && is_executable(&m)))
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// `<repo>/api` (Kubo repo/fsrepo/fsrepo.go `apiFile`): the running daemon's RPC
/// multiaddr, written when its API listens, removed when it stops.
pub const REPO_API_FILE: &str = "api";
/// `<repo>/repo.lock` (Kubo repo/fsrepo/fsrepo.go `LockFile`): held by the one process
/// that has the repo open (a daemon, or an `ipfs` command run without one).
pub const REPO_LOCK_FILE: &str = "repo.lock";

/// A Kubo process that already has the station's repo open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoHolder {
    /// Its process id, as the kernel lists it for `repo.lock`.
    pub pid: Option<u32>,
    /// Its RPC API from `<repo>/api`, as an `http://` URL, when it wrote one.
    pub api: Option<String>,
}

/// Who has the Kubo repo at `repo` open, if anyone: the holder of `repo.lock` (the
/// kernel's lock table) and the API it announced in `<repo>/api`.
pub fn repo_holder(repo: &Path) -> Option<RepoHolder> {
    let pid = crate::station::state::any_lock_holder(&repo.join(REPO_LOCK_FILE));
    let api = std::fs::read_to_string(repo.join(REPO_API_FILE))
        .ok()
        .and_then(|m| multiaddr_http(m.trim()));
    (pid.is_some()).then_some(RepoHolder { pid, api })
}

/// A Kubo daemon the station runs on its own repo, or found running there.
#[derive(Debug)]
pub struct ManagedKubo {
    /// The daemon this station started; `None` when it found one running on its repo
    /// (that one is not stopped on quit).
    child: Option<Child>,
    pid: u32,
    api: String,
    repo: PathBuf,
    pid_file: PathBuf,
}

impl ManagedKubo {
    /// Starts `ipfs daemon` for `station` with its RPC API at the station's `kubo_api`
    /// and its gateway at the station's local gateway (both `http://127.0.0.1:<port>`),
    /// on the repo `<station>/data/kubo`, and waits until both the API (`id`) and the
    /// gateway (`/version`) answer (at most [`START_TIMEOUT_SECS`]: the daemon listens on
    /// the API before the gateway, cmd/ipfs/kubo/daemon.go). The daemon's output goes to
    /// a new `kubo.log` in the state folder (the previous one rotated, [`KUBO_LOG_KEEP`]
    /// kept). Each `ipfs` subcommand before the daemon is bounded by the default
    /// [`CommandLimits`].
    ///
    /// What it runs, and why (kubo-rpc.md section 7):
    /// - before anything touches the repo, whether a Kubo already has it open
    ///   ([`repo_holder`]): a daemon answering at the configured API is used as it is
    ///   (and not stopped on quit); any other holder is reported, nothing is run;
    /// - `ipfs init`, once: a new repo;
    /// - `ipfs config Addresses.API <multiaddr>`: the RPC API on loopback only (it is
    ///   admin access to the node) at the port `kubo_api` names;
    /// - `ipfs config Addresses.Gateway <multiaddr>`: the gateway on loopback at the
    ///   port of the first local gateway the monitor checks;
    /// - when `ipfs config` says the repo needs migration (an older Kubo made it),
    ///   `ipfs repo migrate`, then the config again;
    /// - `ipfs daemon --migrate --enable-gc`: `--migrate` answers yes to a migration
    ///   the daemon would otherwise ask for on its closed stdin and exit; `--enable-gc`
    ///   lets Kubo free the playlists the streamer unpins (unpinning alone frees
    ///   nothing); with `ipns_pubsub`, `--enable-namesys-pubsub` too. It runs in a
    ///   process group of its own, so closing the console's terminal does not take it
    ///   down while the station stays on air.
    ///
    /// Errors: [`Error::ToolMissing`] without `ipfs` on PATH; [`Error::Config`] when the
    /// API or gateway is not a loopback http URL with a port; [`Error::KuboUnreachable`]
    /// when another Kubo holds the repo, a step fails or passes its time limit (named,
    /// with the limit in seconds), or the daemon exits or does not answer in time (with
    /// the log's last lines); [`Error::Io`] when the old `kubo.log` cannot be rotated.
    pub async fn start(station: &Station) -> Result<ManagedKubo> {
        let ipfs = find_ipfs().ok_or_else(|| Error::ToolMissing {
            tool: "ipfs".into(),
            hint: "install Kubo (https://docs.ipfs.tech/install/command-line/)".into(),
        })?;
        Self::start_with(&ipfs, station).await
    }

    /// [`ManagedKubo::start`] with the `ipfs` program given.
    ///
    /// Errors: as [`ManagedKubo::start`].
    pub async fn start_with(ipfs: &Path, station: &Station) -> Result<ManagedKubo> {
        Self::start_with_limits(ipfs, station, CommandLimits::default()).await
    }

    /// [`ManagedKubo::start`] with the `ipfs` program and the subcommands' time limits
    /// given.
    ///
    /// Errors: as [`ManagedKubo::start`].
    pub async fn start_with_limits(
        ipfs: &Path,
        station: &Station,
        limits: CommandLimits,
    ) -> Result<ManagedKubo> {
        let api = station.kubo_api().to_string();
        let gateway = station.local_gateway();
        let api_addr = loopback_multiaddr(keys::STREAMING_FILE, "kubo_api", &api)?.to_string();
        // The local gateway is the first of health.config.json `gateways`.
        let gw_addr = loopback_multiaddr(keys::HEALTH_FILE, "gateways", &gateway)?.to_string();
        let repo = station.dir().join(MANAGED_REPO_DIR);
        let state = station.state();
        state.create()?;
        let pid_file = state.file(KUBO_PID_FILE);
        let unreachable = |reason: String| Error::KuboUnreachable {
            url: api.clone(),
            reason,
        };
        // A Kubo on this repo already: use it when it is the configured one, else say so.
        if let Some(holder) = repo_holder(&repo) {
            let pid = holder
                .pid
                .map_or_else(|| "a process".to_string(), |p| format!("pid {p}"));
            let answers = match &holder.api {
                Some(a) => Kubo::new(a, Duration::from_secs(3))?.id().await.is_ok(),
                None => false,
            };
            return match (holder.api, answers) {
                (Some(a), true) if same_endpoint(&a, &api) => {
                    tracing::info!("Kubo ({pid}) already runs on {}: using it", repo.display());
                    Ok(ManagedKubo {
                        child: None,
                        pid: holder.pid.unwrap_or(0),
                        api,
                        repo,
                        pid_file,
                    })
                }
                (Some(a), true) => Err(unreachable(format!(
                    "a Kubo ({pid}) already runs on this station's repo {} with its API at {a}, not at {api}: set the Kubo API to {a} in Settings, or stop that daemon",
                    repo.display()
                ))),
                _ => Err(unreachable(format!(
                    "{pid} holds this station's Kubo repo {} ({REPO_LOCK_FILE}) but its API does not answer: wait for it to finish, or stop it",
                    repo.display()
                ))),
            };
        }
        let log_path = state.file(KUBO_LOG_FILE);
        let secs = limits.command_secs;
        if !repo.join("config").exists() {
            std::fs::create_dir_all(&repo).map_err(|e| Error::io(&repo, e))?;
            run_ipfs(ipfs, &repo, &[&["init"]], secs)
                .await
                .map_err(unreachable)?;
        }
        let configure: [&[&str]; 2] = [
            &["config", "Addresses.API", &api_addr],
            &["config", "Addresses.Gateway", &gw_addr],
        ];
        if let Err(e) = run_ipfs(ipfs, &repo, &configure, secs).await {
            // repo/fsrepo/fsrepo.go ErrNeedMigration: "ipfs repo needs migration".
            if !e.contains("needs migration") {
                return Err(unreachable(e));
            }
            tracing::info!(
                "the Kubo repo {} is older than this Kubo: migrating it",
                repo.display()
            );
            let migrate: [&[&str]; 1] = [&["repo", "migrate"]];
            run_ipfs(ipfs, &repo, &migrate, limits.migrate_secs)
                .await
                .map_err(unreachable)?;
            run_ipfs(ipfs, &repo, &configure, secs)
                .await
                .map_err(unreachable)?;
        }
        // Only a daemon of this start writes it (one found running returned above).
        crate::station::process::rotate_log(&log_path, 1, KUBO_LOG_KEEP)?;
        // A symlink planted at the log's path is refused, not written through.
        let log = crate::station::atomic::open_no_follow(
            &log_path,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )
        .map_err(|e| Error::io(&log_path, e))?;
        let log2 = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        let mut cmd = Command::new(ipfs);
        cmd.args(["daemon", "--migrate", "--enable-gc"]);
        if station.streaming.ipns_pubsub {
            // IPNS over PubSub (Kubo cmd/ipfs/kubo/daemon.go `enable-namesys-pubsub`:
            // implies pubsub, overrides Ipns.UsePubsub).
            cmd.arg("--enable-namesys-pubsub");
        }
        cmd.env("IPFS_PATH", &repo)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| Error::ToolMissing {
            tool: "ipfs".into(),
            hint: e.to_string(),
        })?;
        let pid = child.id();
        crate::station::atomic::write_atomic(&pid_file, pid.to_string().as_bytes())?;
        let kubo = Kubo::new(&api, Duration::from_secs(2))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Http {
                what: "the managed Kubo's gateway check".into(),
                reason: e.to_string(),
            })?;
        let started = Instant::now();
        loop {
            let api_up = kubo.id().await.is_ok();
            let gateway_up = api_up
                && http
                    .get(format!("{gateway}/version"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            if gateway_up {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > Duration::from_secs(START_TIMEOUT_SECS) {
                if exited.is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                let _ = std::fs::remove_file(&pid_file);
                let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(unreachable(format!(
                    "the managed `ipfs daemon` {} (log {}): {}",
                    match exited {
                        Some(s) => format!("exited ({s})"),
                        None if api_up => format!(
                            "answers on its API but its gateway did not within {START_TIMEOUT_SECS} s"
                        ),
                        None => format!("did not answer within {START_TIMEOUT_SECS} s"),
                    },
                    log_path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(ManagedKubo {
            child: Some(child),
            pid,
            api,
            repo,
            pid_file,
        })
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether this station started it (`false`: it was running on the repo already).
    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }

    /// The repo folder (`IPFS_PATH`).
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// Stops the daemon this station started: RPC `shutdown`, then up to 10 s for it to
    /// exit, then a kill. A daemon found running on the repo is left alone.
    ///
    /// Errors: [`Error::Io`] when the process cannot be waited for.
    pub async fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(k) = Kubo::new(&self.api, Duration::from_secs(5)) {
            let _ = k.shutdown().await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                _ => {
                    let _ = child.kill();
                    child.wait().map_err(|e| Error::io(&self.pid_file, e))?;
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
        Ok(())
    }

    /// Leaves the daemon running (the station stays on air) and forgets it; its process
    /// id stays in `data/state/kubo.pid`.
    pub fn detach(self) {
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new station in `d` whose Kubo API and gateway are ports nothing listens on, and
    /// a fake `ipfs` there running `body` (a `sh` script).
    fn station_with_fake_ipfs(d: &Path, body: &str) -> (Station, PathBuf) {
        let dir = d.join("radio");
        crate::station::init(&dir).unwrap();
        let mut st = Station::open(&dir).unwrap();
        let port = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        st.streaming.kubo_api = format!("http://127.0.0.1:{}", port());
        st.health.gateways = vec![format!("http://127.0.0.1:{}", port())];
        let ipfs = d.join("ipfs");
        std::fs::write(&ipfs, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ipfs, std::fs::Permissions::from_mode(0o755)).unwrap();
        (st, ipfs)
    }

    /// An `ipfs` subcommand that never ends fails the start at its limit, naming it.
    #[tokio::test]
    async fn a_stalled_ipfs_subcommand_is_stopped_at_its_limit() {
        let limits = CommandLimits {
            command_secs: 1,
            migrate_secs: 1,
        };
        // `init` stalls; then (with a repo) `config` stalls.
        for (body, named) in [
            ("sleep 600", "`ipfs init`"),
            (
                "[ \"$1\" = init ] && { : > \"$IPFS_PATH/config\"; exit 0; }\nsleep 600",
                "`ipfs config Addresses.API /ip4/127.0.0.1/tcp/",
            ),
        ] {
            let d = tempfile::tempdir().unwrap();
            let (st, ipfs) = station_with_fake_ipfs(d.path(), body);
            let t = Instant::now();
            // The watchdog: without a limit the start would wait for the sleep.
            let started = tokio::time::timeout(
                Duration::from_secs(20),
                ManagedKubo::start_with_limits(&ipfs, &st, limits),
            )
            .await
            .expect("the start did not stop the stalled subcommand");
            let e = started.unwrap_err().to_string();
            assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
            assert!(e.contains(named), "{e}");
            assert!(e.contains("did not finish within 1 s"), "{e}");
        }
    }

    /// Each start of a daemon begins a new `kubo.log`; the previous ones are kept, at
    /// most [`KUBO_LOG_KEEP`].
    #[tokio::test]
    async fn each_daemon_start_rotates_kubo_log() {
        let d = tempfile::tempdir().unwrap();
        // A Kubo whose daemon says which run it is and exits.
        let (st, ipfs) = station_with_fake_ipfs(
            d.path(),
            "case \"$1\" in\n\
             init) : > \"$IPFS_PATH/config\" ;;\n\
             daemon) n=$(( $(cat \"$IPFS_PATH/runs\" 2>/dev/null || echo 0) + 1 ))\n\
             echo $n > \"$IPFS_PATH/runs\"; echo \"run $n\"; exit 1 ;;\n\
             esac",
        );
        let log = st.state().file(KUBO_LOG_FILE).display().to_string();
        let read = |n: &str| std::fs::read_to_string(format!("{log}{n}")).ok();
        for run in 1..=4 {
            let e = ManagedKubo::start_with(&ipfs, &st).await.unwrap_err();
            assert!(e.to_string().contains("exited"), "{e}");
            assert_eq!(read(""), Some(format!("run {run}\n")));
        }
        assert_eq!(KUBO_LOG_KEEP, 2);
        assert_eq!(read(".1").as_deref(), Some("run 3\n"));
        assert_eq!(read(".2").as_deref(), Some("run 2\n"));
        assert_eq!(read(".3"), None, "only {KUBO_LOG_KEEP} old logs are kept");
    }
}
