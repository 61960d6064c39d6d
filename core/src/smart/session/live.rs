//! The session while the app runs: its tokens in memory, refreshed ahead of expiry and after a
//! 401 with one refresh in flight shared by every caller (SMART App Launch 2.2 §"Refresh access
//! token"), confirmed (mirrored to this tab's storage) only once its id_token check has passed,
//! ended once for every caller, revoked on sign-out (RFC 7009). The FHIR client asks it for the
//! Bearer token and for a refresh; it never holds tokens of its own.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};

use super::record::{RefreshMismatch, Session};
use super::store;
use crate::platform::{HttpRequest, Platform, StorageError};
use crate::smart::secret::AccessToken;
use crate::smart::token::{
    process_token_response, refresh_request, revocation_request, TokenError,
};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("this session has no refresh token")]
    NotAllowed,
    #[error("the session has ended")]
    Ended,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Mismatch(#[from] RefreshMismatch),
}

impl RefreshError {
    /// Worth trying again later (the network or server hiccuped) rather than final.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RefreshError::Token(TokenError::Network(_) | TokenError::Server(_))
        )
    }
}

pub type RefreshFuture = Shared<LocalBoxFuture<'static, Result<(), RefreshError>>>;

struct Inner<P> {
    platform: Rc<P>,
    session: RefCell<Session>,
    refreshing: RefCell<Option<RefreshFuture>>,
    /// Set once, when the session ends; never cleared.
    ended: Cell<bool>,
    /// Counts access tokens: a 401 for an older one than the current is not the current's.
    generation: Cell<u64>,
    /// Whether the session may be mirrored to this tab's storage: not before its id_token check
    /// has passed ([`LiveSession::confirm`]), so a refresh meanwhile stores nothing either.
    confirmed: Cell<bool>,
}

impl<P: Platform> Inner<P> {
    /// Ends the session for every caller, once: the tokens are dropped from memory and from
    /// this tab's storage.
    fn end(&self) {
        if self.ended.replace(true) {
            return;
        }
        {
            let mut s = self.session.borrow_mut();
            s.access_token = AccessToken::new(String::new());
            s.refresh_token = None;
            s.id_token = None;
        }
        store::forget_session(&*self.platform);
    }
}

/// A running session; clones share it (the chart's clock, every request, the Session panel).
pub struct LiveSession<P: Platform + 'static> {
    inner: Rc<Inner<P>>,
}

impl<P: Platform + 'static> Clone for LiveSession<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Platform + 'static> LiveSession<P> {
    /// A new session whose id_token check is still running (built by `session::open_new`).
    pub(super) fn unconfirmed(platform: Rc<P>, session: Session) -> Self {
        Self {
            inner: Rc::new(Inner {
                platform,
                session: RefCell::new(session),
                refreshing: RefCell::new(None),
                ended: Cell::new(false),
                generation: Cell::new(0),
                confirmed: Cell::new(false),
            }),
        }
    }

    /// A session already confirmed (resumed from storage).
    pub(super) fn confirmed(platform: Rc<P>, session: Session) -> Self {
        let live = Self::unconfirmed(platform, session);
        live.inner.confirmed.set(true);
        live
    }

    pub fn platform(&self) -> &Rc<P> {
        &self.inner.platform
    }

