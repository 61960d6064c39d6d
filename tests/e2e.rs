#![cfg(not(target_arch = "wasm32"))]
//! End to end in headless Chromium: real launches of the built app against the sandbox EHR on
//! another origin, as a clinician or a patient would do them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;

use support::{counting_server, start, stored_session};

/// (a) EHR launch from the sandbox's launch page ends with the patient's name in the banner;
/// (c) a reload keeps the session without a new authorize.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_then_reload_keeps_the_session() {
    let env = start(|_| {}).await;
    let b = &env.browser;
    b.goto(&format!(
        "{}/?patient=patient-04",
        env.sandbox.sandbox.config.public_url
    ))
    .await
    .unwrap();
    env.select("#practitioner", "dr-baker").await;
    env.click("#launch").await;
    // The sandbox asks the clinician to approve the requested scopes.
    env.click("#allow").await;
    let expected = env.patient_name("patient-04");
    let shown = env.text_when("#patient-name", |t| !t.is_empty()).await;
    assert_eq!(shown, expected);
    env.open_tab("session").await;
    assert_eq!(
        env.text_when("#user", |t| t.contains("Baker")).await,
        "Thomas Baker MD"
    );
    env.click("details.technical summary").await;
    let scopes = env.text("#scopes").await;
    assert!(
        scopes.contains("launch") && scopes.contains("patient/Patient.rs"),
        "{scopes}"
    );
    // The address bar no longer holds the code or state.
    let url = b.current_url().await.unwrap();
    assert_eq!(url.query(), None, "{url}");
    env.screenshot("ehr-launch-banner").await;
    assert_eq!(env.stat("authorize"), 1);
    assert_eq!(env.stat("token"), 1);

    // Tokens live in this tab's sessionStorage only.
    assert_eq!(env.local_storage_len().await, 0);
    let stored = env.session_storage().await;
    assert!(stored_session(&stored).is_some(), "{stored}");

    b.refresh().await.unwrap();
    assert_eq!(
        env.text_when("#patient-name", |t| !t.is_empty()).await,
        expected
    );
    assert_eq!(env.stat("authorize"), 1, "a reload does not sign in again");
    assert_eq!(env.stat("token"), 1);

    // Sign-out clears the screen and the storage, and has the server revoke the tokens
    // (RFC 7009): the grant ends, its access token is no longer accepted.
    let stored: serde_json::Value = stored_session(&stored).unwrap();
    let access = stored["access_token"].as_str().unwrap().to_string();
    let live = |token: &str| env.sandbox.sandbox.store().access.contains_key(token);
    assert!(live(&access));
    env.open_tab("session").await;
    env.click("#sign-out").await;
    env.text("#picker-title").await;
    assert_eq!(env.session_storage().await, serde_json::json!({}));
    let deadline = std::time::Instant::now() + support::WAIT;
    while env.stat("revoke") < 2 || live(&access) {
        assert!(
            std::time::Instant::now() < deadline,
            "not revoked: {} revocation requests",
            env.stat("revoke")
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        env.stat("revoke"),
        2,
        "the refresh token, then the access token"
    );
    env.close().await;
}

/// (b) Standalone launch from launch.html: pick the EHR, sign in, choose a patient, approve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_launch_with_patient_picker() {
    let env = start(|_| {}).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.select("#practitioner", "Practitioner/dr-chowdhury")
        .await;
    env.click("#login-practitioner").await;
    env.select("#patient", "long-name").await;
    env.click("#select").await;
    env.click("#allow").await;
    let expected = env.patient_name("long-name");
    let shown = env.text_when("#patient-name", |t| !t.is_empty()).await;
    assert_eq!(
        shown, expected,
        "unusual characters and markup shown as text"
    );
    assert!(shown.contains("<b>"), "markup in a name is text, not HTML");
    env.screenshot("standalone-long-name").await;
    assert_eq!(env.stat("token"), 1);
    env.close().await;
}

/// A patient signs in through the portal: the user is the patient in context, so the app reads
/// that Patient once and names the user from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_user_is_read_once() {
    let env = start(|_| {}).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.select("#patient-user", "Patient/patient-01").await;
    env.click("#login-patient").await;
    env.click("#allow").await;
    let expected = env.patient_name("patient-01");
    env.text_when("#patient-name", |t| t == expected).await;
    env.open_tab("session").await;
    env.text_when("#user", |t| t == expected).await;
    let reads = env
        .browser
        .execute(
            "return performance.getEntriesByType('resource').filter(e => /\\/fhir\\/Patient\\/patient-01$/.test(e.name)).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(reads.as_u64(), Some(1), "the patient is read once");
    env.close().await;
}

