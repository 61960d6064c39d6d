//! Discovery (SMART App Launch 2.2 §"Conformance"): `GET {iss}/.well-known/smart-configuration`,
//! falling back to `GET {iss}/metadata` and its `oauth-uris` extension for SMART v1 servers.
//! Every answer is checked before it is believed (SECURITY.md, "Discovery").

use crate::json::Json;
use crate::url::Url;

use crate::platform::{HttpRequest, HttpResponse, NetError};
use crate::smart::config::Issuer;

const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    WellKnown,
    Metadata,
}

/// What the app needs from the server's SMART configuration, with endpoints already resolved
/// against the FHIR base and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartConfiguration {
    /// `issuer` as advertised (the id_token issuer); the FHIR base when not given.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: Option<String>,
    pub capabilities: Vec<String>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
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

    /// The stored form, inside the pending authorization (sessionStorage).
    pub fn to_json(&self) -> Json {
        let list = |l: &[String]| Json::Array(l.iter().map(|c| c.as_str().into()).collect());
        Json::object([
            ("issuer", self.issuer.as_str().into()),
            (
                "authorization_endpoint",
                self.authorization_endpoint.as_str().into(),
            ),
            ("token_endpoint", self.token_endpoint.as_str().into()),
            ("jwks_uri", self.jwks_uri.clone().into()),
            ("capabilities", list(&self.capabilities)),
            (
                "code_challenge_methods_supported",
                self.code_challenge_methods_supported
                    .as_deref()
                    .map_or(Json::Null, list),
            ),
            (
                "source",
                match self.source {
                    Source::WellKnown => "WellKnown",
                    Source::Metadata => "Metadata",
                }
                .into(),
            ),
        ])
    }

    /// Reads [`SmartConfiguration::to_json`]'s output back; `None` if it was tampered with.
    pub fn from_json(v: &Json) -> Option<Self> {
        let list = |v: &Json| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|c| c.as_str().map(str::to_string))
                .collect()
        };
        Some(SmartConfiguration {
            issuer: v.string("issuer")?,
            authorization_endpoint: v.string("authorization_endpoint")?,
            token_endpoint: v.string("token_endpoint")?,
            jwks_uri: v.opt_string("jwks_uri")?,
            capabilities: list(&v["capabilities"])?,
            code_challenge_methods_supported: match &v["code_challenge_methods_supported"] {
                Json::Null => None,
                l => Some(list(l)?),
            },
            source: match v["source"].as_str()? {
                "WellKnown" => Source::WellKnown,
                "Metadata" => Source::Metadata,
                _ => return None,
            },
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    WrongShape { url: String, expected: &'static str },
    #[error("the server's SMART configuration has no {0}")]
    MissingEndpoint(&'static str),
    #[error("the server's {name} {value:?} is not an http(s) URL")]
    BadEndpoint { name: &'static str, value: String },
    #[error("the server does not support PKCE with S256 (it lists {0:?}); this app never launches without it")]
    NoS256(Vec<String>),
    #[error("SMART discovery failed. .well-known: {well_known}; metadata: {metadata}")]
    Both {
        well_known: Box<DiscoveryError>,
        metadata: Box<DiscoveryError>,
    },
}

pub fn well_known_request(iss: &Issuer) -> HttpRequest {
    HttpRequest::get(
        format!("{}/.well-known/smart-configuration", iss.as_str()),
        "application/json",
    )
}

pub fn metadata_request(iss: &Issuer) -> HttpRequest {
    HttpRequest::get(
        format!("{}/metadata", iss.as_str()),
        "application/fhir+json",
    )
}

fn json_object(
    url: &str,
    res: &HttpResponse,
    expected: &'static str,
) -> Result<Json, DiscoveryError> {
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
    let v: Json = Json::parse(&res.body).map_err(|e| DiscoveryError::NotJson {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(DiscoveryError::WrongShape {
            url: url.to_string(),
            expected,
        });
    }
    Ok(v)
}

/// Resolves an advertised endpoint against the FHIR base and insists on http(s).
fn endpoint(
    iss: &Issuer,
    name: &'static str,
    value: Option<&Json>,
) -> Result<String, DiscoveryError> {
    let raw = match value {
        None | Some(Json::Null) => return Err(DiscoveryError::MissingEndpoint(name)),
        Some(Json::String(s)) if !s.trim().is_empty() => s.trim(),
        Some(other) => {
            return Err(DiscoveryError::BadEndpoint {
                name,
                value: other.to_text(),
            })
        }
    };
    let url = iss
        .base_dir()
        .join(raw)
        .map_err(|_| DiscoveryError::BadEndpoint {
            name,
            value: raw.to_string(),
        })?;
    check_scheme(iss, name, &url)?;
    Ok(url.to_string())
}

fn check_scheme(iss: &Issuer, name: &'static str, url: &Url) -> Result<(), DiscoveryError> {
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
            name,
            value: url.to_string(),
        })
    }
}

fn strings(v: &Json) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

fn require_s256(methods: &Option<Vec<String>>) -> Result<(), DiscoveryError> {
    match methods {
        Some(m) if !m.iter().any(|x| x == "S256") => Err(DiscoveryError::NoS256(m.clone())),
        _ => Ok(()),
    }
}

/// Checks a `.well-known/smart-configuration` answer.
pub fn process_well_known(
    iss: &Issuer,
    res: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let url = well_known_request(iss).url;
    let v = json_object(&url, res, "SMART configuration object")?;
    let methods = strings(&v["code_challenge_methods_supported"]);
    let config = SmartConfiguration {
        issuer: v["issuer"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| iss.as_str().to_string()),
        authorization_endpoint: endpoint(
            iss,
            "authorization_endpoint",
            v.get("authorization_endpoint"),
        )?,
        token_endpoint: endpoint(iss, "token_endpoint", v.get("token_endpoint"))?,
        jwks_uri: match v.get("jwks_uri") {
            None | Some(Json::Null) => None,
            some => Some(endpoint(iss, "jwks_uri", some)?),
        },
        capabilities: strings(&v["capabilities"]).unwrap_or_default(),
        code_challenge_methods_supported: methods,
        source: Source::WellKnown,
    };
    require_s256(&config.code_challenge_methods_supported)?;
    Ok(config)
}

/// Checks a CapabilityStatement and reads the `oauth-uris` extension (SMART App Launch 1.0).
pub fn process_metadata(
    iss: &Issuer,
    res: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let url = metadata_request(iss).url;
    let v = json_object(&url, res, "CapabilityStatement")?;
    if v["resourceType"] != "CapabilityStatement" {
        return Err(DiscoveryError::WrongShape {
            url,
            expected: "CapabilityStatement",
        });
    }
    let ext = v["rest"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["security"]["extension"].as_array().into_iter().flatten())
        .find(|e| e["url"] == OAUTH_URIS);
    let find = |name: &str| -> Option<Json> {
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
            "authorization_endpoint",
            find("authorize").as_ref(),
        )?,
        token_endpoint: endpoint(iss, "token_endpoint", find("token").as_ref())?,
        jwks_uri: None,
        // A v1 server's scopes are v1; PKCE is still required of it (S256 is always sent).
        capabilities: Vec::new(),
        code_challenge_methods_supported: None,
        source: Source::Metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iss() -> Issuer {
        Issuer::parse("https://ehr.example/fhir").unwrap()
    }

    fn json(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            www_authenticate: None,
            body: body.into(),
        }
    }

    #[test]
    fn resolves_relative_endpoints_against_the_base() {
        let c = process_well_known(
            &iss(),
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
            process_well_known(&iss(), &html),
            Err(DiscoveryError::Html { .. })
        ));
        let not_found = HttpResponse {
            status: 404,
            ..json("{}")
        };
        assert!(matches!(
            process_well_known(&iss(), &not_found),
            Err(DiscoveryError::Status { status: 404, .. })
        ));
        assert!(matches!(
            process_well_known(&iss(), &json("{\"a\":")),
            Err(DiscoveryError::NotJson { .. })
        ));
        assert!(matches!(
            process_well_known(&iss(), &json("[1,2]")),
            Err(DiscoveryError::WrongShape { .. })
        ));
        assert_eq!(
            process_well_known(
                &iss(),
                &json(r#"{"token_endpoint":"https://ehr.example/t"}"#)
            ),
            Err(DiscoveryError::MissingEndpoint("authorization_endpoint"))
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
                    process_well_known(&iss(), &json(&body)),
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
        let c = process_metadata(&iss(), &json(body)).unwrap();
        assert_eq!(c.authorization_endpoint, "https://ehr.example/auth");
        assert_eq!(c.source, Source::Metadata);
        assert!(!c.supports_v2_scopes());
        let no_ext = r#"{"resourceType":"CapabilityStatement","rest":[{}]}"#;
        assert_eq!(
            process_metadata(&iss(), &json(no_ext)),
            Err(DiscoveryError::MissingEndpoint("authorization_endpoint"))
        );
        assert!(matches!(
            process_metadata(&iss(), &json(r#"{"resourceType":"Patient"}"#)),
            Err(DiscoveryError::WrongShape { .. })
        ));
    }
}
