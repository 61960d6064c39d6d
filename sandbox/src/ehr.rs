//! The EHR launch page (`/`): pick a practitioner, a patient and optionally an encounter, and
//! launch the app with `iss` and a fresh single-use `launch` (SMART App Launch 2.2 §"EHR launch"),
//! in this window or inside an iframe as embedded EHRs do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::fhir::display_name;
use crate::html::{error_page, escape, page};
use crate::oauth::{field, new_launch, pairs};
use crate::state::{LaunchContext, Sandbox, User};

type S = State<Arc<Sandbox>>;

fn options<'a>(items: impl Iterator<Item = (&'a str, String)>, selected: &str) -> String {
    let mut out = String::new();
    for (id, label) in items {
        let sel = if id == selected { " selected" } else { "" };
        out.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            escape(id),
            escape(&label)
        ));
    }
    out
}

const OTHER_PATIENTS_ENCOUNTER: &str = "_other-patients";
const MISSING_ENCOUNTER: &str = "_missing";

/// The `fhirContext` items ticked on the launch page (SMART App Launch 2.2: objects with a
/// `reference` and a `role`), for `patient`.
fn launched_from(sb: &Sandbox, form: &[(String, String)], patient: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    let latest = |rtype: &'static str, category: Option<&str>| {
        sb.data
            .by_patient
            .get(&(rtype, patient.to_string()))
            .and_then(|v| {
                v.iter()
                    .rev()
                    .find(|r| category.is_none_or(|c| r.categories.iter().any(|x| x == c)))
            })
            .map(|r| format!("{rtype}/{}", r.id))
    };
    form.iter()
        .filter(|(k, _)| k == "ctx")
        .filter_map(|(_, v)| match v.as_str() {
            "note" => {
                latest("DocumentReference", None).map(|r| json!({"reference": r, "role": "launch"}))
            }
            "report" => latest("DiagnosticReport", Some("LAB")).map(|r| json!({"reference": r})),
            // The sandbox serves no Appointments: the app names it and reads nothing.
            "appointment" => Some(
                json!({"reference": format!("Appointment/appt-{patient}"), "type": "Appointment"}),
            ),
            "elsewhere" => {
                Some(json!({"reference": "https://other-ehr.example/fhir/DocumentReference/n-1"}))
            }
            "malformed" => Some(json!({"role": "launch"})),
            _ => None,
        })
        .collect()
}

pub async fn launch_page(State(sb): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let patients = &sb.data.by_type["Patient"];
    let patient = q
        .get("patient")
        .filter(|p| sb.data.by_id.contains_key(&("Patient", p.to_string())))
        .cloned()
        .unwrap_or_else(|| patients.first().map(|p| p.id.clone()).unwrap_or_default());
    let practitioner = q.get("practitioner").cloned().unwrap_or_default();
    let app_url = q
        .get("app_url")
        .cloned()
        .unwrap_or_else(|| sb.config.app_url.clone());
    let practitioner_opts = options(
        sb.practitioners
            .iter()
            .map(|p| (p.id.as_str(), p.name.clone())),
        &practitioner,
    );
    let patient_opts = options(
        patients.iter().map(|p| {
            let dob = p.json["birthDate"].as_str().unwrap_or("?");
            (p.id.as_str(), format!("{} ({dob})", display_name(&p.json)))
        }),
        &patient,
    );
    let encounters = sb
        .data
        .by_patient
        .get(&("Encounter", patient.clone()))
        .map(|v| v.as_slice())
        .unwrap_or(&[]);
    let encounter_opts = options(
        std::iter::once(("", "No encounter".to_string()))
            .chain([
                (
                    OTHER_PATIENTS_ENCOUNTER,
                    "(test) another patient's encounter: not readable".to_string(),
                ),
                (
                    MISSING_ENCOUNTER,
                    "(test) an encounter that does not exist".to_string(),
                ),
            ])
            .chain(encounters.iter().rev().map(|e| {
                let when = e.json["period"]["start"]
                    .as_str()
                    .unwrap_or("")
                    .get(..10)
                    .unwrap_or("");
                let kind = e.json["type"][0]["text"].as_str().unwrap_or("Encounter");
                (e.id.as_str(), format!("{when} {kind}"))
            })),
        "",
    );
    page(
        StatusCode::OK,
        "Sandbox EHR — launch an app",
        &format!(
            "<section><h1>Launch a SMART app</h1>\
             <form method=\"get\" action=\"/\">\
             <label>Patient <select name=\"patient\" id=\"patient\">{patient_opts}</select></label>\
             <input type=\"hidden\" name=\"practitioner\" value=\"{practitioner}\">\
             <button type=\"submit\" id=\"show-encounters\">Show this patient's encounters</button></form>\
             <form method=\"post\" action=\"/ehr/launch\">\
             <input type=\"hidden\" name=\"patient\" value=\"{patient}\">\
             <label>Practitioner <select name=\"practitioner\" id=\"practitioner\">{practitioner_opts}</select></label>\
             <label>Encounter <select name=\"encounter\" id=\"encounter\">{encounter_opts}</select></label>\
             <fieldset><legend>Launched from (<code>fhirContext</code>)</legend>\
             <label><input type=\"checkbox\" name=\"ctx\" value=\"note\" id=\"ctx-note\"> the patient's latest note</label>\
             <label><input type=\"checkbox\" name=\"ctx\" value=\"report\" id=\"ctx-report\"> the latest lab report</label>\
             <label><input type=\"checkbox\" name=\"ctx\" value=\"appointment\" id=\"ctx-appointment\"> an appointment</label>\
             <label><input type=\"checkbox\" name=\"ctx\" value=\"elsewhere\" id=\"ctx-elsewhere\"> (test) a note on another server</label>\
             <label><input type=\"checkbox\" name=\"ctx\" value=\"malformed\" id=\"ctx-malformed\"> (test) an item without a reference</label>\
             </fieldset>\
             <label>Intent <input type=\"text\" name=\"intent\" id=\"intent\" list=\"intents\"></label>\
             <datalist id=\"intents\"><option value=\"summary\"><option value=\"reconcile\"><option value=\"vitals\"><option value=\"labs\"><option value=\"notes\"><option value=\"visit\"></datalist>\
             <label>App launch URL <input type=\"text\" name=\"app_url\" id=\"app-url\" value=\"{app_url}\"></label>\
             <label><input type=\"radio\" name=\"mode\" value=\"window\" checked> In this window</label>\
             <label><input type=\"radio\" name=\"mode\" value=\"iframe\" id=\"mode-iframe\"> Embedded in the EHR (iframe)</label>\
             <button type=\"submit\" id=\"launch\">Launch</button></form>\
             <p class=\"muted\">Launching patient <b id=\"selected-patient\">{patient}</b>. \
             FHIR base: {base}</p></section>",
            practitioner = escape(&practitioner),
            patient = escape(&patient),
            app_url = escape(&app_url),
            base = escape(&sb.fhir_base),
        ),
    )
}

