//! The authorized FHIR client (SMART App Launch 2.2 §"Access FHIR API"). It exists only for a
//! running session ([`LiveSession`], made of a checked token response and owned by
//! `smart::session`), sends the Bearer token only under the FHIR base, asks the session to
//! refresh ahead of expiry and once after a 401, and never refreshes on a 403. The first
//! definitive 401 (after that refresh, or with no refresh token) or refused refresh ends the
//! session once for every caller: requests in flight answer the same, and nothing is sent with
//! the token again (SECURITY.md, "Tokens").

use std::rc::Rc;

use serde_json::Value;

use crate::fhir::base::{FhirBase, Pager};
use crate::fhir::response::{process_bytes, process_response, Fetched, FhirError};
use crate::platform::{HttpRequest, HttpResponse, NetError, Platform, Priority};
use crate::smart::session::{LiveSession, RefreshError, Session};
use crate::smart::token::TokenError;

/// What a FHIR caller is told when the refresh it needed failed: a passing network or server
/// trouble as such (the session stays), anything else as the session's end.
fn refresh_failure(e: RefreshError) -> FhirError {
    match e {
        RefreshError::Token(TokenError::Network(n)) => FhirError::Network(n),
        RefreshError::Token(TokenError::Server(status)) => FhirError::Server {
            status,
            outcome: None,
        },
        _ => FhirError::SessionExpired,
    }
}

/// How long the check for a 401 hidden by missing CORS headers may take
/// ([`FhirClient::may_be_a_hidden_401`]): the public SMART configuration, a small document.
const HIDDEN_401_PROBE_MS: u32 = 10_000;

pub struct FhirClient<P: Platform + 'static> {
    session: LiveSession<P>,
    base: Rc<FhirBase>,
}

/// The FHIR base only: the session's tokens never reach a `Debug` output.
impl<P: Platform + 'static> std::fmt::Debug for FhirClient<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirClient")
            .field("base", &self.base.as_str())
            .field("ended", &self.is_ended())
            .finish_non_exhaustive()
    }
}

impl<P: Platform + 'static> Clone for FhirClient<P> {
    fn clone(&self) -> Self {
        Self {
            session: self.session.clone(),
            base: self.base.clone(),
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

/// A read's answer, when it is the resource asked for.
fn of_type(v: Value, resource_type: &str) -> Result<Value, FhirError> {
    if v.get("resourceType").and_then(Value::as_str) != Some(resource_type) {
        return Err(FhirError::Malformed(format!("expected a {resource_type}")));
    }
    Ok(v)
}

/// How a GET with the token asks: its `Accept`, its priority, and whether the answer is bytes.
struct Want<'a> {
    accept: &'a str,
    priority: Priority,
    binary: bool,
}

impl<P: Platform + 'static> FhirClient<P> {
    /// A client for `session`; `None` when the session's FHIR base is not a usable URL. Made by
    /// `smart::session` (`open_new`, `resume`), which owns the session's life.
    pub fn new(session: LiveSession<P>) -> Option<Self> {
        let base = session.with(|s| FhirBase::new(&s.fhir_base))?;
        Some(Self {
            session,
            base: Rc::new(base),
        })
    }

    pub fn base(&self) -> &FhirBase {
        &self.base
    }

    /// The running session this client sends requests for.
    pub fn session(&self) -> &LiveSession<P> {
        &self.session
    }

    pub fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        self.session.with(f)
    }

    /// Whether the session has ended (see the module documentation).
    pub fn is_ended(&self) -> bool {
        self.session.is_ended()
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
        let (bearer, generation) = self.session.bearer();
        req.headers.push(("Authorization", bearer));
        let res = self.session.platform().send(req).await?;
        // A request in flight when the session ended answers as every other caller does.
        if self.is_ended() {
            return Err(FhirError::SessionExpired);
        }
        Ok((res, generation))
    }

    /// Ends the session and says so.
    fn expired(&self) -> FhirError {
        self.session.end();
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
        let Some(checked) = self.base.checked(url) else {
            return Err(FhirError::OffBase(url.to_string()));
        };
        let url = checked.as_str();
        if self.is_ended() {
            return Err(FhirError::SessionExpired);
        }
        let now = self.session.platform().now_ms();
        let (due, expired, can) =
            self.with_session(|s| (s.refresh_due(now), s.is_expired(now), s.can_refresh()));
        if due && can {
            if let Err(e) = self.session.refresh().await {
                if !e.is_transient() {
                    return Err(self.expired());
                }
                if expired {
                    // No usable token now, but the session may recover: not its end.
                    return Err(refresh_failure(e));
                }
            }
        } else if expired {
            return Err(self.expired());
        }
        let sent_with = self.session.generation();
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
        if self.session.generation() == sent_with {
            if !self.with_session(Session::can_refresh) {
                return Err(self.expired());
            }
            if let Err(e) = self.session.refresh().await {
                return Err(refresh_failure(e));
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
        let url = crate::smart::discovery::well_known_url(self.base.as_str());
        let probe = HttpRequest::get(url, "application/json").within(HIDDEN_401_PROBE_MS);
        self.session.platform().send(probe).await.is_ok()
    }

    pub async fn read(&self, resource_type: &str, id: &str) -> Result<Value, FhirError> {
        let url = self.base.read_url(resource_type, id);
        of_type(self.get(&url).await?, resource_type)
    }

    /// One read with the token as it is, neither refreshed nor ended from here whatever the
    /// answer: the launch module's read of the launch patient (`smart::session::
    /// exchange_for_chart`), made while the chart loads with its own copy of the session, which
    /// stays the only one that refreshes. `Ok(None)` when the answer may want a refresh (a 401,
    /// or a network failure that may be a 401 without CORS headers): the chart reads again.
    pub(crate) async fn read_once(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<Value>, FhirError> {
        let url = self.base.read_url(resource_type, id);
        let want = Want {
            accept: "application/fhir+json",
            priority: Priority::Normal,
            binary: false,
        };
        match self.send_with_token(&url, &want).await {
            Ok((res, _)) if res.status != 401 => {
                of_type(process_response(&res)?, resource_type).map(Some)
            }
            Ok(_) | Err(FhirError::Network(NetError::Unreachable(_))) => Ok(None),
            Err(e) => Err(e),
        }
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
        let first = self.base.search_url(resource_type, params);
        let mut pager = Pager::new(&first, MAX_PAGES);
        let mut url = first;
        let mut loaded = 0;
        loop {
            let mut bundle = self.get_with(&url, Priority::Low).await?;
            let (resources, total) = matches(&mut bundle, resource_type)?;
            loaded += resources.len();
            on_page(resources, loaded, total);
            match pager.next(&self.base, &bundle)? {
                Some(n) => url = n,
                None => return Ok(loaded),
            }
        }
    }

    /// The first page of a search only (a person choosing from results narrows the search
    /// rather than reading thousands): its matches, `Bundle.total`, and whether more follow.
    #[allow(
        clippy::indexing_slicing,
        reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
    )]
    pub async fn search_first(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
    ) -> Result<FirstPage, FhirError> {
        let url = self.base.search_url(resource_type, params);
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
