#!/usr/bin/env bash
# Starts the IPFS Station console: installs the system packages it needs, builds, and opens
# the station opened last (else creates a demo station with real music under
# ~/.local/share/ipfs-station/demo). Pass `--station <dir>` to open another one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The console runs the streamer and the health monitor as `station` processes beside it.
cargo build --release --bin station
cargo run --release -p ipfs-station-console -- "$@"
