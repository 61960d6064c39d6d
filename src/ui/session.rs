//! The session panel: server, user, context, scopes requested and granted, token expiry counting
//! down, refresh token presence and last refresh; refresh now and sign out. Never a token.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::chart::ChartState;
use super::{Ctx, LaunchTarget};
use crate::chart::time::countdown;
use crate::chart::time::{date_time, zone_label};
use crate::smart::authorize::LaunchKind;
use crate::smart::granted::not_granted;
use crate::smart::session;
use crate::web::Browser;

/// The session that will end without a refresh (the EHR gave no refresh token): said with its
/// time once [`crate::smart::session::ENDING_NOTICE_MS`] away, with the next step: launch
/// again (from the EHR, or at once for a standalone sign-in).
#[component]
pub fn AccessEnding() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let ChartState { now, .. } = expect_context::<ChartState>();
    let client = expect_context::<ChartState>().client();
    let (ehr_id, kind) = client.with_session(|s| (s.ehr_id.clone(), s.kind));
    let client = StoredValue::new_local(client);
    move || {
        let n = now.get();
        let (left, at) = client.with_value(|c| {
            c.with_session(|s| {
                s.ends_soon(n)
                    .map(|left| (left, s.expires_at_ms.unwrap_or(n)))
            })
        })?;
        let when = format!(
            "Your access to this record ends at {} ({}, {}). This EHR does not renew it.",
            date_time(at as i64),
            if left == 0 {
                "now".to_string()
            } else {
                format!("in {}", countdown(left as i64))
            },
            zone_label(n as i64)
        );
        let ehr_id = ehr_id.clone();
        Some(view! {
            <div class="notice access-ending" role="status" id="access-ending">
                <p>{when}</p>
                {match kind {
                    LaunchKind::Ehr => view! { <p id="access-next">"Next step: launch again from your EHR before then to go on."</p> }.into_any(),
                    LaunchKind::Standalone => view! {
                        <p id="access-next">"Next step: launch again to go on."</p>
                        <button id="launch-again" on:click=move |_| ctx.launch(LaunchTarget::Ehr(ehr_id.clone()))>"Launch again"</button>
                    }.into_any(),
                }}
            </div>
        })
    }
}

