//! The session's life, from the callback to sign-out, and its one owner (SMART App Launch 2.2
//! §"Obtain access token", §"Refresh access token"; OpenID Connect Core §3.1.3.7; RFC 7009):
//!
//! 1. [`start_sign_in`]: the pending sign-in that `flow::begin` sends to the authorize endpoint,
//!    kept for its callback;
//! 2. [`exchange_for_chart`] (the launch module's part of the callback): [`exchange`]
//!    (callback → token exchange, the JWKS with it → a [`Session`] not yet trusted), then a
//!    client for it ([`open_new`]) so that the patient's read leaves while [`confirm`] makes the
//!    id_token check; the session is stored (for a reload) only once the check has passed, and
//!    ended at once when it fails; the confirmed session handed on to the chart;
//! 3. [`adopt`] (the chart's part): a client for the confirmed session; [`resume`]: the same
//!    for this tab's stored session after a reload;
//! 4. [`LiveSession`]: the tokens in memory, refresh (ahead of expiry, after a 401, one request
//!    in flight), the end;
//! 5. [`end_session`] and [`sign_out`]: revocation (RFC 7009) and this tab's entries forgotten.
//!
//! Storage is touched only here (`store`, private): the launch module and the UI ask these
//! functions and never read storage. The tests drive this same sequence (`flow_tests.rs`, [`complete`]).

mod live;
mod record;
mod store;

pub use live::{LiveSession, RefreshError, RefreshFuture};
pub use record::{RefreshMismatch, Session, ENDING_NOTICE_MS};
pub use store::{clear_selected_patient, select_patient, selected_patient};

use std::rc::Rc;

use futures::future::LocalBoxFuture;

use serde_json::Value;

use crate::fhir::FhirClient;
use crate::platform::{HttpRequest, HttpResponse, NetError, Platform};
use crate::smart::authorize::{LaunchKind, PendingAuthorization};
use crate::smart::callback;
use crate::smart::flow::LaunchError;
use crate::smart::handoff::{FirstRead, Handoff};
use crate::smart::id_token::{self, IdTokenError};
use crate::smart::launch::CallbackParams;
use crate::smart::secret::IdToken;
use crate::smart::token::{self, TokenError};

/// Keeps the sign-in that is about to leave for the authorize endpoint: this tab is named first
/// (given a random name if it has none), so the session it ends in is this tab's; abandoned
/// sign-ins are dropped on the way.
pub fn start_sign_in<P: Platform>(
    p: &P,
    pending: &mut PendingAuthorization,
) -> Result<(), LaunchError> {
    pending.tab_name = store::assign_tab(p)?;
    let now = p.now_ms();
    store::drop_pending_where(p, |old| old.is_expired(now));
    Ok(store::save_pending(p, pending)?)
}

/// The launch kind and EHR id of the pending sign-in named by `state`, without taking it: lets
/// the UI word an error for an EHR or a standalone launch, and offer to sign in again there.
pub fn pending_origin<P: Platform>(p: &P, state: Option<&str>) -> Option<(LaunchKind, String)> {
    store::peek_pending(p, state?).map(|pending| (pending.kind, pending.ehr_id))
}

/// A visit refused before it could be classified (a malformed query, e.g. a repeated `code` or
/// `state`): every pending sign-in that one of its `state` values names is dropped, so a refused
/// callback leaves no verifier behind (SECURITY.md, "Authorize and callback").
pub fn refuse_visit<P: Platform>(p: &P, query: &str) {
    for (k, state) in crate::http_url::form_decode(query.trim_start_matches('?')) {
        if k == "state" {
            store::drop_pending(p, &state);
        }
    }
}

/// What the id_token check of an exchange needs. The app may start its first FHIR reads with
/// the exchange's session while [`verify`] runs (fewer steps in a row), but shows nothing and
/// stores nothing until the check has passed.
pub struct IdCheck {
    pending: PendingAuthorization,
    id_token: Option<IdToken>,
    /// The server's keys, fetched together with the token request: a public document, so
    /// nothing waits for it after the token has come back.
    jwks: Option<Result<HttpResponse, NetError>>,
}

