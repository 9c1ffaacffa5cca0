//! A Kubo (IPFS) test double on loopback: the real RPC API (`/api/v0/*`, POST only) and
//! gateway (`/ipfs/`, `/ipns/`; path gateway on `127.0.0.1`, subdomain gateway on
//! `localhost`) protocols, with real CIDs, as `kubo-rpc.md` (beside
//! the project's DESIGN.md) describes Kubo. It models Kubo [`KUBO_VERSION`] (the first
//! release whose `name/publish` default TTL is 5m) built without the Makefile's commit
//! ldflag: `version` says `"Commit":""`, `id` says `kubo/0.34.1/`.
//!
//! By default it behaves like a daemon started with `--offline`: publishing needs
//! `allow-offline`, content not added here is not found. [`Faults::set_online`] makes it
//! an online node whose `name/publish` blocks on a (simulated) DHT put.
//! [`Faults`] makes it fail on purpose: 500s, delays, down, a stale IPNS view, errors in
//! the middle of a streamed reply.
//!
//! [`TestNode`] picks a real Kubo instead when an `ipfs` binary is on PATH.

pub mod cid;
mod gateway;
mod hostname;
mod http1;
pub mod ipld;
mod mime;
mod rpc;
mod store;
mod unixfs;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use store::Store;

/// The Kubo release the double answers as (`version`, `id`'s AgentVersion, the `Server`
/// header, `/version`), and whose defaults it uses (Kubo core/commands/name/publish.go at
/// v0.34.1: `ttl` defaults to boxo ipns.DefaultRecordTTL, 5m in boxo v0.29.1).
pub const KUBO_VERSION: &str = "0.34.1";

/// How long a stopping server lets a reply in progress finish (Go `Server.Shutdown`).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Fault knobs shared with the running servers.
#[derive(Debug, Default)]
pub struct Faults {
    pub(crate) rpc_error: Mutex<Option<String>>,
    pub(crate) command_errors: Mutex<Vec<(String, String)>>,
    pub(crate) rpc_delay: Mutex<Duration>,
    pub(crate) gateway_status: Mutex<Option<u16>>,
    pub(crate) gateway_delay: Mutex<Duration>,
    pub(crate) ipns_lag: Mutex<Duration>,
    pub(crate) publish_backdate: Mutex<Duration>,
    /// `Some(d)`: online, the DHT put of `name/publish` takes `d`.
    pub(crate) online: Mutex<Option<Duration>>,
    pub(crate) dht_put_error: Mutex<Option<String>>,
    /// `(command suffix, lines or bytes before the error, message)`.
    pub(crate) stream_errors: Mutex<Vec<StreamFault>>,
    /// `(share of RPCs that fail, seeded generator)`: a flaky node.
    pub(crate) flaky: Mutex<Option<(f64, rand::rngs::StdRng)>>,
    servers: tokio::sync::Mutex<Option<Servers>>,
}

/// A stream fault: `(command, after, message, requests left: None = every one)`.
type StreamFault = (String, usize, String, Option<usize>);

fn set<T>(m: &Mutex<T>, v: T) {
    if let Ok(mut g) = m.lock() {
        *g = v;
    }
}

pub(crate) fn get<T: Clone>(m: &Mutex<T>) -> Option<T> {
    m.lock().ok().map(|g| g.clone())
}

impl Faults {
    /// Every RPC command answers HTTP 500 with Kubo's JSON error body carrying `msg`
    /// (`None`: behave normally).
    pub fn set_rpc_error(&self, msg: Option<String>) {
        set(&self.rpc_error, msg);
    }

    /// Commands whose path ends with `cmd` (e.g. `name/publish`) fail like
    /// [`Faults::set_rpc_error`]; `None` clears that command's fault.
    pub fn set_command_error(&self, cmd: &str, msg: Option<String>) {
        if let Ok(mut v) = self.command_errors.lock() {
            v.retain(|(c, _)| c != cmd);
            if let Some(m) = msg {
                v.push((cmd.to_string(), m));
            }
        }
    }

