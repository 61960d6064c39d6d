// Starts the chart's wasm module (the Leptos app the user sees). The launch module
// (launch/src/main.rs) adds this script, with preloads of both files, when a visit needs the
// chart; an EHR or standalone launch leaves for the authorize endpoint without it.
import init from './smart-launch.js';

init({ module_or_path: new URL('smart-launch_bg.wasm', import.meta.url) });
