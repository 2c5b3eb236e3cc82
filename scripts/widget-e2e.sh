#!/usr/bin/env bash
# The web chat widget's end-to-end tests (widget/tests/e2e.mjs): a real `parlor serve`, host
# pages on other ports (other origins), and Debian's headless Chromium driven by
# playwright-core. Browser downloads by test tools do not work on CI machines, so Chromium
# comes from apt and playwright-core (the driver library alone, pinned by the lockfile) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

install_chromium() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}
if ! install_chromium; then
    apt-get update -qq
    install_chromium
fi

(cd widget && npm ci --no-audit --no-fund --loglevel=error)
cargo build -p parlor-server --bin parlor
(cd widget && CHROMIUM=/usr/bin/chromium node --test tests/e2e.mjs)
