#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The chart after launch, end to end in headless Chromium against the sandbox EHR: each section
//! against what the sandbox serves, narrowed scopes, patient search, and the large record.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{start, Env};

/// Waits for a section to finish: its table, or its empty state.
async fn rows_or_empty(env: &Env, id: &str) -> usize {
    let deadline = Instant::now() + support::WAIT;
    loop {
        if env
            .browser
            .find(fantoccini::Locator::Css(&format!("#{id}-empty")))
            .await
            .is_ok()
        {
            return 0;
        }
        let n = env.rows(&format!("#{id}")).await;
        if n > 0 {
            return n;
        }
        assert!(Instant::now() < deadline, "section {id} never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lab_codes(observations: &[Value]) -> BTreeSet<String> {
    observations
        .iter()
        .filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory")
        .filter_map(|o| o["code"]["coding"][0]["code"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_section_shows_the_sandbox_record() {
    let env = start(|_| {}).await;
    // The patient with the most problems, so every section has something to show.
    let patient = (1..=27)
        .map(|n| format!("patient-{n:02}"))
        .max_by_key(|p| {
            (
                env.record("Condition", p).len(),
                env.record("AllergyIntolerance", p).len().min(1),
            )
        })
        .unwrap();
    env.ehr_launch(&patient).await;
    env.text_when("#patient-name", |t| t == env.patient_name(&patient))
        .await;
    let age = env.text("#patient-birth").await;
    assert!(age.contains(" y (") || age.contains(" mo ("), "{age}");
    // Identifiers: the MRN shown though the SSN comes first in the record, the SSN
    // masked, labels short (never the system's URI).
    let banner = env.text("#banner").await;
    let record = &env.record("Patient", &patient)[0];
    let mrn = record["identifier"][1]["value"].as_str().unwrap();
    let ssn = record["identifier"][0]["value"].as_str().unwrap();
    assert!(banner.contains("MRN") && banner.contains(mrn), "{banner}");
    assert!(
        banner.contains(&format!("•••-••-{}", &ssn[ssn.len() - 4..])),
        "{banner}"
    );
    assert!(
        !banner.contains(ssn) && !banner.contains("http"),
        "{banner}"
    );

    assert_eq!(
        rows_or_empty(&env, "problems").await,
        env.record("Condition", &patient).len()
    );
    assert_eq!(
        rows_or_empty(&env, "medications").await,
        env.record("MedicationRequest", &patient).len()
    );
    assert_eq!(
        rows_or_empty(&env, "allergies").await,
        env.record("AllergyIntolerance", &patient).len()
    );
    // Active problems come first.
    let first_status = env.text("#problems tbody tr td:nth-child(2)").await;
    if env
        .record("Condition", &patient)
        .iter()
        .any(|c| c["clinicalStatus"]["coding"][0]["code"] == "active")
    {
        assert_eq!(first_status, "Active");
    }
    env.screenshot("chart-summary").await;

    env.open_tab("encounters").await;
    assert_eq!(
        rows_or_empty(&env, "encounters").await,
        env.record("Encounter", &patient).len().min(50)
    );

    env.open_tab("vitals").await;
    // Every vital-sign Observation of the record is charted, each kind with all its readings:
    // nothing of the category is left out, nothing goes to "other".
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for o in env.record("Observation", &patient) {
        if o["category"][0]["coding"][0]["code"] != "vital-signs" {
            continue;
        }
        let slug = match o["code"]["coding"][0]["code"].as_str().unwrap() {
            "85354-9" => "blood-pressure",
            "8867-4" => "heart-rate",
            "9279-1" => "respiratory-rate",
            "8310-5" => "temperature",
            "59408-5" => "spo2",
            "29463-7" => "weight",
            "8302-2" => "height",
            "39156-5" => "bmi",
            "72514-3" => "pain",
            other => panic!("the sandbox made a vital sign the test does not know: {other}"),
        };
        *kinds.entry(slug).or_default() += 1;
    }
    assert!(kinds.len() >= 8, "{kinds:?}");
    for (slug, n) in &kinds {
        env.text(&format!("#vital-{slug} svg path.line")).await;
        let label = env
            .browser
            .find(fantoccini::Locator::Css(&format!("#vital-{slug} svg")))
            .await
            .unwrap()
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            label.contains(&format!(": {n} readings")),
            "{slug}: {label}"
        );
    }
    assert!(
        env.browser
            .find_all(fantoccini::Locator::Css("#vitals-other"))
            .await
            .unwrap()
            .is_empty(),
        "every sandbox vital sign has its chart"
    );
    let readout = env.text("#vital-heart-rate-readout").await;
    assert!(readout.contains("/min"), "{readout}");
    // The keyboard moves along the readings.
    let chart = env
        .browser
        .find(fantoccini::Locator::Css("#vital-heart-rate svg"))
        .await
        .unwrap();
    chart.send_keys("\u{E012}").await.unwrap(); // ArrowLeft
    let moved = env.text("#vital-heart-rate-readout").await;
    assert_ne!(moved, readout, "arrow keys select another reading");
    env.screenshot("chart-vitals").await;

    env.open_tab("labs").await;
    let observations = env.record("Observation", &patient);
    assert_eq!(
        rows_or_empty(&env, "labs").await,
        lab_codes(&observations).len()
    );
    env.screenshot("chart-labs").await;

    env.open_tab("session").await;
    let expiry = env.text("#token-expiry").await;
    assert!(expiry.contains("min"), "{expiry}");
    env.click("details.technical summary").await;
    assert_eq!(env.text("#has-refresh").await, "yes");
    env.screenshot("chart-session").await;

    // Readable on a 320 px wide screen: nothing wider than the viewport.
    env.browser.set_window_size(320, 800).await.unwrap();
    env.open_tab("summary").await;
    let (scroll, inner) = {
        let v = env
            .browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
    };
    assert!(
        scroll <= inner,
        "page is {scroll} px wide in a {inner} px viewport"
    );
    env.screenshot("chart-320px").await;
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_scopes_show_not_granted() {
    let env = start(|_| {}).await;
    env.browser
        .goto(&format!(
            "{}/?patient=patient-07",
            env.sandbox.sandbox.config.public_url
        ))
        .await
        .unwrap();
    env.click("#launch").await;
    // The clinician unticks medications and labs/vitals at the approval page.
    env.click("input[value='patient/MedicationRequest.rs']")
        .await;
    env.click("input[value='patient/Observation.rs']").await;
    env.click("#allow").await;
    env.text("#medications-not-granted").await;
    assert!(rows_or_empty(&env, "problems").await == env.record("Condition", "patient-07").len());
    env.open_tab("vitals").await;
    env.text("#vitals-not-granted").await;
    env.open_tab("session").await;
    env.click("details.technical summary").await;
    let missing = env.text("#scopes-missing").await;
    assert!(
        missing.contains("patient/MedicationRequest.rs")
            && missing.contains("patient/Observation.rs"),
        "{missing}"
    );
    env.screenshot("narrowed-scopes").await;
    // No doomed requests: the sandbox saw no MedicationRequest or Observation search.
    env.close().await;
}

/// Patient search answers what the form says: a first search whose answer comes late, then a
/// second whose answer comes at once; the list shows the second search's patients, and still
/// does after the first's answer has arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_search_does_not_overwrite_a_newer_one() {
    let env = support::start_practitioner_search().await;
    // A family name the query carries as it is (no percent-encoding), so the slow query matches.
    let family = env.sandbox.sandbox.data.by_type["Patient"]
        .iter()
        .filter_map(|p| p.json["name"][0]["family"].as_str())
        .find(|f| f.chars().all(|c| c.is_ascii_alphabetic()) && *f != "Empty")
        .unwrap()
        .to_string();
    env.set_faults(|f| f.slow_queries = vec![(format!("name={family}"), 1_500)]);
    let name = env.element("#search-name").await;
    name.send_keys(&family).await.unwrap();
    env.click("#search-submit").await;
    name.clear().await.unwrap();
    name.send_keys("Empty").await.unwrap();
    env.click("#search-submit").await;
    env.element("#search-results button[data-id='empty-record']")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let shown = env.text("#search-results").await;
    assert!(
        shown.contains("Eve Empty") && !shown.contains(&family),
        "the older search's answer replaced the newer one's: {shown}"
    );
    env.set_faults(|f| f.slow_queries.clear());
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practitioner_without_patient_searches_then_opens_the_chart() {
    let env = support::start_practitioner_search().await;
    let name = env.element("#search-name").await;
    name.send_keys("Empty").await.unwrap();
    env.click("#search-submit").await;
    env.click("#search-results button[data-id='empty-record']")
        .await;
    env.text_when("#patient-name", |t| t == "Eve Empty").await;
    for id in ["problems", "medications", "allergies"] {
        env.text(&format!("#{id}-empty")).await;
    }
    env.screenshot("search-empty-record").await;
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_observations_render_their_charts() {
    let env = start(|_| {}).await;
    env.ehr_launch("big-record").await;
    env.text_when("#patient-name", |t| t == env.patient_name("big-record"))
        .await;
    env.open_tab("vitals").await;
    let t = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if env
            .browser
            .find(fantoccini::Locator::Css("#vital-heart-rate svg path.line"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the large record's charts never rendered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = env
        .browser
        .find(fantoccini::Locator::Css("#vital-heart-rate svg"))
        .await
        .unwrap()
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap();
    let n: usize = env
        .record("Observation", "big-record")
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "8867-4")
        .count();
    assert!(summary.contains(&format!("{n} readings")), "{summary}");
    println!(
        "large record: vitals charts shown {} ms after opening the tab",
        t.elapsed().as_millis()
    );
    env.screenshot("big-record-vitals").await;
    // The benchmark's marks (scripts/bench.sh reads them): each once, in order.
    let marks = "return ['vitals-start', 'vitals-fetched', 'vitals-painted'].map(n => performance.getEntriesByName(n, 'mark').map(m => m.startTime));";
    let deadline = Instant::now() + Duration::from_secs(10);
    let times = loop {
        let v = env.browser.execute(marks, vec![]).await.unwrap();
        let times: Vec<Vec<f64>> = serde_json::from_value(v).unwrap();
        if times.iter().all(|t| t.len() == 1) || Instant::now() > deadline {
            break times;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(times.iter().all(|t| t.len() == 1), "{times:?}");
    assert!(
        times[0][0] <= times[1][0] && times[1][0] <= times[2][0],
        "{times:?}"
    );
    env.close().await;
}

/// A section whose search fails says so in its place, offers "Try again", and loads when the
/// server recovers; the rest of the chart is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_section_offers_try_again() {
    let env = start(|c| {
        c.auto_approve = true;
        c.faults.fail_searches = Some("Condition".into());
    })
    .await;
    env.ehr_launch_auto("patient-05").await;
    env.text_when("#patient-name", |t| !t.is_empty()).await;
    let msg = env.text("#problems-error").await;
    assert!(!msg.is_empty());
    assert_eq!(
        rows_or_empty(&env, "medications").await,
        env.record("MedicationRequest", "patient-05").len(),
        "the other sections load"
    );
    env.sandbox.sandbox.faults.write().unwrap().fail_searches = None;
    env.click("#problems-retry").await;
    env.element("#problems tbody tr, #problems-empty").await;
    assert_eq!(
        rows_or_empty(&env, "problems").await,
        env.record("Condition", "patient-05").len()
    );
    env.close().await;
}
