//! The token endpoint (SMART App Launch 2.2 §"Obtain access token", RFC 6749 §4.1.3, §5, §6):
//! the code exchange as a public client (no secret), the refresh request, and the checks every
//! token response passes before anything is kept (SECURITY.md, "Tokens").

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::fhir::is_fhir_id;
use crate::platform::{HttpRequest, HttpResponse, Method, NetError, Priority};
use crate::smart::callback::ValidCallback;
use crate::smart::fields;
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchContext {
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub fhir_context: Vec<Value>,
    pub need_patient_banner: Option<bool>,
    pub smart_style_url: Option<String>,
    pub intent: Option<String>,
    pub tenant: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
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
    crate::http_url::form_encode(pairs)
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
        priority: Priority::Normal,
        binary: false,
        timeout_ms: crate::platform::DEFAULT_TIMEOUT_MS,
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

/// Token revocation as a public client (RFC 7009 §2.1: `token`, a `token_type_hint`, and the
/// client's id, since a public client does not authenticate otherwise).
pub fn revocation_request(endpoint: &str, client_id: &str, token: &str, hint: &str) -> HttpRequest {
    post(
        endpoint,
        form(&[
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", client_id),
        ]),
    )
}

/// A token response as the server sends it (RFC 6749 §5.1 and SMART's launch context), each
/// field held to its type; the checks serde cannot express follow in
/// [`process_token_response`].
#[derive(Deserialize)]
struct TokenResponseBody {
    #[serde(deserialize_with = "non_empty")]
    access_token: String,
    token_type: String,
    #[serde(default, deserialize_with = "lifetime")]
    expires_in: Option<u64>,
    scope: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    #[serde(default, deserialize_with = "fhir_id")]
    patient: Option<String>,
    #[serde(default, deserialize_with = "fhir_id")]
    encounter: Option<String>,
    /// Kept as sent: each item is read, or noted as malformed, by `chart::context`; a malformed
    /// item never fails the launch.
    #[serde(rename = "fhirContext", default)]
    fhir_context: Option<Value>,
    #[serde(default, deserialize_with = "fields::lenient_bool")]
    need_patient_banner: Option<bool>,
    smart_style_url: Option<String>,
    /// An intent that is not text is ignored (the app maps known intents only).
    #[serde(default)]
    intent: Option<Value>,
    tenant: Option<String>,
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(D::Error::custom("empty"));
    }
    Ok(s)
}

/// `expires_in` in seconds: a non-negative number; a fractional lifetime is rounded down,
/// never later than the server meant. Some servers write it as a string of digits ("3600",
/// reported to SMART client libraries, smart-on-fhir/client-py#179): read as the number it
/// spells.
fn lifetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n,
        Some(Value::String(s)) => s
            .trim()
            .parse::<serde_json::Number>()
            .map_err(|_| D::Error::custom("not a number"))?,
        Some(_) => return Err(D::Error::custom("not a number")),
    };
    match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Ok(Some(u)),
        // Numbers keep their text (serde_json's arbitrary_precision): 1e400 reads as infinite.
        (None, Some(f)) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        _ => Err(D::Error::custom("negative")),
    }
}

/// `patient` and `encounter` are FHIR ids: a path or a reference in their place is refused.
fn fhir_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(id) if !is_fhir_id(&id) => Err(D::Error::custom("not a FHIR id")),
        other => Ok(other),
    }
}

/// What each field must be, for the error message: the value itself is never repeated.
fn expectation(field: &str) -> &'static str {
    match field {
        "access_token" => "must be a non-empty string",
        "token_type" => "must be Bearer",
        "expires_in" => "must be a non-negative number",
        "patient" | "encounter" => "must be a FHIR id",
        "need_patient_banner" => "must be true or false",
        _ => "must be a string",
    }
}

