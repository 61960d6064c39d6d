#![cfg(not(target_arch = "wasm32"))]
//! End to end in headless Chromium against the sandbox's EHR profiles (`sandbox --profile`): the
//! app launched as each real EHR would launch it — EHR launch and standalone launch reach the
//! chart, the session is refreshed where the EHR gives a refresh token and its end announced
//! where it does not, and sign-out works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use sandbox::profile::Profile;
use serde_json::Value;
use support::{start_with, stored_session, Env};

/// The chart of `patient` is on screen with its problems list loaded (the granted scope as the
/// EHR spells it lets the sections ask).
async fn chart_shows(env: &Env, patient: &str) {
    let name = env.patient_name(patient);
    env.text_when("#patient-name", |t| t == name).await;
    env.element("#problems tbody tr, #problems-empty").await;
}

/// The session tab names the signed-in user (read from the resource of the checked id_token's
/// `fhirUser`), not their address.
async fn user_named(env: &Env) {
    env.open_tab("session").await;
    env.text_when("#user", |t| !t.is_empty() && !t.contains('/'))
        .await;
}

/// Sign-out, then a standalone launch at the same EHR from the picker (auto-approved: the
/// sandbox's default patient), then sign-out again.
async fn sign_out_then_standalone(env: &Env) {
    sign_out(env).await;
    env.click("#ehr-sandbox").await;
    chart_shows(env, "patient-01").await;
    sign_out(env).await;
}

async fn sign_out(env: &Env) {
    env.open_tab("session").await;
    env.click("#sign-out").await;
    env.element("#picker-title").await;
    let stored = env.session_storage().await;
    assert!(stored_session(&stored).is_none(), "{stored}");
}

/// A sandbox with `profile` (auto-approving, tokens living `lifetime`) and the app's entry for it
/// changed by `entry`.
async fn with_profile(profile: Profile, lifetime: u64, entry: impl FnOnce(&mut Value)) -> Env {
    start_with(
        |c| {
            c.auto_approve = true;
            c.profile = profile;
            c.token_lifetime = Duration::from_secs(lifetime);
        },
        entry,
    )
    .await
}

/// Waits until the app has made `n` token requests (the code exchange, then refreshes).
async fn token_requests(env: &Env, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.stat("token") < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} token requests within 30 s, not {n}",
            env.stat("token")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The app's configuration entry for an Epic-like sandbox: its id_tokens name `…/oauth2`.
fn epic_entry(entry: &mut Value) {
    let oauth2 = entry["iss"].as_str().unwrap().replace("/fhir", "/oauth2");
    entry["id_token_issuer"] = Value::String(oauth2);
}

/// Epic: the token response with `need_patient_banner` "false"-style strings, `bearer`, fields
/// of its own, the scope per resource without prefix; no refresh token for a public client, so
/// the chart says when access ends and offers a new launch; id_tokens from `…/oauth2` with a
/// padded `kid`, admitted by the entry's `id_token_issuer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_ehr_and_standalone_launches() {
    let env = with_profile(Profile::Epic, 120, epic_entry).await;
    env.ehr_launch_auto("patient-01").await;
    chart_shows(&env, "patient-01").await;
    let ending = env.text("#access-ending").await;
    assert!(ending.contains("ends at"), "{ending}");
    assert!(env.text("#access-next").await.contains("from your EHR"));
    let stored = env.session_storage().await;
    let session: Value = stored_session(&stored).unwrap();
    assert_eq!(
        session["refresh_token"],
        Value::Null,
        "Epic gives a public client none"
    );
    user_named(&env).await;
    // Epic's 403: no body, the reason in `WWW-Authenticate`.
    env.set_faults(|f| f.forbid = Some("Condition".into()));
    env.browser.refresh().await.unwrap();
    forbidden_says(&env, "problems", "insufficient_scope").await;
    env.set_faults(|f| f.forbid = None);
    sign_out(&env).await;

    // Standalone: the same EHR from the picker; the announced end offers "Launch again", which
    // signs in anew.
    env.click("#ehr-sandbox").await;
    chart_shows(&env, "patient-01").await;
    let tokens = env.stat("token");
    env.click("#launch-again").await;
    chart_shows(&env, "patient-01").await;
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while env.stat("token") == tokens {
        assert!(tokio::time::Instant::now() < deadline, "no new sign-in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sign_out(&env).await;
    env.close().await;
}

/// Epic Hyperspace shares one sessionStorage between the app's tabs. Imitated in one browser
/// tab: after a launch of patient-01, the tab forgets its name (as a second, unnamed Hyperspace
/// tab has none) and launches patient-02 with the same storage. Each tab then resumes its own
/// patient: the first one, named again, reloads onto patient-01, without a new sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_hyperspace_tabs_sharing_storage_keep_their_patients() {
    let env = with_profile(Profile::Epic, 3600, epic_entry).await;
    let name = |env: &Env| {
        let b = env.browser.clone();
        async move { b.execute("return window.name;", vec![]).await.unwrap() }
    };
    env.ehr_launch_auto("patient-01").await;
    chart_shows(&env, "patient-01").await;
    let first_tab = name(&env).await;
    assert_ne!(
        first_tab,
        Value::String(String::new()),
        "the launch names its tab"
    );

    env.browser
        .execute("window.name = '';", vec![])
        .await
        .unwrap();
    env.ehr_launch_auto("patient-02").await;
    chart_shows(&env, "patient-02").await;
    let sessions = env
        .session_storage()
        .await
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("smart-launch.session."))
        .count();
    assert_eq!(sessions, 2, "one session per tab");
    env.browser.refresh().await.unwrap();
    chart_shows(&env, "patient-02").await;

    env.browser
        .execute("window.name = arguments[0];", vec![first_tab])
        .await
        .unwrap();
    env.browser.refresh().await.unwrap();
    chart_shows(&env, "patient-01").await;
    assert_eq!(
        env.stat("token"),
        2,
        "each tab resumed without a new sign-in"
    );
    env.close().await;
}

