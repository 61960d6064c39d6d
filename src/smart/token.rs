//! The token endpoint (SMART App Launch 2.2 §"Obtain access token", RFC 6749 §4.1.3, §5, §6):
//! the code exchange as a public client (no secret), the refresh request, and the checks every
//! token response passes before anything is kept (SECURITY.md, "Tokens").

use crate::json::Json;

use crate::platform::{HttpRequest, HttpResponse, Method, NetError};
use crate::smart::callback::ValidCallback;
use crate::smart::secret::{AccessToken, IdToken, RefreshToken};

/// The token response with every SMART field kept.
#[derive(Debug, PartialEq)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub token_type: String,
    pub expires_in: Option<u64>,
    /// Granted scopes; `None` means "as requested" (RFC 6749 §5.1).
    pub scope: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    pub context: LaunchContext,
}

/// The launch context the token response carries (SMART App Launch 2.2 §"Launch context
/// arrives with your access_token"), kept whole in the session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchContext {
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub fhir_context: Vec<Json>,
    pub need_patient_banner: Option<bool>,
    pub smart_style_url: Option<String>,
    pub intent: Option<String>,
    pub tenant: Option<String>,
}

impl LaunchContext {
    /// The stored form (sessionStorage); the names are the fields'.
    pub fn to_json(&self) -> Json {
        Json::object([
            ("patient", self.patient.clone().into()),
            ("encounter", self.encounter.clone().into()),
            ("fhir_context", Json::Array(self.fhir_context.clone())),
            ("need_patient_banner", self.need_patient_banner.into()),
            ("smart_style_url", self.smart_style_url.clone().into()),
            ("intent", self.intent.clone().into()),
            ("tenant", self.tenant.clone().into()),
        ])
    }

    /// Reads [`LaunchContext::to_json`]'s output back; `None` if it was tampered with.
    pub fn from_json(v: &Json) -> Option<Self> {
        Some(LaunchContext {
            patient: v.opt_string("patient")?,
            encounter: v.opt_string("encounter")?,
            fhir_context: v["fhir_context"].as_array()?.clone(),
            need_patient_banner: match &v["need_patient_banner"] {
                Json::Null => None,
                b => Some(b.as_bool()?),
            },
            smart_style_url: v.opt_string("smart_style_url")?,
            intent: v.opt_string("intent")?,
            tenant: v.opt_string("tenant")?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Network(#[from] NetError),
    /// RFC 6749 §5.2 error from the server (`invalid_grant` and friends).
    #[error("the EHR refused the token request: {error}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        error: String,
        description: Option<String>,
    },
    #[error("the token endpoint failed with HTTP {0}")]
    Server(u16),
    #[error("the token endpoint answered with something that is not a JSON object: {0}")]
    Malformed(String),
    #[error("the token response is invalid: {0}")]
    Invalid(String),
}

fn form(pairs: &[(&str, &str)]) -> String {
    crate::url::form_encode(pairs)
}

fn post(url: &str, body: String) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: url.to_string(),
        headers: vec![
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("Accept", "application/json".to_string()),
        ],
        body: Some(body),
    }
}

/// The code exchange. Takes the validated callback by value: the verifier is used once.
pub fn exchange_request(cb: &ValidCallback) -> HttpRequest {
    let p = &cb.pending;
    post(
        &p.smart.token_endpoint,
        form(&[
            ("grant_type", "authorization_code"),
            ("code", cb.code.expose()),
            ("redirect_uri", &p.redirect_uri),
            ("client_id", &p.client_id),
            ("code_verifier", p.code_verifier.expose()),
        ]),
    )
}

/// `grant_type=refresh_token` as a public client (RFC 6749 §6).
pub fn refresh_request(
    token_endpoint: &str,
    client_id: &str,
    refresh: &RefreshToken,
) -> HttpRequest {
    post(
        token_endpoint,
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", client_id),
        ]),
    )
}

/// A FHIR logical id (FHIR R4 §2.1.1.7 `id`): 1-64 of `A-Z a-z 0-9 - .`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn opt_string(o: &Json, k: &str) -> Result<Option<String>, TokenError> {
    match o.get(k) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::Invalid(format!("{k} must be a string"))),
    }
}

