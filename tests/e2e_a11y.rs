#![cfg(not(target_arch = "wasm32"))]
//! Accessibility: axe-core's WCAG 2.1 A/AA rules on every screen, at a desktop width
//! and at 320 px (an EHR's side panel), with zero violations; and a screenshot of each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{start, start_practitioner_search, Env};

const WIDTHS: [u32; 2] = [1280, 320];

async fn check(env: &Env, screen: &str, width: u32, found: &mut Vec<String>) {
    // Let the screen settle (charts drawn, focus moved).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for v in env.axe().await {
        found.push(format!("{screen} at {width} px: {v}"));
    }
    env.screenshot(&format!("a11y-{screen}-{width}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_at_both_widths() {
    let env = start(|c| c.auto_approve = true).await;
    let mut found = Vec::new();
    for width in WIDTHS {
        env.browser.set_window_size(width, 900).await.unwrap();
        // The sandbox's EHR launch page, with the longest patient name chosen.
        env.open_sandbox_page("long-name").await;
        check(&env, "sandbox-launch", width, &mut found).await;

        // The EHR picker of a standalone launch.
        env.browser
            .goto(&format!("{}/launch.html", env.app))
            .await
            .unwrap();
        env.element("#ehr-sandbox").await;
        check(&env, "picker", width, &mut found).await;

        // A problem page: an issuer the app does not know.
        env.browser
            .goto(&format!(
                "{}/launch.html?iss={}&launch=x",
                env.app,
                url::form_urlencoded::byte_serialize(b"https://unknown.example/fhir")
                    .collect::<String>()
            ))
            .await
            .unwrap();
        env.element("#problem").await;
        check(&env, "problem", width, &mut found).await;

        // The chart, every tab, with a vital sign's table open.
        env.ehr_launch_auto("patient-03").await;
        let name = env.text_when("#patient-name", |t| !t.is_empty()).await;
        // The screen names the patient and tab, and the focus is on its heading.
        let mut state = Value::Null;
        for _ in 0..50 {
            state = env
                .browser
                .execute(
                    "return [document.title, document.activeElement ? document.activeElement.id : ''];",
                    vec![],
                )
                .await
                .unwrap();
            if state[1] == "patient-name" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(state[1], "patient-name", "focus on the heading: {state}");
        assert_eq!(state[0], format!("{name} — Summary — smart-launch"));
        for tab in [
            "summary",
            "vitals",
            "labs",
            "notes",
            "encounters",
            "session",
        ] {
            env.open_tab(tab).await;
            if tab == "notes" {
                // A report with its narrative open, and a note's text.
                env.element("#notes article").await;
                env.click("#notes details.narrative summary").await;
            }
            if tab == "vitals" {
                env.element("#vital-heart-rate svg").await;
                env.click("#vital-heart-rate button.link").await;
                env.element("#vital-heart-rate table").await;
            }
            if tab == "session" {
                env.click("details.technical summary").await;
            }
            check(&env, &format!("chart-{tab}"), width, &mut found).await;
        }
        // Signed out, the next round starts from the picker again.
        env.click("#sign-out").await;
        env.element("#ehr-sandbox").await;
    }
    env.close().await;
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
}

/// Patient search (a practitioner's launch without a patient), with results shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_search_passes_axe_at_both_widths() {
    let env = start_practitioner_search().await;
    // A name the sandbox's records hold (they come from its seed), so that the list is shown.
    let family = env.sandbox.sandbox.data.by_id[&("Patient", "patient-01".to_string())].json
        ["name"][0]["family"]
        .as_str()
        .unwrap()
        .to_string();
    let name = env.element("#search-name").await;
    name.send_keys(&family).await.unwrap();
    env.click("#search-submit").await;
    env.text_when("#search-status", |t| t.ends_with("found."))
        .await;
    let mut found = Vec::new();
    for width in WIDTHS {
        env.browser.set_window_size(width, 900).await.unwrap();
        check(&env, "search", width, &mut found).await;
    }
    env.close().await;
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
}