/// The callback's requests go in the order the patient's name needs them: the JWKS is
/// asked for together with the token (not after it), and the patient's read is the first FHIR
/// request, ahead of the chart's searches. Orders, read from the page's Resource Timing, not
/// durations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callbacks_requests_go_in_the_order_the_name_needs() {
    let env = start(|_| {}).await;
    env.ehr_launch("patient-05").await;
    let expected = env.patient_name("patient-05");
    env.text_when("#patient-name", |t| t == expected).await;
    let entries = env
        .browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => [new URL(e.name).pathname, e.startTime, e.responseEnd])",
            vec![],
        )
        .await
        .unwrap();
    let entries: Vec<(String, f64, f64)> = serde_json::from_value(entries).unwrap();
    let find = |path: &str| {
        entries
            .iter()
            .find(|(p, _, _)| p.ends_with(path))
            .unwrap_or_else(|| panic!("no {path} request: {entries:?}"))
    };
    let token = find("/auth/token");
    let jwks = find("/jwks");
    assert!(
        jwks.1 < token.2,
        "the JWKS request left before the token came back: {entries:?}"
    );
    let fhir: Vec<&(String, f64, f64)> = entries
        .iter()
        .filter(|(p, _, _)| p.contains("/fhir/"))
        .collect();
    let first = fhir
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("FHIR requests");
    assert_eq!(
        first.0, "/fhir/Patient/patient-05",
        "the patient's read leaves first: {fhir:?}"
    );
    assert!(
        fhir.len() > 3,
        "the chart's searches went out too: {fhir:?}"
    );
    // What the name does not need waits for it: the user's own read and the EHR's style.
    let painted = env
        .browser
        .execute(
            "return performance.getEntriesByName('patient-name-painted')[0].startTime;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    for later in ["/fhir/Practitioner/dr-adams", "/smart-style.json"] {
        let (_, started, _) = find(later);
        assert!(
            *started >= painted,
            "{later} left at {started} ms, before the name was painted at {painted} ms"
        );
    }
    // launch.html's loading placeholder gave way to the app, and only it: the style sheet
    // still applies (the header's colour comes from it), and there is one header.
    let page = env
        .browser
        .execute(
            "return [document.getElementById('loading') === null, document.querySelectorAll('header').length, getComputedStyle(document.querySelector('header.top')).backgroundColor];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(page, serde_json::json!([true, 1, "rgb(35, 74, 125)"]));
    env.close().await;
}

