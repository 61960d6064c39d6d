//! launch.html's first module, small and without the chart: it reads the visit and runs the
//! launch's first steps (SMART App Launch 2.2: read the launch parameters, discovery, the
//! authorize redirect; on the callback, the token request with the JWKS, the id_token check and
//! the launch patient's read). A launch leaves for the authorize endpoint from here, and the
//! chart is never started for it. Every other visit starts the chart's module
//! (`public/chart.js`), which the launch module hands what it did ([`Handoff`]) and which the
//! user then sees.
//!
//! Nothing is shown here beyond a status line, and nothing stored beyond what the launch keeps
//! (the pending sign-in, then the session once its id_token check has passed).

// No panic from what a server, a URL or storage sent (unwrap and expect: the workspace's lints).
#![warn(clippy::indexing_slicing, clippy::string_slice)]

#[cfg(target_arch = "wasm32")]
mod visit {
    use std::future::{ready, Future};
    use std::rc::Rc;

    use smart_launch_browser::{handoff, mark, page, Browser};
    use smart_launch_core::smart::config::Ehrs;
    use smart_launch_core::smart::flow::{self, Target};
    use smart_launch_core::smart::handoff::Handoff;
    use smart_launch_core::smart::launch::{classify, PageRequest};
    use smart_launch_core::smart::session;

    /// The chart's files, beside launch.html (index.html builds them unhashed, as a Trunk
    /// "worker" asset, so that they can be named here).
    const CHART_JS: &str = "smart-launch.js";
    const CHART_WASM: &str = "smart-launch_bg.wasm";
    const CHART_START: &str = "chart.js";

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
        prefetch_chart();
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

    fn hand_on(handoff: impl Future<Output = Handoff> + 'static) {
        handoff::give(handoff);
        start_chart();
    }

    /// Adds an element to the page's head. Every file these name comes from this page's own
    /// origin (the CSP's 'self').
    fn add_to_head(tag: &str, attrs: &[(&str, &str)]) {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Some(head) = doc.head() else { return };
        if let Ok(el) = doc.create_element(tag) {
            for (name, value) in attrs {
                let _ = el.set_attribute(name, value);
            }
            let _ = head.append_child(&el);
        }
    }

    /// As a launch starts: the chart's files are fetched into the HTTP cache at the lowest
    /// priority, while discovery (small answers, bound by round trips, not by bandwidth) and
    /// then the user's sign-in at the EHR take their time, for the callback to start the chart
    /// from there. (A prefetch outlives the page that asked for it: the callback page then only
    /// revalidates the files, a 304 without a body. Where a browser drops it, the callback
    /// loads the chart as on any visit.)
    fn prefetch_chart() {
        for file in [CHART_JS, CHART_WASM] {
            add_to_head("link", &[("rel", "prefetch"), ("href", file)]);
        }
    }

    /// Starts the chart's module: its JS and wasm are asked for at once (preloads), and
    /// `chart.js` starts it.
    fn start_chart() {
        let add = add_to_head;
        add("link", &[("rel", "modulepreload"), ("href", CHART_JS)]);
        add(
            "link",
            &[
                ("rel", "preload"),
                ("href", CHART_WASM),
                ("as", "fetch"),
                ("type", "application/wasm"),
                ("crossorigin", "anonymous"),
            ],
        );
        add("script", &[("type", "module"), ("src", CHART_START)]);
    }

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
