//! After launch (a session whose id_token check has passed): the clock that keeps the token
//! fresh, the EHR's validated style, and the patient's chart (the banner, `ui::banner`; the
//! launch context, `ui::context`; the tabs and their sections, `ui::tabs`), or patient search
//! when the launch brought no patient.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::banner::{Banner, PatientRead};
use super::context::{entry_kind, Navigator, OpenedFrom, VisitLine};
use super::section::{once_open, Gate, Section};
use super::session::{AccessEnding, SessionPanel};
use super::tabs::{ChartTabs, Sections};
use super::{search::PatientSearch, still_showing, Ctx};
use crate::chart::context::{applied, Applied};
use crate::chart::time::zone_label;
use crate::fhir::patient::display_name;
use crate::fhir::FhirClient;
use crate::platform::{HttpRequest, Platform};
use crate::smart::session;
use crate::smart::style::variables;
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
    /// The patient's name is on screen (or there is no patient to show yet): what the name does
    /// not need (the user's own read, the EHR's style) starts then, off the name's path.
    pub after_name: Gate,
}

impl ChartState {
    pub fn client(&self) -> FhirClient<Browser> {
        self.client.get_value()
    }
}

#[component]
pub fn Chart(
    client: FhirClient<Browser>,
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
            .or_else(|| session::selected_patient(&Browser)),
    );
    let now = RwSignal::new(Browser.now_ms());
    let user = RwSignal::new(None::<String>);
    let user_is_patient = RwSignal::new(false);
    let after_name = RwSignal::new(selected.get_untracked().is_none());
    let patient_url = context_patient
        .as_ref()
        .and_then(|id| client.base().resolve(&format!("Patient/{id}")));

    show_user(
        &client,
        fhir_user,
        patient_url,
        user,
        user_is_patient,
        after_name,
    );
    if let Some(url) = style_url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
        // A public document: fetched without the token, and only validated values are used.
        once_open(after_name, move || {
            spawn_local(async move {
                if let Ok(res) = Browser
                    .send(HttpRequest::get(url, "application/json"))
                    .await
                {
                    if let Ok(doc) = serde_json::from_str::<Value>(&res.body) {
                        web::set_css_variables(&variables(&doc));
                    }
                }
            })
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
                match c.session().keep_fresh(t).await {
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
        after_name,
    });
    let pick = move |id: String| {
        // Kept for a reload of this tab; the chart opens on it even if it cannot be kept.
        let _ = session::select_patient(&Browser, &id);
        selected.set(Some(id));
    };
    let can_change = context_patient.is_none();
    view! {
        <div class="chart">
            <AccessEnding/>
            {move || match selected.get() {
                Some(id) => view! {
                    <PatientChart patient=id first=first.clone()
                        on_change=move || { session::clear_selected_patient(&Browser); selected.set(None); } can_change=can_change/>
                }.into_any(),
                None => view! {
                    {
                        web::set_title("Find a patient — smart-launch");
                        spawn_local(async {
                            web::sleep(0).await;
                            web::focus_heading();
                        });
                    }
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
    after_name: Gate,
) {
    let Some(fu) = fhir_user else {
        return;
    };
    match client.base().resolve(&fu) {
        Some(url) if Some(&url) == patient_url.as_ref() => user_is_patient.set(true),
        Some(url) => {
            let c = client.clone();
            once_open(after_name, move || {
                spawn_local(async move {
                    let name = c.get(&url).await.map(|v| display_name(&v)).unwrap_or(fu);
                    user.set(Some(name));
                })
            });
        }
        None => user.set(Some(fu)),
    }
}

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
        after_name,
        ..
    } = expect_context::<ChartState>();
    let client = expect_context::<ChartState>().client();
    let banner_wanted = client.with_session(|s| s.context.need_patient_banner != Some(false));
    let launch = client.with_session(|s| applied(&s.context, client.base(), &patient));
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
    let rest = banner_first(record);
    once_open(rest, move || after_name.set(true));
    let sections = Sections::start(ctx, &client, &patient, rest, launch.visit.as_deref());
    let nav = Navigator {
        active: RwSignal::new(launch.first_view.tab()),
        entry: RwSignal::new(None),
    };
    // Opened on a note or report: Notes & reports brings it into view once listed; on one
    // section of the Summary: that section, once the tabs are built.
    let entry = launch
        .opened_on
        .as_ref()
        .and_then(|(ty, id)| entry_kind(ty).map(|k| (k, id.clone())));
    if entry.is_some() {
        nav.entry.set(entry);
    } else if let Some(section) = launch.first_view.section() {
        Effect::new(move || {
            if rest.get() {
                spawn_local(async move {
                    // After the heading has had the focus (see `banner_first`).
                    web::sleep(0).await;
                    web::sleep(0).await;
                    web::reveal(&format!("{section}-title"));
                });
            }
        });
    }
    let visit_line = sections.visit.as_ref().map(|v| v.encounter);
    let Applied {
        items,
        visit,
        first_view,
        ..
    } = launch;

    view! {
        {move || banner_wanted.then(|| view! { <Banner record=record now=now/> })}
        {(!banner_wanted).then(|| view! {
            <p class="context-line">"Patient: "<span id="session-patient">{move || record.with(|r| match r {
                Section::Ready(p) => display_name(p),
                _ => String::new(),
            })}</span></p>
        })}
        {move || rest.get().then(|| view! {
            {visit_line.map(|v| view! { <VisitLine visit=v nav=nav/> })}
            {(!items.is_empty()).then(|| view! {
                <OpenedFrom items=items.clone() nav=nav first=first_view/>
            })}
            <p class="muted" id="time-zone">{format!("Times are shown in {}.", zone_label(now.get_untracked() as i64))}</p>
            {can_change.then(|| view! { <button class="link" id="change-patient" on:click=move |_| on_change()>"Choose another patient"</button> })}
            <ChartTabs sections=sections.clone() nav=nav record=record visit=visit.clone()/>
        })}
    }
}

/// The banner first: the rest of the chart (tabs and sections, the larger part of the view) is
/// built once the name is on screen, or once the patient's read has failed, so the answers that
/// arrive together with the patient's do not hold the name back. A patient's read that takes
/// long does not hold the rest back for more than a second. The searches of the tabs not shown
/// at first (vital signs, labs, encounters: most of the bytes) start then too (the returned
/// signal is their gate), so on a slow line they do not share it with the patient's read; the
/// summary's start with the patient's. Returns whether the rest is built.
fn banner_first(record: RwSignal<Section<Value>, LocalStorage>) -> Gate {
    let rest = RwSignal::new(false);
    let build_rest = move || {
        // Once only: setting it again would build the tabs anew and lose the open one.
        if !rest.get_untracked() {
            rest.set(true);
            spawn_local(async {
                web::sleep(0).await;
                web::focus_heading();
            });
        }
    };
    Effect::new(move || {
        let patient_done = !matches!(*record.read(), Section::Loading { .. });
        if patient_done && !rest.get_untracked() {
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
    rest
}
