#!/usr/bin/env bash
# Runs every test of smart-launch: formatting and lints, native unit tests of the protocol core
# and the sandbox, the sandbox's HTTP integration tests, browser tests of the wasm layer in
# headless Chromium, and end-to-end launches in headless Chromium against the sandbox EHR.
# Installs what is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

scripts/setup.sh

echo "==> format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown -p smart-launch -p smart-launch-start \
  -p smart-launch-browser -p smart-launch-core --lib --bins -- -D warnings

echo "==> building the app (release, as shipped)"
trunk build --release --offline

echo "==> native, integration and end-to-end tests"
cargo test --workspace -- --test-threads=2

echo "==> browser tests (wasm-bindgen-test in headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=60 \
  cargo test --target wasm32-unknown-unknown --test browser
