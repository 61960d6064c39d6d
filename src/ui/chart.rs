//! After launch: the patient's chart (banner, then tabs for the summary lists, vitals, labs,
//! encounters and the session), or patient search when the launch brought no patient. Keeps the
//! token fresh while on screen and applies the EHR's validated style.

use std::rc::Rc;

use futures::FutureExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::context::{entry_kind, read_visit, Navigator, OpenedFrom, VisitLine, VisitPanel};
use super::lists::{
    allergy_rows, encounter_rows, medication_rows, problem_rows, ListSection, ALLERGIES,
    ENCOUNTERS, MEDICATIONS, PROBLEMS,
};
use super::section::{collect, load, Gate, Load, Section};
use super::session::{AccessEnding, SessionPanel};
use super::{
    labs::Labs, notes::Notes, search::PatientSearch, still_showing, vitals::Vitals, Ctx, Retry,
};
use crate::chart::context::{self as launch_context, visit_observations, Target};
use crate::chart::labs::LabsBuilder;
use crate::chart::records;
use crate::chart::style::variables;
use crate::chart::time::{age, zone_label};
use crate::chart::vitals::VitalsBuilder;
use crate::failure::{fhir_failure, launch_failure};
use crate::fhir::patient::{display_name, summarize};
use crate::fhir::{FhirClient, FhirError};
use crate::platform::{HttpRequest, Platform};
use crate::smart::{flow, store};
use crate::web::{self, Browser};

/// What the chart's components share, through Leptos context: the session's client, the clock
/// and who is signed in.
#[derive(Clone, Copy)]
pub struct ChartState {
    pub client: StoredValue<FhirClient<Browser>, LocalStorage>,
    /// Now, in ms since the epoch, once a second (countdowns, ages).
    pub now: RwSignal<u64>,
    /// The signed-in user's name, once read.
    pub user: RwSignal<Option<String>>,
    /// The signed-in user is the patient on screen (named by the patient's own read).
    pub user_is_patient: RwSignal<bool>,
    /// The id_token check has passed: until then nothing of the chart is shown.
    pub verified: RwSignal<bool>,
}

impl ChartState {
    pub fn client(&self) -> FhirClient<Browser> {
        self.client.get_value()
    }
}

#[component]
pub fn Chart(
    client: FhirClient<Browser>,
    /// The id_token check of a new session: the chart's first reads go out while it runs, and
    /// nothing of the chart is shown until it has passed (a failed check ends the session).
    check: Option<Rc<flow::IdCheck>>,
    /// The read of the launch's patient, when it is already on its way.
    first: Option<PatientRead>,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
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
            .or_else(|| store::selected_patient(&Browser)),
    );
    let now = RwSignal::new(Browser.now_ms());
    let user = RwSignal::new(None::<String>);
    let user_is_patient = RwSignal::new(false);
    let verified = RwSignal::new(check.is_none());
    let patient_url = context_patient
        .as_ref()
        .and_then(|id| client.base().resolve(&format!("Patient/{id}")));

    match check {
        None => show_user(&client, fhir_user, patient_url, user, user_is_patient),
        Some(check) => {
            let c = client.clone();
            spawn_local(async move {
                let checked = flow::verify(&Browser, &check).await;
                web::mark("id-token-checked");
                let checked = checked.and_then(|fhir_user| {
                    c.confirm(fhir_user.clone())?;
                    Ok(fhir_user)
                });
                match checked {
                    Ok(fhir_user) => {
                        show_user(&c, fhir_user, patient_url, user, user_is_patient);
                        verified.set(true);
                    }
                    Err(e) => {
                        // The reads already sent stop here: their answers are dropped.
                        c.end();
                        flow::sign_out(&Browser);
                        ctx.fail(launch_failure(&e, Some(kind)));
                    }
                }
            });
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
                match c.keep_fresh(t).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => return ctx.session_expired(kind),
                }
            }
        });
    }

    let client = StoredValue::new_local(client);
    provide_context(ChartState {
        client,
        now,
        user,
        user_is_patient,
        verified,
    });
    let pick = move |id: String| {
        // Kept for a reload of this tab; the chart opens on it even if it cannot be kept.
        let _ = store::select_patient(&Browser, &id);
        selected.set(Some(id));
    };
    let can_change = context_patient.is_none();
    view! {
        <p class="status" id="status" role="status" hidden=verified>"Completing sign-in…"</p>
        <div class="chart" hidden=move || !verified.get()>
            <AccessEnding/>
            {move || match selected.get() {
                Some(id) => view! {
                    <PatientChart patient=id first=first.clone()
                        on_change=move || { store::clear_selected_patient(&Browser); selected.set(None); } can_change=can_change/>
                }.into_any(),
                None => view! {
                    {Effect::new(move || {
                        if verified.get() {
                            web::set_title("Find a patient — smart-launch");
                            spawn_local(async {
                                web::sleep(0).await;
                                web::focus_heading();
                            });
                        }
                    });}
                    <PatientSearch on_pick=pick/>
                    <SessionPanel/>
                }.into_any(),
            }}
        </div>
    }
}

