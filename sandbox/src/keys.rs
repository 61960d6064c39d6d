//! The id_token signing key (RS256) and its JWKS (SMART App Launch 2.2 "SMART on FHIR OAuth
//! authorization Endpoints", OpenID Connect Core §10.1). One key per process, made at first use.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct Signer {
    key: SigningKey<Sha256>,
    kid: String,
    jwk: Value,
}

impl Signer {
    /// The process's signing key: generated once (2048-bit RSA), shared by every sandbox in it.
    pub fn shared() -> Arc<Signer> {
        static KEY: OnceLock<Arc<Signer>> = OnceLock::new();
        KEY.get_or_init(|| Arc::new(Signer::generate())).clone()
    }

    fn generate() -> Self {
        // At start-up, from the OS random source: a sandbox without one cannot sign id_tokens.
        #[allow(clippy::expect_used)]
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .expect("RSA key generation with the OS random source");
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        // RFC 7638 thumbprint as key id.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Self {
            key: SigningKey::<Sha256>::new(private),
            kid,
            jwk,
        }
    }

    /// The key's id (an RFC 7638 thumbprint, base64url without padding).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// A compact JWS (RFC 7515) over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(Some(&self.kid), claims)
    }

    /// The same, with `kid` as the header's key id (`None`: no `kid`, as the SMART launcher
    /// signs; another spelling of this key's id, as some EHRs write it).
    pub fn sign_as(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}
