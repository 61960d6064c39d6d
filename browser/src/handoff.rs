//! The launch module's [`Handoff`] on its way to the chart: a promise on `window` under one name,
//! set by the launch module before it starts the chart's module and taken (and deleted) once by
//! the chart. It stays in the page's memory, never in storage.

use std::future::Future;

use js_sys::{Promise, Reflect};
use smart_launch_core::smart::handoff::Handoff;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

const NAME: &str = "smartLaunchHandoff";

/// Launch module: hands on what `handoff` resolves to. The chart may start before it has.
pub fn give(handoff: impl Future<Output = Handoff> + 'static) {
    let promise = future_to_promise(async move { Ok(JsValue::from_str(&handoff.await.to_json())) });
    if let Some(w) = web_sys::window() {
        let _ = Reflect::set(&w, &NAME.into(), &promise);
    }
}

/// Chart: the handoff, once. `None` when no launch module ran before the chart (nothing to
/// take); `Some(None)` when there was one but this build cannot read it.
pub async fn take() -> Option<Option<Handoff>> {
    let w = web_sys::window()?;
    let given = Reflect::get(&w, &NAME.into()).ok()?;
    let _ = Reflect::delete_property(&w, &NAME.into());
    let promise = given.dyn_into::<Promise>().ok()?;
    let text = JsFuture::from(promise)
        .await
        .ok()
        .and_then(|v| v.as_string());
    Some(text.as_deref().and_then(Handoff::from_json))
}
