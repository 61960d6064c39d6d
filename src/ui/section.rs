//! One clinical section's data: loaded on its own, page by page to the end, with progress; a
//! type whose scopes were not granted is never requested; a failure stays in its section.
//!
//! Why a signal of [`Section`] rather than Leptos's `LocalResource` and `Suspense`: a resource
//! has two states (pending, ready), while a section shows how many pages have come in ("Loading
//! vital signs… 3,000 of 10,000"), that its scopes were not granted, and a failure with or
//! without a Try again; and a section may have to wait for the banner before its first request
//! leaves (the [`Gate`]). Every section goes through the one generic [`load`].

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::{Ctx, Retry};
use crate::failure::fhir_failure;
use crate::fhir::{FhirClient, FhirError};
use crate::smart::authorize::LaunchKind;
use crate::smart::granted::can_search;
use crate::web::Browser;

#[derive(Clone)]
pub enum Section<T> {
    NotGranted,
    Loading {
        loaded: usize,
        total: Option<u64>,
    },
    Ready(T),
    /// What went wrong, and how to try again when the section can.
    Failed(String, Option<Retry>),
}

pub type SectionSignal<T> = RwSignal<Section<T>, LocalStorage>;

/// A section's search: the resources to ask for, and how its pages become what it shows (a
/// builder, made anew for each attempt).
pub struct Load<B, T> {
    pub resource_type: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub add: fn(&mut B, Vec<Value>),
    pub finish: fn(B) -> T,
}

/// When a section's search may leave, if not at once: when this signal turns true (the banner is
/// on screen). A search still waiting when its chart goes away is never sent: the effect that
/// would send it goes with the chart.
pub type Gate = RwSignal<bool>;

/// Runs `f` once, when `gate` opens (at once if it is open).
pub fn once_open(gate: Gate, f: impl FnOnce() + 'static) {
    let f = StoredValue::new_local(Some(f));
    Effect::new(move || {
        if gate.get() {
            if let Some(f) = f.try_update_value(Option::take).flatten() {
                f();
            }
        }
    });
}

pub fn load<B: Default + 'static, T: Clone + 'static>(
    ctx: Ctx,
    client: &FhirClient<Browser>,
    kind: LaunchKind,
    after: Option<Gate>,
    l: Load<B, T>,
) -> SectionSignal<T> {
    let state = RwSignal::new_local(Section::Loading {
        loaded: 0,
        total: None,
    });
    let granted = client.with_session(|s| s.granted_scope.clone());
    if !can_search(&granted, l.resource_type) {
        state.set(Section::NotGranted);
        return state;
    }
    let (client, l) = (client.clone(), Rc::new(l));
    match after {
        Some(gate) => {
            let started = StoredValue::new(false);
            Effect::new(move || {
                if gate.get() && !started.get_value() {
                    started.set_value(true);
                    run(ctx, client.clone(), kind, l.clone(), state);
                }
            });
        }
        None => run(ctx, client, kind, l, state),
    }
    state
}

/// One attempt: every page to the end, then the section's view; a failure offers [`Retry`].
fn run<B: Default + 'static, T: Clone + 'static>(
    ctx: Ctx,
    c: FhirClient<Browser>,
    kind: LaunchKind,
    l: Rc<Load<B, T>>,
    state: SectionSignal<T>,
) {
    spawn_local(async move {
        let mut builder = B::default();
        let (add, finish) = (l.add, l.finish);
        let p: Vec<(&str, &str)> = l.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c
            .search_pages(l.resource_type, &p, |page, loaded, total| {
                add(&mut builder, page);
                state.set(Section::Loading { loaded, total });
            })
            .await;
        match r {
            Ok(_) => state.set(Section::Ready(finish(builder))),
            Err(FhirError::SessionExpired) => ctx.session_expired(kind),
            Err(e) => {
                let again = {
                    let (c, l) = (c.clone(), l.clone());
                    Retry(Rc::new(move || {
                        state.set(Section::Loading {
                            loaded: 0,
                            total: None,
                        });
                        run(ctx, c.clone(), kind, l.clone(), state);
                    }))
                };
                state.set(Section::Failed(
                    fhir_failure(&e, kind).message + &format!(" ({e})"),
                    // Not permitted stays not permitted: no button that cannot help.
                    (!matches!(e, FhirError::Forbidden(_))).then_some(again),
                ))
            }
        }
    });
}

/// The list sections keep their resources until the end, then make rows.
pub fn collect(v: &mut Vec<Value>, page: Vec<Value>) {
    v.extend(page);
}

/// The status line of a section that is not ready; `None` when it is.
pub fn status<T>(s: &Section<T>, what: &'static str, id: &'static str) -> Option<AnyView> {
    match s {
        Section::Ready(_) => None,
        Section::NotGranted => Some(
            view! { <p class="not-granted" id=format!("{id}-not-granted")>{format!("Access to {what} was not granted for this session.")}</p> }
                .into_any(),
        ),
        Section::Failed(msg, retry) => {
            let retry = retry.clone();
            Some(view! {
                <div class="section-error">
                    <p class="error" id=format!("{id}-error")>{msg.clone()}</p>
                    {retry.map(|Retry(f)| view! {
                        <button id=format!("{id}-retry") on:click=move |_| f()>"Try again"</button>
                    })}
                </div>
            }.into_any())
        }
        Section::Loading { loaded, total } => {
            let text = match total {
                Some(t) => format!("Loading {what}… {loaded} of {t}"),
                None if *loaded > 0 => format!("Loading {what}… {loaded}"),
                None => format!("Loading {what}…"),
            };
            let max = total.map(|t| t.max(1)).unwrap_or(1).to_string();
            let value = if total.is_some() { *loaded } else { 0 }.to_string();
            Some(
                view! {
                    <div class="loading" role="status" id=format!("{id}-loading")>
                        <progress max=max value=value aria-label=text.clone()></progress>
                        <span>{text}</span>
                    </div>
                }
                .into_any(),
            )
        }
    }
}
