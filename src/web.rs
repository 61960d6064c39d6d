//! The browser as a [`Platform`]: `fetch` (no cookies, no redirects followed, a timeout),
//! this tab's `sessionStorage`, `Date.now()`, `crypto.getRandomValues` and `crypto.subtle`.
//! Plus the page's address: read the launch parameters, strip them, navigate. Every browser
//! failure becomes a typed error; nothing from JavaScript is unwrapped.

use gloo_net::http::{Method as HttpMethod, RequestBuilder, Response};
use js_sys::{Array, Object, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, CryptoKey, RequestCredentials, RequestRedirect, ResponseType, Storage};

mod html;

pub use html::sanitize_html;

use crate::platform::{
    CryptoError, HttpRequest, HttpResponse, Method, NetError, Platform, Priority, StorageError,
};

#[derive(Clone, Copy, Default)]
pub struct Browser;

fn session_storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn describe(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// `scheme://host:port` of a URL, for error messages (the URL itself when it has none).
fn origin_of(url: &str) -> String {
    crate::http_url::origin_of(url).unwrap_or_else(|| url.to_string())
}

/// One [`HttpRequest`] as gloo-net sends it through `fetch`.
async fn fetch(req: &HttpRequest, signal: &AbortSignal) -> Result<Response, gloo_net::Error> {
    let mut b = RequestBuilder::new(&req.url)
        .method(match req.method {
            Method::Get => HttpMethod::GET,
            Method::Post => HttpMethod::POST,
        })
        // Bearer tokens only; no cookies (SECURITY.md, "Where the token may go").
        .credentials(RequestCredentials::Omit)
        // A redirect would carry the request elsewhere: see it, never follow it.
        .redirect(RequestRedirect::Manual)
        .abort_signal(Some(signal));
    for (name, value) in &req.headers {
        b = b.header(name, value);
    }
    let request = match &req.body {
        Some(body) => b.body(body.as_str())?,
        None => b.build()?,
    };
    match req.priority {
        Priority::Normal => request.send().await,
        Priority::Low => {
            // Fetch's `priority` is an init member only (not in web-sys' RequestInit yet): a
            // copy of the request made with it. Where the browser does not know it, it is
            // ignored and the request goes as it is.
            let init = web_sys::RequestInit::new();
            let _ = js_sys::Reflect::set(&init, &"priority".into(), &"low".into());
            let raw: web_sys::Request = request.into();
            match web_sys::Request::new_with_request_and_init(&raw, &init) {
                Ok(low) => gloo_net::http::Request::from(low).send().await,
                Err(_) => gloo_net::http::Request::from(raw).send().await,
            }
        }
    }
}

impl Platform for Browser {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, NetError> {
        let signal = AbortSignal::timeout_with_u32(req.timeout_ms);
        // The browser does not say why a fetch failed (CORS, down, offline); a timeout it does.
        let failed = |signal: &AbortSignal| {
            if signal.aborted() {
                NetError::Timeout(origin_of(&req.url))
            } else {
                NetError::Unreachable(origin_of(&req.url))
            }
        };
        let res = fetch(&req, &signal).await.map_err(|_| failed(&signal))?;
        if res.type_() == ResponseType::Opaqueredirect {
            return Err(NetError::Redirected(origin_of(&req.url)));
        }
        let headers = res.headers();
        let (body, bytes) = if req.binary {
            let bytes = res.binary().await.map_err(|_| failed(&signal))?;
            (String::new(), bytes)
        } else {
            let body = res.text().await.map_err(|_| failed(&signal))?;
            (body, Vec::new())
        };
        Ok(HttpResponse {
            status: res.status(),
            content_type: headers.get("content-type"),
            www_authenticate: headers.get("www-authenticate"),
            body,
            bytes,
        })
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let crypto = web_sys::window()
            .ok_or_else(|| CryptoError("no window".into()))?
            .crypto()
            .map_err(|e| CryptoError(describe(&e)))?;
        crypto
            .get_random_values_with_u8_array(buf)
            .map(|_| ())
            .map_err(|e| CryptoError(describe(&e)))
    }

    async fn verify_rs256(
        &self,
        jwk: &serde_json::Value,
        input: &[u8],
        sig: &[u8],
    ) -> Result<bool, CryptoError> {
        let subtle = web_sys::window()
            .ok_or_else(|| CryptoError("no window".into()))?
            .crypto()
            .map_err(|e| CryptoError(describe(&e)))?
            .subtle();
        // Only the public parts go to importKey.
        let public = serde_json::json!({
            "kty": "RSA", "n": jwk["n"], "e": jwk["e"], "alg": "RS256", "ext": true,
        });
        let key_data: Object = JSON::parse(&public.to_string())
            .map_err(|e| CryptoError(describe(&e)))?
            .unchecked_into();
        let algorithm: Object = JSON::parse(r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#)
            .map_err(|e| CryptoError(describe(&e)))?
            .unchecked_into();
        let usages = Array::of1(&JsValue::from_str("verify"));
        let promise = subtle
            .import_key_with_object("jwk", &key_data, &algorithm, false, &usages)
            .map_err(|e| CryptoError(describe(&e)))?;
        let key: CryptoKey = JsFuture::from(promise)
            .await
            .map_err(|e| CryptoError(describe(&e)))?
            .dyn_into()
            .map_err(|_| CryptoError("importKey returned no key".into()))?;
        let promise = subtle
            .verify_with_str_and_u8_array_and_u8_array("RSASSA-PKCS1-v1_5", &key, sig, input)
            .map_err(|e| CryptoError(describe(&e)))?;
        let ok = JsFuture::from(promise)
            .await
            .map_err(|e| CryptoError(describe(&e)))?;
        Ok(ok.as_bool().unwrap_or(false))
    }

    fn load(&self, key: &str) -> Option<String> {
        session_storage()?.get_item(key).ok().flatten()
    }

    fn save(&self, key: &str, value: &str) -> Result<(), StorageError> {
        session_storage()
            .ok_or_else(|| StorageError("sessionStorage is not available".into()))?
            .set_item(key, value)
            .map_err(|e| StorageError(describe(&e)))
    }

    fn remove(&self, key: &str) {
        if let Some(s) = session_storage() {
            let _ = s.remove_item(key);
        }
    }

    fn keys(&self) -> Vec<String> {
        let Some(s) = session_storage() else {
            return Vec::new();
        };
        let n = s.length().unwrap_or(0);
        (0..n).filter_map(|i| s.key(i).ok().flatten()).collect()
    }

    fn tab_name(&self) -> String {
        web_sys::window()
            .and_then(|w| w.name().ok())
            .unwrap_or_default()
    }

    fn set_tab_name(&self, name: &str) {
        if let Some(w) = web_sys::window() {
            let _ = w.set_name(name);
        }
    }
}

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

/// Sets CSS custom properties on the document element through the CSSOM (allowed by the
/// Content-Security-Policy, unlike inline styles). Values must be validated first
/// (`chart::style`).
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

/// A sanitized narrative as DOM nodes, built one by one (`createElement`, `setAttribute`,
/// `createTextNode`): the browser never parses markup from a server. Images that need the
/// token ([`crate::fhir::narrative::Node::FhirImage`]) become a placeholder with their alt text;
/// they are returned with their URLs for the caller to fetch ([`show_image`]).
pub fn narrative_dom(
    nodes: &[crate::fhir::narrative::Node],
) -> Result<(web_sys::DocumentFragment, Vec<(web_sys::Element, String)>), String> {
    use crate::fhir::narrative::Node;
    fn build(
        doc: &web_sys::Document,
        parent: &web_sys::Node,
        nodes: &[Node],
        images: &mut Vec<(web_sys::Element, String)>,
    ) -> Result<(), wasm_bindgen::JsValue> {
        for n in nodes {
            let child: web_sys::Node = match n {
                Node::Text(t) => doc.create_text_node(t).into(),
                Node::Element {
                    tag,
                    attrs,
                    children,
                } => {
                    let el = doc.create_element(tag)?;
                    for (k, v) in attrs {
                        match (*k, el.dyn_ref::<web_sys::HtmlElement>()) {
                            ("style", Some(html)) => {
                                let css = html.style();
                                for (prop, value) in crate::fhir::narrative::style_declarations(v) {
                                    css.set_property(prop, value)?;
                                }
                            }
                            _ => el.set_attribute(k, v)?,
                        }
                    }
                    build(doc, &el, children, images)?;
                    el.into()
                }
                Node::FhirImage { url, alt } => {
                    let el = doc.create_element("span")?;
                    el.set_attribute("class", "narrative-image")?;
                    el.set_attribute("data-alt", alt)?;
                    el.set_text_content(Some(&format!("[image: {alt}]")));
                    images.push((el.clone(), url.clone()));
                    el.into()
                }
            };
            parent.append_child(&child)?;
        }
        Ok(())
    }
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let fragment = doc.create_document_fragment();
    let mut images = Vec::new();
    build(&doc, &fragment, nodes, &mut images).map_err(|e| describe(&e))?;
    Ok((fragment, images))
}

/// A node of a browser-parsed document, as the narrative allowlist reads trees.
pub(crate) struct Dom(web_sys::Node);

impl Dom {
    /// The node as an element, by its node type: a document parsed in the parser frame
    /// (`web::html`) belongs to that frame's realm, whose nodes are not `instanceof` this page's
    /// `Element`, so a checked cast (`dyn_ref`) would see no element at all.
    fn element(&self) -> Option<&web_sys::Element> {
        (self.0.node_type() == web_sys::Node::ELEMENT_NODE).then(|| self.0.unchecked_ref())
    }
}

impl crate::fhir::narrative::Markup for Dom {
    fn kind(&self) -> crate::fhir::narrative::MarkupKind {
        use crate::fhir::narrative::MarkupKind;
        match self.0.node_type() {
            web_sys::Node::TEXT_NODE | web_sys::Node::CDATA_SECTION_NODE => MarkupKind::Text,
            web_sys::Node::ELEMENT_NODE => MarkupKind::Element,
            _ => MarkupKind::Other,
        }
    }

    fn text(&self) -> Option<String> {
        self.0.node_value()
    }

    fn name(&self) -> (String, Option<String>) {
        match self.element() {
            Some(e) => (e.local_name(), e.namespace_uri()),
            None => (String::new(), None),
        }
    }

    fn attributes(&self) -> Vec<(String, Option<String>, String)> {
        let Some(attrs) = self.element().map(|e| e.attributes()) else {
            return Vec::new();
        };
        (0..attrs.length())
            .filter_map(|i| attrs.item(i))
            .map(|a| (a.local_name(), a.namespace_uri(), a.value()))
            .collect()
    }

    fn children(&self) -> Vec<Self> {
        let list = self.0.child_nodes();
        (0..list.length())
            .filter_map(|i| list.item(i))
            .map(Dom)
            .collect()
    }
}

/// Text in a named charset, decoded by the browser's `TextDecoder` (the WHATWG Encoding
/// standard's labels; bytes that do not decode become U+FFFD); `None` for a label it does not
/// know.
pub fn decode_text(label: &str, bytes: &[u8]) -> Option<String> {
    web_sys::TextDecoder::new_with_label(label)
        .ok()?
        .decode_with_u8_array(bytes)
        .ok()
}

/// A Blob URL for bytes fetched with the token (an attachment, a narrative's image): the
/// browser shows or saves it without another request. Revoke it ([`revoke_blob_url`]) when
/// the view that uses it goes.
pub fn blob_url(bytes: &[u8], blob_type: &str) -> Result<String, String> {
    let parts = Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(blob_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| describe(&e))?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| describe(&e))
}

pub fn revoke_blob_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// Replaces a narrative's image placeholder with the image, from a Blob URL.
pub fn show_image(placeholder: &web_sys::Element, src: &str) {
    let Some(doc) = placeholder.owner_document() else {
        return;
    };
    if let Ok(img) = doc.create_element("img") {
        let alt = placeholder.get_attribute("data-alt").unwrap_or_default();
        let _ = img.set_attribute("alt", &alt);
        let _ = img.set_attribute("src", src);
        let _ = placeholder.replace_with_with_node_1(&img);
    }
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

/// A `performance.mark` (User Timing), for the benchmark to read; no data in the name.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// Marks `name` in the next animation frame, i.e. once the current DOM changes are painted, and
/// notes the size of the wasm memory then on `<html data-wasm-memory>` for the benchmark.
pub fn mark_after_paint(name: &'static str) {
    let Some(w) = web_sys::window() else { return };
    let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
        mark(name);
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
