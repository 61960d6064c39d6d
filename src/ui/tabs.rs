//! The chart's tabs and what fills them: every section of one patient's chart started in one
//! place ([`Sections::start`]), and the tab list with its panels ([`ChartTabs`]).

use leptos::prelude::*;
use serde_json::Value;

use super::context::{read_visit, Navigator, VisitPanel};
use super::lists::{
    allergy_rows, encounter_rows, medication_rows, problem_rows, ListSection, TableRow, ALLERGIES,
    ENCOUNTERS, MEDICATIONS, PROBLEMS,
};
use super::section::{collect, load, Gate, Load, Section, SectionSignal};
use super::session::SessionPanel;
use super::{labs::Labs, notes::Notes, vitals::Vitals, Ctx};
use crate::chart::context::{visit_observations, VisitObservation};
use crate::chart::labs::LabsBuilder;
use crate::chart::records;
use crate::chart::vitals::VitalsBuilder;
use crate::fhir::patient::display_name;
use crate::fhir::FhirClient;
use crate::web::{self, Browser};

/// The tabs; This visit (first) only with a visit in the launch context.
const TABS: [(&str, &str); 7] = [
    ("visit", "This visit"),
    ("summary", "Summary"),
    ("vitals", "Vital signs"),
    ("labs", "Labs"),
    ("notes", "Notes & reports"),
    ("encounters", "Encounters"),
    ("session", "Session"),
];

