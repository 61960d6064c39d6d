//! The authorization response (RFC 6749 §4.1.2, RFC 9207, SMART App Launch 2.2): checks `state`
//! against this tab's pending request before anything else, and only then yields an [`AuthCode`].
//! An `AuthCode` exists only as the output of [`validate`], so no code reaches the token
//! endpoint unchecked: a checked value is a type of its own.

use crate::smart::authorize::PendingAuthorization;
use crate::smart::launch::CallbackParams;
use crate::smart::secret::AuthCode;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CallbackError {
    #[error("the sign-in response has no state")]
    MissingState,
    /// Unknown to this tab: forged, from another tab, or already used.
    #[error("the sign-in response does not belong to a sign-in started in this tab, or was already used")]
    UnknownState,
    #[error("the sign-in took longer than ten minutes")]
    Expired,
    #[error("the sign-in response came from {got:?}, not from {expected:?}")]
    WrongIssuer { expected: String, got: String },
    /// RFC 9207 §2.4: the EHR says it names itself in every response, and this one does not.
    #[error("the sign-in response does not say which server sent it, though {expected:?} says it always does (RFC 9207)")]
    MissingIssuer { expected: String },
    /// The server said no; its words are shown as plain text.
    #[error("the EHR refused the sign-in: {error}")]
    Denied {
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in response has no authorization code")]
    MissingCode,
}

impl CallbackError {
    /// Only a fresh launch can recover from these.
    pub fn needs_relaunch(&self) -> bool {
        !matches!(self, CallbackError::Denied { .. })
    }
}

/// A callback whose `state` matched, with the pending request it belongs to.
#[derive(Debug)]
pub struct ValidCallback {
    pub code: AuthCode,
    pub pending: PendingAuthorization,
}

/// `pending` is what this tab stored under the callback's `state` — already removed from
/// storage by the caller, so a second visit with the same `state` finds nothing.
pub fn validate(
    params: CallbackParams,
    pending: Option<PendingAuthorization>,
    now_ms: u64,
) -> Result<ValidCallback, CallbackError> {
    if params.state.as_deref().unwrap_or("").is_empty() {
        return Err(CallbackError::MissingState);
    }
    let pending = match pending {
        Some(p) if Some(&p.state) == params.state.as_ref() => p,
        _ => return Err(CallbackError::UnknownState),
    };
    if pending.is_expired(now_ms) {
        return Err(CallbackError::Expired);
    }
    // RFC 9207 §2.4, before the response is read any further (an error response too): compare
    // `iss` with the issuer we sent the user to. SMART servers name either their advertised
    // `issuer` or the FHIR base. A server that advertises the parameter must send it: without
    // it, a response from another server (a mix-up, RFC 9700 §4.4) cannot be told apart.
    let expected = &pending.smart.issuer;
    match &params.iss {
        Some(iss) => {
            let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
            let named = |b: &Option<String>| b.as_deref().is_some_and(|b| same(iss, b));
            if !same(iss, expected)
                && !same(iss, &pending.issuer)
                && !named(&pending.id_token_issuer)
            {
                return Err(CallbackError::WrongIssuer {
                    expected: expected.clone(),
                    got: iss.clone(),
                });
            }
        }
        None if pending.smart.authorization_response_iss_parameter_supported => {
            return Err(CallbackError::MissingIssuer {
                expected: expected.clone(),
            });
        }
        None => {}
    }
    if let Some(error) = params.error {
        return Err(CallbackError::Denied {
            error,
            description: params.error_description,
        });
    }
    match params.code {
        Some(c) if !c.is_empty() => Ok(ValidCallback {
            code: AuthCode::new(c),
            pending,
        }),
        _ => Err(CallbackError::MissingCode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::authorize::{authorize, Entropy, PENDING_TTL_MS};
    use crate::smart::config::{EhrConfig, Issuer};
    use crate::smart::discovery::{SmartConfiguration, Source};

    fn pending() -> PendingAuthorization {
        let ehr = EhrConfig {
            id: "s".into(),
            name: "S".into(),
            iss: "http://localhost:9000/fhir".into(),
            client_id: "c".into(),
            scopes: "patient/*.rs".into(),
            redirect_uri: None,
            enabled: true,
            extra_origins: vec![],
            require_pkce_advertised: true,
            standalone_patient: true,
            id_token_issuer: None,
            jwks_client_id: false,
        };
        let smart = SmartConfiguration {
            issuer: "http://localhost:9000/fhir".into(),
            authorization_endpoint: "http://localhost:9000/a".into(),
            token_endpoint: "http://localhost:9000/t".into(),
            jwks_uri: None,
            revocation_endpoint: None,
            capabilities: vec![],
            code_challenge_methods_supported: None,
            authorization_response_iss_parameter_supported: false,
            source: Source::WellKnown,
        };
        let iss = Issuer::parse(&ehr.iss).unwrap();
        authorize(
            &ehr,
            &iss,
            &smart,
            None,
            "http://localhost:8000/launch.html",
            &Entropy {
                state: [7; 32],
                verifier: [8; 32],
            },
            1000,
        )
        .pending
    }

    fn params(code: &str, state: &str) -> CallbackParams {
        CallbackParams {
            code: Some(code.into()),
            state: Some(state.into()),
            ..Default::default()
        }
    }

    #[test]
    fn good_callback_yields_the_code() {
        let p = pending();
        let state = p.state.clone();
        let v = validate(params("the-code", &state), Some(p), 2000).unwrap();
        assert_eq!(v.code.expose(), "the-code");
    }

    #[test]
    fn bad_state_is_refused() {
        let state = pending().state;
        assert_eq!(
            validate(
                CallbackParams {
                    code: Some("c".into()),
                    ..Default::default()
                },
                Some(pending()),
                2000
            )
            .unwrap_err(),
            CallbackError::MissingState
        );
        assert_eq!(
            validate(params("c", "tampered"), None, 2000).unwrap_err(),
            CallbackError::UnknownState
        );
        // Stored under a key that does not match its own state: refused too.
        assert_eq!(
            validate(params("c", "tampered"), Some(pending()), 2000).unwrap_err(),
            CallbackError::UnknownState
        );
        assert_eq!(
            validate(
                params("c", &state),
                Some(pending()),
                1000 + PENDING_TTL_MS + 1
            )
            .unwrap_err(),
            CallbackError::Expired
        );
    }

    #[test]
    fn iss_must_name_the_expected_server() {
        let p = pending();
        let mut cb = params("c", &p.state);
        cb.iss = Some("https://evil.example/fhir".into());
        assert!(matches!(
            validate(cb, Some(p), 2000),
            Err(CallbackError::WrongIssuer { .. })
        ));
        let p = pending();
        let mut cb = params("c", &p.state);
        cb.iss = Some("http://localhost:9000/fhir/".into());
        assert!(validate(cb, Some(p), 2000).is_ok());
        // The entry's id_token_issuer names the EHR's sign-in server: accepted as `iss` too.
        let mut p = pending();
        p.id_token_issuer = Some("http://localhost:9000/oauth2".into());
        let mut cb = params("c", &p.state);
        cb.iss = Some("http://localhost:9000/oauth2".into());
        assert!(validate(cb, Some(p), 2000).is_ok());
    }

    /// RFC 9207 §2.4: where discovery advertised the parameter, a response without `iss` is
    /// refused, an error response too; where it did not, `iss` stays optional.
    #[test]
    fn iss_is_required_where_the_server_advertises_it() {
        let advertising = || {
            let mut p = pending();
            p.smart.authorization_response_iss_parameter_supported = true;
            p
        };
        let p = advertising();
        let cb = params("c", &p.state);
        assert_eq!(
            validate(cb, Some(p), 2000).unwrap_err(),
            CallbackError::MissingIssuer {
                expected: "http://localhost:9000/fhir".into()
            }
        );
        let p = advertising();
        let denied = CallbackParams {
            error: Some("access_denied".into()),
            state: Some(p.state.clone()),
            ..Default::default()
        };
        assert!(matches!(
            validate(denied, Some(p), 2000),
            Err(CallbackError::MissingIssuer { .. })
        ));
        let p = advertising();
        let mut cb = params("c", &p.state);
        cb.iss = Some("http://localhost:9000/fhir".into());
        assert!(validate(cb, Some(p), 2000).is_ok());
        // Not advertised: a response without `iss` is read as before.
        let p = pending();
        assert!(validate(params("c", &p.state), Some(p), 2000).is_ok());
    }

    #[test]
    fn server_errors_are_kept_as_text() {
        let p = pending();
        let cb = CallbackParams {
            error: Some("access_denied".into()),
            error_description: Some("<script>alert(1)</script>".into()),
            state: Some(p.state.clone()),
            ..Default::default()
        };
        let e = validate(cb, Some(p), 2000).unwrap_err();
        assert_eq!(
            e,
            CallbackError::Denied {
                error: "access_denied".into(),
                description: Some("<script>alert(1)</script>".into())
            }
        );
        assert!(!e.needs_relaunch());
        let p = pending();
        let cb = CallbackParams {
            state: Some(p.state.clone()),
            ..Default::default()
        };
        assert_eq!(
            validate(cb, Some(p), 2000).unwrap_err(),
            CallbackError::MissingCode
        );
    }
}
