//! The browser as a [`Platform`]: `fetch` (no cookies, no redirects followed, a timeout),
//! this tab's `sessionStorage` and name, `Date.now()`, `crypto.getRandomValues` and
//! `crypto.subtle`. Every browser failure becomes a typed error; nothing from JavaScript is
//! unwrapped.

use gloo_net::http::{Method as HttpMethod, RequestBuilder, Response};
use js_sys::{Array, Object, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, CryptoKey, RequestCredentials, RequestRedirect, ResponseType, Storage};

use smart_launch_core::platform::{
    CryptoError, HttpRequest, HttpResponse, Method, NetError, Platform, Priority, StorageError,
};

#[derive(Clone, Copy, Default)]
pub struct Browser;

fn session_storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// What a JavaScript error says.
pub fn describe(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// `scheme://host:port` of a URL, for error messages (the URL itself when it has none).
fn origin_of(url: &str) -> String {
    smart_launch_core::http_url::origin_of(url).unwrap_or_else(|| url.to_string())
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
