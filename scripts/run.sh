#!/usr/bin/env bash
# Runs the app with the sandbox EHR as its default: builds both (release), starts the sandbox EHR
# on http://localhost:9000 and the app on http://localhost:8000, and stops both on Ctrl-C.
# Extra arguments go to the sandbox (e.g. --token-lifetime 10 --latency-ms 200; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

scripts/setup.sh --no-browser
echo "==> building the app and the sandbox EHR"
trunk build --release --offline
cargo build --release -p sandbox --bins

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
target/release/sandbox --port 9000 "$@" &
pids+=($!)
target/release/app-host dist --port 8000 &
pids+=($!)
sleep 1
cat <<MSG

  smart-launch is running.
    EHR launch:        open http://localhost:9000 , pick a patient, press Launch
    Standalone launch: open http://localhost:8000/launch.html and choose "Sandbox EHR (local)"
  Ctrl-C stops both.

MSG
wait
