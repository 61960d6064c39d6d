//! The patient banner and the patient's read it waits for.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::section::Section;
use super::{Ctx, Retry};
use crate::chart::time::age;
use crate::failure::fhir_failure;
use crate::fhir::patient::summarize;
use crate::fhir::{FhirClient, FhirError};
use crate::smart::handoff::FirstRead;
use crate::web::{self, handoff, Browser};

/// A patient's read and where its answer goes: started by [`PatientRead::start`] as soon as
/// there is a session, before the chart's view is built (tens of milliseconds on a slow
/// machine), so the request the name waits for is the first to leave.
#[derive(Clone)]
pub struct PatientRead {
    pub(super) id: String,
    pub(super) record: RwSignal<Section<Value>, LocalStorage>,
}

impl PatientRead {
    pub fn start(ctx: Ctx, client: &FhirClient<Browser>, id: &str) -> Self {
        let record = RwSignal::new_local(Section::Loading {
            loaded: 0,
            total: None,
        });
        Self::read(ctx, client.clone(), id.to_string(), record);
        PatientRead {
            id: id.to_string(),
            record,
        }
    }

    /// The launch module's read of the launch patient (`smart::handoff::FirstRead`), taken
    /// over: its answer, or a read of the chart's own when that one may want a refresh (the
    /// launch module never refreshes).
    pub fn take_over(ctx: Ctx, client: &FhirClient<Browser>, id: &str) -> Self {
        let record = RwSignal::new_local(Section::Loading {
            loaded: 0,
            total: None,
        });
        let (c, id_read) = (client.clone(), id.to_string());
        spawn_local(async move {
            let answer = match handoff::take_first_read().await {
                Some(FirstRead::Read(v))
                    if v.get("id").and_then(Value::as_str) == Some(id_read.as_str()) =>
                {
                    Ok(v)
                }
                Some(FirstRead::Failed(e)) => Err(e),
                _ => return Self::read(ctx, c, id_read, record),
            };
            web::mark("patient-answered");
            Self::settle(ctx, c, id_read, record, answer);
        });
        PatientRead {
            id: id.to_string(),
            record,
        }
    }

    /// One attempt.
    fn read(
        ctx: Ctx,
        c: FhirClient<Browser>,
        id: String,
        record: RwSignal<Section<Value>, LocalStorage>,
    ) {
        spawn_local(async move {
            let r = c.read("Patient", &id).await;
            web::mark("patient-answered");
            Self::settle(ctx, c, id, record, r);
        });
    }

    /// Shows a read's answer; a failure offers to try again where that can help (not a 403).
    fn settle(
        ctx: Ctx,
        c: FhirClient<Browser>,
        id: String,
        record: RwSignal<Section<Value>, LocalStorage>,
        answer: Result<Value, FhirError>,
    ) {
        let kind = c.with_session(|s| s.kind);
        match answer {
            Ok(v) => record.set(Section::Ready(v)),
            Err(FhirError::SessionExpired) => ctx.session_expired(kind),
            Err(e) => {
                let again = (!matches!(e, FhirError::Forbidden(_))).then(|| {
                    Retry::new(move || {
                        record.set(Section::Loading {
                            loaded: 0,
                            total: None,
                        });
                        Self::read(ctx, c.clone(), id.clone(), record);
                    })
                });
                let failure = fhir_failure(&e, kind);
                record.set(Section::Failed(
                    format!("The patient could not be loaded. {}", failure.message),
                    again,
                ))
            }
        }
    }
}

#[component]
pub(super) fn Banner(
    record: RwSignal<Section<Value>, LocalStorage>,
    now: RwSignal<u64>,
) -> impl IntoView {
    view! {
        <section class="banner" aria-label="Patient" id="banner">
            {move || record.with(|r| match r {
                Section::Ready(p) => {
                    // The benchmark's mark (the chart opens only on a session whose id_token check
                    // has passed).
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
                            {s.identifiers.into_iter().take(3).map(|(label, value)| view! {
                                <dt>{label}</dt><dd class="patient-id">{value}</dd>
                            }).collect_view()}
                        </dl>
                    }.into_any()
                }
                Section::Failed(e, retry) => view! {
                    <p class="error" id="banner-error" role="alert">{e.clone()}</p>
                    {retry.clone().map(|Retry(again)| view! {
                        <button id="banner-retry" on:click=move |_| again()>"Try again"</button>
                    })}
                }.into_any(),
                _ => view! { <p class="status">"Loading the patient…"</p> }.into_any(),
            })}
        </section>
    }
}
