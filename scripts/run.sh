#!/usr/bin/env bash
# Runs the station on the bundled demo: installs what it needs, builds, sets up a demo
# station with real music and puts it on air (IPNS via a local Kubo if one answers at
# http://127.0.0.1:5001, else a local preview stream). Ctrl-C takes it off air.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo run --release --bin station -- demo "$@"