/// launch.html runs its small launch module first: an EHR launch leaves for the authorize
/// endpoint without starting the chart (it only prefetches the chart's files once its own
/// requests have left, for the callback), and the callback page starts it once its token request
/// has left. The chart's files carry content hashes, so the callback may take them from the
/// HTTP cache without asking the server: the browser's own network log sees every load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ehr_launch_never_starts_the_chart() {
    let env = start(|_| {}).await;
    let _ = env.network().await;
    env.ehr_launch("patient-05").await;
    let expected = env.patient_name("patient-05");
    env.text_when("#patient-name", |t| t == expected).await;
    let requests: Vec<(String, String)> = env
        .network()
        .await
        .iter()
        .map(|r| {
            let url = r["request"]["url"].as_str().unwrap_or_default();
            let path = url::Url::parse(url)
                .map(|u| u.path().to_string())
                .unwrap_or_default();
            (path, r["type"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let page = |path: &str| {
        (0..requests.len())
            .filter(|&i| requests[i] == (path.to_string(), "Document".to_string()))
            .collect::<Vec<_>>()
    };
    let (launches, signs_in) = (page("/launch.html"), page("/auth/authorize"));
    assert!(
        launches.len() == 2 && signs_in.len() == 1,
        "the launch, the EHR's sign-in, the callback: {requests:?}"
    );
    let launch_visit = &requests[launches[0]..signs_in[0]];
    let callback = &requests[launches[1]..];
    let chart = |(path, _): &&(String, String)| path.contains("/smart-launch-");
    // A prefetch is DevTools' "Other"; the chart's start imports its JS ("Script").
    let starts = |(path, ty): &&(String, String)| path.contains("/smart-launch-") && ty == "Script";
    assert!(
        launch_visit.iter().any(|(p, _)| p.contains("/launch-")),
        "the launch module ran: {launch_visit:?}"
    );
    assert!(
        !launch_visit.iter().any(|r| starts(&r)),
        "the launch page started the chart: {launch_visit:?}"
    );
    assert_eq!(
        launch_visit.iter().filter(chart).count(),
        2,
        "the launch prefetched the chart's JS and wasm: {launch_visit:?}"
    );
    let config = launch_visit
        .iter()
        .position(|(p, _)| p.ends_with("/config.json"))
        .expect("the launch read its configuration");
    assert!(
        !launch_visit[..config].iter().any(|r| chart(&r)),
        "the chart's files were asked for before the launch's own requests: {launch_visit:?}"
    );
    let token = callback
        .iter()
        .position(|(p, _)| p.ends_with("/auth/token"))
        .expect("the callback's token request");
    let started = callback
        .iter()
        .position(|r| starts(&r))
        .expect("the callback page started the chart");
    assert!(
        token < started,
        "the chart started before the token request left: {callback:?}"
    );
    // What the launch module handed on is gone once the chart took it.
    let left = env
        .browser
        .execute(
            "return [typeof window.smartLaunchHandoff, typeof window.smartLaunchFirstRead];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(left, serde_json::json!(["undefined", "undefined"]));
    env.close().await;
}

/// A chart whose files cannot be loaded (a deployment that lost them, or the network failing
/// just then) is named on the page with what to do, instead of "Loading…" for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_that_cannot_be_loaded_says_so() {
    let env = start(|_| {}).await;
    let mut removed = 0;
    for file in std::fs::read_dir(env.served_files()).unwrap() {
        let name = file.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("smart-launch-") && name.ends_with("_bg.wasm") {
            std::fs::remove_file(env.served_files().join(&name)).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 1, "the build's chart wasm");
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.text_when("#loading .status", |t| {
        t == "The app could not be loaded. Check the connection, then reload the page."
    })
    .await;
    env.close().await;
}

/// The sandbox's launch page (what a new user sees first) fits its width whatever the patient's
/// name: no sideways scrolling with the long-name patient chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_launch_page_fits_its_width() {
    let env = start(|_| {}).await;
    for width in [1200, 320] {
        env.browser.set_window_size(width, 900).await.unwrap();
        env.open_sandbox_page("long-name").await;
        let fits = env
            .browser
            .execute(
                "const d = document.documentElement; return d.scrollWidth <= d.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            fits.as_bool(),
            Some(true),
            "sideways scrolling at {width} px"
        );
    }
    env.close().await;
}

/// (d) An `iss` not in the configuration is refused with no request sent to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_issuer_is_refused_without_a_request() {
    let env = start(|_| {}).await;
    let (port, count) = counting_server().await;
    let evil = format!("http://localhost:{port}/fhir");
    env.browser
        .goto(&format!(
            "{}/launch.html?iss={}&launch=abc",
            env.app,
            urlencode(&evil)
        ))
        .await
        .unwrap();
    let msg = env.text("#problem-message").await;
    assert!(msg.contains(&evil), "{msg}");
    let code = env
        .browser
        .find(fantoccini::Locator::Css("#problem"))
        .await
        .unwrap()
        .attr("data-code")
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("refused-issuer"));
    // A look-alike of the configured issuer is refused too.
    let look_alike = format!("{}2", env.fhir());
    env.browser
        .goto(&format!(
            "{}/launch.html?iss={}&launch=abc",
            env.app,
            urlencode(&look_alike)
        ))
        .await
        .unwrap();
    assert!(env
        .text_when("#problem-message", |t| t.contains(&look_alike))
        .await
        .contains("nothing was sent"));
    env.screenshot("refused-issuer").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        count.load(Ordering::Relaxed),
        0,
        "no connection reached the unknown issuer"
    );
    assert_eq!(env.stat("all"), 0, "nor the sandbox");
    env.close().await;
}

/// (e) A tampered `state` gets the relaunch page and no token request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_state_gets_the_relaunch_page() {
    let env = start(|_| {}).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.text("#login-practitioner").await; // a real sign-in is pending in this tab
    env.browser
        .goto(&format!(
            "{}/launch.html?code=stolen-code&state=tampered-state",
            env.app
        ))
        .await
        .unwrap();
    let title = env.text("#problem h1").await;
    assert_eq!(title, "Please relaunch the app");
    assert_eq!(env.stat("token"), 0);
    assert_eq!(
        env.browser.current_url().await.unwrap().query(),
        None,
        "code and state stripped"
    );
    env.screenshot("tampered-state").await;
    env.close().await;
}

/// The server's refusal comes back as plain text on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_access_is_shown_as_text() {
    let env = start(|_| {}).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.click("#login-patient").await;
    env.click("#deny").await;
    let msg = env.text("#problem-message").await;
    assert!(msg.contains("access_denied"), "{msg}");
    assert_eq!(env.stat("token"), 0);
    env.close().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token is refreshed ahead of expiry in the background; a reload then uses the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_refreshed_before_it_expires() {
    let env = start(|c| c.token_lifetime = std::time::Duration::from_secs(10)).await;
    env.ehr_launch("patient-02").await;
    let name = env.patient_name("patient-02");
    env.text_when("#patient-name", |t| t == name).await;
    let before = env.stored_session().await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(25);
    while env.stat("token") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh within 25 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let session = env.stored_session().await.unwrap();
    assert_ne!(session["access_token"], before["access_token"]);
    assert_ne!(session["refresh_token"], before["refresh_token"], "rotated");
    env.browser.refresh().await.unwrap();
    env.text_when("#patient-name", |t| t == name).await;
    assert_eq!(env.stat("authorize"), 1);
    env.close().await;
}

