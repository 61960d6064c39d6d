//! The launch over a [`Platform`], step by step as SMART App Launch 2.2 names them: [`begin`]
//! (launch parameters → discovery → authorize redirect). From the callback on, the session's
//! life is `smart::session`'s. Pure logic over the platform trait, so the whole launch is tested
//! natively against a scripted server (`flow_tests.rs`).

use crate::platform::{CryptoError, NetError, Platform, StorageError};
use crate::smart::authorize::{authorize, Entropy};
use crate::smart::callback::CallbackError;
use crate::smart::config::{EhrConfig, Ehrs, Issuer};
use crate::smart::discovery::{self, DiscoveryError, SmartConfiguration};
use crate::smart::id_token::IdTokenError;
use crate::smart::session;
use crate::smart::token::TokenError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
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
    /// The chart could not read what the launch module handed on: the two come from different
    /// builds (the app was updated while the page loaded).
    #[error(
        "the sign-in could not be handed on to the chart (the app was updated while it loaded)"
    )]
    Handoff,
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
    let mut req = authorize(
        ehr,
        issuer,
        &smart,
        launch,
        redirect_uri,
        &entropy,
        p.now_ms(),
    );
    session::start_sign_in(p, &mut req.pending)?;
    Ok(req.url)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "flow_tests.rs"]
mod tests;
