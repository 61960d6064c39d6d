//! The page as the chart uses it: the title, focus, CSS variables, the viewport and the time
//! zone. (Its address and the files beside it are `smart_launch_browser::page`'s.)

use wasm_bindgen::JsCast;

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
