#!/usr/bin/env bash
# The benchmark (not part of the tests): smart-launch side by side with a fhirclient.js reference
# app, in one run, against the sandbox EHR in headless Chromium; then the sandbox's own FHIR
# benchmark. Writes BENCHMARKS.md. Usage: scripts/bench.sh [--launches N]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

scripts/setup.sh
if [ ! -f bench/node_modules/fhirclient/build/fhir-client.min.js ]; then
  echo "==> installing the reference's fhirclient (npm) into bench/"
  npm ci --prefix bench --no-audit --no-fund --loglevel=error
fi
echo "==> building the app (release)"
trunk build --release --offline
echo "==> launch benchmark"
cargo run --release --example launch-bench -- "$@"
echo "==> sandbox FHIR benchmark"
cargo run --release -p sandbox --bin sandbox-bench | tee -a BENCHMARKS.md.sandbox
{
  echo
  echo "## Sandbox EHR: FHIR reads and a 1,000-observation search (cargo run --release -p sandbox --bin sandbox-bench)"
  echo
  sed 's/^/    /' BENCHMARKS.md.sandbox
} >> BENCHMARKS.md
rm -f BENCHMARKS.md.sandbox