    /// A flaky node: from now on each RPC request fails with probability `share` (0 to 1)
    /// like [`Faults::set_rpc_error`] (HTTP 500, Kubo's JSON error body, as go-ipfs-cmds
    /// http/responseemitter.go answers a command error), drawn from a generator seeded
    /// with `seed` so a run can be repeated; `None` makes it answer normally again.
    pub fn set_rpc_failure_rate(&self, rate: Option<(f64, u64)>) {
        use rand::SeedableRng;
        set(
            &self.flaky,
            rate.map(|(share, seed)| (share, rand::rngs::StdRng::seed_from_u64(seed))),
        );
    }

    /// Whether the next RPC fails, under [`Faults::set_rpc_failure_rate`].
    pub(crate) fn flaky_fails(&self) -> bool {
        use rand::Rng;
        let Ok(mut g) = self.flaky.lock() else {
            return false;
        };
        match g.as_mut() {
            Some((share, rng)) => rng.random_bool(share.clamp(0.0, 1.0)),
            None => false,
        }
    }

    /// Delay before answering every RPC request.
    pub fn set_rpc_delay(&self, d: Duration) {
        set(&self.rpc_delay, d);
    }

    /// Gateway: every request answers `status` with a text body (`None`: normal).
    pub fn set_gateway_status(&self, status: Option<u16>) {
        set(&self.gateway_status, status);
    }

    /// Gateway: delay before answering (for timeouts).
    pub fn set_gateway_delay(&self, d: Duration) {
        set(&self.gateway_delay, d);
    }

    /// Gateway `/ipns/`: serve the value that was current `lag` ago, as a gateway holding
    /// a cached record would.
    pub fn set_ipns_lag(&self, lag: Duration) {
        set(&self.ipns_lag, lag);
    }

    /// Records published from now on are kept as if published `back` ago (their place in
    /// the history [`Faults::set_ipns_lag`] serves from): a test builds minutes of a
    /// stream's IPNS history in a second, instead of waiting for it. Zero (the default)
    /// records them as of now.
    pub fn set_publish_backdate(&self, back: Duration) {
        set(&self.publish_backdate, back);
    }

    /// Online mode (`Some(dht_put_delay)`), like a daemon started without `--offline`:
    /// `name/publish` needs no `allow-offline`, stores the record at once (this node's
    /// `name/resolve` and gateway serve the new value while the call is still running),
    /// then answers only after `dht_put_delay`, the time the DHT put takes (boxo
    /// namesys/ipns_publisher.go `Publish`: `updateRecord` writes the local datastore, then
    /// `PublishIPNSRecord` -> `PutIPNSRecord` blocks on the routing put). Concurrent
    /// publishes, on the same key or not, each wait their own delay: Kubo takes no
    /// per-key lock (core/coreapi/name.go `Publish`; the publisher's mutex covers only
    /// `updateRecord`). A client that disconnects cancels its publish; the record stays
    /// stored. `id` lists addresses and protocols. `None` (the default) is offline.
    pub fn set_online(&self, dht_put_delay: Option<Duration>) {
        set(&self.online, dht_put_delay);
    }

    /// Online mode: the DHT put of every `name/publish` fails with `msg` after the delay
    /// (HTTP 500, Kubo's JSON error); the record was stored locally before, so this node
    /// still serves it, as in Kubo where `updateRecord` ran before the failed put.
    /// `None` clears it.
    pub fn set_dht_put_error(&self, msg: Option<String>) {
        set(&self.dht_put_error, msg);
    }

    /// A streamed reply of the command whose path ends with `cmd` (`add`: NDJSON lines;
    /// `cat`: bytes) stops after `after` lines (add) or bytes (cat) and ends with the HTTP
    /// trailer `X-Stream-Error: <msg>` on its 200 reply, as go-ipfs-cmds
    /// http/responseemitter.go `closeWithError` does once output has started. For `add`,
    /// `after == 0` is an error before any output: a 500 with the JSON error (the
    /// preamble is written with the error); for `cat` the preamble goes out when the
    /// reader is emitted, so `after == 0` is a 200 with no bytes and the trailer. An `add`
    /// cut short pins nothing (Kubo pins at the end of the import). `None` clears it.
    pub fn set_stream_error(&self, cmd: &str, after: usize, msg: Option<String>) {
        self.stream_error_for(cmd, after, msg, None);
    }

