//! launch.html's first module, small and without the chart: it reads the visit and runs the
//! launch's first steps (SMART App Launch 2.2: read the launch parameters, discovery, the
//! authorize redirect; on the callback, the token request with the JWKS, the id_token check and
//! the launch patient's read). A launch leaves for the authorize endpoint from here, and the
//! chart is never started for it. Every other visit starts the chart's module (through
//! launch.html's chart loader, index.html), which the launch module hands what it did
//! ([`Handoff`]) and which the user then sees.
//!
//! Nothing is shown here beyond a status line, and nothing stored beyond what the launch keeps
//! (the pending sign-in, then the session once its id_token check has passed).

// No panic from what a server, a URL or storage sent (unwrap and expect: the workspace's lints).
#![warn(clippy::indexing_slicing, clippy::string_slice)]

#[cfg(target_arch = "wasm32")]
mod visit {
    use std::future::{ready, Future};
    use std::rc::Rc;

    use wasm_bindgen_futures::{spawn_local, JsFuture};

    use smart_launch_browser::{handoff, mark, page, Browser};
    use smart_launch_core::smart::config::Ehrs;
    use smart_launch_core::smart::flow::{self, Target};
    use smart_launch_core::smart::handoff::Handoff;
    use smart_launch_core::smart::launch::{classify, PageRequest};
    use smart_launch_core::smart::session;

    pub async fn run() {
        let query = page::query();
        // Off the address bar before anything else, on every path: no code, state or error
        // stays in the address bar or history, and a reload cannot replay a code (SECURITY.md,
        // "Authorize and callback").
        if !query.is_empty() {
            page::strip_query();
        }
        match classify(&query) {
            Err(e) => {
                session::refuse_visit(&Browser, &query);
                hand_on(ready(Handoff::Refused(e)));
            }
            Ok(PageRequest::Callback(params)) => {
                show_status("Completing sign-in…");
                let origin = session::pending_origin(&Browser, params.state.as_deref());
                // The token and JWKS requests leave now, then the patient's read; the chart
                // loads meanwhile. The pending sign-in is taken out of storage whatever the
                // outcome.
                hand_on(session::exchange_for_chart(
                    Rc::new(Browser),
                    params,
                    origin,
                    mark,
                    handoff::give_first_read,
                ));
            }
            Ok(PageRequest::EhrLaunch { iss, launch }) => launch_at(iss, Some(launch)).await,
            Ok(PageRequest::StandaloneAt { iss }) => launch_at(iss, None).await,
            Ok(PageRequest::Plain) => hand_on(ready(Handoff::Plain)),
        }
    }

    /// An EHR launch (`launch` given) or a standalone launch at `iss`: discovery, then the
    /// authorize redirect. A failure goes to the chart, which shows it.
    async fn launch_at(iss: String, launch: Option<String>) {
        // A new launch replaces whatever session this tab had.
        session::sign_out(&Browser);
        let ehrs = page::fetch_text("config.json")
            .await
            .ok()
            .and_then(|text| Ehrs::parse(&text).ok());
        let Some(ehrs) = ehrs else {
            // The chart reads the configuration itself and says what is wrong with it.
            return hand_on(ready(Handoff::Rerun { iss, launch }));
        };
        show_status(&format!("Connecting to {iss}…"));
        handoff::prefetch_chart();
        let begun = flow::begin(
            &Browser,
            &ehrs,
            Target::Issuer(&iss),
            launch.as_deref(),
            &page::page_url(),
        )
        .await;
        match begun {
            Ok(url) => {
                show_status(&format!("Signing in at {iss}…"));
                if page::navigate(&url).is_err() {
                    hand_on(ready(Handoff::Rerun { iss, launch }));
                }
            }
            Err(error) => hand_on(ready(Handoff::LaunchFailed { iss, launch, error })),
        }
    }

    /// Hands `handoff` on and starts the chart, which takes it. The chart's module is fetched
    /// and compiled while `handoff` is on its way (on the callback: the token, JWKS and patient
    /// requests).
    fn hand_on(handoff: impl Future<Output = Handoff> + 'static) {
        handoff::give(handoff);
        // Queued behind `handoff`'s first step, which sends the callback's token and JWKS
        // requests: the chart's files (straight from the HTTP cache after a launch's prefetch)
        // would otherwise hold them back on this page's one thread.
        spawn_local(async move {
            let Some(started) = handoff::start_chart() else {
                return show_status(INCOMPLETE);
            };
            if JsFuture::from(started).await.is_err() {
                show_status(UNLOADED);
            }
        });
    }

    /// Launch.html without its chart loader: not what the build makes.
    const INCOMPLETE: &str =
        "This page is incomplete, so the app cannot start. Reload it; if that does not help, \
         the app's files on this server need to be built and deployed again.";
    /// The chart's files did not load (the network, or the server).
    const UNLOADED: &str =
        "The app could not be loaded. Check the connection, then reload the page.";

    /// What launch.html's loading placeholder says until the chart is there.
    fn show_status(text: &str) {
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("#loading .status").ok().flatten())
        {
            el.set_text_content(Some(text));
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {
    wasm_bindgen_futures::spawn_local(visit::run());
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "the launch module runs in the browser: build the app with `trunk build` (README.md)."
    );
}
