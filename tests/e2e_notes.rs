#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Notes & reports end to end in headless Chromium against the sandbox EHR: every report and
//! note of a patient, newest first, with text, sanitized XHTML, a report's results from the labs
//! loaded and a PDF fetched with the token; and the hostile-notes patient, served without any
//! Content-Security-Policy, whose markup renders inert with no request leaving.

mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::Value;
use support::{start_hosted, Env, Hosting};

/// Waits until the notes tab shows `n` entries; returns their element ids' data.
async fn entries(env: &Env, n: usize) -> Vec<String> {
    let deadline = Instant::now() + support::WAIT;
    loop {
        let ids = env
            .browser
            .execute(
                "return Array.from(document.querySelectorAll('#notes article')).map(a => a.dataset.id);",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        let ids: Vec<String> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if ids.len() >= n {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "the notes tab showed {} of {n} entries",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest-first order the sandbox's own record implies.
fn expected_order(env: &Env, patient: &str) -> Vec<String> {
    let mut all: Vec<(String, String)> = Vec::new();
    for r in env.record("DiagnosticReport", patient) {
        let d = r["effectiveDateTime"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        all.push((d, r["id"].as_str().unwrap().to_string()));
    }
    for r in env.record("DocumentReference", patient) {
        let d = r["date"].as_str().unwrap_or_default().to_string();
        all.push((d, r["id"].as_str().unwrap().to_string()));
    }
    // Sandbox times are all UTC with the same format: text order is time order.
    all.sort_by(|a, b| b.0.cmp(&a.0));
    all.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_reports_of_a_sandbox_patient() {
    // Served without app-host's CSP only so that the test itself may read the PDF's Blob URL
    // (`connect-src` rightly has no `blob:`); the notes tab under the CSP is in e2e_a11y.
    let env = start_hosted(Hosting::Plain, |c| c.auto_approve = true, |_| {}).await;
    let patient = "patient-01";
    env.ehr_launch_auto(patient).await;
    env.text_when("#patient-name", |t| t == env.patient_name(patient))
        .await;
    env.open_tab("notes").await;
    let want = expected_order(&env, patient);
    assert!(
        want.len() >= 6,
        "the sandbox gives patient-01 notes and reports"
    );
    let shown = entries(&env, want.len().min(20)).await;
    // Newest first; entries with the same time may come in either order.
    assert_eq!(shown.len(), want.len().min(20));
    let mut a = shown.clone();
    let mut b: Vec<String> = want.iter().take(shown.len()).cloned().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the newest entries, all of them");

    // A lab report: its conclusion, and each result as the labs section loaded it.
    let lab = env
        .record("DiagnosticReport", patient)
        .into_iter()
        .find(|r| r["category"][0]["coding"][0]["code"] == "LAB")
        .unwrap();
    let lab_id = lab["id"].as_str().unwrap();
    let card = format!("#notes article[data-id='{lab_id}']");
    if env.browser.find(Locator::Css(&card)).await.is_err() {
        env.click("#panel-notes button.more").await;
    }
    let text = env.text_when(&card, |t| !t.contains("labs loading")).await;
    assert!(text.contains(lab["conclusion"].as_str().unwrap()), "{text}");
    let first = &lab["result"][0]["display"];
    assert!(
        text.contains(&format!("{}: ", first.as_str().unwrap())),
        "{text}"
    );
    assert!(!text.contains("not among the lab results loaded"), "{text}");

    // A plain-text note shows as text; an XHTML note through the sanitizer.
    let note_text = env.text("#notes pre.note-text").await;
    assert!(
        note_text.contains("SUBJECTIVE:") || note_text.contains("Findings:"),
        "{note_text}"
    );
    // Both kinds of markup: XHTML (parsed as XML) and HTML as EHRs write it (the browser's
    // parser), each through the allowlist.
    // HTML is parsed in the app's parser frame, which loads with the first such note: the
    // bodies are filled a moment after the cards.
    let deadline = Instant::now() + support::WAIT;
    let bodies = loop {
        let bodies = env
            .browser
            .execute(
                "return Array.from(document.querySelectorAll('#notes .attachment .narrative-body')).map(b => b.innerText);",
                vec![],
            )
            .await
            .unwrap();
        let bodies: Vec<String> = bodies
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b.as_str().map(str::to_string))
            .collect();
        if bodies.len() >= 2 && bodies.iter().all(|b| !b.is_empty()) || Instant::now() > deadline {
            break bodies;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(bodies.len() >= 2, "{bodies:?}");
    assert!(
        bodies.iter().all(|b| b.contains("Assessment:")),
        "{bodies:?}"
    );
    let html_note = env
        .record("DocumentReference", patient)
        .into_iter()
        .find(|d| {
            d["content"][0]["attachment"]["contentType"] == "text/html; charset=utf-8"
                && shown.iter().any(|id| d["id"] == id.as_str())
        })
        .expect("an HTML progress note among the entries shown");
    let html_text = env
        .text(&format!(
            "#notes article[data-id='{}'] .narrative-body",
            html_note["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        html_text.contains("Subjective:") && html_text.contains("Signed: "),
        "{html_text}"
    );

    // The discharge letter: a PDF on the FHIR server, fetched with the token into a Blob URL.
    let pdf_requests = "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/Binary/discharge-1-pdf')).length;";
    assert_eq!(
        env.browser.execute(pdf_requests, vec![]).await.unwrap(),
        0,
        "fetched only when asked"
    );
    env.click("#notes article[data-id='discharge-1'] button.get-attachment")
        .await;
    let open = env
        .element("#notes article[data-id='discharge-1'] a.open-pdf")
        .await;
    let href = open.attr("href").await.unwrap().unwrap();
    assert!(href.starts_with("blob:"), "{href}");
    assert_eq!(
        env.browser.execute(pdf_requests, vec![]).await.unwrap(),
        1,
        "one request for the PDF"
    );
    let head = env
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.blob()).then(async b => done([b.type, (await b.text()).slice(0, 5)]))
               .catch(e => done(['failed', String(e)]));",
            vec![Value::String(href)],
        )
        .await
        .unwrap();
    assert_eq!(head, serde_json::json!(["application/pdf", "%PDF-"]));
    let download = env
        .element("#notes article[data-id='discharge-1'] a.download")
        .await;
    assert_eq!(
        download.attr("download").await.unwrap().as_deref(),
        Some("Discharge-summary--PDF.pdf")
    );
    env.screenshot("notes-1280").await;
    env.browser.set_window_size(320, 900).await.unwrap();
    env.screenshot("notes-320").await;
    let overflow = env
        .browser
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, Value::Bool(false), "nothing wider than 320 px");
    env.close().await;
}

/// The hostile-notes patient, with the app served by a plain host (no CSP): whatever the markup
/// tries (script, handlers, hostile links, SVG/MathML, frames, forms, base, meta refresh, CSS
/// url(), tracking images, clobbering ids), nothing runs, nothing is fetched from the attacker's
/// address, and the text stays readable, HTML that is not XML included (the browser's HTML
/// parser, then the allowlist). The oversize note is not shown, with a notice; an attachment
/// stored elsewhere is named, not fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_patients_notes_render_inert() {
    let env = start_hosted(Hosting::Plain, |c| c.auto_approve = true, |_| {}).await;
    let patient = sandbox::data::HOSTILE_PATIENT;
    env.ehr_launch_auto(patient).await;
    env.text_when("#patient-name", |t| t == env.patient_name(patient))
        .await;
    env.open_tab("notes").await;
    entries(&env, 6).await;
    // Open every narrative, hover and click everything in the notes.
    for d in env
        .browser
        .find_all(Locator::Css("#notes details summary"))
        .await
        .unwrap()
    {
        d.click().await.unwrap();
    }
    for p in env
        .browser
        .find_all(Locator::Css(
            "#notes .narrative-body p, #notes .narrative-body span",
        ))
        .await
        .unwrap()
    {
        let _ = p.click().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = env
        .browser
        .execute(
            r#"const panel = document.getElementById('panel-notes');
               const all = Array.from(panel.querySelectorAll('*'));
               return {
                 pwned: window.__pwned === undefined ? null : String(window.__pwned),
                 banned: all.filter(e => /^(script|style|iframe|frame|object|embed|form|input|base|meta|link|svg|math|template)$/i
                     .test(e.localName)).map(e => e.localName),
                 handlers: all.flatMap(e => Array.from(e.attributes).filter(a => /^on/i.test(a.name)).map(a => e.localName + '@' + a.name)),
                 ids: all.filter(e => e.closest('.narrative-body') && (e.id || e.getAttribute('name'))).length,
                 status_ids: document.querySelectorAll('#status').length,
                 bad_links: Array.from(panel.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))
                     .filter(h => !/^(https:|blob:)/.test(h)),
                 outside_links: Array.from(panel.querySelectorAll('.narrative-body a[href]'))
                     .filter(a => a.rel !== 'noopener noreferrer' || a.target !== '_blank').length,
                 styles: Array.from(panel.querySelectorAll('[style]')).map(e => e.getAttribute('style')),
                 images: Array.from(panel.querySelectorAll('img')).map(i => i.getAttribute('src')),
                 requests: performance.getEntriesByType('resource').map(e => e.name)
                     .filter(n => n.includes('tracker.invalid') || !n.startsWith('http://localhost')),
                 text: panel.innerText,
               };"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(report["pwned"], Value::Null, "{report:#}");
    assert_eq!(report["banned"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["handlers"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["ids"], 0, "{report:#}");
    // The chart has no `#status` of its own: the note's would be the only one.
    assert_eq!(report["status_ids"], 0, "{report:#}");
    assert_eq!(report["bad_links"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["outside_links"], 0, "{report:#}");
    assert_eq!(
        report["styles"],
        // Set through the CSSOM (launch.html's policy blocks inline style), read back as text.
        serde_json::json!(["text-align: center;", "text-align: center;"]),
        "each narrative once, only its layout style kept: {report:#}"
    );
    assert_eq!(report["images"], serde_json::json!([]), "{report:#}");
    // A narrative that is not XHTML is repaired by the HTML parser, said so, and kept inert.
    let text = report["text"].as_str().unwrap_or("");
    assert!(text.contains("Narrative as sent"), "{text}");
    assert!(text.contains("repaired"), "{text}");
    assert_eq!(report["requests"], serde_json::json!([]), "{report:#}");
    let text = report["text"].as_str().unwrap();
    for shown in [
        "Visible text stays.",
        "Cell text stays",
        "<script>window.__pwned = 'text'</script> <b>not bold</b>",
        "<img src=x onerror=alert(1)> is text here.",
        "[image: tracking pixel]",
        "Stored at https://tracker.invalid, outside this EHR's FHIR server: not fetched",
        "This content is not shown: it is 269 KB, more than this app shows (256 KB).",
        "one\ntwo",
        "Some formatting or content was left out for safety.",
    ] {
        assert!(text.contains(shown), "{shown:?} not in:\n{text}");
    }
    env.screenshot("notes-hostile").await;
    env.close().await;
}

/// Under app-host's Content-Security-Policy: a narrative's image that is a Binary on the FHIR
/// server is fetched with the token (once) and shown from a Blob URL (`img-src blob:`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narratives_image_on_the_fhir_server_is_shown_under_the_csp() {
    let env = support::start(|c| c.auto_approve = true).await;
    env.ehr_launch_auto("patient-01").await;
    env.text_when("#patient-name", |t| t == env.patient_name("patient-01"))
        .await;
    env.open_tab("notes").await;
    let card = "#notes article[data-id='discharge-1']";
    env.click(&format!("{card} details.narrative summary"))
        .await;
    let img = env
        .element(&format!("{card} .narrative-body img[src^='blob:']"))
        .await;
    assert_eq!(
        img.attr("alt").await.unwrap().as_deref(),
        Some("Chest X-ray at discharge")
    );
    let deadline = Instant::now() + support::WAIT;
    loop {
        let width = env
            .browser
            .execute(
                "return document.querySelector(arguments[0]).naturalWidth;",
                vec![Value::String(format!("{card} .narrative-body img"))],
            )
            .await
            .unwrap();
        if width == 64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the image never decoded: {width}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fetched = env
        .browser
        .execute(
            "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/Binary/discharge-1-pdf-figure')).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fetched, 1);
    env.close().await;
}