/// Callback → token exchange (and the JWKS, at the same time): the session without its user
/// (`fhirUser` comes from the checked id_token), not stored, and the check still to make. The
/// caller has already removed `code` and `state` from the address bar, so a reload cannot
/// exchange the code twice; the pending sign-in is taken out of storage whatever the outcome.
pub async fn exchange<P: Platform>(
    p: &P,
    params: CallbackParams,
) -> Result<(Session, IdCheck), LaunchError> {
    let pending = params
        .state
        .as_deref()
        .and_then(|state| store::take_pending(p, state));
    let valid = callback::validate(params, pending, p.now_ms())?;
    store::restore_tab(p, &valid.pending.tab_name);
    // The JWKS request goes out with the token request (one step less before the user's name). It
    // carries nothing of the launch, and its URL was pinned to the issuer at discovery.
    let jwks = async {
        let uri = valid.pending.smart.jwks_uri.as_ref()?;
        let uri = match crate::http_url::HttpUrl::parse(uri) {
            Ok(u) if valid.pending.jwks_client_id => u
                .with_query_pair("client_id", &valid.pending.client_id)
                .to_string(),
            _ => uri.clone(),
        };
        Some(p.send(HttpRequest::get(uri, "application/json")).await)
    };
    let (res, jwks) = futures::join!(p.send(token::exchange_request(&valid)), jwks);
    let tokens = token::process_token_response(&res.map_err(TokenError::from)?)?;
    // The session keeps the id_token too; the check reads its own copy.
    let id_token = tokens.id_token.as_ref().map(|t| IdToken::new(t.expose()));
    let session = Session::new(&valid.pending, tokens, None, p.now_ms());
    let check = IdCheck {
        pending: valid.pending,
        id_token,
        jwks,
    };
    Ok((session, check))
}

/// The id_token check: the user's `fhirUser` once claims and signature hold. A server that
/// publishes no keys cannot vouch for the user: the launch goes on without showing one. A token
/// that is wrong (claims, key, signature) stops the launch.
pub async fn verify<P: Platform>(p: &P, check: &IdCheck) -> Result<Option<String>, LaunchError> {
    match &check.id_token {
        Some(t) => match check_id_token(p, &check.pending, t, check.jwks.as_ref()).await {
            Ok(user) => Ok(user),
            Err(IdTokenError::Unverifiable(_)) => Ok(None),
            Err(e) => Err(e.into()),
        },
        None => Ok(None),
    }
}

/// The end of a launch, once the exchange has given a session: the id_token check, then the
/// session confirmed (stored for a reload, with its user); or, when the check fails, the
/// session ended at once (the reads already sent stop there) and this tab's sign-ins
/// forgotten. The launch module runs this while the patient's read is on its way
/// ([`exchange_for_chart`]).
pub async fn confirm<P: Platform + 'static>(
    p: &P,
    client: &FhirClient<P>,
    check: &IdCheck,
) -> Result<Option<String>, LaunchError> {
    let checked = match verify(p, check).await {
        Ok(user) => client
            .session()
            .confirm(user.clone())
            .map(|()| user)
            .map_err(LaunchError::from),
        Err(e) => Err(e),
    };
    if checked.is_err() {
        client.session().end();
        sign_out(p);
    }
    checked
}

