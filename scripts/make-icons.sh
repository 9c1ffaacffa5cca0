#!/usr/bin/env bash
# Renders icons/icon.svg to the RGBA PNGs the app bundles (needs librsvg2-bin:
# apt-get install librsvg2-bin). The PNGs are committed; run this after editing the SVG.
set -euo pipefail
cd "$(dirname "$0")/../icons"
for size in 32 128 256 512; do
  rsvg-convert -w "$size" -h "$size" -b none icon.svg -o "${size}x${size}.png"
done
cp 512x512.png icon.png
ls -l
