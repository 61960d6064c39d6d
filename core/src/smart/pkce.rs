//! PKCE (RFC 7636): a fresh verifier per authorize attempt, challenge = BASE64URL(SHA256(verifier))
//! without padding, method S256 only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::smart::secret::CodeVerifier;

impl CodeVerifier {
    /// 32 random bytes as base64url: 43 unreserved characters (RFC 7636 §4.1).
    pub fn from_entropy(bytes: &[u8; 32]) -> Self {
        CodeVerifier::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The S256 `code_challenge` (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.expose().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b_vector() {
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let v = CodeVerifier::from_entropy(&octets);
        assert_eq!(v.expose(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn verifier_is_43_unreserved_characters() {
        let v = CodeVerifier::from_entropy(&[0xff; 32]);
        assert_eq!(v.expose().len(), 43);
        assert!(v
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    }
}
