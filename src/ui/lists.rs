//! Problems, medications, allergies and encounters: one table component for all four, fed with
//! rows already turned into cells (one view to compile, not four), each with its empty state and
//! a window of 50 rows with "show more" for long lists.

use leptos::prelude::*;

use super::section::{status, Section, SectionSignal};
use crate::chart::records::{AllergyRow, EncounterRow, MedicationRow, ProblemRow};

/// One table row: the id of the resource it shows, an optional CSS class and its cells, as text.
#[derive(Clone)]
pub struct TableRow {
    pub id: String,
    pub class: &'static str,
    pub cells: Vec<String>,
}

/// What a list section shows: its heading, element id, noun for messages, and column titles.
#[derive(Clone, Copy)]
pub struct ListSpec {
    pub title: &'static str,
    pub id: &'static str,
    pub what: &'static str,
    pub columns: &'static [&'static str],
    /// The columns holding dates (kept on one line).
    pub dates: &'static [usize],
}

pub const PROBLEMS: ListSpec = ListSpec {
    title: "Problems",
    id: "problems",
    what: "problems",
    columns: &["Failure", "Status", "Onset"],
    dates: &[2],
};
pub const MEDICATIONS: ListSpec = ListSpec {
    title: "Medications",
    id: "medications",
    what: "medications",
    columns: &["Medication", "Status", "Dosage", "Ordered"],
    dates: &[3],
};
pub const ALLERGIES: ListSpec = ListSpec {
    title: "Allergies",
    id: "allergies",
    what: "allergies",
    columns: &[
        "Substance",
        "Criticality",
        "Reactions",
        "Status",
        "Onset or recorded",
    ],
    dates: &[4],
};
pub const ENCOUNTERS: ListSpec = ListSpec {
    title: "Encounters",
    id: "encounters",
    what: "encounters",
    columns: &[
        "Date",
        "Type",
        "Class",
        "Location",
        "Clinicians",
        "Reason",
        "Status",
    ],
    dates: &[0],
};

pub fn problem_rows(rows: Vec<ProblemRow>) -> Vec<TableRow> {
    rows.into_iter()
        .map(|r| TableRow {
            id: r.id.clone(),
            class: if r.active { "" } else { "inactive" },
            cells: vec![r.name, r.status, r.onset],
        })
        .collect()
}

pub fn medication_rows(rows: Vec<MedicationRow>) -> Vec<TableRow> {
    rows.into_iter()
        .map(|r| TableRow {
            id: r.id.clone(),
            class: if r.ended { "inactive" } else { "" },
            cells: vec![r.name, r.status, r.dosage, r.authored],
        })
        .collect()
}

pub fn allergy_rows(rows: Vec<AllergyRow>) -> Vec<TableRow> {
    rows.into_iter()
        .map(|r| TableRow {
            id: r.id.clone(),
            class: if r.critical { "critical" } else { "" },
            cells: vec![r.substance, r.criticality, r.reactions, r.status, r.date],
        })
        .collect()
}

pub fn encounter_rows(rows: Vec<EncounterRow>) -> Vec<TableRow> {
    rows.into_iter()
        .map(|r| TableRow {
            id: r.id.clone(),
            class: "",
            cells: vec![
                r.date,
                r.kind,
                r.class,
                r.location,
                r.participants,
                r.reason,
                r.status,
            ],
        })
        .collect()
}

#[component]
pub fn ListSection(
    spec: ListSpec,
    state: SectionSignal<Vec<TableRow>>,
    /// The row of the resource the launch is about (the visit the EHR opened), marked.
    #[prop(default = None)]
    current: Option<String>,
) -> impl IntoView {
    let ListSpec {
        title,
        id,
        what,
        columns,
        dates,
    } = spec;
    let shown = RwSignal::new(50usize);
    view! {
        <section class="card" aria-labelledby=format!("{id}-title")>
            <h2 id=format!("{id}-title")>{title}</h2>
            {move || state.with(|s| status(s, what, id).unwrap_or_else(|| match s {
                Section::Ready(rows) if rows.is_empty() => {
                    view! { <p class="empty" id=format!("{id}-empty")>{format!("No {what} recorded.")}</p> }.into_any()
                }
                Section::Ready(rows) => {
                    let total = rows.len();
                    let current = current.clone();
                    // Keyed rows: "Show more" adds rows and leaves those on screen as they are.
                    let shown_rows = move || {
                        state.with(|s| match s {
                            Section::Ready(rows) => rows.iter().take(shown.get()).cloned().enumerate().collect::<Vec<_>>(),
                            _ => Vec::new(),
                        })
                    };
                    view! {
                        <table class="list" id=id>
                            <thead><tr>{columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}</tr></thead>
                            <tbody>
                                <For each=shown_rows key=|(i, r)| (*i, r.id.clone()) children=move |(_, r)| {
                                    let is_current = current.as_deref() == Some(r.id.as_str());
                                    let class = if is_current { format!("{} current", r.class) } else { r.class.to_string() };
                                    view! {
                                        <tr class=class data-id=r.id.clone() aria-current=is_current.then_some("true")>{r.cells.iter().enumerate().map(|(i, c)| view! {
                                            <td class=if dates.contains(&i) { "date" } else { "" } data-label=columns.get(i).copied().unwrap_or("")>
                                                {c.clone()}
                                                {(is_current && i == 0).then(|| view! { " "<span class="badge current-badge">"This visit"</span> })}
                                            </td>
                                        }).collect_view()}</tr>
                                    }
                                }/>
                            </tbody>
                        </table>
                        {move || (total > shown.get()).then(|| view! {
                            <button class="more" on:click=move |_| shown.update(|n| *n += 200)>{format!("Show more ({total} in all)")}</button>
                        })}
                    }
                    .into_any()
                }
                _ => ().into_any(),
            }))}
        </section>
    }
}