/// One search of resources whose pages are kept as they come, then turned into what the
/// section shows.
fn list<T>(
    resource_type: &'static str,
    params: Vec<(&'static str, String)>,
    finish: fn(Vec<Value>) -> T,
) -> Load<Vec<Value>, T> {
    Load {
        resource_type,
        params,
        add: collect,
        finish,
    }
}

/// What the visit's tab shows: the encounter, and what was recorded during it.
#[derive(Clone)]
pub(super) struct VisitSections {
    pub(super) encounter: SectionSignal<Value>,
    observations: SectionSignal<Vec<VisitObservation>>,
    reports: SectionSignal<Vec<Value>>,
    documents: SectionSignal<Vec<Value>>,
}

/// Every section of one patient's chart, each loading on its own.
#[derive(Clone)]
pub(super) struct Sections {
    problems: SectionSignal<Vec<TableRow>>,
    meds: SectionSignal<Vec<TableRow>>,
    allergies: SectionSignal<Vec<TableRow>>,
    encounters: SectionSignal<Vec<TableRow>>,
    vitals: SectionSignal<crate::chart::vitals::Vitals>,
    labs: SectionSignal<crate::chart::labs::Labs>,
    reports: SectionSignal<Vec<Value>>,
    documents: SectionSignal<Vec<Value>>,
    pub(super) visit: Option<VisitSections>,
}

impl Sections {
    /// Starts every search: the Summary's at once, the other tabs' after the banner.
    pub(super) fn start(
        ctx: Ctx,
        c: &FhirClient<Browser>,
        patient: &str,
        after_banner: Gate,
        visit: Option<&str>,
    ) -> Self {
        let kind = c.with_session(|s| s.kind);
        let by_patient = |extra: &[(&'static str, &str)]| {
            let mut p: Vec<(&'static str, String)> =
                vec![("patient", patient.to_string()), ("_count", "1000".into())];
            p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            p
        };
        // A list for the Summary, searched at once; lists for the other tabs, after the banner.
        let rows_now = |l: Load<Vec<Value>, Vec<TableRow>>| load(ctx, c, kind, None, l);
        let later = |l: Load<Vec<Value>, Vec<Value>>| load(ctx, c, kind, Some(after_banner), l);
        // Notes and reports: two searches, one list (ui::notes merges them newest first); the
        // visit's own are the same searches narrowed to it.
        let notes = |extra: &[(&'static str, &str)]| {
            (
                later(list("DiagnosticReport", by_patient(extra), |v| v)),
                later(list("DocumentReference", by_patient(extra), |v| v)),
            )
        };
        let (reports, documents) = notes(&[]);
        // The visit the EHR opened: read at once (it is named under the banner), and what was
        // recorded during it searched with the other tabs'.
        let visit = visit.map(|e| {
            let enc = format!("Encounter/{e}");
            let (reports, documents) = notes(&[("encounter", &enc)]);
            VisitSections {
                encounter: read_visit(ctx, c, e, patient),
                observations: load(
                    ctx,
                    c,
                    kind,
                    Some(after_banner),
                    Load {
                        resource_type: "Observation",
                        params: by_patient(&[("encounter", &enc)]),
                        add: collect,
                        finish: |v: Vec<Value>| visit_observations(&v),
                    },
                ),
                reports,
                documents,
            }
        });
        Sections {
            problems: rows_now(list("Condition", by_patient(&[]), |v| {
                problem_rows(records::problems(&v))
            })),
            meds: rows_now(list("MedicationRequest", by_patient(&[]), |v| {
                medication_rows(records::medications(&v))
            })),
            allergies: rows_now(list("AllergyIntolerance", by_patient(&[]), |v| {
                allergy_rows(records::allergies(&v))
            })),
            encounters: load(
                ctx,
                c,
                kind,
                Some(after_banner),
                list("Encounter", by_patient(&[]), |v| {
                    encounter_rows(records::encounters(&v))
                }),
            ),
            vitals: vitals_with_marks(
                after_banner,
                load(
                    ctx,
                    c,
                    kind,
                    Some(after_banner),
                    Load {
                        resource_type: "Observation",
                        params: by_patient(&[("category", "vital-signs")]),
                        add: |b: &mut VitalsBuilder, page| b.add_page(&page),
                        finish: |b| {
                            web::mark("vitals-fetched");
                            VitalsBuilder::finish(b)
                        },
                    },
                ),
            ),
            labs: load(
                ctx,
                c,
                kind,
                Some(after_banner),
                Load {
                    resource_type: "Observation",
                    params: by_patient(&[("category", "laboratory")]),
                    add: |b: &mut LabsBuilder, page| b.add_page(&page),
                    finish: LabsBuilder::finish,
                },
            ),
            reports,
            documents,
            visit,
        }
    }
}

/// The benchmark's User Timing marks for the vital signs (README, "Benchmarks"; the
/// 10,000-observation record): `vitals-start` when their search may leave (`gate` opens),
/// `vitals-fetched` when its pages are in (before they are built into series), and
/// `vitals-painted` once the built section is on screen. Kept here, out of the sections' types.
fn vitals_with_marks(
    gate: Gate,
    state: SectionSignal<crate::chart::vitals::Vitals>,
) -> SectionSignal<crate::chart::vitals::Vitals> {
    let started = StoredValue::new(false);
    Effect::new(move || {
        if gate.get() && !started.get_value() {
            started.set_value(true);
            web::mark("vitals-start");
        }
    });
    let painted = StoredValue::new(false);
    Effect::new(move || {
        if matches!(*state.read(), Section::Ready(_)) && !painted.get_value() {
            painted.set_value(true);
            web::mark_after_paint("vitals-painted");
        }
    });
    state
}

/// The chart's tabs (WAI-ARIA tabs: arrow keys, Home and End move between them) and their
/// panels; the title names the patient and the open tab.
#[component]
pub(super) fn ChartTabs(
    sections: Sections,
    nav: Navigator,
    record: RwSignal<Section<Value>, LocalStorage>,
    /// The visit in the launch context: its tab comes first, and its row is marked.
    visit: Option<String>,
) -> impl IntoView {
    let active = nav.active;
    let tabs: &'static [(&str, &str)] = if sections.visit.is_some() {
        &TABS
    } else {
        &TABS[1..]
    };
    let on_tab_key = move |ev: leptos::ev::KeyboardEvent| {
        let i = tabs
            .iter()
            .position(|(id, _)| *id == active.get_untracked())
            .unwrap_or(0);
        let next = match ev.key().as_str() {
            "ArrowRight" => (i + 1) % tabs.len(),
            "ArrowLeft" => (i + tabs.len() - 1) % tabs.len(),
            "Home" => 0,
            "End" => tabs.len() - 1,
            _ => return,
        };
        let Some(&(id, _)) = tabs.get(next) else {
            return;
        };
        ev.prevent_default();
        active.set(id);
        web::focus(&format!("tab-{id}"));
    };
    let panel = move |id: &'static str| move || active.get() != id;
    Effect::new(move || {
        let tab = tabs
            .iter()
            .find(|(id, _)| *id == active.get())
            .map_or("", |(_, label)| label);
        if let Section::Ready(p) = &*record.read() {
            web::set_title(&format!("{} — {tab} — smart-launch", display_name(p)));
        }
    });
    let Sections {
        problems,
        meds,
        allergies,
        encounters,
        vitals,
        labs,
        reports,
        documents,
        visit: visit_sections,
    } = sections;
    view! {
        <div class="tabs" role="tablist" aria-label="Chart sections" on:keydown=on_tab_key>
            {tabs.iter().map(|(id, label)| view! {
                <button role="tab" id=format!("tab-{id}") aria-controls=format!("panel-{id}")
                    aria-selected=move || (active.get() == *id).to_string()
                    tabindex=move || if active.get() == *id { "0" } else { "-1" }
                    on:click=move |_| active.set(id)>{*label}</button>
            }).collect_view()}
        </div>
        {visit_sections.map(|v| view! {
            <div role="tabpanel" id="panel-visit" aria-labelledby="tab-visit" hidden=panel("visit")>
                <VisitPanel visit=v.encounter observations=v.observations reports=v.reports documents=v.documents nav=nav/>
            </div>
        })}
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
        <div role="tabpanel" id="panel-notes" aria-labelledby="tab-notes" hidden=panel("notes")>
            <Notes reports=reports documents=documents labs=labs open_on=nav.entry/>
        </div>
        <div role="tabpanel" id="panel-encounters" aria-labelledby="tab-encounters" hidden=panel("encounters")>
            <ListSection spec=ENCOUNTERS state=encounters current=visit/>
        </div>
        <div role="tabpanel" id="panel-session" aria-labelledby="tab-session" hidden=panel("session")>
            <SessionPanel/>
        </div>
    }
}
