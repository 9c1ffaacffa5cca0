//! `pinning-double`: runs the IPFS Pinning Service API double in the foreground, for
//! trying a client by hand (e.g. `ipfs pin remote service add double
//! http://127.0.0.1:9097 <token>`). Loopback only.
//!
//! Usage: `pinning-double --listen 127.0.0.1:9097 --token-file PATH [--queued-seconds N]
//! [--pinning-seconds N]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// An IPFS Pinning Service API v1.0.0 test double on loopback.
#[derive(Debug, Parser)]
#[command(name = "pinning-double", version)]
struct Args {
    /// Loopback address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9097")]
    listen: SocketAddr,
    /// File holding the access token (surrounding whitespace is ignored).
    #[arg(long)]
    token_file: PathBuf,
    /// Seconds a new pin object stays `queued`.
    #[arg(long, default_value_t = 0)]
    queued_seconds: u64,
    /// Seconds it is `pinning` after that, before it is `pinned`.
    #[arg(long, default_value_t = 0)]
    pinning_seconds: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let token = match std::fs::read_to_string(&args.token_file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            eprintln!("pinning-double: {}: {e}", args.token_file.display());
            return std::process::ExitCode::from(2);
        }
    };
    let opts = pinning_double::Options {
        token,
        queued_for: Duration::from_secs(args.queued_seconds),
        pinning_for: Duration::from_secs(args.pinning_seconds),
    };
    match pinning_double::PinningDouble::start_on(args.listen, opts).await {
        Ok(d) => {
            println!(
                "Pinning service double: endpoint {} (Ctrl-C stops it)",
                d.endpoint()
            );
            let _ = tokio::signal::ctrl_c().await;
            d.shutdown().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pinning-double: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
