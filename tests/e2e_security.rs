#![cfg(not(target_arch = "wasm32"))]
//! End to end in headless Chromium: what the app guarantees by itself against a misbehaving or
//! hostile EHR (SECURITY.md "Discovery", "Authorize and callback", "Tokens"), with the app
//! served both with and without app-host's Content-Security-Policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::Value;
use support::{
    code_from, counting_server, start, start_hosted, start_two, start_with, stored_session, Env,
    Hosting,
};

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
        stored_session(&stored).is_none(),
        "tokens dropped from storage: {stored}"
    );
    env.close().await;
}

/// An id_token whose signature does not verify stops the launch even though the chart's first
/// reads went out while it was checked: the problem page only, nothing of the chart
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
        stored_session(&stored).is_none(),
        "no session stored: {stored}"
    );
    env.close().await;
}

/// Waits up to `limit` for `css`; how long it took.
async fn appears_within(env: &Env, css: &str, limit: Duration) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        if env.browser.find(Locator::Css(css)).await.is_ok() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{css} did not appear within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn next_step(env: &Env) -> String {
    env.element("#next-step")
        .await
        .attr("data-next")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// A server whose discovery never answers: the launch ends within 20 s (the app's deadline is
/// 12 s for `.well-known` and `metadata` together) on a page that names the server and offers
/// "Try again", which sends the same launch again and, now that the server answers, reaches
/// the chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_that_never_answers_ends_in_a_page_that_tries_again() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.hang = vec!["/fhir/.well-known/smart-configuration".into()];
    })
    .await;
    env.open_sandbox_page("patient-01").await;
    env.click("#launch").await;
    let took = appears_within(&env, "#problem", Duration::from_secs(20)).await;
    assert_eq!(
        problem_code(&env).await,
        "discovery-timeout",
        "after {took:?}"
    );
    let origin = env.sandbox.sandbox.config.public_url.clone();
    let msg = env.text("#problem-message").await;
    assert!(msg.contains(&origin), "names the server: {msg}");
    assert_eq!(next_step(&env).await, "try-again");
    assert_eq!(env.stat("authorize"), 0);

    env.set_faults(|f| f.hang.clear());
    env.click("#retry").await;
    let name = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == name).await;
    env.close().await;
}

/// The patient's read never answers: the banner says so at the request's deadline and offers
/// "Try again", which reads the patient again; the rest of the chart is there meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_read_that_never_answers_offers_to_try_again() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.hang = vec!["/fhir/Patient/patient-01".into()];
    })
    .await;
    env.ehr_launch_auto("patient-01").await;
    // FHIR requests have 30 s (platform::DEFAULT_TIMEOUT_MS).
    appears_within(&env, "#banner-error", Duration::from_secs(45)).await;
    let msg = env.text("#banner-error").await;
    assert!(msg.contains("try again"), "{msg}");
    env.element("#tab-summary").await;
    env.set_faults(|f| f.hang.clear());
    env.click("#banner-retry").await;
    let name = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == name).await;
    env.close().await;
}

/// RFC 9207 §2.4 with two configured EHRs, both advertising `iss` in their responses: a code
/// that the second EHR issued, delivered without `iss` to a sign-in pending at the first, is
/// sent to neither token endpoint, starts no session, and drops that sign-in; delivered with
/// the second EHR's `iss`, the same. A sandbox that leaves `iss` out of its own callbacks is
/// refused the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_the_advertised_iss_is_refused() {
    let env = start_two(|_| {}, |c| c.auto_approve = true).await;
    let second = env.second.as_ref().unwrap();
    let second_tokens = || second.sandbox.stats.token_requests.load(Ordering::Relaxed);
    let redirect = format!("{}/launch.html", env.app);
    for with_iss in [None, Some(second.sandbox.fhir_base.clone())] {
        // A sign-in pending at the first EHR, then back at the app.
        env.browser.goto(&redirect).await.unwrap();
        env.click("#ehr-sandbox").await;
        env.text("#login-practitioner").await;
        env.browser.goto(&redirect).await.unwrap();
        env.element("#picker-title").await;
        let pending = pending_sign_ins(&env).await;
        assert_eq!(pending.len(), 1);
        let state = pending[0].trim_start_matches(PENDING_PREFIX).to_string();

        let code = code_from(second, &redirect).await;
        let mut query = format!("code={code}&state={state}");
        if let Some(iss) = &with_iss {
            query.push_str(&format!("&iss={iss}"));
        }
        env.browser
            .goto(&format!("{redirect}?{query}"))
            .await
            .unwrap();
        let code_shown = problem_code(&env).await;
        let expected = if with_iss.is_some() {
            "relaunch"
        } else {
            "missing-iss"
        };
        assert_eq!(code_shown, expected);
        assert_eq!(next_step(&env).await, "launch-again");
        assert_eq!(env.browser.current_url().await.unwrap().query(), None);
        assert!(pending_sign_ins(&env).await.is_empty());
        let stored = env.session_storage().await;
        assert!(stored_session(&stored).is_none(), "{stored}");
    }
    assert_eq!(env.stat("token"), 0, "the first EHR's token endpoint");
    assert_eq!(second_tokens(), 0, "the second EHR's token endpoint");
    env.close().await;

    let env = start(|c| {
        c.auto_approve = true;
        c.faults.omit_callback_iss = true;
    })
    .await;
    env.ehr_launch_auto("patient-01").await;
    assert_eq!(problem_code(&env).await, "missing-iss");
    assert_eq!(env.stat("token"), 0);
    env.close().await;
}

