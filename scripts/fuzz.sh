#!/usr/bin/env bash
# Long runs of what the tests check briefly (not part of the tests):
#
#   scripts/fuzz.sh [CASES]               the property tests of the readers of untrusted input
#                                         (tests/properties.rs: URLs, the launch query, token
#                                         responses, fhirContext, numbers, reference ranges,
#                                         narratives; tests/properties_protocol.rs: config.json,
#                                         discovery, the callback, id_tokens and their claims, JWKS
#                                         keys, paging, dates) with CASES inputs each (default
#                                         100000); a failing input is shrunk and printed
#   scripts/fuzz.sh --coverage [SECONDS]  coverage-guided fuzzing (libFuzzer through cargo-fuzz,
#                                         fuzz/) of the narrative sanitizer and of the protocol's
#                                         readers, SECONDS each (default 300); a crash is saved
#                                         under fuzz/artifacts/ with the command that replays it
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ "${1:-}" = "--coverage" ]; then
  seconds="${2:-300}"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (crates.io)"
    cargo install cargo-fuzz --locked
  fi
  cd fuzz
  for target in narrative protocol; do
    echo "==> fuzzing $target for $seconds s"
    # No sanitizer: the code is safe Rust (unsafe_code = forbid); what is looked for is a panic
    # or a broken promise (the targets' assertions). The stable toolchain builds it so.
    cargo fuzz run -s none --release "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
  done
  exit 0
fi
PROPTEST_CASES="${1:-100000}" exec cargo test --release --test properties --test properties_protocol -- --test-threads=2
