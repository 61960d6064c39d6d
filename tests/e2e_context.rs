#![cfg(not(target_arch = "wasm32"))]
//! End to end in headless Chromium: the launch context the sandbox's launch page sends (an
//! encounter, `fhirContext` items, an intent) decides where the chart opens and what it names,
//! and what cannot be read or lies elsewhere is said in its place, never fetched, never a failed
//! launch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use fantoccini::Locator;
use serde_json::Value;
use support::{start, Env};

const PATIENT: &str = "patient-01";

/// A sandbox that approves every launch without asking.
async fn env() -> Env {
    start(|c| c.auto_approve = true).await
}

/// From the sandbox's launch page: `patient` with `encounter` (a value of its select), the
/// `fhirContext` boxes ticked (`note`, `report`, `appointment`, `elsewhere`, `malformed`) and
/// `intent` typed in.
async fn launch(env: &Env, encounter: &str, items: &[&str], intent: &str) {
    env.open_sandbox_page(PATIENT).await;
    env.select("#encounter", encounter).await;
    for item in items {
        env.click(&format!("#ctx-{item}")).await;
    }
    if !intent.is_empty() {
        env.element("#intent")
            .await
            .send_keys(intent)
            .await
            .unwrap();
    }
    env.click("#launch").await;
    let name = env.patient_name(PATIENT);
    env.text_when("#patient-name", |t| t == name).await;
}