#[component]
pub fn SessionPanel() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let ChartState { now, user, .. } = expect_context::<ChartState>();
    let client = expect_context::<ChartState>().client();
    let (ehr_id, base, patient, encounter, intent, launched_from, requested, granted, kind) =
        client.with_session(|s| {
            (
                s.ehr_id.clone(),
                s.fhir_base.clone(),
                s.context.patient.clone(),
                s.context.encounter.clone(),
                s.context.intent.clone(),
                // What the EHR passed as `fhirContext`, as text (its reference, else the item).
                s.context
                    .fhir_context
                    .iter()
                    .map(|v| {
                        v["reference"]
                            .as_str()
                            .map_or_else(|| v.to_string(), str::to_string)
                    })
                    .collect::<Vec<String>>(),
                s.requested_scope.clone(),
                s.granted_scope.clone(),
                s.kind,
            )
        });
    let missing: Vec<String> = not_granted(&requested, &granted)
        .into_iter()
        .map(str::to_string)
        .collect();
    // The EHR's name from the configuration when it has been read, else the server's address.
    let ehr_name = ctx
        .ehrs
        .get_value()
        .and_then(|e| e.by_id(&ehr_id).map(|(_, c)| c.name.clone()))
        .unwrap_or_else(|| base.clone());
    let can_refresh = client.with_session(|s| s.refresh_token.is_some());
    let client = StoredValue::new_local(client);
    let refreshing = RwSignal::new(false);
    let refresh_error = RwSignal::new(None::<String>);
    // Never disabled while it works (a disabled button drops the keyboard focus): a click while
    // a refresh is running, or without a refresh token, does nothing.
    let refresh_now = move |_| {
        if refreshing.get_untracked() || !can_refresh {
            return;
        }
        refreshing.set(true);
        let c = client.get_value();
        spawn_local(async move {
            let r = c.session().refresh().await;
            refreshing.set(false);
            match r {
                Ok(()) => refresh_error.set(None),
                Err(e) if e.is_transient() => refresh_error.set(Some(e.to_string())),
                Err(_) => ctx.session_expired(kind),
            }
        });
    };
    let expiry = move || {
        let n = now.get() as i64;
        client.with_value(|c| {
            c.with_session(|s| match s.expires_at_ms {
                Some(exp) => format!(
                    "{} (at {}, {})",
                    countdown(exp as i64 - n),
                    date_time(exp as i64),
                    zone_label(n)
                ),
                None => "not given by the EHR".into(),
            })
        })
    };
    let has_refresh = move || {
        now.track();
        client.with_value(|c| {
            c.with_session(|s| {
                if s.refresh_token.is_some() {
                    "yes"
                } else {
                    "no"
                }
            })
        })
    };
    let last_refresh = move || {
        now.track();
        client.with_value(|c| {
            c.with_session(|s| {
                s.last_refresh_ms
                    .map(|t| date_time(t as i64))
                    .unwrap_or_else(|| "never".into())
            })
        })
    };
    // What a clinician needs first (who, for whom, until when, sign out); the protocol's detail
    // folds away for whoever supports them.
    view! {
        <section class="card session" aria-labelledby="session-title">
            <h2 id="session-title">"Session"</h2>
            <dl class="facts">
                <dt>"Signed in as"</dt><dd id="user">{move || user.get().unwrap_or_else(|| "not shared by the EHR".into())}</dd>
                <dt>"Signed in at"</dt><dd id="ehr-name">{ehr_name}</dd>
                <dt>"Access lasts"</dt><dd id="token-expiry">{expiry}</dd>
            </dl>
            {move || refresh_error.get().map(|e| view! {
                <p class="error" id="refresh-error" role="alert">{format!("The access could not be renewed: {e}. Try again with \"Refresh now\"; the access lasts until the time above.")}</p>
            })}
            <div class="buttons">
                <button id="refresh-now" on:click=refresh_now aria-disabled=move || (refreshing.get() || !can_refresh).to_string()>
                    {move || if refreshing.get() { "Refreshing…" } else { "Refresh now" }}</button>
                <button id="sign-out" class="secondary" on:click=move |_| {
                    // The tokens leave the app now; the server is asked to revoke them meanwhile.
                    spawn_local(client.with_value(|c| session::end_session(&Browser, c)));
                    ctx.show_picker();
                }>"Sign out"</button>
            </div>
            <details class="technical">
                <summary>"Technical details"</summary>
                <dl class="facts">
                    <dt>"FHIR server"</dt><dd id="fhir-base">{base}</dd>
                    <dt>"Patient in context"</dt><dd id="context-patient">{patient.unwrap_or_else(|| "none".into())}</dd>
                    <dt>"Encounter in context"</dt><dd id="context-encounter">{encounter.unwrap_or_else(|| "none".into())}</dd>
                    // Kept as the EHR sent it, known to the app or not (`chart::context::intent_view`).
                    <dt>"Intent"</dt><dd id="context-intent">{intent.unwrap_or_else(|| "none".into())}</dd>
                    <dt>"Launched from"</dt>
                    <dd id="context-items">{if launched_from.is_empty() { "none".to_string() } else { launched_from.join(", ") }}</dd>
                    <dt>"Scopes granted"</dt>
                    <dd><ul id="scopes" class="scopes">{granted.split_whitespace().map(|s| view! { <li>{s.to_string()}</li> }).collect_view()}</ul></dd>
                    <dt>"Requested, not granted"</dt>
                    <dd id="scopes-missing">{if missing.is_empty() { "none".to_string() } else { missing.join(" ") }}</dd>
                    <dt>"Refresh token"</dt><dd id="has-refresh">{has_refresh}</dd>
                    <dt>"Last refresh"</dt><dd id="last-refresh">{last_refresh}</dd>
                </dl>
            </details>
        </section>
    }
}
