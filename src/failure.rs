//! What the user is told when something goes wrong: a title, what happened, what to do, and the
//! technical detail folded away. Named failure, not problem, so that it is never read as a
//! patient's problems (Conditions). Pure, so every mapping is tested natively.
//! Everything here is rendered as text.

use crate::fhir::FhirError;
use crate::platform::NetError;
use crate::smart::authorize::LaunchKind;
use crate::smart::callback::CallbackError;
use crate::smart::config::ConfigError;
use crate::smart::discovery::DiscoveryError;
use crate::smart::flow::LaunchError;
use crate::smart::id_token::IdTokenError;
use crate::smart::launch::LaunchParamError;
use crate::smart::token::TokenError;

/// What the user can do about it; the UI offers the matching button and names the step
/// (SECURITY.md, "When a server does not answer": every failure says what comes next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Launch again, from the EHR (an EHR launch cannot be restarted from here): the session
    /// or the sign-in is over.
    RelaunchFromEhr,
    /// Launch again: a new standalone sign-in at the same EHR.
    SignInAgain,
    /// Try again: the same request, which can work the next time (a server that did not
    /// answer, a network failure).
    Retry,
    /// Only an administrator can fix it (configuration, registration).
    ContactAdministrator,
}

impl Action {
    /// The next step in words, shown above its button.
    pub fn next_step(self) -> &'static str {
        match self {
            Action::RelaunchFromEhr => "Next step: launch again. Open the app again from your EHR.",
            Action::SignInAgain => "Next step: launch again. A new sign-in starts a new session.",
            Action::Retry => "Next step: try again. The same request is sent again.",
            Action::ContactAdministrator => {
                "Next step: contact your administrator, who can fix this. Trying again will not help."
            }
        }
    }

    /// A stable name of the step, for tests and support (`data-next` on the page).
    pub fn code(self) -> &'static str {
        match self {
            Action::RelaunchFromEhr | Action::SignInAgain => "launch-again",
            Action::Retry => "try-again",
            Action::ContactAdministrator => "administrator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// A stable code for tests and support (`refused-issuer`, `relaunch`, ...).
    pub code: &'static str,
    pub title: String,
    pub message: String,
    pub action: Action,
    pub detail: Option<String>,
}

/// The code of the one "session expired" page.
pub const SESSION_EXPIRED: &str = "session-expired";

fn p(
    code: &'static str,
    title: &str,
    message: String,
    action: Action,
    detail: Option<String>,
) -> Failure {
    Failure {
        code,
        title: title.into(),
        message,
        action,
        detail,
    }
}

fn relaunch_action(kind: Option<LaunchKind>) -> Action {
    match kind {
        Some(LaunchKind::Standalone) => Action::SignInAgain,
        _ => Action::RelaunchFromEhr,
    }
}

pub fn config_failure(e: &ConfigError) -> Failure {
    p(
        "config",
        "This app is not set up correctly",
        "Its configuration file could not be used. An administrator needs to fix config.json."
            .into(),
        Action::ContactAdministrator,
        Some(e.to_string()),
    )
}

pub fn params_failure(e: &LaunchParamError) -> Failure {
    p("bad-launch", "This launch cannot be used", "The address this app was opened with is not a valid SMART launch. Please launch the app again from your EHR.".into(), Action::RelaunchFromEhr, Some(e.to_string()))
}

fn net_message(e: &NetError) -> String {
    match e {
        NetError::Timeout(_) => "The server took too long to answer. Please try again.".into(),
        NetError::Unreachable(_) => "The server could not be reached. Check the network and try again; if it keeps failing, the server may not allow this app.".into(),
        NetError::Redirected(_) => "The server answered with a redirect, which this app does not follow. An administrator should check the server's address.".into(),
    }
}

