//! The authorization request (SMART App Launch 2.2 §"Obtain authorization code", RFC 6749 §4.1.1,
//! RFC 7636 §4.3): the redirect URL, and the pending request this tab keeps until the callback.

use crate::http_url::{form_encode, HttpUrl};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use serde::{Deserialize, Serialize};

use crate::smart::config::{EhrConfig, Issuer};
use crate::smart::discovery::SmartConfiguration;
use crate::smart::scopes::request_scope;
use crate::smart::secret::CodeVerifier;

/// A pending request expires after ten minutes (SECURITY.md: "expires after minutes").
pub const PENDING_TTL_MS: u64 = 10 * 60 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaunchKind {
    /// Launched by the EHR with `iss` and `launch`.
    Ehr,
    /// Opened by the user, who picked the EHR.
    Standalone,
}

/// Fresh randomness for one attempt, from `crypto.getRandomValues` in the browser.
pub struct Entropy {
    /// 256 bits for `state` (SECURITY.md asks for at least 128).
    pub state: [u8; 32],
    pub verifier: [u8; 32],
}

/// What the callback needs to finish the launch; kept in this tab's sessionStorage under
/// [`PendingAuthorization::storage_key`], single use.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub state: String,
    pub code_verifier: CodeVerifier,
    pub ehr_id: String,
    /// The FHIR base, canonical form.
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub kind: LaunchKind,
    pub smart: SmartConfiguration,
    /// The EHR entry's `id_token_issuer`, when it sets one: what the id_token's `iss` must be.
    #[serde(default)]
    pub id_token_issuer: Option<String>,
    /// The entry's `jwks_client_id`: the JWKS is asked for with `?client_id=`.
    #[serde(default)]
    pub jwks_client_id: bool,
    /// The tab's name when the launch started (`smart::session`): the callback gives it
    /// back to the tab if the browser dropped it on the way through the EHR's pages.
    #[serde(default)]
    pub tab_name: String,
    pub created_ms: u64,
}

pub const PENDING_PREFIX: &str = "smart-launch.pending.";

impl PendingAuthorization {
    /// The issuer the id_token must name: the entry's `id_token_issuer`, else the `issuer` of
    /// the SMART configuration (the FHIR base when it gives none).
    pub fn expected_id_token_issuer(&self) -> &str {
        self.id_token_issuer
            .as_deref()
            .unwrap_or(&self.smart.issuer)
    }

