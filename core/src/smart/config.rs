//! The app's configuration (`public/config.json`): the EHRs it may launch against, each with its
//! FHIR base (`iss`), registered `client_id`, requested scopes and optional `redirect_uri`.
//! `client_id`, `redirect_uri` and scopes come from here only, never from URL parameters
//! (SECURITY.md, "Launch").

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::http_url::{HttpUrl, UrlError};
use crate::smart::fields::{self, FieldError, Step};

/// A FHIR base URL in the one form issuers are compared in: parsed (so scheme and host are
/// lower-cased, default ports dropped and dot segments resolved), without user info, query or
/// fragment, and with one trailing slash removed from the path. So `https://ehr.example/fhir/`
/// and `HTTPS://EHR.example:443/fhir` are the same issuer; `https://ehr.example/fhir2` is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(HttpUrl);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("{0:?} is not a URL")]
    NotAUrl(String),
    #[error("{0:?} must use https (or http on localhost)")]
    Scheme(String),
    #[error("{0:?} must not carry user info, a query or a fragment")]
    Extra(String),
}

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, IssuerError> {
        let url = HttpUrl::parse(s.trim()).map_err(|e| match e {
            UrlError::Credentials => IssuerError::Extra(s.to_string()),
            UrlError::NotHttp if s.contains("://") => IssuerError::Scheme(s.to_string()),
            _ => IssuerError::NotAUrl(s.to_string()),
        })?;
        let local = matches!(url.host(), "localhost" | "127.0.0.1" | "[::1]");
        if url.scheme() == "http" && !local {
            return Err(IssuerError::Scheme(s.to_string()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerError::Extra(s.to_string()));
        }
        let path = url.path().strip_suffix('/').unwrap_or(url.path());
        Ok(Self(url.with_path(path)))
    }

    /// The canonical text: no trailing slash (`https://ehr.example/fhir`).
    pub fn as_str(&self) -> &str {
        self.0.as_str().strip_suffix('/').unwrap_or(self.0.as_str())
    }

    pub fn url(&self) -> &HttpUrl {
        &self.0
    }

    /// The base as a directory, so relative references resolve beneath it.
    pub fn base_dir(&self) -> HttpUrl {
        if self.0.path().ends_with('/') {
            self.0.clone()
        } else {
            self.0.with_path(&format!("{}/", self.0.path()))
        }
    }
}

/// One EHR the app may launch against: one entry of `config.json`'s `ehrs`. Unknown members
/// are ignored; the flags default to true.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EhrConfig {
    /// Stable key, e.g. `sandbox`.
    pub id: String,
    /// Shown in the EHR picker.
    pub name: String,
    /// The FHIR base URL, compared with the launch's `iss`.
    pub iss: String,
    pub client_id: String,
    /// Clinical scopes in SMART v2 syntax (`patient/Observation.rs`); sent as v1 (`.read`) to
    /// servers that do not advertise `permission-v2`. `launch`/`launch/patient`, `openid` and
    /// `fhirUser` are added by the launch itself.
    pub scopes: String,
    /// Whether a standalone launch asks the EHR for a patient (`launch/patient`). Off for a
    /// clinician's launch with `user/` scopes: the app then offers patient search.
    /// Default: true.
    #[serde(default = "yes", deserialize_with = "flag")]
    pub standalone_patient: bool,
    /// Overrides the redirect URI (default: this page's URL without its query).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// A disabled entry is listed in the file as an example and ignored.
    /// Default: true.
    #[serde(default = "yes", deserialize_with = "flag")]
    pub enabled: bool,
    /// Other origins this EHR's endpoints may lie on (an authorization server on another
    /// host), in their serialised form (`https://auth.ehr.example`). Discovery refuses an
    /// endpoint anywhere else; the app host also allows them in its Content-Security-Policy.
    #[serde(default)]
    pub extra_origins: Vec<String>,
    /// Whether `.well-known/smart-configuration` must list `code_challenge_methods_supported`
    /// (SMART App Launch 2.2 makes it required). `false` admits a legacy server that omits it;
    /// the app still sends S256 there. Default: true.
    #[serde(default = "yes", deserialize_with = "flag")]
    pub require_pkce_advertised: bool,
    /// The issuer this EHR's id_tokens name, when it is neither the `issuer` of its SMART
    /// configuration nor its FHIR base (Epic's OpenID issuer is its `…/oauth2` path). Only this
    /// value is then accepted as the id_token's `iss` (and as a callback's RFC 9207 `iss`).
    #[serde(default)]
    pub id_token_issuer: Option<String>,
    /// Whether the JWKS is asked for with `?client_id=` (athenahealth answers only then). The
    /// client id is public; other servers may not expect the parameter. Default: false.
    #[serde(default)]
    pub jwks_client_id: bool,
}