/// `kind` is the launch kind when known (from the pending request or session).
pub fn launch_failure(e: &LaunchError, kind: Option<LaunchKind>) -> Failure {
    let detail = Some(e.to_string());
    match e {
        LaunchError::UnknownIssuer(iss) => p(
            "refused-issuer",
            "This app is not set up for that EHR",
            format!("The launch came from {iss}, which is not in this app's configuration, so nothing was sent to it. Launch from a configured EHR, or ask an administrator to add this one."),
            Action::ContactAdministrator,
            None,
        ),
        LaunchError::UnknownEhr(_) => p("refused-issuer", "Unknown EHR", "That EHR is not in this app's configuration.".into(), Action::ContactAdministrator, detail),
        LaunchError::BadFhirBase(_) => p("config", "This EHR's address cannot be used", "The EHR's FHIR address in this app's configuration is not a usable URL.".into(), Action::ContactAdministrator, detail),
        LaunchError::Handoff => p("updated", "The app was updated while it loaded", "Its two parts came from different versions, so the sign-in could not be finished. Please launch the app again.".into(), relaunch_action(kind), detail),
        LaunchError::Discovery(DiscoveryError::ForeignEndpoint { name, url, origin, .. }) => p(
            "foreign-endpoint",
            "The EHR's sign-in points to another server",
            format!("The EHR's SMART configuration sends its {name} to {url}, on {origin}, which is not this EHR's FHIR server, so the sign-in was stopped before anything was sent there. If {origin} really belongs to this EHR, an administrator can add \"{origin}\" to this EHR's \"extra_origins\" in config.json."),
            Action::ContactAdministrator,
            detail,
        ),
        LaunchError::Discovery(DiscoveryError::PkceNotAdvertised) => p(
            "pkce-not-advertised",
            "The EHR does not say it supports secure sign-in (PKCE)",
            "The EHR's SMART configuration does not list the PKCE methods it supports, so the sign-in was stopped. If this is an older server known to support PKCE S256, an administrator can set \"require_pkce_advertised\": false for this EHR in config.json.".into(),
            Action::ContactAdministrator,
            detail,
        ),
        LaunchError::Discovery(DiscoveryError::Network(NetError::Timeout(server))) => p(
            "discovery-timeout",
            "The EHR did not answer",
            format!("The EHR's server {server} did not answer within {} seconds, so the sign-in could not start. Nothing was sent to it but the request for its SMART configuration. It may be busy or down: try again, and if it keeps failing, tell your EHR's support.", crate::smart::discovery::DISCOVERY_DEADLINE_MS / 1000),
            Action::Retry,
            detail,
        ),
        LaunchError::Discovery(d) => {
            let net = matches!(d, DiscoveryError::Network(_));
            p(
                "discovery",
                "The EHR's sign-in service could not be found",
                if net { "The EHR could not be reached. Check the network and try again.".into() } else { "The EHR did not describe its SMART sign-in service in a way this app can use. An administrator should check the server.".into() },
                if net { Action::Retry } else { Action::ContactAdministrator },
                detail,
            )
        }
        LaunchError::Callback(CallbackError::Denied { error, description }) => p(
            "denied",
            "The EHR did not grant access",
            match description {
                Some(d) => format!("The EHR said: {d} ({error})"),
                None => format!("The EHR said: {error}"),
            },
            relaunch_action(kind),
            None,
        ),
        LaunchError::Callback(CallbackError::MissingIssuer { expected }) => p(
            "missing-iss",
            "Please relaunch the app",
            format!("This sign-in response does not say which server sent it, though {expected} names itself in every response. It may come from another server, so no token was requested."),
            relaunch_action(kind),
            detail,
        ),
        LaunchError::Callback(_) => p(
            "relaunch",
            "Please relaunch the app",
            "This sign-in response does not match a sign-in started in this browser tab (it may have been used already, expired, or been tampered with). No token was requested.".into(),
            relaunch_action(kind),
            detail,
        ),
        LaunchError::Token(TokenError::Network(n)) => p("token", "Sign-in could not be completed", net_message(n), relaunch_action(kind), detail),
        LaunchError::Token(TokenError::Rejected { .. }) => p("token", "Sign-in could not be completed", "The EHR refused to issue a token for this sign-in. Please launch the app again.".into(), relaunch_action(kind), detail),
        LaunchError::Token(_) => p("token", "Sign-in could not be completed", "The EHR's token answer could not be used. Please try again; if it keeps failing, contact an administrator.".into(), relaunch_action(kind), detail),
        LaunchError::IdToken(IdTokenError::Issuer { got, .. }) => p(
            "id-token-issuer",
            "The sign-in could not be verified",
            format!("The EHR's statement of who you are was issued by {got:?}, which is not the issuer this app expects for this EHR, so this session was not started. If {got:?} really is this EHR's OpenID issuer (some EHRs name their sign-in server, not their FHIR server), an administrator can set \"id_token_issuer\": {got:?} for this EHR in config.json."),
            relaunch_action(kind),
            detail,
        ),
        LaunchError::IdToken(_) => p("id-token", "The sign-in could not be verified", "The EHR's statement of who you are did not pass its checks, so this session was not started.".into(), relaunch_action(kind), detail),
        LaunchError::Crypto(_) | LaunchError::Storage(_) => p("browser", "This browser cannot run the sign-in", "The browser's secure storage or cryptography is unavailable (private mode or a restricted embedded browser?).".into(), Action::ContactAdministrator, detail),
    }
}