    pub fn storage_key(state: &str) -> String {
        format!("{PENDING_PREFIX}{state}")
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.created_ms) > PENDING_TTL_MS || now_ms < self.created_ms
    }

    /// The stored form (this tab's sessionStorage), as JSON text.
    pub fn to_json_text(&self) -> String {
        // Strings, numbers and unit variants only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`PendingAuthorization::to_json_text`]'s output back; `None` if any field was
    /// tampered with (a wrong type, a missing field): the whole record is refused.
    pub fn from_json_text(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

/// Where the authorize request goes and what this tab must remember.
pub struct AuthorizeRequest {
    pub url: String,
    pub pending: PendingAuthorization,
}

/// Builds the authorize redirect. `launch` is `Some` for an EHR launch; `default_redirect_uri`
/// is this page's own address without its query, used unless the configuration overrides it.
pub fn authorize(
    ehr: &EhrConfig,
    issuer: &Issuer,
    smart: &SmartConfiguration,
    launch: Option<&str>,
    default_redirect_uri: &str,
    entropy: &Entropy,
    now_ms: u64,
) -> AuthorizeRequest {
    let state = URL_SAFE_NO_PAD.encode(entropy.state);
    let verifier = CodeVerifier::from_entropy(&entropy.verifier);
    let context: &[&str] = match (launch.is_some(), ehr.standalone_patient) {
        (true, _) => &["launch", "openid", "fhirUser"],
        (false, true) => &["launch/patient", "openid", "fhirUser"],
        (false, false) => &["openid", "fhirUser"],
    };
    let scope = request_scope(context, &ehr.scopes, smart.supports_v2_scopes());
    let redirect_uri = ehr
        .redirect_uri
        .clone()
        .unwrap_or_else(|| default_redirect_uri.to_string());

    // The endpoint was checked to be an absolute http(s) URL by discovery.
    // Its own query is kept and ours appended; a fragment is not allowed (RFC 6749 §3.1).
    let endpoint =
        HttpUrl::parse(&smart.authorization_endpoint).unwrap_or_else(|_| issuer.url().clone());
    let challenge = verifier.challenge();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", ehr.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", scope.as_str()),
        ("state", state.as_str()),
        ("aud", issuer.as_str()),
    ];
    if let Some(l) = launch {
        pairs.push(("launch", l));
    }
    pairs.extend([
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let mut url = format!("{}{}?", endpoint.origin(), endpoint.path());
    if let Some(q) = endpoint.query().filter(|q| !q.is_empty()) {
        url.push_str(q);
        url.push('&');
    }
    url.push_str(&form_encode(&pairs));
    AuthorizeRequest {
        url,
        pending: PendingAuthorization {
            state,
            code_verifier: verifier,
            ehr_id: ehr.id.clone(),
            issuer: issuer.as_str().to_string(),
            client_id: ehr.client_id.clone(),
            redirect_uri,
            scope,
            kind: if launch.is_some() {
                LaunchKind::Ehr
            } else {
                LaunchKind::Standalone
            },
            smart: smart.clone(),
            id_token_issuer: ehr.id_token_issuer.clone(),
            jwks_client_id: ehr.jwks_client_id,
            tab_name: String::new(),
            created_ms: now_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::discovery::Source;

    pub(crate) fn ehr() -> EhrConfig {
        EhrConfig {
            id: "sandbox".into(),
            name: "Sandbox".into(),
            iss: "http://localhost:9000/fhir".into(),
            client_id: "smart-launch".into(),
            scopes: "patient/Patient.rs online_access".into(),
            redirect_uri: None,
            enabled: true,
            extra_origins: vec![],
            require_pkce_advertised: true,
            standalone_patient: true,
            id_token_issuer: None,
            jwks_client_id: false,
        }
    }

    pub(crate) fn smart(v2: bool) -> SmartConfiguration {
        SmartConfiguration {
            issuer: "http://localhost:9000/fhir".into(),
            authorization_endpoint: "http://localhost:9000/auth/authorize".into(),
            token_endpoint: "http://localhost:9000/auth/token".into(),
            jwks_uri: None,
            revocation_endpoint: None,
            capabilities: if v2 {
                vec!["permission-v2".into()]
            } else {
                vec![]
            },
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            authorization_response_iss_parameter_supported: false,
            source: Source::WellKnown,
        }
    }

    const ENTROPY: Entropy = Entropy {
        state: [1; 32],
        verifier: [2; 32],
    };

    #[test]
    fn exact_ehr_launch_url_from_fixed_entropy() {
        let iss = Issuer::parse("http://localhost:9000/fhir").unwrap();
        let r = authorize(
            &ehr(),
            &iss,
            &smart(true),
            Some("abc 123&x"),
            "http://localhost:8000/launch.html",
            &ENTROPY,
            1000,
        );
        assert_eq!(
            r.url,
            "http://localhost:9000/auth/authorize?response_type=code&client_id=smart-launch\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Flaunch.html\
             &scope=launch+openid+fhirUser+patient%2FPatient.rs+online_access\
             &state=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\
             &aud=http%3A%2F%2Flocalhost%3A9000%2Ffhir&launch=abc+123%26x\
             &code_challenge=bB1ju9q0N8VDaMu9iIaohqea2XcpfiZe6_H19fAVM7k&code_challenge_method=S256"
        );
        assert_eq!(r.pending.kind, LaunchKind::Ehr);
        assert_eq!(
            r.pending.state,
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
        );
        assert_eq!(
            r.pending.code_verifier.challenge(),
            "bB1ju9q0N8VDaMu9iIaohqea2XcpfiZe6_H19fAVM7k"
        );
    }

    #[test]
    fn exact_standalone_url_with_v1_scopes_and_override() {
        let iss = Issuer::parse("http://localhost:9000/fhir").unwrap();
        let mut e = ehr();
        e.redirect_uri = Some("https://app.example/cb".into());
        let r = authorize(
            &e,
            &iss,
            &smart(false),
            None,
            "http://localhost:8000/launch.html",
            &ENTROPY,
            1000,
        );
        assert_eq!(
            r.url,
            "http://localhost:9000/auth/authorize?response_type=code&client_id=smart-launch\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
             &scope=launch%2Fpatient+openid+fhirUser+patient%2FPatient.read+online_access\
             &state=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\
             &aud=http%3A%2F%2Flocalhost%3A9000%2Ffhir\
             &code_challenge=bB1ju9q0N8VDaMu9iIaohqea2XcpfiZe6_H19fAVM7k&code_challenge_method=S256"
        );
        assert_eq!(r.pending.kind, LaunchKind::Standalone);
    }

    #[test]
    fn standalone_without_patient_context() {
        let iss = Issuer::parse("http://localhost:9000/fhir").unwrap();
        let mut e = ehr();
        e.standalone_patient = false;
        e.scopes = "user/Patient.rs".into();
        let r = authorize(
            &e,
            &iss,
            &smart(true),
            None,
            "http://localhost:8000/launch.html",
            &ENTROPY,
            1000,
        );
        assert!(
            r.url.contains("&scope=openid+fhirUser+user%2FPatient.rs&"),
            "{}",
            r.url
        );
    }

    #[test]
    fn pending_expires_after_ten_minutes() {
        let iss = Issuer::parse("http://localhost:9000/fhir").unwrap();
        let p = authorize(&ehr(), &iss, &smart(true), None, "x", &ENTROPY, 1_000_000).pending;
        assert!(!p.is_expired(1_000_000 + PENDING_TTL_MS));
        assert!(p.is_expired(1_000_000 + PENDING_TTL_MS + 1));
        assert!(
            p.is_expired(999_999),
            "a clock that went back is not trusted"
        );
    }
}
