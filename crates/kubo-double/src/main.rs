//! `kubo-double`: runs the Kubo test double in the foreground, for trying the station by
//! hand without a real Kubo. Loopback only.
//!
//! Usage: `kubo-double [--api 127.0.0.1:5001] [--gateway 127.0.0.1:8080]`

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut api: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5001));
    let mut gateway: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let target = match a.as_str() {
            "--api" => &mut api,
            "--gateway" => &mut gateway,
            _ => {
                eprintln!("usage: kubo-double [--api 127.0.0.1:5001] [--gateway 127.0.0.1:8080]");
                return std::process::ExitCode::from(2);
            }
        };
        match args.next().map(|v| v.parse::<SocketAddr>()) {
            Some(Ok(v)) => *target = v,
            _ => {
                eprintln!("{a} needs an address like 127.0.0.1:5001");
                return std::process::ExitCode::from(2);
            }
        }
    }
    match kubo_double::KuboDouble::start_on(api, gateway).await {
        Ok(d) => {
            println!(
                "Kubo double: RPC API {} gateway {} (subdomain gateway {}) (Ctrl-C stops it)",
                d.api_url(),
                d.gateway_url(),
                d.subdomain_gateway_url()
            );
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = d.shutdown_requested() => {}
            }
            d.shutdown().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kubo-double: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
