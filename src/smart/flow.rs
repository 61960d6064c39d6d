//! The launch sequence over a [`Platform`], step by step as SMART App Launch 2.2 names them:
//! [`begin`] (launch parameters → discovery → authorize redirect) and [`complete`] (callback →
//! token exchange → id_token check → session). Pure logic over the platform trait, so the whole
//! flow is tested natively against a scripted server.

use std::rc::Rc;

use serde_json::Value;

use crate::fhir::FhirClient;
use crate::platform::{CryptoError, HttpRequest, HttpResponse, NetError, Platform, StorageError};
use crate::smart::authorize::{authorize, Entropy, PendingAuthorization, PENDING_PREFIX};
use crate::smart::callback::{self, CallbackError};
use crate::smart::config::{EhrConfig, Ehrs, Issuer};
use crate::smart::discovery::{self, DiscoveryError, SmartConfiguration};
use crate::smart::id_token::{self, IdTokenError};
use crate::smart::launch::CallbackParams;
use crate::smart::secret::IdToken;
use crate::smart::session::Session;
use crate::smart::store;
use crate::smart::token::{self, TokenError};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// Refused before any network request (SECURITY.md, "Launch").
    #[error("{0} is not an EHR this app is configured for")]
    UnknownIssuer(String),
    #[error("no EHR with id {0:?} is configured")]
    UnknownEhr(String),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    /// The session's FHIR base is not a URL the client can use (the configuration is wrong).
    #[error("the FHIR base {0} is not a usable URL")]
    BadFhirBase(String),
}

/// Discovery: `.well-known/smart-configuration`, then `metadata` when the first said "not
/// here" ([`discovery::is_not_here`]), both within one deadline
/// ([`discovery::DISCOVERY_DEADLINE_MS`]). A server whose SMART document refuses S256, or is
/// otherwise bad, is not given a second chance through `metadata` (that would drop the PKCE
/// check or the endpoint pinning); a server that did not answer in time is not asked again.
pub async fn discover<P: Platform>(
    p: &P,
    iss: &Issuer,
    ehr: &EhrConfig,
) -> Result<SmartConfiguration, DiscoveryError> {
    let started = p.now_ms();
    let well_known = match p.send(discovery::well_known_request(iss)).await {
        Ok(res) => discovery::process_well_known(iss, ehr, &res),
        Err(e) => Err(e.into()),
    };
    let first = match well_known {
        Ok(c) => return Ok(c),
        Err(e) if discovery::is_not_here(&e) => e,
        Err(e) => return Err(e),
    };
    let spent = p.now_ms().saturating_sub(started);
    let remaining = u64::from(discovery::DISCOVERY_DEADLINE_MS).saturating_sub(spent);
    let metadata = if remaining == 0 {
        Err(NetError::Timeout(iss.url().origin()).into())
    } else {
        let req = discovery::metadata_request(iss, remaining as u32);
        match p.send(req).await {
            Ok(res) => discovery::process_metadata(iss, ehr, &res),
            Err(e) => Err(e.into()),
        }
    };
    metadata.map_err(|second| match second {
        // The server that did not answer is what the user needs to hear of.
        DiscoveryError::Network(NetError::Timeout(_)) => second,
        _ => DiscoveryError::Both {
            well_known: Box::new(first),
            metadata: Box::new(second),
        },
    })
}

fn entropy<P: Platform>(p: &P) -> Result<Entropy, CryptoError> {
    let mut e = Entropy {
        state: [0; 32],
        verifier: [0; 32],
    };
    p.random(&mut e.state)?;
    p.random(&mut e.verifier)?;
    if e.state == [0; 32] || e.state == e.verifier {
        return Err(CryptoError(
            "the random source returned no randomness".into(),
        ));
    }
    Ok(e)
}

/// Drops pending requests that expired or cannot be read (abandoned sign-ins).
fn sweep_pending<P: Platform>(p: &P, now_ms: u64) {
    for key in p
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(PENDING_PREFIX))
    {
        let stale = p
            .load(&key)
            .and_then(|v| PendingAuthorization::from_json_text(&v))
            .is_none_or(|pending| pending.is_expired(now_ms));
        if stale {
            p.remove(&key);
        }
    }
}