/// Who is signed in (`fhirUser`, from the checked id_token), by name: read from their own
/// resource with the token only under the FHIR base (SECURITY.md); when the user is the patient
/// in context, the patient's read names them (one read, not two).
fn show_user(
    client: &FhirClient<Browser>,
    fhir_user: Option<String>,
    patient_url: Option<String>,
    user: RwSignal<Option<String>>,
    user_is_patient: RwSignal<bool>,
) {
    let Some(fu) = fhir_user else {
        return;
    };
    match client.base().resolve(&fu) {
        Some(url) if Some(&url) == patient_url.as_ref() => user_is_patient.set(true),
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

/// A patient's read and where its answer goes: started by [`PatientRead::start`] as soon as
/// there is a session, before the chart's view is built (tens of milliseconds on a slow
/// machine), so the request the name waits for is the first to leave.
#[derive(Clone)]
pub struct PatientRead {
    id: String,
    record: RwSignal<Section<Value>, LocalStorage>,
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

    /// One attempt; a failure offers to try again where that can help (not a 403).
    fn read(
        ctx: Ctx,
        c: FhirClient<Browser>,
        id: String,
        record: RwSignal<Section<Value>, LocalStorage>,
    ) {
        let kind = c.with_session(|s| s.kind);
        spawn_local(async move {
            let r = c.read("Patient", &id).await;
            web::mark("patient-answered");
            match r {
                Ok(v) => record.set(Section::Ready(v)),
                Err(FhirError::SessionExpired) => ctx.session_expired(kind),
                Err(e) => {
                    let again = (!matches!(e, FhirError::Forbidden(_))).then(|| {
                        let c = c.clone();
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
        });
    }
}

const TABS: [(&str, &str); 6] = [
    ("summary", "Summary"),
    ("vitals", "Vital signs"),
    ("labs", "Labs"),
    ("notes", "Notes & reports"),
    ("encounters", "Encounters"),
    ("session", "Session"),
];

/// With a visit in the launch context: what was recorded during it comes first.
const TABS_WITH_VISIT: [(&str, &str); 7] = [
    ("visit", "This visit"),
    ("summary", "Summary"),
    ("vitals", "Vital signs"),
    ("labs", "Labs"),
    ("notes", "Notes & reports"),
    ("encounters", "Encounters"),
    ("session", "Session"),
];

#[component]
fn PatientChart(
    patient: String,
    first: Option<PatientRead>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
    can_change: bool,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let ChartState {
        now,
        user,
        user_is_patient,
        verified,
        ..
    } = expect_context::<ChartState>();
    let client = expect_context::<ChartState>().client();
    let kind = client.with_session(|s| s.kind);
    let banner_wanted = client.with_session(|s| s.context.need_patient_banner != Some(false));
    // The launch context applies to the launch's patient only (not to one picked afterwards).
    let (items, visit_id, intent) = client.with_session(|s| {
        if s.context.patient.as_deref() != Some(patient.as_str()) {
            return (Vec::new(), None, None);
        }
        let items = launch_context::items(&s.context.fhir_context, client.base());
        // The visit: the `encounter` the EHR gave, else an Encounter among the items.
        let visit = s.context.encounter.clone().or_else(|| {
            items.iter().find_map(|i| match &i.target {
                Target::Here {
                    resource_type, id, ..
                } if resource_type == "Encounter" => Some(id.clone()),
                _ => None,
            })
        });
        (items, visit, s.context.intent.clone())
    });
    let first_view = launch_context::first_view(&items, intent.as_deref(), visit_id.is_some());
    let by_patient = |extra: &[(&'static str, &str)]| {
        let mut p: Vec<(&'static str, String)> =
            vec![("patient", patient.clone()), ("_count", "1000".into())];
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        p
    };
    // The patient first (the banner is what the user waits for; the launch's patient was read
    // before this view was built); the sections' searches start right after it, all together.
    let record = match first.filter(|f| f.id == patient) {
        Some(f) => f.record,
        None => PatientRead::start(ctx, &client, &patient).record,
    };
    // The signed-in user is this patient: named by the patient's own read.
    Effect::new(move || {
        if user_is_patient.get() {
            if let Section::Ready(p) = &*record.read() {
                user.set(Some(display_name(p)));
            }
        }
    });

    // The banner first: the rest of the chart (tabs and sections, the larger part of the view)
    // is built once the name is on screen, or once the patient's read has failed, so the
    // answers that arrive together with the patient's do not hold the name back. A patient's
    // read that takes long does not hold the rest back for more than a second. The searches of
    // the tabs not shown at first (vital signs, labs, encounters: most of the bytes) start then
    // too, so on a slow line they do not share it with the patient's read; the summary's start
    // with the patient's.
    let rest = RwSignal::new(false);
    let (rest_built, after_banner) = futures::channel::oneshot::channel::<()>();
    let after_banner: Gate = after_banner.map(|r| r.is_ok()).boxed_local().shared();
    let rest_built = StoredValue::new_local(Some(rest_built));
    let build_rest = move || {
        // Once only: setting it again would build the tabs anew and lose the open one.
        if let Some(tx) = rest_built.try_update_value(Option::take).flatten() {
            rest.set(true);
            let _ = tx.send(());
            spawn_local(async {
                web::sleep(0).await;
                web::focus_heading();
            });
        }
    };
    Effect::new(move || {
        let patient_done = !matches!(*record.read(), Section::Loading { .. });
        if verified.get() && patient_done && !rest.get_untracked() {
            spawn_local(async move {
                // After the paint, not merely after this task: built before it, the rest
                // would hold the name back by the time it takes to build (tens of ms).
                web::after_paint().await;
                build_rest();
            });
        }
    });
    spawn_local(async move {
        web::sleep(1_000).await;
        build_rest();
    });

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
            mark: None,
        }
    }
    let c = &client;
    let problems = load(
        ctx,
        c,
        kind,
        None,
        list("Condition", by_patient(&[]), |v| {
            problem_rows(records::problems(&v))
        }),
    );
    let meds = load(
        ctx,
        c,
        kind,
        None,
        list("MedicationRequest", by_patient(&[]), |v| {
            medication_rows(records::medications(&v))
        }),
    );
    let allergies = load(
        ctx,
        c,
        kind,
        None,
        list("AllergyIntolerance", by_patient(&[]), |v| {
            allergy_rows(records::allergies(&v))
        }),
    );
    let encounters = load(
        ctx,
        c,
        kind,
        Some(after_banner.clone()),
        list("Encounter", by_patient(&[]), |v| {
            encounter_rows(records::encounters(&v))
        }),
    );
    let vitals = load(
        ctx,
        c,
        kind,
        Some(after_banner.clone()),
        Load {
            resource_type: "Observation",
            params: by_patient(&[("category", "vital-signs")]),
            add: |b: &mut VitalsBuilder, page| b.add_page(&page),
            finish: VitalsBuilder::finish,
            mark: Some(["vitals-start", "vitals-fetched", "vitals-painted"]),
        },
    );
    let labs = load(
        ctx,
        c,
        kind,
        Some(after_banner.clone()),
        Load {
            resource_type: "Observation",
            params: by_patient(&[("category", "laboratory")]),
            add: |b: &mut LabsBuilder, page| b.add_page(&page),
            finish: LabsBuilder::finish,
            mark: None,
        },
    );
    // Notes and reports: two searches, one list (ui::notes merges them newest first); the
    // visit's own are the same searches narrowed to it.
    let notes = |extra: &[(&'static str, &str)]| {
        let search = |resource_type| {
            load(
                ctx,
                c,
                kind,
                Some(after_banner.clone()),
                list(resource_type, by_patient(extra), |v| v),
            )
        };
        (search("DiagnosticReport"), search("DocumentReference"))
    };
    let (reports, documents) = notes(&[]);
    // The visit the EHR opened: read at once (it is named under the banner), and what was
    // recorded during it searched with the other tabs'.
    let visit = visit_id.as_ref().map(|e| {
        let enc = format!("Encounter/{e}");
        let observations = load(
            ctx,
            c,
            kind,
            Some(after_banner.clone()),
            Load {
                resource_type: "Observation",
                params: by_patient(&[("encounter", &enc)]),
                add: collect,
                finish: |v: Vec<Value>| visit_observations(&v),
                mark: None,
            },
        );
        let (reports, documents) = notes(&[("encounter", &enc)]);
        (
            read_visit(ctx, c, e, &patient),
            observations,
            reports,
            documents,
        )
    });
    let tabs: &'static [(&str, &str)] = if visit.is_some() {
        &TABS_WITH_VISIT
    } else {
        &TABS
    };
    let active = RwSignal::new(first_view.tab());
    let nav = Navigator {
        active,
        entry: RwSignal::new(None),
    };
    // Opened on a note or report: Notes & reports brings it into view once listed; on one
    // section of the Summary: that section, once the tabs are built.
    let opened_on = items.iter().find_map(|i| match &i.target {
        Target::Here {
            resource_type,
            id,
            view: Some(v),
            ..
        } if *v == first_view => entry_kind(resource_type).map(|k| (k, id.clone())),
        _ => None,
    });
    if opened_on.is_some() {
        nav.entry.set(opened_on);
    } else if let Some(section) = first_view.section() {
        Effect::new(move || {
            if rest.get() {
                spawn_local(async move {
                    // After the heading has had the focus (see `build_rest`).
                    web::sleep(0).await;
                    web::sleep(0).await;
                    web::reveal(&format!("{section}-title"));
                });
            }
        });
    }
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
        ev.prevent_default();
        active.set(tabs[next].0);
        web::focus(&format!("tab-{}", tabs[next].0));
    };
    let panel = move |id: &'static str| move || active.get() != id;
    // The title names the patient and the tab.
    Effect::new(move || {
        let tab = tabs
            .iter()
            .find(|(id, _)| *id == active.get())
            .map_or("", |(_, label)| label);
        if let Section::Ready(p) = &*record.read() {
            web::set_title(&format!("{} — {tab} — smart-launch", display_name(p)));
        }
    });

    view! {
        {move || banner_wanted.then(|| view! { <Banner record=record now=now verified=verified/> })}
        {(!banner_wanted).then(|| view! {
            <p class="context-line">"Patient: "<span id="session-patient">{move || record.with(|r| match r {
                Section::Ready(p) => display_name(p),
                _ => String::new(),
            })}</span></p>
        })}
        {move || rest.get().then(|| view! {
        {visit.map(|(v, ..)| view! { <VisitLine visit=v nav=nav/> })}
        {(!items.is_empty()).then(|| view! {
            <OpenedFrom items=items.clone() nav=nav first=first_view/>
        })}
        <p class="muted" id="time-zone">{format!("Times are shown in {}.", zone_label(now.get_untracked() as i64))}</p>
        {can_change.then(|| view! { <button class="link" id="change-patient" on:click=move |_| on_change()>"Choose another patient"</button> })}
        <div class="tabs" role="tablist" aria-label="Chart sections" on:keydown=on_tab_key>
            {tabs.iter().map(|(id, label)| view! {
                <button role="tab" id=format!("tab-{id}") aria-controls=format!("panel-{id}")
                    aria-selected=move || (active.get() == *id).to_string()
                    tabindex=move || if active.get() == *id { "0" } else { "-1" }
                    on:click=move |_| active.set(id)>{*label}</button>
            }).collect_view()}
        </div>
        {visit.map(|(v, observations, reports, documents)| view! {
            <div role="tabpanel" id="panel-visit" aria-labelledby="tab-visit" hidden=panel("visit")>
                <VisitPanel visit=v observations=observations reports=reports documents=documents nav=nav/>
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
            <ListSection spec=ENCOUNTERS state=encounters current=visit_id.clone()/>
        </div>
        <div role="tabpanel" id="panel-session" aria-labelledby="tab-session" hidden=panel("session")>
            <SessionPanel/>
        </div>
        })}
    }
}

#[component]
fn Banner(
    record: RwSignal<Section<Value>, LocalStorage>,
    now: RwSignal<u64>,
    verified: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <section class="banner" aria-label="Patient" id="banner">
            {move || record.with(|r| match r {
                Section::Ready(p) => {
                    // The benchmark's mark: the name is shown once the id_token check has passed.
                    if verified.get() {
                        crate::web::mark_after_paint("patient-name-painted");
                    }
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
