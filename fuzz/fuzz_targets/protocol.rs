//! The protocol's readers on any text: a launch query, a token response, config.json, a
//! discovery document or CapabilityStatement, an id_token and its claims, a JWKS, a Bundle's
//! links, a URL. None may panic; what they accept must be sound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smart_launch_core::fhir::base::{FhirBase, Pager};
use smart_launch_core::fhir::is_fhir_id;
use smart_launch_core::http_url::HttpUrl;
use smart_launch_core::platform::HttpResponse;
use smart_launch_core::smart::config::Ehrs;
use smart_launch_core::smart::discovery::{process_metadata, process_well_known};
use smart_launch_core::smart::id_token::{candidate_keys, check_claims, decode};
use smart_launch_core::smart::launch::classify;
use smart_launch_core::smart::secret::IdToken;
use smart_launch_core::smart::token::process_token_response;

const BASE: &str = "https://ehr.example/fhir";
const CONFIG: &str = r#"{"ehrs":[{"id":"e","name":"E","iss":"https://ehr.example/fhir","client_id":"app","scopes":"patient/*.rs","extra_origins":["https://auth.example"]}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = classify(text);
    if let Ok(u) = HttpUrl::parse(text) {
        assert_eq!(
            HttpUrl::parse(u.as_str())
                .ok()
                .as_ref()
                .map(HttpUrl::as_str),
            Some(u.as_str())
        );
    }
    let res = HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        www_authenticate: None,
        body: text.to_string(),
        bytes: Vec::new(),
    };
    if let Ok(t) = process_token_response(&res) {
        assert!(!t.access_token.expose().is_empty());
        assert!(t.context.patient.as_deref().is_none_or(is_fhir_id));
    }
    if let Ok(ehrs) = Ehrs::parse(text) {
        assert!(ehrs.iter().next().is_some());
    }
    if let Ok(ehrs) = Ehrs::parse(CONFIG) {
        if let Some((issuer, ehr)) = ehrs.by_id("e") {
            for found in [
                process_well_known(issuer, ehr, &res),
                process_metadata(issuer, ehr, &res),
            ] {
                if let Ok(c) = found {
                    let pinned = |url: &str| {
                        HttpUrl::parse(url).is_ok_and(|u| {
                            ["https://ehr.example", "https://auth.example"]
                                .contains(&u.origin().as_str())
                        })
                    };
                    assert!(
                        pinned(&c.authorization_endpoint),
                        "{}",
                        c.authorization_endpoint
                    );
                    assert!(pinned(&c.token_endpoint), "{}", c.token_endpoint);
                }
            }
        }
    }
    if let Ok(t) = decode(&IdToken::new(text)) {
        let _ = check_claims(&t, BASE, "app", 1_800_000_000);
    }
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if let Ok(keys) = candidate_keys(&v, Some("k1")) {
        assert!(keys.iter().all(|k| k["kty"] == "RSA"));
    }
    if let Some(base) = FhirBase::new(BASE) {
        let mut pager = Pager::new(&format!("{BASE}/Observation"), 5);
        for _ in 0..6 {
            match pager.next(&base, &v) {
                Ok(Some(url)) => assert!(url.starts_with(&format!("{BASE}/")), "{url}"),
                _ => break,
            }
        }
    }
});
