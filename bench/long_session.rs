//! The long session: a launched chart left open through many token refreshes, against the
//! sandbox with short-lived access tokens, in headless Chromium (the end-to-end tests' harness,
//! `tests/support`). A benchmark, not a test:
//!
//!     cargo run --release --example long-session [-- --refreshes 100 --lifetime 2]
//!
//! Measured once the chart has settled and again after the refreshes, each time after a forced
//! garbage collection: the JS heap in use and the wasm memory (every `WebAssembly.Memory` of the
//! page, through the DevTools protocol), the DOM nodes (in the document, and alive), the event
//! listeners, and the timers pending (the page's `setTimeout` and `setInterval` counted by a
//! script the DevTools protocol adds before the app's own). Then the sandbox refuses the next
//! refresh, as it does once a refresh token has expired: the chart must end in one clear page
//! with no refresh loop. Prints a Markdown section (`scripts/bench.sh` appends it to
//! BENCHMARKS.md); exits 1 when something did not hold.
// A measuring tool, not the product: a broken setup stops it with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};
use support::cdp::Cdp;

#[derive(clap::Parser)]
#[command(
    name = "long-session",
    about = "A chart left open through many token refreshes"
)]
struct Cli {
    /// Token refreshes to wait for
    #[arg(long, default_value_t = 100)]
    refreshes: usize,
    /// Access token lifetime, seconds (the app refreshes a fifth of it ahead of the end)
    #[arg(long, default_value_t = 2)]
    lifetime: u64,
}

/// Counts the page's pending timers: each `setTimeout` until it fires or is cleared, each
/// `setInterval` until it is cleared. Added before any of the page's own scripts runs.
const TIMER_COUNTER: &str = r#"(() => {
  const live = new Set();
  const [st, ct, si, ci] = [setTimeout, clearTimeout, setInterval, clearInterval];
  window.setTimeout = function (f, ...rest) {
    const id = st.call(window, function (...a) {
      live.delete(id);
      if (typeof f === 'function') return f.apply(this, a);
    }, ...rest);
    live.add(id);
    return id;
  };
  window.clearTimeout = (id) => { live.delete(id); ct.call(window, id); };
  window.setInterval = function (...args) { const id = si.apply(window, args); live.add(id); return id; };
  window.clearInterval = (id) => { live.delete(id); ci.call(window, id); };
  Object.defineProperty(window, '__pendingTimers', { get: () => live.size });
})();"#;

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    js_heap: f64,
    wasm: f64,
    nodes_in_document: f64,
    nodes_alive: f64,
    listeners: f64,
    timers: f64,
}

async fn cdp(env: &support::Env, cmd: &'static str, params: Value) -> Value {
    env.browser
        .issue_cmd(Cdp(cmd, params))
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

async fn sample(env: &support::Env) -> Sample {
    // Twice: DOM nodes left detached are freed only by a second collection.
    for _ in 0..2 {
        cdp(env, "HeapProfiler.collectGarbage", json!({})).await;
    }
    let metrics = cdp(env, "Performance.getMetrics", json!({})).await;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == name)
            .and_then(|m| m["value"].as_f64())
            .unwrap_or(f64::NAN)
    };
    let proto = cdp(
        env,
        "Runtime.evaluate",
        json!({ "expression": "WebAssembly.Memory.prototype" }),
    )
    .await;
    let memories = cdp(
        env,
        "Runtime.queryObjects",
        json!({ "prototypeObjectId": proto["result"]["objectId"] }),
    )
    .await;
    let wasm = cdp(
        env,
        "Runtime.callFunctionOn",
        json!({
            "objectId": memories["objects"]["objectId"],
            "functionDeclaration": "function () { return this.reduce((s, m) => s + m.buffer.byteLength, 0); }",
            "returnByValue": true,
        }),
    )
    .await;
    let page = env
        .browser
        .execute(
            "return [document.getElementsByTagName('*').length, window.__pendingTimers];",
            vec![],
        )
        .await
        .unwrap();
    Sample {
        js_heap: metric("JSHeapUsedSize"),
        wasm: wasm["result"]["value"].as_f64().unwrap_or(f64::NAN),
        nodes_in_document: page[0].as_f64().unwrap_or(f64::NAN),
        nodes_alive: metric("Nodes"),
        listeners: metric("JSEventListeners"),
        timers: page[1].as_f64().unwrap_or(f64::NAN),
    }
}

