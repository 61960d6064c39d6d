//! The Leptos components of launch.html. The app is one screen at a time; [`start`] decides the
//! first from the page's address (callback, EHR launch, standalone, resume) and each screen is a
//! small component in its own file.

mod banner;
mod chart;
mod context;
mod failure;
mod labs;
mod lists;
mod notes;
mod picker;
mod search;
mod section;
mod session;
mod tabs;
mod vitals;

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::failure::{config_failure, fhir_failure, launch_failure, params_failure, Failure};
use crate::fhir::{FhirClient, FhirError};
use crate::smart;
use crate::smart::authorize::LaunchKind;
use crate::smart::config::{ConfigError, Ehrs};
use crate::smart::flow::{self, Target};
use crate::smart::handoff::Handoff;
use crate::web::{self, Browser};

#[derive(Clone)]
pub enum Screen {
    /// A step in progress, with what the user is waiting for.
    Working(String),
    Picker,
    /// A failure, with how to send the failed request again when a retry can work.
    Failed(Failure, Option<Retry>),
    /// The chart of a confirmed session (its id_token check passed), with the launch
    /// patient's read when it has already started or ended.
    Chart(FhirClient<Browser>, Option<banner::PatientRead>),
}

/// Sends a failed request again: what a failure's "Try again" runs.
#[derive(Clone)]
pub struct Retry(pub Rc<dyn Fn()>);

impl Retry {
    pub fn new(f: impl Fn() + 'static) -> Self {
        Retry(Rc::new(f))
    }
}

/// What every screen can reach: the current screen and the configured EHRs.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub screen: RwSignal<Screen, LocalStorage>,
    pub ehrs: StoredValue<Option<Rc<Ehrs>>, LocalStorage>,
    /// The EHR of the current or last sign-in: "sign in again" goes straight back there.
    pub last_ehr: StoredValue<Option<String>, LocalStorage>,
    mounted: StoredValue<bool, LocalStorage>,
}

impl Ctx {
    /// Puts the app on the page (once), in place of launch.html's loading placeholder. The
    /// screen may have been set before: it is what the app shows first.
    pub fn mount(&self) {
        if self.mounted.get_value() {
            return;
        }
        self.mounted.set_value(true);
        let ctx = *self;
        web::remove_element("loading");
        leptos::mount::mount_to_body(move || view! { <App ctx=ctx/> });
    }

    pub fn show(&self, s: Screen) {
        self.screen.set(s);
    }

    pub fn fail(&self, p: Failure) {
        self.show(Screen::Failed(p, None));
    }

    /// A failure whose "Try again" runs `retry` (used when the failure's action is a retry).
    pub fn fail_with_retry(&self, p: Failure, retry: Retry) {
        let retry = (p.action == crate::failure::Action::Retry).then_some(retry);
        self.show(Screen::Failed(p, retry));
    }

    /// The session has ended (the client has already dropped its tokens): one message, however
    /// many sections learn of it, and only while the chart is on screen: a read that lands after
    /// the chart gave way to another page (e.g. a failed id_token check) says nothing.
    pub fn session_expired(&self, kind: LaunchKind) {
        let on_chart = self
            .screen
            .with_untracked(|s| matches!(s, Screen::Chart(..)));
        if on_chart {
            self.fail(fhir_failure(&FhirError::SessionExpired, kind));
        }
    }

    /// Starts a launch (EHR or standalone) and leaves the page for the authorize endpoint.
    pub fn launch(&self, target: LaunchTarget) {
        spawn_local(self.launch_now(target));
    }

    /// "Try again" for a launch that failed: the same launch from its start.
    fn relaunch(&self, target: &LaunchTarget) -> Retry {
        let (ctx, target) = (*self, target.clone());
        Retry::new(move || ctx.launch(target.clone()))
    }