/// `true` when absent or `null`: the default of every flag.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

fn yes() -> bool {
    true
}

/// `config.json` as a whole: the entries, each checked as an [`EhrConfig`].
#[derive(Deserialize)]
struct ConfigFile {
    ehrs: Vec<EhrConfig>,
}

/// The message for a field of an entry that is missing or of the wrong type.
fn expectation(field: &str) -> &'static str {
    match field {
        "standalone_patient" | "enabled" | "require_pkce_advertised" | "jwks_client_id" => {
            "must be true or false"
        }
        "extra_origins" => "must be a list of strings",
        _ => "must be a string",
    }
}

/// Where `config.json` does not fit: the entry and the field, for an administrator.
fn shape_error(e: FieldError) -> ConfigError {
    let what = match (e.path.get(1), e.field_at(2)) {
        (Some(Step::Index(n)), Some(field)) => {
            format!("ehrs[{n}]: `{field}` {}", expectation(field))
        }
        (Some(Step::Index(n)), None) => format!("ehrs[{n}]: must be an object"),
        _ => "`ehrs` must be a list".into(),
    };
    ConfigError::Malformed(what)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("the configuration file is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("EHR {id:?}: {source}")]
    BadIssuer { id: String, source: IssuerError },
    #[error("EHR {id:?}: redirect_uri {uri:?} is not an absolute http(s) URL")]
    BadRedirect { id: String, uri: String },
    #[error("EHR {id:?}: extra_origins entry {origin:?} is not an origin (write it as https://host[:port], without a path)")]
    BadOrigin { id: String, origin: String },
    #[error("EHR {id:?}: id_token_issuer {value:?} is not an absolute http(s) URL")]
    BadIdTokenIssuer { id: String, value: String },
    #[error("EHR {0:?}: client_id is empty")]
    NoClient(String),
    #[error("the configuration lists no enabled EHR")]
    Empty,
    #[error("two enabled EHRs share the issuer {0}")]
    DuplicateIssuer(String),
}

/// The parsed and checked configuration: only enabled EHRs, each with a valid issuer.
#[derive(Clone, Debug, PartialEq)]
pub struct Ehrs(Vec<(Issuer, EhrConfig)>);

impl Ehrs {
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let doc: Value =
            serde_json::from_str(json).map_err(|e| ConfigError::Malformed(e.to_string()))?;
        let all = fields::from_value::<ConfigFile>(doc)
            .map_err(shape_error)?
            .ehrs;
        let mut out: Vec<(Issuer, EhrConfig)> = Vec::new();
        for mut ehr in all.into_iter().filter(|e| e.enabled) {
            let issuer = Issuer::parse(&ehr.iss).map_err(|source| ConfigError::BadIssuer {
                id: ehr.id.clone(),
                source,
            })?;
            if ehr.client_id.trim().is_empty() {
                return Err(ConfigError::NoClient(ehr.id));
            }
            if let Some(uri) = &ehr.redirect_uri {
                if HttpUrl::parse(uri).is_err() {
                    return Err(ConfigError::BadRedirect {
                        id: ehr.id.clone(),
                        uri: uri.clone(),
                    });
                }
            }
            if let Some(value) = &ehr.id_token_issuer {
                if HttpUrl::parse(value).is_err() {
                    return Err(ConfigError::BadIdTokenIssuer {
                        id: ehr.id.clone(),
                        value: value.clone(),
                    });
                }
            }
            ehr.extra_origins = ehr
                .extra_origins
                .iter()
                .map(|o| {
                    canonical_origin(o).ok_or_else(|| ConfigError::BadOrigin {
                        id: ehr.id.clone(),
                        origin: o.clone(),
                    })
                })
                .collect::<Result<_, _>>()?;
            if out.iter().any(|(i, _)| *i == issuer) {
                return Err(ConfigError::DuplicateIssuer(issuer.as_str().to_string()));
            }
            out.push((issuer, ehr));
        }
        if out.is_empty() {
            return Err(ConfigError::Empty);
        }
        Ok(Self(out))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Issuer, &EhrConfig)> {
        self.0.iter().map(|(i, e)| (i, e))
    }

    pub fn by_id(&self, id: &str) -> Option<(&Issuer, &EhrConfig)> {
        self.iter().find(|(_, e)| e.id == id)
    }

    /// The configured EHR whose issuer is exactly `iss` (see [`Issuer`] for the one rule).
    pub fn for_issuer(&self, iss: &str) -> Option<(&Issuer, &EhrConfig)> {
        let wanted = Issuer::parse(iss).ok()?;
        self.iter().find(|(i, _)| **i == wanted)
    }
}

