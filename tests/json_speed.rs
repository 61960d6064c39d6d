//! A measurement, not a test of behaviour: how fast the browser turns the 10,000-observation
//! record's pages (ten Bundles of 1,000 Observations, the sandbox's page size) into
//! `serde_json::Value`, two ways: serde_json parsing the text in wasm, and the browser's
//! `JSON.parse` followed by serde-wasm-bindgen. `scripts/bench.sh` runs it in release mode and
//! copies the printed figures into BENCHMARKS.md; the JSON path was chosen on them.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// One page: `n` vital-sign Observations shaped like the sandbox's.
fn page(n: usize, first: usize) -> String {
    let entries: Vec<Value> = (first..first + n)
        .map(|i| {
            json!({
                "fullUrl": format!("http://localhost:9000/fhir/Observation/big-{i}"),
                "resource": {
                    "resourceType": "Observation",
                    "id": format!("big-{i}"),
                    "meta": { "lastUpdated": "2026-01-01T00:00:00Z" },
                    "status": "final",
                    "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs" }] }],
                    "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4", "display": "Heart rate" }], "text": "Heart rate" },
                    "subject": { "reference": "Patient/big-record" },
                    "effectiveDateTime": format!("20{:02}-{:02}-{:02}T08:{:02}:00Z", 10 + i % 15, 1 + i % 12, 1 + i % 28, i % 60),
                    "valueQuantity": { "value": 60.0 + (i % 400) as f64 / 10.0, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min" },
                    "referenceRange": [{ "low": { "value": 60, "unit": "/min" }, "high": { "value": 100, "unit": "/min" } }]
                },
                "search": { "mode": "match" }
            })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "searchset", "total": 10_000, "entry": entries,
        "link": [{ "relation": "self", "url": "http://localhost:9000/fhir/Observation?patient=big-record" }] })
    .to_string()
}

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[wasm_bindgen_test]
fn parse_the_ten_thousand_observation_record_both_ways() {
    let pages: Vec<String> = (0..10).map(|p| page(1000, p * 1000)).collect();
    let bytes: usize = pages.iter().map(String::len).sum();
    let (mut ours, mut browsers) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = now();
        let a: Vec<Value> = pages
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        ours.push(now() - t);
        let t = now();
        let b: Vec<Value> = pages
            .iter()
            .map(|p| serde_wasm_bindgen::from_value(js_sys::JSON::parse(p).unwrap()).unwrap())
            .collect();
        browsers.push(now() - t);
        // Both ways read the same documents (JSON.parse gives 60.0 as the integer 60, so the
        // values are compared as numbers).
        for (x, y) in a.iter().zip(&b) {
            let (ex, ey) = (
                x["entry"].as_array().unwrap(),
                y["entry"].as_array().unwrap(),
            );
            assert_eq!(ex.len(), ey.len());
            for (p, q) in ex.iter().zip(ey) {
                assert_eq!(p["resource"]["id"], q["resource"]["id"]);
                let value = |r: &Value| r["resource"]["valueQuantity"]["value"].as_f64();
                assert_eq!(value(p), value(q));
            }
        }
    }
    console_log!(
        "JSON of 10,000 Observations ({:.1} MB in 10 pages), median of 7: serde_json::from_str {:.1} ms; JSON.parse + serde-wasm-bindgen {:.1} ms",
        bytes as f64 / 1e6,
        median(ours),
        median(browsers)
    );
}
