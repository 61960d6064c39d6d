//! EHR profiles (`--profile NAME`): the sandbox behaving as a real EHR does where it bends the
//! SMART App Launch specification, so the app meets those ways before a clinician does. `spec`
//! (the default) follows the specification closely. Each behaviour below names its source: the
//! EHRs' developer documentation, their live discovery documents, the SMART launcher's source,
//! or issues that users of SMART client libraries reported.
//!
//! Where an EHR's authorization server lies on another host (Oracle Health, athenahealth), the
//! sandbox serves it on a second loopback port: another origin, which the app's configuration
//! entry must name in `extra_origins`.
//!
//! Not imitated (the app's README says what it does about each): Oracle's refresh throttling
//! (its limit and answer are not documented); Epic Hyperspace sharing sessionStorage between
//! tabs (a browser's behaviour, not a server's: the app's end-to-end test imitates it in the
//! browser); Epic's per-client endpoints behind `Epic-Client-ID` and its XML `metadata` (the
//! app always asks for JSON).

use serde_json::{json, Value};

use crate::scopes::{self, Scope};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// The specification as written.
    #[default]
    Spec,
    /// Epic (fhir.epic.com, "OAuth 2.0" and its tutorial):
    /// - the authorization server on another path: `/oauth2/authorize`, `/oauth2/token`;
    /// - the token response: `token_type` "bearer", `need_patient_banner` as a string, fields of
    ///   its own (`__epic.dstu2.patient`, `location`, `loginDepartment`, `state`), the granted
    ///   scope per resource without prefix, in mixed case, with a trailing space
    ///   (`Patient.read Patient.search `);
    /// - no refresh token for a public client;
    /// - id_tokens whose `iss` is the sign-in server (`…/oauth2`), with a padded base64 `kid`
    ///   and a five-minute `exp`;
    /// - `launch` values that are long JWTs; an authorize query over IIS's 2048 bytes refused
    ///   with a 404 page; a bad `aud` answered with an HTML page, not an error redirect;
    /// - FHIR 403s with no body, `insufficient_scope` in `WWW-Authenticate`.
    Epic,
    /// Oracle Health (fhir.cerner.com authorization.md, openid-connect.md; Oracle forums):
    /// - the authorization server on another host (`{auth}/tenants/{t}/protocols/oauth2/…`);
    /// - `.well-known` without `code_challenge_methods_supported` (its 2024 documents), though
    ///   PKCE is enforced;
    /// - access tokens of 570 s; a refresh keeps the refresh token (none in its answer, the old
    ///   one stays valid); fields of its own (`user`, `tenant`, `username`);
    /// - id_tokens with a timestamp `kid`, issued by `{auth}/tenants/{t}/oidc/idsps/{t}/`
    ///   (trailing slash), from a JWKS that mixes EC and RSA keys without `alg` or `use`;
    /// - the granted scope per type, no wildcards, cut down to the role (no
    ///   `AllergyIntolerance`), enforced with 403s whose body is JSON but not FHIR
    ///   (`{"code":403,"message":…}`);
    /// - FHIR 401s without CORS headers (a browser reports a network failure); 406 to an
    ///   `Accept` without JSON, and for a Binary an `Accept` that names neither
    ///   `application/fhir+json` nor its own type.
    Oracle,
    /// athenahealth athenaOne (docs.athenahealth.com; smart-on-fhir/client-js#174): the authorization
    /// server on another host (`{auth}/oauth2/v1/authorize`, `/token`), which is also the
    /// id_token issuer; `.well-known` without `code_challenge_methods_supported` though PKCE is
    /// enabled, and without `refresh_token` in `grant_types_supported`; the JWKS answers only
    /// with `?client_id=` (400 without).
    Athena,
    /// Veradigm (Allscripts developer program, "Authorization"): the IdentityServer endpoints
    /// `/authorization/connect/authorize` and `/authorization/connect/token` on the FHIR host,
    /// access tokens of 1200 s, a refresh token only for `offline_access` (not
    /// `online_access`), rotated at each use; IdentityServer4's default limits (inferred, not
    /// documented by Veradigm): a scope over 300 characters is refused (`invalid_scope`), a
    /// redirect URI over 400 gets an error page.
    Veradigm,
    /// MEDITECH (third-party probes of its Expanse API, lower confidence): the SMART
    /// configuration only at the host's root (`/.well-known/smart-configuration`), not under
    /// the FHIR base, so a client asking under the base meets a 404 and reads `metadata`
    /// (anonymous, with the `oauth-uris` extension); authorize and token under `/oauth`.
    Meditech,
    /// The SMART reference launcher (smart-launcher-v2, backend/): id_tokens without `kid`, the
    /// JWKS at `/keys`, `fhirUser` relative to the FHIR base, the scope echoed as requested,
    /// refresh tokens that stay valid after use (no rotation), and 401s in plain text.
    Launcher,
}

