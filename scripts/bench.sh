#!/usr/bin/env bash
# The benchmark (not part of the tests): smart-launch side by side with a fhirclient.js reference
# app, in one run, against the sandbox EHR in headless Chromium; the browser's JSON parsing of
# the 10,000-observation record two ways; the sandbox's own FHIR benchmark; the sandbox under
# load (complete launch flows at once); a chart left open through 100 token refreshes. Writes
# BENCHMARKS.md.
# Usage: scripts/bench.sh [--launches N] [--timing LIST] [--baseline GIT-REV]
#   --launches N        EHR launches per app per mode (cold, warm, clinic; default 20)
#   --timing LIST       server timings to run: none (no added latency), ehr (a real EHR's); default none,ehr
#   --baseline GIT-REV  also build GIT-REV (in a worktree) and report the size change against it
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

args=()
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

scripts/setup.sh
if [ ! -f bench/node_modules/fhirclient/build/fhir-client.min.js ]; then
  echo "==> installing the reference's fhirclient (npm) into bench/"
  npm ci --prefix bench --no-audit --no-fund --loglevel=error
fi
if [ -n "$baseline" ]; then
  echo "==> building the baseline $baseline"
  # Outside this checkout: Cargo merges every .cargo/config.toml from the build's directory up,
  # so a worktree under this one would be built with this checkout's flags, not its own.
  tree="${TMPDIR:-/tmp}/smart-launch-baseline-tree"
  rm -rf "$tree"
  git worktree prune
  git worktree add --detach "$tree" "$baseline" >/dev/null
  target_dir="$PWD/target/baseline-target"
  (cd "$tree" && CARGO_TARGET_DIR="$target_dir" trunk build --release --offline)
  export BASELINE_DIST="$tree/dist" BASELINE_LABEL="$(git log -1 --format="%h, %ad" --date=short "$baseline")"
fi
export BENCH_REV="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src core browser launch public index.html Trunk.toml Cargo.toml || echo ' with uncommitted changes')"
echo "==> building the app (release)"
trunk build --release --offline
echo "==> launch benchmark"
cargo run --release --example launch-bench -- "${args[@]}"
echo "==> JSON parsing in the browser (release wasm, headless Chromium)"
json=$(CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --release --target wasm32-unknown-unknown --test json_speed -- --nocapture 2>&1 \
  | grep 'JSON of' | sed 's/^ *//')
echo "$json"
{
  echo
  echo "## JSON parsing of the 10,000-observation record in the browser (tests/json_speed.rs, release wasm)"
  echo
  echo "    $json"
} >> BENCHMARKS.md
echo "==> sandbox FHIR benchmark"
cargo run --release -p sandbox --bin sandbox-bench | tee -a BENCHMARKS.md.sandbox
{
  echo
  echo "## Sandbox EHR: FHIR reads and a 1,000-observation search (cargo run --release -p sandbox --bin sandbox-bench)"
  echo
  sed 's/^/    /' BENCHMARKS.md.sandbox
} >> BENCHMARKS.md
rm -f BENCHMARKS.md.sandbox
echo "==> the sandbox under load: 200 complete launch flows at once"
load=$(cargo run --release -p sandbox --example load -- --flows 200 --refreshes 3) || load="$load (failed)"
echo "$load"
{
  echo
  echo "## Sandbox EHR under load: complete launch flows at once (cargo run --release -p sandbox --example load)"
  echo
  echo "Each flow: authorize (PKCE), the code exchanged, a second code exchanged by two token requests at"
  echo "once (exactly one may succeed, and its tokens are then revoked), two reads, three refreshes (each"
  echo "rotating the refresh token, each followed by a read), then a rotated refresh token sent again"
  echo "(refused, the grant revoked: the newest access token gets a 401). The load generator and the"
  echo "sandbox share this machine's 2 cores."
  echo
  echo "$load" | sed 's/^/    /'
} >> BENCHMARKS.md
echo "==> a long session (about four minutes)"
cargo run --release --example long-session -- --refreshes 100 --lifetime 2 >> BENCHMARKS.md \
  || echo "the long session did not hold: see BENCHMARKS.md"
if [ -n "$baseline" ]; then
  git worktree remove --force "$tree" >/dev/null 2>&1 || true
fi
