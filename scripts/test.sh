#!/usr/bin/env bash
# Runs the whole test suite, installing the system packages it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cargo test --workspace --all-targets "$@"
