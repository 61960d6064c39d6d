//! The id_token (OpenID Connect Core §3.1.3.7, SMART App Launch 2.2 §"Scopes for requesting
//! identity data"): decoded, its `iss`, `aud` and `exp` checked, and its RS256 signature checked
//! against the issuer's JWKS (the check itself runs in the platform's crypto).

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::smart::secret::IdToken;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum IdTokenError {
    #[error("the id_token is not a signed JWT")]
    Malformed,
    #[error("the id_token is signed with {0:?}; only RS256 is accepted")]
    Algorithm(String),
    #[error("the id_token was issued by {got:?}, not by {expected:?}")]
    Issuer { expected: String, got: String },
    #[error("the id_token is not meant for this app")]
    Audience,
    /// OIDC Core §3.1.3.7 item 3: an audience besides this app, which this app does not trust.
    #[error("the id_token is meant for other parties too ({0:?}), which this app does not trust")]
    ExtraAudience(Vec<String>),
    /// OIDC Core §3.1.3.7 item 5: `azp` names the party the token was issued to.
    #[error("the id_token was issued to {0:?}, not to this app")]
    AuthorizedParty(String),
    #[error("the id_token has expired")]
    Expired,
    /// Issued further ahead than [`CLOCK_SKEW_SECS`]: a token minted for later use, or a server
    /// whose clock is wrong.
    #[error("the id_token says it was issued {0} s from now")]
    IssuedInFuture(u64),
    #[error("the id_token's {0} is not a time")]
    BadTime(Cow<'static, str>),
    #[error("the server publishes no key for the id_token (kid {0:?})")]
    NoKey(Option<String>),
    #[error("the id_token signature is not valid")]
    BadSignature,
    #[error("the id_token cannot be checked: {0}")]
    Unverifiable(String),
}

/// A decoded, not yet trusted, id_token.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedIdToken {
    pub alg: String,
    pub kid: Option<String>,
    pub signing_input: String,
    pub signature: Vec<u8>,
    pub claims: Value,
}

impl DecodedIdToken {
    /// `fhirUser` (SMART) or, from older servers, `profile`: the user's FHIR resource URL.
    #[allow(
        clippy::indexing_slicing,
        reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
    )]
    pub fn fhir_user(&self) -> Option<&str> {
        self.claims["fhirUser"]
            .as_str()
            .or_else(|| self.claims["profile"].as_str())
    }
}

#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn decode(token: &IdToken) -> Result<DecodedIdToken, IdTokenError> {
    let parts: Vec<&str> = token.expose().split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(IdTokenError::Malformed);
    };
    let json = |part: &str| -> Result<Value, IdTokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| IdTokenError::Malformed)?;
        let v: Value =
            serde_json::from_slice::<Value>(&bytes).map_err(|_| IdTokenError::Malformed)?;
        v.is_object().then_some(v).ok_or(IdTokenError::Malformed)
    };
    let header = json(h)?;
    let claims = json(p)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| IdTokenError::Malformed)?;
    let alg = header["alg"].as_str().unwrap_or("").to_string();
    if alg != "RS256" {
        return Err(IdTokenError::Algorithm(alg));
    }
    Ok(DecodedIdToken {
        alg,
        kid: header["kid"].as_str().map(str::to_string),
        signing_input: format!("{h}.{p}"),
        signature,
        claims,
    })
}

/// How far the app's clock and the server's may disagree: a token's `exp` is honoured this much
/// after it passes, and its `iat` may lie this much ahead. Five minutes, as Kerberos allows,
/// because clinic workstations' clocks are often set by hand.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// A NumericDate claim (RFC 7519 §2: seconds, possibly with a fraction), when present.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
fn numeric_date(t: &DecodedIdToken, name: &'static str) -> Result<Option<u64>, IdTokenError> {
    match &t.claims[name] {
        Value::Null => Ok(None),
        v => match v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(n) => Ok(Some(n)),
            None => Err(IdTokenError::BadTime(name.into())),
        },
    }
}