    /// [`Faults::set_stream_error`] for the next `requests` requests of `cmd` only (a
    /// passing fault, for retries).
    pub fn set_stream_error_times(&self, cmd: &str, after: usize, msg: &str, requests: usize) {
        if requests > 0 {
            self.stream_error_for(cmd, after, Some(msg.to_string()), Some(requests));
        }
    }

    fn stream_error_for(&self, cmd: &str, after: usize, msg: Option<String>, n: Option<usize>) {
        if let Ok(mut v) = self.stream_errors.lock() {
            v.retain(|(c, _, _, _)| c != cmd);
            if let Some(m) = msg {
                v.push((cmd.to_string(), after, m, n));
            }
        }
    }

    /// The stream fault for a request of `cmd`, counting it against a passing fault.
    pub(crate) fn stream_error(&self, cmd: &str) -> Option<(usize, String)> {
        let mut v = self.stream_errors.lock().ok()?;
        let i = v
            .iter()
            .position(|(c, _, _, _)| cmd.ends_with(c.as_str()))?;
        let (_, after, msg, left) = v[i].clone();
        match left {
            Some(n) if n <= 1 => {
                v.remove(i);
            }
            Some(n) => v[i].3 = Some(n - 1),
            None => {}
        }
        Some((after, msg))
    }

    /// Stops both servers, as the daemon exiting (`shutdown`) does.
    pub(crate) async fn stop_servers(&self) {
        if let Some(servers) = self.servers.lock().await.as_mut() {
            servers.stop().await;
        }
    }

    /// Down: both ports stop listening (connections are refused); `false` listens again
    /// on the same ports with everything stored kept.
    pub async fn set_down(&self, down: bool) {
        let mut guard = self.servers.lock().await;
        let Some(servers) = guard.as_mut() else {
            return;
        };
        if down {
            servers.stop().await;
        } else if servers.tasks.is_empty() {
            // The ports were ours a moment ago; retry briefly if the OS still holds them.
            for _ in 0..50 {
                if servers.start().await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

struct Servers {
    api: SocketAddr,
    gateway: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Servers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Servers")
            .field("api", &self.api)
            .field("gateway", &self.gateway)
            .finish()
    }
}

impl Servers {
    async fn start(&mut self) -> std::io::Result<()> {
        let api = tokio::net::TcpListener::bind(self.api).await?;
        let gw = tokio::net::TcpListener::bind(self.gateway).await?;
        self.api = api.local_addr()?;
        self.gateway = gw.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let app = rpc::router(self.shared.clone());
        let rpc_rx = rx.clone();
        self.tasks.push(tokio::spawn(async move {
            http1::serve(api, app, rpc_rx, STOP_GRACE).await;
        }));
        let app = gateway::router(self.shared.clone());
        let mut gw_rx = rx;
        self.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(gw, app)
                .with_graceful_shutdown(async move { http1::stopped(&mut gw_rx).await })
                .await;
        }));
        self.stop = Some(tx);
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        for mut h in self.tasks.drain(..) {
            if tokio::time::timeout(STOP_GRACE * 2, &mut h).await.is_err() {
                h.abort();
            }
        }
    }
}

/// What the servers share: the store and the fault knobs.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) api_port: Mutex<u16>,
    /// Signalled by `/api/v0/shutdown`.
    pub(crate) shutdown: tokio::sync::Notify,
    /// `name/publish` requests being handled now, and the most ever at once.
    pub(crate) publishing: AtomicUsize,
    pub(crate) max_publishing: AtomicUsize,
}

