//! After launch: the patient's chart (banner, then tabs for the summary lists, vitals, labs,
//! encounters and the session), or patient search when the launch brought no patient. Keeps the
//! token fresh while on screen and applies the EHR's validated style.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::lists::{
    allergy_rows, encounter_rows, medication_rows, problem_rows, ListSection, ALLERGIES,
    ENCOUNTERS, MEDICATIONS, PROBLEMS,
};
use futures::FutureExt;

use super::section::{collect, load, Gate, Load, Section};
use super::session::SessionPanel;
use super::{labs::Labs, search::PatientSearch, still_showing, vitals::Vitals, Ctx};
use crate::chart::labs::LabsBuilder;
use crate::chart::records;
use crate::chart::style::variables;
use crate::chart::time::age;
use crate::chart::vitals::VitalsBuilder;
use crate::fhir::patient::{display_name, summarize};
use crate::fhir::{FhirClient, FhirError};
use crate::platform::{HttpRequest, Platform};
use crate::web::{self, Browser};

/// The patient chosen by search, kept for a reload of this tab.
const SELECTED_KEY: &str = "smart-launch.selected-patient";

#[component]
pub fn Chart(ctx: Ctx, client: FhirClient<Browser>) -> impl IntoView {
    let (kind, context_patient, fhir_user, style_url) = client.with_session(|s| {
        (
            s.kind,
            s.context.patient.clone(),
            s.fhir_user.clone(),
            s.context.smart_style_url.clone(),
        )
    });
    let selected = RwSignal::new(
        context_patient
            .clone()
            .or_else(|| Browser.load(SELECTED_KEY)),
    );
    let now = RwSignal::new(Browser.now_ms());
    let user = RwSignal::new(None::<String>);

    if let Some(fu) = fhir_user {
        // The user's own resource, read with the token only under the FHIR base (SECURITY.md).
        match client.base().resolve(&fu) {
            Some(url) => {
                let c = client.clone();
                spawn_local(async move {
                    // After the patient's own request has gone out: the banner comes first.
                    web::sleep(0).await;
                    let name = c.get(&url).await.map(|v| display_name(&v)).unwrap_or(fu);
                    user.set(Some(name));
                });
            }
            None => user.set(Some(fu)),
        }
    }
    if let Some(url) = style_url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
        // A public document: fetched without the token, and only validated values are used.
        spawn_local(async move {
            web::sleep(0).await;
            if let Ok(res) = Browser
                .send(HttpRequest::get(url, "application/json"))
                .await
            {
                if let Ok(doc) = serde_json::from_str::<Value>(&res.body) {
                    web::set_css_variables(&variables(&doc));
                }
            }
        });
    }
    // The clock for the countdown, and refresh ahead of expiry while this chart is on screen.
    {
        let c = client.clone();
        spawn_local(async move {
            loop {
                web::sleep(1_000).await;
                if !still_showing(ctx, &c) {
                    break;
                }
                let t = Browser.now_ms();
                now.set(t);
                if c.with_session(|s| s.refresh_due(t) && s.can_refresh()) {
                    if let Err(e) = c.refresh().await {
                        if !e.is_transient() {
                            return ctx.session_expired(kind);
                        }
                    }
                }
            }
        });
    }

    let client = StoredValue::new_local(client);
    let pick = move |id: String| {
        let _ = Browser.save(SELECTED_KEY, &id);
        selected.set(Some(id));
    };
    let can_change = context_patient.is_none();
    view! {
        {move || match selected.get() {
            Some(id) => view! {
                <PatientChart ctx=ctx client=client.get_value() patient=id now=now user=user
                    on_change=move || { Browser.remove(SELECTED_KEY); selected.set(None); } can_change=can_change/>
            }.into_any(),
            None => view! {
                <PatientSearch ctx=ctx client=client.get_value() on_pick=pick/>
                <SessionPanel ctx=ctx client=client.get_value() now=now user=user/>
            }.into_any(),
        }}
    }
}

