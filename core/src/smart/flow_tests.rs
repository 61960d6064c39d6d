#![allow(clippy::unwrap_used)]
//! The launch end to end against a scripted server: what is sent, in what order, and what is
//! refused before anything is sent.

use std::rc::Rc;

use futures::executor::block_on;
use serde_json::json;

use super::*;
use crate::fhir::{FhirClient, FhirError};
use crate::platform::{HttpRequest, HttpResponse, Method, NetError};
use crate::smart::authorize::{PendingAuthorization, PENDING_PREFIX};
use crate::smart::handoff::{FirstRead, Handoff};
use crate::smart::launch::CallbackParams;
use crate::smart::launch::{classify, PageRequest};
use crate::smart::session::{
    complete, confirm, end_session, exchange, exchange_for_chart, open_new, pending_origin,
    refuse_visit, sign_out, stored, stored_client, verify, Session,
};
use crate::smart::token;
use crate::testing::{json, Scripted};

const ISS: &str = "http://localhost:9000/fhir";
const REDIRECT: &str = "http://localhost:8000/launch.html";

fn ehrs() -> Ehrs {
    Ehrs::parse(
        r#"{"ehrs":[{"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs online_access"}]}"#,
    )
    .unwrap()
}

fn well_known() -> Result<HttpResponse, NetError> {
    json(
        200,
        r#"{"issuer":"http://localhost:9000/fhir","authorization_endpoint":"http://localhost:9000/auth/authorize","token_endpoint":"http://localhost:9000/auth/token","jwks_uri":"http://localhost:9000/jwks","code_challenge_methods_supported":["S256"],"capabilities":["permission-v2","launch-ehr"]}"#,
    )
}

fn id_token(claims: serde_json::Value) -> String {
    sandbox::keys::Signer::shared().sign(&claims)
}

fn good_claims(now_s: u64) -> serde_json::Value {
    json!({"iss": ISS, "aud": "smart-launch", "exp": now_s + 300, "fhirUser": "http://localhost:9000/fhir/Practitioner/dr-adams"})
}

/// A well-behaved server: discovery, token (answering `token_body`), JWKS, and patient-01.
fn server(token_body: String) -> Scripted {
    server_with_fhir(token_body, |req| {
        if req.url.ends_with("/fhir/Patient/patient-01") {
            json(200, r#"{"resourceType":"Patient","id":"patient-01"}"#)
        } else {
            json(404, "{}")
        }
    })
}

/// Discovery, token (answering `token_body`) and JWKS as a well-behaved server answers them;
/// every other request answered by `fhir`.
fn server_with_fhir(
    token_body: String,
    mut fhir: impl FnMut(&HttpRequest) -> Result<HttpResponse, NetError> + 'static,
) -> Scripted {
    Scripted::new(move |req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            well_known()
        } else if req.url.ends_with("/auth/token") {
            json(200, &token_body)
        } else if req.url.ends_with("/jwks") {
            json(200, &sandbox::keys::Signer::shared().jwks().to_string())
        } else {
            fhir(req)
        }
    })
}

