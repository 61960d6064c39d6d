#!/bin/sh
# Trunk's post-build hook (Trunk.toml): gives the chart's files content-hashed names, as Trunk
# gives the launch module's, and writes those names into launch.html.
#
# Why: Trunk leaves a `data-type="worker"` asset's files unhashed (smart-launch.js,
# smart-launch_bg.wasm), so a host must revalidate them on every visit: a round trip to the
# server on the callback's way to the patient's name. Under hashed names they are cached for
# good (`immutable`) and come straight from the HTTP cache, like the launch module's files.
# launch.html names them in one place, `window.smartLaunchChart` (index.html); nothing else
# does.
set -eu
cd "${TRUNK_STAGING_DIR:?run by trunk build, which sets TRUNK_STAGING_DIR}"

js=smart-launch.js
wasm=smart-launch_bg.wasm
for f in "$js" "$wasm" launch.html; do
    [ -f "$f" ] || { echo "chart-names.sh: $f is not in the build" >&2; exit 1; }
done
if command -v sha256sum >/dev/null 2>&1; then
    sum() { sha256sum; }
else
    sum() { shasum -a 256; }
fi
# 16 hex digits, as Trunk's own hashes (sandbox's app host recognises the form).
hash=$(cat "$js" "$wasm" | sum | cut -c1-16)
new_js="smart-launch-$hash.js"
new_wasm="smart-launch-${hash}_bg.wasm"
mv "$js" "$new_js"
mv "$wasm" "$new_wasm"
sed -e "s|'\./$js'|'./$new_js'|" -e "s|'\./$wasm'|'./$new_wasm'|" launch.html > launch.html.new
mv launch.html.new launch.html
if ! grep -q "'\./$new_js'" launch.html || ! grep -q "'\./$new_wasm'" launch.html; then
    echo "chart-names.sh: launch.html does not name './$js' and './$wasm' (index.html's smartLaunchChart)" >&2
    exit 1
fi