    pub fn with<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(&self.inner.session.borrow())
    }

    /// The `Authorization` header's value now, and which access token it carries: a 401 for an
    /// older token than the current one is not the current token's.
    pub fn bearer(&self) -> (String, u64) {
        let header = self.with(|s| format!("Bearer {}", s.access_token.expose()));
        (header, self.inner.generation.get())
    }

    /// Which access token is the current one (see [`LiveSession::bearer`]).
    pub fn generation(&self) -> u64 {
        self.inner.generation.get()
    }

    /// The id_token check has passed (`session::confirm`): the session gets its user and is
    /// mirrored to this tab's storage (for a reload), not before.
    pub(super) fn confirm(&self, fhir_user: Option<String>) -> Result<(), StorageError> {
        let mut s = self.inner.session.borrow_mut();
        s.fhir_user = fhir_user;
        self.inner.confirmed.set(true);
        store::save_session(&*self.inner.platform, &s)
    }

    /// Ends the session now (its id_token check failed, a definitive 401, a refused refresh):
    /// tokens dropped from memory and storage, nothing more sent with them.
    pub fn end(&self) {
        self.inner.end();
    }

    /// Sign-out: the session ends at once (nothing more is sent with its tokens), and the
    /// returned future asks the server to revoke them (RFC 7009), the refresh token first —
    /// revoking it ends the grant and its access tokens — then the access token. Best effort:
    /// the answers change nothing here (the tokens are gone from the app either way), and a
    /// server that advertised no revocation endpoint gets no request.
    pub(crate) fn revoke(&self) -> LocalBoxFuture<'static, ()> {
        let requests: Vec<HttpRequest> = self.with(|s| {
            let Some(endpoint) = s.revocation_endpoint.as_deref() else {
                return Vec::new();
            };
            let mut r = Vec::new();
            if let Some(rt) = &s.refresh_token {
                r.push(revocation_request(
                    endpoint,
                    &s.client_id,
                    rt.expose(),
                    "refresh_token",
                ));
            }
            r.push(revocation_request(
                endpoint,
                &s.client_id,
                s.access_token.expose(),
                "access_token",
            ));
            r
        });
        let ended = self.is_ended();
        self.inner.end();
        let platform = self.inner.platform.clone();
        async move {
            // A session that had already ended (a refused refresh, a dead token) has nothing
            // left worth revoking from here.
            if ended {
                return;
            }
            for req in requests {
                let _ = platform.send(req).await;
            }
        }
        .boxed_local()
    }

    /// One beat of the chart's clock: refreshes ahead of expiry when the session can be
    /// refreshed. `Ok(true)` while the session lives on, `Ok(false)` once it has ended, and the
    /// refusal when a refresh was refused (the session is then over: the caller asks for a new
    /// launch). A passing failure is retried at a later beat. Whether the session is stored yet
    /// does not matter: a new session's id_token check may still be running.
    pub async fn keep_fresh(&self, now_ms: u64) -> Result<bool, RefreshError> {
        if self.is_ended() {
            return Ok(false);
        }
        if self.with(|s| s.refresh_due(now_ms) && s.can_refresh()) {
            if let Err(e) = self.refresh().await {
                if !e.is_transient() {
                    return Err(e);
                }
            }
        }
        Ok(!self.is_ended())
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.inner.ended.get()
    }

    /// Refreshes the access token; concurrent callers share the one request in flight. A refused
    /// refresh ends the session.
    pub fn refresh(&self) -> RefreshFuture {
        if let Some(f) = self.inner.refreshing.borrow().as_ref() {
            return f.clone();
        }
        if self.is_ended() {
            return futures::future::ready(Err(RefreshError::Ended))
                .boxed_local()
                .shared();
        }
        let inner = self.inner.clone();
        let fut = async move {
            let result = Self::do_refresh(&inner).await;
            inner.refreshing.borrow_mut().take();
            result
        }
        .boxed_local()
        .shared();
        *self.inner.refreshing.borrow_mut() = Some(fut.clone());
        fut
    }

    async fn do_refresh(inner: &Inner<P>) -> Result<(), RefreshError> {
        let req = {
            let s = inner.session.borrow();
            let Some(rt) = &s.refresh_token else {
                return Err(RefreshError::NotAllowed);
            };
            refresh_request(&s.token_endpoint, &s.client_id, rt)
        };
        let outcome = match inner.platform.send(req).await {
            Err(e) => Err(RefreshError::Token(TokenError::Network(e))),
            Ok(res) => match process_token_response(&res) {
                // The session ended while this refresh was in flight: its tokens are not kept.
                Ok(_) if inner.ended.get() => Err(RefreshError::Ended),
                Ok(t) => {
                    let now = inner.platform.now_ms();
                    inner
                        .session
                        .borrow_mut()
                        .apply_refresh(t, now)
                        .map_err(RefreshError::from)
                }
                Err(e) => Err(RefreshError::Token(e)),
            },
        };
        match &outcome {
            // A refused refresh token is dead: the session ends, so nothing retries it in a loop.
            Err(e) if !e.is_transient() => inner.end(),
            Err(_) => {}
            Ok(()) => {
                inner.generation.set(inner.generation.get() + 1);
                // The in-memory session stays right even if the mirror cannot be written.
                if inner.confirmed.get() {
                    let _ = store::save_session(&*inner.platform, &inner.session.borrow());
                }
            }
        }
        outcome
    }
}
