//! The launched session: tokens, launch context and when to refresh (SMART App Launch 2.2
//! §"Refresh access token"). Kept in memory and mirrored in this tab's sessionStorage so a reload
//! resumes without a new sign-in; never in localStorage.

use serde::{Deserialize, Serialize};

use crate::smart::authorize::{LaunchKind, PendingAuthorization};
use crate::smart::secret::{AccessToken, IdToken, RefreshToken};
use crate::smart::token::{LaunchContext, TokenResponse};

/// How long before a session that cannot be refreshed ends the app says so (
/// [`Session::ends_soon`]): time to finish a thought and launch again.
pub const ENDING_NOTICE_MS: u64 = 5 * 60_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Session {
    pub ehr_id: String,
    pub fhir_base: String,
    pub client_id: String,
    pub token_endpoint: String,
    /// RFC 7009 revocation, when the server advertised it (pinned with the other endpoints):
    /// sign-out revokes the tokens there. Absent from sessions stored by older builds.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    pub kind: LaunchKind,
    pub requested_scope: String,
    pub granted_scope: String,
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    /// When the access token expires; `None` when the server did not say.
    pub expires_at_ms: Option<u64>,
    /// When the current access token was issued.
    pub issued_at_ms: u64,
    pub last_refresh_ms: Option<u64>,
    /// The user's FHIR resource URL from a checked id_token.
    pub fhir_user: Option<String>,
    /// Patient, encounter, banner and style as the token response gave them.
    pub context: LaunchContext,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshMismatch {
    #[error("the refreshed token is for another patient")]
    PatientChanged,
}

fn expiry(now_ms: u64, expires_in: Option<u64>) -> Option<u64> {
    expires_in.map(|s| now_ms.saturating_add(s.saturating_mul(1000)))
}

impl Session {
    pub fn new(
        p: &PendingAuthorization,
        t: TokenResponse,
        fhir_user: Option<String>,
        now_ms: u64,
    ) -> Self {
        Self {
            ehr_id: p.ehr_id.clone(),
            fhir_base: p.issuer.clone(),
            client_id: p.client_id.clone(),
            token_endpoint: p.smart.token_endpoint.clone(),
            revocation_endpoint: p.smart.revocation_endpoint.clone(),
            kind: p.kind,
            requested_scope: p.scope.clone(),
            granted_scope: t.scope.unwrap_or_else(|| p.scope.clone()),
            expires_at_ms: expiry(now_ms, t.expires_in),
            issued_at_ms: now_ms,
            last_refresh_ms: None,
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            fhir_user,
            context: t.context,
        }
    }

    /// Refresh ahead of expiry: a minute early, or a fifth of a short lifetime.
    pub fn refresh_due(&self, now_ms: u64) -> bool {
        match self.expires_at_ms {
            None => false,
            Some(exp) => {
                let lifetime = exp.saturating_sub(self.issued_at_ms);
                let margin = (lifetime / 5).min(60_000);
                now_ms + margin >= exp
            }
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|exp| now_ms >= exp)
    }

    pub fn can_refresh(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// How long is left of a session that will end (no refresh token: Epic gives none to a
    /// public client) once that is within [`ENDING_NOTICE_MS`]: the app says so, with the time,
    /// and offers a new launch before it ends. `None` while the session can go on.
    pub fn ends_soon(&self, now_ms: u64) -> Option<u64> {
        let exp = self.expires_at_ms.filter(|_| !self.can_refresh())?;
        let left = exp.saturating_sub(now_ms);
        (left <= ENDING_NOTICE_MS).then_some(left)
    }

    pub fn granted(&self) -> impl Iterator<Item = &str> {
        self.granted_scope.split_whitespace()
    }

    /// Takes a refresh response: a rotated refresh token replaces the old one; one not sent
    /// keeps the old (RFC 6749 §6).
    pub fn apply_refresh(&mut self, t: TokenResponse, now_ms: u64) -> Result<(), RefreshMismatch> {
        if let (Some(new), Some(old)) = (&t.context.patient, &self.context.patient) {
            if new != old {
                return Err(RefreshMismatch::PatientChanged);
            }
        }
        self.access_token = t.access_token;
        self.expires_at_ms = expiry(now_ms, t.expires_in);
        self.issued_at_ms = now_ms;
        self.last_refresh_ms = Some(now_ms);
        if let Some(s) = t.scope {
            self.granted_scope = s;
        }
        if let Some(r) = t.refresh_token {
            self.refresh_token = Some(r);
        }
        if let Some(i) = t.id_token {
            self.id_token = Some(i);
        }
        Ok(())
    }

    /// The sessionStorage mirror, as JSON text.
    pub fn to_json(&self) -> String {
        // Strings, numbers, unit variants and JSON values only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`Session::to_json`]'s output back; `None` if it is not that (any field tampered
    /// with refuses the whole session).
    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::platform::HttpResponse;
    use crate::smart::token::process_token_response;

    fn token(body: &str) -> TokenResponse {
        process_token_response(&HttpResponse {
            status: 200,
            content_type: None,
            www_authenticate: None,
            bytes: Vec::new(),
            body: body.into(),
        })
        .unwrap()
    }

    pub(crate) fn session(now: u64, body: &str) -> Session {
        let pending = PendingAuthorization::from_json_text(&serde_json::to_string(&serde_json::json!({
            "state": "s", "code_verifier": "v", "ehr_id": "sandbox", "issuer": "http://localhost:9000/fhir",
            "client_id": "smart-launch", "redirect_uri": "http://localhost:8000/launch.html",
            "scope": "launch openid patient/*.rs", "kind": "Ehr", "created_ms": 0,
            "smart": { "issuer": "http://localhost:9000/fhir", "authorization_endpoint": "http://localhost:9000/a",
                "token_endpoint": "http://localhost:9000/t", "jwks_uri": null, "capabilities": [],
                "code_challenge_methods_supported": null, "source": "WellKnown" }
        })).unwrap())
        .unwrap();
        Session::new(&pending, token(body), None, now)
    }

    #[test]
    fn a_session_without_refresh_announces_its_end() {
        let s = session(
            0,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600}"#,
        );
        assert_eq!(s.ends_soon(3_600_000 - ENDING_NOTICE_MS - 1), None);
        assert_eq!(
            s.ends_soon(3_600_000 - ENDING_NOTICE_MS),
            Some(ENDING_NOTICE_MS)
        );
        assert_eq!(s.ends_soon(3_599_000), Some(1_000));
        assert_eq!(s.ends_soon(3_700_000), Some(0));
        let refreshable = session(
            0,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#,
        );
        assert_eq!(refreshable.ends_soon(3_599_000), None);
        let open = session(0, r#"{"access_token":"a","token_type":"Bearer"}"#);
        assert_eq!(open.ends_soon(u64::MAX), None);
    }

    #[test]
    fn refresh_timing() {
        let s = session(
            0,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#,
        );
        assert!(!s.refresh_due(3_539_999));
        assert!(s.refresh_due(3_540_000));
        assert!(!s.is_expired(3_599_999));
        assert!(s.is_expired(3_600_000));
        let short = session(
            0,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":10}"#,
        );
        assert!(!short.refresh_due(7_999));
        assert!(short.refresh_due(8_000));
        let forever = session(0, r#"{"access_token":"a","token_type":"Bearer"}"#);
        assert!(!forever.refresh_due(u64::MAX / 2));
        assert_eq!(
            s.granted_scope, "launch openid patient/*.rs",
            "absent scope means as requested"
        );
    }

    #[test]
    fn rotation_replaces_and_absence_keeps() {
        let mut s = session(
            0,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r1","patient":"p1"}"#,
        );
        s.apply_refresh(token(r#"{"access_token":"b","token_type":"Bearer","expires_in":60,"refresh_token":"r2"}"#), 50_000).unwrap();
        assert_eq!(s.refresh_token.as_ref().unwrap().expose(), "r2");
        assert_eq!(s.access_token.expose(), "b");
        assert_eq!(s.expires_at_ms, Some(110_000));
        s.apply_refresh(
            token(r#"{"access_token":"c","token_type":"Bearer","expires_in":60}"#),
            60_000,
        )
        .unwrap();
        assert_eq!(s.refresh_token.as_ref().unwrap().expose(), "r2");
        assert_eq!(
            s.apply_refresh(
                token(r#"{"access_token":"d","token_type":"Bearer","patient":"p2"}"#),
                70_000
            ),
            Err(RefreshMismatch::PatientChanged)
        );
        assert_eq!(s.access_token.expose(), "c");
    }

    #[test]
    fn storage_round_trip_and_redacted_debug() {
        let s = session(
            5,
            r#"{"access_token":"SECRET","token_type":"Bearer","expires_in":60,"refresh_token":"RSECRET","patient":"p1"}"#,
        );
        let back = Session::from_json(&s.to_json()).unwrap();
        assert_eq!(back.access_token.expose(), "SECRET");
        assert_eq!(back.context.patient.as_deref(), Some("p1"));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("SECRET"));
        assert!(Session::from_json("{garbage").is_none());
        // Every field is read back as written, and a tampered field refuses the whole session.
        assert_eq!(
            Session::from_json(&back.to_json()).unwrap().to_json(),
            s.to_json()
        );
        let tampered = s
            .to_json()
            .replace("\"issued_at_ms\":5", "\"issued_at_ms\":\"5\"");
        assert_ne!(tampered, s.to_json());
        assert!(Session::from_json(&tampered).is_none());
    }
}