impl Profile {
    pub const NAMES: &'static [&'static str] = &[
        "spec", "epic", "oracle", "veradigm", "athena", "meditech", "launcher",
    ];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "spec" => Ok(Self::Spec),
            "epic" => Ok(Self::Epic),
            "oracle" => Ok(Self::Oracle),
            "athena" => Ok(Self::Athena),
            "veradigm" => Ok(Self::Veradigm),
            "meditech" => Ok(Self::Meditech),
            "launcher" => Ok(Self::Launcher),
            other => Err(format!(
                "unknown --profile {other:?} (one of {})",
                Self::NAMES.join(", ")
            )),
        }
    }

    /// Where the authorize and token endpoints lie (below the sandbox's origin).
    pub fn auth_path(self) -> &'static str {
        match self {
            Self::Epic => "/oauth2",
            Self::Oracle => "/tenants/t1/protocols/oauth2/profiles/smart-v1",
            Self::Athena => "/oauth2/v1",
            Self::Veradigm => "/authorization/connect",
            Self::Meditech => "/oauth",
            Self::Spec | Self::Launcher => "/auth",
        }
    }

    /// Where the JWKS lies (below the sandbox's origin).
    pub fn jwks_path(self) -> &'static str {
        match self {
            Self::Launcher => "/keys",
            Self::Oracle => "/jwk",
            Self::Athena => "/oauth2/v1/keys",
            _ => "/jwks",
        }
    }

    /// Whether the authorization server (authorize, token, JWKS) lies on another origin.
    pub fn auth_on_another_origin(self) -> bool {
        matches!(self, Self::Oracle | Self::Athena)
    }

    /// The issuer id_tokens name, for a sandbox whose FHIR base is `fhir_base` at `origin`,
    /// with its authorization server at `auth` (the same origin, or another).
    pub fn id_token_issuer(self, origin: &str, auth: &str, fhir_base: &str) -> String {
        match self {
            Self::Epic => format!("{origin}/oauth2"),
            Self::Oracle => format!("{auth}/tenants/t1/oidc/idsps/t1/"),
            Self::Athena => format!("{auth}/oauth2"),
            _ => fhir_base.to_string(),
        }
    }

    /// Whether `.well-known` lists `code_challenge_methods_supported` (PKCE is enforced either
    /// way).
    pub fn advertises_pkce(self) -> bool {
        !matches!(self, Self::Oracle | Self::Athena)
    }

    /// Whether a refresh answers with a new refresh token.
    pub fn refresh_returns_refresh_token(self) -> bool {
        !matches!(self, Self::Oracle)
    }

    /// Whether the JWKS answers only with `?client_id=`.
    pub fn jwks_needs_client_id(self) -> bool {
        matches!(self, Self::Athena)
    }

    /// The `kid` id_tokens carry for the signer's key `kid`; the JWKS publishes the same.
    pub fn key_id(self, kid: &str) -> Option<String> {
        match self {
            // Base64 of a SHA-256 with its padding (44 characters).
            Self::Epic => Some(format!("{kid}=")),
            // A key's creation time.
            Self::Oracle => Some("1700000000000".into()),
            Self::Launcher => None,
            _ => Some(kid.to_string()),
        }
    }

    /// How long an id_token is valid, for an access token of `lifetime_s`.
    pub fn id_token_lifetime(self, lifetime_s: u64) -> u64 {
        match self {
            Self::Epic => 300,
            _ => lifetime_s.max(300),
        }
    }

    /// `fhirUser` for the user's `reference` (`Practitioner/x`).
    pub fn fhir_user(self, fhir_base: &str, reference: &str) -> String {
        match self {
            Self::Launcher => reference.to_string(),
            _ => format!("{fhir_base}/{reference}"),
        }
    }

    /// Whether a public client gets a refresh token when it asked for `online_access` or
    /// `offline_access`.
    pub fn refreshes_public_clients(self) -> bool {
        !matches!(self, Self::Epic)
    }

    /// Whether `online_access` earns a refresh token (else only `offline_access` does).
    pub fn refreshes_online_access(self) -> bool {
        !matches!(self, Self::Veradigm)
    }

    /// Access token lifetime when `--token-lifetime` does not set one.
    pub fn default_token_lifetime_s(self) -> u64 {
        match self {
            Self::Veradigm => 1200,
            Self::Oracle => 570,
            _ => 3600,
        }
    }

    /// Where the SMART configuration is served: under the FHIR base (the specification), or
    /// only at the host's root.
    pub fn well_known_at_root(self) -> bool {
        matches!(self, Self::Meditech)
    }

    /// Whether a used refresh token is replaced (and its reuse refused, RFC 9700 §4.14.2).
    pub fn rotates_refresh_tokens(self) -> bool {
        !matches!(self, Self::Launcher | Self::Oracle)
    }

    /// The JWKS as this EHR publishes the signer's `jwks`.
    pub fn jwks(self, jwks: Value) -> Value {
        let mut out = jwks;
        if self == Self::Oracle {
            if let Some(keys) = out["keys"].as_array_mut() {
                for k in keys.iter_mut().filter_map(Value::as_object_mut) {
                    k.remove("alg");
                    k.remove("use");
                }
                // An EC key first, as Oracle's shared JWKS lists several kinds.
                keys.insert(
                    0,
                    json!({"kty": "EC", "crv": "P-256", "kid": "1699990000000",
                           "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
                );
            }
        }
        if let Some(keys) = out["keys"].as_array_mut() {
            for k in keys.iter_mut().filter(|k| k["kty"] == "RSA") {
                match k["kid"].as_str().map(|kid| self.key_id(kid)) {
                    Some(Some(kid)) => k["kid"] = json!(kid),
                    Some(None) => {
                        if let Some(o) = k.as_object_mut() {
                            o.remove("kid");
                        }
                    }
                    None => {}
                }
            }
        }
        out
    }

    /// Whether FHIR's 401s go without CORS headers (Oracle: smart-on-fhir/client-js#83, #97),
    /// so that a browser reports them as a network failure, not as a 401.
    pub fn hides_fhir_401s(self) -> bool {
        matches!(self, Self::Oracle)
    }

    /// Whether FHIR answers 406 to an `Accept` without JSON (Oracle, millennium/r4.md; for a
    /// Binary, its own content type is accepted too).
    pub fn strict_accept(self) -> bool {
        matches!(self, Self::Oracle)
    }

    /// The resource type the imitated user's role may not read, withheld from the granted scope
    /// and refused with a 403 (Oracle returns a scope cut down to what the role allows).
    pub fn withheld_type(self) -> Option<&'static str> {
        match self {
            Self::Oracle => Some("AllergyIntolerance"),
            _ => None,
        }
    }

    /// The granted scope as this EHR narrows it: Oracle grants no wildcards (its
    /// authorization.md), so `patient/*.rs` becomes one scope per type, less the withheld one.
    pub fn narrow_grant(self, granted: Vec<String>) -> Vec<String> {
        let Some(withheld) = self.withheld_type() else {
            return granted;
        };
        let mut out = Vec::new();
        for s in granted {
            match scopes::parse(&s) {
                Some(Scope::Resource(r)) => {
                    let (level, perms) = s.split_once('/').map_or(("patient", ""), |(l, rest)| {
                        (l, rest.split_once('.').map_or("", |(_, p)| p))
                    });
                    for t in covered(&r.resource_type).filter(|t| *t != withheld) {
                        let piece = format!("{level}/{t}.{perms}");
                        if !out.contains(&piece) {
                            out.push(piece);
                        }
                    }
                }
                _ => out.push(s),
            }
        }
        out
    }

    /// Whether a bad `aud` gets an HTML page at the authorize endpoint instead of an error
    /// redirect (Epic, "OAuth 2.0": the same as for a bad `redirect_uri`).
    pub fn aud_error_is_a_page(self) -> bool {
        matches!(self, Self::Epic)
    }

    /// Length limits at the authorize endpoint: (whole query, `scope`, `redirect_uri`). Epic
    /// runs on IIS, whose default `maxQueryString` is 2048 bytes (Epic warns that a long
    /// `state` with a JWT launch token goes over); Veradigm's IdentityServer refuses a scope over
    /// 300 characters and a redirect URI over 400 (IdentityServer4's `InputLengthRestrictions`).
    pub fn authorize_limits(self) -> (Option<usize>, Option<usize>, Option<usize>) {
        match self {
            Self::Epic => (Some(2048), None, None),
            Self::Veradigm => (None, Some(300), Some(400)),
            _ => (None, None, None),
        }
    }

    /// The `launch` value for a launch the sandbox knows as `id`: Epic's are long JWTs (its
    /// OAuth documentation; smart-on-fhir/client-js#101), here about 900 characters shaped as one.
    pub fn launch_token(self, id: &str) -> String {
        use base64::Engine;
        if self != Self::Epic {
            return id.to_string();
        }
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = json!({"launch": id, "iss": "epic", "ctx": "x".repeat(560)});
        format!(
            "{}.{}.{}",
            b64(&json!({"alg": "RS256", "typ": "JWT"})),
            b64(&claims),
            "s".repeat(86)
        )
    }

    /// The `id` a `launch` value stands for (the inverse of [`Profile::launch_token`]).
    pub fn launch_id(self, token: &str) -> Option<String> {
        use base64::Engine;
        if self != Self::Epic {
            return Some(token.to_string());
        }
        let claims = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        v["launch"].as_str().map(str::to_string)
    }

    /// A FHIR error as this EHR writes it, in place of the OperationOutcome the sandbox made
    /// (`None`: the OperationOutcome stands).
    /// - Epic: a 403 with no body, `insufficient_scope` in `WWW-Authenticate` ("OAuth 2.0").
    /// - Oracle: a 403 whose body is JSON but not FHIR, `{"code":403,"message":…}` (Oracle
    ///   forums); its 401 is an OperationOutcome (code `login`), as the sandbox's own.
    /// - The SMART launcher: a 401 in plain text (backend/).
    pub fn fhir_error(self, status: u16, diagnostics: &str) -> Option<FhirErrorShape> {
        match (self, status) {
            (Self::Epic, 403) => Some(FhirErrorShape {
                content_type: None,
                body: String::new(),
                www_authenticate: Some("Bearer error=\"insufficient_scope\"".into()),
            }),
            (Self::Oracle, 403) => Some(FhirErrorShape {
                content_type: Some("application/json"),
                body: json!({"code": 403, "message": format!("insufficient_scope: {diagnostics}")})
                    .to_string(),
                www_authenticate: None,
            }),
            (Self::Launcher, 401) => Some(FhirErrorShape {
                content_type: Some("text/plain"),
                body: format!("Unauthorized: {diagnostics}"),
                www_authenticate: None,
            }),
            _ => None,
        }
    }

    /// The token response as this EHR shapes it (the values the spec profile computed).
    pub fn shape_token_response(self, body: &mut Value, granted: &[String]) {
        if self == Self::Oracle {
            body["user"] = json!("12345");
            body["tenant"] = json!("t1");
            body["username"] = json!("portal");
            return;
        }
        if self != Self::Epic {
            return;
        }
        body["token_type"] = json!("bearer");
        if let Some(b) = body["need_patient_banner"].as_bool() {
            body["need_patient_banner"] = json!(b.to_string());
        }
        body["scope"] = json!(epic_scope(granted));
        if let Some(p) = body["patient"].as_str().map(str::to_string) {
            body["__epic.dstu2.patient"] = json!(format!("T{p}"));
        }
        body["location"] = json!("e4W4rmGe9QzuGm2Dy4NBqVc0KDe6yGEd");
        body["loginDepartment"] = json!("e8TXhpEpSfTM4Iwv0vqvLnQ3");
    }
}