pub fn process_token_response(res: &HttpResponse) -> Result<TokenResponse, TokenError> {
    let parsed: Result<Value, _> = serde_json::from_str(&res.body);
    if !(200..300).contains(&res.status) {
        // RFC 6749 §5.2 errors are JSON with `error`; anything else is a server failure.
        if let Ok(Value::Object(o)) = &parsed {
            if let Some(Value::String(error)) = o.get("error") {
                return Err(TokenError::Rejected {
                    error: error.clone(),
                    description: o
                        .get("error_description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                });
            }
        }
        return Err(TokenError::Server(res.status));
    }
    let o = match parsed {
        Ok(o @ Value::Object(_)) => o,
        Ok(_) => return Err(TokenError::Malformed("not an object".into())),
        Err(_) if res.looks_like_html() => {
            return Err(TokenError::Malformed("an HTML page".into()))
        }
        Err(e) => return Err(TokenError::Malformed(e.to_string())),
    };
    let body: TokenResponseBody = fields::from_value(o).map_err(|e| {
        let field = e.field_at(0).unwrap_or("the response");
        TokenError::Invalid(format!("{field} {}", expectation(field)))
    })?;
    if !body.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Invalid("token_type must be Bearer".into()));
    }
    Ok(TokenResponse {
        access_token: AccessToken::new(body.access_token),
        token_type: body.token_type,
        expires_in: body.expires_in,
        scope: body.scope,
        refresh_token: body
            .refresh_token
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new),
        id_token: body.id_token.filter(|s| !s.is_empty()).map(IdToken::new),
        context: LaunchContext {
            patient: body.patient,
            encounter: body.encounter,
            fhir_context: match body.fhir_context {
                Some(Value::Array(items)) => items,
                None | Some(Value::Null) => Vec::new(),
                // Not a list: kept as one item, which the chart notes as malformed.
                Some(other) => vec![other],
            },
            need_patient_banner: body.need_patient_banner,
            smart_style_url: body.smart_style_url,
            intent: body.intent.and_then(|v| v.as_str().map(str::to_string)),
            tenant: body.tenant,
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
            bytes: Vec::new(),
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
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"an hour"}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"-5"}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":true}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":1e400}"#,
            r#"{"access_token":"a","token_type":"Bearer","patient":"../Patient/x"}"#,
            r#"{"access_token":"a","token_type":"Bearer","patient":7}"#,
            r#"{"access_token":"a","token_type":"Bearer","encounter":"a b"}"#,
            r#"{"access_token":"a","token_type":"Bearer","need_patient_banner":"yes"}"#,
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

    /// A launch context the app cannot use is kept for the chart to note, never a failed launch:
    /// `fhirContext` that is not a list, or whose items are not objects; an intent that is not
    /// text is ignored.
    #[test]
    fn a_malformed_launch_context_does_not_fail_the_launch() {
        let t = process_token_response(&res(
            200,
            r#"{"access_token":"a","token_type":"Bearer","fhirContext":"Appointment/1","intent":7}"#,
        ))
        .unwrap();
        assert_eq!(
            t.context.fhir_context,
            vec![serde_json::json!("Appointment/1")]
        );
        assert_eq!(t.context.intent, None);
        let t = process_token_response(&res(
            200,
            r#"{"access_token":"a","token_type":"Bearer","fhirContext":[{"reference":"Appointment/1"},"x",null]}"#,
        ))
        .unwrap();
        assert_eq!(t.context.fhir_context.len(), 3);
        let t = process_token_response(&res(
            200,
            r#"{"access_token":"a","token_type":"Bearer","fhirContext":null}"#,
        ))
        .unwrap();
        assert!(t.context.fhir_context.is_empty());
    }

    /// What real EHRs send that is harmless is read (sandbox/src/profile.rs: Epic's token response with
    /// `need_patient_banner` as the string "false", `token_type` "bearer" and fields of its own;
    /// `expires_in` as a string of digits).
    #[test]
    fn reads_the_shapes_real_ehrs_send() {
        let epic = r#"{"access_token":"at","token_type":"bearer","expires_in":"3600","scope":"Patient.read Patient.search ","state":"abc","patient":"erXuFYUfucBZaryVksYEcMg3","__epic.dstu2.patient":"T1wI5bk8n1YVgvWk9D05BmRV0Pi3ECImNSK8DKyKltsMB","appointment":"eVa-Ad1SCIenVq8CUQVxfKwGtHtXH8vWfH-fNYQHZz7E3","encounter":"eGmO0h.1.rjFcD9wxRqJE6TkWvzh0dKc3","location":"e4W4rmGe9QzuGm2Dy4NBqVc0KDe6yGEd",
            "loginDepartment":"e8TXhpEpSfTM4Iwv0vqvLnQ3","need_patient_banner":"false","smart_style_url":"https://ehr.example/style.json"}"#;
        let t = process_token_response(&res(200, epic)).unwrap();
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.context.need_patient_banner, Some(false));
        assert_eq!(
            t.context.patient.as_deref(),
            Some("erXuFYUfucBZaryVksYEcMg3")
        );
        assert_eq!(t.scope.as_deref(), Some("Patient.read Patient.search "));
        for (banner, expected) in [
            (r#""TRUE""#, Some(true)),
            ("true", Some(true)),
            ("null", None),
        ] {
            let body = format!(
                r#"{{"access_token":"a","token_type":"Bearer","need_patient_banner":{banner}}}"#
            );
            let t = process_token_response(&res(200, &body)).unwrap();
            assert_eq!(t.context.need_patient_banner, expected, "{banner}");
        }
        for (lifetime, expected) in [(r#"" 570 ""#, 570), (r#""1200.9""#, 1200), ("570", 570)] {
            let body =
                format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{lifetime}}}"#);
            let t = process_token_response(&res(200, &body)).unwrap();
            assert_eq!(t.expires_in, Some(expected), "{lifetime}");
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