/// When the refresh is refused, an EHR session asks for a relaunch from the EHR (no loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_refresh_asks_for_a_relaunch() {
    let env = start(|c| {
        c.token_lifetime = std::time::Duration::from_secs(10);
        c.faults.reject_refresh = true;
    })
    .await;
    env.ehr_launch("patient-03").await;
    env.text_when("#patient-name", |t| !t.is_empty()).await;
    let title = env.text_when("#problem h1", |t| !t.is_empty()).await;
    assert_eq!(title, "Your session has expired");
    assert_eq!(
        env.text("#problem-message").await,
        "Your access to the record has ended, and nothing more was loaded."
    );
    // The instruction once: in the action, not in the message too.
    let page = env.text("#problem").await;
    assert_eq!(page.matches("from your EHR").count(), 1, "{page}");
    let tokens = env.stat("token");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(env.stat("token"), tokens, "no refresh loop");
    env.screenshot("session-expired").await;
    env.close().await;
}

/// Embedded in the EHR's frame: the EHR shows its own banner (need_patient_banner=false), the
/// app's CSP lets the EHR frame it, and a second launch replaces the first session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_launch_in_an_iframe() {
    let env = start(|_| {}).await;
    let b = &env.browser;
    b.goto(&format!(
        "{}/?patient=patient-05",
        env.sandbox.sandbox.config.public_url
    ))
    .await
    .unwrap();
    env.click("#mode-iframe").await;
    env.click("#launch").await;
    env.text("#ehr-banner").await;
    b.enter_frame(0).await.unwrap();
    env.click("#allow").await;
    let name = env.patient_name("patient-05");
    env.text_when("#session-patient", |t| t == name).await;
    assert!(
        b.find(fantoccini::Locator::Css("#banner")).await.is_err(),
        "no second banner inside the EHR"
    );
    b.enter_parent_frame().await.unwrap();
    env.screenshot("embedded").await;
    // A new launch for another patient in the same tab replaces the session.
    env.ehr_launch("patient-06").await;
    let other = env.patient_name("patient-06");
    env.text_when("#patient-name", |t| t == other).await;
    env.close().await;
}

/// A SMART v1 server (metadata only): discovery falls back and the scopes are v1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_server_through_metadata() {
    let env = start(|c| c.smart_v1_only = true).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.click("#login-patient").await;
    env.click("#allow").await;
    env.text_when("#patient-name", |t| !t.is_empty()).await;
    env.open_tab("session").await;
    env.click("details.technical summary").await;
    let scopes = env.text("#scopes").await;
    assert!(scopes.contains("patient/Patient.read"), "{scopes}");
    assert!(!scopes.contains(".rs"), "{scopes}");
    env.close().await;
}

/// A discovery answer that redirects is not followed. The redirect points at the sandbox's own
/// CapabilityStatement (an origin the app's CSP allows), which a follower would take for the SMART
/// configuration and fail on; the app instead treats the redirect as "no SMART document" and
/// launches through `metadata`, so the sign-in page appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let env = start(|c| c.faults.discovery_redirect = Some("/fhir/metadata".into())).await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.text("#login-practitioner").await;
    env.close().await;
}

/// Deployed under a sub-path (README's `https://apps.example.org/smart-launch/launch.html`): the
/// page loads its script, wasm, style and configuration from beside itself, the launch ends with
/// the patient's name, nothing is asked for at the site's root and nothing answers 404 (no
/// favicon request); app-host sends the wasm and script compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_under_a_sub_path_compressed() {
    let env = support::start_hosted(support::Hosting::SubPath, |_| {}, |_| {}).await;
    assert!(env.app.ends_with(support::SUB_PATH));
    env.ehr_launch("patient-07").await;
    let name = env.patient_name("patient-07");
    env.text_when("#patient-name", |t| t == name).await;
    let requests = env.app_requests.lock().unwrap().clone();
    assert!(!requests.is_empty());
    for (path, status, _) in &requests {
        assert!(
            path.starts_with(&format!("{}/", support::SUB_PATH)),
            "{path} asked for outside the app's path"
        );
        assert!(*status < 400, "{path} answered {status}");
    }
    let coding = |suffix: &str| {
        requests
            .iter()
            .find(|(p, _, _)| p.ends_with(suffix))
            .map(|(_, _, c)| c.clone())
    };
    assert_eq!(coding("_bg.wasm"), Some(Some("br".into())), "{requests:?}");
    assert_eq!(coding(".js"), Some(Some("br".into())), "{requests:?}");
    env.close().await;
}