/// Counts one `name/publish` in flight while alive (also when its request is dropped).
pub(crate) struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    pub(crate) fn new(sh: &'a Shared) -> InFlight<'a> {
        let now = sh.publishing.fetch_add(1, Ordering::SeqCst) + 1;
        sh.max_publishing.fetch_max(now, Ordering::SeqCst);
        InFlight(sh)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.publishing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running Kubo double: RPC API and gateway on two loopback ports.
pub struct KuboDouble {
    shared: Arc<Shared>,
    api: SocketAddr,
    gateway: SocketAddr,
}

impl std::fmt::Debug for KuboDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KuboDouble")
            .field("api", &self.api)
            .field("gateway", &self.gateway)
            .finish()
    }
}

impl KuboDouble {
    /// Starts the RPC API and the gateway on `127.0.0.1:0` (two free ports).
    ///
    /// Errors: when a port cannot be bound.
    pub async fn start() -> std::io::Result<KuboDouble> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
        )
        .await
    }

    /// Starts on the given loopback addresses (port 0 = any free port).
    ///
    /// Errors: a non-loopback address, or a port that cannot be bound.
    pub async fn start_on(api: SocketAddr, gateway: SocketAddr) -> std::io::Result<KuboDouble> {
        if !api.ip().is_loopback() || !gateway.ip().is_loopback() {
            return Err(std::io::Error::other(
                "the Kubo double only listens on loopback",
            ));
        }
        let faults = Arc::new(Faults::default());
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            faults: faults.clone(),
            api_port: Mutex::new(0),
            shutdown: tokio::sync::Notify::new(),
            publishing: AtomicUsize::new(0),
            max_publishing: AtomicUsize::new(0),
        });
        let mut servers = Servers {
            api,
            gateway,
            shared: shared.clone(),
            stop: None,
            tasks: Vec::new(),
        };
        servers.start().await?;
        set(&shared.api_port, servers.api.port());
        let (api, gateway) = (servers.api, servers.gateway);
        *faults.servers.lock().await = Some(servers);
        Ok(KuboDouble {
            shared,
            api,
            gateway,
        })
    }

    /// `http://127.0.0.1:<port>` of the RPC API.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    /// `http://127.0.0.1:<port>` of the gateway.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway)
    }

    /// `http://localhost:<port>` of the gateway: the same listener as
    /// [`KuboDouble::gateway_url`], reached with `Host: localhost:<port>`, which makes it
    /// Kubo's default subdomain gateway (Kubo core/corehttp/gateway.go
    /// `defaultKnownGateways`, boxo gateway/hostname.go). There `GET /ipfs/<cid>/<p>` is a
    /// 301 to `http://<cid as CIDv1 base32>.ipfs.localhost:<port>/<p>` and `GET
    /// /ipns/<name>/<p>` a 301 to `http://<name>.ipns.localhost:<port>/<p>` (peer IDs and
    /// libp2p-key CIDs as CIDv1 base36 `k51...`), query kept; a request with `Host:
    /// <root>.ipfs.localhost:<port>` or `<root>.ipns.localhost:<port>` serves that content
    /// root with the URL path as the path inside it.
    ///
    /// The server looks only at the `Host` header (or `X-Forwarded-Host`), never at the
    /// address connected to: a client must resolve `*.localhost` to `127.0.0.1` itself
    /// (browsers do; with reqwest, `ClientBuilder::resolve("<root>.ipns.localhost",
    /// addr)` per name).
    pub fn subdomain_gateway_url(&self) -> String {
        format!("http://localhost:{}", self.gateway.port())
    }

    /// The fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> Option<T> {
        self.shared.store.lock().ok().map(|s| f(&s))
    }

    /// Every RPC call received: (command path like `/api/v0/add`, raw query string).
    pub fn rpc_calls(&self) -> Vec<(String, String)> {
        self.with_store(|s| s.calls.clone()).unwrap_or_default()
    }

    /// Forgets the RPC calls received so far ([`KuboDouble::rpc_calls`] starts empty
    /// again): the log is the double's, not Kubo's, and a run of simulated weeks would
    /// otherwise measure it.
    pub fn clear_rpc_calls(&self) {
        if let Ok(mut s) = self.shared.store.lock() {
            s.calls = Vec::new();
        }
    }

    /// Number of `/api/v0/add` requests received (requests, not files).
    pub fn add_requests(&self) -> usize {
        self.rpc_calls()
            .iter()
            .filter(|(p, _)| p == "/api/v0/add")
            .count()
    }

    /// CIDs pinned recursively now, as they were printed when added.
    pub fn pins(&self) -> Vec<String> {
        self.with_store(|s| s.pin_list()).unwrap_or_default()
    }

    /// Runs Kubo's garbage collection now (kubo gc/gc.go `GC`): every
    /// block not reachable from a pin is deleted. Returns `(blocks, bytes)` freed;
    /// `Err` with Kubo's message, deleting nothing, when a pinned DAG misses a block.
    pub fn gc(&self) -> Result<(usize, u64), String> {
        match self.shared.store.lock() {
            Ok(mut s) => s.gc(),
            Err(_) => Err("the double's store is poisoned".into()),
        }
    }

    /// Blocks the node stores now, and their bytes (what `repo stat` counts as
    /// `NumObjects` and, roughly, `RepoSize`).
    pub fn stored(&self) -> (usize, u64) {
        self.with_store(|s| s.stored()).unwrap_or_default()
    }

    /// Bytes of a file stored under `cid` (any CID form), if any.
    pub fn file_bytes(&self, cid: &str) -> Option<Vec<u8>> {
        self.with_store(|s| s.file(cid).map(|b| b.to_vec()))
            .flatten()
    }

    /// Bytes of the file at `path` (`/ipfs/<cid>/<name>/...`, through the directories
    /// stored, as the gateway resolves it), if there is one.
    pub fn path_bytes(&self, path: &str) -> Option<Vec<u8>> {
        self.with_store(|s| match s.resolve(path) {
            Ok((store::Entry::File(b), _)) => Some(b.to_vec()),
            _ => None,
        })
        .flatten()
    }

    /// The stored block of `cid` (any CID form; blocks are kept by multihash), if any:
    /// what `block/get` would answer.
    pub fn block(&self, cid: &str) -> Option<Vec<u8>> {
        let c = cid::Cid::decode(cid)?;
        self.with_store(|s| s.block(&c).map(|b| b.to_vec()))
            .flatten()
    }

    /// Current value (e.g. `/ipfs/Qm...`) published under the IPNS name, if any.
    pub fn ipns_value(&self, name: &str) -> Option<String> {
        self.with_store(|s| s.ipns_current(name)).flatten()
    }

    /// `name/publish` requests being handled right now (from arrival until the reply is
    /// ready or the client gave up).
    pub fn publishes_in_flight(&self) -> usize {
        self.shared.publishing.load(Ordering::SeqCst)
    }

    /// The most `name/publish` requests ever handled at the same time.
    pub fn max_publishes_in_flight(&self) -> usize {
        self.shared.max_publishing.load(Ordering::SeqCst)
    }

    /// Resolves when a client called `/api/v0/shutdown` (Kubo's "shut down the daemon").
    /// After answering it, both ports stop accepting connections, as the daemon exits
    /// (Kubo core/commands/shutdown.go closes the node; core/corehttp/corehttp.go `Serve`
    /// then shuts every HTTP server down).
    pub async fn shutdown_requested(&self) {
        self.shared.shutdown.notified().await;
    }

    /// Stops both servers.
    pub async fn shutdown(self) {
        if let Some(mut s) = self.shared.faults.servers.lock().await.take() {
            s.stop().await;
        }
    }
}