/// OpenID Connect Core 3.1.3.7: id_tokens whose signature holds but which name another audience
/// beside this app, another authorized party, or an issue time a year ahead stop the launch
/// with nothing of the chart shown and no session stored; the same server's good token opens
/// the chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_for_other_parties_or_from_the_future_are_refused() {
    let env = start(|c| c.auto_approve = true).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for claims in [
        serde_json::json!({"aud": ["smart-launch", "another-app"]}),
        serde_json::json!({"azp": "another-app"}),
        serde_json::json!({"iat": now + 365 * 86_400}),
    ] {
        env.set_faults(|f| f.id_token_claims = claims.as_object().cloned());
        env.ehr_launch_auto("patient-01").await;
        assert_eq!(problem_code(&env).await, "id-token", "{claims}");
        assert_eq!(next_step(&env).await, "launch-again");
        for sel in ["#patient-name", ".tabs"] {
            let found = env.browser.find_all(Locator::Css(sel)).await.unwrap();
            assert!(found.is_empty(), "{claims}: {sel} is on the page");
        }
        let stored = env.session_storage().await;
        assert!(stored_session(&stored).is_none(), "{stored}");
    }
    env.set_faults(|f| f.id_token_claims = None);
    env.ehr_launch_auto("patient-01").await;
    let name = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == name).await;
    env.close().await;
}

/// A chart whose notes carry inline event handlers and styles, served with app-host's
/// Content-Security-Policy: parsing them raises no policy violation and no console error (the
/// app parses HTML in its parser frame, src/web/html.rs), and the notes are shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_with_inline_handlers_raise_no_csp_violation() {
    let env = start(|c| c.auto_approve = true).await;
    let patient = sandbox::data::HOSTILE_PATIENT;
    env.ehr_launch_auto(patient).await;
    env.text_when("#patient-name", |t| t == env.patient_name(patient))
        .await;
    env.open_tab("notes").await;
    // The hostile notes' paragraph with `onclick` and `onmouseover`, and the tag soup's text,
    // shown (in the DOM: a narrative may be folded away).
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let text = env
            .browser
            .execute(
                "const p = document.getElementById('panel-notes'); return p ? p.textContent : '';",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        // Once in the report's narrative (XHTML), once in the HTML attachment (parsed in the
        // frame), once in the tag soup of HTML that is not XML.
        if text
            .as_str()
            .is_some_and(|t| t.matches("Point here.").count() >= 2 && t.contains("onetwo"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the notes: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The console is read for real: a marker written now must be in it.
    env.browser
        .execute("console.error('console-probe-marker');", vec![])
        .await
        .unwrap();
    let console = env.console().await;
    assert!(
        console.iter().any(|l| l.contains("console-probe-marker")),
        "the browser's console could not be read: {console:?}"
    );
    let noise: Vec<&String> = console
        .iter()
        .filter(|l| {
            l.contains("Content Security Policy")
                || l.contains("Blocked script execution")
                || l.contains("violates")
        })
        .collect();
    assert!(noise.is_empty(), "{noise:#?}");
    env.close().await;
}
