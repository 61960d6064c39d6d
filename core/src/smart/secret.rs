//! Secrets as types (docs/SECURITY.md, "Tokens"): access, refresh and id tokens, authorization codes and
//! PKCE verifiers print as `[redacted]`, have no `Display`, and are read only through `expose()`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret itself: for the one place that must send it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        // Serialisation exists for this tab's sessionStorage mirror only (see `session`).
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }
    };
}

secret!(
    /// The Bearer token for FHIR calls (RFC 6750).
    AccessToken
);
secret!(
    /// A refresh token (RFC 6749 §6); rotated ones replace the old.
    RefreshToken
);
secret!(
    /// The OpenID Connect id_token, a signed JWT.
    IdToken
);
secret!(
    /// An authorization code. Only callback validation makes one (`callback::validate`).
    AuthCode
);
secret!(
    /// The PKCE code verifier (RFC 7636 §4.1). Not `Clone`: the token exchange consumes it.
    CodeVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let t = AccessToken::new("eyJsecret-token-value");
        let r = RefreshToken::new("refresh-secret");
        let v = CodeVerifier::new("verifier-secret");
        let all = format!(
            "{t:?} {r:?} {v:?} {:?} {:?}",
            IdToken::new("id-secret"),
            AuthCode::new("code-secret")
        );
        assert_eq!(
            all,
            "AccessToken([redacted]) RefreshToken([redacted]) CodeVerifier([redacted]) IdToken([redacted]) AuthCode([redacted])"
        );
        assert!(!all.contains("secret"));
        assert_eq!(t.expose(), "eyJsecret-token-value");
    }

    #[test]
    fn debug_of_containers_stays_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Option<AccessToken>,
        }
        let h = Holder {
            token: Some(AccessToken::new("abc123")),
        };
        assert!(!format!("{h:?}").contains("abc123"));
        assert!(!format!("{h:#?}").contains("abc123"));
    }
}
