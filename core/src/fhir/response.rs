//! What a FHIR server's answer means (FHIR R4 §3.1.0.4): a resource, or an error with the
//! OperationOutcome's words kept (as text) for the user.

use base64::Engine;
use serde_json::Value;

use crate::fhir::base::PagingError;
use crate::platform::{HttpResponse, NetError};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum FhirError {
    #[error(transparent)]
    Network(#[from] NetError),
    /// 401 after the one refresh-and-retry: the session is over.
    #[error("the FHIR server no longer accepts this session")]
    SessionExpired,
    /// 403: never a refresh (SECURITY.md).
    #[error("not permitted{}", .0.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Forbidden(Option<String>),
    #[error("not found{}", .0.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    NotFound(Option<String>),
    #[error("the FHIR server answered HTTP {status}{}", outcome.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Server {
        status: u16,
        outcome: Option<String>,
    },
    #[error("the FHIR server's answer is not FHIR JSON: {0}")]
    Malformed(String),
    #[error("{0} lies outside the FHIR server; the token is not sent there")]
    OffBase(String),
    #[error(transparent)]
    Paging(#[from] PagingError),
}

/// The human text of an OperationOutcome's issues.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn outcome_text(v: &Value) -> Option<String> {
    if v["resourceType"] != "OperationOutcome" {
        return None;
    }
    let texts: Vec<String> = v["issue"]
        .as_array()?
        .iter()
        .filter_map(|i| {
            i["details"]["text"]
                .as_str()
                .or_else(|| i["diagnostics"].as_str())
                .or_else(|| i["code"].as_str())
                .map(str::to_string)
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// What an error answer says, as EHRs write it: an OperationOutcome (FHIR R4 §3.1.0.4); JSON
/// that is not FHIR, `{"code":403,"message":…}` (Oracle Health); a line of plain text (Oracle's
/// 403s, the SMART launcher's 401s); or nothing but `WWW-Authenticate` (Epic's empty 403 with
/// `insufficient_scope`, RFC 6750 §3). An HTML page says nothing worth repeating. Shown as text.
fn error_detail(res: &HttpResponse, parsed: Option<&Value>) -> Option<String> {
    const LONGEST: usize = 300;
    let short = |s: &str| -> Option<String> {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return None;
        }
        Some(match s.chars().nth(LONGEST) {
            Some(_) => format!("{}…", s.chars().take(LONGEST).collect::<String>()),
            None => s,
        })
    };
    let from_body = match parsed {
        Some(v) if v["resourceType"].is_string() => outcome_text(v),
        Some(v) => ["message", "error_description", "error", "detail"]
            .iter()
            .find_map(|k| v[k].as_str())
            .and_then(short),
        None if res.looks_like_html() => None,
        None => short(&res.body),
    };
    from_body.or_else(|| {
        let challenge = res.www_authenticate.as_deref()?;
        let param = |name: &str| {
            challenge.split(',').find_map(|part| {
                let (k, v) = part
                    .trim()
                    .trim_start_matches("Bearer")
                    .trim()
                    .split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        param("error_description")
            .or_else(|| param("error"))
            .and_then(|s| short(&s))
    })
}

/// An attachment's content as fetched: its type as the server sent it, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Reads the answer to a request for an attachment's bytes: the content itself, or a Binary
/// resource whose `data` holds it (base64); an error answer is classified like any other.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn process_bytes(res: HttpResponse) -> Result<Fetched, FhirError> {
    let ok = (200..=299).contains(&res.status);
    if ok && !res.is_json() {
        return Ok(Fetched {
            content_type: res.content_type,
            bytes: res.bytes,
        });
    }
    let text = HttpResponse {
        body: String::from_utf8_lossy(&res.bytes).into_owned(),
        bytes: Vec::new(),
        ..res
    };
    let v = process_response(&text)?;
    if v["resourceType"] != "Binary" {
        return Err(FhirError::Malformed("expected a Binary".into()));
    }
    let data = v["data"]
        .as_str()
        .ok_or_else(|| FhirError::Malformed("the Binary has no data".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| FhirError::Malformed("the Binary's data is not base64".into()))?;
    Ok(Fetched {
        content_type: v["contentType"].as_str().map(str::to_string),
        bytes,
    })
}

/// Classifies a response; 401 is left to the caller, which refreshes once before giving up.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn process_response(res: &HttpResponse) -> Result<Value, FhirError> {
    let parsed: Option<Value> = serde_json::from_str(&res.body).ok();
    let outcome = if (200..=299).contains(&res.status) {
        None
    } else {
        error_detail(res, parsed.as_ref())
    };
    match res.status {
        200..=299 => {}
        401 => return Err(FhirError::SessionExpired),
        403 => return Err(FhirError::Forbidden(outcome)),
        404 | 410 => return Err(FhirError::NotFound(outcome)),
        status => return Err(FhirError::Server { status, outcome }),
    }
    match parsed {
        Some(v) if v["resourceType"].is_string() => Ok(v),
        Some(_) => Err(FhirError::Malformed("no resourceType".into())),
        None if res.looks_like_html() => Err(FhirError::Malformed("an HTML page".into())),
        None => Err(FhirError::Malformed("not JSON (truncated?)".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/fhir+json".into()),
            www_authenticate: None,
            bytes: Vec::new(),
            body: body.into(),
        }
    }

    #[test]
    fn classifies() {
        let oo = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"no <b>way</b>"}]}"#;
        assert_eq!(
            process_response(&res(403, oo)),
            Err(FhirError::Forbidden(Some("no <b>way</b>".into())))
        );
        assert_eq!(
            process_response(&res(401, oo)),
            Err(FhirError::SessionExpired)
        );
        assert_eq!(
            process_response(&res(404, "")),
            Err(FhirError::NotFound(None))
        );
        assert_eq!(
            process_response(&res(500, oo)),
            Err(FhirError::Server {
                status: 500,
                outcome: Some("no <b>way</b>".into())
            })
        );
        assert!(matches!(
            process_response(&res(200, r#"{"resourceType":"Pat"#)),
            Err(FhirError::Malformed(_))
        ));
        assert!(matches!(
            process_response(&res(200, r#"{"id":"x"}"#)),
            Err(FhirError::Malformed(_))
        ));
        assert_eq!(
            process_response(&res(200, r#"{"resourceType":"Patient"}"#)).unwrap()["resourceType"],
            "Patient"
        );
    }

    /// Error answers as EHRs write them (sandbox/src/profile.rs): what they say reaches the
    /// user, whatever the shape; an HTML page is not repeated.
    #[test]
    fn error_details_in_each_ehrs_shape() {
        let with =
            |status: u16, ct: Option<&str>, body: &str, challenge: Option<&str>| HttpResponse {
                status,
                content_type: ct.map(str::to_string),
                www_authenticate: challenge.map(str::to_string),
                bytes: Vec::new(),
                body: body.into(),
            };
        // Oracle Health: JSON that is not FHIR.
        let oracle = with(
            403,
            Some("application/json"),
            r#"{"code":403,"message":"insufficient_scope: no   AllergyIntolerance"}"#,
            None,
        );
        assert_eq!(
            process_response(&oracle),
            Err(FhirError::Forbidden(Some(
                "insufficient_scope: no AllergyIntolerance".into()
            )))
        );
        // Epic: no body; the reason in the challenge.
        let epic = with(403, None, "", Some(r#"Bearer error="insufficient_scope""#));
        assert_eq!(
            process_response(&epic),
            Err(FhirError::Forbidden(Some("insufficient_scope".into())))
        );
        let described = with(
            403,
            None,
            "",
            Some(
                r#"Bearer realm="x", error="insufficient_scope", error_description="Needs Condition.read""#,
            ),
        );
        assert_eq!(
            process_response(&described),
            Err(FhirError::Forbidden(Some("Needs Condition.read".into())))
        );
        // Plain text, cut to a readable length; an HTML page says nothing.
        let long = "x".repeat(400);
        match process_response(&with(406, Some("text/plain"), &long, None)) {
            Err(FhirError::Server {
                status: 406,
                outcome: Some(t),
            }) => {
                assert_eq!(t.chars().count(), 301);
                assert!(t.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
        let page = with(
            403,
            Some("text/html"),
            "<html><body>Forbidden</body></html>",
            None,
        );
        assert_eq!(process_response(&page), Err(FhirError::Forbidden(None)));
        assert_eq!(
            process_response(&with(403, None, "  ", None)),
            Err(FhirError::Forbidden(None))
        );
    }

    #[test]
    fn bytes_as_sent_or_from_a_binary() {
        let raw = |status: u16, ct: &str, bytes: &[u8]| HttpResponse {
            status,
            content_type: Some(ct.into()),
            www_authenticate: None,
            body: String::new(),
            bytes: bytes.to_vec(),
        };
        let pdf = process_bytes(raw(200, "application/pdf", b"%PDF-1.4\xff")).unwrap();
        assert_eq!(pdf.bytes, b"%PDF-1.4\xff");
        assert_eq!(pdf.content_type.as_deref(), Some("application/pdf"));
        let binary = br#"{"resourceType":"Binary","contentType":"image/png","data":"iVBORw=="}"#;
        let png = process_bytes(raw(200, "application/fhir+json", binary)).unwrap();
        assert_eq!(png.bytes, [0x89, b'P', b'N', b'G']);
        assert_eq!(png.content_type.as_deref(), Some("image/png"));
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"diagnostics":"gone"}]}"#;
        assert_eq!(
            process_bytes(raw(404, "application/fhir+json", oo)),
            Err(FhirError::NotFound(Some("gone".into())))
        );
        assert_eq!(
            process_bytes(raw(403, "text/plain", b"no")),
            Err(FhirError::Forbidden(Some("no".into())))
        );
        let no_data = br#"{"resourceType":"Binary","contentType":"image/png"}"#;
        assert!(matches!(
            process_bytes(raw(200, "application/fhir+json", no_data)),
            Err(FhirError::Malformed(_))
        ));
        let patient = br#"{"resourceType":"Patient"}"#;
        assert!(matches!(
            process_bytes(raw(200, "application/json", patient)),
            Err(FhirError::Malformed(_))
        ));
    }
}
