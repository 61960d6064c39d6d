//! The page's address (read the launch parameters, strip them, navigate) and the files served
//! beside the app.

use gloo_net::http::RequestBuilder;
use wasm_bindgen::JsValue;
use web_sys::RequestCredentials;

use crate::describe;

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