const TABS: [(&str, &str); 5] = [
    ("summary", "Summary"),
    ("vitals", "Vital signs"),
    ("labs", "Labs"),
    ("encounters", "Encounters"),
    ("session", "Session"),
];

#[component]
fn PatientChart(
    ctx: Ctx,
    client: FhirClient<Browser>,
    patient: String,
    now: RwSignal<u64>,
    user: RwSignal<Option<String>>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
    can_change: bool,
) -> impl IntoView {
    let kind = client.with_session(|s| s.kind);
    let banner_wanted = client.with_session(|s| s.context.need_patient_banner != Some(false));
    let by_patient = |extra: &[(&'static str, &str)]| {
        let mut p: Vec<(&'static str, String)> =
            vec![("patient", patient.clone()), ("_count", "1000".into())];
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        p
    };
    // The patient first: the banner is what the user waits for.
    let record = RwSignal::new_local(Section::<Value>::Loading {
        loaded: 0,
        total: None,
    });
    let (patient_read, gate) = futures::channel::oneshot::channel::<()>();
    let gate: Gate = gate.map(|_| ()).boxed_local().shared();
    {
        let c = client.clone();
        let id = patient.clone();
        spawn_local(async move {
            let r = c.read("Patient", &id).await;
            // The sections start now: the banner's request did not queue behind theirs.
            let _ = patient_read.send(());
            match r {
                Ok(v) => record.set(Section::Ready(v)),
                Err(FhirError::SessionExpired) => ctx.session_expired(kind),
                Err(e) => record.set(Section::Failed(format!(
                    "The patient could not be loaded: {e}"
                ))),
            }
        });
    }

    fn list<T>(
        resource_type: &'static str,
        params: Vec<(&'static str, String)>,
        finish: fn(Vec<Value>) -> T,
    ) -> Load<Vec<Value>, T> {
        Load {
            resource_type,
            params,
            builder: Vec::new(),
            add: collect,
            finish,
            mark: None,
        }
    }
    let c = &client;
    let problems = load(
        ctx,
        c,
        kind,
        gate.clone(),
        list("Condition", by_patient(&[]), |v| {
            problem_rows(records::problems(&v))
        }),
    );
    let meds = load(
        ctx,
        c,
        kind,
        gate.clone(),
        list("MedicationRequest", by_patient(&[]), |v| {
            medication_rows(records::medications(&v))
        }),
    );
    let allergies = load(
        ctx,
        c,
        kind,
        gate.clone(),
        list("AllergyIntolerance", by_patient(&[]), |v| {
            allergy_rows(records::allergies(&v))
        }),
    );
    let encounters = load(
        ctx,
        c,
        kind,
        gate.clone(),
        list("Encounter", by_patient(&[]), |v| {
            encounter_rows(records::encounters(&v))
        }),
    );
    let vitals = load(
        ctx,
        c,
        kind,
        gate.clone(),
        Load {
            resource_type: "Observation",
            params: by_patient(&[("category", "vital-signs")]),
            builder: VitalsBuilder::default(),
            add: |b, page| b.add_page(&page),
            finish: VitalsBuilder::finish,
            mark: Some(["vitals-start", "vitals-fetched", "vitals-painted"]),
        },
    );
    let labs = load(
        ctx,
        c,
        kind,
        gate.clone(),
        Load {
            resource_type: "Observation",
            params: by_patient(&[("category", "laboratory")]),
            builder: LabsBuilder::default(),
            add: |b, page| b.add_page(&page),
            finish: LabsBuilder::finish,
            mark: None,
        },
    );
    let active = RwSignal::new("summary");
    let on_tab_key = move |ev: leptos::ev::KeyboardEvent| {
        let i = TABS
            .iter()
            .position(|(id, _)| *id == active.get_untracked())
            .unwrap_or(0);
        let next = match ev.key().as_str() {
            "ArrowRight" => (i + 1) % TABS.len(),
            "ArrowLeft" => (i + TABS.len() - 1) % TABS.len(),
            "Home" => 0,
            "End" => TABS.len() - 1,
            _ => return,
        };
        ev.prevent_default();
        active.set(TABS[next].0);
        web::focus(&format!("tab-{}", TABS[next].0));
    };
    let panel = move |id: &'static str| move || active.get() != id;

    view! {
        {move || banner_wanted.then(|| view! { <Banner record=record now=now/> })}
        {(!banner_wanted).then(|| view! {
            <p class="context-line">"Patient: "<span id="session-patient">{move || record.with(|r| match r {
                Section::Ready(p) => display_name(p),
                _ => String::new(),
            })}</span></p>
        })}
        {can_change.then(|| view! { <button class="link" id="change-patient" on:click=move |_| on_change()>"Choose another patient"</button> })}
        <div class="tabs" role="tablist" aria-label="Chart sections" on:keydown=on_tab_key>
            {TABS.iter().map(|(id, label)| view! {
                <button role="tab" id=format!("tab-{id}") aria-controls=format!("panel-{id}")
                    aria-selected=move || (active.get() == *id).to_string()
                    tabindex=move || if active.get() == *id { "0" } else { "-1" }
                    on:click=move |_| active.set(id)>{*label}</button>
            }).collect_view()}
        </div>
        <div role="tabpanel" id="panel-summary" aria-labelledby="tab-summary" hidden=panel("summary")>
            <ListSection spec=PROBLEMS state=problems/>
            <ListSection spec=MEDICATIONS state=meds/>
            <ListSection spec=ALLERGIES state=allergies/>
        </div>
        <div role="tabpanel" id="panel-vitals" aria-labelledby="tab-vitals" hidden=panel("vitals")>
            <Vitals state=vitals/>
        </div>
        <div role="tabpanel" id="panel-labs" aria-labelledby="tab-labs" hidden=panel("labs")>
            <Labs state=labs/>
        </div>
        <div role="tabpanel" id="panel-encounters" aria-labelledby="tab-encounters" hidden=panel("encounters")>
            <ListSection spec=ENCOUNTERS state=encounters/>
        </div>
        <div role="tabpanel" id="panel-session" aria-labelledby="tab-session" hidden=panel("session")>
            <SessionPanel ctx=ctx client=client.clone() now=now user=user/>
        </div>
    }
}

#[component]
fn Banner(record: RwSignal<Section<Value>, LocalStorage>, now: RwSignal<u64>) -> impl IntoView {
    view! {
        <section class="banner" aria-label="Patient" id="banner">
            {move || record.with(|r| match r {
                Section::Ready(p) => {
                    crate::web::mark_after_paint("patient-name-painted");
                    let s = summarize(p);
                    let born = s.birth_date.clone().map(|b| match age(&b, now.get_untracked() as i64) {
                        Some(a) => format!("{a} ({b})"),
                        None => b,
                    });
                    view! {
                        <h1 id="patient-name">{s.name}</h1>
                        <dl class="banner-facts">
                            <dt>"Age"</dt><dd id="patient-birth">{born.unwrap_or_else(|| "unknown".into())}</dd>
                            <dt>"Gender"</dt><dd id="patient-gender">{s.gender.unwrap_or_else(|| "unknown".into())}</dd>
                            {s.identifiers.into_iter().take(2).map(|(label, value)| view! {
                                <dt>{label}</dt><dd class="patient-id">{value}</dd>
                            }).collect_view()}
                        </dl>
                    }.into_any()
                }
                Section::Failed(e) => view! { <p class="error" id="banner-error">{e.clone()}</p> }.into_any(),
                _ => view! { <p class="status">"Loading the patient…"</p> }.into_any(),
            })}
        </section>
    }
}
