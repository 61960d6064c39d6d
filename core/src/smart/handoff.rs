//! What the launch module passes on to the chart. launch.html runs a small wasm module first
//! (`launch/`): it reads the visit, and either leaves for the authorize endpoint (an EHR or
//! standalone launch; the chart's code is never downloaded) or starts the chart's module and
//! hands it one [`Handoff`] saying how far the visit got. The handoff lives in the page's memory
//! for as long as the chart takes to pick it up (once): it is never stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fhir::FhirError;
use crate::smart::authorize::LaunchKind;
use crate::smart::flow::LaunchError;
use crate::smart::launch::LaunchParamError;
use crate::smart::session::Session;

#[derive(Serialize, Deserialize)]
pub enum Handoff {
    /// A visit without launch parameters: the chart resumes this tab's session or shows the
    /// EHRs to sign in to.
    Plain,
    /// Launch parameters refused before anything was sent (the pending sign-ins their `state`
    /// names are already dropped).
    Refused(LaunchParamError),
    /// A launch the launch module could not finish (`config.json` unreadable or wrong, or the
    /// browser would not leave the page): the chart runs it again from its start and says what
    /// is wrong if it still is.
    Rerun { iss: String, launch: Option<String> },
    /// A launch (`launch` for an EHR launch, none for standalone) that failed before the
    /// redirect.
    LaunchFailed {
        iss: String,
        launch: Option<String>,
        error: LaunchError,
    },
    /// The callback's exchange answered and its id_token check passed: the session is
    /// confirmed (stored for a reload, with its user). The launch patient's read, sent while
    /// the chart loaded, follows as a [`FirstRead`] of its own, so that a slow read holds back
    /// only the banner.
    Exchanged { session: Box<Session> },
    /// The callback failed; the launch kind and EHR id of its sign-in, when it was known.
    CallbackFailed {
        origin: Option<(LaunchKind, String)>,
        error: LaunchError,
    },
}

/// The launch module's read of the launch patient, sent with the new token as soon as the
/// exchange answered (`smart::session::exchange_for_chart`), and made once: the launch module
/// neither refreshes nor ends the session it handed on.
#[derive(Serialize, Deserialize)]
pub enum FirstRead {
    /// The patient's resource.
    Read(Value),
    /// The read failed for a reason a refresh does not change (a timeout, a 403, a 404, a
    /// server error, an answer that is not the patient): the chart says so where the name goes.
    Failed(FhirError),
    /// The answer may want a refresh (a 401, or a network failure that may be a 401 without
    /// CORS headers): the chart reads again with its own client, which refreshes.
    Again,
}

impl FirstRead {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` when `text` is not a read this build wrote.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl Handoff {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` when `text` is not a handoff this build wrote.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::platform::NetError;
    use crate::smart::discovery::DiscoveryError;

    #[test]
    fn a_failure_crosses_whole() {
        let error = LaunchError::Discovery(DiscoveryError::Both {
            well_known: Box::new(DiscoveryError::ForeignEndpoint {
                name: "token_endpoint".into(),
                url: "https://evil.example/token".into(),
                origin: "https://evil.example".into(),
                iss_origin: "https://ehr.example".into(),
            }),
            metadata: Box::new(DiscoveryError::Network(NetError::Timeout(
                "https://ehr.example".into(),
            ))),
        });
        let sent = Handoff::LaunchFailed {
            iss: "https://ehr.example/fhir".into(),
            launch: Some("xyz".into()),
            error: error.clone(),
        };
        match Handoff::from_json(&sent.to_json()).unwrap() {
            Handoff::LaunchFailed {
                iss,
                launch,
                error: got,
            } => {
                assert_eq!(iss, "https://ehr.example/fhir");
                assert_eq!(launch.as_deref(), Some("xyz"));
                assert_eq!(got, error);
            }
            _ => panic!("another handoff came back"),
        }
    }

    #[test]
    fn a_first_read_crosses_whole() {
        let failed = FirstRead::Failed(FhirError::Network(NetError::Timeout(
            "https://ehr.example/fhir/Patient/p1".into(),
        )));
        match FirstRead::from_json(&failed.to_json()).unwrap() {
            FirstRead::Failed(e) => assert_eq!(
                e,
                FhirError::Network(NetError::Timeout(
                    "https://ehr.example/fhir/Patient/p1".into()
                ))
            ),
            _ => panic!("another read came back"),
        }
        let read = FirstRead::Read(serde_json::json!({"resourceType": "Patient", "id": "p1"}));
        assert!(matches!(
            FirstRead::from_json(&read.to_json()).unwrap(),
            FirstRead::Read(v) if v["id"] == "p1"
        ));
        assert!(FirstRead::from_json("{}").is_none());
    }

    #[test]
    fn anything_else_is_not_a_handoff() {
        assert!(Handoff::from_json("").is_none());
        assert!(Handoff::from_json(r#"{"Exchanged":{}}"#).is_none());
        assert!(Handoff::from_json(r#""Plain""#).is_some());
    }
}
