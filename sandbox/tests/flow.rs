//! The sandbox over real HTTP on loopback: the code flow with PKCE, each rejection a strict EHR
//! must make, paging, and v1/v2 scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use sandbox::config::Config;
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://localhost:8000/launch.html";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkx";

struct Peer {
    base: String,
    fhir: String,
    /// Where authorize and token lie (`--profile` moves them).
    auth: String,
    http: Client,
    sandbox: std::sync::Arc<sandbox::state::Sandbox>,
}

async fn start(tweak: impl FnOnce(&mut Config)) -> Peer {
    let mut config = Config {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        auto_approve: true,
        log_requests: false,
        big_observations: 1200,
        ..Config::default()
    };
    tweak(&mut config);
    let running = sandbox::spawn(config).await.expect("sandbox starts");
    let base = running.sandbox.config.public_url.clone();
    let config = &running.sandbox.config;
    let auth = format!(
        "{}{}",
        config.auth_url.as_deref().unwrap_or(&base),
        config.profile.auth_path()
    );
    Peer {
        fhir: format!("{base}/fhir"),
        base,
        auth,
        http: Client::builder().redirect(Policy::none()).build().unwrap(),
        sandbox: running.sandbox.clone(),
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl Peer {
    /// The authorize request; `extra` adds parameters, or replaces those of the same name.
    fn authorize_url(&self, scope: &str, extra: &[(&str, &str)]) -> String {
        let verifier_challenge = challenge(VERIFIER);
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", "smart-launch"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s-123"),
            ("aud", &self.fhir),
            ("code_challenge", &verifier_challenge),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            match pairs.iter_mut().find(|(name, _)| name == k) {
                Some(pair) => pair.1 = v,
                None => pairs.push((k, v)),
            }
        }
        let mut u = url::Url::parse(&format!("{}/authorize", self.auth)).unwrap();
        u.query_pairs_mut().extend_pairs(pairs);
        u.to_string()
    }

    /// Follows the authorize request to its redirect; returns the Location.
    async fn authorize(&self, url: &str) -> (StatusCode, String) {
        let r = self.http.get(url).send().await.unwrap();
        let status = r.status();
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, loc)
    }

    async fn code(&self, scope: &str) -> String {
        let (status, loc) = self.authorize(&self.authorize_url(scope, &[])).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{loc}");
        assert!(loc.starts_with(REDIRECT), "{loc}");
        assert_eq!(param(&loc, "state").as_deref(), Some("s-123"));
        assert_eq!(param(&loc, "iss").as_deref(), Some(self.fhir.as_str()));
        param(&loc, "code").expect("code in the redirect")
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.auth))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "smart-launch"),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn login(&self, scope: &str) -> Value {
        let code = self.code(scope).await;
        let (status, body) = self.exchange(&code, VERIFIER).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/{path}", self.fhir)
        };
        let r = self.http.get(url).bearer_auth(token).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn err(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn discovery_and_metadata() {
    let p = start(|_| {}).await;
    let r: Value = p
        .http
        .get(format!("{}/.well-known/smart-configuration", p.fhir))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // RFC 9207 §3: every authorization response carries iss (authorize_errors_go_back_...).
    assert_eq!(r["authorization_response_iss_parameter_supported"], true);
    assert!(r["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "permission-v2"));
    let m: Value = p
        .http
        .get(format!("{}/metadata", p.fhir))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ext = &m["rest"][0]["security"]["extension"][0];
    assert_eq!(
        ext["url"],
        "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    );
    assert_eq!(
        ext["extension"][0]["valueUri"],
        format!("{}/auth/authorize", p.base)
    );

    let v1 = start(|c| c.smart_v1_only = true).await;
    let r = v1
        .http
        .get(format!("{}/.well-known/smart-configuration", v1.fhir))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = v1
        .http
        .get(format!("{}/metadata", v1.fhir))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn full_code_flow_with_pkce_and_id_token() {
    let p = start(|_| {}).await;
    let t = p
        .login("launch/patient openid fhirUser offline_access patient/*.rs")
        .await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["patient"], "patient-01");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    assert!(t["refresh_token"].is_string());
    let id_token = t["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], p.fhir);
    assert_eq!(claims["aud"], "smart-launch");
    assert!(claims["fhirUser"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/Practitioner/", p.fhir)));
    let (s, patient) = p
        .get("Patient/patient-01", t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(patient["id"], "patient-01");
}

#[tokio::test]
async fn wrong_or_missing_verifier_is_invalid_grant() {
    let p = start(|_| {}).await;
    let code = p.code("launch/patient patient/*.rs").await;
    let (s, body) = p
        .exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier-xx")
        .await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let code = p.code("launch/patient patient/*.rs").await;
    let (s, body) = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "smart-launch"),
        ])
        .await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_its_tokens() {
    let p = start(|_| {}).await;
    let code = p.code("launch/patient patient/*.rs").await;
    let (s, first) = p.exchange(&code, VERIFIER).await;
    assert_eq!(s, StatusCode::OK);
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(p.get("Patient/patient-01", token).await.0, StatusCode::OK);
    let (s, body) = p.exchange(&code, VERIFIER).await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(
        p.get("Patient/patient-01", token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_redirect_uri_and_unknown_client_get_an_error_page_not_a_redirect() {
    let p = start(|_| {}).await;
    let url = p
        .authorize_url("launch/patient", &[])
        .replace("smart-launch", "someone-else");
    let (s, loc) = p.authorize(&url).await;
    assert_eq!((s, loc.as_str()), (StatusCode::BAD_REQUEST, ""));
    let url = p
        .authorize_url("launch/patient", &[])
        .replace("launch.html", "evil.html");
    let (s, loc) = p.authorize(&url).await;
    assert_eq!((s, loc.as_str()), (StatusCode::BAD_REQUEST, ""));
    // At the token endpoint, a different redirect_uri than the authorize request's is invalid_grant.
    let code = p.code("launch/patient patient/*.rs").await;
    let (s, body) = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:8000/other"),
            ("client_id", "smart-launch"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let (s, body) = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "nobody"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (s, err(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

#[tokio::test]
async fn authorize_errors_go_back_with_state_and_iss() {
    let p = start(|_| {}).await;
    let no_pkce = p
        .authorize_url("launch/patient", &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let (_, loc) = p.authorize(&no_pkce).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&loc, "state").as_deref(), Some("s-123"));
    assert_eq!(param(&loc, "iss").as_deref(), Some(p.fhir.as_str()));
    let bad_aud = p
        .authorize_url("launch/patient", &[])
        .replace("%2Ffhir", "%2Fother");
    assert_eq!(
        param(&p.authorize(&bad_aud).await.1, "error").as_deref(),
        Some("invalid_request")
    );
    let (_, loc) = p.authorize(&p.authorize_url("bogus", &[])).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_scope"));
    let (_, loc) = p
        .authorize(&p.authorize_url("launch patient/*.rs", &[("launch", "never-issued")]))
        .await;
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_is_refused() {
    let p = start(|_| {}).await;
    let t = p.login("launch/patient offline_access patient/*.rs").await;
    let r1 = t["refresh_token"].as_str().unwrap();
    let (s, t2) = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("client_id", "smart-launch"),
        ])
        .await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(t2["patient"], "patient-01");
    let (s, body) = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("client_id", "smart-launch"),
        ])
        .await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The reuse revoked the grant: the rotated token is dead too.
    let (s, body) = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2),
            ("client_id", "smart-launch"),
        ])
        .await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // No offline/online access: no refresh token.
    let t = p.login("launch/patient patient/*.rs").await;
    assert!(t.get("refresh_token").is_none());
}

#[tokio::test]
async fn expired_token_is_401_with_www_authenticate() {
    let p = start(|c| c.token_lifetime = Duration::from_secs(1)).await;
    let t = p.login("launch/patient patient/*.rs").await;
    let token = t["access_token"].as_str().unwrap();
    assert_eq!(p.get("Patient/patient-01", token).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let r = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn compartment_and_resource_types_are_enforced() {
    let p = start(|_| {}).await;
    let t = p
        .login("launch/patient patient/Patient.rs patient/Observation.rs")
        .await;
    let token = t["access_token"].as_str().unwrap();
    assert_eq!(
        p.get("Patient/patient-02", token).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        p.get("Observation?patient=patient-02", token).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = p.get("Condition?patient=patient-01", token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["resourceType"], "OperationOutcome");
    // Without a patient parameter the search still sees only the compartment.
    let (s, b) = p.get("Observation?_count=1000", token).await;
    assert_eq!(s, StatusCode::OK);
    for e in b["entry"].as_array().unwrap() {
        assert_eq!(e["resource"]["subject"]["reference"], "Patient/patient-01");
    }
    // An out-of-compartment resource read by id.
    let other = p
        .get("Observation?patient=patient-01&_count=1", token)
        .await
        .1["entry"][0]["resource"]["id"]
        .clone();
    assert_eq!(
        p.get(&format!("Observation/{}", other.as_str().unwrap()), token)
            .await
            .0,
        StatusCode::OK
    );
    let (_, all) = p.get("Patient?_count=5", token).await;
    assert_eq!(all["total"], 1);
}

#[tokio::test]
async fn v1_and_v2_scopes_and_user_level_search() {
    let p = start(|_| {}).await;
    let v1 = p.login("launch/patient patient/Observation.read").await;
    assert_eq!(
        p.get(
            "Observation?patient=patient-01",
            v1["access_token"].as_str().unwrap()
        )
        .await
        .0,
        StatusCode::OK
    );
    let search_only = p.login("launch/patient patient/Observation.s").await;
    let tok = search_only["access_token"].as_str().unwrap();
    let (_, page) = p.get("Observation?patient=patient-01&_count=1", tok).await;
    let id = page["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        p.get(&format!("Observation/{id}"), tok).await.0,
        StatusCode::FORBIDDEN
    );
    let user = p.login("user/Patient.rs").await;
    assert!(user.get("patient").is_none());
    let (s, b) = p
        .get(
            "Patient?family=Empty",
            user["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["entry"][0]["resource"]["id"], "empty-record");
}

#[tokio::test]
async fn paging_and_search_parameters() {
    let p = start(|_| {}).await;
    let t = p.login("user/*.rs").await;
    let token = t["access_token"].as_str().unwrap();
    let (s, first) = p
        .get(
            "Observation?patient=big-record&category=vital-signs&_sort=-date&_count=500",
            token,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total >= 1200);
    let mut seen = 0;
    let mut page = first;
    let mut last_date = String::from("9999");
    loop {
        for e in page["entry"].as_array().unwrap() {
            let d = e["resource"]["effectiveDateTime"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(d <= last_date, "sorted newest first");
            last_date = d;
            seen += 1;
        }
        let next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
        match next {
            Some(n) => page = p.get(&n, token).await.1,
            None => break,
        }
    }
    assert_eq!(seen, total);
    let (_, hr) = p.get("Observation?patient=big-record&code=http://loinc.org|8867-4&date=ge2026-05-01&_count=1000", token).await;
    assert!(hr["total"].as_u64().unwrap() > 0);
    for e in hr["entry"].as_array().unwrap() {
        assert_eq!(e["resource"]["code"]["coding"][0]["code"], "8867-4");
        assert!(e["resource"]["effectiveDateTime"].as_str().unwrap() >= "2026-05-01");
    }
    assert_eq!(
        p.get("Observation?unknown=1", token).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        p.get("Observation?_count=x", token).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cors_lets_the_app_origin_in_only() {
    let p = start(|_| {}).await;
    let pre = p
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/auth/token", p.base))
        .header("Origin", "http://localhost:8000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://localhost:8000"
    );
    let evil = p
        .http
        .get(format!("{}/Patient", p.fhir))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // Public documents: any origin, one cacheable answer for all.
    let doc = p
        .http
        .get(format!("{}/.well-known/smart-configuration", p.fhir))
        .header("Origin", "http://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(doc.headers()["access-control-allow-origin"], "*");
    assert!(doc.headers().get("vary").is_none());
}

#[tokio::test]
async fn faults_on_demand() {
    let p = start(|c| c.faults.reject_code = true).await;
    let code = p.code("launch/patient patient/*.rs").await;
    let (s, body) = p.exchange(&code, VERIFIER).await;
    assert_eq!((s, err(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let p = start(|c| c.faults.failure_rate = 1.0).await;
    let r = p
        .http
        .get(format!("{}/metadata", p.fhir))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error());
    // The authorize step's latency holds the answer back at least that long (a lower bound:
    // sleeping guarantees it, whatever the machine's load).
    let p = start(|c| c.faults.authorize_latency_ms = 300).await;
    let url = p.authorize_url("launch/patient patient/*.rs", &[]);
    let t = std::time::Instant::now();
    let (s, _) = p.authorize(&url).await;
    assert!(s.is_redirection(), "{s}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));

    // --hang: the request is never answered; other paths are.
    let p = start(|c| c.faults.hang = vec!["/fhir/.well-known".into()]).await;
    let hung = p
        .http
        .get(format!("{}/.well-known/smart-configuration", p.fhir))
        .timeout(std::time::Duration::from_millis(500))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    let (s, _) = p.authorize(&p.authorize_url("launch/patient", &[])).await;
    assert!(s.is_redirection(), "{s}");

    // --omit-callback-iss: iss is still advertised, and left out of the callbacks.
    let p = start(|c| c.faults.omit_callback_iss = true).await;
    let (_, loc) = p
        .authorize(&p.authorize_url("launch/patient patient/*.rs", &[]))
        .await;
    assert!(param(&loc, "code").is_some(), "{loc}");
    assert_eq!(param(&loc, "iss"), None, "{loc}");
    let no_pkce = p
        .authorize_url("launch/patient", &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(param(&p.authorize(&no_pkce).await.1, "iss"), None);

    // --id-token-claims: written over the claims, the token still signed by the server's key.
    let p = start(|c| {
        c.faults.id_token_claims =
            serde_json::json!({"aud": ["smart-launch", "other"], "azp": "other"})
                .as_object()
                .cloned()
    })
    .await;
    let t = p.login("launch/patient openid fhirUser patient/*.rs").await;
    let jwt = t["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], serde_json::json!(["smart-launch", "other"]));
    assert_eq!(claims["azp"], "other");
    assert!(claims["exp"].is_u64() && claims["iss"] == p.fhir.as_str());
}

/// Notes and reports: searchable by patient; the discharge letter's PDF is a Binary served as
/// itself to a token with the DocumentReference scope (as JSON when JSON is asked first), and
/// refused without it.
#[tokio::test]
async fn documents_reports_and_their_binaries() {
    let p = start(|_| {}).await;
    let t = p
        .login("launch/patient patient/DiagnosticReport.rs patient/DocumentReference.rs")
        .await;
    let token = t["access_token"].as_str().unwrap();
    let (s, b) = p
        .get("DocumentReference?patient=patient-01&_count=1000", token)
        .await;
    assert_eq!(s, StatusCode::OK);
    let docs = b["entry"].as_array().unwrap();
    assert!(docs.len() >= 5, "a progress note per visit");
    let pdf_doc = docs
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["content"][0]["attachment"]["contentType"] == "application/pdf")
        .expect("patient-01 has a PDF");
    let url = pdf_doc["content"][0]["attachment"]["url"].as_str().unwrap();
    let raw = p
        .http
        .get(format!("{}/{url}", p.fhir))
        .bearer_auth(token)
        .header("Accept", "application/pdf, application/fhir+json;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers()["content-type"], "application/pdf");
    let bytes = raw.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(
        pdf_doc["content"][0]["attachment"]["size"].as_u64(),
        Some(bytes.len() as u64)
    );
    let json: Value = p
        .http
        .get(format!("{}/{url}", p.fhir))
        .bearer_auth(token)
        .header("Accept", "application/fhir+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["resourceType"], "Binary");
    assert_eq!(json["contentType"], "application/pdf");
    let (s, b) = p
        .get("DiagnosticReport?patient=patient-01&category=LAB", token)
        .await;
    assert_eq!(s, StatusCode::OK);
    let report = &b["entry"][0]["resource"];
    assert!(report["conclusion"].as_str().is_some());
    assert!(!report["result"].as_array().unwrap().is_empty());
    let other = p.login("launch/patient patient/Observation.rs").await;
    let other = other["access_token"].as_str().unwrap();
    assert_eq!(p.get(url, other).await.0, StatusCode::FORBIDDEN);
}

/// RFC 7009: a client revokes its own refresh token; the grant ends (its access token answers
/// 401, the refresh token is refused). Another client cannot revoke it, and an unknown token is
/// answered 200 all the same (§2.2).
#[tokio::test]
async fn revocation_ends_the_grant_for_its_own_client_only() {
    let p = start(|c| {
        c.clients.push(sandbox::config::Client {
            id: "other".into(),
            redirect_uris: vec![REDIRECT.into()],
            allowed_scopes: None,
            secret: None,
        })
    })
    .await;
    let (_, discovery) = p.get(".well-known/smart-configuration", "").await;
    let endpoint = discovery["revocation_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(endpoint, format!("{}/auth/revoke", p.base));
    let t = p
        .login("launch/patient patient/Patient.rs offline_access")
        .await;
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let revoke = |client: &'static str, token: String| {
        let (http, endpoint) = (p.http.clone(), endpoint.clone());
        async move {
            http.post(&endpoint)
                .form(&[("token", token.as_str()), ("client_id", client)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke("other", refresh.into()).await, StatusCode::OK);
    assert_eq!(
        p.get("Patient/patient-01", access).await.0,
        StatusCode::OK,
        "another client's request changes nothing"
    );
    assert_eq!(
        revoke("smart-launch", "no-such-token".into()).await,
        StatusCode::OK
    );
    assert_eq!(revoke("smart-launch", refresh.into()).await, StatusCode::OK);
    assert_eq!(
        p.get("Patient/patient-01", access).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = p
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "smart-launch"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        revoke("nobody", access.into()).await,
        StatusCode::UNAUTHORIZED
    );
}

/// The EHR profiles' answers that a browser app meets after the launch (sandbox/src/profile.rs):
/// Epic's empty 403 and its limits at the authorize endpoint, Oracle's cut-down grant, 406,
/// non-FHIR 403 and 401 without CORS headers, the launcher's plain-text 401, Veradigm's scope
/// length limit.
#[tokio::test]
async fn profiles_answer_as_their_ehrs_do() {
    use sandbox::profile::Profile;
    let origin = "http://localhost:8000";

    // Epic.
    let p = start(|c| c.profile = Profile::Epic).await;
    let (status, loc) = p
        .authorize(&p.authorize_url(
            "launch/patient patient/*.rs",
            &[("aud", "http://elsewhere.example/fhir")],
        ))
        .await;
    assert_eq!(
        (status, loc.as_str()),
        (StatusCode::BAD_REQUEST, ""),
        "a page, not a redirect"
    );
    let long_state = "s".repeat(2100);
    let (status, _) = p
        .authorize(&p.authorize_url("launch/patient patient/*.rs", &[("state", &long_state)]))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "IIS refuses a query over 2048 bytes"
    );
    let launch = sandbox::oauth::new_launch(
        &p.sandbox,
        sandbox::state::LaunchContext {
            user: sandbox::state::User::Practitioner("dr-adams".into()),
            patient: "patient-01".into(),
            encounter: None,
            need_patient_banner: true,
            fhir_context: Vec::new(),
            intent: None,
            created: std::time::Instant::now(),
        },
    );
    assert!(
        launch.len() > 900 && launch.split('.').count() == 3,
        "{launch}"
    );
    let token = p.login("launch/patient patient/*.rs").await;
    let at = token["access_token"].as_str().unwrap();
    p.sandbox.faults.write().unwrap().forbid = Some("Condition".into());
    let r = p
        .http
        .get(format!("{}/Condition?patient=patient-01", p.fhir))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\""
    );
    assert_eq!(r.text().await.unwrap(), "");

    // Oracle.
    let p = start(|c| c.profile = Profile::Oracle).await;
    let token = p.login("launch/patient patient/*.read").await;
    let scope = token["scope"].as_str().unwrap();
    assert!(scope.contains("patient/Condition.read"), "{scope}");
    assert!(
        !scope.contains('*') && !scope.contains("AllergyIntolerance"),
        "{scope}"
    );
    let at = token["access_token"].as_str().unwrap();
    let (status, body) = p.get("AllergyIntolerance?patient=patient-01", at).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("insufficient_scope"),
        "{body}"
    );
    let xml = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .bearer_auth(at)
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), StatusCode::NOT_ACCEPTABLE);
    let binary = |accept: &'static str| {
        p.http
            .get(format!("{}/Binary/discharge-1-rtf", p.fhir))
            .bearer_auth(at)
            .header("Accept", accept)
            .send()
    };
    assert_eq!(
        binary("application/pdf").await.unwrap().status(),
        StatusCode::NOT_ACCEPTABLE
    );
    let rtf = binary("text/rtf, application/fhir+json;q=0.5")
        .await
        .unwrap();
    assert_eq!(rtf.headers()["content-type"], "text/rtf");
    assert!(rtf.text().await.unwrap().starts_with("{\\rtf1"));
    let dead = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .bearer_auth("no-such-token")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(dead.status(), StatusCode::UNAUTHORIZED);
    assert!(
        dead.headers().get("access-control-allow-origin").is_none(),
        "hidden from the browser"
    );
    let fine = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .bearer_auth(at)
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(fine.headers()["access-control-allow-origin"], origin);

    // The SMART launcher: a 401 in plain text.
    let p = start(|c| c.profile = Profile::Launcher).await;
    let r = p
        .http
        .get(format!("{}/Patient/patient-01", p.fhir))
        .bearer_auth("no-such-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "text/plain");

    // Veradigm: IdentityServer's 300-character scope limit, as an error redirect.
    let p = start(|c| c.profile = Profile::Veradigm).await;
    let long_scope = (0..40)
        .map(|i| format!("patient/Type{i}.read"))
        .collect::<Vec<_>>()
        .join(" ");
    let (status, loc) = p.authorize(&p.authorize_url(&long_scope, &[])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("invalid_scope"),
        "{loc}"
    );
}