pub fn process_token_response(res: &HttpResponse) -> Result<TokenResponse, TokenError> {
    let parsed: Result<Json, _> = Json::parse(&res.body);
    if !(200..300).contains(&res.status) {
        // RFC 6749 §5.2 errors are JSON with `error`; anything else is a server failure.
        if let Ok(o @ Json::Object(_)) = &parsed {
            if let Some(Json::String(error)) = o.get("error") {
                return Err(TokenError::Rejected {
                    error: error.clone(),
                    description: o
                        .get("error_description")
                        .and_then(Json::as_str)
                        .map(str::to_string),
                });
            }
        }
        return Err(TokenError::Server(res.status));
    }
    let o = match parsed {
        Ok(o @ Json::Object(_)) => o,
        Ok(_) => return Err(TokenError::Malformed("not an object".into())),
        Err(_) if res.looks_like_html() => {
            return Err(TokenError::Malformed("an HTML page".into()))
        }
        Err(e) => return Err(TokenError::Malformed(e.to_string())),
    };
    let access_token = match o.get("access_token") {
        Some(Json::String(s)) if !s.is_empty() => AccessToken::new(s.clone()),
        _ => {
            return Err(TokenError::Invalid(
                "access_token must be a non-empty string".into(),
            ))
        }
    };
    let token_type = match o.get("token_type") {
        Some(Json::String(s)) if s.eq_ignore_ascii_case("bearer") => s.clone(),
        _ => return Err(TokenError::Invalid("token_type must be Bearer".into())),
    };
    let expires_in = match o.get("expires_in") {
        None | Some(Json::Null) => None,
        // A fractional lifetime is rounded down: never later than the server meant.
        Some(&Json::Number(n)) if n >= 0.0 => Some(n as u64),
        Some(Json::Number(_)) => {
            return Err(TokenError::Invalid(
                "expires_in must be a non-negative number".into(),
            ))
        }
        Some(_) => return Err(TokenError::Invalid("expires_in must be a number".into())),
    };
    let id_of = |k: &str| -> Result<Option<String>, TokenError> {
        match opt_string(&o, k)? {
            Some(id) if !is_fhir_id(&id) => {
                Err(TokenError::Invalid(format!("{k} is not a FHIR id")))
            }
            other => Ok(other),
        }
    };
    let need_patient_banner = match o.get("need_patient_banner") {
        None | Some(Json::Null) => None,
        Some(Json::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(TokenError::Invalid(
                "need_patient_banner must be true or false".into(),
            ))
        }
    };
    let fhir_context = match o.get("fhirContext") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) if items.iter().all(Json::is_object) => items.clone(),
        Some(_) => {
            return Err(TokenError::Invalid(
                "fhirContext must be an array of objects".into(),
            ))
        }
    };
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        scope: opt_string(&o, "scope")?,
        refresh_token: opt_string(&o, "refresh_token")?
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new),
        id_token: opt_string(&o, "id_token")?
            .filter(|s| !s.is_empty())
            .map(IdToken::new),
        context: LaunchContext {
            patient: id_of("patient")?,
            encounter: id_of("encounter")?,
            fhir_context,
            need_patient_banner,
            smart_style_url: opt_string(&o, "smart_style_url")?,
            intent: opt_string(&o, "intent")?,
            tenant: opt_string(&o, "tenant")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/json".into()),
            www_authenticate: None,
            body: body.into(),
        }
    }

    #[test]
    fn keeps_every_smart_field() {
        let t = process_token_response(&res(200, r#"{"access_token":"at","token_type":"bearer","expires_in":3600,"scope":"launch patient/*.rs","refresh_token":"rt","id_token":"a.b.c","patient":"p-1","encounter":"e.2","fhirContext":[{"reference":"Appointment/1"}],"need_patient_banner":false,"smart_style_url":"https://e/s.json","intent":"reconcile","tenant":"t1"}"#)).unwrap();
        assert_eq!(t.access_token.expose(), "at");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.refresh_token.as_ref().map(|r| r.expose()), Some("rt"));
        assert_eq!(t.context.patient.as_deref(), Some("p-1"));
        assert_eq!(t.context.encounter.as_deref(), Some("e.2"));
        assert_eq!(t.context.fhir_context.len(), 1);
        assert_eq!(t.context.need_patient_banner, Some(false));
        assert_eq!(t.context.intent.as_deref(), Some("reconcile"));
        assert_eq!(t.context.tenant.as_deref(), Some("t1"));
    }

    #[test]
    fn each_bad_response_is_a_distinct_error() {
        assert_eq!(
            process_token_response(&res(
                400,
                r#"{"error":"invalid_grant","error_description":"bad code"}"#
            )),
            Err(TokenError::Rejected {
                error: "invalid_grant".into(),
                description: Some("bad code".into())
            })
        );
        let html = HttpResponse {
            content_type: Some("text/html".into()),
            ..res(500, "<html>oops</html>")
        };
        assert_eq!(process_token_response(&html), Err(TokenError::Server(500)));
        assert!(matches!(
            process_token_response(&res(200, r#"{"access_token":"a","tok"#)),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            process_token_response(&res(200, "[]")),
            Err(TokenError::Malformed(_))
        ));
        for bad in [
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":"","token_type":"Bearer"}"#,
            r#"{"access_token":42,"token_type":"Bearer"}"#,
            r#"{"access_token":"a","token_type":"mac"}"#,
            r#"{"access_token":"a"}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"3600"}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"a","token_type":"Bearer","patient":"../Patient/x"}"#,
            r#"{"access_token":"a","token_type":"Bearer","patient":7}"#,
            r#"{"access_token":"a","token_type":"Bearer","encounter":"a b"}"#,
            r#"{"access_token":"a","token_type":"Bearer","need_patient_banner":"yes"}"#,
            r#"{"access_token":"a","token_type":"Bearer","fhirContext":"Appointment/1"}"#,
            r#"{"access_token":"a","token_type":"Bearer","scope":["a"]}"#,
        ] {
            assert!(
                matches!(
                    process_token_response(&res(200, bad)),
                    Err(TokenError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_never_carry_the_token() {
        let e = process_token_response(&res(
            200,
            r#"{"access_token":"SECRET-AT","token_type":"Bearer","patient":"bad id"}"#,
        ))
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET-AT"));
    }

    #[test]
    fn refresh_request_is_a_public_client_form() {
        let r = refresh_request("https://e/token", "app", &RefreshToken::new("r t"));
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.body.as_deref(),
            Some("grant_type=refresh_token&refresh_token=r+t&client_id=app")
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }
}