pub async fn launch(State(sb): S, body: Bytes) -> Response {
    let form = pairs(&body);
    let get = |k: &str| field(&form, k);
    let patient = get("patient");
    let Some(patient_res) = sb.data.by_id.get(&("Patient", patient.clone())) else {
        return error_page(StatusCode::BAD_REQUEST, "Choose a known patient.");
    };
    let practitioner = get("practitioner");
    if !sb
        .data
        .by_id
        .contains_key(&("Practitioner", practitioner.clone()))
    {
        return error_page(StatusCode::BAD_REQUEST, "Choose a known practitioner.");
    }
    let mut encounter = Some(get("encounter")).filter(|e| !e.is_empty());
    // The test choices: an encounter of another patient (outside this token's compartment, a
    // 403) and one that does not exist (a 404).
    if encounter.as_deref() == Some(OTHER_PATIENTS_ENCOUNTER) {
        encounter = sb
            .data
            .by_type
            .get("Encounter")
            .and_then(|all| {
                all.iter()
                    .find(|e| e.patient.as_deref() != Some(patient.as_str()))
            })
            .map(|e| e.id.clone());
    } else if encounter.as_deref() == Some(MISSING_ENCOUNTER) {
        encounter = Some("no-such-encounter".into());
    } else if let Some(e) = &encounter {
        let ok = sb
            .data
            .by_id
            .get(&("Encounter", e.clone()))
            .is_some_and(|r| r.patient.as_deref() == Some(patient.as_str()));
        if !ok {
            return error_page(
                StatusCode::BAD_REQUEST,
                "That encounter is not this patient's.",
            );
        }
    }
    let fhir_context = launched_from(&sb, &form, &patient);
    let intent = Some(get("intent").trim().to_string()).filter(|i| !i.is_empty());
    let app_url = match url::Url::parse(&get("app_url")) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The app launch URL must be an http(s) URL.",
            )
        }
    };
    let embedded = get("mode") == "iframe";
    let launch = new_launch(
        &sb,
        LaunchContext {
            user: User::Practitioner(practitioner),
            patient,
            encounter,
            need_patient_banner: !embedded,
            fhir_context,
            intent,
            created: Instant::now(),
        },
    );
    let mut target = app_url;
    target
        .query_pairs_mut()
        .append_pair("iss", &sb.fhir_base)
        .append_pair("launch", &launch);
    if !embedded {
        return Redirect::to(target.as_str()).into_response();
    }
    let r = &patient_res.json;
    page(
        StatusCode::OK,
        "Sandbox EHR — chart",
        &format!(
            "<section><b id=\"ehr-banner\">{}</b> · {} · {} · MRN {}</section>\
             <iframe id=\"app-frame\" title=\"SMART app\" src=\"{}\"></iframe>",
            escape(&display_name(r)),
            escape(r["gender"].as_str().unwrap_or("")),
            escape(r["birthDate"].as_str().unwrap_or("")),
            escape(r["identifier"][0]["value"].as_str().unwrap_or("")),
            escape(target.as_str()),
        ),
    )
}
