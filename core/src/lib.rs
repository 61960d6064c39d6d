//! smart-launch's protocol core: pure Rust, no browser imports, built and tested natively. Time,
//! randomness, HTTP and storage come in through [`platform::Platform`]. Both of the app's wasm
//! modules use it: the small launch module (`launch/`) and the chart (the `smart-launch` crate).
//!
//! - [`smart`]: the SMART App Launch protocol, one module per step of the specification, and
//!   the session's life
//! - [`fhir`]: the FHIR client: token destination rule, paging, errors, display of resources
//!   and sanitized narratives
//! - [`http_url`]: absolute http(s) URLs (the url crate) with a strict layer, form encoding
//! - [`platform`]: what the core needs from its host (HTTP, storage, clock, randomness, crypto)

// No panic from what a server, a URL or storage sent: no unchecked indexing or slicing outside
// the tests (unwrap and expect: the workspace's lints).
#![cfg_attr(not(test), warn(clippy::indexing_slicing, clippy::string_slice))]

pub mod fhir;
pub mod http_url;
pub mod platform;
pub mod smart;

// The scripted platform uses native-only crates (the sandbox's signer, rsa).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod testing;
