//! The launch context on screen (SMART App Launch 2.2 §"Launch context arrives with your
//! access_token"): the visit the EHR opened, named under the banner and given a tab of what was
//! recorded during it, and what the launch button sat beside (`fhirContext`), each opened where
//! the chart has a view for it. What to open, and how each item is worded, is
//! `chart::context`'s; only references under the FHIR base are read.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::chart::ChartState;
use super::notes::listed;
use super::section::{status, Section, SectionSignal};
use super::Ctx;
use crate::chart::context::{
    belongs_to, describe, observation_view, visit_summary, Item, Target, View, VisitObservation,
};
use crate::chart::documents::Kind;
use crate::chart::records::encounters;
use crate::failure::fhir_failure;
use crate::fhir::{FhirClient, FhirError};
use crate::web::{self, Browser};

/// Opens a view of the chart: its tab, then the section, or the note or report, within it.
#[derive(Clone, Copy)]
pub struct Navigator {
    pub active: RwSignal<&'static str>,
    /// The note or report Notes & reports brings into view once it is listed.
    pub entry: RwSignal<Option<(Kind, String)>>,
}

impl Navigator {
    pub fn open(&self, view: View, entry: Option<(Kind, String)>) {
        self.active.set(view.tab());
        if entry.is_some() {
            self.entry.set(entry);
            return;
        }
        let target = match view.section() {
            Some(s) => format!("{s}-title"),
            None => format!("panel-{}", view.tab()),
        };
        spawn_local(async move {
            web::sleep(0).await;
            web::reveal(&target);
        });
    }
}

/// The entry of Notes & reports a resource type is listed as.
pub fn entry_kind(resource_type: &str) -> Option<Kind> {
    match resource_type {
        "DocumentReference" => Some(Kind::Note),
        "DiagnosticReport" => Some(Kind::Report),
        _ => None,
    }
}

/// Reads the visit the EHR named, with the token, and checks that it is this patient's.
pub fn read_visit(
    ctx: Ctx,
    client: &FhirClient<Browser>,
    encounter: &str,
    patient: &str,
) -> SectionSignal<Value> {
    let state = RwSignal::new_local(Section::Loading {
        loaded: 0,
        total: None,
    });
    let (c, encounter, patient) = (client.clone(), encounter.to_string(), patient.to_string());
    let kind = c.with_session(|s| s.kind);
    spawn_local(async move {
        let r = c.read("Encounter", &encounter).await;
        state.set(match r {
            Ok(v) if belongs_to(&v, &patient, c.base()) => Section::Ready(v),
            Ok(_) => Section::Failed(
                format!("The visit the EHR opened (Encounter/{encounter}) is not in this patient's record; it is not shown."),
                None,
            ),
            Err(FhirError::SessionExpired) => {
                ctx.session_expired(kind);
                return;
            }
            Err(e) => Section::Failed(
                format!(
                    "The visit the EHR opened (Encounter/{encounter}) could not be read: {} The rest of the chart is not affected.",
                    fhir_failure(&e, kind).message
                ),
                None,
            ),
        });
    });
    state
}

/// The visit under the banner, with a way to what was recorded during it.
#[component]
pub fn VisitLine(visit: SectionSignal<Value>, nav: Navigator) -> impl IntoView {
    view! {
        <p class="context-line" id="visit-line">
            {move || visit.with(|s| match s {
                Section::Ready(v) => {
                    let summary = encounters(std::slice::from_ref(v))
                        .first()
                        .map(visit_summary)
                        .unwrap_or_default();
                    view! {
                        <strong>"This visit: "</strong>
                        <span id="visit-summary">{summary}</span>" "
                        <button class="link" id="show-visit" on:click=move |_| nav.open(View::Visit, None)>
                            "What was recorded"
                        </button>
                    }
                    .into_any()
                }
                Section::Failed(msg, _) => view! { <span class="error" id="visit-error">{msg.clone()}</span> }.into_any(),
                _ => view! { <span class="status">"Loading this visit…"</span> }.into_any(),
            })}
        </p>
    }
}