fn token_body(p: &Scripted, claims: Option<serde_json::Value>) -> String {
    let now_s = p.now.get() / 1000;
    let mut body = json!({"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"scope":"launch openid fhirUser patient/*.rs online_access","refresh_token":"RT-1","patient":"patient-01","need_patient_banner":true});
    body["id_token"] = json!(id_token(claims.unwrap_or_else(|| good_claims(now_s))));
    body.to_string()
}

fn callback_from(authorize_url: &str, code: &str) -> CallbackParams {
    let query = crate::http_url::HttpUrl::parse(authorize_url).unwrap();
    let state = crate::http_url::form_decode(query.query().unwrap())
        .into_iter()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1;
    match classify(&format!("code={code}&state={state}&iss={ISS}")).unwrap() {
        PageRequest::Callback(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ehr_launch_end_to_end() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(
        &p,
        &ehrs(),
        Target::Issuer("http://localhost:9000/fhir/"),
        Some("L1"),
        REDIRECT,
    ))
    .unwrap();
    assert!(url.starts_with(
        "http://localhost:9000/auth/authorize?response_type=code&client_id=smart-launch"
    ));
    assert!(url.contains("&launch=L1&"));
    assert!(url.contains("scope=launch+openid+fhirUser+patient%2F*.rs+online_access"));
    assert_eq!(
        p.keys()
            .iter()
            .filter(|k| k.starts_with(PENDING_PREFIX))
            .count(),
        1
    );

    let client = block_on(complete(&p, callback_from(&url, "CODE-1"))).unwrap();
    let session = client
        .with_session(|s| Session::from_json(&s.to_json()))
        .unwrap();
    assert_eq!(session.context.patient.as_deref(), Some("patient-01"));
    assert_eq!(
        session.fhir_user.as_deref(),
        Some("http://localhost:9000/fhir/Practitioner/dr-adams")
    );
    assert_eq!(session.refresh_token.as_ref().unwrap().expose(), "RT-1");
    // Exactly: one discovery, one token request, one JWKS; no metadata.
    assert_eq!(
        p.urls(),
        vec![
            "http://localhost:9000/fhir/.well-known/smart-configuration",
            "http://localhost:9000/auth/token",
            "http://localhost:9000/jwks",
        ]
    );
    let sent = p.sent.borrow();
    let (method, _, body, auth) = &sent[1];
    assert_eq!(*method, Method::Post);
    assert!(auth.is_none(), "a public client sends no credentials");
    let body = body.as_deref().unwrap();
    assert!(body.starts_with("grant_type=authorization_code&code=CODE-1&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Flaunch.html&client_id=smart-launch&code_verifier="));
    assert!(!body.contains("secret"));
    // The pending request is used up; the session is mirrored.
    assert!(p.keys().iter().all(|k| !k.starts_with(PENDING_PREFIX)));
    assert!(stored(&*p).is_some());
}

#[test]
fn unknown_issuer_is_refused_before_any_request() {
    let p = server(String::new());
    for iss in [
        "https://evil.example/fhir",
        "http://localhost:9000/fhir2",
        "http://localhost:9000.evil.example/fhir",
    ] {
        let e = block_on(begin(&p, &ehrs(), Target::Issuer(iss), Some("L"), REDIRECT)).unwrap_err();
        assert_eq!(e, LaunchError::UnknownIssuer(iss.into()));
    }
    assert!(p.urls().is_empty());
}

#[test]
fn v1_server_falls_back_to_metadata_and_gets_v1_scopes() {
    let p = Scripted::new(|req| {
        if req.url.ends_with("/metadata") {
            json(
                200,
                r#"{"resourceType":"CapabilityStatement","rest":[{"security":{"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[{"url":"authorize","valueUri":"http://localhost:9000/auth/authorize"},{"url":"token","valueUri":"http://localhost:9000/auth/token"}]}]}}]}"#,
            )
        } else {
            json(404, r#"{"resourceType":"OperationOutcome"}"#)
        }
    });
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(
        url.contains("scope=launch%2Fpatient+openid+fhirUser+patient%2F*.read+online_access"),
        "{url}"
    );
    assert!(
        url.contains("code_challenge_method=S256"),
        "PKCE is never dropped"
    );
    assert_eq!(p.count("/metadata"), 1);
}

/// Discovery has one deadline for both requests: `.well-known` may use all of it, `metadata`
/// gets what is left; a `.well-known` that did not answer in time is not followed by `metadata`
/// (SECURITY.md, "When a server does not answer").
#[test]
fn discovery_shares_one_deadline_and_a_timeout_is_not_a_fallback() {
    use crate::smart::discovery::DISCOVERY_DEADLINE_MS;
    // A server that never answers: the browser gives up at the request's deadline.
    let p = Scripted::new(|req| Err(NetError::Timeout(req.url.clone())));
    let e = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap_err();
    assert!(
        matches!(
            e,
            LaunchError::Discovery(DiscoveryError::Network(NetError::Timeout(_)))
        ),
        "{e:?}"
    );
    assert_eq!(p.count("/metadata"), 0, "no fallback after a timeout");
    assert!(p.keys().is_empty(), "nothing pending");

    // `.well-known` answers 404 after 5 s: `metadata` gets the 7 s that are left.
    let deadlines = Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = deadlines.clone();
    let p = Scripted::new(move |req| {
        seen.borrow_mut().push(req.timeout_ms);
        if req.url.ends_with("/metadata") {
            Err(NetError::Timeout("http://localhost:9000".into()))
        } else {
            json(404, r#"{"resourceType":"OperationOutcome"}"#)
        }
    });
    p.latency_ms.set(5_000);
    let e = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap_err();
    assert_eq!(
        *deadlines.borrow(),
        vec![DISCOVERY_DEADLINE_MS, DISCOVERY_DEADLINE_MS - 5_000]
    );
    assert!(
        matches!(
            e,
            LaunchError::Discovery(DiscoveryError::Network(NetError::Timeout(_)))
        ),
        "a fallback that timed out is reported as the timeout: {e:?}"
    );
}

/// RFC 9207 §2.4: the server advertised `iss` in its responses; a callback without it (a code
/// from another server, delivered to this tab's sign-in) sends no token request and starts no
/// session, and its pending sign-in is gone.
#[test]
fn a_callback_without_the_advertised_iss_sends_no_token_request() {
    let p = Rc::new(Scripted::new(|req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            json(
                200,
                r#"{"issuer":"http://localhost:9000/fhir","authorization_endpoint":"http://localhost:9000/auth/authorize","token_endpoint":"http://localhost:9000/auth/token","code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true}"#,
            )
        } else {
            json(200, r#"{"access_token":"AT","token_type":"Bearer"}"#)
        }
    }));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let state = callback_from(&url, "C").state.unwrap();
    let params = match classify(&format!("code=FROM-B&state={state}")).unwrap() {
        PageRequest::Callback(c) => c,
        other => panic!("{other:?}"),
    };
    let e = block_on(complete(&p, params)).unwrap_err();
    assert!(
        matches!(
            e,
            LaunchError::Callback(CallbackError::MissingIssuer { .. })
        ),
        "{e:?}"
    );
    assert_eq!(p.count("/auth/token"), 0);
    assert!(stored(&*p).is_none());
    assert!(p.keys().iter().all(|k| !k.starts_with(PENDING_PREFIX)));
    // With `iss`, the same server's callback goes through.
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(block_on(exchange(&p, callback_from(&url, "C"))).is_ok());
    assert_eq!(p.count("/auth/token"), 1);
}

#[test]
fn a_server_refusing_s256_gets_no_second_chance() {
    let p = Scripted::new(|req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            json(
                200,
                r#"{"authorization_endpoint":"http://localhost:9000/a","token_endpoint":"http://localhost:9000/t","code_challenge_methods_supported":["plain"]}"#,
            )
        } else {
            json(200, "{}")
        }
    });
    let e = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap_err();
    assert!(matches!(
        e,
        LaunchError::Discovery(DiscoveryError::NoS256(_))
    ));
    assert_eq!(p.count("/metadata"), 0);
    assert!(p.keys().is_empty(), "nothing pending");
}

#[test]
fn tampered_or_reused_state_sends_no_token_request() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let mut cb = callback_from(&url, "C");
    let good_state = cb.state.clone();
    cb.state = Some("tampered".into());
    let e = block_on(complete(&p, cb)).unwrap_err();
    assert_eq!(e, LaunchError::Callback(CallbackError::UnknownState));
    assert_eq!(p.count("/auth/token"), 0);
    // The real state still works once, then never again.
    let mut cb = callback_from(&url, "C");
    cb.state = good_state;
    let again = CallbackParams { ..cb.clone() };
    block_on(complete(&p, cb)).unwrap();
    assert_eq!(
        block_on(complete(&p, again)).unwrap_err(),
        LaunchError::Callback(CallbackError::UnknownState)
    );
    assert_eq!(p.count("/auth/token"), 1);
}

#[test]
fn expired_pending_request_sends_no_token_request() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let state = callback_from(&url, "C").state;
    assert_eq!(
        pending_origin(&p, state.as_deref()),
        Some((
            crate::smart::authorize::LaunchKind::Standalone,
            "sandbox".to_string()
        ))
    );
    p.now.set(p.now.get() + 11 * 60 * 1000);
    let e = block_on(complete(&p, callback_from(&url, "C"))).unwrap_err();
    assert_eq!(e, LaunchError::Callback(CallbackError::Expired));
    assert_eq!(p.count("/auth/token"), 0);
}

#[test]
fn bad_id_tokens_stop_the_launch_and_store_nothing() {
    let probe = Scripted::new(|_| json(500, ""));
    let now_s = probe.now.get() / 1000;
    let mut wrong_aud = good_claims(now_s);
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = good_claims(now_s);
    wrong_iss["iss"] = json!("https://evil.example/fhir");
    let mut extra_aud = good_claims(now_s);
    extra_aud["aud"] = json!(["smart-launch", "another-app"]);
    let mut other_azp = good_claims(now_s);
    other_azp["azp"] = json!("another-app");
    let mut future_iat = good_claims(now_s);
    future_iat["iat"] = json!(now_s + 365 * 86_400);
    for (claims, expected) in [
        (wrong_aud, "Audience"),
        (wrong_iss, "Issuer"),
        (extra_aud, "ExtraAudience"),
        (other_azp, "AuthorizedParty"),
        (future_iat, "IssuedInFuture"),
    ] {
        let p = Rc::new(server(token_body(&probe, Some(claims))));
        let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
        let e = block_on(complete(&p, callback_from(&url, "C"))).unwrap_err();
        assert!(format!("{e:?}").contains(expected), "{e:?}");
        assert!(stored(&*p).is_none());
    }
    // A forged signature: the right claims, signed by someone else's key (here: bytes flipped).
    let mut body: serde_json::Value = serde_json::from_str(&token_body(&probe, None)).unwrap();
    let t = body["id_token"].as_str().unwrap().to_string();
    let (head, sig) = t.rsplit_once('.').unwrap();
    let forged = format!(
        "{head}.{}",
        if sig.starts_with('A') {
            sig.replacen('A', "B", 1)
        } else {
            format!("A{}", &sig[1..])
        }
    );
    body["id_token"] = json!(forged);
    let p = Rc::new(server(body.to_string()));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let e = block_on(complete(&p, callback_from(&url, "C"))).unwrap_err();
    assert_eq!(e, LaunchError::IdToken(IdTokenError::BadSignature));
    assert!(stored(&*p).is_none());
}

/// Epic (sandbox/src/profile.rs): the id_token names the sign-in server (`…/oauth2`), not the FHIR base,
/// and discovery does not say so. Refused as it stands; admitted by the entry's
/// `id_token_issuer`, which then is the only issuer accepted.
#[test]
fn an_id_token_issuer_elsewhere_needs_the_entrys_setting() {
    let probe = Scripted::new(|_| json(500, ""));
    let now_s = probe.now.get() / 1000;
    let mut claims = good_claims(now_s);
    claims["iss"] = json!("http://localhost:9000/oauth2");
    let body = token_body(&probe, Some(claims));
    let with_setting = Ehrs::parse(
        r#"{"ehrs":[{"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs online_access","id_token_issuer":"http://localhost:9000/oauth2"}]}"#,
    )
    .unwrap();
    // One sign-in against `ehrs` with `body` as the token response.
    let launch = |ehrs: &Ehrs, body: String| {
        let p = Rc::new(server(body));
        let url = block_on(begin(&p, ehrs, Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
        block_on(complete(&p, callback_from(&url, "C")))
    };
    let e = launch(&ehrs(), body.clone()).unwrap_err();
    assert!(
        matches!(e, LaunchError::IdToken(IdTokenError::Issuer { ref got, .. }) if got == "http://localhost:9000/oauth2"),
        "{e:?}"
    );
    assert!(launch(&with_setting, body)
        .unwrap()
        .with_session(|s| s.fhir_user.is_some()));
    // With the setting, a token naming the FHIR base is the one refused.
    assert!(matches!(
        launch(&with_setting, token_body(&probe, None)),
        Err(LaunchError::IdToken(IdTokenError::Issuer { .. }))
    ));
}

/// athenahealth (sandbox/src/profile.rs): the JWKS answers only with `?client_id=`; the entry's
/// `jwks_client_id` asks for it so, and the user is named.
#[test]
fn the_jwks_is_asked_with_the_client_id_where_the_entry_says_so() {
    let probe = Scripted::new(|_| json(500, ""));
    let body = token_body(&probe, None);
    let p = Rc::new(Scripted::new(move |req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            well_known()
        } else if req.url.ends_with("/auth/token") {
            json(200, &body)
        } else if req.url.ends_with("/jwks?client_id=smart-launch") {
            json(200, &sandbox::keys::Signer::shared().jwks().to_string())
        } else {
            json(400, r#"{"errorCode":"invalid_client"}"#)
        }
    }));
    let athena = Ehrs::parse(
        r#"{"ehrs":[{"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs","jwks_client_id":true}]}"#,
    )
    .unwrap();
    let url = block_on(begin(&p, &athena, Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let client = block_on(complete(&p, callback_from(&url, "C"))).unwrap();
    assert!(client.with_session(|s| s.fhir_user.is_some()));
    assert!(p
        .urls()
        .contains(&"http://localhost:9000/jwks?client_id=smart-launch".to_string()));
    // Without the setting the JWKS cannot be had: the launch goes on, the user unnamed.
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert_eq!(
        block_on(complete(&p, callback_from(&url, "C")))
            .unwrap()
            .with_session(|s| s.fhir_user.clone()),
        None
    );
}

/// A token without `kid` (the SMART launcher's) is checked against each RSA key of the JWKS:
/// a decoy key first (another RSA key, an EC key) does not stop the right one from verifying,
/// and a JWKS with only decoys refuses the signature.
#[test]
fn a_token_without_kid_is_tried_against_each_rsa_key() {
    let probe = Scripted::new(|_| json(500, ""));
    let now_s = probe.now.get() / 1000;
    let signer = sandbox::keys::Signer::shared();
    let unnamed = signer.sign_as(None, &good_claims(now_s));
    let real = signer.jwks()["keys"][0].clone();
    let mut decoy = real.clone();
    decoy["n"] = json!(format!("A{}", &real["n"].as_str().unwrap()[1..]));
    decoy["kid"] = json!("decoy");
    let ec = json!({"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"});
    for (keys, verifies) in [
        (json!([ec, decoy, real]), true),
        (json!([ec, decoy]), false),
    ] {
        let jwks = json!({ "keys": keys }).to_string();
        let mut body: serde_json::Value = serde_json::from_str(&token_body(&probe, None)).unwrap();
        body["id_token"] = json!(unnamed);
        let body = body.to_string();
        let p = Rc::new(Scripted::new(move |req| {
            if req.url.ends_with("/.well-known/smart-configuration") {
                well_known()
            } else if req.url.ends_with("/auth/token") {
                json(200, &body)
            } else {
                json(200, &jwks)
            }
        }));
        let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
        let r = block_on(complete(&p, callback_from(&url, "C")));
        if verifies {
            assert_eq!(
                r.unwrap().with_session(|s| s.fhir_user.clone()).as_deref(),
                Some("http://localhost:9000/fhir/Practitioner/dr-adams")
            );
        } else {
            assert_eq!(
                r.unwrap_err(),
                LaunchError::IdToken(IdTokenError::BadSignature)
            );
        }
    }
}

/// The keys travel with the token request; when they cannot be had (the JWKS down, or
/// answering an error), the server cannot vouch for the user: the launch goes on without one,
/// and a failed token request still fails as itself.
#[test]
fn keys_that_cannot_be_had_leave_the_user_unnamed() {
    for jwks in [
        Err(NetError::Unreachable("http://localhost:9000".into())),
        json(500, "{}"),
    ] {
        let probe = Scripted::new(|_| json(500, ""));
        let body = token_body(&probe, None);
        let p = Scripted::new(move |req| {
            if req.url.ends_with("/jwks") {
                jwks.clone()
            } else if req.url.ends_with("/auth/token") {
                json(200, &body)
            } else {
                well_known()
            }
        });
        let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
        let (session, check) = block_on(exchange(&p, callback_from(&url, "C"))).unwrap();
        assert_eq!(session.access_token.expose(), "AT-1");
        assert_eq!(block_on(verify(&p, &check)).unwrap(), None);
        assert_eq!(p.count("/jwks"), 1);
    }
    let p = Scripted::new(|req| {
        if req.url.ends_with("/auth/token") {
            json(400, r#"{"error":"invalid_grant"}"#)
        } else if req.url.ends_with("/jwks") {
            json(200, &sandbox::keys::Signer::shared().jwks().to_string())
        } else {
            well_known()
        }
    });
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(matches!(
        block_on(exchange(&p, callback_from(&url, "C"))),
        Err(LaunchError::Token(_))
    ));
}

/// The overlapped callback: the exchange gives a session to read with and stores
/// nothing; the session is mirrored only once the check has passed, with its user; a failed
/// check ends the client before anything is stored.
/// The chart's clock keeps a new session fresh from the start, while its id_token check may
/// still be running and nothing is stored yet (the clock used to stop for good at its first beat
/// when the session was not in storage yet, i.e. when the check took longer than a second); the
/// refresh meanwhile stores nothing either, and the confirmed session is stored with the
/// refreshed tokens.
#[test]
fn a_new_session_is_kept_fresh_before_its_check_and_stored_only_after() {
    let probe = Scripted::new(|_| json(500, ""));
    // A one-minute access token: due for refresh while the id_token (five minutes) still holds.
    let mut body: serde_json::Value = serde_json::from_str(&token_body(&probe, None)).unwrap();
    body["expires_in"] = json!(60);
    let p = Rc::new(server(body.to_string()));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let (session, check) = block_on(exchange(&*p, callback_from(&url, "C"))).unwrap();
    let client = open_new(p.clone(), session).unwrap();
    let due = client.with_session(|s| s.expires_at_ms.unwrap()) - 1_000;
    p.now.set(due);
    assert_eq!(block_on(client.session().keep_fresh(due)), Ok(true));
    assert_eq!(p.count("/auth/token"), 2, "the exchange, then the refresh");
    assert!(
        !crate::smart::session::is_stored(&*p),
        "nothing stored before the check"
    );
    block_on(confirm(&*p, &client, &check)).unwrap();
    assert!(stored(&*p).is_some());
    // A refused refresh ends it: the clock's caller asks for a new launch.
    let refused = Rc::new(Scripted::new(|_| json(400, r#"{"error":"invalid_grant"}"#)));
    let session = client.with_session(|s| Session::from_json(&s.to_json()).unwrap());
    let dying = stored_client(refused.clone(), session);
    let due = dying.with_session(|s| s.expires_at_ms.unwrap()) - 1_000;
    assert!(block_on(dying.session().keep_fresh(due)).is_err());
    assert_eq!(
        block_on(dying.session().keep_fresh(due)),
        Ok(false),
        "ended: nothing more to keep"
    );
}

#[test]
fn an_exchange_stores_nothing_until_its_id_token_check_passes() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let (session, check) = block_on(exchange(&*p, callback_from(&url, "C"))).unwrap();
    assert_eq!(session.fhir_user, None, "no user before the check");
    assert!(stored(&*p).is_none(), "nothing stored before the check");
    assert!(p.keys().is_empty(), "the pending sign-in is used up");
    assert_eq!(p.count("/jwks"), 1, "the keys came with the token");
    let client = open_new(p.clone(), session).unwrap();
    // The app's own end of the launch (flow::confirm), as the chart runs it.
    let user = block_on(confirm(&*p, &client, &check)).unwrap();
    assert_eq!(p.count("/jwks"), 1, "the check asks for nothing more");
    assert_eq!(
        user.as_deref(),
        Some("http://localhost:9000/fhir/Practitioner/dr-adams")
    );
    let kept = stored(&*p).unwrap();
    assert_eq!(kept.fhir_user, client.with_session(|s| s.fhir_user.clone()));
    assert_eq!(kept.access_token.expose(), "AT-1");

    // A forged signature: the check fails; the session is ended there, nothing is stored.
    let mut body: serde_json::Value = serde_json::from_str(&token_body(&probe, None)).unwrap();
    let t = body["id_token"].as_str().unwrap().to_string();
    let (head, sig) = t.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    body["id_token"] = json!(format!("{head}.{flipped}{}", &sig[1..]));
    let p = Rc::new(server(body.to_string()));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let (session, check) = block_on(exchange(&*p, callback_from(&url, "C"))).unwrap();
    let client = open_new(p.clone(), session).unwrap();
    let e = block_on(confirm(&*p, &client, &check)).unwrap_err();
    assert_eq!(e, LaunchError::IdToken(IdTokenError::BadSignature));
    assert!(client.is_ended());
    assert!(client.with_session(|s| s.access_token.expose().is_empty()));
    let sent = p.urls().len();
    assert_eq!(
        block_on(client.read("Patient", "patient-01")).unwrap_err(),
        FhirError::SessionExpired
    );
    assert_eq!(p.urls().len(), sent, "nothing sent once ended");
    assert!(stored(&*p).is_none());
}

#[test]
fn token_errors_store_nothing() {
    let p = Rc::new(Scripted::new(|req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            well_known()
        } else {
            json(
                400,
                r#"{"error":"invalid_grant","error_description":"code expired"}"#,
            )
        }
    }));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let e = block_on(complete(&p, callback_from(&url, "C"))).unwrap_err();
    assert!(matches!(e, LaunchError::Token(TokenError::Rejected { .. })));
    assert!(p.keys().is_empty());
}

fn launched(
    handler: impl FnMut(&crate::platform::HttpRequest) -> Result<HttpResponse, NetError> + 'static,
    token: &str,
) -> (Rc<Scripted>, FhirClient<Scripted>) {
    launched_with(handler, token, Some("http://localhost:9000/auth/revoke"))
}

fn launched_with(
    handler: impl FnMut(&crate::platform::HttpRequest) -> Result<HttpResponse, NetError> + 'static,
    token: &str,
    revocation_endpoint: Option<&str>,
) -> (Rc<Scripted>, FhirClient<Scripted>) {
    let p = Rc::new(Scripted::new(handler));
    let pending = crate::smart::authorize::PendingAuthorization::from_json_text(&json!({
        "state": "s", "code_verifier": "v", "ehr_id": "sandbox", "issuer": ISS, "client_id": "smart-launch",
        "redirect_uri": REDIRECT, "scope": "launch patient/*.rs", "kind": "Ehr", "created_ms": 0,
        "smart": { "issuer": ISS, "authorization_endpoint": "http://localhost:9000/auth/authorize",
            "token_endpoint": "http://localhost:9000/auth/token", "jwks_uri": null, "capabilities": [],
            "revocation_endpoint": revocation_endpoint,
            "code_challenge_methods_supported": null, "source": "WellKnown" }
    }).to_string()).unwrap();
    let t = token::process_token_response(&json(200, token).unwrap()).unwrap();
    let session = Session::new(&pending, t, None, p.now_ms());
    let client = stored_client(p.clone(), session);
    (p, client)
}

const PATIENT: &str = r#"{"resourceType":"Patient","id":"patient-01"}"#;

#[test]
fn a_401_refreshes_once_and_retries_with_the_new_token() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                return json(
                    200,
                    r#"{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}"#,
                );
            }
            match req.header("Authorization") {
                Some("Bearer AT-2") => json(200, PATIENT),
                _ => json(401, r#"{"resourceType":"OperationOutcome"}"#),
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1"}"#,
    );
    let v = block_on(client.read("Patient", "patient-01")).unwrap();
    assert_eq!(v["id"], "patient-01");
    assert_eq!(p.count("/auth/token"), 1);
    let sent = p.sent.borrow();
    assert_eq!(sent[0].3.as_deref(), Some("Bearer AT-1"));
    assert_eq!(
        sent[1].2.as_deref(),
        Some("grant_type=refresh_token&refresh_token=RT-1&client_id=smart-launch")
    );
    assert_eq!(sent[2].3.as_deref(), Some("Bearer AT-2"));
    client.with_session(|s| assert_eq!(s.refresh_token.as_ref().unwrap().expose(), "RT-2"));
    // The mirror holds the rotated token.
    assert!(stored(&*p).unwrap().refresh_token.unwrap().expose() == "RT-2");
}

#[test]
fn concurrent_callers_share_one_refresh() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                json(
                    200,
                    r#"{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}"#,
                )
            } else {
                json(200, PATIENT)
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":30,"refresh_token":"RT-1"}"#,
    );
    p.now.set(p.now.get() + 29_000); // within the refresh margin
    let (a, b, c) = block_on(futures::future::join3(
        client.read("Patient", "patient-01"),
        client.read("Patient", "patient-01"),
        client.read("Patient", "patient-01"),
    ));
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(p.count("/auth/token"), 1);
    let bearers: Vec<_> = p.sent.borrow().iter().filter_map(|s| s.3.clone()).collect();
    assert_eq!(bearers, vec!["Bearer AT-2"; 3]);
}

#[test]
fn a_403_is_not_permitted_and_never_refreshes() {
    let (p, client) = launched(
        |_| {
            json(
                403,
                r#"{"resourceType":"OperationOutcome","issue":[{"diagnostics":"scope"}]}"#,
            )
        },
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1"}"#,
    );
    assert_eq!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::Forbidden(Some("scope".into())))
    );
    assert_eq!(p.count("/auth/token"), 0);
}

#[test]
fn a_refused_refresh_ends_the_session_without_a_loop() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                json(400, r#"{"error":"invalid_grant"}"#)
            } else {
                json(401, "")
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1"}"#,
    );
    assert_eq!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::SessionExpired)
    );
    assert_eq!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::SessionExpired)
    );
    assert_eq!(
        p.count("/auth/token"),
        1,
        "the dead refresh token is not retried"
    );
    client.with_session(|s| assert!(s.refresh_token.is_none()));
}

/// The banner's read goes before the searches that start with it: searches (every page) are
/// sent at low priority, reads at the normal one (fewer steps in a row).
#[test]
fn searches_go_at_low_priority_and_reads_at_normal() {
    let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let (_p, client) = launched(
        move |req| {
            log.borrow_mut().push((req.url.clone(), req.priority));
            if req.url.contains("/Patient/") {
                json(200, PATIENT)
            } else if req.url.contains("page=2") {
                json(200, r#"{"resourceType":"Bundle","entry":[]}"#)
            } else {
                json(
                    200,
                    r#"{"resourceType":"Bundle","entry":[],"link":[{"relation":"next","url":"http://localhost:9000/fhir/Condition?page=2"}]}"#,
                )
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
    );
    block_on(client.read("Patient", "patient-01")).unwrap();
    block_on(client.search_all("Condition", &[("patient", "patient-01")], |_, _| {})).unwrap();
    let seen: Vec<_> = seen.borrow().iter().map(|(_, p)| *p).collect();
    use crate::platform::Priority;
    assert_eq!(seen, vec![Priority::Normal, Priority::Low, Priority::Low]);
}

#[test]
fn the_token_never_leaves_the_fhir_base() {
    let (p, client) = launched(
        |req| {
            if req.url.contains("page=2") {
                json(
                    200,
                    r#"{"resourceType":"Bundle","entry":[],"link":[{"relation":"next","url":"https://evil.example/fhir/Observation?page=3"}]}"#,
                )
            } else {
                json(
                    200,
                    r#"{"resourceType":"Bundle","total":2,"entry":[{"resource":{"resourceType":"Observation","id":"1"}}],"link":[{"relation":"next","url":"http://localhost:9000/fhir/Observation?page=2"}]}"#,
                )
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
    );
    assert!(matches!(
        block_on(client.get("https://evil.example/fhir/Patient/1")),
        Err(FhirError::OffBase(_))
    ));
    let mut progress = Vec::new();
    let e = block_on(
        client.search_all("Observation", &[("patient", "p")], |n, t| {
            progress.push((n, t))
        }),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        FhirError::Paging(crate::fhir::PagingError::OffBase(_))
    ));
    assert_eq!(progress, vec![(1, Some(2)), (1, None)]);
    assert!(p
        .urls()
        .iter()
        .all(|u| u.starts_with("http://localhost:9000/fhir/")));
}

/// Epic Hyperspace shares one sessionStorage between the app's tabs: two launches in two tabs
/// keep two sessions, a reload in each resumes its own patient, the callback restores a tab name
/// the browser dropped on the way, and signing out in one tab leaves the other signed in.
#[test]
fn tabs_sharing_one_storage_resume_their_own_patients() {
    let now_s = 1_700_000_000;
    let p = Rc::new(Scripted::new(move |req| {
        if req.url.ends_with("/.well-known/smart-configuration") {
            well_known()
        } else if req.url.ends_with("/auth/token") {
            let patient = if req.body.as_deref().unwrap_or("").contains("code=CODE-A") {
                "patient-a"
            } else {
                "patient-b"
            };
            let mut body = json!({"access_token":"AT","token_type":"Bearer","expires_in":3600,"scope":"launch openid fhirUser patient/*.rs","patient":patient});
            body["id_token"] = json!(id_token(good_claims(now_s)));
            json(200, &body.to_string())
        } else if req.url.ends_with("/jwks") {
            json(200, &sandbox::keys::Signer::shared().jwks().to_string())
        } else {
            json(404, "{}")
        }
    }));
    let start = || block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let url_a = start();
    let tab_a = p.tab_name();
    assert!(!tab_a.is_empty(), "the launch names its tab");
    p.set_tab_name(""); // a second tab, unnamed
    let url_b = start();
    let tab_b = p.tab_name();
    assert_ne!(tab_a, tab_b);

    p.set_tab_name(&tab_a);
    block_on(complete(&p, callback_from(&url_a, "CODE-A"))).unwrap();
    p.set_tab_name(""); // tab b, its name cleared on the way through the EHR's pages
    block_on(complete(&p, callback_from(&url_b, "CODE-B"))).unwrap();
    assert_eq!(p.tab_name(), tab_b, "restored from its pending sign-in");

    let patient = || stored(&*p).and_then(|s| s.context.patient);
    assert_eq!(patient().as_deref(), Some("patient-b"));
    p.set_tab_name(&tab_a);
    assert_eq!(patient().as_deref(), Some("patient-a"));

    let url_a2 = start(); // tab a starts another sign-in, then tab b signs out
    p.set_tab_name(&tab_b);
    sign_out(&p);
    assert_eq!(patient(), None);
    p.set_tab_name(&tab_a);
    assert_eq!(
        patient().as_deref(),
        Some("patient-a"),
        "tab a is still signed in"
    );
    let state = |url: &str| callback_from(url, "C").state.unwrap();
    assert!(p
        .load(&PendingAuthorization::storage_key(&state(&url_a2)))
        .is_some());
}

#[test]
fn sign_out_clears_everything() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    block_on(complete(&p, callback_from(&url, "C"))).unwrap();
    block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(!p.keys().is_empty());
    sign_out(&p);
    assert!(p.keys().is_empty());
}

#[test]
fn a_foreign_endpoint_is_refused_before_the_authorize_redirect() {
    for (name, foreign) in [
        ("token_endpoint", "https://attacker.example/token"),
        (
            "authorization_endpoint",
            "http://localhost:9001/auth/authorize",
        ),
        ("jwks_uri", "https://attacker.example/jwks"),
    ] {
        let p = Scripted::new(move |req| {
            let mut v: serde_json::Value =
                serde_json::from_str(&well_known().unwrap().body).unwrap();
            v[name] = foreign.into();
            if req.url.ends_with("/.well-known/smart-configuration") {
                json(200, &v.to_string())
            } else {
                json(404, "{}")
            }
        });
        let e = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap_err();
        assert!(
            matches!(&e, LaunchError::Discovery(DiscoveryError::ForeignEndpoint { name: n, .. }) if *n == name),
            "{name}: {e:?}"
        );
        // Only discovery was asked (no metadata fallback), and no sign-in is pending.
        assert_eq!(
            p.urls(),
            vec!["http://localhost:9000/fhir/.well-known/smart-configuration"]
        );
        assert!(p.keys().is_empty(), "{name}");
    }
}

#[test]
fn extra_origins_admit_an_authorization_server_on_another_host() {
    let ehrs = Ehrs::parse(
        r#"{"ehrs":[{"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs","extra_origins":["https://auth.example"]}]}"#,
    )
    .unwrap();
    let p = Scripted::new(|req| {
        let mut v: serde_json::Value = serde_json::from_str(&well_known().unwrap().body).unwrap();
        v["authorization_endpoint"] = "https://auth.example/authorize".into();
        v["token_endpoint"] = "https://auth.example/token".into();
        if req.url.ends_with("/.well-known/smart-configuration") {
            json(200, &v.to_string())
        } else {
            json(404, "{}")
        }
    });
    let url = block_on(begin(&p, &ehrs, Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(url.starts_with("https://auth.example/authorize?"), "{url}");
}

#[test]
fn a_well_known_without_pkce_methods_is_refused_unless_the_entry_opts_out() {
    let silent = || {
        Scripted::new(|req| {
            let mut v: serde_json::Value =
                serde_json::from_str(&well_known().unwrap().body).unwrap();
            v.as_object_mut()
                .unwrap()
                .remove("code_challenge_methods_supported");
            if req.url.ends_with("/.well-known/smart-configuration") {
                json(200, &v.to_string())
            } else {
                json(404, "{}")
            }
        })
    };
    let p = silent();
    let e = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap_err();
    assert_eq!(e, LaunchError::Discovery(DiscoveryError::PkceNotAdvertised));
    assert_eq!(p.urls().len(), 1, "no metadata fallback");
    assert!(p.keys().is_empty());

    let legacy = Ehrs::parse(
        r#"{"ehrs":[{"id":"sandbox","name":"Sandbox","iss":"http://localhost:9000/fhir","client_id":"smart-launch","scopes":"patient/*.rs","require_pkce_advertised":false}]}"#,
    )
    .unwrap();
    let p = silent();
    let url = block_on(begin(&p, &legacy, Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    assert!(
        url.contains("&code_challenge_method=S256"),
        "S256 is still sent: {url}"
    );
}

#[test]
fn a_malformed_callback_drops_the_sign_in_its_state_names() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = server(token_body(&probe, None));
    let url = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let other = block_on(begin(&p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let state = callback_from(&url, "x").state.unwrap();
    let query = format!("?code=a&code=b&state={state}");
    assert!(classify(&query).is_err());
    refuse_visit(&p, &query);
    let pending: Vec<_> = p
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(PENDING_PREFIX))
        .collect();
    assert_eq!(
        pending,
        vec![PendingAuthorization::storage_key(
            &callback_from(&other, "x").state.unwrap()
        )],
        "only the named sign-in is dropped"
    );
}

const AT2: &str =
    r#"{"access_token":"AT-2","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-2"}"#;
const AT1: &str =
    r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1"}"#;

#[test]
fn a_401_after_the_refresh_ends_the_session_once_for_every_caller() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                json(200, AT2)
            } else {
                json(401, "")
            }
        },
        AT1,
    );
    let (a, b, c) = block_on(futures::future::join3(
        client.read("Patient", "patient-01"),
        client.search_all("Condition", &[("patient", "patient-01")], |_, _| {}),
        client.search_all("Observation", &[("patient", "patient-01")], |_, _| {}),
    ));
    assert_eq!(a, Err(FhirError::SessionExpired));
    assert_eq!(b, Err(FhirError::SessionExpired));
    assert_eq!(c, Err(FhirError::SessionExpired));
    assert_eq!(p.count("/auth/token"), 1, "one refresh for all three");
    // Three requests with AT-1, three retries with AT-2 in flight together; nothing more.
    assert_eq!(p.count("/fhir/"), 6);
    assert!(client.is_ended());
    client.with_session(|s| {
        assert!(s.access_token.expose().is_empty());
        assert!(s.refresh_token.is_none());
    });
    assert!(
        !crate::smart::session::is_stored(&*p),
        "dropped from storage"
    );
    // No further request with the token, and no further refresh.
    assert_eq!(
        block_on(client.read("Patient", "patient-01")),
        Err(FhirError::SessionExpired)
    );
    assert!(block_on(client.session().refresh()).is_err());
    assert_eq!(p.sent.borrow().len(), 7);
}

/// Oracle Health's FHIR 401s carry no CORS headers, so the browser reports a network failure.
/// When the server still answers its public SMART configuration, the failure may be such a
/// 401: one refresh and one retry. When it answers nothing, it is out of reach: no refresh.
#[test]
fn a_401_hidden_by_missing_cors_headers_refreshes_once() {
    let unreachable = || Err(NetError::Unreachable("http://localhost:9000".into()));
    let (p, client) = launched(
        move |req| {
            if req.url.ends_with("/auth/token") {
                json(200, AT2)
            } else if req.url.ends_with("/.well-known/smart-configuration") {
                well_known()
            } else if req.header("Authorization") == Some("Bearer AT-2") {
                json(200, PATIENT)
            } else {
                unreachable()
            }
        },
        AT1,
    );
    assert_eq!(
        block_on(client.read("Patient", "patient-01")).unwrap()["id"],
        "patient-01"
    );
    assert_eq!(p.count("/auth/token"), 1);
    assert_eq!(p.count("/.well-known/smart-configuration"), 1);
    assert!(!client.is_ended());

    // The server out of reach: the probe fails too, the tokens stay as they are.
    let (p, client) = launched(move |_| unreachable(), AT1);
    assert!(matches!(
        block_on(client.read("Patient", "patient-01")),
        Err(FhirError::Network(NetError::Unreachable(_)))
    ));
    assert_eq!(p.count("/auth/token"), 0);
    assert!(!client.is_ended());

    // Without a refresh token there is nothing to try: no probe either.
    let (p, client) = launched(
        move |_| unreachable(),
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600}"#,
    );
    assert!(block_on(client.read("Patient", "patient-01")).is_err());
    assert_eq!(p.urls().len(), 1);
}

#[test]
fn a_401_without_a_refresh_token_ends_the_session() {
    let (p, client) = launched(
        |_| json(401, ""),
        r#"{"access_token":"AT-1","token_type":"Bearer","expires_in":3600}"#,
    );
    assert_eq!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::SessionExpired)
    );
    assert!(!crate::smart::session::is_stored(&*p));
    assert_eq!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::SessionExpired)
    );
    assert_eq!(p.sent.borrow().len(), 1, "nothing sent after the end");
}

#[test]
fn a_401_for_a_token_already_replaced_retries_without_a_second_refresh() {
    // One caller's request with AT-1 is in flight while another's refresh lands AT-2: its 401
    // is for the old token, so it retries with AT-2 and the session lives on.
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                return json(200, AT2);
            }
            match req.header("Authorization") {
                Some("Bearer AT-2") => json(200, PATIENT),
                _ => json(401, ""),
            }
        },
        AT1,
    );
    let refresh = client.session().refresh();
    let (r, read) = block_on(futures::future::join(
        refresh,
        client.read("Patient", "patient-01"),
    ));
    assert!(r.is_ok());
    assert_eq!(read.unwrap()["id"], "patient-01");
    assert_eq!(p.count("/auth/token"), 1);
    assert!(!client.is_ended());
}

#[test]
fn a_passing_refresh_failure_is_not_the_sessions_end() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/token") {
                Err(NetError::Unreachable(req.url.clone()))
            } else {
                json(401, "")
            }
        },
        AT1,
    );
    assert!(matches!(
        block_on(client.read("Patient", "x")),
        Err(FhirError::Network(_))
    ));
    assert!(!client.is_ended());
    client.with_session(|s| assert!(s.refresh_token.is_some()));
    assert_eq!(p.count("/auth/token"), 1);
}

/// Patient search reads the first page only, and says when the server has more.
#[test]
fn a_first_page_search_sends_one_request() {
    let (p, client) = launched(
        |_| {
            json(
                200,
                r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"1"}},{"resource":{"resourceType":"OperationOutcome"}}],"link":[{"relation":"next","url":"http://localhost:9000/fhir/Patient?page=2"}]}"#,
            )
        },
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
    );
    let page = block_on(client.search_first("Patient", &[("name", "a")])).unwrap();
    assert_eq!(page.resources.len(), 1);
    assert!(page.more);
    assert_eq!(p.count("/fhir/Patient"), 1, "{:?}", p.urls());
    let (_, client) = launched(
        |_| {
            json(
                200,
                r#"{"resourceType":"Bundle","total":1,"entry":[{"resource":{"resourceType":"Patient","id":"1"}}]}"#,
            )
        },
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
    );
    assert!(!block_on(client.search_first("Patient", &[])).unwrap().more);
    let (_, client) = launched(
        |_| json(200, r#"{"resourceType":"Patient"}"#),
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
    );
    assert!(matches!(
        block_on(client.search_first("Patient", &[])),
        Err(FhirError::Malformed(_))
    ));
}

/// Sign-out ends the session at once and revokes its tokens (RFC 7009): the refresh token first
/// (it ends the grant), then the access token, as a public client (no Authorization header);
/// nothing else is sent. Without an advertised endpoint, no request at all.
#[test]
fn sign_out_revokes_the_tokens() {
    let (p, client) = launched(
        |req| {
            if req.url.ends_with("/auth/revoke") {
                json(200, "")
            } else {
                json(200, PATIENT)
            }
        },
        r#"{"access_token":"AT-1","token_type":"Bearer","refresh_token":"RT-1"}"#,
    );
    let revoking = end_session(&*p, &client);
    assert!(client.is_ended());
    assert!(stored(&*p).is_none(), "forgotten at once");
    assert!(matches!(
        block_on(client.read("Patient", "patient-01")),
        Err(FhirError::SessionExpired)
    ));
    block_on(revoking);
    let sent: Vec<_> = p.sent.borrow().clone();
    let revocations: Vec<(Option<String>, Option<String>)> = sent
        .iter()
        .map(|(m, u, body, auth)| {
            assert_eq!(
                (*m, u.as_str()),
                (
                    crate::platform::Method::Post,
                    "http://localhost:9000/auth/revoke"
                )
            );
            (body.clone(), auth.clone())
        })
        .collect();
    assert_eq!(
        revocations,
        vec![
            (
                Some("token=RT-1&token_type_hint=refresh_token&client_id=smart-launch".into()),
                None
            ),
            (
                Some("token=AT-1&token_type_hint=access_token&client_id=smart-launch".into()),
                None
            ),
        ]
    );
    // Revoking again (a second click) sends nothing: the session has already ended.
    block_on(client.session().revoke());
    assert_eq!(p.sent.borrow().len(), 2);

    let (p, client) = launched_with(
        |_| json(200, PATIENT),
        r#"{"access_token":"AT-1","token_type":"Bearer"}"#,
        None,
    );
    block_on(client.session().revoke());
    assert!(client.is_ended());
    assert!(p.sent.borrow().is_empty());
}

/// The callback as the launch module runs it: `exchange_for_chart` with the read of the launch
/// patient started on its own, as the launch module's promise runs it.
fn exchange_and_read(
    p: &Rc<Scripted>,
    params: CallbackParams,
) -> (Handoff, Option<FirstRead>, Vec<&'static str>) {
    let steps = std::cell::RefCell::new(Vec::new());
    let read = std::cell::RefCell::new(None);
    let handoff = block_on(exchange_for_chart(
        p.clone(),
        params,
        None,
        |step| steps.borrow_mut().push(step),
        |r| *read.borrow_mut() = Some(r),
    ));
    let read = read.into_inner().map(block_on);
    // Both cross to the chart as text.
    let handoff = Handoff::from_json(&handoff.to_json()).unwrap();
    let read = read.map(|r| FirstRead::from_json(&r.to_json()).unwrap());
    (handoff, read, steps.into_inner())
}

#[test]
fn the_handoff_carries_the_checked_session_and_the_patients_read_follows() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let (handoff, read, steps) = exchange_and_read(&p, callback_from(&url, "C"));
    assert_eq!(steps, ["token-answered", "id-token-checked"]);
    let Handoff::Exchanged { session } = handoff else {
        panic!("the exchange is handed on");
    };
    assert_eq!(session.context.patient.as_deref(), Some("patient-01"));
    assert_eq!(session.refresh_token.as_ref().unwrap().expose(), "RT-1");
    let Some(FirstRead::Read(patient)) = read else {
        panic!("the patient's read is handed on");
    };
    assert_eq!(patient["id"], "patient-01");
    let kept = stored(&*p).expect("stored once the id_token check passed");
    assert_eq!(
        kept.fhir_user.as_deref(),
        Some("http://localhost:9000/fhir/Practitioner/dr-adams")
    );
    // The read goes out with the new token, after the token and JWKS requests.
    let sent = p.sent.borrow();
    let (_, url, _, auth) = sent.last().unwrap();
    assert!(url.ends_with("/fhir/Patient/patient-01"));
    assert_eq!(auth.as_deref(), Some("Bearer AT-1"));
}

/// A first read answered 401, or with what may be a 401 without CORS headers, is not refreshed
/// by the launch module: the chart, whose copy of the session is the only one that refreshes,
/// reads again. The tokens handed on are the exchange's, and nothing was refreshed or ended.
#[test]
fn a_first_read_that_may_want_a_refresh_is_left_to_the_chart() {
    for answer in [
        Ok(401),
        Err(NetError::Unreachable("the FHIR server".into())),
    ] {
        let probe = Scripted::new(|_| json(500, ""));
        let fhir = answer.clone();
        let p = Rc::new(server_with_fhir(
            token_body(&probe, None),
            move |_| match &fhir {
                Ok(status) => json(*status, ""),
                Err(e) => Err(e.clone()),
            },
        ));
        let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
        let (handoff, read, _) = exchange_and_read(&p, callback_from(&url, "C"));
        let Handoff::Exchanged { session } = handoff else {
            panic!("the exchange is handed on");
        };
        assert_eq!(session.refresh_token.as_ref().unwrap().expose(), "RT-1");
        assert!(matches!(read, Some(FirstRead::Again)), "{answer:?}");
        let tokens = p
            .urls()
            .iter()
            .filter(|u| u.ends_with("/auth/token"))
            .count();
        assert_eq!(tokens, 1, "no refresh from the launch module");
        assert!(stored(&*p).is_some(), "the session stays");
    }
}

/// A read that fails for a reason no refresh changes is handed on as that failure, for the
/// banner to say; a callback that fails hands on its failure, and no session and no read.
#[test]
fn a_failed_first_read_is_handed_on_and_a_failed_callback_starts_none() {
    let probe = Scripted::new(|_| json(500, ""));
    let p = Rc::new(server_with_fhir(token_body(&probe, None), |_| {
        json(403, "")
    }));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let (handoff, read, _) = exchange_and_read(&p, callback_from(&url, "C"));
    assert!(matches!(handoff, Handoff::Exchanged { .. }));
    assert!(
        matches!(read, Some(FirstRead::Failed(FhirError::Forbidden(_)))),
        "the 403 is handed on"
    );

    let p = Rc::new(server(token_body(&probe, None)));
    let url = block_on(begin(&*p, &ehrs(), Target::Ehr("sandbox"), None, REDIRECT)).unwrap();
    let mut params = callback_from(&url, "C");
    params.state = Some("not-the-state".into());
    let (handoff, read, steps) = exchange_and_read(&p, params);
    assert!(matches!(handoff, Handoff::CallbackFailed { .. }));
    assert!(read.is_none() && steps.is_empty());
    assert!(stored(&*p).is_none());
}
