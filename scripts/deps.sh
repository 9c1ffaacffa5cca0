#!/usr/bin/env bash
# Installs the system packages IPFS Station needs on Debian/Ubuntu, only when missing.
#   scripts/deps.sh            runtime and build: ffmpeg (ffprobe), the demo's music
#                              (lincity-ng-data), WebKitGTK 4.1 and ALSA headers for the console
#   scripts/deps.sh --test     also what the test suite needs: Xvfb, xauth, WebKitWebDriver,
#                              and tauri-driver (from crates.io) for the console's end-to-end test
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
want() { have_pkg "$1" || need+=("$1"); }

want ffmpeg
want lincity-ng-data
want ca-certificates
want pkg-config
want libwebkit2gtk-4.1-dev
want libasound2-dev
# npm builds the listener page (hls.js from the npm registry).
command -v npm >/dev/null 2>&1 || want npm
if [[ "${1:-}" == "--test" ]]; then
  want xvfb
  want xauth
  want webkit2gtk-driver
  # The listener page's test plays the stream in headless Chromium.
  want chromium
  want chromium-driver
fi

if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "Installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo (Rust >= 1.90) is needed: install Rust with rustup (https://rustup.rs) and run this again." >&2
  exit 1
fi

if [[ "${1:-}" == "--test" ]] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "Installing tauri-driver (WebDriver bridge for the console's end-to-end test)" >&2
  cargo install tauri-driver --locked --quiet
fi

# The listener page's player: hls.js from the npm registry, copied beside the page.
"$(dirname "$0")/listener-page.sh"
