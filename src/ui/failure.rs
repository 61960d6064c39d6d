//! Every error as a page: what happened, the next step in words and as a button, and the
//! details folded away. Text only.

use leptos::prelude::*;

use super::{Ctx, LaunchTarget, Retry};
use crate::failure::{Action, Failure};

/// `retry` sends the failed request again; without it, "Try again" reloads the page.
#[component]
pub fn FailureView(failure: Failure, retry: Option<Retry>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let next = failure.action;
    let button = match next {
        Action::RelaunchFromEhr => view! {
            <button id="choose-ehr" class="secondary" on:click=move |_| ctx.show_picker()>"Or sign in to a configured EHR"</button>
        }.into_any(),
        Action::SignInAgain => view! {
            <button id="sign-in-again" on:click=move |_| match ctx.last_ehr.get_value() {
                Some(id) => ctx.launch(LaunchTarget::Ehr(id)),
                None => ctx.show_picker(),
            }>"Launch again"</button>
        }.into_any(),
        Action::Retry => view! {
            <button id="retry" on:click=move |_| match &retry {
                Some(Retry(again)) => again(),
                None => { let _ = web_sys::window().map(|w| w.location().reload()); }
            }>"Try again"</button>
        }.into_any(),
        Action::ContactAdministrator => ().into_any(),
    };
    view! {
        <section class="card problem" role="alert" id="problem" data-code=failure.code>
            <h1>{failure.title}</h1>
            <p class="message" id="problem-message">{failure.message}</p>
            <p class="todo" id="next-step" data-next=next.code()>{next.next_step()}</p>
            {button}
            {failure.detail.map(|d| view! {
                <details><summary>"Technical details"</summary><pre class="detail">{d}</pre></details>
            })}
        </section>
    }
}
