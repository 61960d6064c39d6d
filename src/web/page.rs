//! The page: its address (read the launch parameters, strip them, navigate), files served
//! beside the app, the title, focus, CSS variables, the viewport and the time zone.

use gloo_net::http::RequestBuilder;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::RequestCredentials;

use super::describe;

/// The page's query string, with its `?`.
pub fn query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// This page's address without query or fragment: the default redirect URI.
pub fn page_url() -> String {
    let Some(w) = web_sys::window() else {
        return String::new();
    };
    let l = w.location();
    format!(
        "{}{}",
        l.origin().unwrap_or_default(),
        l.pathname().unwrap_or_default()
    )
}

/// Removes the launch or callback parameters from the address bar (and from history), so a
/// reload or the back button cannot replay them (SECURITY.md, "Authorize and callback").
pub fn strip_query() {
    let Some(w) = web_sys::window() else { return };
    let path = w
        .location()
        .pathname()
        .unwrap_or_else(|_| "/launch.html".into());
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
}

/// Sends the browser to the authorization server.
pub fn navigate(url: &str) -> Result<(), String> {
    let w = web_sys::window().ok_or("no window")?;
    w.location().assign(url).map_err(|e| describe(&e))
}

/// Reads a file served beside the app (the configuration). The default cache mode, so that the
/// request can take launch.html's preload; the host must mark the file `Cache-Control: no-cache`
/// (app-host does, README "Hosting") so that an edited configuration is seen at the next launch.
pub async fn fetch_text(path: &str) -> Result<String, String> {
    let res = RequestBuilder::new(path)
        .credentials(RequestCredentials::SameOrigin)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.ok() {
        return Err(format!("{path} answered HTTP {}", res.status()));
    }
    res.text().await.map_err(|e| e.to_string())
}

/// Removes the element `id` from the page (launch.html's loading placeholder, as the app
/// mounts).
pub fn remove_element(id: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
    {
        el.remove();
    }
}

/// Sets CSS custom properties on the document element through the CSSOM (allowed by the
/// Content-Security-Policy, unlike inline styles). Values must be validated first
/// (`smart::style`).
pub fn set_css_variables(vars: &[(&'static str, String)]) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    let style = root.style();
    for (name, value) in vars {
        let _ = style.set_property(name, value);
    }
}

/// Times are shown in the browser's time zone: its IANA name (`Intl`) for the label and
/// `Date.getTimezoneOffset()` for the offset at each instant, daylight saving included.
pub fn use_local_time_zone() {
    let name = || {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    crate::chart::time::set_local_zone(name, |ms| {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        let minutes_behind = d.get_timezone_offset();
        if minutes_behind.is_finite() {
            -(minutes_behind as i64) * 60_000
        } else {
            0
        }
    });
}

/// The width of the page's viewport in CSS pixels (1024 when it cannot be read).
pub fn viewport_width() -> f64 {
    web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(1024.0)
}

/// The page's title (what a tab, a window list and a screen reader name the page by).
pub fn set_title(title: &str) {
    if let Some(d) = web_sys::window().and_then(|w| w.document()) {
        d.set_title(title);
    }
}

/// Moves the keyboard and screen-reader focus to the screen's main heading (the first `h1` in
/// `main`), made focusable for this without entering the tab order; the page does not scroll.
pub fn focus_heading() {
    let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("main h1").ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    if !el.has_attribute("tabindex") {
        let _ = el.set_attribute("tabindex", "-1");
    }
    let options = web_sys::FocusOptions::new();
    options.set_prevent_scroll(true);
    let _ = el.focus_with_options(&options);
}

/// Brings the element with `id` into view and gives it the focus (made focusable for this
/// without entering the tab order), so that keyboard and screen-reader users land where a
/// launch opened the chart. `false` when there is no such element (yet).
pub fn reveal(id: &str) -> bool {
    let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return false;
    };
    if !el.has_attribute("tabindex") {
        let _ = el.set_attribute("tabindex", "-1");
    }
    el.scroll_into_view();
    let _ = el.focus();
    true
}

/// Moves keyboard focus to the element with `id`.
pub fn focus(id: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
