#!/usr/bin/env bash
# Installs the system packages IPFS Station needs on Debian/Ubuntu, only when missing.
#   scripts/deps.sh            runtime: ffmpeg (ffprobe), the demo's music (lincity-ng-data)
#   scripts/deps.sh --test     also what the test suite needs
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
want() { have_pkg "$1" || need+=("$1"); }

want ffmpeg
want lincity-ng-data
want ca-certificates
if [[ "${1:-}" == "--test" ]]; then
  want pkg-config
fi

if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "Installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo (Rust >= 1.85) is needed: install Rust with rustup (https://rustup.rs) and run this again." >&2
  exit 1
fi