pub fn fhir_failure(e: &FhirError, kind: LaunchKind) -> Failure {
    let detail = Some(e.to_string());
    match e {
        FhirError::SessionExpired => p(
            SESSION_EXPIRED,
            "Your session has expired",
            // What happened; what to do is the action below it, said once.
            "Your access to the record has ended, and nothing more was loaded.".into(),
            relaunch_action(Some(kind)),
            None,
        ),
        FhirError::Forbidden(_) => p(
            "forbidden",
            "Not permitted",
            "Your access does not include this information. If you need it, ask your administrator to grant it.".into(),
            Action::ContactAdministrator,
            detail,
        ),
        FhirError::NotFound(_) => p(
            "not-found",
            "Not found",
            "The EHR has no such record.".into(),
            Action::Retry,
            detail,
        ),
        FhirError::Network(n) => p(
            "network",
            "The EHR could not be reached",
            net_message(n),
            Action::Retry,
            detail,
        ),
        _ => p(
            "fhir",
            "The EHR's answer could not be used",
            "Please try again; if it keeps failing, contact an administrator.".into(),
            Action::Retry,
            detail,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_issuer_names_the_server() {
        let pr = launch_failure(
            &LaunchError::UnknownIssuer("https://evil.example/fhir".into()),
            Some(LaunchKind::Ehr),
        );
        assert_eq!(pr.code, "refused-issuer");
        assert!(pr.message.contains("https://evil.example/fhir"));
        assert!(pr.message.contains("nothing was sent"));
    }

    #[test]
    fn state_problems_ask_for_a_relaunch_fitting_the_launch() {
        let e = LaunchError::Callback(CallbackError::UnknownState);
        assert_eq!(
            launch_failure(&e, Some(LaunchKind::Ehr)).action,
            Action::RelaunchFromEhr
        );
        assert_eq!(
            launch_failure(&e, Some(LaunchKind::Standalone)).action,
            Action::SignInAgain
        );
        assert_eq!(launch_failure(&e, None).title, "Please relaunch the app");
    }

    #[test]
    fn server_words_are_kept_verbatim_as_text() {
        let e = LaunchError::Callback(CallbackError::Denied {
            error: "access_denied".into(),
            description: Some("<img src=x onerror=alert(1)>".into()),
        });
        let pr = launch_failure(&e, Some(LaunchKind::Standalone));
        assert!(pr.message.contains("<img src=x onerror=alert(1)>"));
    }

    #[test]
    fn a_foreign_endpoint_page_names_it_and_the_fix() {
        let e = LaunchError::Discovery(DiscoveryError::ForeignEndpoint {
            name: "token_endpoint".into(),
            url: "https://evil.example/token".into(),
            origin: "https://evil.example".into(),
            iss_origin: "https://ehr.example".into(),
        });
        let pr = launch_failure(&e, Some(LaunchKind::Ehr));
        assert_eq!(pr.code, "foreign-endpoint");
        assert!(pr.message.contains("token_endpoint"));
        assert!(pr.message.contains("https://evil.example/token"));
        assert!(pr.message.contains("extra_origins"));
        assert_eq!(pr.action, Action::ContactAdministrator);
        let pr = launch_failure(
            &LaunchError::Discovery(DiscoveryError::PkceNotAdvertised),
            None,
        );
        assert!(pr.message.contains("require_pkce_advertised"));
    }

    /// Discovery that timed out names the server and offers to try again; a callback without
    /// the `iss` its EHR promised asks for a relaunch.
    #[test]
    fn a_silent_server_is_named_and_retried() {
        let e = LaunchError::Discovery(DiscoveryError::Network(NetError::Timeout(
            "https://ehr.example".into(),
        )));
        let pr = launch_failure(&e, Some(LaunchKind::Ehr));
        assert_eq!(pr.code, "discovery-timeout");
        assert!(pr.message.contains("https://ehr.example"), "{}", pr.message);
        assert_eq!(pr.action, Action::Retry);
        assert_eq!(pr.action.code(), "try-again");
        let e = LaunchError::Callback(CallbackError::MissingIssuer {
            expected: "https://ehr.example/fhir".into(),
        });
        let pr = launch_failure(&e, Some(LaunchKind::Ehr));
        assert_eq!(pr.code, "missing-iss");
        assert_eq!(pr.action.code(), "launch-again");
        assert!(pr.message.contains("no token was requested"));
    }

    /// Every page says which next step it offers.
    #[test]
    fn every_action_names_its_next_step() {
        for a in [
            Action::RelaunchFromEhr,
            Action::SignInAgain,
            Action::Retry,
            Action::ContactAdministrator,
        ] {
            let words = a.next_step().to_lowercase();
            let named = match a.code() {
                "launch-again" => words.contains("launch again"),
                "try-again" => words.contains("try again"),
                _ => words.contains("administrator"),
            };
            assert!(named, "{a:?}: {words}");
        }
    }

    /// An id_token from another issuer names the setting that admits it.
    #[test]
    fn an_unexpected_id_token_issuer_names_the_setting() {
        let e = LaunchError::IdToken(IdTokenError::Issuer {
            expected: "https://ehr.example/fhir".into(),
            got: "https://ehr.example/oauth2".into(),
        });
        let pr = launch_failure(&e, Some(LaunchKind::Ehr));
        assert_eq!(pr.code, "id-token-issuer");
        assert!(
            pr.message
                .contains("\"id_token_issuer\": \"https://ehr.example/oauth2\""),
            "{}",
            pr.message
        );
        assert_eq!(pr.action.code(), "launch-again");
    }

    #[test]
    fn session_expiry_depends_on_the_launch() {
        let ehr = fhir_failure(&FhirError::SessionExpired, LaunchKind::Ehr);
        assert_eq!(ehr.action, Action::RelaunchFromEhr);
        assert!(
            !ehr.message.contains("EHR") && !ehr.message.contains("again"),
            "the instruction is the action's, said once: {}",
            ehr.message
        );
        assert_eq!(
            fhir_failure(&FhirError::SessionExpired, LaunchKind::Standalone).action,
            Action::SignInAgain
        );
        assert_eq!(
            fhir_failure(&FhirError::Forbidden(None), LaunchKind::Ehr).code,
            "forbidden"
        );
    }
}