/// `https://Auth.Example:443` → `https://auth.example`; `None` for anything with a path, query
/// or fragment (an origin names a server, not a place on it).
fn canonical_origin(s: &str) -> Option<String> {
    let url = HttpUrl::parse(s.trim()).ok()?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    bare.then(|| url.origin())
}

impl EhrConfig {
    /// Whether `url` lies on this EHR's FHIR server origin or on one of its `extra_origins`:
    /// the only places its endpoints may be (SECURITY.md "Discovery"; RFC 9700 §4.4).
    pub fn allows_endpoint(&self, iss: &Issuer, url: &HttpUrl) -> bool {
        let origin = url.origin();
        origin == iss.url().origin() || self.extra_origins.contains(&origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"ehrs":[
        {"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs"},
        {"id":"epic","name":"Epic","iss":"https://fhir.epic.example/api/FHIR/R4/","client_id":"x","scopes":"patient/*.rs","enabled":false}
    ]}"#;

    #[test]
    fn only_enabled_ehrs_count() {
        let e = Ehrs::parse(CONFIG).unwrap();
        assert_eq!(e.iter().count(), 1);
        assert!(e.by_id("epic").is_none());
    }

    #[test]
    fn issuer_match_is_exact_after_parsing() {
        let e = Ehrs::parse(CONFIG).unwrap();
        for same in [
            "http://localhost:9000/fhir",
            "http://localhost:9000/fhir/",
            "HTTP://LOCALHOST:9000/fhir",
            "http://localhost:9000/x/../fhir",
        ] {
            assert!(e.for_issuer(same).is_some(), "{same}");
        }
        for other in [
            "http://localhost:9000/fhir2",
            "http://localhost:9000/FHIR",
            "http://localhost:9001/fhir",
            "https://localhost:9000/fhir",
            "http://localhost:9000/fhir//",
            "http://localhost:9000/fhir?x=1",
            "http://user@localhost:9000/fhir",
            "http://localhost.evil.example:9000/fhir",
            "http://localhost:9000",
            "not a url",
            "",
        ] {
            assert!(e.for_issuer(other).is_none(), "{other}");
        }
    }

    #[test]
    fn bad_configurations_are_refused_clearly() {
        assert!(matches!(Ehrs::parse("{"), Err(ConfigError::Malformed(_))));
        assert_eq!(Ehrs::parse(r#"{"ehrs":[]}"#), Err(ConfigError::Empty));
        let http_remote = r#"{"ehrs":[{"id":"a","name":"A","iss":"http://ehr.example/fhir","client_id":"c","scopes":""}]}"#;
        assert!(matches!(
            Ehrs::parse(http_remote),
            Err(ConfigError::BadIssuer { .. })
        ));
        let no_client = r#"{"ehrs":[{"id":"a","name":"A","iss":"https://ehr.example/fhir","client_id":" ","scopes":""}]}"#;
        assert_eq!(
            Ehrs::parse(no_client),
            Err(ConfigError::NoClient("a".into()))
        );
        let bad_redirect = r#"{"ehrs":[{"id":"a","name":"A","iss":"https://ehr.example/fhir","client_id":"c","scopes":"","redirect_uri":"javascript:alert(1)"}]}"#;
        assert!(matches!(
            Ehrs::parse(bad_redirect),
            Err(ConfigError::BadRedirect { .. })
        ));
        // Wrong shapes name the entry and the field.
        for (doc, says) in [
            (r#"{"ehrs":{}}"#, "`ehrs` must be a list"),
            (r#"{"ehrs":[1]}"#, "ehrs[0]: must be an object"),
            (
                r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e/f","scopes":""}]}"#,
                "ehrs[0]: `client_id` must be a string",
            ),
            (
                r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e/f","client_id":"c","scopes":"","enabled":"yes"}]}"#,
                "ehrs[0]: `enabled` must be true or false",
            ),
            (
                r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e/f","client_id":"c","scopes":"","extra_origins":[1]}]}"#,
                "ehrs[0]: `extra_origins` must be a list of strings",
            ),
            (
                r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e/f","client_id":"c","scopes":"","redirect_uri":7}]}"#,
                "ehrs[0]: `redirect_uri` must be a string",
            ),
        ] {
            assert_eq!(
                Ehrs::parse(doc),
                Err(ConfigError::Malformed(says.into())),
                "{doc}"
            );
        }
        let full = r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e/f","client_id":"c","scopes":"s","standalone_patient":false,"extra_origins":["https://auth.e"]}]}"#;
        let (_, ehr) = Ehrs::parse(full)
            .unwrap()
            .by_id("a")
            .map(|(i, e)| (i.clone(), e.clone()))
            .unwrap();
        assert!(!ehr.standalone_patient && ehr.enabled);
        assert_eq!(ehr.extra_origins, ["https://auth.e"]);
        assert_eq!(ehr.redirect_uri, None);
    }

    #[test]
    fn an_id_token_issuer_must_be_a_url() {
        let entry = |v: &str| {
            format!(
                r#"{{"ehrs":[{{"id":"a","name":"A","iss":"https://e.example/f","client_id":"c","scopes":"","id_token_issuer":{v}}}]}}"#
            )
        };
        let e = Ehrs::parse(&entry(r#""https://e.example/oauth2""#)).unwrap();
        assert_eq!(
            e.by_id("a").unwrap().1.id_token_issuer.as_deref(),
            Some("https://e.example/oauth2")
        );
        assert!(matches!(
            Ehrs::parse(&entry(r#""oauth2""#)),
            Err(ConfigError::BadIdTokenIssuer { .. })
        ));
        assert!(matches!(
            Ehrs::parse(&entry("7")),
            Err(ConfigError::Malformed(_))
        ));
    }

    #[test]
    fn extra_origins_are_origins_in_canonical_form() {
        let doc = |o: &str| {
            format!(
                r#"{{"ehrs":[{{"id":"a","name":"A","iss":"https://e.example/f","client_id":"c","scopes":"","extra_origins":["{o}"]}}]}}"#
            )
        };
        for (given, canonical) in [
            ("https://Auth.Example:443", "https://auth.example"),
            ("https://auth.example/", "https://auth.example"),
            ("http://localhost:9001", "http://localhost:9001"),
        ] {
            let e = Ehrs::parse(&doc(given)).unwrap();
            assert_eq!(
                e.by_id("a").unwrap().1.extra_origins,
                [canonical],
                "{given}"
            );
        }
        for bad in [
            "https://auth.example/oauth",
            "auth.example",
            "https://a.example?x",
            "*",
        ] {
            assert!(
                matches!(Ehrs::parse(&doc(bad)), Err(ConfigError::BadOrigin { .. })),
                "{bad}"
            );
        }
        let legacy = r#"{"ehrs":[{"id":"a","name":"A","iss":"https://e.example/f","client_id":"c","scopes":"","require_pkce_advertised":false}]}"#;
        assert!(
            !Ehrs::parse(legacy)
                .unwrap()
                .by_id("a")
                .unwrap()
                .1
                .require_pkce_advertised
        );
        assert!(
            Ehrs::parse(&doc("https://x.example"))
                .unwrap()
                .by_id("a")
                .unwrap()
                .1
                .require_pkce_advertised
        );
    }

    #[test]
    fn issuer_text_and_base_dir() {
        let i = Issuer::parse("https://EHR.example:443/r4/").unwrap();
        assert_eq!(i.as_str(), "https://ehr.example/r4");
        assert_eq!(i.base_dir().as_str(), "https://ehr.example/r4/");
        let root = Issuer::parse("https://ehr.example").unwrap();
        assert_eq!(root.as_str(), "https://ehr.example");
        assert_eq!(root.base_dir().as_str(), "https://ehr.example/");
    }
}