/// A Kubo to test against: the double, or a real `ipfs` daemon (temp repo, offline)
/// when an `ipfs` binary is on PATH.
pub enum TestNode {
    /// The loopback double.
    Double(KuboDouble),
    /// A real Kubo.
    Real(RealKubo),
}

impl TestNode {
    /// Starts a real Kubo when `ipfs` is on PATH (and `IPFS_STATION_NO_REAL_KUBO` is not
    /// set), else the double.
    ///
    /// Errors: when neither can be started.
    pub async fn start() -> std::io::Result<TestNode> {
        if std::env::var_os("IPFS_STATION_NO_REAL_KUBO").is_none() && RealKubo::available() {
            return Ok(TestNode::Real(RealKubo::start().await?));
        }
        Ok(TestNode::Double(KuboDouble::start().await?))
    }

    /// RPC API base URL.
    pub fn api_url(&self) -> String {
        match self {
            TestNode::Double(d) => d.api_url(),
            TestNode::Real(r) => r.api_url(),
        }
    }

    /// Gateway base URL.
    pub fn gateway_url(&self) -> String {
        match self {
            TestNode::Double(d) => d.gateway_url(),
            TestNode::Real(r) => r.gateway_url(),
        }
    }

    /// `http://localhost:<gateway port>`: the gateway as Kubo's default subdomain
    /// gateway (see [`KuboDouble::subdomain_gateway_url`]; a real Kubo behaves the same).
    pub fn subdomain_gateway_url(&self) -> String {
        match self {
            TestNode::Double(d) => d.subdomain_gateway_url(),
            TestNode::Real(r) => format!("http://localhost:{}", r.gateway),
        }
    }

