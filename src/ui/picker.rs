//! Standalone launch: the configured EHRs to choose from.

use leptos::prelude::*;

use super::{Ctx, LaunchTarget};

#[component]
pub fn Picker() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let ehrs: Vec<(String, String, String)> = ctx
        .ehrs
        .get_value()
        .map(|e| {
            e.iter()
                .map(|(i, c)| (c.id.clone(), c.name.clone(), i.as_str().to_string()))
                .collect()
        })
        .unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="picker-title">
            <h1 id="picker-title">"Sign in to an EHR"</h1>
            <p>"Choose the EHR whose records you want to open."</p>
            <ul class="ehr-list">
                {ehrs.into_iter().map(|(id, name, iss)| {
                    let target = id.clone();
                    view! {
                        <li>
                            <button class="ehr" id=format!("ehr-{id}") on:click=move |_| ctx.launch(LaunchTarget::Ehr(target.clone()))>
                                <span class="ehr-name">{name}</span>
                                <span class="ehr-iss">{iss}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