/// Claims checks (OIDC Core §3.1.3.7): the issuer (item 2); the audience is this app and no
/// one else, since this app trusts no other audience (item 3); `azp`, when present, is this
/// app (items 4 and 5); not expired (item 9); not issued in the future (item 10 leaves the
/// bound to the client: [`CLOCK_SKEW_SECS`]).
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn check_claims(
    t: &DecodedIdToken,
    expected_issuer: &str,
    client_id: &str,
    now_secs: u64,
) -> Result<(), IdTokenError> {
    let iss = t.claims["iss"].as_str().unwrap_or("");
    if iss.trim_end_matches('/') != expected_issuer.trim_end_matches('/') {
        return Err(IdTokenError::Issuer {
            expected: expected_issuer.to_string(),
            got: iss.to_string(),
        });
    }
    let audiences: Vec<&Value> = match &t.claims["aud"] {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    if !audiences.iter().any(|a| *a == client_id) {
        return Err(IdTokenError::Audience);
    }
    let others: Vec<String> = audiences
        .iter()
        .filter(|a| **a != client_id)
        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string))
        .collect();
    if !others.is_empty() {
        return Err(IdTokenError::ExtraAudience(others));
    }
    match &t.claims["azp"] {
        Value::Null => {}
        azp if azp == client_id => {}
        azp => {
            return Err(IdTokenError::AuthorizedParty(
                azp.as_str().map_or_else(|| azp.to_string(), str::to_string),
            ))
        }
    }
    match numeric_date(t, "exp")? {
        Some(exp) if exp + CLOCK_SKEW_SECS > now_secs => {}
        _ => return Err(IdTokenError::Expired),
    }
    match numeric_date(t, "iat")? {
        Some(iat) if iat > now_secs + CLOCK_SKEW_SECS => {
            Err(IdTokenError::IssuedInFuture(iat - now_secs))
        }
        _ => Ok(()),
    }
}

