#!/usr/bin/env bash
# Tools the browser and glTF tests need, outside Python: Chromium (Debian's package) and the Khronos glTF
# Validator (npm, pinned in tests/js/package-lock.json). Each one that cannot be installed here is reported and
# its tests skip with that reason; nothing else depends on them. With a path argument, that stamp file is touched
# once both are there (so `make` tries again next time until they are).
set -uo pipefail
stamp="${1:-}"
cd "$(dirname "$0")/../.."

browser() {
    if [ -n "${CHROMIUM:-}" ]; then command -v "$CHROMIUM"; return; fi
    command -v chromium || command -v chromium-browser || command -v google-chrome
}
if browser >/dev/null; then
    echo "test tools: browser $(browser)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test tools: installing Debian's chromium for the viewer's browser tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
        >/dev/null; } || echo "test tools: chromium could not be installed; the browser tests will skip"
else
    echo "test tools: no chromium and no root apt-get; the browser tests will skip (install chromium to run them)"
fi

validator=tests/js/node_modules/gltf-validator
if command -v npm >/dev/null; then
    npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null \
        || echo "test tools: npm ci in tests/js failed; the glTF validator test will skip"
else
    echo "test tools: no node/npm; the glTF validator test will skip (install Node.js to run it)"
fi

if [ -n "$stamp" ] && browser >/dev/null && [ -d "$validator" ]; then
    touch "$stamp"
fi
exit 0
