#![cfg(not(target_arch = "wasm32"))]
//! End to end in headless Chromium: what the app guarantees by itself against a misbehaving or
//! hostile EHR (SECURITY.md "Discovery", "Authorize and callback", "Tokens"), with the app
//! served both with and without app-host's Content-Security-Policy.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::Value;
use support::{counting_server, start, start_hosted, start_with, Env, Hosting};

const PENDING_PREFIX: &str = "smart-launch.pending.";

async fn problem_code(env: &Env) -> String {
    env.element("#problem")
        .await
        .attr("data-code")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn pending_sign_ins(env: &Env) -> Vec<String> {
    match env.session_storage().await {
        Value::Object(m) => m
            .keys()
            .filter(|k| k.starts_with(PENDING_PREFIX))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// A SMART configuration whose token endpoint lies on another origin (a mix-up attack, RFC 9700
/// §4.4) is refused before the authorize redirect, by the app itself: served without any CSP, the
/// foreign origin still receives nothing. With auto-approve, an app that went on would POST the
/// code and verifier there at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_token_endpoint_receives_nothing_without_the_csp() {
    let (port, connections) = counting_server().await;
    let foreign = format!("http://localhost:{port}/token");
    let f = foreign.clone();
    let env = start_hosted(
        Hosting::Plain,
        move |c| {
            c.auto_approve = true;
            c.faults.foreign_token_endpoint = Some(f);
        },
        |_| {},
    )
    .await;
    env.ehr_launch_auto("patient-01").await;
    assert_eq!(problem_code(&env).await, "foreign-endpoint");
    let msg = env.text("#problem-message").await;
    assert!(msg.contains(&foreign), "{msg}");
    assert!(msg.contains("extra_origins"), "{msg}");
    // Served without app-host's headers: the app alone stopped it.
    let csp = env
        .browser
        .execute_async(
            "const done = arguments[0]; fetch(location.href).then(r => done(r.headers.get('content-security-policy')));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(csp, Value::Null, "no CSP on this host");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        connections.load(Ordering::Relaxed),
        0,
        "the foreign origin received nothing"
    );
    assert_eq!(
        env.stat("authorize"),
        0,
        "refused before the authorize redirect"
    );
    assert_eq!(env.stat("token"), 0);
    assert!(pending_sign_ins(&env).await.is_empty());
    env.screenshot("foreign-endpoint").await;
    env.close().await;
}

/// Every callback path cleans the address bar first; a refused callback (a repeated `code`, an
/// error response) drops the pending sign-in its `state` names, verifier and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_callbacks_leave_no_code_in_the_address_bar_and_no_pending_sign_in() {
    let env = start(|_| {}).await;
    for (n, callback) in [
        "code=first&code=second&state={state}",
        "error=access_denied&error_description=no&state={state}",
        "state={state}&state=other&code=x",
    ]
    .into_iter()
    .enumerate()
    {
        // A real sign-in pending in this tab (stored under its state), then back at the app.
        env.browser
            .goto(&format!("{}/launch.html", env.app))
            .await
            .unwrap();
        env.click("#ehr-sandbox").await;
        env.text("#login-practitioner").await;
        env.browser
            .goto(&format!("{}/launch.html", env.app))
            .await
            .unwrap();
        env.element("#picker-title").await;
        let pending = pending_sign_ins(&env).await;
        assert_eq!(pending.len(), 1, "case {n}");
        let state = pending[0].trim_start_matches(PENDING_PREFIX).to_string();

        let query = callback.replace("{state}", &state);
        env.browser
            .goto(&format!("{}/launch.html?{query}", env.app))
            .await
            .unwrap();
        env.element("#problem").await;
        assert_eq!(
            env.browser.current_url().await.unwrap().query(),
            None,
            "{query}: the address bar is clean"
        );
        assert!(
            pending_sign_ins(&env).await.is_empty(),
            "{query}: the pending sign-in is dropped"
        );
    }
    assert_eq!(env.stat("token"), 0);
    env.close().await;
}

/// A `.well-known` without `code_challenge_methods_supported` is refused with a clear page; an
/// entry that opts out (a legacy server) launches, still with S256 (the sandbox requires it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_methods_must_be_advertised_unless_the_entry_opts_out() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.omit_pkce_methods = true;
    })
    .await;
    env.ehr_launch_auto("patient-01").await;
    assert_eq!(problem_code(&env).await, "pkce-not-advertised");
    assert!(env
        .text("#problem-message")
        .await
        .contains("require_pkce_advertised"));
    assert_eq!(env.stat("authorize"), 0);
    env.close().await;

    let env = start_with(
        |c| {
            c.auto_approve = true;
            c.faults.omit_pkce_methods = true;
        },
        |entry| entry["require_pkce_advertised"] = false.into(),
    )
    .await;
    env.ehr_launch_auto("patient-01").await;
    let name = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == name).await;
    assert_eq!(env.stat("token"), 1);
    env.close().await;
}

/// A FHIR server that answers 401 to everything: one refresh, one retry, then the session ends
/// once for every section: one message, the tokens gone from storage, no request after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_session_is_ended_once() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.fhir_unauthorized = true;
    })
    .await;
    env.ehr_launch_auto("patient-01").await;
    assert_eq!(problem_code(&env).await, "session-expired");
    let after_end = (env.stat("fhir-401"), env.stat("token"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        (env.stat("fhir-401"), env.stat("token")),
        after_end,
        "no request after the end"
    );
    assert_eq!(env.stat("token"), 2, "the code exchange and one refresh");
    // The reads that start together (the patient, six section searches, the user), each once
    // and once retried with the refreshed token, at most; a next page never.
    assert!(env.stat("fhir-401") <= 16, "{} 401s", env.stat("fhir-401"));
    let problems = env
        .browser
        .find_all(Locator::Css("#problem"))
        .await
        .unwrap();
    assert_eq!(problems.len(), 1);
    let stored = env.session_storage().await;
    assert!(
        stored.get("smart-launch.session").is_none(),
        "tokens dropped from storage: {stored}"
    );
    env.close().await;
}

/// An id_token whose signature does not verify stops the launch even though the chart's first
/// reads went out while it was checked (issue 11): the problem page only, nothing of the chart
/// on screen, no session stored, no request after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_id_token_signature_shows_nothing_of_the_chart() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.bad_id_token_signature = true;
    })
    .await;
    env.ehr_launch_auto("patient-01").await;
    assert_eq!(problem_code(&env).await, "id-token");
    let after_end = env.stat("fhir");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.stat("fhir"), after_end, "no request after the end");
    for sel in ["#patient-name", "#banner", ".tabs", ".chart"] {
        let found = env.browser.find_all(Locator::Css(sel)).await.unwrap();
        assert!(found.is_empty(), "{sel} is on the page");
    }
    let stored = env.session_storage().await;
    assert!(
        stored.get("smart-launch.session").is_none(),
        "no session stored: {stored}"
    );
    env.close().await;
}