/// The RSA signing keys that may have signed a token with header `kid`, from a JWKS document:
/// the key with that `kid` (compared as written, then without base64 padding, which Epic's
/// padded ids may lose on one side); without a `kid` (the SMART launcher's tokens), every RSA
/// key, to be tried in turn. Keys of other types (Oracle Health's JWKS mixes EC keys in, without
/// `alg` or `use`), for encryption, or for another algorithm are never candidates.
pub fn candidate_keys<'a>(
    jwks: &'a Value,
    kid: Option<&str>,
) -> Result<Vec<&'a Value>, IdTokenError> {
    let keys: Vec<&Value> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig"))
        .filter(|k| k["alg"].as_str().is_none_or(|a| a == "RS256"))
        .filter(|k| k["n"].is_string() && k["e"].is_string())
        .collect();
    let found: Vec<&Value> = match kid {
        Some(kid) => {
            let exact: Vec<&Value> = keys.iter().copied().filter(|k| k["kid"] == kid).collect();
            if exact.is_empty() {
                let bare = kid.trim_end_matches('=');
                keys.into_iter()
                    .filter(|k| {
                        k["kid"]
                            .as_str()
                            .is_some_and(|x| x.trim_end_matches('=') == bare)
                    })
                    .collect()
            } else {
                exact
            }
        }
        None => keys,
    };
    if found.is_empty() {
        Err(IdTokenError::NoKey(kid.map(str::to_string)))
    } else {
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token(header: Value, claims: Value) -> IdToken {
        IdToken::new(format!(
            "{}.{}.{}",
            b64(&header),
            b64(&claims),
            URL_SAFE_NO_PAD.encode(b"sig")
        ))
    }

    fn claims() -> Value {
        serde_json::json!({"iss":"https://e/fhir","aud":"app","exp":2000,"fhirUser":"https://e/fhir/Practitioner/1"})
    }

    #[test]
    fn decodes_and_checks_claims() {
        let t = decode(&token(
            serde_json::json!({"alg":"RS256","kid":"k1"}),
            claims(),
        ))
        .unwrap();
        assert_eq!(t.kid.as_deref(), Some("k1"));
        assert_eq!(t.fhir_user(), Some("https://e/fhir/Practitioner/1"));
        assert_eq!(check_claims(&t, "https://e/fhir/", "app", 1000), Ok(()));
        assert!(matches!(
            check_claims(&t, "https://other/fhir", "app", 1000),
            Err(IdTokenError::Issuer { .. })
        ));
        assert_eq!(
            check_claims(&t, "https://e/fhir", "other-app", 1000),
            Err(IdTokenError::Audience)
        );
        assert_eq!(
            check_claims(&t, "https://e/fhir", "app", 2000 + CLOCK_SKEW_SECS - 1),
            Ok(())
        );
        assert_eq!(
            check_claims(&t, "https://e/fhir", "app", 2000 + CLOCK_SKEW_SECS),
            Err(IdTokenError::Expired)
        );
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c[name] = v;
            decode(&token(serde_json::json!({"alg":"RS256"}), c)).unwrap()
        };
        let check = |t: &DecodedIdToken| check_claims(t, "https://e/fhir", "app", 1000);
        assert_eq!(check(&with("aud", serde_json::json!(["app"]))), Ok(()));
        assert_eq!(check(&with("exp", serde_json::json!(1500.5))), Ok(()));
        assert_eq!(
            check(&with("exp", serde_json::json!("2000"))),
            Err(IdTokenError::BadTime("exp".into()))
        );
        assert_eq!(check(&with("exp", Value::Null)), Err(IdTokenError::Expired));
    }

    /// OIDC Core §3.1.3.7 items 3-5: an audience this app does not trust, listed beside it, or
    /// an `azp` naming another party, is refused.
    #[test]
    fn refuses_other_audiences_and_parties() {
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c[name] = v;
            decode(&token(serde_json::json!({"alg":"RS256"}), c)).unwrap()
        };
        let check = |t: &DecodedIdToken| check_claims(t, "https://e/fhir", "app", 1000);
        assert_eq!(
            check(&with("aud", serde_json::json!(["x", "app"]))),
            Err(IdTokenError::ExtraAudience(vec!["x".into()]))
        );
        assert_eq!(
            check(&with("aud", serde_json::json!(["app", 7]))),
            Err(IdTokenError::ExtraAudience(vec!["7".into()]))
        );
        assert_eq!(
            check(&with("aud", serde_json::json!(["x"]))),
            Err(IdTokenError::Audience)
        );
        assert_eq!(check(&with("azp", serde_json::json!("app"))), Ok(()));
        assert_eq!(
            check(&with("azp", serde_json::json!("other"))),
            Err(IdTokenError::AuthorizedParty("other".into()))
        );
        let mut c = claims();
        c["aud"] = serde_json::json!(["app", "other"]);
        c["azp"] = serde_json::json!("app");
        let t = decode(&token(serde_json::json!({"alg":"RS256"}), c)).unwrap();
        assert_eq!(
            check(&t),
            Err(IdTokenError::ExtraAudience(vec!["other".into()])),
            "azp does not make an untrusted audience trusted"
        );
    }

    /// OIDC Core §3.1.3.7 item 10: `iat` at most [`CLOCK_SKEW_SECS`] ahead.
    #[test]
    fn refuses_a_token_issued_in_the_future() {
        let with_iat = |iat: Value| {
            let mut c = claims();
            c["iat"] = iat;
            decode(&token(serde_json::json!({"alg":"RS256"}), c)).unwrap()
        };
        let check = |t: &DecodedIdToken| check_claims(t, "https://e/fhir", "app", 1000);
        assert_eq!(check(&with_iat(serde_json::json!(990))), Ok(()));
        assert_eq!(
            check(&with_iat(serde_json::json!(1000 + CLOCK_SKEW_SECS))),
            Ok(())
        );
        assert_eq!(
            check(&with_iat(serde_json::json!(1001 + CLOCK_SKEW_SECS))),
            Err(IdTokenError::IssuedInFuture(CLOCK_SKEW_SECS + 1))
        );
        assert_eq!(
            check(&with_iat(serde_json::json!(1000 + 365 * 86_400))),
            Err(IdTokenError::IssuedInFuture(365 * 86_400))
        );
        assert_eq!(
            check(&with_iat(serde_json::json!("soon"))),
            Err(IdTokenError::BadTime("iat".into()))
        );
    }

    #[test]
    fn refuses_unsigned_and_malformed_tokens() {
        assert_eq!(
            decode(&token(serde_json::json!({"alg":"none"}), claims())),
            Err(IdTokenError::Algorithm("none".into()))
        );
        assert_eq!(
            decode(&token(serde_json::json!({"alg":"HS256"}), claims())),
            Err(IdTokenError::Algorithm("HS256".into()))
        );
        assert_eq!(decode(&IdToken::new("a.b")), Err(IdTokenError::Malformed));
        assert_eq!(
            decode(&IdToken::new("!!.??.**")),
            Err(IdTokenError::Malformed)
        );
    }

    #[test]
    fn selects_the_key_by_kid() {
        let jwks = serde_json::json!({"keys":[{"kty":"RSA","kid":"a","n":"x","e":"AQAB"},{"kty":"EC","kid":"b"},{"kty":"RSA","kid":"c","n":"y","e":"AQAB","use":"enc"}]});
        let n_of = |keys: Vec<&Value>| keys.iter().map(|k| k["n"].clone()).collect::<Vec<_>>();
        assert_eq!(n_of(candidate_keys(&jwks, Some("a")).unwrap()), vec!["x"]);
        assert_eq!(
            candidate_keys(&jwks, Some("b")),
            Err(IdTokenError::NoKey(Some("b".into())))
        );
        assert_eq!(
            candidate_keys(&jwks, Some("c")),
            Err(IdTokenError::NoKey(Some("c".into())))
        );
        assert_eq!(n_of(candidate_keys(&jwks, None).unwrap()), vec!["x"]);
        assert!(candidate_keys(&serde_json::json!([]), None).is_err());
    }

    /// What real EHRs publish (sandbox/src/profile.rs): no `kid` with several keys (each tried), a padded base64 `kid` (Epic), a JWKS
    /// mixing EC and RSA keys without `alg` or `use` (Oracle Health); keys for another algorithm
    /// are never tried.
    #[test]
    fn finds_the_keys_real_ehrs_publish() {
        let jwks = serde_json::json!({"keys":[
            {"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"1700000000"},
            {"kty":"RSA","n":"one","e":"AQAB","kid":"1700000001"},
            {"kty":"RSA","n":"two","e":"AQAB","kid":"q83vEjRWeJ==","alg":"RS256"},
            {"kty":"RSA","n":"three","e":"AQAB","kid":"ps","alg":"PS256"}
        ]});
        let n_of = |keys: Vec<&Value>| keys.iter().map(|k| k["n"].clone()).collect::<Vec<_>>();
        assert_eq!(
            n_of(candidate_keys(&jwks, None).unwrap()),
            vec!["one", "two"]
        );
        assert_eq!(
            n_of(candidate_keys(&jwks, Some("q83vEjRWeJ==")).unwrap()),
            vec!["two"]
        );
        assert_eq!(
            n_of(candidate_keys(&jwks, Some("q83vEjRWeJ")).unwrap()),
            vec!["two"]
        );
        assert_eq!(
            n_of(candidate_keys(&jwks, Some("1700000001")).unwrap()),
            vec!["one"]
        );
        assert!(
            candidate_keys(&jwks, Some("1700000000")).is_err(),
            "an EC key"
        );
        assert!(
            candidate_keys(&jwks, Some("ps")).is_err(),
            "another algorithm"
        );
    }
}
