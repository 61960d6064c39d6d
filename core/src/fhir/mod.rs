//! FHIR on the client side: where the Bearer token may go and how Bundles are paged
//! ([`base`]), what a FHIR response means ([`response`]), the authorized client that refreshes
//! its token ([`client`]), display of resources ([`patient`]) and of narratives, sanitized
//! ([`narrative`]).

pub mod base;
pub mod client;
pub mod narrative;
pub mod patient;
pub mod response;

pub use base::{FhirBase, Pager, PagingError};

/// A FHIR logical id (FHIR R4 §2.1.1.7 `id`): 1-64 of `A-Z a-z 0-9 - .`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
pub use client::FhirClient;
pub use response::{process_response, FhirError};
