//! The Kubo node as the console sees it: is one answering at the configured RPC API
//! ([`status`]), and a managed daemon on the station's own repo when none is
//! ([`ManagedKubo`]).
//!
//! The managed daemon follows Kubo's documented CLI: `IPFS_PATH=<station>/data/kubo`,
//! `ipfs init` once, `ipfs config Addresses.API|Addresses.Gateway` on 127.0.0.1 (the RPC
//! API is admin access: loopback only), `ipfs config Ipns.MaxCacheTTL` short so the local
//! gateway follows the station's own publishes, then `ipfs daemon`; it is stopped with
//! the RPC `shutdown` command (Kubo's clean stop), killed only if that does not work.

use crate::error::{Error, Result};
use crate::kubo::Kubo;
use crate::station::state::{KUBO_LOG_FILE, KUBO_PID_FILE};
use crate::station::Station;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repo folder of a station's managed Kubo, inside the station.
pub const MANAGED_REPO_DIR: &str = "data/kubo";
/// `Ipns.MaxCacheTTL` of the managed daemon: how long it may serve a cached IPNS name.
pub const MANAGED_MAX_CACHE_TTL: &str = "10s";
/// How long [`ManagedKubo::start`] waits for the API to answer, seconds.
pub const START_TIMEOUT_SECS: u64 = 60;

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
    /// Why it is not reachable.
    pub error: Option<String>,
    /// An `ipfs` binary on PATH, which "Start Kubo" would run.
    pub ipfs_binary: Option<PathBuf>,
    /// What to do when no Kubo answers, for the operator.
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
            st.error = Some(e.to_string());
            st.help = Some(match ipfs_binary {
                Some(_) => "No Kubo answers. Start Kubo runs a daemon on this station's own repo; or start yours with `ipfs daemon`.".into(),
                None => "No Kubo answers and no `ipfs` program is installed. Install Kubo (https://docs.ipfs.tech/install/command-line/), start it with `ipfs daemon`, or set the Kubo API in Settings. Everything but publishing works without it.".into(),
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

/// `http://127.0.0.1:5001` -> `/ip4/127.0.0.1/tcp/5001`; only loopback hosts.
fn loopback_multiaddr(field: &str, url: &str) -> Result<String> {
    let bad = |message: String| Error::Config {
        file: PathBuf::from(crate::station::keys::STREAMING_FILE),
        field: field.to_string(),
        message,
    };
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        bad(format!(
            "`{url}`: a managed Kubo listens on plain http://127.0.0.1:<port>"
        ))
    })?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| bad(format!("`{url}` names no port")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| bad(format!("`{url}`: `{port}` is not a port")))?;
    match host {
        "127.0.0.1" | "localhost" => Ok(format!("/ip4/127.0.0.1/tcp/{port}")),
        "[::1]" => Ok(format!("/ip6/::1/tcp/{port}")),
        _ => Err(bad(format!(
            "`{url}`: a managed Kubo only listens on loopback (127.0.0.1 or [::1])"
        ))),
    }
}

/// A Kubo daemon the station started on its own repo.
#[derive(Debug)]
pub struct ManagedKubo {
    child: Child,
    api: String,
    repo: PathBuf,
    pid_file: PathBuf,
}

impl ManagedKubo {
    /// Starts `ipfs daemon` for `station` with its RPC API at the station's `kubo_api`
    /// and its gateway at the station's local gateway (both `http://127.0.0.1:<port>`),
    /// initializing the repo `<station>/data/kubo` on first use, and waits until `id`
    /// answers (at most [`START_TIMEOUT_SECS`]). The daemon's output goes to
    /// `kubo.log` in the state folder.
    ///
    /// Errors: [`Error::ToolMissing`] without `ipfs` on PATH; [`Error::Config`] when the
    /// API or gateway is not a loopback http URL with a port; [`Error::KuboUnreachable`]
    /// when the daemon exits or does not answer in time (with the log's last lines).
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
        let api = station.kubo_api();
        let gateway = station.local_gateway();
        let api_addr = loopback_multiaddr("kubo_api", api)?;
        let gw_addr = loopback_multiaddr("gateway", &gateway)?;
        let repo = station.dir().join(MANAGED_REPO_DIR);
        let state = station.state();
        state.create()?;
        let log_path = state.file(KUBO_LOG_FILE);
        let run = |args: &[&str]| -> Result<()> {
            let out = Command::new(ipfs)
                .args(args)
                .env("IPFS_PATH", &repo)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| Error::ToolMissing {
                    tool: "ipfs".into(),
                    hint: e.to_string(),
                })?;
            if out.status.success() {
                Ok(())
            } else {
                Err(Error::KuboUnreachable {
                    url: api.to_string(),
                    reason: format!(
                        "`ipfs {}` failed: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                })
            }
        };
        if !repo.join("config").exists() {
            std::fs::create_dir_all(&repo).map_err(|e| Error::io(&repo, e))?;
            run(&["init"])?;
        }
        run(&["config", "Addresses.API", &api_addr])?;
        run(&["config", "Addresses.Gateway", &gw_addr])?;
        run(&["config", "Ipns.MaxCacheTTL", MANAGED_MAX_CACHE_TTL])?;
        let log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let log2 = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        let mut child = Command::new(ipfs)
            .arg("daemon")
            .env("IPFS_PATH", &repo)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error::ToolMissing {
                tool: "ipfs".into(),
                hint: e.to_string(),
            })?;
        let pid_file = state.file(KUBO_PID_FILE);
        crate::station::atomic::write_atomic(&pid_file, child.id().to_string().as_bytes())?;
        let kubo = Kubo::new(api, Duration::from_secs(2))?;
        let started = Instant::now();
        loop {
            if kubo.id().await.is_ok() {
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
                return Err(Error::KuboUnreachable {
                    url: api.to_string(),
                    reason: format!(
                        "the managed `ipfs daemon` {} (log {}): {}",
                        match exited {
                            Some(s) => format!("exited ({s})"),
                            None => format!("did not answer within {START_TIMEOUT_SECS} s"),
                        },
                        log_path.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(ManagedKubo {
            child,
            api: api.to_string(),
            repo,
            pid_file,
        })
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The repo folder (`IPFS_PATH`).
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// Stops the daemon: RPC `shutdown`, then up to 10 s for it to exit, then a kill.
    ///
    /// Errors: [`Error::Io`] when the process cannot be waited for.
    pub async fn stop(mut self) -> Result<()> {
        if let Ok(k) = Kubo::new(&self.api, Duration::from_secs(5)) {
            let _ = k.shutdown().await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                _ => {
                    let _ = self.child.kill();
                    self.child
                        .wait()
                        .map_err(|e| Error::io(&self.pid_file, e))?;
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

    #[test]
    fn managed_addresses_are_loopback_only() {
        assert_eq!(
            loopback_multiaddr("kubo_api", "http://127.0.0.1:5001").unwrap(),
            "/ip4/127.0.0.1/tcp/5001"
        );
        assert_eq!(
            loopback_multiaddr("gateway", "http://localhost:8080/").unwrap(),
            "/ip4/127.0.0.1/tcp/8080"
        );
        assert_eq!(
            loopback_multiaddr("kubo_api", "http://[::1]:5001").unwrap(),
            "/ip6/::1/tcp/5001"
        );
        let e = loopback_multiaddr("kubo_api", "http://0.0.0.0:5001").unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(loopback_multiaddr("kubo_api", "https://127.0.0.1:5001").is_err());
        assert!(loopback_multiaddr("kubo_api", "http://127.0.0.1").is_err());
    }
}