/// Epic without the entry's `id_token_issuer`: the launch stops on a page that names the
/// setting and the issuer the id_token carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_without_its_setting_names_it() {
    let env = with_profile(Profile::Epic, 3600, |_| {}).await;
    env.ehr_launch_auto("patient-01").await;
    let code = env
        .element("#problem")
        .await
        .attr("data-code")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(code, "id-token-issuer");
    let msg = env.text("#problem-message").await;
    assert!(msg.contains("id_token_issuer"), "{msg}");
    assert!(msg.contains("/oauth2"), "{msg}");
    env.close().await;
}

/// The SMART launcher: id_tokens without `kid`, the JWKS at `/keys`, `fhirUser` relative, refresh
/// tokens that stay valid: the user is named, the token refreshed ahead of expiry, sign-out works;
/// a standalone launch reaches the chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launcher_ehr_and_standalone_launches() {
    let env = with_profile(Profile::Launcher, 10, |_| {}).await;
    env.ehr_launch_auto("patient-02").await;
    chart_shows(&env, "patient-02").await;
    user_named(&env).await;
    token_requests(&env, 2).await;
    assert!(env
        .browser
        .find(fantoccini::Locator::Css("#access-ending"))
        .await
        .is_err());
    sign_out_then_standalone(&env).await;
    env.close().await;
}

/// Veradigm: the IdentityServer endpoints under `/authorization/connect`; a refresh token only
/// for `offline_access`: with the app's usual `online_access` the session's end is announced,
/// and an entry asking for `offline_access` is refreshed ahead of expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veradigm_launches_and_refresh_only_offline() {
    let env = with_profile(Profile::Veradigm, 120, |_| {}).await;
    env.ehr_launch_auto("patient-03").await;
    chart_shows(&env, "patient-03").await;
    assert!(env.text("#access-ending").await.contains("ends at"));
    assert_eq!(env.stat("authorize"), 1);
    sign_out_then_standalone(&env).await;
    env.close().await;

    let env = with_profile(Profile::Veradigm, 10, |entry| {
        let scopes = entry["scopes"]
            .as_str()
            .unwrap()
            .replace("online_access", "offline_access");
        entry["scopes"] = Value::String(scopes);
    })
    .await;
    env.ehr_launch_auto("patient-03").await;
    chart_shows(&env, "patient-03").await;
    token_requests(&env, 2).await;
    sign_out(&env).await;
    env.close().await;
}

/// MEDITECH: the SMART configuration only at the host's root, so the app reads `metadata` (its
/// `oauth-uris`) after the 404 under the FHIR base; authorize and token under `/oauth`. Both
/// launches reach the chart; sign-out works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meditech_through_metadata() {
    let env = with_profile(Profile::Meditech, 10, |_| {}).await;
    env.ehr_launch_auto("patient-04").await;
    chart_shows(&env, "patient-04").await;
    token_requests(&env, 2).await;
    sign_out_then_standalone(&env).await;
    env.close().await;
}

/// The authorization server's origin the harness put in the entry's `extra_origins`.
fn auth_origin(entry: &Value) -> String {
    entry["extra_origins"][0].as_str().unwrap().to_string()
}

