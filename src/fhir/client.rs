//! The authorized FHIR client (SMART App Launch 2.2 §"Access FHIR API", §"Refresh access token").
//! It exists only from a [`Session`] made of a checked token response (a checked value is a type),
//! sends the Bearer token only under the FHIR base, refreshes ahead of expiry and once after a
//! 401 with one refresh in flight shared by every caller, and never refreshes on a 403. The
//! first definitive 401 (after that refresh, or with no refresh token) or refused refresh ends
//! the session once for every caller: the tokens leave memory and storage, requests in flight
//! answer the same, and nothing is sent with the token again (SECURITY.md, "Tokens").

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use serde_json::Value;

use crate::fhir::base::{FhirBase, Pager};
use crate::fhir::response::{process_bytes, process_response, Fetched, FhirError};
use crate::platform::{HttpRequest, HttpResponse, NetError, Platform, Priority, StorageError};
use crate::smart::secret::AccessToken;
use crate::smart::session::{RefreshMismatch, Session};
use crate::smart::store;
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

    /// What a FHIR caller is told when the refresh it needed failed: a passing network or
    /// server trouble as such (the session stays), anything else as the session's end.
    fn for_fhir(self) -> FhirError {
        match self {
            RefreshError::Token(TokenError::Network(n)) => FhirError::Network(n),
            RefreshError::Token(TokenError::Server(status)) => FhirError::Server {
                status,
                outcome: None,
            },
            _ => FhirError::SessionExpired,
        }
    }
}

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<(), RefreshError>>>;

struct Inner<P> {
    platform: Rc<P>,
    base: FhirBase,
    session: RefCell<Session>,
    refreshing: RefCell<Option<RefreshFuture>>,
    /// Set once, when the session ends; never cleared.
    ended: Cell<bool>,
    /// Counts access tokens: a 401 for an older one than the current is not the current's.
    generation: Cell<u64>,
    /// Whether the session may be mirrored to this tab's storage: not before its id_token check
    /// has passed ([`FhirClient::confirm`]), so a refresh meanwhile stores nothing either.
    confirmed: Cell<bool>,
}

impl<P: Platform> Inner<P> {
    /// Ends the session for every caller, once: the tokens are dropped from memory and from
    /// this tab's storage. Callers then answer [`FhirError::SessionExpired`].
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

/// How long the check for a 401 hidden by missing CORS headers may take
/// ([`FhirClient::may_be_a_hidden_401`]): the public SMART configuration, a small document.
const HIDDEN_401_PROBE_MS: u32 = 10_000;

pub struct FhirClient<P: Platform + 'static> {
    inner: Rc<Inner<P>>,
}

/// The FHIR base only: the session's tokens never reach a `Debug` output.
impl<P: Platform + 'static> std::fmt::Debug for FhirClient<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirClient")
            .field("base", &self.inner.base.as_str())
            .field("ended", &self.is_ended())
            .finish_non_exhaustive()
    }
}

impl<P: Platform + 'static> Clone for FhirClient<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// Pages of one search at the most; a server that pages forever is cut off.
pub const MAX_PAGES: usize = 200;

/// The first page of a search ([`FhirClient::search_first`]).
#[derive(Debug)]
pub struct FirstPage {
    pub resources: Vec<Value>,
    pub total: Option<u64>,
    /// The server has more matches than this page.
    pub more: bool,
}

/// A searchset's matches of `resource_type` (taken out of the Bundle) and its `total`. Searches
/// may include OperationOutcomes (`search.mode = outcome`) and included resources: only matches
/// are kept.
fn matches(
    bundle: &mut Value,
    resource_type: &str,
) -> Result<(Vec<Value>, Option<u64>), FhirError> {
    if bundle["resourceType"] != "Bundle" {
        return Err(FhirError::Malformed(
            "a search did not return a Bundle".into(),
        ));
    }
    let total = bundle["total"].as_u64();
    let resources = match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(entries)) => entries
            .into_iter()
            .filter_map(|mut e| e.get_mut("resource").map(Value::take))
            .filter(|r| r["resourceType"] == resource_type)
            .collect(),
        _ => Vec::new(),
    };
    Ok((resources, total))
}

/// How a GET with the token asks: its `Accept`, its priority, and whether the answer is bytes.
struct Want<'a> {
    accept: &'a str,
    priority: Priority,
    binary: bool,
}

