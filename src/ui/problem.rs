//! Every error as a page: what happened, what to do, and the details folded away. Text only.

use leptos::prelude::*;

use super::{Ctx, LaunchTarget};
use crate::problem::{Action, Problem};

#[component]
pub fn ProblemView(ctx: Ctx, problem: Problem) -> impl IntoView {
    let action = match problem.action {
        Action::RelaunchFromEhr => view! {
            <p class="todo">"Open the app again from your EHR."</p>
            <button id="choose-ehr" on:click=move |_| ctx.show_picker()>"Or sign in to a configured EHR"</button>
        }.into_any(),
        Action::SignInAgain => view! {
            <button id="sign-in-again" on:click=move |_| match ctx.last_ehr.get_value() {
                Some(id) => ctx.launch(LaunchTarget::Ehr(id)),
                None => ctx.show_picker(),
            }>"Sign in again"</button>
        }.into_any(),
        Action::Retry => view! {
            <button id="retry" on:click=move |_| { let _ = web_sys::window().map(|w| w.location().reload()); }>"Try again"</button>
        }.into_any(),
        Action::ContactAdministrator => view! {
            <p class="todo">"If you think this is wrong, contact your administrator."</p>
        }.into_any(),
    };
    view! {
        <section class="card problem" role="alert" id="problem" data-code=problem.code>
            <h1>{problem.title}</h1>
            <p class="message" id="problem-message">{problem.message}</p>
            {action}
            {problem.detail.map(|d| view! {
                <details><summary>"Technical details"</summary><pre class="detail">{d}</pre></details>
            })}
        </section>
    }
}