/// Oracle Health: the authorization server on another origin (`extra_origins`), PKCE enforced
/// but not advertised (`require_pkce_advertised: false`), id_tokens from the tenant's OpenID
/// issuer with a timestamp `kid`, from a JWKS that mixes EC and RSA keys without `alg`
/// (`id_token_issuer`); refreshes answered without a new refresh token, the old one kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_with_its_settings() {
    let env = with_profile(Profile::Oracle, 10, oracle_entry).await;
    env.ehr_launch_auto("patient-05").await;
    chart_shows(&env, "patient-05").await;
    user_named(&env).await;
    // Two refreshes with the one refresh token the code exchange gave.
    token_requests(&env, 3).await;
    assert!(env
        .browser
        .find(fantoccini::Locator::Css("#problem"))
        .await
        .is_err());
    sign_out_then_standalone(&env).await;
    env.close().await;
}

/// The app's configuration entry for an Oracle-like sandbox.
fn oracle_entry(entry: &mut Value) {
    entry["require_pkce_advertised"] = Value::Bool(false);
    let issuer = format!("{}/tenants/t1/oidc/idsps/t1/", auth_origin(entry));
    entry["id_token_issuer"] = Value::String(issuer);
}

/// The section `id` shows an error; it contains `words`, and offers no Try again (a 403 stays a
/// 403).
async fn forbidden_says(env: &Env, id: &str, words: &str) {
    let msg = env
        .text_when(&format!("#{id}-error"), |t| !t.is_empty())
        .await;
    assert!(msg.contains(words), "{msg}");
    assert!(msg.contains("administrator"), "the next step: {msg}");
    assert!(env
        .browser
        .find(fantoccini::Locator::Css(&format!("#{id}-retry")))
        .await
        .is_err());
}

/// Oracle Health as a clinician meets it after the launch:
/// - the granted scope cut down to the role (no allergies): that section is not asked for;
/// - an RTF letter, fetched with `Accept` naming its own type (anything else is a 406), offered
///   to save as `.rtf`;
/// - a 401 without CORS headers (the server dropped the token): the browser reports a network
///   failure, and the app refreshes once and carries on;
/// - a 403 whose body is JSON but not FHIR: its words are shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_as_a_clinician_meets_it() {
    let env = with_profile(Profile::Oracle, 3600, oracle_entry).await;
    env.ehr_launch_auto("patient-01").await;
    chart_shows(&env, "patient-01").await;
    let said = env.text("#allergies-not-granted").await;
    assert!(said.contains("not granted"), "{said}");

    env.open_tab("notes").await;
    let card = "#notes article[data-id='discharge-1']";
    env.element(card).await;
    let buttons = env
        .browser
        .find_all(fantoccini::Locator::Css(&format!(
            "{card} button.get-attachment"
        )))
        .await
        .unwrap();
    assert_eq!(buttons.len(), 2, "the PDF and the RTF letter");
    buttons[1].click().await.unwrap();
    let link = env.element(&format!("{card} a.download")).await;
    let name = link.attr("download").await.unwrap().unwrap_or_default();
    assert_eq!(name, "Discharge-summary--RTF.rtf");

    let session = env.stored_session().await.unwrap();
    let token = session["access_token"].as_str().unwrap().to_string();
    assert!(env.sandbox.sandbox.store().access.remove(&token).is_some());
    let tokens = env.stat("token");
    env.browser.refresh().await.unwrap();
    chart_shows(&env, "patient-01").await;
    assert_eq!(env.stat("token"), tokens + 1, "one refresh");
    assert!(env
        .browser
        .find(fantoccini::Locator::Css("#banner-error"))
        .await
        .is_err());

    env.set_faults(|f| f.forbid = Some("Condition".into()));
    env.browser.refresh().await.unwrap();
    forbidden_says(&env, "problems", "insufficient_scope").await;
    env.close().await;
}

/// athenahealth: the authorization server on another origin, which also issues the id_tokens;
/// PKCE not advertised; the JWKS only with `?client_id=` (`jwks_client_id`): the user is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn athena_with_its_settings() {
    let env = with_profile(Profile::Athena, 10, |entry| {
        entry["require_pkce_advertised"] = Value::Bool(false);
        entry["id_token_issuer"] = Value::String(format!("{}/oauth2", auth_origin(entry)));
        entry["jwks_client_id"] = Value::Bool(true);
    })
    .await;
    env.ehr_launch_auto("patient-06").await;
    chart_shows(&env, "patient-06").await;
    user_named(&env).await;
    token_requests(&env, 2).await;
    sign_out_then_standalone(&env).await;
    env.close().await;
}
