//! The launch module's [`Handoff`] on its way to the chart, and the [`FirstRead`] of the launch
//! patient after it: each a promise on `window` under its own name, set by the launch module
//! before it starts the chart's module and taken (and deleted) once by the chart. They stay in
//! the page's memory, never in storage.
//!
//! The chart's module itself is started through launch.html's `window.smartLaunchChart`
//! (index.html), the one place that names the chart's built files.

use std::future::Future;

use js_sys::{Promise, Reflect};
use smart_launch_core::smart::handoff::{FirstRead, Handoff};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

const NAME: &str = "smartLaunchHandoff";
const FIRST_READ: &str = "smartLaunchFirstRead";
const CHART: &str = "smartLaunchChart";

/// Calls `method` of launch.html's chart loader; `None` when the page has no such loader (a
/// launch.html not built from index.html) or the call threw.
fn chart_loader(method: &str) -> Option<JsValue> {
    let w = web_sys::window()?;
    let loader = Reflect::get(&w, &CHART.into()).ok()?;
    let call = Reflect::get(&loader, &method.into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    call.call0(&loader).ok()
}

/// Launch module, as a launch starts: the chart's files go into the HTTP cache at the lowest
/// priority while discovery (small answers, bound by round trips, not by bandwidth) and then
/// the user's sign-in at the EHR take their time, for the callback to start the chart from
/// there. A prefetch outlives the page that asked for it; where a browser drops it, the
/// callback loads the chart as any visit does.
pub fn prefetch_chart() {
    let _ = chart_loader("prefetch");
}

/// Launch module: starts the chart's module. The promise settles once the module has started
/// (resolved) or could not be loaded (rejected); `None` when there is nothing to start it with.
pub fn start_chart() -> Option<Promise> {
    chart_loader("start")?.dyn_into::<Promise>().ok()
}

/// Puts on `window`, under `name`, a promise of what `text` resolves to; the future starts at
/// once.
fn put(name: &str, text: impl Future<Output = String> + 'static) {
    let promise = future_to_promise(async move { Ok(JsValue::from_str(&text.await)) });
    if let Some(w) = web_sys::window() {
        let _ = Reflect::set(&w, &name.into(), &promise);
    }
}

/// Takes (once) the promise under `name` and waits for its text; `None` when there is none.
async fn take_text(name: &str) -> Option<Option<String>> {
    let w = web_sys::window()?;
    let given = Reflect::get(&w, &name.into()).ok()?;
    let _ = Reflect::delete_property(&w, &name.into());
    let promise = given.dyn_into::<Promise>().ok()?;
    Some(
        JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_string()),
    )
}

/// Launch module: hands on what `handoff` resolves to. The chart may start before it has.
pub fn give(handoff: impl Future<Output = Handoff> + 'static) {
    put(NAME, async move { handoff.await.to_json() });
}

/// Chart: the handoff, once. `None` when no launch module ran before the chart (nothing to
/// take); `Some(None)` when there was one but this build cannot read it.
pub async fn take() -> Option<Option<Handoff>> {
    let text = take_text(NAME).await?;
    Some(text.as_deref().and_then(Handoff::from_json))
}

/// Launch module: starts the launch patient's read and hands on its answer.
pub fn give_first_read(read: impl Future<Output = FirstRead> + 'static) {
    put(FIRST_READ, async move { read.await.to_json() });
}

/// Chart: the launch module's read of the launch patient, once, when it made one and this build
/// can read its answer.
pub async fn take_first_read() -> Option<FirstRead> {
    take_text(FIRST_READ)
        .await
        .flatten()
        .as_deref()
        .and_then(FirstRead::from_json)
}