    /// Whether this is a real Kubo.
    pub fn is_real(&self) -> bool {
        matches!(self, TestNode::Real(_))
    }

    /// The double, for fault injection and call counting.
    pub fn double(&self) -> Option<&KuboDouble> {
        match self {
            TestNode::Double(d) => Some(d),
            TestNode::Real(_) => None,
        }
    }
}

/// A real Kubo daemon in a temp repo, offline, API and gateway on free loopback ports;
/// killed and its repo deleted on drop.
pub struct RealKubo {
    child: std::process::Child,
    repo: std::path::PathBuf,
    api: u16,
    gateway: u16,
}

impl RealKubo {
    /// Whether an `ipfs` binary is on PATH.
    pub fn available() -> bool {
        std::process::Command::new("ipfs")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn free_port() -> std::io::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    /// `ipfs init --profile=test`, ports set with `ipfs config`, `Ipns.MaxCacheTTL` 1s,
    /// `ipfs daemon --offline`, then waits until `/api/v0/id` answers (30 s at most).
    ///
    /// Errors: when a step fails or the daemon does not answer.
    pub async fn start() -> std::io::Result<RealKubo> {
        let repo = std::env::temp_dir().join(format!(
            "kubo-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let (api, gateway) = (Self::free_port()?, Self::free_port()?);
        let ipfs = |args: &[&str]| -> std::io::Result<()> {
            let out = std::process::Command::new("ipfs")
                .args(args)
                .env("IPFS_PATH", &repo)
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "ipfs {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )))
            }
        };
        ipfs(&["init", "--profile=test"])?;
        ipfs(&[
            "config",
            "Addresses.API",
            &format!("/ip4/127.0.0.1/tcp/{api}"),
        ])?;
        ipfs(&[
            "config",
            "Addresses.Gateway",
            &format!("/ip4/127.0.0.1/tcp/{gateway}"),
        ])?;
        ipfs(&["config", "Ipns.MaxCacheTTL", "1s"])?;
        let child = std::process::Command::new("ipfs")
            .args(["daemon", "--offline"])
            .env("IPFS_PATH", &repo)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let node = RealKubo {
            child,
            repo,
            api,
            gateway,
        };
        for _ in 0..150 {
            let ok = tokio::net::TcpStream::connect(("127.0.0.1", api))
                .await
                .is_ok();
            if ok {
                return Ok(node);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(std::io::Error::other(
            "ipfs daemon did not answer within 30 s",
        ))
    }

    /// RPC API base URL.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api)
    }

    /// Gateway base URL.
    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway)
    }
}

impl Drop for RealKubo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.repo);
    }
}
