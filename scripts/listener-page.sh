#!/usr/bin/env bash
# Builds the listener page's one third-party file: hls.js from the npm registry.
#   scripts/listener-page.sh     npm ci in ui/listener (exact versions of package-lock.json,
#                                from npm's cache when it has them), then copies
#                                node_modules/hls.js/dist/hls.min.js to ui/listener/vendor/.
# The page then loads only its own files (index.html, listener.js, style.css,
# vendor/hls.min.js, station.json) and the stream from the same origin: nothing at run time
# comes from anywhere else. `station` publishes ui/listener/ with a generated station.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
page="$here/ui/listener"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm was not found: install Node.js (Debian: apt-get install npm)" >&2
  exit 1
fi

cd "$page"
# --prefer-offline: use npm's cache when it holds the locked tarball (works offline then);
# otherwise only the npm registry is contacted.
npm ci --prefer-offline --no-audit --no-fund --ignore-scripts

src="node_modules/hls.js/dist/hls.min.js"
if [[ ! -s "$src" ]]; then
  echo "$page/$src is missing after npm ci" >&2
  exit 1
fi
mkdir -p vendor
# Drop the source map reference: the map is not published, so nothing would answer it.
grep -v '^//# sourceMappingURL=' "$src" > vendor/hls.min.js.tmp
# Replaced only when it changed: a new mtime makes cargo rebuild the engine (build.rs).
if cmp -s vendor/hls.min.js.tmp vendor/hls.min.js; then
  rm vendor/hls.min.js.tmp
else
  mv vendor/hls.min.js.tmp vendor/hls.min.js
fi
version="$(node -p 'require("./node_modules/hls.js/package.json").version' 2>/dev/null || echo '?')"
echo "ui/listener/vendor/hls.min.js: hls.js $version ($(wc -c < vendor/hls.min.js) bytes)"
