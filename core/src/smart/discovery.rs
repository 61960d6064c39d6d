//! Discovery (SMART App Launch 2.2 §"Conformance"): `GET {iss}/.well-known/smart-configuration`,
//! falling back to `GET {iss}/metadata` and its `oauth-uris` extension for SMART v1 servers.
//! Every answer is checked before it is believed (SECURITY.md, "Discovery"): each endpoint must
//! lie on the FHIR server's origin or on an origin the EHR's configuration entry names, so a
//! tampered or mixed-up configuration cannot send the code and verifier elsewhere (RFC 9700
//! §4.4); and PKCE S256 must be advertised (SMART App Launch 2.2 makes the field required).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http_url::HttpUrl;
use crate::platform::{HttpRequest, HttpResponse, NetError};
use crate::smart::config::{EhrConfig, Issuer};
use crate::smart::fields;

/// How long discovery may take in all, `.well-known` and the `metadata` fallback together: a
/// launch whose server does not answer ends on a page naming it within 15 s of the click
/// (SECURITY.md, "When a server does not answer"), with time left for the page itself.
pub const DISCOVERY_DEADLINE_MS: u32 = 12_000;

const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    WellKnown,
    Metadata,
}

/// What the app needs from the server's SMART configuration, with endpoints already resolved
/// against the FHIR base and checked. Stored with the pending authorization (sessionStorage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartConfiguration {
    /// `issuer` as advertised (the id_token issuer); the FHIR base when not given.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: Option<String>,
    /// RFC 7009 token revocation, when advertised. Pinned like every other endpoint.
    pub revocation_endpoint: Option<String>,
    pub capabilities: Vec<String>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207 §3: the server puts `iss` in every authorization response, so a response
    /// without it is refused (§2.4). `false` for servers that do not say so, and for pending
    /// sign-ins stored before the field existed.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    pub source: Source,
}

impl SmartConfiguration {
    pub fn has_capability(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }

