//! Problems, medications, allergies and encounters as tables, each with its empty state.

use leptos::prelude::*;

use super::section::{status, Section, SectionSignal};
use crate::chart::records::{AllergyRow, EncounterRow, MedicationRow, ProblemRow};

fn empty(what: &str, id: &str) -> AnyView {
    view! { <p class="empty" id=format!("{id}-empty")>{format!("No {what} recorded.")}</p> }
        .into_any()
}

#[component]
pub fn Problems(state: SectionSignal<Vec<ProblemRow>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="problems-title">
            <h2 id="problems-title">"Problems"</h2>
            {move || state.with(|s| status(s, "problems", "problems").unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => empty("problems", "problems"),
                Section::Ready(rows) => view! {
                    <table class="list" id="problems">
                        <thead><tr><th scope="col">"Problem"</th><th scope="col">"Status"</th><th scope="col">"Onset"</th></tr></thead>
                        <tbody>{rows.iter().map(|r| view! {
                            <tr class:inactive=!r.active><td>{r.name.clone()}</td><td>{r.status.clone()}</td><td>{r.onset.clone()}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                _ => ().into_any(),
            }))}
        </section>
    }
}

#[component]
pub fn Medications(state: SectionSignal<Vec<MedicationRow>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="medications-title">
            <h2 id="medications-title">"Medications"</h2>
            {move || state.with(|s| status(s, "medications", "medications").unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => empty("medications", "medications"),
                Section::Ready(rows) => view! {
                    <table class="list" id="medications">
                        <thead><tr><th scope="col">"Medication"</th><th scope="col">"Status"</th><th scope="col">"Dosage"</th><th scope="col">"Ordered"</th></tr></thead>
                        <tbody>{rows.iter().map(|r| view! {
                            <tr><td>{r.name.clone()}</td><td>{r.status.clone()}</td><td>{r.dosage.clone()}</td><td>{r.authored.clone()}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                _ => ().into_any(),
            }))}
        </section>
    }
}

#[component]
pub fn Allergies(state: SectionSignal<Vec<AllergyRow>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="allergies-title">
            <h2 id="allergies-title">"Allergies"</h2>
            {move || state.with(|s| status(s, "allergies", "allergies").unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => empty("allergies", "allergies"),
                Section::Ready(rows) => view! {
                    <table class="list" id="allergies">
                        <thead><tr><th scope="col">"Substance"</th><th scope="col">"Criticality"</th><th scope="col">"Reactions"</th><th scope="col">"Status"</th></tr></thead>
                        <tbody>{rows.iter().map(|r| view! {
                            <tr class:critical=r.criticality == "High"><td>{r.substance.clone()}</td><td>{r.criticality.clone()}</td><td>{r.reactions.clone()}</td><td>{r.status.clone()}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                _ => ().into_any(),
            }))}
        </section>
    }
}

#[component]
pub fn Encounters(state: SectionSignal<Vec<EncounterRow>>) -> impl IntoView {
    let shown = RwSignal::new(50usize);
    view! {
        <section class="card" aria-labelledby="encounters-title">
            <h2 id="encounters-title">"Encounters"</h2>
            {move || state.with(|s| status(s, "encounters", "encounters").unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => empty("encounters", "encounters"),
                Section::Ready(rows) => {
                    let n = shown.get();
                    let more = rows.len() > n;
                    view! {
                        <table class="list" id="encounters">
                            <thead><tr><th scope="col">"Date"</th><th scope="col">"Type"</th><th scope="col">"Class"</th><th scope="col">"Status"</th></tr></thead>
                            <tbody>{rows.iter().take(n).map(|r| view! {
                                <tr><td>{r.date.clone()}</td><td>{r.kind.clone()}</td><td>{r.class.clone()}</td><td>{r.status.clone()}</td></tr>
                            }).collect_view()}</tbody>
                        </table>
                        {more.then(|| view! { <button class="more" on:click=move |_| shown.update(|n| *n += 200)>{format!("Show more ({} in all)", rows.len())}</button> })}
                    }.into_any()
                }
                _ => ().into_any(),
            }))}
        </section>
    }
}