/// "This visit": the encounter, the observations recorded during it, and its notes and reports.
#[component]
pub fn VisitPanel(
    visit: SectionSignal<Value>,
    observations: SectionSignal<Vec<VisitObservation>>,
    reports: SectionSignal<Vec<Value>>,
    documents: SectionSignal<Vec<Value>>,
    nav: Navigator,
) -> impl IntoView {
    let base = expect_context::<ChartState>().client().base().clone();
    let entries = Memo::new(move |_| listed(reports, documents, &base));
    view! {
        <section class="card" aria-labelledby="visit-title">
            <h2 id="visit-title">"This visit"</h2>
            {move || visit.with(|s| match s {
                Section::Ready(v) => encounters(std::slice::from_ref(v)).into_iter().next().map(|e| view! {
                    <dl class="visit-facts" id="visit-facts">
                        <dt>"Type"</dt><dd>{e.kind}</dd>
                        <dt>"When"</dt><dd class="date">{e.date}</dd>
                        <dt>"Location"</dt><dd>{e.location}</dd>
                        <dt>"Clinicians"</dt><dd>{e.participants}</dd>
                        <dt>"Reason"</dt><dd>{e.reason}</dd>
                        <dt>"Status"</dt><dd>{e.status}</dd>
                    </dl>
                }.into_any()).unwrap_or_else(|| ().into_any()),
                Section::Failed(msg, _) => view! { <p class="error">{msg.clone()}</p> }.into_any(),
                _ => view! { <p class="status">"Loading this visit…"</p> }.into_any(),
            })}
        </section>
        <section class="card" aria-labelledby="visit-observations-title">
            <h2 id="visit-observations-title">"Vital signs and results of this visit"</h2>
            {move || observations.with(|s| status(s, "this visit's observations", "visit-observations").unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => view! {
                    <p class="empty" id="visit-observations-empty">"No vital signs or results recorded during this visit."</p>
                }.into_any(),
                Section::Ready(rows) => view! {
                    <table class="list" id="visit-observations">
                        <thead><tr><th scope="col">"Time"</th><th scope="col">"Observation"</th><th scope="col">"Value"</th><th scope="col">"Kind"</th></tr></thead>
                        <tbody>{rows.iter().map(|r| view! {
                            <tr data-id=r.id.clone()>
                                <td class="date" data-label="Time">{r.date.clone()}</td>
                                <td data-label="Observation">{r.name.clone()}</td>
                                <td data-label="Value">{r.value.clone()}</td>
                                <td data-label="Kind">{r.kind}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                _ => ().into_any(),
            }))}
        </section>
        <section class="card" aria-labelledby="visit-notes-title">
            <h2 id="visit-notes-title">"Notes and reports of this visit"</h2>
            {move || reports.with(|s| status(s, "this visit's reports", "visit-reports"))}
            {move || documents.with(|s| status(s, "this visit's notes", "visit-documents"))}
            {move || {
                let settled = reports.with(|r| !matches!(r, Section::Loading { .. }))
                    && documents.with(|d| !matches!(d, Section::Loading { .. }));
                (settled && entries.with(Vec::is_empty)).then(|| view! {
                    <p class="empty" id="visit-notes-empty">"No notes or reports recorded during this visit."</p>
                })
            }}
            <ul class="visit-notes" id="visit-notes">
                {move || entries.get().into_iter().map(|e| {
                    let target = (e.kind, e.id.clone());
                    view! {
                        <li data-id=e.id.clone()>
                            {e.title}" "<span class="date">{e.date}</span>" "
                            <button class="link open-entry" on:click=move |_| nav.open(View::Notes, Some(target.clone()))>"Open"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// What the launch came from (`fhirContext`), each item in a line: read and offered to open
/// where the chart has a view for it, named where it has none, listed without a link where it
/// lies elsewhere, and noted where the EHR sent it malformed.
#[component]
pub fn OpenedFrom(
    items: Vec<Item>,
    nav: Navigator,
    /// The view the chart opened on because of the first item, if one did: an Observation read
    /// to be a vital sign moves it to Vital signs.
    first: View,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let client = expect_context::<ChartState>().client();
    let kind = client.with_session(|s| s.kind);
    let mut moved_first = false;
    let lines = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let role = item.role.map(|r| format!(" ({r})")).unwrap_or_default();
            let id = format!("context-item-{i}");
            match item.target {
                Target::Here {
                    resource_type,
                    id: rid,
                    url,
                    view: Some(view),
                } => {
                    let read = RwSignal::new_local(None::<Result<Value, String>>);
                    let c = client.clone();
                    // The item that chose the first view may still refine it once read.
                    let refines = !moved_first && view == first;
                    moved_first = true;
                    spawn_local(async move {
                        let r = c.get(&url).await;
                        if let Err(FhirError::SessionExpired) = r {
                            ctx.session_expired(kind);
                            return;
                        }
                        if let Ok(v) = &r {
                            if refines && v["resourceType"] == "Observation" {
                                let better = observation_view(v);
                                if better != view && nav.active.get_untracked() == view.tab() {
                                    nav.open(better, None);
                                }
                            }
                        }
                        read.set(Some(r.map_err(|e| fhir_failure(&e, kind).message)));
                    });
                    let entry = entry_kind(&resource_type).map(|k| (k, rid.clone()));
                    let label = format!("{resource_type}/{rid}");
                    view! {
                        <li id=id.clone() class="context-item">
                            {move || read.with(|r| match r {
                                Some(Ok(v)) => {
                                    let to = if v["resourceType"] == "Observation" { observation_view(v) } else { view };
                                    let entry = entry.clone();
                                    view! {
                                        <span class="context-what">{describe(v)}</span>{role.clone()}" "
                                        <button class="link context-open" on:click=move |_| nav.open(to, entry.clone())>"Show"</button>
                                    }.into_any()
                                }
                                Some(Err(why)) => view! {
                                    <span class="error">{format!("{label}{role} could not be read. {why}")}</span>
                                }.into_any(),
                                None => view! { <span class="status">{format!("Reading {label}…")}</span> }.into_any(),
                            })}
                        </li>
                    }
                    .into_any()
                }
                Target::Here {
                    resource_type,
                    id: rid,
                    ..
                } => view! {
                    <li id=id class="context-item">
                        {format!("{resource_type} {rid}{role}: this app has no view for it; see it in the EHR.")}
                    </li>
                }
                .into_any(),
                Target::Elsewhere(reference) => view! {
                    <li id=id class="context-item context-elsewhere">
                        {format!("{reference}{role}: on another server; not opened here.")}
                    </li>
                }
                .into_any(),
                Target::Described(text) => view! {
                    <li id=id class="context-item">{format!("{text}{role}")}</li>
                }
                .into_any(),
                Target::Malformed(why) => view! {
                    <li id=id class="context-item context-malformed">
                        {format!("An item the EHR sent could not be read: {why}.")}
                    </li>
                }
                .into_any(),
            }
        })
        .collect_view();
    view! {
        <section class="context" aria-labelledby="launched-from-title" id="launched-from">
            <h2 id="launched-from-title" class="context-title">"Opened from"</h2>
            <ul>{lines}</ul>
        </section>
    }
}
