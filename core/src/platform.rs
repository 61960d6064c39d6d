//! What the core needs from its host, as a trait: HTTP, this tab's session storage, the clock,
//! random bytes, and RS256 signature checks. The browser layer (`web`) implements it with
//! `fetch`, `sessionStorage`, `Date.now()`, `crypto.getRandomValues` and `crypto.subtle`; native
//! tests implement it with a scripted peer (docs/ARCHITECTURE.md, "Layers").

use std::future::Future;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// How soon the browser should send a request when connections are scarce (Fetch's
/// `priority`; HTTP/1.1 allows six connections per host): the patient's read goes before the
/// chart's searches that start with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Priority {
    #[default]
    Normal,
    Low,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    /// `application/x-www-form-urlencoded` for POSTs.
    pub body: Option<String>,
    pub priority: Priority,
    /// The answer is wanted as bytes ([`HttpResponse::bytes`]): an attachment (a PDF, an
    /// image), not text.
    pub binary: bool,
    /// How long the request may take, answer and body included, before it is abandoned with
    /// [`NetError::Timeout`] (SECURITY.md, "When a server does not answer").
    pub timeout_ms: u32,
}

/// A request's deadline unless its step sets a shorter one: long enough for a slow EHR's page of
/// a thousand resources, short enough that a server that never answers gets a page, not a spinner.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;

impl HttpRequest {
    pub fn get(url: impl Into<String>, accept: &str) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: vec![("Accept", accept.to_string())],
            body: None,
            priority: Priority::Normal,
            binary: false,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// The same request with a deadline of `ms`.
    pub fn within(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// No `Debug` on requests that may carry a Bearer token: tests compare fields instead.

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub www_authenticate: Option<String>,
    /// The body as text; empty when the request asked for bytes.
    pub body: String,
    /// The body as bytes when the request asked for them ([`HttpRequest::binary`]); else empty.
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            let c = c.to_ascii_lowercase();
            c.starts_with("application/json")
                || c.starts_with("application/fhir+json")
                || c.starts_with("application/json+fhir")
        })
    }

    pub fn looks_like_html(&self) -> bool {
        let start = self
            .body
            .trim_start()
            .get(..15)
            .unwrap_or("")
            .to_ascii_lowercase();
        self.content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/html"))
            || start.starts_with("<!doctype html")
            || start.starts_with("<html")
    }
}

/// Why a request got no HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum NetError {
    /// The browser refused the response or could not connect: a CORS refusal, the server down,
    /// the network gone. The browser does not say which.
    #[error("could not reach {0} (server down, network problem, or the server does not allow this app's origin)")]
    Unreachable(String),
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// The server answered with a redirect, which token and FHIR requests never follow.
    #[error("{0} answered with a redirect, which this app does not follow")]
    Redirected(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("browser storage is unavailable or full: {0}")]
pub struct StorageError(pub String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("the browser's cryptography is unavailable: {0}")]
pub struct CryptoError(pub String);

/// The host the core runs on. Futures are not `Send`: the browser has one thread.
#[allow(async_fn_in_trait)]
pub trait Platform {
    fn send(&self, req: HttpRequest) -> impl Future<Output = Result<HttpResponse, NetError>>;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Fills `buf` from a cryptographically secure source.
    fn random(&self, buf: &mut [u8]) -> Result<(), CryptoError>;
    /// Checks an RS256 signature with the RSA public key given as a JWK.
    fn verify_rs256(
        &self,
        jwk: &serde_json::Value,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, CryptoError>>;

    /// This tab's session storage.
    fn load(&self, key: &str) -> Option<String>;
    fn save(&self, key: &str, value: &str) -> Result<(), StorageError>;
    fn remove(&self, key: &str);
    fn keys(&self) -> Vec<String>;

    /// This tab's name (`window.name`): kept by the tab across reloads and navigations, never
    /// shared with another tab, so it tells tabs apart where their storage is shared
    /// (`smart::session`). Empty when the tab has none.
    fn tab_name(&self) -> String;
    fn set_tab_name(&self, name: &str);
}

/// A shared platform is the platform (the FHIR client holds its host in an `Rc`).
impl<P: Platform> Platform for std::rc::Rc<P> {
    fn send(&self, req: HttpRequest) -> impl Future<Output = Result<HttpResponse, NetError>> {
        (**self).send(req)
    }
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        (**self).random(buf)
    }
    fn verify_rs256(
        &self,
        jwk: &serde_json::Value,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, CryptoError>> {
        (**self).verify_rs256(jwk, signing_input, signature)
    }
    fn load(&self, key: &str) -> Option<String> {
        (**self).load(key)
    }
    fn save(&self, key: &str, value: &str) -> Result<(), StorageError> {
        (**self).save(key, value)
    }
    fn remove(&self, key: &str) {
        (**self).remove(key)
    }
    fn keys(&self) -> Vec<String> {
        (**self).keys()
    }
    fn tab_name(&self) -> String {
        (**self).tab_name()
    }
    fn set_tab_name(&self, name: &str) {
        (**self).set_tab_name(name)
    }
}