/// The callback as the launch module runs it: [`exchange`], then the read of the launch's
/// patient, handed to `start_read` to run on its own (it goes out before the id_token check
/// has passed, made once with [`FhirClient`]'s `read_once`, and reaches the chart only if the
/// check passes), while [`confirm`] makes the check and stores the session for a reload. What
/// is returned is the [`Handoff`] for the chart. `origin` is the pending sign-in's launch kind
/// and EHR, for the words of a failure; `progress` is told `token-answered` and
/// `id-token-checked` as they happen (the benchmark's performance marks).
pub async fn exchange_for_chart<P: Platform + 'static>(
    p: Rc<P>,
    params: CallbackParams,
    origin: Option<(LaunchKind, String)>,
    progress: impl Fn(&'static str),
    start_read: impl FnOnce(LocalBoxFuture<'static, FirstRead>),
) -> Handoff {
    let (session, check) = match exchange(&*p, params).await {
        Ok(exchanged) => exchanged,
        Err(error) => return Handoff::CallbackFailed { origin, error },
    };
    progress("token-answered");
    let patient_id = session.context.patient.clone();
    let client = match open_new(p.clone(), session) {
        Ok(client) => client,
        Err(error) => return Handoff::CallbackFailed { origin, error },
    };
    if let Some(id) = patient_id {
        let reader = client.clone();
        start_read(Box::pin(async move {
            match reader.read_once("Patient", &id).await {
                Ok(Some(patient)) => FirstRead::Read(patient),
                Ok(None) => FirstRead::Again,
                Err(e) => FirstRead::Failed(e),
            }
        }));
    }
    let confirmed = confirm(&*p, &client, &check).await;
    progress("id-token-checked");
    if let Err(error) = confirmed {
        // The session has already ended there: the read's answer is not handed on.
        return Handoff::CallbackFailed { origin, error };
    }
    // Nothing here refreshes: the session is as the exchange gave it.
    match client.with_session(|s| Session::from_json(&s.to_json())) {
        Some(session) => Handoff::Exchanged {
            session: Box::new(session),
        },
        None => Handoff::CallbackFailed {
            origin,
            error: LaunchError::Handoff,
        },
    }
}

/// The chart's side of the handoff: a client for the session the launch module confirmed
/// (its id_token check passed, stored for a reload). A session whose FHIR base is not a usable
/// URL is refused and forgotten.
pub fn adopt<P: Platform + 'static>(
    p: Rc<P>,
    session: Session,
) -> Result<FhirClient<P>, LaunchError> {
    client(p, session, LiveSession::confirmed)
}

/// The callback from start to end, as the app runs it but without the chart's view:
/// [`exchange_for_chart`] (run by the launch module), the [`Handoff`] to the chart as text, and
/// the chart's [`adopt`].
pub async fn complete<P: Platform + 'static>(
    p: &Rc<P>,
    params: CallbackParams,
) -> Result<FhirClient<P>, LaunchError> {
    // The patient's read is the chart's to take: not part of the protocol this drives.
    let handoff = exchange_for_chart(p.clone(), params, None, |_| {}, drop)
        .await
        .to_json();
    match Handoff::from_json(&handoff) {
        Some(Handoff::Exchanged { session }) => adopt(p.clone(), *session),
        Some(Handoff::CallbackFailed { error, .. }) => Err(error),
        _ => Err(LaunchError::Handoff),
    }
}