    /// The launch itself. The UI is mounted once discovery's request is on its way (a launch
    /// from the EHR shows the loading placeholder until then): building it first would hold
    /// the request back by as long as that takes.
    async fn launch_now(self, target: LaunchTarget) {
        let ctx = self;
        let Some(ehrs) = ensure_ehrs(ctx).await else {
            return;
        };
        let label = match &target {
            LaunchTarget::Ehr(id) => ehrs
                .by_id(id)
                .map(|(_, e)| e.name.clone())
                .unwrap_or_default(),
            LaunchTarget::Issuer { iss, .. } => iss.clone(),
        };
        ctx.show(Screen::Working(format!("Connecting to {label}…")));
        let (t, launch) = match &target {
            LaunchTarget::Ehr(id) => (Target::Ehr(id), None),
            LaunchTarget::Issuer { iss, launch } => (Target::Issuer(iss), launch.as_deref()),
        };
        let begun = first_request_then(
            flow::begin(&Browser, &ehrs, t, launch, &web::page_url()),
            || ctx.mount(),
        )
        .await;
        match begun {
            Ok(url) => {
                ctx.show(Screen::Working(format!("Signing in at {label}…")));
                if let Err(e) = web::navigate(&url) {
                    let p = Failure {
                        code: "browser",
                        title: "The browser did not go to the sign-in page".into(),
                        message: "The sign-in page could not be opened.".into(),
                        action: crate::failure::Action::Retry,
                        detail: Some(e),
                    };
                    ctx.fail_with_retry(p, ctx.relaunch(&target));
                }
            }
            Err(e) => ctx.launch_failed(&target, &e),
        }
    }

    /// A launch that failed before its redirect (here, or in the launch module): the failure,
    /// with "Try again" running the same launch from its start.
    fn launch_failed(&self, target: &LaunchTarget, e: &flow::LaunchError) {
        let kind = match target {
            LaunchTarget::Issuer {
                launch: Some(_), ..
            } => LaunchKind::Ehr,
            _ => LaunchKind::Standalone,
        };
        self.fail_with_retry(launch_failure(e, Some(kind)), self.relaunch(target));
    }

    /// Opens the chart of a confirmed session (`smart::session::adopt` or `resume`);
    /// `launched`: the launch module has just confirmed it and read the launch patient
    /// (`smart::handoff::FirstRead`), whose answer the banner takes over.
    pub fn open_session(
        &self,
        client: Result<FhirClient<Browser>, flow::LaunchError>,
        launched: bool,
    ) {
        match client {
            Ok(client) => {
                self.last_ehr
                    .set_value(Some(client.with_session(|s| s.ehr_id.clone())));
                // The patient's read leaves before the chart's view is built, unless the launch
                // module has sent it already.
                let first = client
                    .with_session(|s| s.context.patient.clone())
                    .map(|id| match launched {
                        true => banner::PatientRead::take_over(*self, &client, &id),
                        false => banner::PatientRead::start(*self, &client, &id),
                    });
                self.show(Screen::Chart(client, first))
            }
            // The session module has already forgotten a session it could not use.
            Err(_) => self.fail(config_failure(&ConfigError::Malformed(
                "the session's FHIR base is not a URL".into(),
            ))),
        }
    }

    /// The EHR list, once the configuration is read.
    pub fn show_picker(&self) {
        let ctx = *self;
        spawn_local(async move {
            if ensure_ehrs(ctx).await.is_some() {
                ctx.show(Screen::Picker);
            }
        });
    }
}

#[derive(Clone)]
pub enum LaunchTarget {
    Ehr(String),
    Issuer { iss: String, launch: Option<String> },
}

/// The configured EHRs, read from `config.json` the first time they are needed. launch.html
/// preloads the file, so the request runs while the wasm loads rather than after it.
async fn ensure_ehrs(ctx: Ctx) -> Option<Rc<Ehrs>> {
    match read_ehrs(ctx).await {
        Ok(e) => Some(e),
        Err(e) => {
            ctx.fail(config_failure(&e));
            None
        }
    }
}

/// Polls `step` once (which sends its first request), runs `then` (e.g. mounting the UI) while
/// that request is on its way, and finishes the step.
async fn first_request_then<T>(
    step: impl std::future::Future<Output = T>,
    then: impl FnOnce(),
) -> T {
    let mut step = std::pin::pin!(step);
    let first = futures::poll!(step.as_mut());
    then();
    match first {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => step.await,
    }
}

async fn read_ehrs(ctx: Ctx) -> Result<Rc<Ehrs>, ConfigError> {
    if let Some(e) = ctx.ehrs.get_value() {
        return Ok(e);
    }
    let text = web::fetch_text("config.json")
        .await
        .map_err(ConfigError::Malformed)?;
    let e = Rc::new(Ehrs::parse(&text)?);
    ctx.ehrs.set_value(Some(e.clone()));
    Ok(e)
}

/// A callback or a resumed session does not wait for the configuration, but reads the preloaded
/// file in the background: "sign in again" and the EHR list then need no request, and the
/// preload is not wasted. A problem with it is reported when it is needed, not here.
fn read_ehrs_later(ctx: Ctx) {
    spawn_local(async move {
        web::sleep(0).await;
        let _ = read_ehrs(ctx).await;
    });
}

