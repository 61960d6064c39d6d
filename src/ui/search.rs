//! Patient search, for a launch with no patient in context (a clinician's standalone launch with
//! user scopes): by name and birth date; choosing a patient opens the chart.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::failure::fhir_failure;
use crate::fhir::patient::{summarize, PatientSummary};
use crate::fhir::FhirError;
use crate::smart::granted::can_search;

use super::chart::ChartState;
use super::Ctx;

#[derive(Clone)]
enum Results {
    None,
    Searching,
    /// The first page's patients, and whether the server has more.
    Found(Vec<PatientSummary>, bool),
    /// What went wrong, and whether the same search can work when tried again.
    Failed(String, bool),
}

#[component]
pub fn PatientSearch(on_pick: impl Fn(String) + Copy + Send + Sync + 'static) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let client = expect_context::<ChartState>().client();
    let (allowed, kind) =
        client.with_session(|s| (can_search(&s.granted_scope, "Patient"), s.kind));
    let name = RwSignal::new(String::new());
    let birth = RwSignal::new(String::new());
    let results = RwSignal::new_local(Results::None);
    let client = StoredValue::new_local(client);
    // Which search is the latest: an older search's answer that comes after a newer one's is
    // dropped, so the list always answers what the form says.
    let latest = StoredValue::new(0u64);
    let run = move || {
        latest.update_value(|n| *n += 1);
        let this = latest.get_value();
        let (n, b) = (name.get_untracked(), birth.get_untracked());
        let mut params: Vec<(&'static str, String)> = vec![("_count", "50".into())];
        if !n.trim().is_empty() {
            params.push(("name", n.trim().to_string()));
        }
        if !b.is_empty() {
            params.push(("birthdate", b));
        }
        results.set(Results::Searching);
        let c = client.get_value();
        spawn_local(async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            // One page is enough to choose from; the user narrows the search for more.
            let r = c.search_first("Patient", &p).await;
            if latest.get_value() != this {
                return;
            }
            results.set(match r {
                Ok(page) => {
                    Results::Found(page.resources.iter().map(summarize).collect(), page.more)
                }
                Err(FhirError::SessionExpired) => return ctx.session_expired(kind),
                Err(e) => {
                    let again = !matches!(e, FhirError::Forbidden(_));
                    Results::Failed(format!("{} ({e})", fhir_failure(&e, kind).message), again)
                }
            });
        });
    };
    if !allowed {
        return view! {
            <section class="card" id="search">
                <h1>"No patient selected"</h1>
                <p class="not-granted" id="search-not-granted">"The EHR gave no patient and this session may not search for patients. Launch the app from a patient's chart instead."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="card" id="search" aria-labelledby="search-title">
            <h1 id="search-title">"Find a patient"</h1>
            <form class="search-form" on:submit=move |ev| { ev.prevent_default(); run(); }>
                <label>"Name" <input type="search" id="search-name" autocomplete="off"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>"Birth date" <input type="date" id="search-birthdate"
                    prop:value=move || birth.get() on:input=move |ev| birth.set(event_target_value(&ev))/></label>
                <button type="submit" id="search-submit">"Search"</button>
            </form>
            // One live region, present from the start, so that screen readers announce each
            // outcome of a search (a region created with its text is often not read).
            <p class="status" role="status" id="search-status">{move || results.with(|r| match r {
                Results::None | Results::Failed(..) => String::new(),
                Results::Searching => "Searching…".to_string(),
                Results::Found(list, _) if list.is_empty() => String::new(),
                Results::Found(list, false) if list.len() == 1 => "1 patient found.".to_string(),
                Results::Found(list, false) => format!("{} patients found.", list.len()),
                Results::Found(list, true) => format!(
                    "More patients match than the {} shown: add to the name or give the birth date to narrow the search.",
                    list.len()
                ),
            })}</p>
            {move || match results.get() {
                Results::None | Results::Searching => ().into_any(),
                Results::Failed(e, again) => view! {
                    <p class="error" id="search-error" role="alert">{e}</p>
                    {again.then(|| view! { <button id="search-retry" on:click=move |_| run()>"Try again"</button> })}
                }.into_any(),
                Results::Found(list, _) if list.is_empty() => view! { <p class="empty" id="search-empty" role="alert">"No matching patients."</p> }.into_any(),
                Results::Found(list, _) => view! {
                    <ul class="results" id="search-results">
                        {list.into_iter().map(|p| {
                            let id = p.id.clone();
                            let mrn = p.identifiers.first().map(|(l, v)| format!("{l} {v}")).unwrap_or_default();
                            view! {
                                <li><button class="result" data-id=id.clone() on:click=move |_| on_pick(id.clone())>
                                    <span class="result-name">{p.name}</span>
                                    <span class="muted">{format!("{} · {} · {mrn}", p.birth_date.unwrap_or_default(), p.gender.unwrap_or_default())}</span>
                                </button></li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}
