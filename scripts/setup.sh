#!/usr/bin/env bash
# Installs what building and testing smart-launch needs and this machine lacks; skips what is
# already there. Usage: scripts/setup.sh [--no-browser]
#   - the wasm32 target (rustup)
#   - Trunk 0.21 (0.22 needs a newer rustc than this toolchain's)
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   - wasm-opt from npm's binaryen 132 and axe-core (tools/package.json)
#   - Debian's chromium + chromium-driver, for the browser and end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."

browser=1
[ "${1:-}" = "--no-browser" ] && browser=0

log() { printf '==> %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  log "installing Trunk 0.21 (compiles for about 10 minutes)"
  cargo install trunk --version "~0.21" --locked
fi

# The CLI must match the crate exactly; read the version from the lock file.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wbg" ]; then
  echo "setup: cannot find wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
  log "installing wasm-bindgen-cli $wbg (compiles for about 4 minutes)"
  # Not --locked: its own lock names a crate version the registry does not serve.
  cargo install wasm-bindgen-cli --version "=$wbg"
fi

# wasm-opt for release builds (binaryen 132) and axe-core for the accessibility check, from
# npm, installed into tools/node_modules (tools/package-lock.json pins both).
if ! tools/node_modules/.bin/wasm-opt --version 2>/dev/null | grep -q "version 132" \
  || ! grep -q '"version": "4.14.1"' tools/node_modules/axe-core/package.json 2>/dev/null; then
  log "installing wasm-opt (npm binaryen@132) and axe-core into tools/"
  npm ci --prefix tools --no-audit --no-fund --loglevel=error
fi

if [ "$browser" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  log "installing Debian's chromium and chromium-driver"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi
log "tools ready: $(trunk --version), wasm-bindgen $wbg${browser:+, $(/usr/bin/chromium --version 2>/dev/null || echo 'no chromium')}"