/// Decodes and checks the id_token; returns the user's `fhirUser` once the signature holds.
async fn check_id_token<P: Platform>(
    p: &P,
    pending: &PendingAuthorization,
    token: &IdToken,
    jwks: Option<&Result<HttpResponse, NetError>>,
) -> Result<Option<String>, IdTokenError> {
    let decoded = id_token::decode(token)?;
    id_token::check_claims(
        &decoded,
        pending.expected_id_token_issuer(),
        &pending.client_id,
        p.now_ms() / 1000,
    )?;
    let Some(res) = jwks else {
        return Err(IdTokenError::Unverifiable(
            "the server publishes no jwks_uri".into(),
        ));
    };
    let res = res
        .as_ref()
        .map_err(|e| IdTokenError::Unverifiable(e.to_string()))?;
    if res.status != 200 {
        return Err(IdTokenError::Unverifiable(format!(
            "the JWKS answered HTTP {}",
            res.status
        )));
    }
    let jwks: Value = serde_json::from_str(&res.body)
        .map_err(|_| IdTokenError::Unverifiable("the JWKS is not JSON".into()))?;
    // One key when the token names it; without a `kid`, each RSA key until one verifies. A key
    // the browser cannot use is passed over; when no key could be used at all, the token
    // cannot be checked (the launch goes on without a user), which is not a bad signature.
    let mut unusable = None;
    let mut refused = false;
    for key in id_token::candidate_keys(&jwks, decoded.kid.as_deref())? {
        match p
            .verify_rs256(key, decoded.signing_input.as_bytes(), &decoded.signature)
            .await
        {
            Ok(true) => return Ok(decoded.fhir_user().map(str::to_string)),
            Ok(false) => refused = true,
            Err(e) => unusable = Some(e),
        }
    }
    match unusable {
        Some(e) if !refused => Err(IdTokenError::Unverifiable(e.to_string())),
        _ => Err(IdTokenError::BadSignature),
    }
}

/// A client for a new session whose id_token check is still running ([`confirm`]): it may read
/// (the chart's first reads go out meanwhile) and refresh, but nothing is stored until the
/// check has passed. A session whose FHIR base is not a usable URL is refused.
pub fn open_new<P: Platform + 'static>(
    p: Rc<P>,
    session: Session,
) -> Result<FhirClient<P>, LaunchError> {
    client(p, session, LiveSession::unconfirmed)
}

/// A client for `session` held as `live` holds it; a FHIR base that is not a usable URL ends
/// the session here.
fn client<P: Platform + 'static>(
    p: Rc<P>,
    session: Session,
    live: fn(Rc<P>, Session) -> LiveSession<P>,
) -> Result<FhirClient<P>, LaunchError> {
    let base = session.fhir_base.clone();
    FhirClient::new(live(p.clone(), session)).ok_or_else(|| {
        sign_out(&*p);
        LaunchError::BadFhirBase(base)
    })
}

/// The session this tab already has (a reload), if it can still be used, with its client; a
/// stored session the client cannot use is forgotten.
pub fn resume<P: Platform + 'static>(p: Rc<P>) -> Option<Result<FhirClient<P>, LaunchError>> {
    let session = store::load_session(&*p)?;
    Some(adopt(p, session))
}

/// Whether this tab still has a stored session.
pub fn is_stored<P: Platform>(p: &P) -> bool {
    store::has_session(p)
}

/// Sign-out of a running session: its tokens end at once (nothing more is sent with them) and are
/// forgotten with this tab's sign-ins; the returned future asks the server to revoke them
/// (RFC 7009, [`LiveSession`]).
pub fn end_session<P: Platform + 'static>(
    p: &P,
    client: &FhirClient<P>,
) -> futures::future::LocalBoxFuture<'static, ()> {
    let revoking = client.session().revoke();
    sign_out(p);
    revoking
}

/// Sign-out: forget this tab's session and the sign-ins it started (and any abandoned ones).
/// Other tabs that share this storage (Epic Hyperspace) keep theirs.
pub fn sign_out<P: Platform>(p: &P) {
    store::forget_session(p);
    let tab = p.tab_name();
    let now = p.now_ms();
    store::drop_pending_where(p, |pending| {
        pending.tab_name == tab || pending.tab_name.is_empty() || pending.is_expired(now)
    });
}

/// For tests: the session this tab has stored, if any.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn stored<P: Platform>(p: &P) -> Option<Session> {
    store::load_session(p)
}

/// For tests: a client for `session` as after a reload (stored in this tab, then resumed).
#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::expect_used)]
pub(crate) fn stored_client<P: Platform + 'static>(p: Rc<P>, session: Session) -> FhirClient<P> {
    store::save_session(&*p, &session).expect("the scripted storage keeps it");
    resume(p).expect("just stored").expect("a usable FHIR base")
}
