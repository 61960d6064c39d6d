#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the SMART protocol's readers of untrusted input (configuration, discovery,
//! callback, id_token, JWKS, paging) and of the chart's dates: what must hold for any input,
//! stated apart from the code it checks. `PROPTEST_CASES` sets how many inputs each property
//! gets (256 unless set; `scripts/fuzz.sh` runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};

use smart_launch::chart::time::{civil_from_days, date, days_from_civil, fhir_date, parse_ms};
use smart_launch::fhir::base::{FhirBase, Pager, PagingError};
use smart_launch::http_url::HttpUrl;
use smart_launch::platform::HttpResponse;
use smart_launch::smart::authorize::{authorize, Entropy, PendingAuthorization, PENDING_TTL_MS};
use smart_launch::smart::callback::{validate, CallbackError};
use smart_launch::smart::config::Ehrs;
use smart_launch::smart::discovery::process_well_known;
use smart_launch::smart::id_token::{candidate_keys, check_claims, decode, CLOCK_SKEW_SECS};
use smart_launch::smart::launch::CallbackParams;
use smart_launch::smart::secret::IdToken;

const ISS: &str = "https://ehr.example/fhir";
const CLIENT: &str = "app";
const NOW_SECS: u64 = 1_800_000_000;

fn response(body: &Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        www_authenticate: None,
        body: body.to_string(),
        bytes: Vec::new(),
    }
}

/// Endpoint-like values a SMART configuration may hold: the EHR's own origin, its listed extra
/// origin, foreign and look-alike origins, other schemes, relative paths, non-strings.
fn endpoint() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => "https://(ehr\\.example|auth\\.example|EHR\\.Example)(:443)?(/[a-z]{0,6}){0,2}"
            .prop_map(Value::String),
        3 => "(https|http|javascript|ftp)://(ehr\\.example|ehr\\.example\\.evil|evil\\.example|auth\\.example)(:8443)?(/[a-z]{0,6}){0,2}"
            .prop_map(Value::String),
        1 => "(/|\\./)?[a-z]{0,8}".prop_map(Value::String),
        1 => Just(json!(7)),
        1 => Just(json!(["https://ehr.example/auth"])),
    ]
}

/// An optional endpoint: absent as often as not.
fn optional_endpoint() -> impl Strategy<Value = Value> {
    prop_oneof![2 => Just(Value::Null), 3 => endpoint()]
}

fn ehrs() -> Ehrs {
    Ehrs::parse(&format!(
        r#"{{"ehrs":[{{"id":"e","name":"E","iss":"{ISS}","client_id":"{CLIENT}","scopes":"patient/*.rs","extra_origins":["https://auth.example"]}}]}}"#
    ))
    .unwrap()
}

/// A pending sign-in at the configured EHR, made as the app makes one.
fn pending(iss_parameter: bool) -> PendingAuthorization {
    let ehrs = ehrs();
    let (issuer, ehr) = ehrs.by_id("e").unwrap();
    let mut smart = process_well_known(
        issuer,
        ehr,
        &response(&json!({
            "issuer": ISS,
            "authorization_endpoint": "https://auth.example/authorize",
            "token_endpoint": "https://auth.example/token",
            "code_challenge_methods_supported": ["S256"],
        })),
    )
    .unwrap();
    smart.authorization_response_iss_parameter_supported = iss_parameter;
    let entropy = Entropy {
        state: [7; 32],
        verifier: [9; 32],
    };
    authorize(
        ehr,
        issuer,
        &smart,
        Some("L"),
        "https://app.example/launch.html",
        &entropy,
        NOW_SECS * 1000,
    )
    .pending
}