/// Where a launch starts: the EHR's `iss` (EHR launch, or standalone at a named server) or
/// the id of the EHR the user picked.
pub enum Target<'a> {
    Issuer(&'a str),
    Ehr(&'a str),
}

/// Launch → discovery → authorize: returns the URL to send the browser to.
/// `redirect_uri` is this page's address without its query.
pub async fn begin<P: Platform>(
    p: &P,
    ehrs: &Ehrs,
    target: Target<'_>,
    launch: Option<&str>,
    redirect_uri: &str,
) -> Result<String, LaunchError> {
    let (issuer, ehr) = match target {
        Target::Issuer(iss) => ehrs
            .for_issuer(iss)
            .ok_or_else(|| LaunchError::UnknownIssuer(iss.to_string()))?,
        Target::Ehr(id) => ehrs
            .by_id(id)
            .ok_or_else(|| LaunchError::UnknownEhr(id.to_string()))?,
    };
    // Refused here, before the authorize redirect, if an endpoint lies off the EHR's origins.
    let smart = discover(p, issuer, ehr).await?;
    let entropy = entropy(p)?;
    let tab_name = store::assign_tab(p)?;
    let now = p.now_ms();
    sweep_pending(p, now);
    let mut req = authorize(ehr, issuer, &smart, launch, redirect_uri, &entropy, now);
    req.pending.tab_name = tab_name;
    p.save(
        &PendingAuthorization::storage_key(&req.pending.state),
        &req.pending.to_json_text(),
    )?;
    Ok(req.url)
}

/// The launch kind and EHR id of the pending request named by `state`, without taking it: lets
/// the UI word an error for an EHR or a standalone launch, and offer to sign in again there.
pub fn pending_origin<P: Platform>(
    p: &P,
    state: Option<&str>,
) -> Option<(crate::smart::authorize::LaunchKind, String)> {
    let stored = p.load(&PendingAuthorization::storage_key(state?))?;
    PendingAuthorization::from_json_text(&stored).map(|pending| (pending.kind, pending.ehr_id))
}

/// Takes (reads and deletes) the pending request named by `state`: single use.
fn take_pending<P: Platform>(p: &P, state: Option<&str>) -> Option<PendingAuthorization> {
    let key = PendingAuthorization::storage_key(state?);
    let stored = p.load(&key);
    p.remove(&key);
    PendingAuthorization::from_json_text(&stored?)
}

/// A visit refused before it could be classified (a malformed query, e.g. a repeated `code` or
/// `state`): every pending sign-in that one of its `state` values names is dropped, so a refused
/// callback leaves no verifier behind (SECURITY.md, "Authorize and callback").
pub fn refuse_visit<P: Platform>(p: &P, query: &str) {
    for (k, state) in crate::http_url::form_decode(query.trim_start_matches('?')) {
        if k == "state" {
            p.remove(&PendingAuthorization::storage_key(&state));
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
    let pending = take_pending(p, params.state.as_deref());
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
/// forgotten. The app runs this while the chart's first reads are on their way.
pub async fn confirm<P: Platform + 'static>(
    p: &P,
    client: &FhirClient<P>,
    check: &IdCheck,
) -> Result<Option<String>, LaunchError> {
    let checked = match verify(p, check).await {
        Ok(user) => client
            .confirm(user.clone())
            .map(|()| user)
            .map_err(LaunchError::from),
        Err(e) => Err(e),
    };
    if checked.is_err() {
        client.end();
        sign_out(p);
    }
    checked
}

/// The callback from start to end, as the app runs it but without the chart's reads in between:
/// [`exchange`], a client for the session ([`FhirClient::unconfirmed`]), then [`confirm`].
pub async fn complete<P: Platform + 'static>(
    p: &Rc<P>,
    params: CallbackParams,
) -> Result<FhirClient<P>, LaunchError> {
    let (session, check) = exchange(&**p, params).await?;
    let base = session.fhir_base.clone();
    let client =
        FhirClient::unconfirmed(p.clone(), session).ok_or(LaunchError::BadFhirBase(base))?;
    confirm(&**p, &client, &check).await?;
    Ok(client)
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

/// The session this tab already has (a reload), if it can still be used.
pub fn resume<P: Platform>(p: &P) -> Option<Session> {
    store::load_session(p)
}

/// Sign-out of a running session: its tokens end at once (nothing more is sent with them) and are
/// forgotten with this tab's sign-ins; the returned future asks the server to revoke them
/// (RFC 7009, [`FhirClient::revoke`]).
pub fn end_session<P: Platform + 'static>(
    p: &P,
    client: &FhirClient<P>,
) -> futures::future::LocalBoxFuture<'static, ()> {
    let revoking = client.revoke();
    sign_out(p);
    revoking
}

/// Sign-out: forget this tab's session and the sign-ins it started (and any abandoned ones).
/// Other tabs that share this storage (Epic Hyperspace) keep theirs.
pub fn sign_out<P: Platform>(p: &P) {
    store::forget_session(p);
    let tab = p.tab_name();
    let now = p.now_ms();
    for key in p
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(PENDING_PREFIX))
    {
        let ours = p
            .load(&key)
            .and_then(|v| PendingAuthorization::from_json_text(&v))
            .is_none_or(|pending| {
                pending.tab_name == tab || pending.tab_name.is_empty() || pending.is_expired(now)
            });
        if ours {
            p.remove(&key);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "flow_tests.rs"]
mod tests;