/// The app's start (main.rs): reads the page's address and sends the first request it calls
/// for (discovery for a launch, the token request on the callback) before the UI is mounted.
pub fn run() {
    // Leptos starts its executor when it mounts; the tasks below run before that. (An error
    // here only says it was started already.)
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let ctx = Ctx {
        screen: RwSignal::new_local(Screen::Working("Starting…".into())),
        ehrs: StoredValue::new_local(None),
        last_ehr: StoredValue::new_local(None),
        mounted: StoredValue::new_local(false),
    };
    spawn_local(start(ctx));
}

/// The chart's start, from where the launch module left the visit (launch/src/main.rs, its
/// [`Handoff`]): a confirmed session to open, a failure to show, a
/// launch to run again, or a plain visit (this tab's session resumed, or the EHR list).
async fn start(ctx: Ctx) {
    match web::handoff::take().await {
        // No launch module ran (nothing was handed on) or a plain visit.
        None | Some(Some(Handoff::Plain)) => match smart::session::resume(Rc::new(Browser)) {
            Some(client) => {
                read_ehrs_later(ctx);
                ctx.open_session(client, false)
            }
            None => ctx.show_picker(),
        },
        Some(None) => ctx.fail(launch_failure(&flow::LaunchError::Handoff, None)),
        Some(Some(Handoff::Refused(e))) => ctx.fail(params_failure(&e)),
        Some(Some(Handoff::Rerun { iss, launch })) => {
            ctx.launch_now(LaunchTarget::Issuer { iss, launch }).await
        }
        Some(Some(Handoff::LaunchFailed { iss, launch, error })) => {
            ctx.launch_failed(&LaunchTarget::Issuer { iss, launch }, &error);
            read_ehrs_later(ctx);
        }
        Some(Some(Handoff::Exchanged { session })) => {
            read_ehrs_later(ctx);
            ctx.open_session(smart::session::adopt(Rc::new(Browser), *session), true)
        }
        Some(Some(Handoff::CallbackFailed { origin, error })) => {
            let kind = origin.as_ref().map(|(k, _)| *k);
            ctx.last_ehr.set_value(origin.map(|(_, id)| id));
            read_ehrs_later(ctx);
            ctx.fail(launch_failure(&error, kind));
        }
    }
    // Whatever happened above (a launch mounted it already, while its first request was on its
    // way), the app is on the page now.
    ctx.mount();
}

#[component]
fn App(ctx: Ctx) -> impl IntoView {
    // What every screen reaches (Leptos context, as its examples share app state).
    provide_context(ctx);
    // Each new screen is named in the title and takes the focus to its heading, so a keyboard
    // or screen-reader user starts where the screen does. The chart names and focuses itself
    // once the patient is on screen.
    Effect::new(move || {
        let title = ctx.screen.with(|s| match s {
            Screen::Working(what) => Some(what.clone()),
            Screen::Picker => Some("Sign in to an EHR".to_string()),
            Screen::Failed(p, _) => Some(p.title.clone()),
            Screen::Chart(..) => None,
        });
        if let Some(t) = title {
            web::set_title(&format!("{t} — smart-launch"));
            spawn_local(async {
                web::sleep(0).await;
                web::focus_heading();
            });
        }
    });
    view! {
        <header class="top"><span class="brand">"smart-launch"</span></header>
        <main class="app">
            {move || match ctx.screen.get() {
                Screen::Working(what) => view! {
                    <p class="status" id="status" role="status" aria-live="polite">{what}</p>
                }.into_any(),
                Screen::Picker => view! { <picker::Picker/> }.into_any(),
                Screen::Failed(p, retry) => view! { <failure::FailureView failure=p retry=retry/> }.into_any(),
                Screen::Chart(client, first) => view! { <chart::Chart client=client first=first/> }.into_any(),
            }}
        </main>
    }
}

/// Used by the chart's clock: whether `client`'s chart is still the one on screen. (Not
/// whether its session is stored: a new session is stored only once its id_token check has
/// passed, and the clock runs from the start.)
pub(crate) fn still_showing(ctx: Ctx, client: &FhirClient<Browser>) -> bool {
    ctx.screen.with_untracked(|s| match s {
        Screen::Chart(c, ..) => {
            c.with_session(|a| a.issued_at_ms) == client.with_session(|b| b.issued_at_ms)
        }
        _ => false,
    })
}
