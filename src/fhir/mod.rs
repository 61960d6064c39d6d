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
pub use client::{FhirClient, RefreshError};
pub use response::{process_response, FhirError};