/// What is on screen that says something failed: the failure page, a section's or the banner's
/// error.
async fn errors_on_screen(env: &support::Env) -> usize {
    let mut n = 0;
    for css in [
        "#problem",
        "#banner-error",
        ".section-error",
        "[role=alert]",
    ] {
        n += env
            .browser
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0);
    }
    n
}

#[tokio::main]
async fn main() {
    let cli = <Cli as clap::Parser>::parse();
    let lifetime = cli.lifetime.max(1);
    let env = support::start(|c| {
        c.auto_approve = true;
        c.token_lifetime = Duration::from_secs(lifetime);
    })
    .await;
    cdp(&env, "Performance.enable", json!({})).await;
    cdp(
        &env,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": TIMER_COUNTER }),
    )
    .await;
    env.ehr_launch_auto("patient-01").await;
    let name = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == name).await;
    // The sections' searches and the first refresh settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = sample(&env).await;
    let refreshes_at_start = env.stat("token");
    let t0 = Instant::now();
    let limit = Duration::from_secs(lifetime * cli.refreshes as u64 * 3 + 60);
    while env.stat("token") < refreshes_at_start + cli.refreshes {
        assert!(
            t0.elapsed() < limit,
            "only {} refreshes in {limit:?}",
            env.stat("token") - refreshes_at_start
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let refreshed = env.stat("token") - refreshes_at_start;
    let took = t0.elapsed();
    let end = sample(&env).await;
    let errors = errors_on_screen(&env).await;

    // The next refresh is refused, as a refresh token past its end is: one clear page.
    env.set_faults(|f| f.reject_refresh = true);
    let title = env
        .text_when("#problem h1", |t| !t.is_empty())
        .await
        .to_string();
    let pages = env
        .browser
        .find_all(Locator::Css("#problem"))
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    let chart_left = env
        .browser
        .find_all(Locator::Css(".chart"))
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    let tokens = env.stat("token");
    tokio::time::sleep(Duration::from_secs(lifetime * 3)).await;
    let loop_free = env.stat("token") == tokens;
    env.close().await;

    let rows: [(&str, f64, f64); 6] = [
        (
            "JS heap in use (KB)",
            start.js_heap / 1024.0,
            end.js_heap / 1024.0,
        ),
        ("wasm memory (KB)", start.wasm / 1024.0, end.wasm / 1024.0),
        (
            "DOM elements in the document",
            start.nodes_in_document,
            end.nodes_in_document,
        ),
        ("DOM nodes alive", start.nodes_alive, end.nodes_alive),
        ("event listeners", start.listeners, end.listeners),
        ("pending timers", start.timers, end.timers),
    ];
    let mut flat = true;
    println!("\n## A long session: {refreshed} token refreshes with the chart open (cargo run --release --example long-session)\n");
    println!(
        "Access tokens of {lifetime} s from the sandbox; the chart refreshed {refreshed} times in {:.0} s. \
         Measured after the chart settled and after the refreshes, each time after forced garbage \
         collections. What must hold: nothing grew by more than 10 % (one pending timer more is \
         the clock's next tick); a fall is memory or nodes given back.\n",
        took.as_secs_f64()
    );
    println!("| measure | start | end | change | |\n|---|---:|---:|---:|---|");
    for (what, a, b) in rows {
        let change = if a > 0.0 { (b - a) / a * 100.0 } else { 0.0 };
        let ok = change <= 10.0 || (what == "pending timers" && b - a <= 1.0);
        flat &= ok;
        let verdict = match (ok, change < -10.0) {
            (false, _) => "**grew**",
            (true, true) => "fell",
            (true, false) => "flat",
        };
        println!("| {what} | {a:.0} | {b:.0} | {change:+.1} % | {verdict} |");
    }
    println!(
        "\nErrors on screen after the refreshes: {errors}. Then a refused refresh (an expired \
         refresh token): {pages} page, \"{title}\", the chart {}, {}.",
        if chart_left == 0 {
            "gone"
        } else {
            "still there"
        },
        if loop_free {
            "no refresh after it"
        } else {
            "**refreshes went on**"
        }
    );
    let ended_well =
        pages == 1 && chart_left == 0 && loop_free && title == "Your session has expired";
    if !(flat && errors == 0 && ended_well) {
        std::process::exit(1);
    }
}
