//! What a visit to `launch.html` is (SMART App Launch 2.2 §"Launch App"): a callback from the
//! authorization server (`code`/`error` with `state`), an EHR launch (`iss` + `launch`), a
//! standalone launch against a named issuer (`iss` alone), or a plain visit (show the EHR list).
//! A callback is never treated as a new launch.

use std::borrow::Cow;

use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the authorization server that sent the response.
    pub iss: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRequest {
    Callback(CallbackParams),
    EhrLaunch {
        iss: String,
        launch: String,
    },
    /// `iss` alone: a standalone launch against that server.
    StandaloneAt {
        iss: String,
    },
    /// No launch parameters: the user picks an EHR (or a stored session resumes).
    Plain,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LaunchParamError {
    #[error("the launch parameter {0} appears more than once")]
    Repeated(String),
    #[error(
        "the EHR sent a launch value but no iss: the app cannot tell which server launched it"
    )]
    LaunchWithoutIss,
    #[error("the launch parameter {0} is empty")]
    Empty(Cow<'static, str>),
}

/// Classifies the page's query string (without the leading `?`).
pub fn classify(query: &str) -> Result<PageRequest, LaunchParamError> {
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in crate::http_url::form_decode(query.trim_start_matches('?')) {
        let known = matches!(
            k.as_ref(),
            "code" | "state" | "error" | "error_description" | "iss" | "launch"
        );
        if known && params.insert(k.to_string(), v.to_string()).is_some() {
            return Err(LaunchParamError::Repeated(k.to_string()));
        }
    }
    let mut take = |k: &str| params.remove(k);
    let (code, state, error) = (take("code"), take("state"), take("error"));
    let (error_description, iss, launch) = (take("error_description"), take("iss"), take("launch"));
    if code.is_some() || error.is_some() {
        return Ok(PageRequest::Callback(CallbackParams {
            code,
            state,
            error,
            error_description,
            iss,
        }));
    }
    if state.is_some() {
        // A state with neither code nor error is a broken callback, not a launch.
        return Ok(PageRequest::Callback(CallbackParams {
            state,
            iss,
            ..Default::default()
        }));
    }
    match (iss, launch) {
        (Some(iss), Some(launch)) => {
            if iss.trim().is_empty() {
                return Err(LaunchParamError::Empty("iss".into()));
            }
            if launch.is_empty() {
                return Err(LaunchParamError::Empty("launch".into()));
            }
            Ok(PageRequest::EhrLaunch { iss, launch })
        }
        (Some(iss), None) if iss.trim().is_empty() => Err(LaunchParamError::Empty("iss".into())),
        (Some(iss), None) => Ok(PageRequest::StandaloneAt { iss }),
        (None, Some(_)) => Err(LaunchParamError::LaunchWithoutIss),
        (None, None) => Ok(PageRequest::Plain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_launches_from_callbacks() {
        assert_eq!(classify(""), Ok(PageRequest::Plain));
        assert_eq!(classify("?foo=bar"), Ok(PageRequest::Plain));
        assert_eq!(
            classify("iss=http%3A%2F%2Flocalhost%3A9000%2Ffhir&launch=xyz"),
            Ok(PageRequest::EhrLaunch {
                iss: "http://localhost:9000/fhir".into(),
                launch: "xyz".into()
            })
        );
        assert_eq!(
            classify("iss=https://e.example/r4"),
            Ok(PageRequest::StandaloneAt {
                iss: "https://e.example/r4".into()
            })
        );
        // A callback that also carries iss (RFC 9207) is still a callback.
        let cb = classify("code=c&state=s&iss=https://e.example/r4&launch=zzz").unwrap();
        assert!(matches!(
            cb,
            PageRequest::Callback(CallbackParams {
                code: Some(_),
                state: Some(_),
                iss: Some(_),
                ..
            })
        ));
        let err =
            classify("error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s").unwrap();
        assert_eq!(
            err,
            PageRequest::Callback(CallbackParams {
                error: Some("access_denied".into()),
                error_description: Some("<b>no</b>".into()),
                state: Some("s".into()),
                ..Default::default()
            })
        );
        assert!(matches!(classify("state=s"), Ok(PageRequest::Callback(_))));
    }

    #[test]
    fn refuses_ambiguous_parameters() {
        assert_eq!(
            classify("iss=a&iss=b&launch=x"),
            Err(LaunchParamError::Repeated("iss".into()))
        );
        assert_eq!(
            classify("code=a&code=b&state=s"),
            Err(LaunchParamError::Repeated("code".into()))
        );
        assert_eq!(
            classify("launch=x"),
            Err(LaunchParamError::LaunchWithoutIss)
        );
        assert_eq!(
            classify("iss=&launch=x"),
            Err(LaunchParamError::Empty("iss".into()))
        );
        assert_eq!(
            classify("iss=https://e.example&launch="),
            Err(LaunchParamError::Empty("launch".into()))
        );
    }
}