    /// SMART v2 scope syntax (`.rs`) only where the server says it understands it.
    pub fn supports_v2_scopes(&self) -> bool {
        self.has_capability("permission-v2")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum DiscoveryError {
    #[error(transparent)]
    Network(#[from] NetError),
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered with an HTML page (a login page or an error page?) instead of JSON")]
    Html { url: String },
    #[error("{url} did not answer with JSON ({detail})")]
    NotJson { url: String, detail: String },
    #[error("{url} answered JSON that is not a {expected}")]
    WrongShape {
        url: String,
        expected: Cow<'static, str>,
    },
    #[error("{url}: `{field}` does not have the type SMART App Launch gives it")]
    BadField { url: String, field: String },
    #[error("the server's SMART configuration has no {0}")]
    MissingEndpoint(Cow<'static, str>),
    #[error("the server's {name} {value:?} is not an http(s) URL")]
    BadEndpoint {
        name: Cow<'static, str>,
        value: String,
    },
    /// RFC 9700 §4.4: an endpoint on a server the EHR's configuration does not name.
    #[error("the server's {name} {url} lies on {origin}, which is neither the FHIR server's origin ({iss_origin}) nor listed in this EHR's extra_origins")]
    ForeignEndpoint {
        name: Cow<'static, str>,
        url: String,
        origin: String,
        iss_origin: String,
    },
    #[error("the server does not support PKCE with S256 (it lists {0:?}); this app never launches without it")]
    NoS256(Vec<String>),
    #[error("the server's SMART configuration does not list code_challenge_methods_supported, which SMART App Launch 2 requires; this app needs it to know PKCE S256 is supported")]
    PkceNotAdvertised,
    #[error("SMART discovery failed. .well-known: {well_known}; metadata: {metadata}")]
    Both {
        well_known: Box<DiscoveryError>,
        metadata: Box<DiscoveryError>,
    },
}

pub fn well_known_request(iss: &Issuer) -> HttpRequest {
    HttpRequest::get(well_known_url(iss.as_str()), "application/json").within(DISCOVERY_DEADLINE_MS)
}

/// Where a FHIR base's SMART configuration lies (SMART App Launch 2.2 §"Retrieve .well-known").
pub fn well_known_url(fhir_base: &str) -> String {
    format!(
        "{}/.well-known/smart-configuration",
        fhir_base.trim_end_matches('/')
    )
}

fn metadata_url(iss: &Issuer) -> String {
    format!("{}/metadata", iss.as_str())
}

/// The fallback, with what is left of discovery's deadline.
pub fn metadata_request(iss: &Issuer, remaining_ms: u32) -> HttpRequest {
    HttpRequest::get(metadata_url(iss), "application/fhir+json").within(remaining_ms)
}

/// Whether a failed `.well-known` answer means "no SMART document here", so that a SMART v1
/// server's `metadata` is worth asking: a 404 or other status, an HTML page, something that is
/// not JSON or not an object, a redirect, or a refused connection (a v1 server whose unknown
/// paths carry no CORS headers looks like that to a browser). Not a timeout: a server that does
/// not answer one request will not answer the next within the deadline either.
pub fn is_not_here(e: &DiscoveryError) -> bool {
    matches!(
        e,
        DiscoveryError::Network(NetError::Unreachable(_) | NetError::Redirected(_))
            | DiscoveryError::Status { .. }
            | DiscoveryError::Html { .. }
            | DiscoveryError::NotJson { .. }
            | DiscoveryError::WrongShape { .. }
    )
}

fn json_object(
    url: &str,
    res: &HttpResponse,
    expected: &'static str,
) -> Result<Value, DiscoveryError> {
    if !(200..300).contains(&res.status) {
        return Err(DiscoveryError::Status {
            url: url.to_string(),
            status: res.status,
        });
    }
    if res.looks_like_html() {
        return Err(DiscoveryError::Html {
            url: url.to_string(),
        });
    }
    let v: Value = serde_json::from_str(&res.body).map_err(|e| DiscoveryError::NotJson {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(DiscoveryError::WrongShape {
            url: url.to_string(),
            expected: expected.into(),
        });
    }
    Ok(v)
}

/// Resolves an advertised endpoint against the FHIR base, insists on http(s), and pins it to the
/// EHR's origins. Every endpoint the app will call goes through here.
fn endpoint(
    iss: &Issuer,
    ehr: &EhrConfig,
    name: &'static str,
    value: Option<&Value>,
) -> Result<String, DiscoveryError> {
    let raw = match value {
        None | Some(Value::Null) => return Err(DiscoveryError::MissingEndpoint(name.into())),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        Some(other) => {
            return Err(DiscoveryError::BadEndpoint {
                name: name.into(),
                value: other.to_string(),
            })
        }
    };
    let url = iss
        .base_dir()
        .join(raw)
        .map_err(|_| DiscoveryError::BadEndpoint {
            name: name.into(),
            value: raw.to_string(),
        })?;
    check_scheme(iss, name, &url)?;
    if !ehr.allows_endpoint(iss, &url) {
        return Err(DiscoveryError::ForeignEndpoint {
            name: name.into(),
            origin: url.origin(),
            url: url.to_string(),
            iss_origin: iss.url().origin(),
        });
    }
    Ok(url.to_string())
}

/// An endpoint the server may leave out.
fn optional_endpoint(
    iss: &Issuer,
    ehr: &EhrConfig,
    name: &'static str,
    value: Option<&Value>,
) -> Result<Option<String>, DiscoveryError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        some => endpoint(iss, ehr, name, some).map(Some),
    }
}

fn check_scheme(iss: &Issuer, name: &'static str, url: &HttpUrl) -> Result<(), DiscoveryError> {
    // An https FHIR server must not send the app to a plain-http endpoint.
    let ok = match url.scheme() {
        "https" => true,
        "http" => iss.url().scheme() == "http",
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DiscoveryError::BadEndpoint {
            name: name.into(),
            value: url.to_string(),
        })
    }
}

fn require_s256(methods: &Option<Vec<String>>, ehr: &EhrConfig) -> Result<(), DiscoveryError> {
    match methods {
        Some(m) if !m.iter().any(|x| x == "S256") => Err(DiscoveryError::NoS256(m.clone())),
        None if ehr.require_pkce_advertised => Err(DiscoveryError::PkceNotAdvertised),
        _ => Ok(()),
    }
}

/// `.well-known/smart-configuration` as served (SMART App Launch 2.2 §"Conformance"), the
/// members this app uses; the endpoints as sent, to be resolved and checked by [`endpoint`].
#[derive(Deserialize)]
struct WellKnownBody {
    issuer: Option<String>,
    authorization_endpoint: Option<Value>,
    token_endpoint: Option<Value>,
    jwks_uri: Option<Value>,
    revocation_endpoint: Option<Value>,
    #[serde(default)]
    capabilities: Vec<String>,
    code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207 §3's flag, also as a string; any other value is refused (`BadField`):
    /// guessing `false` would switch the callback's `iss` requirement off.
    #[serde(default, deserialize_with = "fields::lenient_bool")]
    authorization_response_iss_parameter_supported: Option<bool>,
}

/// Checks a `.well-known/smart-configuration` answer from the server of `ehr`.
pub fn process_well_known(
    iss: &Issuer,
    ehr: &EhrConfig,
    res: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let url = well_known_request(iss).url;
    let v = json_object(&url, res, "SMART configuration object")?;
    let body: WellKnownBody = fields::from_value(v).map_err(|e| DiscoveryError::BadField {
        url: url.clone(),
        field: e.field_at(0).unwrap_or("?").to_string(),
    })?;
    let config = SmartConfiguration {
        issuer: body.issuer.unwrap_or_else(|| iss.as_str().to_string()),
        authorization_endpoint: endpoint(
            iss,
            ehr,
            "authorization_endpoint",
            body.authorization_endpoint.as_ref(),
        )?,
        token_endpoint: endpoint(iss, ehr, "token_endpoint", body.token_endpoint.as_ref())?,
        jwks_uri: optional_endpoint(iss, ehr, "jwks_uri", body.jwks_uri.as_ref())?,
        revocation_endpoint: optional_endpoint(
            iss,
            ehr,
            "revocation_endpoint",
            body.revocation_endpoint.as_ref(),
        )?,
        capabilities: body.capabilities,
        code_challenge_methods_supported: body.code_challenge_methods_supported,
        authorization_response_iss_parameter_supported: body
            .authorization_response_iss_parameter_supported
            .unwrap_or(false),
        source: Source::WellKnown,
    };
    require_s256(&config.code_challenge_methods_supported, ehr)?;
    Ok(config)
}

/// Checks a CapabilityStatement and reads the `oauth-uris` extension (SMART App Launch 1.0).
/// Its endpoints are pinned like those of `.well-known`.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn process_metadata(
    iss: &Issuer,
    ehr: &EhrConfig,
    res: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let url = metadata_url(iss);
    let v = json_object(&url, res, "CapabilityStatement")?;
    if v["resourceType"] != "CapabilityStatement" {
        return Err(DiscoveryError::WrongShape {
            url,
            expected: "CapabilityStatement".into(),
        });
    }
    let ext = v["rest"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["security"]["extension"].as_array().into_iter().flatten())
        .find(|e| e["url"] == OAUTH_URIS);
    let find = |name: &str| -> Option<Value> {
        ext?["extension"]
            .as_array()?
            .iter()
            .find(|e| e["url"] == name)
            .map(|e| e["valueUri"].clone())
    };
    Ok(SmartConfiguration {
        issuer: iss.as_str().to_string(),
        authorization_endpoint: endpoint(
            iss,
            ehr,
            "authorization_endpoint",
            find("authorize").as_ref(),
        )?,
        token_endpoint: endpoint(iss, ehr, "token_endpoint", find("token").as_ref())?,
        jwks_uri: None,
        revocation_endpoint: optional_endpoint(
            iss,
            ehr,
            "revocation_endpoint",
            find("revoke").as_ref(),
        )?,
        // A v1 server's scopes are v1; PKCE is still required of it (S256 is always sent).
        capabilities: Vec::new(),
        code_challenge_methods_supported: None,
        authorization_response_iss_parameter_supported: false,
        source: Source::Metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iss() -> Issuer {
        Issuer::parse("https://ehr.example/fhir").unwrap()
    }

    /// The configuration entry for `iss()`, with `extra` as its JSON members.
    fn ehr_with(extra: &str) -> EhrConfig {
        let doc = format!(
            r#"{{"ehrs":[{{"id":"e","name":"E","iss":"https://ehr.example/fhir","client_id":"c","scopes":""{extra}}}]}}"#
        );
        let ehrs = crate::smart::config::Ehrs::parse(&doc).unwrap();
        ehrs.by_id("e").unwrap().1.clone()
    }

    fn ehr() -> EhrConfig {
        ehr_with("")
    }

    fn json(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            www_authenticate: None,
            bytes: Vec::new(),
            body: body.into(),
        }
    }

    #[test]
    fn resolves_relative_endpoints_against_the_base() {
        let c = process_well_known(
            &iss(),
            &ehr(),
            &json(r#"{"authorization_endpoint":"auth/authorize","token_endpoint":"/oauth/token","code_challenge_methods_supported":["S256"],"capabilities":["permission-v2"]}"#),
        )
        .unwrap();
        assert_eq!(
            c.authorization_endpoint,
            "https://ehr.example/fhir/auth/authorize"
        );
        assert_eq!(c.token_endpoint, "https://ehr.example/oauth/token");
        assert_eq!(c.issuer, "https://ehr.example/fhir");
        assert!(c.supports_v2_scopes());
    }

    #[test]
    fn refuses_a_server_without_s256() {
        let e = process_well_known(
            &iss(),
            &ehr(),
            &json(
                r#"{"authorization_endpoint":"https://ehr.example/a","token_endpoint":"https://ehr.example/t","code_challenge_methods_supported":["plain"]}"#,
            ),
        );
        assert_eq!(e, Err(DiscoveryError::NoS256(vec!["plain".into()])));
    }

    #[test]
    fn bad_answers_get_clear_errors() {
        let html = HttpResponse {
            content_type: Some("text/html".into()),
            ..json("<!DOCTYPE html><form>")
        };
        assert!(matches!(
            process_well_known(&iss(), &ehr(), &html),
            Err(DiscoveryError::Html { .. })
        ));
        let not_found = HttpResponse {
            status: 404,
            ..json("{}")
        };
        assert!(matches!(
            process_well_known(&iss(), &ehr(), &not_found),
            Err(DiscoveryError::Status { status: 404, .. })
        ));
        assert!(matches!(
            process_well_known(&iss(), &ehr(), &json("{\"a\":")),
            Err(DiscoveryError::NotJson { .. })
        ));
        assert!(matches!(
            process_well_known(&iss(), &ehr(), &json("[1,2]")),
            Err(DiscoveryError::WrongShape { .. })
        ));
        assert_eq!(
            process_well_known(
                &iss(),
                &ehr(),
                &json(r#"{"token_endpoint":"https://ehr.example/t"}"#)
            ),
            Err(DiscoveryError::MissingEndpoint(
                "authorization_endpoint".into()
            ))
        );
        for bad in [
            r#""javascript:alert(1)""#,
            r#""http://ehr.example/a""#,
            "42",
            r#""""#,
        ] {
            let body = format!(
                r#"{{"authorization_endpoint":{bad},"token_endpoint":"https://ehr.example/t"}}"#
            );
            assert!(
                matches!(
                    process_well_known(&iss(), &ehr(), &json(&body)),
                    Err(DiscoveryError::BadEndpoint { .. })
                        | Err(DiscoveryError::MissingEndpoint(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_the_v1_oauth_uris_extension() {
        let body = r#"{"resourceType":"CapabilityStatement","rest":[{"security":{"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[{"url":"authorize","valueUri":"https://ehr.example/auth"},{"url":"token","valueUri":"https://ehr.example/token"}]}]}}]}"#;
        let c = process_metadata(&iss(), &ehr(), &json(body)).unwrap();
        assert_eq!(c.authorization_endpoint, "https://ehr.example/auth");
        assert_eq!(c.source, Source::Metadata);
        assert!(!c.supports_v2_scopes());
        let no_ext = r#"{"resourceType":"CapabilityStatement","rest":[{}]}"#;
        assert_eq!(
            process_metadata(&iss(), &ehr(), &json(no_ext)),
            Err(DiscoveryError::MissingEndpoint(
                "authorization_endpoint".into()
            ))
        );
        assert!(matches!(
            process_metadata(&iss(), &ehr(), &json(r#"{"resourceType":"Patient"}"#)),
            Err(DiscoveryError::WrongShape { .. })
        ));
    }

    const GOOD: &str = r#""authorization_endpoint":"https://ehr.example/auth/authorize","token_endpoint":"https://ehr.example/auth/token","jwks_uri":"https://ehr.example/jwks","revocation_endpoint":"https://ehr.example/auth/revoke""#;

    #[test]
    fn every_endpoint_kind_must_lie_on_the_ehrs_origins() {
        let ok = format!(r#"{{{GOOD},"code_challenge_methods_supported":["S256"]}}"#);
        let c = process_well_known(&iss(), &ehr(), &json(&ok)).unwrap();
        assert_eq!(
            c.revocation_endpoint.as_deref(),
            Some("https://ehr.example/auth/revoke")
        );
        for (name, foreign) in [
            (
                "authorization_endpoint",
                "https://evil.example/auth/authorize",
            ),
            ("token_endpoint", "https://evil.example/auth/token"),
            ("jwks_uri", "https://evil.example/jwks"),
            ("revocation_endpoint", "https://evil.example/revoke"),
            // Same host, another port or scheme: another origin.
            ("token_endpoint", "https://ehr.example:8443/auth/token"),
            (
                "token_endpoint",
                "https://ehr.example.evil.example/auth/token",
            ),
            // A protocol-relative reference resolves onto another host.
            ("token_endpoint", "//evil.example/auth/token"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&ok).unwrap();
            v[name] = foreign.into();
            let e = process_well_known(&iss(), &ehr(), &json(&v.to_string())).unwrap_err();
            match &e {
                DiscoveryError::ForeignEndpoint {
                    name: n, origin, ..
                } => {
                    assert_eq!(*n, name);
                    assert!(!origin.contains("/auth"), "{origin}");
                    assert!(e.to_string().contains("extra_origins"), "{e}");
                }
                other => panic!("{name} {foreign}: {other:?}"),
            }
            // Named in the entry's extra_origins, the same server is accepted.
            let origin = match e {
                DiscoveryError::ForeignEndpoint { origin, .. } => origin,
                _ => unreachable!(),
            };
            let listed = ehr_with(&format!(
                r#","extra_origins":["{}/"]"#,
                origin.to_uppercase()
            ));
            assert!(
                process_well_known(&iss(), &listed, &json(&v.to_string())).is_ok(),
                "{foreign} with extra_origins"
            );
        }
    }

    #[test]
    fn relative_endpoints_resolve_onto_the_base_origin() {
        let body = r#"{"authorization_endpoint":"../auth/authorize","token_endpoint":"/auth/token","jwks_uri":"jwks","code_challenge_methods_supported":["S256"]}"#;
        let c = process_well_known(&iss(), &ehr(), &json(body)).unwrap();
        assert_eq!(
            c.authorization_endpoint,
            "https://ehr.example/auth/authorize"
        );
        assert_eq!(c.token_endpoint, "https://ehr.example/auth/token");
        assert_eq!(c.jwks_uri.as_deref(), Some("https://ehr.example/fhir/jwks"));
    }

    #[test]
    fn v1_metadata_endpoints_are_pinned_too() {
        let body = |token: &str| {
            format!(
                r#"{{"resourceType":"CapabilityStatement","rest":[{{"security":{{"extension":[{{"url":"{OAUTH_URIS}","extension":[{{"url":"authorize","valueUri":"/auth"}},{{"url":"token","valueUri":"{token}"}}]}}]}}}}]}}"#
            )
        };
        let c = process_metadata(&iss(), &ehr(), &json(&body("token"))).unwrap();
        assert_eq!(c.token_endpoint, "https://ehr.example/fhir/token");
        assert_eq!(c.authorization_endpoint, "https://ehr.example/auth");
        assert!(matches!(
            process_metadata(&iss(), &ehr(), &json(&body("https://evil.example/token"))),
            Err(DiscoveryError::ForeignEndpoint { name, .. }) if name == "token_endpoint"
        ));
        let listed = ehr_with(r#","extra_origins":["https://evil.example"]"#);
        assert!(
            process_metadata(&iss(), &listed, &json(&body("https://evil.example/token"))).is_ok()
        );
    }

    /// RFC 9207 §3's flag: booleans, or booleans written as strings; anything else is refused
    /// (reading it as `false` would switch the callback's `iss` requirement off).
    #[test]
    fn reads_the_iss_parameter_flag() {
        let with = |v: &str| {
            let body = format!(
                r#"{{{GOOD},"code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":{v}}}"#
            );
            process_well_known(&iss(), &ehr(), &json(&body))
                .map(|c| c.authorization_response_iss_parameter_supported)
        };
        assert_eq!(with("true"), Ok(true));
        assert_eq!(with(r#""TRUE""#), Ok(true));
        assert_eq!(with("false"), Ok(false));
        assert_eq!(with(r#""false""#), Ok(false));
        assert_eq!(with("null"), Ok(false));
        for bad in ["1", r#""yes""#] {
            assert!(
                matches!(with(bad), Err(DiscoveryError::BadField { ref field, .. }) if field == "authorization_response_iss_parameter_supported"),
                "{bad}"
            );
        }
        let silent = format!(r#"{{{GOOD},"code_challenge_methods_supported":["S256"]}}"#);
        let c = process_well_known(&iss(), &ehr(), &json(&silent)).unwrap();
        assert!(!c.authorization_response_iss_parameter_supported);
    }

    #[test]
    fn pkce_methods_must_be_advertised_unless_the_entry_opts_out() {
        let silent = format!("{{{GOOD}}}");
        let e = process_well_known(&iss(), &ehr(), &json(&silent)).unwrap_err();
        assert_eq!(e, DiscoveryError::PkceNotAdvertised);
        assert!(e.to_string().contains("code_challenge_methods_supported"));
        let legacy = ehr_with(r#","require_pkce_advertised":false"#);
        let c = process_well_known(&iss(), &legacy, &json(&silent)).unwrap();
        assert_eq!(c.code_challenge_methods_supported, None);
        // The opt-out does not admit a server that lists methods without S256.
        let plain = format!(r#"{{{GOOD},"code_challenge_methods_supported":["plain"]}}"#);
        assert!(matches!(
            process_well_known(&iss(), &legacy, &json(&plain)),
            Err(DiscoveryError::NoS256(_))
        ));
    }
}