proptest! {
    /// config.json: whatever it says, the app runs with at least one enabled EHR, each with an
    /// http(s) issuer, a client id, and extra origins that are bare origins; no two share an
    /// issuer. Everything else is refused with a reason.
    #[test]
    fn a_configuration_is_refused_or_sound(
        ehrs in proptest::collection::vec((
            prop_oneof![3 => Just(json!(ISS)), 3 => Just(json!("https://other.example/r4/")), 1 => Just(json!("ftp://x")), 1 => Just(json!("")), 1 => Just(json!(3))],
            prop_oneof![4 => Just(json!("app")), 1 => Just(json!(" ")), 1 => Just(json!("")), 1 => Just(Value::Null)],
            prop_oneof![1 => Just(json!(true)), 1 => Just(json!(false)), 1 => Just(json!("no")), 3 => Just(Value::Null)],
            proptest::collection::vec(prop_oneof![
                4 => "https://(auth|login)\\.example(:8443)?".prop_map(Value::String),
                1 => endpoint(),
            ], 0..3),
            prop_oneof![3 => Just(Value::Null), 1 => Just(json!("https://app.example/launch.html")), 1 => Just(json!("launch.html"))],
        ), 0..4),
    ) {
        let list: Vec<Value> = ehrs.iter().enumerate().map(|(i, (iss, client, enabled, origins, redirect))| {
            let mut e = json!({"id": format!("e{i}"), "name": "E", "iss": iss, "client_id": client, "scopes": "patient/*.rs", "extra_origins": origins});
            if !enabled.is_null() { e["enabled"] = enabled.clone(); }
            if !redirect.is_null() { e["redirect_uri"] = redirect.clone(); }
            e
        }).collect();
        let text = json!({"ehrs": list}).to_string();
        if let Ok(parsed) = Ehrs::parse(&text) {
            let all: Vec<_> = parsed.iter().collect();
            prop_assert!(!all.is_empty());
            for (n, (issuer, ehr)) in all.iter().enumerate() {
                prop_assert!(HttpUrl::parse(issuer.as_str()).is_ok());
                prop_assert!(!ehr.client_id.trim().is_empty());
                for o in &ehr.extra_origins {
                    let u = HttpUrl::parse(o).unwrap();
                    prop_assert_eq!(&u.origin(), o, "an origin, nothing more");
                }
                prop_assert!(all[..n].iter().all(|(other, _)| other != issuer));
            }
        }
    }

    /// Discovery: whatever the SMART configuration holds, an accepted one has its authorize
    /// and token endpoints (and JWKS and revocation, when given) as http(s) URLs on the FHIR
    /// server's origin or a configured extra origin, and offers S256.
    #[test]
    fn discovery_pins_every_endpoint_to_the_ehrs_origins(
        authorize in endpoint(), token in endpoint(), jwks in optional_endpoint(), revoke in optional_endpoint(),
        methods in prop_oneof![3 => Just(json!(["S256"])), 1 => Just(json!(["plain"])), 1 => Just(json!("S256")), 1 => Just(Value::Null)],
        iss_flag in prop_oneof![Just(json!(true)), Just(json!("true")), Just(json!("maybe")), Just(Value::Null)],
    ) {
        let ehrs = ehrs();
        let (issuer, ehr) = ehrs.by_id("e").unwrap();
        let body = json!({
            "authorization_endpoint": authorize, "token_endpoint": token, "jwks_uri": jwks,
            "revocation_endpoint": revoke, "code_challenge_methods_supported": methods,
            "authorization_response_iss_parameter_supported": iss_flag,
        });
        if let Ok(c) = process_well_known(issuer, ehr, &response(&body)) {
            // The FHIR server's origin and the configured extra origin, https as the server is.
            let pinned = |url: &str| {
                HttpUrl::parse(url).is_ok_and(|u| ["https://ehr.example", "https://auth.example"].contains(&u.origin().as_str()))
            };
            prop_assert!(pinned(&c.authorization_endpoint), "{}", c.authorization_endpoint);
            prop_assert!(pinned(&c.token_endpoint), "{}", c.token_endpoint);
            prop_assert!(c.jwks_uri.as_deref().is_none_or(pinned));
            prop_assert!(c.revocation_endpoint.as_deref().is_none_or(pinned));
            prop_assert!(c.code_challenge_methods_supported.unwrap_or_default().iter().any(|m| m == "S256"));
        }
    }

    /// The callback: a code is accepted only with this sign-in's own `state`, within its time,
    /// from its issuer when `iss` is named (required when the server advertises it), and with
    /// no `error`.
    #[test]
    fn a_callback_is_accepted_only_as_rfc_6749_and_9207_allow(
        code in prop_oneof![Just(Some("C".to_string())), Just(Some(String::new())), Just(None)],
        state in prop_oneof![Just(Some("own")), Just(Some("other")), Just(Some("")), Just(None)],
        iss in prop_oneof![Just(None), Just(Some(ISS.to_string())), Just(Some(format!("{ISS}/"))), Just(Some("https://evil.example/fhir".to_string()))],
        error in prop_oneof![Just(None), Just(Some("access_denied".to_string()))],
        iss_parameter in any::<bool>(),
        late_ms in prop_oneof![Just(0u64), Just(PENDING_TTL_MS + 1)],
        stored in any::<bool>(),
    ) {
        let pending = pending(iss_parameter);
        let own = pending.state.clone();
        let params = CallbackParams {
            code: code.clone(),
            state: state.map(|s| if s == "own" { own.clone() } else { s.to_string() }),
            error: error.clone(),
            error_description: None,
            iss: iss.clone(),
        };
        let got = validate(params, stored.then_some(pending), NOW_SECS * 1000 + late_ms);
        let right_state = stored && state == Some("own");
        let right_iss = match &iss {
            Some(i) => i.trim_end_matches('/') == ISS,
            None => !iss_parameter,
        };
        let accepted = right_state && late_ms == 0 && right_iss && error.is_none()
            && code.as_deref().is_some_and(|c| !c.is_empty());
        prop_assert_eq!(got.is_ok(), accepted, "{:?}", got.as_ref().err());
        if let Err(e) = got {
            if !right_state {
                prop_assert!(matches!(e, CallbackError::MissingState | CallbackError::UnknownState), "{e:?}");
            }
        }
    }

    /// An id_token is three base64url parts; whatever the text, decoding refuses it or gives
    /// back exactly the header's `kid`, the claims and the signature that were encoded, with
    /// the first two parts as the signed input, and only for RS256.
    #[test]
    fn id_tokens_decode_to_what_was_encoded(
        alg in prop_oneof![Just("RS256"), Just("none"), Just("HS256")],
        kid in proptest::option::of("[A-Za-z0-9=_-]{0,12}"),
        claims in proptest::collection::btree_map("[a-z]{1,6}", prop_oneof![any::<i64>().prop_map(Value::from), ".{0,8}".prop_map(Value::from)], 0..5),
        signature in proptest::collection::vec(any::<u8>(), 0..64),
        noise in ".{0,80}",
    ) {
        let _ = decode(&IdToken::new(noise));
        let header = match &kid {
            Some(k) => json!({"alg": alg, "kid": k}),
            None => json!({"alg": alg}),
        };
        let claims = Value::Object(claims.into_iter().collect());
        let (h, p) = (URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let token = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&signature));
        match decode(&IdToken::new(token)) {
            Ok(t) => {
                prop_assert_eq!(alg, "RS256");
                prop_assert_eq!(t.kid, kid);
                prop_assert_eq!(t.claims, claims);
                prop_assert_eq!(t.signature, signature);
                prop_assert_eq!(t.signing_input, format!("{h}.{p}"));
            }
            Err(_) => prop_assert_ne!(alg, "RS256"),
        }
    }

    /// OIDC Core §3.1.3.7: the claims pass exactly when the issuer is the expected one, this
    /// app is the one audience, `azp` (when present) is this app, `exp` is a date not passed
    /// (within the skew), and `iat` is not ahead (within the skew).
    #[test]
    fn id_token_claims_pass_only_for_this_app_from_its_issuer(
        iss in prop_oneof![Just(json!(ISS)), Just(json!(format!("{ISS}/"))), Just(json!("https://evil.example/fhir")), Just(json!(1)), Just(Value::Null)],
        aud in prop_oneof![Just(json!(CLIENT)), Just(json!([CLIENT])), Just(json!([CLIENT, "other"])), Just(json!("other")), Just(json!([])), Just(Value::Null)],
        azp in prop_oneof![Just(Value::Null), Just(json!(CLIENT)), Just(json!("other"))],
        exp in prop_oneof![(-1000i64..1000).prop_map(|d| json!(NOW_SECS as i64 - CLOCK_SKEW_SECS as i64 + d)), Just(json!("soon")), Just(json!(-5)), Just(Value::Null)],
        iat in prop_oneof![(-1000i64..1000).prop_map(|d| json!(NOW_SECS as i64 + CLOCK_SKEW_SECS as i64 + d)), Just(json!(0.5)), Just(Value::Null)],
    ) {
        let claims = json!({"iss": iss, "aud": aud, "azp": azp, "exp": exp, "iat": iat});
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.", part(&json!({"alg": "RS256"})), part(&claims));
        let t = decode(&IdToken::new(token)).unwrap();
        let iss_ok = iss.as_str().is_some_and(|i| i.trim_end_matches('/') == ISS);
        let aud_ok = match &aud {
            Value::Array(a) => !a.is_empty() && a.iter().all(|x| x == CLIENT),
            one => one == CLIENT,
        };
        let azp_ok = azp.is_null() || azp == CLIENT;
        let exp_ok = exp.as_i64().is_some_and(|e| e >= 0 && e as u64 + CLOCK_SKEW_SECS > NOW_SECS);
        let iat_ok = match &iat {
            Value::Null => true,
            v => v.as_f64().is_some_and(|f| f >= 0.0 && (f as u64) <= NOW_SECS + CLOCK_SKEW_SECS),
        };
        let got = check_claims(&t, ISS, CLIENT, NOW_SECS);
        prop_assert_eq!(got.is_ok(), iss_ok && aud_ok && azp_ok && exp_ok && iat_ok, "{:?}", got);
    }

    /// JWKS: the keys tried for a token are RSA signing keys for RS256 with a modulus and an
    /// exponent, the `kid`'s (padding aside) when the token names one, every such key when it
    /// does not; and a refusal only when there is none.
    #[test]
    fn only_the_tokens_rsa_signing_keys_are_tried(
        keys in proptest::collection::vec((
            prop_oneof![Just("RSA"), Just("EC"), Just("oct")],
            prop_oneof![Just(Some("sig")), Just(Some("enc")), Just(None)],
            prop_oneof![Just(Some("RS256")), Just(Some("RS384")), Just(None)],
            prop_oneof![Just(Some("k1")), Just(Some("k1==")), Just(Some("k2")), Just(None)],
            any::<bool>(),
        ), 0..6),
        kid in prop_oneof![Just(Some("k1")), Just(Some("k1=")), Just(Some("k3")), Just(None)],
    ) {
        let jwks = json!({"keys": keys.iter().map(|(kty, use_, alg, kid, material)| {
            let mut k = json!({"kty": kty});
            if let Some(u) = use_ { k["use"] = json!(u); }
            if let Some(a) = alg { k["alg"] = json!(a); }
            if let Some(i) = kid { k["kid"] = json!(i); }
            if *material { k["n"] = json!("AQAB"); k["e"] = json!("AQAB"); }
            k
        }).collect::<Vec<_>>()});
        let usable = |k: &Value| k["kty"] == "RSA" && k["use"] != "enc" && k["alg"] != "RS384" && k["n"].is_string();
        let bare = |s: &str| s.trim_end_matches('=').to_string();
        match candidate_keys(&jwks, kid) {
            Ok(found) => {
                prop_assert!(!found.is_empty());
                for k in &found {
                    prop_assert!(usable(k), "{k}");
                    if let Some(kid) = kid {
                        prop_assert_eq!(k["kid"].as_str().map(bare), Some(bare(kid)));
                    }
                }
                if kid.is_none() {
                    prop_assert_eq!(found.len(), jwks["keys"].as_array().unwrap().iter().filter(|k| usable(k)).count());
                }
            }
            Err(_) => {
                let any = jwks["keys"].as_array().unwrap().iter().filter(|k| usable(k)).any(|k| match kid {
                    Some(kid) => k["kid"].as_str().map(bare) == Some(bare(kid)),
                    None => true,
                });
                prop_assert!(!any, "a usable key was refused");
            }
        }
    }

    /// Paging: whatever `next` links a server writes, the pages fetched lie under the FHIR base,
    /// none twice, and no more than the limit; paging then stops with a reason.
    #[test]
    fn paging_stays_under_the_base_and_ends(
        links in proptest::collection::vec(prop_oneof![
            "https://ehr\\.example/fhir/Observation\\?page=[0-3]".prop_map(Value::from),
            "(\\.\\./)?Observation\\?page=[0-3]".prop_map(Value::from),
            "https://evil\\.example/fhir/Observation\\?page=[0-3]".prop_map(Value::from),
            Just(json!(4)),
            Just(Value::Null),
        ], 0..8),
    ) {
        let base = FhirBase::new(ISS).unwrap();
        let first = format!("{ISS}/Observation?patient=p");
        let mut pager = Pager::new(&first, 4);
        let mut fetched = vec![first];
        for link in links {
            let bundle = json!({"resourceType": "Bundle", "link": [{"relation": "self", "url": "x"}, {"relation": "next", "url": link}]});
            match pager.next(&base, &bundle) {
                Ok(Some(url)) => {
                    prop_assert!(url.starts_with(&format!("{ISS}/")), "{url}");
                    prop_assert!(!fetched.contains(&url), "{url} twice");
                    fetched.push(url);
                }
                Ok(None) => prop_assert!(!link.is_string()),
                Err(PagingError::TooManyPages(n)) => prop_assert_eq!(fetched.len(), n),
                Err(_) => {}
            }
            prop_assert!(fetched.len() <= 4);
        }
    }

    /// FHIR dates: a calendar date is read when it exists and only then, shown as written, and
    /// its day count goes back to the same date; a dateTime with a zone is the same instant
    /// written in UTC.
    #[test]
    fn dates_read_back_as_written(y in 1000i64..9999, m in 0u32..14, d in 0u32..33, h in 0u32..24, min in 0u32..60, off in -14i32..15) {
        let text = format!("{y:04}-{m:02}-{d:02}");
        let exists = (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m);
        prop_assert_eq!(parse_ms(&text).is_some(), exists, "{}", text);
        if exists {
            let (shown, ms) = fhir_date(&text).unwrap();
            prop_assert_eq!(&shown, &text);
            prop_assert_eq!(date(ms), text.clone());
            let days = days_from_civil(y, m, d);
            prop_assert_eq!(civil_from_days(days), (y, m, d));
            prop_assert_eq!(days * 86_400_000, ms);
            let zoned = format!("{text}T{h:02}:{min:02}:00{}{:02}:00", if off < 0 { '-' } else { '+' }, off.abs());
            let utc = ms + i64::from(h * 3600 + min * 60) * 1000 - i64::from(off) * 3_600_000;
            prop_assert_eq!(parse_ms(&zoned), Some(utc), "{}", zoned);
        }
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