impl<P: Platform + 'static> FhirClient<P> {
    /// A client for a session already confirmed (resumed from storage); `None` when the
    /// session's FHIR base is not a usable URL.
    pub fn new(platform: Rc<P>, session: Session) -> Option<Self> {
        let client = Self::unconfirmed(platform, session)?;
        client.inner.confirmed.set(true);
        Some(client)
    }

    /// A client for a new session whose id_token check is still running: it may read (the
    /// chart's first reads go out meanwhile) and refresh, but stores nothing until
    /// [`FhirClient::confirm`].
    pub fn unconfirmed(platform: Rc<P>, session: Session) -> Option<Self> {
        let base = FhirBase::new(&session.fhir_base)?;
        Some(Self {
            inner: Rc::new(Inner {
                platform,
                base,
                session: RefCell::new(session),
                refreshing: RefCell::new(None),
                ended: Cell::new(false),
                generation: Cell::new(0),
                confirmed: Cell::new(false),
            }),
        })
    }

    pub fn base(&self) -> &FhirBase {
        &self.inner.base
    }

    pub fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(&self.inner.session.borrow())
    }

    /// The id_token check has passed (`flow::verify`): the session gets its user and is
    /// mirrored to this tab's storage (for a reload), not before.
    pub fn confirm(&self, fhir_user: Option<String>) -> Result<(), StorageError> {
        let mut s = self.inner.session.borrow_mut();
        s.fhir_user = fhir_user;
        self.inner.confirmed.set(true);
        store::save_session(&*self.inner.platform, &s)
    }

    /// Ends the session now (e.g. its id_token check failed): tokens dropped, nothing more sent.
    pub fn end(&self) {
        self.inner.end();
    }

    /// Sign-out: the session ends at once (nothing more is sent with its tokens), and the
    /// returned future asks the server to revoke them (RFC 7009), the refresh token first —
    /// revoking it ends the grant and its access tokens — then the access token. Best effort:
    /// the answers change nothing here (the tokens are gone from the app either way), and a
    /// server that advertised no revocation endpoint gets no request.
    pub fn revoke(&self) -> LocalBoxFuture<'static, ()> {
        let requests: Vec<HttpRequest> = self.with_session(|s| {
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
        if self.with_session(|s| s.refresh_due(now_ms) && s.can_refresh()) {
            if let Err(e) = self.refresh().await {
                if !e.is_transient() {
                    return Err(e);
                }
            }
        }
        Ok(!self.is_ended())
    }

    /// Whether the session has ended (see the module documentation).
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

    /// Sends with the current token; also returns which token that was, so a 401 can tell
    /// whether a refresh already happened while the request was in flight.
    async fn send_with_token(
        &self,
        url: &str,
        want: &Want<'_>,
    ) -> Result<(HttpResponse, u64), FhirError> {
        let mut req = HttpRequest::get(url, want.accept);
        req.priority = want.priority;
        req.binary = want.binary;
        let bearer = self.with_session(|s| format!("Bearer {}", s.access_token.expose()));
        let generation = self.inner.generation.get();
        req.headers.push(("Authorization", bearer));
        let res = self.inner.platform.send(req).await?;
        // A request in flight when the session ended answers as every other caller does.
        if self.is_ended() {
            return Err(FhirError::SessionExpired);
        }
        Ok((res, generation))
    }

    /// Ends the session and says so.
    fn expired(&self) -> FhirError {
        self.inner.end();
        FhirError::SessionExpired
    }

    /// GET a FHIR URL with the token: only under the base (SECURITY.md).
    pub async fn get(&self, url: &str) -> Result<Value, FhirError> {
        self.get_with(url, Priority::Normal).await
    }

    async fn get_with(&self, url: &str, priority: Priority) -> Result<Value, FhirError> {
        let want = Want {
            accept: "application/fhir+json",
            priority,
            binary: false,
        };
        process_response(&self.authorized(url, &want).await?)
    }

    /// An attachment's content (a PDF, an image, a document) with the token: only under the
    /// base, like every request that carries it (SECURITY.md). Asked for in its own type, a
    /// Binary comes back as it is; a server may answer with the Binary resource instead, its
    /// `data` in base64 (FHIR R4 §Binary, "Serving Binary Resources using the RESTful API"):
    /// both are read.
    pub async fn get_bytes(&self, url: &str, content_type: &str) -> Result<Fetched, FhirError> {
        let accept = format!("{content_type}, application/fhir+json;q=0.5");
        let want = Want {
            accept: &accept,
            priority: Priority::Normal,
            binary: true,
        };
        process_bytes(self.authorized(url, &want).await?)
    }

    /// The answer to a GET with the token, after a refresh ahead of expiry and one refresh and
    /// retry on a 401; any other status is the caller's to read.
    async fn authorized(&self, url: &str, want: &Want<'_>) -> Result<HttpResponse, FhirError> {
        let Some(checked) = self.inner.base.checked(url) else {
            return Err(FhirError::OffBase(url.to_string()));
        };
        let url = checked.as_str();
        if self.is_ended() {
            return Err(FhirError::SessionExpired);
        }
        let now = self.inner.platform.now_ms();
        let (due, expired, can) =
            self.with_session(|s| (s.refresh_due(now), s.is_expired(now), s.can_refresh()));
        if due && can {
            if let Err(e) = self.refresh().await {
                if !e.is_transient() {
                    return Err(self.expired());
                }
                if expired {
                    // No usable token now, but the session may recover: not its end.
                    return Err(e.for_fhir());
                }
            }
        } else if expired {
            return Err(self.expired());
        }
        let sent_with = self.inner.generation.get();
        match self.send_with_token(url, want).await {
            Ok((res, _)) if res.status != 401 => return Ok(res),
            Ok(_) => {}
            Err(FhirError::Network(NetError::Unreachable(what))) => {
                if !self.may_be_a_hidden_401().await {
                    return Err(FhirError::Network(NetError::Unreachable(what)));
                }
            }
            Err(e) => return Err(e),
        }
        // One refresh and one retry after a 401 (unless another caller's refresh already
        // replaced the token this request carried), then the session is over.
        if self.inner.generation.get() == sent_with {
            if !self.with_session(Session::can_refresh) {
                return Err(self.expired());
            }
            if let Err(e) = self.refresh().await {
                return Err(e.for_fhir());
            }
        }
        if self.is_ended() {
            return Err(FhirError::SessionExpired);
        }
        let (res, _) = self.send_with_token(url, want).await?;
        if res.status == 401 {
            return Err(self.expired());
        }
        Ok(res)
    }

    /// Whether a request with the token that the browser reported as a network failure may
    /// have been a 401 whose answer carried no CORS headers (Oracle Health's FHIR servers do
    /// this: smart-on-fhir/client-js#83, #97): the session can be refreshed, and the server
    /// still answers a request without the token, its SMART configuration (public, and
    /// CORS-enabled for browser apps, SMART App Launch 2.2 §"Retrieve .well-known"). When the
    /// server does not answer that either, it is down or out of reach, and no refresh is tried.
    async fn may_be_a_hidden_401(&self) -> bool {
        if !self.with_session(Session::can_refresh) {
            return false;
        }
        let url = crate::smart::discovery::well_known_url(self.inner.base.as_str());
        let probe = HttpRequest::get(url, "application/json").within(HIDDEN_401_PROBE_MS);
        self.inner.platform.send(probe).await.is_ok()
    }

    pub async fn read(&self, resource_type: &str, id: &str) -> Result<Value, FhirError> {
        let url = self.inner.base.read_url(resource_type, id);
        let v = self.get(&url).await?;
        if v["resourceType"] != resource_type {
            return Err(FhirError::Malformed(format!("expected a {resource_type}")));
        }
        Ok(v)
    }

    /// Searches and follows `next` links to the end, handing each page's matching resources to
    /// `on_page(resources, loaded so far, Bundle.total)` as it arrives, so large histories are
    /// processed page by page and never held whole. Sent at low priority: a read that starts
    /// with them (the patient's, for the banner) goes first.
    pub async fn search_pages(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
        mut on_page: impl FnMut(Vec<Value>, usize, Option<u64>),
    ) -> Result<usize, FhirError> {
        let first = self.inner.base.search_url(resource_type, params);
        let mut pager = Pager::new(&first, MAX_PAGES);
        let mut url = first;
        let mut loaded = 0;
        loop {
            let mut bundle = self.get_with(&url, Priority::Low).await?;
            let (resources, total) = matches(&mut bundle, resource_type)?;
            loaded += resources.len();
            on_page(resources, loaded, total);
            match pager.next(&self.inner.base, &bundle)? {
                Some(n) => url = n,
                None => return Ok(loaded),
            }
        }
    }

    /// The first page of a search only (a person choosing from results narrows the search
    /// rather than reading thousands): its matches, `Bundle.total`, and whether more follow.
    pub async fn search_first(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
    ) -> Result<FirstPage, FhirError> {
        let url = self.inner.base.search_url(resource_type, params);
        let mut bundle = self.get(&url).await?;
        let (resources, total) = matches(&mut bundle, resource_type)?;
        let more = bundle["link"].as_array().is_some_and(|links| {
            links
                .iter()
                .any(|l| l["relation"] == "next" && l["url"].is_string())
        }) || total.is_some_and(|t| t > resources.len() as u64);
        Ok(FirstPage {
            resources,
            total,
            more,
        })
    }

    /// Searches to the end and returns every match; `progress(loaded, total)` after each page.
    pub async fn search_all(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
        mut progress: impl FnMut(usize, Option<u64>),
    ) -> Result<Vec<Value>, FhirError> {
        let mut out = Vec::new();
        self.search_pages(resource_type, params, |page, loaded, total| {
            out.extend(page);
            progress(loaded, total);
        })
        .await?;
        Ok(out)
    }
}