/// A FHIR error's body and headers as an EHR writes them ([`Profile::fhir_error`]).
pub struct FhirErrorShape {
    pub content_type: Option<&'static str>,
    pub body: String,
    pub www_authenticate: Option<String>,
}

/// The resource types a scope's type covers: every type the sandbox serves for `*`.
fn covered(resource_type: &str) -> impl Iterator<Item = &str> {
    let all = resource_type == "*";
    crate::data::RESOURCE_TYPES
        .iter()
        .copied()
        .filter(move |_| all)
        .chain((!all).then_some(resource_type))
}

/// The granted scope as Epic writes it: the context scopes as requested, each clinical scope as
/// `Type.read Type.search` (every type a wildcard covers), `Read` capitalised on every other
/// type, and a trailing space.
fn epic_scope(granted: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut n = 0;
    for s in granted {
        match scopes::parse(s) {
            Some(Scope::Resource(r)) if r.read || r.search => {
                for t in covered(&r.resource_type) {
                    let read = if n % 2 == 0 { "read" } else { "Read" };
                    n += 1;
                    for piece in [format!("{t}.{read}"), format!("{t}.search")] {
                        if !out.contains(&piece) {
                            out.push(piece);
                        }
                    }
                }
            }
            _ => out.push(s.clone()),
        }
    }
    let mut text = out.join(" ");
    text.push(' ');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes() {
        assert_eq!(Profile::parse("epic"), Ok(Profile::Epic));
        assert!(Profile::parse("cerner").is_err());
        let granted: Vec<String> = ["launch", "openid", "patient/Observation.rs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut body =
            json!({"token_type": "Bearer", "need_patient_banner": false, "patient": "p1"});
        Profile::Epic.shape_token_response(&mut body, &granted);
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["need_patient_banner"], "false");
        assert_eq!(body["__epic.dstu2.patient"], "Tp1");
        assert_eq!(
            body["scope"],
            "launch openid Observation.read Observation.search "
        );
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "abc", "n": "x", "e": "AQAB"}]});
        assert_eq!(Profile::Epic.jwks(jwks.clone())["keys"][0]["kid"], "abc=");
        let oracle = Profile::Oracle.jwks(json!({"keys": [{"kty": "RSA", "kid": "abc", "alg": "RS256", "use": "sig", "n": "x", "e": "AQAB"}]}));
        assert_eq!(oracle["keys"][0]["kty"], "EC");
        assert_eq!(oracle["keys"][0]["kid"], "1699990000000");
        assert_eq!(oracle["keys"][1]["kid"], "1700000000000");
        assert!(oracle["keys"][1].get("alg").is_none() && oracle["keys"][1].get("use").is_none());
        for name in Profile::NAMES {
            assert!(Profile::parse(name).is_ok(), "{name}");
        }
        assert!(Profile::Launcher.jwks(jwks)["keys"][0].get("kid").is_none());
    }

    #[test]
    fn grants_launch_tokens_and_errors() {
        let granted: Vec<String> = ["launch", "patient/*.read", "patient/Condition.rs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let narrowed = Profile::Oracle.narrow_grant(granted.clone());
        assert!(narrowed.contains(&"patient/Observation.read".to_string()));
        assert!(narrowed.contains(&"patient/Condition.rs".to_string()));
        assert!(narrowed.contains(&"launch".to_string()));
        assert!(!narrowed
            .iter()
            .any(|s| s.contains('*') || s.contains("AllergyIntolerance")));
        assert_eq!(Profile::Spec.narrow_grant(granted.clone()), granted);

        let token = Profile::Epic.launch_token("abc");
        assert!(token.len() > 900, "{}", token.len());
        assert_eq!(Profile::Epic.launch_id(&token).as_deref(), Some("abc"));
        assert_eq!(Profile::Epic.launch_id("abc"), None);
        assert_eq!(Profile::Spec.launch_token("abc"), "abc");

        let epic = Profile::Epic.fhir_error(403, "no").unwrap();
        assert!(epic.body.is_empty() && epic.content_type.is_none());
        let oracle = Profile::Oracle.fhir_error(403, "no").unwrap();
        assert_eq!(
            oracle.body,
            r#"{"code":403,"message":"insufficient_scope: no"}"#
        );
        assert!(
            Profile::Oracle.fhir_error(401, "no").is_none(),
            "an OperationOutcome"
        );
        assert_eq!(
            Profile::Launcher
                .fhir_error(401, "no")
                .unwrap()
                .content_type,
            Some("text/plain")
        );
        assert!(Profile::Spec.fhir_error(403, "no").is_none());
    }
}
