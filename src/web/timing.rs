//! Waiting for the browser (timers, the next paint) and User Timing marks for the benchmark.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Resolves after `ms` milliseconds (a `setTimeout` promise).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Resolves once the browser has painted the DOM as it is now: a task queued from the next
/// animation frame runs after that frame's paint. (A plain `setTimeout(0)` usually runs before
/// the paint, so work started there holds the paint back.) In a hidden page there are no
/// frames and this waits until the page is shown.
pub async fn after_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(w) = web_sys::window() else { return };
        let queue = wasm_bindgen::closure::Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
            }
        });
        let _ = w.request_animation_frame(queue.unchecked_ref());
    });
    let _ = JsFuture::from(promise).await;
}

/// Marks `name` in the next animation frame, i.e. once the current DOM changes are painted, and
/// notes the size of the wasm memory then on `<html data-wasm-memory>` for the benchmark.
pub fn mark_after_paint(name: &'static str) {
    let Some(w) = web_sys::window() else { return };
    let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
        smart_launch_browser::mark(name);
        let bytes = wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .ok()
            .and_then(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
            .map(|b| b.byte_length());
        if let (Some(bytes), Some(root)) = (
            bytes,
            web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element()),
        ) {
            let _ = root.set_attribute("data-wasm-memory", &bytes.to_string());
        }
    });
    let _ = w.request_animation_frame(cb.unchecked_ref());
}
