//! A scripted [`Platform`] for native tests: a fake clock, in-memory session storage, a
//! counter-based "random" source, real RS256 verification, and an HTTP handler the test writes.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;
use sha2::Sha256;

use crate::platform::{CryptoError, HttpRequest, HttpResponse, NetError, Platform, StorageError};

/// `(method, url, body, Authorization header)` of one request.
pub type Sent = (
    crate::platform::Method,
    String,
    Option<String>,
    Option<String>,
);

type Handler = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse, NetError>>;

pub struct Scripted {
    pub now: Cell<u64>,
    pub storage: RefCell<BTreeMap<String, String>>,
    /// `(method, url, body)` of every request sent, in order.
    pub sent: RefCell<Vec<Sent>>,
    handler: RefCell<Handler>,
    counter: Cell<u8>,
    /// How long each answer takes on the fake clock (`now` moves on by this much per request).
    pub latency_ms: Cell<u64>,
    /// `window.name`.
    pub tab: RefCell<String>,
}

pub fn json(status: u16, body: &str) -> Result<HttpResponse, NetError> {
    Ok(HttpResponse {
        status,
        content_type: Some("application/json".into()),
        www_authenticate: None,
        bytes: Vec::new(),
        body: body.into(),
    })
}

impl Scripted {
    pub fn new(
        handler: impl FnMut(&HttpRequest) -> Result<HttpResponse, NetError> + 'static,
    ) -> Self {
        Self {
            now: Cell::new(1_700_000_000_000),
            storage: RefCell::new(BTreeMap::new()),
            sent: RefCell::new(Vec::new()),
            handler: RefCell::new(Box::new(handler)),
            counter: Cell::new(1),
            latency_ms: Cell::new(0),
            tab: RefCell::new(String::new()),
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|(_, u, _, _)| u.clone())
            .collect()
    }

    pub fn count(&self, fragment: &str) -> usize {
        self.urls().iter().filter(|u| u.contains(fragment)).count()
    }
}

/// Pending once, then ready: lets concurrent requests be in flight together, as in a browser.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Platform for Scripted {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, NetError> {
        self.sent.borrow_mut().push((
            req.method,
            req.url.clone(),
            req.body.clone(),
            req.header("Authorization").map(str::to_string),
        ));
        // The request is on the wire; the answer comes after other tasks had their turn.
        YieldOnce(false).await;
        self.now.set(self.now.get() + self.latency_ms.get());
        (self.handler.borrow_mut())(&req)
    }

    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let c = self.counter.get();
        self.counter.set(c.wrapping_add(1));
        buf.fill(c);
        Ok(())
    }

    async fn verify_rs256(
        &self,
        jwk: &Value,
        input: &[u8],
        sig: &[u8],
    ) -> Result<bool, CryptoError> {
        let part = |k: &str| {
            jwk[k]
                .as_str()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                .ok_or_else(|| CryptoError(format!("jwk has no {k}")))
        };
        let key = RsaPublicKey::new(
            BigUint::from_bytes_be(&part("n")?),
            BigUint::from_bytes_be(&part("e")?),
        )
        .map_err(|e| CryptoError(e.to_string()))?;
        let Ok(sig) = Signature::try_from(sig) else {
            return Ok(false);
        };
        Ok(VerifyingKey::<Sha256>::new(key).verify(input, &sig).is_ok())
    }

    fn load(&self, key: &str) -> Option<String> {
        self.storage.borrow().get(key).cloned()
    }

    fn save(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.storage
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn remove(&self, key: &str) {
        self.storage.borrow_mut().remove(key);
    }

    fn keys(&self) -> Vec<String> {
        self.storage.borrow().keys().cloned().collect()
    }

    fn tab_name(&self) -> String {
        self.tab.borrow().clone()
    }

    fn set_tab_name(&self, name: &str) {
        *self.tab.borrow_mut() = name.to_string();
    }
}