/// The tab that is open.
async fn open_tab(env: &Env) -> String {
    env.element("[role=tab][aria-selected=true]")
        .await
        .attr("id")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until the focused element satisfies `ok`; returns its id and `data-id`.
async fn focused(env: &Env, ok: impl Fn(&str, &str) -> bool) -> (String, String) {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let v = env
            .browser
            .execute(
                "const e = document.activeElement; return [e.id || '', e.getAttribute('data-id') || ''];",
                vec![],
            )
            .await
            .unwrap();
        let id = v[0].as_str().unwrap_or("").to_string();
        let data = v[1].as_str().unwrap_or("").to_string();
        if ok(&id, &data) {
            return (id, data);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "focus is on #{id} [{data}]"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// How many requests the page made to URLs containing `fragment`.
async fn requests_to(env: &Env, fragment: &str) -> u64 {
    env.browser
        .execute(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes(arguments[0])).length;",
            vec![Value::String(fragment.into())],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// The sandbox's record of `patient-01`: the visit of its latest progress note, the
/// Observations recorded during that visit (not entered in error), and the note's id.
fn a_visit_with_a_note(env: &Env) -> (String, usize, String) {
    let data = &env.sandbox.sandbox.data;
    let note = data.by_patient[&("DocumentReference", PATIENT.to_string())]
        .iter()
        .rev()
        .find(|d| d.json["context"]["encounter"][0]["reference"].is_string())
        .unwrap();
    let reference = note.json["context"]["encounter"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let observations = data.by_patient[&("Observation", PATIENT.to_string())]
        .iter()
        .filter(|o| o.json["encounter"]["reference"] == reference.as_str())
        .filter(|o| o.json["status"] != "entered-in-error")
        .count();
    let encounter = reference.trim_start_matches("Encounter/").to_string();
    (encounter, observations, note.id.clone())
}

/// Launched from a visit: the visit is named under the banner, the chart opens on what was
/// recorded during it (its vital signs and results, its notes), a note opens from there in Notes
/// & reports, and the Encounters tab marks the visit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_from_a_visit_opens_on_the_visit() {
    let env = env().await;
    let (encounter, observations, note) = a_visit_with_a_note(&env);
    assert!(observations > 0, "the sandbox's visit has observations");
    launch(&env, &encounter, &[], "").await;
    let kind = env.sandbox.sandbox.data.by_id[&("Encounter", encounter.clone())].json["type"][0]
        ["text"]
        .as_str()
        .unwrap()
        .to_string();
    let summary = env.text_when("#visit-summary", |t| !t.is_empty()).await;
    assert!(summary.starts_with(&kind), "{summary}");
    assert_eq!(open_tab(&env).await, "tab-visit");
    let facts = env.text("#visit-facts").await;
    assert!(facts.contains(&kind), "{facts}");
    env.element("#visit-observations").await;
    assert_eq!(env.rows("#visit-observations").await, observations);
    env.screenshot("this-visit").await;
    let violations = env.axe().await;
    assert!(violations.is_empty(), "{violations:#?}");
    let item = format!("#visit-notes li[data-id='{note}'] button.open-entry");
    env.click(&item).await;
    assert_eq!(open_tab(&env).await, "tab-notes");
    focused(&env, |id, data| id.starts_with("entry-") && data == note).await;

    env.open_tab("encounters").await;
    let row = env
        .element(&format!("#encounters tr.current[data-id='{encounter}']"))
        .await;
    assert!(row.text().await.unwrap().contains("This visit"));
    assert_eq!(
        env.browser
            .find_all(Locator::Css("#encounters tr.current"))
            .await
            .unwrap()
            .len(),
        1
    );
    env.screenshot("encounters-this-visit").await;
    let violations = env.axe().await;
    assert!(violations.is_empty(), "{violations:#?}");
    env.close().await;
}

/// A visit that cannot be read (another patient's: outside the token's compartment; one that
/// does not exist) is said so in its place; the rest of the chart is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_visit_is_said_in_its_place() {
    let env = env().await;
    for (choice, words) in [
        ("_other-patients", "Not permitted"),
        ("_missing", "Encounter/no-such-encounter"),
    ] {
        launch(&env, choice, &[], "").await;
        let msg = env.text_when("#visit-error", |t| !t.is_empty()).await;
        assert!(msg.contains("could not be read"), "{msg}");
        assert!(
            msg.contains(words) || msg.contains("ask your administrator"),
            "{msg}"
        );
        env.open_tab("summary").await;
        env.element("#problems tbody tr, #problems-empty").await;
        assert!(env.browser.find(Locator::Css("#problem")).await.is_err());
    }
    env.close().await;
}

/// `fhirContext`: the note the launch button sat beside opens in Notes & reports; each item is
/// listed (a lab report, offered to show; an appointment, named; a note on another server,
/// listed and never fetched; an item without a reference, noted). The intent does not override
/// the item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_context_items_are_opened_named_or_noted() {
    let env = env().await;
    launch(
        &env,
        "",
        &["note", "report", "appointment", "elsewhere", "malformed"],
        "reconcile",
    )
    .await;
    let notes = &env.sandbox.sandbox.data.by_patient[&("DocumentReference", PATIENT.to_string())];
    let note = notes.last().unwrap().id.clone();
    assert_eq!(open_tab(&env).await, "tab-notes");
    focused(&env, |id, data| id.starts_with("entry-") && data == note).await;

    let line = |i: usize| format!("#context-item-{i}");
    let text = |s: String| {
        let env = &env;
        async move {
            env.text_when(&s, |t| !t.is_empty() && !t.starts_with("Reading"))
                .await
        }
    };
    assert!(text(line(0)).await.starts_with("Note: "));
    assert!(text(line(1)).await.starts_with("Report: "));
    assert!(text(line(2)).await.contains("no view for it"));
    let elsewhere = text(line(3)).await;
    assert!(elsewhere.contains("https://other-ehr.example/fhir/DocumentReference/n-1"));
    assert!(elsewhere.contains("not opened"));
    assert!(text(line(4)).await.contains("could not be read"));
    assert!(env
        .browser
        .find(Locator::Css("#launched-from a"))
        .await
        .is_err());
    let listed = env
        .element("#context-items")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(listed.contains("Appointment/appt-patient-01"), "{listed}");
    assert_eq!(requests_to(&env, "other-ehr.example").await, 0);
    assert_eq!(requests_to(&env, "/Appointment/").await, 0);
    env.browser
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
    env.screenshot("opened-from").await;
    let violations = env.axe().await;
    assert!(violations.is_empty(), "{violations:#?}");

    // The lab report: "Show" opens it where the chart lists it.
    env.click("#context-item-1 button.context-open").await;
    let report = env.sandbox.sandbox.data.by_patient[&("DiagnosticReport", PATIENT.to_string())]
        .iter()
        .rev()
        .find(|r| r.categories.iter().any(|c| c == "LAB"))
        .unwrap()
        .id
        .clone();
    focused(&env, |id, data| id.starts_with("entry-") && data == report).await;
    env.close().await;
}

/// `intent`: a known one decides the first view (reconcile: the medications), an unknown one
/// is ignored and kept in the Session tab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_choose_the_first_view() {
    let env = env().await;
    launch(&env, "", &[], "reconcile").await;
    assert_eq!(open_tab(&env).await, "tab-summary");
    focused(&env, |id, _| id == "medications-title").await;
    launch(&env, "", &[], "vitals").await;
    assert_eq!(open_tab(&env).await, "tab-vitals");
    launch(&env, "", &[], "no-such-intent").await;
    assert_eq!(open_tab(&env).await, "tab-summary");
    let intent = env
        .element("#context-intent")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(intent, "no-such-intent");
    env.close().await;
}
