#!/usr/bin/env bash
# The property tests of the readers of untrusted input (tests/properties.rs: URLs, the launch
# query, token responses, fhirContext, numbers, reference ranges, narratives;
# tests/properties_protocol.rs: config.json, discovery, the callback, id_tokens and their
# claims, JWKS keys, paging, dates),
# with many more inputs than `scripts/test.sh` gives them: `scripts/fuzz.sh [CASES]` (default
# 100000 per property). A failing input is shrunk to a small one and printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PROPTEST_CASES="${1:-100000}" exec cargo test --release --test properties --test properties_protocol -- --test-threads=2
