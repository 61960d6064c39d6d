//! After launch: the patient banner (from `Patient/{patient}`), the user, the granted scopes and
//! sign-out. Keeps the token fresh in the background while it is on screen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::{still_showing, Ctx};
use crate::fhir::patient::{display_name, summarize};
use crate::fhir::{FhirClient, FhirError};
use crate::problem::fhir_problem;
use crate::web::{self, Browser};

#[derive(Clone)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed(FhirError),
}

#[component]
pub fn Chart(ctx: Ctx, client: FhirClient<Browser>) -> impl IntoView {
    let (kind, patient_id, fhir_user, granted, banner_wanted) = client.with_session(|s| {
        (
            s.kind,
            s.patient.clone(),
            s.fhir_user.clone(),
            s.granted_scope.clone(),
            s.need_patient_banner != Some(false),
        )
    });
    let patient = RwSignal::new_local(Load::<Value>::Loading);
    let user = RwSignal::new_local(None::<String>);

    if let Some(id) = patient_id.clone() {
        let c = client.clone();
        spawn_local(async move {
            let r = c.read("Patient", &id).await;
            if let Err(FhirError::SessionExpired) = &r {
                return ctx.problem(fhir_problem(&FhirError::SessionExpired, kind));
            }
            patient.set(match r {
                Ok(v) => Load::Ready(v),
                Err(e) => Load::Failed(e),
            });
        });
    }
    if let Some(fu) = fhir_user.clone() {
        // The user's own resource, read only when it lies under the FHIR base (SECURITY.md).
        match client.base().resolve(&fu) {
            Some(url) => {
                let c = client.clone();
                spawn_local(async move {
                    let name = c.get(&url).await.map(|v| display_name(&v)).unwrap_or(fu);
                    user.set(Some(name));
                });
            }
            None => user.set(Some(fu)),
        }
    }
    // Proactive refresh while this chart is on screen (the client also checks before each call).
    {
        let c = client.clone();
        spawn_local(async move {
            loop {
                web::sleep(5_000).await;
                if !still_showing(ctx, &c) {
                    break;
                }
                let now = js_sys::Date::now() as u64;
                if c.with_session(|s| s.refresh_due(now) && s.can_refresh()) {
                    if let Err(e) = c.refresh().await {
                        if !e.is_transient() {
                            return ctx.problem(fhir_problem(&FhirError::SessionExpired, kind));
                        }
                    }
                }
            }
        });
    }

    let base = client.base().as_str().to_string();
    let scopes: Vec<String> = granted.split_whitespace().map(str::to_string).collect();
    view! {
        {move || banner_wanted.then(|| view! { <Banner patient=patient/> })}
        <section class="card session" aria-label="Session">
            <dl class="facts">
                <dt>"FHIR server"</dt><dd id="fhir-base">{base}</dd>
                <dt>"Patient"</dt>
                <dd id="session-patient">{move || match patient.get() {
                    Load::Ready(p) => display_name(&p),
                    Load::Loading if patient_id.is_some() => "loading…".to_string(),
                    _ => patient_id.clone().unwrap_or_else(|| "none in context".into()),
                }}</dd>
                <dt>"Signed in as"</dt>
                <dd id="user">{move || user.get().unwrap_or_else(|| "not shared by the EHR".into())}</dd>
                <dt>"Granted scopes"</dt>
                <dd><ul id="scopes" class="scopes">{scopes.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul></dd>
            </dl>
            <button id="sign-out" on:click=move |_| ctx.sign_out()>"Sign out"</button>
        </section>
    }
}

#[component]
fn Banner(patient: RwSignal<Load<Value>, LocalStorage>) -> impl IntoView {
    view! {
        <section class="banner" aria-label="Patient" id="banner">
            {move || match patient.get() {
                Load::Loading => view! { <p class="status">"Loading the patient…"</p> }.into_any(),
                Load::Failed(e) => view! { <p class="error" id="banner-error">{format!("The patient could not be loaded: {e}")}</p> }.into_any(),
                Load::Ready(p) => {
                    let s = summarize(&p);
                    view! {
                        <h1 id="patient-name">{s.name}</h1>
                        <dl class="banner-facts">
                            <dt>"Born"</dt><dd id="patient-birth">{s.birth_date.unwrap_or_else(|| "unknown".into())}</dd>
                            <dt>"Gender"</dt><dd id="patient-gender">{s.gender.unwrap_or_else(|| "unknown".into())}</dd>
                            {s.identifiers.into_iter().take(2).map(|(label, value)| view! {
                                <dt>{label}</dt><dd class="patient-id">{value}</dd>
                            }).collect_view()}
                        </dl>
                    }.into_any()
                }
            }}
        </section>
    }
}
